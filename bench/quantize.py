"""Fixed-point throughput and C++ compile time. Prints one JSON object.

Run: .venv/bin/python bench/quantize.py   (or `make bench`)
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nnhls import quantize
from nnhls.types import FixedType, parse_precision

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def best_rate(function, n_values: int, repeats: int = 7) -> float:
    """Values per second of the fastest of `repeats` runs."""
    function()  # warm up
    best = min(_timed(function) for _ in range(repeats))
    return n_values / best


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "compiler": subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
    }


def main():
    n = 4_000_000
    rng = np.random.default_rng(0)
    # Accumulator codes of ap_fixed<32,12> (20 fractional bits) into a layer output type.
    accumulator = FixedType(32, 12)
    codes = rng.integers(accumulator.min_code, accumulator.max_code, n, dtype=np.int64)
    target = parse_precision("ap_fixed<16,6,AP_RND_CONV,AP_SAT>")
    floats = rng.normal(0, 8, n)
    wrap_target = parse_precision("ap_fixed<8,3>")

    results = {
        "codes_to_ap_fixed_16_6_rnd_conv_sat_values_per_s": best_rate(
            lambda: quantize.convert(codes, accumulator, target), n),
        "codes_to_ap_fixed_8_3_trn_wrap_values_per_s": best_rate(
            lambda: quantize.convert(codes, accumulator, wrap_target), n),
        "floats_to_ap_fixed_16_6_rnd_conv_sat_values_per_s": best_rate(
            lambda: quantize.from_float(floats, target), n),
    }

    import test_ap_types  # the differential program: the largest translation unit the tests build

    with tempfile.TemporaryDirectory() as folder:
        results["differential_program_compile_s"] = round(test_ap_types.build_differential_program(Path(folder))[1], 2)
        results["minimal_program_compile_s"] = round(test_ap_types.compile_minimal_program(Path(folder)), 3)
    print(json.dumps({"benchmark": "quantize", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
