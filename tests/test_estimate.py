"""The estimate follows the formulas of docs/estimate.md: the worked examples read from that page,
and sweeps over strategies, reuse factors, parallelization factors and io types against the
formulas written out here once more. No compiler is needed."""

import json
import warnings
from math import ceil, log2
from pathlib import Path

import numpy as np
import pytest

from nnhls.estimate import NOTE, bram_18k, estimate
from nnhls.hls.backend import IO_TYPES, Project, get_backend
from nnhls.ir import (OPS, Activation, Conv, Crop, Dense, Graph, Input, Pool, Reshape, ScaleShift, Softmax, Transpose,
                      Upsample, Weights, Window, ZeroPad)
from nnhls.model import HLSModel
from nnhls.passes import lower
from nnhls.types import AUTO, FixedType
from test_equivalence import NETWORKS, realize

DOC = Path(__file__).resolve().parents[1] / "docs" / "estimate.md"
STRATEGIES = ("Latency", "Resource")
WEIGHT, BIAS = FixedType(8, 1), FixedType(8, 2)  # the worked examples' types: 8 bits each
REG = 2  # a Dense's input and output registers


def weights(rng, shape, t: FixedType) -> Weights:
    return Weights(values=rng.integers(t.min_code, t.max_code, size=shape, endpoint=True) * t.lsb, type=t)


