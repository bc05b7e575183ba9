"""ONNX and QONNX models into the IR, through the qonnx library's own clean-up (docs/onnx.md).

The model is first prepared by qonnx's transformations, not by code of nnhls's: its clean-up
(shape inference, constant folding that keeps the quantizers, transposes folded into quantizer
inputs, readable names), Gemm to MatMul, and its channels-last conversion, which turns Conv,
MaxPool and BatchNormalization into channels-last nodes and removes the transposes it can. The
batch size is set to 1 first; every shape is then known.

The prepared graph is read node by node, with the layout machinery of the PyTorch frontend
(ONNX's tensors are channels-first and reshape row-major, as PyTorch's): each value remembers
the order in which its IR tensor holds the ONNX tensor's axes, a Transpose only relabels, and an
op that needs another order reads a real Transpose, which `fold_transposes` removes where it
costs nothing. qonnx's channels-last nodes read their inputs as they are; the channels-first
ones (AveragePool, Resize, Pad, a Conv the conversion left) put them channels-last themselves.

QONNX's quantizers are read exactly (docs/onnx.md): `Quant` on a constant gives integer codes and
their scale; on a tensor, with a power-of-two scale and zero point 0, a conversion into the
FixedType of its bits, and otherwise a staircase onto its integer codes whose thresholds are
where QONNX's float32 arithmetic steps (as Brevitas's, `frontends/int_quant.py`), with the value's
scale applied once after the next Dense or Conv. Node names are the prepared graph's ("Conv_0",
"MatMul_1", "Quant_2").

Neither onnx nor qonnx is imported until a model is read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.frontends.constants import exact_weights, zero_weights
from nnhls.frontends.int_quant import (KEY_OF_INFINITY, MAX_BIT_WIDTH, MAX_STAIRCASE_BIT_WIDTH, ROUNDINGS, float32_below,
                                       float32_of_keys, int_codes, int_range, scaled_float32, staircase_of)
from nnhls.frontends.pytorch import (LayoutReader, _binary, _canonical_kernel, _channels_last,
                                     _checked_window, _clip, _concatenate, _Constant, _dense, _elementwise, _from_framework,
                                     _global_pool, _per_channel, _permute, _pool_node, _relu_family, _reshape, _softmax,
                                     _spatial_input, _to_framework, _upsample, _Value, _with_constant, _zero_pad,
                                     checked_layout_settings)
from nnhls.ir import Activation, Conv, Graph, Merge, ParametricRelu, ScaleShift, Step, Weights, Window
from nnhls.ir.ops import SELU_ALPHA, SELU_SCALE, BatchNorm
from nnhls.passes.staircases import fold_scales_into_staircases
from nnhls.passes.transposes import fold_transposes
from nnhls.types import FixedType, exact_type

__all__ = ["is_onnx_model", "layer_outputs", "load", "prepare", "read_onnx", "reference_outputs", "supported_ops"]

_QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
_CHANNELS_LAST_DOMAIN = "qonnx.custom_op.channels_last"
# QONNX's rounding of a power-of-two quantizer, as the fixed-point conversion that rounds alike.
# Not HALF_UP: QONNX computes it as floor(|x / s| + 0.5) in float32, whose sum rounds the one
# float32 x / s = 0.5 - 2**-25 up to 1 (a tie to even), where ap_fixed's AP_RND_INF gives 0; its
# staircase, found from QONNX's own arithmetic, has that threshold.
_CAST_ROUNDINGS = {"ROUND": "RND_CONV", "HALF_EVEN": "RND_CONV", "FLOOR": "TRN", "ROUND_TO_ZERO": "TRN_ZERO",
                   "DOWN": "TRN_ZERO", "HALF_DOWN": "RND_ZERO"}
# Brevitas's name for rounding toward zero, which Brevitas writes into its QONNX exports; qonnx's
# own functions know it as DOWN (both np.fix).
_QONNX_ROUNDING_NAMES = {"ROUND_TO_ZERO": "DOWN"}


def _libraries():
    try:
        import onnx
        from qonnx.core.modelwrapper import ModelWrapper
    except ImportError as error:
        raise NnhlsError("reading an ONNX model needs onnx and qonnx: pip install 'nnhls[onnx]'") from error
    return onnx, ModelWrapper


@dataclass(frozen=True)
class _Quantized(_Constant):
    """A constant through a QONNX quantizer: `values` as QONNX computes them (float32), and the
    integer `levels` (q - zero point) and `scale` (both of the values' shape) that give them."""

    levels: np.ndarray = None
    scale: np.ndarray = None


# ---------------------------------------------------------------------------------------------
# Loading and preparing


def load(model):
    """A copy of `model` (an onnx.ModelProto, a path to a .onnx file, or a qonnx ModelWrapper) as a
    ModelWrapper; the caller's model is never changed."""
    onnx, ModelWrapper = _libraries()
    if isinstance(model, ModelWrapper):
        return ModelWrapper(copy.deepcopy(model.model))
    if isinstance(model, onnx.ModelProto):
        return ModelWrapper(copy.deepcopy(model))
    if isinstance(model, (str, os.PathLike)):
        try:
            return ModelWrapper(onnx.load(os.fspath(model)))
        except Exception as error:  # noqa: BLE001  (onnx's own errors, named)
            raise NnhlsError(f"cannot read {os.fspath(model)!r} as an ONNX model: {type(error).__name__}: "
                             f"{error}") from None
    raise NnhlsError(f"expected an onnx.ModelProto, a path to a .onnx file or a qonnx ModelWrapper, got "
                     f"{type(model).__name__}")


def prepare(model, batch_size: int = 1):
    """The model as nnhls reads it: qonnx's clean-up, Gemm to MatMul and channels-last conversion
    applied to a copy with the batch size set to `batch_size`.

    The last few preparations are kept (by the model's bytes and the batch size), so reading a model
    for its configuration and again to convert it prepares it once. Whether the channels-last
    conversion is kept is decided at batch size 1 and holds for every batch size, so the graph
    prepared for a batch has the names of the graph nnhls read."""
    onnx, ModelWrapper = _libraries()
    wrapper = load(model)
    digest = hashlib.sha256(wrapper.model.SerializeToString(deterministic=True)).hexdigest()
    key = (digest, int(batch_size))
    if key not in _PREPARED:
        converts = None if batch_size == 1 else _conversion_kept(model, digest)
        prepared, converts = _prepared(wrapper, batch_size, converts)
        _PREPARED[key] = (prepared.model.SerializeToString(), converts)
        while len(_PREPARED) > _PREPARED_KEPT:
            del _PREPARED[next(iter(_PREPARED))]
    return ModelWrapper(onnx.load_from_string(_PREPARED[key][0]))


def _conversion_kept(model, digest: str) -> bool:
    """Whether the model's preparation at batch size 1 keeps qonnx's channels-last conversion."""
    if (digest, 1) not in _PREPARED:
        prepare(model, 1)
    return _PREPARED[(digest, 1)][1]


# (model digest, batch size) -> (the prepared model's bytes, whether it keeps the conversion)
_PREPARED: dict[tuple[str, int], tuple[bytes, bool]] = {}
_PREPARED_KEPT = 8


def _prepared(wrapper, batch_size: int, converts: bool | None):
    from qonnx.util.cleanup import cleanup_model

    _check_graph(wrapper)
    _remember_origins(wrapper)
    _separate_repeated_inputs(wrapper)
    _outputs_computed(wrapper)
    wrapper = _set_batch_size(wrapper, batch_size)
    wrapper = _transformed(wrapper, lambda w: cleanup_model(w), "clean-up")
    _standard_opset_first(wrapper)
    wrapper = _transformed(wrapper, _gemm_to_matmul, "Gemm to MatMul")
    wrapper = _transformed(wrapper, lambda w: cleanup_model(w), "clean-up")
    return _in_channels_last(wrapper, converts)


def _named(wrapper, strict: bool = True):
    """qonnx's unique node names, readable tensor names, shape inference and topological order."""
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames, SortGraph
    from qonnx.transformation.infer_shapes import InferShapes

    for step in (GiveUniqueNodeNames(), GiveReadableTensorNames(), InferShapes(), SortGraph()):
        wrapper = _transformed(wrapper, lambda w, step=step: w.transform(step), type(step).__name__) if strict \
            else wrapper.transform(step)
    _standard_opset_first(wrapper)
    return wrapper


def _in_channels_last(wrapper, converts: bool | None):
    """The cleaned graph after qonnx's channels-last conversion, where that computes what the graph
    computes; the cleaned graph itself otherwise, which the reader puts channels-last on its own.
    Returns it and whether it is converted; `converts` gives that decision where it was made.

    The conversion is checked by QONNX's execution of both graphs on random inputs: it rewires some
    graphs wrongly (a Conv's output c read by Add(c, Relu(c)) becomes Add(Transpose(Relu(c)),
    Relu(c)), which no shape check reveals where C = H = W), and fails on others."""
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean

    if converts is False:
        return _named(wrapper), False
    convert = ConvertToChannelsLastAndClean(make_input_channels_last=False)
    if converts:
        return _named(_transformed(wrapper, lambda w: w.transform(convert), "channels-last conversion")), True
    cleaned = _named(wrapper)
    try:
        converted = _named(wrapper.transform(convert), strict=False)
        if _computes_alike(cleaned, converted):
            return converted, True
    except Exception:  # noqa: BLE001  (qonnx's conversion or its execution failed: read the cleaned graph)
        pass
    return cleaned, False


def _computes_alike(first, second) -> bool:
    """Whether QONNX's execution of two graphs with the same inputs gives the same outputs on
    random inputs, up to float32's rounding of sums computed in another order."""
    initializers = {t.name for t in first.graph.initializer}
    names = [i.name for i in first.graph.input if i.name not in initializers]
    if names != [i.name for i in second.graph.input if i.name not in {t.name for t in second.graph.initializer}]:
        return False
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-2, 2, first.get_tensor_shape(name)).astype(np.float32) for name in names]
    ours, theirs = _execute(first, inputs, full=False), _execute(second, inputs, full=False)
    if sorted(ours) != sorted(theirs):
        return False
    for name, expected in ours.items():
        got = theirs[name]
        if got.shape != expected.shape:
            return False
        tolerance = 1e-4 * max(float(np.abs(expected).max(initial=0)), 1e-30)
        if np.mean(np.abs(got - expected) <= tolerance) < 0.99:
            return False
    return True


