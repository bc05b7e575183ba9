"""Fixed-point types: `FixedType`, `IntType`, precision-string parsing and printing, result types.

A `FixedType` mirrors the vendor's `ap_[u]fixed<W, I, Q, O, N>`: W bits in total, I of them integer
bits including the sign bit (I may be negative or larger than W), a rounding mode Q and an overflow
mode O (applied only when a value is converted into the type) and N saturation bits for the wrap
modes. `IntType` is `ap_[u]int<W>`, i.e. a FixedType with I = W. The numeric rules live in
`nnhls.quantize`; this module only describes types.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from nnhls.errors import PrecisionError

__all__ = [
    "AUTO",
    "FixedType",
    "IntType",
    "MAX_WIDTH",
    "OVERFLOW_MODES",
    "ROUNDING_MODES",
    "add_type",
    "div_type",
    "exact_type",
    "mul_type",
    "neg_type",
    "parse_precision",
    "result_type",
    "sub_type",
]

# Index in each tuple = the vendor's enum value, so log spellings like `(ap_q_mode)5` parse too.
ROUNDING_MODES = ("RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV", "TRN", "TRN_ZERO")
OVERFLOW_MODES = ("SAT", "SAT_ZERO", "SAT_SYM", "WRAP", "WRAP_SM")

# The vendor's default limit for arbitrary-precision widths.
MAX_WIDTH = 1024


def _mode_name(value, valid: tuple[str, ...], what: str) -> str:
    """Normalise a mode given as 'AP_RND_CONV', 'rnd_conv', '(ap_q_mode)4' or 4 to 'RND_CONV'."""
    if value in valid:  # already a canonical name: the common case, in every type nnhls derives
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(valid):
            return valid[value]
    elif isinstance(value, str):
        text = re.sub(r"\s+", "", value).upper()
        text = re.sub(r"^\(AP_[QO]_MODE\)", "", text)
        if text.isdigit() and int(text) < len(valid):
            return valid[int(text)]
        if text.startswith("AP_"):
            text = text[3:]
        if text in valid:
            return text
    raise PrecisionError(
        f"{what} mode {value!r} is unknown; valid: {', '.join('AP_' + m for m in valid)}"
    )


@dataclass(frozen=True)
class FixedType:
    """`ap_fixed<width, integer, rounding, overflow, sat_bits>` (`ap_ufixed` when not signed)."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"
    sat_bits: int = 0

    def __post_init__(self):
        for name in ("width", "integer", "sat_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise PrecisionError(f"{name} must be an integer, got {value!r}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise PrecisionError(f"width must be between 1 and {MAX_WIDTH}, got {self.width}")
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "rounding", _mode_name(self.rounding, ROUNDING_MODES, "rounding"))
        object.__setattr__(self, "overflow", _mode_name(self.overflow, OVERFLOW_MODES, "overflow"))
        if not 0 <= self.sat_bits <= self.width:
            raise PrecisionError(
                f"saturation bits N must be between 0 and the width {self.width}, got {self.sat_bits}"
            )
        if self.overflow == "WRAP_SM" and not self.signed:
            raise PrecisionError("AP_WRAP_SM is defined for signed types only; use AP_WRAP for unsigned")

    @functools.cached_property  # asked for at every conversion
    def fractional(self) -> int:
        """Number of fractional bits F = W - I (negative when I > W)."""
        return self.width - self.integer

    @functools.cached_property  # asked for at every conversion
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @functools.cached_property  # asked for at every conversion
    def max_code(self) -> int:
        return (1 << (self.width - self.signed)) - 1

    @property
    def lsb(self) -> float:
        """The value of one step of the type (2**-F)."""
        return 2.0 ** -self.fractional

    @property
    def min_value(self) -> float:
        return self.min_code * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_code * self.lsb

    def __str__(self) -> str:
        args = [str(self.width), str(self.integer)]
        if self.sat_bits:
            args += ["AP_" + self.rounding, "AP_" + self.overflow, str(self.sat_bits)]
        elif self.overflow != "WRAP":
            args += ["AP_" + self.rounding, "AP_" + self.overflow]
        elif self.rounding != "TRN":
            args += ["AP_" + self.rounding]
        return f"ap_{'' if self.signed else 'u'}fixed<{','.join(args)}>"

    @property
    def cpp(self) -> str:
        """The C++ spelling of the type."""
        return str(self)


class IntType(FixedType):
    """`ap_int<width>` (`ap_uint<width>` when not signed): no fractional bits, TRN and WRAP."""

    def __init__(self, width: int, signed: bool = True):
        super().__init__(width, width, signed)

    def __str__(self) -> str:
        return f"ap_{'' if self.signed else 'u'}int<{self.width}>"

    def __repr__(self) -> str:
        return f"IntType({self.width}, signed={self.signed})"


