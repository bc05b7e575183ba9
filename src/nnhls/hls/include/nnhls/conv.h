// Convolution (1-D or 2-D, channels-last): on each output pixel, the Dense layer of nnhls/dense.h
// applied to the pixel's window (zeros on padding), so the numerics are exactly Dense's for every
// strategy, reuse factor, io type and parallelization factor. A grouped convolution (a depthwise
// one) applies one such Dense per group, side by side, to the window's channels of that group.
//
// CONFIG_T provides Dense's members for one group (n_in = kernel_h * kernel_w * group_in,
// n_out = the group's filters, ...), groups, group_in (channels per group), n_filt (all
// filters), the window geometry of nnhls/window.h, n_pixels = out_h * out_w and
// parallelization_factor. Weights are each group's (n_in, n_out) matrix in turn, in the order
// its strategy reads it; biases are the n_filt biases.
#ifndef NNHLS_CONV_H
#define NNHLS_CONV_H

#include "nnhls/common.h"
#include "nnhls/dense.h"
#include "nnhls/window.h"

namespace nnhls {

// One output pixel (n_filt values) from its window (kernel_h * kernel_w * n_chan values).
template <class data_T, class res_T, class CONFIG_T>
void conv_pixel(const data_T window[CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan],
                res_T out[CONFIG_T::n_filt],
                const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::groups * CONFIG_T::n_in * CONFIG_T::n_out],
                const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_filt]) {
#pragma HLS INLINE
  if (CONFIG_T::groups == 1) {
    dense<data_T, res_T, CONFIG_T>(window, out, weights, biases);
    return;
  }
  const unsigned n_taps = CONFIG_T::kernel_h * CONFIG_T::kernel_w;
  for (unsigned g = 0; g < CONFIG_T::groups; g++) {
#pragma HLS UNROLL
    data_T part[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=part complete
    for (unsigned t = 0; t < n_taps; t++) {
      for (unsigned k = 0; k < CONFIG_T::group_in; k++) {
        part[t * CONFIG_T::group_in + k] = window[t * CONFIG_T::n_chan + g * CONFIG_T::group_in + k];
      }
    }
    res_T part_out[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=part_out complete
    dense<data_T, res_T, CONFIG_T>(part, part_out, weights + g * CONFIG_T::n_in * CONFIG_T::n_out,
                                   biases + g * CONFIG_T::n_out);
    for (unsigned j = 0; j < CONFIG_T::n_out; j++) out[g * CONFIG_T::n_out + j] = part_out[j];
  }
}

// io_parallel: parallelization_factor output pixels at a time, each with its own Dense. Each
// of them keeps its (y, x) in counters, so no divider is built for the pixel index.
template <class data_T, class res_T, class CONFIG_T>
void conv(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
          res_T res[CONFIG_T::n_pixels * CONFIG_T::n_filt],
          const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::groups * CONFIG_T::n_in * CONFIG_T::n_out],
          const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_filt]) {
  const unsigned factor = CONFIG_T::parallelization_factor;
  unsigned y[factor], x[factor];
#pragma HLS ARRAY_PARTITION variable=y complete
#pragma HLS ARRAY_PARTITION variable=x complete
  for (unsigned q = 0; q < factor; q++) {
#pragma HLS UNROLL
    y[q] = q / CONFIG_T::out_w;
    x[q] = q % CONFIG_T::out_w;
  }
  for (unsigned step = 0; step < CONFIG_T::n_pixels / factor; step++) {
    for (unsigned q = 0; q < factor; q++) {
#pragma HLS UNROLL
      data_T window[CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan];
#pragma HLS ARRAY_PARTITION variable=window complete
      gather_window<data_T, CONFIG_T>(data, y[q], x[q], window);
      res_T out[CONFIG_T::n_filt];
#pragma HLS ARRAY_PARTITION variable=out complete
      conv_pixel<data_T, res_T, CONFIG_T>(window, out, weights, biases);
      for (unsigned f = 0; f < CONFIG_T::n_filt; f++) res[(step * factor + q) * CONFIG_T::n_filt + f] = out[f];
      // The pixel `factor` places further on.
      x[q] += factor % CONFIG_T::out_w;
      y[q] += factor / CONFIG_T::out_w;
      if (x[q] >= CONFIG_T::out_w) {
        x[q] -= CONFIG_T::out_w;
        y[q]++;
      }
    }
  }
}

// io_stream, the second stage of conv_stream: one output pixel (packet of n_filt channels) from
// each window as it comes. A pointwise convolution (pointwise_stream) runs it on the input's
// pixels themselves, which are its windows.
template <class window_packet_T, class out_packet_T, class CONFIG_T>
void conv_windows(hls::stream<window_packet_T>& windows, hls::stream<out_packet_T>& out,
                  const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::groups * CONFIG_T::n_in * CONFIG_T::n_out],
                  const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_filt]) {
  typedef typename window_packet_T::value_type data_T;
  typedef typename out_packet_T::value_type res_T;
  for (unsigned pixel = 0; pixel < CONFIG_T::n_pixels; pixel++) {
    window_packet_T window = windows.read();
    res_T result[CONFIG_T::n_filt];
#pragma HLS ARRAY_PARTITION variable=result complete
    conv_pixel<data_T, res_T, CONFIG_T>(window.data, result, weights, biases);
    out_packet_T packet;
    for (unsigned f = 0; f < CONFIG_T::n_filt; f++) packet[f] = result[f];
    out.write(packet);
  }
}

// io_stream, a pointwise (1x1, stride 1, unpadded) convolution or a Dense on the last axis: the
// Dense of each pixel as it comes, with no line buffer.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void pointwise_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                      const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
                      const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
  conv_windows<in_packet_T, out_packet_T, CONFIG_T>(in, out, weights, biases);
}

// io_stream: the image's windows from a line buffer (nnhls/window.h), and conv_windows on them.
// The windows stream keeps the depth the tools give an internal stream anyway (2, UG1399 "HLS
// Stream Library"), written out so that the threaded C simulation (nnhls/dataflow.h) holds it.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void conv_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                 const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::groups * CONFIG_T::n_in * CONFIG_T::n_out],
                 const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_filt]) {
#pragma HLS DATAFLOW
  NNHLS_DATAFLOW_REGION
  typedef packet<typename in_packet_T::value_type, CONFIG_T::kernel_h * CONFIG_T::kernel_w * CONFIG_T::n_chan>
      window_packet_T;
  hls::stream<window_packet_T> windows("conv_windows");
#pragma HLS STREAM variable=windows depth=2
  NNHLS_STREAM_DEPTH(windows, 2)
  NNHLS_STAGE(stream_windows<in_packet_T, window_packet_T, CONFIG_T>(in, windows))
  NNHLS_STAGE(conv_windows<window_packet_T, out_packet_T, CONFIG_T>(windows, out, weights, biases))
  NNHLS_DATAFLOW_END
}

}  // namespace nnhls

#endif  // NNHLS_CONV_H
