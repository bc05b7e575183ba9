"""Merges of more than two inputs become chains of two-input merges, each exact.

A sum, product, maximum or minimum of n values equals the same function applied to the exact
result over the first n - 1 and the last value; a concatenation equals the concatenation of the
first n - 1 inputs' (unchanged) values with the last. So the chain's inner nodes take `auto`
(exact) types and only the last, which keeps the layer's name and configuration, converts into
the layer's result type: bit for bit the n-input op. An average of n values is a chain of sums
ending in an average whose count is n. Every realization then needs kernels of two inputs only.
"""

from __future__ import annotations



from nnhls.errors import NnhlsError
from nnhls.ir import Concatenate, Graph, Merge
from nnhls.types import AUTO


def split_merges(graph: Graph) -> bool:
    """Returns whether anything changed."""
    changed = False
    for node in graph:
        if node.op == "merge" and not node.count:
            node.count = len(node.inputs)
        if node.op not in ("merge", "concatenate") or len(node.inputs) <= 2:
            continue
        if node.op == "merge" and node.function == "subtract":
            raise NnhlsError(f"layer {node.name!r}: subtract takes exactly two inputs, not {len(node.inputs)}")
        changed = True
        partial = node.inputs[0]
        for k, source in enumerate(node.inputs[1:-1], start=1):
            name = _fresh(graph, f"{node.name}_part{k}")
            if node.op == "merge":
                function = "add" if node.function == "average" else node.function
                step = Merge(name, [partial, source], node.shape, node.framework_class, result_type=AUTO,
                             function=function, count=k + 1)
            else:
                shapes = [graph[partial].shape, graph[source].shape]
                shape = list(shapes[0])
                shape[node.axis] = sum(s[node.axis] for s in shapes)
                step = Concatenate(name, [partial, source], tuple(shape), node.framework_class, result_type=AUTO,
                                   axis=node.axis)
            step.strategy, step.reuse_factor = node.strategy, node.reuse_factor
            graph.insert_before(node.name, step)
            partial = name
        node.inputs = [partial, node.inputs[-1]]
    return changed


def _fresh(graph: Graph, name: str) -> str:
    candidate, index = name, 1
    while candidate in graph:
        index += 1
        candidate = f"{name}_{index}"
    return candidate


__all__ = ["split_merges"]
