// Shared definitions of the nnhls kernel library.
#ifndef NNHLS_COMMON_H
#define NNHLS_COMMON_H

#include "ap_fixed.h"
#include "hls_stream.h"
#include "nnhls/dataflow.h"

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

// Constant arrays (weights, biases, tables, thresholds) hold the integer codes of their values in
// plain C integers. A `static const` array of integers is constant-initialized: no code runs at
// start-up and g++ compiles it in no time, and the HLS tools implement a const array as a ROM
// initialized in the bitstream (UG1399 "Const", "Array Initialization", "Implementing ROMs").
// Arrays of ap_fixed values built from literals instead become one constructor call per element
// in one start-up function, and g++ 12's access analysis of that function takes time quadratic
// in its length (minutes for a small CNN with the vendor's headers, whose constructors are
// always inlined). A kernel reads an element into its fixed-point type by assigning the code to
// the type's bit range (UG1399, "Class Methods, Operators, and Data Members" of ap_[u]int and
// ap_[u]fixed: bit-level operations, range selection): exact at any width, and only wiring in
// hardware.
//
// rom<T>::word is the C type that holds one code of T: the smallest C integer of T's width and
// signedness, or for more than 64 bits wide_code, 64-bit words from the least significant.
template <bool SIGNED, int BYTES>
struct c_integer;
template <> struct c_integer<true, 1> { typedef signed char type; };
template <> struct c_integer<false, 1> { typedef unsigned char type; };
template <> struct c_integer<true, 2> { typedef short type; };
template <> struct c_integer<false, 2> { typedef unsigned short type; };
template <> struct c_integer<true, 4> { typedef int type; };
template <> struct c_integer<false, 4> { typedef unsigned type; };
template <> struct c_integer<true, 8> { typedef long long type; };
template <> struct c_integer<false, 8> { typedef unsigned long long type; };

template <unsigned N_WORDS>
struct wide_code {
  unsigned long long words[N_WORDS];
};

template <int W, bool SIGNED, bool WIDE = (W > 64)>
struct code_word {
  typedef typename c_integer<SIGNED, (W <= 8 ? 1 : W <= 16 ? 2 : W <= 32 ? 4 : 8)>::type type;
};
template <int W, bool SIGNED>
struct code_word<W, SIGNED, true> {
  typedef wide_code<(W + 63) / 64> type;
};

template <class T>
struct rom;
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
struct rom<ap_fixed<W, I, Q, O, N> > { typedef typename code_word<W, true>::type word; };
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
struct rom<ap_ufixed<W, I, Q, O, N> > { typedef typename code_word<W, false>::type word; };
template <int W>
struct rom<ap_int<W> > { typedef typename code_word<W, true>::type word; };
template <int W>
struct rom<ap_uint<W> > { typedef typename code_word<W, false>::type word; };

template <class T, class C>
inline void set_code(T& value, C code) {
#pragma HLS INLINE
#ifdef NNHLS_AP_INT_H
  // nnhls's own C-simulation types (ap_types/ap_int.h) hold the code itself, sign- or
  // zero-extended, and the written codes lie within T: one load, where the bit-range assignment
  // would sign-extend again in every multiply-accumulate.
  value.V = typename T::code_t(code);
#else
  value.range(T::width - 1, 0) = code;
#endif
}

template <class T, unsigned N_WORDS>
inline void set_code(T& value, const wide_code<N_WORDS>& code) {
#pragma HLS INLINE
  for (unsigned k = 0; k < N_WORDS; k++) {
#pragma HLS UNROLL
    const int high = 64 * int(k) + 63 < T::width - 1 ? 64 * int(k) + 63 : T::width - 1;
    value.range(high, 64 * k) = code.words[k];
  }
}

// The value whose code is `code`: from_code<T>(codes[i]) reads element i of a constant array.
template <class T>
inline T from_code(const typename rom<T>::word& code) {
#pragma HLS INLINE
  T value;
  set_code(value, code);
  return value;
}

}  // namespace nnhls

#endif  // NNHLS_COMMON_H
