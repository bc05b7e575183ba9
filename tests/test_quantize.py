import itertools
import random
from fractions import Fraction

import numpy as np
import pytest

import fixed_reference as ref
from golden import GOLDEN
from nnhls import quantize
from nnhls.types import OVERFLOW_MODES, ROUNDING_MODES, FixedType


def _type(width, integer, signed=True, rounding="TRN", overflow="WRAP", sat_bits=0):
    return FixedType(width, integer, signed, rounding, overflow, sat_bits)


def _all_types(widths, integer_margin=2):
    for width in widths:
        for integer in range(-integer_margin, width + integer_margin + 1):
            for signed, rounding, overflow, sat_bits in itertools.product(
                (True, False), ROUNDING_MODES, OVERFLOW_MODES, range(3)
            ):
                if (overflow == "WRAP_SM" and not signed) or sat_bits > width:
                    continue
                yield _type(width, integer, signed, rounding, overflow, sat_bits)


@pytest.mark.parametrize("x, width, integer, signed, rounding, overflow, sat_bits, expected", GOLDEN)
def test_golden_vectors(x, width, integer, signed, rounding, overflow, sat_bits, expected):
    t = _type(width, integer, signed, rounding, overflow, sat_bits)
    from_float = quantize.to_float(quantize.from_float([x], t), t)
    assert from_float.tolist() == [expected]
    # The same value given as integer codes with 4 fractional bits.
    code = int(Fraction(x) * 16)
    assert quantize.to_float(quantize.from_codes([code], 4, t), t).tolist() == [expected]


def test_exhaustive_against_the_reference():
    """Every code of wider signed and unsigned sources into every small type and mode."""
    checked = 0
    for t in _all_types(range(1, 6)):
        for source_signed in (True, False):
            # Two more integer bits and three more fractional bits than the target.
            source_width = t.width + 5
            codes = np.arange(-(1 << (source_width - 1)), 1 << (source_width - 1))
            if not source_signed:
                codes = np.arange(0, 1 << source_width)
            frac_bits = t.fractional + 3
            got = quantize.from_codes(codes, frac_bits, t)
            expected = [
                ref.quantize_code(int(c), frac_bits, t.width, t.integer, t.signed, t.rounding, t.overflow, t.sat_bits)
                for c in codes
            ]
            assert got.dtype == np.int64
            if got.tolist() != expected:
                bad = np.nonzero(got != np.array(expected))[0][0]
                pytest.fail(f"{t}: code {codes[bad]} with {frac_bits} fractional bits gives {got[bad]}, "
                            f"reference {expected[bad]}")
            checked += len(codes)
    assert checked > 1_000_000


def test_float_inputs_against_the_reference():
    rng = np.random.default_rng(7)
    values = np.concatenate([
        rng.normal(0, 4, 500),
        np.arange(-64, 64) / 8.0,  # exact ties and exact codes
        [0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324, 1e300, -1e300, 2.0 ** 70 + 2.0 ** 18, -(2.0 ** 61)],
    ])
    for t in _all_types([1, 3, 7], integer_margin=3):
        got = quantize.from_float(values, t)
        expected = [ref.quantize_fraction(float(v), t.width, t.integer, t.signed, t.rounding, t.overflow,
                                          t.sat_bits) for v in values]
        assert got.tolist() == expected, str(t)


@pytest.mark.parametrize("width", [61, 64, 65, 100, 128, 300])
def test_wide_types_are_exact(width):
    """Types beyond the int64 path: random sources, shifts, modes, against the reference."""
    rng = random.Random(width)
    for _ in range(60):
        signed = rng.random() < 0.5
        overflow = rng.choice([o for o in OVERFLOW_MODES if signed or o != "WRAP_SM"])
        t = _type(width, rng.randint(-20, width + 20), signed, rng.choice(ROUNDING_MODES), overflow,
                  rng.randint(0, 3))
        frac_bits = t.fractional + rng.randint(-40, 40)
        source_bits = rng.randint(1, width + 40)
        codes = [rng.randrange(-(1 << source_bits), 1 << source_bits) for _ in range(40)]
        got, n_overflow = quantize.from_codes(np.array(codes, dtype=object), frac_bits, t, count_overflow=True)
        expected = [ref.quantize_code(c, frac_bits, t.width, t.integer, t.signed, t.rounding, t.overflow,
                                      t.sat_bits) for c in codes]
        assert got.tolist() == expected, str(t)
        assert got.dtype == (np.int64 if width + (not signed) <= 64 else object)
        floats = [float(c) / 2.0 ** 20 for c in codes]
        expected = [ref.quantize_fraction(f, t.width, t.integer, t.signed, t.rounding, t.overflow,
                                          t.sat_bits) for f in floats]
        assert quantize.from_float(floats, t).tolist() == expected, str(t)


