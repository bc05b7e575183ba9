"""Multipliers, interval, latency and weight storage from nnhls's own formulas (docs/estimate.md).

No vendor tool is involved: every number follows from the lowered IR, the strategy, reuse
factor, parallelization factor and io type, by the formulas that docs/estimate.md states and
tests/test_estimate.py checks. It is an estimate, not a synthesis result.
"""

from __future__ import annotations

from math import ceil, gcd
from typing import NamedTuple

from nnhls.hls.backend import n_packets, packet_size, top_pragma
from nnhls.ir import Graph, Node, Registry, Weights, softsign_types
from nnhls.text import table

__all__ = ["NOTE", "REG", "Estimate", "EstimateRow", "bram_18k", "estimate"]

NOTE = "Estimate from nnhls's formulas (docs/estimate.md), not a synthesis result"

# Cycles of a Dense's input and output registers.
REG = 2

# The shapes of one BRAM_18K, (depth, width), shallowest first.
BRAM_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))

# Per element-wise op: (multiplies, depth in cycles).
ELEMENTWISE = {"activation": (False, 1), "step": (False, 2), "prelu": (True, 2), "hard_sigmoid": (True, 2),
               "scale_shift": (True, 2), "lookup": (False, 2), "softsign": (False, 2), "merge": (False, 1)}


class EstimateRow(NamedTuple):
    layer: str
    op: str
    multipliers: int
    interval: int  # clock cycles between two samples
    latency: int  # clock cycles from a sample's first input to its last output
    weight_bits: int
    bram_18k: int


class Estimate:
    """Per-layer rows (graph order, without Input and Flatten) and the design's total."""

    def __init__(self, rows: list[EstimateRow], total: EstimateRow, io_type: str, top: str,
                 clock_period: float | None = None):
        self.rows = list(rows)
        self.total = total
        self.io_type = io_type
        self.top = top  # the top function's pragma: 'PIPELINE' or 'DATAFLOW'
        self.clock_period = clock_period

    def __getitem__(self, layer: str) -> EstimateRow:
        for row in self.rows:
            if row.layer == layer:
                return row
        raise KeyError(layer)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def as_dict(self) -> dict:
        return {"note": NOTE, "io_type": self.io_type, "top": self.top, "clock_period": self.clock_period,
                "layers": [row._asdict() for row in self.rows], "total": self.total._asdict()}

    def __str__(self) -> str:
        header = ("layer", "op", "multipliers", "interval", "latency", "weight bits", "BRAM_18K")
        lines = table(header, self.rows, total=self.total).splitlines()
        summary = (f"{self.io_type}, top function {self.top}: the design takes a sample every "
                   f"{self.total.interval} cycles, latency {self.total.latency} cycles")
        if self.clock_period:
            summary += f" ({self.total.latency * self.clock_period:g} ns at {self.clock_period:g} ns, if met)"
        return "\n".join([f"{NOTE}.", summary + ".",
                          "Interval and latency in clock cycles; multipliers are multiplications (DSPs or LUTs). Total: sums,",
                          "the largest interval, and the latency along the slowest path from an input to an output.",
                          "", *lines])

    def __repr__(self) -> str:
        return f"<Estimate {self.io_type} {self.top}: {self.total}>"


def ceil_log2(k: int) -> int:
    """The depth of a tree over k values: the least d with 2**d >= k."""
    return max(k - 1, 0).bit_length()


def bram_18k(words: int, word_bits: int) -> int:
    """BRAM_18K blocks of a memory `words` deep and `word_bits` wide: the widest shape at least
    as deep, as many side by side as the word needs (docs/estimate.md)."""
    for depth, width in BRAM_SHAPES:
        if words <= depth:
            return ceil(word_bits / width)
    return ceil(words / BRAM_SHAPES[-1][0]) * word_bits


def _bits(weights) -> int:
    if not isinstance(weights, Weights) or weights.codes is None:
        return 0
    return int(weights.codes.size) * weights.type.width


def weight_bits(graph: Graph, node: Node) -> int:
    """Bits of the node's constant arrays (what its kernel reads; an argmax softmax reads no table)."""
    if node.part_nodes():  # a recurrent layer: what its parts read
        return sum(weight_bits(graph, part) for part in node.part_nodes())
    constants = node.constants()
    if node.op == "softmax" and node.implementation != "stable":
        constants = []
    total = sum(_bits(weights) for _, weights in constants)
    if node.op == "step":
        total += int(node.threshold_codes.size) * node.threshold_type.width
    if node.op == "layernorm":  # n**3 * epsilon, at the variance's width
        total += node.statistics(graph[node.inputs[0]].result_type).variance.width
    return total


