"""Keras and QKeras MLPs through the whole converter, in every backend x strategy x io type."""

import itertools

import keras_models  # sets TF_USE_LEGACY_KERAS before TensorFlow is imported
import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.hls.backend import BACKENDS, IO_TYPES

STRATEGIES = ("Latency", "Resource")
REUSE_FACTORS = (1, 2, 4, 16, "largest")


@pytest.fixture(scope="module")
def qmlp():
    return keras_models.qkeras_mlp()


@pytest.fixture(scope="module")
def data():
    X, _ = keras_models.synthetic_data(2000, seed=1)
    return X


@pytest.fixture(scope="module")
def qmlp_emulated(qmlp, data, tmp_path_factory):
    config = nnhls.config_from_keras_model(qmlp, granularity="name")
    model = nnhls.convert_from_keras_model(qmlp, hls_config=config,
                                           output_dir=tmp_path_factory.mktemp("emulated"))
    return model, model.predict(data, engine="emulator")


def test_qkeras_mlp_emulator_matches_qkeras(qmlp, qmlp_emulated, data):
    model, emulated = qmlp_emulated
    expected = qmlp.predict(data, verbose=0)
    lsb = model.graph["output"].result_type.lsb
    within_one_lsb = np.abs(emulated - expected) <= lsb
    assert within_one_lsb.mean() >= 0.999
    assert np.abs(emulated - expected).max() > 0 or within_one_lsb.all()


def test_qkeras_weights_are_the_framework_quantized_weights(qmlp, qmlp_emulated):
    model, _ = qmlp_emulated
    from qkeras import quantized_bits

    for name in ("fc1", "fc2", "fc3", "output"):
        layer = qmlp.get_layer(name)
        node = model.graph[name]
        kernel = quantized_bits(6, 0, alpha=1)(layer.get_weights()[0]).numpy()
        assert np.array_equal(nnhls.quantize.to_float(node.weight.codes, node.weight.type), kernel)
        assert str(node.weight.type) == "ap_fixed<6,1,AP_RND_CONV,AP_SAT>"


@pytest.mark.parametrize("backend, strategy, io_type, reuse_factor",
                         list(itertools.product(BACKENDS, STRATEGIES, IO_TYPES, REUSE_FACTORS)))
def test_qkeras_mlp_every_cell_equals_the_emulator(qmlp, qmlp_emulated, data, tmp_path, backend, strategy,
                                                   io_type, reuse_factor):
    config = nnhls.config_from_keras_model(qmlp, granularity="name", backend=backend)
    config["Model"]["Strategy"] = strategy
    for name, entry in config["LayerName"].items():
        if "ReuseFactor" in entry:
            layer = qmlp.get_layer(name)
            n_weights = int(np.prod(layer.get_weights()[0].shape))
            entry["ReuseFactor"] = n_weights if reuse_factor == "largest" else reuse_factor
    model = nnhls.convert_from_keras_model(qmlp, hls_config=config, backend=backend, io_type=io_type,
                                           output_dir=tmp_path / "prj", strict=True)
    model.compile()
    assert np.array_equal(model.predict(data, engine="csim"), qmlp_emulated[1])


def propagated_error_bound(model, X):
    """Per output, how far the fixed-point network may be from the float one, from its types alone.

    A Dense output errs by at most sum|x_fixed| * |w_fixed - w| + sum|w| * err(x) + |b_fixed - b|
    plus one LSB of its result type (the result truncates); relu does not grow an error, and a
    conversion adds one LSB of the new type. The float values are the framework's (after folding).
    """
    _, layers = model.trace(X, engine="emulator")
    error = {}
    for node in model.graph:
        if node.op == "input":
            error[node.name] = np.abs(layers[node.name] - X)
        elif node.op == "dense":
            x, err = layers[node.inputs[0]], error[node.inputs[0]]
            w, w_fixed = node.weight.values, nnhls.quantize.to_float(node.weight.codes, node.weight.type)
            b, b_fixed = node.bias.values, nnhls.quantize.to_float(node.bias.codes, node.bias.type)
            error[node.name] = (np.abs(x) @ np.abs(w_fixed - w) + err @ np.abs(w) + np.abs(b_fixed - b)
                                + node.result_type.lsb)
        else:
            error[node.name] = error[node.inputs[0]] + node.result_type.lsb
    return error[model.graph.outputs[0]]


