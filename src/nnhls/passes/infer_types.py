"""Give every `auto` precision an exact type, sized from the input types and the actual weights.

An inferred accumulator holds every product, the bias and every partial sum without rounding or
overflow: its fractional bits are those of the finest term, and its range is the exact range of
the sum over all inputs the input type can hold (computed from the weight codes, so it is as
narrow as exactness allows). An inferred result is the accumulator itself. `maximum` caps
inferred widths; a cap that can lose values is reported.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.ir import Dense, Graph, Node, Registry, dot_type, mean_type, merge_range, softsign_types
from nnhls.types import FixedType, mul_type, sub_type

# Our C simulation types stop at 128 bits.
MAX_INFERRED_WIDTH = 128


def infer_types(graph: Graph, maximum: FixedType | None = None) -> bool:
    """Returns whether any type was inferred."""
    changed = False
    for node in graph:
        sources = [graph[name].result_type for name in node.inputs]
        if node.op == "input":
            if not isinstance(node.result_type, FixedType):
                raise NnhlsError(f"input {node.name!r}: its precision must be a type such as 'ap_fixed<16,6>', "
                                 f"not {node.result_type}")
            continue
        if node.VIEW:
            node.result_type = sources[0]
            continue
        if node.op == "step":
            _step_thresholds(node, sources[0])
        if node.op == "layernorm":
            if not isinstance(node.accum_type, FixedType):
                node.accum_type = _capped(node, "accum", _layernorm_accumulator(node, sources[0]), maximum)
                changed = True
            _check_layernorm_widths(node, sources[0])
        if node.op == "recurrent":
            changed |= _infer_recurrent(node, sources[0], maximum)
        if isinstance(node, Dense) and not isinstance(node.accum_type, FixedType):
            node.accum_type = _capped(node, "accum", _dense_accumulator(node, sources[0]), maximum)
            changed = True
        elif isinstance(node, Dense):
            _warn_if_narrower(node, node.accum_type, _dense_accumulator(node, sources[0]))
        if not isinstance(node.result_type, FixedType):
            node.result_type = _capped(node, "result", EXACT_RESULTS[node.op](node, sources), maximum)
            changed = True
    return changed


# op -> (node, input types) -> the exact (`auto`) result type.
EXACT_RESULTS = Registry("type inference (passes/infer_types.py EXACT_RESULTS)")


@EXACT_RESULTS.register("dense", "conv")
def _dense_result(node: Node, sources: list[FixedType]) -> FixedType:
    return node.accum_type


@EXACT_RESULTS.register("zero_pad", "flatten", "input", "reshape", "transpose", "crop")
def _moved(node: Node, sources: list[FixedType]) -> FixedType:
    return sources[0]  # values move, none changes


@EXACT_RESULTS.register("pool", "upsample")
def _pool_result(node: Node, sources: list[FixedType]) -> FixedType:
    if node.op == "pool" and node.function == "sum":
        return node.sum_type(sources[0])
    return sources[0] if node.moves_values else node.average_type(sources[0])


@EXACT_RESULTS.register("activation")
def _activation_result(node: Node, sources: list[FixedType]) -> FixedType:
    source = sources[0]
    if node.function == "relu":  # max(x, 0): the non-negative part of the input type
        return FixedType(max(source.width - source.signed, 1), source.integer - source.signed, False)
    return source


@EXACT_RESULTS.register("recurrent")
def _recurrent_result(node: Node, sources: list[FixedType]) -> FixedType:
    return node.cell_types().hidden  # the new state, exactly


def _infer_recurrent(node: Node, source: FixedType, maximum: FixedType | None) -> bool:
    """Type a recurrent layer's parts, each as the op it is, after the values it reads; then the
    pre-activations (`auto`: exactly p + q). The state feeds back, so its types are given."""
    for key, t in (("state", node.state_type), ("cell_state", node.cell_type)):
        if key in node.precision_keys() and not isinstance(t, FixedType):
            raise NnhlsError(f"layer {node.name!r} ({node.framework_class}): its {key} precision must be a type such "
                             f"as 'ap_fixed<16,6>', not {t}: the state is fed back at every step, so no exact type "
                             "can be inferred for it")
    changed = False
    for role in ("input", "recurrent"):
        changed |= infer_types(node.part_graph(role, source if role == "input" else node.state_type), maximum)
    if not isinstance(node.accum_type, FixedType):
        node.accum_type = _capped(node, "accum", node.exact_accum(), maximum)
        changed = True
    # In order: the gate reads the pre-activations; a GRU's reset part reads r * h, its candidate
    # its own pre-activation; an LSTM's output the new cell state.
    for role in ("gate", "reset", "candidate", "output"):
        if role == "candidate" and node.cell == "gru" and not isinstance(node.candidate_accum_type, FixedType):
            node.candidate_accum_type = _capped(node, "accum", node.exact_candidate_accum(), maximum)
            changed = True
        if role in node.parts:
            changed |= infer_types(node.part_graph(role, node.part_input_type(role)), maximum)
    widest = node.cell_types().widest()
    if widest.width > MAX_INFERRED_WIDTH:
        raise NnhlsError(f"layer {node.name!r} ({node.framework_class}): one of its cell's exact products or sums "
                         f"needs {widest.width} bits, more than the {MAX_INFERRED_WIDTH} nnhls's C simulation types "
                         "hold; narrow its state, cell_state or activation types")
    return changed


@EXACT_RESULTS.register("lookup")
def _lookup_result(node: Node, sources: list[FixedType]) -> FixedType:
    if node.tail_from is None:
        return node.table.type
    tail = sources[0] if node.tail_scale is None else mul_type(sources[0], node.tail_scale.type)
    return _union(node, [node.table.type, tail])


@EXACT_RESULTS.register("embedding")
def _embedding_result(node: Node, sources: list[FixedType]) -> FixedType:
    return node.embeddings.type  # a row of the table, as it is


@EXACT_RESULTS.register("prelu")
def _prelu_result(node: Node, sources: list[FixedType]) -> FixedType:
    below = mul_type(sub_type(sources[0], node.threshold.type), node.slope.type)
    bounds = [w.type for w in (node.max_value, node.min_value) if w is not None]
    return _union(node, [sources[0], below] + bounds)


@EXACT_RESULTS.register("step")
def _step_result(node: Node, sources: list[FixedType]) -> FixedType:
    return node.levels.type


@EXACT_RESULTS.register("softsign")
def _softsign_result(node: Node, sources: list[FixedType]) -> FixedType:
    return softsign_types(sources[0])[2]


@EXACT_RESULTS.register("hard_sigmoid")
def _hard_sigmoid_result(node: Node, sources: list[FixedType]) -> FixedType:  # values in [0, 1]
    frac = max(sources[0].fractional + node.slope.type.fractional, node.offset.type.fractional)
    return FixedType(frac + 1, 1, False)


@EXACT_RESULTS.register("softmax")
def _softmax_result(node: Node, sources: list[FixedType]) -> FixedType:
    return mul_type(node.exp_table.type, node.inv_table.type)


@EXACT_RESULTS.register("scale_shift")
def _scale_shift_result(node: Node, sources: list[FixedType]) -> FixedType:
    source, scale, shift = sources[0], node.scale, node.shift
    frac = max(source.fractional + scale.type.fractional, shift.type.fractional)
    scaled = _products(np.array([source.min_code, source.max_code], dtype=object), scale.codes.astype(object))
    offset = _align(shift.codes, shift.type.fractional, frac)
    shift_up = frac - source.fractional - scale.type.fractional
    low = int((scaled.min(axis=0) * 2**shift_up + offset).min())
    high = int((scaled.max(axis=0) * 2**shift_up + offset).max())
    return _fitting_type(node, low, high, frac)


def _check_layernorm_widths(node: Node, source: FixedType) -> None:
    """The exact statistics (the squares, the variance with its mantissa bits) and the exact
    product a * table * gamma + beta fit the widths of nnhls's C simulation."""
    types = node.statistics(source)
    statistics = max(2 * types.difference.width, types.variance.width + node.mantissa_bits, types.shift.width)
    constants = [w.type.width for w in (node.scale, node.bias) if w is not None]
    product = node.accum_type.width + node.table.type.width + sum(constants) + 1
    for what, width, fix in (
            (f"the exact variance of {node.n} values of {source}", statistics, "give its input a narrower precision"),
            ("the exact a * table * gamma + beta", product, "narrow its accum, table, scale or bias precision")):
        if width > MAX_INFERRED_WIDTH:
            raise NnhlsError(f"layer {node.name!r}: {what} needs {width} bits, more than the {MAX_INFERRED_WIDTH} "
                             f"C simulation supports; {fix}")


