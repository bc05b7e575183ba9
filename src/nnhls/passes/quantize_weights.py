"""Quantize every constant once, into its type's integer codes."""

from __future__ import annotations

import warnings

import numpy as np

from nnhls import quantize
from nnhls.errors import NnhlsError
from nnhls.ir import Graph, Weights
from nnhls.types import FixedType

# Constants are written as exact integer codes of any width (hls/emitters.py); nnhls's C
# simulation types (hls/include/ap_types) hold at most 128 bits.
MAX_CONSTANT_WIDTH = 128


def quantize_weights(graph: Graph) -> bool:
    """Give every Weights exact codes of a FixedType. Returns whether anything changed."""
    changed = False
    for node in graph.every_node():
        for role, weights in node.constants():
            if weights.codes is None:
                if role in ("slope", "tail_scale") and weights.type is None and weights.quantizer is None:
                    weights.type = node.param_type
                _quantize(node.name, role, weights)
                changed = True
    return changed


def _quantize(layer: str, role: str, weights: Weights) -> None:
    if not isinstance(weights.type, FixedType):  # auto: the framework's own type is the exact one
        if weights.quantizer is None:
            raise NnhlsError(f"layer {layer!r}: {role} precision 'auto' needs a quantized layer; "
                             f"set {role} to a type such as 'ap_fixed<16,6>'")
        weights.type = weights.quantizer
    if weights.type.width > MAX_CONSTANT_WIDTH:
        raise NnhlsError(f"layer {layer!r}: {role} type {weights.type} is wider than {MAX_CONSTANT_WIDTH} bits, "
                         f"the most nnhls's C simulation types hold; use at most {MAX_CONSTANT_WIDTH} bits")
    if not np.all(np.isfinite(weights.values)):
        bad = weights.values[~np.isfinite(weights.values)].reshape(-1)[0]
        raise NnhlsError(f"layer {layer!r}: its {role} holds {bad}, which has no fixed-point code; the model's "
                         "constants must be finite numbers")
    weights.codes, n_overflow = quantize.from_float(weights.values, weights.type, count_overflow=True)
    if n_overflow:
        warnings.warn(f"layer {layer!r}: {n_overflow} of {weights.values.size} {role} values lie outside "
                      f"{weights.type} and were {'saturated' if 'SAT' in weights.type.overflow else 'wrapped'}; "
                      "widen the integer bits of its precision", stacklevel=3)
