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

// The ReLU family. CONFIG_T provides n_in, n_channels, n_slopes (1 or n_channels), strict,
// has_max, has_min, and threshold_t, slope_t, max_t, min_input_t, min_value_t. Each branch is
// exact, converted into res_T once.
template <class res_T, class CONFIG_T, class data_T>
res_T prelu_one(const data_T& x, const typename CONFIG_T::threshold_t& threshold,
                const typename CONFIG_T::slope_t& slope, const typename CONFIG_T::max_t& max_value,
                const typename CONFIG_T::min_input_t& min_input, const typename CONFIG_T::min_value_t& min_value) {
#pragma HLS INLINE
  if (CONFIG_T::has_max && x >= max_value) return res_T(max_value);
  if (CONFIG_T::strict ? x > threshold : x >= threshold) return res_T(x);
  if (CONFIG_T::has_min && x < min_input) return res_T(min_value);
  return res_T((x - threshold) * slope);
}

template <class data_T, class res_T, class CONFIG_T>
void prelu(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
           const typename rom<typename CONFIG_T::threshold_t>::word threshold[1],
           const typename rom<typename CONFIG_T::slope_t>::word slope[CONFIG_T::n_slopes],
           const typename rom<typename CONFIG_T::max_t>::word max_value[1],
           const typename rom<typename CONFIG_T::min_input_t>::word min_input[1],
           const typename rom<typename CONFIG_T::min_value_t>::word min_value[1]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    const unsigned c = CONFIG_T::n_slopes == 1 ? 0 : i % CONFIG_T::n_channels;
    res[i] = prelu_one<res_T, CONFIG_T>(
        data[i], from_code<typename CONFIG_T::threshold_t>(threshold[0]),
        from_code<typename CONFIG_T::slope_t>(slope[c]), from_code<typename CONFIG_T::max_t>(max_value[0]),
        from_code<typename CONFIG_T::min_input_t>(min_input[0]),
        from_code<typename CONFIG_T::min_value_t>(min_value[0]));
  }
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void prelu_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                  const typename rom<typename CONFIG_T::threshold_t>::word threshold[1],
                  const typename rom<typename CONFIG_T::slope_t>::word slope[CONFIG_T::n_slopes],
                  const typename rom<typename CONFIG_T::max_t>::word max_value[1],
                  const typename rom<typename CONFIG_T::min_input_t>::word min_input[1],
                  const typename rom<typename CONFIG_T::min_value_t>::word min_value[1]) {
  unsigned c = 0;
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned k = 0; k < in_packet_T::size; k++) {
      y[k] = prelu_one<typename out_packet_T::value_type, CONFIG_T>(
          x[k], from_code<typename CONFIG_T::threshold_t>(threshold[0]),
          from_code<typename CONFIG_T::slope_t>(slope[CONFIG_T::n_slopes == 1 ? 0 : c]),
          from_code<typename CONFIG_T::max_t>(max_value[0]), from_code<typename CONFIG_T::min_input_t>(min_input[0]),
          from_code<typename CONFIG_T::min_value_t>(min_value[0]));
      c = c + 1 == CONFIG_T::n_channels ? 0 : c + 1;
    }
    out.write(y);
  }
}

// y = min(max(slope * x + offset, 0), 1). CONFIG_T provides n_in, slope_t, offset_t and line_t
// (the exact type of slope * x + offset).
template <class res_T, class CONFIG_T, class data_T>
res_T hard_sigmoid_one(const data_T& x, const typename CONFIG_T::slope_t& slope,
                       const typename CONFIG_T::offset_t& offset) {
#pragma HLS INLINE
  typename CONFIG_T::line_t line = x * slope + offset;
  if (line <= 0) return res_T(0);
  if (line >= 1) return res_T(1);
  return res_T(line);
}

template <class data_T, class res_T, class CONFIG_T>
void hard_sigmoid(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                  const typename rom<typename CONFIG_T::slope_t>::word slope[1],
                  const typename rom<typename CONFIG_T::offset_t>::word offset[1]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    res[i] = hard_sigmoid_one<res_T, CONFIG_T>(data[i], from_code<typename CONFIG_T::slope_t>(slope[0]),
                                               from_code<typename CONFIG_T::offset_t>(offset[0]));
  }
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void hard_sigmoid_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                         const typename rom<typename CONFIG_T::slope_t>::word slope[1],
                         const typename rom<typename CONFIG_T::offset_t>::word offset[1]) {
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned k = 0; k < in_packet_T::size; k++) {
      y[k] = hard_sigmoid_one<typename out_packet_T::value_type, CONFIG_T>(
          x[k], from_code<typename CONFIG_T::slope_t>(slope[0]), from_code<typename CONFIG_T::offset_t>(offset[0]));
    }
    out.write(y);
  }
}

// y = x / (1 + |x|). CONFIG_T provides n_in and the exact types abs_t (|x|), denominator_t
// (1 + |x|) and quotient_t; the division truncates toward zero like ap_fixed's.
template <class res_T, class CONFIG_T, class data_T>
res_T softsign_one(const data_T& x) {
#pragma HLS INLINE
  typename CONFIG_T::abs_t magnitude = x;
  if (x < 0) magnitude = -x;
  typename CONFIG_T::denominator_t denominator = magnitude + ap_uint<1>(1);
  typename CONFIG_T::quotient_t quotient = x / denominator;
  return res_T(quotient);
}

template <class data_T, class res_T, class CONFIG_T>
void softsign(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) res[i] = softsign_one<res_T, CONFIG_T>(data[i]);
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void softsign_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned k = 0; k < in_packet_T::size; k++) y[k] = softsign_one<typename out_packet_T::value_type, CONFIG_T>(x[k]);
    out.write(y);
  }
}

// A monotonic staircase: res = levels[first_level + number of thresholds that x reaches].
// CONFIG_T provides n_in, n_thresholds, first_level, n_levels and levels_t; the thresholds are
// values of the input type, so each comparison is exact.
template <class res_T, class CONFIG_T, class data_T>
res_T step_one(const data_T& x, const typename rom<data_T>::word thresholds[],
               const typename rom<typename CONFIG_T::levels_t>::word levels[]) {
#pragma HLS INLINE
  unsigned passed = CONFIG_T::first_level;
  for (unsigned t = 0; t < CONFIG_T::n_thresholds; t++) {
    if (x >= from_code<data_T>(thresholds[t])) passed++;
  }
  return res_T(from_code<typename CONFIG_T::levels_t>(levels[passed]));
}

template <class data_T, class res_T, class CONFIG_T>
void step(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
          const typename rom<data_T>::word thresholds[],
          const typename rom<typename CONFIG_T::levels_t>::word levels[CONFIG_T::n_levels]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) res[i] = step_one<res_T, CONFIG_T>(data[i], thresholds, levels);
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void step_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                 const typename rom<typename in_packet_T::value_type>::word thresholds[],
                 const typename rom<typename CONFIG_T::levels_t>::word levels[CONFIG_T::n_levels]) {
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned k = 0; k < in_packet_T::size; k++) {
      y[k] = step_one<typename out_packet_T::value_type, CONFIG_T>(x[k], thresholds, levels);
    }
    out.write(y);
  }
}

}  // namespace nnhls

#endif  // NNHLS_ACTIVATION_H
