"""The numpy emulator: one function per op kind, batched. It *is* the numeric specification.

Every C++ realization (backend x strategy x io type x reuse factor) must produce the same codes.
Values flow as integer codes of each tensor's FixedType: int64 where they fit, else Python ints,
and from the inputs on, as long as every op on the way keeps them exact there, held in float32 or
float64 arrays (quantize.py), which numpy computes on several times faster. The ops of
FLOAT_CODES take such codes; every other op gets them as int64, and so do the caller's outputs.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os

import numpy as np

from nnhls.emulate.ops import EMULATORS, emulate_pooled, monotone
from nnhls.ir import Graph
from nnhls.progress import progress

__all__ = ["EMULATORS", "FLOAT_CODES", "run"]

# The ops that take codes held in floats (and give float codes back where every step is exact).
FLOAT_CODES = frozenset({"dense", "conv", "pool", "zero_pad", "reshape", "flatten", "transpose", "crop", "upsample",
                         "activation", "scale_shift"})


# Values of the widest tensor (or convolution window matrix) handled per chunk of samples: the
# per-op numpy passes then run on arrays that stay in cache, about twice as fast as on a
# whole large batch at once.
_CHUNK_VALUES = 1 << 19
# Quantization points of constants rather than of values that flow (counted once, not per chunk).
_CONSTANT_POINTS = ("bias",)


def run(graph: Graph, inputs: dict[str, np.ndarray], keep_all: bool = False,
        overflows: list | None = None, show_progress: bool = False) -> dict[str, np.ndarray]:
    """Codes of the graph's outputs (or of every node with `keep_all`) for a batch of inputs.

    `inputs` maps each input node's name to a float array of shape (batch, *node.shape). With
    a list as `overflows`, every quantization point appends (layer, point, type, n_overflowed,
    n_values) to it. Samples are independent, so the batch runs in chunks small enough for the
    cache: the graph in stages (_stages), each in chunks sized for its own widest values, on
    threads() threads at once (with a progress line on a terminal if `show_progress`).
    """
    batch = len(next(iter(inputs.values()))) if inputs else 0
    nodes = list(graph)
    if batch <= 1 or batch <= _CHUNK_VALUES // max(max(_width(node) for node in nodes), 1):
        keeps = {node.name for node in nodes} if keep_all else set(graph.outputs)
        return _finished(_run(graph, nodes, {}, inputs, keeps, overflows), graph, keep_all)
    workers = threads()
    tallies: list[list] = []
    values: dict[str, np.ndarray] = {}
    stages = _stages(graph, keep_all)
    for k, (stage_nodes, reads, keeps, widest) in enumerate(stages):
        step = max(1, _CHUNK_VALUES // max(widest, 1))
        chunks = -(-batch // step)
        stage_workers = workers if chunks >= _CHUNKS_PER_THREAD * workers else 1
        if stage_workers > 1:  # as many chunks on every thread, none larger than before
            step = -(-batch // (-(-chunks // stage_workers) * stage_workers))
        starts = list(range(0, batch, step))
        rows = [[] if overflows is not None else None for _ in starts]
        tallies.extend(rows)

        def chunk(index: int) -> dict[str, np.ndarray]:  # called within this stage's iteration only
            piece = slice(starts[index], starts[index] + step)
            given = {name: values[name][piece] for name in reads}
            raw = {node.name: inputs[node.name][piece] for node in stage_nodes if node.op == "input"}
            return _run(graph, stage_nodes, given, raw, keeps, rows[index])

        shown = show_progress and len(starts) > 1
        if stage_workers > 1:
            # numpy lets go of the GIL inside its loops and BLAS: the chunks' arithmetic runs side by
            # side, with one BLAS thread each.
            with _blas_threads(1), concurrent.futures.ThreadPoolExecutor(max_workers=stage_workers) as pool:
                done = pool.map(chunk, range(len(starts)))
                parts = list(progress(done, total=len(starts), description="emulator") if shown else done)
        else:
            indices = range(len(starts))
            parts = [chunk(k) for k in (progress(indices, description="emulator") if shown else indices)]
        for name in keeps:
            values[name] = parts[0][name] if len(parts) == 1 else np.concatenate([part[name] for part in parts])
        if not keep_all:  # what no later stage reads
            later = {name for _, later_reads, _, _ in stages[k + 1:] for name in later_reads}
            for name in [name for name in values if name not in later and name not in graph.outputs]:
                del values[name]
    if overflows is not None:
        totals: dict[tuple, list[int]] = {}
        for layer, point, to_type, n_overflowed, n_values in (row for rows in tallies for row in rows):
            total = totals.setdefault((layer, point, to_type), [0, 0])
            if point in _CONSTANT_POINTS and total[1]:
                continue  # the same constants, converted again for each chunk
            total[0] += n_overflowed
            total[1] += n_values
        overflows.extend((*key, *total) for key, total in totals.items())
    return _finished(values, graph, keep_all)


# A stage's chunks run on threads only where each thread gets at least this many: each numpy call
# hands the GIL over, and on fewer chunks those hand-offs cost more than the threads gain
# (on the 16x16 CNN of bench/emulator.py, 5,000 images run slower on two threads, 20,000 faster).
_CHUNKS_PER_THREAD = 64


def _finished(values: dict[str, np.ndarray], graph: Graph, keep_all: bool) -> dict[str, np.ndarray]:
    names = [node.name for node in graph] if keep_all else graph.outputs
    return {name: _integers(values[name]) for name in names}


def threads() -> int:
    """The threads the emulator runs a batch's chunks on: NNHLS_NUM_THREADS, else
    OMP_NUM_THREADS (which process pools such as Dask's set to 1 per worker), else the cores
    this process may use."""
    for name in ("NNHLS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _width(node) -> int:
    """Values of one sample the node holds at once: its output, or its window matrix."""
    window = getattr(node, "window", None) if node.op in ("conv", "pool") else None
    if window is not None:
        return max(node.size, window.n_pixels * window.n_taps * window.channels)
    return node.size


# A stage ends where the values still to be read, and the next node, are this many times
# narrower than the stage's widest: the narrow rest then runs in chunks of many more samples.
_NARROWING = 8


def _stages(graph: Graph, keep_all: bool) -> list[tuple[list, set, set, int]]:
    """The graph's nodes in stages: (nodes, the values of earlier stages they read, their values
    that later stages read or the caller gets, the widest _width among them)."""
    nodes = list(graph)
    last_read = {}
    for index, node in enumerate(nodes):
        for name in node.inputs:
            last_read[name] = index
    for name in graph.outputs:
        last_read[name] = len(nodes)
    size = {node.name: node.size for node in nodes}
    widths = [_width(node) for node in nodes]
    groups, current, widest, widests = [], [], 0, []
    for index, node in enumerate(nodes):
        current.append(node)
        widest = max(widest, widths[index])
        if index + 1 == len(nodes):
            break
        crossing = sum(size[n.name] for group in groups for n in group if last_read.get(n.name, -1) > index)
        crossing += sum(size[n.name] for n in current if last_read.get(n.name, -1) > index)
        if _NARROWING * max(crossing, widths[index + 1]) <= widest:
            groups.append(current)
            widests.append(widest)
            current, widest = [], 0
    groups.append(current)
    widests.append(widest)
    stages = []
    for k, group in enumerate(groups):
        names = {node.name for node in group}
        reads = {name for node in group for name in node.inputs if name not in names}
        later = {name for other in groups[k + 1:] for node in other for name in node.inputs}
        keeps = names if keep_all else {name for name in names if name in later or name in graph.outputs}
        stages.append((group, reads, keeps, widests[k]))
    return stages


_CONTROLLER: list = []


@contextlib.contextmanager
def _blas_threads(limit: int):
    """numpy's BLAS held to `limit` threads for a while (threadpoolctl; its controller made once)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    with _CONTROLLER[0].limit(limits=limit, user_api="blas"):
        yield


