"""Where bits are lost: overflow counts per quantization point, and a per-layer comparison with
the framework, both as plain tables (lists of rows that print themselves)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.text import table
from nnhls.types import FixedType

__all__ = ["Comparison", "ComparisonRow", "OverflowReport", "OverflowRow", "compare"]


class OverflowRow(NamedTuple):
    layer: str
    point: str  # 'product', 'bias', 'accumulator', 'result'
    type: FixedType
    overflowed: int  # values that wrapped or saturated on conversion into `type`
    values: int
    # The framework itself clips here (a QKeras quantizer's range): saturation is the model's
    # own behaviour, not lost accuracy.
    by_framework: bool = False


class OverflowReport(list):
    """One OverflowRow per quantization point of each layer, in graph order."""

    def __init__(self, rows):
        super().__init__(OverflowRow(*row) for row in rows)

    def by_layer(self) -> dict[str, int]:
        """Values lost to overflow per layer, over its quantization points; the framework's own
        clipping does not count."""
        totals: dict[str, int] = {}
        for row in self:
            totals[row.layer] = totals.get(row.layer, 0) + (0 if row.by_framework else row.overflowed)
        return totals

    def __str__(self) -> str:
        rows = [(r.layer, r.point, r.type, r.overflowed, r.values, f"{100 * r.overflowed / max(r.values, 1):.2f}%",
                 "framework's own clipping" if r.by_framework and r.overflowed else "") for r in self]
        return table(("layer", "point", "type", "overflowed", "of", "share", ""), rows)


class ComparisonRow(NamedTuple):
    """Errors are in LSBs of `type`, or in the framework's float32 resolution where coarser."""

    layer: str  # the framework's layer name
    node: str  # the nnhls node holding that layer's output
    type: FixedType
    max_error_lsb: float
    mean_error_lsb: float
    overflowed: int


class Comparison(list):
    """Per framework layer: the error of nnhls's output in LSBs of the layer's type."""

    def __init__(self, rows, threshold_lsb: float = 1.0):
        super().__init__(rows)
        self.threshold_lsb = threshold_lsb

    @property
    def first_divergent(self) -> str | None:
        """The first layer (in graph order) whose output differs by more than `threshold_lsb`."""
        return next((row.layer for row in self if row.max_error_lsb > self.threshold_lsb), None)

    def __str__(self) -> str:
        rows = [(r.layer, r.type, f"{r.max_error_lsb:.3g}", f"{r.mean_error_lsb:.3g}", r.overflowed) for r in self]
        text = table(("layer", "type", "max error (LSB)", "mean error (LSB)", "overflowed"), rows)
        first = self.first_divergent
        verdict = (f"first layer off by more than {self.threshold_lsb:g} LSB: {first}" if first
                   else f"every layer within {self.threshold_lsb:g} LSB")
        return f"{text}\n{verdict}"

    def plot(self, path=None):
        """A bar chart of the maximum and mean error per layer (log scale); saved when `path` is given."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise NnhlsError("Comparison.plot needs matplotlib: pip install matplotlib") from None
        figure, axes = plt.subplots(figsize=(max(4, 0.8 * len(self)), 3.5))
        positions = np.arange(len(self))
        axes.bar(positions - 0.2, [max(r.max_error_lsb, 1e-3) for r in self], 0.4, label="max")
        axes.bar(positions + 0.2, [max(r.mean_error_lsb, 1e-3) for r in self], 0.4, label="mean")
        axes.axhline(self.threshold_lsb, color="black", linewidth=0.8, linestyle="--")
        axes.set_yscale("log")
        axes.set_xticks(positions, [r.layer for r in self], rotation=45, ha="right")
        axes.set_ylabel("error vs framework (LSB of the layer's type)")
        axes.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path)
        return figure


def compare(framework_model, hls_model, X, threshold_lsb: float = 1.0) -> Comparison:
    """Compare every layer of `hls_model` (emulated) with the same layer of the Keras model,
    PyTorch module or ONNX model it was converted from (for ONNX, QONNX's reference execution of
    the model as nnhls read it); `X` as `hls_model.predict` takes it."""
    per_layer_framework = framework_layer_outputs(framework_model, hls_model, X)
    _, per_node = hls_model.trace(X)
    overflowed = hls_model.overflow_report(X).by_layer()
    rows = []
    for node in hls_model.graph:
        if node.framework_output is None or node.framework_output not in per_layer_framework:
            continue
        expected = per_layer_framework[node.framework_output].reshape(per_node[node.name].shape)
        # The unit is one LSB of the layer's type, or the framework's own float32 resolution at
        # the layer's largest value where that is coarser (an exact wide type would otherwise count
        # float32 rounding; a float32 sum is as far off near zero as near its largest terms).
        largest = np.float32(np.abs(expected).max(initial=0))
        unit = max(node.result_type.lsb, float(np.spacing(largest)))
        error = np.abs(per_node[node.name] - expected) / unit
        rows.append(ComparisonRow(node.framework_output, node.name, node.result_type, float(error.max()),
                                  float(error.mean()), overflowed.get(node.name, 0)))
    return Comparison(rows, threshold_lsb)


def framework_layer_outputs(model, hls_model, X) -> dict[str, np.ndarray]:
    """The framework's output of every layer the graph realizes, by the name `node.framework_output`
    gives, in the node's layout and units (a PyTorch tensor channels-last where the node is, a
    Brevitas quantizer's output in its integer codes)."""
    if _is_torch_module(model):
        from nnhls.frontends.pytorch import layer_outputs

        return layer_outputs(model, hls_model.graph, hls_model._check_inputs(X))
    if _is_onnx_model(model):
        from nnhls.frontends.onnx import layer_outputs

        return layer_outputs(model, hls_model.graph, hls_model._check_inputs(X))
    return _keras_layer_outputs(model, hls_model, X)


def _is_onnx_model(model) -> bool:
    """An ONNX model object, or a path to a .onnx file."""
    import os

    if isinstance(model, (str, os.PathLike)) and os.fspath(model).lower().endswith(".onnx"):
        return True
    from nnhls.frontends.onnx import is_onnx_model

    return is_onnx_model(model)


def framework_name(model) -> str:
    """The framework `model` comes from, as messages name it."""
    return "PyTorch" if _is_torch_module(model) else "ONNX" if _is_onnx_model(model) else "Keras"


def _is_torch_module(model) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _keras_layer_outputs(model, hls_model, X) -> dict[str, np.ndarray]:
    inputs = [np.asarray(x, dtype=np.float32) for x in (X if isinstance(X, (list, tuple)) else [X])]
    # An input layer's output is the input itself (a Sequential model does not list its InputLayer).
    values = {node.framework_output: x.astype(np.float64) for node, x in zip(hls_model.graph.inputs, inputs)}
    names = [node.framework_output for node in hls_model.graph if node.framework_output and node.op != "input"]
    if type(model).__module__.startswith("tf_keras"):
        import tf_keras as keras_module
    elif type(model).__module__.startswith("keras"):
        import keras as keras_module
    else:
        import tensorflow as tf

        keras_module = tf.keras
    layers = [model.get_layer(name) for name in names]
    probe = keras_module.Model(inputs=model.inputs, outputs=[layer.output for layer in layers])
    outputs = probe.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    if len(names) == 1:
        outputs = [outputs]
    values.update({name: np.asarray(value, dtype=np.float64) for name, value in zip(names, outputs)})
    return values
