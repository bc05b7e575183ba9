"""Random fixed-point cases and the C++ program that runs them, shared by the differential tests.

tests/test_ap_types.py runs the program against nnhls's own headers; tests/test_vendor_headers.py
runs the same program against the vendor's open headers too. A program is one translation unit:
the C++ below plus one `run(...)` call per type combination (the types are template arguments),
reading every value from one input file of hex tokens. Each case writes a fixed number of output
lines per value, so the Python side reads the output back by position.

Compiled with -DNNHLS_ISOLATE, a failed assertion of the headers (the vendor's assert on some
types) skips only the value being computed: each of its lines reads `skip <assertion>`. Each type
combination also runs in a forked child, so that any other crash loses only that combination's
values, which are then retried one per child; a value that crashes again reads `skip crash`.
"""

from __future__ import annotations

import os
import random
import struct

from nnhls.types import OVERFLOW_MODES, ROUNDING_MODES, FixedType

# Every random draw of the differential tests starts here; set NNHLS_TEST_SEED to draw others.
SEED = int(os.environ.get("NNHLS_TEST_SEED", "20261126"))
OPERATORS = ("+", "-", "*", "/")

# C++ that compiles against either implementation of the ap types.
PRELUDE = r"""
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include "ap_fixed.h"
#ifdef NNHLS_ISOLATE
#include <cassert>
#include <csetjmp>
#include <sys/wait.h>
#include <unistd.h>
#endif

typedef unsigned long long u64;
typedef void (*case_fn)(const u64* in, int n, std::string& out);

#ifdef NNHLS_ISOLATE
static std::jmp_buf* on_assertion = nullptr;
static const char* failed_assertion = "";

// The headers' assert() calls glibc's __assert_fail; this definition takes its place in the
// program, so that a failed assertion returns to the value being computed instead of aborting.
extern "C" void __assert_fail(const char* assertion, const char*, unsigned int, const char*) noexcept {
    if (!on_assertion) std::abort();
    failed_assertion = assertion;
    std::longjmp(*on_assertion, 1);
}
#endif

// Runs the computation of one value, which appends `lines` lines to out.
template <class F> void guarded(std::string& out, int lines, const F& value) {
#ifdef NNHLS_ISOLATE
    std::jmp_buf here;
    const size_t mark = out.size();
    if (setjmp(here) == 0) {
        on_assertion = &here;
        value();
        on_assertion = nullptr;
        return;
    }
    on_assertion = nullptr;
    out.resize(mark);
    for (int k = 0; k < lines; ++k) out += std::string("skip ") + failed_assertion + "\n";
#else
    (void)out, (void)lines;
    value();
#endif
}

// Raw bits travel as two 64-bit halves; range() reads and writes them.
template <class T> T from_bits(u64 hi, u64 lo) {
    T x = 0;
    if (T::width <= 64) {
        x.range(T::width - 1, 0) = lo;
    } else {
        x.range(63, 0) = lo;
        x.range(T::width - 1, 64) = hi;
    }
    return x;
}
template <class T> void put(std::string& out, const T& x) {
    u64 lo = x.range(T::width <= 64 ? T::width - 1 : 63, 0).to_uint64();
    u64 hi = T::width > 64 ? x.range(T::width - 1, 64).to_uint64() : 0;
    char line[40];
    std::snprintf(line, sizeof line, "%llx %llx\n", hi, lo);
    out += line;
}
// Signedness by deduction, because only nnhls's types spell it T::sign_flag.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
constexpr bool is_signed_type(const ap_fixed_base<W, I, S, Q, O, N>*) { return S; }
template <class T> void put_type(std::string& out) {
    char line[40];
    std::snprintf(line, sizeof line, "%d %d %d\n", (int)T::width, (int)T::iwidth,
                  (int)is_signed_type(static_cast<T*>(nullptr)));
    out += line;
}

// One value: 2 input tokens, 1 output line.
template <class S, class D> void convert(const u64* in, int n, std::string& out) {
    for (int i = 0; i < n; ++i, in += 2) {
        guarded(out, 1, [&] {
            D d = from_bits<S>(in[0], in[1]);
            put(out, d);
        });
    }
}
// One value: 1 input token (the bits of a double), 1 output line.
template <class D> void convert_double(const u64* in, int n, std::string& out) {
    for (int i = 0; i < n; ++i, ++in) {
        guarded(out, 1, [&] {
            double v;
            __builtin_memcpy(&v, in, sizeof v);
            D d = v;
            put(out, d);
        });
    }
}
template <class A, class B> void arithmetic_types(const u64*, int, std::string& out) {
    A a; B b;
    put_type<decltype(a + b)>(out);
    put_type<decltype(a - b)>(out);
    put_type<decltype(a * b)>(out);
    put_type<decltype(a / b)>(out);
}
// One pair of values: 4 input tokens, 4 output lines (+ - * /).
template <class A, class B> void arithmetic(const u64* in, int n, std::string& out) {
    for (int i = 0; i < n; ++i, in += 4) {
        guarded(out, 4, [&] {
            A a = from_bits<A>(in[0], in[1]);
            B b = from_bits<B>(in[2], in[3]);
            put(out, a + b);
            put(out, a - b);
            put(out, a * b);
            put(out, a / b);
        });
    }
}

static std::vector<u64> input;
static size_t position;
static FILE* output;

#ifdef NNHLS_ISOLATE
// Runs fn in a forked child; true, with its output, if the child finished normally.
static bool isolated(case_fn fn, const u64* in, int n, std::string& out) {
    int fds[2];
    if (pipe(fds) != 0) std::exit(4);
    std::fflush(output);
    pid_t child = fork();
    if (child < 0) std::exit(5);
    if (child == 0) {
        close(fds[0]);
        if (!std::freopen("/dev/null", "w", stderr)) _exit(6);
        std::string text;
        fn(in, n, text);
        for (size_t done = 0; done < text.size();) {
            ssize_t k = write(fds[1], text.data() + done, text.size() - done);
            if (k <= 0) _exit(7);
            done += size_t(k);
        }
        _exit(0);
    }
    close(fds[1]);
    out.clear();
    char buffer[1 << 16];
    for (ssize_t k; (k = read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, size_t(k));
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

// One type combination: n values of `tokens` input tokens and `lines` output lines each.
static void run(case_fn fn, int n, int tokens, int lines) {
    const u64* in = input.data() + position;
    position += size_t(n) * size_t(tokens);
    std::string out;
#ifdef NNHLS_ISOLATE
    if (!isolated(fn, in, n, out)) {
        out.clear();
        for (int i = 0; i < n; ++i) {
            std::string one;
            if (isolated(fn, in + i * tokens, 1, one)) out += one;
            else for (int k = 0; k < lines; ++k) out += "skip crash\n";
        }
    }
#else
    (void)lines;
    fn(in, n, out);
#endif
    std::fputs(out.c_str(), output);
}
"""