class _Auto:
    """The precision `auto`: a type left for nnhls to infer."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __str__(self) -> str:
        return "auto"

    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()

_PRECISION = re.compile(r"^(?:ap_)?(u?)(fixed|int)<(.*)>$")


def _parse_int(text: str, what: str, precision: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise PrecisionError(f"precision {precision!r}: {what} {text!r} is not an integer")
    return int(text)


def parse_precision(precision) -> FixedType | _Auto:
    """Parse a precision string (any case, spaces allowed) into a FixedType, IntType or AUTO.

    Accepts `ap_fixed<W,I>`, `ap_fixed<W,I,Q>`, `ap_fixed<W,I,Q,O>`, `ap_fixed<W,I,Q,O,N>`,
    the same for `ap_ufixed`, `fixed` and `ufixed`, `ap_int<W>`, `ap_uint<W>`, `int<W>`, `uint<W>`,
    and `auto`. Modes may be written with or without `AP_`, or as the vendor's enum numbers.
    A FixedType or AUTO passes through unchanged.
    """
    if isinstance(precision, (FixedType, _Auto)):
        return precision
    if not isinstance(precision, str):
        raise PrecisionError(f"precision must be a string such as 'ap_fixed<16,6>', got {precision!r}")
    text = re.sub(r"\s+", "", precision)
    if text.lower() == "auto":
        return AUTO
    match = _PRECISION.match(text.lower())
    if not match:
        raise PrecisionError(
            f"precision {precision!r} is not understood; expected ap_fixed<W,I[,Q[,O[,N]]]>, "
            "ap_ufixed<...>, fixed<...>, ufixed<...>, ap_int<W>, ap_uint<W>, int<W>, uint<W> or auto"
        )
    unsigned, kind, _ = match.groups()
    body = text[text.index("<") + 1 : -1]  # arguments in the user's own case, for messages
    args = body.split(",") if body else []
    try:
        if kind == "int":
            if len(args) != 1:
                raise PrecisionError(
                    f"precision {precision!r}: {kind} takes exactly one argument, the width, e.g. 'ap_int<8>'"
                )
            return IntType(_parse_int(args[0], "width", precision), signed=not unsigned)
        if not 2 <= len(args) <= 5:
            raise PrecisionError(
                f"precision {precision!r}: fixed types take 2 to 5 arguments <W,I,Q,O,N>, "
                f"got {len(args)}; for example 'ap_fixed<16,6>'"
            )
        width = _parse_int(args[0], "width", precision)
        integer = _parse_int(args[1], "integer bits", precision)
        rounding = args[2] if len(args) > 2 else "TRN"
        overflow = args[3] if len(args) > 3 else "WRAP"
        sat_bits = _parse_int(args[4], "saturation bits", precision) if len(args) > 4 else 0
        return FixedType(width, integer, not unsigned, rounding, overflow, sat_bits)
    except PrecisionError as error:
        message = str(error)
        if repr(precision) not in message:
            message = f"precision {precision!r}: {message}"
        raise PrecisionError(message) from None


def exact_type(values) -> FixedType:
    """The narrowest type (at least 0 fractional bits) holding every one of `values` exactly.

    Floats are binary fractions, so such a type always exists (up to 1024 + 1074 bits).
    """
    import numpy as np

    values = np.asarray(values, dtype=np.float64).reshape(-1)
    nonzero = values[values != 0]
    if not nonzero.size:
        return FixedType(1, 1, signed=False)
    mantissa, exponent = np.frexp(np.abs(nonzero))  # |v| = mantissa * 2**exponent, mantissa in [0.5, 1)
    significand = np.ldexp(mantissa, 53).astype(np.int64)  # |v| = significand * 2**(exponent - 53)
    lowest_bit = np.log2(significand & -significand).astype(np.int64)  # exact: a power of two
    frac = max(int((53 - exponent - lowest_bit).max()), 0)
    # Scaled by 2**frac the extreme values are integers with at most 53 significant bits: exact.
    low, high = int(np.ldexp(values.min(), frac)), int(np.ldexp(values.max(), frac))
    width = max(high.bit_length(), (-low - 1).bit_length()) + 1 if low < 0 else max(high.bit_length(), 1)
    return FixedType(width, width - frac, signed=low < 0)


# Result types of full-precision arithmetic (FIXED_POINT.md section 1). Both operands IntType
# gives an IntType, as ap_int arithmetic stays ap_int in C++; the numbers are the same either way.


def _result(width: int, integer: int, signed: bool, a: FixedType, b: FixedType) -> FixedType:
    return _made(width, integer, signed, isinstance(a, IntType) and isinstance(b, IntType))


@functools.lru_cache(maxsize=4096)
def _made(width: int, integer: int, signed: bool, both_int: bool) -> FixedType:
    """The result type, made once (the emulator asks for the same ones at every chunk of a batch)."""
    if both_int and width == integer:
        return IntType(width, signed)
    return FixedType(width, integer, signed)


def _sum_integer_bits(a: FixedType, b: FixedType) -> int:
    # An unsigned operand needs one more integer bit to sit in a signed result.
    return max(a.integer + (b.signed and not a.signed), b.integer + (a.signed and not b.signed))


def mul_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of `a * b`: W1+W2 bits, I1+I2 integer bits."""
    return _result(a.width + b.width, a.integer + b.integer, a.signed or b.signed, a, b)


def add_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of `a + b`: one integer bit more than the wider operand, all fractional bits kept."""
    integer = _sum_integer_bits(a, b) + 1
    return _result(integer + max(a.fractional, b.fractional), integer, a.signed or b.signed, a, b)


def sub_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of `a - b`: as `a + b`, but always signed."""
    integer = _sum_integer_bits(a, b) + 1
    return _result(integer + max(a.fractional, b.fractional), integer, True, a, b)


def div_type(a: FixedType, b: FixedType) -> FixedType:
    """Type of `a / b`: W = S2 + W1 + max(F2, 0), I = S2 + I1 + F2."""
    width = b.signed + a.width + max(b.fractional, 0)
    return _result(width, b.signed + a.integer + b.fractional, a.signed or b.signed, a, b)


def neg_type(a: FixedType) -> FixedType:
    """Type of `-a`: one more bit, signed."""
    return _result(a.width + 1, a.integer + 1, True, a, a)


_RESULT_TYPES = {"+": add_type, "-": sub_type, "*": mul_type, "/": div_type}


def result_type(op: str, a: FixedType, b: FixedType) -> FixedType:
    """Type of `a op b` for op in '+', '-', '*', '/'."""
    try:
        return _RESULT_TYPES[op](a, b)
    except KeyError:
        raise ValueError(f"operator {op!r} has no result-type rule; valid: + - * /") from None
