"""Table-driven activations and softmax against Keras, and a float classifier's accuracy."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np
import pytest
import tensorflow as tf

import nnhls

LSB = 2.0**-10  # of the default ap_fixed<16,6>


def single_activation(function: str, n: int = 1):
    return tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(n,), name="x"),
                                tf.keras.layers.Activation(function, name="f")])


# Bounds in LSBs of the ap_fixed<16,6> result: half a table bin times the steepest slope
# (sigmoid: 1/128 * 1/4, tanh: 1/256 * 1), the table's own rounding, and one LSB for the result
# truncating; both clamp where the function is within 0.7 LSB of its asymptote.
@pytest.mark.parametrize("function, bound_lsb", [("sigmoid", 3), ("tanh", 5)])
def test_table_activation_follows_keras_over_the_whole_input_range(function, bound_lsb, tmp_path):
    model = single_activation(function)
    hls_model = nnhls.convert_from_keras_model(
        model, hls_config=nnhls.config_from_keras_model(model, granularity="name"), output_dir=tmp_path / "prj")
    x = np.arange(-32, 32, LSB)[:, None]  # every value of the input type
    errors = np.abs(hls_model.predict(x) - model.predict(x, batch_size=8192, verbose=0)) / LSB
    assert errors.max() <= bound_lsb
    hls_model.compile()
    assert np.array_equal(hls_model.predict(x[::7], engine="csim"), hls_model.predict(x[::7]))


def test_table_index_does_not_depend_on_the_input_width(tmp_path):
    """The failure seen elsewhere: a table indexed by the top bits of a wide type. Here the same
    values in ap_fixed<16,6> and ap_fixed<39,20> read the same table entries."""
    model = single_activation("sigmoid")
    outputs = []
    for precision in ("ap_fixed<16,6>", "ap_fixed<39,20>"):
        config = nnhls.config_from_keras_model(model, granularity="name")
        config["LayerName"]["x"]["Precision"]["result"] = precision
        hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / precision[9:11])
        outputs.append(hls_model.predict(np.linspace(-10, 10, 2001)[:, None]))
    assert np.array_equal(outputs[0], outputs[1])
    assert len(np.unique(outputs[0])) > 400


def test_softmax_follows_keras(tmp_path):
    """Relative errors of about 1% from the exp and 1/x tables: at most 16 LSBs of ap_fixed<16,6>."""
    model = single_activation("softmax", 5)
    hls_model = nnhls.convert_from_keras_model(
        model, hls_config=nnhls.config_from_keras_model(model, granularity="name"), output_dir=tmp_path / "prj")
    x = np.random.default_rng(0).normal(0, 3, (5000, 5))
    fixed, expected = hls_model.predict(x), model.predict(x, verbose=0)
    assert np.abs(fixed - expected).max() <= 16 * LSB
    assert (fixed.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.99
    assert len(np.unique(fixed)) > 200  # never the collapse to one value per output


def test_softmax_implementations_and_skip(tmp_path):
    model = single_activation("softmax", 5)
    x = np.random.default_rng(1).normal(0, 3, (500, 5))
    config = nnhls.config_from_keras_model(model, granularity="name")
    assert config["LayerName"]["f"]["Implementation"] == "stable"
    config["LayerName"]["f"]["Implementation"] = "argmax"
    argmax = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "a").predict(x)
    assert np.array_equal(argmax, np.eye(5)[x.argmax(axis=1)])
    config["LayerName"]["f"]["Skip"] = True
    skipped = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "b")
    assert [node.op for node in skipped.graph] == ["input"]
    config["LayerName"]["f"].update(Skip=False, Implementation="fancy")
    with pytest.raises(nnhls.NnhlsError, match=r"\['Implementation'\] is 'fancy'; supported: stable, argmax"):
        nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "c")
    config["LayerName"]["f"]["Implementation"] = "latency"
    with pytest.warns(UserWarning, match="realizes softmax 'f' with its 'stable' algorithm"):
        latency = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "d")
    assert latency.graph["f"].implementation == "stable"
    config["LayerName"]["f"].update(Implementation="stable", TableSize=1000)
    with pytest.raises(nnhls.NnhlsError, match=r"\['TableSize'\] is 1000; use a power of two"):
        nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "c")


def test_float_classifier_with_softmax_keeps_its_accuracy(tmp_path):
    """granularity='name', default_precision='ap_fixed<16,6>', nothing else set."""
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(16,), name="x"),
        tf.keras.layers.Dense(32, activation="relu", name="fc1"),
        tf.keras.layers.Dense(16, activation="tanh", name="fc2"),
        tf.keras.layers.Dense(5, activation="softmax", name="out"),
    ])
    X, y = keras_models.synthetic_data(4000, seed=7)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(X[:3000], y[:3000], epochs=5, batch_size=64, verbose=0)
    config = nnhls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<16,6>")
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj",
                                               io_type="io_stream")
    keras_accuracy = (model.predict(X[3000:], verbose=0).argmax(axis=1) == y[3000:]).mean()
    fixed = hls_model.predict(X[3000:])
    assert (fixed.argmax(axis=1) == y[3000:]).mean() >= 0.99 * keras_accuracy
    assert len(np.unique(fixed, axis=0)) > 20  # not every output equal
    assert np.abs(fixed.sum(axis=1) - 1).max() < 0.03
    hls_model.compile()
    assert np.array_equal(hls_model.predict(X[3000:], engine="csim"), fixed)


def keras_layer_model(layer, n=1, keras3=False):
    import keras

    module = keras if keras3 else tf.keras
    return module.Sequential([module.Input((n,)), layer])


# Bounds in LSBs of ap_fixed<16,6> over every value of the input type: exact branches lose at most
# the result's truncation (1 LSB) plus the slope quantization (2**-17 * 32 < 1 LSB); tables add
# half a bin times the steepest slope (elu 4, selu 5, softplus 8).
@pytest.mark.parametrize("make, bound_lsb", [
    (lambda: tf.keras.layers.LeakyReLU(alpha=0.3), 2),
    (lambda: tf.keras.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5), 2),
    (lambda: tf.keras.layers.ThresholdedReLU(theta=1.25), 1),
    (lambda: tf.keras.layers.ELU(alpha=0.7), 4),
    (lambda: tf.keras.layers.Activation("elu"), 5),
    (lambda: tf.keras.layers.Activation("selu"), 7),  # (1.05 x wraps in ap_fixed<16,6> above 30.4)
    (lambda: tf.keras.layers.Activation("softplus"), 9),
    (lambda: tf.keras.layers.Activation("hard_sigmoid"), 2),
    (lambda: tf.keras.layers.Activation("softsign"), 2),  # quotient truncated to 2**-10, then the result
], ids=["leaky", "relu-args", "thresholded", "elu-layer", "elu", "selu", "softplus", "hard-sigmoid", "softsign"])
def test_activation_layers_follow_keras_over_the_whole_input_range(make, bound_lsb, tmp_path):
    model = keras_layer_model(make())
    hls_model = nnhls.convert_from_keras_model(
        model, hls_config=nnhls.config_from_keras_model(model, granularity="name"), output_dir=tmp_path / "prj")
    x = np.arange(-32, 30, LSB)[:, None]
    errors = np.abs(hls_model.predict(x) - model.predict(x, batch_size=8192, verbose=0)) / LSB
    assert errors.max() <= bound_lsb


def test_prelu_has_a_slope_per_channel(tmp_path):
    layer = tf.keras.layers.PReLU()
    model = keras_layer_model(layer, n=4)
    layer.set_weights([np.array([0.25, -0.5, 0.125, 0.3])])
    hls_model = nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")
    x = np.random.default_rng(0).uniform(-30, 30, (1000, 4))
    x = np.round(x * 1024) / 1024
    assert np.abs(hls_model.predict(x) - model.predict(x, verbose=0)).max() <= 2 * LSB


def test_prelu_on_an_image_shares_its_slope_over_rows_and_columns(tmp_path):
    inputs = tf.keras.Input((3, 3, 2), name="x")
    layer = tf.keras.layers.PReLU(shared_axes=[1, 2], name="prelu")
    model = tf.keras.Model(inputs, layer(inputs))
    layer.set_weights([np.array([0.25, -0.5]).reshape(1, 1, 2)])
    hls_model = nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")
    x = np.round(np.random.default_rng(1).uniform(-20, 20, (500, 3, 3, 2)) * 1024) / 1024
    # Binary-fraction slopes: the only difference is the result's truncation to 2**-10.
    assert np.abs(hls_model.predict(x) - model.predict(x, verbose=0)).max() < LSB


def test_keras3_hard_sigmoid_has_its_own_slope(tmp_path):
    import keras

    model = keras_layer_model(keras.layers.Activation("hard_sigmoid"), keras3=True)
    hls_model = nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")
    x = np.arange(-8, 8, 1 / 64)[:, None]
    assert np.abs(hls_model.predict(x) - model.predict(x, verbose=0)).max() <= 2 * LSB


@pytest.mark.parametrize("quantizer", ["quantized_tanh(4)", "quantized_tanh(6,0,1)", "quantized_sigmoid(5)",
                                       "quantized_sigmoid(8)", "quantized_relu(6,2,negative_slope=0.25)",
                                       "quantized_relu(8,3,negative_slope=0.125)"])
def test_qkeras_tanh_and_sigmoid_quantizers_are_exact(quantizer, tmp_path):
    """Exact: equal to QKeras on every input value (tanh and sigmoid with QKeras's default hard
    sigmoid; quantized_relu with a negative slope that is a binary fraction)."""
    from qkeras import QActivation

    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(1,)), QActivation(quantizer, name="q")])
    hls_model = nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")
    x = np.arange(-32, 32, LSB)[:, None]
    assert np.array_equal(hls_model.predict(x), model.predict(x, batch_size=8192, verbose=0))
    hls_model.compile()
    assert np.array_equal(hls_model.predict(x[::5], engine="csim"), hls_model.predict(x[::5]))


@pytest.mark.parametrize("quantizer", ["quantized_tanh(4,0,0,1)", "quantized_tanh(5,0,1,1)", "quantized_sigmoid(4,0,1)",
                                       "binary", "binary(1)", "ternary", "ternary(alpha=0.5,threshold=0.25)"])
def test_real_tanh_sigmoid_binary_and_ternary_activations_are_staircases(quantizer, tmp_path):
    """The real functions rounded to the output grid step at irrational inputs; QKeras computes
    them in float32, so an input within float32 rounding of a step may land one level off.
    Ternary's thresholds are QKeras's float32 values, compared exactly (x > -t and x >= t)."""
    from qkeras import QActivation

    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(1,)), QActivation(quantizer, name="q")])
    hls_model = nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")
    assert [node.op for node in hls_model.graph] == ["input", "step"]
    x = np.arange(-32, 32, LSB)[:, None]
    fixed, expected = hls_model.predict(x), model.predict(x, batch_size=8192, verbose=0)
    lsb = hls_model.graph["q"].result_type.lsb
    assert np.abs(fixed - expected).max() <= lsb
    if quantizer.startswith("ternary"):  # nothing irrational: equal up to QKeras's float32 rounding
        assert np.abs(fixed - expected).max() < 1e-6
    assert (fixed == expected).mean() >= 0.999
    hls_model.compile()
    assert np.array_equal(hls_model.predict(x[::3], engine="csim"), hls_model.predict(x[::3]))


def test_power_of_two_activation_is_a_clear_error(tmp_path):
    from qkeras import QActivation

    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(4,)), QActivation("quantized_po2(4)", name="po2")])
    with pytest.raises(nnhls.NnhlsError, match=r"layer 'po2' \(QActivation\): quantized_po2.* as an activation is not "
                                               r"supported: QKeras maps 0 to 2\*\*min_exponent"):
        nnhls.convert_from_keras_model(model, output_dir=tmp_path)
