// Layers of two inputs: element-wise merges (add, subtract, multiply, average, maximum,
// minimum), concatenation and the dot product of two vectors. A merge of more inputs arrives as
// a chain of these whose inner results are exact (nnhls/passes/merges.py), so each kernel here
// computes its exact value and converts it into res_T once.
#ifndef NNHLS_MERGE_H
#define NNHLS_MERGE_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

// ap_fixed's +, - and * give results wide enough to be exact; an average's exact sum is widened
// to CONFIG_T::dividend_t and divided as ap_fixed divides (truncated toward zero); a maximum or a
// minimum compares both values in CONFIG_T::union_t, which holds each exactly.
struct merge_add {
  template <class CONFIG_T, class res_T, class a_T, class b_T>
  static res_T apply(const a_T& a, const b_T& b) { return res_T(a + b); }
};
struct merge_subtract {
  template <class CONFIG_T, class res_T, class a_T, class b_T>
  static res_T apply(const a_T& a, const b_T& b) { return res_T(a - b); }
};
struct merge_multiply {
  template <class CONFIG_T, class res_T, class a_T, class b_T>
  static res_T apply(const a_T& a, const b_T& b) { return res_T(a * b); }
};
struct merge_average {
  template <class CONFIG_T, class res_T, class a_T, class b_T>
  static res_T apply(const a_T& a, const b_T& b) {
    const typename CONFIG_T::dividend_t dividend = a + b;
    return res_T(dividend / typename CONFIG_T::count_t(CONFIG_T::count));
  }
};
struct merge_maximum {
  template <class CONFIG_T, class res_T, class a_T, class b_T>
  static res_T apply(const a_T& a, const b_T& b) {
    const typename CONFIG_T::union_t x = a, y = b;
    return res_T(x < y ? y : x);
  }
};
struct merge_minimum {
  template <class CONFIG_T, class res_T, class a_T, class b_T>
  static res_T apply(const a_T& a, const b_T& b) {
    const typename CONFIG_T::union_t x = a, y = b;
    return res_T(y < x ? y : x);
  }
};

// Element-wise merge. CONFIG_T provides n_in (values per input) and `function`, one of the
// structs above (with what it reads: count, dividend_t, count_t, union_t).
template <class a_T, class b_T, class res_T, class CONFIG_T>
void merge(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
#pragma HLS PIPELINE
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    res[i] = CONFIG_T::function::template apply<CONFIG_T, res_T>(a[i], b[i]);
  }
}

// io_stream of 1-D tensors (CONFIG_T::vector): the inputs may arrive in packets of any size (a
// flattened image's pixels), so each whole vector is read, a first, then the result written.
template <class a_packet_T, class b_packet_T, class out_packet_T, class CONFIG_T, class KERNEL_T>
void vector_merge_stream(hls::stream<a_packet_T>& a, hls::stream<b_packet_T>& b, hls::stream<out_packet_T>& out) {
  typename a_packet_T::value_type x[CONFIG_T::a_size];
  typename b_packet_T::value_type y[CONFIG_T::b_size];
  typename out_packet_T::value_type z[CONFIG_T::out_size];
#pragma HLS ARRAY_PARTITION variable=x complete
#pragma HLS ARRAY_PARTITION variable=y complete
#pragma HLS ARRAY_PARTITION variable=z complete
  read_vector<a_packet_T, CONFIG_T::a_size>(a, x);
  read_vector<b_packet_T, CONFIG_T::b_size>(b, y);
  KERNEL_T::template apply<typename a_packet_T::value_type, typename b_packet_T::value_type,
                           typename out_packet_T::value_type, CONFIG_T>(x, y, z);
  write_vector<out_packet_T, CONFIG_T::out_size>(z, out);
}

// The array kernels below, as KERNEL_T of vector_merge_stream.
struct merge_kernel {
  template <class a_T, class b_T, class res_T, class CONFIG_T>
  static void apply(const a_T* a, const b_T* b, res_T* res);
};
struct concatenate_kernel {
  template <class a_T, class b_T, class res_T, class CONFIG_T>
  static void apply(const a_T* a, const b_T* b, res_T* res);
};
struct dot_kernel {
  template <class a_T, class b_T, class res_T, class CONFIG_T>
  static void apply(const a_T* a, const b_T* b, res_T* res);
};

// io_stream of images or signals: one packet of each input (a first), one packet out.
template <class a_packet_T, class b_packet_T, class out_packet_T, class CONFIG_T>
void merge_stream(hls::stream<a_packet_T>& a, hls::stream<b_packet_T>& b, hls::stream<out_packet_T>& out) {
  if (CONFIG_T::vector) {
    vector_merge_stream<a_packet_T, b_packet_T, out_packet_T, CONFIG_T, merge_kernel>(a, b, out);
    return;
  }
  for (unsigned p = 0; p < CONFIG_T::n_in / a_packet_T::size; p++) {
#pragma HLS PIPELINE
    const a_packet_T x = a.read();
    const b_packet_T y = b.read();
    out_packet_T z;
    for (unsigned c = 0; c < a_packet_T::size; c++) {
      z[c] = CONFIG_T::function::template apply<CONFIG_T, typename out_packet_T::value_type>(x[c], y[c]);
    }
    out.write(z);
  }
}

