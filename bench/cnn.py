"""The shipped QKeras digits CNN: compile() time per backend, strategy and io type, and the
throughput of the emulator, the C simulation and Keras `predict` on the same images in the same
run. Prints one JSON object.

Run: .venv/bin/python bench/cnn.py
"""

import json
import tempfile
import time
import warnings
from pathlib import Path

import prelude  # noqa: F401  first: it sets up TensorFlow's environment

import numpy as np  # noqa: E402
from mlp import engine_figures  # noqa: E402
from quantize import machine  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import DIGITS_QCNN, load_digits_images  # noqa: E402
from nnhls.frontends.keras import load_keras_file  # noqa: E402


def main():
    warnings.filterwarnings("ignore")
    model = load_keras_file(DIGITS_QCNN)
    X_train, _, X_test, _ = load_digits_images()
    X = np.concatenate([X_train, X_test] * 3)  # every digit image, three times: 5391 images
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("Vivado", "Vitis"):
            for io_type in ("io_parallel", "io_stream"):
                for strategy in ("Latency", "Resource"):
                    config = nnhls.config_from_keras_model(model, granularity="name", backend=backend)
                    config["Model"]["Strategy"] = strategy
                    hls_model = nnhls.convert_from_keras_model(
                        model, hls_config=config, backend=backend, io_type=io_type,
                        output_dir=Path(folder) / f"{backend}_{io_type}_{strategy}")
                    start = time.perf_counter()
                    hls_model.compile()
                    results[f"compile_s_{backend}_{io_type}_{strategy}"] = round(time.perf_counter() - start, 3)
        results["compile_s_max"] = max(results.values())
        results.update(engine_figures(hls_model, model, X))
    print(json.dumps({"benchmark": "digits_qcnn", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
