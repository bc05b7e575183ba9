"""Keras's shape layers (Reshape, Permute, Flatten of any rank, Cropping1D/2D, UpSampling1D/2D
nearest and bilinear) and softmax over the last axis of tensors of any rank: read from tf.keras
and Keras 3, exact where they only move values, bilinear upsampling within stated LSBs of Keras's
float32 resize, clear errors for what nnhls refuses, and io_stream designs whose planned FIFOs are
exactly deep enough."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pytest

tf_keras = pytest.importorskip("tf_keras")
keras3 = pytest.importorskip("keras")

import tensorflow as tf  # noqa: E402
from qkeras import QActivation, quantized_bits  # noqa: E402

import nnhls  # noqa: E402
from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.frontends import read_keras  # noqa: E402
from nnhls.frontends.keras import _Layer, _Reader  # noqa: E402
from nnhls.hls.backend import Project, get_backend  # noqa: E402
from nnhls.hls.plan import Plan  # noqa: E402
from nnhls.ir import (Concatenate, Crop, Flatten, Graph, Input, Merge, Pool, Reshape, Softmax, Transpose,  # noqa: E402
                      Upsample, Window, bilinear_taps)
from nnhls.model import HLSModel  # noqa: E402
from nnhls.passes import lower  # noqa: E402
from nnhls.types import AUTO, FixedType  # noqa: E402
from test_equivalence import conv  # noqa: E402

FRAMEWORKS = {"tf_keras": tf_keras, "keras3": keras3}
LSB = 2.0**-10  # of the default input type ap_fixed<16,6>


def _grid(shape, seed=0, bound=16):
    """Values on the grid of ap_fixed<16,6> within [-bound, bound): nnhls's input sees them exactly."""
    rng = np.random.default_rng(seed)
    return rng.integers(-bound * 1024, bound * 1024, shape) / 1024


