"""The QKeras MLP 16-64-32-32-5: compile() time, and throughput of the emulator, the C simulation
and Keras `predict` on the same 10,000 samples in the same run. Prints one JSON object.

Run: .venv/bin/python bench/mlp.py
"""

import json
import tempfile
import time
from pathlib import Path

import prelude  # noqa: F401  first: it sets up TensorFlow's environment

import keras_models  # noqa: E402  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from quantize import machine  # noqa: E402

import nnhls  # noqa: E402


def best_seconds(function, repeats: int = 5) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def converted_and_compiled(convert) -> tuple[object, dict]:
    """`convert(io_type)` (reading the model and its configuration included) timed for io_parallel,
    then compile() timed for io_parallel and io_stream; returns the io_parallel model and the times."""
    start = time.perf_counter()
    hls_model = convert("io_parallel")
    results = {"read_and_convert_s": round(time.perf_counter() - start, 3)}
    for io_type, converted in (("io_parallel", hls_model), ("io_stream", convert("io_stream"))):
        start = time.perf_counter()
        converted.compile()
        results[f"compile_s_{io_type}"] = round(time.perf_counter() - start, 3)
    return hls_model, results


def engine_speeds(hls_model, X, unit: str = "samples") -> tuple[dict, float]:
    """Throughput of the emulator and the C simulation on X in one run, `unit` per second, and
    their ratio; and the emulator's best time, for ratios against a framework."""
    emulator = best_seconds(lambda: hls_model.predict(X, engine="emulator"))
    csim = best_seconds(lambda: hls_model.predict(X, engine="csim"), repeats=2)
    return {unit: len(X), f"emulator_{unit}_per_s": round(len(X) / emulator),
            f"csim_{unit}_per_s": round(len(X) / csim), "emulator_over_csim": round(csim / emulator, 2)}, emulator


def engine_figures(hls_model, model, X) -> dict:
    """Throughput of the emulator, the C simulation and Keras `predict` (batch 1024) on X."""
    figures, emulator = engine_speeds(hls_model, X)
    keras = best_seconds(lambda: model.predict(X, batch_size=1024, verbose=0))
    return {**figures, "keras_predict_samples_per_s": round(len(X) / keras),
            "emulator_over_keras": round(keras / emulator, 2)}


def main():
    model = keras_models.qkeras_mlp()
    X, _ = keras_models.synthetic_data(10_000, seed=3)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for io_type in ("io_parallel", "io_stream"):
            for strategy in ("Latency", "Resource"):
                config = nnhls.config_from_keras_model(model, granularity="name")
                config["Model"]["Strategy"] = strategy
                hls_model = nnhls.convert_from_keras_model(model, hls_config=config, io_type=io_type,
                                                           output_dir=Path(folder) / f"{io_type}_{strategy}")
                start = time.perf_counter()
                hls_model.compile()
                results[f"compile_s_{io_type}_{strategy}"] = round(time.perf_counter() - start, 3)
        results.update(engine_figures(hls_model, model, X))
    print(json.dumps({"benchmark": "mlp_16_64_32_32_5", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
