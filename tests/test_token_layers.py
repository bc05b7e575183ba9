"""Keras Embedding (Keras 2 and 3): tables read exactly, indices as Keras computes them (truncated
toward zero; Keras 3's negative indices from the end), the default index type of its input, a
clear error for an index outside the table and the last row for it in hardware, mask_zero where
no layer computes with the mask, and clear errors for what nnhls does not take."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import warnings

import keras
import numpy as np
import pytest
import tf_keras

import nnhls
from nnhls.errors import NnhlsError
from nnhls.estimate import estimate
from nnhls.hls.backend import STREAM_PATTERNS, Project, get_backend
from nnhls.hls.plan import Plan
from nnhls.ir import Conv, Embedding, Flatten, Graph, Input, Merge, Weights, Window
from nnhls.model import HLSModel
from nnhls.passes import lower
from nnhls.types import AUTO, FixedType

FRAMEWORKS = {"tf_keras": tf_keras, "keras3": keras}
GRID = 2.0**-10  # the default precision fixed<16,6>'s LSB


def _embedding_model(K, vocab=13, dim=4, length=6, on_grid=True, **options):
    """Input -> Embedding -> Conv1D -> GlobalAveragePooling1D, the table on the default precision's
    grid (so nnhls's table holds Keras's values exactly) unless `on_grid` is False."""
    inputs = K.Input((length,), name="ids")
    table = K.layers.Embedding(vocab, dim, name="embed", **options)
    x = table(inputs)
    outputs = [x, K.layers.GlobalAveragePooling1D(name="mean")(K.layers.Conv1D(3, 2, name="conv")(x))]
    model = K.Model(inputs, outputs)
    values = np.random.default_rng(vocab).uniform(-2, 2, (vocab, dim))
    table.set_weights([(np.round(values / GRID) * GRID if on_grid else values).astype(np.float32)])
    return model


def _convert(model, **config_options):
    config = nnhls.config_from_keras_model(model, granularity="name", **config_options)
    return nnhls.convert_from_keras_model(model, hls_config=config), config


def _indices(n, vocab, length=6, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, (n, length)).astype(np.float64)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_embedding_reads_its_table_exactly(framework):
    model = _embedding_model(FRAMEWORKS[framework])
    hm, config = _convert(model)
    node = hm.graph["embed"]
    assert (node.op, node.shape, node.input_dim, node.output_dim) == ("embedding", (6, 4), 13, 4)
    assert node.negative_wraps == (framework == "keras3")  # Keras 3's take counts negative indices from the end
    # The input holds every index 0..12 and nothing more: ap_uint<4>, truncating toward zero and saturating.
    assert config["LayerName"]["ids"]["Precision"] == {"result": "ap_ufixed<4,4,AP_TRN_ZERO,AP_SAT>"}
    assert config["LayerName"]["embed"]["Precision"] == {"result": "auto", "embeddings": "fixed<16,6>"}
    assert node.result_type == node.embeddings.type == FixedType(16, 6)
    layer = next(layer for layer in hm.get_layers() if layer.name == "embed")
    assert layer.class_name == "Embedding"
    assert (layer.get_attr("n_in"), layer.get_attr("n_out"), layer.get_attr("vocab_size")) == (6, 4, 13)
    assert layer.get_attr("embeddings_t") == FixedType(16, 6)
    X = _indices(500, 13)
    rows, _ = model.predict(X, verbose=0)
    assert np.array_equal(hm.predict(X)[0], rows)  # every row exactly Keras's


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_float_table_rounds_once_into_its_precision(framework):
    model = _embedding_model(FRAMEWORKS[framework], on_grid=False)
    hm, _ = _convert(model)
    X = _indices(300, 13)
    rows, _ = model.predict(X, verbose=0)
    difference = hm.predict(X)[0] - rows
    assert 0 < -difference.min() and difference.max() <= 0 and -difference.min() < GRID  # truncated: under 1 LSB


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_fractional_inputs_truncate_toward_zero_as_keras_casts(framework, dtype):
    """Keras casts the float input (through float32) to int32: toward zero, so -0.7 is index 0 and
    12.99 index 12; 1.99999999999 is 2.0 in float32, hence index 2."""
    K = FRAMEWORKS[framework]
    inputs = K.Input((6,), name="ids", dtype=dtype)
    table = K.layers.Embedding(13, 3, name="embed")
    model = K.Model(inputs, table(inputs))
    table.set_weights([np.arange(39, dtype=np.float32).reshape(13, 3) / 8])  # exact in fixed<16,6>
    hm, _ = _convert(model)
    X = np.array([[0.0, 2.7, -0.7, 12.99, 1.99999999999, 0.5], [11.5, -0.0001, 7.25, 3.0, 9.9999, 6.5]])
    X = np.concatenate([X, np.random.default_rng(1).uniform(-0.999, 12.999, (300, 6))])
    assert np.array_equal(hm.predict(X), model.predict(X, verbose=0))


def test_keras3_counts_negative_indices_from_the_end():
    """Keras 3 (not Keras 2) reads row input_dim + i for an index i in [-input_dim, -1]; a signed
    input type reaches those (the default unsigned one saturates them to 0)."""
    model = _embedding_model(keras)
    X = -np.random.default_rng(2).integers(1, 14, (200, 6)).astype(np.float64) - 0.25  # -13.25 is index -13
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["ids"]["Precision"]["result"] = "ap_fixed<8,6>"
    hm = nnhls.convert_from_keras_model(model, hls_config=config)
    rows, _ = model.predict(X, verbose=0)
    assert np.array_equal(hm.predict(X)[0], rows)


@pytest.mark.parametrize("framework, value, index", [("tf_keras", 13.0, 13), ("keras3", 13.0, 13),
                                                     ("tf_keras", -1.0, -1), ("keras3", -14.0, -14)])
def test_an_index_outside_the_table_is_an_error_as_in_keras(framework, value, index):
    K = FRAMEWORKS[framework]
    model = _embedding_model(K)
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["ids"]["Precision"]["result"] = "ap_fixed<8,6>"  # holds every value tried here
    hm = nnhls.convert_from_keras_model(model, hls_config=config)
    X = np.zeros((3, 6))
    X[2, 4] = value
    with pytest.raises(Exception, match="not in"):  # Keras refuses it too (on the CPU)
        model.predict(X, verbose=0)
    wrapped = ", or -13 to -1 counted from the end" if framework == "keras3" else ""
    with pytest.raises(NnhlsError, match=rf"layer 'embed' \(Embedding\): input value {value:g} \(sample 2, position "
                                         rf"4\) is index {index}, outside its table's indices 0 to 12{wrapped}"):
        hm.predict(X)


def _table_graph(negative_wraps: bool) -> Graph:
    """Indices of a (2, 3) input, flattened (two packets of three in io_stream), embedded, then a
    'same' convolution added to its own input: the skip path waits while the line buffer fills."""
    rng = np.random.default_rng(7)
    table_type, kernel_type = FixedType(6, 2, True, "RND", "SAT"), FixedType(5, 1)
    window = Window(1, 6, 4, 1, 3, 1, 1, pad_left=1, pad_right=1)
    table = rng.integers(table_type.min_code, table_type.max_code, (9, 4), endpoint=True) * table_type.lsb
    kernel = rng.integers(kernel_type.min_code, kernel_type.max_code, (1, 3, 4, 4), endpoint=True) * kernel_type.lsb
    nodes = [
        Input("ids", [], (2, 3), "InputLayer", result_type=FixedType(7, 5, True, "RND_CONV", "SAT")),
        Flatten("flat", ["ids"], (6,), "Flatten"),
        Embedding("embed", ["flat"], (6, 4), "Embedding", result_type=AUTO, negative_wraps=negative_wraps,
                  embeddings=Weights(table, type=table_type)),
        Conv("conv", ["embed"], (6, 4), "Conv1D", result_type=FixedType(10, 4), accum_type=AUTO,
             weight=Weights(kernel, type=kernel_type), bias=Weights(np.zeros(4), type=FixedType(2, 2)),
             window=window, in_shape=(6, 4)),
        Merge("add", ["embed", "conv"], (6, 4), "Add", function="add", result_type=AUTO),
    ]
    graph = Graph(nodes, ["add", "embed"])
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    return graph


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_in_hardware_an_index_outside_the_table_reads_its_last_row(io_type, tmp_path):
    graph = _table_graph(negative_wraps=True)
    model = HLSModel(graph, Project(graph, get_backend("Vitis"), io_type, "myproject", "xc", 5), tmp_path / "p", {})
    model.compile()  # the self-check draws indices within the table only (the emulator refuses the others)
    table = _table_values(graph["embed"])
    inside = np.array([[[0, 8.75, -9], [-0.75, 4.5, -1]]])  # rows 0, 8, 0 (-9 + 9), 0, 4, 8 (-1 + 9)
    assert np.array_equal(model.predict(inside, engine="csim")[1], table[[[0, 8, 0, 0, 4, 8]]])
    assert np.array_equal(model.predict(inside)[1], table[[[0, 8, 0, 0, 4, 8]]])
    outside = np.array([[[9, -10, 15.75], [-16, 2, 30]]])  # 30 saturates to 15.75 on entry
    assert np.array_equal(model.predict(outside, engine="csim")[1], table[[[8, 8, 8, 8, 2, 8]]])
    with pytest.raises(NnhlsError, match="index 9, outside its table's indices 0 to 8"):
        model.predict(outside)
    if io_type == "io_stream":
        # The flattened (2, 3) input comes in two packets of three indices; a row is written per
        # index as soon as its packet is read, and the threaded simulation, every stream bounded
        # by its planned depth, runs the branching design to the end.
        plan = Plan(graph, io_type)
        assert STREAM_PATTERNS["embedding"](plan, graph["embed"]) == ("rows", {"n_in": 2, "rows_per_packet": 3})
        assert model.simulate_dataflow(inside.repeat(3, axis=0)).ok


def _table_values(node: Embedding) -> np.ndarray:
    """The table's values, as the lowered IR holds them."""
    return node.embeddings.codes * node.embeddings.type.lsb