def _gemm_to_matmul(wrapper):
    """qonnx's GemmToMatMul, with what it lacks: a Gemm without C (optional since opset 11) gets a
    zero C, and the alpha and beta it stores as float64 become float32, the type ONNX's Mul needs
    to meet the MatMul's float32 output."""
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul

    for node in wrapper.graph.node:
        if node.op_type == "Gemm" and (len(node.input) < 3 or not node.input[2]):
            zero = wrapper.make_new_valueinfo_name()
            wrapper.set_initializer(zero, np.zeros(1, dtype=np.float32))
            if len(node.input) < 3:
                node.input.append(zero)
            else:
                node.input[2] = zero
    with warnings.catch_warnings():
        # qonnx warns for every Gemm version but 9; the versions differ in nothing it rewrites
        # (an optional C since 11, more types since 13).
        warnings.filterwarnings("ignore", message="The GemmToMatMul transformation only offers explicit support")
        wrapper = wrapper.transform(GemmToMatMul())
    doubles = [t.name for t in wrapper.graph.initializer if t.data_type == t.DOUBLE]
    for name in doubles:
        wrapper.set_initializer(name, wrapper.get_initializer(name).astype(np.float32))
    return wrapper


def _standard_opset_first(wrapper) -> None:
    """ONNX's own opset first among the model's imports: qonnx's execution runs every standard node
    at the version of the first import."""
    imports = sorted(wrapper.model.opset_import, key=lambda o: o.domain not in ("", "ai.onnx"))
    copies = [type(o)(domain=o.domain, version=o.version) for o in imports]
    del wrapper.model.opset_import[:]
    wrapper.model.opset_import.extend(copies)


def _transformed(wrapper, transform, what: str):
    try:
        return transform(wrapper)
    except NnhlsError:
        raise
    except Exception as error:  # noqa: BLE001  (qonnx's and onnx's own errors, named)
        raise NnhlsError(f"qonnx's {what} failed on this model: {type(error).__name__}: {error}") from None


def _check_graph(wrapper) -> None:
    """Inputs with shapes, and a reader for every node that computes on them: a node nnhls lacks is
    named, with its op type and inputs, before any transformation runs. (Nodes computing on
    constants only are folded, whatever they are.)"""
    graph = wrapper.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if not inputs:
        raise NnhlsError("the ONNX model has no input that is not an initializer")
    for value_info in inputs:
        dims = value_info.type.tensor_type.shape.dim
        if len(dims) < 2:
            raise NnhlsError(f"input {value_info.name!r} has {len(dims)} axes; nnhls reads inputs with a batch axis "
                             "first and at least one axis more, e.g. (N, 64) or (N, 1, 8, 8)")
        for dim in dims[1:]:
            if not dim.HasField("dim_value") or dim.dim_value < 1:
                raise NnhlsError(f"input {value_info.name!r} has the size {dim.dim_param or '?'!s} on an axis after "
                                 "the batch axis; nnhls needs every size but the batch size: export the model with "
                                 "a fixed input shape")
    from_inputs = {i.name for i in inputs}
    for node in graph.node:
        if any(name in from_inputs for name in node.input) and _handler_key(node) not in _SHAPE_ONLY:
            from_inputs.update(node.output)
            if _handler_key(node) not in _HANDLERS and _handler_key(node) not in _REWRITTEN:
                raise NnhlsError(f"{_where(node)} is not supported; supported ONNX ops: {', '.join(supported_ops())}")


def _set_batch_size(wrapper, batch_size: int):
    """The model with every input's and output's batch axis `batch_size`, and constant Reshape
    shapes with it (inferred shapes are dropped, but in a model with qonnx's channels-last nodes;
    shape inference gives them again)."""
    from qonnx.transformation.change_batchsize import ChangeBatchSize

    def batch_axes(model):
        graph = model.graph
        initializers = {t.name for t in graph.initializer}
        values = [value for value in graph.input if value.name not in initializers] + list(graph.output)
        return [value.type.tensor_type.shape.dim for value in values]

    if any(not d for d in batch_axes(wrapper)):  # an output declared without a shape: inference gives it
        from qonnx.transformation.infer_shapes import InferShapes

        wrapper = _transformed(wrapper, lambda w: w.transform(InferShapes()), "shape inference")
    if all(len(d) and d[0].HasField("dim_value") and d[0].dim_value == batch_size for d in batch_axes(wrapper)):
        return wrapper
    # qonnx's channels-last nodes infer their shapes from their inputs' shapes only: the shapes of
    # the tensors computed are kept, with the new batch size.
    initializers = {t.name for t in wrapper.graph.initializer}
    kept = [copy.deepcopy(v) for v in wrapper.graph.value_info
            if v.name not in initializers and v.type.tensor_type.shape.dim] \
        if any(node.domain == _CHANNELS_LAST_DOMAIN for node in wrapper.graph.node) else []
    wrapper = wrapper.transform(ChangeBatchSize(batch_size))  # the first input and output, and Reshape shapes
    wrapper.graph.value_info.extend(kept)
    kept = wrapper.graph.value_info[len(wrapper.graph.value_info) - len(kept):]
    for d in batch_axes(wrapper) + [v.type.tensor_type.shape.dim for v in kept]:
        if len(d):
            d[0].ClearField("dim_param")
            d[0].dim_value = batch_size
    return wrapper


# ---------------------------------------------------------------------------------------------
# Reading


def read_onnx(model, channels_last_conversion: str = "full", transpose_outputs: bool = False) -> Graph:
    """Read an ONNX or QONNX model (an onnx.ModelProto, a .onnx path or a qonnx ModelWrapper) into a Graph.

    `channels_last_conversion` and `transpose_outputs` as for PyTorch (docs/pytorch.md): with
    'full' the design takes ONNX's layout, with 'internal' channels-last inputs.
    """
    conversion = checked_layout_settings(channels_last_conversion, transpose_outputs)
    prepared = prepare(model)
    reader = _Reader(prepared, conversion, transpose_outputs)
    reader.read_all()
    name = prepared.graph.name or "onnx_model"
    graph = Graph(reader.nodes, reader.outputs, name=name)
    fold_transposes(graph)
    fold_scales_into_staircases(graph)
    return graph


# A node's name and inputs in the model as given, kept in its doc_string (which qonnx's
# transformations keep with the node) so that errors about the prepared graph name them too.
_ORIGIN_TAG = "nnhls origin: "


def _remember_origins(wrapper) -> None:
    for node in wrapper.graph.node:
        node.doc_string = _ORIGIN_TAG + json.dumps([node.name, list(node.input), list(node.output)])


def _separate_repeated_inputs(wrapper) -> None:
    """A node reading one tensor more than once (Mul(x, x)) reads the repeats through Identity
    nodes: qonnx's tensor renaming renames only the first use of a name in a node's inputs."""
    from onnx import helper

    graph = wrapper.graph
    index = 0
    while index < len(graph.node):
        node = graph.node[index]
        seen = set()
        for position, name in enumerate(node.input):
            if name and name in seen:
                copy_name = wrapper.make_new_valueinfo_name()
                graph.node.insert(index, helper.make_node("Identity", [name], [copy_name]))
                index += 1
                node = graph.node[index]
                node.input[position] = copy_name
            seen.add(name)
        index += 1


def _outputs_computed(wrapper) -> None:
    """A graph output that is a graph input (a model of no nodes, or one passing an input through)
    is written by an Identity node: qonnx's renaming needs every output computed by a node."""
    from onnx import helper

    graph = wrapper.graph
    inputs = {i.name for i in graph.input}
    for output in graph.output:
        if output.name in inputs:
            source = output.name
            output.name = wrapper.make_new_valueinfo_name()
            graph.node.append(helper.make_node("Identity", [source], [output.name]))


