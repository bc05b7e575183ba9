"""A ReLU, and a per-channel scale and shift, folded into the staircase that alone reads them.

relu(x) = max(x, 0) passes every threshold t <= 0 whatever x is, and a threshold t > 0 exactly
when x does: a staircase reading only a ReLU reads x, without its thresholds at or below 0 (it
starts at the level they lead to).

y = x * s_c + b_c (a ScaleShift, s_c > 0) passes threshold t exactly when x passes (t - b_c) / s_c.
So a staircase reading only such a node can read x itself, at thresholds of its own per channel,
computed once as exact fractions: the multiplication by a wide constant (the product of a
Brevitas layer's input and weight scales) and the wide exact sum after it disappear, and the
staircase compares the layer's integer sums. Its outputs are unchanged, bit for bit.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from nnhls.ir import Graph, Node

__all__ = ["fold_relus_into_staircases", "fold_scales_into_staircases"]


def _shared_staircases(graph: Graph) -> list[Node]:
    """The staircases whose thresholds every channel shares, none of them strict."""
    return [step for step in graph if step.op == "step" and not step.per_channel
            and not (step.strict is not None and np.any(step.strict))]


def fold_relus_into_staircases(graph: Graph) -> bool:
    """Fold every ReLU whose only reader is a staircase of shared, non-strict thresholds; whether any was."""
    changed = False
    for step in _shared_staircases(graph):
        source = graph[step.inputs[0]]
        if source.op != "activation" or source.function != "relu" or source.result_quantizer is not None \
                or graph.only_reader(source.name) is not step:
            continue
        thresholds = np.asarray(step.thresholds, dtype=np.float64)
        passed = int(np.sum(thresholds <= 0))
        step.thresholds = step.thresholds[passed:]
        step.levels = type(step.levels)(step.levels.values[passed:], quantizer=step.levels.quantizer)
        step.inputs = list(source.inputs)
        graph.replace(source.name, None)  # read by nothing now
        changed = True
    return changed


def fold_scales_into_staircases(graph: Graph) -> bool:
    """Fold every ScaleShift whose only reader is a staircase of shared thresholds (after folding the
    ReLUs between them); whether any was."""
    changed = fold_relus_into_staircases(graph)
    for step in _shared_staircases(graph):
        source = graph[step.inputs[0]]
        if not _foldable(graph, source, step):
            continue
        scales = [Fraction(float(v)) for v in source.scale.values]
        shifts = [Fraction(float(v)) for v in source.shift.values]
        thresholds = [Fraction(float(t)) for t in step.thresholds]
        rows = [[(t - shift) / scale for t in thresholds] for scale, shift in zip(scales, shifts)]
        step.thresholds = np.array(rows, dtype=object).reshape(len(rows), len(thresholds))
        step.inputs = list(source.inputs)
        graph.replace(source.name, None)  # read by nothing now
        changed = True
    return changed


def _foldable(graph: Graph, source: Node, step: Node) -> bool:
    if source.op != "scale_shift" or graph.only_reader(source.name) is not step:
        return False
    if source.scale.quantizer is None or source.shift.quantizer is None:
        return False  # constants the configuration rounds: their exact values are not known yet
    thresholds = np.asarray(step.thresholds, dtype=np.float64)
    return bool(np.all(source.scale.values > 0) and np.all(np.isfinite(thresholds))
                and len(source.scale.values) == source.shape[-1])
