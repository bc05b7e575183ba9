"""Independent, deliberately simple big-integer reference of vendor ap_fixed semantics.

This module is a *second* implementation of the rules in FIXED_POINT.md as made precise in
docs/fixed_point.md. Tests use it to check nnhls's vectorized
numpy implementation, so it must not import anything from nnhls. It uses plain Python ints
(unbounded two's complement) and only the standard library.

Conventions:
- A type is a tuple ``(width, integer, signed)``, i.e. ``ap_fixed<W, I>`` is ``(W, I, True)``
  and ``ap_ufixed<W, I>`` is ``(W, I, False)``. F = W - I fractional bits (F may be negative
  or larger than W).
- A *code* is the integer ``value * 2**F``. Signed codes are negative when the value is
  negative (they are not stored as raw W-bit patterns).
- Rounding modes: 'RND', 'RND_ZERO', 'RND_MIN_INF', 'RND_INF', 'RND_CONV', 'TRN', 'TRN_ZERO'.
- Overflow modes: 'SAT', 'SAT_ZERO', 'SAT_SYM', 'WRAP', 'WRAP_SM'.

tests/test_fixed_reference.py holds it to the golden vectors of FIXED_POINT.md.
"""

import operator
from fractions import Fraction

__all__ = [
    "ROUNDING_MODES",
    "OVERFLOW_MODES",
    "quantize_code",
    "quantize_fraction",
    "code_to_fraction",
    "result_type",
    "binary_op",
    "neg",
]

ROUNDING_MODES = frozenset(
    ("RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV", "TRN", "TRN_ZERO")
)
OVERFLOW_MODES = frozenset(("SAT", "SAT_ZERO", "SAT_SYM", "WRAP", "WRAP_SM"))

_BINARY_OPS = frozenset(("+", "-", "*", "/", "&", "|", "^"))


# ---------------------------------------------------------------------------------------------
# Conversion (construction / assignment) into ap_[u]fixed<W, I, Q, O, N>
# ---------------------------------------------------------------------------------------------

