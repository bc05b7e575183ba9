"""Written projects compiled as the vendor's C simulation compiles them: g++ -O0 with the vendor's
own ap_types headers (fetched at test time, see vendor_headers.py) in place of the project's.

Constants are integer codes read through a bit-range assignment (nnhls/common.h), one path for
nnhls's C simulation and the vendor's; these tests hold that path to the vendor's headers, at
every width up to 128 bits, and check that the testbench passes there too.
"""

import random
import re
import subprocess
from pathlib import Path

import keras_models  # noqa: F401  sets TF_USE_LEGACY_KERAS before TensorFlow is imported
import numpy as np
import pytest
from test_equivalence import CONVOLUTION_SEED, LAYERNORM_SEED, RECURRENT_SEED, SHAPES_SEED, TOKENS_SEED, realize
from vendor_headers import vendor_ap_types

from nnhls import quantize
from nnhls.hls import AP_TYPES_DIR, INCLUDE_DIR
from nnhls.hls.backend import code_literals, cpp_type
from nnhls.types import FixedType, IntType


def compile_with_vendor_headers(project: Path, project_name: str, cflags: str) -> None:
    """The testbench and the top function, at -O0 against the vendor's headers."""
    command = ["g++", "-O0", *cflags.split(), "-Wno-unknown-pragmas", "-Ifirmware", f"-I{vendor_ap_types()}",
               f"{project_name}_test.cpp", f"firmware/{project_name}.cpp", "-o", "testbench_vendor"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr[-4000:]}"


def run_testbench(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["./testbench_vendor"], cwd=project, capture_output=True, text=True, timeout=120)


_INTEGER_LITERAL = r"(-?\d+(LL|ULL)?|\(-9223372036854775807LL - 1\)|\{\{(0x[0-9a-f]{16}ULL(, )?)+\}\})"


def assert_constants_are_integer_codes(project: Path) -> None:
    """Every constant array is a `static const` array of integer literals: constant-initialized."""
    headers = sorted((project / "firmware" / "weights").glob("*.h"))
    assert headers
    for header in headers:
        text = header.read_text()
        match = re.search(r"static const nnhls::rom<\w+>::word \w+\[\d+\] = \{\n(.*?)\n\};", text, re.S)
        assert match, header.name
        items = re.split(r",\s+(?![^{]*\}\})", match.group(1).strip())
        assert all(re.fullmatch(_INTEGER_LITERAL, item) for item in items), header.name


@pytest.mark.parametrize("network, backend, strategy, io_type", [
    ("images", "Vivado", "Latency", "io_parallel"),  # convolutions, poolings, scale and shift, dense
    ("images", "Vitis", "Resource", "io_stream"),
    ("tables", "Vitis", "Latency", "io_parallel"),  # tanh and sigmoid tables, softmax
    ("piecewise", "Vivado", "Resource", "io_stream"),  # ReLU family, tails, staircase, hard sigmoid
    ("layernorm", "Vitis", "Latency", "io_stream"),  # leading ones, bit ranges and shifts, a 68-bit variance
    ("tokens", "Vitis", "Latency", "io_stream"),  # embeddings, sum pooling
    ("convolutions", "Vivado", "Resource", "io_stream"),  # dilated, grouped, spread and pointwise windows
    ("shapes", "Vitis", "Resource", "io_parallel"),  # reshape, transpose, crop, upsampling, softmax per position
    ("recurrent", "Vivado", "Latency", "io_parallel"),  # LSTM, GRUs and SimpleRNN: parts and cells
])
def test_testbench_passes_with_the_vendor_headers(network, backend, strategy, io_type, tmp_path):
    seed = {"images": 8, "layernorm": LAYERNORM_SEED, "convolutions": CONVOLUTION_SEED, "shapes": SHAPES_SEED,
            "tokens": TOKENS_SEED, "recurrent": RECURRENT_SEED}.get(network, 10)
    model, _ = realize(seed, backend, strategy, io_type, tmp_path, network)
    project = model.write()
    assert_constants_are_integer_codes(project)
    compile_with_vendor_headers(project, "myproject", model.project.backend.cflags)
    result = run_testbench(project)
    assert result.returncode == 0 and "64 samples, 0 outputs differ" in result.stdout, result.stdout
    if network == "images" and io_type == "io_parallel":  # the testbench does compare: one LSB off fails
        predictions = project / "tb_data" / "tb_output_predictions.dat"
        lines = predictions.read_text().splitlines()
        values = lines[5].split()
        values[0] = repr(float(values[0]) + model.graph["dense"].result_type.lsb)
        predictions.write_text("\n".join(lines[:5] + [" ".join(values)] + lines[6:]) + "\n")
        result = run_testbench(project)
        assert result.returncode == 1 and "64 samples, 1 outputs differ" in result.stdout


