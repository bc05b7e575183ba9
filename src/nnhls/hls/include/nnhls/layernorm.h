// Layer normalization over the last axis (numerics as in nnhls.emulate, LayerNorm in nnhls.ir):
//   S = sum(x); d = n * x - S; Q = sum(d * d); V = Q + epsilon (= n^3 * eps), all exact;
//   V = m * 4^j with m in [1, 4): j and the bin of m come from V's leading one;
//   a = d * 2^(guard - j), converted into accum_t; res = a * table[bin] * gamma + beta, converted
//   into res_T once.
// No division: d / sqrt(V) * sqrt(n) is (x - mean) / sqrt(var + eps), and the table holds sqrt(n / m).
// CONFIG_T provides n_in, n (the last axis), n_positions, table_size, mantissa_bits (log2 of the
// bins per octave of m), shift_base (d's fractional bits plus guard), has_scale, has_bias, and
// the types sum_t, count_t, diff_t, square_sum_t, variance_t, shift_t, accum_t, table_t,
// scale_t, bias_t.
#ifndef NNHLS_LAYERNORM_H
#define NNHLS_LAYERNORM_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

// The position of the highest set bit of a non-negative value's code; -1 for 0.
template <class T>
int leading_one(const T& value) {
#pragma HLS INLINE
  int lead = -1;
  for (int b = 0; b < T::width; b++) {
#pragma HLS UNROLL
    if (value[b]) lead = b;
  }
  return lead;
}

// One position: the n values of the last axis.
template <class data_T, class res_T, class CONFIG_T>
void layernorm_position(const data_T x[CONFIG_T::n], res_T y[CONFIG_T::n],
                        const typename rom<typename CONFIG_T::table_t>::word table[CONFIG_T::table_size],
                        const typename CONFIG_T::variance_t& epsilon,
                        const typename rom<typename CONFIG_T::scale_t>::word gamma[CONFIG_T::n],
                        const typename rom<typename CONFIG_T::bias_t>::word beta[CONFIG_T::n]) {
#pragma HLS INLINE
  typename CONFIG_T::sum_t total = 0;
  for (unsigned c = 0; c < CONFIG_T::n; c++) total += x[c];
  typename CONFIG_T::diff_t diff[CONFIG_T::n];
#pragma HLS ARRAY_PARTITION variable=diff complete
  typename CONFIG_T::square_sum_t squares = 0;
  for (unsigned c = 0; c < CONFIG_T::n; c++) {
    diff[c] = x[c] * typename CONFIG_T::count_t(CONFIG_T::n) - total;
    squares += diff[c] * diff[c];
  }
  const typename CONFIG_T::variance_t variance = squares + epsilon;
  const int lead = leading_one(variance);
  const unsigned at = lead < 0 ? 0u : unsigned(lead);
  // The leading one and the mantissa_bits bits below it, the bin within m's octave.
  const int width = CONFIG_T::variance_t::width, bits = CONFIG_T::mantissa_bits;
  ap_uint<width + bits> code = variance.range(width - 1, 0);
  code <<= bits;
  const ap_uint<bits + 1> top = code >> at;
  const unsigned bin = ((at & 1u) << bits) | (unsigned(top) & ((1u << bits) - 1u));
  const typename CONFIG_T::table_t inverse = from_code<typename CONFIG_T::table_t>(table[bin]);
  const int shift = int(CONFIG_T::shift_base) - int(at >> 1);
  for (unsigned c = 0; c < CONFIG_T::n; c++) {
    typename CONFIG_T::shift_t shifted = diff[c];  // exact both ways: |a| < 2, and shift_t has the bits
    if (shift >= 0) shifted <<= unsigned(shift);
    else shifted >>= unsigned(-shift);
    const typename CONFIG_T::accum_t normalized = shifted;
    const typename CONFIG_T::scale_t scale = from_code<typename CONFIG_T::scale_t>(gamma[c]);
    const typename CONFIG_T::bias_t bias = from_code<typename CONFIG_T::bias_t>(beta[c]);
    if (CONFIG_T::has_scale && CONFIG_T::has_bias) y[c] = res_T(normalized * inverse * scale + bias);
    else if (CONFIG_T::has_scale) y[c] = res_T(normalized * inverse * scale);
    else if (CONFIG_T::has_bias) y[c] = res_T(normalized * inverse + bias);
    else y[c] = res_T(normalized * inverse);
  }
}

template <class data_T, class res_T, class CONFIG_T>
void layernorm(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
               const typename rom<typename CONFIG_T::table_t>::word table[CONFIG_T::table_size],
               const typename rom<typename CONFIG_T::variance_t>::word epsilon[1],
               const typename rom<typename CONFIG_T::scale_t>::word gamma[CONFIG_T::n],
               const typename rom<typename CONFIG_T::bias_t>::word beta[CONFIG_T::n]) {
#pragma HLS PIPELINE
  const typename CONFIG_T::variance_t eps = from_code<typename CONFIG_T::variance_t>(epsilon[0]);
  for (unsigned p = 0; p < CONFIG_T::n_positions; p++) {
    data_T x[CONFIG_T::n];
    res_T y[CONFIG_T::n];
    for (unsigned c = 0; c < CONFIG_T::n; c++) x[c] = data[p * CONFIG_T::n + c];
    layernorm_position<data_T, res_T, CONFIG_T>(x, y, table, eps, gamma, beta);
    for (unsigned c = 0; c < CONFIG_T::n; c++) res[p * CONFIG_T::n + c] = y[c];
  }
}

// io_stream: each position's n values (one packet each where the rank is above 1; a 1-D
// tensor's whole vector, in whatever packets it comes), then its n results.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void layernorm_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                      const typename rom<typename CONFIG_T::table_t>::word table[CONFIG_T::table_size],
                      const typename rom<typename CONFIG_T::variance_t>::word epsilon[1],
                      const typename rom<typename CONFIG_T::scale_t>::word gamma[CONFIG_T::n],
                      const typename rom<typename CONFIG_T::bias_t>::word beta[CONFIG_T::n]) {
  const typename CONFIG_T::variance_t eps = from_code<typename CONFIG_T::variance_t>(epsilon[0]);
  for (unsigned p = 0; p < CONFIG_T::n_positions; p++) {
#pragma HLS PIPELINE
    typename in_packet_T::value_type x[CONFIG_T::n];
#pragma HLS ARRAY_PARTITION variable=x complete
    typename out_packet_T::value_type y[CONFIG_T::n];
#pragma HLS ARRAY_PARTITION variable=y complete
    read_vector<in_packet_T, CONFIG_T::n>(in, x);
    layernorm_position<typename in_packet_T::value_type, typename out_packet_T::value_type, CONFIG_T>(
        x, y, table, eps, gamma, beta);
    write_vector<out_packet_T, CONFIG_T::n>(y, out);
  }
}

}  // namespace nnhls

#endif  // NNHLS_LAYERNORM_H
