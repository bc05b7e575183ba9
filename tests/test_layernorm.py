"""Keras LayerNormalization (Keras 2 tf.keras and Keras 3) over the last axis of inputs of any
rank: within a few output LSBs of the framework on realistic activations, the numerics that
docs/fixed_point.md defines, bit-exact in C simulation, and clear errors for what nnhls does not
take."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import warnings

import numpy as np
import pytest
import tensorflow as tf

import nnhls
from nnhls import emulate, quantize
from nnhls.errors import NnhlsError
from nnhls.ir import Graph, Input, LayerNorm, Weights
from nnhls.passes import lower
from nnhls.types import AUTO, FixedType

FRACTIONAL_BITS = keras_models.INPUT_TYPE_FRACTIONAL_BITS


def _keras(framework):
    if framework == "keras3":
        import keras

        return keras
    return tf.keras


def _activations(shape, n: int, seed: int) -> np.ndarray:
    """Activations as a layer normalization meets them: each position with its own offset and
    spread (log-normal, from about 0.1 to 10), on the ap_fixed<16,6> grid."""
    rng = np.random.default_rng(seed)
    spread = rng.lognormal(0, 0.8, (n, *shape[:-1], 1))
    offset = rng.normal(0, 1, (n, *shape[:-1], 1))
    X = offset + spread * rng.normal(0, 1, (n, *shape))
    return np.clip(np.round(X * 2**FRACTIONAL_BITS) / 2**FRACTIONAL_BITS, -31, 31).astype(np.float32)


def _model(framework, shape, seed: int = 1, **options):
    """Input -> LayerNormalization('norm') with trained-looking gamma (around 1) and beta."""
    keras = _keras(framework)
    x = keras.Input(shape, name="x")
    layer = keras.layers.LayerNormalization(name="norm", **options)
    model = keras.Model(x, layer(x))
    rng = np.random.default_rng(seed)
    gamma_first = options.get("scale", True)
    layer.set_weights([rng.normal(1, 0.3, w.shape) if i == 0 and gamma_first else rng.normal(0, 0.5, w.shape)
                       for i, w in enumerate(layer.get_weights())])
    return model


def _convert(model, folder, io_type="io_parallel", **entry):
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["norm"].update(entry)
    return nnhls.convert_from_keras_model(model, hls_config=config, io_type=io_type, output_dir=str(folder))


@pytest.mark.parametrize("framework", ["keras2", "keras3"])
@pytest.mark.parametrize("shape, options", [
    ((8, 16), {}), ((32,), {}), ((3, 3, 12), {"center": False}), ((6, 10), {"scale": False, "epsilon": 1e-5}),
])
def test_outputs_are_within_a_few_lsbs_of_the_framework(framework, shape, options, tmp_path):
    """With the generated configuration: the result ap_fixed<16,6> truncates (up to 1 LSB, 2**-10),
    and the 1024-entry table is off by at most 2**-11 of a value (a few LSBs only for |y| near 4)."""
    model = _model(framework, shape, **options)
    X = _activations(shape, 400, 2)
    want = model.predict(X, verbose=0)
    hm = _convert(model, tmp_path / "prj")
    have = hm.predict(X)
    errors = np.abs(have - want) / hm.graph["norm"].result_type.lsb
    assert errors.max() <= 3
    assert (errors <= 2).mean() >= 0.999
    assert (errors <= 1).mean() >= 0.9


def test_the_definition_is_the_exact_normalization_but_for_its_table():
    """With a 65536-entry table, exact normalized differences and a rounding result, every output is
    the exactly rounded (x - mean) / sqrt(var + epsilon) * gamma + beta (gamma and beta as
    quantized) up to the table's 2**-17 relative error and its 2**-20 LSB."""
    rng = np.random.default_rng(5)
    shape, x_type, result = (5, 12), FixedType(14, 5), FixedType(16, 4, rounding="RND")
    t = FixedType(21, 2, False, "RND", "SAT")
    norm = LayerNorm("norm", ["x"], shape, epsilon=1e-3, table_size=65536, table_type=t, accum_type=AUTO,
                     scale=Weights(rng.normal(1, 0.3, 12), type=FixedType(16, 2)),
                     bias=Weights(rng.normal(0, 0.5, 12), type=FixedType(16, 2)), result_type=result)
    graph = lower(Graph([Input("x", [], shape, result_type=x_type), norm], ["norm"]), {"default": FixedType(16, 6)})
    X = _activations(shape, 300, 6)
    y = quantize.to_float(emulate.run(graph, {"x": X})["norm"], result)
    x = quantize.to_float(quantize.from_float(X, x_type), x_type)
    gamma, beta = (quantize.to_float(w.codes, w.type) for w in (norm.scale, norm.bias))
    exact = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + np.float32(1e-3)) * gamma + beta
    assert np.abs(y - exact).max() <= 0.5 * result.lsb + 2**-17 * np.abs(exact).max() + 2**-14


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_residual_normalization_gives_the_emulator_bits_in_csim(io_type, tmp_path):
    """x + LayerNormalization(x), as in a transformer block: the normalization's positions stream
    one packet each beside the skip path, which must not deadlock."""
    x = tf.keras.Input((4, 6), name="x")
    layer = tf.keras.layers.LayerNormalization(name="norm")
    model = tf.keras.Model(x, tf.keras.layers.Add(name="add")([x, layer(x)]))
    layer.set_weights([np.random.default_rng(3).normal(1, 0.3, 6), np.random.default_rng(4).normal(0, 0.5, 6)])
    hm = _convert(model, tmp_path / io_type, io_type, TableSize=64)
    hm.compile()
    X = _activations((4, 6), 200, 4)
    assert np.array_equal(hm.predict(X, engine="csim"), hm.predict(X))
    # A 64-entry table is off by up to 2**-7 of a normalized value, and |y| < 4 here.
    assert np.abs(hm.predict(X) - model.predict(X, verbose=0)).max() <= 2**-5
    if io_type == "io_stream":
        assert hm.simulate_dataflow(X[:5]).ok


