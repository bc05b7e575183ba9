// Shared definitions of the nnhls kernel library.
#ifndef NNHLS_COMMON_H
#define NNHLS_COMMON_H

#include "ap_fixed.h"
#include "hls_stream.h"

// Pragmas whose spelling differs between Vivado HLS and Vitis HLS are macros that each
// project's nnhls_backend.h defines for its tool (included before this header). The two-level
// _Pragma form lets a macro argument reach the pragma (UG1399, "Using #define with Pragma
// Directives").
#define NNHLS_STRINGIFY(x) #x
#define NNHLS_PRAGMA(x) _Pragma(NNHLS_STRINGIFY(x))
#ifndef NNHLS_ALLOCATION_MUL
#define NNHLS_ALLOCATION_MUL(n)
#endif
#ifndef NNHLS_BIND_ROM
#define NNHLS_BIND_ROM(variable)
#endif

namespace nnhls {

enum strategy { latency = 0, resource = 1 };

// The values of one stream transfer: a pixel's channels, or a whole vector.
template <class T, unsigned N>
struct packet {
  typedef T value_type;
  static const unsigned size = N;
  T data[N];
  T& operator[](unsigned i) { return data[i]; }
  const T& operator[](unsigned i) const { return data[i]; }
};

// io_stream: a value that several layers read reaches each through a stream of its own.
template <unsigned N_PACKETS, class P>
void clone_stream(hls::stream<P>& in, hls::stream<P>& first, hls::stream<P>& second) {
  for (unsigned p = 0; p < N_PACKETS; p++) {
#pragma HLS PIPELINE
    const P packet = in.read();
    first.write(packet);
    second.write(packet);
  }
}

#ifdef NNHLS_CSIM
// nnhls's C simulation loads constant arrays from their integer codes (see the weights headers).
template <class T>
bool load_codes(T* values, const long long* codes, unsigned n) {
  for (unsigned i = 0; i < n; i++) values[i].range(T::width - 1, 0) = (unsigned long long)codes[i];
  return true;
}
#endif

}  // namespace nnhls

#endif  // NNHLS_COMMON_H