def model_of(nodes, outputs, io_type, tmp_path) -> HLSModel:
    graph = Graph(nodes, outputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    project = Project(graph, get_backend("Vivado"), io_type, "myproject", "xc", 5)
    return HLSModel(graph, project, tmp_path / "prj", {})


def dense(name, source, n_in, n_out, strategy="Latency", reuse_factor=1, seed=0) -> Dense:
    rng = np.random.default_rng(seed)
    return Dense(name, [source], (n_out,), "Dense", result_type=FixedType(16, 6), accum_type=AUTO,
                 weight=weights(rng, (n_in, n_out), WEIGHT), bias=weights(rng, (n_out,), BIAS),
                 strategy=strategy, reuse_factor=reuse_factor)


def dense_model(n_in, n_out, strategy, reuse_factor, io_type, tmp_path) -> HLSModel:
    nodes = [Input("x", [], (n_in,), "InputLayer", result_type=FixedType(8, 3)),
             dense("dense", "x", n_in, n_out, strategy, reuse_factor)]
    return model_of(nodes, ["dense"], io_type, tmp_path)


# conv A of the worked examples, and two more shapes: strided with padding, and a 1-D signal.
WINDOWS = {
    "A": Window(4, 5, 2, 2, 2, pad_right=1),
    "B": Window(6, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1),
    "signal": Window(1, 11, 3, 1, 3, 1, 2, pad_left=2),
}


def conv_model(window: Window, filters, strategy, reuse_factor, parallelization_factor, io_type,
               tmp_path) -> HLSModel:
    rng = np.random.default_rng(1)
    in_shape = (window.in_h, window.in_w, window.channels) if window.in_h > 1 else (window.in_w, window.channels)
    height = (window.out_h,) if len(in_shape) == 3 else ()
    node = Conv("conv", ["x"], (*height, window.out_w, filters), "Conv2D", result_type=FixedType(16, 6),
                accum_type=AUTO, weight=weights(rng, (window.kernel_h, window.kernel_w, window.channels, filters),
                                                WEIGHT),
                bias=weights(rng, (filters,), BIAS), window=window, in_shape=in_shape, strategy=strategy,
                reuse_factor=reuse_factor, parallelization_factor=parallelization_factor)
    nodes = [Input("x", [], in_shape, "InputLayer", result_type=FixedType(8, 3)), node]
    return model_of(nodes, ["conv"], io_type, tmp_path)


# The formulas, written out once more --------------------------------------------------------

def tree(k: int) -> int:
    """Levels of an adder or comparison tree over k values."""
    return ceil(log2(k)) if k > 1 else 0


def expected_dense(n_in, n_out, strategy, rf):
    """(multipliers, interval, latency, BRAM_18K) of a Dense in io_parallel (docs/estimate.md, Dense)."""
    n = n_in * n_out
    if strategy == "Latency":
        return ceil(n / rf), rf, rf + tree(n_in + 1) + REG, 0
    block_factor = n // rf
    rows_per_step = max(1, block_factor // n_out)
    word_bits = block_factor * WEIGHT.width
    blocks = 0 if rf == 1 else ceil(word_bits / 36)  # every reuse factor here is at most 512 deep
    return block_factor, rf, rf + tree(rows_per_step + 1) + REG, blocks


def reuse_factors(node, strategy) -> list[int]:
    """Every valid Resource factor; for Latency the small ones, the ends and some in between."""
    valid = node.valid_reuse_factors(strategy)
    if strategy == "Resource":
        return valid
    n = node.n_in * node.n_out
    return sorted({f for f in (1, 2, 3, 4, 5, node.n_in, node.n_out, n // 3, n // 2, n - 1, n) if f in valid})


# The worked examples of the page ------------------------------------------------------------

def doc_table(header: str) -> list[list[str]]:
    """The rows of the markdown table whose header line starts with `header`."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


WORKED = doc_table("| layer | io type | strategy | RF | PF |")


def test_the_page_has_its_worked_examples():
    assert len(WORKED) >= 15
    assert {row[0] for row in WORKED} == {"dense 16-8", "dense 64-32", "conv A"}
    assert {(row[1], row[2]) for row in WORKED} == {(io, s) for io in IO_TYPES for s in STRATEGIES}


@pytest.mark.parametrize("row", WORKED, ids=[" ".join(row[:5]) for row in WORKED])
def test_worked_example(row, tmp_path):
    layer, io_type, strategy, rf, pf, *numbers = row
    rf, pf = int(rf), int(pf)
    if layer.startswith("dense"):
        n_in, n_out = map(int, layer.split()[1].split("-"))
        model = dense_model(n_in, n_out, strategy, rf, io_type, tmp_path)
        name = "dense"
    else:
        model = conv_model(WINDOWS[layer.split()[1]], 3, strategy, rf, pf, io_type, tmp_path)
        name = "conv"
    got = estimate(model)[name]
    assert (got.multipliers, got.interval, got.latency, got.weight_bits, got.bram_18k) == tuple(map(int, numbers))


def design(io_type, tmp_path) -> HLSModel:
    """The page's design: 16 inputs, dense 16-8 (Latency, RF 4), relu, dense 8-4 (Latency, RF 2)."""
    nodes = [Input("x", [], (16,), "InputLayer", result_type=FixedType(8, 3)),
             dense("dense1", "x", 16, 8, reuse_factor=4),
             Activation("relu", ["dense1"], (8,), "Activation", function="relu", result_type=FixedType(8, 3)),
             dense("dense2", "relu", 8, 4, reuse_factor=2, seed=1)]
    return model_of(nodes, ["dense2"], io_type, tmp_path)


@pytest.mark.parametrize("row", doc_table("| io type | top |"), ids=lambda row: row[0])
def test_worked_design(row, tmp_path):
    io_type, top, *numbers = row
    result = estimate(design(io_type, tmp_path))
    assert result.top == top
    assert (result.total.multipliers, result.total.interval, result.total.latency) == tuple(map(int, numbers))


# Sweeps over the formulas -------------------------------------------------------------------

DENSE_SHAPES = [(16, 8), (5, 7), (12, 3), (1, 4)]


@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n_in, n_out", DENSE_SHAPES)
def test_dense_follows_the_formulas(n_in, n_out, strategy, io_type, tmp_path):
    factors = reuse_factors(dense("d", "x", n_in, n_out), strategy)
    assert len(factors) >= 2
    for rf in factors:
        got = estimate(dense_model(n_in, n_out, strategy, rf, io_type, tmp_path))["dense"]
        multipliers, interval, latency, blocks = expected_dense(n_in, n_out, strategy, rf)
        if io_type == "io_stream":  # one packet in, compute, one packet out, in sequence
            latency = interval = 1 + latency + 1
        assert got.multipliers == multipliers == ceil(n_in * n_out / rf), rf
        assert (got.interval, got.latency, got.bram_18k) == (interval, latency, blocks), rf
        assert got.weight_bits == n_in * n_out * WEIGHT.width + n_out * BIAS.width


def test_both_strategies_agree_at_reuse_factor_one(tmp_path):
    for n_in, n_out in DENSE_SHAPES:
        rows = {s: estimate(dense_model(n_in, n_out, s, 1, "io_parallel", tmp_path))["dense"] for s in STRATEGIES}
        assert rows["Latency"] == rows["Resource"]


@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("shape", list(WINDOWS))
def test_convolution_follows_the_formulas(shape, strategy, io_type, tmp_path):
    window, filters = WINDOWS[shape], 4
    probe = conv_model(window, filters, strategy, 1, 1, io_type, tmp_path).graph["conv"]
    n_in = window.kernel_h * window.kernel_w * window.channels
    assert (probe.n_in, probe.n_out) == (n_in, filters)
    pfs = probe.valid_parallelization_factors() if io_type == "io_parallel" else [1]
    for rf in reuse_factors(probe, strategy)[:6]:
        for pf in pfs:
            got = estimate(conv_model(window, filters, strategy, rf, pf, io_type, tmp_path))["conv"]
            multipliers, ii, dense_latency, blocks = expected_dense(n_in, filters, strategy, rf)
            if io_type == "io_parallel":
                trips = window.n_pixels // pf
                multipliers *= pf
            else:
                trips = window.padded_h * window.padded_w
            assert got.multipliers == multipliers, (rf, pf)
            assert got.interval == trips * rf, (rf, pf)
            assert got.latency == (trips - 1) * rf + dense_latency, (rf, pf)
            assert got.bram_18k == blocks, (rf, pf)
            assert got.weight_bits == n_in * filters * WEIGHT.width + filters * BIAS.width


def test_parallelization_factor_trades_multipliers_for_interval(tmp_path):
    window = WINDOWS["A"]
    rows = [estimate(conv_model(window, 3, "Latency", 2, pf, "io_parallel", tmp_path))["conv"]
            for pf in (1, 3, 5, 15)]
    assert [row.multipliers for row in rows] == [12, 36, 60, 180]
    assert [row.interval for row in rows] == [30, 10, 6, 2]
    # In io_stream the factor does not apply.
    stream = {estimate(conv_model(window, 3, "Latency", 2, pf, "io_stream", tmp_path))["conv"] for pf in (1, 5)}
    assert len(stream) == 1


def test_images_follow_the_formulas(tmp_path):
    """Zero padding, scale and shift, relu, max and average pooling, global pooling, one io type each."""
    h, w, c = 6, 7, 3
    pad = Window(h, w, c, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    pool = Window(pad.padded_h, pad.padded_w, c, 2, 2, 2, 2)
    average = Window(pool.out_h, pool.out_w, c, 3, 3, 1, 1, 1, 1, 1, 1)
    whole = Window(average.out_h, average.out_w, c, average.out_h, average.out_w)
    rng = np.random.default_rng(3)
    x_type = FixedType(8, 3)
    for io_type in IO_TYPES:
        nodes = [
            Input("x", [], (h, w, c), "InputLayer", result_type=x_type),
            ZeroPad("pad", ["x"], (pad.padded_h, pad.padded_w, c), "ZeroPadding2D", result_type=AUTO, window=pad,
                    in_shape=(h, w, c)),
            ScaleShift("bn", ["pad"], (pad.padded_h, pad.padded_w, c), "BatchNormalization", result_type=x_type,
                       scale=weights(rng, (c,), FixedType(6, 1)), shift=weights(rng, (c,), FixedType(5, 2))),
            Activation("relu", ["bn"], (pad.padded_h, pad.padded_w, c), "Activation", function="relu",
                       result_type=x_type),
            Pool("max", ["relu"], (pool.out_h, pool.out_w, c), "MaxPooling2D", function="max", result_type=AUTO,
                 window=pool, in_shape=(pad.padded_h, pad.padded_w, c)),
            Pool("average", ["max"], (average.out_h, average.out_w, c), "AveragePooling2D", function="average",
                 result_type=x_type, window=average, in_shape=(pool.out_h, pool.out_w, c)),
            Pool("global", ["average"], (c,), "GlobalMaxPooling2D", function="max", result_type=AUTO,
                 window=whole, in_shape=(average.out_h, average.out_w, c)),
        ]
        model = model_of(nodes, ["global"], io_type, tmp_path)
        result = estimate(model)
        stream = io_type == "io_stream"
        padded = pad.padded_h * pad.padded_w
        assert result["pad"][2:] == (0, padded, padded, 0, 0)
        # One multiplier per value handled at once: a pixel's c channels in io_stream, all in io_parallel.
        bits = c * (6 + 5)
        assert result["bn"][2:] == ((c, padded, padded + 1, bits, 0) if stream else (padded * c, 1, 2, bits, 0))
        assert result["relu"][2:] == ((0, padded, padded, 0, 0) if stream else (0, 1, 1, 0, 0))
        trips = pool.padded_h * pool.padded_w if stream else pool.n_pixels
        assert result["max"][2:] == (0, trips, trips - 1 + 1 + tree(4), 0, 0)
        average_node = model.graph["average"]
        divider = average_node.dividend_type(model.graph["max"].result_type, average_node.result_type).width
        trips = average.padded_h * average.padded_w if stream else average.n_pixels
        assert result["average"][2:] == (0, trips, trips - 1 + 1 + tree(9) + divider, 0, 0)
        trips = whole.in_h * whole.in_w if stream else 1
        depth = 1 if stream else 1 + tree(whole.n_taps)
        assert result["global"][2:] == (0, trips, trips - 1 + depth, 0, 0)
        assert result.top == "DATAFLOW"


def test_shape_layers_follow_the_formulas(tmp_path):
    """Cropping, nearest and bilinear upsampling, a transpose, a repacking reshape and softmax
    over the last axis of a 2-D tensor, both io types."""
    h, w, c = 5, 6, 3
    x_type = FixedType(8, 3)
    for io_type in IO_TYPES:
        nodes = [
            Input("x", [], (h, w, c), "InputLayer", result_type=x_type),
            Crop("crop", ["x"], (3, 3, c), "Cropping2D", result_type=AUTO, in_shape=(h, w, c), top=2, left=1,
                 right=2),
            Upsample("nearest", ["crop"], (6, 9, c), "UpSampling2D", result_type=AUTO, size_h=2, size_w=3,
                     in_shape=(3, 3, c)),
            Upsample("bilinear", ["nearest"], (12, 9, c), "UpSampling2D", result_type=AUTO, interpolation="bilinear",
                     size_h=2, in_shape=(6, 9, c)),
            Upsample("thirds", ["crop"], (9, 3, c), "UpSampling2D", result_type=x_type, interpolation="bilinear",
                     size_h=3, in_shape=(3, 3, c)),
            Transpose("transpose", ["bilinear"], (c, 12, 9), "Permute", result_type=AUTO, perm=(2, 0, 1),
                      in_shape=(12, 9, c)),
            Reshape("reshape", ["transpose"], (c * 18, 6), "Reshape", result_type=AUTO),
            Softmax("softmax", ["reshape"], (c * 18, 6), "Softmax", exp_type=FixedType(12, 1, False),
                    inv_type=FixedType(12, 1, False), result_type=FixedType(10, 1)),
        ]
        model = model_of(nodes, ["softmax", "thirds"], io_type, tmp_path)
        result = estimate(model)
        stream = io_type == "io_stream"
        assert result["crop"][2:] == ((0, h * w, h * w, 0, 0) if stream else (0, 9, 9, 0, 0))
        assert result["nearest"][2:] == (0, 54, 54, 0, 0)
        # A denominator of 4 needs no divider; that of 3 one as wide as the dividend.
        trips = 54 + 108 if stream else 108
        assert result["bilinear"][2:] == (4 * c, trips, trips - 1 + 4, 0, 0)
        thirds = model.graph["thirds"]
        divider = thirds.dividend_type(x_type, x_type).width
        trips = 9 + 27 if stream else 27
        assert result["thirds"][2:] == (4 * c, trips, trips - 1 + 4 + divider, 0, 0)
        # io_stream: the whole tensor (108 packets of 3) in, then (36 packets of 9) out.
        assert result["transpose"][2:] == ((0, 145, 145, 0, 0) if stream else (0, 1, 1, 0, 0))
        # Packets of 9 into packets of 6: 108 steps of 3 values.
        assert result["reshape"][2:] == ((0, 108, 108, 0, 0) if stream else (0, 1, 1, 0, 0))
        depth = 2 * tree(6) + 5
        bits = 2 * 1024 * 12
        assert result["softmax"][2:] == ((6, c * 18, c * 18 - 1 + depth, bits, 0) if stream
                                         else (6 * c * 18, 1, depth, bits, 0))
        assert result.top == "DATAFLOW"


# Totals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("slow_rf", [36, 1])
def test_totals_sum_multipliers_and_bits_take_the_largest_interval_and_the_slowest_path(slow_rf, io_type,
                                                                                           tmp_path):
    """Two branches from one input: one Dense alone, or a chain of three layers, whichever is slower
    sets the latency; the largest interval is the design's."""
    nodes = [Input("x", [], (12,), "InputLayer", result_type=FixedType(8, 3)),
             dense("alone", "x", 12, 3, "Resource", slow_rf),
             dense("fast", "x", 12, 6, "Latency", 2, seed=1),
             Activation("relu", ["fast"], (6,), "Activation", function="relu", result_type=FixedType(8, 3)),
             dense("after", "relu", 6, 2, "Latency", 1, seed=2)]
    result = estimate(model_of(nodes, ["alone", "after"], io_type, tmp_path))
    rows = {row.layer: row for row in result}
    assert list(rows) == ["alone", "fast", "relu", "after"]
    total = result.total
    assert total.layer == "total"
    assert total.multipliers == sum(row.multipliers for row in rows.values()) == 36 // slow_rf + 36 + 12
    assert total.weight_bits == sum(row.weight_bits for row in rows.values())
    assert total.bram_18k == sum(row.bram_18k for row in rows.values()) == (1 if slow_rf > 1 else 0)
    assert total.interval == max(row.interval for row in rows.values())
    chain = rows["fast"].latency + rows["relu"].latency + rows["after"].latency
    assert total.latency == max(rows["alone"].latency, chain)
    assert (rows["alone"].latency > chain) == (slow_rf == 36)
    assert (total.interval == rows["alone"].interval) == (slow_rf == 36)


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_a_chain_adds_its_latencies(io_type, tmp_path):
    result = estimate(design(io_type, tmp_path))
    assert result.total.latency == sum(row.latency for row in result)
    assert result.total.interval == max(row.interval for row in result)


@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("network", ["ops", "images"])
def test_top_pragma_is_the_writers(network, strategy, io_type, tmp_path):
    """The estimate's PIPELINE or DATAFLOW is what the written top function says."""
    model, _ = realize(3 if network == "images" else 1, "Vivado", strategy, io_type, tmp_path, network)
    model.write()
    top = (model.output_dir / "firmware" / "myproject.cpp").read_text()
    result = estimate(model)
    assert f"#pragma HLS {result.top}" in top
    assert result.top == ("PIPELINE" if (network, strategy, io_type) == ("ops", "Latency", "io_parallel")
                          else "DATAFLOW")


# Every op, the output ------------------------------------------------------------------------

@pytest.mark.parametrize("io_type", IO_TYPES)
def test_every_op_has_a_formula(io_type, tmp_path):
    seen = set()
    for network in NETWORKS:
        for strategy in STRATEGIES:
            model, graph = realize({"images": 3, "signals": 8, "tables": 7}.get(network, 15), "Vitis", strategy,
                                   io_type, tmp_path, network)
            result = estimate(model)
            assert [row.layer for row in result] == [n.name for n in graph if n.op not in ("input", "flatten")]
            for row in result:
                assert row.interval >= 1 and row.latency >= 1 and row.multipliers >= 0
                if graph[row.layer].strategy == "Latency" or row.op not in ("dense", "conv", "recurrent"):
                    assert row.bram_18k == 0
            seen |= {row.op for row in result}
            json.dumps(result.as_dict())
    assert seen == set(OPS) - {"input", "flatten"}


def test_tables_count_as_weight_bits(tmp_path):
    model, graph = realize(10, "Vivado", "Latency", "io_parallel", tmp_path, "tables")
    result = estimate(model)
    for name in ("tanh", "sigmoid"):
        table = graph[name].table
        assert result[name].weight_bits == table.codes.size * table.type.width == graph[name].table_size * \
            table.type.width
    softmax = graph["softmax"]
    assert result["softmax"].weight_bits == softmax.table_size * (softmax.exp_table.type.width +
                                                                   softmax.inv_table.type.width)
    assert result["softmax"].multipliers == softmax.n


@pytest.mark.parametrize("words, word_bits, blocks", [
    (2, 36, 1), (2, 37, 2), (4, 256, 8), (512, 36, 1), (513, 18, 1), (513, 19, 2), (1024, 16, 1),
    (1025, 9, 1), (2048, 10, 2), (4096, 4, 1), (8192, 2, 1), (16384, 1, 1), (16385, 1, 2), (40000, 3, 9),
])
def test_block_ram_shapes(words, word_bits, blocks):
    assert bram_18k(words, word_bits) == blocks


def test_printed_text_says_it_is_an_estimate(tmp_path):
    result = estimate(design("io_parallel", tmp_path))
    text = str(result)
    first = text.splitlines()[0]
    assert first.startswith("Estimate from nnhls's formulas") and "not a synthesis result" in first
    assert NOTE in first and "docs/estimate.md" in first
    for row in [*result.rows, result.total]:
        assert any(line.split()[:1] == [row.layer] and line.split()[-5:] == [
            str(row.multipliers), str(row.interval), str(row.latency), str(row.weight_bits), str(row.bram_18k)]
            for line in text.splitlines())
    data = result.as_dict()
    assert data["note"] == NOTE and data["io_type"] == "io_parallel" and data["top"] == "PIPELINE"
    assert data["total"] == result.total._asdict()
    assert [layer["layer"] for layer in data["layers"]] == ["dense1", "relu", "dense2"]
    assert json.loads(json.dumps(data)) == data