def _node_name(name: str, outputs) -> str:
    return repr(name) if name else f"writing {outputs[0]!r}" if outputs else "(unnamed)"


def _where(node) -> str:
    where = f"ONNX node {_node_name(node.name, node.output)} ({node.op_type}" \
            f"{'' if not node.domain else ', ' + node.domain}, inputs {list(node.input)})"
    if node.doc_string.startswith(_ORIGIN_TAG):
        name, inputs, outputs = json.loads(node.doc_string[len(_ORIGIN_TAG):])
        if (name, inputs) != (node.name, list(node.input)):
            where += f" (in the model as given: node {_node_name(name, outputs)}, inputs {inputs})"
    return where


def _handler_key(node) -> tuple[str, str]:
    """(op type, 'channels_last', 'qonnx' or '') by which a node's reader is found."""
    if node.domain in ("", "ai.onnx"):
        return node.op_type, ""
    if node.domain == _CHANNELS_LAST_DOMAIN:
        return node.op_type, "channels_last"
    if node.domain in _QONNX_DOMAINS or node.domain.startswith("qonnx.custom_op"):
        return node.op_type, "qonnx"
    return node.op_type, node.domain


def _attributes(node) -> dict:
    from onnx import helper

    values = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        values[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return values


class _Reader(LayoutReader):
    """Turns the prepared graph's nodes into IR nodes, remembering which value each tensor is."""

    def __init__(self, model, conversion: str, transpose_outputs: bool):
        graph = model.graph
        super().__init__({n.name for n in graph.node} | {i.name for i in graph.input}, conversion, transpose_outputs)
        self.model = model
        self.opset = self.domain_version("", default=13)
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.graph_outputs = {o.name for o in graph.output}
        self.fused: set[str] = set()  # nodes read with the node before them (an Add after a MatMul)

    def where(self, node) -> str:
        return _where(node)

    def shape(self, tensor: str) -> tuple[int, ...]:
        """An ONNX tensor's shape without the batch axis."""
        shape = self.model.get_tensor_shape(tensor)
        if shape is None or not shape or any(not isinstance(d, int) or d < 1 for d in shape):
            raise NnhlsError(f"the shape of tensor {tensor!r} is not known ({shape}) after qonnx's shape inference")
        if shape[0] != 1:
            raise NnhlsError(f"tensor {tensor!r} has the shape {tuple(shape)}, whose first axis is not the batch "
                             "axis; nnhls keeps the batch axis first")
        return tuple(shape[1:])

    def read_all(self) -> None:
        graph = self.model.graph
        for initializer in graph.initializer:
            self.values[initializer.name] = _Constant(self.model.get_initializer(initializer.name)
                                                      .astype(np.float64, copy=False))
        initializers = {t.name for t in graph.initializer}
        for value_info in graph.input:
            if value_info.name not in initializers:
                value = self.input(value_info.name, self.shape(value_info.name))
                self.values[value_info.name] = value
                self.bind(value_info.name, value)
        for node in graph.node:
            if node.name not in self.fused:
                self.read(node)
        for output in graph.output:
            value = self.values.get(output.name)
            if not isinstance(value, _Value):
                raise NnhlsError(f"the model's output {output.name!r} is a constant; nnhls reads models whose outputs "
                                 "are computed from their inputs")
            self.output(value, f"the model's output {output.name!r}")

    def read(self, node) -> None:
        inputs = [self.values[name] if name else None for name in node.input]
        for name in node.output[1:]:
            if name and (name in self.consumers or name in self.graph_outputs):
                raise NnhlsError(f"{_where(node)}: its output {name!r} is read; nnhls reads only the first output of "
                                 f"{node.op_type}")
        if not any(isinstance(value, _Value) for value in inputs):
            self.values[node.output[0]] = _constant_node(self, node, inputs)
            return
        handler = _HANDLERS.get(_handler_key(node))
        if handler is None:
            raise NnhlsError(f"{_where(node)} is not supported; supported ONNX ops: {', '.join(supported_ops())}")
        value = handler(self, node, inputs, _attributes(node))
        self.values[node.output[0]] = value
        self.bind(node.output[0], value)

    def domain_version(self, domain: str, default: int = 1) -> int:
        """The version of `domain` the model imports ("" and "ai.onnx" are ONNX's own); `default`
        where it imports none (1: QONNX's)."""
        domains = ("", "ai.onnx") if domain in ("", "ai.onnx") else (domain,)
        return next((o.version for o in self.model.model.opset_import if o.domain in domains), default)

    def constant(self, value, node, what: str) -> _Constant:
        if not isinstance(value, _Constant):
            raise NnhlsError(f"{_where(node)}: {what} must be a constant (an initializer), not computed from the "
                             "model's inputs")
        return value


# ---------------------------------------------------------------------------------------------
# Constants


def _constant_node(reader: _Reader, node, inputs: list) -> _Constant:
    """A node computing on constants only: quantizers exactly (their codes kept), shape changes of
    quantized constants keeping their codes, anything else as ONNX's reference evaluator computes it."""
    key = _handler_key(node)
    attrs = _attributes(node)
    if key[1] == "qonnx" and key[0] in ("Quant", "IntQuant"):
        return _quantized_constant(node, inputs, attrs)
    if key == ("BipolarQuant", "qonnx"):
        x, scale = inputs[0].values.astype(np.float32), _parameter(inputs[1], node, "scale")
        levels = np.where(x >= 0, 1.0, -1.0)
        full = np.broadcast_to(scale, x.shape).astype(np.float64)
        return _Quantized((levels * full).astype(np.float32).astype(np.float64), levels, full)
    if key[1] == "" and key[0] in ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity") \
            and isinstance(inputs[0], _Quantized):
        def moved(array):
            if key[0] == "Transpose":
                return np.transpose(array, attrs.get("perm"))
            return array.reshape(reader.model.get_tensor_shape(node.output[0]))

        q = inputs[0]
        return _Quantized(moved(q.values), moved(q.levels), moved(q.scale))
    if key[1] != "":
        raise NnhlsError(f"{_where(node)} computes on constants an op that nnhls does not evaluate")
    from onnx.reference import ReferenceEvaluator

    feeds = {}
    for name, value in zip(node.input, inputs):
        if name:
            feeds[name] = reader.model.get_initializer(name) if reader.model.get_initializer(name) is not None \
                else value.values.astype(np.float32)
    try:
        result = ReferenceEvaluator(node).run(None, feeds)[0]
    except Exception as error:  # noqa: BLE001  (the evaluator's own error, named)
        raise NnhlsError(f"{_where(node)}: ONNX's reference evaluator cannot compute it on its constants: "
                         f"{type(error).__name__}: {error}") from None
    return _Constant(np.asarray(result).astype(np.float64))


def _parameter(value, node, what: str) -> np.ndarray:
    """A quantizer's parameter (scale, zero point, bit width): a constant, as float32."""
    if not isinstance(value, _Constant):
        raise NnhlsError(f"{_where(node)}: its {what} is computed from the model's inputs; nnhls needs quantizers "
                         "with constant parameters")
    return np.asarray(value.values, dtype=np.float32)


@dataclass(frozen=True)
class _QuantFields:
    scale: np.ndarray  # float32
    zero_point: np.ndarray  # float32
    bit_width: int
    signed: bool
    narrow: bool
    rounding: str


def _quant_fields(node, inputs: list, attrs: dict) -> _QuantFields:
    if len(inputs) != 4 or any(v is None for v in inputs):
        raise NnhlsError(f"{_where(node)} has {len(inputs)} inputs; QONNX's Quant takes x, scale, zero point and "
                         "bit width")
    scale = _parameter(inputs[1], node, "scale")
    zero_point = _parameter(inputs[2], node, "zero point")
    bit_width = _parameter(inputs[3], node, "bit width")
    if bit_width.size != 1 or float(bit_width.reshape(-1)[0]) != round(float(bit_width.reshape(-1)[0])):
        raise NnhlsError(f"{_where(node)} has the bit width {bit_width.tolist()}; nnhls reads one whole number of bits")
    width = int(round(float(bit_width.reshape(-1)[0])))
    rounding = str(attrs.get("rounding_mode", "ROUND")).upper()
    if rounding not in ROUNDINGS:
        raise NnhlsError(f"{_where(node)} rounds with {rounding!r}; QONNX's roundings are {', '.join(ROUNDINGS)}")
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise NnhlsError(f"{_where(node)} has the scale {scale.tolist()}; nnhls reads positive finite scales")
    if not np.array_equal(zero_point, np.rint(zero_point)):
        raise NnhlsError(f"{_where(node)} has the zero point {zero_point.tolist()}; it must hold integers")
    if not 1 <= width <= MAX_BIT_WIDTH:
        raise NnhlsError(f"{_where(node)} has {width} bits; nnhls reads quantizers of 1 to {MAX_BIT_WIDTH} bits "
                         "(float32 holds their codes exactly)")
    return _QuantFields(scale, zero_point, width, bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0)),
                        rounding)