def _keras_outputs(model, X) -> list[np.ndarray]:
    inputs = [x.astype(np.float32) for x in X] if isinstance(X, list) else X.astype(np.float32)
    outputs = model(inputs, training=False)
    return [np.asarray(y, dtype=np.float64) for y in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def _read_with_input(layer, in_shape, **config):
    """Read one live layer as applied to an input of `in_shape`, its config changed by `config`:
    arguments Keras itself refuses to build a layer with."""
    reader = _Reader({"x", layer.name})
    reader.read(_Layer("x", "InputLayer", {"batch_shape": [None, *in_shape]}, None, []))
    reader.read(_Layer(layer.name, type(layer).__name__, {**layer.get_config(), **config}, layer, ["x"]))
    return reader.nodes


# --- Layers that move values: exact --------------------------------------------------------------


def _moving_model(K):
    """An image (4, 6, 3) through every layer that moves values, in every form of its arguments."""
    L = K.layers
    x = K.Input((4, 6, 3), name="x")
    signal = L.Reshape((12, 6), name="signal")(x)
    outputs = [
        L.Reshape((-1, 9), name="reshape")(x),  # Keras resolves -1: (8, 9), a new last axis
        L.Reshape((-1,), name="to_vector")(x),
        L.Permute((3, 1, 2), name="permute")(x),
        L.Permute((2, 1, 3), name="swap_rows_columns")(x),
        L.Cropping2D(((1, 0), (2, 1)), name="crop_sides")(x),
        L.Cropping2D((1, 2), name="crop_symmetric")(x),
        L.Cropping2D(1, name="crop_int")(x),
        L.Cropping1D((2, 3), name="crop_signal")(signal),
        L.Cropping1D(1, name="crop_signal_int")(signal),
        L.UpSampling1D(3, name="upsample_signal")(signal),
        L.UpSampling2D((2, 3), name="nearest")(x),
        L.UpSampling2D(2, interpolation="nearest", name="nearest_int")(x),
    ]
    return K.Model(x, outputs, name="moves")


# (node name, op, output shape, what else the node must hold)
MOVES = [
    ("reshape", "reshape", (8, 9), {}),
    ("to_vector", "flatten", (72,), {}),
    ("permute", "transpose", (3, 4, 6), {"perm": (2, 0, 1)}),
    ("swap_rows_columns", "transpose", (6, 4, 3), {"perm": (1, 0, 2)}),
    ("crop_sides", "crop", (3, 3, 3), {"top": 1, "bottom": 0, "left": 2, "right": 1}),
    ("crop_symmetric", "crop", (2, 2, 3), {"top": 1, "bottom": 1, "left": 2, "right": 2}),
    ("crop_int", "crop", (2, 4, 3), {"top": 1, "bottom": 1, "left": 1, "right": 1}),
    ("crop_signal", "crop", (7, 6), {"top": 0, "bottom": 0, "left": 2, "right": 3}),
    ("crop_signal_int", "crop", (10, 6), {"left": 1, "right": 1}),
    ("upsample_signal", "upsample", (36, 6), {"size_h": 1, "size_w": 3, "interpolation": "nearest"}),
    ("nearest", "upsample", (8, 18, 3), {"size_h": 2, "size_w": 3, "interpolation": "nearest"}),
    ("nearest_int", "upsample", (8, 12, 3), {"size_h": 2, "size_w": 2}),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_layers_that_move_values_read_as_keras_builds_them(framework):
    graph = read_keras(_moving_model(FRAMEWORKS[framework]))
    for name, op, shape, fields in MOVES:
        node = graph[name]
        assert (node.op, node.shape) == (op, shape), name
        assert {key: getattr(node, key) for key in fields} == fields, name
    assert graph["signal"].op == "reshape" and graph["to_vector"].framework_class == "Reshape"
    classes = {name: graph[name].class_name for name in ("reshape", "permute", "crop_sides", "crop_signal", "nearest")}
    assert classes == {"reshape": "Reshape", "permute": "Transpose", "crop_sides": "Cropping2D",
                       "crop_signal": "Cropping1D", "nearest": "Resize"}
    assert graph["permute"].get_attr("perm") == [2, 0, 1]
    assert graph["crop_sides"].get_attr("crop_left") == 2 and graph["nearest"].get_attr("algorithm") == "nearest"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_layers_that_move_values_give_keras_values_exactly(framework, tmp_path):
    """Their `auto` results are the input's type, which every moved value fits."""
    model = _moving_model(FRAMEWORKS[framework])
    config = nnhls.config_from_keras_model(model, granularity="name")
    assert {config["LayerName"][name]["Precision"]["result"] for name, *_ in MOVES if name != "to_vector"} == {"auto"}
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"))
    assert {str(hls_model.graph[name].result_type) for name, *_ in MOVES} == {"ap_fixed<16,6>"}
    X = _grid((300, 4, 6, 3))
    for name, want, have in zip(hls_model.graph.outputs, _keras_outputs(model, X), hls_model.predict(X)):
        assert np.array_equal(have, want.reshape(have.shape)), name


def test_values_moved_from_a_quantizer_keep_its_type_and_feed_exact_merges():
    """QKeras has no shape layers of its own; quantizer outputs moved by Keras's stay exact in the
    framework, so their types are the quantizer's and a Maximum of them is `auto` too. A bilinear
    resize averages: `auto` as well, exact with a denominator of 4 (two more fractional bits)."""
    L = tf.keras.layers
    x = tf.keras.Input((4, 4, 2), name="x")
    q = QActivation(quantized_bits(6, 2, alpha=1), name="q")(x)
    moved = L.Reshape((8, 2, 2), name="reshape")(L.UpSampling2D(2, name="nearest")(
        L.Cropping2D(((1, 1), (0, 2)), name="crop")(L.Permute((2, 1, 3), name="permute")(q))))
    bilinear = L.UpSampling2D((2, 1), interpolation="bilinear", name="bilinear")(L.Cropping2D(((0, 0), (0, 2)))(q))
    model = tf.keras.Model(x, [L.Maximum(name="maximum")([moved, L.Reshape((8, 2, 2), name="q_rows")(q)]),
                               L.Add(name="add")([moved, bilinear])])
    config = nnhls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<20,8>")
    precisions = {name: entry["Precision"]["result"] for name, entry in config["LayerName"].items()}
    exact = ("permute", "crop", "nearest", "reshape", "bilinear", "maximum")
    assert {name: precisions[name] for name in exact + ("add",)} == \
        dict.fromkeys(exact, "auto") | {"add": "ap_fixed<20,8>"}
    graph = nnhls.convert_from_keras_model(model, hls_config=config).graph
    q_type = graph["q"].result_type
    assert all(graph[name].result_type == q_type for name in ("permute", "crop", "nearest", "reshape", "q_rows"))
    assert graph["maximum"].result_type == FixedType(q_type.width, q_type.integer, q_type.signed)  # the union
    assert graph["bilinear"].result_type == FixedType(q_type.width + 2, q_type.integer, q_type.signed)


# --- Bilinear upsampling ------------------------------------------------------------------------


def test_bilinear_taps_are_tensorflows_resize():
    """Each output is a weighted sum of at most four inputs whose weights are integer multiples of
    1 / (2 size_h) * 1 / (2 size_w): TensorFlow's own resize gives those sums (up to float32)."""
    X = _grid((20, 5, 4, 2), seed=3)
    for size_h, size_w in ((2, 2), (3, 1), (1, 4), (3, 5), (6, 2)):
        rows, columns = bilinear_taps(5, size_h), bilinear_taps(4, size_w)
        assert all((weights >= 0).all() for weights in rows[2:] + columns[2:])
        d_h, d_w = rows[2][0] + rows[3][0], columns[2][0] + columns[3][0]
        assert set(rows[2] + rows[3]) == {d_h} and set(columns[2] + columns[3]) == {d_w}
        assert (2 * size_h) % d_h == 0 and (2 * size_w) % d_w == 0
        ours = sum(X[:, rows[r]][:, :, columns[c]] * (rows[2 + r][:, None, None] * columns[2 + c][None, :, None])
                   for r in (0, 1) for c in (0, 1)) / (d_h * d_w)
        theirs = tf.image.resize(X.astype(np.float32), (5 * size_h, 4 * size_w), method="bilinear").numpy()
        assert np.abs(ours - theirs).max() < 2e-5, (size_h, size_w)


def _bilinear_model(K):
    x = K.Input((3, 5, 2), name="x")
    outputs = [K.layers.UpSampling2D(size, interpolation="bilinear", name=name)(x)
               for name, size in (("by_2x4", (2, 4)), ("by_1x2", (1, 2)), ("by_3", 3), ("by_2x3", (2, 3)))]
    return K.Model(x, outputs)


def _exact_bilinear(X, size_h, size_w):
    """The exact mean TensorFlow's bilinear resize approximates, from the taps, in float64 (exact
    for these grid values and denominators of a few bits)."""
    rows, columns = bilinear_taps(X.shape[1], size_h), bilinear_taps(X.shape[2], size_w)
    weights = [rows[2 + r][:, None, None] * columns[2 + c][None, :, None] for r in (0, 1) for c in (0, 1)]
    taps = [X[:, rows[r]][:, :, columns[c]] for r in (0, 1) for c in (0, 1)]
    return sum(w * t for w, t in zip(weights, taps)), (rows[2][0] + rows[3][0]) * (columns[2][0] + columns[3][0])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bilinear_upsampling_follows_keras(framework, tmp_path):
    """Factors of 2**k have an exact `auto` result, equal to Keras's (whose float32 sums of these
    grid values are exact too). Others round to nearest with 24 significant bits (LSB 2**-19 at 6
    integer bits): within half an LSB of the exact mean, and within 8 LSBs of Keras's float32
    resize, whose interpolation weights (1/3 is no float32) leave it up to about 6 LSBs off."""
    model = _bilinear_model(FRAMEWORKS[framework])
    config = nnhls.config_from_keras_model(model, granularity="name")
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"))
    graph = hls_model.graph
    assert [graph[name].denominator for name in ("by_2x4", "by_1x2", "by_3", "by_2x3")] == [32, 4, 9, 12]
    assert str(graph["by_2x4"].result_type) == "ap_fixed<21,6>"
    assert str(graph["by_3"].result_type) == "ap_fixed<25,6,AP_RND_INF>"
    X = _grid((300, 3, 5, 2), seed=1)
    ours, theirs = hls_model.predict(X), _keras_outputs(model, X)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    for have, want, name, size in zip(ours[2:], theirs[2:], ("by_3", "by_2x3"), ((3, 3), (2, 3))):
        lsb = graph[name].result_type.lsb
        total, denominator = _exact_bilinear(X, *size)
        assert np.abs(have * denominator - total).max() <= lsb / 2 * denominator
        assert np.abs(have - want).max() <= 8 * lsb


def test_a_narrower_bilinear_result_truncates_the_quotient_then_rounds_as_its_type_says(tmp_path):
    """A user's result type: the quotient of the exact sum is truncated toward zero one bit below
    the result's LSB or at the input's fractional bits plus ceil(log2 denominator), whichever is
    finer (here 10 + 4), then converted into the result type (AP_RND, AP_SAT): checked against
    integer arithmetic on the taps."""
    model = _bilinear_model(tf_keras)
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["by_2x3"]["Precision"]["result"] = "ap_fixed<12,6,AP_RND,AP_SAT>"
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"))
    X = _grid((200, 3, 5, 2), seed=2)
    rows, columns = bilinear_taps(3, 2), bilinear_taps(5, 3)
    codes = np.round(X * 1024).astype(np.int64)
    sums = sum(codes[:, rows[r]][:, :, columns[c]] * (rows[2 + r][:, None, None] * columns[2 + c][None, :, None])
               for r in (0, 1) for c in (0, 1))
    scaled = sums * 2**14 // 1024  # exact: the input has 10 fractional bits, the quotient 14
    quotient = np.sign(scaled) * (np.abs(scaled) // 12)  # over a denominator of 4 * 3, toward zero
    result = np.clip((quotient + 2**7) >> 8, -2**11, 2**11 - 1)  # 6 fractional bits, half up, saturated
    assert hls_model.graph["by_2x3"].denominator == 12
    assert np.array_equal(hls_model.predict(X)[3], result / 64)
    hls_model.compile()
    assert np.array_equal(hls_model.predict(X, engine="csim")[3], result / 64)


# --- Softmax along the last axis of any rank ------------------------------------------------------


def _softmax_model(K):
    x = K.Input((3, 5), name="x")
    image = K.Input((4, 3, 2), name="image")
    conv = K.layers.Conv1D(4, 2, activation="softmax", name="conv")
    outputs = [K.layers.Softmax(name="softmax")(x), K.layers.Softmax(axis=2, name="softmax_axis")(x),
               K.layers.Activation("softmax", name="activation")(image), conv(x)]
    model = K.Model([x, image], outputs)
    rng = np.random.default_rng(0)
    conv.set_weights([rng.integers(-8, 9, w.shape) / 8 for w in conv.get_weights()])  # exact sums
    return model


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_softmax_normalizes_each_position_of_the_last_axis(framework, tmp_path):
    """Relative errors of about 1% from the exp and 1/x tables: at most 16 LSBs of ap_fixed<16,6>,
    as on 1-D tensors; the argmax implementation picks each position's largest exactly."""
    model = _softmax_model(FRAMEWORKS[framework])
    graph = read_keras(model)
    assert [graph[name].op for name in ("softmax", "softmax_axis", "activation", "conv_softmax")] == ["softmax"] * 4
    assert graph["activation"].n_positions == 12 and graph["conv_softmax"].shape == (2, 4)
    X = [_grid((500, 3, 5), seed=4, bound=2), _grid((500, 4, 3, 2), seed=5, bound=4)]  # the Conv1D's sums fit
    config = nnhls.config_from_keras_model(model, granularity="name")
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"))
    for have, want in zip(hls_model.predict(X), _keras_outputs(model, X)):
        assert np.abs(have - want).max() <= 16 * LSB
        assert (have.argmax(axis=-1) == want.argmax(axis=-1)).mean() >= 0.99
    config["LayerName"]["activation"]["Implementation"] = "argmax"
    argmax = nnhls.convert_from_keras_model(model, hls_config=config).predict(X)[2]
    assert np.array_equal(argmax, np.eye(2)[X[1].argmax(axis=-1)])


# --- Refused options ---------------------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("build, in_shape, message", [
    (lambda L: L.UpSampling2D(2, interpolation="bicubic", name="up"), (4, 4, 2),
     r"layer 'up' \(UpSampling2D\) has interpolation='bicubic'; supported: 'nearest', 'bilinear'"),
    (lambda L: L.UpSampling2D(2, data_format="channels_first", name="up"), (2, 4, 4),
     r"layer 'up' \(UpSampling2D\) has data_format='channels_first'; nnhls reads channels-last"),
    (lambda L: L.Cropping2D(1, data_format="channels_first", name="crop"), (2, 4, 4),
     r"layer 'crop' \(Cropping2D\) has data_format='channels_first'"),
    (lambda L: L.Softmax(axis=1, name="softmax"), (3, 5),
     r"layer 'softmax' \(Softmax\) has axis=1 on an input of shape \(3, 5\); nnhls computes softmax over the last"),
], ids=["bicubic", "channels-first-upsampling", "channels-first-cropping", "softmax-axis"])
def test_refused_options_are_errors_naming_the_layer(framework, build, in_shape, message):
    K = FRAMEWORKS[framework]
    x = K.Input(in_shape)
    model = K.Model(x, build(K.layers)(x))
    with pytest.raises(NnhlsError, match=message):
        read_keras(model)


@pytest.mark.parametrize("build, in_shape, config, message", [
    (lambda L: L.Permute((1, 2), name="permute"), (3, 4), {"dims": (0, 2)},
     r"layer 'permute' \(Permute\): dims=\(0, 2\) would move the batch axis \(axis 0\), which stays first"),
    (lambda L: L.Permute((1, 2), name="permute"), (3, 4), {"dims": (2, 2)},
     r"dims=\(2, 2\) is not an order of the axes 1 to 2 of its input of shape \(3, 4\): give each of them once"),
    (lambda L: L.UpSampling2D(2, name="up"), (4, 4), {},
     r"layer 'up' \(UpSampling2D\) is applied to an input of shape \(4, 4\)"),
    (lambda L: L.UpSampling2D(2, name="up"), (3, 4, 2), {"size": (1.5, 2)},
     r"layer 'up' \(UpSampling2D\): size=\(1.5, 2\) must be a positive int or 2 positive ints"),
    (lambda L: L.UpSampling1D(2, name="up"), (3, 2), {"size": 0},
     r"layer 'up' \(UpSampling1D\): size=0 must be a positive int"),
    (lambda L: L.Cropping2D(1, name="crop"), (4, 6, 2), {"cropping": ((2, 2), (0, 0))},
     r"layer 'crop' \(Cropping2D\): cropping=\(\(2, 2\), \(0, 0\)\) leaves nothing of its input of shape \(4, 6, 2\)"),
    (lambda L: L.Cropping2D(1, name="crop"), (4, 6, 2), {"cropping": (1, 2, 3)},
     r"cropping=\(1, 2, 3\) is not a form Keras accepts: give non-negative ints as an int, \(rows, columns\)"),
    (lambda L: L.Cropping1D(1, name="crop"), (4, 2), {"cropping": (-1, 1)}, r"cropping=\(-1, 1\) is not a form"),
    (lambda L: L.Reshape((4, 6), name="reshape"), (24,), {"target_shape": (5, -1)},
     r"layer 'reshape' \(Reshape\): target_shape=\(5, -1\) does not hold the 24 values of its input"),
    (lambda L: L.Reshape((4, 6), name="reshape"), (24,), {"target_shape": (-1, -1)}, r"at most one -1"),
], ids=["permute-batch", "permute-repeat", "upsampling-rank", "size-fraction", "size-zero", "crop-everything",
        "crop-form", "crop-negative", "reshape-size", "reshape-two-unknowns"])
def test_arguments_keras_would_refuse_are_errors_too(build, in_shape, config, message):
    """Saved or edited configurations may hold them; nnhls says what is wrong rather than guess."""
    layer = build(keras3.layers)
    with pytest.raises(NnhlsError, match=message):
        _read_with_input(layer, in_shape, **config)


def test_an_order_or_a_shape_that_changes_nothing_is_no_node():
    x = keras3.Input((3, 4), name="x")
    same = keras3.layers.Reshape((3, -1), name="same_shape")(keras3.layers.Permute((1, 2), name="same_order")(x))
    graph = read_keras(keras3.Model(x, same))
    assert [node.op for node in graph] == ["input"] and graph.outputs == ["x"]


# --- io_stream: packets, patterns and FIFO depths ------------------------------------------------


def _two_path_graph() -> Graph:
    """Independent designs, most of them a fork whose two paths meet again: two croppings of one
    image (one writes from the first row, the other from the third), nearest and bilinear
    upsampling by 3 x 2 of one image (bilinear's late rows wait for the next input row), repacks
    through packets of 24 or straight into 3, a transpose (the whole tensor first) against a
    reshape of the same shape, a 'same' convolution joined along channels with the nearest
    upsampling of its input's average pooling, and an input of four axes flattened (its packets,
    its last axis, stay) into a softmax and reshaped."""
    rng = np.random.default_rng(6)
    t = FixedType(8, 3)
    def add(name, a, b, shape):
        return Merge(name, [a, b], shape, "Add", function="add", result_type=AUTO)
    pool = Window(4, 6, 2, 2, 2, 2, 2)
    return Graph([
        Input("a", [], (6, 5, 2), result_type=t),
        Crop("below", ["a"], (4, 5, 2), in_shape=(6, 5, 2), top=2, result_type=AUTO),
        Crop("above", ["a"], (4, 5, 2), in_shape=(6, 5, 2), bottom=2, result_type=AUTO),
        add("crops", "above", "below", (4, 5, 2)),
        Input("b", [], (3, 4, 2), result_type=t),
        Upsample("nearest", ["b"], (9, 8, 2), size_h=3, size_w=2, in_shape=(3, 4, 2), result_type=AUTO),
        Upsample("bilinear", ["b"], (9, 8, 2), interpolation="bilinear", size_h=3, size_w=2, in_shape=(3, 4, 2),
                 result_type=FixedType(12, 4)),
        add("upsampled", "nearest", "bilinear", (9, 8, 2)),
        Input("c", [], (4, 6), result_type=t),
        Reshape("thirds", ["c"], (8, 3), result_type=AUTO),
        Reshape("whole_rows", ["c"], (1, 24), result_type=AUTO),
        Reshape("thirds_again", ["whole_rows"], (8, 3), result_type=AUTO),
        add("repacked", "thirds", "thirds_again", (8, 3)),
        Input("d", [], (4, 6, 2), result_type=t),
        Transpose("transposed", ["d"], (6, 4, 2), perm=(1, 0, 2), in_shape=(4, 6, 2), result_type=AUTO),
        Reshape("reshaped", ["d"], (6, 4, 2), result_type=AUTO),
        add("moved", "reshaped", "transposed", (6, 4, 2)),
        Input("e", [], (4, 6, 2), result_type=t),
        conv(rng, "conv", "e", (4, 6, 2), Window(4, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1), 3, result=FixedType(12, 5)),
        Pool("pool", ["e"], (2, 3, 2), function="average", window=pool, in_shape=(4, 6, 2), result_type=AUTO),
        Upsample("pooled_nearest", ["pool"], (4, 6, 2), size_h=2, size_w=2, in_shape=(2, 3, 2), result_type=AUTO),
        Concatenate("joined", ["conv", "pooled_nearest"], (4, 6, 5), axis=2, result_type=AUTO),
        Input("f", [], (2, 3, 2, 2), result_type=t),
        Flatten("flat", ["f"], (24,)),
        Softmax("softmax", ["flat"], (24,), exp_type=FixedType(12, 1, False, "RND", "SAT"),
                inv_type=FixedType(12, 1, False, "RND", "SAT"), result_type=FixedType(10, 1)),
        Reshape("rows_of_eight", ["f"], (3, 8), result_type=AUTO),
    ], ["crops", "upsampled", "repacked", "moved", "joined", "softmax", "rows_of_eight"])


def _inputs(graph: Graph, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(node.result_type.min_value, node.result_type.max_value, (n, *node.shape))
            for node in graph.inputs]


def test_fork_and_join_designs_give_the_emulators_bits_in_io_parallel(tmp_path):
    """(In io_stream the threaded C simulation below checks every output bit against the emulator.)"""
    graph = _two_path_graph()
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    model = HLSModel(graph, Project(graph, get_backend("Vitis"), "io_parallel", "myproject", "xc", 5),
                     tmp_path / "p", {})
    model.compile()
    X = _inputs(graph, 100, 0)
    for csim, emulated in zip(model.predict(X, engine="csim"), model.predict(X)):
        assert np.array_equal(csim, emulated)


def test_planned_fifo_depths_are_the_least_that_run(tmp_path):
    """The stream patterns mirror the kernels read for read and write for write: with the planned
    depths the threaded C simulation runs, every output bit the emulator's; one packet less on any
    FIFO the planner deepened deadlocks."""
    graph = _two_path_graph()
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    model = HLSModel(graph, Project(graph, get_backend("Vivado"), "io_stream", "myproject", "xc", 5),
                     tmp_path / "p", {})
    X = _inputs(graph, 3, 1)
    result = model.simulate_dataflow(X)
    assert (result.ok, result.samples, result.mismatches) == (True, 3, 0), result.report
    variable = Plan(graph, "io_stream").variable
    short_paths = {variable[name] for name in ("above", "nearest", "thirds", "reshaped")}
    deepened = {stream: depth for stream, depth in model.fifo_depths.items() if depth > 1}
    assert short_paths <= set(deepened), model.fifo_depths
    for stream, depth in deepened.items():  # the testbench data written above
        assert model.simulate_dataflow(fifo_depths={stream: depth - 1}).deadlock, stream


def _branching_model():
    """An UpSampling2D branch of a pooled image added to and joined with a Conv2D branch, a
    bilinear branch, a permuted and a reshaped branch, and Flatten of inputs of rank 2, 3 and 4
    into one Dense."""
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(5)
    image, signal, volume = (L.Input(shape, name=name) for shape, name in
                             (((4, 6, 2), "image"), ((5, 3), "signal"), ((2, 3, 2, 2), "volume")))
    conv = L.Conv2D(3, 3, padding="same", name="conv")(image)
    pooled = L.AveragePooling2D(2, name="pool")(image)
    nearest = L.Conv2D(3, 1, name="widen")(L.UpSampling2D(2, name="nearest")(pooled))
    bilinear = L.UpSampling2D(2, interpolation="bilinear", name="bilinear")(pooled)
    joined = L.Concatenate(name="joined")([L.Add(name="add")([conv, nearest]), bilinear])
    moved = L.Reshape((3, 8, 5), name="reshape")(L.Permute((2, 1, 3), name="permute")(joined))
    flat = L.Concatenate(name="flat")([L.Flatten(name=f"flat_{t.name}")(t) for t in (signal, volume)] +
                                      [L.Flatten(name="flat_cropped")(L.Cropping2D(((1, 0), (2, 1)))(image))])
    model = tf.keras.Model([image, signal, volume], [L.Softmax(name="softmax")(moved), L.Dense(4, name="dense")(flat)])
    for layer in model.layers:  # coarse weights: the float sums are exact in ap_fixed<16,6>
        if layer.get_weights():
            layer.set_weights([np.round(w * 8) / 8 for w in layer.get_weights()])
    return model


def test_a_branching_network_follows_keras():
    model = _branching_model()
    graph = read_keras(model)
    assert [graph[name].op for name in ("nearest", "bilinear", "permute", "reshape", "flat_volume")] == \
        ["upsample", "upsample", "transpose", "reshape", "flatten"]
    config = nnhls.config_from_keras_model(model, granularity="name")
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, io_type="io_stream")
    X = [_grid((200, 4, 6, 2), seed=7, bound=2), _grid((200, 5, 3), seed=8, bound=1),
         _grid((200, 2, 3, 2, 2), seed=9, bound=1)]
    emulated = hls_model.predict(X)
    softmax, dense = _keras_outputs(model, X)
    assert np.abs(emulated[0] - softmax).max() <= 16 * LSB  # the softmax tables, as on 1-D tensors
    assert np.abs(emulated[1] - dense).max() <= LSB  # the Dense's result truncated to 2**-10
