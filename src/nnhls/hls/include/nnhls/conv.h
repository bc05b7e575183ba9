// Convolution (1-D or 2-D, channels-last): on each output pixel, the Dense layer of nnhls/dense.h
// applied to the pixel's window (zeros on padding), so the numerics are exactly Dense's for every
// strategy, reuse factor, io type and parallelization factor.
//
// CONFIG_T provides Dense's members (n_in = kernel_h * kernel_w * n_chan, n_out = filters, ...),
// the window geometry of nnhls/window.h, n_pixels = out_h * out_w and parallelization_factor.
// Weights are the canonical (kernel_h, kernel_w, n_chan, filters) kernel, row-major, which is the
// (n_in, n_out) matrix Dense reads.
#ifndef NNHLS_CONV_H
#define NNHLS_CONV_H

#include "nnhls/common.h"
#include "nnhls/dense.h"
#include "nnhls/window.h"

namespace nnhls {

// io_parallel: parallelization_factor output pixels at a time, each with its own Dense. Each
// of them keeps its (y, x) in counters, so no divider is built for the pixel index.
template <class data_T, class res_T, class CONFIG_T>
void conv(const data_T data[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
          res_T res[CONFIG_T::n_pixels * CONFIG_T::n_out],
          const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
          const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
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
      data_T window[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=window complete
      gather_window<data_T, CONFIG_T>(data, y[q], x[q], window);
      res_T out[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=out complete
      dense<data_T, res_T, CONFIG_T>(window, out, weights, biases);
      for (unsigned f = 0; f < CONFIG_T::n_out; f++) res[(step * factor + q) * CONFIG_T::n_out + f] = out[f];
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

// io_stream, the second stage of conv_stream: one output pixel (packet of n_out channels) from
// each window as it comes.
template <class window_packet_T, class out_packet_T, class CONFIG_T>
void conv_windows(hls::stream<window_packet_T>& windows, hls::stream<out_packet_T>& out,
                  const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
                  const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
  typedef typename window_packet_T::value_type data_T;
  typedef typename out_packet_T::value_type res_T;
  for (unsigned pixel = 0; pixel < CONFIG_T::n_pixels; pixel++) {
    window_packet_T window = windows.read();
    res_T result[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=result complete
    dense<data_T, res_T, CONFIG_T>(window.data, result, weights, biases);
    out_packet_T packet;
    for (unsigned f = 0; f < CONFIG_T::n_out; f++) packet[f] = result[f];
    out.write(packet);
  }
}

// io_stream: the image's windows from a line buffer (nnhls/window.h), and conv_windows on them.
// The windows stream keeps the depth the tools give an internal stream anyway (2, UG1399 "HLS
// Stream Library"), written out so that the threaded C simulation (nnhls/dataflow.h) holds it.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void conv_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                 const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
                 const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
#pragma HLS DATAFLOW
  NNHLS_DATAFLOW_REGION
  typedef packet<typename in_packet_T::value_type, CONFIG_T::n_in> window_packet_T;
  hls::stream<window_packet_T> windows("conv_windows");
#pragma HLS STREAM variable=windows depth=2
  NNHLS_STREAM_DEPTH(windows, 2)
  NNHLS_STAGE(stream_windows<in_packet_T, window_packet_T, CONFIG_T>(in, windows))
  NNHLS_STAGE(conv_windows<window_packet_T, out_packet_T, CONFIG_T>(windows, out, weights, biases))
  NNHLS_DATAFLOW_END
}

}  // namespace nnhls

#endif  // NNHLS_CONV_H
