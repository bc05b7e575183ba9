"""Fully quantized QKeras models on float inputs match QKeras in every backend x strategy x io cell.

Two ways nnhls once lost the framework's bits: a default input type that rounded the float input
before the model's first quantizer rounded it again, and an average over a count that is not a
power of two typed too coarsely for the QDense after it. The inputs here are plain float draws,
not values on any fixed-point grid.
"""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import warnings
from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv1D, QDense, quantized_bits

import nnhls
from nnhls.types import FixedType

CELLS = [(backend, strategy, io_type) for backend in ("Vivado", "Vitis") for strategy in ("Latency", "Resource")
         for io_type in ("io_parallel", "io_stream")]
Q6 = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
OUTPUT = quantized_bits(8, 3, alpha=1)  # ap_fixed<8,4>: LSB 2**-4
OUTPUT_LSB = 2.0**-4


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights([rng.uniform(-1, 1, w.shape).astype(np.float32) for w in layer.get_weights()])


def _mlp_with_a_quantized_input():
    """The first layer rounds the float input with RND_CONV at a step of 2**-6, coarser than the
    default precision's 2**-10."""
    tf.keras.utils.set_random_seed(1)
    inputs = tf.keras.Input((16,), name="x")
    y = QActivation(quantized_bits(10, 3, alpha=1), name="quantized_input")(inputs)
    y = QDense(32, name="fc1", **Q6)(y)
    y = QActivation("quantized_relu(8,3)", name="relu1")(y)
    y = QDense(5, name="fc2", **Q6)(y)
    model = tf.keras.Model(inputs, QActivation(OUTPUT, name="out")(y), name="qmlp_in")
    _randomize(model, seed=2)
    return model


def _conv1d_with_an_average_over_7():
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((9, 3), name="x")
    y = QActivation(quantized_bits(8, 2, alpha=1), name="quantized_input")(inputs)
    y = QConv1D(6, 3, name="conv", **Q6)(y)  # 7 output positions
    y = QActivation("quantized_relu(6,2)", name="relu")(y)
    y = tf.keras.layers.GlobalAveragePooling1D(name="average")(y)
    y = QDense(5, name="fc", **Q6)(y)
    model = tf.keras.Model(inputs, QActivation(OUTPUT, name="out")(y), name="qconv_avg7")
    _randomize(model, seed=4)
    return model


@pytest.fixture(scope="module")
def mlp():
    return _mlp_with_a_quantized_input()


@pytest.fixture(scope="module")
def conv1d():
    return _conv1d_with_an_average_over_7()


def _float_inputs(shape, seed):
    return np.random.default_rng(seed).normal(0, 2.5, shape)  # float64, on no grid


def test_input_takes_the_type_of_the_quantizer_reading_it(mlp):
    config = nnhls.config_from_keras_model(mlp, granularity="name")
    assert config["LayerName"]["x"]["Precision"]["result"] == "ap_fixed<10,4,AP_RND_CONV,AP_SAT>"
    model = nnhls.convert_from_keras_model(mlp, hls_config={"Model": {"Precision": "fixed<16,6>"}})
    assert model.graph["x"].result_type == FixedType(10, 4, True, "RND_CONV", "SAT")


@pytest.mark.parametrize("granularity", ["model", "type", "name"])
def test_every_granularity_keeps_the_framework_types(mlp, granularity):
    """A generated configuration, at any granularity, converts to QKeras's bits: a type-wide
    precision would replace each quantizer's type, so the types QKeras fixes get none."""
    config = nnhls.config_from_keras_model(mlp, granularity=granularity)
    if granularity == "type":
        assert config["LayerType"]["InputLayer"]["Precision"] == "ap_fixed<10,4,AP_RND_CONV,AP_SAT>"
        assert "Precision" not in config["LayerType"]["QDense"] and "Precision" not in config["LayerType"]["QActivation"]
    model = nnhls.convert_from_keras_model(mlp, hls_config=config)
    X = _float_inputs((5000, 16), seed=8)
    assert np.array_equal(model.predict(X), mlp.predict(X, verbose=0))