def test_float_mlp_agrees_with_keras_within_its_types(tmp_path):
    """ap_fixed<16,6> everywhere: every output is within the error its types allow (propagated
    bound above, plus 2**-12 for Keras's own float32 rounding), and the predicted class agrees."""
    model = keras_models.keras_mlp()
    X, _ = keras_models.synthetic_data(2000, seed=2)
    config = nnhls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<16,6>")
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")
    assert [node.op for node in hls_model.graph] == ["input", "dense", "activation", "dense", "activation", "dense"]
    fixed, expected = hls_model.predict(X), model.predict(X, verbose=0)
    bound = propagated_error_bound(hls_model, X)
    assert (np.abs(fixed - expected) <= bound + 2**-12).all()
    assert np.median(bound) < 0.5  # the bound itself is tight enough to mean something
    assert (fixed.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.98
    hls_model.compile()
    assert np.array_equal(hls_model.predict(X, engine="csim"), hls_model.predict(X, engine="emulator"))


def test_trace_gives_every_layer(qmlp, qmlp_emulated, data, tmp_path):
    model = nnhls.convert_from_keras_model(qmlp, hls_config=nnhls.config_from_keras_model(qmlp, granularity="name"),
                                           output_dir=tmp_path / "prj", io_type="io_stream")
    model.compile()
    output, layers = model.trace(data[:50], engine="csim")
    emulated_output, emulated_layers = model.trace(data[:50], engine="emulator")
    assert list(layers) == ["input_1", "fc1", "relu1", "fc2", "relu2", "fc3", "relu3", "output"]
    for name in layers:
        assert np.array_equal(layers[name], emulated_layers[name]), name
    assert np.array_equal(layers["output"], output)
    assert layers["relu1"].shape == (50, 64) and layers["relu1"].min() >= 0


def test_two_models_in_one_process_do_not_interfere(qmlp, data, tmp_path):
    other = keras_models.qkeras_mlp(seed=5, epochs=1)
    first = nnhls.convert_from_keras_model(qmlp, output_dir=tmp_path / "a")
    second = nnhls.convert_from_keras_model(other, output_dir=tmp_path / "b", io_type="io_stream")
    first.compile()
    second.compile()
    first.compile()  # a rebuild loads a new library beside the old one
    for model in (first, second):
        assert np.array_equal(model.predict(data[:200], engine="csim"), model.predict(data[:200]))
    assert not np.array_equal(first.predict(data[:200], engine="csim"), second.predict(data[:200], engine="csim"))


def test_single_sample_and_batch_agree(qmlp, data, tmp_path):
    model = nnhls.convert_from_keras_model(qmlp, output_dir=tmp_path / "prj")
    assert model.predict(data[0]).shape == (5,)
    assert np.array_equal(model.predict(data[0]), model.predict(data[:1])[0])


def test_bad_predict_inputs_are_clear_errors(qmlp, tmp_path):
    model = nnhls.convert_from_keras_model(qmlp, output_dir=tmp_path / "prj")
    with pytest.raises(NnhlsError, match=r"input 'input_1' expects shape \(batch, 16\), got \(10, 15\)"):
        model.predict(np.zeros((10, 15)))
    with pytest.raises(NnhlsError, match="must be numeric"):
        model.predict(np.array([["a"] * 16]))
    with pytest.raises(NnhlsError, match="input 'input_1' holds nan, which has no fixed-point code"):
        model.predict(np.full((2, 16), np.nan))
    with pytest.raises(NnhlsError, match="engine 'gpu' is not valid"):
        model.predict(np.zeros((1, 16)), engine="gpu")
    with pytest.raises(NnhlsError, match="call compile"):
        model.predict(np.zeros((1, 16)), engine="csim")


@pytest.mark.parametrize("change, message", [
    (lambda c: c["Model"].update(Strategy="Fast"), r"config\['Model'\]\['Strategy'\] is 'Fast'; valid: Latency, Resource"),
    (lambda c: c["Model"].update(ReuseFactor=0), r"config\['Model'\]\['ReuseFactor'\] must be a positive integer"),
    (lambda c: c["Model"].update(Precison="ap_fixed<8,3>"), r"unknown key 'Precison' in config\['Model'\]; valid keys: Precision"),
    (lambda c: c["LayerName"].update(fc9={"ReuseFactor": 2}), r"unknown key 'fc9' in config\['LayerName'\]; valid keys: input_1, fc1"),
    (lambda c: c["LayerName"]["fc1"]["Precision"].update(weight="ap_fixed<8>"), r"config\['LayerName'\]\['fc1'\]\['Precision'\]\['weight'\]: precision 'ap_fixed<8>'"),
    (lambda c: c["LayerName"]["fc1"].update(Reuse=2), r"unknown key 'Reuse' in config\['LayerName'\]\['fc1'\]"),
])
def test_bad_config_values_name_the_key(qmlp, tmp_path, change, message):
    config = nnhls.config_from_keras_model(qmlp, granularity="name")
    change(config)
    with pytest.raises(NnhlsError, match=message):
        nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "prj")


