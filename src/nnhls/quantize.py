"""The numpy reference of fixed-point conversion and arithmetic, bit-exact with `ap_fixed`.

Every value is held as an integer *code*: the value times 2**F for a type with F fractional bits.
Conversion into a type follows FIXED_POINT.md: the source's extra fractional bits are dropped
with a floor, one LSB is added where the rounding mode asks for it, and then the overflow mode is
applied to the rounded value. Results are int64 arrays where the type's codes fit in 64 bits and
object arrays of Python ints otherwise, so any width up to the vendor's 1024 bits is exact.

Arrays whose values and types fit comfortably in 60 bits take an int64 path; anything wider
takes the same code path on object arrays of Python ints, which numpy applies element by element.

Codes may also be held in float32 or float64 arrays, exactly (integers below 2**24 and 2**53):
the emulator's fast form, since numpy's float arithmetic is several times faster than its int64
arithmetic. `from_codes` converts such codes in float arithmetic wherever every step is exact
(scaling by a power of two, floor, rint, clipping), giving float codes back, and through int64
otherwise; `from_float(..., float_codes=True)` gives them.
"""

from __future__ import annotations

import functools

import numpy as np

from nnhls.types import FixedType, add_type, div_type, mul_type, neg_type, sub_type

__all__ = [
    "add",
    "convert",
    "div",
    "from_codes",
    "from_float",
    "mul",
    "neg",
    "sub",
    "to_float",
]

# int64 arithmetic is used while every intermediate stays below 2**61 in magnitude.
_FAST_BITS = 60


def from_float(values, to: FixedType, *, count_overflow: bool = False, float_codes: bool = False):
    """Convert real values (anything numpy makes a float64 array of) exactly into codes of `to`.

    A float is an exact binary fraction, so this is `from_codes` applied to its exact value.
    Returns the codes, or `(codes, n_overflowed)` with `count_overflow=True`; with `float_codes`
    the codes may come in a float array (float32 where `to`'s codes fit in 24 bits), and float32
    values are converted as they are (every step below is exact in float32 as well).
    """
    if float_codes and isinstance(values, np.ndarray) and values.dtype == np.float32 and values.ndim:
        x = values
    else:
        x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0:
        return _scalar_call(from_float, x, to, count_overflow=count_overflow)
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)  # NaN comes through min and max
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = x[~np.isfinite(x)].flat[0]
        raise ValueError(f"cannot convert {bad} into {to}: only finite values have a fixed-point code")
    if float_codes and x.size:
        converted = _float_from_float(x, low, high, to, count_overflow)
        if converted is not None:
            return converted
    x = x.astype(np.float64, copy=False)
    frac_bits = to.fractional
    exponent = np.frexp(x)[1].astype(np.int64)  # |x| < 2**exponent
    # Below 2**-1000 after scaling, a value only matters through its sign: it floors to 0 or -1
    # with a non-zero remainder, exactly as +-0.25 does, and +-0.25 scales without underflow.
    tiny = (x != 0) & (exponent + frac_bits < -1000)
    huge = exponent + frac_bits > _FAST_BITS
    special = tiny | huge
    scaled = np.where(special, np.copysign(0.25, x), np.ldexp(np.where(special, 0.0, x), frac_bits))
    floor = np.floor(scaled)
    remainder = scaled - floor  # exact: a double minus its own floor always is
    half_bit = remainder >= 0.5
    sticky = (remainder != 0) & (remainder != 0.5)
    floor = floor.astype(np.int64)
    if huge.any() or to.width > _FAST_BITS:
        floor = floor.astype(object)
        for index in zip(*np.nonzero(huge)):
            # At least 2**60 after scaling, a double is an integer; its exact value is p/q.
            numerator, denominator = float(x[index]).as_integer_ratio()
            if frac_bits >= 0:
                floor[index] = (numerator << frac_bits) // denominator
            else:
                floor[index] = numerator // (denominator << -frac_bits)
            half_bit[index] = sticky[index] = False
    return _round_and_fit(floor, half_bit, sticky, x < 0, to, count_overflow)


