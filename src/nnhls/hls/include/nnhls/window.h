// Sliding windows over channels-last images, shared by convolutions and poolings.
//
// CONFIG_T provides the geometry (see nnhls.ir.Window): in_h, in_w, n_chan, kernel_h,
// kernel_w, stride_h, stride_w, dilation_h, dilation_w, span_h, span_w, spread_h, spread_w,
// spread_in_h, spread_in_w, pad_top, pad_left, padded_h, padded_w, out_h, out_w. A 1-D signal
// is an image of height 1. The image's pixels lie spread_h rows and spread_w columns apart (a
// transposed convolution; 1 otherwise), zeros between, inside the padding. Output pixel (y, x)
// reads padded rows y * stride_h + ky * dilation_h (ky < kernel_h), which span span_h rows, and
// likewise columns; a window's taps are in (row, column, channel) order, which is the row order
// of a convolution's (n_in, n_out) weight matrix.
#ifndef NNHLS_WINDOW_H
#define NNHLS_WINDOW_H

#include "nnhls/common.h"

namespace nnhls {

// Whether padded pixel (row, column) is a pixel of the image rather than a zero around or
// between its pixels.
template <class CONFIG_T>
bool on_image(unsigned row, unsigned column) {
#pragma HLS INLINE
  return row >= CONFIG_T::pad_top && row < CONFIG_T::pad_top + CONFIG_T::spread_in_h &&
         (row - CONFIG_T::pad_top) % CONFIG_T::spread_h == 0 && column >= CONFIG_T::pad_left &&
         column < CONFIG_T::pad_left + CONFIG_T::spread_in_w && (column - CONFIG_T::pad_left) % CONFIG_T::spread_w == 0;
}

// The image pixel that padded pixel (row, column) holds, where on_image says it holds one.
template <class CONFIG_T>
unsigned image_pixel(unsigned row, unsigned column) {
#pragma HLS INLINE
  return (row - CONFIG_T::pad_top) / CONFIG_T::spread_h * CONFIG_T::in_w +
         (column - CONFIG_T::pad_left) / CONFIG_T::spread_w;
}

// Whether tap (ky, kx) of output pixel (y, x) reads the image rather than a zero.
template <class CONFIG_T>
bool tap_inside(unsigned y, unsigned x, unsigned ky, unsigned kx) {
#pragma HLS INLINE
  return on_image<CONFIG_T>(y * CONFIG_T::stride_h + ky * CONFIG_T::dilation_h,
                            x * CONFIG_T::stride_w + kx * CONFIG_T::dilation_w);
}

// io_parallel: the window of output pixel (y, x) from the whole image; zeros on padding.
template <class data_T, class CONFIG_T>
void gather_window(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan], unsigned y, unsigned x,
                   data_T window[CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan]) {
#pragma HLS INLINE
  for (unsigned ky = 0; ky < CONFIG_T::kernel_h; ky++) {
    for (unsigned kx = 0; kx < CONFIG_T::kernel_w; kx++) {
      const unsigned row = y * CONFIG_T::stride_h + ky * CONFIG_T::dilation_h;
      const unsigned column = x * CONFIG_T::stride_w + kx * CONFIG_T::dilation_w;
      const bool inside = on_image<CONFIG_T>(row, column);
      const unsigned pixel = inside ? image_pixel<CONFIG_T>(row, column) : 0;
      for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        window[(ky * CONFIG_T::kernel_w + kx) * CONFIG_T::n_chan + c] =
            inside ? data[pixel * CONFIG_T::n_chan + c] : data_T(0);
      }
    }
  }
}

// io_stream: a line buffer holds the last span_h rows of the padded image,
// rows[span_h][padded_w][n_chan]. The image arrives one pixel (packet) per step in row-major
// order; push_pixel() makes up the padding (and the zeros between spread pixels), so the stream
// carries only the image. The
// buffer is a local array of each layer call: every image starts from a clean buffer, and no
// state survives between calls.

