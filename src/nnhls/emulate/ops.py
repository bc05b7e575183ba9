"""One numpy function per op kind: (node, tally, (codes, type) of each input) -> output codes.

`tally`, when not None, receives the overflow events of each quantization point of the op
(`tally(point, type, n_overflowed, n_values)`): values that wrapped or saturated on conversion.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from nnhls import quantize
from nnhls.errors import NnhlsError
from nnhls.ir import ONE, Node, Registry, Weights, Window, bilinear_taps, merge_range, softsign_types, table_low_type
from nnhls.types import FixedType, IntType, add_type, mul_type

__all__ = ["EMULATORS", "dense"]

# A float64 (float32) matrix product is exact while every partial sum stays below 2**53 (2**24).
_FLOAT_EXACT = 2**53
_FLOAT32_EXACT = 2**24
_INT64_EXACT = 2**62
# Elements of the (batch, n_in, n_out) product tensor handled at once on the per-product path.
_CHUNK_ELEMENTS = 1 << 22


def _convert(codes, from_type: FixedType, to_type: FixedType, tally, point: str) -> np.ndarray:
    """Convert codes, telling `tally` how many overflowed at this quantization point."""
    if from_type == to_type and to_type.overflow != "SAT_SYM":  # (which moves a most negative code)
        if tally is not None:
            tally(point, to_type, 0, np.size(codes))
        return codes  # codes of a type into the same type: unchanged
    return _convert_codes(codes, from_type.fractional, to_type, tally, point, (from_type.min_code, from_type.max_code))


def emulate_input(node: Node, tally, x: np.ndarray) -> np.ndarray:
    if tally is None:
        return quantize.from_float(x, node.result_type, float_codes=True)
    codes, n_overflowed = quantize.from_float(x, node.result_type, count_overflow=True, float_codes=True)
    tally("result", node.result_type, n_overflowed, x.size)
    return codes


def emulate_dense(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    return dense(x, x_type, node.weight, node.bias, node.accum_type, node.result_type, tally,
                 float_codes=x.dtype.kind == "f")


def emulate_conv(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    """A Dense on every output pixel's window: (batch * pixels, taps * channels) rows."""
    x, x_type = source
    float_codes = x.dtype.kind == "f"
    if max(-x_type.min_code, x_type.max_code) < _FLOAT32_EXACT and x.dtype != object:
        x = x.astype(np.float32, copy=False)  # the window copy is then the matrix product's operand already
    if node.pointwise:  # each pixel is its window
        rows = x.reshape(-1, node.n_in)
    else:
        rows = _windows(node.window, x, 0).reshape(-1, node.n_in * node.groups)
    if node.groups == 1:
        out = dense(rows, x_type, node.weight, node.bias, node.accum_type, node.result_type, tally, float_codes)
        return out.reshape(len(x), *node.shape)
    # Each group's Dense on its channels of every window; the events of all groups are told at once.
    taps, group_in = node.window.n_taps, node.n_in // node.window.n_taps
    rows = rows.reshape(len(rows), taps, node.groups, group_in)
    events: dict = {}
    def group_tally(point, to_type, n_overflowed, n_values):
        total = events.setdefault((point, to_type), [0, 0])
        total[0] += n_overflowed
        total[1] += n_values
    parts = [dense(np.ascontiguousarray(rows[:, :, g]).reshape(len(rows), node.n_in), x_type, weight, bias,
                   node.accum_type, node.result_type, group_tally if tally is not None else None, float_codes)
             for g, (weight, bias) in enumerate(_group_constants(node))]
    for (point, to_type), (n_overflowed, n_values) in events.items():
        tally(point, to_type, n_overflowed, n_values)
    out = np.concatenate(parts, axis=1) if parts[0].dtype != object else np.concatenate(
        [part.astype(object) for part in parts], axis=1)
    return out.reshape(len(x), *node.shape)


# Each grouped convolution's constants split by group, by the identity of its code arrays (held,
# so the identity stays theirs): dense() caches its facts by the identity of the arrays it gets.
_GROUP_CACHE: dict[tuple, tuple] = {}


def _group_constants(node: Node) -> list[tuple[Weights, Weights]]:
    weight, bias = node.weight, node.bias
    key = (id(weight.codes), id(bias.codes), node.groups)
    cached = _GROUP_CACHE.get(key)
    if cached is not None and cached[0] is weight.codes and cached[1] is bias.codes:
        return cached[2]
    matrix, width = node.weight_matrix(), node.group_out
    groups = [(Weights(matrix[:, g * width:(g + 1) * width], type=weight.type,
                       codes=np.ascontiguousarray(matrix[:, g * width:(g + 1) * width])),
               Weights(bias.codes[g * width:(g + 1) * width], type=bias.type,
                       codes=np.ascontiguousarray(bias.codes[g * width:(g + 1) * width])))
              for g in range(node.groups)]
    if len(_GROUP_CACHE) >= _CONSTANTS_CACHE_SIZE:
        _GROUP_CACHE.pop(next(iter(_GROUP_CACHE)))
    _GROUP_CACHE[key] = (weight.codes, bias.codes, groups)
    return groups