def from_codes(codes, frac_bits: int, to: FixedType, *, count_overflow: bool = False,
               bounds: tuple[int, int] | None = None, float_codes: bool = False):
    """Convert integer codes with `frac_bits` fractional bits into codes of type `to`.

    `frac_bits` may be negative. `bounds`, when given, are a lower and an upper bound of the
    codes (a type's range), which saves a pass over them. Returns the codes, or
    `(codes, n_overflowed)` with `count_overflow=True`. With `float_codes`, `codes` may be held
    in a float array (integers exactly, as the emulator holds them), and the result may be too.
    """
    v = np.asarray(codes)
    if v.ndim == 0:
        return _scalar_call(from_codes, v, frac_bits, to, count_overflow=count_overflow)
    if v.dtype.kind == "b":
        v = v.astype(np.int64)
    elif float_codes and v.dtype in _FLOAT_BITS:  # codes held in floats
        converted = _float_from_codes(v, int(frac_bits), to, count_overflow, bounds)
        if converted is not None:
            return converted
        v = v.astype(np.int64)  # exact: float codes are integers below 2**53
    elif v.dtype.kind not in "iuO":
        raise TypeError(f"from_codes needs integer codes, got dtype {v.dtype}; use from_float for real values")
    shift = int(frac_bits) - to.fractional
    if bounds is not None:
        low, high = bounds
    else:
        low, high = (int(v.min()), int(v.max())) if v.size else (0, 0)
    if shift <= 0 and _fits(low << -shift, high << -shift, to):
        # Nothing to round and nothing outside the range: the codes only move left.
        narrow = to.width + (not to.signed) <= 64
        if narrow and v.dtype != object and max(abs(low), abs(high)).bit_length() - shift <= 62:
            codes = v.astype(np.int64) << -shift
        else:
            codes = v.astype(object) << -shift
            codes = codes.astype(np.int64) if narrow else codes
        return (codes, 0) if count_overflow else codes
    magnitude = max(abs(low), abs(high))
    fast = to.width <= _FAST_BITS and magnitude.bit_length() + max(-shift, 0) <= _FAST_BITS
    v = np.asarray(v, dtype=np.int64 if fast else object)
    if shift <= 0:
        return _fit(v << -shift, lambda: v < 0, to, count_overflow)
    if fast:
        # Shifting by 62 or more gives the same floor, half bit and sticky bit as shifting by 62
        # for |v| < 2**60, and int64 shifts must stay below 64.
        shift = min(shift, 62)
    half = 1 << (shift - 1)
    # Only AP_WRAP_SM reads the floor, and only its bit W; int64 shifts are capped as above.
    def floor_bit():
        return (v >> (min(shift + to.width, 62) if fast else shift + to.width)) & 1

    # The common modes in one pass: adding just under half an LSB, plus the floor's lowest bit
    # for ties to even, before the floor rounds exactly as the half and sticky bits say.
    if to.rounding == "TRN":
        return _fit(v >> shift, lambda: v < 0, to, count_overflow)
    if to.rounding == "RND":
        return _fit((v + half) >> shift, lambda: v < 0, to, count_overflow, floor_bit)
    if to.rounding == "RND_CONV":
        rounded = (v + (half - 1) + ((v >> shift) & 1)) >> shift
        return _fit(rounded, lambda: v < 0, to, count_overflow, floor_bit)
    floor = v >> shift
    half_bit = ((v >> (shift - 1)) & 1).astype(bool)
    sticky = (v & ((1 << (shift - 1)) - 1)) != 0
    return _round_and_fit(floor, half_bit, sticky, v < 0, to, count_overflow)