def _dense(node) -> tuple[int, int, int, int]:
    """(multipliers, interval, latency, BRAM_18K) of one Dense (a convolution's per pixel)."""
    rf, multipliers = node.reuse_factor, node.multipliers
    if node.strategy == "Resource":
        adders = ceil_log2(node.rows_per_step + 1)
        bram = bram_18k(rf, multipliers * node.weight.type.width) if rf > 1 else 0
    else:
        adders = ceil_log2(node.n_in + 1)
        bram = 0
    return multipliers, rf, rf + adders + REG, bram


def _loop(trips: int, ii: int, depth: int) -> tuple[int, int]:
    """(interval, latency) of a pipelined loop."""
    return trips * ii, (trips - 1) * ii + depth


def _layer(graph: Graph, node: Node, stream: bool) -> EstimateRow:
    multipliers, interval, latency, bram = ESTIMATES[node.op](graph, node, stream)
    return EstimateRow(node.name, node.op, multipliers, interval, latency, weight_bits(graph, node), bram)


# op -> (graph, node, io_stream?) -> (multipliers, interval, latency, BRAM_18K), by the formulas
# of docs/estimate.md; None for an op with no hardware of its own (an input port, a view).
ESTIMATES = Registry("the estimate (estimate.py ESTIMATES)", {"input": None, "flatten": None})


@ESTIMATES.register("dense")
def _dense_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    multipliers, interval, latency, bram = _dense(node)
    if stream:
        latency = n_packets(graph, node.inputs[0]) + latency + n_packets(graph, node.name)
        interval = latency
    return multipliers, interval, latency, bram


@ESTIMATES.register("conv")
def _conv_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    multipliers, ii, depth, bram = _dense(node)
    w = node.window
    if stream:
        trips = w.padded_h * w.padded_w
    else:
        trips = w.n_pixels // node.parallelization_factor
        multipliers *= node.parallelization_factor
    return (multipliers, *_loop(trips, ii, depth), bram)


@ESTIMATES.register("pool")
def _pool_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    w, x_type = node.window, graph[node.inputs[0]].result_type
    divider = node.dividend_type(x_type, node.result_type).width if node.function == "average" else 0
    if stream and w.covers_image:
        trips, depth = w.in_h * w.in_w, 1 + divider
    else:
        trips = w.padded_h * w.padded_w if stream else w.n_pixels
        depth = 1 + ceil_log2(w.n_taps) + divider
    return (0, *_loop(trips, 1, depth), 0)


@ESTIMATES.register("zero_pad")
def _zero_pad_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    return (0, *_loop(node.window.padded_h * node.window.padded_w, 1, 1), 0)


@ESTIMATES.register("embedding")
def _embedding_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    """No multiplier: an index, then a row read from the table; io_stream writes a row a cycle."""
    return (0, *_loop(node.shape[0] if stream else 1, 1, 2), 0)


@ESTIMATES.register("softmax")
def _softmax_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    n, positions = node.n, node.n_positions
    if node.implementation == "stable":
        multipliers, depth = n, 2 * ceil_log2(n) + 5
    else:
        multipliers, depth = 0, ceil_log2(n) + 1
    if stream and positions > 1:  # a position per packet, as it comes
        return (multipliers, *_loop(positions, 1, depth), 0)
    if stream:
        latency = n_packets(graph, node.inputs[0]) + depth + n_packets(graph, node.name)
        return multipliers, latency, latency, 0
    return multipliers * positions, 1, depth, 0


