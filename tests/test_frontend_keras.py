"""The Keras/QKeras frontend: structure, exact (quantized) weights, quantizer types, errors."""

import os

# QKeras builds tf.keras (Keras 2) models; `import keras` stays Keras 3. Must precede any TF import.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

tf_keras = pytest.importorskip("tf_keras")
keras3 = pytest.importorskip("keras")
qkeras = pytest.importorskip("qkeras")

from qkeras import QActivation, QDense, quantized_bits, quantized_relu  # noqa: E402

from nnhls import quantize  # noqa: E402
from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.frontends import read_keras  # noqa: E402
from nnhls.frontends.qkeras import quantizer_type  # noqa: E402
from nnhls.types import FixedType  # noqa: E402

FRAMEWORKS = {"tf_keras": tf_keras, "keras3": keras3}


def _structure(graph):
    return [(node.name, node.op, node.shape, node.inputs) for node in graph]


def _set_random_weights(model, seed=0, spread=1.0):
    """Random values in every weight, different per channel; batch-norm variances stay positive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32) for w in weights])
        elif weights:
            layer.set_weights([rng.uniform(-spread, spread, w.shape).astype(np.float32) for w in weights])


def _mlp(K, sequential):
    layers = [
        K.layers.Dense(8, activation="relu", name="hidden"),
        K.layers.Dropout(0.5, name="drop"),
        K.layers.BatchNormalization(center=False, name="batch_normalization"),
        K.layers.Dense(5, use_bias=False, name="logits"),
        K.layers.Activation("relu", name="act"),
        K.layers.ReLU(name="re_lu"),
        K.layers.Dense(3, name="out"),
        K.layers.Dropout(0.1, name="final_drop"),
    ]
    if sequential:
        head = [K.Input((4, 4), name="features"), K.layers.Flatten(name="flat")]
        model = K.Sequential(head + layers, name="mlp")
    else:
        inputs = K.Input((4, 4), name="features")
        x = K.layers.Flatten(name="flat")(inputs)
        for layer in layers:
            x = layer(x)
        model = K.Model(inputs, x, name="mlp")
    _set_random_weights(model)
    return model


MLP_STRUCTURE = [
    ("features", "input", (4, 4), []),
    ("flat", "flatten", (16,), ["features"]),
    ("hidden", "dense", (8,), ["flat"]),
    ("hidden_relu", "activation", (8,), ["hidden"]),
    ("batch_normalization", "batchnorm", (8,), ["hidden_relu"]),
    ("logits", "dense", (5,), ["batch_normalization"]),
    ("act", "activation", (5,), ["logits"]),
    ("re_lu", "activation", (5,), ["act"]),
    ("out", "dense", (3,), ["re_lu"]),
]


def _check_mlp(graph, model):
    assert graph.name == "mlp"
    assert _structure(graph) == MLP_STRUCTURE
    assert graph.outputs == ["out"]  # the final Dropout is gone
    kernel, bias = model.get_layer("hidden").get_weights()
    assert graph["hidden"].weight.values.dtype == np.float64
    assert np.array_equal(graph["hidden"].weight.values, kernel)
    assert np.array_equal(graph["hidden"].bias.values, bias)
    assert graph["hidden"].weight.quantizer is None
    assert np.array_equal(graph["logits"].weight.values, model.get_layer("logits").get_weights()[0])
    assert np.array_equal(graph["logits"].bias.values, np.zeros(5))
    assert [graph[name].function for name in ("hidden_relu", "act", "re_lu")] == ["relu"] * 3
    assert graph["hidden"].framework_class == "Dense"
    assert graph["hidden_relu"].framework_class == "Activation"
    assert graph["flat"].framework_class == "Flatten"
    assert graph["re_lu"].framework_class == "ReLU"
    norm = graph["batch_normalization"]
    gamma, mean, variance = model.get_layer("batch_normalization").get_weights()
    assert np.array_equal(norm.gamma, gamma) and np.array_equal(norm.beta, np.zeros(8))
    assert np.array_equal(norm.mean, mean) and np.array_equal(norm.variance, variance)
    assert norm.epsilon == pytest.approx(1e-3)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("sequential", [True, False], ids=["sequential", "functional"])
def test_mlp_structure_and_weights(framework, sequential):
    model = _mlp(FRAMEWORKS[framework], sequential)
    _check_mlp(read_keras(model), model)


@pytest.mark.parametrize("framework, suffix", [("tf_keras", ".h5"), ("keras3", ".keras")])
def test_mlp_saved_and_reloaded_reads_the_same(framework, suffix, tmp_path):
    model = _mlp(FRAMEWORKS[framework], sequential=False)
    path = tmp_path / f"mlp{suffix}"
    model.save(path)
    _check_mlp(read_keras(str(path)), model)
    _check_mlp(read_keras(path), model)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_sequential_without_explicit_input_still_gets_an_input_node(framework):
    K = FRAMEWORKS[framework]
    model = K.Sequential([K.layers.Dense(2, name="only")])
    model.build((None, 3))
    graph = read_keras(model)
    first = next(iter(graph))
    assert first.op == "input" and first.shape == (3,)
    assert graph["only"].inputs == [first.name]


def test_activation_node_name_avoids_an_existing_layer_name():
    K = tf_keras
    inputs = K.Input((3,), name="x")
    y = K.layers.Dense(2, activation="relu", name="d")(inputs)
    y = K.layers.Activation("linear", name="d_relu")(y)
    graph = read_keras(K.Model(inputs, y))
    assert graph["d_relu"].inputs == ["d_relu_2"]
    assert graph["d_relu_2"].inputs == ["d"]


# --- QKeras -----------------------------------------------------------------------------------

BITS_6 = FixedType(6, 1, signed=True, rounding="RND_CONV", overflow="SAT")


def _qmlp():
    inputs = tf_keras.Input((4, 4), name="features")
    x = tf_keras.layers.Flatten(name="flat")(inputs)
    x = QDense(
        8, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer="quantized_bits(6,0,alpha=1)",
        name="qd1",
    )(x)
    x = QActivation("quantized_relu(6)", name="qrelu")(x)
    x = tf_keras.layers.Dropout(0.2, name="drop")(x)
    x = QDense(
        6, kernel_quantizer="quantized_bits(6,0,1,alpha=1)", bias_quantizer=quantized_bits(8, 3, alpha=1),
        activation="quantized_relu(4,1)", name="qd2",
    )(x)
    x = tf_keras.layers.BatchNormalization(name="bn")(x)
    x = QDense(4, activation="relu", name="qd_float")(x)
    # A string: tf.keras cannot reload a QActivation holding a quantizer object from a .keras file.
    x = QActivation("quantized_bits(8,2,alpha=1)", name="qlinear")(x)
    unsigned = quantized_bits(5, 1, keep_negative=False, alpha=1)
    x = QDense(3, kernel_quantizer=unsigned, use_bias=False, name="qd3")(x)
    model = tf_keras.Model(inputs, x, name="qmlp")
    _set_random_weights(model, seed=1, spread=1.5)  # beyond +-1 so the kernel quantizers saturate
    # Exact ties (half an LSB of quantized_bits(6,0)) pin down round-half-to-even.
    kernel, bias = model.get_layer("qd1").get_weights()
    kernel[:4, 0] = np.array([1, 3, -1, -3]) / 64
    model.get_layer("qd1").set_weights([kernel, bias])
    return model


QMLP_STRUCTURE = [
    ("features", "input", (4, 4), []),
    ("flat", "flatten", (16,), ["features"]),
    ("qd1", "dense", (8,), ["flat"]),
    ("qrelu", "activation", (8,), ["qd1"]),
    ("qd2", "dense", (6,), ["qrelu"]),
    ("qd2_relu", "activation", (6,), ["qd2"]),
    ("bn", "batchnorm", (6,), ["qd2_relu"]),
    ("qd_float", "dense", (4,), ["bn"]),
    ("qd_float_relu", "activation", (4,), ["qd_float"]),
    ("qlinear", "activation", (4,), ["qd_float_relu"]),
    ("qd3", "dense", (3,), ["qlinear"]),
]


def _check_qmlp(graph, model):
    assert graph.name == "qmlp"
    assert _structure(graph) == QMLP_STRUCTURE
    assert graph.outputs == ["qd3"]
    for name in ("qd1", "qd2", "qd3"):
        layer = model.get_layer(name)
        kernel = layer.get_weights()[0]
        expected = np.asarray(layer.kernel_quantizer_internal(kernel), dtype=np.float64)
        assert np.array_equal(graph[name].weight.values, expected)
        assert not np.array_equal(graph[name].weight.values, kernel)  # quantization did happen
        if layer.use_bias:
            expected = np.asarray(layer.bias_quantizer_internal(layer.get_weights()[1]), dtype=np.float64)
            assert np.array_equal(graph[name].bias.values, expected)
    assert graph["qd1"].weight.values[:4, 0].tolist() == [0, 2 / 32, 0, -2 / 32]  # ties to even
    assert graph["qd1"].weight.quantizer == BITS_6
    assert graph["qd1"].bias.quantizer == BITS_6
    assert graph["qd2"].weight.quantizer == FixedType(6, 1, True, "RND_CONV", "SAT_SYM")
    assert graph["qd2"].bias.quantizer == FixedType(8, 4, True, "RND_CONV", "SAT")
    assert graph["qd3"].weight.quantizer == FixedType(5, 1, False, "RND_CONV", "SAT")
    assert graph["qd3"].bias.quantizer is None and not graph["qd3"].bias.values.any()
    assert graph["qd_float"].weight.quantizer is None
    assert np.array_equal(graph["qd_float"].weight.values, model.get_layer("qd_float").get_weights()[0])
    activations = {name: (graph[name].function, graph[name].result_quantizer)
                   for name in ("qrelu", "qd2_relu", "qd_float_relu", "qlinear")}
    assert activations == {
        "qrelu": ("relu", FixedType(6, 0, False, "RND_CONV", "SAT")),
        "qd2_relu": ("relu", FixedType(4, 1, False, "RND_CONV", "SAT")),
        "qd_float_relu": ("relu", None),
        "qlinear": ("linear", FixedType(8, 3, True, "RND_CONV", "SAT")),
    }
    assert graph["qrelu"].framework_class == "QActivation"
    assert graph["qd1"].framework_class == "QDense"


def test_qkeras_mlp_has_the_quantized_weights_and_types():
    model = _qmlp()
    _check_qmlp(read_keras(model), model)


def test_qactivation_with_a_quantizer_object_or_a_plain_activation():
    inputs = tf_keras.Input((3,), name="x")
    y = QActivation(quantized_bits(4, 1, alpha=1), name="b")(inputs)
    y = QActivation(quantized_relu(3, 1), name="q")(y)
    y = QActivation("relu", name="plain")(y)
    graph = read_keras(tf_keras.Model(inputs, y))
    assert (graph["plain"].function, graph["plain"].result_quantizer) == ("relu", None)
    assert graph["b"].function == "linear"
    assert graph["b"].result_quantizer == FixedType(4, 2, True, "RND_CONV", "SAT")
    assert graph["q"].function == "relu"
    assert graph["q"].result_quantizer == FixedType(3, 1, False, "RND_CONV", "SAT")


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_qkeras_mlp_saved_and_reloaded_reads_the_same(suffix, tmp_path):
    model = _qmlp()
    path = tmp_path / f"qmlp{suffix}"
    model.save(path)
    _check_qmlp(read_keras(path), model)


def test_quantized_weights_that_are_not_exact_values_of_the_type_are_refused():
    # Far outside the range, QKeras's float32 arithmetic returns 1.0 for quantized_bits(6,0): not a
    # value of ap_fixed<6,1>, so nnhls cannot reproduce the layer and says so.
    inputs = tf_keras.Input((2,), name="x")
    layer = QDense(1, kernel_quantizer=quantized_bits(6, 0, alpha=1), use_bias=False, name="huge")
    model = tf_keras.Model(inputs, layer(inputs))
    layer.set_weights([np.array([[1e7], [0.5]], dtype=np.float32)])
    with pytest.raises(NnhlsError, match=r"layer 'huge' \(QDense\) kernel: .*not all exact"):
        read_keras(model)


# The FixedType of each quantizer must reproduce QKeras's own output exactly, ties included.
QUANTIZER_TYPES = [
    (quantized_bits(6, 0, alpha=1), FixedType(6, 1, True, "RND_CONV", "SAT")),
    (quantized_bits(6, 0, 1, alpha=1), FixedType(6, 1, True, "RND_CONV", "SAT_SYM")),
    (quantized_bits(8, 3), FixedType(8, 4, True, "RND_CONV", "SAT")),
    (quantized_bits(4, 2, 1), FixedType(4, 3, True, "RND_CONV", "SAT_SYM")),
    (quantized_bits(5, 2, keep_negative=False, alpha=1), FixedType(5, 2, False, "RND_CONV", "SAT")),
    (quantized_bits(3, 0, 1, keep_negative=False), FixedType(3, 0, False, "RND_CONV", "SAT")),
    ("quantized_bits(6,0,alpha=1)", FixedType(6, 1, True, "RND_CONV", "SAT")),
    (quantized_relu(6), FixedType(6, 0, False, "RND_CONV", "SAT")),
    (quantized_relu(4, 2), FixedType(4, 2, False, "RND_CONV", "SAT")),
    (quantized_relu(8, 3, relu_upper_bound=1.0), FixedType(8, 3, False, "RND_CONV", "SAT")),
    ("quantized_relu(6)", FixedType(6, 0, False, "RND_CONV", "SAT")),
]


@pytest.mark.parametrize("quantizer, expected", QUANTIZER_TYPES, ids=[str(q) for q, _ in QUANTIZER_TYPES])
def test_quantizer_type_reproduces_qkeras_exactly(quantizer, expected):
    fixed_type = quantizer_type(quantizer, "test")
    assert fixed_type == expected
    # Eighths of an LSB from four times the range below to four times above: every tie and every
    # saturation. The values are float32-exact, as QKeras computes in float32.
    eighth = fixed_type.lsb / 8
    span = 4 * max(abs(fixed_type.min_value), fixed_type.max_value)
    x = np.arange(-span, span + eighth, eighth)
    assert np.array_equal(x.astype(np.float32), x)
    if isinstance(quantizer, str):
        quantizer = qkeras.get_quantizer(quantizer)
    framework = np.asarray(quantizer(x.astype(np.float32)), dtype=np.float64)
    ours = quantize.to_float(quantize.from_float(x, fixed_type), fixed_type)
    assert np.array_equal(framework, ours)


@pytest.mark.parametrize(
    "quantizer, message",
    [
        (quantized_bits(6, 0, alpha="auto"), "alpha must be 1 or None"),
        (quantized_bits(6, 0, alpha="auto_po2"), "alpha must be 1 or None"),
        (quantized_bits(1, 0), "1 bit"),
        (quantized_relu(6, negative_slope=0.25), "negative_slope"),
        (quantized_relu(6, use_sigmoid=1), "use_sigmoid"),
        (quantized_relu(6, relu_upper_bound=0.5, is_quantized_clip=False), "relu_upper_bound"),
        (quantized_bits(6, 0, alpha=1, qnoise_factor=0.5), "qnoise_factor"),
        (qkeras.quantized_tanh(4), "supported quantizers: quantized_bits, quantized_relu"),
    ],
)
def test_quantizers_without_an_exact_type_are_refused(quantizer, message):
    with pytest.raises(NnhlsError, match=message):
        quantizer_type(quantizer, "layer 'q' (QDense) kernel")


# --- Errors name the layer ---------------------------------------------------------------------


def _one_layer_model(layer, input_shape=(4,), K=tf_keras):
    inputs = K.Input(input_shape, name="x")
    return K.Model(inputs, layer(inputs))


@pytest.mark.parametrize(
    "layer, input_shape, message",
    [
        (lambda: tf_keras.layers.Conv3D(2, 3, name="conv3d"), (6, 6, 6, 1),
         r"layer 'conv3d' \(Conv3D\) is not supported; supported layers: InputLayer, Dense"),
        (lambda: tf_keras.layers.Dense(2, activation="swish", name="dense_swish"), (4,),
         r"layer 'dense_swish' \(Dense\): activation 'swish' is not supported; "
         r"supported activations: 'linear', 'relu', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softmax'"),
        (lambda: tf_keras.layers.Activation("gelu", name="sig"), (4,),
         r"layer 'sig' \(Activation\): activation 'gelu' is not supported"),
        (lambda: QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha="auto", scale_axis=0), name="qaxis"), (4,),
         r"layer 'qaxis' \(QDense\) kernel: .*not one scale per output channel"),
        (lambda: QDense(2, kernel_quantizer="quantized_tanh(4)", name="qtanhw"), (4,),
         r"layer 'qtanhw' \(QDense\) kernel: .*not supported on weights"),
        (lambda: QDense(2, activation="quantized_tanh(4,1)", name="qtanh"), (4,),
         r"layer 'qtanh' \(QDense\): quantized_tanh.* uses stochastic rounding"),
        (lambda: tf_keras.layers.PReLU(name="prelu2d"), (4, 4), r"layer 'prelu2d' \(PReLU\) has alpha of shape"),
        (lambda: tf_keras.layers.BatchNormalization(axis=1, name="bn1"), (4, 4),
         r"layer 'bn1' \(BatchNormalization\) normalizes axis"),
    ],
    ids=["unsupported-layer", "dense-activation", "activation-layer", "scale-axis", "tanh-kernel",
         "qdense-activation", "prelu-2d", "batchnorm-axis"],
)
def test_unsupported_models_raise_an_error_naming_the_layer(layer, input_shape, message):
    model = _one_layer_model(layer(), input_shape)
    with pytest.raises(NnhlsError, match=message):
        read_keras(model)


def test_keras3_unsupported_layer_names_it():
    model = _one_layer_model(keras3.layers.Conv3D(2, 3, name="conv3d"), (4, 4, 4, 1), K=keras3)
    with pytest.raises(NnhlsError, match=r"layer 'conv3d' \(Conv3D\) is not supported"):
        read_keras(model)


def test_reading_a_missing_file_or_a_non_model_is_a_clear_error(tmp_path):
    with pytest.raises(NnhlsError, match="does not exist"):
        read_keras(tmp_path / "missing.h5")
    with pytest.raises(NnhlsError, match="expected a Keras model"):
        read_keras(42)


def test_importing_nnhls_does_not_import_a_framework():
    code = (
        "import sys, nnhls, nnhls.frontends, nnhls.frontends.keras, nnhls.frontends.qkeras\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'tf_keras', 'qkeras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
