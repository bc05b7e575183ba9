"""Fold a batch normalization into the Dense before it, or make it an explicit ScaleShift."""

from __future__ import annotations

import numpy as np

from nnhls.ir import Dense, Graph, ScaleShift, Weights
from nnhls.types import AUTO, FixedType


def _sized(precision, values: np.ndarray, default: FixedType) -> FixedType:
    """An `auto` scale or shift: the default precision's width, with just the integer bits the
    largest value needs (the rest are fractional bits), rounded to nearest."""
    if isinstance(precision, FixedType):
        return precision
    largest = float(np.abs(values).max()) if values.size else 0.0
    integer = int(np.floor(np.log2(largest))) + 2 if largest > 0 else 1  # with the sign bit
    return FixedType(default.width, integer, True, "RND_CONV", "SAT")


def lower_batchnorm(graph: Graph, settings: dict) -> bool:
    """Returns whether anything changed.

    A Dense or a convolution (whose kernel's last axis is its output channels) folds alike.
    Folding is exact only where the weights are still the framework's floats: folded
    weights are then quantized once, as the user's float model intends. A framework-quantized
    Dense would need new weights the framework never computed, so its batch norm stays a
    ScaleShift with its own types.
    """
    changed = False
    for node in graph:
        if node.op != "batchnorm":
            continue
        changed = True
        if node.framework_scale is not None:
            graph.replace(node.name, _framework_scale_shift(node))
            continue
        scale = node.gamma / np.sqrt(node.variance + node.epsilon)
        shift = node.beta - node.mean * scale
        producer = graph[node.inputs[0]]
        if (isinstance(producer, Dense) and producer.weight.quantizer is None and producer.bias.quantizer is None
                and len(graph.consumers(producer.name)) == 1 and producer.name not in graph.outputs):
            producer.weight.values = producer.weight.values * scale
            producer.bias.values = producer.bias.values * scale + shift
            producer.framework_output = node.framework_output  # it now computes the batch norm's output
            graph.replace(node.name, None)
            continue
        default = settings["default"]
        scale_type = _sized(node.precisions.get("scale", AUTO), scale, default)
        shift_type = _sized(node.precisions.get("bias", AUTO), shift, default)
        graph.replace(node.name, _scale_shift(node, Weights(values=scale, type=scale_type),
                                              Weights(values=shift, type=shift_type)))
    return changed


def _scale_shift(node, scale: Weights, shift: Weights) -> ScaleShift:
    return ScaleShift(
        name=node.name, inputs=node.inputs, shape=node.shape, framework_class=node.framework_class,
        result_type=node.result_type, reuse_factor=node.reuse_factor, strategy=node.strategy,
        trace=node.trace, result_quantizer=node.result_quantizer, framework_output=node.framework_output,
        scale=scale, shift=shift)


def _framework_scale_shift(node) -> ScaleShift:
    """The framework's own exactly typed scale and shift (a quantized batch normalization), each in
    its configured precision, or exactly where that is `auto`."""
    def configured(weights: Weights, key: str) -> Weights:
        precision = node.precisions.get(key, AUTO)
        return Weights(weights.values, quantizer=weights.quantizer,
                       type=precision if isinstance(precision, FixedType) else None)
    return _scale_shift(node, configured(node.framework_scale, "scale"), configured(node.framework_shift, "bias"))