def test_an_embedding_costs_its_table_and_one_row_a_cycle_in_io_stream(tmp_path):
    for io_type, (interval, latency) in (("io_parallel", (1, 2)), ("io_stream", (6, 7))):
        graph = _table_graph(negative_wraps=False)
        row = estimate(HLSModel(graph, Project(graph, get_backend("Vivado"), io_type, "myproject", "xc", 5),
                                tmp_path / io_type, {}))["embed"]
        assert row[2:] == (0, interval, latency, 9 * 4 * 6, 0)


def test_mask_zero_is_taken_where_no_layer_computes_with_the_mask():
    """A mask changes no value of the embedding; Flatten and convolutions drop it. A global
    average, which would leave out the masked steps, is an error naming both layers."""
    for K in FRAMEWORKS.values():
        inputs = K.Input((5,), name="ids")
        x = K.layers.Embedding(6, 3, mask_zero=True, name="embed")(inputs)
        x = K.layers.Activation("relu", name="relu")(x)  # passes the mask on
        dropped = K.layers.Dense(2, name="dense")(K.layers.Flatten(name="flat")(x))
        model = K.Model(inputs, dropped)
        hm, _ = _convert(model, default_precision="ap_fixed<24,8>")
        X = np.random.default_rng(3).integers(0, 6, (100, 5)).astype(np.float64)
        assert np.abs(hm.predict(X) - model.predict(X, verbose=0)).max() < 2.0**-12
        averaged = K.Model(inputs, K.layers.GlobalAveragePooling1D(name="average")(x))
        with pytest.raises(NnhlsError, match=r"layer 'embed' \(Embedding\) has mask_zero=True, and its mask reaches "
                                             r"layer 'average' \(GlobalAveragePooling1D\), which computes with it"):
            nnhls.frontends.read_keras(averaged)


