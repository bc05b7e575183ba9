// Recording every layer's output during C simulation, for HLSModel.trace(). Only the C
// simulation library defines NNHLS_TRACE; elsewhere the macros vanish.
#ifndef NNHLS_TRACE_H
#define NNHLS_TRACE_H

#include "nnhls/common.h"

#if defined(NNHLS_TRACE) && !defined(__SYNTHESIS__)

namespace nnhls {

// One buffer per node (nullptr where not traced), filled for sample trace_sample.
extern long long* trace_buffers[];
extern long long trace_sample;

// A code as one 64-bit word (types up to 64 bits, sign-extended) or two (low word first).
template <class T>
void put_code(const T& x, long long* out) {
  if (T::width <= 64) {
    unsigned long long bits = x.range(T::width - 1, 0).to_uint64();
    if (T::sign_flag && T::width < 64 && ((bits >> (T::width - 1)) & 1)) bits |= ~0ULL << T::width;
    out[0] = (long long)bits;
  } else {
    out[0] = (long long)x.range(63, 0).to_uint64();
    unsigned long long high = x.range(T::width - 1, 64).to_uint64();
    if (T::sign_flag && T::width < 128 && ((high >> (T::width - 65)) & 1)) high |= ~0ULL << (T::width - 64);
    out[1] = (long long)high;
  }
}

template <class T>
void trace_array(int node, const T* x, unsigned n) {
  if (!trace_buffers[node]) return;
  const unsigned words = T::width <= 64 ? 1 : 2;
  long long* out = trace_buffers[node] + trace_sample * n * words;
  for (unsigned i = 0; i < n; i++) put_code(x[i], out + i * words);
}

// In C simulation a dataflow region runs one function after another, so a stream holds a
// layer's whole output here; it is read, recorded and written back unchanged.
template <unsigned N_PACKETS, class P>
void trace_stream(int node, hls::stream<P>& s) {
  typename P::value_type values[P::size * N_PACKETS];
  for (unsigned p = 0; p < N_PACKETS; p++) {
    P packet = s.read();
    for (unsigned c = 0; c < P::size; c++) values[p * P::size + c] = packet[c];
    s.write(packet);
  }
  trace_array(node, values, P::size * N_PACKETS);
}

}  // namespace nnhls

#define NNHLS_TRACE_ARRAY(node, x, n) nnhls::trace_array(node, x, n);
#define NNHLS_TRACE_STREAM(node, s, n_packets) nnhls::trace_stream<n_packets>(node, s);
#else
#define NNHLS_TRACE_ARRAY(node, x, n)
#define NNHLS_TRACE_STREAM(node, s, n_packets)
#endif

#endif  // NNHLS_TRACE_H
