"""Move each reuse factor (and each convolution's parallelization factor) to one the layer can take."""

from __future__ import annotations

import warnings

from nnhls.errors import NnhlsError
from nnhls.ir import Dense, Graph


def check_reuse_factors(graph: Graph, strict: bool = False) -> bool:
    """An invalid factor becomes the nearest valid one (the larger on a tie), with a warning
    naming both; with `strict`, it is an error. A reuse factor above the layer's number of
    multiplications fits no kernel at all and is always an error. Returns whether anything changed."""
    changed = False
    for node in graph:
        if node.op == "recurrent":
            node.sync_parts()  # its Dense parts are checked below, each as the Dense it is
    for node in graph.every_node():
        if node.op == "recurrent":  # its parts' factors, as they are now
            node.reuse_factor = node.parts["input"].reuse_factor
            node.recurrent_reuse_factor = node.parts["recurrent"].reuse_factor
        if not isinstance(node, Dense):
            continue
        n_weights = node.n_weights
        if node.reuse_factor > n_weights:
            raise NnhlsError(f"layer {node.name!r}: reuse factor {node.reuse_factor} is larger than its "
                             f"{n_weights} multiplications ({node.n_in} inputs x {node.n_out} outputs), so no "
                             f"kernel can take it; use at most {n_weights}")
        shape = f"{node.n_in} inputs and {node.n_out} outputs"
        changed |= _nearest(node, "reuse_factor", "reuse factor", node.valid_reuse_factors(node.strategy),
                            f"the {node.strategy} strategy with {shape}", strict)
        if node.op == "conv":
            changed |= _nearest(node, "parallelization_factor", "ParallelizationFactor",
                                node.valid_parallelization_factors(),
                                f"{node.window.n_pixels} output pixels (it must divide them)", strict)
    return changed


def _nearest(node, field: str, what: str, valid: list[int], context: str, strict: bool) -> bool:
    value = getattr(node, field)
    if value in valid:
        return False
    nearest = min(valid, key=lambda factor: (abs(factor - value), -factor))
    shown = ", ".join(map(str, valid)) if len(valid) <= 40 else f"1 to {valid[-1]}"
    message = f"layer {node.name!r}: {what} {value} is not valid for {context} (valid: {shown})"
    if strict:
        raise NnhlsError(message)
    warnings.warn(f"{message}; using {nearest}", stacklevel=4)
    setattr(node, field, nearest)
    return True
