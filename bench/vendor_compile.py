"""Seconds g++ -O0 takes to compile the shipped CNN's testbench as the vendor's C simulation compiles
it: `digits_test.cpp` and the firmware, with the vendor's own ap_types headers (Apache-2.0, fetched
from the hls4ml wheel into build/vendor_ap_types by tests/vendor_headers.py) on the include path in
place of the project's ap_types/, and with nnhls's own headers for comparison. The project is the
one `python -m nnhls demo` writes as vitis_latency_io_parallel_rf1. Prints one JSON object with the
commands it ran; each figure is the best of a few runs.

To see where the time goes, rerun a printed command with -ftime-report.

Run: .venv/bin/python bench/vendor_compile.py   (or `make bench`)
"""

import json
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import prelude  # noqa: F401  first: it sets up TensorFlow's environment

import pytest  # noqa: E402  vendor_headers reports a failed download as a pytest outcome
from quantize import machine  # noqa: E402
from vendor_headers import WHEEL, vendor_ap_types  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import DIGITS_QCNN  # noqa: E402
from nnhls.frontends.keras import load_keras_file  # noqa: E402

PROJECT_NAME = "digits"
REPEATS = 2


def write_demo_project(folder: Path) -> Path:
    """The demo's Vitis / Latency / io_parallel / reuse factor 1 project of the shipped CNN."""
    model = load_keras_file(DIGITS_QCNN)
    config = nnhls.config_from_keras_model(model, granularity="name", backend="Vitis")
    config["Model"]["Strategy"] = "Latency"
    for entry in config["LayerName"].values():
        if "ReuseFactor" in entry:
            entry["ReuseFactor"] = 1
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, backend="Vitis", io_type="io_parallel",
                                               project_name=PROJECT_NAME,
                                               output_dir=folder / "vitis_latency_io_parallel_rf1")
    return hls_model.write()


def commands(ap_types: Path) -> list[list[str]]:
    """Each translation unit compiled on its own, as the vendor's C simulation does, then linked."""
    flags = ["g++", "-O0", "-std=c++14", "-Wno-unknown-pragmas", "-Ifirmware", f"-I{ap_types}"]
    return [[*flags, "-c", f"{PROJECT_NAME}_test.cpp", "-o", "testbench.o"],
            [*flags, "-c", f"firmware/{PROJECT_NAME}.cpp", "-o", "firmware.o"],
            ["g++", "testbench.o", "firmware.o", "-o", "testbench"]]


def timed_build(project: Path, steps: list[list[str]]) -> float:
    start = time.perf_counter()
    for step in steps:
        result = subprocess.run(step, cwd=project, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"{shlex.join(step)} failed in {project}:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def testbench_passes(project: Path) -> bool:
    result = subprocess.run(["./testbench"], cwd=project, capture_output=True, text=True, timeout=600)
    return result.returncode == 0 and " 0 outputs differ" in result.stdout


def main():
    warnings.filterwarnings("ignore")
    try:
        vendor = vendor_ap_types()
    except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
        sys.exit(f"bench/vendor_compile.py: the vendor's headers ({WHEEL}) are not available: {outcome}")
    results, ran = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        project = write_demo_project(Path(folder))
        for headers, ap_types in (("vendor", vendor), ("nnhls", Path("ap_types"))):  # the project's copy
            steps = commands(ap_types)
            results[f"testbench_compile_s_{headers}_headers"] = round(
                min(timed_build(project, steps) for _ in range(REPEATS)), 3)
            results[f"testbench_passes_{headers}_headers"] = testbench_passes(project)
            ran[headers] = [shlex.join(step) for step in steps]
    results["vendor_over_nnhls_headers"] = round(
        results["testbench_compile_s_vendor_headers"] / results["testbench_compile_s_nnhls_headers"], 2)
    print(json.dumps({"benchmark": "digits_qcnn_testbench_compile", "machine": machine(), "results": results,
                      "project": f"{PROJECT_NAME}: Vitis, Latency, io_parallel, reuse factor 1",
                      "commands": ran, "commands_run_in": "the written project's folder"}, indent=2))


if __name__ == "__main__":
    main()