_MAIN = """
int main(int argc, char** argv) {{
    if (argc != 3) return 2;
    FILE* in = std::fopen(argv[1], "r");
    output = std::fopen(argv[2], "w");
    if (!in || !output) return 3;
    for (u64 token; std::fscanf(in, "%llx", &token) == 1;) input.push_back(token);
    std::fclose(in);
{calls}
    std::fclose(output);
    return position == input.size() ? 0 : 8;
}}
"""


def is_skipped(line: str) -> bool:
    """Whether an output line of a program built with -DNNHLS_ISOLATE is a skipped value's."""
    return line.startswith("skip")


def cpp_type(t: FixedType) -> str:
    kind = "ap_fixed" if t.signed else "ap_ufixed"
    return f"{kind}<{t.width}, {t.integer}, AP_{t.rounding}, AP_{t.overflow}, {t.sat_bits}>"


def random_type(rng: random.Random, max_width: int, modes: bool = True) -> FixedType:
    """A type of any width up to max_width, I from -6 to W + 6, and (with modes) any Q, O and N."""
    width = rng.choice([rng.randint(1, 8), rng.randint(1, 24), rng.randint(1, max_width)])
    signed = rng.random() < 0.6
    integer = rng.randint(-6, width + 6)
    if not modes:
        return FixedType(width, integer, signed)
    overflow = rng.choice([o for o in OVERFLOW_MODES if signed or o != "WRAP_SM"])
    sat_bits = rng.choice([0, 0, rng.randint(0, width)]) if overflow.startswith("WRAP") else 0
    return FixedType(width, integer, signed, rng.choice(ROUNDING_MODES), overflow, sat_bits)


