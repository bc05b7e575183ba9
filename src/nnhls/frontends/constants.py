"""Constants a frontend makes exactly typed: what the framework computes with, whatever the
configuration says."""

from __future__ import annotations

import numpy as np

from nnhls.ir import Weights
from nnhls.types import IntType, exact_type

__all__ = ["exact_weights", "zero_weights"]

# The type of constants that add nothing: a layer without a bias, or one whose bias moved after its scale.
_ZERO_TYPE = IntType(1, signed=False)


def exact_weights(values) -> Weights:
    """Framework constants that the arithmetic must see exactly (thresholds, bounds, scales)."""
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    return Weights(values, quantizer=exact_type(values))


def zero_weights(n: int) -> Weights:
    """n zeros of a one-bit type: exact whatever the configuration says, and they cost nothing."""
    return Weights(np.zeros(n), quantizer=_ZERO_TYPE)
