"""One numpy function per op kind: (node, (codes, type) of each input) -> output codes."""

from __future__ import annotations

import numpy as np

from nnhls import quantize
from nnhls.ir import Node
from nnhls.types import FixedType, mul_type

__all__ = ["EMULATORS"]

# A float64 matrix product is exact while every partial sum stays below 2**53.
_FLOAT_EXACT = 2**53
_INT64_EXACT = 2**62
# Elements of the (batch, n_in, n_out) product tensor handled at once on the per-product path.
_CHUNK_ELEMENTS = 1 << 22


def emulate_input(node: Node, x: np.ndarray) -> np.ndarray:
    return quantize.from_float(x, node.result_type)


def emulate_dense(node: Node, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    weight, bias, accum = node.weight, node.bias, node.accum_type
    product = mul_type(x_type, weight.type)
    bias_codes = quantize.convert(bias.codes, bias.type, accum)
    if _products_exact(x_type, weight.codes, product, accum):
        sums = _exact_matmul(x, x_type, weight.codes)
        if accum.width + node.n_in.bit_length() >= 62:
            sums = sums.astype(object)
        sums = sums << (accum.fractional - product.fractional)
    else:
        sums = _summed_products(x, weight.codes, product, accum)
    total = sums + (bias_codes.astype(object) if sums.dtype == object else bias_codes)
    # The exact sum is converted into the accumulator once, then into the result type.
    return quantize.convert(quantize.convert(total, accum, accum), accum, node.result_type)


def _products_exact(x_type: FixedType, weights: np.ndarray, product: FixedType, accum: FixedType) -> bool:
    """Whether converting any product into the accumulator changes nothing."""
    if accum.fractional < product.fractional:
        return False
    w_low, w_high = int(weights.min()), int(weights.max())
    corners = [a * b for a in (x_type.min_code, x_type.max_code) for b in (w_low, w_high)]
    shift = accum.fractional - product.fractional
    return accum.min_code <= min(corners) << shift and max(corners) << shift <= accum.max_code


def _exact_matmul(x: np.ndarray, x_type: FixedType, weights: np.ndarray) -> np.ndarray:
    """x @ weights on integer codes, exactly: BLAS when float64 cannot round, else integers."""
    x_bound = max(-x_type.min_code, x_type.max_code)
    w_bound = int(np.abs(weights.astype(object)).sum(axis=0).max()) if weights.size else 0
    bound = x_bound * w_bound
    if bound < _FLOAT_EXACT:
        return (x.astype(np.float64) @ weights.astype(np.float64)).astype(np.int64)
    if bound < _INT64_EXACT and x.dtype != object and weights.dtype != object:
        return x.astype(np.int64) @ weights.astype(np.int64)
    return x.astype(object) @ weights.astype(object)


def _summed_products(x: np.ndarray, weights: np.ndarray, product: FixedType, accum: FixedType) -> np.ndarray:
    """Each product converted into the accumulator (rounding, overflow), then summed exactly."""
    batch, n_in = x.shape
    rows = max(1, _CHUNK_ELEMENTS // max(1, weights.size))
    parts = []
    for start in range(0, batch, rows):
        chunk = x[start:start + rows]
        products = chunk.astype(object)[:, :, None] * weights.astype(object)[None]
        if products.size and max(abs(int(products.min())), abs(int(products.max()))) < _INT64_EXACT:
            products = products.astype(np.int64)
        terms = quantize.convert(products, product, accum)
        if accum.width + n_in.bit_length() >= 62:
            terms = terms.astype(object)
        parts.append(terms.sum(axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, weights.shape[1]), dtype=np.int64)


def emulate_activation(node: Node, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    if node.function == "relu":
        x = np.where(x > 0, x, 0)
    return quantize.convert(x, x_type, node.result_type)


def emulate_scale_shift(node: Node, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, x_type = source
    scaled, scaled_type = quantize.mul(x, x_type, node.scale.codes, node.scale.type)
    total, total_type = quantize.add(scaled, scaled_type, node.shift.codes, node.shift.type)
    return quantize.convert(total, total_type, node.result_type)


def emulate_flatten(node: Node, source: tuple[np.ndarray, FixedType]) -> np.ndarray:
    x, _ = source
    return x.reshape(x.shape[0], -1)


EMULATORS = {
    "input": emulate_input,
    "dense": emulate_dense,
    "activation": emulate_activation,
    "scale_shift": emulate_scale_shift,
    "flatten": emulate_flatten,
}
