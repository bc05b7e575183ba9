"""Inferred (`auto`) types never overflow: exhaustively over every input the input type can hold."""

import itertools
import warnings

import numpy as np
import pytest

from nnhls import emulate, quantize
from nnhls.errors import NnhlsError
from nnhls.ir import Activation, Dense, Graph, Input, ScaleShift, Weights
from nnhls.passes import lower
from nnhls.types import AUTO, FixedType


def weights(rng, shape, t):
    return Weights(values=rng.integers(t.min_code, t.max_code, size=shape, endpoint=True) * t.lsb, type=t)


def small_layer(seed):
    rng = np.random.default_rng(seed)
    signed = bool(rng.random() < 0.5)
    width = int(rng.integers(1, 5))
    x_type = FixedType(width, int(rng.integers(-2, width + 3)), signed)
    n_in, n_out = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    w_type = FixedType(int(rng.integers(1, 7)), int(rng.integers(-2, 5)), bool(rng.random() < 0.8))
    b_type = FixedType(int(rng.integers(1, 9)), int(rng.integers(-3, 7)), bool(rng.random() < 0.8))
    graph = Graph([
        Input("x", [], (n_in,), "InputLayer", result_type=x_type),
        Dense("dense", ["x"], (n_out,), "Dense", result_type=AUTO, accum_type=AUTO,
              weight=weights(rng, (n_in, n_out), w_type), bias=weights(rng, (n_out,), b_type)),
        Activation("relu", ["dense"], (n_out,), "Activation", function="relu", result_type=AUTO),
        ScaleShift("scale", ["relu"], (n_out,), "BatchNormalization", result_type=AUTO,
                   scale=weights(rng, (n_out,), w_type), shift=weights(rng, (n_out,), b_type)),
    ], ["scale"])
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    return graph


def every_input(graph):
    node = graph["x"]
    t = node.result_type
    codes = np.array(list(itertools.product(range(t.min_code, t.max_code + 1), repeat=node.size)))
    return quantize.to_float(codes, t)


@pytest.mark.parametrize("seed", range(60))
def test_inferred_types_hold_every_value_exactly(seed):
    graph = small_layer(seed)
    X = every_input(graph)
    overflows = []
    values = emulate.run(graph, {"x": X}, keep_all=True, overflows=overflows)
    assert sum(row[3] for row in overflows) == 0, overflows
    # The accumulator is the exact sum: compare with Python's integers.
    dense = graph["dense"]
    x_codes = quantize.from_float(X, graph["x"].result_type).astype(object)
    frac = dense.accum_type.fractional
    product_frac = graph["x"].result_type.fractional + dense.weight.type.fractional
    exact = x_codes @ dense.weight.codes.astype(object) * 2 ** (frac - product_frac)
    exact = exact + dense.bias.codes.astype(object) * 2 ** (frac - dense.bias.type.fractional)
    assert values["dense"].tolist() == exact.tolist()
    # Narrow by construction: one bit less would not hold the extremes the inputs reach.
    reached = [int(exact.min()), int(exact.max())]
    smaller = FixedType(dense.accum_type.width - 1, dense.accum_type.integer - 1, dense.accum_type.signed) \
        if dense.accum_type.width > 1 else None
    if smaller is not None and reached != [0, 0]:
        fits = smaller.min_code <= reached[0] and reached[1] <= smaller.max_code
        assert not fits or dense.weight.codes.size == 0


def test_a_user_accumulator_that_can_overflow_is_reported():
    rng = np.random.default_rng(0)
    t = FixedType(8, 1)
    graph = Graph([
        Input("x", [], (8,), "InputLayer", result_type=FixedType(8, 4)),
        Dense("dense", ["x"], (3,), "Dense", result_type=AUTO, accum_type=FixedType(10, 4),
              weight=weights(rng, (8, 3), t), bias=weights(rng, (3,), t)),
    ], ["dense"])
    with pytest.warns(UserWarning, match=r"layer 'dense': accum ap_fixed<10,4> can overflow: the exact sum "
                                         r"needs ap_fixed<\d+,\d+>"):
        lower(graph, {"default": FixedType(16, 6), "maximum": None})


def test_inferred_types_wider_than_128_bits_are_an_error():
    graph = Graph([
        Input("x", [], (4,), "InputLayer", result_type=FixedType(100, 50)),
        Dense("dense", ["x"], (2,), "Dense", result_type=AUTO, accum_type=AUTO,
              weight=weights(np.random.default_rng(1), (4, 2), FixedType(40, 2)),
              bias=weights(np.random.default_rng(2), (2,), FixedType(8, 2))),
    ], ["dense"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NnhlsError, match=r"layer 'dense': an exact type would need \d+ bits, more than the 128"):
            lower(graph, {"default": FixedType(16, 6), "maximum": None})
