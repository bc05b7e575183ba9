"""The emulator's speed on CNNs of the seed report's shape (an input of 8x8, 16x16 or 32x32 pixels,
two blocks of QConv2DBatchnorm with 16 filters of 3x3 + quantized_relu(6) + MaxPooling2D, Dense 42
and 64 each with BatchNormalization, Dense 10, softmax; random weights; 'valid' convolutions, but
'same' at 8x8, where valid ones leave nothing to the second pooling) on upsampled digits:

- per model and batch size, the emulator, nnhls's C simulation and Keras `predict`, in one run,
  with the ratio emulator / C simulation and one image's time;
- the cost per image against the multiply-accumulates per image, from 8x8 to 32x32;
- the emulator's peak memory on a 100,000-image batch (16x16);
- where the emulator's time goes: per layer and per step (window gathers, products, conversions,
  tables), on the 16x16 model.

Prints one JSON object. Run: .venv/bin/python bench/emulator.py
"""

import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import prelude  # noqa: F401  first: it sets up TensorFlow's environment

import numpy as np  # noqa: E402
from mlp import best_seconds  # noqa: E402
from quantize import machine  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import load_digits_images  # noqa: E402

SIZES = (8, 16, 32)
BATCHES = (1, 360, 3600, 20000)
CSIM_BATCHES = (360, 3600)


def seed_cnn(size: int, seed: int = 0):
    """The seed report's CNN for size x size images, random weights and batch-norm statistics."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2DBatchnorm, QDense, quantized_bits

    tf.keras.utils.set_random_seed(seed)
    quantizer = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    layers = [tf.keras.layers.InputLayer(input_shape=(size, size, 1), name="pixels")]
    for i in (1, 2):
        layers += [QConv2DBatchnorm(16, 3, padding="same" if size < 16 else "valid", name=f"conv{i}", **quantizer),
                   QActivation("quantized_relu(6)", name=f"relu{i}"), tf.keras.layers.MaxPooling2D(2, name=f"pool{i}")]
    layers.append(tf.keras.layers.Flatten(name="flatten"))
    for i, units in enumerate((42, 64), start=1):
        layers += [QDense(units, name=f"fc{i}", **quantizer), tf.keras.layers.BatchNormalization(name=f"bn{i}"),
                   QActivation("quantized_relu(6)", name=f"relu_fc{i}")]
    layers += [QDense(10, name="logits", **quantizer), tf.keras.layers.Activation("softmax", name="softmax")]
    model = tf.keras.Sequential(layers, name=f"seed_cnn_{size}")
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # statistics a trained network could have: outputs of order one
        if isinstance(layer, (QConv2DBatchnorm, tf.keras.layers.BatchNormalization)):
            weights = layer.get_weights()
            names = [w.name for w in layer.weights]
            for k, name in enumerate(names):
                if "moving_mean" in name:
                    weights[k] = rng.normal(0, 0.5, weights[k].shape).astype(np.float32)
                elif "moving_variance" in name:
                    weights[k] = rng.uniform(0.5, 2.0, weights[k].shape).astype(np.float32)
            layer.set_weights(weights)
    return model


def images(size: int, n: int) -> np.ndarray:
    """n digit images (repeated as needed), each pixel of the 8x8 digits upsampled to size x size."""
    X_train, _, X_test, _ = load_digits_images()
    X = np.concatenate([X_train, X_test])
    X = np.concatenate([X] * -(-n // len(X)))[:n]
    factor = size // 8
    return np.kron(X, np.ones((1, factor, factor, 1))).astype(np.float32)


def macs(hls_model) -> int:
    """Multiply-accumulates per image: the Dense and convolution products."""
    total = 0
    for node in hls_model.graph:
        if node.op == "dense":
            total += node.weight.codes.size
        elif node.op == "conv":
            total += node.window.n_pixels * node.weight.codes.size
    return total


def profile(hls_model, X) -> dict:
    """Seconds per layer, and per step, of one emulator run on X."""
    from nnhls import quantize
    from nnhls.emulate import ops

    per_layer = defaultdict(float)
    per_step = defaultdict(float)
    saved_ops = dict(ops.EMULATORS)
    steps = {"window gather": (ops, "_windows"), "products in floats": (ops, "_float_products"),
             "exact products in integers": (ops, "_exact_matmul"),
             "conversions": (quantize, "from_codes"), "tables": (ops, "table_index"),
             "input conversion": (quantize, "from_float")}
    saved_steps = {name: getattr(module, attribute) for name, (module, attribute) in steps.items()}

    def timed_step(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                per_step[name] += time.perf_counter() - start
        return wrapper

    def timed_op(function):
        def wrapper(node, *args):
            start = time.perf_counter()
            try:
                return function(node, *args)
            finally:
                per_layer[f"{node.name} ({node.op})"] += time.perf_counter() - start
        return wrapper

    import nnhls.emulate as emulate

    saved_pooled = emulate.emulate_pooled

    def timed_pooled(pool, activation, source):
        start = time.perf_counter()
        try:
            return saved_pooled(pool, activation, source)
        finally:
            per_layer[f"{activation.name} + {pool.name} (pooled)"] += time.perf_counter() - start

    try:
        emulate.emulate_pooled = timed_pooled
        for op, function in saved_ops.items():
            ops.EMULATORS[op] = timed_op(function)
        for name, (module, attribute) in steps.items():
            setattr(module, attribute, timed_step(name, saved_steps[name]))
        start = time.perf_counter()
        hls_model.predict(X)
        total = time.perf_counter() - start
    finally:
        emulate.emulate_pooled = saved_pooled
        ops.EMULATORS.update(saved_ops)
        for name, (module, attribute) in steps.items():
            setattr(module, attribute, saved_steps[name])
    return {"images": len(X), "total_s": round(total, 4),
            "per_layer_s": {k: round(v, 4) for k, v in sorted(per_layer.items(), key=lambda kv: -kv[1])},
            "per_step_s": {k: round(v, 4) for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])}}


def peak_memory_mb(size: int, n: int) -> float:
    """The most memory predict() holds at once on n images (numpy's arrays, which tracemalloc
    sees), in a fresh process, the n images themselves included."""
    script = f"""
