"""Recurrent layers (SimpleRNN, LSTM, GRU): one op whose parts are ordinary ops.

A recurrent layer computes the same cell at every time step. Its arithmetic is made of ops the
IR already defines exactly: the input and recurrent products are Dense nodes, the gates and the
candidate are activation nodes (tables, staircases, hard sigmoid, ReLU). Those parts are kept in
`Recurrent.parts`, each reading one input called `PART_INPUT`; every consumer runs them through
its own entry for their op, so a recurrent layer's numerics are those ops' numerics, composed by
the few exact sums and products of the cell (docs/recurrent.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from nnhls.ir.graph import Graph
from nnhls.ir.ops import Dense, Input, Node, Weights, make_activation
from nnhls.types import AUTO, FixedType, add_type, mul_type, sub_type

__all__ = ["CELLS", "ONE", "PART_INPUT", "CellTypes", "Recurrent", "recurrent_parts"]

# The constant 1 of a GRU's 1 - z.
ONE = FixedType(1, 1, signed=False)

# The name every part reads its input by, in the small graph of one input and the part.
PART_INPUT = "in"

# cell -> the blocks of `units` columns of its kernels, in the IR's (Keras's) order.
CELLS = {"simple": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}

# Configuration precision keys of the activation parts: the candidate's and the cell output's
# (`activation` in Keras) without a prefix, the gates' (`recurrent_activation`) with one.
_ACTIVATION_ROLES = {"candidate": "", "output": "", "gate": "recurrent_"}


@dataclass(frozen=True)
class CellTypes:
    """The exact types of a lowered cell's intermediate values (one set, read by every
    realization): the parts' results, and the cell's sums and products before they are
    converted."""

    p: FixedType  # the input part's result
    q: FixedType  # the recurrent part's
    gate: FixedType | None
    candidate: FixedType
    output: FixedType | None  # LSTM: the cell output activation's
    reset_q: FixedType | None  # GRU, reset_after=False: the reset part's
    reset_product: FixedType | None  # GRU: r * q_h (reset_after) or r * h, exact
    update: FixedType | None  # LSTM: the new cell state f*c + i*g, exact
    hidden: FixedType  # the new state h', exact: candidate(...), o * output(c'), z*h + (1-z)*n
    one_minus: FixedType | None  # GRU: 1 - z

    def widest(self) -> FixedType:
        return max((t for t in vars(self).values() if t is not None), key=lambda t: t.width)


@dataclass
class Recurrent(Node):
    """A recurrent layer over `steps` time steps of `n_in` values (input shape (steps, n_in)).

    With x_t the step's input and h the state (zero at the first step), per step:

        p = input(x_t)              Dense (weight, bias), into its accumulator
        q = recurrent(h)            Dense (recurrent_weight, recurrent_bias), into its accumulator
        simple: h' = candidate(convert(p + q, accum))
        lstm:   i, f, o = gate(convert(p + q, accum)) at blocks i, f, o; g = candidate(... block c)
                c' = f * c + i * g;  c = convert(c', cell)       (exact products and sum)
                h' = o * output(c')                              (exact)
        gru:    z, r = gate(convert(p + q, accum)) at blocks z, r
                reset_after:  n = convert(p_h + r * q_h, candidate_accum)
                else:         n = convert(p_h + reset(r * h), candidate_accum)   (r * h exact)
                h' = z * h + (1 - z) * candidate(n)              (exact products and sum)
        h = convert(h', state); the step's output is convert(h', result)

    So the new state is computed exactly; it is converted once to be fed back (`state`,
    `cell_state`) and once to be output (`result`), as QKeras quantizes the state it feeds back
    and returns the one it computed. The output is every step's (`return_sequences`, shape
    (steps, units)) or the last step's (shape (units,)); `go_backwards` reads the steps last
    first and returns the sequence in that order, as Keras does, or with `time_order` each
    output at its own step (Bidirectional's backward layer, PyTorch). `accum_type` is the
    pre-activations' type (`auto`: exactly p + q); a GRU's candidate has its own,
    `candidate_accum_type`, the configured accum or else exact. Every part's result is its exact
    type, or the framework's quantized one (QKeras's quantized_tanh).
    `static` realizes one cell reused over the steps; otherwise the steps are unrolled.
    """

    cell: str = "lstm"
    units: int = 0
    steps: int = 0
    return_sequences: bool = False
    go_backwards: bool = False
    # With go_backwards and return_sequences: each step's output at its own step (as a backward
    # layer of Bidirectional and PyTorch's return them), rather than in the order read.
    time_order: bool = False
    reset_after: bool = True  # GRU: the reset gate multiplies q_h (True) or h (False)
    static: bool = True
    recurrent_reuse_factor: int = 1
    accum_type: object = None
    state_type: object = None
    cell_type: object = None  # LSTM only
    candidate_accum_type: object = None  # GRU only
    state_quantizer: FixedType | None = None  # the framework's own state type (QKeras's state_quantizer)
    activation: str = "tanh"  # the framework's names, for messages and attributes
    recurrent_activation: str = "sigmoid"
    # role -> part: 'input', 'recurrent' (and 'reset' for a GRU with reset_after=False) Dense
    # nodes; 'gate' (not for SimpleRNN), 'candidate' and 'output' (LSTM) activation nodes.
    parts: dict = field(default_factory=dict)

    op: ClassVar[str] = "recurrent"

    @property
    def n_in(self) -> int:
        return self.parts["input"].n_in

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.steps, self.n_in)

    @property
    def blocks(self) -> tuple[str, ...]:
        return CELLS[self.cell]

    def block(self, name: str) -> slice:
        """The columns of block `name` in the kernels (and in p and q)."""
        k = self.blocks.index(name)
        return slice(k * self.units, (k + 1) * self.units)

    @property
    def gate_blocks(self) -> tuple[str, ...]:
        """The blocks the gate activation reads, in the order of its values."""
        return {"simple": (), "lstm": ("i", "f", "o"), "gru": ("z", "r")}[self.cell]

    def dense_parts(self) -> list[tuple[str, Dense]]:
        return [(role, part) for role, part in self.parts.items() if role in ("input", "recurrent", "reset")]

    def activation_parts(self) -> list[tuple[str, Node]]:
        return [(role, part) for role, part in self.parts.items() if role in _ACTIVATION_ROLES]

    def part_input_type(self, role: str):
        """The type of the values part `role` reads (once the parts before it are typed): the
        state, the new cell state or the pre-activations (the input part reads the layer's input)."""
        if role == "output":
            return self.new_cell_type()
        if role == "reset":
            return mul_type(self.parts["gate"].result_type, self.state_type)
        if role == "candidate" and self.cell == "gru":
            return self.candidate_accum_type
        return self.state_type if role == "recurrent" else self.accum_type

    def part_graph(self, role: str, input_type) -> Graph:
        """Part `role` after an input of `input_type`: what type inference and the writer read."""
        part = self.parts[role]
        n = part.n_in if isinstance(part, Dense) else part.size
        return Graph([Input(PART_INPUT, [], (n,), result_type=input_type), part], [part.name])

    def precision_keys(self) -> tuple[str, ...]:
        keys = ["result", "weight", "bias", "recurrent_weight", "recurrent_bias", "accum", "state"]
        if self.cell == "lstm":
            keys.append("cell_state")
        for role, part in self.activation_parts():
            keys += [_ACTIVATION_ROLES[role] + key for key in part.precision_keys() if key != "result"]
        return tuple(dict.fromkeys(keys))

    def set_precision(self, key: str, precision) -> None:
        dense = {"weight": ("weight", ("input",)), "bias": ("bias", ("input",)),
                 "recurrent_weight": ("weight", ("recurrent", "reset")),
                 "recurrent_bias": ("bias", ("recurrent", "reset"))}
        if key in dense:
            constant, roles = dense[key]
            for role in roles:
                if role in self.parts:
                    getattr(self.parts[role], constant).type = precision
        elif key == "accum":
            self.accum_type = precision
            if self.cell == "gru":
                self.candidate_accum_type = precision
            for _, part in self.dense_parts():
                part.accum_type = precision
        elif key in ("state", "cell_state", "result"):
            setattr(self, {"state": "state_type", "cell_state": "cell_type", "result": "result_type"}[key], precision)
        else:
            matched = False
            for role, part in self.activation_parts():
                prefix = _ACTIVATION_ROLES[role]
                if key.startswith(prefix) and key[len(prefix):] in part.precision_keys():
                    part.set_precision(key[len(prefix):], precision)
                    matched = True
            if not matched:
                raise AttributeError(f"{type(self).__name__} has no {key!r} precision")

    def constants(self) -> list[tuple[str, Weights]]:
        return [(f"{role} {name}", weights) for role, part in self.parts.items() for name, weights in part.constants()]

    def part_nodes(self) -> list[Node]:
        return list(self.parts.values())

    def get_weights(self) -> list:
        """[kernel, recurrent kernel, bias, recurrent bias], as hls4ml lists them, in Keras's layout."""
        from nnhls.ir.ops import LayerVariable

        recurrent = [self.parts[role] for role in ("recurrent", "reset") if role in self.parts]
        kernels = [("weight", self.parts["input"].weight), ("recurrent_weight", recurrent[0].weight)]
        biases = [("bias", self.parts["input"].bias), ("recurrent_bias", recurrent[0].bias)]
        variables = []
        for index, (name, weights) in enumerate(kernels + biases):
            values = weights.values
            if len(recurrent) == 2 and name.startswith("recurrent"):  # rejoined: z, r then h
                values = np.concatenate([values, getattr(recurrent[1], name.removeprefix("recurrent_")).values],
                                        axis=-1)
            variables.append(LayerVariable(f"{self.name}_{name}", values.shape, weights.type, values))
        return variables

    def clipped_by_framework(self, point: str, to_type) -> bool:
        """A part's result (a quantized activation), or the state fed back into QKeras's state quantizer."""
        if point in ("state", "cell_state"):
            return self.state_quantizer is not None and self.state_quantizer == to_type
        role, _, part_point = point.partition(" ")
        return role in self.parts and self.parts[role].clipped_by_framework(part_point, to_type)

    def set_table_size(self, size: int) -> None:
        for _, part in self.activation_parts():
            if part.op == "lookup":
                part.table_size = size

    @property
    def table_size(self) -> int | None:
        sizes = [part.table_size for _, part in self.activation_parts() if part.op == "lookup"]
        return sizes[0] if sizes else None

    def cell_types(self) -> CellTypes:
        """The intermediate types of the lowered layer (its parts' result types are set)."""
        parts = self.parts
        gate = parts["gate"].result_type if "gate" in parts else None
        candidate = parts["candidate"].result_type
        q = parts["recurrent"].result_type
        output = update = one_minus = reset_q = reset_product = None
        if self.cell == "lstm":
            output = parts["output"].result_type
            update = self.new_cell_type()
            hidden = mul_type(gate, output)
        elif self.cell == "gru":
            one_minus = sub_type(ONE, gate)
            hidden = add_type(mul_type(gate, self.state_type), mul_type(one_minus, candidate))
            if self.reset_after:
                reset_product = mul_type(gate, q)
            else:
                reset_product = mul_type(gate, self.state_type)
                reset_q = parts["reset"].result_type
        else:
            hidden = candidate
        return CellTypes(parts["input"].result_type, q, gate, candidate, output, reset_q, reset_product, update,
                         hidden, one_minus)

    def new_cell_type(self) -> FixedType:
        """LSTM: the exact type of f * c + i * g, which the cell output activation reads."""
        gate, candidate = self.parts["gate"].result_type, self.parts["candidate"].result_type
        return add_type(mul_type(gate, self.cell_type), mul_type(gate, candidate))

    def exact_accum(self) -> FixedType:
        """The pre-activations' exact type: p + q."""
        return add_type(self.parts["input"].result_type, self.parts["recurrent"].result_type)

    def exact_candidate_accum(self) -> FixedType:
        """A GRU's candidate pre-activation's exact type: p + r * q_h, or p + reset(r * h)."""
        p = self.parts["input"].result_type
        if self.reset_after:
            return add_type(p, mul_type(self.parts["gate"].result_type, self.parts["recurrent"].result_type))
        return add_type(p, self.parts["reset"].result_type)

    def sync_parts(self) -> None:
        """Give the Dense parts the layer's strategy and reuse factors (what the configuration set)."""
        for role, part in self.dense_parts():
            part.strategy = self.strategy
            part.reuse_factor = self.reuse_factor if role == "input" else self.recurrent_reuse_factor


def recurrent_parts(name: str, cell: str, units: int, kernel: Weights, recurrent_kernel: Weights, bias: Weights,
                    recurrent_bias: Weights, activation: tuple[str, dict], recurrent_activation: tuple[str, dict],
                    reset_after: bool = True) -> dict:
    """The parts of a recurrent layer from its kernels in the IR's block order ((n_in, blocks *
    units), (units, blocks * units)) and its activations as (IR function, node fields), or (IR
    function, node fields, the type the framework quantizes the function's values to)."""
    n_blocks = len(CELLS[cell])
    parts = {"input": Dense(f"{name}.input", [PART_INPUT], (n_blocks * units,), weight=kernel, bias=bias)}
    if cell == "gru" and not reset_after:
        # The candidate's recurrent product reads the reset state, so it is a Dense of its own.
        gates = slice(0, 2 * units)
        parts["recurrent"] = Dense(f"{name}.recurrent", [PART_INPUT], (2 * units,),
                                   weight=_columns(recurrent_kernel, gates), bias=_columns(recurrent_bias, gates))
        candidate = slice(2 * units, 3 * units)
        parts["reset"] = Dense(f"{name}.reset", [PART_INPUT], (units,), weight=_columns(recurrent_kernel, candidate),
                               bias=_columns(recurrent_bias, candidate))
    else:
        parts["recurrent"] = Dense(f"{name}.recurrent", [PART_INPUT], (n_blocks * units,), weight=recurrent_kernel,
                                   bias=recurrent_bias)
    for part in parts.values():
        part.result_type = AUTO  # exact; the layer's keys set the rest
    n_gates = {"simple": 0, "lstm": 3, "gru": 2}[cell]
    roles = [("gate", n_gates * units, recurrent_activation)] if n_gates else []
    roles.append(("candidate", units, activation))
    if cell == "lstm":
        roles.append(("output", units, activation))
    for role, size, (function, fields, *quantizer) in roles:
        quantizer = quantizer[0] if quantizer else None
        # The function's values are exact, or the framework's quantized ones (QKeras's quantized_tanh).
        parts[role] = make_activation(f"{name}.{role}", [PART_INPUT], (size,), function, result_quantizer=quantizer,
                                      result_type=AUTO if quantizer is None else quantizer, **fields)
    return parts


def _columns(weights: Weights, columns: slice) -> Weights:
    return Weights(weights.values[..., columns], quantizer=weights.quantizer, type=weights.type)
