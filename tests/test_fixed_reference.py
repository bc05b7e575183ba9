"""The independent reference itself must reproduce the golden vectors before it judges anything."""

from fractions import Fraction

import pytest

import fixed_reference as ref
from golden import GOLDEN, RESULT_TYPES


@pytest.mark.parametrize("x, width, integer, signed, rounding, overflow, sat_bits, expected", GOLDEN)
def test_reference_reproduces_the_golden_vectors(x, width, integer, signed, rounding, overflow, sat_bits,
                                                 expected):
    code = ref.quantize_fraction(x, width, integer, signed, rounding, overflow, sat_bits)
    assert ref.code_to_fraction(code, width, integer) == Fraction(expected)
    as_code = ref.quantize_code(int(Fraction(x) * 16), 4, width, integer, signed, rounding, overflow, sat_bits)
    assert as_code == code


@pytest.mark.parametrize("a, b, op, expected", RESULT_TYPES)
def test_reference_result_types(a, b, op, expected):
    assert ref.result_type(op, a, b) == expected


def test_sum_is_exact_before_assignment():
    int_type = (32, 32, True)  # a C++ int literal counts as ap_int<32>
    code, t = ref.binary_op("+", 7, int_type, 7, int_type)
    assert ref.quantize_code(code, t[0] - t[1], 4, 4, True, "TRN", "SAT") == 7
    assert ref.binary_op("+", 7, (4, 4, True), 7, (4, 4, True)) == (14, (5, 5, True))


@pytest.mark.parametrize("args", [
    (0, 0, 4, 4, False, "TRN", "WRAP_SM", 0),
    (0, 0, 4, 4, True, "TRN", "WRAP", 5),
    (0, 0, 4, 4, True, "TRN", "WRAP", -1),
    (0, 0, 0, 0, True, "TRN", "WRAP", 0),
])
def test_reference_rejects_invalid_types(args):
    with pytest.raises(ValueError):
        ref.quantize_code(*args)


def test_reference_division_by_zero():
    with pytest.raises(ZeroDivisionError):
        ref.binary_op("/", 1, (4, 4, True), 0, (4, 4, True))