# Significand bits of the floats that hold codes: every integer below 2**bits is exact.
_FLOAT_BITS = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}
# Rounding to an integer in float arithmetic, on values scaled by a power of two. Every function
# but those adding a half is exact on any float; those are exact where the sum is (checked).
_FLOAT_ROUNDING = {
    "TRN": np.floor,
    "RND_CONV": np.rint,  # IEEE rounding to the nearest, ties to even
    "TRN_ZERO": np.trunc,
    "RND": lambda y: np.floor(y + y.dtype.type(0.5)),
    "RND_MIN_INF": lambda y: np.ceil(y - y.dtype.type(0.5)),
    "RND_INF": lambda y: np.copysign(np.floor(np.abs(y) + y.dtype.type(0.5)), y),
    "RND_ZERO": lambda y: np.copysign(np.ceil(np.abs(y) - y.dtype.type(0.5)), y),
}


def float_dtype(bits: int):
    """The float type that holds every code of `bits` bits (sign included) exactly, or None."""
    return np.float32 if bits <= 24 else np.float64 if bits <= 53 else None


def _float_from_codes(v: np.ndarray, frac_bits: int, to: FixedType, count_overflow: bool, bounds):
    """from_codes on float codes in float arithmetic, or None where some step might round."""
    if bounds is None:
        bounds = (int(v.min()), int(v.max())) if v.size else (0, 0)
    plan = _float_plan(v.dtype, frac_bits, to, *bounds)
    if plan is None:
        return None
    dtype, scale, rounding, low, high = plan
    if v.dtype != dtype:
        v = v.astype(dtype)
    y = v * scale if scale != 1 else v
    if rounding is not None:
        y = rounding(y, out=y) if rounding in (np.floor, np.rint, np.trunc) else rounding(y)
    return _float_fit(y, low, high, v, to, count_overflow)


@functools.lru_cache(maxsize=4096)
def _float_plan(dtype: np.dtype, frac_bits: int, to: FixedType, low: int, high: int):
    """How float codes of `dtype` within [low, high] convert in float arithmetic: (the float type
    to work in, the power-of-two scale, the rounding function or None, the rounded bounds); None
    where some step might round. Worked out once per conversion the emulator meets."""
    if to.width + (not to.signed) > _FLOAT_BITS[dtype]:
        if to.width + (not to.signed) > 53:
            return None
        dtype = np.dtype(np.float64)
    bits = _FLOAT_BITS[dtype]
    low, high = max(low, -(1 << bits)), min(high, 1 << bits)  # what float codes can hold: the bounds stay exact
    shift = frac_bits - to.fractional
    magnitude = max(abs(low), abs(high))
    if shift <= 0:
        if magnitude.bit_length() - shift > 120:  # a product that would not fit a float32's exponent
            return None
        return dtype, dtype.type(2.0 ** -shift), None, low << -shift, high << -shift
    rounding = _FLOAT_ROUNDING.get(to.rounding)
    halves = to.rounding not in ("TRN", "RND_CONV", "TRN_ZERO")
    if rounding is None or shift > 120 or (halves and magnitude + (1 << (shift - 1)) >= 1 << bits):
        return None
    return (dtype, dtype.type(2.0 ** -shift), rounding, _rounded(low, shift, to.rounding),
            _rounded(high, shift, to.rounding))


def _rounded(code: int, shift: int, mode: str) -> int:
    """One integer code shifted right by `shift` (> 0) and rounded as `mode` says."""
    floor = code >> shift
    rest, half = code - (floor << shift), 1 << (shift - 1)
    up = {"TRN": False, "TRN_ZERO": rest != 0 and code < 0, "RND": rest >= half, "RND_MIN_INF": rest > half,
          "RND_CONV": rest > half or (rest == half and floor & 1 == 1),
          "RND_INF": rest > half or (rest == half and code >= 0),
          "RND_ZERO": rest > half or (rest == half and code < 0)}[mode]
    return floor + up


