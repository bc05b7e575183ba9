"""nnhls's C++ types and its numpy quantizer against the vendor's own open ap_types headers, bit for bit.

One program (tests/ap_cases.py) is generated from a seeded random draw of types and values and
compiled twice at once: against the vendor's headers (fetched by tests/vendor_headers.py, never
committed) and against nnhls's. Every output of the vendor's build is compared with nnhls's C++
build, with `nnhls.quantize` and with the independent tests/fixed_reference.py. The draw covers
every rounding and overflow mode, saturation bits, I < 0 and I > W, signed and unsigned types and
widths up to 70 bits (so the vendor's multiword path runs too), converted from doubles and from
other fixed types, and the + - * / of two fixed types.

The vendor's headers assert ("Attempting to read bit beyond MSB") on some type combinations: the
program then skips the value and says which assertion failed (and each combination runs in a
forked child, so that no other crash loses more than its own values). The summary printed by the
tests (pytest -s) says how many values were compared and skipped. Set NNHLS_TEST_SEED to
draw other cases. A few vendor results are also recorded below, so that they hold without the
download.
"""

from __future__ import annotations

import random
import subprocess
import time
from fractions import Fraction

import numpy as np
import pytest

import fixed_reference as ref
from ap_cases import (OPERATORS, SEED, cpp_type, from_raw, is_skipped, random_codes, random_doubles,
                      write_program)
from nnhls import quantize
from nnhls.hls import AP_TYPES_DIR
from nnhls.types import OVERFLOW_MODES, ROUNDING_MODES, FixedType, result_type
from vendor_headers import vendor_ap_types

# g++ spends about 0.1 s on each type and each conversion with the vendor's headers, and 0.5 s on
# each pair of arithmetic operands: the combinations are drawn from a small pool of types, which
# g++ instantiates once each, and each carries many values, which cost next to nothing.
N_POOL_TYPES = 48
N_CONVERSION_PAIRS, CODES_PER_PAIR = 64, 1000  # compile time grows with the pairs, run time hardly with the codes
N_DOUBLE_TYPES, DOUBLES_PER_TYPE = 35, 400  # the first 35 pool types hold every (Q, O) pair
N_ARITHMETIC_PAIRS, VALUES_PER_ARITHMETIC_PAIR = 12, 200
MAX_WIDTH = 70
# -O0: the programs run for a second or two, and g++ spends most of its time optimizing.
VENDOR_CXX = ["g++", "-std=c++17", "-O0", "-w", "-DNNHLS_ISOLATE"]
NNHLS_CXX = ["g++", "-std=c++17", "-O0", "-Wall", "-Wextra", "-Werror", f"-I{AP_TYPES_DIR}"]
FUNCTIONS = {"+": quantize.add, "-": quantize.sub, "*": quantize.mul, "/": quantize.div}


def pool_type(rng: random.Random, i: int) -> FixedType:
    """The i-th type of the pool: modes cycle so that every (Q, O) pair occurs in 35 types."""
    rounding, overflow = ROUNDING_MODES[i % 7], OVERFLOW_MODES[i % 5]
    width = rng.choice([rng.randint(1, 8), rng.randint(1, 24), rng.randint(1, MAX_WIDTH),
                        rng.randint(60, MAX_WIDTH)])
    signed = overflow == "WRAP_SM" or rng.random() < 0.6
    integer = rng.choice([rng.randint(-6, 0), rng.randint(0, width), rng.randint(width, width + 6)])
    sat_bits = rng.choice([0, 1, rng.randint(0, width)]) if overflow.startswith("WRAP") else 0
    return FixedType(width, integer, signed, rounding, overflow, sat_bits)


def operand_codes(rng: random.Random, a: FixedType, b: FixedType, n: int):
    a_codes = random_codes(rng, a, n)
    b_codes = [c if c else (b.max_code or b.min_code) for c in random_codes(rng, b, n)]
    rng.shuffle(b_codes)
    if b.signed:  # the most negative dividend by -1, which the vendor's division wraps
        a_codes[-1], b_codes[-1] = a.min_code, -1
    return a_codes, b_codes


