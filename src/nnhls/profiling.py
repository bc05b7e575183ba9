"""Pictures for choosing precisions, and a progress line for long loops.

`numerical` draws, per layer, where the values lie (log2 of their magnitude) next to what the
layer's fixed-point type can hold, so a type that clips the large values or rounds the small
ones to zero is seen at a glance. `graph_picture` draws the converted graph with every node's
types and realization settings. Both need matplotlib (the `plot` extra), imported only when
called; they draw on their own `Figure` (no pyplot), so they change no global matplotlib state
and work without a display.

`progress` wraps a loop in a one-line progress indicator on stderr; it needs nothing.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.progress import progress  # noqa: F401  (part of this module's API)
from nnhls.ir.ops import Weights
from nnhls.types import FixedType

__all__ = ["graph_picture", "numerical", "progress"]

# Colours: the emulator's values, the framework's, and the span a type can represent.
_EMULATOR_COLOUR = "tab:blue"
_FRAMEWORK_COLOUR = "tab:orange"
_WEIGHT_COLOUR = "tab:green"
_SPAN_COLOUR = "0.82"


def _matplotlib(what: str):
    """matplotlib's Figure, Rectangle and Patch classes, or an error that says how to get them."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch, Rectangle
    except ImportError:
        raise NnhlsError(f"{what} needs matplotlib: pip install 'nnhls[plot]' "
                         "(or pip install matplotlib)") from None
    return Figure, Rectangle, Patch


# numerical profile -----------------------------------------------------------------------------


