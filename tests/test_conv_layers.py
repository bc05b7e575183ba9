"""Convolutions beyond the plain one, from Keras 2, Keras 3 and QKeras: depthwise, separable,
dilated, grouped and transposed convolutions, and Dense on inputs of any rank.

Inputs and weights lie on coarse binary grids, so the frameworks' float32 sums are exact and the
emulator must equal them; QKeras's own float32 rounding is measured where it has some.
"""

import keras_models  # sets TF_USE_LEGACY_KERAS before TensorFlow is imported

import numpy as np
import pytest

tf_keras = pytest.importorskip("tf_keras")
keras3 = pytest.importorskip("keras")
qkeras = pytest.importorskip("qkeras")

from qkeras import QDepthwiseConv2D, QSeparableConv1D, QSeparableConv2D, quantized_bits, quantized_relu  # noqa: E402

import nnhls  # noqa: E402
from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.frontends import read_keras  # noqa: E402
from nnhls.frontends.keras import _QKERAS_LAYERS, SUPPORTED_LAYERS, _Layer, _Reader  # noqa: E402
from nnhls.types import FixedType  # noqa: E402

FRAMEWORKS = {"tf_keras": tf_keras, "keras3": keras3}
WIDE = "ap_fixed<32,14>"  # holds every grid value and sum below exactly


def _model(K, layer, in_shape):
    inputs = K.Input(in_shape, name="x")
    return K.Model(inputs, layer(inputs))


def _grid(shape):
    return keras_models.grid(shape, bound=4)


def _set_grid_weights(model):
    keras_models.set_grid_weights(model, seed=1)


def _convert(model, tmp_path, precision=WIDE, **config_changes):
    config = nnhls.utils.config_from_keras_model(model, granularity="name", default_precision=precision)
    for name, entry in config_changes.items():
        config["LayerName"][name].update(entry)
    return nnhls.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"))


def _emulated_and_keras(model, tmp_path, in_shape, n=40, **config_changes):
    X = _grid((n, *in_shape))
    expected = np.asarray(model(X, training=False), dtype=np.float64)
    return _convert(model, tmp_path, **config_changes).predict(X).reshape(expected.shape), expected


