"""QKeras 0.9.0 layers against QKeras's own outputs: unsigned quantized_bits (keep_negative=0) on
kernels, biases and activations; QAveragePooling2D and QGlobalAveragePooling2D with their
average_quantizer; QBatchNormalization with its quantizers. Exact where QKeras's float32 is exact,
and otherwise within the stated number of output LSBs, with the share of outputs that are equal."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import numpy as np
import pytest
import tensorflow as tf
from qkeras import (QActivation, QAveragePooling2D, QBatchNormalization, QConv2D, QDense, QGlobalAveragePooling2D,
                    quantized_bits, quantized_relu)

import nnhls
from nnhls import quantize
from nnhls.errors import NnhlsError
from nnhls.frontends import read_keras
from nnhls.frontends.qkeras import quantizer_type
from nnhls.types import FixedType

OUTPUT = quantized_bits(8, 3, alpha=1)  # ap_fixed<8,4>: LSB 2**-4
OUTPUT_LSB = 2.0**-4


def _unsigned(bits, integer, **options):
    return quantized_bits(bits, integer, keep_negative=0, **options)


def _convert(model, **options):
    config = nnhls.config_from_keras_model(model, granularity="name")
    return nnhls.convert_from_keras_model(model, hls_config=config, **options), config


def _lsbs(model, hm, X, lsb=OUTPUT_LSB):
    """Per output: how many LSBs nnhls is from QKeras."""
    return np.abs(hm.predict(X) - model.predict(X, verbose=0)) / lsb


# keep_negative=0 ------------------------------------------------------------------------------

UNSIGNED = [
    (_unsigned(1, 0, alpha=1), FixedType(1, 0, False, "RND_CONV", "SAT")),
    (_unsigned(2, 0), FixedType(2, 0, False, "RND_CONV", "SAT")),
    (_unsigned(4, 6, alpha=1), FixedType(4, 6, False, "RND_CONV", "SAT")),
    (_unsigned(7, 3, symmetric=1, alpha=1), FixedType(7, 3, False, "RND_CONV", "SAT")),  # symmetric: no effect
    ("quantized_bits(6,2,0,0)", FixedType(6, 2, False, "RND_CONV", "SAT")),
    ("quantized_bits(5,1,keep_negative=False)", FixedType(5, 1, False, "RND_CONV", "SAT")),
]


@pytest.mark.parametrize("quantizer, expected", UNSIGNED, ids=[str(q) for q, _ in UNSIGNED])
def test_unsigned_quantized_bits_is_the_ufixed_of_its_step(quantizer, expected):
    """QKeras clips round(x * 2**bits / 2**integer) to [0, 2**bits - 1]: every bit a magnitude bit,
    step 2**(integer - bits). Eighths of an LSB, ties and both saturations included."""
    fixed_type = quantizer_type(quantizer, "test")
    assert fixed_type == expected
    eighth = fixed_type.lsb / 8
    x = np.arange(-2 * fixed_type.max_value - 1, 4 * fixed_type.max_value + 1, eighth)
    assert np.array_equal(x.astype(np.float32), x)
    quantizer = nnhls.frontends.qkeras.to_quantizer(quantizer, "test")
    framework = np.asarray(quantizer(x.astype(np.float32)), dtype=np.float64)
    assert np.array_equal(quantize.to_float(quantize.from_float(x, fixed_type), fixed_type), framework)


def _unsigned_network():
    """Unsigned quantizers everywhere QKeras takes them: the input's QActivation, QDense and QConv2D
    kernels (alpha=1, and None, which QKeras makes 'auto_po2'), biases and activations."""
    tf.keras.utils.set_random_seed(5)
    inputs = tf.keras.Input((6, 6, 2), name="x")
    y = QActivation("quantized_bits(6,2,keep_negative=0)", name="q_in")(inputs)
    y = QConv2D(3, 3, kernel_quantizer=_unsigned(4, 0, alpha=1), bias_quantizer=_unsigned(5, 1, alpha=1),
                activation=_unsigned(6, 3, alpha=1), name="conv")(y)
    y = QConv2D(2, 2, kernel_quantizer=_unsigned(4, 0), bias_quantizer=quantized_bits(6, 2, alpha=1), name="conv2")(y)
    y = tf.keras.layers.Flatten(name="flat")(QActivation(_unsigned(5, 2, alpha=1), name="q_conv2")(y))
    y = QDense(6, kernel_quantizer=_unsigned(4, 0, alpha=1), bias_quantizer=_unsigned(4, 1, alpha=1),
               activation="quantized_bits(7,3,keep_negative=0)", name="fc1")(y)
    y = QDense(4, kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(5, 0, alpha=1),
               name="fc2")(y)
    model = tf.keras.Model(inputs, QActivation(OUTPUT, name="out")(y))
    rng = np.random.default_rng(6)
    for layer in model.layers:  # beyond +-1, so that negative weights clip to 0 and large ones saturate
        layer.set_weights([rng.uniform(-1.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def test_unsigned_quantizers_give_qkeras_bits_in_every_place(tmp_path):
    model = _unsigned_network()
    hm, config = _convert(model, output_dir=str(tmp_path / "prj"))
    layers = config["LayerName"]
    assert layers["x"]["Precision"]["result"] == "ap_ufixed<6,2,AP_RND_CONV,AP_SAT>"  # rounds the input once
    assert layers["conv"]["Precision"]["weight"] == "ap_ufixed<4,0,AP_RND_CONV,AP_SAT>"
    assert layers["conv"]["Precision"]["bias"] == "ap_ufixed<5,1,AP_RND_CONV,AP_SAT>"
    assert layers["conv_linear"]["Precision"]["result"] == "ap_ufixed<6,3,AP_RND_CONV,AP_SAT>"
    assert layers["fc1_linear"]["Precision"]["result"] == "ap_ufixed<7,3,AP_RND_CONV,AP_SAT>"
    kernel = hm.graph["conv"].weight.values
    assert kernel.min() == 0 and (kernel == 0).mean() > 0.3  # QKeras clipped the negative weights to 0
    # alpha=None on a kernel is 'auto_po2': signed codes even with keep_negative=0, on a po2 scale.
    assert hm.graph["conv2"].weight.quantizer.signed
    X = np.random.default_rng(7).normal(1, 2, (3000, 6, 6, 2))  # float inputs on no grid
    expected = model.predict(X, verbose=0)
    assert np.array_equal(hm.predict(X), expected)
    hm.compile()  # the C simulation of unsigned weights and activations, checked against the emulator
    assert np.array_equal(hm.predict(X[:500], engine="csim"), expected[:500])


# QAveragePooling2D and QGlobalAveragePooling2D ---------------------------------------------------

def _pooling_model(pool, name="pooling"):
    inputs = tf.keras.Input((7, 7, 3), name="x")
    y = pool(QActivation(quantized_bits(8, 2, alpha=1), name="q")(inputs))
    if len(y.shape) > 2:
        y = tf.keras.layers.Flatten(name="flat")(y)
    return tf.keras.Model(inputs, QActivation(OUTPUT, name="out")(y), name=name)


# (layer, nnhls's ops for it, how many output LSBs apart at most, the least share of equal outputs)
POOLINGS = {
    "valid 3x3": (lambda: QAveragePooling2D(3, average_quantizer=quantized_bits(8, 0, alpha=1), name="p"),
                  ["pool sum", "scale_shift"], 0, 1.0),
    "valid 2x2, strides 1": (lambda: QAveragePooling2D(2, strides=1, average_quantizer="quantized_bits(4,0,alpha=1)",
                                                       name="p"), ["pool sum", "scale_shift"], 0, 1.0),
    "valid 2x3 with activation": (lambda: QAveragePooling2D(
        (2, 3), strides=1, average_quantizer=quantized_bits(6, 0, alpha=1), activation=quantized_relu(6, 2),
        name="p"), ["pool sum", "scale_shift", "activation"], 0, 1.0),
    # 1/4 quantized exactly: the scale is 1/4 and the quotient by 4 would be exact too.
    "valid 2x2, exact 1/4": (lambda: QAveragePooling2D(2, average_quantizer=quantized_bits(8, 0, alpha=1), name="p"),
                             ["pool sum", "scale_shift"], 0, 1.0),
    # Edge windows hold fewer values: mean * area * q, the mean rounded at 24 bits where inexact.
    "same 3x3": (lambda: QAveragePooling2D(3, padding="same", average_quantizer=quantized_bits(8, 0, alpha=1),
                                           name="p"), ["pool average", "scale_shift"], 1, 0.995),
    "no average_quantizer": (lambda: QAveragePooling2D(3, name="p"), ["pool average"], 0, 1.0),
    "global": (lambda: QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 0, alpha=1), name="p"),
               ["pool sum", "scale_shift"], 0, 1.0),
    "global keepdims": (lambda: QGlobalAveragePooling2D(average_quantizer=quantized_bits(5, 0, alpha=1),
                                                        keepdims=True, name="p"), ["pool sum", "scale_shift"], 0, 1.0),
    "global, no average_quantizer": (lambda: QGlobalAveragePooling2D(name="p"), ["pool average"], 0, 1.0),
}


@pytest.mark.parametrize("case", POOLINGS)
def test_quantized_average_pooling_matches_qkeras(case):
    make, ops, lsbs, share = POOLINGS[case]
    model = _pooling_model(make())
    hm, _ = _convert(model)
    nodes = [node for node in hm.graph if node.name.startswith("p")]
    assert [f"{node.op} {node.function}" if node.op == "pool" else node.op for node in nodes] == ops
    layer = model.get_layer("p")
    if layer.average_quantizer:
        factor = float(layer.average_quantizer_internal(np.float32(1 / nodes[0].window.n_taps)))
        scale = hm.graph["p_scale"].scale.values
        assert np.array_equal(scale, np.full(3, factor * (nodes[0].window.n_taps if "average" in ops[0] else 1)))
    X = np.random.default_rng(0).normal(0, 1.5, (2000, 7, 7, 3))
    apart = _lsbs(model, hm, X)
    assert apart.max() <= lsbs and (apart == 0).mean() >= share


def test_quantized_pooling_in_io_stream_and_from_a_saved_model(tmp_path):
    """A sum over windows and one over the whole image in the C simulation of io_stream, read back
    from a .h5 file: QKeras's bits."""
    inputs = tf.keras.Input((6, 6, 3), name="x")
    y = QActivation(quantized_bits(8, 2, alpha=1), name="q")(inputs)
    windows = QAveragePooling2D(3, strides=1, average_quantizer=quantized_bits(8, 0, alpha=1), name="p")(y)
    whole = QGlobalAveragePooling2D(average_quantizer=quantized_bits(9, 0, alpha=1), name="g")(windows)
    outputs = [QActivation(OUTPUT, name="out_p")(windows), QActivation(OUTPUT, name="out_g")(whole)]
    model = tf.keras.Model(inputs, outputs)
    model.save(tmp_path / "pooling.h5")
    config = nnhls.config_from_keras_model(str(tmp_path / "pooling.h5"), granularity="name")
    hm = nnhls.convert_from_keras_model(str(tmp_path / "pooling.h5"), hls_config=config, io_type="io_stream",
                                        output_dir=str(tmp_path / "prj"))
    assert [hm.graph[name].function for name in ("p", "g")] == ["sum", "sum"]
    hm.compile()
    X = np.random.default_rng(1).normal(0, 1.5, (400, 6, 6, 3))
    for want, have in zip(model.predict(X, verbose=0), hm.predict(X, engine="csim")):
        assert np.array_equal(have, want.reshape(have.shape))