import sys, tracemalloc
sys.path.insert(0, {str(Path(__file__).parent)!r})
import prelude, warnings
warnings.filterwarnings("ignore")
import nnhls
from emulator import seed_cnn, images
model = seed_cnn({size})
hls_model = nnhls.convert_from_keras_model(model, hls_config=nnhls.config_from_keras_model(model, granularity="name"))
X = images({size}, {n})
hls_model.predict(X[:10])
tracemalloc.start()
hls_model.predict(X)
print(tracemalloc.get_traced_memory()[1] / 2**20 + X.nbytes / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return round(float(out.strip().splitlines()[-1]), 1)


def main():
    import warnings

    warnings.filterwarnings("ignore")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            model = seed_cnn(size)
            config = nnhls.config_from_keras_model(model, granularity="name")
            hls_model = nnhls.convert_from_keras_model(model, hls_config=config,
                                                       output_dir=Path(folder) / f"cnn{size}")
            hls_model.compile()
            figures = {"macs_per_image": macs(hls_model)}
            for n in BATCHES:
                X = images(size, n)
                emulator = best_seconds(lambda: hls_model.predict(X), repeats=5 if n <= 3600 else 2)
                figures[f"emulator_us_per_image_{n}"] = round(emulator / n * 1e6, 2)
                if n in CSIM_BATCHES:
                    csim = best_seconds(lambda: hls_model.predict(X, engine="csim"), repeats=2)
                    keras = best_seconds(lambda: model.predict(X, batch_size=1024, verbose=0), repeats=2)
                    figures[f"csim_us_per_image_{n}"] = round(csim / n * 1e6, 2)
                    figures[f"keras_us_per_image_{n}"] = round(keras / n * 1e6, 2)
                    figures[f"emulator_over_csim_{n}"] = round(csim / emulator, 2)
            figures["emulator_ns_per_mac_3600"] = round(figures["emulator_us_per_image_3600"] * 1e3
                                                        / figures["macs_per_image"], 3)
            results[f"cnn_{size}x{size}"] = figures
            if size == 16:
                results["profile_16x16"] = profile(hls_model, images(16, 3600))
    results["peak_memory_mb_100000_images_16x16"] = peak_memory_mb(16, 100_000)
    print(json.dumps({"benchmark": "emulator", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
