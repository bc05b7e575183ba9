// Per-channel scale and shift (an unfolded batch normalization): res = data * scale + shift,
// computed exactly and converted into res_T once. CONFIG_T provides n_in and n_channels (the
// last axis; channels-last order).
#ifndef NNHLS_SCALE_SHIFT_H
#define NNHLS_SCALE_SHIFT_H

#include "nnhls/common.h"

namespace nnhls {

template <class data_T, class res_T, class CONFIG_T>
void scale_shift(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                 const typename rom<typename CONFIG_T::scale_t>::word scale[CONFIG_T::n_channels],
                 const typename rom<typename CONFIG_T::shift_t>::word shift[CONFIG_T::n_channels]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    const unsigned c = i % CONFIG_T::n_channels;
    res[i] = res_T(data[i] * from_code<typename CONFIG_T::scale_t>(scale[c]) +
                   from_code<typename CONFIG_T::shift_t>(shift[c]));
  }
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void scale_shift_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                        const typename rom<typename CONFIG_T::scale_t>::word scale[CONFIG_T::n_channels],
                        const typename rom<typename CONFIG_T::shift_t>::word shift[CONFIG_T::n_channels]) {
  unsigned c = 0;
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned k = 0; k < in_packet_T::size; k++) {
      y[k] = typename out_packet_T::value_type(x[k] * from_code<typename CONFIG_T::scale_t>(scale[c]) +
                                                from_code<typename CONFIG_T::shift_t>(shift[c]));
      c = c + 1 == CONFIG_T::n_channels ? 0 : c + 1;
    }
    out.write(y);
  }
}

}  // namespace nnhls

#endif  // NNHLS_SCALE_SHIFT_H
