"""Small Keras and QKeras models trained in the tests on synthetic data (nothing is downloaded)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras (Keras 2) models

import numpy as np

INPUT_TYPE_FRACTIONAL_BITS = 10  # inputs lie on the ap_fixed<16,6> grid, so nnhls and Keras see the same values


def synthetic_data(n: int, n_in: int = 16, n_classes: int = 5, seed: int = 0):
    """Gaussian blobs on the ap_fixed<16,6> grid, with integer class labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, (n_classes, n_in))
    labels = rng.integers(0, n_classes, n)
    X = centers[labels] + rng.normal(0, 1.0, (n, n_in))
    X = np.round(X * 2**INPUT_TYPE_FRACTIONAL_BITS) / 2**INPUT_TYPE_FRACTIONAL_BITS
    return np.clip(X, -31, 31).astype(np.float32), labels


def grid(shape, seed: int = 0, step: float = 0.25, bound: float = 8) -> np.ndarray:
    """float32 inputs in [-bound, bound) on a grid of `step`: with grid weights (below) the
    frameworks' float32 sums of their products are exact."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-int(bound / step), int(bound / step), shape) * step).astype(np.float32)


def set_grid_weights(layers, seed: int = 0) -> None:
    """Every weight of `layers` (a layer, or a model's layers) a multiple of 1/8 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    for layer in getattr(layers, "layers", [layers]):
        weights = layer.get_weights()
        if weights:
            layer.set_weights([(rng.integers(-8, 9, w.shape) / 8).astype(np.float32) for w in weights])


def qkeras_mlp(seed: int = 0, epochs: int = 4):
    """16-64-32-32-5: quantized_bits(6,0,alpha=1) weights and biases, quantized_relu(6), linear output."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    tf.keras.utils.set_random_seed(seed)
    quantizer = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    model = tf.keras.Sequential(name="qmlp")
    model.add(tf.keras.layers.InputLayer(input_shape=(16,), name="input_1"))
    for i, width in enumerate((64, 32, 32)):
        model.add(QDense(width, name=f"fc{i + 1}", **quantizer))
        model.add(QActivation("quantized_relu(6)", name=f"relu{i + 1}"))
    model.add(QDense(5, name="output", **quantizer))
    return _train(model, seed, epochs)


def keras_mlp(seed: int = 0, epochs: int = 4):
    """A float tf.keras MLP 16-32-16-5 with relu, Dropout and a BatchNormalization to fold."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(16,), name="input_1"),
        tf.keras.layers.Dense(32, activation="relu", name="fc1"),
        tf.keras.layers.Dropout(0.1, name="dropout"),
        tf.keras.layers.Dense(16, name="fc2"),
        tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.Activation("relu", name="relu2"),
        tf.keras.layers.Dense(5, name="output"),
    ], name="mlp")
    return _train(model, seed, epochs)


def _train(model, seed: int, epochs: int):
    import tensorflow as tf

    X, y = synthetic_data(3000, seed=seed)
    if epochs == 0:  # untrained: random weights are enough for structural tests
        model(X[:1])
        return model
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, epochs=epochs, batch_size=64, verbose=0)
    return model


def load_example(path):
    """A model that ships in nnhls.examples (tf.keras warns about QKeras layers as it loads them)."""
    import warnings

    from nnhls.frontends.keras import load_keras_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_keras_file(path)


def convert_example(model, backend, strategy, io_type, folder, project_name, reuse_factor=1, **config_options):
    """`model` converted with a per-layer configuration, `strategy` and every layer's reuse factor
    set (warnings of reuse factors moved to valid ones silenced)."""
    import nnhls

    config = nnhls.config_from_keras_model(model, granularity="name", backend=backend, **config_options)
    return _converted(nnhls.convert_from_keras_model, model, config, strategy, reuse_factor, backend=backend,
                      io_type=io_type, output_dir=folder, project_name=project_name)


def _converted(convert, model, config, strategy, reuse_factor, **options):
    """`convert(model, ...)` with `strategy` and every layer's reuse factor set in `config`
    (warnings of reuse factors moved to valid ones silenced)."""
    import warnings

    config["Model"]["Strategy"] = strategy
    for entry in config["LayerName"].values():
        for key in ("ReuseFactor", "RecurrentReuseFactor"):
            if key in entry:
                entry[key] = reuse_factor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert(model, hls_config=config, **options)


def same_bits_in_every_cell(model, X, folder, project_name, convert=None, **options):
    """The C simulation's outputs of `model` on `X` in every backend x strategy x io type (each
    converted by `convert` (default convert_example) with `options`), asserted equal to the
    emulator's in each cell and to the first cell's; returns them."""
    convert = convert or convert_example
    import itertools

    from nnhls.hls.backend import BACKENDS, IO_TYPES

    reference = None
    for backend, strategy, io_type in itertools.product(BACKENDS, ("Latency", "Resource"), IO_TYPES):
        cell = f"{backend}_{strategy}_{io_type}"
        converted = convert(model, backend, strategy, io_type, folder / cell, project_name, **options)
        converted.compile()
        csim = converted.predict(X, engine="csim")
        assert np.array_equal(csim, converted.predict(X)), cell
        reference = csim if reference is None else reference
        assert np.array_equal(csim, reference), cell
    return reference


def assert_staircases_give_framework_codes(hls_model, theirs: dict, X, count: int) -> list:
    """Each of the `count` staircases of hls_model gives, on X, the codes the framework's quantizer
    at that place gives (`theirs`: the framework's per-layer outputs, as layer_outputs returns
    them); returns the staircases."""
    _, ours = hls_model.trace(X)
    steps = [node for node in hls_model.graph if node.op == "step"]
    assert len(steps) == count
    for node in steps:
        assert np.array_equal(np.rint(theirs[node.framework_output]), ours[node.name]), node.name
    return steps


def convert_torch_example(model, backend, strategy, io_type, folder, project_name, input_shape, reuse_factor=1,
                          output_precision=None, **config_options):
    """A PyTorch module converted as convert_example converts a Keras model; `output_precision`
    sets the result type of the output nodes."""
    import nnhls

    config = nnhls.config_from_pytorch_model(model, input_shape, granularity="name", backend=backend,
                                             **config_options)
    if output_precision is not None:
        from nnhls.frontends.pytorch import read_pytorch

        for name in read_pytorch(model, input_shape).outputs:
            config["LayerName"][name]["Precision"]["result"] = output_precision
    return _converted(nnhls.convert_from_pytorch_model, model, config, strategy, reuse_factor, backend=backend,
                      io_type=io_type, output_dir=folder, project_name=project_name)


def convert_onnx_example(model, backend, strategy, io_type, folder, project_name, reuse_factor=1,
                         output_precision=None, **config_options):
    """An ONNX model converted as convert_example converts a Keras model; `output_precision` sets
    the result type of the output nodes."""
    import nnhls

    config = nnhls.config_from_onnx_model(model, granularity="name", backend=backend, **config_options)
    if output_precision is not None:
        from nnhls.frontends.onnx import read_onnx

        for name in read_onnx(model).outputs:
            config["LayerName"][name]["Precision"]["result"] = output_precision
    return _converted(nnhls.convert_from_onnx_model, model, config, strategy, reuse_factor, backend=backend,
                      io_type=io_type, output_dir=folder, project_name=project_name)
