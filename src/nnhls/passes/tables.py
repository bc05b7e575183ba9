"""Fill every lookup table: the function at the centre of each bin, as float values to be
quantized once, like weights. The emulator and the written project read the same codes."""

from __future__ import annotations

import numpy as np

from nnhls.ir import Graph, Weights


def bin_centres(low: int, span_log2: int, size: int) -> np.ndarray:
    return low + (np.arange(size) + 0.5) * (2.0**span_log2 / size)


def fill_tables(graph: Graph) -> bool:
    """Returns whether any table was filled."""
    changed = False
    for node in graph.every_node():
        if node.op == "lookup" and node.table is None:
            function, *_, tail_scale = node.FUNCTIONS[node.function]
            node.table = Weights(function(bin_centres(node.low, node.span_log2, node.table_size), node.alpha),
                                 type=node.table_type)
            if tail_scale is not None:
                node.tail_scale = Weights(np.array([tail_scale]), type=node.param_type)
            changed = True
        elif node.op == "softmax" and node.exp_table is None:
            exps = np.exp(bin_centres(node.EXP_LOW, node.EXP_SPAN_LOG2, node.table_size))
            node.exp_table = Weights(exps, type=node.exp_type)
            # A sum always holds the largest input's own exp (the last entry), so bins below it
            # are never read; they repeat the largest reachable inverse instead of overflowing.
            node.inv_table = Weights(1 / np.maximum(bin_centres(0, node.inv_span_log2, node.table_size), exps[-1]),
                                     type=node.inv_type)
            changed = True
        elif node.op == "layernorm" and node.table is None:
            node.table = Weights(node.table_values(), type=node.table_type)
            changed = True
    return changed


def skip_softmax(graph: Graph) -> bool:
    """A softmax configured with Skip is removed: the network then returns its inputs (logits)."""
    changed = False
    for node in graph:
        if node.op == "softmax" and node.skip:
            graph.replace(node.name, None)
            changed = True
    return changed
