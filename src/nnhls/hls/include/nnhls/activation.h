// Element-wise activations: each result is the function's exact value converted into res_T.
// CONFIG_T provides n_in, the number of elements.
#ifndef NNHLS_ACTIVATION_H
#define NNHLS_ACTIVATION_H

#include "nnhls/common.h"

namespace nnhls {

struct linear_function {
  template <class res_T, class data_T>
  static res_T apply(const data_T& x) { return res_T(x); }
};

struct relu_function {
  template <class res_T, class data_T>
  static res_T apply(const data_T& x) { return x > 0 ? res_T(x) : res_T(0); }
};

template <class data_T, class res_T, class CONFIG_T, class FUNCTION_T>
void activation(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    res[i] = FUNCTION_T::template apply<res_T>(data[i]);
  }
}

template <class data_T, class res_T, class CONFIG_T>
void linear(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS INLINE
  activation<data_T, res_T, CONFIG_T, linear_function>(data, res);
}

template <class data_T, class res_T, class CONFIG_T>
void relu(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS INLINE
  activation<data_T, res_T, CONFIG_T, relu_function>(data, res);
}

// io_stream: packets in, the same number of packets out.
template <class in_packet_T, class out_packet_T, class CONFIG_T, class FUNCTION_T>
void activation_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned c = 0; c < in_packet_T::size; c++) {
      y[c] = FUNCTION_T::template apply<typename out_packet_T::value_type>(x[c]);
    }
    out.write(y);
  }
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void linear_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  activation_stream<in_packet_T, out_packet_T, CONFIG_T, linear_function>(in, out);
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void relu_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  activation_stream<in_packet_T, out_packet_T, CONFIG_T, relu_function>(in, out);
}

}  // namespace nnhls

#endif  // NNHLS_ACTIVATION_H
