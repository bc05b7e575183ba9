"""Transposes folded away where they cost something and change nothing that cannot move elsewhere.

A frontend that reads channels-first tensors (PyTorch) puts a Transpose wherever an op needs its
input's axes in another order. Many of them need no stage: this pass, run until it changes
nothing, removes a Transpose that

- keeps every axis in place (identity), or follows another Transpose (the two compose into one);
- moves only axes of size 1, so the values keep their order: it becomes a Reshape, and a Flatten
  reading a Reshape reads the Reshape's input instead;
- feeds only a Flatten that feeds only a Dense: the Dense's weight rows are permuted once instead
  (row i of the new weights is the row that multiplied the value now at place i).

Each rewrite keeps every output of the graph, and the values of every node that stays, as they were.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nnhls.ir import Graph, Reshape, Transpose

__all__ = ["fold_transposes"]


def fold_transposes(graph: Graph) -> bool:
    """Apply the rewrites above until none applies; whether anything changed."""
    changed = False
    while any(rewrite(graph) for rewrite in _REWRITES):
        changed = True
    return changed


def _transposes(graph: Graph) -> list[Transpose]:
    return [node for node in graph if node.op == "transpose"]


def _remove_identity(graph: Graph) -> bool:
    for node in _transposes(graph):
        if node.perm == tuple(range(len(node.perm))) and node.name not in graph.outputs:
            graph.replace(node.name, None)
            return True
    return False


def _compose(graph: Graph) -> bool:
    """Transpose a then Transpose b (a's only reader): one Transpose of a's input."""
    for first in _transposes(graph):
        second = graph.only_reader(first.name)
        if second is None or second.op != "transpose":
            continue
        perm = tuple(first.perm[axis] for axis in second.perm)
        graph.replace(second.name, replace(second, inputs=list(first.inputs), perm=perm, in_shape=first.in_shape))
        graph.replace(first.name, None)
        return True
    return False


def _keeps_order(node: Transpose) -> bool:
    """Whether the axes of size > 1 stay in their order: the row-major values do not move."""
    moved = [axis for axis in node.perm if node.in_shape[axis] != 1]
    return moved == sorted(moved)


def _to_reshape(graph: Graph) -> bool:
    for node in _transposes(graph):
        if _keeps_order(node):
            graph.replace(node.name, Reshape(node.name, list(node.inputs), node.shape,
                                             framework_class=node.framework_class))
            return True
    return False


def _flatten_through_reshape(graph: Graph) -> bool:
    """A Flatten reading a Reshape (its only reader) reads the Reshape's input: the same values."""
    for node in graph:
        if node.op != "reshape":
            continue
        reader = graph.only_reader(node.name)
        if reader is not None and reader.op == "flatten" and node.framework_output is None:
            reader.inputs = list(node.inputs)
            graph.replace(node.name, None)  # read by nothing now
            return True
    return False


def _into_dense(graph: Graph) -> bool:
    """Transpose, then Flatten, then Dense: the Dense reads the untransposed values, its rows permuted."""
    for node in _transposes(graph):
        flatten = graph.only_reader(node.name)
        if flatten is None or flatten.op != "flatten":
            continue
        dense = graph.only_reader(flatten.name)
        if dense is None or dense.op != "dense":
            continue
        # The flattened transposed value at place i is the untransposed value at place source[i].
        source = np.arange(int(np.prod(node.in_shape))).reshape(node.in_shape).transpose(node.perm).reshape(-1)
        rows = np.empty_like(dense.weight.values)
        rows[source] = dense.weight.values
        dense.weight = replace(dense.weight, values=rows)
        flatten.inputs = list(node.inputs)
        flatten.framework_output = None  # its values are in another order than the framework's now
        graph.replace(node.name, None)  # read by nothing now
        return True
    return False


_REWRITES = (_remove_identity, _compose, _to_reshape, _flatten_through_reshape, _into_dense)