def _rank_two(K):
    inputs = K.Input((3, 2))
    return inputs, K.layers.Embedding(5, 2, name="embed")(inputs)


def _after_a_dense(K):
    inputs = K.Input((3,))
    return inputs, K.layers.Embedding(5, 2, name="embed")(K.layers.Dense(3, name="d")(inputs))


@pytest.mark.parametrize("build, message", [
    (_rank_two, r"shape \(3, 2\); nnhls supports an Embedding of a 1-D sequence"),
    (_after_a_dense, "reads the output of 'd'"),
])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_embeddings_nnhls_does_not_take_are_clear_errors(framework, build, message):
    K = FRAMEWORKS[framework]
    model = K.Model(*build(K))
    with pytest.raises(NnhlsError, match=r"layer 'embed' \(Embedding\).*" + message):
        nnhls.frontends.read_keras(model)


def test_a_sparse_embedding_and_a_keras3_lora_one_are_clear_errors():
    inputs = tf_keras.Input((4,), name="ids")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sparse = tf_keras.Model(inputs, tf_keras.layers.Embedding(5, 2, sparse=True, name="embed")(inputs))
    with pytest.raises(NnhlsError, match=r"layer 'embed' \(Embedding\) has sparse=True"):
        nnhls.frontends.read_keras(sparse)
    inputs = keras.Input((4,), name="ids")
    layer = keras.layers.Embedding(5, 2, name="embed")
    lora = keras.Model(inputs, layer(inputs))
    layer.enable_lora(1)
    with pytest.raises(NnhlsError, match=r"layer 'embed' \(Embedding\) holds 3 weight arrays, expected 1"):
        nnhls.frontends.read_keras(lora)
