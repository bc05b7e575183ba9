// Softmax over the last axis (numerics as in nnhls.emulate), each of n_positions vectors of
// n_in values on its own (one vector for a 1-D tensor):
//   stable: d = x - max(x) exactly; e = exp_table[bin of d over [-16, 0)]; s = sum(e) exactly;
//           res = e * inv_table[bin of s over [0, 2^k)], converted into res_T once.
//   argmax: res = 1 at the first largest input, 0 elsewhere.
// CONFIG_T provides n_in, n_positions, implementation, exp_t, inv_t, diff_t (x - max), sum_t,
// and the INDEX_T structs exp_index (for diff_t) and inv_index (for sum_t).
#ifndef NNHLS_SOFTMAX_H
#define NNHLS_SOFTMAX_H

#include "nnhls/lookup.h"
#include "nnhls/stream.h"

namespace nnhls {

enum softmax_implementation { softmax_stable = 0, softmax_argmax = 1 };

// One vector of n_in values.
template <class data_T, class res_T, class CONFIG_T>
void softmax_vector(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                    const typename rom<typename CONFIG_T::exp_t>::word exp_table[CONFIG_T::exp_index::size],
                    const typename rom<typename CONFIG_T::inv_t>::word inv_table[CONFIG_T::inv_index::size]) {
#pragma HLS INLINE
  data_T largest = data[0];
  unsigned at = 0;
  for (unsigned i = 1; i < CONFIG_T::n_in; i++) {
    if (data[i] > largest) {
      largest = data[i];
      at = i;
    }
  }
  if (CONFIG_T::implementation == softmax_argmax) {
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) res[i] = res_T(i == at ? 1 : 0);
    return;
  }
  typename CONFIG_T::exp_t exps[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=exps complete
  typename CONFIG_T::sum_t total = 0;
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    typename CONFIG_T::diff_t difference = data[i] - largest;
    exps[i] = from_code<typename CONFIG_T::exp_t>(exp_table[table_index<typename CONFIG_T::exp_index>(difference)]);
    total += exps[i];
  }
  typename CONFIG_T::inv_t inverse =
      from_code<typename CONFIG_T::inv_t>(inv_table[table_index<typename CONFIG_T::inv_index>(total)]);
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) res[i] = res_T(exps[i] * inverse);
}

// io_parallel: every position at once.
template <class data_T, class res_T, class CONFIG_T>
void softmax(const data_T data[CONFIG_T::n_positions * CONFIG_T::n_in],
             res_T res[CONFIG_T::n_positions * CONFIG_T::n_in],
             const typename rom<typename CONFIG_T::exp_t>::word exp_table[CONFIG_T::exp_index::size],
             const typename rom<typename CONFIG_T::inv_t>::word inv_table[CONFIG_T::inv_index::size]) {
#pragma HLS PIPELINE
  for (unsigned p = 0; p < CONFIG_T::n_positions; p++) {
    softmax_vector<data_T, res_T, CONFIG_T>(data + p * CONFIG_T::n_in, res + p * CONFIG_T::n_in, exp_table,
                                            inv_table);
  }
}

// io_stream: a tensor of two or more axes arrives in packets of its last axis, one position per
// packet, each normalized as it comes; a 1-D tensor is one vector in packets of any size (a
// flattened image's pixels), read whole, then written.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void softmax_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                    const typename rom<typename CONFIG_T::exp_t>::word exp_table[CONFIG_T::exp_index::size],
                    const typename rom<typename CONFIG_T::inv_t>::word inv_table[CONFIG_T::inv_index::size]) {
  if (CONFIG_T::n_positions > 1) {
    for (unsigned p = 0; p < CONFIG_T::n_positions; p++) {
#pragma HLS PIPELINE
      const in_packet_T x = in.read();
      out_packet_T y;
      softmax_vector<typename in_packet_T::value_type, typename out_packet_T::value_type, CONFIG_T>(
          x.data, y.data, exp_table, inv_table);
      out.write(y);
    }
    return;
  }
  typename in_packet_T::value_type data[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=data complete
  typename out_packet_T::value_type res[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=res complete
  read_vector<in_packet_T, CONFIG_T::n_in>(in, data);
  softmax<typename in_packet_T::value_type, typename out_packet_T::value_type, CONFIG_T>(data, res, exp_table,
                                                                                        inv_table);
  write_vector<out_packet_T, CONFIG_T::n_in>(res, out);
}

}  // namespace nnhls

#endif  // NNHLS_SOFTMAX_H
