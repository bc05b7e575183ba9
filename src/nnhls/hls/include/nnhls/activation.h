// Element-wise activations: each result is the function's exact value converted into res_T.
// CONFIG_T provides n_in, the number of elements.
#ifndef NNHLS_ACTIVATION_H
#define NNHLS_ACTIVATION_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

struct linear_function {
  template <class res_T, class data_T>
  res_T apply(const data_T& x, unsigned) const { return res_T(x); }
};

struct relu_function {
  template <class res_T, class data_T>
  res_T apply(const data_T& x, unsigned) const { return x > 0 ? res_T(x) : res_T(0); }
};

template <class data_T, class res_T, class CONFIG_T>
void linear(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, 1>(data, res, linear_function());
}

template <class data_T, class res_T, class CONFIG_T>
void relu(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, 1>(data, res, relu_function());
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void linear_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, 1>(in, out, linear_function());
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void relu_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, 1>(in, out, relu_function());
}

// The ReLU family. CONFIG_T provides n_in, n_channels, n_slopes (1 or n_channels), strict,
// has_max, has_min, and threshold_t, slope_t, max_t, min_input_t, min_value_t. Each branch is
// exact, converted into res_T once.
template <class CONFIG_T>
struct prelu_function {
  typename CONFIG_T::threshold_t threshold;
  typename CONFIG_T::slope_t slope[CONFIG_T::n_slopes];
  typename CONFIG_T::max_t max_value;
  typename CONFIG_T::min_input_t min_input;
  typename CONFIG_T::min_value_t min_value;

  prelu_function(const typename rom<typename CONFIG_T::threshold_t>::word threshold_code[1],
                 const typename rom<typename CONFIG_T::slope_t>::word slope_codes[CONFIG_T::n_slopes],
                 const typename rom<typename CONFIG_T::max_t>::word max_code[1],
                 const typename rom<typename CONFIG_T::min_input_t>::word min_input_code[1],
                 const typename rom<typename CONFIG_T::min_value_t>::word min_value_code[1])
      : threshold(from_code<typename CONFIG_T::threshold_t>(threshold_code[0])),
        max_value(from_code<typename CONFIG_T::max_t>(max_code[0])),
        min_input(from_code<typename CONFIG_T::min_input_t>(min_input_code[0])),
        min_value(from_code<typename CONFIG_T::min_value_t>(min_value_code[0])) {
#pragma HLS ARRAY_PARTITION variable=slope complete
    for (unsigned c = 0; c < CONFIG_T::n_slopes; c++) slope[c] = from_code<typename CONFIG_T::slope_t>(slope_codes[c]);
  }

  template <class res_T, class data_T>
  res_T apply(const data_T& x, unsigned channel) const {
#pragma HLS INLINE
    if (CONFIG_T::has_max && x >= max_value) return res_T(max_value);
    if (CONFIG_T::strict ? x > threshold : x >= threshold) return res_T(x);
    if (CONFIG_T::has_min && x < min_input) return res_T(min_value);
    return res_T((x - threshold) * slope[CONFIG_T::n_slopes == 1 ? 0 : channel]);
  }
};

template <class data_T, class res_T, class CONFIG_T>
void prelu(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
           const typename rom<typename CONFIG_T::threshold_t>::word threshold[1],
           const typename rom<typename CONFIG_T::slope_t>::word slope[CONFIG_T::n_slopes],
           const typename rom<typename CONFIG_T::max_t>::word max_value[1],
           const typename rom<typename CONFIG_T::min_input_t>::word min_input[1],
           const typename rom<typename CONFIG_T::min_value_t>::word min_value[1]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, CONFIG_T::n_channels>(
      data, res, prelu_function<CONFIG_T>(threshold, slope, max_value, min_input, min_value));
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void prelu_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                  const typename rom<typename CONFIG_T::threshold_t>::word threshold[1],
                  const typename rom<typename CONFIG_T::slope_t>::word slope[CONFIG_T::n_slopes],
                  const typename rom<typename CONFIG_T::max_t>::word max_value[1],
                  const typename rom<typename CONFIG_T::min_input_t>::word min_input[1],
                  const typename rom<typename CONFIG_T::min_value_t>::word min_value[1]) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, CONFIG_T::n_channels>(
      in, out, prelu_function<CONFIG_T>(threshold, slope, max_value, min_input, min_value));
}

// y = min(max(slope * x + offset, 0), 1). CONFIG_T provides n_in, slope_t, offset_t and line_t
// (the exact type of slope * x + offset).
template <class CONFIG_T>
struct hard_sigmoid_function {
  typename CONFIG_T::slope_t slope;
  typename CONFIG_T::offset_t offset;

  hard_sigmoid_function(const typename rom<typename CONFIG_T::slope_t>::word slope_code[1],
                        const typename rom<typename CONFIG_T::offset_t>::word offset_code[1])
      : slope(from_code<typename CONFIG_T::slope_t>(slope_code[0])),
        offset(from_code<typename CONFIG_T::offset_t>(offset_code[0])) {}

