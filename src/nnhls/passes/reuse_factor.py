"""Move each reuse factor to one the layer's strategy can realize."""

from __future__ import annotations

import warnings

from nnhls.errors import NnhlsError
from nnhls.ir import Graph


def check_reuse_factors(graph: Graph, strict: bool = False) -> bool:
    """An invalid reuse factor becomes the nearest valid one (the larger on a tie), with a
    warning naming both; with `strict`, it is an error. Returns whether anything changed."""
    changed = False
    for node in graph:
        if node.op != "dense":
            continue
        valid = node.valid_reuse_factors(node.strategy)
        if node.reuse_factor in valid:
            continue
        nearest = min(valid, key=lambda factor: (abs(factor - node.reuse_factor), -factor))
        shown = ", ".join(map(str, valid)) if len(valid) <= 40 else f"1 to {valid[-1]}"
        message = (f"layer {node.name!r}: reuse factor {node.reuse_factor} is not valid for the "
                   f"{node.strategy} strategy with {node.n_in} inputs and {node.n_out} outputs "
                   f"(valid: {shown})")
        if strict:
            raise NnhlsError(message)
        warnings.warn(f"{message}; using {nearest}", stacklevel=3)
        node.reuse_factor = nearest
        changed = True
    return changed