def quantize_code(x, frac_bits, width, integer, signed, rounding, overflow, sat_bits=0):
    """Convert the exact value ``x * 2**-frac_bits`` into ap_[u]fixed<width, integer, rounding,
    overflow, sat_bits> and return the target's integer code (value * 2**(width - integer)).

    ``x`` is an int (unbounded two's complement); ``frac_bits`` may be any int, also negative.
    Raises ValueError for width < 1, sat_bits outside 0..width, unknown mode names, and
    WRAP_SM with an unsigned target.
    """
    x = operator.index(x)
    if width < 1:
        raise ValueError("width must be >= 1, got %r" % (width,))
    if not 0 <= sat_bits <= width:
        raise ValueError("sat_bits (N) must be in 0..width, got N=%r, W=%r" % (sat_bits, width))
    if rounding not in ROUNDING_MODES:
        raise ValueError("unknown rounding mode %r" % (rounding,))
    if overflow not in OVERFLOW_MODES:
        raise ValueError("unknown overflow mode %r" % (overflow,))
    if overflow == "WRAP_SM" and not signed:
        raise ValueError("AP_WRAP_SM is not allowed for unsigned (ap_ufixed) targets")

    # ---- Step 1: floor to the target's LSB, collecting the half-LSB bit and the sticky bit.
    shift = frac_bits - (width - integer)
    s = x < 0  # sign of the SOURCE value
    if shift > 0:
        fl = x >> shift  # arithmetic shift = floor
        qb = (x >> (shift - 1)) & 1 == 1  # first dropped bit (worth 1/2 LSB)
        r = x & ((1 << (shift - 1)) - 1) != 0  # OR of all lower dropped bits
    else:
        fl = x << -shift
        qb = False
        r = False

    # ---- Step 2: add one LSB when the rounding mode's condition holds.
    if rounding == "TRN":
        inc = False
    elif rounding == "TRN_ZERO":
        inc = s and (qb or r)
    elif rounding == "RND":
        inc = qb
    elif rounding == "RND_ZERO":
        inc = qb and (s or r)
    elif rounding == "RND_MIN_INF":
        inc = qb and r
    elif rounding == "RND_INF":
        inc = qb and (not s or r)
    else:  # RND_CONV
        lsb = fl & 1 == 1
        inc = qb and (lsb or r)
    y = fl + 1 if inc else fl  # rounded code before overflow handling (unbounded)

    # ---- Step 3: overflow handling.
    if signed:
        max_code = (1 << (width - 1)) - 1
        min_code = -max_code - 1
    else:
        max_code = (1 << width) - 1
        min_code = 0

    # A 1-bit signed type has max == 0, so "-max" would be 0: the vendor saturates it like SAT.
    if overflow == "SAT_SYM" and signed and width == 1:
        overflow = "SAT"

    if min_code <= y <= max_code:
        # In range: unchanged, except that signed SAT_SYM never produces the most-negative code.
        if overflow == "SAT_SYM" and signed and y == min_code:
            return min_code + 1
        return y

    is_overflow = y > max_code  # otherwise it is an underflow (y < min_code)

    if overflow == "SAT":
        return max_code if is_overflow else min_code
    if overflow == "SAT_ZERO":
        return 0
    if overflow == "SAT_SYM":
        if signed:
            return max_code if is_overflow else -max_code
        return max_code if is_overflow else min_code  # unsigned: as SAT

    # WRAP / WRAP_SM: bit manipulation on the low W bits of y.
    mask = (1 << width) - 1
    msb = 1 << (width - 1)  # bit W-1
    low = y & mask  # y mod 2**W, as a W-bit pattern

    if overflow == "WRAP":
        if sat_bits == 0:
            pass  # plain two's-complement wrap: keep the low W bits
        elif signed:
            # bit W-1 := s
            low = (low | msb) if s else (low & ~msb)
            # bits W-N .. W-2 (N-1 bits, none when N == 1) := 1 if !s else 0
            field = ((1 << (sat_bits - 1)) - 1) << (width - sat_bits)
            low = (low & ~field) if s else (low | field)
        else:
            # unsigned: bits W-N .. W-1 := 1, on overflow and on underflow alike
            field = ((1 << sat_bits) - 1) << (width - sat_bits)
            low = low | field
    else:  # WRAP_SM (signed only)
        ro = (low >> (width - 1)) & 1  # kept MSB
        if sat_bits == 0:
            ld = (fl >> width) & 1  # first bit above the kept ones, BEFORE rounding (bit W of fl)
            if ld != ro:
                low = ~low & mask
                low = (low | msb) if ld else (low & ~msb)
        elif sat_bits == 1:
            if int(s) != ro:
                low = ~low & mask
            low = (low | msb) if s else (low & ~msb)
        else:
            lno = (low >> (width - sat_bits)) & 1  # bit W-N
            if lno == int(s):
                low = ~low & mask
            field = ((1 << (sat_bits - 1)) - 1) << (width - sat_bits)  # bits W-N .. W-2
            low = (low & ~field) if s else (low | field)
            low = (low | msb) if s else (low & ~msb)

    # Read the W-bit pattern back as a signed/unsigned code.
    if signed and low & msb:
        return low - (1 << width)
    return low


def _dyadic(value):
    """Return (numerator, frac_bits) with value == numerator * 2**-frac_bits exactly."""
    try:
        num, den = value.as_integer_ratio()  # float, Fraction, int, numpy scalars: exact
    except (OverflowError, ValueError) as exc:  # inf / NaN
        raise ValueError("not a finite value: %r" % (value,)) from exc
    except AttributeError:
        frac = Fraction(value)
        num, den = frac.numerator, frac.denominator
    if den <= 0 or den & (den - 1):
        raise ValueError("denominator of %r is not a power of two" % (value,))
    return num, den.bit_length() - 1


def quantize_fraction(value, width, integer, signed, rounding, overflow, sat_bits=0):
    """Convert an exact dyadic value (fractions.Fraction with a power-of-two denominator, float,
    or int) into ap_[u]fixed<width, integer, rounding, overflow, sat_bits>; return the code.

    Floats are used exactly (float.as_integer_ratio). NaN/inf and non-dyadic values raise
    ValueError.
    """
    num, frac_bits = _dyadic(value)
    return quantize_code(num, frac_bits, width, integer, signed, rounding, overflow, sat_bits)