def _qonnx_codes(x: np.ndarray, fields: _QuantFields) -> np.ndarray:
    """QONNX's integer q for float32 `x`, in its float32 arithmetic (qonnx's int_quant, before the
    zero point is taken off): a signed 1-bit quantizer is bipolar (1 where x / s + z >= 0, else -1)."""
    if fields.bit_width == 1 and fields.signed:
        scaled = scaled_float32(x, fields.scale, fields.zero_point)
        return np.where(scaled >= 0, np.float32(1), np.float32(-1))
    return int_codes(x, fields.scale, fields.zero_point, *_range(fields), fields.rounding)


def _range(fields: _QuantFields) -> tuple[int, int]:
    if fields.bit_width == 1 and fields.signed:
        return -1, 1
    return int_range(fields.bit_width, fields.signed, fields.narrow)


def _quantized_constant(node, inputs: list, attrs: dict) -> _Quantized:
    fields = _quant_fields(node, inputs, attrs)
    x = inputs[0].values.astype(np.float32)
    q = _qonnx_codes(x, fields)
    levels = (q - fields.zero_point).astype(np.float32)
    values = (levels * fields.scale).astype(np.float32)
    scale = np.broadcast_to(fields.scale, values.shape).astype(np.float64)
    return _Quantized(values.astype(np.float64), np.broadcast_to(levels, values.shape).astype(np.float64), scale)


def _is_power_of_two(values: np.ndarray) -> bool:
    values = np.asarray(values, dtype=np.float64)
    mantissa, _ = np.frexp(values)
    return bool(np.all(values > 0) and np.all(mantissa == 0.5))


def _layer_weights(constant: _Constant, out_axis: int, node) -> tuple[np.ndarray, object, np.ndarray | None]:
    """A Dense's or Conv's weights (in ONNX's layout): the numbers the layer multiplies by, their
    exact type (None for float weights, which take the configured weight precision), and the scale
    per output channel that turns products of codes into values (None: the numbers are values).

    Quantized weights with power-of-two scales are their values, exactly; with other scales, their
    integer codes, which must then share one scale along every axis but the output channel's."""
    if not isinstance(constant, _Quantized):
        return constant.values, None, None
    if _is_power_of_two(constant.scale):
        values = constant.levels * constant.scale  # exact: an integer times a power of two
        return values, exact_type(values), None
    scales = np.moveaxis(constant.scale, out_axis, 0).reshape(constant.scale.shape[out_axis], -1)
    if not np.all(scales == scales[:, :1]):
        raise NnhlsError(f"{_where(node)}: its weights' quantizer has scales that vary along an input axis; nnhls "
                         "reads weight scales per tensor or per output channel")
    return constant.levels, exact_type(constant.levels), scales[:, 0].copy()


def _bias_values(value, n_out: int, node) -> tuple[np.ndarray, bool] | None:
    """A bias constant as n_out values and whether it is quantized (exact), or None."""
    if value is None:
        return None
    if not isinstance(value, _Constant):
        raise NnhlsError(f"{_where(node)}: its bias is computed from the model's inputs; nnhls needs a constant")
    values = np.asarray(value.values, dtype=np.float64).reshape(-1)
    if values.size not in (1, n_out):
        raise NnhlsError(f"{_where(node)} has {values.size} biases for {n_out} outputs")
    return np.broadcast_to(values, (n_out,)).copy(), isinstance(value, _Quantized)


# ---------------------------------------------------------------------------------------------
# Dense layers and convolutions


def _scaled(reader: _Reader, name: str, layer: _Value, scale: np.ndarray | None, bias, framework_class: str) -> _Value:
    """A layer's products of codes times `scale` (per output channel), plus the bias (QONNX's
    float32 values): one ScaleShift, exactly."""
    channels = layer.ir_shape[-1]
    shift = zero_weights(channels) if bias is None else exact_weights(bias[0])
    out_name = reader.fresh(f"{name}_scale")
    reader.add(ScaleShift(out_name, [layer.node], layer.ir_shape, scale=exact_weights(np.broadcast_to(scale, (channels,))),
                          shift=shift), framework_class)
    return _Value(out_name, layer.shape, layer.axes)


def _layer_bias(bias, n_out: int) -> Weights:
    if bias is None:
        return zero_weights(n_out)
    values, quantized = bias
    return exact_weights(values) if quantized else Weights(values)


def _output_scale(x: _Value, weight_scale: np.ndarray | None) -> np.ndarray | None:
    if x.scale is None and weight_scale is None:
        return None
    scale = np.asarray(1.0 if weight_scale is None else weight_scale, dtype=np.float64)
    return scale * (1.0 if x.scale is None else x.scale)  # exact: two float32 significands fit in float64's


def _fused_bias(reader: _Reader, node, n_out: int):
    """The constant an Add right after a MatMul adds (its only reader), read as the Dense's bias."""
    readers = reader.consumers.get(node.output[0], [])
    if len(readers) != 1 or node.output[0] in reader.graph_outputs:
        return None, None
    add = readers[0]
    if _handler_key(add) != ("Add", "") or len(add.input) != 2:
        return None, None
    other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
    constant = reader.values.get(other)
    if not isinstance(constant, _Constant) or constant.values.size not in (1, n_out) or \
            (constant.values.ndim and constant.values.shape[-1] != constant.values.size) or constant.values.ndim > 2:
        return None, None
    return _bias_values(constant, n_out, add), add


def _matmul(reader: _Reader, node, inputs, attrs) -> _Value:
    where = reader.where(node)
    a, b = inputs
    if not isinstance(b, _Constant):
        raise NnhlsError(f"{where} multiplies by a tensor computed from the model's inputs; nnhls reads x @ W with "
                         "a constant W")
    x = reader.tensor(a, where)
    if b.values.ndim != 2:
        raise NnhlsError(f"{where} multiplies by a constant of shape {b.values.shape}; nnhls reads a 2-D W")
    kernel, kernel_type, weight_scale = _layer_weights(b, 1, node)
    n_in, n_out = kernel.shape
    bias, add = _fused_bias(reader, node, n_out)
    scale = _output_scale(x, weight_scale)
    name = node.name
    weights = Weights(np.ascontiguousarray(kernel), quantizer=kernel_type)
    layer_bias = zero_weights(n_out) if scale is not None else _layer_bias(bias, n_out)
    out = _dense(reader, name, x, weights, layer_bias, "MatMul")
    if scale is not None:
        out = _scaled(reader, name, out, scale, bias, "MatMul")
    if add is not None:
        reader.fused.add(add.name)
        reader.values[add.output[0]] = out
        reader.bind(add.output[0], out)
    return out


def _pads(attrs: dict, spatial: int, in_sizes: tuple[int, ...], kernel, strides, dilations, where: str):
    """ONNX's pads ([begin..., end...]) or auto_pad as ((top, bottom), (left, right))."""
    auto_pad = str(attrs.get("auto_pad", "NOTSET")).upper()
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for n, k, s, d in zip(in_sizes, kernel, strides, dilations):
            total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
            small = total // 2
            pads.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
    elif auto_pad == "VALID":
        pads = [(0, 0)] * spatial
    elif auto_pad == "NOTSET":
        values = list(attrs.get("pads", [0] * 2 * spatial))
        if len(values) != 2 * spatial or any(p < 0 for p in values):
            raise NnhlsError(f"{where} has pads={values}; nnhls reads {2 * spatial} non-negative pads")
        pads = [(values[i], values[i + spatial]) for i in range(spatial)]
    else:
        raise NnhlsError(f"{where} has auto_pad={auto_pad!r}, which is not ONNX's")
    return ((0, 0), pads[0]) if spatial == 1 else (pads[0], pads[1])


def _ints(attrs: dict, key: str, spatial: int, default: int, where: str) -> tuple[int, int]:
    """An attribute of `spatial` ints as (height, width); a 1-D layer's height is `default`."""
    values = list(attrs.get(key, [default] * spatial))
    if len(values) != spatial or not all(isinstance(v, int) and v >= 1 for v in values):
        raise NnhlsError(f"{where} has {key}={values}; nnhls reads {spatial} positive ints")
    return (default, values[0]) if spatial == 1 else (values[0], values[1])


def _image(reader: _Reader, x: _Value, spatial: int, channels_last: bool, where: str):
    """`x` held channels-last and its (height, width, channels): a channels-last node's input is
    ONNX's (L, C) or (H, W, C) as it is; a channels-first node's is (C, L) or (C, H, W)."""
    if not channels_last:
        return _spatial_input(reader, x, spatial, where)
    if x.rank != spatial + 1:
        raise NnhlsError(f"{where} reads a tensor of shape {x.shape} (without the batch axis); nnhls supports it on "
                         f"{spatial + 1}-axis inputs")
    x = reader.in_order(x, tuple(range(x.rank)), where)
    return x, ((1, *x.ir_shape) if spatial == 1 else tuple(x.ir_shape))


def _image_value(name: str, window: Window, spatial: int, channels: int, channels_last: bool, scale=None) -> _Value:
    if channels_last:
        shape = (window.out_w, channels) if spatial == 1 else (window.out_h, window.out_w, channels)
        return _Value(name, shape, tuple(range(len(shape))), scale)
    shape = (channels, window.out_w) if spatial == 1 else (channels, window.out_h, window.out_w)
    return _Value(name, shape, _channels_last(len(shape)), scale)