def _float_fit(y: np.ndarray, low: int, high: int, source: np.ndarray, to: FixedType, count_overflow: bool):
    """The overflow mode of `to` on rounded float codes y within [low, high] (`source` is the
    caller's array, never changed in place), or None where it is not done in floats."""
    if _fits(low, high, to):
        return (y, 0) if count_overflow else y
    mode = to.overflow
    if mode in ("WRAP", "SAT_ZERO") and y.size:  # dearer than a look at the values' own range
        low, high = int(y.min()), int(y.max())
        if _fits(low, high, to):
            return (y, 0) if count_overflow else y
    lowest, highest = (-to.max_code if _symmetric(to) else to.min_code), to.max_code
    if mode == "WRAP" and to.sat_bits == 0 and max(abs(low), abs(high)) + (1 << to.width) < 1 << _FLOAT_BITS[y.dtype]:
        pass
    elif mode not in ("SAT", "SAT_SYM", "SAT_ZERO"):
        return None
    n_overflowed = int(np.count_nonzero(y < lowest) + np.count_nonzero(y > highest)) if count_overflow else 0
    if y is source:
        y = y.copy()
    if mode == "SAT_ZERO":
        y[(y < lowest) | (y > highest)] = 0
    elif mode == "WRAP":  # the low W bits: the value moved into [min, min + 2**W) by multiples of 2**W
        y -= lowest
        np.mod(y, y.dtype.type(2.0 ** to.width), out=y)
        y += lowest
    else:
        clip(y, lowest, highest, out=y)
    return (y, n_overflowed) if count_overflow else y


def _float_from_float(x: np.ndarray, low: float, high: float, to: FixedType, count_overflow: bool):
    """from_float into float codes of values x within [low, high], or None where it is not done
    in floats: scaling by 2**F (F >= 0) is exact, and floor and rint decide exactly; RND adds to
    the floor where the exact remainder is at least a half."""
    dtype = float_dtype(to.width + (not to.signed))
    if dtype is None or to.fractional < 0 or to.rounding not in ("TRN", "RND", "RND_CONV"):
        return None
    if max(-low, high) * 2.0 ** to.fractional >= 2.0**52:
        return None
    if dtype == np.float64:  # codes too wide for float32: every step in float64
        x = x.astype(np.float64, copy=False)
    def rounding(y):  # y is this function's own array
        if to.rounding == "RND_CONV":
            return np.rint(y, out=y)
        if to.rounding == "TRN":
            return np.floor(y, out=y)
        floor = np.floor(y)
        return floor + (y - floor >= 0.5)
    y = rounding(x * x.dtype.type(2.0 ** to.fractional))
    low, high = (int(b) for b in rounding(np.array([low, high]) * 2.0 ** to.fractional))
    fitted = _float_fit(y, low, high, x, to, count_overflow)
    if fitted is None:
        return None
    codes = fitted[0] if count_overflow else fitted
    codes = codes.astype(dtype, copy=False)
    return (codes, fitted[1]) if count_overflow else codes


# Below this many values np.clip's own checks of its bounds cost more than a second pass.
_SMALL = 4096


def clip(values: np.ndarray, low, high, out=None) -> np.ndarray:
    """np.clip(values, low, high, out=out), without np.clip's checks where values are few."""
    if values.size >= _SMALL:
        return np.clip(values, low, high, out=out)
    return np.minimum(np.maximum(values, low, out=out), high, out=out)


def _fits(low: int, high: int, to: FixedType) -> bool:
    """Whether every code in [low, high] passes through `to`'s overflow mode unchanged."""
    lowest = -to.max_code if _symmetric(to) else to.min_code
    return lowest <= low and high <= to.max_code


def _symmetric(to: FixedType) -> bool:
    """Whether `to` saturates to -max instead of min. A 1-bit signed type has max 0, and the
    vendor saturates it like AP_SAT (to -1) rather than to -max = 0."""
    return to.overflow == "SAT_SYM" and to.signed and to.width > 1


def _scalar_call(function, value, *args, count_overflow: bool):
    # The array code indexes and reshapes; a 0-d input goes through as one element.
    result = function(value.reshape(1), *args, count_overflow=count_overflow)
    if count_overflow:
        return result[0].reshape(()), result[1]
    return result.reshape(())


