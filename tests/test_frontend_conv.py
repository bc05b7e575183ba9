"""The Keras/QKeras frontend on convolutional networks: Conv, Pool and ZeroPad nodes, their windows
and canonical kernels, QKeras's quantized and batch-norm-folded weights, and the errors.

Windows are checked against the frameworks themselves: a numpy convolution, pooling or padding
that follows nothing but the IR's Window and canonical kernel must give what Keras computes.
Inputs and weights lie on coarse binary grids, so Keras's float32 sums are exact and the
comparisons are equalities.
"""

import keras_models  # sets TF_USE_LEGACY_KERAS before TensorFlow is imported

import numpy as np
import pytest

tf_keras = pytest.importorskip("tf_keras")
keras3 = pytest.importorskip("keras")
qkeras = pytest.importorskip("qkeras")

import tensorflow as tf  # noqa: E402
from qkeras import QActivation, QConv1D, QConv2D, QConv2DBatchnorm, QDense, quantized_bits  # noqa: E402

import nnhls  # noqa: E402
from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.frontends import read_keras  # noqa: E402
from nnhls.frontends.keras import _QKERAS_LAYERS, SUPPORTED_LAYERS, _Layer, _Reader  # noqa: E402
from nnhls.ir import Window, same_padding  # noqa: E402
from nnhls.types import FixedType, IntType  # noqa: E402

FRAMEWORKS = {"tf_keras": tf_keras, "keras3": keras3}
ZERO = IntType(1, signed=False)


# --- Helpers -----------------------------------------------------------------------------------


def _one_layer(K, layer, input_shape):
    inputs = K.Input(input_shape, name="x")
    return K.Model(inputs, layer(inputs))


_grid, _set_grid_weights = keras_models.grid, keras_models.set_grid_weights


def _keras_output(model, X):
    return np.asarray(model(X, training=False), dtype=np.float64)


def _taps(window: Window, X, fill):
    """(batch, pixels, taps, channels): what each tap of each output pixel reads, `fill` in the padding."""
    rows, columns = window.rows_and_columns()
    image = np.asarray(X, dtype=np.float64).reshape(len(X), window.in_h, window.in_w, window.channels)
    taps = image[:, np.clip(rows, 0, window.in_h - 1), np.clip(columns, 0, window.in_w - 1)]
    return np.where(window.inside()[None, :, :, None], taps, fill)


def _reference(node, X):
    """The node's output computed from its Window (and canonical weights) alone."""
    if node.op == "zero_pad":
        w = node.window
        image = np.asarray(X, dtype=np.float64).reshape(len(X), w.in_h, w.in_w, w.channels)
        padded = np.pad(image, ((0, 0), (w.pad_top, w.pad_bottom), (w.pad_left, w.pad_right), (0, 0)))
        return padded.reshape(len(X), *node.shape)
    if node.op == "conv":
        taps = _taps(node.window, X, 0.0)
        matrix = node.weight.values.reshape(-1, node.n_out)  # canonical: rows in (ky, kx, channel) order
        out = taps.reshape(*taps.shape[:2], -1) @ matrix + node.bias.values
    elif node.function == "max":
        out = _taps(node.window, X, -np.inf).max(axis=2)
    else:
        counts = node.window.inside().sum(axis=1)[None, :, None]
        out = _taps(node.window, X, 0.0).sum(axis=2) / counts
    return out.reshape(len(X), *node.shape)


def _read_with_input(layer, in_shape, **config):
    """Read one live layer as applied to an input of `in_shape`, its config changed by `config`:
    inputs and arguments Keras itself refuses to build a model with."""
    reader = _Reader({"x", layer.name})
    reader.read(_Layer("x", "InputLayer", {"batch_shape": [None, *in_shape]}, None, []))
    reader.read(_Layer(layer.name, type(layer).__name__, {**layer.get_config(), **config}, layer, ["x"]))
    return reader.nodes


def test_every_handled_layer_is_supported_and_qkeras_ones_force_qkeras_loading():
    for name in ("Conv1D", "Conv2D", "QConv1D", "QConv2D", "QConv2DBatchnorm", "QDenseBatchnorm",
                 "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
                 "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "ZeroPadding1D",
                 "ZeroPadding2D"):
        assert name in SUPPORTED_LAYERS
    assert {"QConv1D", "QConv2D", "QConv2DBatchnorm", "QDenseBatchnorm"} <= set(_QKERAS_LAYERS)
    # Keras's aliases are the same classes, so their class names are the ones handled.
    for K in FRAMEWORKS.values():
        assert K.layers.MaxPool2D is K.layers.MaxPooling2D and K.layers.AvgPool1D is K.layers.AveragePooling1D
        assert K.layers.GlobalAvgPool2D is K.layers.GlobalAveragePooling2D
        assert K.layers.Convolution2D is K.layers.Conv2D


# --- Convolutions --------------------------------------------------------------------------------