def _conv(reader: _Reader, node, inputs, attrs, channels_last: bool = False) -> _Value:
    where = reader.where(node)
    x, weight, bias = (list(inputs) + [None])[:3]
    x = reader.tensor(x, where)
    weight = reader.constant(weight, node, "its weight")
    spatial = weight.values.ndim - 2
    if spatial not in (1, 2):
        raise NnhlsError(f"{where} has a weight of shape {weight.values.shape}; nnhls reads 1-D and 2-D convolutions")
    kernel_values, kernel_type, weight_scale = _layer_weights(weight, 0, node)
    if channels_last:  # qonnx's channels-last Conv: (out, kh, kw, in / groups) or (out, k, in / groups)
        w = kernel_values if spatial == 2 else kernel_values[:, None, :, :]
        canonical = np.ascontiguousarray(w.transpose(1, 2, 3, 0))
    else:
        canonical = _canonical_kernel(kernel_values, spatial)
    x, (in_h, in_w, channels) = _image(reader, x, spatial, channels_last, where)
    kernel = (canonical.shape[0], canonical.shape[1])
    declared = attrs.get("kernel_shape")
    if declared is not None and tuple(declared) != kernel[2 - spatial:]:
        raise NnhlsError(f"{where} has kernel_shape={list(declared)} and weights of {kernel[2 - spatial:]}")
    strides = _ints(attrs, "strides", spatial, 1, where)
    dilations = _ints(attrs, "dilations", spatial, 1, where)
    pads = _pads(attrs, spatial, (in_h, in_w)[2 - spatial:], kernel[2 - spatial:], strides[2 - spatial:],
                 dilations[2 - spatial:], where)
    window = _checked_window(Window(in_h, in_w, channels, *kernel, *strides, *pads[0], *pads[1], *dilations), where)
    groups = int(attrs.get("group", 1))
    filters = canonical.shape[-1]
    if channels % groups or canonical.shape[2] * groups != channels:
        raise NnhlsError(f"{where} has group={groups} and weights for {canonical.shape[2] * groups} input channels; "
                         f"its input has {channels}")
    bias_values = _bias_values(bias, filters, node)
    scale = _output_scale(x, weight_scale)
    name = node.name
    layer_bias = zero_weights(filters) if scale is not None else _layer_bias(bias_values, filters)
    out = _image_value(name, window, spatial, filters, channels_last)
    reader.add(Conv(name, [x.node], out.ir_shape, weight=Weights(canonical, quantizer=kernel_type), bias=layer_bias,
                    window=window, in_shape=x.ir_shape, groups=groups), "Conv")
    if scale is not None:
        out = _scaled(reader, name, out, scale, bias_values, "Conv")
    return out


def _batchnorm(reader: _Reader, node, inputs, attrs, channels_last: bool = False) -> _Value:
    where = reader.where(node)
    x = reader.real(reader.tensor(inputs[0], where))
    if attrs.get("training_mode", 0):
        raise NnhlsError(f"{where} has training_mode=1; nnhls reads inference graphs (the running statistics)")
    gamma, beta, mean, variance = (reader.constant(v, node, what).values.reshape(-1) for v, what in
                                   zip(inputs[1:5], ("its scale", "its bias", "its mean", "its variance")))
    if x.rank not in (1, 2, 3):
        raise NnhlsError(f"{where} reads a tensor of shape {x.shape}; nnhls supports (C,), (C, L) and (C, H, W)")
    if channels_last or x.rank == 1:
        x = reader.in_order(x, tuple(range(x.rank)), where)
        channels = x.shape[-1]
    else:
        x = reader.channels_last(x, where)
        channels = x.shape[0]
    if gamma.size != channels:
        raise NnhlsError(f"{where} has {gamma.size} scales for {channels} channels")
    name = node.name
    reader.add(BatchNorm(name, [x.node], x.ir_shape, gamma=gamma, beta=beta, mean=mean, variance=variance,
                         epsilon=float(np.float32(attrs.get("epsilon", 1e-5)))), "BatchNormalization")
    return _Value(name, x.shape, x.axes)


# ---------------------------------------------------------------------------------------------
# Quantizers on tensors


def _quant(reader: _Reader, node, inputs, attrs) -> _Value:
    """QONNX's Quant on a tensor: a conversion into the FixedType of its bits where the scale is a
    power of two, the zero point 0 and the rounding one of ap_fixed's; a staircase onto its
    integer codes (the value then carries the scale) otherwise."""
    where = reader.where(node)
    fields = _quant_fields(node, inputs, attrs)
    if np.unique(fields.scale).size != 1 or np.unique(fields.zero_point).size != 1:
        raise NnhlsError(f"{where} quantizes a tensor with a scale or zero point per channel; nnhls reads "
                         "activation quantizers with one scale and zero point (per tensor)")
    fields = replace(fields, scale=fields.scale.reshape(-1)[0].reshape(()),
                     zero_point=fields.zero_point.reshape(-1)[0].reshape(()))
    x = reader.real(reader.tensor(inputs[0], where))
    scale = float(fields.scale)
    bipolar = fields.bit_width == 1 and fields.signed
    mode = _CAST_ROUNDINGS.get(fields.rounding)
    if fields.rounding == "HALF_UP" and fields.bit_width > MAX_STAIRCASE_BIT_WIDTH:
        mode = "RND_INF"  # too many levels for a staircase: the conversion, off at x / s = +-(0.5 - 2**-25) only
    if (_is_power_of_two(fields.scale) and float(fields.zero_point) == 0 and mode is not None and not bipolar
            and not (fields.narrow and not fields.signed)):
        exponent = int(np.frexp(scale)[1]) - 1
        overflow = "SAT_SYM" if fields.narrow else "SAT"
        result = FixedType(fields.bit_width, fields.bit_width + exponent, fields.signed, mode, overflow)
        name = node.name
        reader.add(Activation(name, [x.node], x.ir_shape, function="linear", result_quantizer=result), "Quant")
        return _Value(name, x.shape, x.axes)
    if fields.bit_width > MAX_STAIRCASE_BIT_WIDTH:
        raise NnhlsError(f"{where}: a {fields.bit_width}-bit quantizer with the scale {scale} and zero point "
                         f"{float(fields.zero_point)} would be a staircase of too many levels (at most "
                         f"{MAX_STAIRCASE_BIT_WIDTH} bits); nnhls converts into a fixed-point type only with a "
                         "power-of-two scale and zero point 0")
    low, high = _range(fields)
    candidates = np.array([-1.0, 1.0]) if bipolar else np.arange(low, high + 1, dtype=np.float64)
    thresholds, codes = staircase_of(lambda v: _qonnx_codes(v, fields), candidates, where)
    _check_staircase(node, inputs, attrs, thresholds, codes, fields)
    levels = codes - float(fields.zero_point)
    return _step(reader, node, x, thresholds, levels, scale, "Quant")


def _step(reader: _Reader, node, x: _Value, thresholds, levels, scale: float, framework_class: str) -> _Value:
    """A staircase onto `levels`; the value is `levels * scale` (the levels themselves where the
    scale is a power of two: they are then exact binary fractions)."""
    levels = np.asarray(levels, dtype=np.float64)
    value_scale = scale
    if _is_power_of_two(np.asarray(scale)):
        levels, value_scale = levels * scale, None
    levels_type = exact_type(levels)
    name = node.name
    reader.add(Step(name, [x.node], x.ir_shape, staircase_of=f"{node.op_type} {node.name}",
                    thresholds=np.asarray(thresholds, dtype=np.float64),
                    levels=Weights(levels, quantizer=levels_type), result_quantizer=levels_type), framework_class)
    return _Value(name, x.shape, x.axes, value_scale)


def _check_staircase(node, inputs, attrs, thresholds, codes, fields: _QuantFields) -> None:
    """qonnx's own Quant, on both sides of every threshold, computes what the staircase gives: by
    monotonicity it then does on every float32 input."""
    from qonnx.custom_op.general.quant import quant

    probe = np.concatenate([thresholds.astype(np.float32), float32_below(thresholds.astype(np.float32)),
                            np.array([-np.inf, 0.0, np.inf], dtype=np.float32)])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        expected = quant(probe, fields.scale, fields.zero_point, np.float32(fields.bit_width), fields.signed,
                         fields.narrow, _QONNX_ROUNDING_NAMES.get(fields.rounding, fields.rounding))
    ours = codes[np.searchsorted(thresholds, probe.astype(np.float64), side="right")]
    ours = ((ours.astype(np.float32) - fields.zero_point) * fields.scale).astype(np.float32)
    if not np.array_equal(np.asarray(expected, dtype=np.float32), ours):
        raise NnhlsError(f"{_where(node)}: qonnx's Quant does not compute what nnhls reads it as; this quantizer is "
                         "not supported")


