// io_stream adapters that the kernels share instead of each writing its own packet loop.
#ifndef NNHLS_STREAM_H
#define NNHLS_STREAM_H

#include "nnhls/common.h"

namespace nnhls {

// A whole vector of N values from packets of any size (a flattened image arrives one pixel per
// packet, a 1-D tensor as one packet): for the kernels that need every value before they
// compute (Dense, softmax, the merges of 1-D tensors).
template <class packet_T, unsigned N>
void read_vector(hls::stream<packet_T>& in, typename packet_T::value_type data[N]) {
  for (unsigned p = 0; p < N / packet_T::size; p++) {
#pragma HLS PIPELINE
    const packet_T packet = in.read();
    for (unsigned c = 0; c < packet_T::size; c++) data[p * packet_T::size + c] = packet[c];
  }
}

// The vector of N values out, in packets.
template <class packet_T, unsigned N>
void write_vector(const typename packet_T::value_type data[N], hls::stream<packet_T>& out) {
  for (unsigned p = 0; p < N / packet_T::size; p++) {
#pragma HLS PIPELINE
    packet_T packet;
    for (unsigned c = 0; c < packet_T::size; c++) packet[c] = data[p * packet_T::size + c];
    out.write(packet);
  }
}

// Element-wise ops, in both io types: y = f.apply<res_T>(x, channel) for every value, where a
// value's channel counts along the last axis (N_CHANNELS values). FUNCTION_T holds what the op
// reads besides x (its constants, already read from their arrays), so each op writes only its
// function, never the loops.
template <class data_T, class res_T, unsigned N, unsigned N_CHANNELS, class FUNCTION_T>
void elementwise(const data_T data[N], res_T res[N], const FUNCTION_T& f) {
#pragma HLS INLINE
  for (unsigned i = 0; i < N; i++) res[i] = f.template apply<res_T>(data[i], i % N_CHANNELS);
}

// io_stream: the packets as they come (a pixel's channels, or a flattened image's pixel by
// pixel), the channel counted across them, one packet out per packet in.
template <class in_packet_T, class out_packet_T, unsigned N, unsigned N_CHANNELS, class FUNCTION_T>
void elementwise_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out, const FUNCTION_T& f) {
  unsigned channel = 0;
  for (unsigned p = 0; p < N / in_packet_T::size; p++) {
#pragma HLS PIPELINE
    const in_packet_T x = in.read();
    out_packet_T y;
    for (unsigned k = 0; k < in_packet_T::size; k++) {
      y[k] = f.template apply<typename out_packet_T::value_type>(x[k], channel);
      channel = channel + 1 == N_CHANNELS ? 0 : channel + 1;
    }
    out.write(y);
  }
}

}  // namespace nnhls

#endif  // NNHLS_STREAM_H