def convert(codes, from_type: FixedType, to: FixedType, *, count_overflow: bool = False,
            float_codes: bool = False):
    """Convert codes of `from_type` (within its range) into codes of `to`, as assignment between
    ap_fixed types does (`float_codes` as for from_codes)."""
    return from_codes(codes, from_type.fractional, to, count_overflow=count_overflow,
                      bounds=(from_type.min_code, from_type.max_code), float_codes=float_codes)


def to_float(codes, of_type: FixedType) -> np.ndarray:
    """The real values of codes as float64 (exact while the codes fit in 53 bits)."""
    return np.ldexp(np.asarray(codes).astype(np.float64), -of_type.fractional)


def _rounding_increment(mode: str, floor, half_bit, sticky, negative):
    """Where one LSB must be added after the floor (FIXED_POINT.md, quantization table)."""
    if mode == "TRN_ZERO":
        return negative & (half_bit | sticky)
    if mode == "RND":
        return half_bit
    if mode == "RND_ZERO":
        return half_bit & (negative | sticky)
    if mode == "RND_MIN_INF":
        return half_bit & sticky
    if mode == "RND_INF":
        return half_bit & (~negative | sticky)
    if mode == "RND_CONV":
        return half_bit & ((floor & 1).astype(bool) | sticky)
    raise AssertionError(f"unhandled rounding mode {mode}")


def _round_and_fit(floor, half_bit, sticky, negative, to: FixedType, count_overflow: bool):
    rounded = floor
    if to.rounding != "TRN":
        increment = _rounding_increment(to.rounding, floor, half_bit, sticky, negative)
        rounded = floor + (increment.astype(object) if floor.dtype == object else increment)
    return _fit(rounded, negative, to, count_overflow, lambda: (floor >> to.width) & 1)


def _fit(rounded, negative, to: FixedType, count_overflow: bool, floor_bit=None):
    """Apply the overflow mode of `to` to rounded codes; `negative` is the sign of the source (or a
    function computing it, called only by the modes that need it). `floor_bit` computes bit W of
    the codes before rounding, which AP_WRAP_SM reads; None when nothing was rounded."""
    codes = _apply_overflow(rounded, negative, to, floor_bit)
    if codes.dtype == object and to.width + (not to.signed) <= 64:
        codes = codes.astype(np.int64)
    if count_overflow:
        return codes, int(np.count_nonzero(codes != rounded))
    return codes


def _apply_overflow(y, negative, to: FixedType, floor_bit=None):
    width = to.width
    # numpy turns a Python int constant into a fixed-width scalar; wide ones must stay objects.
    k = (lambda value: np.array(value, dtype=object)) if y.dtype == object else (lambda value: value)
    lowest, highest = k(to.min_code), k(to.max_code)
    mode = to.overflow
    if mode in ("SAT", "SAT_SYM"):
        if _symmetric(to):
            lowest = -highest  # also maps an in-range most-negative code to -max
        return clip(y, lowest, highest) if y.dtype != object else np.minimum(np.maximum(y, lowest), highest)
    if callable(negative):  # the sign of the source, computed only for the modes that need it
        negative = negative()
    outside = (y < lowest) | (y > highest)
    if mode == "SAT_ZERO":
        return np.where(outside, 0, y)
    mask, sign_bit = (1 << width) - 1, 1 << (width - 1)
    low = y & mask
    n = to.sat_bits
    if mode == "WRAP" and n > 0:
        top_n = mask ^ ((1 << (width - n)) - 1)  # bits W-N .. W-1
        if to.signed:
            below_sign = top_n ^ sign_bit  # bits W-N .. W-2
            saturated = (low & ~top_n) | np.where(negative, k(sign_bit), k(below_sign))
        else:
            saturated = low | top_n
        low = np.where(outside, saturated, low)
    elif mode == "WRAP_SM":
        above = (y >> width) & 1 if floor_bit is None else floor_bit()
        low = np.where(outside, _wrap_sign_magnitude(above, low, negative, width, n, k), low)
    if to.signed:
        low = low - ((low & sign_bit) << 1)
    return low


