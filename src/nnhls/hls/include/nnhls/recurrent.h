// Recurrent layers: SimpleRNN, LSTM and GRU, one cell computed at every time step.
//
// Numerics (equal to nnhls.emulate and ir/recurrent.py): the cell's parts are the kernels of
// their ops (Dense for the input and recurrent products, the activation kernels for the gates
// and the candidate), called through CONFIG_T::parts; the cell adds and multiplies their
// results exactly (ap_fixed operators return full precision) and converts where the
// specification converts: the pre-activations into accum_t; the new state (hidden_t, exact) into
// state_t to be fed back and into res_T to be output; an LSTM's new cell state (update_t, exact)
// into cell_t to be fed back, its output activation reading it exactly. The state starts at zero at every call, so a
// design returns to its initial state after each sequence.
//
// CONFIG_T provides n_steps, n_in, units, n_blocks, n_q (the recurrent product's length),
// reset_after (GRU), cell (one of the cell enum),
// return_sequences, go_backwards, time_order, static_cell, the types accum_t, state_t, cell_t, p_t, q_t
// candidate_t, hidden_t (and where the cell has them gate_t, output_t, update_t, candidate_accum_t,
// reset_product_t, reset_q_t) and parts, a struct whose
// static member templates input, recurrent, gate, candidate, output and reset run each part.
#ifndef NNHLS_RECURRENT_H
#define NNHLS_RECURRENT_H

#include "nnhls/common.h"
#include "nnhls/stream.h"