def _types_of_every_width():
    types = []
    for width in (1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 53, 54, 63, 64, 65, 100, 127, 128):
        types += [FixedType(width, width // 3 - 2, signed=True), FixedType(width, width + 3, signed=False),
                  IntType(width, signed=True), IntType(width, signed=False)]
    return types


def _codes(t: FixedType, rng: random.Random) -> list[int]:
    extremes = [t.min_code, t.max_code, 0, t.min_code + 1, t.max_code - 1]
    return extremes + [rng.randint(t.min_code, t.max_code) for _ in range(4)]


def _code_program(types) -> str:
    lines = ["#include <cstdio>", '#include "ap_fixed.h"', '#include "ap_int.h"', '#include "nnhls/common.h"',
             "", "int main() {"]
    rng = random.Random(0)
    for k, t in enumerate(types):
        codes = _codes(t, rng)
        initializers = ", ".join(code_literals(np.array(codes, dtype=object), t))
        lines += [f"  {{ typedef {cpp_type(t)} T;",
                  f"    static const nnhls::rom<T>::word codes[{len(codes)}] = {{{initializers}}};",
                  f"    for (int i = 0; i < {len(codes)}; i++) {{",
                  "      T value = nnhls::from_code<T>(codes[i]);",
                  f'      std::printf("{k} %d", i);']
        for low in range(0, t.width, 64):
            bits = f"value.range({min(low + 63, t.width - 1)}, {low}).to_uint64()"
            lines.append(f'      std::printf(" %llx", (unsigned long long){bits});')
        lines += ['      std::printf("\\n");', "    }", "  }"]
    return "\n".join(lines + ["  return 0;", "}", ""])


def _expected_lines(types) -> list[str]:
    rng = random.Random(0)
    lines = []
    for k, t in enumerate(types):
        for i, code in enumerate(_codes(t, rng)):
            bits = code % (1 << t.width)
            words = [f"{(bits >> low) & ((1 << 64) - 1):x}" for low in range(0, t.width, 64)]
            lines.append(" ".join([str(k), str(i), *words]))
    return lines


@pytest.mark.parametrize("headers", ["vendor", "nnhls"])
def test_codes_read_back_exactly_at_every_width(headers, tmp_path):
    """A code array as the writer spells it, read into its type through nnhls::from_code, gives
    the code's bits back at every width from 1 to 128, signed and unsigned, with both headers."""
    types = _types_of_every_width()
    (tmp_path / "codes.cpp").write_text(_code_program(types))
    ap_types = vendor_ap_types() if headers == "vendor" else AP_TYPES_DIR
    command = ["g++", "-O0", "-std=c++14", "-Wno-unknown-pragmas", f"-I{ap_types}", f"-I{INCLUDE_DIR}",
               "codes.cpp", "-o", "codes"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    output = subprocess.run(["./codes"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert output.splitlines() == _expected_lines(types)


def test_qdense_with_powers_of_two_over_more_than_53_bits(tmp_path):
    """quantized_po2 weights from 2**-22 to 2**38 and biases from 2**-22 to 2**50: a 62-bit kernel
    type and a 74-bit bias type, exact in the IR, in nnhls's C simulation and with the vendor's
    headers, and equal to QKeras (whose float32 sums are exact for these inputs)."""
    pytest.importorskip("qkeras")
    import tensorflow as tf
    from qkeras import QDense, quantized_po2

    import nnhls

    inputs = tf.keras.Input((3,), name="x")
    dense_layer = QDense(2, kernel_quantizer=quantized_po2(8), bias_quantizer=quantized_po2(8), name="q")
    model = tf.keras.Model(inputs, dense_layer(inputs))
    # A small and a large column, so that each output's float32 sum stays exact in QKeras.
    kernel = np.array([[2.0**-20, 2.0**36], [-2.0**-22, -2.0**37], [2.0**-21, 2.0**38]], np.float32)
    bias = np.array([-2.0**-22, 2.0**50], np.float32)
    model.get_layer("q").set_weights([kernel, bias])
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["q"]["Precision"]["result"] = "auto"
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, backend="Vitis",
                                               io_type="io_parallel", output_dir=tmp_path / "prj")
    dense = hls_model.graph["q"]
    assert dense.weight.type == FixedType(62, 40) and dense.bias.type == FixedType(74, 52)
    assert np.array_equal(quantize.to_float(dense.weight.codes, dense.weight.type), kernel)
    assert np.array_equal(quantize.to_float(dense.bias.codes, dense.bias.type), bias)
    hls_model.compile()
    X = np.random.default_rng(0).integers(-16, 16, (300, 3)) / 4  # exact in the input's ap_fixed<16,6>
    emulated = hls_model.predict(X)
    assert np.array_equal(hls_model.predict(X, engine="csim"), emulated)
    assert np.array_equal(model.predict(X, verbose=0).astype(np.float64), emulated)
    project = hls_model.write()
    assert_constants_are_integer_codes(project)
    compile_with_vendor_headers(project, "myproject", hls_model.project.backend.cflags)
    result = run_testbench(project)
    assert result.returncode == 0 and "64 samples, 0 outputs differ" in result.stdout, result.stdout



def test_brevitas_staircases_per_channel_pass_with_the_vendor_headers(tmp_path):
    """The shipped Brevitas MLP: its quantizers compare the layers' integer sums with thresholds of
    their own per channel, one integer bit wider than the sums."""
    pytest.importorskip("brevitas")
    from nnhls.examples.torch_digits import load

    import nnhls

    model = load("brevitas_mlp")
    config = nnhls.config_from_pytorch_model(model, (64,), granularity="name")
    hls_model = nnhls.convert_from_pytorch_model(model, hls_config=config, backend="Vivado", io_type="io_stream",
                                                 output_dir=tmp_path / "prj")
    assert any(node.op == "step" and node.per_channel for node in hls_model.graph)
    project = hls_model.write()
    compile_with_vendor_headers(project, "myproject", hls_model.project.backend.cflags)
    result = run_testbench(project)
    assert result.returncode == 0 and "0 outputs differ" in result.stdout, result.stdout
