"""Codes held in float arrays (the emulator's fast form) convert to exactly the codes, and the
overflow counts, of the int64 path, in every rounding and overflow mode, both float widths, and
from real values as from codes; where a float step could round, the int64 path takes over."""

import itertools

import numpy as np
import pytest

from nnhls import quantize
from nnhls.types import OVERFLOW_MODES, ROUNDING_MODES, FixedType

MODES = [(r, o) for r, o in itertools.product(ROUNDING_MODES, OVERFLOW_MODES)]


def random_type(rng, rounding, overflow, widest):
    width = int(rng.integers(1, widest + 1))
    signed = overflow == "WRAP_SM" or bool(rng.integers(0, 2))
    return FixedType(width, int(rng.integers(-3, width + 4)), signed, rounding, overflow,
                     int(rng.integers(0, min(width, 3) + 1)))


def codes_of(rng, t: FixedType, n: int) -> np.ndarray:
    edges = np.array([t.min_code, t.max_code, 0, t.min_code + 1, t.max_code - 1], dtype=np.int64)
    inside = rng.integers(t.min_code, t.max_code + 1, n, dtype=np.int64)
    return np.concatenate([np.clip(edges, t.min_code, t.max_code), inside])


@pytest.mark.parametrize("rounding,overflow", MODES)
@pytest.mark.parametrize("dtype,widest", [(np.float32, 24), (np.float64, 40)])
def test_float_codes_convert_as_integer_codes_do(rounding, overflow, dtype, widest):
    rng = np.random.default_rng(sum(map(ord, rounding + overflow)) + widest)
    for _ in range(40):
        source = random_type(rng, "TRN", "WRAP", widest)
        source = FixedType(source.width, source.integer, source.signed)
        target = random_type(rng, rounding, overflow, widest)
        codes = codes_of(rng, source, 300)
        expected, n_expected = quantize.convert(codes, source, target, count_overflow=True)
        got, n_got = quantize.convert(codes.astype(dtype), source, target, count_overflow=True, float_codes=True)
        assert np.array_equal(np.asarray(got).astype(np.int64), np.asarray(expected).astype(np.int64)), (source, target)
        assert n_got == n_expected, (source, target)
        without_bounds = quantize.from_codes(codes.astype(dtype), source.fractional, target, float_codes=True)
        assert np.array_equal(np.asarray(without_bounds).astype(np.int64), np.asarray(expected).astype(np.int64))


@pytest.mark.parametrize("rounding,overflow", MODES)
def test_real_values_into_float_codes_as_into_integer_codes(rounding, overflow):
    rng = np.random.default_rng(sum(map(ord, overflow + rounding)))
    for _ in range(40):
        target = random_type(rng, rounding, overflow, 30)
        lsb = 2.0 ** -target.fractional
        span = 2.0 ** (target.integer + 1)
        values = np.concatenate([rng.uniform(-span, span, 300), rng.integers(-40, 40, 50) * lsb / 2,
                                 np.array([0.0, -0.0, 5e-324, -5e-324, np.nextafter(0.5, 0) * lsb])])
        for given in (values, values.astype(np.float32)):  # float32 values are converted as they are
            expected, n_expected = quantize.from_float(given, target, count_overflow=True)
            got, n_got = quantize.from_float(given, target, count_overflow=True, float_codes=True)
            assert np.array_equal(np.asarray(got).astype(np.int64), np.asarray(expected).astype(np.int64)), target
            assert n_got == n_expected


def test_float_codes_come_back_as_floats_only_where_exact():
    wide = FixedType(40, 10)
    codes = np.array([3.0, -7.0, 2.0**23], dtype=np.float32)
    rounded = FixedType(16, 8, rounding="RND_CONV", overflow="SAT")
    assert quantize.from_codes(codes, 4, rounded, float_codes=True).dtype == np.float32
    assert quantize.from_codes(codes, 4, wide, float_codes=True).dtype == np.float64  # wider codes: float64 holds them
    assert quantize.from_codes(codes, 4, FixedType(60, 10), float_codes=True).dtype == np.int64  # past float64
    with pytest.raises(TypeError, match="use from_float"):  # floats are codes only where the caller says so
        quantize.from_codes(codes, 4, rounded)
    assert quantize.from_float(np.array([0.5, -1.25]), FixedType(8, 4), float_codes=True).dtype == np.float32
    assert quantize.from_float(np.array([0.5, -1.25]), FixedType(8, 4)).dtype == np.int64