def _bipolar_quant(reader: _Reader, node, inputs, attrs) -> _Value:
    """QONNX's BipolarQuant: +scale where x >= 0, -scale elsewhere."""
    where = reader.where(node)
    scale = _parameter(inputs[1], node, "scale")
    if scale.size != 1 or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise NnhlsError(f"{where} has the scale {scale.tolist()}; nnhls reads one positive scale per tensor")
    x = reader.real(reader.tensor(inputs[0], where))
    return _step(reader, node, x, np.array([0.0]), np.array([-1.0, 1.0]), float(scale.reshape(-1)[0]), "BipolarQuant")


def _reachable_range(reader: _Reader, x: _Value) -> tuple[np.float32, np.float32] | None:
    """float32 bounds of the values `x` takes where it is a staircase's output (its levels, times
    the scale the value carries), rounded outward; None where `x` is no staircase's output."""
    step = reader.by_name.get(x.node)
    if not isinstance(step, Step) or step.per_channel:
        return None
    levels = np.asarray(step.levels.values, dtype=np.float64) * (1.0 if x.scale is None else x.scale)
    low, high = np.float32(levels.min()), np.float32(levels.max())
    return (np.nextafter(low, np.float32(-np.inf)) if low > levels.min() else low,
            np.nextafter(high, np.float32(np.inf)) if high < levels.max() else high)


def _trunc(reader: _Reader, node, inputs, attrs) -> _Value:
    """QONNX's Trunc: the input's codes shifted right onto fewer bits. It is monotonic in its input,
    so a staircase whose thresholds are where qonnx's own float32 computation steps."""
    from qonnx.custom_op.general.trunc import trunc_v1, trunc_v2

    where = reader.where(node)
    source = reader.tensor(inputs[0], where)
    reach = _reachable_range(reader, source)
    x = reader.real(source)
    params = [_parameter(v, node, what) for v, what in
              zip(inputs[1:], ("scale", "zero point", "input bit width", "output scale", "output bit width"))]
    if any(p.size != 1 for p in params):
        raise NnhlsError(f"{where} has parameters per channel; nnhls reads Trunc with one of each")
    params = [p.reshape(()) for p in params]
    rounding = str(attrs.get("rounding_mode", "FLOOR")).upper()
    if rounding not in ROUNDINGS:
        raise NnhlsError(f"{where} rounds with {rounding!r}; QONNX's roundings are {', '.join(ROUNDINGS)}")
    signed, narrow = bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0))
    rounding = _QONNX_ROUNDING_NAMES.get(rounding, rounding)
    version = reader.domain_version(node.domain)
    if len(params) != (5 if version >= 2 else 4):
        # QONNX executes the Trunc of the version the model imports, whatever its inputs.
        raise NnhlsError(f"{where} has {len(inputs)} inputs, but the model imports {node.domain!r} at version "
                         f"{version}, whose Trunc takes {6 if version >= 2 else 5}: import it at version 2 for a "
                         "Trunc with an output scale and bit width (6 inputs, as Brevitas exports), 1 for 5 inputs")
    if len(params) == 5:  # Trunc v2: an output scale and bit width
        scale, zero_point, in_bits, out_scale, out_bits = params
        out_scale = float(out_scale)

        def function(v):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                y = trunc_v2(np.asarray(v, dtype=np.float32), scale, zero_point, in_bits, narrow, signed,
                             np.float32(out_scale), out_bits, rounding)
            return np.asarray(y, dtype=np.float64) / out_scale
    elif len(params) == 4:  # Trunc v1: the input's scale throughout
        scale, zero_point, in_bits, out_bits = params
        out_scale = float(scale)

        def function(v):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                y = trunc_v1(np.asarray(v, dtype=np.float32), scale, zero_point, in_bits, out_bits, rounding)
            return np.asarray(y, dtype=np.float64) / out_scale
    else:
        raise NnhlsError(f"{where} has {len(inputs)} inputs; QONNX's Trunc takes 5 (v1) or 6 (v2)")
    if reach is not None:  # the input takes values in [low, high] only: the Trunc of the rest never matters
        def function(v, computed=function, low=reach[0], high=reach[1]):
            return computed(np.clip(np.asarray(v, dtype=np.float32), low, high))
    if not np.isfinite(out_scale) or out_scale <= 0 or float(out_bits) > MAX_STAIRCASE_BIT_WIDTH:
        raise NnhlsError(f"{where} has the output scale {out_scale} and {float(out_bits)} output bits; nnhls reads "
                         f"a positive scale and at most {MAX_STAIRCASE_BIT_WIDTH} bits")
    # The outputs, in output-scale units, over every float32 input: the distinct values at probes
    # spread over the range in which they change.
    keys = np.linspace(-KEY_OF_INFINITY, KEY_OF_INFINITY, 1 << 16).astype(np.int64)
    outputs = np.unique(function(float32_of_keys(keys)))
    outputs = outputs[np.isfinite(outputs)]
    low, high = outputs[0], outputs[-1]
    if high - low > 2 ** MAX_STAIRCASE_BIT_WIDTH:  # Trunc v1 clamps nothing
        raise NnhlsError(f"{where} reaches {high - low + 1:.0f} output levels on its input's range; nnhls reads Trunc "
                         f"of at most {2 ** MAX_STAIRCASE_BIT_WIDTH} (Trunc v1, which does not clamp, after a "
                         "quantizer such as a Quant of its input bit width)")
    step = 1.0
    candidates = np.unique(np.concatenate([outputs, np.arange(low, high + step, step)]))
    candidates = candidates[(candidates >= low) & (candidates <= high)]
    thresholds, levels = staircase_of(function, candidates, where)
    probe = np.concatenate([thresholds.astype(np.float32), float32_below(thresholds.astype(np.float32))])
    got = levels[np.searchsorted(thresholds, probe.astype(np.float64), side="right")]
    if not np.array_equal(got, function(probe)):
        raise NnhlsError(f"{where}: qonnx's Trunc is not a staircase nnhls can read; it is not supported")
    return _step(reader, node, x, thresholds, levels, out_scale, "Trunc")


# ---------------------------------------------------------------------------------------------
# Activations


def _float_attribute(attrs: dict, key: str, default: float) -> float:
    return float(np.float32(attrs.get(key, default)))


def _selu(reader: _Reader, node, inputs, attrs) -> _Value:
    alpha, gamma = _float_attribute(attrs, "alpha", SELU_ALPHA), _float_attribute(attrs, "gamma", SELU_SCALE)
    if (alpha, gamma) != (float(np.float32(SELU_ALPHA)), float(np.float32(SELU_SCALE))):
        raise NnhlsError(f"{reader.where(node)} has alpha={alpha}, gamma={gamma}; nnhls computes SELU with its "
                         "standard constants (ONNX's defaults)")
    return _elementwise(reader, node, inputs[0], "selu", "Selu")


def _prelu(reader: _Reader, node, inputs, attrs) -> _Value:
    where = reader.where(node)
    x = reader.real(reader.tensor(inputs[0], where))
    slope = reader.constant(inputs[1], node, "its slope").values
    slope, x = _per_channel(reader, slope, x, where)
    name = node.name
    reader.add(ParametricRelu(name, [x.node], x.ir_shape, threshold=exact_weights(0.0),
                              slope=Weights(np.atleast_1d(slope))), "PRelu")
    return _Value(name, x.shape, x.axes)


def _hard_sigmoid(reader: _Reader, node, inputs, attrs) -> _Value:
    alpha, beta = _float_attribute(attrs, "alpha", 0.2), _float_attribute(attrs, "beta", 0.5)
    return _elementwise(reader, node, inputs[0], "hard_sigmoid", "HardSigmoid", slope=Weights(np.array([alpha])),
                        offset=exact_weights(beta))


def _softmax_node(reader: _Reader, node, inputs, attrs) -> _Value:
    x = reader.tensor(inputs[0], reader.where(node))
    axis = attrs.get("axis", -1 if reader.opset >= 13 else 1)
    if reader.opset < 13 and axis % (x.rank + 1) != x.rank:
        raise NnhlsError(f"{reader.where(node)}: before opset 13 a Softmax on axis {axis} normalizes over every axis "
                         "from it on; nnhls normalizes over one axis: the last one, or export with opset 13 or later")
    return _softmax(reader, node, x, axis, "Softmax")


def _clip_node(reader: _Reader, node, inputs, attrs) -> _Value:
    where = reader.where(node)
    if reader.opset >= 11:
        bounds = [None if v is None else float(reader.constant(v, node, "its bound").values.reshape(-1)[0])
                  for v in (list(inputs[1:3]) + [None, None])[:2]]
    else:
        bounds = [attrs.get("min"), attrs.get("max")]
    low, high = bounds
    if low is None or high is None:
        if high is None and low is not None:
            return _maximum_constant(reader, node, inputs[0], low)
        raise NnhlsError(f"{where} clips without a lower bound; nnhls reads Clip with both bounds, or a lower one")
    return _clip(reader, node, inputs[0], float(np.float32(low)), float(np.float32(high)), "Clip")


def _maximum_constant(reader: _Reader, node, x, c: float) -> _Value:
    """max(x, c): x where x > c, else c (the ReLU family's node)."""
    c = float(np.float32(c))
    if c == 0:
        return _relu_family(reader, node, x, "Max")
    return _relu_family(reader, node, x, "Max", threshold=c, min_input=c, min_value=c)