# (input shape, kernel, strides, padding, the window nnhls must find or None)
CONV2D_CASES = [
    # 'same' with stride 2: 7 rows need 2 padded (1 above, 1 below), 8 columns need 1 (after).
    ((7, 8, 3), (3, 3), (2, 2), "same", Window(7, 8, 3, 3, 3, 2, 2, 1, 1, 0, 1)),
    # an even kernel: the odd zero goes after (below / right)
    ((8, 7, 2), (2, 4), (2, 1), "same", Window(8, 7, 2, 2, 4, 2, 1, 0, 0, 1, 2)),
    ((6, 9, 2), (4, 4), (3, 2), "same", None),
    ((7, 7, 1), (3, 2), (2, 3), "valid", Window(7, 7, 1, 3, 2, 2, 3)),
    ((5, 4, 2), (1, 1), (1, 1), "same", Window(5, 4, 2)),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("in_shape, kernel, strides, padding, window", CONV2D_CASES,
                         ids=[f"{c[0]}-k{c[1]}-s{c[2]}-{c[3]}" for c in CONV2D_CASES])
def test_conv2d_window_and_kernel_reproduce_keras(framework, in_shape, kernel, strides, padding, window):
    K = FRAMEWORKS[framework]
    layer = K.layers.Conv2D(3, kernel, strides=strides, padding=padding, name="conv")
    model = _one_layer(K, layer, in_shape)
    _set_grid_weights(layer)
    conv = read_keras(model)["conv"]
    assert conv.op == "conv" and conv.framework_class == "Conv2D"
    assert conv.shape == tuple(model.output.shape[1:]) and conv.in_shape == in_shape
    if window is not None:
        assert conv.window == window
    pads = [(0, 0)] * 2
    if padding == "same":
        pads = [same_padding(size, k, s) for size, k, s in zip(in_shape, kernel, strides)]
    w = conv.window
    assert [(w.pad_top, w.pad_bottom), (w.pad_left, w.pad_right)] == pads
    kernel_values, bias = layer.get_weights()
    assert conv.weight.values.shape == kernel_values.shape  # already canonical (kh, kw, c_in, c_out)
    assert np.array_equal(conv.weight.values, kernel_values) and np.array_equal(conv.bias.values, bias)
    assert conv.weight.quantizer is None and conv.bias.quantizer is None
    X = _grid((6, *in_shape))
    assert np.array_equal(_reference(conv, X), _keras_output(model, X))


CONV1D_CASES = [(9, 3, 1, "valid"), (9, 3, 2, "same"), (8, 4, 3, "same"), (7, 3, 1, "causal"),
                (8, 4, 2, "causal"), (5, 5, 1, "valid")]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("width, kernel, stride, padding", CONV1D_CASES, ids=[str(c) for c in CONV1D_CASES])
def test_conv1d_is_a_conv_of_height_one_with_a_canonical_kernel(framework, width, kernel, stride, padding):
    K = FRAMEWORKS[framework]
    layer = K.layers.Conv1D(4, kernel, strides=stride, padding=padding, name="conv")
    model = _one_layer(K, layer, (width, 2))
    _set_grid_weights(layer, seed=1)
    conv = read_keras(model)["conv"]
    assert conv.shape == tuple(model.output.shape[1:]) and conv.in_shape == (width, 2)
    w = conv.window
    assert (w.in_h, w.in_w, w.channels) == (1, width, 2)
    assert (w.kernel_h, w.kernel_w, w.stride_h, w.stride_w) == (1, kernel, 1, stride)
    assert (w.pad_top, w.pad_bottom) == (0, 0)
    expected = {"valid": (0, 0), "same": same_padding(width, kernel, stride),
                "causal": (kernel - 1, 0)}[padding]
    assert (w.pad_left, w.pad_right) == expected
    kernel_values = layer.get_weights()[0]  # (kw, c_in, c_out)
    assert np.array_equal(conv.weight.values, kernel_values.reshape(1, *kernel_values.shape))
    X = _grid((5, width, 2), seed=2)
    assert np.array_equal(_reference(conv, X), _keras_output(model, X))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_conv_without_bias_gets_a_free_zero_bias_and_its_activation_follows(framework):
    K = FRAMEWORKS[framework]
    model = _one_layer(K, K.layers.Conv2D(5, 3, use_bias=False, activation="relu", name="conv"), (6, 6, 2))
    graph = read_keras(model)
    assert [(n.name, n.op, n.shape, n.inputs, n.framework_output) for n in graph] == [
        ("x", "input", (6, 6, 2), [], "x"), ("conv", "conv", (4, 4, 5), ["x"], None),
        ("conv_relu", "activation", (4, 4, 5), ["conv"], "conv")]
    assert graph["conv_relu"].function == "relu"
    bias = graph["conv"].bias
    assert bias.quantizer == ZERO and bias.shape == (5,) and not bias.values.any()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_batchnorm_and_flatten_after_a_conv(framework):
    K = FRAMEWORKS[framework]
    inputs = K.Input((6, 5, 2), name="x")
    y = K.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    y = K.layers.BatchNormalization(name="bn")(y)
    y = K.layers.Flatten(name="flat")(y)
    model = K.Model(inputs, K.layers.Dense(2, name="out")(y))
    bn = model.get_layer("bn")
    bn.set_weights([np.arange(1, 4, dtype=np.float32) * s for s in (1.0, 0.5, 0.25, 2.0)])
    graph = read_keras(model)
    assert [(n.name, n.op, n.shape) for n in graph] == [
        ("x", "input", (6, 5, 2)), ("conv", "conv", (6, 5, 3)), ("bn", "batchnorm", (6, 5, 3)),
        ("flat", "flatten", (90,)), ("out", "dense", (2,))]
    gamma, beta, mean, variance = bn.get_weights()
    assert np.array_equal(graph["bn"].gamma, gamma) and np.array_equal(graph["bn"].variance, variance)


# --- Poolings ------------------------------------------------------------------------------------

POOL_CASES = [  # (class, input shape, pool_size, strides, padding)
    ("MaxPooling2D", (6, 7, 2), 2, None, "valid"),
    ("MaxPooling2D", (7, 6, 3), (3, 2), (2, 2), "same"),
    ("AveragePooling2D", (6, 6, 2), 2, None, "valid"),
    ("AveragePooling2D", (7, 5, 2), 3, 2, "same"),  # windows of 9, 6 or 4 values: the padding is left out
    ("MaxPooling1D", (9, 3), 2, None, "valid"),
    ("MaxPooling1D", (9, 3), 3, 2, "same"),
    ("AveragePooling1D", (8, 2), 4, 1, "valid"),
    ("AveragePooling1D", (7, 2), 2, None, "same"),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("class_name, in_shape, pool_size, strides, padding", POOL_CASES,
                         ids=[f"{c[0]}-{c[1]}-p{c[2]}-s{c[3]}-{c[4]}" for c in POOL_CASES])
def test_pooling_window_reproduces_keras(framework, class_name, in_shape, pool_size, strides, padding):
    K = FRAMEWORKS[framework]
    layer = getattr(K.layers, class_name)(pool_size, strides=strides, padding=padding, name="pool")
    model = _one_layer(K, layer, in_shape)
    pool = read_keras(model)["pool"]
    assert pool.op == "pool" and pool.function == ("max" if "Max" in class_name else "average")
    assert pool.shape == tuple(model.output.shape[1:]) and pool.in_shape == in_shape
    spatial = len(in_shape) - 1
    size = (pool_size,) * spatial if isinstance(pool_size, int) else pool_size
    steps = size if strides is None else (strides,) * spatial if isinstance(strides, int) else strides
    w = pool.window
    assert (w.kernel_h, w.kernel_w) == ((1,) * (2 - spatial) + size)
    assert (w.stride_h, w.stride_w) == ((1,) * (2 - spatial) + steps)
    X = _grid((5, *in_shape), seed=3)
    expected, ours = _keras_output(model, X), _reference(pool, X)
    if pool.function == "max":
        assert np.array_equal(ours, expected)
    else:  # Keras divides in float32
        assert np.allclose(ours, expected, rtol=2**-23, atol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("class_name, in_shape", [
    ("GlobalMaxPooling2D", (5, 4, 3)), ("GlobalAveragePooling2D", (4, 4, 3)),
    ("GlobalMaxPooling1D", (7, 2)), ("GlobalAveragePooling1D", (8, 2))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_is_one_window_over_the_whole_image(framework, class_name, in_shape, keepdims):
    K = FRAMEWORKS[framework]
    model = _one_layer(K, getattr(K.layers, class_name)(keepdims=keepdims, name="pool"), in_shape)
    pool = read_keras(model)["pool"]
    channels, spatial = in_shape[-1], len(in_shape) - 1
    assert pool.shape == tuple(model.output.shape[1:])
    assert pool.shape == ((1,) * spatial + (channels,) if keepdims else (channels,))
    in_h, in_w = (1, in_shape[0]) if spatial == 1 else in_shape[:2]
    assert pool.window == Window(in_h, in_w, channels, in_h, in_w)
    X = _grid((4, *in_shape), seed=4)
    # Averages over 2**k values: exact in float32 too.
    assert np.array_equal(_reference(pool, X), _keras_output(model, X))


# --- Zero padding --------------------------------------------------------------------------------

ZERO_PADDINGS = [  # (class, padding as given to Keras, ((top, bottom), (left, right)))
    ("ZeroPadding1D", 2, ((0, 0), (2, 2))),
    ("ZeroPadding1D", (1, 3), ((0, 0), (1, 3))),
    ("ZeroPadding2D", 1, ((1, 1), (1, 1))),
    ("ZeroPadding2D", (1, 2), ((1, 1), (2, 2))),
    ("ZeroPadding2D", ((1, 2), (3, 0)), ((1, 2), (3, 0))),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("class_name, padding, pads", ZERO_PADDINGS,
                         ids=[f"{c[0]}-{c[1]}" for c in ZERO_PADDINGS])
def test_zero_padding_reads_every_form_keras_accepts(framework, class_name, padding, pads):
    K = FRAMEWORKS[framework]
    in_shape = (5, 3) if class_name.endswith("1D") else (4, 5, 3)
    model = _one_layer(K, getattr(K.layers, class_name)(padding, name="pad"), in_shape)
    pad = read_keras(model)["pad"]
    assert pad.op == "zero_pad" and pad.in_shape == in_shape
    assert pad.shape == tuple(model.output.shape[1:])
    in_h, in_w = (1, 5) if class_name.endswith("1D") else (4, 5)
    assert pad.window == Window(in_h, in_w, 3, 1, 1, 1, 1, *pads[0], *pads[1])
    X = _grid((3, *in_shape), seed=5)
    assert np.array_equal(_reference(pad, X), _keras_output(model, X))


@pytest.mark.parametrize("framework, suffix", [("tf_keras", ".h5"), ("keras3", ".keras")])
def test_saved_conv_model_reads_the_same(framework, suffix, tmp_path):
    K = FRAMEWORKS[framework]
    inputs = K.Input((8, 8, 2), name="x")
    y = K.layers.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(inputs)
    y = K.layers.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="relu", name="conv")(y)
    y = K.layers.AveragePooling2D(2, name="pool")(y)
    y = K.layers.GlobalMaxPooling2D(name="gmp")(y)
    model = K.Model(inputs, y, name="cnn")
    path = tmp_path / f"cnn{suffix}"
    model.save(path)

    def summary(graph):
        return [(n.name, n.op, n.shape, getattr(n, "window", None)) for n in graph]

    live, loaded = read_keras(model), read_keras(path)
    assert summary(loaded) == summary(live)
    assert np.array_equal(loaded["conv"].weight.values, live["conv"].weight.values)


# --- QKeras convolutions -------------------------------------------------------------------------

Q6 = quantized_bits(6, 0, alpha=1)
Q8 = quantized_bits(8, 3, alpha=1)


def _quantized(quantizer, values):
    return np.asarray(quantizer(np.asarray(values, dtype=np.float32)), dtype=np.float64)


@pytest.mark.parametrize("spatial", [1, 2])
def test_qconv_has_qkeras_quantized_weights_and_activation(spatial):
    layer_class, in_shape = (QConv1D, (9, 3)) if spatial == 1 else (QConv2D, (6, 5, 3))
    padding = "causal" if spatial == 1 else "same"
    layer = layer_class(4, 3, strides=2, padding=padding, kernel_quantizer=Q6, bias_quantizer=Q8,
                        activation="quantized_relu(6)", name="qconv")
    model = _one_layer(tf_keras, layer, in_shape)
    rng = np.random.default_rng(6)
    layer.set_weights([rng.uniform(-1.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    graph = read_keras(model)
    assert [(n.name, n.op) for n in graph] == [
        ("x", "input"), ("qconv", "conv"), ("qconv_relu", "activation")]
    conv = graph["qconv"]
    assert conv.framework_class == ("QConv1D" if spatial == 1 else "QConv2D")
    assert conv.shape == tuple(model.output.shape[1:])
    kernel, bias = layer.get_weights()
    expected = _quantized(layer.kernel_quantizer_internal, kernel)
    assert np.array_equal(conv.weight.values, expected.reshape(conv.weight.shape))
    assert conv.weight.shape == ((1, 3, 3, 4) if spatial == 1 else (3, 3, 3, 4))
    assert np.array_equal(conv.bias.values, _quantized(layer.bias_quantizer_internal, bias))
    assert conv.weight.quantizer == FixedType(6, 1, True, "RND_CONV", "SAT")
    assert conv.bias.quantizer == FixedType(8, 4, True, "RND_CONV", "SAT")
    assert graph["qconv_relu"].result_quantizer == FixedType(6, 0, False, "RND_CONV", "SAT")
    X = _grid((4, *in_shape), seed=7)
    # The conv (before its activation) reproduces QKeras's layer without its activation.
    layer.activation = tf_keras.activations.linear
    assert np.array_equal(_reference(conv, X), _keras_output(model, X))


def test_qconv_without_bias_or_quantizers():
    layer = QConv2D(3, 2, use_bias=False, name="plain")
    model = _one_layer(tf_keras, layer, (4, 4, 2))
    conv = read_keras(model)["plain"]
    assert conv.weight.quantizer is None and np.array_equal(conv.weight.values, layer.get_weights()[0])
    assert conv.bias.quantizer == ZERO and not conv.bias.values.any()


@pytest.mark.parametrize("use_bias", [True, False])
def test_qconv_with_a_float_channel_scale_becomes_conv_and_scale_shift(use_bias):
    layer = QConv2D(4, 3, padding="same", kernel_quantizer=quantized_bits(4, 0, alpha="auto"),
                    bias_quantizer=Q8, use_bias=use_bias, activation="quantized_relu(6)", name="q")
    model = _one_layer(tf_keras, layer, (5, 5, 2))
    rng = np.random.default_rng(8)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    graph = read_keras(model)
    assert [(n.name, n.op, n.shape, n.framework_output) for n in graph] == [
        ("x", "input", (5, 5, 2), "x"), ("q", "conv", (5, 5, 4), None),
        ("q_scale", "scale_shift", (5, 5, 4), None), ("q_relu", "activation", (5, 5, 4), "q")]
    conv, scale_shift = graph["q"], graph["q_scale"]
    assert conv.bias.quantizer == ZERO and not conv.bias.values.any()  # the bias moved after the scale
    assert conv.weight.quantizer == FixedType(4, 1)
    framework_kernel = _quantized(layer.kernel_quantizer_internal, layer.get_weights()[0])
    scale = scale_shift.scale.values  # one per output channel: the last axis
    assert scale.shape == (4,)
    assert np.array_equal((scale * conv.weight.values).astype(np.float32), framework_kernel)
    bias = _quantized(Q8, layer.get_weights()[1]) if use_bias else np.zeros(4)
    assert np.array_equal(scale_shift.shift.values, bias)


def test_qconv_kernel_quantizer_errors_name_the_layer():
    layer = QConv2D(2, 3, kernel_quantizer="quantized_tanh(4)", name="qtanh")
    with pytest.raises(NnhlsError, match=r"layer 'qtanh' \(QConv2D\) kernel: .*not supported on weights"):
        read_keras(_one_layer(tf_keras, layer, (5, 5, 1)))


# --- QConv2DBatchnorm and QDenseBatchnorm: batch normalization folded as QKeras folds it ------------


def _set_folding_weights(layer, seed, bias=True, mean=True, beta=True):
    """Random kernel, bias and batch-norm statistics; `bias`, `mean`, `beta` False set those to 0."""
    rng = np.random.default_rng(seed)
    norm, filters = layer.batchnorm, layer.kernel.shape[-1]

    def values(shape, low, high, keep=True):
        return rng.uniform(low, high, shape).astype(np.float32) * np.float32(keep)

    layer.kernel.assign(values(layer.kernel.shape, -1, 1))
    if layer.use_bias:
        layer.bias.assign(values(filters, -1, 1, bias))
    norm.gamma.assign(values(filters, 0.5, 2))
    norm.beta.assign(values(filters, -1, 1, beta))
    norm.moving_mean.assign(values(filters, -1, 1, mean))
    norm.moving_variance.assign(values(filters, 0.05, 3))


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("bias_quantizer", [Q8, None], ids=["q8", "float-bias"])
def test_qconv2d_batchnorm_weights_are_the_ones_qkeras_quantizes_and_uses(use_bias, bias_quantizer):
    layer = QConv2DBatchnorm(5, 3, padding="same", kernel_quantizer=Q6, bias_quantizer=bias_quantizer,
                             use_bias=use_bias, activation="quantized_relu(4,2)", name="qcb")
    model = _one_layer(tf_keras, layer, (6, 5, 2))
    _set_folding_weights(layer, seed=9)
    graph = read_keras(model)
    assert [(n.name, n.op, n.shape) for n in graph] == [
        ("x", "input", (6, 5, 2)), ("qcb", "conv", (6, 5, 5)), ("qcb_relu", "activation", (6, 5, 5))]
    conv = graph["qcb"]
    assert conv.window == Window(6, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1)
    folded_kernel, folded_bias = layer.get_folded_weights()  # QKeras's own folding, run eagerly
    assert np.array_equal(conv.weight.values, _quantized(layer.kernel_quantizer_internal, folded_kernel))
    assert conv.weight.quantizer == FixedType(6, 1, True, "RND_CONV", "SAT")
    if bias_quantizer is None:
        assert conv.bias.quantizer is None and np.array_equal(conv.bias.values, np.asarray(folded_bias))
    else:
        assert conv.bias.quantizer == FixedType(8, 4, True, "RND_CONV", "SAT")
        assert np.array_equal(conv.bias.values, _quantized(bias_quantizer, folded_bias))
        # The layer's own inference output (graph mode, as predict runs it) before its activation,
        # on grid inputs: every sum is exact, so any other folded weight would show.
        layer.activation = tf_keras.activations.linear
        X = _grid((8, 6, 5, 2), seed=10)
        assert np.array_equal(_reference(conv, X), model.predict(X, verbose=0))


@pytest.mark.parametrize("folding_mode", ["ema_stats_folding", "batch_stats_folding"])
def test_qconv2d_batchnorm_float_folding_is_bit_identical_to_qkeras_predict(folding_mode):
    """Without quantizers the folded float32 values act as they are, and predict exposes them: zeros
    in give the folded bias; with bias, mean and beta at 0 (folded bias +0), a one-hot input gives one
    folded kernel value. Both folding modes use the moving statistics at inference."""
    filters, channels = 19, 2  # more than one vector of rsqrt and a scalar tail
    layer = QConv2DBatchnorm(filters, 3, folding_mode=folding_mode, name="fold")
    model = _one_layer(tf_keras, layer, (3, 3, channels))
    _set_folding_weights(layer, seed=11)
    conv = read_keras(model)["fold"]
    assert conv.weight.quantizer is None and conv.bias.quantizer is None
    zeros = np.zeros((1, 3, 3, channels), np.float32)
    assert np.array_equal(conv.bias.values, model.predict(zeros, verbose=0).reshape(filters))

    _set_folding_weights(layer, seed=11, bias=False, mean=False, beta=False)
    conv = read_keras(model)["fold"]
    assert not conv.bias.values.any()
    one_hot = np.eye(9 * channels, dtype=np.float32).reshape(-1, 3, 3, channels)
    used = model.predict(one_hot, verbose=0).reshape(3, 3, channels, filters)
    assert np.array_equal(conv.weight.values, used)

    # TensorFlow's rsqrt need not be correctly rounded (with AVX it is not, for about a quarter of
    # float32 values); where it is not, a numpy folding differs and this test tells them apart.
    norm = layer.batchnorm
    variance = norm.moving_variance.numpy() + np.float32(norm.epsilon)
    numpy_rsqrt = np.float32(1) / np.sqrt(variance)
    if not np.array_equal(tf.math.rsqrt(variance).numpy(), numpy_rsqrt):
        assert not np.array_equal(numpy_rsqrt * norm.gamma.numpy() * layer.kernel.numpy(), used)


class QDenseBatchnorm(QDense):
    """Stands in for QKeras's QDenseBatchnorm, newer than the installed QKeras 0.9.0: a QDense with a
    built BatchNormalization as `batchnorm`, which is all nnhls reads (its call is QDense's own)."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.batchnorm = tf_keras.layers.BatchNormalization()

    def build(self, input_shape):
        super().build(input_shape)
        self.batchnorm.build((None, self.units))


def test_qdense_batchnorm_folds_like_a_one_by_one_qconv2d_batchnorm():
    # QKeras folds both with the same code; on a 1x1 image with a 1x1 kernel they are one layer.
    options = dict(kernel_quantizer=Q6, bias_quantizer=Q8, activation="quantized_relu(6)")
    dense_layer = QDenseBatchnorm(5, name="qdb", **options)
    conv_layer = QConv2DBatchnorm(5, 1, name="qcb", **options)
    dense_model = _one_layer(tf_keras, dense_layer, (4,))
    conv_model = _one_layer(tf_keras, conv_layer, (1, 1, 4))
    for layer in (dense_layer, conv_layer):  # the same values: kernels (4, 5) and (1, 1, 4, 5)
        _set_folding_weights(layer, seed=12)
    dense_graph = read_keras(dense_model)
    dense, conv = dense_graph["qdb"], read_keras(conv_model)["qcb"]
    assert [(n.name, n.op, n.shape) for n in dense_graph] == [
        ("x", "input", (4,)), ("qdb", "dense", (5,)), ("qdb_relu", "activation", (5,))]
    assert dense.framework_class == "QDenseBatchnorm"
    assert np.array_equal(dense.weight.values, conv.weight.values.reshape(4, 5))
    assert np.array_equal(dense.bias.values, conv.bias.values)
    assert dense.weight.quantizer == conv.weight.quantizer and dense.bias.quantizer == conv.bias.quantizer


def test_qconv2d_batchnorm_saved_and_reloaded_reads_the_same(tmp_path):
    layer = QConv2DBatchnorm(3, 3, kernel_quantizer=Q6, bias_quantizer=Q8, name="qcb")
    model = _one_layer(tf_keras, layer, (5, 5, 2))
    _set_folding_weights(layer, seed=13)
    model.save(tmp_path / "qcb.h5")
    live, loaded = read_keras(model)["qcb"], read_keras(tmp_path / "qcb.h5")["qcb"]
    assert np.array_equal(loaded.weight.values, live.weight.values)
    assert np.array_equal(loaded.bias.values, live.bias.values)


# --- Errors name the layer and the fix ------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("make, in_shape, message", [
    (lambda K: K.layers.Conv2D(2, 3, data_format="channels_first", name="cf"), (2, 6, 6),
     r"layer 'cf' \(Conv2D\) has data_format='channels_first'.*use data_format='channels_last'"),
    (lambda K: K.layers.MaxPooling2D(2, data_format="channels_first", name="cfpool"), (2, 6, 6),
     r"layer 'cfpool' \(MaxPooling2D\) has data_format='channels_first'"),
    (lambda K: K.layers.GlobalAveragePooling2D(data_format="channels_first", name="cfgap"), (2, 6, 6),
     r"layer 'cfgap' \(GlobalAveragePooling2D\) has data_format='channels_first'"),
    (lambda K: K.layers.ZeroPadding2D(1, data_format="channels_first", name="cfpad"), (2, 6, 6),
     r"layer 'cfpad' \(ZeroPadding2D\) has data_format='channels_first'"),
], ids=["channels-first", "channels-first-pool", "channels-first-global",
        "channels-first-pad"])
def test_unsupported_convolutions_name_the_layer_and_the_fix(framework, make, in_shape, message):
    K = FRAMEWORKS[framework]
    with pytest.raises(NnhlsError, match=message):
        read_keras(_one_layer(K, make(K), in_shape))


def test_conv1d_on_a_higher_rank_input_is_refused():
    # tf.keras applies Conv1D to the last two axes, treating the others as batch axes.
    model = _one_layer(tf_keras, tf_keras.layers.Conv1D(2, 3, name="rows"), (4, 8, 2))
    message = (r"layer 'rows' \(Conv1D\) is applied to an input of shape \(4, 8, 2\); "
               r"nnhls supports it on inputs of shape \(width, channels\) only")
    with pytest.raises(NnhlsError, match=message):
        read_keras(model)


def test_qdense_batchnorm_on_a_higher_rank_input_is_refused():
    with pytest.raises(NnhlsError, match=r"layer 'qdb' \(QDenseBatchnorm\) .*add a Flatten layer before it"):
        read_keras(_one_layer(tf_keras, QDenseBatchnorm(3, name="qdb"), (2, 4)))


@pytest.mark.parametrize("make, in_shape, config, message", [
    # Keras refuses to build these, so the layers are read as applied to a smaller input.
    (lambda: tf_keras.layers.Conv1D(2, 5, name="wide"), (3, 2), {},
     r"layer 'wide' \(Conv1D\): its window 1x5 does not fit in its padded input 1x3.*empty"),
    (lambda: tf_keras.layers.MaxPooling2D(4, name="big"), (3, 8, 1), {},
     r"layer 'big' \(MaxPooling2D\): its window 4x4 does not fit in its padded input 3x8"),
    (lambda: keras3.layers.AveragePooling1D(4, name="avg"), (3, 1), {},
     r"layer 'avg' \(AveragePooling1D\): its window"),
    (lambda: tf_keras.layers.MaxPooling1D(2, name="rank"), (4, 4, 1), {},
     r"layer 'rank' \(MaxPooling1D\) is applied to an input of shape \(4, 4, 1\)"),
    (lambda: tf_keras.layers.ZeroPadding2D(1, name="zrank"), (4, 1), {},
     r"layer 'zrank' \(ZeroPadding2D\) is applied to an input of shape \(4, 1\); "
     r".*\(height, width, channels\)"),
    (lambda: tf_keras.layers.Conv2D(2, 3, name="full"), (6, 6, 1), {"padding": "full"},
     r"layer 'full' \(Conv2D\) has padding='full'; supported: 'valid', 'same'"),
    (lambda: tf_keras.layers.Conv2D(2, 3, name="causal2d"), (6, 6, 1), {"padding": "causal"},
     r"layer 'causal2d' \(Conv2D\) has padding='causal'; supported: 'valid', 'same' \("),
    (lambda: tf_keras.layers.MaxPooling1D(2, name="causalpool"), (6, 1), {"padding": "causal"},
     r"layer 'causalpool' \(MaxPooling1D\) has padding='causal'"),
    (lambda: tf_keras.layers.ZeroPadding2D(1, name="zbad"), (4, 4, 1), {"padding": (1, 2, 3)},
     r"layer 'zbad' \(ZeroPadding2D\): padding=\(1, 2, 3\) is not a form Keras accepts"),
    (lambda: tf_keras.layers.ZeroPadding1D(1, name="zneg"), (4, 1), {"padding": (-1, 2)},
     r"layer 'zneg' \(ZeroPadding1D\): padding=\(-1, 2\) is not a form"),
], ids=["conv-empty", "pool-empty", "keras3-pool-empty", "pool-rank", "pad-rank", "padding-full",
        "conv2d-causal", "pool-causal", "zero-padding-form", "zero-padding-negative"])
def test_windows_and_inputs_keras_would_refuse_are_refused_too(make, in_shape, config, message):
    layer = make()
    module = keras3 if type(layer).__module__.startswith("keras") else tf_keras
    _one_layer(module, layer, (8, 8, 1) if "2D" in type(layer).__name__ else (8, 1))  # builds its weights
    with pytest.raises(NnhlsError, match=message):
        _read_with_input(layer, in_shape, **config)


# --- Through the converter: the emulator equals the framework -----------------------------------
#
# Inputs lie on grids the input type ap_fixed<16,6> holds exactly, and every weight on a coarse
# binary grid, so each of Keras's float32 sums is exact; a maximum moves values and an average
# over 2**k values only shifts them. Nothing the framework computes is rounded before its own
# quantizers, so the emulator's outputs must be equal, not close.


def _convert(model, tmp_path):
    config = nnhls.config_from_keras_model(model, granularity="name")
    return nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")


def _assert_emulator_equals_keras(model, X, tmp_path):
    hls_model = _convert(model, tmp_path)
    expected = model.predict(X, verbose=0)
    emulated = hls_model.predict(X)
    assert emulated.shape == expected.shape
    assert np.array_equal(emulated, expected)
    return hls_model


def _set_uniform_weights(model, seed, spread=1.5):
    """Float weights beyond the quantizers' range, so that they round and saturate."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        layer.set_weights([rng.uniform(-spread, spread, w.shape).astype(np.float32) for w in weights])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_float_cnn_emulator_equals_keras(framework, tmp_path):
    """Weights in multiples of 1/4 up to 1/2 and inputs in multiples of 1/4 up to 1: every value,
    down to the Dense's, has at most 10 fractional bits and stays well inside ap_fixed<16,6>."""
    K = FRAMEWORKS[framework]
    inputs = K.Input((9, 8, 2), name="x")
    y = K.layers.ZeroPadding2D(((0, 1), (1, 1)), name="pad")(inputs)
    y = K.layers.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="conv1")(y)
    y = K.layers.MaxPooling2D(2, padding="same", name="max")(y)
    y = K.layers.Conv2D(4, 2, name="conv2")(y)
    y = K.layers.AveragePooling2D(2, name="avg")(y)
    y = K.layers.Flatten(name="flat")(y)
    model = K.Model(inputs, K.layers.Dense(3, name="out")(y), name="cnn")
    rng = np.random.default_rng(14)
    for layer in model.layers:
        weights = layer.get_weights()
        layer.set_weights([(rng.integers(-2, 3, w.shape) / 4).astype(np.float32) for w in weights])
    _assert_emulator_equals_keras(model, _grid((200, 9, 8, 2), seed=15, bound=1), tmp_path)


def test_qkeras_cnn_emulator_equals_predict(tmp_path):
    inputs = tf_keras.Input((8, 8, 2), name="x")
    y = tf_keras.layers.ZeroPadding2D(((1, 0), (0, 1)), name="pad")(inputs)
    y = QConv2D(4, 3, strides=2, padding="same", kernel_quantizer=Q6, bias_quantizer=Q8, name="conv1")(y)
    y = QActivation("quantized_relu(6,2)", name="relu1")(y)
    y = tf_keras.layers.MaxPooling2D(2, padding="same", name="max")(y)
    y = QConv2D(3, 2, kernel_quantizer=quantized_bits(4, 0, alpha="auto_po2"), bias_quantizer=Q8,
                activation="quantized_bits(10,4,alpha=1)", name="conv2")(y)
    y = tf_keras.layers.AveragePooling2D(2, name="avg")(y)
    y = tf_keras.layers.Flatten(name="flat")(y)
    y = QDense(5, kernel_quantizer=Q6, bias_quantizer=Q8, name="fc")(y)
    model = tf_keras.Model(inputs, QActivation("quantized_bits(16,6,alpha=1)", name="out")(y), name="qcnn")
    _set_uniform_weights(model, seed=16)
    X = _grid((300, 8, 8, 2), seed=17, step=1 / 16, bound=4)
    hls_model = _assert_emulator_equals_keras(model, X, tmp_path)
    assert [node.op for node in hls_model.graph][:4] == ["input", "zero_pad", "conv", "activation"]


def test_qkeras_conv1d_emulator_equals_predict(tmp_path):
    inputs = tf_keras.Input((12, 3), name="x")
    y = QConv1D(4, 3, padding="causal", kernel_quantizer=Q6, bias_quantizer=Q8,
                activation="quantized_relu(6,2)", name="conv1")(inputs)
    y = tf_keras.layers.MaxPooling1D(2, name="max")(y)
    y = tf_keras.layers.ZeroPadding1D((1, 2), name="pad")(y)
    y = QConv1D(3, 3, strides=2, padding="same", kernel_quantizer=Q6, bias_quantizer=Q8,
                activation="quantized_bits(10,4,alpha=1)", name="conv2")(y)
    y = tf_keras.layers.GlobalMaxPooling1D(name="gmax")(y)
    y = QDense(3, kernel_quantizer=Q6, bias_quantizer=Q8, name="fc")(y)
    model = tf_keras.Model(inputs, QActivation("quantized_bits(16,6,alpha=1)", name="out")(y), name="qcnn1d")
    _set_uniform_weights(model, seed=18)
    _assert_emulator_equals_keras(model, _grid((300, 12, 3), seed=19, step=1 / 16, bound=4), tmp_path)


def test_qconv2d_batchnorm_emulator_equals_predict(tmp_path):
    inputs = tf_keras.Input((8, 8, 2), name="x")
    layer = QConv2DBatchnorm(4, 3, padding="same", kernel_quantizer=Q6, bias_quantizer=Q8,
                             activation="quantized_relu(6,2)", name="qcb")
    y = tf_keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(layer(inputs))  # over 64 values
    y = tf_keras.layers.Flatten(name="flat")(y)
    y = QDense(3, kernel_quantizer=Q6, bias_quantizer=Q8, name="fc")(y)
    model = tf_keras.Model(inputs, QActivation("quantized_bits(16,6,alpha=1)", name="out")(y), name="qcb_net")
    _set_uniform_weights(model, seed=20)
    _set_folding_weights(layer, seed=21)
    _assert_emulator_equals_keras(model, _grid((300, 8, 8, 2), seed=22, step=1 / 16, bound=4), tmp_path)


def test_qconv_with_a_float_scale_emulator_is_within_one_lsb_of_predict(tmp_path):
    """alpha='auto': QKeras convolves with float32(scale * grid), whose float32 sums round; nnhls
    sums the grid exactly and scales once. The quantized_bits(12,4) output can then differ by its
    LSB where Keras's rounded sum falls on the other side of a rounding boundary, rarely."""
    inputs = tf_keras.Input((6, 6, 2), name="x")
    y = QConv2D(4, 3, padding="same", kernel_quantizer=quantized_bits(4, 0, alpha="auto"), bias_quantizer=Q8,
                name="conv")(inputs)
    model = tf_keras.Model(inputs, QActivation("quantized_bits(12,4,alpha=1)", name="out")(y), name="scaled")
    _set_uniform_weights(model, seed=23, spread=0.7)
    X = _grid((300, 6, 6, 2), seed=24, step=1 / 16, bound=4)
    hls_model = _convert(model, tmp_path)
    assert [node.op for node in hls_model.graph] == ["input", "conv", "scale_shift", "activation"]
    difference = np.abs(hls_model.predict(X) - model.predict(X, verbose=0))
    lsb = 2.0**-7
    assert difference.max() <= lsb
    assert (difference == 0).mean() >= 0.999


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("class_name, padding", [("AveragePooling2D", "same"), ("AveragePooling2D", "valid"),
                                                 ("GlobalAveragePooling2D", None)])
def test_average_over_counts_that_are_not_powers_of_two_is_within_one_lsb_of_keras(framework, class_name, padding,
                                                                                   tmp_path):
    """3x3 windows hold 9 values inside the image (6 or 4 at 'same' edges), 5x5 global ones 25:
    the quotient is truncated at the sum's LSB / 16 (or / 32) and then rounded into the result
    type, so it is within one result LSB of Keras's float average rounded the same way (and
    mostly equal to it)."""
    K = FRAMEWORKS[framework]
    layer = getattr(K.layers, class_name)(**({} if padding is None else {"pool_size": 3, "strides": 1,
                                                                       "padding": padding}))
    model = _one_layer(K, layer, (5, 5, 2))
    X = _grid((200, 5, 5, 2), seed=3)
    result = FixedType(16, 6, True, "RND", "SAT")
    config = {"Model": {"Precision": "ap_fixed<16,6>"}, "LayerName": {layer.name: {"Precision": str(result)}}}
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")
    keras_rounded = nnhls.quantize.to_float(nnhls.quantize.from_float(_keras_output(model, X), result), result)
    difference = np.abs(hls_model.predict(X) - keras_rounded)
    assert difference.max() <= result.lsb
    assert np.mean(difference == 0) > 0.9
