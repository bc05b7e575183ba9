import pytest

from golden import RESULT_TYPES
from nnhls import AUTO, FixedType, IntType, PrecisionError, parse_precision
from nnhls.types import ROUNDING_MODES, OVERFLOW_MODES, result_type


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ap_fixed<16,6>", FixedType(16, 6)),
        ("fixed<16,6>", FixedType(16, 6)),
        ("  AP_FIXED < 16 , 6 >  ", FixedType(16, 6)),
        ("ap_ufixed<8,0>", FixedType(8, 0, signed=False)),
        ("ufixed<8,-2,RND_CONV>", FixedType(8, -2, False, "RND_CONV")),
        ("ap_fixed<18,8,AP_RND_CONV,AP_SAT>", FixedType(18, 8, True, "RND_CONV", "SAT")),
        ("fixed<4,4,trn,wrap,2>", FixedType(4, 4, True, "TRN", "WRAP", 2)),
        ("ap_fixed<8,3,(ap_q_mode)5,(ap_o_mode)3>", FixedType(8, 3, True, "TRN", "WRAP")),
        ("ap_fixed<8,3,4,0>", FixedType(8, 3, True, "RND_CONV", "SAT")),
        ("ap_fixed<4,10>", FixedType(4, 10)),
        ("ap_int<8>", IntType(8)),
        ("int<8>", IntType(8)),
        ("ap_uint<1>", IntType(1, signed=False)),
        ("UINT<12>", IntType(12, signed=False)),
        ("auto", AUTO),
        ("Auto", AUTO),
    ],
)
def test_parse_accepts_every_spelling(text, expected):
    parsed = parse_precision(text)
    assert parsed == expected
    assert type(parsed) is type(expected)


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("ap_fixed<16>", "2 to 5 arguments"),
        ("ap_fixed<16,6,RND,SAT,0,1>", "2 to 5 arguments"),
        ("ap_fixed<x,6>", "width 'x' is not an integer"),
        ("ap_fixed<16,6.5>", "integer bits '6.5' is not an integer"),
        ("ap_fixed<8,3,RND_NEAREST>", "rounding mode 'RND_NEAREST' is unknown; valid: AP_RND,"),
        ("ap_fixed<8,3,RND,CLAMP>", "overflow mode 'CLAMP' is unknown; valid: AP_SAT,"),
        ("ap_fixed<8,3,RND,WRAP,9>", "between 0 and the width 8"),
        ("ap_ufixed<8,3,RND,WRAP_SM>", "signed types only"),
        ("ap_int<0>", "between 1 and 1024"),
        ("ap_int<8,2>", "exactly one argument"),
        ("float32", "not understood"),
        ("ap_fixed16,6>", "not understood"),
    ],
)
def test_malformed_precision_names_the_string_and_the_problem(text, complaint):
    with pytest.raises(PrecisionError) as error:
        parse_precision(text)
    assert repr(text) in str(error.value)
    assert complaint in str(error.value)


def test_non_string_precision_is_an_error():
    with pytest.raises(PrecisionError, match="must be a string"):
        parse_precision(16)


@pytest.mark.parametrize(
    "fixed_type, text",
    [
        (FixedType(16, 6), "ap_fixed<16,6>"),
        (FixedType(16, 6, signed=False), "ap_ufixed<16,6>"),
        (FixedType(16, 6, True, "RND"), "ap_fixed<16,6,AP_RND>"),
        (FixedType(16, 6, True, "TRN", "SAT"), "ap_fixed<16,6,AP_TRN,AP_SAT>"),
        (FixedType(16, 6, True, "RND_CONV", "WRAP", 3), "ap_fixed<16,6,AP_RND_CONV,AP_WRAP,3>"),
        (IntType(7), "ap_int<7>"),
        (IntType(7, signed=False), "ap_uint<7>"),
    ],
)
def test_printing_gives_the_cpp_spelling_and_parses_back(fixed_type, text):
    assert str(fixed_type) == text
    assert parse_precision(text) == fixed_type


def test_every_mode_round_trips_through_its_spelling():
    for rounding in ROUNDING_MODES:
        for overflow in OVERFLOW_MODES:
            for signed in (True, False):
                if overflow == "WRAP_SM" and not signed:
                    continue
                t = FixedType(9, 4, signed, rounding, overflow, 2)
                assert parse_precision(str(t)) == t


def test_type_ranges():
    t = FixedType(8, 3)
    assert (t.min_code, t.max_code, t.fractional) == (-128, 127, 5)
    assert (t.min_value, t.max_value, t.lsb) == (-4.0, 127 / 32, 1 / 32)
    u = FixedType(4, 6, signed=False)
    assert (u.min_code, u.max_code, u.fractional, u.lsb, u.max_value) == (0, 15, -2, 4.0, 60.0)


@pytest.mark.parametrize("a, b, op, expected", RESULT_TYPES)
def test_result_types_match_the_verified_examples(a, b, op, expected):
    result = result_type(op, FixedType(a[0], a[1], a[2]), FixedType(b[0], b[1], b[2]))
    assert (result.width, result.integer, result.signed) == expected


def test_integer_operands_give_integer_results():
    assert result_type("*", IntType(8), IntType(4, signed=False)) == IntType(12)
    assert result_type("+", IntType(8, signed=False), IntType(8, signed=False)) == IntType(9, signed=False)
    assert result_type("/", IntType(8), IntType(8)) == IntType(9)
    assert result_type("*", IntType(8), FixedType(8, 2)) == FixedType(16, 10)
