"""Configuration: the dictionary's shape per granularity, and resolution LayerName > LayerType > Model."""

import re

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.types import FixedType


@pytest.fixture(scope="module")
def qmlp():
    return keras_models.qkeras_mlp(epochs=0)


def test_model_granularity(qmlp):
    config = nnhls.config_from_keras_model(qmlp, default_precision="ap_fixed<12,4>", default_reuse_factor=2)
    assert config == {"Model": {"Precision": {"default": "ap_fixed<12,4>"}, "ReuseFactor": 2,
                                "Strategy": "Latency", "BramFactor": 1_000_000_000, "TraceOutput": False}}


def test_type_granularity_lists_each_layer_class(qmlp):
    config = nnhls.config_from_keras_model(qmlp, granularity="type", max_precision="ap_fixed<24,10>")
    assert sorted(config["LayerType"]) == ["InputLayer", "QActivation", "QDense"]
    assert config["Model"]["Precision"]["maximum"] == "ap_fixed<24,10>"


def test_name_granularity_shows_the_precisions_nnhls_will_use(qmlp):
    config = nnhls.config_from_keras_model(qmlp, granularity="name", backend="vitis")
    assert config["LayerName"]["input_1"] == {"Trace": False, "Precision": {"result": "fixed<16,6>"}}
    assert config["LayerName"]["fc1"] == {
        "Trace": False, "ReuseFactor": 1,
        "Precision": {"result": "auto", "weight": "ap_fixed<6,1,AP_RND_CONV,AP_SAT>",
                      "bias": "ap_fixed<6,1,AP_RND_CONV,AP_SAT>", "accum": "auto"}}
    assert config["LayerName"]["relu1"]["Precision"] == {"result": "ap_ufixed<6,0,AP_RND_CONV,AP_SAT>"}


def test_resolution_order(qmlp, tmp_path):
    config = nnhls.config_from_keras_model(qmlp, granularity="model")
    config["Model"]["ReuseFactor"] = 2
    config["LayerType"] = {"QDense": {"ReuseFactor": 4, "Strategy": "resource", "Precision": {"result": "ap_fixed<20,8>"}}}
    config["LayerName"] = {"fc2": {"ReuseFactor": 8, "Precision": "ap_fixed<18,7>"}}
    model = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path)
    graph = model.graph
    assert (graph["fc1"].reuse_factor, graph["fc1"].strategy) == (4, "Resource")
    assert str(graph["fc1"].result_type) == "ap_fixed<20,8>"
    assert graph["fc2"].reuse_factor == 8
    # A layer's plain-string precision is its default: it covers result, weight, bias and accumulator.
    assert graph["fc2"].result_type == graph["fc2"].accum_type == FixedType(18, 7)
    assert graph["fc2"].weight.type == FixedType(18, 7)
    assert graph["relu1"].reuse_factor == 2
    assert str(graph["relu1"].result_type) == "ap_ufixed<6,0,AP_RND_CONV,AP_SAT>"


def test_print_dict(qmlp, capsys):
    nnhls.print_dict({"Model": {"Precision": {"default": "ap_fixed<16,6>"}, "ReuseFactor": 1}})
    assert capsys.readouterr().out == "Model:\n  Precision:\n    default: ap_fixed<16,6>\n  ReuseFactor: 1\n"


def test_bad_granularity_and_backend(qmlp):
    with pytest.raises(NnhlsError, match="granularity 'layer' is not valid"):
        nnhls.config_from_keras_model(qmlp, granularity="layer")
    with pytest.raises(NnhlsError, match="backend 'Quartus' is not supported"):
        nnhls.config_from_keras_model(qmlp, backend="Quartus")


def test_maximum_caps_inferred_types_with_a_warning(qmlp, tmp_path):
    config = nnhls.config_from_keras_model(qmlp, granularity="model", max_precision="ap_fixed<12,4,AP_RND,AP_SAT>")
    with pytest.warns(UserWarning) as caught:
        model = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path)
    messages = [str(w.message) for w in caught]
    assert [m.split("'")[1] for m in messages] == ["fc1", "fc2", "fc3", "output"]
    assert all(re.match(r"layer '\w+': the exact accum type .* is capped to ap_fixed<12,4,AP_RND,AP_SAT>", m)
               for m in messages)
    assert model.graph["fc1"].accum_type.width <= 12
    X, _ = keras_models.synthetic_data(100)
    model.compile()
    assert np.array_equal(model.predict(X, engine="csim"), model.predict(X))


def test_keras3_model_converts_end_to_end(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(3, name="out")])
    X, _ = keras_models.synthetic_data(200)
    path = tmp_path / "model.keras"
    model.save(path)
    hls_model = nnhls.convert_from_keras_model(str(path), output_dir=tmp_path / "prj", io_type="io_stream")
    hls_model.compile()
    assert np.array_equal(hls_model.predict(X, engine="csim"), hls_model.predict(X))
    assert np.abs(hls_model.predict(X) - model.predict(X, verbose=0)).max() < 0.1


def test_batchnorm_after_a_quantized_layer_is_sized_from_its_values(tmp_path):
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    q = quantized_bits(6, 0, alpha=1)
    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(16,)),
                                 QDense(8, kernel_quantizer=q, bias_quantizer=q, name="fc"),
                                 tf.keras.layers.BatchNormalization(name="bn")])
    model.get_layer("bn").set_weights([np.full(8, 40.0), np.linspace(-3, 3, 8), np.zeros(8), np.full(8, 0.25)])
    config = nnhls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<16,6>")
    assert config["LayerName"]["bn"]["Precision"] == {"result": "ap_fixed<16,6>", "scale": "auto", "bias": "auto"}
    config["LayerName"]["bn"]["Precision"]["result"] = "ap_fixed<24,12>"
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path)
    bn = hls_model.graph["bn"]
    assert bn.op == "scale_shift"
    assert (bn.scale.type.width, bn.scale.type.integer) == (16, 8)  # 40 / sqrt(0.25 + 0.001) ~ 79.8
    assert (bn.shift.type.width, bn.shift.type.integer) == (16, 3)
    X, _ = keras_models.synthetic_data(500)
    assert np.abs(hls_model.predict(X) - model.predict(X, verbose=0)).max() < 0.05