def _layernorm_accumulator(node: Node, source: FixedType) -> FixedType:
    """The exact type of a LayerNorm's normalized differences, |a| < 2 (LayerNorm's docstring)."""
    fractional = node.statistics(source).shift.fractional
    return FixedType(fractional + 2, 2)


@EXACT_RESULTS.register("layernorm")
def _layernorm_result(node: Node, sources: list[FixedType]) -> FixedType:
    """a * table * scale + bias over a's type, the table's codes and each channel's constants."""
    accum, table = node.accum_type, node.table
    table_codes = (int(table.codes.min()), int(table.codes.max()))
    corners = [a * t for a in (accum.min_code, accum.max_code) for t in table_codes]
    low, high = np.array([min(corners)], dtype=object), np.array([max(corners)], dtype=object)
    frac = accum.fractional + table.type.fractional
    if node.scale is not None:
        gamma = node.scale.codes.astype(object)
        low, high = np.minimum(low * gamma, high * gamma), np.maximum(low * gamma, high * gamma)
        frac += node.scale.type.fractional
    if node.bias is not None:
        to_frac = max(frac, node.bias.type.fractional)
        beta = _align(node.bias.codes, node.bias.type.fractional, to_frac)
        low, high = _align(low, frac, to_frac) + beta, _align(high, frac, to_frac) + beta
        frac = to_frac
    return _fitting_type(node, int(low.min()), int(high.max()), frac)