@dataclass(frozen=True)
class _Constants:
    """What the Dense arithmetic needs of a layer's constants, worked out once per layer rather
    than for every chunk of a batch."""

    sources: tuple  # the weight and bias code arrays these facts are about (held, compared by identity)
    types: tuple  # the bias and accumulator types they were worked out for
    matrix: np.ndarray  # (n_in, n_out) codes
    matrices: dict  # made when first needed: the matrix as float32 / float64, the bias in runs, plans by input type
    low: int
    high: int
    column_bound: int  # the largest sum of |weight codes| into one output
    bias_codes: np.ndarray  # the bias converted into the accumulator
    bias_overflowed: int
    largest_bias: int


# Facts about the constants of the Dense layers run lately, by the identity of their code arrays
# (which the lowered IR never changes): a batch runs in chunks, and each chunk would otherwise
# work them out again.
_CONSTANTS_CACHE: dict[tuple, _Constants] = {}
_CONSTANTS_CACHE_SIZE = 256


def _constants(weight: Weights, bias: Weights, accum: FixedType) -> _Constants:
    sources, types = (weight.codes, bias.codes), (bias.type, accum)
    key = (id(weight.codes), id(bias.codes), types)
    facts = _CONSTANTS_CACHE.get(key)
    if facts is not None and all(a is b for a, b in zip(facts.sources, sources)):
        return facts
    n_out = bias.codes.size
    matrix = weight.codes.reshape(-1, n_out)
    bias_codes, overflowed = quantize.convert(bias.codes, bias.type, accum, count_overflow=True)
    low, high = (int(matrix.min()), int(matrix.max())) if matrix.size else (0, 0)
    facts = _Constants(sources, types, matrix, {}, low, high, _column_bound(matrix), bias_codes, overflowed,
                       int(np.abs(bias_codes.astype(object)).max()) if bias_codes.size else 0)
    if len(_CONSTANTS_CACHE) >= _CONSTANTS_CACHE_SIZE:
        _CONSTANTS_CACHE.pop(next(iter(_CONSTANTS_CACHE)))
    _CONSTANTS_CACHE[key] = facts
    return facts


def dense(x: np.ndarray, x_type: FixedType, weight: Weights, bias: Weights, accum: FixedType, result: FixedType,
          tally=None, float_codes: bool = False) -> np.ndarray:
    """Rows of codes `x` (of `x_type`) times the weight codes, read as an (n_in, n_out) matrix,
    plus the bias, as Dense defines it: every product and the bias converted into `accum`, their
    exact sum converted into `accum` once, then into `result`. Composite ops (a convolution's
    windows, recurrent gates) call it on their own rows. With `float_codes` the result may come
    as codes held in floats (emulate/__init__.py)."""
    constants = _constants(weight, bias, accum)
    weights, bias_codes = constants.matrix, constants.bias_codes
    n_in = weights.shape[0]
    if tally is not None:
        tally("bias", accum, constants.bias_overflowed, bias_codes.size)
    plan = constants.matrices.get(("plan", x_type, weight.type))  # what the types decide, worked out once
    if plan is None:
        product = mul_type(x_type, weight.type)
        shift = accum.fractional - product.fractional
        exact = shift >= 0 and _products_exact(x_type, constants, shift, accum)
        plan = (product, shift, exact, _float_sums(x_type, constants, shift) if exact else None,
                exact and _holds_every_sum(x_type, constants, shift, accum))
        constants.matrices[("plan", x_type, weight.type)] = plan
    product, shift, exact_products, dtype, holds_every_sum = plan
    if not float_codes or x.dtype == object:
        dtype = None
    if dtype is not None:  # every partial sum, shifted and with the bias, is an integer the float holds
        sums = _float_products(x, constants, dtype)
        if shift:
            sums *= dtype(2.0**shift)
        _add_to_rows(sums, bias_codes, constants.matrices)
        if tally is not None:
            tally("product", accum, 0, len(x) * weights.size)
        if holds_every_sum:
            if tally is not None:
                tally("accumulator", accum, 0, sums.size)
            accumulated = sums
        else:
            # the sums' own range, not the provable one: it usually lies within the accumulator, and
            # then nothing wraps or saturates
            accumulated = _convert_codes(sums, accum.fractional, accum, tally, "accumulator")
        return _convert(accumulated, accum, result, tally, "result")
    if exact_products:
        sums = _exact_matmul(x, x_type, constants)
        if accum.width + n_in.bit_length() >= 62:
            sums = sums.astype(object)
        if shift:
            sums = sums << shift
        if tally is not None:  # _products_exact proved that no product can overflow
            tally("product", accum, 0, len(x) * weights.size)
    else:
        sums = _summed_products(x, weights, product, accum, tally)
    total = sums + (bias_codes.astype(object) if sums.dtype == object else bias_codes)
    # The exact sum is converted into the accumulator once, then into the result type; the
    # first conversion changes nothing where the accumulator holds every possible sum.
    if holds_every_sum:
        if tally is not None:
            tally("accumulator", accum, 0, total.size)
        accumulated = total
    elif tally is None:  # the sum may lie outside the accumulator: no bounds from its type
        accumulated = quantize.from_codes(total, accum.fractional, accum)
    else:
        accumulated, n_overflowed = quantize.from_codes(total, accum.fractional, accum, count_overflow=True)
        tally("accumulator", accum, n_overflowed, total.size)
    return _convert(accumulated, accum, result, tally, "result")


# A vector added to each row of a matrix at once along rows of about this many values: numpy's
# loop over a short last axis (a layer's outputs) is several times slower per value.
_ROW_RUN = 1024