def draw_cases(seed: int):
    rng = random.Random(seed)
    pool = [pool_type(rng, i) for i in range(N_POOL_TYPES)]
    conversions = []
    while len(conversions) < N_CONVERSION_PAIRS:
        source, target = rng.choice(pool), rng.choice(pool)
        if source != target:  # C++ copies a value of the same type, even SAT_SYM's most negative code
            conversions.append((source, target, random_codes(rng, source, CODES_PER_PAIR)))
    doubles = [(target, random_doubles(rng, target, DOUBLES_PER_TYPE)) for target in pool[:N_DOUBLE_TYPES]]
    arithmetic = []
    while len(arithmetic) < N_ARITHMETIC_PAIRS:
        a, b = rng.choice(pool), rng.choice(pool)
        if max(result_type(op, a, b).width for op in OPERATORS) <= 128:  # nnhls's limit
            arithmetic.append((a, b, *operand_codes(rng, a, b, VALUES_PER_ARITHMETIC_PAIR)))
    return conversions, doubles, arithmetic


def vendor_reads_beyond_the_source(source: FixedType, target: FixedType) -> bool:
    """Where the vendor's conversion asserts: it reads the source's bit just below the target's
    LSB (the half-LSB bit) even when that bit lies above the source's MSB, in every rounding mode
    that looks at it (all but TRN, and TRN_ZERO from an unsigned source)."""
    looks = target.rounding != "TRN" and not (target.rounding == "TRN_ZERO" and not source.signed)
    return looks and source.fractional - target.fractional > source.width


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """(cases, vendor output lines, nnhls output lines, compile seconds)."""
    vendor = vendor_ap_types()
    folder = tmp_path_factory.mktemp("vendor_differential")
    cases = draw_cases(SEED)
    write_program(folder, *cases)
    start = time.perf_counter()
    builds = [subprocess.Popen(VENDOR_CXX + [f"-I{vendor}", "differential.cpp", "-o", "vendor"], cwd=folder),
              subprocess.Popen(NNHLS_CXX + ["differential.cpp", "-o", "nnhls"], cwd=folder)]
    assert [build.wait() for build in builds] == [0, 0], "a differential program did not compile"
    seconds = time.perf_counter() - start
    lines = []
    for program in ("vendor", "nnhls"):
        subprocess.run([f"./{program}", "differential.txt", f"{program}.out"], cwd=folder, check=True)
        lines.append((folder / f"{program}.out").read_text().splitlines())
    assert len(lines[0]) == len(lines[1])
    return cases, lines[0], lines[1], seconds


def shape(t: FixedType) -> tuple[int, int, bool]:
    """A type as tests/fixed_reference.py spells it."""
    return t.width, t.integer, t.signed


def reference_code(value, t: FixedType, frac_bits: int | None = None) -> int:
    """The reference's code of a double (frac_bits None) or of a code with frac_bits in type t."""
    modes = t.rounding, t.overflow, t.sat_bits
    if frac_bits is None:
        return ref.quantize_fraction(value, *shape(t), *modes)
    return ref.quantize_code(value, frac_bits, *shape(t), *modes)


def _check_values(what, target, inputs, vendor_lines, nnhls_lines, expected_codes, reference_codes):
    """Compares one combination's outputs; returns the number of values compared with the vendor."""
    compared = 0
    for x, v, n, q, r in zip(inputs, vendor_lines, nnhls_lines, expected_codes, reference_codes):
        got = from_raw(*n.split(), target)
        assert got == q == r, f"{what}: {x} gives {got} in nnhls's C++, {q} in nnhls.quantize, " \
                              f"{r} in the reference"
        if not is_skipped(v):
            assert v == n, f"{what}: {x} gives {from_raw(*v.split(), target)} with the vendor's headers, " \
                           f"{got} with nnhls's"
            compared += 1
    return compared


