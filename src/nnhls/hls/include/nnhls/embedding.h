// Embedding: a table of vocab_size rows of n_out values; each of the n_in input values picks a
// row. The index is the value truncated toward zero (index_t: AP_TRN_ZERO, AP_SAT, one beyond the
// table at each end), as Keras casts its input to int32; with negative_wraps (Keras 3) an index
// in [-vocab_size, -1] counts from the end. Any other index reads the last row, so the design
// never reads outside its table (the emulator refuses such an index).
//
// CONFIG_T provides n_in, n_out, vocab_size, negative_wraps, embeddings_t and index_t. The table
// holds the codes of embeddings_t values, row after row.
#ifndef NNHLS_EMBEDDING_H
#define NNHLS_EMBEDDING_H

#include "nnhls/common.h"

namespace nnhls {

template <class CONFIG_T, class data_T>
unsigned embedding_row(const data_T& x) {
#pragma HLS INLINE
  const typename CONFIG_T::index_t index = x;
  const int i = index.to_int();  // exact: index_t holds a few bits, no fraction
  const int rows = int(CONFIG_T::vocab_size);
  if (i >= 0 && i < rows) return unsigned(i);
  if (CONFIG_T::negative_wraps && i < 0 && i >= -rows) return unsigned(i + rows);
  return CONFIG_T::vocab_size - 1;
}

template <class res_T, class CONFIG_T>
void embedding_copy_row(const typename rom<typename CONFIG_T::embeddings_t>::word
                            embeddings[CONFIG_T::vocab_size * CONFIG_T::n_out],
                        unsigned row, res_T res[CONFIG_T::n_out]) {
#pragma HLS INLINE
  for (unsigned c = 0; c < CONFIG_T::n_out; c++) {
    res[c] = res_T(from_code<typename CONFIG_T::embeddings_t>(embeddings[row * CONFIG_T::n_out + c]));
  }
}

template <class data_T, class res_T, class CONFIG_T>
void embedding(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in * CONFIG_T::n_out],
               const typename rom<typename CONFIG_T::embeddings_t>::word
                   embeddings[CONFIG_T::vocab_size * CONFIG_T::n_out]) {
#pragma HLS PIPELINE
  for (unsigned t = 0; t < CONFIG_T::n_in; t++) {
    embedding_copy_row<res_T, CONFIG_T>(embeddings, embedding_row<CONFIG_T>(data[t]), res + t * CONFIG_T::n_out);
  }
}

// io_stream: the indices come in packets (one packet for a 1-D input); each index gives one output
// packet, its row, written as soon as its packet has been read.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void embedding_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out,
                      const typename rom<typename CONFIG_T::embeddings_t>::word
                          embeddings[CONFIG_T::vocab_size * CONFIG_T::n_out]) {
  for (unsigned p = 0; p < CONFIG_T::n_in / in_packet_T::size; p++) {
    const in_packet_T indices = in.read();
    for (unsigned k = 0; k < in_packet_T::size; k++) {
#pragma HLS PIPELINE
      out_packet_T row;
      embedding_copy_row<typename out_packet_T::value_type, CONFIG_T>(
          embeddings, embedding_row<CONFIG_T>(indices[k]), row.data);
      out.write(row);
    }
  }
}

}  // namespace nnhls

#endif  // NNHLS_EMBEDDING_H