namespace nnhls {

enum cell { simple_cell = 0, lstm_cell = 1, gru_cell = 2 };

template <unsigned CELL>
struct cell_step;

// h = state(candidate(accum(p + q)))
template <>
struct cell_step<simple_cell> {
  template <class CONFIG_T>
  static void run(const typename CONFIG_T::p_t p[CONFIG_T::units], const typename CONFIG_T::state_t h[CONFIG_T::units],
                  typename CONFIG_T::cell_t c[CONFIG_T::units], typename CONFIG_T::hidden_t hidden[CONFIG_T::units]) {
#pragma HLS INLINE
    typedef typename CONFIG_T::accum_t accum_t;
    typename CONFIG_T::q_t q[CONFIG_T::units];
    CONFIG_T::parts::template recurrent<typename CONFIG_T::state_t, typename CONFIG_T::q_t>(h, q);
    accum_t pre[CONFIG_T::units];
    for (unsigned j = 0; j < CONFIG_T::units; j++) {
      pre[j] = accum_t(p[j] + q[j]);
    }
    typename CONFIG_T::candidate_t candidate[CONFIG_T::units];
    CONFIG_T::parts::template candidate<accum_t, typename CONFIG_T::candidate_t>(pre, candidate);
    for (unsigned j = 0; j < CONFIG_T::units; j++) {
      hidden[j] = candidate[j];
    }
  }
};

// Blocks i, f, c, o; gates i, f, o; c = cell(f * c + i * g); h = state(o * output(c)).
template <>
struct cell_step<lstm_cell> {
  template <class CONFIG_T>
  static void run(const typename CONFIG_T::p_t p[4 * CONFIG_T::units], const typename CONFIG_T::state_t h[CONFIG_T::units],
                  typename CONFIG_T::cell_t c[CONFIG_T::units], typename CONFIG_T::hidden_t hidden[CONFIG_T::units]) {
#pragma HLS INLINE
    typedef typename CONFIG_T::accum_t accum_t;
    const unsigned U = CONFIG_T::units;
    typename CONFIG_T::q_t q[4 * U];
    CONFIG_T::parts::template recurrent<typename CONFIG_T::state_t, typename CONFIG_T::q_t>(h, q);
    accum_t pre_gates[3 * U];
    accum_t pre_candidate[U];
    for (unsigned j = 0; j < U; j++) {
      pre_gates[j] = accum_t(p[j] + q[j]);
      pre_gates[U + j] = accum_t(p[U + j] + q[U + j]);
      pre_candidate[j] = accum_t(p[2 * U + j] + q[2 * U + j]);
      pre_gates[2 * U + j] = accum_t(p[3 * U + j] + q[3 * U + j]);
    }
    typename CONFIG_T::gate_t gates[3 * U];
    CONFIG_T::parts::template gate<accum_t, typename CONFIG_T::gate_t>(pre_gates, gates);
    typename CONFIG_T::candidate_t candidate[U];
    CONFIG_T::parts::template candidate<accum_t, typename CONFIG_T::candidate_t>(pre_candidate, candidate);
    typename CONFIG_T::update_t new_cell[U];
    for (unsigned j = 0; j < U; j++) {
      new_cell[j] = gates[U + j] * c[j] + gates[j] * candidate[j];
      c[j] = typename CONFIG_T::cell_t(new_cell[j]);
    }
    typename CONFIG_T::output_t output[U];
    CONFIG_T::parts::template output<typename CONFIG_T::update_t, typename CONFIG_T::output_t>(new_cell, output);
    for (unsigned j = 0; j < U; j++) {
      hidden[j] = gates[2 * U + j] * output[j];
    }
  }
};

// A GRU's candidate pre-activation: reset gate after the recurrent product (q holds blocks z, r,
// h), candidate_accum(p_h + r * q_h), or before it (q holds blocks z, r), candidate_accum(p_h +
// reset(r * h)) with r * h exact.
template <bool RESET_AFTER>
struct gru_candidate;

template <>
struct gru_candidate<true> {
  template <class CONFIG_T>
  static void pre(const typename CONFIG_T::p_t p[3 * CONFIG_T::units], const typename CONFIG_T::state_t h[CONFIG_T::units],
                  const typename CONFIG_T::q_t q[CONFIG_T::n_q], const typename CONFIG_T::gate_t zr[2 * CONFIG_T::units],
                  typename CONFIG_T::candidate_accum_t pre_candidate[CONFIG_T::units]) {
#pragma HLS INLINE
    const unsigned U = CONFIG_T::units;
    for (unsigned j = 0; j < U; j++) {
      pre_candidate[j] = typename CONFIG_T::candidate_accum_t(p[2 * U + j] + zr[U + j] * q[2 * U + j]);
    }
  }
};

template <>
struct gru_candidate<false> {
  template <class CONFIG_T>
  static void pre(const typename CONFIG_T::p_t p[3 * CONFIG_T::units], const typename CONFIG_T::state_t h[CONFIG_T::units],
                  const typename CONFIG_T::q_t q[CONFIG_T::n_q], const typename CONFIG_T::gate_t zr[2 * CONFIG_T::units],
                  typename CONFIG_T::candidate_accum_t pre_candidate[CONFIG_T::units]) {
#pragma HLS INLINE
    const unsigned U = CONFIG_T::units;
    typename CONFIG_T::reset_product_t reset_state[U];
    for (unsigned j = 0; j < U; j++) {
      reset_state[j] = zr[U + j] * h[j];
    }
    typename CONFIG_T::reset_q_t reset_q[U];
    CONFIG_T::parts::template reset<typename CONFIG_T::reset_product_t, typename CONFIG_T::reset_q_t>(reset_state,
                                                                                                     reset_q);
    for (unsigned j = 0; j < U; j++) {
      pre_candidate[j] = typename CONFIG_T::candidate_accum_t(p[2 * U + j] + reset_q[j]);
    }
  }
};

// Blocks z, r, h: z, r = gate(accum(p + q)); n = candidate(the candidate's pre-activation);
// h' = z * h + (1 - z) * n.
template <>
struct cell_step<gru_cell> {
  template <class CONFIG_T>
  static void run(const typename CONFIG_T::p_t p[3 * CONFIG_T::units], const typename CONFIG_T::state_t h[CONFIG_T::units],
                  typename CONFIG_T::cell_t c[CONFIG_T::units], typename CONFIG_T::hidden_t hidden[CONFIG_T::units]) {
#pragma HLS INLINE
    typedef typename CONFIG_T::accum_t accum_t;
    const unsigned U = CONFIG_T::units;
    typename CONFIG_T::q_t q[CONFIG_T::n_q];
    CONFIG_T::parts::template recurrent<typename CONFIG_T::state_t, typename CONFIG_T::q_t>(h, q);
    accum_t pre_gates[2 * U];
    for (unsigned j = 0; j < 2 * U; j++) {
      pre_gates[j] = accum_t(p[j] + q[j]);
    }
    typename CONFIG_T::gate_t zr[2 * U];
    CONFIG_T::parts::template gate<accum_t, typename CONFIG_T::gate_t>(pre_gates, zr);
    typename CONFIG_T::candidate_accum_t pre_candidate[U];
    gru_candidate<CONFIG_T::reset_after>::template pre<CONFIG_T>(p, h, q, zr, pre_candidate);
    typename CONFIG_T::candidate_t n[U];
    CONFIG_T::parts::template candidate<typename CONFIG_T::candidate_accum_t, typename CONFIG_T::candidate_t>(
        pre_candidate, n);
    for (unsigned j = 0; j < U; j++) {
      hidden[j] = zr[j] * h[j] + (ap_uint<1>(1) - zr[j]) * n[j];
    }
  }
};

// One time step: the input product of step t's values, the cell, and the new state fed back.
template <class data_T, class CONFIG_T>
void recurrent_step(const data_T x[CONFIG_T::n_in], typename CONFIG_T::state_t h[CONFIG_T::units],
                    typename CONFIG_T::cell_t c[CONFIG_T::units], typename CONFIG_T::hidden_t hidden[CONFIG_T::units]) {
#pragma HLS INLINE
  typename CONFIG_T::p_t p[CONFIG_T::n_blocks * CONFIG_T::units];
  CONFIG_T::parts::template input<data_T, typename CONFIG_T::p_t>(x, p);
  cell_step<CONFIG_T::cell>::template run<CONFIG_T>(p, h, c, hidden);
  for (unsigned j = 0; j < CONFIG_T::units; j++) {
    h[j] = typename CONFIG_T::state_t(hidden[j]);
  }
}

template <class CONFIG_T>
void clear_state(typename CONFIG_T::state_t h[CONFIG_T::units], typename CONFIG_T::cell_t c[CONFIG_T::units]) {
#pragma HLS INLINE
  for (unsigned j = 0; j < CONFIG_T::units; j++) {
    h[j] = 0;
    c[j] = 0;
  }
}

// Step s of the sequence reads time step t (the last first with go_backwards) and writes output s.
template <class data_T, class res_T, class CONFIG_T>
void recurrent_sequence_step(unsigned s, const data_T data[CONFIG_T::n_steps * CONFIG_T::n_in],
                             res_T res[CONFIG_T::return_sequences ? CONFIG_T::n_steps * CONFIG_T::units : CONFIG_T::units],
                             typename CONFIG_T::state_t h[CONFIG_T::units], typename CONFIG_T::cell_t c[CONFIG_T::units]) {
#pragma HLS INLINE
  const unsigned t = CONFIG_T::go_backwards ? CONFIG_T::n_steps - 1 - s : s;
  data_T x[CONFIG_T::n_in];
  for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
    x[i] = data[t * CONFIG_T::n_in + i];
  }
  typename CONFIG_T::hidden_t hidden[CONFIG_T::units];
  recurrent_step<data_T, CONFIG_T>(x, h, c, hidden);
  // The sequence's outputs (at step s, or with time_order at step t), or the last step's (each
  // step writes it; the last write stays).
  const unsigned at = CONFIG_T::return_sequences ? (CONFIG_T::time_order ? t : s) * CONFIG_T::units : 0;
  for (unsigned j = 0; j < CONFIG_T::units; j++) {
    res[at + j] = res_T(hidden[j]);
  }
}

