"""Warnings, at conversion, for designs past what synthesis tools handle well."""

import warnings

import numpy as np
import pytest
from test_equivalence import conv

from nnhls.hls.limits import synthesis_limits
from nnhls.ir import Dense, Graph, Input, Weights, Window
from nnhls.types import AUTO, FixedType


def dense_graph(n_in, n_out, strategy, reuse_factor):
    weight = Weights(np.zeros((n_in, n_out)), type=FixedType(6, 1))
    nodes = [Input("x", [], (n_in,), "InputLayer", result_type=FixedType(8, 3)),
             Dense("big", ["x"], (n_out,), "Dense", result_type=AUTO, accum_type=AUTO, weight=weight,
                   bias=Weights(np.zeros(n_out), type=FixedType(6, 1)), strategy=strategy, reuse_factor=reuse_factor)]
    return Graph(nodes, ["big"])


@pytest.mark.parametrize("strategy, reuse_factor, expected", [
    ("Latency", 1, ["unrolls 8192 multiplications at reuse factor 1", "partitions its 8192 weights"]),
    ("Latency", 2, ["partitions its 8192 weights"]),  # 4096 multiplications: at the limit, not past it
    ("Resource", 1, []),
])
def test_dense_limits_name_the_layer_and_the_fix(strategy, reuse_factor, expected):
    messages = synthesis_limits(dense_graph(128, 64, strategy, reuse_factor), "io_parallel")
    assert len(messages) == len(expected)
    for message, text in zip(messages, expected):
        assert message.startswith("layer 'big': ") and text in message
    if reuse_factor == 1 and strategy == "Latency":
        assert "raise its ReuseFactor to 2 or more, or use Strategy 'Resource'" in messages[0]


def test_large_io_parallel_tensors_suggest_io_stream():
    rng = np.random.default_rng(0)
    window = Window(32, 32, 3, 3, 3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    node = conv(rng, "conv", "x", (32, 32, 3), window, 8)
    graph = Graph([Input("x", [], (32, 32, 3), "InputLayer", result_type=FixedType(8, 3)), node], ["conv"])
    assert any("io_parallel partitions its 8192 outputs" in m and "io_stream" in m
               for m in synthesis_limits(graph, "io_parallel"))
    assert not any("io_parallel" in m for m in synthesis_limits(graph, "io_stream"))


def test_conversion_warns(tmp_path):
    import keras_models  # noqa: F401
    import tensorflow as tf

    import nnhls

    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(128,)), tf.keras.layers.Dense(64, name="big")])
    with pytest.warns(UserWarning, match=r"layer 'big': the Latency strategy unrolls 8192 multiplications"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*partitions its.*")
            nnhls.convert_from_keras_model(model, output_dir=tmp_path / "prj")