def _run(graph: Graph, nodes: list, given: dict[str, np.ndarray], raw: dict[str, np.ndarray], keeps: set,
         overflows: list | None) -> dict[str, np.ndarray]:
    """The values `keeps` names of running `nodes` on one chunk: `given` holds the values of
    earlier nodes they read, `raw` the float inputs of their input nodes."""
    values: dict[str, np.ndarray] = dict(given)
    remaining: dict[str, int] = {}
    for node in nodes:
        for name in node.inputs:
            remaining[name] = remaining.get(name, 0) + 1
    # Without overflow counts, a max pooling that alone reads a monotone activation pools first
    # (ops.emulate_pooled): the activation is left for the pooling to run.
    deferred = {} if overflows is not None else {
        node.inputs[0]: node for node in nodes
        if node.op == "pool" and node.function == "max" and remaining.get(node.inputs[0]) == 1}
    by_name = {node.name: node for node in nodes}
    for name in list(deferred):
        activation = by_name.get(name)
        if activation is None or not monotone(activation) or name in keeps:
            del deferred[name]
    for node in nodes:
        if node.name in deferred:
            continue
        if node.op == "pool" and node.inputs[0] in deferred:
            activation = by_name[node.inputs[0]]
            source = values[activation.inputs[0]]
            values[node.name] = emulate_pooled(node, activation, (source, graph[activation.inputs[0]].result_type))
            remaining[activation.inputs[0]] -= 1
            if remaining[activation.inputs[0]] == 0 and activation.inputs[0] not in keeps:
                del values[activation.inputs[0]]
            continue
        tally = None
        if overflows is not None:
            def tally(point, to_type, n_overflowed, n_values, layer=node.name):
                overflows.append((layer, point, to_type, n_overflowed, n_values))
        if node.op == "input":
            values[node.name] = EMULATORS["input"](node, tally, raw[node.name])
        else:
            sources = [(values[name], graph[name].result_type) for name in node.inputs]
            if node.op not in FLOAT_CODES:
                sources = [(_integers(codes), t) for codes, t in sources]
            values[node.name] = EMULATORS[node.op](node, tally, *sources)
        for name in node.inputs:  # free what no later node of the chunk reads
            remaining[name] -= 1
            if remaining[name] == 0 and name not in keeps:
                del values[name]
    return {name: values[name] for name in keeps}


def _integers(codes: np.ndarray) -> np.ndarray:
    """Codes held in floats as int64 (exact: they are integers below 2**53)."""
    return codes.astype(np.int64) if codes.dtype.kind == "f" else codes