# ---------------------------------------------------------------------------------------------
# Pooling, padding, resizing


def _pool(reader: _Reader, node, inputs, attrs, function: str, channels_last: bool = False) -> _Value:
    where = reader.where(node)
    x = reader.tensor(inputs[0], where)
    kernel_attr = attrs.get("kernel_shape")
    if kernel_attr is None:
        raise NnhlsError(f"{where} has no kernel_shape")
    spatial = len(kernel_attr)
    if spatial not in (1, 2):
        raise NnhlsError(f"{where} pools over {spatial} axes; nnhls pools 1-D and 2-D inputs")
    if function == "average":
        x = reader.real(x)
    x, (in_h, in_w, channels) = _image(reader, x, spatial, channels_last, where)
    kernel = _ints(attrs, "kernel_shape", spatial, 1, where)
    strides = _ints(attrs, "strides", spatial, 1, where)
    if _ints(attrs, "dilations", spatial, 1, where) != (1, 1):
        raise NnhlsError(f"{where} has dilations={attrs.get('dilations')}; nnhls pools without dilation")
    (top, bottom), (left, right) = _pads(attrs, spatial, (in_h, in_w)[2 - spatial:], kernel[2 - spatial:],
                                         strides[2 - spatial:], (1,) * spatial, where)
    window = _pool_node(reader, node.name, x, (in_h, in_w, channels), spatial, function, kernel, strides,
                        (top, bottom, left, right), bool(attrs.get("ceil_mode", 0)),
                        bool(attrs.get("count_include_pad", 0)), node.op_type, where)
    return _image_value(node.name, window, spatial, channels, channels_last, x.scale)


def _global(reader: _Reader, node, inputs, attrs, function: str) -> _Value:
    where = reader.where(node)
    x = reader.tensor(inputs[0], where)
    if function == "average":
        x = reader.real(x)
    if x.rank not in (2, 3):
        raise NnhlsError(f"{where} pools a tensor of shape {x.shape}; nnhls pools (C, L) and (C, H, W)")
    return _global_pool(reader, node, x, x.rank - 1, function, 1, node.op_type)


def _reduce(reader: _Reader, node, inputs, attrs, function: str) -> _Value:
    """ReduceMean and ReduceMax over every spatial axis of (C, L) or (C, H, W): a global pooling
    (what torch.onnx.export writes for an adaptive pooling to one pixel or x.mean((2, 3)))."""
    where = reader.where(node)
    x = reader.tensor(inputs[0], where)
    if function == "average":
        x = reader.real(x)
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:  # an input since opset 18
        axes = reader.constant(inputs[1], node, "its axes").values.astype(np.int64).tolist()
    rank = x.rank + 1
    spatial = list(range(2, rank))
    if x.rank not in (2, 3) or axes is None or sorted(int(a) % rank for a in axes) != spatial:
        raise NnhlsError(f"{where} reduces over axes {axes} of a tensor of shape {x.shape}; nnhls reduces over every "
                         "axis but the batch and the channels of (C, L) or (C, H, W) (axes [2, 3] of an image)")
    return _global_pool(reader, node, x, x.rank - 1, function, 1, node.op_type,
                        keepdims=bool(attrs.get("keepdims", 1)))


def _pad(reader: _Reader, node, inputs, attrs) -> _Value:
    where = reader.where(node)
    x = reader.tensor(inputs[0], where)
    mode = str(attrs.get("mode", "constant"))
    if mode != "constant":
        raise NnhlsError(f"{where} pads in mode {mode!r}; nnhls pads with zeros only (mode 'constant', value 0)")
    if reader.opset >= 11:
        pads = reader.constant(inputs[1], node, "its pads").values.astype(np.int64).tolist()
        value = inputs[2] if len(inputs) > 2 else None
        value = 0.0 if value is None else float(reader.constant(value, node, "its value").values.reshape(-1)[0])
        if len(inputs) > 3 and inputs[3] is not None:
            axes = [int(a) % (x.rank + 1) for a in reader.constant(inputs[3], node, "its axes").values.reshape(-1)]
            full = [0] * (2 * (x.rank + 1))
            for i, axis in enumerate(axes):
                full[axis], full[axis + x.rank + 1] = pads[i], pads[i + len(axes)]
            pads = full
    else:
        pads, value = list(attrs.get("pads", [])), float(attrs.get("value", 0.0))
    rank = x.rank + 1
    if len(pads) != 2 * rank:
        raise NnhlsError(f"{where} has {len(pads)} pads for a tensor of {rank} axes")
    begins, ends = pads[:rank], pads[rank:]
    if begins[:2] != [0, 0] or ends[:2] != [0, 0]:
        raise NnhlsError(f"{where} pads the batch or channel axis (pads {pads}); nnhls pads the length of (C, L) or "
                         "the height and width of (C, H, W)")
    torch_order = []
    for begin, end in zip(reversed(begins[2:]), reversed(ends[2:])):
        torch_order += [begin, end]
    return _zero_pad(reader, node, x, torch_order, value, "Pad")


def _resize(reader: _Reader, node, inputs, attrs) -> _Value:
    where = reader.where(node)
    x = reader.tensor(inputs[0], where)
    out_shape = reader.shape(node.output[0])
    mode = str(attrs.get("mode", "nearest"))
    transform = str(attrs.get("coordinate_transformation_mode", "half_pixel"))
    if x.rank not in (2, 3) or out_shape[0] != x.shape[0]:
        raise NnhlsError(f"{where} resizes {x.shape} into {out_shape}; nnhls resizes the length of (C, L) or the height "
                         "and width of (C, H, W)")
    factors = [o / n for o, n in zip(out_shape[1:], x.shape[1:])]
    if any(f != int(f) or f < 1 for f in factors):
        raise NnhlsError(f"{where} resizes by {factors}; nnhls upsamples by whole factors")
    if mode == "nearest":
        nearest = str(attrs.get("nearest_mode", "round_prefer_floor"))
        # With a whole factor s, output y reads input y // s: exactly so for 'asymmetric' with 'floor',
        # and for 'half_pixel' with either rounding to nearest, whose ties never occur then.
        exact = (transform == "asymmetric" and nearest == "floor") or (
            transform in ("half_pixel", "pytorch_half_pixel") and nearest in ("round_prefer_floor", "round_prefer_ceil"))
        if not exact:
            raise NnhlsError(f"{where} has coordinate_transformation_mode={transform!r}, nearest_mode={nearest!r}; "
                             "nnhls's nearest upsampling repeats each value: use 'asymmetric' with 'floor' (what "
                             "PyTorch exports) or 'half_pixel' with 'round_prefer_floor'")
        return _upsample(reader, node, x, None, factors, "nearest", None, "Resize")
    if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel"):
        return _upsample(reader, node, reader.real(x), None, factors, "bilinear", False, "Resize")
    raise NnhlsError(f"{where} resizes with mode={mode!r}, coordinate_transformation_mode={transform!r}; nnhls "
                     "resizes with 'nearest', or 'linear' with 'half_pixel'")


# ---------------------------------------------------------------------------------------------
# Merges and shapes


def _arithmetic(reader: _Reader, node, inputs, attrs, function: str) -> _Value:
    a, b = inputs
    return _binary(reader, node, a, b, function, node.op_type)


def _extreme(reader: _Reader, node, inputs, attrs, function: str) -> _Value:
    """Max and Min of tensors of one shape (any number of them); Max with a constant of one value."""
    where = reader.where(node)
    tensors = [v for v in inputs if isinstance(v, _Value)]
    constants = [v for v in inputs if isinstance(v, _Constant)]
    if constants:
        if function == "maximum" and len(tensors) == 1 and len(constants) == 1 and constants[0].values.size == 1:
            return _maximum_constant(reader, node, tensors[0], float(constants[0].values.reshape(-1)[0]))
        raise NnhlsError(f"{where} takes a constant; nnhls reads Max and Min of tensors of one shape, and Max with "
                         "one constant value")
    if len(tensors) == 1:
        return tensors[0]
    if len(tensors) == 2:
        return _binary(reader, node, tensors[0], tensors[1], function, node.op_type)
    if len({t.shape for t in tensors}) != 1:
        raise NnhlsError(f"{where} combines tensors of shapes {[t.shape for t in tensors]}; nnhls combines tensors of "
                         "one shape (no broadcasting)")
    first = tensors[0] if all(t.scale == tensors[0].scale for t in tensors) else reader.real(tensors[0])
    tensors = [first] + [reader.in_order(t if first.scale is not None else reader.real(t), first.axes, where)
                         for t in tensors[1:]]
    name = node.name
    reader.add(Merge(name, [t.node for t in tensors], first.ir_shape, function=function), node.op_type)
    return _Value(name, first.shape, first.axes, first.scale)


def _div(reader: _Reader, node, inputs, attrs) -> _Value:
    a, b = inputs
    if isinstance(b, _Value):
        raise NnhlsError(f"{reader.where(node)} divides by a tensor; nnhls divides by constants only")
    return _with_constant(reader, node, a, b, "divide", "Div")


