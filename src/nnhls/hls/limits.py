"""What synthesis tools are known to choke on, checked at conversion time.

Completely partitioning a large array, or unrolling a large number of multiplications, makes
Vivado HLS and Vitis HLS fail (messages such as XFORM 203-504, "partitioned elements number
exceeded") or run for hours. A warning names the layer and the way out before any synthesis.
"""

from __future__ import annotations

from nnhls.ir import Dense, Graph

__all__ = ["PARTITION_LIMIT", "UNROLL_LIMIT", "synthesis_limits"]

# Elements of one completely partitioned array, and multiplications of one unrolled layer,
# around which the tools start to fail.
PARTITION_LIMIT = 4096
UNROLL_LIMIT = 4096


def synthesis_limits(graph: Graph, io_type: str) -> list[str]:
    """One message per layer and limit the design goes past."""
    messages = []
    for node in graph:
        if isinstance(node, Dense):
            copies = node.parallelization_factor if node.op == "conv" and io_type == "io_parallel" else 1
            messages += _dense_limits(f"layer {node.name!r}", node, copies, "ReuseFactor")
        if node.op == "recurrent":  # each step's cell, or with Static False in io_parallel one per step
            copies = node.steps if not node.static and io_type == "io_parallel" else 1
            for role, part in node.dense_parts():
                key = "ReuseFactor" if role == "input" else "RecurrentReuseFactor"
                messages += _dense_limits(f"layer {node.name!r} ({role} product)", part, copies, key)
        if io_type == "io_parallel" and not node.VIEW and node.size > PARTITION_LIMIT:
            messages.append(
                f"layer {node.name!r}: io_parallel partitions its {node.size} outputs completely, more than the "
                f"tools handle well (about {PARTITION_LIMIT}); use io_type='io_stream'")
    return messages


def _dense_limits(where: str, node: Dense, copies: int, key: str) -> list[str]:
    """A Dense's (or a Dense part's, `copies` times) unrolled multiplications and partitioned weights."""
    messages = []
    n_weights = node.n_weights
    multipliers = copies * node.multipliers
    if node.strategy == "Latency" and multipliers > UNROLL_LIMIT:
        at_least = -(-n_weights * copies // UNROLL_LIMIT)
        messages.append(
            f"{where}: the Latency strategy unrolls {multipliers} multiplications at reuse factor "
            f"{node.reuse_factor}, more than the tools handle well (about {UNROLL_LIMIT}); raise its "
            f"{key} to {at_least} or more, or use Strategy 'Resource'")
    if node.strategy == "Latency" and n_weights > PARTITION_LIMIT:
        messages.append(
            f"{where}: the Latency strategy partitions its {n_weights} weights completely, more "
            f"than the tools handle well (about {PARTITION_LIMIT}); use Strategy 'Resource', which keeps them "
            "in block RAM")
    return messages