# (name, layer factory, input shape)
FLOAT_CASES = [
    ("depthwise2d", lambda K: K.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (6, 5, 3)),
    ("depthwise2d-strided", lambda K: K.layers.DepthwiseConv2D((3, 2), strides=2, activation="relu"), (7, 7, 2)),
    ("depthwise2d-dilated", lambda K: K.layers.DepthwiseConv2D(3, dilation_rate=2, padding="same"), (7, 7, 2)),
    ("depthwise1d", lambda K: K.layers.DepthwiseConv1D(3, depth_multiplier=3, padding="same"), (8, 2)),
    ("separable2d", lambda K: K.layers.SeparableConv2D(4, 3, depth_multiplier=2, padding="same"), (6, 6, 3)),
    ("separable2d-strided", lambda K: K.layers.SeparableConv2D(3, 2, strides=2, use_bias=False), (7, 6, 2)),
    ("separable1d", lambda K: K.layers.SeparableConv1D(4, 3, activation="relu"), (9, 3)),
    ("dilated2d", lambda K: K.layers.Conv2D(4, 3, dilation_rate=(2, 1), padding="same"), (7, 7, 2)),
    ("dilated1d-causal", lambda K: K.layers.Conv1D(3, 3, dilation_rate=3, padding="causal"), (12, 2)),
    ("grouped2d", lambda K: K.layers.Conv2D(6, 3, groups=2), (6, 6, 4)),
    ("grouped1d", lambda K: K.layers.Conv1D(6, 2, groups=3, padding="same"), (7, 3)),
    ("transposed2d", lambda K: K.layers.Conv2DTranspose(3, 3, strides=2), (4, 5, 2)),
    ("transposed2d-same", lambda K: K.layers.Conv2DTranspose(3, 4, strides=2, padding="same"), (4, 5, 2)),
    ("transposed2d-stride3", lambda K: K.layers.Conv2DTranspose(2, 2, strides=3, padding="same"), (3, 4, 2)),
    ("transposed2d-output-padding", lambda K: K.layers.Conv2DTranspose(3, 3, strides=2, output_padding=1), (4, 4, 2)),
    ("transposed1d", lambda K: K.layers.Conv1DTranspose(3, 3, strides=2, padding="same"), (5, 2)),
    ("dense-rank2", lambda K: K.layers.Dense(5, activation="relu"), (4, 6)),
    ("dense-rank3", lambda K: K.layers.Dense(3), (3, 4, 6)),
    ("dense-rank4", lambda K: K.layers.Dense(3, use_bias=False), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("make, in_shape", [case[1:] for case in FLOAT_CASES], ids=[case[0] for case in FLOAT_CASES])
def test_emulator_equals_keras(framework, make, in_shape, tmp_path):
    K = FRAMEWORKS[framework]
    model = _model(K, make(K), in_shape)
    _set_grid_weights(model)
    emulated, expected = _emulated_and_keras(model, tmp_path, in_shape)
    assert np.array_equal(emulated, expected)


def test_dilated_transposed_convolution_equals_tf_keras(tmp_path):
    # TensorFlow's CPU kernels refuse it under Keras 3; tf.keras computes it another way.
    model = _model(tf_keras, tf_keras.layers.Conv2DTranspose(3, 3, dilation_rate=2), (4, 5, 2))
    _set_grid_weights(model)
    emulated, expected = _emulated_and_keras(model, tmp_path, (4, 5, 2))
    assert np.array_equal(emulated, expected)


def test_nodes_of_the_new_convolutions(tmp_path):
    """What each layer becomes: a depthwise convolution is a Conv whose groups are its channels,
    a separable one that and a pointwise Conv, a transposed one a Conv over its spread input."""
    K = tf_keras
    inputs = K.Input((6, 6, 3), name="x")
    x = K.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(inputs)
    x = K.layers.SeparableConv2D(4, 3, padding="same", name="sep")(x)
    x = K.layers.Conv2DTranspose(2, 3, strides=2, name="up")(x)
    x = K.layers.Dense(3, name="per_pixel")(x)
    graph = read_keras(K.Model(inputs, x))
    assert [node.name for node in graph] == ["x", "dw", "sep_depthwise", "sep", "up", "per_pixel"]
    dw, sep_dw, sep, up, dense = (graph[name] for name in ("dw", "sep_depthwise", "sep", "up", "per_pixel"))
    assert (dw.groups, dw.n_out, dw.weight.shape) == (3, 6, (3, 3, 1, 6))
    assert (sep_dw.groups, sep_dw.window.pad_top, sep.pointwise, sep.weight_key) == (6, 1, True, "pointwise")
    assert sep_dw.weight_key == "depthwise"
    assert (up.window.spread_h, up.window.stride_h, up.shape) == (2, 1, (9, 9, 2))
    assert dense.op == "conv" and dense.pointwise and dense.shape == (9, 9, 3)
    assert [node.class_name for node in (dw, sep_dw, sep, up, dense)] == [
        "DepthwiseConv2D", "DepthwiseConv2D", "PointwiseConv2D", "Conv2DTranspose", "Dense"]
    assert (dw.get_attr("depth_multiplier"), sep_dw.get_attr("depth_multiplier")) == (2, 1)


def test_separable_parts_have_the_fields_precision_keys(tmp_path):
    model = _model(tf_keras, tf_keras.layers.SeparableConv2D(4, 3, name="sep"), (6, 6, 3))
    _set_grid_weights(model)
    config = nnhls.utils.config_from_keras_model(model, granularity="name")
    assert set(config["LayerName"]["sep_depthwise"]["Precision"]) == {"result", "depthwise", "bias", "accum"}
    assert set(config["LayerName"]["sep"]["Precision"]) == {"result", "pointwise", "bias", "accum"}
    config["LayerName"]["sep_depthwise"]["Precision"]["depthwise"] = "ap_fixed<6,2>"
    config["LayerName"]["sep"]["pointwise_t"] = "ap_fixed<7,2>"  # the field's spelling
    config["LayerName"]["sep"]["ReuseFactor"] = 4
    model = nnhls.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "p"))
    graph = model.graph
    assert graph["sep_depthwise"].weight.type == FixedType(6, 2)
    assert graph["sep"].weight.type == FixedType(7, 2)
    assert (graph["sep_depthwise"].reuse_factor, graph["sep"].reuse_factor) == (1, 4)
    assert graph["sep"].get_attr("pointwise_t") == FixedType(7, 2)
    assert graph["sep_depthwise"].get_attr("depthwise_t") == FixedType(6, 2)