// Concatenation: `outer` times, a_inner values of a then b_inner values of b (row-major order
// of the output, whatever the axis).
template <class a_T, class b_T, class res_T, class CONFIG_T>
void concatenate(const a_T a[CONFIG_T::outer * CONFIG_T::a_inner], const b_T b[CONFIG_T::outer * CONFIG_T::b_inner],
                 res_T res[CONFIG_T::outer * (CONFIG_T::a_inner + CONFIG_T::b_inner)]) {
#pragma HLS PIPELINE
  for (unsigned o = 0; o < CONFIG_T::outer; o++) {
    for (unsigned i = 0; i < CONFIG_T::a_inner; i++) {
      res[o * (CONFIG_T::a_inner + CONFIG_T::b_inner) + i] = res_T(a[o * CONFIG_T::a_inner + i]);
    }
    for (unsigned i = 0; i < CONFIG_T::b_inner; i++) {
      res[o * (CONFIG_T::a_inner + CONFIG_T::b_inner) + CONFIG_T::a_inner + i] = res_T(b[o * CONFIG_T::b_inner + i]);
    }
  }
}

// io_stream. Along the last axis (lockstep): each output packet is one packet of a followed by
// one of b. Along another axis, packets are pixels of one size: `outer` times, a_blocks packets
// of a, then b_blocks packets of b.
template <class a_packet_T, class b_packet_T, class out_packet_T, class CONFIG_T>
void concatenate_stream(hls::stream<a_packet_T>& a, hls::stream<b_packet_T>& b, hls::stream<out_packet_T>& out) {
  typedef typename out_packet_T::value_type res_T;
  if (CONFIG_T::vector) {
    vector_merge_stream<a_packet_T, b_packet_T, out_packet_T, CONFIG_T, concatenate_kernel>(a, b, out);
  } else if (CONFIG_T::lockstep) {
    for (unsigned o = 0; o < CONFIG_T::outer; o++) {
#pragma HLS PIPELINE
      const a_packet_T x = a.read();
      const b_packet_T y = b.read();
      out_packet_T z;
      for (unsigned c = 0; c < a_packet_T::size; c++) z[c] = res_T(x[c]);
      for (unsigned c = 0; c < b_packet_T::size; c++) z[a_packet_T::size + c] = res_T(y[c]);
      out.write(z);
    }
  } else {
    for (unsigned o = 0; o < CONFIG_T::outer; o++) {
      for (unsigned p = 0; p < CONFIG_T::a_blocks; p++) {
#pragma HLS PIPELINE
        const a_packet_T x = a.read();
        out_packet_T z;
        for (unsigned c = 0; c < out_packet_T::size; c++) z[c] = res_T(x[c]);
        out.write(z);
      }
      for (unsigned p = 0; p < CONFIG_T::b_blocks; p++) {
#pragma HLS PIPELINE
        const b_packet_T y = b.read();
        out_packet_T z;
        for (unsigned c = 0; c < out_packet_T::size; c++) z[c] = res_T(y[c]);
        out.write(z);
      }
    }
  }
}

// The dot product of two vectors of n_in values: every product and partial sum exact in
// CONFIG_T::accum_t, converted into res_T once.
template <class a_T, class b_T, class res_T, class CONFIG_T>
void dot(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in], res_T res[1]) {
#pragma HLS PIPELINE
  typename CONFIG_T::accum_t sum = 0;
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) sum += a[i] * b[i];
  res[0] = res_T(sum);
}

template <class a_packet_T, class b_packet_T, class out_packet_T, class CONFIG_T>
void dot_stream(hls::stream<a_packet_T>& a, hls::stream<b_packet_T>& b, hls::stream<out_packet_T>& out) {
  vector_merge_stream<a_packet_T, b_packet_T, out_packet_T, CONFIG_T, dot_kernel>(a, b, out);
}

template <class a_T, class b_T, class res_T, class CONFIG_T>
void merge_kernel::apply(const a_T* a, const b_T* b, res_T* res) {
#pragma HLS INLINE
  merge<a_T, b_T, res_T, CONFIG_T>(a, b, res);
}
template <class a_T, class b_T, class res_T, class CONFIG_T>
void concatenate_kernel::apply(const a_T* a, const b_T* b, res_T* res) {
#pragma HLS INLINE
  concatenate<a_T, b_T, res_T, CONFIG_T>(a, b, res);
}
template <class a_T, class b_T, class res_T, class CONFIG_T>
void dot_kernel::apply(const a_T* a, const b_T* b, res_T* res) {
#pragma HLS INLINE
  dot<a_T, b_T, res_T, CONFIG_T>(a, b, res);
}

}  // namespace nnhls

#endif  // NNHLS_MERGE_H
