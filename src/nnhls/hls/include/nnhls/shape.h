// Layers that put values into another shape: reshape, transpose (Keras Permute), cropping and
// upsampling (numerics as in nnhls.emulate). Each value is converted into res_T once. Bilinear
// upsampling is the one that computes: an exact sum of integer-weighted values, divided as
// average pooling divides its sum (nnhls/pool.h).
//
// Images are channels-last, (in_h, in_w, n_chan), a 1-D signal being an image of height 1. In
// io_stream a value of two or more axes arrives in packets of its last axis (a pixel's channels).
#ifndef NNHLS_SHAPE_H
#define NNHLS_SHAPE_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

// Reshape: the values in row-major order. CONFIG_T provides n_in and, for io_stream, step: the
// greatest common divisor of the input's and the output's packet sizes.
template <class data_T, class res_T, class CONFIG_T>
void reshape(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) res[i] = res_T(data[i]);
}

// io_stream: the input's packets repacked into the output's, `step` values per loop step; a step
// reads a packet where it starts one and writes a packet where it completes one.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void reshape_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  typedef typename out_packet_T::value_type res_T;
  in_packet_T x;
  out_packet_T y;
  unsigned at_in = 0, at_out = 0;
  for (unsigned s = 0; s < CONFIG_T::n_in / CONFIG_T::step; s++) {
#pragma HLS PIPELINE
    if (at_in == 0) x = in.read();
    for (unsigned k = 0; k < CONFIG_T::step; k++) y[at_out + k] = res_T(x[at_in + k]);
    at_in = at_in + CONFIG_T::step == in_packet_T::size ? 0 : at_in + CONFIG_T::step;
    at_out += CONFIG_T::step;
    if (at_out == out_packet_T::size) {
      out.write(y);
      at_out = 0;
    }
  }
}

// Transpose: output value (i0, ..., i5), the output's axes padded in front with axes of size 1
// to six, is input value i0 * stride0 + ... + i5 * stride5. CONFIG_T provides n_in, dim0 ...
// dim5 and stride0 ... stride5.
template <class data_T, class res_T, class CONFIG_T>
void transpose(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  unsigned k = 0;
  for (unsigned i0 = 0; i0 < CONFIG_T::dim0; i0++) {
    for (unsigned i1 = 0; i1 < CONFIG_T::dim1; i1++) {
      for (unsigned i2 = 0; i2 < CONFIG_T::dim2; i2++) {
        for (unsigned i3 = 0; i3 < CONFIG_T::dim3; i3++) {
          for (unsigned i4 = 0; i4 < CONFIG_T::dim4; i4++) {
            const unsigned base = i0 * CONFIG_T::stride0 + i1 * CONFIG_T::stride1 + i2 * CONFIG_T::stride2 +
                                  i3 * CONFIG_T::stride3 + i4 * CONFIG_T::stride4;
            for (unsigned i5 = 0; i5 < CONFIG_T::dim5; i5++) res[k++] = res_T(data[base + i5 * CONFIG_T::stride5]);
          }
        }
      }
    }
  }
}

// io_stream: every value moves, so the whole tensor is read, then written in the new order.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void transpose_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  typename in_packet_T::value_type data[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=data complete
  typename out_packet_T::value_type res[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=res complete
  read_vector<in_packet_T, CONFIG_T::n_in>(in, data);
  transpose<typename in_packet_T::value_type, typename out_packet_T::value_type, CONFIG_T>(data, res);
  write_vector<out_packet_T, CONFIG_T::n_in>(res, out);
}

// Cropping: the image without its first `top` and last rows, its first `left` and last columns.
// CONFIG_T provides in_h, in_w, n_chan, top, left, out_h, out_w.
template <class data_T, class res_T, class CONFIG_T>
void crop(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
          res_T res[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_chan]) {
  for (unsigned row = 0; row < CONFIG_T::out_h; row++) {
    for (unsigned column = 0; column < CONFIG_T::out_w; column++) {
#pragma HLS PIPELINE
      const unsigned source = ((row + CONFIG_T::top) * CONFIG_T::in_w + column + CONFIG_T::left) * CONFIG_T::n_chan;
      for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        res[(row * CONFIG_T::out_w + column) * CONFIG_T::n_chan + c] = res_T(data[source + c]);
      }
    }
  }
}

// io_stream: every pixel is read; those inside the crop are written as they come.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void crop_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  for (unsigned row = 0; row < CONFIG_T::in_h; row++) {
    for (unsigned column = 0; column < CONFIG_T::in_w; column++) {
#pragma HLS PIPELINE
      const in_packet_T pixel = in.read();
      if (row >= CONFIG_T::top && row < CONFIG_T::top + CONFIG_T::out_h && column >= CONFIG_T::left &&
          column < CONFIG_T::left + CONFIG_T::out_w) {
        out_packet_T packet;
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) packet[c] = typename out_packet_T::value_type(pixel[c]);
        out.write(packet);
      }
    }
  }
}