  template <class res_T, class data_T>
  res_T apply(const data_T& x, unsigned) const {
#pragma HLS INLINE
    typename CONFIG_T::line_t line = x * slope + offset;
    if (line <= 0) return res_T(0);
    if (line >= 1) return res_T(1);
    return res_T(line);
  }
};

template <class data_T, class res_T, class CONFIG_T>
void hard_sigmoid(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                  const typename rom<typename CONFIG_T::slope_t>::word slope[1],
                  const typename rom<typename CONFIG_T::offset_t>::word offset[1]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, 1>(data, res, hard_sigmoid_function<CONFIG_T>(slope, offset));
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void hard_sigmoid_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                         const typename rom<typename CONFIG_T::slope_t>::word slope[1],
                         const typename rom<typename CONFIG_T::offset_t>::word offset[1]) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, 1>(in, out,
                                                                   hard_sigmoid_function<CONFIG_T>(slope, offset));
}

// y = x / (1 + |x|). CONFIG_T provides n_in and the exact types abs_t (|x|), denominator_t
// (1 + |x|) and quotient_t; the division truncates toward zero like ap_fixed's.
template <class CONFIG_T>
struct softsign_function {
  template <class res_T, class data_T>
  res_T apply(const data_T& x, unsigned) const {
#pragma HLS INLINE
    typename CONFIG_T::abs_t magnitude = x;
    if (x < 0) magnitude = -x;
    typename CONFIG_T::denominator_t denominator = magnitude + ap_uint<1>(1);
    typename CONFIG_T::quotient_t quotient = x / denominator;
    return res_T(quotient);
  }
};

template <class data_T, class res_T, class CONFIG_T>
void softsign(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, 1>(data, res, softsign_function<CONFIG_T>());
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void softsign_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, 1>(in, out, softsign_function<CONFIG_T>());
}

// A monotonic staircase: res = levels[first_level + number of thresholds that x reaches].
// CONFIG_T provides n_in, n_channels, n_thresholds, first_level, n_levels, threshold_t and
// levels_t. With one channel every value reads the same thresholds; with more, channel c (the
// last axis) reads its own n_thresholds, of threshold_t (the input type, or one integer bit wider
// so that a threshold no input reaches stays above them all), so each comparison is exact.
template <class CONFIG_T, class data_T>
struct step_function {
  static const unsigned n_stored = CONFIG_T::n_thresholds > 0 ? CONFIG_T::n_channels * CONFIG_T::n_thresholds : 1;
  typename CONFIG_T::threshold_t thresholds[n_stored];
  typename CONFIG_T::levels_t levels[CONFIG_T::n_levels];

  step_function(const typename rom<typename CONFIG_T::threshold_t>::word threshold_codes[],
                const typename rom<typename CONFIG_T::levels_t>::word level_codes[CONFIG_T::n_levels]) {
#pragma HLS ARRAY_PARTITION variable=thresholds complete
#pragma HLS ARRAY_PARTITION variable=levels complete
    for (unsigned t = 0; t < CONFIG_T::n_channels * CONFIG_T::n_thresholds; t++) {
      thresholds[t] = from_code<typename CONFIG_T::threshold_t>(threshold_codes[t]);
    }
    for (unsigned l = 0; l < CONFIG_T::n_levels; l++) {
      levels[l] = from_code<typename CONFIG_T::levels_t>(level_codes[l]);
    }
  }

  template <class res_T>
  res_T apply(const data_T& x, unsigned channel) const {
#pragma HLS INLINE
    const unsigned first = CONFIG_T::n_channels == 1 ? 0 : channel * CONFIG_T::n_thresholds;
    unsigned passed = CONFIG_T::first_level;
    for (unsigned t = 0; t < CONFIG_T::n_thresholds; t++) {
      if (x >= thresholds[first + t]) passed++;
    }
    return res_T(levels[passed]);
  }
};

template <class data_T, class res_T, class CONFIG_T>
void step(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
          const typename rom<typename CONFIG_T::threshold_t>::word thresholds[],
          const typename rom<typename CONFIG_T::levels_t>::word levels[CONFIG_T::n_levels]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, CONFIG_T::n_channels>(data, res,
                                                                   step_function<CONFIG_T, data_T>(thresholds, levels));
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void step_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                 const typename rom<typename CONFIG_T::threshold_t>::word thresholds[],
                 const typename rom<typename CONFIG_T::levels_t>::word levels[CONFIG_T::n_levels]) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, CONFIG_T::n_channels>(
      in, out, step_function<CONFIG_T, typename in_packet_T::value_type>(thresholds, levels));
}

}  // namespace nnhls

#endif  // NNHLS_ACTIVATION_H
