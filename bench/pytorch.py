"""The shipped PyTorch digits models (float CNN and MLP, Brevitas MLP and CNN): the time to read
and convert each, compile() per io type, the emulator's, the C simulation's and PyTorch's
throughput on the same images in the same run, and the accuracy of each against PyTorch's.
Prints one JSON object.

Run: .venv/bin/python bench/pytorch.py
"""

import json
import tempfile
from pathlib import Path

import prelude  # noqa: F401  first: it sets up the environment

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlp import best_seconds, converted_and_compiled, engine_speeds  # noqa: E402
from quantize import machine  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import load_digits_data  # noqa: E402
from nnhls.examples.torch_digits import load  # noqa: E402

MODELS = {"cnn": (1, 8, 8), "mlp": (64,), "brevitas_mlp": (64,), "brevitas_cnn": (1, 8, 8)}
FLOAT_PRECISION = "ap_fixed<20,10,AP_RND_CONV,AP_SAT>"


def figures(name: str, input_shape, X: np.ndarray, y: np.ndarray, folder: Path) -> dict:
    model = load(name)
    X = X.reshape(-1, *input_shape)
    precision = "fixed<16,6>" if name.startswith("brevitas") else FLOAT_PRECISION

    def convert(io_type):
        config = nnhls.config_from_pytorch_model(model, input_shape, granularity="name", default_precision=precision)
        return nnhls.convert_from_pytorch_model(model, hls_config=config, io_type=io_type,
                                                output_dir=folder / f"{name}_{io_type}")

    hls_model, results = converted_and_compiled(convert)
    inputs = torch.tensor(X, dtype=torch.float32)
    with torch.no_grad():
        expected = model(inputs).numpy()
    results.update(engine_speeds(hls_model, X)[0])
    with torch.no_grad():
        framework = best_seconds(lambda: model(inputs))
    test = slice(len(X) - len(y), None)
    results.update({
        "pytorch_samples_per_s": round(len(X) / framework),
        "test_accuracy_pytorch": round(float((expected[test].argmax(axis=1) == y).mean()), 4),
        "test_accuracy_nnhls": round(float((hls_model.predict(X)[test].argmax(axis=1) == y).mean()), 4),
    })
    return results


def main():
    X_train, _, X_test, y_test = load_digits_data()
    X = np.concatenate([X_train, X_test])  # every digit image; the accuracy is on the test split at the end
    with tempfile.TemporaryDirectory() as folder:
        results = {name: figures(name, shape, X, y_test, Path(folder)) for name, shape in MODELS.items()}
    print(json.dumps({"benchmark": "pytorch_digits", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