def code_to_fraction(code, width, integer):
    """Exact value of ``code`` in a type with ``width - integer`` fractional bits."""
    f = width - integer
    return Fraction(code, 1 << f) if f >= 0 else Fraction(code << -f)


# ---------------------------------------------------------------------------------------------
# Full-precision arithmetic (result modes are AP_TRN / AP_WRAP / N=0; no rounding happens)
# ---------------------------------------------------------------------------------------------

def result_type(op, a, b):
    """Full-precision result type (width, integer, signed) of ``a op b`` for op in
    '+', '-', '*', '/', '&', '|', '^'; a and b are (width, integer, signed) tuples."""
    w1, i1, s1 = a
    w2, i2, s2 = b
    s1 = bool(s1)
    s2 = bool(s2)
    f1 = w1 - i1
    f2 = w2 - i2
    if op == "*":
        return (w1 + w2, i1 + i2, s1 or s2)
    if op == "/":
        return (int(s2) + w1 + max(f2, 0), int(s2) + i1 + f2, s1 or s2)
    # For mixed signedness the unsigned operand gets one more integer bit before max().
    i_max = max(i1 + int(s2 and not s1), i2 + int(s1 and not s2))
    f_max = max(f1, f2)
    if op in ("+", "-"):
        i = i_max + 1
        return (i + f_max, i, True if op == "-" else (s1 or s2))
    if op in ("&", "|", "^"):
        return (i_max + f_max, i_max, s1 or s2)
    raise ValueError("unknown operator %r" % (op,))


def _check_code(code, t, name):
    w, _, s = t
    if s:
        ok = -(1 << (w - 1)) <= code < (1 << (w - 1))
    else:
        ok = 0 <= code < (1 << w)
    if not ok:
        raise ValueError("%s code %r does not fit type %r" % (name, code, t))


def binary_op(op, a_code, a_type, b_code, b_type):
    """Exact code and type of the full-precision result of ``a op b``.

    Returns (code, (width, integer, signed)). Division truncates toward zero (C integer
    division of ``A * 2**max(F2, 0)`` by ``B``, in a register of max(W1 + max(F2, 0) + [S2 and
    not S1], W2 + [S1 and not S2]) bits, where the most negative dividend divided by -1 wraps);
    B == 0 raises ZeroDivisionError.
    """
    if op not in _BINARY_OPS:
        raise ValueError("unknown operator %r" % (op,))
    a_code = operator.index(a_code)
    b_code = operator.index(b_code)
    _check_code(a_code, a_type, "a")
    _check_code(b_code, b_type, "b")
    rt = result_type(op, a_type, b_type)
    f1 = a_type[0] - a_type[1]
    f2 = b_type[0] - b_type[1]

    if op == "*":
        code = a_code * b_code
    elif op == "/":
        if b_code == 0:
            raise ZeroDivisionError("ap_fixed division by zero")
        num = a_code << max(f2, 0)
        q = abs(num) // abs(b_code)  # truncate toward zero
        code = q if (num < 0) == (b_code < 0) else -q
        # The vendor divides in a register of `divide_bits` bits, so the one quotient that
        # does not fit it (the most negative dividend by -1) wraps to that most negative value.
        w1, _, s1 = a_type
        w2, _, s2 = b_type
        divide_bits = max(w1 + max(f2, 0) + int(s2 and not s1), w2 + int(s1 and not s2))
        if code == 1 << (divide_bits - 1) and (s1 or s2):
            code = -code
    else:
        f = rt[0] - rt[1]
        a_al = a_code << (f - f1)  # align to f fractional bits (f >= f1, f >= f2)
        b_al = b_code << (f - f2)
        if op == "+":
            code = a_al + b_al
        elif op == "-":
            code = a_al - b_al
        elif op == "&":
            code = a_al & b_al
        elif op == "|":
            code = a_al | b_al
        else:
            code = a_al ^ b_al

    _check_code(code, rt, "result")  # full precision: must always fit
    return code, rt


def neg(a_code, a_type):
    """Unary minus: returns (-A, (W+1, I+1, signed))."""
    a_code = operator.index(a_code)
    _check_code(a_code, a_type, "a")
    w, i, _ = a_type
    return -a_code, (w + 1, i + 1, True)