# --- QKeras -------------------------------------------------------------------------------------

_QUANTIZED = dict(bias_quantizer=quantized_bits(6, 2, alpha=1), activation=quantized_relu(6, 2))

QKERAS_CASES = [
    ("qdepthwise", lambda: QDepthwiseConv2D(3, depth_multiplier=2, padding="same",
                                            depthwise_quantizer=quantized_bits(4, 0, alpha=1), **_QUANTIZED), (6, 6, 3)),
    ("qdepthwise-auto", lambda: QDepthwiseConv2D(3, depthwise_quantizer=quantized_bits(4, 0, alpha="auto"),
                                                 **_QUANTIZED), (6, 6, 3)),
    ("qseparable2d", lambda: QSeparableConv2D(4, 3, depth_multiplier=2, depthwise_quantizer=quantized_bits(4, 0, alpha=1),
                                              pointwise_quantizer=quantized_bits(4, 0, alpha=1), **_QUANTIZED),
     (6, 6, 3)),
    ("qseparable1d-po2", lambda: QSeparableConv1D(4, 3, depthwise_quantizer=quantized_bits(4, 0, alpha="auto_po2"),
                                                  pointwise_quantizer=quantized_bits(5, 1, alpha=1), **_QUANTIZED),
     (8, 3)),
]


@pytest.mark.parametrize("make, in_shape", [case[1:] for case in QKERAS_CASES], ids=[case[0] for case in QKERAS_CASES])
def test_qkeras_emulator_equals_predict(make, in_shape, tmp_path):
    model = _model(tf_keras, make(), in_shape)
    _set_grid_weights(model)
    emulated, expected = _emulated_and_keras(model, tmp_path, in_shape, precision="ap_fixed<16,6>")
    assert np.array_equal(emulated, expected)


def test_qseparable_with_float_scales_is_within_one_lsb_of_qkeras(tmp_path):
    """With alpha='auto' on both kernels QKeras multiplies float32 scales into its sums and rounds
    them in float32; nnhls keeps the exact products, so a sum near a rounding tie of the quantized
    activation can land one step away."""
    layer = QSeparableConv1D(4, 3, depthwise_quantizer=quantized_bits(4, 0, alpha="auto"),
                             pointwise_quantizer=quantized_bits(4, 0, alpha="auto"), **_QUANTIZED)
    model = _model(tf_keras, layer, (8, 3))
    _set_grid_weights(model)
    emulated, expected = _emulated_and_keras(model, tmp_path, (8, 3), n=200, precision="ap_fixed<16,6>")
    lsb = 2.0 ** -4  # quantized_relu(6, 2)
    assert np.abs(emulated - expected).max() <= lsb
    assert np.mean(emulated == expected) >= 0.99


def test_qkeras_layers_are_handled():
    for name in ("QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D"):
        assert name in SUPPORTED_LAYERS and name in _QKERAS_LAYERS
    for name in ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose",
                 "Conv2DTranspose"):
        assert name in SUPPORTED_LAYERS


# --- Errors ---------------------------------------------------------------------------------------