// Takes padded pixel (row, column): read from `in` on the image, zeros elsewhere. Each
// column keeps its last span_h values, oldest first.
template <class T, class CONFIG_T, class in_packet_T>
void push_pixel(T rows[CONFIG_T::span_h][CONFIG_T::padded_w][CONFIG_T::n_chan], hls::stream<in_packet_T>& in,
                unsigned row, unsigned column) {
#pragma HLS INLINE
  const bool inside = on_image<CONFIG_T>(row, column);
  in_packet_T pixel;
  if (inside) pixel = in.read();
  for (unsigned r = 0; r + 1 < CONFIG_T::span_h; r++) {
    for (unsigned c = 0; c < CONFIG_T::n_chan; c++) rows[r][column][c] = rows[r + 1][column][c];
  }
  for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
    rows[CONFIG_T::span_h - 1][column][c] = inside ? T(pixel[c]) : T(0);
  }
}

// The window whose bottom-right tap is the pixel just pushed at `column`.
template <class T, class CONFIG_T>
void window_at(const T rows[CONFIG_T::span_h][CONFIG_T::padded_w][CONFIG_T::n_chan], unsigned column,
               T out[CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan]) {
#pragma HLS INLINE
  for (unsigned ky = 0; ky < CONFIG_T::kernel_h; ky++) {
    for (unsigned kx = 0; kx < CONFIG_T::kernel_w; kx++) {
      for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        out[(ky * CONFIG_T::kernel_w + kx) * CONFIG_T::n_chan + c] =
            rows[ky * CONFIG_T::dilation_h][column + 1 + kx * CONFIG_T::dilation_w - CONFIG_T::span_w][c];
      }
    }
  }
}

// Walks the padded image in the order its pixels arrive and says when a window is complete:
// `row` and `column` are the padded pixel just pushed; (y, x) the output pixel it completes.
// Counters, not divisions, so the tools build no dividers.
template <class CONFIG_T>
struct window_walk {
  unsigned y, x, next_row, next_column;

  window_walk() : y(0), x(0), next_row(CONFIG_T::span_h - 1), next_column(CONFIG_T::span_w - 1) {}

  void start_row() {
#pragma HLS INLINE
    x = 0;
    next_column = CONFIG_T::span_w - 1;
  }

  // Whether the pixel at (row, column) completes output pixel (y, x); advance() then moves on.
  bool complete(unsigned row, unsigned column) const {
#pragma HLS INLINE
    return row == next_row && y < CONFIG_T::out_h && column == next_column && x < CONFIG_T::out_w;
  }

  void advance() {
#pragma HLS INLINE
    x++;
    next_column += CONFIG_T::stride_w;
  }

  void end_row(unsigned row) {
#pragma HLS INLINE
    if (row == next_row && y < CONFIG_T::out_h) {
      y++;
      next_row += CONFIG_T::stride_h;
    }
  }
};

// io_stream: the windows of an image, one packet of kernel_h * kernel_w * n_chan values per
// output pixel in raster order, from its pixels through a line buffer. A convolution or a
// pooling reads them in the same dataflow region and computes one output pixel from each.
template <class in_packet_T, class window_packet_T, class CONFIG_T>
void stream_windows(hls::stream<in_packet_T>& in, hls::stream<window_packet_T>& windows) {
  typedef typename in_packet_T::value_type data_T;
  data_T lines[CONFIG_T::span_h][CONFIG_T::padded_w][CONFIG_T::n_chan];
#pragma HLS ARRAY_PARTITION variable=lines complete dim=1
#pragma HLS ARRAY_PARTITION variable=lines complete dim=3
  window_walk<CONFIG_T> walk;
  for (unsigned row = 0; row < CONFIG_T::padded_h; row++) {
    walk.start_row();
    for (unsigned column = 0; column < CONFIG_T::padded_w; column++) {
#pragma HLS PIPELINE
      push_pixel<data_T, CONFIG_T>(lines, in, row, column);
      if (walk.complete(row, column)) {
        window_packet_T window;
        window_at<data_T, CONFIG_T>(lines, column, window.data);
        windows.write(window);
        walk.advance();
      }
    }
    walk.end_row(row);
  }
}

}  // namespace nnhls

#endif  // NNHLS_WINDOW_H