def _add_to_rows(matrix: np.ndarray, vector: np.ndarray, cache: dict) -> None:
    """matrix += vector (one value per column) in place, in runs of whole rows; the vector
    repeated for a run is kept in `cache`."""
    rows, width = matrix.shape
    repeats = max(1, _ROW_RUN // max(width, 1))
    key = ("rows", matrix.dtype, repeats)
    if key not in cache:
        cache[key] = np.tile(vector.astype(matrix.dtype), repeats)
    whole = rows // repeats * repeats
    if whole:
        matrix[:whole].reshape(-1, width * repeats).__iadd__(cache[key])
    if whole < rows:
        matrix[whole:] += cache[key][:width]


def _float_products(x: np.ndarray, constants: _Constants, dtype) -> np.ndarray:
    """x @ the weight codes in `dtype`, where _float_sums found every partial sum exact."""
    if dtype not in constants.matrices:
        constants.matrices[dtype] = constants.matrix.astype(dtype)
    return x.astype(dtype, copy=False) @ constants.matrices[dtype]


def _float_sums(x_type: FixedType, constants: _Constants, shift: int):
    """The float type in which every sum of products, shifted, plus the bias is exact, or None."""
    largest = _largest_sum(x_type, constants, shift)
    return np.float32 if largest < _FLOAT32_EXACT else np.float64 if largest < _FLOAT_EXACT else None


def _largest_sum(x_type: FixedType, constants: _Constants, shift: int) -> int:
    """The largest magnitude a sum of products of `x_type` inputs, shifted, plus the bias can have."""
    return (max(-x_type.min_code, x_type.max_code) * constants.column_bound << shift) + constants.largest_bias


def _convert_codes(codes, frac_bits: int, to_type: FixedType, tally, point: str, bounds=None) -> np.ndarray:
    """Codes of `frac_bits` fractional bits (within `bounds`, where known) into `to_type`, told to `tally`."""
    if tally is None:
        return quantize.from_codes(codes, frac_bits, to_type, bounds=bounds, float_codes=True)
    converted, n_overflowed = quantize.from_codes(codes, frac_bits, to_type, count_overflow=True, bounds=bounds,
                                                  float_codes=True)
    tally(point, to_type, n_overflowed, np.size(codes))
    return converted


def _holds_every_sum(x_type: FixedType, constants: _Constants, shift: int, accum: FixedType) -> bool:
    """Whether every sum of products of `x_type` inputs plus the bias lies within the accumulator."""
    largest = _largest_sum(x_type, constants, shift)
    return accum.overflow != "SAT_SYM" and -accum.min_code >= largest and accum.max_code >= largest


def _padded(window: Window, x: np.ndarray, fill) -> np.ndarray:
    """x as (batch, padded_h, padded_w, channels), surrounded by `fill`."""
    image = x.reshape(len(x), window.in_h, window.in_w, window.channels)
    dtype = x.dtype if x.dtype in (object, np.float32, np.float64) else np.dtype(np.int64)
    if window.padded_h == window.in_h and window.padded_w == window.in_w and x.dtype == dtype:
        return image  # nothing padded or spread
    padded = np.full((len(x), window.padded_h, window.padded_w, window.channels), fill, dtype=dtype)
    padded[:, window.pad_top:window.pad_top + window.spread_in_h:window.spread_h,
           window.pad_left:window.pad_left + window.spread_in_w:window.spread_w] = image
    return padded


def _windows(window: Window, x: np.ndarray, fill) -> np.ndarray:
    """(batch, pixels, taps, channels): what each output pixel's window holds, `fill` on padding."""
    padded = _padded(window, x, fill).reshape(len(x), window.padded_h * window.padded_w, window.channels)
    taps = np.take(padded, _tap_index(window), axis=1)  # one contiguous gather
    return taps.reshape(len(x), window.n_pixels, window.n_taps, window.channels)


def _tiles(window: Window) -> bool:
    """Whether the windows lie side by side over the image, none padded or spread."""
    return (window.stride_h == window.kernel_h and window.stride_w == window.kernel_w
            and window.pad_top == window.pad_bottom == window.pad_left == window.pad_right == 0
            and window.dilation_h == window.dilation_w == window.spread_h == window.spread_w == 1)


@functools.lru_cache(maxsize=256)
def _tap_counts(window: Window) -> np.ndarray:
    return window.tap_counts()  # cached: the emulator asks once per chunk of a batch


@functools.lru_cache(maxsize=256)
def _tap_index(window: Window) -> np.ndarray:
    """The padded pixel each tap of each output pixel reads, flattened (pixels, taps)."""
    rows, columns = window.rows_and_columns()
    return ((rows + window.pad_top) * window.padded_w + columns + window.pad_left).reshape(-1)


def _largest(window: Window, x: np.ndarray, x_type: FixedType) -> np.ndarray:
    """The largest value of each window, of x's type."""
    if _tiles(window):  # windows side by side, none padded: the image's own rows and columns, no copy
        image = x.reshape(len(x), window.in_h, window.in_w, window.channels)
        rows, columns = window.out_h * window.kernel_h, window.out_w * window.kernel_w
        taps = [image[:, ky:rows:window.kernel_h, kx:columns:window.kernel_w]
                for ky in range(window.kernel_h) for kx in range(window.kernel_w)]
        largest = np.array(taps[0])  # the largest tap so far, one strided view after another
        for tap in taps[1:]:
            np.maximum(largest, tap, out=largest)
        return largest
    return _windows(window, x, x_type.min_code - 1).max(axis=2)  # padding is below every value


def monotone(node: Node) -> bool:
    """Whether an activation node's output never decreases as its input grows: ReLU or linear,
    converted with rounding (monotone in every mode) and saturation (but not wrapping or zeroing)."""
    return node.op == "activation" and node.result_type.overflow in ("SAT", "SAT_SYM")


def emulate_pooled(pool: Node, activation: Node, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    """A max pooling of a monotone activation (monotone()) of `source`, the pooling taken first:
    the largest of f(x) over a window is f of the largest x, and f then runs on a quarter of the
    values (for 2x2 windows). For predictions: the overflow counts of f would be of fewer values."""
    x, x_type = source
    largest = _largest(pool.window, x, x_type)
    activated = emulate_activation(activation, None, (largest, x_type))
    return _convert(activated, activation.result_type, pool.result_type, None, "result").reshape(len(x), *pool.shape)


def emulate_pool(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    window = node.window
    if node.function == "max":
        largest = _largest(window, x, x_type)
        return _convert(largest, x_type, node.result_type, tally, "result").reshape(len(x), *node.shape)
    if x.dtype.kind == "f":
        x = x.astype(np.int64)  # the sum's shifts below are on integers
    windows = _windows(window, x, 0)  # padding adds nothing to the sum
    sum_type, dividend_type = node.sum_type(x_type), node.dividend_type(x_type, node.result_type)
    total = windows.astype(object).sum(axis=2) if sum_type.width > 62 else windows.sum(axis=2)
    if node.function == "sum":
        return _convert(total, sum_type, node.result_type, tally, "result").reshape(len(x), *node.shape)
    # The dividend may be wider than the sum (fractional bits for the result): Python ints past 62 bits.
    dividend = _aligned(total, sum_type.fractional, dividend_type.fractional, dividend_type.width)
    counts = _tap_counts(window)[None, :, None]
    quotient, quotient_type = quantize.div(dividend, dividend_type, counts, node.count_type())
    return _convert(quotient, quotient_type, node.result_type, tally, "result").reshape(len(x), *node.shape)


def emulate_zero_pad(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    padded = _padded(node.window, x, 0).reshape(len(x), *node.shape)
    return _convert(padded, x_type, node.result_type, tally, "result")


def emulate_reshape(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    return _convert(x.reshape(len(x), *node.shape), x_type, node.result_type, tally, "result")


def emulate_transpose(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    axes = (0, *(axis + 1 for axis in node.perm))
    moved = np.ascontiguousarray(x.reshape(len(x), *node.in_shape).transpose(axes))
    return _convert(moved, x_type, node.result_type, tally, "result")


def emulate_crop(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    in_h, in_w, channels = node.image
    image = x.reshape(len(x), in_h, in_w, channels)
    kept = image[:, node.top:in_h - node.bottom, node.left:in_w - node.right]
    return _convert(np.ascontiguousarray(kept).reshape(len(x), *node.shape), x_type, node.result_type, tally,
                    "result")


@functools.lru_cache(maxsize=256)
def _bilinear_taps(n: int, size: int) -> tuple[np.ndarray, ...]:
    return bilinear_taps(n, size)  # cached: the emulator asks once per chunk of a batch


def emulate_upsample(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    """nearest: each value repeated; bilinear: the exact sum of integer-weighted taps divided by
    the denominator, as average pooling divides its sum (Upsample)."""
    x, x_type = source
    in_h, in_w, channels = node.image
    image = x.reshape(len(x), in_h, in_w, channels)
    if node.interpolation == "nearest":
        repeated = np.repeat(np.repeat(image, node.size_h, axis=1), node.size_w, axis=2)
        return _convert(repeated.reshape(len(x), *node.shape), x_type, node.result_type, tally, "result")
    sum_type, dividend_type = node.sum_type(x_type), node.dividend_type(x_type, node.result_type)
    image = image.astype(object) if dividend_type.width > 62 else image.astype(np.int64)
    lower, upper, w_lower, w_upper = _bilinear_taps(in_h, node.size_h)
    rows = image[:, lower] * w_lower[None, :, None, None] + image[:, upper] * w_upper[None, :, None, None]
    lower, upper, w_lower, w_upper = _bilinear_taps(in_w, node.size_w)
    total = rows[:, :, lower] * w_lower[None, None, :, None] + rows[:, :, upper] * w_upper[None, None, :, None]
    dividend = total << (dividend_type.fractional - sum_type.fractional)
    quotient, quotient_type = quantize.div(dividend, dividend_type, np.array(node.denominator), node.count_type())
    return _convert(quotient, quotient_type, node.result_type, tally, "result").reshape(len(x), *node.shape)


def _products_exact(x_type: FixedType, constants: _Constants, shift: int, accum: FixedType) -> bool:
    """Whether converting any product into the accumulator changes nothing."""
    corners = [a * b for a in (x_type.min_code, x_type.max_code) for b in (constants.low, constants.high)]
    return accum.min_code <= min(corners) << shift and max(corners) << shift <= accum.max_code


def _exact_matmul(x: np.ndarray, x_type: FixedType, constants: _Constants) -> np.ndarray:
    """x @ weights on integer codes, exactly: BLAS when floats cannot round, else integers."""
    weights = constants.matrix
    bound = max(-x_type.min_code, x_type.max_code) * constants.column_bound
    for dtype, exact in ((np.float32, _FLOAT32_EXACT), (np.float64, _FLOAT_EXACT)):
        if bound < exact:
            if dtype not in constants.matrices:
                constants.matrices[dtype] = weights.astype(dtype)
            return (x.astype(dtype, copy=False) @ constants.matrices[dtype]).astype(np.int64)
    if x.dtype.kind == "f":  # codes held in floats: integers first, not Python floats
        x = x.astype(np.int64)
    if bound < _INT64_EXACT and x.dtype != object and weights.dtype != object:
        return x.astype(np.int64, copy=False) @ weights.astype(np.int64, copy=False)
    return x.astype(object) @ weights.astype(object)


def _column_bound(weights: np.ndarray) -> int:
    """The largest sum of absolute weight codes into one output."""
    if not weights.size:
        return 0
    if weights.dtype != object and np.abs(weights).max() < 2**40:
        return int(np.abs(weights).sum(axis=0).max())
    return int(np.abs(weights.astype(object)).sum(axis=0).max())


def _summed_products(x: np.ndarray, weights: np.ndarray, product: FixedType, accum: FixedType,
                     tally) -> np.ndarray:
    """Each product converted into the accumulator (rounding, overflow), then summed exactly."""
    batch, n_in = x.shape
    rows = max(1, _CHUNK_ELEMENTS // max(1, weights.size))
    parts = []
    for start in range(0, batch, rows):
        chunk = x[start:start + rows]
        if chunk.dtype.kind == "f":  # codes held in floats: integers first, not Python floats
            chunk = chunk.astype(np.int64)
        products = chunk.astype(object)[:, :, None] * weights.astype(object)[None]
        if products.size and max(abs(int(products.min())), abs(int(products.max()))) < _INT64_EXACT:
            products = products.astype(np.int64)
        terms = _convert(products, product, accum, tally, "product")
        if accum.width + n_in.bit_length() >= 62:
            terms = terms.astype(object)
        parts.append(terms.sum(axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, weights.shape[1]), dtype=np.int64)


def emulate_activation(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    to = node.result_type
    if node.function == "relu" and tally is None and not to.signed and to.overflow in ("SAT", "SAT_SYM", "SAT_ZERO"):
        # Rounding is monotone and keeps 0, and the result saturates (or zeroes) below 0: a
        # negative value comes out 0 without the maximum. (The overflow counts would differ.)
        return _convert(x, x_type, to, None, "result")
    if node.function == "relu":
        x = np.maximum(x, 0)
    return _convert(x, x_type, node.result_type, tally, "result")


def emulate_scale_shift(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    scaled_type = mul_type(x_type, node.scale.type)
    total_type = add_type(scaled_type, node.shift.type)
    dtype = quantize.float_dtype(total_type.width) if x.dtype.kind == "f" else None
    if dtype is not None:  # every product, aligned term and sum is an integer below the float's 2**bits
        total = x.astype(dtype, copy=False) * node.scale.codes.astype(dtype)
        if total_type.fractional != scaled_type.fractional:
            total *= dtype(2.0 ** (total_type.fractional - scaled_type.fractional))
        total += node.shift.codes.astype(dtype) * dtype(2.0 ** (total_type.fractional - node.shift.type.fractional))
        return _convert(total, total_type, node.result_type, tally, "result")
    if x.dtype.kind == "f":
        x = x.astype(np.int64)
    scaled, scaled_type = quantize.mul(x, x_type, node.scale.codes, node.scale.type)
    total, total_type = quantize.add(scaled, scaled_type, node.shift.codes, node.shift.type)
    return _convert(total, total_type, node.result_type, tally, "result")


def emulate_flatten(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, _ = source
    return x.reshape(x.shape[0], -1)


def _aligned(x: np.ndarray, from_frac: int, frac: int, width: int) -> np.ndarray:
    """Codes of `from_frac` fractional bits as codes of `frac` (no fewer) fractional bits, which
    take `width` bits; Python ints where those might not fit in int64."""
    if width > 62 or x.dtype == object:
        x = x.astype(object)
    return x << (frac - from_frac) if frac > from_frac else x


def emulate_merge(node: Node, tally, *sources: tuple[np.ndarray, FixedType]) -> np.ndarray:
    function = node.function
    types = [t for _, t in sources]
    if function == "multiply":
        value, value_type = sources[0]
        for x, t in sources[1:]:
            value, value_type = quantize.mul(value, value_type, x, t)
        return _convert(value, value_type, node.result_type, tally, "result")
    low, high, frac = merge_range("add" if function in ("maximum", "minimum", "average") else function, types)
    # Every input and every partial result lies within the exact range of the sum of all of
    # them (each input range holds 0).
    width = max(abs(low), abs(high)).bit_length() + 1
    values = [_aligned(x, t.fractional, frac, width) for x, t in sources]
    if function == "subtract":
        exact = values[0] - values[1]
    elif function in ("maximum", "minimum"):
        exact = functools.reduce(np.maximum if function == "maximum" else np.minimum, values)
    else:
        exact = functools.reduce(np.add, values)
    if function != "average":
        return _from_pieces(node, tally, (exact, frac))
    dividend_type = node.dividend_type(types)
    dividend = _aligned(exact, frac, dividend_type.fractional, dividend_type.width)
    quotient, quotient_type = quantize.div(dividend, dividend_type, np.array(node.count), node.count_type())
    return _convert(quotient, quotient_type, node.result_type, tally, "result")


def emulate_concatenate(node: Node, tally, *sources: tuple[np.ndarray, FixedType]) -> np.ndarray:
    converted = [quantize.convert(x, t, node.result_type, count_overflow=True) for x, t in sources]
    parts = [part for part, _ in converted]
    if tally is not None:
        tally("result", node.result_type, sum(n for _, n in converted), sum(part.size for part in parts))
    if any(part.dtype == object for part in parts):
        parts = [part.astype(object) for part in parts]
    return np.concatenate(parts, axis=node.axis + 1)


def emulate_dot(node: Node, tally, a: tuple[np.ndarray, FixedType], b: tuple[np.ndarray, FixedType]) -> np.ndarray:
    products, product_type = quantize.mul(*a, *b)
    wide = product_type.width + node.length.bit_length() > 62
    total = (products.astype(object) if wide else products).sum(axis=-1, keepdims=True)
    return _from_pieces(node, tally, (total, product_type.fractional))


# op -> (node, tally, (codes, type) of each input) -> output codes.
EMULATORS = Registry("the emulator (emulate/ops.py EMULATORS)", {
    "input": emulate_input,
    "dense": emulate_dense,
    "conv": emulate_conv,
    "pool": emulate_pool,
    "zero_pad": emulate_zero_pad,
    "reshape": emulate_reshape,
    "transpose": emulate_transpose,
    "crop": emulate_crop,
    "upsample": emulate_upsample,
    "activation": emulate_activation,
    "scale_shift": emulate_scale_shift,
    "flatten": emulate_flatten,
    "merge": emulate_merge,
    "concatenate": emulate_concatenate,
    "dot": emulate_dot,
})


def table_index(x: np.ndarray, x_type: FixedType, low: int, span_log2: int, size: int) -> np.ndarray:
    """The bin of each value among `size` equal bins over [low, low + 2**span_log2), clamped.

    From the exact offset x - low (never from the bits of x's type): the floor of
    offset * size / 2**span_log2, then 0 below the range and size - 1 above it.
    """
    offset, offset_type = quantize.sub(x, x_type, np.array(low), table_low_type(low))
    shift = offset_type.fractional - (size.bit_length() - 1 - span_log2)
    index = offset >> shift if shift >= 0 else offset << -shift
    return quantize.clip(index, 0, size - 1).astype(np.int64, copy=False)


def _pieces(default: tuple, *cases: tuple) -> tuple[np.ndarray, int]:
    """Exact piecewise values: (codes, fractional bits) of `default`, replaced where each case's
    condition holds by its (codes, type); later cases win. Values are aligned, never rounded."""
    frac = max(t.fractional for _, t in [default] + [case[1:] for case in cases])
    def aligned(codes, t):
        codes = np.asarray(codes)
        if frac - t.fractional + t.width > 62:
            codes = codes.astype(object)
        return codes << (frac - t.fractional)
    values = aligned(*default)
    for condition, codes, t in cases:
        values = np.where(condition, aligned(codes, t), values)
    return values, frac


def _from_pieces(node: Node, tally, pieces: tuple[np.ndarray, int]) -> np.ndarray:
    values, frac = pieces
    if tally is None:
        return quantize.from_codes(values, frac, node.result_type)
    converted, n_overflowed = quantize.from_codes(values, frac, node.result_type, count_overflow=True)
    tally("result", node.result_type, n_overflowed, values.size)
    return converted


def _at_least(x, x_type: FixedType, bound: int) -> np.ndarray:
    return quantize.sub(x, x_type, np.array(bound), table_low_type(bound))[0] >= 0


def emulate_lookup(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    index = table_index(x, x_type, node.low, node.span_log2, node.table_size)
    table = (node.table.codes[index], node.table.type)
    if node.tail_from is None:
        return _from_pieces(node, tally, _pieces(table))
    linear = (x, x_type) if node.tail_scale is None else quantize.mul(x, x_type, node.tail_scale.codes,
                                                                      node.tail_scale.type)
    return _from_pieces(node, tally, _pieces(table, (_at_least(x, x_type, node.tail_from), *linear)))


def embedding_rows(node: Node, x: np.ndarray, x_type: FixedType) -> np.ndarray:
    """The table row each input value reads: its index, truncated toward zero as Keras casts, and
    with `negative_wraps` a negative index counted from the end; any other index outside the table
    is an error naming the layer, the value, the index and the range."""
    index = np.asarray(quantize.convert(x, x_type, node.index_type())).astype(np.int64)
    if node.negative_wraps:
        index = np.where((index < 0) & (index >= -node.input_dim), index + node.input_dim, index)
    outside = (index < 0) | (index >= node.input_dim)
    if outside.any():
        sample, *position = (int(i) for i in np.argwhere(outside)[0])
        value = float(quantize.to_float(np.asarray(x)[(sample, *position)], x_type))
        wrapped = f", or -{node.input_dim} to -1 counted from the end" if node.negative_wraps else ""
        raise NnhlsError(
            f"layer {node.name!r} (Embedding): input value {value:g} (sample {sample}, position {position[0]}) is "
            f"index {math.trunc(value)}, outside its table's indices 0 to {node.input_dim - 1}{wrapped}; Keras "
            "refuses such an index as well (the hardware would read the table's last row): give indices within "
            "the table")
    return index


def emulate_embedding(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    rows = node.embeddings.codes[embedding_rows(node, x, x_type)]  # (batch, sequence, output_dim)
    return _convert(rows, node.embeddings.type, node.result_type, tally, "result")


def emulate_prelu(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    difference, difference_type = quantize.sub(x, x_type, node.threshold.codes, node.threshold.type)
    below = quantize.mul(difference, difference_type, node.slope.codes, node.slope.type)
    passes = difference > 0 if node.strict else difference >= 0
    cases = []
    if node.min_input is not None:
        floor = quantize.sub(x, x_type, node.min_input.codes, node.min_input.type)[0] < 0
        cases.append((floor, np.broadcast_to(node.min_value.codes, x.shape), node.min_value.type))
    cases.append((passes, x, x_type))
    if node.max_value is not None:
        above = quantize.sub(x, x_type, node.max_value.codes, node.max_value.type)[0] >= 0
        cases.append((above, np.broadcast_to(node.max_value.codes, x.shape), node.max_value.type))
    return _from_pieces(node, tally, _pieces(below, *cases))


def emulate_hard_sigmoid(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    scaled, scaled_type = quantize.mul(x, x_type, node.slope.codes, node.slope.type)
    line, line_type = quantize.add(scaled, scaled_type, node.offset.codes, node.offset.type)
    one = 1 << line_type.fractional
    clipped = np.minimum(np.maximum(line, 0), one)
    return _convert(clipped, line_type, node.result_type, tally, "result")


def emulate_softmax(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    if node.implementation == "argmax":
        one = quantize.from_codes(np.array([1]), 0, node.result_type)[0]
        codes = np.zeros(x.shape, dtype=np.int64 if isinstance(one, np.integer) else object)
        np.put_along_axis(codes, np.argmax(x, axis=-1)[..., None], one, axis=-1)  # at every position
        return codes
    difference, difference_type = quantize.sub(x, x_type, x.max(axis=-1, keepdims=True), x_type)
    exp_index = table_index(difference, difference_type, node.EXP_LOW, node.EXP_SPAN_LOG2, node.table_size)
    exps = node.exp_table.codes[exp_index]
    total = exps.astype(object).sum(axis=-1) if exps.dtype == object else exps.sum(axis=-1)
    inverse = node.inv_table.codes[table_index(total, node.sum_type, 0, node.inv_span_log2, node.table_size)]
    product, product_type = quantize.mul(exps, node.exp_table.type, inverse[..., None], node.inv_table.type)
    return _convert(product, product_type, node.result_type, tally, "result")


def _leading_one(codes: np.ndarray, width: int) -> np.ndarray:
    """The position of each non-negative code's highest set bit (-1 for 0), exactly at any width."""
    lead = np.full(codes.shape, -1, dtype=np.int64)
    for bit in range(width):
        lead[(codes >> bit) != 0] = bit
    return lead


def emulate_layernorm(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    n, types = node.n, node.statistics(x_type)
    bits = node.mantissa_bits
    wide = max(types.square_sum.width, types.variance.width + bits,
               types.difference.width + types.shift.fractional + types.guard) > 62
    rows = x.reshape(-1, n).astype(object if wide or x.dtype == object else np.int64)
    differences = rows * n - rows.sum(axis=1, keepdims=True)
    variance = (differences * differences).sum(axis=1) * 4**types.guard + types.epsilon_code
    lead = _leading_one(variance, types.variance.width)
    at = np.maximum(lead, 0)
    shifts = at.astype(object) if wide else at
    top = (variance << bits) >> shifts  # the leading one (where V > 0) and the `bits` bits below it
    index = ((at & 1) << bits) | (top & ((1 << bits) - 1)).astype(np.int64)
    # a = d * 2**(guard - j), j = at // 2: d's code moved to the shift type's fractional bits, exactly.
    shifted = differences << (types.shift.fractional + types.guard - (shifts >> 1))[:, None]
    normalized = _convert(shifted, types.shift, node.accum_type, tally, "accum")
    value, value_type = quantize.mul(normalized, node.accum_type, node.table.codes[index][:, None], node.table.type)
    if node.scale is not None:
        value, value_type = quantize.mul(value, value_type, node.scale.codes, node.scale.type)
    if node.bias is not None:
        value, value_type = quantize.add(value, value_type, node.bias.codes, node.bias.type)
    return _convert(value, value_type, node.result_type, tally, "result").reshape(len(x), *node.shape)


def emulate_step(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    """levels[first_level + the number of thresholds x reaches]: the thresholds are ascending, so
    that number is where x would sort among them (after those equal to it)."""
    x, _ = source
    codes = node.threshold_codes
    if x.dtype != object and node.threshold_type.width <= 62:
        codes = codes.astype(np.int64)
    if node.per_channel:  # channel c (the last axis) steps at row c
        passed = np.empty(x.shape, dtype=np.int64)
        for channel, row in enumerate(codes):
            passed[..., channel] = np.searchsorted(row, x[..., channel], side="right")
    else:
        passed = np.searchsorted(codes, x, side="right")
    levels = node.levels.codes[node.first_level + passed]
    return _convert(levels, node.levels.type, node.result_type, tally, "result")


def emulate_softsign(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    magnitude_type, _, _ = softsign_types(x_type)
    magnitude = np.abs(x.astype(object) if magnitude_type.width > 62 else x)
    denominator, denominator_type = quantize.add(magnitude, magnitude_type, np.array(1), IntType(1, signed=False))
    quotient, quotient_type = quantize.div(x, x_type, denominator, denominator_type)
    return _convert(quotient, quotient_type, node.result_type, tally, "result")


class _StepTally:
    """Overflow events of a recurrent layer's quantization points summed over its time steps, told
    once per point (a part's are named after it: 'gate result', 'recurrent accumulator'); the
    constants (biases) count once."""

    def __init__(self):
        self.events: dict = {}

    def part(self, role: str):
        return lambda point, to_type, n_overflowed, n_values: self(f"{role} {point}", to_type, n_overflowed, n_values)

    def __call__(self, point, to_type, n_overflowed, n_values):
        total = self.events.setdefault((point, to_type), [0, 0])
        if point.endswith("bias") and total[1]:
            return
        total[0] += n_overflowed
        total[1] += n_values

    def tell(self, tally) -> None:
        for (point, to_type), (n_overflowed, n_values) in self.events.items():
            tally(point, to_type, n_overflowed, n_values)


def emulate_recurrent(node: Node, tally, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    """The cell of ir/recurrent.py at every time step; each part runs as the op it is."""
    x, x_type = source
    parts, types, units = node.parts, node.cell_types(), node.units
    steps_tally = _StepTally() if tally is not None else None

    def part(role, codes, codes_type):
        return EMULATORS[parts[role].op](parts[role], steps_tally and steps_tally.part(role), (codes, codes_type))

    def into(codes, from_type, to_type, point):
        return _convert(codes, from_type, to_type, steps_tally, point)

    def block(values, name):
        return values[:, node.block(name)]

    batch = len(x)
    inputs = part("input", x.reshape(batch * node.steps, node.n_in), x_type).reshape(batch, node.steps, -1)
    state = np.zeros((batch, units), dtype=object if node.state_type.width > 62 else np.int64)
    cell_state = np.zeros((batch, units), dtype=object if node.cell == "lstm" and node.cell_type.width > 62
                          else np.int64)
    outputs = []
    order = range(node.steps - 1, -1, -1) if node.go_backwards else range(node.steps)
    last = order[-1]
    for t in order:
        p = inputs[:, t]
        q = part("recurrent", state, node.state_type)
        if node.cell == "simple":
            pre = into(*quantize.add(p, types.p, q, types.q), node.accum_type, "accumulator")
            hidden = part("candidate", pre, node.accum_type)
        elif node.cell == "lstm":
            pre = into(*quantize.add(p, types.p, q, types.q), node.accum_type, "accumulator")
            gates = part("gate", np.concatenate([block(pre, name) for name in node.gate_blocks], axis=1),
                         node.accum_type)
            i, f, o = (gates[:, k * units:(k + 1) * units] for k in range(3))
            g = part("candidate", block(pre, "c"), node.accum_type)
            kept = quantize.mul(f, types.gate, cell_state, node.cell_type)
            added = quantize.mul(i, types.gate, g, types.candidate)
            new_cell, _ = quantize.add(*kept, *added)
            cell_state = into(new_cell, types.update, node.cell_type, "cell_state")
            hidden, _ = quantize.mul(o, types.gate, part("output", new_cell, types.update), types.output)
        else:
            gates = slice(0, 2 * units)  # blocks z and r
            zr = part("gate", into(*quantize.add(p[:, gates], types.p, q[:, gates], types.q), node.accum_type,
                                   "accumulator"), node.accum_type)
            z, r = zr[:, :units], zr[:, units:]
            if node.reset_after:
                reset = quantize.mul(r, types.gate, block(q, "h"), types.q)
            else:
                reset = part("reset", *quantize.mul(r, types.gate, state, node.state_type)), types.reset_q
            n_pre = into(*quantize.add(block(p, "h"), types.p, *reset), node.candidate_accum_type, "accumulator")
            n = part("candidate", n_pre, node.candidate_accum_type)
            one_minus = quantize.sub(np.ones_like(z), ONE, z, types.gate)
            kept = quantize.mul(z, types.gate, state, node.state_type)
            added = quantize.mul(*one_minus, n, types.candidate)
            hidden, _ = quantize.add(*kept, *added)
        state = into(hidden, types.hidden, node.state_type, "state")
        if node.return_sequences or t == last:
            outputs.append(into(hidden, types.hidden, node.result_type, "result"))
    if steps_tally is not None:
        steps_tally.tell(tally)
    if not node.return_sequences:
        return outputs[0]
    return np.stack(outputs[::-1] if node.go_backwards and node.time_order else outputs, axis=1)


EMULATORS["recurrent"] = emulate_recurrent
EMULATORS["layernorm"] = emulate_layernorm
EMULATORS.update({"softsign": emulate_softsign, "step": emulate_step, "lookup": emulate_lookup, "softmax": emulate_softmax, "prelu": emulate_prelu,
                  "hard_sigmoid": emulate_hard_sigmoid, "embedding": emulate_embedding})
