// Per-channel scale and shift (an unfolded batch normalization): res = data * scale + shift,
// computed exactly and converted into res_T once. CONFIG_T provides n_in and n_channels (the
// last axis; channels-last order).
#ifndef NNHLS_SCALE_SHIFT_H
#define NNHLS_SCALE_SHIFT_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

template <class CONFIG_T>
struct scale_shift_function {
  typename CONFIG_T::scale_t scale[CONFIG_T::n_channels];
  typename CONFIG_T::shift_t shift[CONFIG_T::n_channels];

  scale_shift_function(const typename rom<typename CONFIG_T::scale_t>::word scale_codes[CONFIG_T::n_channels],
                       const typename rom<typename CONFIG_T::shift_t>::word shift_codes[CONFIG_T::n_channels]) {
#pragma HLS ARRAY_PARTITION variable=scale complete
#pragma HLS ARRAY_PARTITION variable=shift complete
    for (unsigned c = 0; c < CONFIG_T::n_channels; c++) {
      scale[c] = from_code<typename CONFIG_T::scale_t>(scale_codes[c]);
      shift[c] = from_code<typename CONFIG_T::shift_t>(shift_codes[c]);
    }
  }

  template <class res_T, class data_T>
  res_T apply(const data_T& x, unsigned channel) const {
#pragma HLS INLINE
    return res_T(x * scale[channel] + shift[channel]);
  }
};

template <class data_T, class res_T, class CONFIG_T>
void scale_shift(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                 const typename rom<typename CONFIG_T::scale_t>::word scale[CONFIG_T::n_channels],
                 const typename rom<typename CONFIG_T::shift_t>::word shift[CONFIG_T::n_channels]) {
#pragma HLS PIPELINE
  elementwise<data_T, res_T, CONFIG_T::n_in, CONFIG_T::n_channels>(data, res,
                                                                     scale_shift_function<CONFIG_T>(scale, shift));
}

template <class in_packet_T, class out_packet_T, class CONFIG_T>
void scale_shift_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                        const typename rom<typename CONFIG_T::scale_t>::word scale[CONFIG_T::n_channels],
                        const typename rom<typename CONFIG_T::shift_t>::word shift[CONFIG_T::n_channels]) {
  elementwise_stream<in_packet_T, out_packet_T, CONFIG_T::n_in, CONFIG_T::n_channels>(
      in, out, scale_shift_function<CONFIG_T>(scale, shift));
}

}  // namespace nnhls

#endif  // NNHLS_SCALE_SHIFT_H