def _concat(reader: _Reader, node, inputs, attrs) -> _Value:
    if "axis" not in attrs:
        raise NnhlsError(f"{reader.where(node)} has no axis")
    return _concatenate(reader, node, inputs, dim=int(attrs["axis"]), framework_class="Concat")


def _to_shape(reader: _Reader, node, inputs, attrs) -> _Value:
    """Reshape, Flatten, Squeeze, Unsqueeze: the values in ONNX's row-major order, in the output's
    inferred shape (the batch axis kept first)."""
    where = reader.where(node)
    x = reader.tensor(inputs[0], where)
    if node.op_type == "Flatten" and attrs.get("axis", 1) != 1:
        raise NnhlsError(f"{where} flattens from axis {attrs.get('axis')}; nnhls keeps the batch axis alone: axis=1")
    if node.op_type == "Reshape":
        shape = reader.constant(inputs[1], node, "its shape").values.reshape(-1)
        if shape.size == 0 or shape[0] not in (0, 1, -1) or (shape[0] == -1 and -1 in shape[1:]):
            raise NnhlsError(f"{where} reshapes to {shape.astype(np.int64).tolist()}; keep the batch axis first, "
                             "e.g. [-1, 64] or [0, -1] (or [1, 64] for the batch size exported)")
    if node.op_type in ("Squeeze", "Unsqueeze"):
        axes = attrs.get("axes")
        if axes is None and len(inputs) > 1 and inputs[1] is not None:
            axes = reader.constant(inputs[1], node, "its axes").values.astype(np.int64).tolist()
        rank = x.rank + 1 + (node.op_type == "Unsqueeze") * len(axes or [])
        if axes is None or any(int(a) % rank == 0 for a in axes):
            raise NnhlsError(f"{where} has axes={axes}; nnhls keeps the batch axis: give axes after it")
    return _reshape(reader, node, x, reader.shape(node.output[0]), node.op_type)


def _transpose(reader: _Reader, node, inputs, attrs) -> _Value:
    x = reader.tensor(inputs[0], reader.where(node))
    perm = attrs.get("perm", list(range(x.rank, -1, -1)))
    return _permute(reader, node, x, *perm)


def _passthrough(reader: _Reader, node, inputs, attrs) -> _Value:
    return reader.tensor(inputs[0], reader.where(node))


def _dropout(reader: _Reader, node, inputs, attrs) -> _Value:
    if len(inputs) > 2 and isinstance(inputs[2], _Constant) and inputs[2].values.reshape(-1)[0]:
        raise NnhlsError(f"{reader.where(node)} is in training mode; nnhls reads inference graphs")
    return _passthrough(reader, node, inputs, attrs)


def _activation(function: str, framework_class: str, keeps_scale: bool = False, **fields):
    return lambda r, n, i, a: _elementwise(r, n, i[0], function, framework_class, keeps_scale, **fields)


_HANDLERS = {
    ("MatMul", ""): _matmul,
    ("Conv", ""): _conv,
    ("Conv", "channels_last"): partial(_conv, channels_last=True),
    ("BatchNormalization", ""): _batchnorm,
    ("BatchNormalization", "channels_last"): partial(_batchnorm, channels_last=True),
    ("Relu", ""): _activation("relu", "Relu", keeps_scale=True),
    ("LeakyRelu", ""): lambda r, n, i, a: _relu_family(r, n, i[0], "LeakyRelu",
                                                        slope=_float_attribute(a, "alpha", 0.01)),
    ("Elu", ""): lambda r, n, i, a: _elementwise(r, n, i[0], "elu", "Elu", alpha=_float_attribute(a, "alpha", 1.0)),
    ("Selu", ""): _selu,
    ("PRelu", ""): _prelu,
    ("Sigmoid", ""): _activation("sigmoid", "Sigmoid"),
    ("Tanh", ""): _activation("tanh", "Tanh"),
    ("HardSigmoid", ""): _hard_sigmoid,
    ("Softmax", ""): _softmax_node,
    ("Softplus", ""): _activation("softplus", "Softplus"),
    ("Softsign", ""): _activation("softsign", "Softsign"),
    ("Clip", ""): _clip_node,
    ("MaxPool", ""): partial(_pool, function="max"),
    ("MaxPool", "channels_last"): partial(_pool, function="max", channels_last=True),
    ("AveragePool", ""): partial(_pool, function="average"),
    ("GlobalMaxPool", ""): partial(_global, function="max"),
    ("GlobalAveragePool", ""): partial(_global, function="average"),
    ("ReduceMean", ""): partial(_reduce, function="average"),
    ("ReduceMax", ""): partial(_reduce, function="max"),
    ("Add", ""): partial(_arithmetic, function="add"),
    ("Sub", ""): partial(_arithmetic, function="subtract"),
    ("Mul", ""): partial(_arithmetic, function="multiply"),
    ("Div", ""): _div,
    ("Max", ""): partial(_extreme, function="maximum"),
    ("Min", ""): partial(_extreme, function="minimum"),
    ("Concat", ""): _concat,
    ("Reshape", ""): _to_shape,
    ("Flatten", ""): _to_shape,
    ("Squeeze", ""): _to_shape,
    ("Unsqueeze", ""): _to_shape,
    ("Transpose", ""): _transpose,
    ("Resize", ""): _resize,
    ("Pad", ""): _pad,
    ("Identity", ""): _passthrough,
    ("Dropout", ""): _dropout,
    ("Quant", "qonnx"): _quant,
    ("IntQuant", "qonnx"): _quant,
    ("BipolarQuant", "qonnx"): _bipolar_quant,
    ("Trunc", "qonnx"): _trunc,
}
# Read as qonnx's transformations rewrite them: Gemm as MatMul, Add (its bias) and Mul (alpha, beta).
_REWRITTEN = {("Gemm", "")}
# Ops that read only their input's shape, which is known: their outputs are constants.
_SHAPE_ONLY = {("Shape", ""), ("Size", "")}


def supported_ops() -> list[str]:
    """The ONNX op types nnhls reads (QONNX's quantizers included)."""
    return sorted({op for op, _ in _HANDLERS} | {op for op, _ in _REWRITTEN})


# ---------------------------------------------------------------------------------------------
# Reference execution, for comparisons


def reference_outputs(model, inputs: list[np.ndarray], full: bool = False) -> dict[str, np.ndarray]:
    """QONNX's reference execution (`qonnx.core.onnx_exec`) of `model` on `inputs` (one array per
    graph input, batch first, in ONNX's layout), as float64: its outputs by name, or with `full`
    every tensor it computed."""
    from qonnx.transformation.infer_shapes import InferShapes

    wrapper = _set_batch_size(load(model), int(inputs[0].shape[0])).transform(InferShapes())
    _standard_opset_first(wrapper)
    return _execute(wrapper, inputs, full)


def _execute(wrapper, inputs: list[np.ndarray], full: bool) -> dict[str, np.ndarray]:
    from qonnx.core.onnx_exec import execute_onnx

    initializers = {t.name for t in wrapper.graph.initializer}
    names = [i.name for i in wrapper.graph.input if i.name not in initializers]
    if len(names) != len(inputs):
        raise NnhlsError(f"the model takes {len(names)} inputs; {len(inputs)} were given")
    feeds = {name: np.asarray(x, dtype=np.float32) for name, x in zip(names, inputs)}
    with _quiet_onnxruntime():
        results = execute_onnx(wrapper, feeds, return_full_exec_context=full)
    return {name: np.asarray(value, dtype=np.float64) for name, value in results.items()
            if isinstance(value, np.ndarray) and value.dtype.kind == "f"}


@contextmanager
def _quiet_onnxruntime():
    """onnxruntime's warnings off for a while (then back at its default level, warnings): qonnx runs
    a channels-last node's standard op in a model of opset 1 (the version of its own op), which
    onnxruntime runs but warns about, twice per node and execution."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    try:
        yield
    finally:
        onnxruntime.set_default_logger_severity(2)


def layer_outputs(model, graph: Graph, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """QONNX's reference execution of the model as nnhls reads it (`prepare`, for the batch of
    `inputs`) at every tensor a graph node holds (`framework_output`), for `inputs` as the graph's
    inputs take them, each in that node's layout and units (`framework_axes`, `framework_scale`)."""
    onnx_inputs = [_to_framework(x, node.framework_axes) for node, x in zip(graph.inputs, inputs)]
    computed = _execute(prepare(model, int(onnx_inputs[0].shape[0])), onnx_inputs, full=True)
    values = {}
    for node in graph:
        result = computed.get(node.framework_output)
        if result is None:
            continue
        values[node.framework_output] = _from_framework(result, node.framework_axes) / (node.framework_scale or 1)
    return values


def is_onnx_model(model) -> bool:
    """Whether `model` is an ONNX model object (a ModelProto or a qonnx ModelWrapper)."""
    import sys

    onnx = sys.modules.get("onnx")
    if onnx is not None and isinstance(model, onnx.ModelProto):
        return True
    wrapper = sys.modules.get("qonnx.core.modelwrapper")
    return wrapper is not None and isinstance(model, wrapper.ModelWrapper)