@EXACT_RESULTS.register("merge")
def _merge_result(node: Node, sources: list[FixedType]) -> FixedType:
    if node.function in ("maximum", "minimum"):
        return _union(node, sources)
    if node.function == "average":  # the mean lies within the inputs' range
        return mean_type(_union(node, sources), node.growth, node.count & (node.count - 1) == 0)
    low, high, frac = merge_range(node.function, sources)
    return _fitting_type(node, low, high, frac)


@EXACT_RESULTS.register("concatenate")
def _concatenate_result(node: Node, sources: list[FixedType]) -> FixedType:
    return _union(node, sources)


@EXACT_RESULTS.register("dot")
def _dot_result(node: Node, sources: list[FixedType]) -> FixedType:
    exact = dot_type(node, sources)
    return _fitting_type(node, exact.min_code, exact.max_code, exact.fractional)


def _step_thresholds(node: Node, source: FixedType) -> None:
    """Thresholds as codes of the input type: x >= t exactly when code(x) >= ceil(t * 2**F), and
    x > t when code(x) >= floor(t * 2**F) + 1.

    Thresholds at or below the smallest input are always passed (they pick the first level);
    those above the largest input can never be, and are dropped.
    """
    if node.per_channel:
        _channel_thresholds(node, source)
        return
    strict = node.strict if node.strict is not None else np.zeros(len(node.thresholds), dtype=bool)
    scaled = [float(np.ldexp(t, source.fractional)) for t in node.thresholds]
    codes = [math.floor(v) + 1 if is_strict else math.ceil(v) for v, is_strict in zip(scaled, strict)]
    node.first_level = sum(code <= source.min_code for code in codes)
    node.threshold_codes = np.array([c for c in codes if source.min_code < c <= source.max_code], dtype=object)
    node.threshold_type = source


def _channel_thresholds(node: Node, source: FixedType) -> None:
    """Per-channel thresholds (floats or Fractions) as codes: x >= t exactly when code(x) >= ceil(t * 2**F),
    clamped to [min_code, max_code + 1] (always passed, never passed), in a type one integer bit wider."""
    unit = Fraction(2) ** source.fractional
    codes = [[min(max(math.ceil(Fraction(t) * unit), source.min_code), source.max_code + 1) for t in row]
             for row in node.thresholds]
    node.first_level = 0
    node.threshold_codes = np.array(codes, dtype=object).reshape(np.shape(node.thresholds))
    node.threshold_type = FixedType(source.width + 1, source.integer + 1, source.signed)


