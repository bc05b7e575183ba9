"""Integer quantizers as frameworks compute them in float32, and their staircases.

Brevitas (in torch) and QONNX's `Quant` (in numpy) quantize the same way:

    q = clamp(R(fl32(fl32(x / s) + z)), low, high),    value = fl32((q - z) * s)

with `s` the scale, `z` an integer zero point, `R` a rounding and `[low, high]` the range of
`bit_width` bits (signed or not, narrow or not). Clamping before or after R gives the same q,
because R is monotonic and leaves the integer bounds where they are.

A quantizer is monotonic in x, so it is a staircase: q steps up at thresholds, the smallest
float32 inputs reaching each code. `staircase_of` finds them by bisection over float32 bit
patterns with the framework's own float32 arithmetic, so the rounding of `x / s` is mirrored
exactly, for every float32 input. Nothing here imports a framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnhls.errors import NnhlsError

__all__ = [
    "MAX_BIT_WIDTH",
    "MAX_STAIRCASE_BIT_WIDTH",
    "ROUNDINGS",
    "IntQuantizer",
    "float32_below",
    "float32_of_keys",
    "int_codes",
    "int_range",
    "round_float32",
    "scaled_float32",
    "staircase",
    "staircase_of",
]


def _half_up(x):
    # QONNX's HALF_UP, in the input's float32 arithmetic: sign(x) * floor(|x| + 0.5).
    return np.sign(x) * np.floor(np.abs(x) + x.dtype.type(0.5))


def _half_down(x):
    return np.sign(x) * np.ceil(np.abs(x) - x.dtype.type(0.5))


def _up(x):
    return np.sign(x) * np.ceil(np.abs(x))


# The roundings, in float32 numpy as the frameworks compute them. torch.round and np.rint round
# half to even; Brevitas's round to zero is sign(x) * floor(|x|), which is np.trunc. QONNX also
# names HALF_EVEN (= ROUND), DOWN (= ROUND_TO_ZERO), UP (away from zero), HALF_UP (half away from
# zero) and HALF_DOWN (half toward zero).
_ROUNDING_FUNCTIONS = {"ROUND": np.rint, "ROUND_TO_ZERO": np.trunc, "FLOOR": np.floor, "CEIL": np.ceil,
                       "HALF_EVEN": np.rint, "DOWN": np.trunc, "UP": _up, "HALF_UP": _half_up,
                       "HALF_DOWN": _half_down}
ROUNDINGS = tuple(_ROUNDING_FUNCTIONS)
# float32 holds every integer up to 2**24, so codes of up to 24 bits stay exact in float32 arithmetic.
MAX_BIT_WIDTH = 24
# A staircase has one threshold per code; beyond 16 bits it would not be a practical comparison chain.
MAX_STAIRCASE_BIT_WIDTH = 16
# Ordered keys of float32 bit patterns: -inf .. -0 = +0 .. +inf map to -0x7f800000 .. 0x7f800000.
KEY_OF_INFINITY = 0x7F800000


def round_float32(x: np.ndarray, rounding: str) -> np.ndarray:
    """`x` (float32) rounded to integers by `rounding` (one of ROUNDINGS), in float32."""
    return _ROUNDING_FUNCTIONS[rounding](np.asarray(x, dtype=np.float32))


def scaled_float32(x: np.ndarray, scale, zero_point) -> np.ndarray:
    """fl32(fl32(x / scale) + zero_point), as the frameworks compute it (scale and zero point
    float32, broadcast against `x`)."""
    x = np.asarray(x, dtype=np.float32)
    scale, zero_point = np.asarray(scale, dtype=np.float32), np.asarray(zero_point, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return (x / scale).astype(np.float32) + zero_point


def int_codes(x: np.ndarray, scale, zero_point, low: int, high: int, rounding: str) -> np.ndarray:
    """The integer codes q = clamp(R(fl32(fl32(x / scale) + zero_point)), low, high) of float32 `x`,
    as float32 integers (scale and zero point float32, broadcast against `x`)."""
    with np.errstate(invalid="ignore"):
        rounded = round_float32(scaled_float32(x, scale, zero_point), rounding)
    return np.clip(rounded, np.float32(low), np.float32(high)).astype(np.float32)


def int_range(bit_width: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """The smallest and largest code of `bit_width` bits (the frameworks' min_int and max_int)."""
    if signed:
        return -(2 ** (bit_width - 1)) + int(narrow), 2 ** (bit_width - 1) - 1
    return 0, 2**bit_width - 1 - int(narrow)


def to_float32_values(values: np.ndarray, what: str) -> np.ndarray:
    """`values` as float64, after checking that each is a float32 number."""
    values = np.asarray(values, dtype=np.float64)
    if not np.array_equal(values.astype(np.float32).astype(np.float64), values, equal_nan=True):
        raise NnhlsError(f"{what} must hold float32 values (the framework computes in float32); got {values}")
    return values


def along(values: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A per-channel vector shaped to broadcast along `axis` of an array of `ndim` axes."""
    if values.ndim == 0:
        return values
    shape = [1] * ndim
    shape[axis] = values.shape[0]
    return values.reshape(shape)


@dataclass(frozen=True)
class IntQuantizer:
    """An integer quantizer: codes `q` in [low, high], values `(q - zero_point) * scale`.

    `scale` holds float32 values (as float64), of shape () per tensor or (C,) per channel;
    `zero_point` holds integers (as float64) of the same shape. `rounding` is one of `ROUNDINGS`:
    'ROUND' rounds half to even (torch.round), 'ROUND_TO_ZERO' truncates, 'FLOOR' and 'CEIL'.
    Two quantizers are equal when all their fields are.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    bit_width: int
    signed: bool
    narrow: bool
    rounding: str

    def __post_init__(self):
        scale = to_float32_values(self.scale, "IntQuantizer.scale")
        zero_point = np.asarray(self.zero_point, dtype=np.float64)
        if scale.ndim > 1 or zero_point.shape != scale.shape:
            raise NnhlsError(f"IntQuantizer: scale and zero_point need one shape, () or (C,); got "
                             f"{scale.shape} and {zero_point.shape}")
        if not np.array_equal(zero_point, np.rint(zero_point)):
            raise NnhlsError(f"IntQuantizer: the zero point must hold integers; got {zero_point}")
        if self.rounding not in ROUNDINGS:
            raise NnhlsError(f"IntQuantizer: rounding {self.rounding!r} is not one of {ROUNDINGS}")
        if not 1 <= self.bit_width <= MAX_BIT_WIDTH:
            raise NnhlsError(f"IntQuantizer: bit width {self.bit_width} is not in [1, {MAX_BIT_WIDTH}]")
        for name, values in (("scale", scale), ("zero_point", zero_point)):
            values.setflags(write=False)
            object.__setattr__(self, name, values)

    def __eq__(self, other):
        if not isinstance(other, IntQuantizer):
            return NotImplemented
        return (np.array_equal(self.scale, other.scale) and np.array_equal(self.zero_point, other.zero_point)
                and (self.bit_width, self.signed, self.narrow, self.rounding)
                == (other.bit_width, other.signed, other.narrow, other.rounding))

    def __hash__(self):
        return hash((self.scale.tobytes(), self.zero_point.tobytes(), self.bit_width, self.signed, self.narrow,
                     self.rounding))

    @property
    def low(self) -> int:
        """The smallest code (the frameworks' min_int)."""
        return int_range(self.bit_width, self.signed, self.narrow)[0]

    @property
    def high(self) -> int:
        """The largest code (the frameworks' max_int)."""
        return int_range(self.bit_width, self.signed, self.narrow)[1]

    @property
    def per_channel(self) -> bool:
        return self.scale.ndim == 1

    def codes(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        """The codes `q` computed for `x` (rounded to float32 first), as float32 integers.

        A per-channel quantizer's channels run along `axis` of `x`.
        """
        x = np.asarray(x, dtype=np.float32)
        scale = along(self.scale.astype(np.float32), x.ndim, axis)
        zero_point = along(self.zero_point.astype(np.float32), x.ndim, axis)
        return int_codes(x, scale, zero_point, self.low, self.high, self.rounding)

    def quantize(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        """The dequantized float32 output for `x`, as float64 (the numpy reference)."""
        x = np.asarray(x, dtype=np.float32)
        scale = along(self.scale.astype(np.float32), x.ndim, axis)
        zero_point = along(self.zero_point.astype(np.float32), x.ndim, axis)
        values = (self.codes(x, axis) - zero_point) * scale
        return values.astype(np.float32).astype(np.float64)


def float32_of_keys(keys: np.ndarray) -> np.ndarray:
    """The float32 numbers of ordered bit-pattern keys (-0x7f800000 = -inf, 0 = +0, 0x7f800000 = +inf)."""
    keys = np.asarray(keys, dtype=np.int64)
    bits = np.where(keys >= 0, keys, np.int64(0x80000000) | -keys).astype(np.uint32)
    return bits.view(np.float32)


def float32_below(values: np.ndarray) -> np.ndarray:
    """For each float32 above -inf, the float32 just below it."""
    keys = np.asarray(values, dtype=np.float32).view(np.int32).astype(np.int64)
    keys = np.where(keys < 0, -(keys & 0x7FFFFFFF), keys)
    return float32_of_keys(keys[keys > -KEY_OF_INFINITY] - 1)


def staircase_of(function, levels: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A monotonic float32 function as `(thresholds, levels)`: f(x) = levels[k], k = #{t <= x}.

    `function` maps a float32 array to its outputs, non-decreasing in x; `levels` are the outputs
    it can take, ascending, from f(-inf) to f(+inf). Each threshold is the smallest float32 whose
    output reaches its level, found by bisection over float32 bit patterns; outputs no float32
    reaches (when one float32 step crosses several) are left out. The thresholds are ascending
    float32 values (as float64), one fewer than the levels returned.
    """
    levels = np.asarray(levels, dtype=np.float64)
    ends = np.asarray(function(np.array([-np.inf, np.inf], dtype=np.float32)), dtype=np.float64)
    if ends[0] != levels[0] or ends[1] != levels[-1]:
        raise NnhlsError(f"{where}: its outputs at -inf and +inf ({ends[0]}, {ends[1]}) are not the ends of its "
                         f"levels ({levels[0]}, {levels[-1]})")
    targets = levels[1:]
    if targets.size == 0:  # a single output
        return np.zeros(0), levels[:1]
    # Invariant: f(lo) < target <= f(hi); -inf gives the lowest output, +inf the highest.
    lo = np.full(targets.shape, -KEY_OF_INFINITY, dtype=np.int64)
    hi = np.full(targets.shape, KEY_OF_INFINITY, dtype=np.int64)
    while np.any(hi - lo > 1):
        mid = lo + (hi - lo) // 2
        reached = np.asarray(function(float32_of_keys(mid)), dtype=np.float64) >= targets
        hi = np.where(reached, mid, hi)
        lo = np.where(reached, lo, mid)
    thresholds = float32_of_keys(hi).astype(np.float64)
    # Equal thresholds: one float32 step crosses several outputs; keep the last of each run.
    reached_alone = np.append(thresholds[:-1] < thresholds[1:], True)
    return thresholds[reached_alone], np.concatenate([levels[:1], targets[reached_alone]])


def staircase(quantizer: IntQuantizer, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A per-tensor quantizer as `(thresholds, levels)`: output `levels[k] * scale`, k = #{t <= x}.

    `thresholds` are ascending float32 values (as float64), `levels` the integers `q - zero_point`
    (int64), one more than thresholds. For every float32 x (including -0, +-inf), the number of
    thresholds at or below x picks exactly the code the quantizer's float32 arithmetic computes
    (`IntQuantizer.codes`; see `staircase_of`).
    """
    if quantizer.per_channel:
        raise NnhlsError(f"{where}: its quantizer has a scale per channel; a staircase needs one scale per tensor")
    if quantizer.bit_width > MAX_STAIRCASE_BIT_WIDTH:
        raise NnhlsError(f"{where}: a {quantizer.bit_width}-bit quantizer has too many levels for a staircase "
                         f"(at most {MAX_STAIRCASE_BIT_WIDTH} bits)")
    codes = np.arange(quantizer.low, quantizer.high + 1, dtype=np.float64)
    thresholds, levels = staircase_of(quantizer.codes, codes, where)
    return thresholds, (levels - int(quantizer.zero_point)).astype(np.int64)