def test_quantized_pooling_options_nnhls_does_not_take_are_clear_errors():
    inputs = tf.keras.Input((4, 4, 2), name="x")
    channels_first = QAveragePooling2D(2, data_format="channels_first", average_quantizer=quantized_bits(8, 0),
                                       name="p")
    model = tf.keras.Model(inputs, channels_first(inputs))
    with pytest.raises(NnhlsError, match=r"layer 'p' \(QAveragePooling2D\) has data_format='channels_first'"):
        read_keras(model)
    noisy = QGlobalAveragePooling2D(average_quantizer=quantized_bits(8, 0, qnoise_factor=0.5), name="g")
    with pytest.raises(NnhlsError, match=r"layer 'g' \(QGlobalAveragePooling2D\) average_quantizer: .*qnoise_factor"):
        read_keras(tf.keras.Model(inputs, noisy(inputs)))


# QBatchNormalization -----------------------------------------------------------------------------

def _batchnorm_model(layer, quantized_output=True, seed=3):
    inputs = tf.keras.Input((16,), name="x")
    y = layer(QActivation(quantized_bits(8, 2, alpha=1), name="q")(inputs))
    if quantized_output:
        y = QActivation(OUTPUT, name="out")(y)
    model = tf.keras.Model(inputs, y)
    rng = np.random.default_rng(seed)
    norm = model.get_layer("bn")
    ranges = {"gamma": (0.3, 2), "beta": (-1, 1), "moving_mean": (-1, 1), "moving_variance": (0.2, 3)}
    norm.set_weights([rng.uniform(*ranges[w.name.split("/")[-1].split(":")[0]], w.shape).astype(np.float32)
                      for w in norm.weights])
    return model


