"""QDense kernel and bias quantizers beyond quantized_bits(alpha=1): exact in the IR, equal to QKeras.

Each quantizer is checked twice: on sweeps of weights that hit its ties and edges (the exact parts
nnhls reads must rebuild QKeras's own output bit for bit), and in a small trained MLP (the IR's
weights are QKeras's, the emulator agrees with `predict` to the output type's LSB, and the C
simulation equals the emulator).
"""

import keras_models  # sets TF_USE_LEGACY_KERAS before TensorFlow is imported

import numpy as np
import pytest

qkeras = pytest.importorskip("qkeras")

import tensorflow as tf  # noqa: E402
from qkeras import (QActivation, QDense, binary, quantized_bits, quantized_po2, quantized_relu_po2,  # noqa: E402
                    ternary)

import nnhls  # noqa: E402
from nnhls import quantize  # noqa: E402
from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.frontends.qkeras import quantized_weights  # noqa: E402
from nnhls.types import FixedType  # noqa: E402


def _float32(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    assert np.array_equal(values.astype(np.float32), values), "sweep values must be float32-exact"
    return values.astype(np.float32)


def _exact_values(codes, fixed_type) -> np.ndarray:
    return quantize.to_float(codes, fixed_type)


def _assert_rebuilds_qkeras(quantizer, x, allow_scale=True):
    """The parts nnhls reads rebuild QKeras's output exactly; returns them."""
    x = _float32(x)
    parts = quantized_weights(quantizer, x, "sweep", allow_scale=allow_scale)
    framework = np.asarray(quantizer(x), dtype=np.float64)
    codes = quantize.from_float(parts.values, parts.type)
    assert np.array_equal(_exact_values(codes, parts.type), parts.values), "values not exact in their type"
    if parts.scale is None:
        assert np.array_equal(parts.values, framework)
    else:
        scale_codes = quantize.from_float(parts.scale, parts.scale_type)
        assert np.array_equal(_exact_values(scale_codes, parts.scale_type), parts.scale)
        assert np.array_equal(_straight_through(x, parts.scale * parts.values), framework)
    return parts


def _straight_through(x, exact_product):
    """QKeras's float32 kernel from the exact scale x grid: it returns x + (scale * grid - x)."""
    product = exact_product.astype(np.float32)  # QKeras multiplies in float32
    return (x + (product - x)).astype(np.float64)


# --- Sweeps: every tie and edge of each quantizer ---------------------------------------------


def _ties_sweep(bits=4):
    """Columns whose largest magnitude fixes QKeras's 'auto' scale at a power of two (every odd
    multiple of half a step is a tie) or at a float, one random column and one of zeros."""
    half_levels = 2 ** (bits - 1) - 1
    k = np.arange(-2 * half_levels, 2 * half_levels + 1)
    on_po2 = k * 2.0**-4  # step 2**-3: ties at odd multiples of 2**-4
    on_float = (k * np.float32(0.05)).astype(np.float32).astype(np.float64)
    random = np.random.default_rng(3).normal(0, 0.4, k.size).astype(np.float32).astype(np.float64)
    return np.stack([on_po2, -on_po2, on_float, random, np.zeros(k.size)], axis=1)


@pytest.mark.parametrize("quantizer, grid", [
    (quantized_bits(4, 0, alpha="auto"), FixedType(4, 1)),
    (quantized_bits(4, 1, alpha="auto"), FixedType(4, 2)),
    (quantized_bits(6, 2, alpha="auto"), FixedType(6, 3)),
    # keep_negative=False under 'auto' keeps negative codes; it only halves the step.
    (quantized_bits(4, 0, keep_negative=False, alpha="auto"), FixedType(4, 0)),
], ids=str)
def test_quantized_bits_auto_is_a_float_scale_per_channel_times_its_grid(quantizer, grid):
    x = _ties_sweep(quantizer.bits)
    parts = _assert_rebuilds_qkeras(quantizer, x)
    assert parts.type == grid
    # QKeras's own record of the scale is the one nnhls multiplies by.
    assert np.array_equal(parts.scale, np.asarray(quantizer.scale, dtype=np.float64).reshape(-1))
    assert parts.scale[-1] == 0 and not parts.values[:, -1].any()  # a column of zeros
    # Without the straight-through step, the kernel is scale x grid rounded to float32.
    assert np.array_equal((parts.scale * parts.values).astype(np.float32), np.asarray(quantizer(_float32(x))))


@pytest.mark.parametrize("quantizer", [
    quantized_bits(4, 0, alpha="auto_po2"),
    quantized_bits(6, 1, alpha="auto_po2"),
    quantized_bits(4, 0, keep_negative=False, alpha="auto_po2"),
], ids=str)
def test_quantized_bits_auto_po2_folds_into_one_exact_type(quantizer):
    x = _ties_sweep(quantizer.bits).astype(np.float32) * np.float32(3.0)
    parts = _assert_rebuilds_qkeras(quantizer, x)
    assert parts.scale is None
    # Fractional bits from the finest channel's step, integer bits from the coarsest; zero
    # channels (whatever power of two QKeras gives them) do not count.
    scale = np.asarray(quantizer.scale, dtype=np.float64).reshape(-1)
    used = np.abs(parts.values).max(axis=0) > 0
    exponents = np.log2(scale[used]).astype(int)
    keep_negative = int(quantizer.keep_negative)
    grid_fractional = quantizer.bits - keep_negative - quantizer.integer
    assert parts.type.fractional == grid_fractional - exponents.min()
    assert parts.type.integer == quantizer.integer + keep_negative + exponents.max()


@pytest.mark.parametrize("alpha, folded", [(0.5, FixedType(6, 0)), (0.3, None)])
def test_quantized_bits_numeric_alpha_is_a_constant_scale(alpha, folded):
    quantizer = quantized_bits(6, 0, alpha=alpha)
    parts = _assert_rebuilds_qkeras(quantizer, _ties_sweep(6) / 4)
    if folded is not None:  # a power of two moves the grid: quantized_bits(6, 0)'s step halves
        assert parts.scale is None and parts.type == folded
    else:
        assert parts.type == FixedType(6, 1, True, "RND_CONV", "SAT")
        assert (parts.scale == np.float32(alpha)).all()


def test_qdense_makes_alpha_none_of_a_kernel_auto_po2():
    layer = QDense(3, kernel_quantizer=quantized_bits(4, 0))
    assert layer.kernel_quantizer_internal.alpha == "auto_po2"
    _assert_rebuilds_qkeras(layer.kernel_quantizer_internal, _ties_sweep())


_SIGN_EDGES = np.array([-1e-30, -0.0, 0.0, 1e-30, -0.5, 0.5, -3.0, 3.0, 0.125, -0.0625], dtype=np.float32)


@pytest.mark.parametrize("quantizer, grid", [
    (binary(alpha=1), FixedType(2, 2)),
    (binary(use_01=True, alpha=1), FixedType(1, 1, signed=False)),
    (binary(alpha="auto"), FixedType(2, 2)),
    (binary(alpha="auto_po2"), None),
    (binary(use_01=True, alpha="auto"), FixedType(1, 1, signed=False)),
], ids=str)
def test_binary_is_plus_minus_a_scale(quantizer, grid):
    x = np.stack([_SIGN_EDGES, -_SIGN_EDGES[::-1], _SIGN_EDGES * np.float32(0.3)], axis=1)
    parts = _assert_rebuilds_qkeras(quantizer, x)
    unscaled = parts.values if parts.scale is not None else parts.values / np.abs(parts.values).max(axis=0)
    expected = {0.0, 1.0} if quantizer.use_01 else {-1.0, 1.0}
    assert set(np.unique(unscaled)) <= expected
    # 0 and -0 count as positive.
    assert (unscaled[1:3, 0] == 1).all()
    if grid is not None:
        assert parts.type == grid
    if quantizer.alpha == 1:
        assert parts.scale is None and parts.type == grid


def test_binary_auto_straight_through_step_rounds_some_weights_by_one_ulp():
    """QKeras returns x + (s - x), not s: in float32 that is off by one ulp for some weights.
    nnhls keeps the scale s exactly; the ulp is below QKeras's own float32 sums."""
    quantizer = binary(alpha="auto")
    x = np.random.default_rng(0).normal(0, 0.3, (64, 8)).astype(np.float32)
    parts = _assert_rebuilds_qkeras(quantizer, x)
    framework = np.asarray(quantizer(x), dtype=np.float64)
    off = framework != parts.scale * parts.values
    assert off.any()
    ulp = np.spacing(np.abs(framework[off]).astype(np.float32))
    assert (np.abs(framework - parts.scale * parts.values)[off] <= ulp).all()


@pytest.mark.parametrize("threshold", [0.25, 0.3, None])
def test_ternary_alpha_one_matches_qkeras_at_its_threshold(threshold):
    quantizer = ternary(alpha=1, threshold=threshold)
    t = np.float32(0.33 if threshold is None else threshold)
    around = np.array([np.nextafter(t, np.float32(0)), t, np.nextafter(t, np.float32(1))], dtype=np.float32)
    x = np.concatenate([around, -around, [0.0, -0.0, 2.0, -2.0]]).astype(np.float32)[:, None]
    parts = _assert_rebuilds_qkeras(quantizer, np.hstack([x, x[::-1]]))
    assert parts.scale is None and parts.type == FixedType(2, 2)
    assert parts.values[:6, 0].tolist() == [0, 1, 1, 0, -1, -1]  # |x| >= threshold is +-1


@pytest.mark.parametrize("quantizer", [ternary(alpha="auto"), ternary(alpha="auto_po2")], ids=str)
def test_ternary_auto_is_a_scale_times_minus_one_zero_one(quantizer):
    x = np.random.default_rng(1).normal(0, 0.3, (40, 6)).astype(np.float32)
    x[:, 5] = 0
    parts = _assert_rebuilds_qkeras(quantizer, x)
    if quantizer.alpha == "auto":
        assert parts.type == FixedType(2, 2) and set(np.unique(parts.values)) == {-1.0, 0.0, 1.0}
    else:
        assert parts.scale is None


def _po2_sweep(low_exponent, high_exponent):
    """Zero, the epsilon below which QKeras takes the smallest exponent, the float32 neighbours of
    every rounding boundary 2**(k + 1/2) of log2, and values beyond the largest exponent."""
    edges = [0.0, np.float32(1e-7), np.nextafter(np.float32(1e-7), np.float32(0))]
    for k in range(low_exponent - 1, high_exponent + 2):
        boundary = np.float32(2.0 ** (k + 0.5))
        edges += [np.nextafter(boundary, np.float32(0)), boundary, np.nextafter(boundary, np.float32(np.inf)),
                  np.float32(2.0**k)]
    edges = np.array(edges, dtype=np.float32)
    return np.stack([edges, -edges], axis=1)


@pytest.mark.parametrize("quantizer, expected", [
    (quantized_po2(4), FixedType(9, 5)),  # +-2**-4 .. +-2**3
    (quantized_po2(4, 1), FixedType(10, 2)),  # max_value 1: +-2**-8 .. +-1
    (quantized_po2(3, 4), FixedType(5, 3)),  # +-2**-2 .. +-2: the exponent range is below max_value
    (quantized_relu_po2(4), FixedType(16, 8, signed=False)),  # 2**-8 .. 2**7
    (quantized_relu_po2(4, 1), FixedType(17, 1, signed=False)),  # 2**-16 .. 1
], ids=str)
def test_powers_of_two_get_the_type_of_their_exponent_range(quantizer, expected):
    x = _po2_sweep(quantizer._min_exp, quantizer._max_exp)
    parts = _assert_rebuilds_qkeras(quantizer, x)
    assert parts.scale is None and parts.type == expected
    nonzero = parts.values[parts.values != 0]
    assert (np.frexp(np.abs(nonzero))[0] == 0.5).all()
    assert parts.values[0, 0] == 2.0**quantizer._min_exp  # QKeras maps 0 to the smallest power


def test_bias_quantizers_give_the_values_one_exact_type():
    bias = np.random.default_rng(2).normal(0, 0.5, 7).astype(np.float32)
    for quantizer in (quantized_bits(6, 1, alpha="auto"), binary(alpha="auto_po2"), quantized_po2(5), ternary(alpha=1)):
        parts = _assert_rebuilds_qkeras(quantizer, bias, allow_scale=False)
        assert parts.scale is None, quantizer


# --- Errors name the layer and the quantizer --------------------------------------------------


def _qdense_model(**qdense):
    inputs = tf.keras.Input((4,), name="x")
    return tf.keras.Model(inputs, QDense(3, name="q", **qdense)(inputs))


@pytest.mark.parametrize("qdense, weights, message", [
    (dict(kernel_quantizer=qkeras.quantized_tanh(4)), None,
     r"layer 'q' \(QDense\) kernel: quantizer quantized_tanh.* not supported on weights; supported weight "
     r"quantizers: quantized_bits, binary, ternary, quantized_po2, quantized_relu_po2"),
    (dict(kernel_quantizer=qkeras.stochastic_binary()), None, r"layer 'q' \(QDense\) kernel: .*stochastic_binary"),
    (dict(kernel_quantizer=quantized_bits(4, 0, alpha="auto", scale_axis=0)), None,
     r"layer 'q' \(QDense\) kernel: .*quantized_bits.* not one scale per output channel.*scale_axis"),
    (dict(kernel_quantizer=quantized_bits(4, 0, alpha="auto", qnoise_factor=0.5)), None,
     r"layer 'q' \(QDense\) kernel: quantizer quantized_bits.* qnoise_factor"),
    # A zero weight becomes 2**-64, the smallest power of quantized_po2(8); with 2**63 and a sign
    # that is more than the 128 bits of nnhls's C simulation types.
    (dict(kernel_quantizer=quantized_po2(8)),
     [np.array([[0, 2.0**63, -1]] * 4, np.float32), np.zeros(3, np.float32)],
     r"layer 'q' \(QDense\) kernel: the values QKeras's quantized_po2\(8\) produces need 129 bits"),
    (dict(kernel_quantizer=binary(alpha=1), bias_quantizer=qkeras.quantized_relu(4)), None,
     r"layer 'q' \(QDense\) bias: quantizer quantized_relu.* not supported on weights"),
], ids=["tanh", "stochastic-binary", "scale-axis", "qnoise", "po2-too-wide", "relu-bias"])
def test_unsupported_weight_quantizers_name_the_layer(qdense, weights, message):
    model = _qdense_model(**qdense)
    if weights is not None:
        model.get_layer("q").set_weights(weights)
    with pytest.raises(NnhlsError, match=message):
        nnhls.config_from_keras_model(model)


# --- Trained MLPs through the converter -------------------------------------------------------

BIAS = quantized_bits(8, 3, alpha=1)
MLPS = {
    "bits_auto_po2": (lambda: quantized_bits(4, 0, alpha="auto_po2"), lambda: BIAS),
    "bits_alpha_none": (lambda: quantized_bits(6, 0), lambda: BIAS),
    "bits_auto": (lambda: quantized_bits(4, 0, alpha="auto"), lambda: quantized_bits(8, 3, alpha="auto")),
    "binary": (lambda: binary(alpha=1), lambda: BIAS),
    "binary_01": (lambda: binary(use_01=True, alpha=1), lambda: BIAS),
    "binary_auto": (lambda: binary(alpha="auto"), lambda: None),  # a float bias after a float scale
    "ternary": (lambda: ternary(alpha=1, threshold=0.2), lambda: BIAS),
    "ternary_auto": (lambda: ternary(alpha="auto"), lambda: BIAS),
    "po2": (lambda: quantized_po2(4, 1), lambda: quantized_po2(6)),
    "relu_po2": (lambda: quantized_relu_po2(4, 1), lambda: BIAS),
}
SCALED = ("bits_auto", "binary_auto", "ternary_auto")
_trained = {}


def _trained_mlp(name):
    """16-32-5: QDense, quantized_relu(6), QDense, and quantized_bits(16,6) on the output, so the
    output type's LSB is one QKeras's float32 sums can be held to."""
    if name not in _trained:
        kernel, bias = MLPS[name]
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential(name=f"mlp_{name}")
        model.add(tf.keras.layers.InputLayer(input_shape=(16,), name="input_1"))
        model.add(QDense(32, kernel_quantizer=kernel(), bias_quantizer=bias(), name="fc1"))
        model.add(QActivation("quantized_relu(6)", name="relu1"))
        model.add(QDense(5, kernel_quantizer=kernel(), bias_quantizer=bias(), name="fc2"))
        model.add(QActivation("quantized_bits(16,6,alpha=1)", name="output"))
        _trained[name] = keras_models._train(model, seed=0, epochs=2)
    return _trained[name]


@pytest.fixture(scope="module")
def data():
    X, _ = keras_models.synthetic_data(2000, seed=1)
    return X


def _convert(model, tmp_path, **options):
    config = nnhls.config_from_keras_model(model, granularity="name")
    return nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj", **options)


@pytest.mark.parametrize("name", list(MLPS))
def test_mlp_weights_are_qkeras_and_emulator_matches_predict(name, data, tmp_path):
    model = _trained_mlp(name)
    hls_model = _convert(model, tmp_path)
    graph = hls_model.graph
    for layer_name in ("fc1", "fc2"):
        layer = model.get_layer(layer_name)
        kernel, bias = layer.get_weights()
        framework_kernel = np.asarray(layer.kernel_quantizer_internal(kernel), dtype=np.float64)
        quantizer = layer.bias_quantizer_internal
        framework_bias = np.asarray(quantizer(bias), dtype=np.float64) if quantizer else bias.astype(np.float64)
        dense = graph[layer_name]
        ir_kernel = _exact_values(dense.weight.codes, dense.weight.type)
        if name in SCALED:
            scale_shift = graph[f"{layer_name}_scale"]
            assert [node.name for node in graph.consumers(layer_name)] == [scale_shift.name]
            scale = _exact_values(scale_shift.scale.codes, scale_shift.scale.type)
            assert np.array_equal(_straight_through(kernel, scale * ir_kernel), framework_kernel)
            assert np.array_equal(_exact_values(scale_shift.shift.codes, scale_shift.shift.type), framework_bias)
            assert not _exact_values(dense.bias.codes, dense.bias.type).any()
            assert dense.framework_output is None and scale_shift.framework_output == layer_name
        else:
            assert f"{layer_name}_scale" not in [node.name for node in graph]
            assert np.array_equal(ir_kernel, framework_kernel)
            assert np.array_equal(_exact_values(dense.bias.codes, dense.bias.type), framework_bias)
            assert dense.framework_output == layer_name
    emulated, expected = hls_model.predict(data), model.predict(data, verbose=0)
    lsb = graph[graph.outputs[0]].result_type.lsb
    assert (np.abs(emulated - expected) <= lsb).mean() >= 0.999


def test_scaled_qdense_structure_and_configuration():
    model = _trained_mlp("bits_auto")
    config = nnhls.config_from_keras_model(model, granularity="name")
    assert list(config["LayerName"]) == ["input_1", "fc1", "fc1_scale", "relu1", "fc2", "fc2_scale", "output"]
    assert config["LayerName"]["fc1"]["Precision"]["weight"] == "ap_fixed<4,1>"
    assert config["LayerName"]["fc1"]["Precision"]["bias"] == "ap_uint<1>"
    # QKeras does not round the scaled sum: the ScaleShift's result is exact by default.
    assert config["LayerName"]["fc1_scale"]["Precision"] == {"result": "auto"}


def test_scaled_qdense_with_its_own_activation_ends_in_that_activation():
    from nnhls.frontends import read_keras

    inputs = tf.keras.Input((4,), name="x")
    layer = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha="auto"), bias_quantizer=BIAS,
                   activation="quantized_relu(6)", name="q")
    model = tf.keras.Model(inputs, layer(inputs))
    layer.set_weights([np.random.default_rng(0).normal(0, 0.5, (4, 3)).astype(np.float32), np.zeros(3, np.float32)])
    graph = read_keras(model)
    assert [(node.name, node.op, node.framework_output) for node in graph] == [
        ("x", "input", "x"), ("q", "dense", None), ("q_scale", "scale_shift", None), ("q_relu", "activation", "q")]
    scale = graph["q_scale"].scale
    # The types come from the quantizer, never from the configuration.
    assert scale.type is None and scale.quantizer is not None and graph["q_scale"].shift.type is None


@pytest.mark.parametrize("name, io_type", [("bits_auto", "io_stream"), ("bits_auto_po2", "io_parallel"),
                                           ("binary_auto", "io_parallel"), ("po2", "io_stream")])
def test_c_simulation_equals_the_emulator(name, io_type, data, tmp_path):
    hls_model = _convert(_trained_mlp(name), tmp_path, io_type=io_type)
    hls_model.compile()
    assert np.array_equal(hls_model.predict(data, engine="csim"), hls_model.predict(data))