def test_conversions_match_the_vendor(outputs):
    (conversions, doubles, _), vendor, nnhls, seconds = outputs
    position, compared, skipped_pairs = 0, 0, []
    for source, target, codes in conversions:
        rows = slice(position, position + len(codes))
        position += len(codes)
        expected = quantize.convert(np.array(codes, dtype=object), source, target).tolist()
        reference = [reference_code(c, target, source.fractional) for c in codes]
        done = _check_values(f"{cpp_type(source)} -> {cpp_type(target)}", target, codes, vendor[rows],
                             nnhls[rows], expected, reference)
        compared += done
        if done < len(codes):
            skipped_pairs.append((source, target, len(codes) - done))
    double_compared = 0
    for target, values in doubles:
        rows = slice(position, position + len(values))
        position += len(values)
        expected = quantize.from_float(values, target).tolist()
        reference = [reference_code(x, target) for x in values]
        double_compared += _check_values(f"double -> {cpp_type(target)}", target, values, vendor[rows],
                                         nnhls[rows], expected, reference)
    total = sum(len(c) for *_, c in conversions)
    skipped = total - compared
    print(f"\nvendor headers, conversions: {compared} of {total} values from {len(conversions)} pairs of "
          f"fixed types compared, {skipped} skipped in {len(skipped_pairs)} pairs where the vendor's "
          f"headers assert; {double_compared} of {sum(len(v) for _, v in doubles)} doubles into "
          f"{len(doubles)} types compared (both programs compiled in {seconds:.1f} s)")
    assert double_compared == sum(len(v) for _, v in doubles), "the vendor aborted converting a double"
    reasons = {line[5:] for line in vendor[:position] if is_skipped(line)}
    assert reasons <= {'i < _AP_W && "Attempting to read bit beyond MSB"'}, reasons
    unexplained = [f"{cpp_type(s)} -> {cpp_type(t)}" for s, t, n in skipped_pairs
                   if n < CODES_PER_PAIR or not vendor_reads_beyond_the_source(s, t)]
    assert not unexplained, f"the vendor's headers assert where vendor_reads_beyond_the_source does not " \
                            f"say so: {unexplained}"
    assert compared >= total // 2


def test_arithmetic_matches_the_vendor(outputs):
    (conversions, doubles, arithmetic), vendor, nnhls, _ = outputs
    position = sum(len(c) for *_, c in conversions) + sum(len(v) for _, v in doubles)
    compared = 0
    for a, b, a_codes, b_codes in arithmetic:
        results = {}
        for op in OPERATORS:
            expected_codes, expected = FUNCTIONS[op](np.array(a_codes, dtype=object), a,
                                                     np.array(b_codes, dtype=object), b)
            spelled = (expected.width, expected.integer, int(expected.signed))
            assert tuple(int(v) for v in vendor[position].split()) == spelled, f"{a} {op} {b}: result type"
            assert nnhls[position] == vendor[position], f"{a} {op} {b}: result type"
            position += 1
            results[op] = expected, expected_codes.tolist()
        for i, (x, y) in enumerate(zip(a_codes, b_codes)):
            for op in OPERATORS:
                expected, codes = results[op]
                reference, _ = ref.binary_op(op, x, shape(a), y, shape(b))
                compared += _check_values(f"{a} {op} {b}", expected, [(x, y)], [vendor[position]],
                                          [nnhls[position]], [codes[i]], [reference])
                position += 1
    assert position == len(vendor)
    total = sum(len(c) for *_, c, _ in arithmetic) * len(OPERATORS)
    print(f"\nvendor headers, arithmetic: {compared} of {total} results of + - * / on {len(arithmetic)} "
          "pairs of fixed types compared")
    assert compared == total, "the vendor's headers aborted in arithmetic"