def _wrap_sign_magnitude(above, low, negative, width: int, n: int, k):
    """AP_WRAP_SM on the low W bits `low` of the rounded value; `above` is bit W of the value
    before rounding (docs/fixed_point.md)."""
    mask, sign_bit = (1 << width) - 1, 1 << (width - 1)
    kept_msb = (low & sign_bit) != 0
    if n == 0:
        next_dropped = above != 0
        flipped = (~low & (mask ^ sign_bit)) | np.where(next_dropped, k(sign_bit), 0)
        return np.where(next_dropped != kept_msb, flipped, low)
    if n == 1:
        flipped = (~low & (mask ^ sign_bit)) | np.where(negative, k(sign_bit), 0)
        return np.where(negative != kept_msb, flipped, low)
    lowest_saturated = ((low >> (width - n)) & 1) != 0
    low = np.where(lowest_saturated == negative, ~low & mask, low)
    below_sign = (mask ^ ((1 << (width - n)) - 1)) ^ sign_bit
    return (low & ~(below_sign | sign_bit)) | np.where(negative, k(sign_bit), k(below_sign))


# Full-precision arithmetic on codes: the result's type is the C++ result type, and the codes are
# exact (no rounding happens inside an expression).


def _work(codes, bits: int):
    """Codes as int64 when `bits` fit comfortably, else as Python ints (the caller's own array
    where it is one already: the arithmetic below makes new arrays, never changing its operands)."""
    return np.asarray(codes).astype(np.int64 if bits <= 62 else object, copy=False)


def _aligned(codes, of_type: FixedType, result: FixedType):
    shift = result.fractional - of_type.fractional
    return _work(codes, result.width) << shift if shift else _work(codes, result.width)


def add(a, a_type: FixedType, b, b_type: FixedType):
    """`a + b` in full precision: returns (codes, result type)."""
    result = add_type(a_type, b_type)
    return _aligned(a, a_type, result) + _aligned(b, b_type, result), result


def sub(a, a_type: FixedType, b, b_type: FixedType):
    """`a - b` in full precision: returns (codes, result type)."""
    result = sub_type(a_type, b_type)
    return _aligned(a, a_type, result) - _aligned(b, b_type, result), result


def mul(a, a_type: FixedType, b, b_type: FixedType):
    """`a * b` in full precision: returns (codes, result type)."""
    result = mul_type(a_type, b_type)
    return _work(a, result.width) * _work(b, result.width), result


def neg(a, a_type: FixedType):
    """`-a` in full precision: returns (codes, result type)."""
    result = neg_type(a_type)
    return -_work(a, result.width), result


def div(a, a_type: FixedType, b, b_type: FixedType):
    """`a / b` as ap_fixed divides: the code is truncated toward zero. Returns (codes, type).

    The vendor divides in a register of max(W1 + max(F2, 0) + [S2 and not S1], W2 + [S1 and not
    S2]) bits, so where that register is just wide enough for the shifted dividend, the most
    negative dividend divided by -1 wraps to itself."""
    result = div_type(a_type, b_type)
    bits = max(result.width, b_type.width) + 1
    numerator = _work(a, bits) << max(b_type.fractional, 0)
    denominator = _work(b, bits)
    if np.any(denominator == 0):
        raise ZeroDivisionError(f"division of {a_type} by a zero {b_type}")
    quotient = abs(numerator) // abs(denominator)
    quotient = np.where((numerator < 0) != (denominator < 0), -quotient, quotient)
    dividend_bits = a_type.width + max(b_type.fractional, 0)
    if a_type.signed and b_type.signed and b_type.width <= dividend_bits:
        wrapped = 1 << (dividend_bits - 1)
        quotient = np.where(quotient == wrapped, -quotient, quotient)
    return quotient, result
