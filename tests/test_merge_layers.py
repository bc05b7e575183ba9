"""Keras merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) in
functional models of several inputs and outputs: read from tf.keras (QKeras) and Keras 3, exact
where the framework is exact, with clear errors for what nnhls does not take."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import warnings

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, quantized_bits

import nnhls
from nnhls.errors import NnhlsError

Q = quantized_bits(8, 3, alpha=1)  # ap_fixed<8,4>


def _merge_model(layers):
    """Two quantized vector inputs through every merge; the quantizers make the framework's
    float arithmetic exact, so nnhls must give its very bits."""
    a_in, b_in = layers.Input((6,), name="a"), layers.Input((6,), name="b")
    a = QActivation(Q, name="qa")(a_in) if layers is tf.keras.layers else a_in
    b = QActivation(Q, name="qb")(b_in) if layers is tf.keras.layers else b_in
    outputs = [
        layers.Add(name="add")([a, b]),
        layers.Add(name="add3")([a, b, a]),
        layers.Subtract(name="subtract")([a, b]),
        layers.Multiply(name="multiply")([a, b]),
        layers.Average(name="average")([a, b]),
        layers.Average(name="average4")([a, b, b, a]),
        layers.Maximum(name="maximum")([a, b, layers.Subtract(name="difference")([b, a])]),
        layers.Minimum(name="minimum")([a, b]),
        layers.Concatenate(name="concatenate")([a, b]),
        layers.Dot(axes=1, name="dot")([a, b]),
    ]
    return tf.keras.Model([a_in, b_in], outputs, name="merges")


def _grid_inputs(n, seed):
    rng = np.random.default_rng(seed)
    return [np.round(rng.uniform(-8, 8, (n, 6)) * 16) / 16 for _ in range(2)]  # on ap_fixed<8,4>'s grid


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_every_merge_of_a_qkeras_model_gives_the_framework_bits(io_type, tmp_path):
    model = _merge_model(tf.keras.layers)
    X = _grid_inputs(200, 0)
    expected = model.predict(X, verbose=0)
    config = nnhls.config_from_keras_model(model, granularity="name")
    assert config["LayerName"]["add"]["Precision"] == {"result": "auto"}  # exact, as in the framework
    hm = nnhls.convert_from_keras_model(model, hls_config=config, io_type=io_type, output_dir=str(tmp_path / "prj"))
    hm.compile()
    for engine in ("emulator", "csim"):
        got = hm.predict(X, engine=engine)
        for name, want, have in zip(hm.graph.outputs, expected, got):
            assert np.array_equal(have, want.reshape(have.shape)), (engine, name)


def test_keras3_merges_read_like_keras2(tmp_path):
    import keras

    model = keras.Model(*_keras3_model(keras))
    graph = nnhls.frontends.read_keras(model)
    ops = {node.name: (node.op, getattr(node, "function", None), len(node.inputs)) for node in graph}
    assert ops["add3"] == ("merge", "add", 3)
    assert ops["average"] == ("merge", "average", 2)
    assert ops["concatenate"][0] == "concatenate" and graph["concatenate"].axis == 0
    assert ops["dot"] == ("dot", None, 2) and graph["dot"].shape == (1,)
    config = nnhls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<18,8>")
    hm = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"))
    X = _grid_inputs(100, 1)
    for want, have in zip(model.predict(X, verbose=0), hm.predict(X)):
        # Float inputs on the input type's grid: sums and products of such values are exact in
        # 18-bit results too, so the only difference is the 2**-10 LSB of a rounded mean or dot.
        assert np.abs(have - want.reshape(have.shape)).max() <= 2.0**-10


def _keras3_model(keras):
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    outputs = [keras.layers.Add(name="add3")([a, b, a]), keras.layers.Average(name="average")([a, b]),
               keras.layers.Concatenate(axis=1, name="concatenate")([a, b]), keras.layers.Dot(axes=-1, name="dot")([a, b])]
    return [a, b], outputs


def test_residual_qkeras_block_in_every_io_type(tmp_path):
    """An Add around two 'same' QConv2D layers: the skip path's FIFO holds the long path's delay."""
    tf.keras.utils.set_random_seed(3)
    x_in = tf.keras.Input((8, 8, 2), name="x")
    x = QActivation(Q, name="q_in")(x_in)
    conv = dict(kernel_size=3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1),
                bias_quantizer=quantized_bits(6, 0, alpha=1))
    y = QConv2D(2, name="conv1", **conv)(x)
    y = QActivation("quantized_relu(6, 2)", name="relu1")(y)
    y = QConv2D(2, name="conv2", **conv)(y)
    y = tf.keras.layers.Add(name="add")([x, y])
    y = QActivation(quantized_bits(10, 4, alpha=1), name="q_out")(y)
    model = tf.keras.Model(x_in, y)
    X = np.round(np.random.default_rng(0).uniform(-7, 7, (50, 8, 8, 2)) * 16) / 16
    expected = model.predict(X, verbose=0)
    depths = None
    for io_type in ("io_parallel", "io_stream"):
        config = nnhls.config_from_keras_model(model, granularity="name")
        hm = nnhls.convert_from_keras_model(model, hls_config=config, io_type=io_type,
                                            output_dir=str(tmp_path / io_type))
        hm.compile()
        assert np.array_equal(hm.predict(X, engine="csim"), expected)
        if io_type == "io_stream":
            depths = hm.fifo_depths
    # The skip path waits for two line buffers of one row and one pixel each (8 + 1 pixels).
    assert max(depths.values()) >= 17


@pytest.mark.parametrize("build, message", [
    (lambda L: L.Add()([L.Input((4, 3)), L.Input((1, 3))]), "merges inputs of shapes (4, 3), (1, 3)"),
    (lambda L: L.Dot(axes=1, normalize=True)([L.Input((4,)), L.Input((4,))]), "normalize=True"),
    (lambda L: L.Dot(axes=2)([L.Input((3, 4)), L.Input((3, 4))]), "vectors of one length"),
    (lambda L: L.Concatenate(axis=0)([L.Input((3, 4)), L.Input((3, 4))]), "not the batch axis"),
])
def test_merges_nnhls_does_not_take_are_clear_errors(build, message):
    layers = tf.keras.layers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = build(layers)
    model = tf.keras.Model(_inputs_of(output), output)
    with pytest.raises(NnhlsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        nnhls.frontends.read_keras(model)


def _inputs_of(tensor):
    """The Input tensors a functional tensor was built from."""
    node = tensor._keras_history.layer.inbound_nodes[0]
    return [t for t in tf.nest.flatten(node.input_tensors)]


def test_merges_of_flattened_images_read_whole_vectors_in_io_stream(tmp_path):
    """A flattened image streams one pixel per packet; a merge of 1-D tensors reads each input's
    whole vector, whatever its packets, and the FIFOs still cannot deadlock."""
    layers = tf.keras.layers
    x = layers.Input((4, 4, 2), name="x")
    q = QActivation(Q, name="q")(x)
    flat = layers.Flatten(name="flat")(q)
    conv = layers.Flatten(name="conv_flat")(QConv2D(2, 3, padding="same", name="conv",
                                                    kernel_quantizer=quantized_bits(6, 0, alpha=1),
                                                    bias_quantizer=quantized_bits(6, 0, alpha=1))(q))
    outputs = [layers.Concatenate(name="joined")([flat, conv, flat]), layers.Add(name="sum")([flat, conv]),
               layers.Dot(axes=1, name="dot")([flat, conv])]
    model = tf.keras.Model(x, outputs)
    X = np.round(np.random.default_rng(2).uniform(-7, 7, (40, 4, 4, 2)) * 16) / 16
    expected = model.predict(X, verbose=0)
    config = nnhls.config_from_keras_model(model, granularity="name")
    hm = nnhls.convert_from_keras_model(model, hls_config=config, io_type="io_stream", output_dir=str(tmp_path / "p"))
    hm.compile()
    for want, have in zip(expected, hm.predict(X, engine="csim")):
        assert np.array_equal(have, want.reshape(have.shape))
    assert hm.simulate_dataflow(X[:5]).ok
