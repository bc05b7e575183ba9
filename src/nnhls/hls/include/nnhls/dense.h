// Dense layer: res[j] = sum_i data[i] * weights[i][j] + biases[j].
//
// Numerics (the same for every strategy and reuse factor, and equal to nnhls.emulate):
// each product and the bias are converted into accum_t; they are summed in sum_t, which is
// wide enough that no partial sum overflows, so the order of the additions cannot matter;
// the sum is converted into accum_t once and then into res_T.
//
// CONFIG_T provides n_in, n_out, reuse_factor, strategy, multiplier_limit, block_factor,
// rows_per_step and the types weight_t, bias_t, accum_t, sum_t. Weights and biases are integer
// codes (see rom in nnhls/common.h); weights are in the canonical row-major (n_in, n_out) order
// for both strategies.
#ifndef NNHLS_DENSE_H
#define NNHLS_DENSE_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

template <class data_T, class res_T, class CONFIG_T>
void dense_latency(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                   const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
                   const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
  // Fully unrolled; the reuse factor is the initiation interval and bounds the multipliers.
  const unsigned reuse_factor=CONFIG_T::reuse_factor;
  const unsigned multiplier_limit = CONFIG_T::multiplier_limit;
#pragma HLS PIPELINE II=reuse_factor
  NNHLS_ALLOCATION_MUL(multiplier_limit)
#pragma HLS ARRAY_PARTITION variable=weights complete
#pragma HLS ARRAY_PARTITION variable=biases complete
  typename CONFIG_T::sum_t acc[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
  for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
    acc[j] = typename CONFIG_T::accum_t(from_code<typename CONFIG_T::bias_t>(biases[j]));
  }
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
      acc[j] += typename CONFIG_T::accum_t(data[i] * from_code<typename CONFIG_T::weight_t>(weights[i * CONFIG_T::n_out + j]));
    }
  }
  for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
    res[j] = res_T(typename CONFIG_T::accum_t(acc[j]));
  }
}

template <class data_T, class res_T, class CONFIG_T>
void dense_resource(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                    const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
                    const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
  // reuse_factor cycles, each using block_factor multipliers on one word of the weight memory:
  // block_factor consecutive weights, i.e. whole rows (reuse_factor divides n_in) or an equal
  // part of one row (n_in divides reuse_factor). A cyclic reshape makes word r hold weights
  // r * block_factor ... r * block_factor + block_factor - 1.
  const unsigned block_factor=CONFIG_T::block_factor;
  NNHLS_BIND_ROM(weights)
#pragma HLS ARRAY_RESHAPE variable=weights cyclic factor=block_factor
#pragma HLS ARRAY_PARTITION variable=data complete
#pragma HLS ARRAY_PARTITION variable=res complete
  typename CONFIG_T::sum_t acc[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
  for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
#pragma HLS UNROLL
    acc[j] = typename CONFIG_T::accum_t(from_code<typename CONFIG_T::bias_t>(biases[j]));
  }
  // Where this cycle's block starts; counters rather than a division by n_out.
  unsigned row = 0, column = 0;
  for (unsigned ir = 0; ir < CONFIG_T::reuse_factor; ir++) {
#pragma HLS PIPELINE II=1 rewind
    for (unsigned im = 0; im < CONFIG_T::block_factor; im++) {
#pragma HLS UNROLL
      const unsigned i = row + im / CONFIG_T::n_out;
      const unsigned j = column + im % CONFIG_T::n_out;
      acc[j] += typename CONFIG_T::accum_t(data[i] * from_code<typename CONFIG_T::weight_t>(weights[ir * CONFIG_T::block_factor + im]));
    }
    column += CONFIG_T::block_factor;
    if (column >= CONFIG_T::n_out) {
      column = 0;
      row += CONFIG_T::rows_per_step;
    }
  }
  for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
#pragma HLS UNROLL
    res[j] = res_T(typename CONFIG_T::accum_t(acc[j]));
  }
}

template <class data_T, class res_T, class CONFIG_T>
void dense(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
           const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
           const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
#pragma HLS INLINE
  if (CONFIG_T::strategy == resource) {
    dense_resource<data_T, res_T, CONFIG_T>(data, res, weights, biases);
  } else {
    dense_latency<data_T, res_T, CONFIG_T>(data, res, weights, biases);
  }
}

// io_stream: the whole input vector arrives as packets, the whole output leaves as packets.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void dense_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                  const typename rom<typename CONFIG_T::weight_t>::word weights[CONFIG_T::n_in * CONFIG_T::n_out],
                  const typename rom<typename CONFIG_T::bias_t>::word biases[CONFIG_T::n_out]) {
  typename in_packet_T::value_type data[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable=data complete
  typename out_packet_T::value_type res[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=res complete
  read_vector<in_packet_T, CONFIG_T::n_in>(in, data);
  dense<typename in_packet_T::value_type, typename out_packet_T::value_type, CONFIG_T>(data, res, weights, biases);
  write_vector<out_packet_T, CONFIG_T::n_out>(res, out);
}

}  // namespace nnhls

#endif  // NNHLS_DENSE_H