def test_a_relu_quantizer_reading_the_input_gives_a_signed_type_of_its_step():
    inputs = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(inputs, QActivation("quantized_relu(6,2)", name="relu")(inputs))
    converted = nnhls.convert_from_keras_model(model)
    assert converted.graph["x"].result_type == FixedType(7, 3, True, "RND_CONV", "SAT")
    X = _float_inputs((5000, 4), seed=9)
    assert np.array_equal(converted.predict(X), model.predict(X, verbose=0))


def test_an_input_precision_set_by_the_user_is_kept_with_a_warning_when_it_rounds_twice(mlp):
    config = nnhls.config_from_keras_model(mlp, granularity="name")
    config["LayerName"]["x"]["Precision"]["result"] = "ap_fixed<16,6>"
    with pytest.warns(UserWarning, match=r"input 'x': its precision ap_fixed<16,6> rounds the float input before "
                                         r"the quantizer ap_fixed<10,4,AP_RND_CONV,AP_SAT> of 'quantized_input'"):
        model = nnhls.convert_from_keras_model(mlp, hls_config=config)
    assert model.graph["x"].result_type == FixedType(16, 6)
    for narrower, why in (("ap_fixed<8,4,AP_RND_CONV,AP_SAT>", "keeps fewer fractional bits"),
                          ("ap_fixed<8,2,AP_RND_CONV,AP_SAT>", "wraps or clips values"),
                          ("ap_fixed<10,4,AP_RND_CONV,AP_WRAP>", "wraps or clips values")):
        config["LayerName"]["x"]["Precision"]["result"] = narrower
        with pytest.warns(UserWarning, match=why):
            nnhls.convert_from_keras_model(mlp, hls_config=config)
    config["LayerName"]["x"]["Precision"]["result"] = "ap_fixed<12,6,AP_RND_CONV,AP_SAT>"  # wider range: exact
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nnhls.convert_from_keras_model(mlp, hls_config=config)


def test_average_over_7_values_is_within_float32_rounding_of_the_exact_mean(conv1d):
    model = nnhls.convert_from_keras_model(conv1d)
    average = model.graph["average"]
    x_type = model.graph["relu"].result_type
    assert average.result_type.width == 24 and average.result_type.integer == x_type.integer
    X = _float_inputs((3000, 9, 3), seed=5)
    _, layers = model.trace(X)
    relu = layers["relu"]
    exact = relu.sum(axis=1) / 7  # float64: sums of at most 9 bits, a quotient rounded at 2**-53
    # Rounded to nearest at 2**-22: within half an LSB (and never a tie).
    assert np.abs(layers["average"] - exact).max() <= average.result_type.lsb / 2
    framework = tf.keras.Model(conv1d.inputs, conv1d.get_layer("average").output).predict(X, verbose=0)
    float32_step = 2.0 ** (x_type.integer - 24)  # float32's resolution near the top of the range
    assert np.abs(layers["average"] - framework).max() <= float32_step


@pytest.mark.parametrize("backend, strategy, io_type", CELLS)
def test_quantized_input_mlp_equals_qkeras_in_every_cell(mlp, backend, strategy, io_type, tmp_path):
    model = nnhls.convert_from_keras_model(mlp, backend=backend, io_type=io_type, output_dir=tmp_path,
                                           hls_config={"Model": {"Strategy": strategy, "ReuseFactor": 4}})
    X = _float_inputs((20000, 16), seed=6)
    expected = mlp.predict(X, verbose=0)
    emulated = model.predict(X)
    assert np.array_equal(emulated, expected)  # 100 %, bit for bit
    model.compile()
    assert np.array_equal(model.predict(X, engine="csim"), emulated)