def test_the_configuration_shows_the_table_and_the_precisions(tmp_path):
    model = _model("keras3", (16,), scale=False)
    entry = nnhls.config_from_keras_model(model, granularity="name")["LayerName"]["norm"]
    assert entry["TableSize"] == 1024
    assert set(entry["Precision"]) == {"result", "table", "accum", "bias"}  # no gamma without scale
    assert entry["Precision"]["table"] == "ap_ufixed<18,2,AP_RND,AP_SAT>"  # sqrt(16 / m) < 4
    hm = _convert(model, tmp_path / "prj", TableSize=256, Precision={"accum": "ap_fixed<16,2,AP_RND,AP_SAT>"})
    node = hm.graph["norm"]
    assert node.class_name == "LayerNormalization" and node.get_attr("table_size") == 256
    assert node.table.codes.size == 256 and str(node.accum_type) == "ap_fixed<16,2,AP_RND,AP_SAT>"


def test_configuration_it_does_not_take_is_a_clear_error(tmp_path):
    with pytest.raises(NnhlsError, match=r"TableSize'\] is 2; a layer normalization's table .* at least 4"):
        _convert(_model("keras2", (8,)), tmp_path / "prj", TableSize=2)


@pytest.mark.parametrize("key", ["TableRangePower2", "table_range_power2"])
def test_the_fields_table_range_is_ignored_with_a_warning(key, tmp_path):
    with pytest.warns(UserWarning, match=rf"{key}'\] is ignored: nnhls's layer normalization table needs no range"):
        hm = _convert(_model("keras2", (8,)), tmp_path / "prj", **{key: 2})
    assert hm.graph["norm"].table_size == 1024


def test_an_input_too_wide_for_the_exact_variance_is_a_clear_error():
    norm = LayerNorm("norm", ["x"], (64,), accum_type=AUTO, table_type=FixedType(18, 4, False), result_type=AUTO)
    graph = Graph([Input("x", [], (64,), result_type=FixedType(64, 20)), norm], ["norm"])
    with pytest.raises(NnhlsError, match=r"layer 'norm': the exact variance of 64 values of ap_fixed<64,20> needs "
                                         r"\d+ bits, more than the 128 .* narrower precision"):
        lower(graph, {"default": FixedType(16, 6)})


@pytest.mark.parametrize("framework", ["keras2", "keras3"])
@pytest.mark.parametrize("shape, axis", [((3, 4, 5), [1, 2]), ((6, 5), 1), ((6, 5), [1])])
def test_other_axes_are_clear_errors(framework, shape, axis):
    model = _model(framework, shape, axis=axis)
    with pytest.raises(NnhlsError, match=r"layer 'norm' \(LayerNormalization\) normalizes over axis .*last axis only"):
        nnhls.frontends.read_keras(model)


@pytest.mark.parametrize("framework", ["keras2", "keras3"])
def test_the_last_axis_by_its_number_is_taken(framework):
    graph = nnhls.frontends.read_keras(_model(framework, (6, 5), axis=[2]))
    assert graph["norm"].op == "layernorm" and graph["norm"].n == 5


def test_rms_scaling_is_a_clear_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3 deprecates the option as it builds the layer
        model = _model("keras3", (8,), rms_scaling=True)
    with pytest.raises(NnhlsError, match=r"layer 'norm' \(LayerNormalization\) has rms_scaling=True"):
        nnhls.frontends.read_keras(model)