def test_bad_converter_arguments(qmlp, tmp_path):
    with pytest.raises(NnhlsError, match="backend 'Quartus' is not supported; supported backends: Vivado, Vitis"):
        nnhls.convert_from_keras_model(qmlp, backend="Quartus", output_dir=tmp_path)
    with pytest.raises(NnhlsError, match="io_type 'io_serial' is not valid"):
        nnhls.convert_from_keras_model(qmlp, io_type="io_serial", output_dir=tmp_path)


def test_invalid_reuse_factor_moves_to_the_nearest_valid_one(qmlp, tmp_path):
    config = nnhls.config_from_keras_model(qmlp, granularity="name")
    config["Model"]["Strategy"] = "Resource"
    config["LayerName"]["fc1"]["ReuseFactor"] = 3
    with pytest.warns(UserWarning, match=r"layer 'fc1': reuse factor 3 is not valid for the Resource strategy "
                                         r"with 16 inputs and 64 outputs .*; using 4"):
        model = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "prj")
    assert model.graph["fc1"].reuse_factor == 4
    with pytest.raises(NnhlsError, match="reuse factor 3 is not valid"):
        nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "prj", strict=True)


def test_unsupported_layer_names_itself_and_the_supported_ones(tmp_path):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(8, 8, 8, 1)),
                                 tf.keras.layers.Conv3D(2, 3, name="conv3d"), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(2)])
    with pytest.raises(NnhlsError, match=r"layer 'conv3d' \(Conv3D\) is not supported.*Dense"):
        nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")


def test_rewriting_keeps_the_users_files(qmlp, tmp_path):
    output = tmp_path / "prj"
    (output / "firmware").mkdir(parents=True)
    (output / "notes.txt").write_text("mine")
    (output / "firmware" / "extra.h").write_text("// mine")
    model = nnhls.convert_from_keras_model(qmlp, output_dir=output)
    model.write()
    assert (output / "firmware" / "weights" / "w1.h").exists()
    (output / "firmware" / "weights" / "w99.h").write_text("// mine too")
    model.write()
    assert (output / "notes.txt").read_text() == "mine"
    assert (output / "firmware" / "extra.h").read_text() == "// mine"
    assert (output / "firmware" / "weights" / "w99.h").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".nnhls_")]
    assert leftovers == []