template <class data_T, class res_T, class CONFIG_T>
void recurrent(const data_T data[CONFIG_T::n_steps * CONFIG_T::n_in],
               res_T res[CONFIG_T::return_sequences ? CONFIG_T::n_steps * CONFIG_T::units : CONFIG_T::units]) {
  typename CONFIG_T::state_t h[CONFIG_T::units];
  typename CONFIG_T::cell_t c[CONFIG_T::units];
#pragma HLS ARRAY_PARTITION variable=h complete
#pragma HLS ARRAY_PARTITION variable=c complete
  clear_state<CONFIG_T>(h, c);
  if (CONFIG_T::static_cell) {
    // One cell, used at every step: the step loop stays a loop.
    for (unsigned s = 0; s < CONFIG_T::n_steps; s++) {
      recurrent_sequence_step<data_T, res_T, CONFIG_T>(s, data, res, h, c);
    }
  } else {
    for (unsigned s = 0; s < CONFIG_T::n_steps; s++) {
#pragma HLS UNROLL
      recurrent_sequence_step<data_T, res_T, CONFIG_T>(s, data, res, h, c);
    }
  }
}

// io_stream: one time step per transfer in, and with return_sequences one out. Reading the last
// step first (go_backwards) needs the whole sequence, so it is read into a buffer first; writing
// the outputs in time order then needs them all, so they are written after the last step.
template <class in_packet_T, class out_packet_T, class CONFIG_T>
void recurrent_stream(hls::stream<in_packet_T>& in, hls::stream<out_packet_T>& out) {
  typedef typename in_packet_T::value_type data_T;
  typedef typename out_packet_T::value_type res_T;
  typename CONFIG_T::state_t h[CONFIG_T::units];
  typename CONFIG_T::cell_t c[CONFIG_T::units];
#pragma HLS ARRAY_PARTITION variable=h complete
#pragma HLS ARRAY_PARTITION variable=c complete
  clear_state<CONFIG_T>(h, c);
  data_T sequence[CONFIG_T::go_backwards ? CONFIG_T::n_steps * CONFIG_T::n_in : 1];
  const bool reordered = CONFIG_T::go_backwards && CONFIG_T::time_order && CONFIG_T::return_sequences;
  res_T outputs[reordered ? CONFIG_T::n_steps * CONFIG_T::units : 1];
  if (CONFIG_T::go_backwards) {
    for (unsigned t = 0; t < CONFIG_T::n_steps; t++) {
      const in_packet_T x = in.read();
      for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        sequence[t * CONFIG_T::n_in + i] = x[i];
      }
    }
  }
  for (unsigned s = 0; s < CONFIG_T::n_steps; s++) {
    data_T x[CONFIG_T::n_in];
    if (CONFIG_T::go_backwards) {
      for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        x[i] = sequence[(CONFIG_T::n_steps - 1 - s) * CONFIG_T::n_in + i];
      }
    } else {
      const in_packet_T packet = in.read();
      for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        x[i] = packet[i];
      }
    }
    typename CONFIG_T::hidden_t hidden[CONFIG_T::units];
    recurrent_step<data_T, CONFIG_T>(x, h, c, hidden);
    if (reordered) {
      for (unsigned j = 0; j < CONFIG_T::units; j++) {
        outputs[(CONFIG_T::n_steps - 1 - s) * CONFIG_T::units + j] = res_T(hidden[j]);
      }
    } else if (CONFIG_T::return_sequences || s == CONFIG_T::n_steps - 1) {
      out_packet_T y;
      for (unsigned j = 0; j < CONFIG_T::units; j++) {
        y[j] = res_T(hidden[j]);
      }
      out.write(y);
    }
  }
  if (reordered) {
    for (unsigned t = 0; t < CONFIG_T::n_steps; t++) {
      out_packet_T y;
      for (unsigned j = 0; j < CONFIG_T::units; j++) {
        y[j] = outputs[t * CONFIG_T::units + j];
      }
      out.write(y);
    }
  }
}

}  // namespace nnhls

#endif  // NNHLS_RECURRENT_H
