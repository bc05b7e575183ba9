// Pooling and zero padding over channels-last images (see nnhls/window.h for the geometry).
//
// max: the largest value among the window's taps inside the image, converted into res_T.
// average: the exact sum (sum_t) of the taps inside the image, widened to dividend_t, divided by
// their count (count_t) as ap_fixed divides (truncated toward zero), converted into res_T.
// sum: that exact sum, converted into res_T.
// CONFIG_T provides the geometry, n_pixels, is_max, is_sum, and the types sum_t, dividend_t, count_t.
#ifndef NNHLS_POOL_H
#define NNHLS_POOL_H

#include "nnhls/common.h"
#include "nnhls/window.h"

namespace nnhls {

// One output pixel from its window (taps in (row, column, channel) order).
template <class data_T, class res_T, class CONFIG_T>
void pool_pixel(const data_T window[CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan], unsigned y,
                unsigned x, res_T res[CONFIG_T::n_chan]) {
#pragma HLS INLINE
  for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
    data_T largest = 0;
    typename CONFIG_T::sum_t sum = 0;
    unsigned count = 0;
    for (unsigned ky = 0; ky < CONFIG_T::kernel_h; ky++) {
      for (unsigned kx = 0; kx < CONFIG_T::kernel_w; kx++) {
        if (!tap_inside<CONFIG_T>(y, x, ky, kx)) continue;
        const data_T value = window[(ky * CONFIG_T::kernel_w + kx) * CONFIG_T::n_chan + c];
        if (count == 0 || value > largest) largest = value;
        sum += value;
        count++;
      }
    }
    if (CONFIG_T::is_max) {
      res[c] = res_T(largest);
    } else if (CONFIG_T::is_sum) {
      res[c] = res_T(sum);
    } else {
      const typename CONFIG_T::dividend_t dividend = sum;
      res[c] = res_T(dividend / typename CONFIG_T::count_t(count));
    }
  }
}

template <class data_T, class res_T, class CONFIG_T>
void pool(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
          res_T res[CONFIG_T::n_pixels * CONFIG_T::n_chan]) {
  for (unsigned y = 0; y < CONFIG_T::out_h; y++) {
    for (unsigned x = 0; x < CONFIG_T::out_w; x++) {
#pragma HLS PIPELINE
      data_T window[CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan];
      gather_window<data_T, CONFIG_T>(data, y, x, window);
      pool_pixel<data_T, res_T, CONFIG_T>(window, y, x, res + (y * CONFIG_T::out_w + x) * CONFIG_T::n_chan);
    }
  }
}

// io_stream, the second stage of pool_stream: each window pooled as it comes.
template <class window_packet_T, class out_packet_T, class CONFIG_T>
void pool_windows(hls::stream<window_packet_T>& windows, hls::stream<out_packet_T>& out) {
  typedef typename window_packet_T::value_type data_T;
  for (unsigned y = 0; y < CONFIG_T::out_h; y++) {
    for (unsigned x = 0; x < CONFIG_T::out_w; x++) {
#pragma HLS PIPELINE
      const window_packet_T window = windows.read();
      out_packet_T packet;
      pool_pixel<data_T, typename out_packet_T::value_type, CONFIG_T>(window.data, y, x, packet.data);
      out.write(packet);
    }
  }
}

// io_stream: the image's windows from a line buffer (nnhls/window.h), and pool_windows on them.
// The windows stream has the depth conv_stream gives its own (nnhls/conv.h).
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void pool_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
#pragma HLS DATAFLOW
  NNHLS_DATAFLOW_REGION
  typedef packet<typename in_packet_T::value_type, CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan>
      window_packet_T;
  hls::stream<window_packet_T> windows("pool_windows");
#pragma HLS STREAM variable=windows depth=2
  NNHLS_STREAM_DEPTH(windows, 2)
  NNHLS_STAGE(stream_windows<in_packet_T, window_packet_T, CONFIG_T>(in, windows))
  NNHLS_STAGE(pool_windows<window_packet_T, out_packet_T, CONFIG_T>(windows, out))
  NNHLS_DATAFLOW_END
}

// io_stream, one window covering the whole image (global pooling): a running maximum or exact
// sum per channel instead of a line buffer as tall as the image. Same numerics as pool_pixel.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void global_pool_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  typedef typename in_packet_T::value_type data_T;
  data_T largest[CONFIG_T::n_chan];
  typename CONFIG_T::sum_t sum[CONFIG_T::n_chan];
#pragma HLS ARRAY_PARTITION variable=largest complete
#pragma HLS ARRAY_PARTITION variable=sum complete
  for (unsigned p = 0; p < CONFIG_T::in_h * CONFIG_T::in_w; p++) {
#pragma HLS PIPELINE
    const in_packet_T pixel = in.read();
    for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
      if (p == 0 || pixel[c] > largest[c]) largest[c] = pixel[c];
      sum[c] = p == 0 ? typename CONFIG_T::sum_t(pixel[c]) : typename CONFIG_T::sum_t(sum[c] + pixel[c]);
    }
  }
  out_packet_T packet;
  for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
    typedef typename out_packet_T::value_type res_T;
    if (CONFIG_T::is_max) {
      packet[c] = res_T(largest[c]);
    } else if (CONFIG_T::is_sum) {
      packet[c] = res_T(sum[c]);
    } else {
      const typename CONFIG_T::dividend_t dividend = sum[c];
      packet[c] = res_T(dividend / typename CONFIG_T::count_t(CONFIG_T::in_h * CONFIG_T::in_w));
    }
  }
  out.write(packet);
}

// Zero padding: the padded image, zeros converted into res_T around the converted values.
template <class data_T, class res_T, class CONFIG_T>
void zero_pad(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
              res_T res[CONFIG_T::padded_h * CONFIG_T::padded_w * CONFIG_T::n_chan]) {
  for (unsigned row = 0; row < CONFIG_T::padded_h; row++) {
    for (unsigned column = 0; column < CONFIG_T::padded_w; column++) {
#pragma HLS PIPELINE
      const bool inside = on_image<CONFIG_T>(row, column);
      const unsigned pixel = inside ? image_pixel<CONFIG_T>(row, column) : 0;
      for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        res[(row * CONFIG_T::padded_w + column) * CONFIG_T::n_chan + c] =
            inside ? res_T(data[pixel * CONFIG_T::n_chan + c]) : res_T(0);
      }
    }
  }
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void zero_pad_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  for (unsigned row = 0; row < CONFIG_T::padded_h; row++) {
    for (unsigned column = 0; column < CONFIG_T::padded_w; column++) {
#pragma HLS PIPELINE
      out_packet_T packet;
      if (on_image<CONFIG_T>(row, column)) {
        const in_packet_T pixel = in.read();
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) packet[c] = typename out_packet_T::value_type(pixel[c]);
      } else {
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) packet[c] = typename out_packet_T::value_type(0);
      }
      out.write(packet);
    }
  }
}

}  // namespace nnhls

#endif  // NNHLS_POOL_H