// Nearest upsampling: output pixel (iy * size_h + ry, ix * size_w + rx) is input pixel (iy, ix).
// CONFIG_T provides in_h, in_w, n_chan, size_h, size_w, out_h, out_w. Loop counters, not
// divisions, so the tools build no dividers.
template <class data_T, class res_T, class CONFIG_T>
void upsample(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
              res_T res[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_chan]) {
  for (unsigned iy = 0; iy < CONFIG_T::in_h; iy++) {
    for (unsigned ry = 0; ry < CONFIG_T::size_h; ry++) {
      for (unsigned ix = 0; ix < CONFIG_T::in_w; ix++) {
        for (unsigned rx = 0; rx < CONFIG_T::size_w; rx++) {
#pragma HLS PIPELINE
          const unsigned target = ((iy * CONFIG_T::size_h + ry) * CONFIG_T::out_w + ix * CONFIG_T::size_w + rx) *
                                  CONFIG_T::n_chan;
          for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
            res[target + c] = res_T(data[(iy * CONFIG_T::in_w + ix) * CONFIG_T::n_chan + c]);
          }
        }
      }
    }
  }
}

// io_stream: each input row is read into a one-row buffer while its first copy is written (each
// pixel size_w times as it arrives); the other size_h - 1 copies are written from the buffer.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void upsample_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  typedef typename out_packet_T::value_type res_T;
  typename in_packet_T::value_type line[CONFIG_T::in_w][CONFIG_T::n_chan];
#pragma HLS ARRAY_PARTITION variable=line complete dim=2
  for (unsigned iy = 0; iy < CONFIG_T::in_h; iy++) {
    for (unsigned ry = 0; ry < CONFIG_T::size_h; ry++) {
      unsigned ix = 0, rx = 0;
      for (unsigned x = 0; x < CONFIG_T::out_w; x++) {
#pragma HLS PIPELINE
        if (ry == 0 && rx == 0) {
          const in_packet_T pixel = in.read();
          for (unsigned c = 0; c < CONFIG_T::n_chan; c++) line[ix][c] = pixel[c];
        }
        out_packet_T packet;
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) packet[c] = res_T(line[ix][c]);
        out.write(packet);
        if (++rx == CONFIG_T::size_w) {
          rx = 0;
          ix++;
        }
      }
    }
  }
}

// Bilinear upsampling (TensorFlow's resize with half-pixel centres, clamped at the edges, as
// nnhls.ir.bilinear_taps states it): output row i * S + j of an axis of N rows samples the input
// at i + (2j + 1 - S) / (2S), between rows `lower` and `upper` with integer weights over
// 2S (over S for odd S, whose weights are all even).
template <unsigned S, unsigned N>
struct bilinear_axis {
  unsigned lower, upper, lower_weight, upper_weight;

  bilinear_axis(unsigned i, unsigned j) {
#pragma HLS INLINE
    const bool before = 2 * j + 1 < S;  // between rows i - 1 and i
    const unsigned f = before ? 2 * j + 1 + S : 2 * j + 1 - S;  // (2j + 1 - S) mod 2S
    const int first = before ? int(i) - 1 : int(i);
    lower = first < 0 ? 0u : unsigned(first);
    upper = f == 0 ? lower : (unsigned(first + 1) > N - 1 ? N - 1 : unsigned(first + 1));
    const unsigned halve = S % 2 ? 2 : 1;
    lower_weight = (2 * S - f) / halve;
    upper_weight = f / halve;
  }
};

// One output value from the four taps around it: their exact sum, each times its row weight and
// its column weight (weight_t), widened to dividend_t and divided by the denominator (count_t).
// CONFIG_T provides in_h, in_w, size_h, size_w, denominator, weight_t, sum_t, dividend_t, count_t.
template <class data_T, class res_T, class CONFIG_T>
res_T bilinear_mean(const data_T& top_left, const data_T& top_right, const data_T& bottom_left,
                    const data_T& bottom_right, const bilinear_axis<CONFIG_T::size_h, CONFIG_T::in_h>& row,
                    const bilinear_axis<CONFIG_T::size_w, CONFIG_T::in_w>& column) {
#pragma HLS INLINE
  typedef typename CONFIG_T::weight_t weight_t;
  typename CONFIG_T::sum_t sum = top_left * weight_t(row.lower_weight * column.lower_weight);
  sum += top_right * weight_t(row.lower_weight * column.upper_weight);
  sum += bottom_left * weight_t(row.upper_weight * column.lower_weight);
  sum += bottom_right * weight_t(row.upper_weight * column.upper_weight);
  const typename CONFIG_T::dividend_t dividend = sum;
  return res_T(dividend / typename CONFIG_T::count_t(CONFIG_T::denominator));
}

