"""Our C++ ap_int/ap_fixed/hls_stream headers against the numpy reference, bit for bit.

The differential program is generated from a seeded random draw of types and values, compiled
once per test run, and its output compared with `nnhls.quantize`. Set NNHLS_TEST_SEED to draw
other cases.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from ap_cases import (OPERATORS, SEED, cpp_type, from_raw, random_codes, random_doubles, random_type,
                      write_program)
from golden import GOLDEN, RESULT_TYPES
from nnhls import quantize
from nnhls.hls import AP_TYPES_DIR
from nnhls.types import FixedType, result_type

CXX = ["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{AP_TYPES_DIR}"]

# Compile time grows with the number of type pairs (template instances), run time hardly with the values.
N_CONVERSION_PAIRS, CONVERSIONS_PER_PAIR = 200, 1000
N_DOUBLE_TYPES, DOUBLES_PER_TYPE = 40, 750
N_ARITHMETIC_PAIRS, EXPRESSIONS_PER_PAIR = 125, 100


def draw_cases(seed: int):
    rng = random.Random(seed)
    conversions = []
    for _ in range(N_CONVERSION_PAIRS):
        source, target = random_type(rng, 128), random_type(rng, 128)
        conversions.append((source, target, random_codes(rng, source, CONVERSIONS_PER_PAIR)))
    doubles = []
    for _ in range(N_DOUBLE_TYPES):
        target = random_type(rng, 128)
        doubles.append((target, random_doubles(rng, target, DOUBLES_PER_TYPE)))
    arithmetic = []
    while len(arithmetic) < N_ARITHMETIC_PAIRS:
        a, b = random_type(rng, 60, modes=False), random_type(rng, 60, modes=False)
        if max(result_type(op, a, b).width for op in OPERATORS) > 128:
            continue
        a_codes = random_codes(rng, a, EXPRESSIONS_PER_PAIR)
        b_codes = [c if c else (b.max_code or b.min_code) for c in random_codes(rng, b, EXPRESSIONS_PER_PAIR)]
        rng.shuffle(b_codes)
        arithmetic.append((a, b, a_codes, b_codes))
    return conversions, doubles, arithmetic


def build_differential_program(folder: Path, seed: int = SEED):
    """Write and compile the differential program; returns (cases, compile seconds)."""
    cases = draw_cases(seed)
    write_program(folder, *cases)
    start = time.perf_counter()
    subprocess.run(CXX + ["differential.cpp", "-o", "differential"], cwd=folder, check=True)
    return cases, time.perf_counter() - start


def compile_minimal_program(folder: Path) -> float:
    """Seconds to compile a small translation unit that uses the headers."""
    (folder / "minimal.cpp").write_text(
        '#include "ap_fixed.h"\n#include "hls_stream.h"\n'
        "ap_fixed<16,6> f(ap_fixed<8,3> a, ap_fixed<8,3> b) {\n"
        "    ap_fixed<18,8,AP_RND_CONV,AP_SAT> acc = a * b;\n    acc += a;\n    return acc;\n}\n"
    )
    start = time.perf_counter()
    subprocess.run(CXX[:2] + ["-O0"] + CXX[3:] + ["-c", "minimal.cpp"], cwd=folder, check=True)
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def differential(tmp_path_factory):
    folder = tmp_path_factory.mktemp("differential")
    cases, _ = build_differential_program(folder)
    subprocess.run(["./differential", "differential.txt", "out.txt"], cwd=folder, check=True)
    lines = (folder / "out.txt").read_text().splitlines()
    return cases, lines


def test_differential_conversions(differential):
    (conversions, doubles, _), lines = differential
    position, checked = 0, 0
    for source, target, codes in conversions:
        got = [from_raw(*line.split(), target) for line in lines[position:position + len(codes)]]
        position += len(codes)
        expected = quantize.convert(np.array(codes, dtype=object), source, target).tolist()
        assert got == expected, f"{source} -> {target}"
        checked += len(codes)
    for target, values in doubles:
        got = [from_raw(*line.split(), target) for line in lines[position:position + len(values)]]
        position += len(values)
        assert got == quantize.from_float(values, target).tolist(), f"double -> {target}"
        checked += len(values)
    assert checked >= 200_000


def test_differential_arithmetic(differential):
    (conversions, doubles, arithmetic), lines = differential
    position = sum(len(c) for *_, c in conversions) + sum(len(v) for _, v in doubles)
    functions = {"+": quantize.add, "-": quantize.sub, "*": quantize.mul, "/": quantize.div}
    checked = 0
    for a, b, a_codes, b_codes in arithmetic:
        results = {}
        for op in OPERATORS:
            width, integer, signed = (int(v) for v in lines[position].split())
            position += 1
            codes, expected_type = functions[op](np.array(a_codes, dtype=object), a, np.array(b_codes, dtype=object), b)
            assert (width, integer, bool(signed)) == (expected_type.width, expected_type.integer,
                                                      expected_type.signed), f"{a} {op} {b}"
            results[op] = (expected_type, codes.tolist())
        for i in range(len(a_codes)):
            for op in OPERATORS:
                result_type, codes = results[op]
                got = from_raw(*lines[position].split(), result_type)
                position += 1
                assert got == codes[i], f"{a} {op} {b} with codes {a_codes[i]}, {b_codes[i]}"
                checked += 1
    assert position == len(lines)
    assert checked >= 50_000


def run_program(tmp_path: Path, body: str, prelude: str = "") -> list[str]:
    source = '#include <cstdio>\n#include "ap_fixed.h"\n#include "ap_int.h"\n' + prelude + \
        "\nint main() {\n" + body + "\n    return 0;\n}\n"
    (tmp_path / "program.cpp").write_text(source)
    subprocess.run(CXX + ["program.cpp", "-o", "program"], cwd=tmp_path, check=True)
    return subprocess.run(["./program"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()


def test_golden_vectors_in_cpp(tmp_path):
    lines = []
    for x, width, integer, signed, rounding, overflow, sat_bits, _ in GOLDEN:
        t = FixedType(width, integer, signed, rounding, overflow, sat_bits)
        lines.append(f'    {{ {cpp_type(t)} y = {x!r}; std::printf("%.6f\\n", y.to_double()); }}')
    got = [float(v) for v in run_program(tmp_path, "\n".join(lines))]
    assert got == [float(case[-1]) for case in GOLDEN]


def test_sum_is_exact_and_rounded_only_on_assignment(tmp_path):
    body = """
    ap_fixed<4,4,AP_TRN,AP_SAT> k1 = 7, k2 = 7;
    ap_fixed<4,4,AP_TRN,AP_SAT> k = k1 + k2;
    std::printf("%d %d\\n", (int)k.to_int(), (int)(k1 + k2).to_int());
    """
    assert run_program(tmp_path, body) == ["7", "14"]


@pytest.mark.parametrize("a, b, op, expected", RESULT_TYPES)
def test_result_types_in_cpp(tmp_path, a, b, op, expected):
    def spell(t):
        return f"{'ap_fixed' if t[2] else 'ap_ufixed'}<{t[0]},{t[1]}>"

    body = f"""
    {spell(a)} a = 0; {spell(b)} b = 1;
    typedef decltype(a {op} b) R;
    std::printf("%d %d %d\\n", (int)R::width, (int)R::iwidth, (int)R::sign_flag);
    """
    assert tuple(int(v) for v in run_program(tmp_path, body)) == (expected[0], expected[1], int(expected[2]))


def test_operators_and_bit_access(tmp_path):
    body = r"""
    ap_fixed<8,3> a = 1.25;           // code 40
    ap_ufixed<6,2> u = 2.75;
    ap_int<8> i = -5;
    ap_uint<4> n = 9;
    // unary minus widens; shifts keep the type; C++ integers act as ap_int<32>
    typedef decltype(-a) Neg;
    typedef decltype(a * 3) ByInt;
    std::printf("%d %d %d %d %d\n", (int)Neg::width, (int)Neg::iwidth, (int)ByInt::width, (int)ByInt::iwidth,
                (int)(-a).to_double());
    std::printf("%.4f %.4f %.4f\n", (a << 1).to_double(), (a >> 2).to_double(), (a << 3).to_double());
    std::printf("%d %d %d %d\n", (int)(i >> 1), (int)(i << 4), (int)(n >> 1), (int)(n << 1));
    // comparisons are exact across types, with integers and with doubles
    std::printf("%d %d %d %d %d\n", a < u, a == 1.25, u > 2, i < 0, ap_uint<128>(1) > ap_int<8>(-1));
    // compound assignment rounds and saturates into the left operand's type
    ap_fixed<6,3,AP_RND,AP_SAT> s = 1.5;
    s += u; std::printf("%.4f ", s.to_double());
    s *= 4; std::printf("%.4f ", s.to_double());
    s -= 20; std::printf("%.4f ", s.to_double());
    s = 0.25; s /= 3; std::printf("%.4f\n", s.to_double());
    // increments, bits and ranges
    ap_int<4> w = 7; ++w; std::printf("%d ", (int)w); w--; std::printf("%d ", (int)w);
    ap_uint<8> bits = 0; bits[7] = 1; bits[0] = true; bits.set_bit(2, 1);
    std::printf("%d %d %d ", (int)bits, (int)bits[7], (int)bits.get_bit(1));
    bits.range(6, 3) = 0xF; std::printf("%d %llu ", (int)bits, (unsigned long long)bits.range(5, 2).to_uint64());
    ap_fixed<8,3> r = 0; r.range(7, 0) = 0xC0; std::printf("%.4f\n", r.to_double());
    // implicit conversions let integers index arrays and fixed values mix with doubles
    int table[4] = {10, 20, 30, 40}; ap_uint<2> k = 3;
    double d = a * 0.5;
    std::printf("%d %.4f %d %d %d\n", table[k], d, (int)(i % 3), (int)(i & 6), (int)(~n));
    """
    assert run_program(tmp_path, body) == [
        "9", "4", "40", "35", "-1",
        "2.5000", "0.3125", "2.0000",
        "-3", "-80", "4", "2",
        "1", "1", "1", "1", "1",
        "3.8750", "3.8750", "-4.0000", "0.0000",
        "-8", "7",
        "133", "1", "0", "253", "15", "-2.0000",
        "40", "0.6250", "-2", "2", "6",
    ]


def test_widths_beyond_128_bits_fail_to_compile_with_a_clear_message(tmp_path):
    (tmp_path / "wide.cpp").write_text('#include "ap_fixed.h"\nap_fixed<130, 10> x;\n')
    result = subprocess.run(CXX + ["-c", "wide.cpp"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "128 bits" in result.stderr
    (tmp_path / "product.cpp").write_text(
        '#include "ap_fixed.h"\nap_fixed<100, 10> a; ap_fixed<40, 4> b;\nauto c = a * b;\n')
    result = subprocess.run(CXX + ["-c", "product.cpp"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "128 bits" in result.stderr


def test_stream_is_a_fifo(tmp_path):
    prelude = '#include "hls_stream.h"'
    body = r"""
    hls::stream<ap_fixed<8,3> > s("pixels");
    std::printf("%d %d ", (int)s.empty(), (int)s.size());
    s.write(1.5); s << ap_fixed<8,3>(-2); s.write(0.25);
    ap_fixed<8,3> x; s >> x;
    int size = s.size();
    ap_fixed<8,3> second = s.read();
    std::printf("%d %.3f %.3f ", size, x.to_double(), second.to_double());
    ap_fixed<8,3> y; bool got = s.read_nb(y); bool again = s.read_nb(y);
    std::printf("%d %.3f %d %d %d\n", got, y.to_double(), again, (int)s.empty(), (int)s.full());
    """
    assert run_program(tmp_path, body, prelude) == ["1", "0", "2", "1.500", "-2.000", "1", "0.250", "0", "1", "0"]


def test_reading_an_empty_stream_names_the_stream(tmp_path):
    (tmp_path / "empty.cpp").write_text(
        '#include "hls_stream.h"\nint main() {\n    hls::stream<int> s("layer2_out");\n    s.read();\n}\n')
    subprocess.run(CXX + ["empty.cpp", "-o", "empty"], cwd=tmp_path, check=True)
    result = subprocess.run(["./empty"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "layer2_out" in result.stderr
