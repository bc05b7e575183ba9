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

}  // namespace nnhls

#endif  // NNHLS_STREAM_H