# (layer, most output LSBs apart, least share of equal outputs). With quantized_bits beta and mean
# on the input's grid, an input equal to the mean gives beta exactly, often a tie of the output
# quantizer, which QKeras's float32 rounding of x * inv + shift decides either way.
BATCHNORMS = {
    "QKeras's default quantizers (po2 gamma, beta, mean; po2 variance)": (lambda: QBatchNormalization(name="bn"), 0,
                                                                          1.0),
    "no quantizers": (lambda: QBatchNormalization(gamma_quantizer=None, beta_quantizer=None, mean_quantizer=None,
                                                  variance_quantizer=None, name="bn"), 1, 0.999),
    "quantized_bits gamma, beta and mean": (lambda: QBatchNormalization(
        gamma_quantizer=quantized_bits(8, 2, alpha=1), beta_quantizer=quantized_bits(8, 2, alpha=1),
        mean_quantizer=quantized_bits(8, 2, alpha=1),
        variance_quantizer="quantized_relu_po2(6, quadratic_approximation=True)", name="bn"), 1, 0.997),
    "no centre, no scale": (lambda: QBatchNormalization(center=False, scale=False, name="bn"), 0, 1.0),
}


@pytest.mark.parametrize("case", BATCHNORMS)
def test_qbatchnormalization_matches_qkeras(case):
    make, lsbs, share = BATCHNORMS[case]
    model = _batchnorm_model(make())
    hm, config = _convert(model)
    assert config["LayerName"]["bn"]["Precision"] == {"result": "auto", "scale": "auto", "bias": "auto"}
    node = hm.graph["bn"]
    assert node.op == "scale_shift" and node.framework_class == "QBatchNormalization"
    X = np.random.default_rng(0).normal(0, 1.5, (10000, 16))
    apart = _lsbs(model, hm, X)
    assert apart.max() <= lsbs and (apart == 0).mean() >= share, (apart.max(), (apart == 0).mean())