def random_codes(rng: random.Random, t: FixedType, n: int) -> list[int]:
    """Codes spread over the type's range, with its edges and small values over-represented."""
    lo, hi = t.min_code, t.max_code
    special = [lo, hi, 0, min(hi, 1), max(lo, -1), lo + (hi > lo), hi - (hi > lo)]
    codes = []
    for i in range(n):
        if i < len(special):
            codes.append(special[i])
        elif rng.random() < 0.2:
            codes.append(max(lo, min(hi, rng.randint(-64, 64))))
        else:
            codes.append(rng.randint(lo, hi))
    return codes


def random_doubles(rng: random.Random, t: FixedType, n: int) -> list[float]:
    values = [0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300, t.max_value, t.min_value, t.lsb / 2, -t.lsb / 2]
    while len(values) < n:
        kind = rng.random()
        if kind < 0.5:  # within and around the type's range
            values.append(rng.uniform(t.min_value * 1.5 - 1, t.max_value * 1.5 + 1))
        elif kind < 0.8:  # exact binary fractions, including ties of the target
            values.append(rng.randint(-(1 << 20), 1 << 20) * 2.0 ** (rng.randint(-8, 4) - t.fractional))
        else:  # any magnitude
            values.append(rng.choice([-1, 1]) * rng.random() * 2.0 ** rng.randint(-1074, 1023))
    return values[:n]


def raw_bits(code: int, t: FixedType) -> str:
    bits = code & ((1 << t.width) - 1)
    return f"{bits >> 64:x} {bits & ((1 << 64) - 1):x}"


def from_raw(hi: str, lo: str, t: FixedType) -> int:
    bits = (int(hi, 16) << 64) | int(lo, 16)
    if t.signed and bits >> (t.width - 1):
        bits -= 1 << t.width
    return bits


def double_bits(value: float) -> str:
    return f"{struct.unpack('<Q', struct.pack('<d', value))[0]:x}"


def write_program(folder, conversions, doubles, arithmetic, name: str = "differential") -> None:
    """Write `name`.cpp and `name`.txt (its input) for the given cases:
    conversions (source, target, codes), doubles (target, values), arithmetic (a, b, a_codes, b_codes).
    The output holds, in this order, one line per conversion, one per double, and per arithmetic
    pair 4 type lines (+ - * /) followed by 4 lines per pair of values."""
    calls, data = [], []
    for source, target, codes in conversions:
        calls.append(f"    run(&convert<{cpp_type(source)}, {cpp_type(target)} >, {len(codes)}, 2, 1);")
        data += [raw_bits(c, source) for c in codes]
    for target, values in doubles:
        calls.append(f"    run(&convert_double<{cpp_type(target)} >, {len(values)}, 1, 1);")
        data += [double_bits(v) for v in values]
    for a, b, a_codes, b_codes in arithmetic:
        types = f"{cpp_type(a)}, {cpp_type(b)}"
        calls.append(f"    run(&arithmetic_types<{types} >, 1, 0, 4);")
        calls.append(f"    run(&arithmetic<{types} >, {len(a_codes)}, 4, 4);")
        data += [f"{raw_bits(x, a)} {raw_bits(y, b)}" for x, y in zip(a_codes, b_codes)]
    (folder / f"{name}.cpp").write_text(PRELUDE + _MAIN.format(calls="\n".join(calls)))
    (folder / f"{name}.txt").write_text("\n".join(data) + "\n")
