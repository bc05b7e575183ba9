"""The `nnhls` command line: convert, sweep, build, report, demo, types."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from nnhls import quantize
from nnhls.hls import AP_TYPES_DIR
from nnhls.types import parse_precision

__all__ = ["main"]

_DEMO_TYPES = [
    "ap_fixed<8,3>",
    "ap_fixed<8,3,AP_RND_CONV,AP_SAT>",
    "ap_fixed<6,2,AP_RND,AP_SAT_SYM>",
    "ap_ufixed<6,2,AP_RND_INF,AP_WRAP,1>",
    "ap_fixed<6,2,AP_TRN_ZERO,AP_WRAP_SM>",
]
_DEMO_VALUES = [-5.3, -1.4375, -0.03125, 0.5, 1.40625, 3.96, 7.2]

_DEMO_PROGRAM = """
#include <cstdio>
#include "ap_fixed.h"
int main() {
    const double values[] = {%(values)s};
    for (double v : values) {
%(rows)s
    }
    return 0;
}
"""


def _demo(args) -> int:
    """Convert the shipped QKeras CNN for every backend x strategy x io type at reuse factors 1
    and 4, compile each C simulation, and show accuracy and bit agreement per cell."""
    import os
    import time
    import warnings

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras models
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter hides the table
    warnings.filterwarnings("ignore", module="tf_keras")
    import nnhls
    from nnhls.csim import cache_dir
    from nnhls.examples import DIGITS_QCNN, load_digits_images
    from nnhls.frontends.keras import load_keras_file

    model = load_keras_file(DIGITS_QCNN)
    _, _, X, y = load_digits_images()
    keras_accuracy = float((model.predict(X, verbose=0).argmax(axis=1) == y).mean())
    print(f"nnhls demo: {model.name} ({DIGITS_QCNN.name}, {model.count_params()} parameters), "
          f"scikit-learn digits, {len(X)} test images")
    print(f"QKeras accuracy: {keras_accuracy:.4f}\n")
    print(f"{'backend':8} {'strategy':9} {'io type':12} {'reuse':>5} {'accuracy':>9} {'= emulator':>11} "
          f"{'= first cell':>13} {'compile':>8}")
    output = Path(args.output).resolve()
    reference, all_equal, notes = None, True, []
    for backend in ("Vivado", "Vitis"):
        for strategy in ("Latency", "Resource"):
            for io_type in ("io_parallel", "io_stream"):
                for reuse_factor in (1, 4):
                    config = nnhls.config_from_keras_model(model, granularity="name", backend=backend)
                    config["Model"]["Strategy"] = strategy
                    for entry in config["LayerName"].values():
                        if "ReuseFactor" in entry:
                            entry["ReuseFactor"] = reuse_factor
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        hls_model = nnhls.convert_from_keras_model(
                            model, hls_config=config, backend=backend, io_type=io_type, project_name="digits",
                            output_dir=output / f"{backend}_{strategy}_{io_type}_rf{reuse_factor}".lower())
                    notes += [str(w.message) for w in caught if str(w.message).startswith("layer ")
                              and str(w.message) not in notes]
                    start = time.perf_counter()
                    hls_model.compile()  # also checks the C simulation against the emulator
                    seconds = time.perf_counter() - start
                    csim = hls_model.predict(X, engine="csim")
                    same_as_emulator = np.array_equal(csim, hls_model.predict(X))
                    reference = csim if reference is None else reference
                    same_as_first = np.array_equal(csim, reference)
                    all_equal &= same_as_emulator and same_as_first
                    accuracy = float((csim.argmax(axis=1) == y).mean())
                    print(f"{backend:8} {strategy:9} {io_type:12} {reuse_factor:5} {accuracy:9.4f} "
                          f"{str(same_as_emulator):>11} {str(same_as_first):>13} {seconds:7.2f}s")
    for note in notes:
        print(f"note: {note}")
    cache = cache_dir()
    if cache is not None:  # a design built before (or for the other vendor tool) is copied, not compiled
        print(f"compile: g++'s time, or the time to copy a build from the cache in {cache} "
              "(NNHLS_CACHE_DIR= turns it off)")
    print(f"\nprojects written under {output}")
    print("every cell gives the same bits." if all_equal else "CELLS DIFFER: this is a bug, please report it.")
    return 0 if all_equal else 1


def _types(args) -> int:
    """Show how values land in a few fixed-point types, in numpy and in our C++ types."""
    types = [parse_precision(text) for text in _DEMO_TYPES]
    values = np.array(_DEMO_VALUES)
    numpy_codes = [quantize.from_float(values, t) for t in types]
    cpp_codes = _cpp_codes(types) if shutil.which("g++") else None
    print("nnhls: fixed-point conversion, numpy reference vs C++ ap_types (compiled with g++)\n")
    widths = [len(str(t)) for t in types]
    print(f"{'value':>9}  " + "  ".join(f"{str(t):>{w}}" for t, w in zip(types, widths)))
    for row, value in enumerate(values):
        cells = []
        for column, (t, width) in enumerate(zip(types, widths)):
            real = quantize.to_float(numpy_codes[column][row], t)
            same = "" if cpp_codes is None else ("=" if cpp_codes[column][row] == numpy_codes[column][row] else "!")
            cells.append(f"{real:>{width - 2}.5f} {same}")
        print(f"{value:>9.5f}  " + "  ".join(cells))
    if cpp_codes is None:
        print("\ng++ not found: the C++ column was not checked.")
        return 0
    agree = all(np.array_equal(c, n) for c, n in zip(cpp_codes, numpy_codes))
    print("\n'=' marks a code that C++ and numpy agree on:", "all agree." if agree else "DISAGREEMENT")
    return 0 if agree else 1


def _cpp_codes(types) -> list[np.ndarray]:
    rows = "\n".join(
        f"        {{ {t} x = v; std::printf(\"%lld \", (long long)x.range().to_int64()); }}" for t in types
    )
    rows += '\n        std::printf("\\n");'
    source = _DEMO_PROGRAM % {"values": ", ".join(repr(v) for v in _DEMO_VALUES), "rows": rows}
    with tempfile.TemporaryDirectory(prefix="nnhls_demo_") as folder:
        (Path(folder) / "demo.cpp").write_text(source)
        subprocess.run(["g++", "-std=c++17", "-O1", f"-I{AP_TYPES_DIR}", "demo.cpp", "-o", "demo"],
                       cwd=folder, check=True)
        output = subprocess.run([str(Path(folder) / "demo")], capture_output=True, text=True, check=True).stdout
    raw = np.array([[int(x) for x in line.split()] for line in output.splitlines()])
    # range() reads the raw W bits; sign-extend the signed types.
    codes = []
    for column, t in enumerate(types):
        bits = raw[:, column]
        codes.append(bits - ((bits >> (t.width - 1)) & 1) * (1 << t.width) if t.signed else bits)
    return codes


def _convert(args) -> int:
    """Convert the model a YAML file names and write its project (and compile it, if asked)."""
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # a QKeras model needs tf.keras (Keras 2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from nnhls.converters import convert_from_config

    hls_model = convert_from_config(args.config)
    path = hls_model.write()
    print(f"{hls_model.backend} {hls_model.io_type} project written to {path}")
    if args.compile:
        hls_model.compile()
        print("C simulation compiled; it equals the emulator on inputs spanning every input type")
    return 0


def _sweep(args) -> int:
    """Run the sweep a YAML file describes; print its rows and its Pareto front."""
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # a QKeras model needs tf.keras (Keras 2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from nnhls.sweep import sweep_from_config
    from nnhls.text import table

    results = sweep_from_config(args.config)
    columns = [*results.axes, "score", "multipliers", "latency", "interval", "bram_18k", "error"]
    print(table(columns, results.frame[columns].itertuples(index=False)))
    front = results.pareto()
    print(f"\nPareto front (score against multipliers), {len(front)} of {len(results)} points:")
    print(table(columns[:-1], front[columns[:-1]].itertuples(index=False)))
    return 0 if results.failed.empty else 1


def _build(args) -> int:
    """Run the vendor tool on a written project and summarize its reports."""
    from nnhls import report
    from nnhls.hls.tool import run_build

    steps = {step: getattr(args, step) for step in ("reset", "csim", "synth", "cosim", "export", "vsynth")}
    if not any(steps[step] for step in ("csim", "synth", "cosim", "export", "vsynth")):
        steps.update(csim=True, synth=True)  # what a bare `nnhls build` does
    run_build(args.project, steps)
    if steps["synth"] or steps["cosim"]:
        print(report.summary(report.read(args.project)))
    return 0


def _report(args) -> int:
    from nnhls import report

    print(report.summary(report.read(args.project)))
    return 0


def main(argv: list[str] | None = None) -> int:
    from nnhls.errors import NnhlsError

    parser = argparse.ArgumentParser(prog="nnhls", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert the model a YAML configuration names into an HLS project")
    convert.add_argument("-c", "--config", required=True, help="the YAML file (KerasH5, PytorchModel and InputShape, or OnnxModel; OutputDir, HLSConfig, ...)")
    convert.add_argument("--compile", action="store_true",
                         help="also build the C simulation with g++ and check it against the emulator")
    convert.set_defaults(run=_convert)
    sweep = commands.add_parser("sweep", help="convert, emulate, score and estimate the model at every point of a "
                                              "space of settings, in parallel (a YAML file's Sweep: section)")
    sweep.add_argument("-c", "--config", required=True, help="the YAML file: convert's keys and a Sweep: section")
    sweep.set_defaults(run=_sweep)
    build = commands.add_parser("build", help="run Vivado HLS or Vitis HLS on a written project")
    build.add_argument("-p", "--project", required=True, help="the project folder (OutputDir)")
    for step, text in (("reset", "start the HLS project afresh"), ("csim", "C simulation"),
                       ("synth", "synthesis (C to RTL)"), ("cosim", "C/RTL co-simulation"),
                       ("export", "export the IP"), ("vsynth", "logic synthesis of the exported RTL")):
        build.add_argument(f"--{step}", action="store_true", help=text)
    build.set_defaults(run=_build)
    report_command = commands.add_parser("report", help="summarize the synthesis and co-simulation reports")
    report_command.add_argument("-p", "--project", required=True, help="the project folder (OutputDir)")
    report_command.set_defaults(run=_report)
    demo = commands.add_parser("demo", help="convert the shipped QKeras CNN in every backend, strategy, io type and reuse factor 1 and 4")
    demo.add_argument("-o", "--output", default="nnhls_demo", help="folder for the projects (default: nnhls_demo)")
    demo.set_defaults(run=_demo)
    commands.add_parser("types", help="show values landing in fixed-point types, numpy beside C++").set_defaults(
        run=_types)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NnhlsError as error:
        print(f"nnhls {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
