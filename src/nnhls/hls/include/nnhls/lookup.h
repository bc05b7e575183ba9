// Table-driven functions. A table has SIZE equal bins over [low, low + span); the bin of x is
// computed from the exact offset x - low (never from the top bits of x's type), so the index is
// right whatever the width of x. INDEX_T provides:
//   low (int), size, and the types low_t (holds low), offset_t (= x - low exactly),
//   scale_t (one bit worth SIZE / span) and scaled_t (= offset * scale exactly).
#ifndef NNHLS_LOOKUP_H
#define NNHLS_LOOKUP_H

#include "nnhls/common.h"

namespace nnhls {

template <class INDEX_T, class data_T>
unsigned table_index(const data_T& x) {
#pragma HLS INLINE
  typename INDEX_T::offset_t offset = x - typename INDEX_T::low_t(INDEX_T::low);
  typename INDEX_T::scale_t scale = 0;
  scale[0] = 1;
  typename INDEX_T::scaled_t scaled = offset * scale;
  if (offset < 0) return 0;
  if (scaled >= INDEX_T::size) return INDEX_T::size - 1;
  ap_uint<INDEX_T::bits> index = scaled;  // the floor: scaled is non-negative and below size
  return index;
}

// CONFIG_T provides n_in, table_t, index_t (an INDEX_T for the input type), and for a linear
// tail (ELU, SELU, softplus): has_tail, tail_from (int), tail_t (holds tail_from), has_scale and
// scale_t: from tail_from upwards the result is x (times the scale) exactly.
template <class res_T, class CONFIG_T, class data_T>
res_T lookup_one(const data_T& x,
                 const typename rom<typename CONFIG_T::table_t>::word table[CONFIG_T::index_t::size],
                 const typename CONFIG_T::scale_t& scale) {
#pragma HLS INLINE
  if (CONFIG_T::has_tail && x >= typename CONFIG_T::tail_t(CONFIG_T::tail_from)) {
    return CONFIG_T::has_scale ? res_T(x * scale) : res_T(x);
  }
  return res_T(from_code<typename CONFIG_T::table_t>(table[table_index<typename CONFIG_T::index_t>(x)]));
}

template <class data_T, class res_T, class CONFIG_T>
void lookup(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
            const typename rom<typename CONFIG_T::table_t>::word table[CONFIG_T::index_t::size],
            const typename rom<typename CONFIG_T::scale_t>::word scale[1]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    res[i] = lookup_one<res_T, CONFIG_T>(data[i], table, from_code<typename CONFIG_T::scale_t>(scale[0]));
  }
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void lookup_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                   const typename rom<typename CONFIG_T::table_t>::word table[CONFIG_T::index_t::size],
                   const typename rom<typename CONFIG_T::scale_t>::word scale[1]) {
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned c = 0; c < in_packet_T::size; c++) {
      y[c] = lookup_one<typename out_packet_T::value_type, CONFIG_T>(
          x[c], table, from_code<typename CONFIG_T::scale_t>(scale[0]));
    }
    out.write(y);
  }
}

}  // namespace nnhls

#endif  // NNHLS_LOOKUP_H
