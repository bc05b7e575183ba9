"""The numpy emulator: one function per op kind, batched. It *is* the numeric specification.

Every C++ realization (backend x strategy x io type x reuse factor) must produce the same codes.
Values flow as integer codes of each tensor's FixedType (int64 where they fit, else Python ints).
"""

from __future__ import annotations

import numpy as np

from nnhls.emulate.ops import EMULATORS
from nnhls.ir import Graph
from nnhls.progress import progress

__all__ = ["EMULATORS", "run"]


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
    n_values) to it. Samples are independent, so the batch runs in chunks (with a progress line
    on a terminal if `show_progress`).
    """
    batch = len(next(iter(inputs.values()))) if inputs else 0
    widest = max([node.size for node in graph] + [node.window.n_pixels * node.window.n_taps * node.window.channels for node in graph
                                                  if node.op == "conv"])
    step = max(1, _CHUNK_VALUES // max(widest, 1))
    if batch <= step:
        return _run(graph, inputs, keep_all, overflows)
    rows = [] if overflows is not None else None
    starts = range(0, batch, step)
    if show_progress:
        starts = progress(starts, description="emulator")
    parts = [_run(graph, {name: x[start:start + step] for name, x in inputs.items()}, keep_all, rows)
             for start in starts]
    if overflows is not None:
        totals: dict[tuple, list[int]] = {}
        for layer, point, to_type, n_overflowed, n_values in rows:
            total = totals.setdefault((layer, point, to_type), [0, 0])
            if point in _CONSTANT_POINTS and total[1]:
                continue  # the same constants, converted again for each chunk
            total[0] += n_overflowed
            total[1] += n_values
        overflows.extend((*key, *total) for key, total in totals.items())
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _run(graph: Graph, inputs: dict[str, np.ndarray], keep_all: bool, overflows: list | None) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    remaining = {node.name: 0 for node in graph}
    for node in graph:
        for name in node.inputs:
            remaining[name] += 1
    for node in graph:
        tally = None
        if overflows is not None:
            def tally(point, to_type, n_overflowed, n_values, layer=node.name):
                overflows.append((layer, point, to_type, n_overflowed, n_values))
        if node.op == "input":
            values[node.name] = EMULATORS["input"](node, tally, inputs[node.name])
        else:
            sources = [(values[name], graph[name].result_type) for name in node.inputs]
            values[node.name] = EMULATORS[node.op](node, tally, *sources)
        if not keep_all:  # free what no later node reads
            for name in node.inputs:
                remaining[name] -= 1
                if remaining[name] == 0 and name not in graph.outputs:
                    del values[name]
    return values if keep_all else {name: values[name] for name in graph.outputs}