def _read_with_config(layer, in_shape, **config):
    """Read one built layer as applied to an input of `in_shape`, its config changed by `config`:
    options the framework cannot run on a CPU (channels_first convolutions) but a model may hold."""
    reader = _Reader({"x", layer.name})
    reader.read(_Layer("x", "InputLayer", {"batch_shape": [None, *in_shape]}, None, []))
    reader.read(_Layer(layer.name, type(layer).__name__, {**layer.get_config(), **config}, layer, ["x"]))
    return reader.nodes


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("make, in_shape, config, message", [
    (lambda K: K.layers.DepthwiseConv2D(3, name="cf"), (6, 6, 2), {"data_format": "channels_first"},
     r"layer 'cf' \(DepthwiseConv2D\) has data_format='channels_first'.*use data_format='channels_last'"),
    (lambda K: K.layers.SeparableConv2D(2, 3, name="cfs"), (6, 6, 2), {"data_format": "channels_first"},
     r"layer 'cfs' \(SeparableConv2D\) has data_format='channels_first'"),
    (lambda K: K.layers.Conv2DTranspose(2, 3, name="cft"), (6, 6, 2), {"data_format": "channels_first"},
     r"layer 'cft' \(Conv2DTranspose\) has data_format='channels_first'"),
    (lambda K: K.layers.DepthwiseConv1D(3, name="rank"), (6, 2), {}, None),
    (lambda K: K.layers.Conv2DTranspose(2, 3, strides=2, name="outpad"), (6, 6, 2), {"output_padding": (2, 2)},
     r"layer 'outpad' \(Conv2DTranspose\) has output_padding=\(2, 2\); each must be at least 0 and below the stride"),
], ids=["depthwise-channels-first", "separable-channels-first", "transposed-channels-first", "depthwise-rank",
        "transposed-output-padding"])
def test_unsupported_options_name_the_layer_and_the_option(framework, make, in_shape, config, message):
    K = FRAMEWORKS[framework]
    layer = make(K)
    _model(K, layer, in_shape)  # built
    if message is None:  # the layer read as applied to an input of a rank it does not take
        in_shape, message = (4, *in_shape), r"layer 'rank' \(DepthwiseConv1D\) is applied to an input of shape \(4, 6, 2\)"
    with pytest.raises(NnhlsError, match=message):
        _read_with_config(layer, in_shape, **config)


def test_an_average_whose_dividend_passes_62_bits_is_exact():
    """A 3x3 average of ap_fixed<8,3> values into ap_fixed<70,8>: the sum fits in 12 bits, the
    dividend needs 70 and more; the emulator must not shift it within int64."""
    from nnhls.emulate.ops import emulate_pool
    from nnhls.ir import Pool, Window

    window = Window(4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1)
    node = Pool("pool", ["x"], (4, 4, 1), function="average", window=window, in_shape=(4, 4, 1),
                result_type=FixedType(70, 8))
    x_type = FixedType(8, 3)
    codes = np.random.default_rng(3).integers(x_type.min_code, x_type.max_code + 1, size=(5, 16))
    narrow = emulate_pool(node, None, (codes, x_type))
    wide = emulate_pool(node, None, (codes.astype(object), x_type))
    assert np.array_equal(narrow, wide) and np.any(wide != 0)
    # Each value: the sum with one fractional bit more than the result, divided as ap_fixed
    # divides (truncated toward zero), then truncated (AP_TRN, toward minus infinity) at the result's LSB.
    counts = window.tap_counts().reshape(4, 4)
    windows = [[[codes[b].reshape(4, 4)[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].sum() for x in range(4)]
                for y in range(4)] for b in range(5)]
    for b in range(5):
        for y in range(4):
            for x in range(4):
                total, count = int(windows[b][y][x]) << (node.result_type.fractional + 1 - x_type.fractional), int(
                    counts[y, x])
                quotient = total // count if total >= 0 else -((-total) // count)
                assert int(wide[b, y, x, 0]) == quotient >> 1