@ESTIMATES.register("reshape")
def _reshape_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    if not stream:
        return (0, *_loop(1, 1, 1), 0)
    step = gcd(packet_size(graph, node.inputs[0]), packet_size(graph, node.name))
    return (0, *_loop(node.size // step, 1, 1), 0)


@ESTIMATES.register("transpose")
def _transpose_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    if not stream:
        return (0, *_loop(1, 1, 1), 0)
    latency = n_packets(graph, node.inputs[0]) + 1 + n_packets(graph, node.name)  # whole tensor in, then out
    return 0, latency, latency, 0


@ESTIMATES.register("crop")
def _crop_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    in_h, in_w, _ = node.image
    return (0, *_loop(in_h * in_w if stream else node.out_h * node.out_w, 1, 1), 0)


@ESTIMATES.register("upsample")
def _upsample_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    in_h, in_w, channels = node.image
    pixels = node.out_h * node.out_w
    if node.interpolation == "nearest":
        return (0, *_loop(pixels, 1, 1), 0)
    denominator = node.denominator
    divider = 0 if denominator & (denominator - 1) == 0 else \
        node.dividend_type(graph[node.inputs[0]].result_type, node.result_type).width
    depth = 4 + divider  # weights' products, a sum of four, the conversion
    trips = in_h * in_w + pixels if stream else pixels  # io_stream: reading rows, then writing the rows they complete
    return (4 * channels, *_loop(trips, 1, depth), 0)


@ESTIMATES.register("layernorm")
def _layernorm_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    """Per position: sum tree, n * x - S, squares, sum tree, + epsilon and the leading one, the
    table, the shift, the products (docs/estimate.md)."""
    per_value = 2 + (node.scale is not None)  # d * d, a * table, and * gamma
    depth = 2 * ceil_log2(node.n) + 7
    if not stream:
        return node.size * per_value, 1, depth, 0
    if len(node.shape) == 1:
        latency = n_packets(graph, node.inputs[0]) + depth + 1
        return node.n * per_value, latency, latency, 0
    return (node.n * per_value, *_loop(node.positions, 1, depth), 0)

@ESTIMATES.register("recurrent")
def _recurrent_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    """time steps x the latency of one step: the input product, the recurrent product, the sum,
    the gates and the candidate side by side, then the cell's update (docs/estimate.md). One cell
    (`static`) is used at every step; unrolled, every step has its own."""
    rows = {role: _dense(part) for role, part in node.dense_parts()}
    depth = {role: ELEMENTWISE[part.op][1] for role, part in node.activation_parts()}
    step = rows["input"][2] + rows["recurrent"][2] + 1 + max(depth.get("gate", 0), depth["candidate"])
    products = 0  # the cell's products per unit: f * c, i * g, o * output; z * h, (1 - z) * n, r * q or r * h
    if node.cell == "lstm":
        step += 2 + depth["output"] + 1
        products = 3
    elif node.cell == "gru":
        step += 1 + depth["candidate"] + 2 + (rows["reset"][2] if "reset" in rows else 0)
        products = 3
    multipliers = sum(row[0] for row in rows.values()) + products * node.units + sum(
        part.size for _, part in node.activation_parts() if ELEMENTWISE[part.op][0])
    if not node.static and not stream:
        multipliers *= node.steps
    latency = node.steps * step + 1
    if stream and node.go_backwards:
        latency += node.steps  # the sequence is read whole first
    return multipliers, latency, latency, sum(row[3] for row in rows.values())


@ESTIMATES.register(*ELEMENTWISE)
def _elementwise_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    multiplies, depth = ELEMENTWISE[node.op]
    if node.op == "lookup":
        multiplies = node.tail_scale is not None
    if node.op == "softsign":
        depth += softsign_types(graph[node.inputs[0]].result_type)[2].width
    if node.op == "merge":
        multiplies = node.function == "multiply"
        if node.function == "average":
            depth += node.dividend_type([graph[name].result_type for name in node.inputs]).width
    at_once = packet_size(graph, node.name) if stream else node.size
    return (at_once if multiplies else 0, *_loop(n_packets(graph, node.name) if stream else 1, 1, depth), 0)


@ESTIMATES.register("concatenate")
def _concatenate_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    return (0, *_loop(n_packets(graph, node.name) if stream else 1, 1, 1), 0)


@ESTIMATES.register("dot")
def _dot_layer(graph: Graph, node: Node, stream: bool) -> tuple[int, int, int, int]:
    depth = 1 + ceil_log2(node.length) + REG
    return node.length, 1 if not stream else depth + 2, depth + (2 if stream else 0), 0


def estimate(hls_model) -> Estimate:
    """The estimate of `hls_model`'s design (an HLSModel, or anything with `.graph` and
    `.project.io_type`), per layer and in total, by the formulas of docs/estimate.md."""
    graph: Graph = hls_model.graph
    project = hls_model.project
    io_type = project.io_type
    stream = io_type == "io_stream"
    rows, finish = [], {}
    for node in graph:
        start = max((finish[name] for name in node.inputs), default=0)
        if ESTIMATES[node.op] is None:
            finish[node.name] = start
            continue
        row = _layer(graph, node, stream)
        rows.append(row)
        finish[node.name] = start + row.latency
    total = EstimateRow(
        "total", "", sum(row.multipliers for row in rows), max((row.interval for row in rows), default=0),
        max((finish[name] for name in graph.outputs), default=0), sum(row.weight_bits for row in rows),
        sum(row.bram_18k for row in rows))
    return Estimate(rows, total, io_type, top_pragma(graph, io_type), getattr(project, "clock_period", None))