template <class data_T, class res_T, class CONFIG_T>
void upsample_bilinear(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
                       res_T res[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_chan]) {
  for (unsigned iy = 0; iy < CONFIG_T::in_h; iy++) {
    for (unsigned jy = 0; jy < CONFIG_T::size_h; jy++) {
      for (unsigned ix = 0; ix < CONFIG_T::in_w; ix++) {
        for (unsigned jx = 0; jx < CONFIG_T::size_w; jx++) {
#pragma HLS PIPELINE
          const bilinear_axis<CONFIG_T::size_h, CONFIG_T::in_h> row(iy, jy);
          const bilinear_axis<CONFIG_T::size_w, CONFIG_T::in_w> column(ix, jx);
          const unsigned target = ((iy * CONFIG_T::size_h + jy) * CONFIG_T::out_w + ix * CONFIG_T::size_w + jx) *
                                  CONFIG_T::n_chan;
          const unsigned top_left = (row.lower * CONFIG_T::in_w + column.lower) * CONFIG_T::n_chan;
          const unsigned top_right = (row.lower * CONFIG_T::in_w + column.upper) * CONFIG_T::n_chan;
          const unsigned bottom_left = (row.upper * CONFIG_T::in_w + column.lower) * CONFIG_T::n_chan;
          const unsigned bottom_right = (row.upper * CONFIG_T::in_w + column.upper) * CONFIG_T::n_chan;
          for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
            res[target + c] = bilinear_mean<data_T, res_T, CONFIG_T>(
                data[top_left + c], data[top_right + c], data[bottom_left + c], data[bottom_right + c], row, column);
          }
        }
      }
    }
  }
}

// io_stream: output row i * size_h + j of the output from the two input rows it reads, which are
// in the buffer: rows[1] is input row `last` (the last one read), rows[0] the one before it.
template <class data_T, class out_packet_T, class CONFIG_T>
void bilinear_row(const data_T rows[2][CONFIG_T::in_w][CONFIG_T::n_chan], unsigned last, unsigned i, unsigned j,
                  hls::stream<out_packet_T>& out) {
  const bilinear_axis<CONFIG_T::size_h, CONFIG_T::in_h> row(i, j);
  const unsigned top = row.lower == last ? 1 : 0, bottom = row.upper == last ? 1 : 0;
  for (unsigned ix = 0; ix < CONFIG_T::in_w; ix++) {
    for (unsigned jx = 0; jx < CONFIG_T::size_w; jx++) {
#pragma HLS PIPELINE
      const bilinear_axis<CONFIG_T::size_w, CONFIG_T::in_w> column(ix, jx);
      out_packet_T packet;
      for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        packet[c] = bilinear_mean<data_T, typename out_packet_T::value_type, CONFIG_T>(
            rows[top][column.lower][c], rows[top][column.upper][c], rows[bottom][column.lower][c],
            rows[bottom][column.upper][c], row, column);
      }
      out.write(packet);
    }
  }
}

// io_stream: a two-row buffer. Output row i * size_h + j reads input rows i and i + 1 where
// 2j + 1 > size_h (a late phase), else rows i - 1 and i (rows clamped into the image). So after
// input row r is read, the late output rows of r - 1 and then the early ones of r are complete
// and written; after the last row, its late output rows (clamped to it) follow.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void upsample_bilinear_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  typedef typename in_packet_T::value_type data_T;
  data_T rows[2][CONFIG_T::in_w][CONFIG_T::n_chan];
#pragma HLS ARRAY_PARTITION variable=rows complete dim=1
#pragma HLS ARRAY_PARTITION variable=rows complete dim=3
  const unsigned early = (CONFIG_T::size_h + 1) / 2;  // the phases j with 2j + 1 <= size_h
  for (unsigned r = 0; r < CONFIG_T::in_h; r++) {
    for (unsigned x = 0; x < CONFIG_T::in_w; x++) {
#pragma HLS PIPELINE
      const in_packet_T pixel = in.read();
      for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        rows[0][x][c] = rows[1][x][c];
        rows[1][x][c] = pixel[c];
      }
    }
    if (r > 0) {
      for (unsigned j = early; j < CONFIG_T::size_h; j++) {
        bilinear_row<data_T, out_packet_T, CONFIG_T>(rows, r, r - 1, j, out);
      }
    }
    for (unsigned j = 0; j < early; j++) bilinear_row<data_T, out_packet_T, CONFIG_T>(rows, r, r, j, out);
  }
  for (unsigned j = early; j < CONFIG_T::size_h; j++) {
    bilinear_row<data_T, out_packet_T, CONFIG_T>(rows, CONFIG_T::in_h - 1, CONFIG_T::in_h - 1, j, out);
  }
}

}  // namespace nnhls

#endif  // NNHLS_SHAPE_H