def test_qbatchnormalization_computes_with_qkeras_own_float32_scale_and_shift():
    """The scale and shift are the float32 values QKeras's graph computes with (TensorFlow's rsqrt),
    exactly typed: probing the layer with x = 0 and x = 1 gives them back to the bit."""
    model = _batchnorm_model(QBatchNormalization(name="bn"), quantized_output=False)
    hm, _ = _convert(model)
    norm = tf.keras.Model(model.input, model.get_layer("bn").output)
    shift, plus_one = norm.predict(np.array([[0.0] * 16, [1.0] * 16]), verbose=0)
    node = hm.graph["bn"]
    assert np.array_equal(node.shift.values, shift)
    assert np.array_equal(np.float32(node.scale.values + node.shift.values), plus_one)  # QKeras rounds 1 * inv + shift
    for weights in (node.scale, node.shift):
        assert np.array_equal(quantize.to_float(weights.codes, weights.type), weights.values)  # exact


def test_qbatchnormalization_precisions_that_are_set_are_kept_and_its_activation_warns():
    layer = QBatchNormalization(name="bn", activation="relu")
    model = _batchnorm_model(layer, quantized_output=False)
    with pytest.warns(UserWarning, match=r"layer 'bn' \(QBatchNormalization\) has activation='relu', which QKeras "
                                         r"0.9.0 stores but never applies"):
        config = nnhls.config_from_keras_model(model, granularity="name")
        config["LayerName"]["bn"]["Precision"].update(scale="ap_fixed<10,3,AP_RND,AP_SAT>", bias="ap_fixed<10,3>")
        hm = nnhls.convert_from_keras_model(model, hls_config=config)
    node = hm.graph["bn"]
    assert (str(node.scale.type), str(node.shift.type)) == ("ap_fixed<10,3,AP_RND,AP_SAT>", "ap_fixed<10,3>")
    assert node.result_type == FixedType(16, 6)  # an output, read by no quantizer: the default precision
    X = np.random.default_rng(2).normal(0, 1.5, (2000, 16))
    # QKeras applies no relu either: its outputs go negative. nnhls's follow them within the
    # roundings of the scale (half of 2**-7, times |x| <= 4), the shift (2**-7) and the result (2**-10).
    expected = model.predict(X, verbose=0)
    difference = np.abs(hm.predict(X) - expected).max()
    assert expected.min() < 0 and 2.0**-10 < difference <= 4 * 2.0**-8 + 2.0**-7 + 2.0**-10


def test_qbatchnormalization_on_another_axis_is_a_clear_error():
    inputs = tf.keras.Input((4, 3), name="x")
    model = tf.keras.Model(inputs, QBatchNormalization(axis=1, name="bn")(inputs))
    with pytest.raises(NnhlsError, match=r"layer 'bn' \(QBatchNormalization\) normalizes axis .*only the last axis"):
        read_keras(model)