# Results of the vendor's headers (hls4ml 1.3.0) where nnhls once differed: (type, double, code).
RECORDED_CONVERSIONS = [
    # A 1-bit signed AP_SAT_SYM type saturates like AP_SAT: to -1, not to -max = 0.
    (FixedType(1, 0, True, "TRN", "SAT_SYM"), -0.5, -1),
    (FixedType(1, 0, True, "TRN", "SAT_SYM"), -3.0, -1),
    (FixedType(1, 0, True, "TRN", "SAT_SYM"), 3.0, 0),
    (FixedType(1, 4, True, "RND", "SAT_SYM"), -100.0, -1),
    # AP_WRAP_SM, N=0 compares the kept MSB with the first dropped bit of the value BEFORE
    # rounding, so a rounding carry into that bit is ignored.
    (FixedType(2, -3, True, "RND", "WRAP_SM"), -0.390625, 0),
    (FixedType(3, 4, True, "RND_CONV", "WRAP_SM"), 15.0, 0),
    (FixedType(7, 3, True, "RND", "WRAP_SM"), 7.984375, 0),
    (FixedType(1, 6, True, "RND_MIN_INF", "WRAP_SM"), 48.5, 0),
    (FixedType(1, 6, True, "RND_MIN_INF", "WRAP_SM"), 97.0, -1),
    (FixedType(5, -1, True, "TRN_ZERO", "WRAP_SM"), -0.515625, 0),
    (FixedType(5, -1, True, "TRN_ZERO", "WRAP_SM"), -0.4697, -3),
    (FixedType(3, -2, True, "RND", "WRAP_SM"), 0.125, 3),
    (FixedType(3, -2, True, "RND", "WRAP_SM"), -0.125, -4),
]
# The vendor divides in max(W1 + max(F2, 0) + [S2 & !S1], W2 + [S1 & !S2]) bits, where the most
# negative dividend by -1 wraps: (a type, a code, b type, b code, quotient code).
RECORDED_DIVISIONS = [
    (FixedType(5, 2), -16, FixedType(2, 8), -1, -16),
    (FixedType(4, 4), -8, FixedType(4, 4), -1, -8),
    (FixedType(4, 2), -8, FixedType(6, 1), -1, -256),
    (FixedType(4, 2), -8, FixedType(4, 2, False), 1, -32),  # an unsigned divisor: no wrap
    (FixedType(4, 4), -8, FixedType(5, 5), -1, 8),  # the register has a bit more: no wrap
]


def test_recorded_vendor_results_hold_without_the_download(tmp_path):
    body = []
    for t, x, code in RECORDED_CONVERSIONS:
        assert int(quantize.from_float([x], t)[0]) == code, f"{x} -> {t}"
        assert reference_code(x, t) == code, f"{x} -> {t}"
        body.append(f'    {{ {cpp_type(t)} y = {x!r}; std::printf("%.17g\\n", y.to_double()); }}')
    for a, x, b, y, code in RECORDED_DIVISIONS:
        assert quantize.div([x], a, [y], b)[0].tolist() == [code], f"{a} / {b}"
        assert ref.binary_op("/", x, shape(a), y, shape(b))[0] == code, f"{a} / {b}"
        body.append(f"    {{ {cpp_type(a)} a = {cpp_type(a)}::from_code({x & (1 << 64) - 1}ull); "
                    f"{cpp_type(b)} b = {cpp_type(b)}::from_code({y & (1 << 64) - 1}ull); "
                    'std::printf("%.17g\\n", (a / b).to_double()); }')
    program = "#include <cstdio>\n#include \"ap_fixed.h\"\nint main() {\n" + "\n".join(body) + "\n}\n"
    (tmp_path / "recorded.cpp").write_text(program)
    subprocess.run(NNHLS_CXX + ["recorded.cpp", "-o", "recorded"], cwd=tmp_path, check=True)
    printed = subprocess.run(["./recorded"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    expected = [Fraction(code) * Fraction(2) ** -t.fractional for t, _, code in RECORDED_CONVERSIONS]
    expected += [Fraction(code) * Fraction(2) ** -result_type("/", a, b).fractional
                 for a, _, b, _, code in RECORDED_DIVISIONS]
    assert [Fraction(v) for v in printed.split()] == expected
