"""Folding a ReLU and a per-channel scale-and-shift into the staircase that alone reads them
changes no output bit: the folded and the unfolded graphs, emulated, agree on inputs on, beside
and between every threshold."""

import copy

import numpy as np

from nnhls.config import config_from_graph
from nnhls.converters import convert_graph
from nnhls.frontends.constants import exact_weights
from nnhls.ir import Activation, Graph, Input, ScaleShift, Step, Weights
from nnhls.passes.staircases import fold_relus_into_staircases, fold_scales_into_staircases
from nnhls.types import exact_type

CHANNELS = 3


def layer_then_relu_then_staircase() -> Graph:
    """x * s_c + b_c (s_c not binary fractions), a ReLU, then a staircase of thresholds on both
    sides of 0 onto integer levels."""
    scale = np.array([0.0371, 0.75, 1.3125], dtype=np.float32).astype(np.float64)
    shift = np.array([0.25, -0.5, 0.0])
    thresholds = np.array([-0.5, -0.125, 0.0, 0.1875, 0.5, 1.0])
    levels = np.arange(len(thresholds) + 1, dtype=np.float64) - 2
    levels_type = exact_type(levels)
    return Graph([
        Input("x", [], (CHANNELS,), dtype="float32"),
        ScaleShift("layer", ["x"], (CHANNELS,), scale=exact_weights(scale), shift=exact_weights(shift)),
        Activation("relu", ["layer"], (CHANNELS,), function="relu"),
        Step("quantizer", ["relu"], (CHANNELS,), staircase_of="a quantizer", thresholds=thresholds,
             levels=Weights(levels, quantizer=levels_type), result_quantizer=levels_type),
    ], ["quantizer"])


def emulated(graph: Graph, X: np.ndarray, folder) -> np.ndarray:
    config = config_from_graph(graph, default_precision="ap_fixed<24,8>")
    return convert_graph(graph, config, output_dir=folder).predict(X)


def test_folding_the_relu_and_the_scale_changes_no_output(tmp_path):
    unfolded = layer_then_relu_then_staircase()
    folded = copy.deepcopy(unfolded)
    assert fold_scales_into_staircases(folded)
    assert [node.op for node in folded] == ["input", "step"] and folded["quantizer"].per_channel
    # Inputs on the 2**-16 grid of the input type, through every threshold of every channel.
    X = np.repeat((np.arange(-2 * 2**10, 2 * 2**10) / 2**10)[:, None], CHANNELS, axis=1)
    assert np.array_equal(emulated(folded, X, tmp_path / "folded"), emulated(unfolded, X, tmp_path / "unfolded"))


def test_a_relu_read_by_something_else_stays():
    graph = layer_then_relu_then_staircase()
    graph.add(Activation("other", ["relu"], (CHANNELS,), function="linear"))
    graph.outputs.append("other")
    assert not fold_relus_into_staircases(graph)
    assert "relu" in graph
