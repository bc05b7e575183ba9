"""The one check of the lowered IR, run at the end of lowering: consumers never meet a
half-lowered node."""

from __future__ import annotations

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.ir import OPS, Graph
from nnhls.types import FixedType

# Realizations have kernels of at most this many inputs (passes/merges.py splits wider merges).
MAX_INPUTS = 2


def check_lowered(graph: Graph) -> None:
    """Every node is an op of the lowered IR with as many inputs as it takes, every tensor has a
    FixedType and every constant has codes of its FixedType."""
    for node in graph.every_node():
        where = f"layer {node.name!r} ({node.op})"
        if node.op not in OPS:
            raise NnhlsError(f"{where} is not an op of the lowered IR; a pass should have replaced it")
        expected = node.N_INPUTS
        n_inputs = len(node.inputs)
        if (expected is None and not 2 <= n_inputs <= MAX_INPUTS) or (expected is not None and n_inputs != expected):
            wanted = f"2 to {MAX_INPUTS}" if expected is None else expected
            raise NnhlsError(f"{where} has {n_inputs} inputs in the lowered IR; it takes {wanted}")
        if not isinstance(node.result_type, FixedType):
            raise NnhlsError(f"{where} has no fixed-point result type after lowering (it is {node.result_type!r})")
        if hasattr(node, "accum_type") and not isinstance(node.accum_type, FixedType):
            raise NnhlsError(f"{where} has no fixed-point accumulator type after lowering")
        for field, weights in node.constants():
            if not isinstance(weights.type, FixedType) or weights.codes is None:
                raise NnhlsError(f"{where}: its {field} has no integer codes of a fixed-point type after lowering")
            if np.shape(weights.codes) != weights.shape:
                raise NnhlsError(f"{where}: its {field} codes have shape {np.shape(weights.codes)}, "
                                 f"its values {weights.shape}")