def test_overflow_count_counts_values_changed_by_the_overflow_mode():
    t = _type(4, 4, True, "RND", "SAT")
    codes, n_overflow = quantize.from_float([7.4, 7.5, -8.0, -8.6, 100.0, 3.0], t, count_overflow=True)
    assert codes.tolist() == [7, 7, -8, -8, 7, 3]
    assert n_overflow == 3
    sym = _type(4, 4, True, "TRN", "SAT_SYM")
    assert quantize.from_codes([-8, -7, 9], 0, sym, count_overflow=True)[1] == 2


def test_large_int64_codes_take_the_exact_path():
    t = _type(16, 6, True, "RND_CONV", "SAT")
    codes = np.array([2**62 + 2**40, -(2**62), 2**45 + 2**34 - 1, -(2**45) - 2**34], dtype=np.int64)
    expected = [ref.quantize_code(int(c), 44, 16, 6, True, "RND_CONV", "SAT") for c in codes]
    assert quantize.from_codes(codes, 44, t).tolist() == expected
    unsigned = np.array([2**64 - 1, 2**63], dtype=np.uint64)
    assert quantize.from_codes(unsigned, 0, _type(8, 8, False)).tolist() == [255, 0]


def test_scalars_keep_their_shape():
    t = _type(8, 3, True, "RND", "SAT")
    assert quantize.from_float(1.3, t).shape == ()
    assert int(quantize.from_float(1.3, t)) == 42
    codes, n_overflow = quantize.from_codes(np.int64(1000), 0, t, count_overflow=True)
    assert (int(codes), n_overflow) == (127, 1)


def test_shape_is_preserved():
    t = _type(8, 3)
    x = np.linspace(-5, 5, 24).reshape(2, 3, 4)
    assert quantize.from_float(x, t).shape == (2, 3, 4)
    assert quantize.from_codes(np.arange(24).reshape(4, 6), 2, t).shape == (4, 6)


def test_bad_inputs_are_errors():
    t = _type(8, 3)
    with pytest.raises(ValueError, match="only finite values"):
        quantize.from_float([1.0, np.nan], t)
    with pytest.raises(TypeError, match="use from_float"):
        quantize.from_codes(np.array([1.5]), 0, t)


def test_to_float_is_exact():
    t = _type(10, 2)
    codes = np.arange(-512, 512)
    assert (quantize.to_float(codes, t) * 256 == codes).all()


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_arithmetic_against_the_reference(op):
    rng = random.Random(op)
    function = {"+": quantize.add, "-": quantize.sub, "*": quantize.mul, "/": quantize.div}[op]
    for _ in range(300):
        types = []
        for _ in range(2):
            width = rng.choice([1, 2, 5, 8, 16, 24, 33, 40, 64, 70])
            types.append((width, rng.randint(-8, width + 8), rng.random() < 0.6))
        codes = [[rng.randrange(-(1 << (w - 1)) if s else 0, (1 << (w - s))) for _ in range(20)]
                 for w, _, s in types]
        if op == "/":
            codes[1] = [c or (-1 if types[1][2] else 1) for c in codes[1]]
        (wa, ia, sa), (wb, ib, sb) = types
        got, result = function(np.array(codes[0], dtype=object), FixedType(wa, ia, sa),
                               np.array(codes[1], dtype=object), FixedType(wb, ib, sb))
        expected_type = ref.result_type(op, types[0], types[1])
        assert (result.width, result.integer, result.signed) == expected_type
        expected = [ref.binary_op(op, a, types[0], b, types[1])[0] for a, b in zip(*codes)]
        assert [int(v) for v in got] == expected


def test_negation():
    codes, result = quantize.neg(np.array([-8, 0, 7]), FixedType(4, 2))
    assert codes.tolist() == [8, 0, -7]
    assert result == FixedType(5, 3)


def test_division_by_zero_names_the_types():
    with pytest.raises(ZeroDivisionError, match="ap_fixed<8,3>"):
        quantize.div([1], FixedType(8, 3), [0], FixedType(4, 2))