def numerical(model=None, hls_model=None, X=None, path=None) -> Path:
    """One PNG with the distribution of every layer's constants and outputs against its types.

    Left panel, "constants": one row per constant tensor (Dense/Conv weight and bias, the
    ScaleShift of a batch normalization, activation tables and parameters), for each node in
    graph order that has one; nodes without constants have no row. The values drawn are the
    framework's floats (`Weights.values`), i.e. what the type is asked to hold, not what it
    kept, so values beyond the type's reach stick out of its span.

    Right panel, "outputs": one row per node in graph order (Flatten is left out: its values are
    its input's), the node's output for the batch `X` from the emulator (`hls_model.trace`),
    i.e. the values the hardware computes. When the Keras `model` is given too, a second box
    per row shows the framework's float output of the layer that node realizes
    (`node.framework_output`), from one Keras Model built on the intermediate outputs. Without
    `X` the right panel says so and only the constants are profiled.

    Every box is log2 |value| over the values that are not zero (zeros have no logarithm; the
    share of zeros is written at the row's right end): the box spans the quartiles, the line is
    the median and the whiskers reach the smallest and the largest magnitude, so the whole range
    is visible. Behind each row a grey span runs from log2 of the type's LSB (smaller magnitudes
    round to zero or one LSB) to log2 of its largest magnitude (larger ones wrap or saturate).

    One figure with two panels side by side (sharing the log2 axis, so constants and outputs
    compare directly) keeps the whole story in one file. It is saved as PNG at `path` (default:
    `numerical.png` in the model's output folder; the project writer leaves files it did not
    write alone), and the path is returned.
    """
    Figure, Rectangle, Patch = _matplotlib("numerical")
    if hls_model is None:
        raise NnhlsError("numerical needs hls_model, the converted model: the spans drawn are its types. "
                         "Convert first, e.g. hls_model = nnhls.convert_from_keras_model(model, ...)")
    if model is not None and X is None:
        raise NnhlsError("numerical was given the Keras model but no inputs X: the framework's layer outputs "
                         "need a batch to run on; pass X (e.g. a few hundred samples of your data)")
    graph = hls_model.graph
    path = Path(path) if path is not None else Path(hls_model.output_dir) / "numerical.png"

    constant_rows = [(f"{node.name}.{name}", weights.values, weights.type)
                     for node in graph for name, weights in _constants(node)]
    output_rows = []
    from nnhls.compare import framework_name as framework_of

    framework_name = framework_of(model)
    if X is not None:
        _, traced = hls_model.trace(X)
        framework = _framework_outputs(model, hls_model, X) if model is not None else {}
        for node in graph:
            if node.VIEW:
                continue
            theirs = framework.get(node.framework_output) if node.framework_output else None
            label = node.name
            # A node may hold another layer's output, e.g. a Dense with its BatchNorm folded in.
            if theirs is not None and node.framework_output != node.name:
                label = f"{node.name} ({framework_name} {node.framework_output})"
            output_rows.append((label, traced[node.name], node.result_type, theirs))

    rows = max(len(constant_rows), len(output_rows), 1)
    figure = Figure(figsize=(15, 1.6 + 0.45 * rows))
    weights_axes, outputs_axes = figure.subplots(1, 2, sharex=True)
    legend = [Patch(facecolor=_SPAN_COLOUR, label="type: log2(LSB) .. log2(max |value|)")]

    _draw_rows(weights_axes, Rectangle,
               [(label, [(values, _WEIGHT_COLOUR)], t) for label, values, t in constant_rows])
    weights_axes.set_title("constants (framework values)")
    if not constant_rows:
        _note(weights_axes, "no layer has constants")
    legend.append(Patch(facecolor=_WEIGHT_COLOUR, alpha=0.6, label="constants"))

    series = []
    for name, ours, t, theirs in output_rows:
        boxes = [(ours, _EMULATOR_COLOUR)] + ([(theirs, _FRAMEWORK_COLOUR)] if theirs is not None else [])
        series.append((name, boxes, t))
    _draw_rows(outputs_axes, Rectangle, series)
    outputs_axes.set_title(f"layer outputs for {len(hls_model._check_inputs(X)[0])} samples"
                           if X is not None else "layer outputs")
    if X is None:
        _note(outputs_axes, "no inputs X given:\nlayer outputs are not profiled")
    legend.append(Patch(facecolor=_EMULATOR_COLOUR, alpha=0.6, label="nnhls (emulator)"))
    if any(theirs is not None for *_, theirs in output_rows):
        legend.append(Patch(facecolor=_FRAMEWORK_COLOUR, alpha=0.6, label=f"{framework_name} (float)"))

    for axes in (weights_axes, outputs_axes):
        axes.set_xlabel("log2 |value|  (zeros left out; their share at the right)")
        axes.grid(axis="x", linewidth=0.4, alpha=0.5)
    figure.legend(handles=legend, loc="lower center", ncol=len(legend), frameon=False)
    figure.suptitle(f"numerical profile of {graph.name!r}")
    figure.tight_layout(rect=(0, 0.06 if rows > 3 else 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path


def _constants(node) -> list[tuple[str, Weights]]:
    """(field name, Weights) of every constant tensor of a node, in the node class's field order
    (a recurrent layer's: its parts', as '<role> <field>')."""
    found = [(f"{role} {name}", weights) for role, part in getattr(node, "parts", {}).items()
             for name, weights in _constants(part)]
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, Weights) and np.size(value.values):
            found.append((field.name, value))
    return found


def _framework_outputs(model, hls_model, X) -> dict[str, np.ndarray]:
    """The framework's float output of every layer the graph realizes, by layer name."""
    from nnhls.compare import _is_onnx_model, _is_torch_module, _keras_layer_outputs, framework_layer_outputs

    if _is_torch_module(model) or _is_onnx_model(model):
        return framework_layer_outputs(model, hls_model, X)
    if not hasattr(model, "get_layer") or not hasattr(model, "inputs"):
        raise NnhlsError(f"numerical's model must be the Keras model the HLS model was converted from, got a "
                         f"{type(model).__name__}; pass model=None to profile nnhls's values only")
    try:
        return _keras_layer_outputs(model, hls_model, X)
    except ValueError as error:  # get_layer of a name the Keras model does not have
        raise NnhlsError(f"numerical could not read the Keras model's layer outputs ({error}); is it the "
                         "model hls_model was converted from?") from None


def _log2_magnitudes(values) -> tuple[np.ndarray, float]:
    """log2 |v| of the values that are not zero, and the share of zeros."""
    flat = np.abs(np.asarray(values, dtype=np.float64).reshape(-1))
    nonzero = flat[flat > 0]
    return np.log2(nonzero), 1 - len(nonzero) / max(len(flat), 1)


def _type_span(t) -> tuple[float, float] | None:
    """(log2 of the LSB, log2 of the largest magnitude) of a fixed-point type."""
    if not isinstance(t, FixedType):
        return None
    largest = max(abs(t.min_value), abs(t.max_value))
    return (math.log2(t.lsb), math.log2(largest)) if largest > 0 else None


def _draw_rows(axes, Rectangle, rows) -> None:
    """Horizontal box plots, first row at the top: each row is (label, [(values, colour)], type)."""
    labels, box_data, box_positions, box_colours, box_widths = [], [], [], [], []
    zero_notes = []
    for index, (label, series, t) in enumerate(rows):
        labels.append(f"{label}\n{t}" if t is not None else label)  # the type below: long ones stay narrow
        span = _type_span(t)
        if span is not None:
            axes.add_patch(Rectangle((span[0], index - 0.42), span[1] - span[0], 0.84, facecolor=_SPAN_COLOUR,
                                     edgecolor="0.6", linewidth=0.5, zorder=0))
        height = 0.7 / len(series)
        notes = []
        for k, (values, colour) in enumerate(series):
            logs, zeros = _log2_magnitudes(values)
            position = index - 0.35 + height * (k + 0.5)
            if len(logs):
                box_data.append(logs)
                box_positions.append(position)
                box_colours.append(colour)
                box_widths.append(0.85 * height)
            notes.append("all" if zeros == 1 else "<1%" if 0 < zeros < 0.01 else f"{100 * zeros:.0f}%")
        zero_notes.append("zeros " + " | ".join(notes) if any(note != "0%" for note in notes) else "")
    if box_data:
        boxes = axes.boxplot(box_data, positions=box_positions, whis=(0, 100), widths=box_widths,
                             patch_artist=True, manage_ticks=False,
                             medianprops=dict(color="black", linewidth=1), **_horizontal())
        for patch, colour in zip(boxes["boxes"], box_colours):
            patch.set(facecolor=colour, alpha=0.6, zorder=2)
    axes.set_yticks(range(len(rows)), labels, fontsize=7.5, linespacing=1.1)
    axes.set_ylim(max(len(rows), 1) - 0.5, -0.5)  # graph order from the top down (one empty row if none)
    for index, note in enumerate(zero_notes):
        if note:
            axes.annotate(note, (1, index), xycoords=("axes fraction", "data"), xytext=(4, 0),
                          textcoords="offset points", ha="left", va="center", fontsize=7, color="0.3")
    axes.autoscale(axis="x")


def _horizontal() -> dict:
    """boxplot's keyword for horizontal boxes: `orientation` from matplotlib 3.10 (which deprecates
    `vert`), `vert` before."""
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _note(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", color="0.4")
    axes.set_yticks([])


# graph picture -----------------------------------------------------------------------------------

_FONT_SIZE = 7.5
_CHAR_INCHES = _FONT_SIZE * 0.62 / 72  # a generous width of one character of the font
_LINE_INCHES = _FONT_SIZE * 1.3 / 72
_GAP_INCHES = 0.35  # between boxes of one layer
_ROW_GAP_INCHES = 0.45  # between layers, room for the arrows
_MAX_PIXELS = 30000  # matplotlib refuses images beyond 2**16 pixels a side; stay well inside


def graph_picture(hls_model, path=None) -> Path:
    """A PNG of the converted graph: one box per node, arrows from each input to its consumers.

    A box holds the node's name, its op (with the function of an activation or pooling and
    the framework's class), output shape and result type; a Dense or convolution also its
    weight, bias and accumulator types, reuse factor and strategy (and a convolution in
    io_parallel its parallelization factor). The network's outputs have a thick frame.

    Layout, computed here so no graphviz is needed: a node's layer is one more than the deepest
    of its inputs (inputs in layer 0), layers run top to bottom and the nodes of a layer left to
    right in graph order, centred. An arrow that skips layers is bent so it does not run
    through the boxes in between. Saved at `path` (default: `graph.png` in the model's output
    folder); the path is returned.
    """
    Figure, _, _ = _matplotlib("graph_picture")
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    graph = hls_model.graph
    if len(graph) == 0:
        raise NnhlsError("graph_picture was given an HLS model whose graph has no nodes; nothing to draw")
    path = Path(path) if path is not None else Path(hls_model.output_dir) / "graph.png"

    depth: dict[str, int] = {}
    for node in graph:  # topological order: inputs come first
        depth[node.name] = 1 + max((depth[name] for name in node.inputs), default=-1)
    layers: list[list] = [[] for _ in range(max(depth.values()) + 1)]
    for node in graph:
        layers[depth[node.name]].append(node)

    texts = {node.name: _describe(node, hls_model.io_type) for node in graph}
    box_w = max(len(line) for lines in texts.values() for line in lines) * _CHAR_INCHES + 0.3
    line_counts = [max(len(texts[node.name]) for node in layer) for layer in layers]
    row_heights = [count * _LINE_INCHES + 0.25 for count in line_counts]
    widest = max(len(layer) for layer in layers)
    width = widest * box_w + (widest + 1) * _GAP_INCHES
    height = sum(row_heights) + (len(layers) + 1) * _ROW_GAP_INCHES

    figure = Figure(figsize=(width, height))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_axis_off()

    boxes: dict[str, tuple[float, float, float]] = {}  # name -> (centre x, top y, bottom y)
    top = height - _ROW_GAP_INCHES
    for layer, row_height in zip(layers, row_heights):
        start = (width - (len(layer) * box_w + (len(layer) - 1) * _GAP_INCHES)) / 2
        for i, node in enumerate(layer):
            x = start + i * (box_w + _GAP_INCHES)
            is_output = node.name in graph.outputs
            axes.add_patch(FancyBboxPatch((x, top - row_height), box_w, row_height,
                                          boxstyle="round,pad=0,rounding_size=0.08",
                                          facecolor=_box_colour(node), edgecolor="black",
                                          linewidth=2.2 if is_output else 0.8))
            lines = texts[node.name]
            axes.text(x + 0.15, top - 0.12, lines[0], ha="left", va="top", fontsize=_FONT_SIZE + 0.5,
                      fontweight="bold", family="monospace")
            axes.text(x + 0.15, top - 0.12 - _LINE_INCHES, "\n".join(lines[1:]), ha="left", va="top",
                      fontsize=_FONT_SIZE, family="monospace", linespacing=1.25)
            boxes[node.name] = (x + box_w / 2, top, top - row_height)
        top -= row_height + _ROW_GAP_INCHES

    for node in graph:
        for slot, name in enumerate(node.inputs):
            source_x, _, source_bottom = boxes[name]
            target_x, target_top, _ = boxes[node.name]
            skipped = depth[node.name] - depth[name] - 1
            bend = 0.0 if skipped == 0 else (0.35 if source_x <= target_x else -0.35) * min(skipped, 2)
            axes.add_patch(FancyArrowPatch((source_x + 0.12 * slot, source_bottom), (target_x, target_top),
                                           arrowstyle="-|>", mutation_scale=10, linewidth=0.9, color="0.25",
                                           connectionstyle=f"arc3,rad={bend}", shrinkA=1, shrinkB=1))

    path.parent.mkdir(parents=True, exist_ok=True)
    dpi = min(110, _MAX_PIXELS / max(width, height))
    figure.savefig(path, format="png", dpi=dpi)
    return path


def _describe(node, io_type: str) -> list[str]:
    """The lines of a node's box: name first."""
    op = node.op
    function = getattr(node, "function", None)
    if isinstance(function, str) and function:
        op = f"{op}: {function}"
    if node.op == "softmax":
        op = f"{op}: {node.implementation}"
    if node.framework_class:
        op = f"{op} ({node.framework_class})"
    lines = [node.name, op, f"shape {tuple(node.shape)}", f"result {node.result_type}"]
    if node.op in ("dense", "conv"):
        lines.append(f"weight {node.weight.type}")
        if node.bias is not None:
            lines.append(f"bias   {node.bias.type}")
        lines.append(f"accum  {node.accum_type}")
        settings = f"reuse {node.reuse_factor}, {node.strategy}"
        if node.op == "conv" and io_type == "io_parallel":  # io_stream computes one pixel at a time
            settings += f", parallel {node.parallelization_factor}"
        lines.append(settings)
    return lines


def _box_colour(node) -> str:
    if node.op == "input":
        return "#dde8f5"
    if node.op in ("dense", "conv"):
        return "#fbe3c8"
    if node.moves_values or node.op in ("pool", "upsample", "concatenate"):
        return "#e6e6e6"
    return "#dff0d8"


# progress ----------------------------------------------------------------------------------------