def _exact_ties(model, layers, rows, columns):
    """Whether the exact pre-activation of output (row, column) lies on a tie of the output's
    rounding: the relu codes summed over the 7 positions, divided by 7 and through the QDense,
    in exact rational arithmetic."""
    fc, relu_type = model.graph["fc"], model.graph["relu"].result_type
    sums = np.rint(layers["relu"] / relu_type.lsb).astype(np.int64).sum(axis=1)  # (n, channels)
    weight, bias = fc.weight.codes.astype(np.int64), fc.bias.codes.astype(np.int64)
    ties = []
    for row, column in zip(rows, columns):
        value = (Fraction(int(sums[row] @ weight[:, column]), 7) * Fraction(relu_type.lsb) * Fraction(fc.weight.type.lsb)
                 + int(bias[column]) * Fraction(fc.bias.type.lsb))
        ties.append((value / Fraction(OUTPUT_LSB) - Fraction(1, 2)).denominator == 1)
    return np.array(ties)


@pytest.mark.parametrize("backend, strategy, io_type", CELLS)
def test_conv1d_with_an_average_over_7_matches_qkeras_in_every_cell(conv1d, backend, strategy, io_type, tmp_path):
    """Within one output LSB everywhere. Where the exact sum through the QDense is a multiple of 7
    its value can be an exact rounding tie: QKeras's float32 arithmetic often lands on the tie
    and rounds it to even, while nnhls's mean (rounded at 2**-22) lands just beside it. Those
    ties are the only outputs that differ."""
    model = nnhls.convert_from_keras_model(conv1d, backend=backend, io_type=io_type, output_dir=tmp_path,
                                           hls_config={"Model": {"Strategy": strategy, "ReuseFactor": 3}})
    X = _float_inputs((20000, 9, 3), seed=7)
    expected = conv1d.predict(X, verbose=0)
    emulated, layers = model.trace(X)
    off = np.abs(emulated - expected) / OUTPUT_LSB
    assert off.max() <= 1 and np.mean(off == 0) >= 0.995
    assert _exact_ties(model, layers, *np.nonzero(off)).all()
    model.compile()
    assert np.array_equal(model.predict(X, engine="csim"), emulated)


def test_a_layer_read_only_by_quantizers_keeps_its_exact_value():
    """A batch normalization after a QDense becomes a scale-and-shift; read only by a quantizer,
    its result is `auto` (exact), so the quantizer rounds once. Read by a Dense, it keeps the
    default precision."""
    inputs = tf.keras.Input((8,), name="x")
    y = QDense(6, name="fc", **Q6)(inputs)
    y = tf.keras.layers.BatchNormalization(name="bn")(y)
    y = QActivation(OUTPUT, name="quantized")(y)
    y = tf.keras.layers.BatchNormalization(name="bn2")(y)
    y = tf.keras.layers.Activation("relu", name="relu_to_quantizer")(QDense(4, name="fc2", **Q6)(y))
    y = QActivation(OUTPUT, name="quantized2")(y)
    y = tf.keras.layers.Activation("relu", name="relu_to_dense")(QDense(4, name="fc3", **Q6)(y))
    model = tf.keras.Model(inputs, QDense(3, name="fc4", **Q6)(y))
    config = nnhls.config_from_keras_model(model, granularity="name")
    assert config["LayerName"]["bn"]["Precision"]["result"] == "auto"
    assert config["LayerName"]["relu_to_quantizer"]["Precision"]["result"] == "auto"
    # Read by a Dense, the default precision keeps the widths of deep networks bounded.
    assert config["LayerName"]["bn2"]["Precision"]["result"] == "fixed<16,6>"
    assert config["LayerName"]["relu_to_dense"]["Precision"]["result"] == "fixed<16,6>"
    converted = nnhls.convert_from_keras_model(model)
    scale_shift, fc = converted.graph["bn"], converted.graph["fc"]
    product = fc.result_type.fractional + scale_shift.scale.type.fractional
    assert scale_shift.result_type.fractional == max(product, scale_shift.shift.type.fractional)
