"""The shipped ONNX and QONNX digits models (a float CNN from torch.onnx.export, a Brevitas MLP and
CNN from Brevitas's QONNX export): the time to read (qonnx's preparation included) and convert
each, compile() per io type, the emulator's, the C simulation's, QONNX's reference execution's and
onnxruntime's throughput on the same images in the same run, and how the outputs and the accuracy
compare with QONNX's execution. Prints one JSON object.

Run: .venv/bin/python bench/onnx_digits.py
"""

import json
import tempfile
import time
from pathlib import Path

import prelude  # noqa: F401  first: it sets up the environment

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
from mlp import best_seconds, converted_and_compiled, engine_speeds  # noqa: E402
from quantize import machine  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import DIGITS_ONNX_CNN, DIGITS_QONNX_CNN, DIGITS_QONNX_MLP, load_digits_data  # noqa: E402
from nnhls.frontends.onnx import read_onnx, reference_outputs  # noqa: E402

MODELS = {"onnx_cnn": (DIGITS_ONNX_CNN, (1, 8, 8)), "qonnx_mlp": (DIGITS_QONNX_MLP, (64,)),
          "qonnx_cnn": (DIGITS_QONNX_CNN, (1, 8, 8))}
FLOAT_PRECISION = "ap_fixed<20,10,AP_RND_CONV,AP_SAT>"
OUTPUT_TYPE, OUTPUT_LSB = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>", 2.0**-10


def figures(name: str, path: Path, input_shape, X: np.ndarray, y: np.ndarray, folder: Path) -> dict:
    X = X.reshape(-1, *input_shape)
    quantized = name.startswith("qonnx")

    def convert(io_type):
        config = nnhls.config_from_onnx_model(path, granularity="name",
                                              default_precision="fixed<16,6>" if quantized else FLOAT_PRECISION)
        if quantized:
            for output in read_onnx(path).outputs:
                config["LayerName"][output]["Precision"]["result"] = OUTPUT_TYPE
        return nnhls.convert_from_onnx_model(path, hls_config=config, io_type=io_type,
                                             output_dir=folder / f"{name}_{io_type}")

    hls_model, results = converted_and_compiled(convert)
    start = time.perf_counter()
    (expected,) = reference_outputs(path, [X]).values()
    reference_s = time.perf_counter() - start
    runtime = None
    if not quantized:  # onnxruntime has no QONNX ops
        session = onnxruntime.InferenceSession(str(path))
        feed = {session.get_inputs()[0].name: X.astype(np.float32)}
        runtime = best_seconds(lambda: session.run(None, feed))
    results.update(engine_speeds(hls_model, X)[0])
    ours = hls_model.predict(X)
    test = slice(len(X) - len(y), None)
    results.update({
        "qonnx_execution_samples_per_s": round(len(X) / reference_s),
        "test_accuracy_qonnx_execution": round(float((expected[test].argmax(axis=1) == y).mean()), 4),
        "test_accuracy_nnhls": round(float((ours[test].argmax(axis=1) == y).mean()), 4),
    })
    if runtime is not None:
        results["onnxruntime_samples_per_s"] = round(len(X) / runtime)
    if quantized:
        error = np.abs(ours - expected) / OUTPUT_LSB
        results["max_error_output_lsb"] = round(float(error.max()), 3)
        results["outputs_equal_to_qonnx_rounded"] = round(float(np.mean(
            ours == np.round(expected / OUTPUT_LSB) * OUTPUT_LSB)), 5)
    return results


def main():
    X_train, _, X_test, y_test = load_digits_data()
    X = np.concatenate([X_train, X_test])  # every digit image; the accuracy is on the test split at the end
    with tempfile.TemporaryDirectory() as folder:
        results = {name: figures(name, path, shape, X, y_test, Path(folder)) for name, (path, shape) in MODELS.items()}
    print(json.dumps({"benchmark": "onnx_digits", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