def _union(node: Node, types: list[FixedType]) -> FixedType:
    """The narrowest type holding every value of each of `types` exactly."""
    frac = max(t.fractional for t in types)
    low = min(t.min_code << (frac - t.fractional) for t in types)
    high = max(t.max_code << (frac - t.fractional) for t in types)
    return _fitting_type(node, low, high, frac)


def _products(x_codes, weight_codes):
    """Every product of an input code (rows) with a weight code."""
    return x_codes.reshape(-1, *([1] * weight_codes.ndim)) * weight_codes[None]


def _align(codes, frac: int, to_frac: int):
    return np.asarray(codes).astype(object) * 2 ** (to_frac - frac)


def _dense_accumulator(node: Node, source: FixedType) -> FixedType:
    weight, bias = node.weight, node.bias
    product = mul_type(source, weight.type)
    frac = max(product.fractional, bias.type.fractional)
    # A convolution's window is a Dense layer's input; its padding zeros lie within every input range.
    codes = node.weight_matrix().astype(object)
    terms = _products(np.array([source.min_code, source.max_code], dtype=object), codes)
    terms = terms * 2 ** (frac - product.fractional)
    bias_codes = _align(bias.codes, bias.type.fractional, frac)
    # Every input range holds 0, so each term's range holds 0 and every partial sum (and each
    # single product, and the bias alone) lies between these bounds.
    high = terms.max(axis=0).sum(axis=0) + np.maximum(bias_codes, 0)
    low = terms.min(axis=0).sum(axis=0) + np.minimum(bias_codes, 0)
    return _fitting_type(node, int(low.min()), int(high.max()), frac)


def _fitting_type(node: Node, low: int, high: int, frac: int) -> FixedType:
    """The narrowest type with `frac` fractional bits holding every code in [low, high]."""
    if low < 0:
        width = max(high.bit_length(), (-low - 1).bit_length()) + 1
    else:
        width = max(high.bit_length(), 1)
    if width > MAX_INFERRED_WIDTH:
        raise NnhlsError(f"layer {node.name!r}: an exact type would need {width} bits, more than the "
                         f"{MAX_INFERRED_WIDTH} C simulation supports; set its accum/result precision "
                         "or Model Precision 'maximum'")
    return FixedType(width, width - frac, low < 0)


def _holds_range(outer: FixedType, inner: FixedType) -> bool:
    """Whether every value of `inner` lies within the range of `outer`."""
    frac = max(outer.fractional, inner.fractional)
    def scaled(code, t):
        return code << (frac - t.fractional)
    return (scaled(outer.min_code, outer) <= scaled(inner.min_code, inner)
            and scaled(inner.max_code, inner) <= scaled(outer.max_code, outer))


def _warn_if_narrower(node: Node, chosen: FixedType, exact: FixedType) -> None:
    if not _holds_range(chosen, exact):
        warnings.warn(f"layer {node.name!r}: accum {chosen} can overflow: the exact sum needs {exact}; "
                      "widen it or leave it 'auto'", stacklevel=4)


def _capped(node: Node, role: str, exact: FixedType, maximum: FixedType | None) -> FixedType:
    if maximum is None or (exact.integer <= maximum.integer and exact.fractional <= maximum.fractional):
        return exact
    integer = min(exact.integer, maximum.integer)
    fractional = min(exact.fractional, maximum.fractional)
    capped = FixedType(max(integer + fractional, 1), integer, exact.signed, maximum.rounding, maximum.overflow,
                       min(maximum.sat_bits, max(integer + fractional, 1)))
    losses = []
    if integer < exact.integer:
        losses.append("overflow")
    if fractional < exact.fractional:
        losses.append("rounding")
    warnings.warn(f"layer {node.name!r}: the exact {role} type {exact} is capped to {capped} by the maximum "
                  f"precision, so values can suffer {' and '.join(losses)}", stacklevel=4)
    return capped
