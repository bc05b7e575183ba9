"""Passes from the framework's graph to the lowered IR: one file per pass, each a function of the graph."""

from __future__ import annotations

from nnhls.ir import Graph
from nnhls.passes.batchnorm import lower_batchnorm
from nnhls.passes.check import check_lowered
from nnhls.passes.infer_types import infer_types
from nnhls.passes.merges import split_merges
from nnhls.passes.quantize_weights import quantize_weights
from nnhls.passes.reuse_factor import check_reuse_factors
from nnhls.passes.tables import fill_tables, skip_softmax

__all__ = ["check_lowered", "check_reuse_factors", "fill_tables", "infer_types", "lower", "lower_batchnorm",
           "quantize_weights", "skip_softmax", "split_merges"]


def lower(graph: Graph, settings: dict, strict: bool = False) -> Graph:
    """Run every pass in order; afterwards every tensor has a FixedType and weights are codes."""
    skip_softmax(graph)
    lower_batchnorm(graph, settings)
    split_merges(graph)
    fill_tables(graph)
    quantize_weights(graph)
    infer_types(graph, settings.get("maximum"))
    check_reuse_factors(graph, strict)
    check_lowered(graph)
    return graph
