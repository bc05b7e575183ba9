"""PyTorch modules (float, and Brevitas's quantized layers) into the IR, through torch.fx.

The module is traced by torch.fx (modules of torch.nn and brevitas.nn stay whole), then run once
on random inputs by an fx Interpreter, which gives every value's shape. Node names are the fx
node names (a module's path with '_' for '.', e.g. `features_0`; `add`, `cat_1` for functions).

PyTorch's tensors are channels-first, (C, H, W) after the batch axis; nnhls's are channels-last.
Each value remembers the order in which its IR tensor holds PyTorch's axes (`_Value.axes`): a
convolution's output holds (H, W, C), a Linear's output keeps its input's order, a `permute` only
relabels. An op that needs its input in another order reads it through a Transpose, and
`fold_transposes` then removes those that cost nothing to fold away (into the weights of a Dense
after a Flatten, into another Transpose, or where only axes of size 1 move). Weights are permuted
once, here, into the IR's canonical layouts; no backend sees PyTorch's.

Neither torch nor Brevitas is imported until a module is read.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.frontends.constants import exact_weights, zero_weights
from nnhls.frontends.names import fresh_name
from nnhls.ir import (Concatenate, Conv, Crop, Dense, Flatten, Graph, Input, Merge, Node, ParametricRelu, Pool,
                      Recurrent, Reshape, ScaleShift, Transpose, Upsample, Weights, Window, ZeroPad, make_activation,
                      recurrent_parts)
from nnhls.ir.ops import BatchNorm
from nnhls.passes.staircases import fold_scales_into_staircases
from nnhls.passes.transposes import fold_transposes

__all__ = ["CHANNELS_LAST_CONVERSIONS", "layer_outputs", "read_pytorch", "supported_modules"]

# 'full': the design takes PyTorch's layout and transposes at its input; 'internal': the caller
# gives channels-last inputs; 'off': PyTorch's axis order everywhere (no layer may need another).
CHANNELS_LAST_CONVERSIONS = ("full", "internal", "off")


def _torch():
    try:
        import torch
        import torch.fx  # noqa: F401  (the submodule is not imported with torch)
    except ImportError as error:
        raise NnhlsError("reading a PyTorch model needs torch: pip install 'nnhls[torch]'") from error
    return torch


@dataclass(frozen=True)
class _Value:
    """A tensor of the module: the IR node holding it, PyTorch's shape (without the batch axis), the
    order of PyTorch's axes in the IR tensor, and for a Brevitas quantizer's output the scale by
    which the IR's integer codes give PyTorch's values (None: the IR holds the values)."""

    node: str
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    scale: float | None = None
    # PyTorch's last axis holds the features, as in a recurrent layer's (batch, steps, features)
    # output and what Linear and element-wise ops make of it: its channels-last order is PyTorch's.
    features_last: bool = False

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def ir_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[axis] for axis in self.axes)


@dataclass(frozen=True)
class _TimeMajor:
    """A (batch, steps, features) value as forward holds it time-major, (steps, batch, features):
    what a recurrent module of batch_first=False reads and returns. Its values are `value`'s."""

    value: _Value


@dataclass(frozen=True)
class _Constant:
    """A parameter or buffer the module reads with get_attr, or a number."""

    values: np.ndarray


class _BatchSize:
    """The batch size, as `x.size(0)` or `x.shape[0]` gives it (to a `view`)."""

    def __repr__(self) -> str:
        return "<batch size>"


BATCH = _BatchSize()


def read_pytorch(model, input_shape, channels_last_conversion: str = "full", transpose_outputs: bool = False) -> Graph:
    """Read a torch.nn.Module (float or with Brevitas's quantized layers) into a Graph.

    `input_shape`: one input's shape without the batch axis, or a list of them (several inputs),
    in PyTorch's layout. `channels_last_conversion` and `transpose_outputs` as
    `nnhls.config_from_pytorch_model` documents them.
    """
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise NnhlsError(f"expected a torch.nn.Module, got {type(model).__name__}")
    conversion = checked_layout_settings(channels_last_conversion, transpose_outputs)
    shapes = input_shapes(input_shape)
    with _in_eval_mode(model):
        traced = trace(model)
        _check_supported(traced)
        inputs = [np.random.default_rng(0).random((2, *shape)) for shape in shapes]
        recorded = run(traced, _framework_inputs(traced, inputs))
        reader = _Reader(traced, recorded, shapes, conversion, transpose_outputs)
        for fx_node in traced.graph.nodes:
            reader.read(fx_node)
    paths = {n.target: n.name for n in traced.graph.nodes if n.op == "call_module" and n.target != n.name}
    graph = Graph(reader.needed_nodes(), reader.outputs, name=type(model).__name__)
    fold_transposes(graph)
    fold_scales_into_staircases(graph)
    graph.aliases = {path: name for path, name in paths.items() if name in graph}
    return graph


def checked_layout_settings(channels_last_conversion, transpose_outputs) -> str:
    """The channels-last conversion, lower case, after checking both layout settings."""
    conversion = str(channels_last_conversion).lower()
    if conversion not in CHANNELS_LAST_CONVERSIONS:
        raise NnhlsError(f"channels_last_conversion={channels_last_conversion!r} is not valid; use one of "
                         f"{', '.join(map(repr, CHANNELS_LAST_CONVERSIONS))}")
    if not isinstance(transpose_outputs, bool):
        raise NnhlsError(f"transpose_outputs must be True or False, got {transpose_outputs!r}")
    return conversion


@contextmanager
def _in_eval_mode(model):
    """The module in inference mode for a while; every submodule's own mode back afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def layer_outputs(model, graph: Graph, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The module's output at every fx node a graph node holds (`framework_output`), for `inputs`
    as the graph's inputs take them, each in that node's layout and units (`framework_axes`,
    `framework_scale`)."""
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise NnhlsError(f"expected the torch.nn.Module the model was converted from, got {type(model).__name__}")
    torch_inputs = [_to_framework(x, node.framework_axes) for node, x in zip(graph.inputs, inputs)]
    with _in_eval_mode(model):
        traced = trace(model)
        recorded = run(traced, _framework_inputs(traced, torch_inputs))
    values = {}
    for node in graph:
        result = recorded.get(node.framework_output)
        if result is None:
            continue
        result = getattr(result, "value", result)  # a Brevitas QuantTensor holds its values
        if not _is_tensor(result):
            continue
        values[node.framework_output] = _from_framework(_array(result), node.framework_axes) / (node.framework_scale or 1)
    return values


def time_major_inputs(traced) -> list[bool]:
    """For each input of the module: whether forward hands it straight to a recurrent module of
    batch_first=False, which reads it time-major, (steps, batch, features). nnhls's inputs are
    batch first: such an input is transposed on its way to PyTorch."""
    flags = []
    for fx_node in traced.graph.nodes:
        if fx_node.op != "placeholder":
            continue
        readers = [traced.get_submodule(user.target) for user in fx_node.users
                   if user.op == "call_module" and user.args and user.args[0] is fx_node]
        flags.append(any(type(module).__name__ in _RNN_CELLS and type(module).__module__.startswith("torch.nn")
                         and not module.batch_first for module in readers))
    return flags


def _framework_inputs(traced, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Batch-first inputs as the module takes them (time-major where time_major_inputs says so)."""
    return [np.swapaxes(x, 0, 1) if time_major else x for x, time_major in zip(inputs, time_major_inputs(traced))]


def _to_framework(x: np.ndarray, axes) -> np.ndarray:
    """Inputs given in the IR's order (after the batch axis) in PyTorch's."""
    if axes is None:
        return x
    return np.transpose(x, (0, *[1 + list(axes).index(axis) for axis in range(len(axes))]))


def _from_framework(x: np.ndarray, axes) -> np.ndarray:
    return x if axes is None else np.transpose(x, (0, *[1 + axis for axis in axes]))


def input_shapes(input_shape) -> list[tuple[int, ...]]:
    """One shape or a list of shapes (tuples or lists of positive ints, without the batch axis; a
    leading None for the batch axis, as older scripts write it, is dropped)."""
    def without_batch(shape):
        return shape[1:] if isinstance(shape, (list, tuple)) and len(shape) > 1 and shape[0] is None else shape

    input_shape = without_batch(input_shape)
    if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
        input_shape = [without_batch(shape) for shape in input_shape]

    def valid(shape) -> bool:
        return (isinstance(shape, (list, tuple)) and len(shape) > 0
                and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in shape))

    if valid(input_shape):
        return [tuple(int(d) for d in input_shape)]
    if isinstance(input_shape, (list, tuple)) and input_shape and all(valid(shape) for shape in input_shape):
        return [tuple(int(d) for d in shape) for shape in input_shape]
    raise NnhlsError(f"input_shape {input_shape!r} is not valid; give each input's shape without the batch axis, "
                     "e.g. (1, 8, 8) for one image input or [(16,), (4,)] for two inputs")


# ---------------------------------------------------------------------------------------------
# Tracing and running


def _is_leaf(module) -> bool:
    """torch.nn's and brevitas.nn's modules stay whole; containers and the user's modules are traced through."""
    torch = _torch()
    if isinstance(module, (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)):
        return False
    return type(module).__module__.startswith(("torch.nn", "torch.ao.nn", "brevitas.nn"))


def trace(model):
    """The module traced by torch.fx, as a GraphModule; an error naming the module if fx cannot trace it."""
    torch = _torch()

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, module, qualified_name: str) -> bool:
            return _is_leaf(module)

    if _is_leaf(model):  # fx traces into the root module: a lone layer is traced as the one layer of a model
        from collections import OrderedDict

        model = torch.nn.Sequential(OrderedDict([(type(model).__name__.lower(), model)]))
    tracer = Tracer()
    try:
        graph = tracer.trace(model)
    except Exception as error:
        raise NnhlsError(
            f"torch.fx cannot trace {type(model).__name__}: {type(error).__name__}: {error}. nnhls reads a module "
            "through torch.fx, which runs forward on symbolic tensors: control flow that depends on values or shapes, "
            "and calls fx cannot record, must move out of forward (or into a module marked as a leaf)") from None
    return torch.fx.GraphModule(tracer.root, graph, type(model).__name__)


def run(traced, inputs: list[np.ndarray]) -> dict:
    """Every fx node's output (by node name) when the GraphModule runs on `inputs` (batch first)."""
    torch = _torch()
    recorded = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            try:
                result = super().run_node(node)
            except Exception as error:
                raise NnhlsError(f"running the module failed at fx node {node.name!r} ({node.op} {_target_name(node)}): "
                                 f"{type(error).__name__}: {error}; check input_shape") from None
            recorded[node.name] = result
            return result

    parameter = next(iter(traced.parameters()), None)
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
    with torch.no_grad():
        Recorder(traced).run(*[torch.as_tensor(x, dtype=dtype) for x in inputs])
    return recorded


def _target_name(fx_node) -> str:
    """How users spell the function or method an fx node calls (torch.exp, torch.nn.functional.gelu, add)."""
    target = fx_node.target
    if isinstance(target, str):
        return target
    torch = _torch()
    name = getattr(target, "__name__", None) or repr(target)
    for prefix, namespace in (("torch.nn.functional", torch.nn.functional), ("torch", torch)):
        if getattr(namespace, name, None) is target:
            return f"{prefix}.{name}"
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{name}" if module and module not in ("builtins", "_operator", "operator") else name


# ---------------------------------------------------------------------------------------------
# The reader


class LayoutReader:
    """What the readers of channels-first frameworks (PyTorch, ONNX) share: IR nodes added in
    order, and each value's layout (`_Value.axes`), with the Transposes and dequantizations that
    ops needing another layout or the values themselves read. `taken`: names already in use."""

    def __init__(self, taken, conversion: str, transpose_outputs: bool):
        self.conversion = conversion
        self.transpose_outputs = transpose_outputs
        self.nodes: list[Node] = []
        self.by_name: dict[str, Node] = {}
        self.outputs: list[str] = []
        self.values: dict[str, object] = {}  # framework name -> _Value, _Constant or a Python value
        self._taken = set(taken)
        self._moved: dict[tuple[str, tuple[int, ...]], _Value] = {}
        self._dequantized: dict[str, _Value] = {}
        self.quantizers: dict[str, object] = {}  # IR node -> the quantizer whose codes it holds

    def needed_nodes(self) -> list[Node]:
        """The nodes, in order, without those no output reads (a recurrent module's output when only
        its final state is read): a value nothing reads would be a stream no stage reads."""
        needed = set(self.outputs)
        for node in reversed(self.nodes):
            if node.name in needed:
                needed.update(node.inputs)
        return [node for node in self.nodes if node.name in needed or node.op == "input"]

    def bind(self, framework_name: str, value: _Value) -> None:
        """The IR node holding a framework value says so, for per-layer comparisons."""
        node = self.by_name[value.node]
        if node.framework_output is None:
            node.framework_output = framework_name
            node.framework_axes = None if value.axes == tuple(range(value.rank)) else value.axes
            node.framework_scale = value.scale

    def add(self, node: Node, framework_class: str = "") -> Node:
        node.framework_class = node.framework_class or framework_class
        self.nodes.append(node)
        self.by_name[node.name] = node
        return node

    def fresh(self, name: str) -> str:
        """`name`, or `name_2`, `name_3`... if a framework node or IR node already has it."""
        return fresh_name(name, self._taken)

    def input(self, name: str, shape: tuple[int, ...]) -> _Value:
        """A design input of the framework's `shape` (without the batch axis), laid out as the
        conversion says: channels-last for 'internal', the framework's order otherwise."""
        axes = _channels_last(len(shape)) if self.conversion == "internal" else tuple(range(len(shape)))
        value = _Value(name, shape, axes)
        self.add(Input(name, [], value.ir_shape, dtype="float32"), "InputLayer")
        return value

    def output(self, value: _Value, why: str) -> None:
        """`value` as a design output: its values, in the framework's order where the settings ask
        for it (or it has one axis), channels-last otherwise."""
        value = self.real(value)
        framework_order = self.transpose_outputs or self.conversion == "off" or value.rank < 2 or value.features_last
        value = self.in_order(value, tuple(range(value.rank)) if framework_order else _channels_last(value.rank),
                              why)
        self.outputs.append(value.node)

    # -- layouts and scales --------------------------------------------------------------------

    def in_order(self, value: _Value, axes: tuple[int, ...], why: str) -> _Value:
        """`value` with its IR tensor holding PyTorch's axes in order `axes`: itself, or through a Transpose."""
        axes = tuple(axes)
        if value.axes == axes:
            return value
        key = (value.node, axes)
        if key in self._moved:
            return self._moved[key]
        if self.conversion == "off" and axes != tuple(range(value.rank)):
            raise NnhlsError(f"{why} needs its input channels-last, and channels_last_conversion='off' keeps "
                             "the framework's axis order: use channels_last_conversion='full' or 'internal'")
        if value.rank > Transpose.MAX_RANK:
            raise NnhlsError(f"{why} needs a tensor of {value.rank} axes transposed; nnhls transposes up to "
                             f"{Transpose.MAX_RANK} axes")
        perm = tuple(value.axes.index(axis) for axis in axes)
        moved = _Value(self.fresh(f"{value.node}_transpose"), value.shape, axes, value.scale)
        self.add(Transpose(moved.node, [value.node], moved.ir_shape, perm=perm, in_shape=value.ir_shape), "Transpose")
        self._moved[key] = moved
        return moved

    def channels_last(self, value: _Value, why: str) -> _Value:
        return self.in_order(value, _channels_last(value.rank), why)

    def torch_order(self, value: _Value, why: str) -> _Value:
        return self.in_order(value, tuple(range(value.rank)), why)

    def with_last(self, value: _Value, axis: int, why: str) -> _Value:
        """`value` with PyTorch's axis `axis` last in the IR (its other axes as they are, if possible)."""
        if value.axes[-1] == axis:
            return value
        if axis == value.rank - 1:
            return self.torch_order(value, why)
        if axis == 0:
            return self.channels_last(value, why)
        return self.in_order(value, tuple(a for a in range(value.rank) if a != axis) + (axis,), why)

    def real(self, value: _Value) -> _Value:
        """The value itself, not a quantizer's integer codes: codes times their scale (exact)."""
        if value.scale is None:
            return value
        if value.node not in self._dequantized:
            name = self.fresh(f"{value.node}_dequantized")
            channels = value.ir_shape[-1]
            scale = exact_weights(np.full(channels, value.scale))
            self.add(ScaleShift(name, [value.node], value.ir_shape, scale=scale, shift=zero_weights(channels)),
                     self.by_name[value.node].framework_class)
            self._dequantized[value.node] = _Value(name, value.shape, value.axes)
        return self._dequantized[value.node]

    def tensor(self, value, where: str, what: str = "its input") -> _Value:
        if isinstance(value, _TimeMajor):
            raise NnhlsError(f"{where}: {what} is a time-major (steps, batch, features) tensor; nnhls computes on "
                             "batch-first tensors: move the batch axis first again (x.transpose(0, 1)) before it")
        if not isinstance(value, _Value):
            raise NnhlsError(f"{where}: {what} is {_describe(value)}, not a tensor computed from the model's inputs; "
                             "nnhls computes on the inputs' values only")
        return value


class _Reader(LayoutReader):
    """Turns fx nodes into IR nodes, remembering which value each fx node's output is."""

    def __init__(self, traced, recorded: dict, shapes: list[tuple[int, ...]], conversion: str,
                 transpose_outputs: bool):
        super().__init__({node.name for node in traced.graph.nodes}, conversion, transpose_outputs)
        self.traced = traced
        self.recorded = recorded
        self.shapes = list(shapes)

    # -- reading -----------------------------------------------------------------------------

    def read(self, fx_node) -> None:
        where = self.where(fx_node)
        if fx_node.op == "placeholder":
            value = self._input(fx_node)
        elif fx_node.op == "get_attr":
            value = _Constant(_array(_attribute(self.traced, fx_node.target)))
        elif fx_node.op == "output":
            self._outputs(fx_node)
            return
        else:
            args = [self.argument(a) for a in fx_node.args]
            kwargs = {key: self.argument(a) for key, a in fx_node.kwargs.items()}
            if fx_node.op != "call_module" and not _reads_tensors([args, kwargs]):
                # Computed from constants only (a parameter reshaped, a number): what it computed.
                result = self.recorded[fx_node.name]
                self.values[fx_node.name] = _Constant(_array(result)) if _is_tensor(result) else result
                return
            handler = _handler(self.traced, fx_node)
            if fx_node.op == "call_module":
                module = self.traced.get_submodule(fx_node.target)
                value = _call(handler, where, self, fx_node, module, *args, **kwargs)
            else:
                value = _call(handler, where, self, fx_node, *args, **kwargs)
        self.values[fx_node.name] = value
        if isinstance(value, _Value):
            self.bind(fx_node.name, value)

    def where(self, fx_node) -> str:
        return _where(self.traced, fx_node)

    def argument(self, a):
        torch = _torch()
        if isinstance(a, torch.fx.Node):
            return self.values[a.name]
        if isinstance(a, (list, tuple)):
            return type(a)(self.argument(item) for item in a)
        if isinstance(a, dict):
            return {key: self.argument(item) for key, item in a.items()}
        return a

    # -- inputs and outputs ------------------------------------------------------------------

    def _input(self, fx_node) -> _Value:
        index = len([n for n in self.nodes if n.op == "input"])
        if index >= len(self.shapes):
            raise NnhlsError(f"the module's forward takes more inputs than input_shape gives ({len(self.shapes)}): "
                             f"give a shape for {fx_node.name!r} too")
        value = self.input(fx_node.name, self.shapes[index])
        return _TimeMajor(value) if time_major_inputs(self.traced)[index] else value

    def _outputs(self, fx_node) -> None:
        results = fx_node.args[0]
        results = list(results) if isinstance(results, (list, tuple)) else [results]
        inputs = len([n for n in self.nodes if n.op == "input"])
        if inputs != len(self.shapes):
            raise NnhlsError(f"input_shape gives {len(self.shapes)} inputs; the module's forward takes {inputs}")
        for result in results:
            value = self.argument(result)
            if not isinstance(value, _Value):
                raise NnhlsError(f"the module returns {_describe(value) if isinstance(value, _Constant) else type(value).__name__}"
                                 "; nnhls reads modules that return a tensor computed from their inputs, or a tuple or "
                                 "list of such tensors")
            self.output(value, "the module's output")


def _where(traced, fx_node) -> str:
    """An fx node as an error names it: the module's path and class, or the function or method."""
    if fx_node.op == "call_module":
        module = traced.get_submodule(fx_node.target)
        return f"module {fx_node.target!r} ({type(module).__name__}, fx node {fx_node.name!r})"
    if fx_node.op in ("call_function", "call_method"):
        kind = "function" if fx_node.op == "call_function" else "method"
        return f"{kind} {_target_name(fx_node)} (fx node {fx_node.name!r})"
    return f"fx node {fx_node.name!r} ({fx_node.op})"


def _handler(traced, fx_node):
    """The reader of a call_module, call_function or call_method node; an error naming it if nnhls has none."""
    if fx_node.op == "call_module":
        handler = _module_handler(traced.get_submodule(fx_node.target))
        if handler is None:
            raise NnhlsError(f"{_where(traced, fx_node)} is not supported; supported modules: "
                             f"{', '.join(supported_modules())}")
        return handler
    functions = fx_node.op == "call_function"
    table = _function_table() if functions else _method_table()
    handler = table.get(fx_node.target)
    if handler is None:
        raise NnhlsError(f"{_where(traced, fx_node)} is not supported; supported "
                         f"{'functions' if functions else 'methods'}: {', '.join(sorted(set(_names(table))))}")
    return handler


def _check_supported(traced) -> None:
    """Every call on the inputs' values has a reader: a layer nnhls lacks is named before anything
    runs. (A call on constants only is taken as computed, whatever it is.)"""
    from_inputs = set()
    for fx_node in traced.graph.nodes:
        if fx_node.op == "placeholder" or any(node.name in from_inputs for node in fx_node.all_input_nodes):
            from_inputs.add(fx_node.name)
            if fx_node.op in ("call_module", "call_function", "call_method"):
                _handler(traced, fx_node)


def _call(handler, where: str, *args, **kwargs):
    """A handler on an fx node's arguments; arguments it does not take are an error naming the node."""
    import inspect

    try:
        inspect.signature(handler).bind(*args, **kwargs)
    except TypeError as error:
        raise NnhlsError(f"{where} is called with arguments nnhls does not read: {error}") from None
    return handler(*args, **kwargs)


def _reads_tensors(value) -> bool:
    """Whether `value` (arguments, nested) holds a tensor computed from the inputs, or the batch size."""
    if isinstance(value, (_Value, _BatchSize, _FinalStates, _TimeMajor)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_reads_tensors(item) for item in value)
    if isinstance(value, dict):
        return any(_reads_tensors(item) for item in value.values())
    return False


def _is_tensor(value) -> bool:
    return isinstance(value, _torch().Tensor)


def _channels_last(rank: int) -> tuple[int, ...]:
    """PyTorch's axes (C, d1, ..., dk) held as (d1, ..., dk, C)."""
    return tuple(range(1, rank)) + (0,) if rank >= 2 else tuple(range(rank))


def _describe(value) -> str:
    if isinstance(value, _Constant):
        return f"a constant of shape {value.values.shape}"
    return repr(value)


def _attribute(traced, target: str):
    value = traced
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _array(value) -> np.ndarray:
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _pair(value, spatial: int, what: str, where: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a sequence of `spatial` ints as (height, width); a 1-D layer's height is 1 for a
    size (kernel, stride, dilation) and 0 for a padding (minimum 0)."""
    values = [value] * spatial if isinstance(value, int) else list(value) if isinstance(value, (list, tuple)) else []
    if len(values) != spatial or not all(isinstance(v, int) and v >= minimum for v in values):
        raise NnhlsError(f"{where}: {what}={value!r} must be an int or {spatial} ints, each at least {minimum}")
    return (minimum, values[0]) if spatial == 1 else (values[0], values[1])


def _spatial_input(reader: _Reader, x: _Value, spatial: int, where: str) -> tuple[_Value, tuple[int, int, int]]:
    """`x` channels-last with (height, width, channels); PyTorch's (C, L) or (C, H, W)."""
    if x.rank != spatial + 1:
        expected = "(channels, length)" if spatial == 1 else "(channels, height, width)"
        raise NnhlsError(f"{where} reads a tensor of shape {x.shape} (without the batch axis); nnhls supports it on "
                         f"inputs of shape {expected}")
    x = reader.channels_last(x, where)
    image = (1, *x.ir_shape) if spatial == 1 else tuple(x.ir_shape)
    return x, image


def _torch_image_shape(window: Window, spatial: int, channels: int) -> tuple[int, ...]:
    return (channels, window.out_w) if spatial == 1 else (channels, window.out_h, window.out_w)


def _checked_window(window: Window, where: str) -> Window:
    if window.padded_h < window.span_h or window.padded_w < window.span_w:
        raise NnhlsError(f"{where}: its window {window.span_h}x{window.span_w} does not fit in its padded input "
                         f"{window.padded_h}x{window.padded_w}")
    return window


# ---------------------------------------------------------------------------------------------
# Dense layers and convolutions


def _dense(reader: _Reader, name: str, x: _Value, kernel: Weights, bias: Weights, framework_class: str) -> _Value:
    """A Dense on PyTorch's last axis: on a 1-D value a Dense, on more axes a Conv of 1x1 windows
    over the positions (the same Dense at each)."""
    x = reader.with_last(x, x.rank - 1, f"{framework_class} {name!r}")
    n_in, n_out = kernel.shape
    if x.shape[-1] != n_in:
        raise NnhlsError(f"{framework_class} {name!r} takes {n_in} features and reads a tensor of shape {x.shape}")
    shape = x.shape[:-1] + (n_out,)
    out = _Value(name, shape, x.axes, features_last=x.features_last)
    if x.rank == 1:
        reader.add(Dense(name, [x.node], (n_out,), weight=kernel, bias=bias), framework_class)
        return out
    positions = int(np.prod(x.ir_shape[:-1]))
    weight = Weights(kernel.values.reshape(1, 1, n_in, n_out), quantizer=kernel.quantizer)
    reader.add(Conv(name, [x.node], out.ir_shape, weight=weight, bias=bias, window=Window(1, positions, n_in),
                    in_shape=x.ir_shape), framework_class)
    return out


def _bias(module, n_out: int) -> Weights:
    if getattr(module, "bias", None) is None:
        return zero_weights(n_out)
    return Weights(_array(module.bias))


def _read_linear(reader: _Reader, fx_node, module, x) -> _Value:
    where = reader.where(fx_node)
    x = reader.real(reader.tensor(x, where))
    kernel = Weights(np.ascontiguousarray(_array(module.weight).T))
    return _dense(reader, fx_node.name, x, kernel, _bias(module, kernel.shape[1]), type(module).__name__)


def _conv_window(reader: _Reader, module, x: _Value, spatial: int, where: str) -> tuple[_Value, Window]:
    """`x` channels-last and the Window of a Conv1d/Conv2d (or a Brevitas QuantConv)."""
    x, (in_h, in_w, channels) = _spatial_input(reader, x, spatial, where)
    if getattr(module, "padding_mode", "zeros") != "zeros":
        raise NnhlsError(f"{where} has padding_mode={module.padding_mode!r}; nnhls pads with zeros only "
                         "(padding_mode='zeros')")
    kernel = _pair(tuple(module.kernel_size), spatial, "kernel_size", where)
    strides = _pair(tuple(module.stride), spatial, "stride", where)
    dilation = _pair(tuple(module.dilation), spatial, "dilation", where)
    padding = module.padding
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    elif padding == "same":  # PyTorch puts the odd one at the end
        pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    else:
        height, width = _pair(tuple(padding), spatial, "padding", where, minimum=0)
        pads = ((height, height) if spatial == 2 else (0, 0), (width, width))
    window = Window(in_h, in_w, channels, *kernel, *strides, *pads[0], *pads[1], *dilation)
    return x, _checked_window(window, where)


def _canonical_kernel(weight: np.ndarray, spatial: int) -> np.ndarray:
    """PyTorch's (out, in / groups, kh, kw) or (out, in / groups, k) as (kh, kw, in / groups, out)."""
    if spatial == 1:
        weight = weight[:, :, None, :]
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def _conv_node(reader: _Reader, name: str, x: _Value, window: Window, kernel: Weights, bias: Weights, groups: int,
               spatial: int, framework_class: str, where: str) -> _Value:
    if window.channels % groups:
        raise NnhlsError(f"{where} has groups={groups} for {window.channels} input channels")
    filters = kernel.shape[-1]
    out = _Value(name, _torch_image_shape(window, spatial, filters), _channels_last(spatial + 1))
    reader.add(Conv(name, [x.node], out.ir_shape, weight=kernel, bias=bias, window=window, in_shape=x.ir_shape,
                    groups=groups), framework_class)
    return out


def _read_conv(reader: _Reader, fx_node, module, x, spatial: int) -> _Value:
    where = reader.where(fx_node)
    x = reader.real(reader.tensor(x, where))
    x, window = _conv_window(reader, module, x, spatial, where)
    kernel = Weights(_canonical_kernel(_array(module.weight), spatial))
    return _conv_node(reader, fx_node.name, x, window, kernel, _bias(module, kernel.shape[-1]), module.groups, spatial,
                      type(module).__name__, where)


def _read_batchnorm(reader: _Reader, fx_node, module, x) -> _Value:
    where = reader.where(fx_node)
    x = reader.real(reader.tensor(x, where))
    if module.running_mean is None or module.running_var is None:
        raise NnhlsError(f"{where} has track_running_stats=False, so it normalizes with each batch's statistics; "
                         "nnhls needs the running mean and variance (track_running_stats=True)")
    if x.rank not in (1, 2, 3):
        raise NnhlsError(f"{where} reads a tensor of shape {x.shape}; nnhls supports (C,), (C, L) and (C, H, W)")
    x = reader.channels_last(x, where)
    channels = x.shape[0]
    gamma = _array(module.weight) if module.affine else np.ones(channels)
    beta = _array(module.bias) if module.affine else np.zeros(channels)
    name = fx_node.name
    reader.add(BatchNorm(name, [x.node], x.ir_shape, gamma=gamma, beta=beta, mean=_array(module.running_mean),
                         variance=_array(module.running_var), epsilon=float(module.eps)), type(module).__name__)
    return _Value(name, x.shape, x.axes)


# ---------------------------------------------------------------------------------------------
# Activations


def _elementwise(reader: _Reader, fx_node, x, function: str, framework_class: str, keeps_scale: bool = False,
                 **fields) -> _Value:
    """An element-wise function of `x`; `keeps_scale`: it commutes with a positive scale (ReLU), so a
    Brevitas quantizer's codes go through it."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    if not keeps_scale:
        x = reader.real(x)
    name = fx_node.name
    reader.add(make_activation(name, [x.node], x.ir_shape, function, **fields), framework_class)
    return _Value(name, x.shape, x.axes, x.scale, x.features_last)


def _relu_family(reader: _Reader, fx_node, x, framework_class: str, threshold: float = 0.0, slope=0.0,
                 max_value: float | None = None, strict: bool = False, min_input: float | None = None,
                 min_value: float | None = None) -> _Value:
    where = reader.where(fx_node)
    x = reader.real(reader.tensor(x, where))
    slope = np.atleast_1d(np.asarray(slope, dtype=np.float64))
    if slope.size > 1:
        x = reader.channels_last(x, where)
        if slope.size != x.shape[0]:
            raise NnhlsError(f"{where} has {slope.size} slopes for {x.shape[0]} channels")
    name = fx_node.name
    reader.add(ParametricRelu(
        name, [x.node], x.ir_shape, threshold=exact_weights(threshold), slope=Weights(slope), strict=strict,
        max_value=None if max_value is None else exact_weights(max_value),
        min_input=None if min_input is None else exact_weights(min_input),
        min_value=None if min_value is None else exact_weights(min_value)), framework_class)
    return _Value(name, x.shape, x.axes, features_last=x.features_last)


def _clip(reader: _Reader, fx_node, x, low: float, high: float, framework_class: str) -> _Value:
    """clamp(x, low, high): exact, as the ReLU family's node with no slope."""
    where = reader.where(fx_node)
    if not low < high:
        raise NnhlsError(f"{where} clips to [{low}, {high}]; the lower bound must be below the upper")
    if low == 0:
        return _relu_family(reader, fx_node, x, framework_class, max_value=high)
    return _relu_family(reader, fx_node, x, framework_class, threshold=low, max_value=high, min_input=low,
                        min_value=low)


def _read_threshold(reader: _Reader, fx_node, x, threshold: float, value: float, framework_class: str) -> _Value:
    """y = x where x > threshold, else value. The ReLU family's node passes x above the threshold
    before it looks at its lower bound, so any bound above the threshold gives `value` to every
    x <= threshold (and 0 * (x - threshold) never appears)."""
    if value == 0:
        return _relu_family(reader, fx_node, x, framework_class, threshold=threshold, strict=True)
    return _relu_family(reader, fx_node, x, framework_class, threshold=threshold, strict=True,
                        min_input=threshold + 1, min_value=value)


def _softplus(reader: _Reader, fx_node, x, beta: float, threshold: float, framework_class: str) -> _Value:
    if beta != 1:
        raise NnhlsError(f"{reader.where(fx_node)} has beta={beta}; nnhls computes softplus with beta=1")
    if threshold < 8:
        raise NnhlsError(f"{reader.where(fx_node)} has threshold={threshold}; nnhls's softplus is x from 8 on, "
                         "so give a threshold of 8 or more (PyTorch's default is 20)")
    return _elementwise(reader, fx_node, x, "softplus", framework_class)


def _softmax(reader: _Reader, fx_node, x, dim, framework_class: str) -> _Value:
    where = reader.where(fx_node)
    x = reader.real(reader.tensor(x, where))
    if dim is None:
        raise NnhlsError(f"{where} has no dim; give the axis, e.g. softmax(x, dim=1)")
    axis = _sample_axis(dim, x.rank, where)
    x = reader.with_last(x, axis, where)
    return _elementwise(reader, fx_node, x, "softmax", framework_class)


def _sample_axis(dim, rank: int, where: str, allow_end: bool = False) -> int:
    """PyTorch's `dim` (counting the batch axis, or negative) as an axis of the sample (from 0)."""
    total = rank + 1 + allow_end
    if not isinstance(dim, int) or not -total <= dim < total:
        raise NnhlsError(f"{where}: dim={dim!r} is not an axis of a tensor of {rank + 1} axes")
    dim %= total
    if dim == 0:
        raise NnhlsError(f"{where} works along the batch axis (dim 0); nnhls computes each sample on its own")
    return dim - 1


# ---------------------------------------------------------------------------------------------
# Pooling, padding, upsampling


def _ceil_mode_changes(window: Window, ceil_mode: bool, spatial: int) -> bool:
    """Whether ceil_mode adds an output row or column (a window starting inside the padded input)."""
    if not ceil_mode:
        return False
    axes = [(window.padded_w, window.span_w, window.stride_w, window.pad_left)]
    if spatial == 2:
        axes.append((window.padded_h, window.span_h, window.stride_h, window.pad_top))
    for padded, span, stride, pad in axes:
        floor_out = (padded - span) // stride + 1
        ceil_out = -(-(padded - span) // stride) + 1
        if ceil_out > floor_out and (ceil_out - 1) * stride < padded - pad:
            return True
    return False


def _pool(reader: _Reader, fx_node, x, spatial: int, function: str, kernel_size, stride, padding, ceil_mode: bool,
          framework_class: str, dilation=1, count_include_pad: bool = False, divisor_override=None) -> _Value:
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    x, (in_h, in_w, channels) = _spatial_input(reader, x, spatial, where)
    kernel = _pair(_as_tuple(kernel_size), spatial, "kernel_size", where)
    strides = _pair(_as_tuple(stride), spatial, "stride", where) if stride not in (None, (), []) else kernel
    pads = _pair(_as_tuple(padding), spatial, "padding", where, minimum=0)
    if _pair(_as_tuple(dilation), spatial, "dilation", where) != (1, 1):
        raise NnhlsError(f"{where} has dilation={dilation!r}; nnhls pools without dilation")
    if divisor_override is not None:
        raise NnhlsError(f"{where} has divisor_override={divisor_override!r}, which nnhls does not support")
    window = _pool_node(reader, fx_node.name, x, (in_h, in_w, channels), spatial, function, kernel, strides,
                        (pads[0], pads[0], pads[1], pads[1]), ceil_mode, count_include_pad, framework_class, where)
    return _Value(fx_node.name, _torch_image_shape(window, spatial, channels), x.axes, x.scale)


def _pool_node(reader: LayoutReader, name: str, x: _Value, image: tuple[int, int, int], spatial: int,
               function: str, kernel, strides, pads, ceil_mode: bool, count_include_pad: bool,
               framework_class: str, where: str) -> Window:
    """The Pool node `name` of channels-last `x` (of (height, width, channels) `image`), with
    `pads` (top, bottom, left, right); returns its window. An average counting the padding's zeros
    pads first (a ZeroPad), then averages over windows inside."""
    in_h, in_w, channels = image
    source = x.node
    if function == "average" and count_include_pad and any(pads):
        padded = Window(in_h, in_w, channels, 1, 1, 1, 1, *pads)
        pad_shape = (padded.out_w, channels) if spatial == 1 else (padded.out_h, padded.out_w, channels)
        source = reader.fresh(f"{name}_pad")
        reader.add(ZeroPad(source, [x.node], pad_shape, window=padded, in_shape=x.ir_shape), framework_class)
        in_h, in_w = (1, pad_shape[0]) if spatial == 1 else pad_shape[:2]
        pads = (0, 0, 0, 0)
    window = _checked_window(Window(in_h, in_w, channels, *kernel, *strides, *pads), where)
    if _ceil_mode_changes(window, ceil_mode, spatial):
        raise NnhlsError(f"{where} has ceil_mode=True, which adds a window at the end for this input; nnhls pools "
                         "as ceil_mode=False does: use ceil_mode=False (ceil_mode=0) or pad the input")
    shape = (window.out_w, channels) if spatial == 1 else (window.out_h, window.out_w, channels)
    reader.add(Pool(name, [source], shape, function=function, window=window,
                    in_shape=reader.by_name[source].shape), framework_class)
    return window


def _as_tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _global_pool(reader: _Reader, fx_node, x, spatial: int, function: str, output_size, framework_class: str,
                 keepdims: bool = True) -> _Value:
    """AdaptiveAvgPool / AdaptiveMaxPool: to one pixel a global pooling; to an output size that
    divides the input, a pooling of windows side by side."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    x, (in_h, in_w, channels) = _spatial_input(reader, x, spatial, where)
    sizes = _as_tuple(output_size)
    sizes = [sizes] * spatial if isinstance(sizes, int) or sizes is None else list(sizes)
    inputs = (in_h, in_w)[2 - spatial:]
    sizes = [inputs[i] if size is None else size for i, size in enumerate(sizes)]
    if len(sizes) != spatial or any(not isinstance(s, int) or s < 1 or n % s for s, n in zip(sizes, inputs)):
        raise NnhlsError(f"{where} has output_size={output_size!r} for an input of {inputs}; nnhls supports output "
                         "sizes that divide the input (1 for a global pooling)")
    kernel = tuple(n // s for n, s in zip(inputs, sizes))
    kernel = (1, *kernel) if spatial == 1 else kernel
    window = Window(in_h, in_w, channels, *kernel, *kernel)
    name = fx_node.name
    shape = _torch_image_shape(window, spatial, channels)
    if not keepdims:
        shape = (channels,)
    out = _Value(name, shape, _channels_last(len(shape)), x.scale)
    reader.add(Pool(name, [x.node], out.ir_shape, function=function, window=window, in_shape=x.ir_shape),
               framework_class)
    return out


def _zero_pad(reader: _Reader, fx_node, x, pad, value, framework_class: str) -> _Value:
    """PyTorch's pad: (left, right) of the last axis, then (top, bottom) of the one before."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    if value not in (0, 0.0, None):
        raise NnhlsError(f"{where} pads with {value}; nnhls pads with zeros only")
    pad = [pad] * 2 * (x.rank - 1) if isinstance(pad, int) else list(pad)
    if x.rank not in (2, 3) or len(pad) not in (2, 4) or len(pad) // 2 > x.rank - 1 or \
            not all(isinstance(p, int) and p >= 0 for p in pad):
        raise NnhlsError(f"{where} pads {pad!r} a tensor of shape {x.shape}; nnhls pads the length of (C, L) or the "
                         "height and width of (C, H, W) by non-negative amounts")
    spatial = x.rank - 1
    left, right = pad[:2]
    top, bottom = pad[2:4] if len(pad) == 4 else (0, 0)
    x, (in_h, in_w, channels) = _spatial_input(reader, x, spatial, where)
    window = Window(in_h, in_w, channels, 1, 1, 1, 1, top, bottom, left, right)
    name = fx_node.name
    out = _Value(name, _torch_image_shape(window, spatial, channels), x.axes, x.scale)
    reader.add(ZeroPad(name, [x.node], out.ir_shape, window=window, in_shape=x.ir_shape), framework_class)
    return out


def _upsample(reader: _Reader, fx_node, x, size, scale_factor, mode: str, align_corners, framework_class: str) -> _Value:
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    if x.rank not in (2, 3):
        raise NnhlsError(f"{where} resizes a tensor of shape {x.shape}; nnhls resizes (C, L) and (C, H, W)")
    spatial = x.rank - 1
    inputs = x.shape[1:]
    if size is not None:
        sizes = [size] * spatial if isinstance(size, int) else list(size)
        factors = [s / n for s, n in zip(sizes, inputs)]
    else:
        factors = [scale_factor] * spatial if isinstance(scale_factor, (int, float)) else list(scale_factor or [])
    if len(factors) != spatial or any(float(f) != int(f) or f < 1 for f in factors):
        raise NnhlsError(f"{where} resizes by {factors}; nnhls upsamples by whole factors (size a multiple of the "
                         "input's, or an integer scale_factor)")
    mode = str(mode).lower()
    interpolation = {"nearest": "nearest", "bilinear": "bilinear", "linear": "bilinear"}.get(mode)
    if interpolation is None or (interpolation == "bilinear" and align_corners):
        raise NnhlsError(f"{where} has mode={mode!r}, align_corners={align_corners!r}; nnhls upsamples with "
                         "mode='nearest', or 'bilinear' ('linear' in 1-D) with align_corners=False")
    factors = [int(f) for f in factors]
    size_h, size_w = (1, factors[0]) if spatial == 1 else factors
    x, (in_h, in_w, channels) = _spatial_input(reader, x, spatial, where)
    name = fx_node.name
    shape = (channels, in_w * size_w) if spatial == 1 else (channels, in_h * size_h, in_w * size_w)
    out = _Value(name, shape, x.axes, x.scale)
    reader.add(Upsample(name, [x.node], out.ir_shape, interpolation=interpolation, size_h=size_h, size_w=size_w,
                        in_shape=x.ir_shape), framework_class)
    return out


def _mean(reader: _Reader, fx_node, x, dim=None, keepdim: bool = False, dtype=None) -> _Value:
    """x.mean over every axis but the channels of (C, L) or (C, H, W): a global average pooling."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    dims = [dim] if isinstance(dim, int) else list(dim) if isinstance(dim, (list, tuple)) else None
    axes = sorted(_sample_axis(d, x.rank, where) for d in dims) if dims else None
    if x.rank not in (2, 3) or axes != list(range(1, x.rank)):
        raise NnhlsError(f"{where} averages over {dim!r} of a tensor of shape {x.shape}; nnhls averages over every "
                         "axis but the channels (dim=(2, 3) of an image, dim=2 of a signal)")
    return _global_pool(reader, fx_node, x, x.rank - 1, "average", 1, "mean", keepdims=bool(keepdim))


# ---------------------------------------------------------------------------------------------
# Shapes


def _reshape(reader: _Reader, fx_node, x: _Value, shape: tuple[int, ...], framework_class: str) -> _Value:
    """The values in PyTorch's row-major order, in a new shape (without the batch axis)."""
    where = reader.where(fx_node)
    if int(np.prod(shape)) != int(np.prod(x.shape)):
        raise NnhlsError(f"{where} reshapes {x.shape} into {shape}: the number of values must stay the same")
    if tuple(shape) == x.shape:
        return x
    x = reader.torch_order(x, where)
    name = fx_node.name
    out = _Value(name, tuple(shape), tuple(range(len(shape))), x.scale)
    cls = Flatten if len(shape) == 1 else Reshape
    reader.add(cls(name, [x.node], tuple(shape)), framework_class)
    return out


def _sizes(args) -> list:
    """view(a, b, ...) or view((a, b, ...)) as a list."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return list(args[0])
    return list(args)


def _view(reader: _Reader, fx_node, x, *sizes, framework_class: str = "view") -> _Value:
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    sizes = _sizes(sizes)
    count = int(np.prod(x.shape))
    if sizes and sizes[0] is BATCH:
        rest = sizes[1:]
    elif sizes and sizes[0] == -1 and -1 not in sizes[1:] and int(np.prod(sizes[1:])) == count:
        rest = sizes[1:]
    else:
        raise NnhlsError(f"{where} reshapes to {tuple(sizes)}; keep the batch axis first, e.g. "
                         "x.view(x.size(0), -1) or x.view(-1, features)")
    if not all(isinstance(s, int) and (s >= 1 or s == -1) for s in rest) or rest.count(-1) > 1:
        raise NnhlsError(f"{where} reshapes to {tuple(sizes)}; give positive sizes after the batch axis, one -1 at most")
    known = int(np.prod([s for s in rest if s != -1]))
    if -1 in rest:
        if known == 0 or count % known:
            raise NnhlsError(f"{where} cannot reshape {x.shape} into {tuple(sizes)}")
        rest[rest.index(-1)] = count // known
    return _reshape(reader, fx_node, x, tuple(rest), framework_class)


def _flatten(reader: _Reader, fx_node, x, start_dim: int = 1, end_dim: int = -1, framework_class: str = "flatten"):
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    rank = x.rank + 1
    start, end = start_dim % rank, end_dim % rank
    if start == 0:
        raise NnhlsError(f"{where} flattens the batch axis too (start_dim=0); flatten from dim 1, e.g. "
                         "torch.flatten(x, 1)")
    if end < start:
        return x
    shape = x.shape[:start - 1] + (int(np.prod(x.shape[start - 1:end])),) + x.shape[end:]
    return _reshape(reader, fx_node, x, shape, framework_class)


def _squeeze(reader: _Reader, fx_node, x, dim=None) -> _Value:
    where = reader.where(fx_node)
    if isinstance(x, _FinalStates):
        return x.squeeze(reader, fx_node, dim)
    x = reader.tensor(x, where)
    if dim is None:
        drop = [a for a, n in enumerate(x.shape) if n == 1]
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        drop = [_sample_axis(d, x.rank, where) for d in dims]
        drop = [a for a in drop if x.shape[a] == 1]
    shape = tuple(n for a, n in enumerate(x.shape) if a not in drop)
    if not shape:
        raise NnhlsError(f"{where} squeezes {x.shape} to a scalar; keep one axis")
    return _reshape(reader, fx_node, x, shape, "squeeze")


def _unsqueeze(reader: _Reader, fx_node, x, dim) -> _Value:
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    axis = _sample_axis(dim, x.rank, where, allow_end=True)
    return _reshape(reader, fx_node, x, x.shape[:axis] + (1,) + x.shape[axis:], "unsqueeze")


def _permute(reader: _Reader, fx_node, x, *dims) -> _Value:
    """A permutation of PyTorch's axes: only a new label of the IR tensor's axes, no node. Swapping
    the batch and step axes of (batch, steps, features) makes the time-major tensor a recurrent
    module of batch_first=False reads, and back."""
    where = reader.where(fx_node)
    dims = _sizes(dims)
    swaps_batch = [d % 3 for d in dims if isinstance(d, int)] == [1, 0, 2] and len(dims) == 3
    if isinstance(x, _TimeMajor):
        if not swaps_batch:
            raise NnhlsError(f"{where} permutes a time-major (steps, batch, features) tensor by {tuple(dims)}; nnhls "
                             "reads only the swap back to batch first, (1, 0, 2)")
        return x.value
    x = reader.tensor(x, where)
    if swaps_batch and x.rank == 2:
        return _TimeMajor(x)
    rank = x.rank + 1
    if sorted(d % rank for d in dims if isinstance(d, int)) != list(range(rank)) or len(dims) != rank:
        raise NnhlsError(f"{where}: {tuple(dims)} is not an order of the {rank} axes")
    dims = [d % rank for d in dims]
    if dims[0] != 0:
        raise NnhlsError(f"{where} moves the batch axis; nnhls keeps it first")
    order = [d - 1 for d in dims[1:]]  # output axis i is input axis order[i]
    position = {axis: i for i, axis in enumerate(order)}
    return _Value(x.node, tuple(x.shape[a] for a in order), tuple(position[a] for a in x.axes), x.scale)


def _transpose(reader: _Reader, fx_node, x, dim0: int, dim1: int) -> _Value:
    if not isinstance(x, _TimeMajor):
        x = reader.tensor(x, reader.where(fx_node))
    rank = (x.value if isinstance(x, _TimeMajor) else x).rank + 1
    dims = list(range(rank))
    dims[dim0 % rank], dims[dim1 % rank] = dims[dim1 % rank], dims[dim0 % rank]
    return _permute(reader, fx_node, x, *dims)


def _passthrough(reader: _Reader, fx_node, x, *args, **kwargs):
    return x if isinstance(x, _TimeMajor) else reader.tensor(x, reader.where(fx_node))


def _module_passthrough(reader: _Reader, fx_node, module, x, *args, **kwargs):
    return _passthrough(reader, fx_node, x)


def _size(reader: _Reader, fx_node, x, dim=None):
    x = reader.tensor(x, reader.where(fx_node))
    sizes = (BATCH, *x.shape)
    return sizes if dim is None else sizes[dim]


def _getattr(reader: _Reader, fx_node, x, name: str):
    if name == "shape" and isinstance(x, _Value):
        return _size(reader, fx_node, x)
    raise NnhlsError(f"{reader.where(fx_node)} reads attribute {name!r}; nnhls supports only .shape of a tensor")


def _getitem(reader: _Reader, fx_node, container, index):
    if isinstance(container, _FinalStates):
        return container.state(reader, fx_node, index)
    if isinstance(container, _TimeMajor):  # out[t] of a time-major output: step t of every sample
        sequence = container.value
        step = index[0] if isinstance(index, tuple) and all(i == slice(None) for i in index[1:]) else index
        if isinstance(step, int) and -sequence.shape[0] <= step < sequence.shape[0]:
            return _select_step(reader, fx_node.name, sequence, step % sequence.shape[0], reader.where(fx_node))
    if isinstance(container, tuple) and not isinstance(container, _Value):
        return container[index]
    if isinstance(container, _Value):
        step = _sequence_step(container, index)
        if step is not None:
            return _select_step(reader, fx_node.name, container, step, reader.where(fx_node))
    raise NnhlsError(f"{reader.where(fx_node)} indexes {_describe(container)}; nnhls supports indexing a tensor's "
                     "shape (x.shape[0]), a recurrent layer's outputs and final states (out[:, -1], h_n[-1]), not "
                     "slicing tensors")


# ---------------------------------------------------------------------------------------------
# Recurrent layers

_RNN_CELLS = {"RNN": "simple", "LSTM": "lstm", "GRU": "gru"}
# PyTorch's GRU blocks are r, z, n; the IR's (Keras's) z, r, h.
_GRU_BLOCKS = (1, 0, 2)


class _FinalStates:
    """h_n (or c_n) of a recurrent module: one final state per layer and direction, each the
    layer's output at the last step it reads, made when read (h_n[-1])."""

    def __init__(self, module: str, sequences: list[_Value], directions: int, steps: int, what: str):
        self.module, self.sequences, self.directions, self.steps, self.what = module, sequences, directions, steps, what

    def state(self, reader, fx_node, index) -> _Value:
        where = reader.where(fx_node)
        if self.what == "c_n":
            raise NnhlsError(f"{where} reads the LSTM's final cell state c_n, which nnhls keeps inside the layer; read "
                             "its output or h_n")
        n = len(self.sequences)
        if not isinstance(index, int) or not -n <= index < n:
            raise NnhlsError(f"{where} indexes h_n with {index!r}; index one layer and direction (0 to {n - 1}, or -1)")
        index %= n
        # A backward direction's last step read is the first of the sequence (returned in time order).
        step = 0 if index % self.directions else self.steps - 1
        return _select_step(reader, fx_node.name, self.sequences[index], step, where)

    def squeeze(self, reader, fx_node, dim) -> _Value:
        if len(self.sequences) != 1 or dim not in (0, None):
            raise NnhlsError(f"{reader.where(fx_node)} squeezes h_n of {len(self.sequences)} states; index it instead "
                             "(h_n[-1])")
        return self.state(reader, fx_node, 0)


def _sequence_step(value: _Value, index) -> int | None:
    """The step `index` picks from a (batch, steps, features) tensor (x[:, t] or x[:, t, :]), or None."""
    if value.rank != 2 or not isinstance(index, tuple) or len(index) not in (2, 3):
        return None
    everything = slice(None)
    if index[0] != everything or not isinstance(index[1], int) or (len(index) == 3 and index[2] != everything):
        return None
    steps = value.shape[0]
    return index[1] % steps if -steps <= index[1] < steps else None


def _select_step(reader, name: str, sequence: _Value, step: int, where: str) -> _Value:
    """Step `step` of a (steps, features) value: a cropping of the others, as a vector."""
    sequence = reader.torch_order(sequence, where)
    steps, features = sequence.shape
    cropped = reader.fresh(f"{name}_step")
    reader.add(Crop(cropped, [sequence.node], (1, features), in_shape=(steps, features), left=step,
                    right=steps - 1 - step), "getitem")
    reader.add(Flatten(name, [cropped], (features,)), "getitem")
    return _Value(name, (features,), (0,))


def _read_rnn(reader: _Reader, fx_node, module, x, hx=None):
    """nn.RNN, nn.LSTM and nn.GRU: a Recurrent node per layer and direction, each returning its
    sequence in time order (a bidirectional layer's two joined along the features). Returns what
    the module returns: (output, h_n), or (output, (h_n, c_n)) for an LSTM."""
    where = reader.where(fx_node)
    kind = type(module).__name__
    if hx is not None:
        raise NnhlsError(f"{where} is given an initial state; nnhls starts every sequence from zero: call it "
                         "without one")
    if getattr(module, "proj_size", 0):
        raise NnhlsError(f"{where} has proj_size={module.proj_size}; nnhls reads LSTMs without projections")
    if module.batch_first == isinstance(x, _TimeMajor):
        given = "a time-major (steps, batch, features)" if isinstance(x, _TimeMajor) else "a batch-first"
        raise NnhlsError(f"{where} has batch_first={module.batch_first} and reads {given} tensor; give it the "
                         "layout it expects (x.transpose(0, 1) swaps them)")
    x = reader.real(reader.tensor(x.value if isinstance(x, _TimeMajor) else x, where))
    if x.rank != 2:
        raise NnhlsError(f"{where} reads a tensor of shape {x.shape} (without the batch axis); it reads (steps, "
                         "features), batch first")
    cell, units, directions = _RNN_CELLS[kind], module.hidden_size, 2 if module.bidirectional else 1
    activation = (getattr(module, "nonlinearity", "tanh"), {})
    steps = x.shape[0]
    sequences, layer_input = [], reader.torch_order(x, where)
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            single = module.num_layers == 1 and directions == 1
            name = fx_node.name if single else reader.fresh(
                fx_node.name + (f"_l{layer}" if module.num_layers > 1 else "") + ("_reverse" if direction else ""))
            parts = recurrent_parts(name, cell, units, *_rnn_weights(module, suffix, cell, units), activation,
                                    ("sigmoid", {}))
            reader.add(Recurrent(name, [layer_input.node], (steps, units), cell=cell, units=units, steps=steps,
                                 return_sequences=True, go_backwards=bool(direction), time_order=True,
                                 activation=activation[0], recurrent_activation="sigmoid" if cell != "simple" else "",
                                 parts=parts), kind)
            outputs.append(_Value(name, (steps, units), (0, 1), features_last=True))
        sequences += outputs
        if directions == 1:
            layer_input = outputs[0]
        else:
            joined = reader.fresh(fx_node.name + (f"_l{layer}" if module.num_layers > 1 else "") + "_joined")
            reader.add(Concatenate(joined, [value.node for value in outputs], (steps, 2 * units), axis=1), kind)
            layer_input = _Value(joined, (steps, 2 * units), (0, 1), features_last=True)
    h_n = _FinalStates(fx_node.name, sequences, directions, steps, "h_n")
    output = layer_input if module.batch_first else _TimeMajor(layer_input)
    if cell == "lstm":
        return output, (h_n, _FinalStates(fx_node.name, sequences, directions, steps, "c_n"))
    return output, h_n


def _rnn_weights(module, suffix: str, cell: str, units: int) -> tuple[Weights, Weights, Weights, Weights]:
    """(kernel, recurrent kernel, bias, recurrent bias) of one layer and direction, in the IR's
    layouts ((n_in, blocks * units), (units, blocks * units)) and block order."""
    arrays = [_array(getattr(module, f"{name}{suffix}")) if getattr(module, "bias", True) or name.startswith("weight")
              else None for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    n_blocks = arrays[0].shape[0] // units
    if cell == "gru":  # PyTorch's rows r, z, n as z, r, n
        order = np.concatenate([np.arange(units) + block * units for block in _GRU_BLOCKS])
        arrays = [None if a is None else a[order] for a in arrays]
    kernel, recurrent = (Weights(np.ascontiguousarray(a.T)) for a in arrays[:2])
    biases = [zero_weights(n_blocks * units) if a is None else Weights(a) for a in arrays[2:]]
    return kernel, recurrent, *biases


# ---------------------------------------------------------------------------------------------
# Merges and constants


def _same_scale(values: list[_Value]) -> bool:
    return values[0].scale is not None and all(v.scale == values[0].scale for v in values)


def _concatenate(reader: _Reader, fx_node, tensors, dim: int = 0, framework_class: str = "cat") -> _Value:
    where = reader.where(fx_node)
    tensors = [reader.tensor(t, where, "an input") for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    ranks = {t.rank for t in tensors}
    if len(ranks) != 1:
        raise NnhlsError(f"{where} concatenates tensors of shapes {[t.shape for t in tensors]}")
    axis = _sample_axis(dim, tensors[0].rank, where)
    if not _same_scale(tensors):
        tensors = [reader.real(t) for t in tensors]
    first = tensors[0]
    tensors = [first] + [reader.in_order(t, first.axes, where) for t in tensors[1:]]
    others = {t.shape[:axis] + t.shape[axis + 1:] for t in tensors}
    if len(others) != 1:
        raise NnhlsError(f"{where}: shapes {[t.shape for t in tensors]} differ outside the concatenation axis")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in tensors)
    name = fx_node.name
    out = _Value(name, tuple(shape), first.axes, first.scale)
    reader.add(Concatenate(name, [t.node for t in tensors], out.ir_shape, axis=first.axes.index(axis)),
               framework_class)
    return out


# Binary functions of two tensors, by the name of the Merge function; with a constant, a ScaleShift.
def _binary(reader: _Reader, fx_node, a, b, function: str, framework_class: str, alpha=1) -> _Value:
    where = reader.where(fx_node)
    if alpha != 1:
        if not isinstance(b, (_Value,)) and function in ("add", "subtract"):
            b = _Constant(_constant_array(b) * alpha)
        else:
            raise NnhlsError(f"{where} has alpha={alpha}; nnhls supports alpha=1 between tensors")
    tensors = [v for v in (a, b) if isinstance(v, _Value)]
    if not tensors:
        raise NnhlsError(f"{where} computes on constants only")
    if len(tensors) == 1:
        return _with_constant(reader, fx_node, a, b, function, framework_class)
    a, b = tensors
    if function == "divide":
        raise NnhlsError(f"{where} divides a tensor by a tensor; nnhls divides by constants only")
    if a.shape != b.shape:
        raise NnhlsError(f"{where} combines tensors of shapes {a.shape} and {b.shape}; nnhls combines tensors of one "
                         "shape (no broadcasting)")
    scale = None
    if function in ("add", "subtract", "maximum", "minimum") and _same_scale([a, b]):
        scale = a.scale
    elif function == "multiply" and a.scale is not None and b.scale is not None:
        scale = a.scale * b.scale  # exact: two float32 significands fit in float64's
    else:
        a, b = reader.real(a), reader.real(b)
    b = reader.in_order(b, a.axes, where)
    name = fx_node.name
    reader.add(Merge(name, [a.node, b.node], a.ir_shape, function=function), framework_class)
    return _Value(name, a.shape, a.axes, scale)


def _constant_array(value) -> np.ndarray:
    if isinstance(value, _Constant):
        return value.values
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return np.asarray(float(value))
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return _array(value)
    raise NnhlsError(f"{_describe(value)} is not a number or a constant tensor")


def _with_constant(reader: _Reader, fx_node, a, b, function: str, framework_class: str) -> _Value:
    """x + c, x - c, c - x, x * c, x / c for a constant c of one value or one per channel: a ScaleShift."""
    where = reader.where(fx_node)
    x_first = isinstance(a, _Value)
    x, constant = (a, b) if x_first else (b, a)
    x = reader.real(x)
    try:
        c = _constant_array(constant).astype(np.float32).astype(np.float64)  # PyTorch computes in float32
    except NnhlsError as error:
        raise NnhlsError(f"{where}: {error}") from None
    c, x = _per_channel(reader, c, x, where)
    channels = x.ir_shape[-1]
    c = np.broadcast_to(c, (channels,)).astype(np.float64)
    ones, zeros = np.ones(channels), np.zeros(channels)
    if function == "add":
        scale, shift = ones, c
    elif function == "subtract":
        scale, shift = (ones, -c) if x_first else (-ones, c)
    elif function == "multiply":
        scale, shift = c, zeros
    elif function == "divide" and x_first:
        if np.any(c == 0):
            raise NnhlsError(f"{where} divides by zero")
        scale, shift = (1 / c).astype(np.float32).astype(np.float64), zeros
    else:
        raise NnhlsError(f"{where}: {function} of a tensor and a constant is not supported; nnhls adds, subtracts, "
                         "multiplies and divides by constants")
    name = fx_node.name
    reader.add(ScaleShift(name, [x.node], x.ir_shape, scale=exact_weights(scale), shift=exact_weights(shift)), framework_class)
    return _Value(name, x.shape, x.axes)


def _per_channel(reader: _Reader, c: np.ndarray, x: _Value, where: str) -> tuple[np.ndarray, _Value]:
    """A constant broadcast against x: one value for all, or one per channel (PyTorch's axis 0 of the
    sample, or its last axis), with x in the order that puts that axis last."""
    shape = c.shape
    if c.ndim > x.rank + 1 or (c.ndim == x.rank + 1 and shape[0] != 1):
        raise NnhlsError(f"{where} broadcasts a constant of shape {shape} over the batch axis")
    if c.ndim == x.rank + 1:
        c = c[0]
    aligned = (1,) * (x.rank - c.ndim) + tuple(c.shape)
    c = c.reshape(aligned)
    varying = [axis for axis, n in enumerate(aligned) if n != 1]
    if not varying:
        return c.reshape(-1)[:1], x
    if len(varying) == 1 and aligned[varying[0]] == x.shape[varying[0]]:
        return c.reshape(-1), reader.with_last(x, varying[0], where)
    raise NnhlsError(f"{where} combines a tensor of shape {x.shape} with a constant of shape {shape}; nnhls supports "
                     "one constant value, or one per channel")


# ---------------------------------------------------------------------------------------------
# Handlers by module class, function and method


def _module_relu(reader, fx_node, module, x):
    return _elementwise(reader, fx_node, x, "relu", type(module).__name__, keeps_scale=True)


def _module_function(function: str):
    def handler(reader, fx_node, module, x):
        return _elementwise(reader, fx_node, x, function, type(module).__name__)
    return handler


def _max_pool_module(reader, fx_node, module, x, spatial: int):
    if module.return_indices:
        _refuse(reader, fx_node, "has return_indices=True")
    return _pool(reader, fx_node, x, spatial, "max", module.kernel_size, module.stride, module.padding,
                 module.ceil_mode, type(module).__name__, dilation=module.dilation)


def _refuse(reader, fx_node, why: str):
    raise NnhlsError(f"{reader.where(fx_node)} {why}, which nnhls does not support")


def _unflatten(reader, fx_node, x, dim, sizes):
    x = reader.tensor(x, reader.where(fx_node))
    axis = _sample_axis(dim, x.rank, reader.where(fx_node))
    sizes = list(sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes[sizes.index(-1)] = x.shape[axis] // known
    return _reshape(reader, fx_node, x, x.shape[:axis] + tuple(sizes) + x.shape[axis + 1:], "Unflatten")


_MODULES = {
    "Linear": _read_linear,
    "Conv1d": partial(_read_conv, spatial=1),
    "Conv2d": partial(_read_conv, spatial=2),
    "BatchNorm1d": _read_batchnorm,
    "BatchNorm2d": _read_batchnorm,
    "ReLU": _module_relu,
    "LeakyReLU": lambda r, n, m, x: _relu_family(r, n, x, "LeakyReLU", slope=m.negative_slope),
    "ELU": lambda r, n, m, x: _elementwise(r, n, x, "elu", "ELU", alpha=float(m.alpha)),
    "PReLU": lambda r, n, m, x: _relu_family(r, n, x, "PReLU", slope=_array(m.weight)),
    "Threshold": lambda r, n, m, x: _read_threshold(r, n, x, float(m.threshold), float(m.value), "Threshold"),
    "Sigmoid": _module_function("sigmoid"),
    "Tanh": _module_function("tanh"),
    "Softsign": _module_function("softsign"),
    "Hardsigmoid": lambda r, n, m, x: _elementwise(r, n, x, "hard_sigmoid", "Hardsigmoid",
                                                   slope=Weights(np.array([1 / 6])), offset=exact_weights(0.5)),
    "Hardtanh": lambda r, n, m, x: _clip(r, n, x, float(m.min_val), float(m.max_val), type(m).__name__),
    "ReLU6": lambda r, n, m, x: _clip(r, n, x, 0.0, 6.0, "ReLU6"),
    "Softmax": lambda r, n, m, x: _softmax(r, n, x, m.dim, "Softmax"),
    "Softplus": lambda r, n, m, x: _softplus(r, n, x, float(m.beta), float(m.threshold), "Softplus"),
    "MaxPool1d": partial(_max_pool_module, spatial=1),
    "MaxPool2d": partial(_max_pool_module, spatial=2),
    "AvgPool1d": lambda r, n, m, x: _pool(r, n, x, 1, "average", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                          "AvgPool1d", count_include_pad=m.count_include_pad),
    "AvgPool2d": lambda r, n, m, x: _pool(r, n, x, 2, "average", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                          "AvgPool2d", count_include_pad=m.count_include_pad,
                                          divisor_override=m.divisor_override),
    "AdaptiveAvgPool1d": lambda r, n, m, x: _global_pool(r, n, x, 1, "average", m.output_size, "AdaptiveAvgPool1d"),
    "AdaptiveAvgPool2d": lambda r, n, m, x: _global_pool(r, n, x, 2, "average", m.output_size, "AdaptiveAvgPool2d"),
    "AdaptiveMaxPool1d": lambda r, n, m, x: _global_pool(r, n, x, 1, "max", m.output_size, "AdaptiveMaxPool1d"),
    "AdaptiveMaxPool2d": lambda r, n, m, x: _global_pool(r, n, x, 2, "max", m.output_size, "AdaptiveMaxPool2d"),
    "Flatten": lambda r, n, m, x: _flatten(r, n, x, m.start_dim, m.end_dim, "Flatten"),
    "Unflatten": lambda r, n, m, x: _unflatten(r, n, x, m.dim, m.unflattened_size),
    "Upsample": lambda r, n, m, x: _upsample(r, n, x, m.size, m.scale_factor, m.mode, m.align_corners, "Upsample"),
    "UpsamplingNearest2d": lambda r, n, m, x: _upsample(r, n, x, m.size, m.scale_factor, "nearest", None,
                                                        "UpsamplingNearest2d"),
    "ConstantPad1d": lambda r, n, m, x: _zero_pad(r, n, x, m.padding, m.value, "ConstantPad1d"),
    "ConstantPad2d": lambda r, n, m, x: _zero_pad(r, n, x, m.padding, m.value, "ConstantPad2d"),
    "ZeroPad1d": lambda r, n, m, x: _zero_pad(r, n, x, m.padding, 0, "ZeroPad1d"),
    "ZeroPad2d": lambda r, n, m, x: _zero_pad(r, n, x, m.padding, 0, "ZeroPad2d"),
    "Dropout": _module_passthrough,
    "Dropout1d": _module_passthrough,
    "Dropout2d": _module_passthrough,
    "AlphaDropout": _module_passthrough,
    "Identity": _module_passthrough,
    "RNN": _read_rnn,
    "LSTM": _read_rnn,
    "GRU": _read_rnn,
}


def _module_handler(module):
    """The handler of a module: Brevitas's quantized layers first (they subclass torch.nn's)."""
    if type(module).__module__.startswith("brevitas"):
        from nnhls.frontends import brevitas_layers

        return brevitas_layers.handler(module)
    return _MODULES.get(type(module).__name__) if type(module).__module__.startswith("torch.nn") else None


def supported_modules() -> list[str]:
    from nnhls.frontends.brevitas_layers import SUPPORTED as brevitas_supported

    return list(_MODULES) + list(brevitas_supported)


@cache  # built on first use, so that importing this module does not import torch
def _function_table() -> dict:
    torch = _torch()
    F = torch.nn.functional

    def fn(function, keeps_scale=False, **fields):
        def handler(reader, fx_node, x, *args, inplace=False, **kwargs):
            return _elementwise(reader, fx_node, x, function, fx_node.target.__name__, keeps_scale, **fields)
        return handler

    def leaky(reader, fx_node, x, negative_slope=0.01, inplace=False):
        return _relu_family(reader, fx_node, x, "leaky_relu", slope=negative_slope)

    def elu(reader, fx_node, x, alpha=1.0, inplace=False):
        return _elementwise(reader, fx_node, x, "elu", "elu", alpha=float(alpha))

    def hardtanh(reader, fx_node, x, min_val=-1.0, max_val=1.0, inplace=False):
        return _clip(reader, fx_node, x, float(min_val), float(max_val), "hardtanh")

    def clamp(reader, fx_node, x, min=None, max=None):
        if min is None or max is None:
            raise NnhlsError(f"{reader.where(fx_node)} clamps on one side; nnhls clamps between two bounds "
                             "(use relu for a lower bound of 0)")
        return _clip(reader, fx_node, x, float(min), float(max), "clamp")

    def softmax(reader, fx_node, x, dim=None, _stacklevel=3, dtype=None):
        return _softmax(reader, fx_node, x, dim, "softmax")

    def softplus(reader, fx_node, x, beta=1.0, threshold=20.0):
        return _softplus(reader, fx_node, x, float(beta), float(threshold), "softplus")

    def threshold(reader, fx_node, x, threshold, value, inplace=False):
        return _read_threshold(reader, fx_node, x, float(threshold), float(value), "threshold")

    def prelu(reader, fx_node, x, weight):
        return _relu_family(reader, fx_node, x, "prelu", slope=_constant_array(weight))

    def max_pool(spatial):
        def handler(reader, fx_node, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                    return_indices=False):
            if return_indices:
                _refuse(reader, fx_node, "has return_indices=True")
            return _pool(reader, fx_node, x, spatial, "max", kernel_size, stride, padding, ceil_mode,
                         f"max_pool{spatial}d", dilation=dilation)
        return handler

    def avg_pool(spatial):
        def handler(reader, fx_node, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                    divisor_override=None):
            return _pool(reader, fx_node, x, spatial, "average", kernel_size, stride, padding, ceil_mode,
                         f"avg_pool{spatial}d", count_include_pad=count_include_pad, divisor_override=divisor_override)
        return handler

    def adaptive(spatial, function):
        def handler(reader, fx_node, x, output_size, *args):
            return _global_pool(reader, fx_node, x, spatial, function, output_size, fx_node.target.__name__)
        return handler

    def pad(reader, fx_node, x, pad, mode="constant", value=None):
        if mode != "constant":
            _refuse(reader, fx_node, f"pads with mode={mode!r}")
        return _zero_pad(reader, fx_node, x, pad, value, "pad")

    def interpolate(reader, fx_node, x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None, antialias=False):
        if antialias:
            _refuse(reader, fx_node, "has antialias=True")
        return _upsample(reader, fx_node, x, size, scale_factor, mode, align_corners, "interpolate")

    def dropout(reader, fx_node, x, *args, **kwargs):
        return _passthrough(reader, fx_node, x)

    def flatten(reader, fx_node, x, start_dim=0, end_dim=-1):
        return _flatten(reader, fx_node, x, start_dim, end_dim)

    def reshape(reader, fx_node, x, shape):
        return _view(reader, fx_node, x, *shape, framework_class="reshape")

    def cat(reader, fx_node, tensors, dim=0, out=None):
        return _concatenate(reader, fx_node, tensors, dim)

    def binary(function):
        def handler(reader, fx_node, a, b, *, alpha=1, out=None):
            return _binary(reader, fx_node, a, b, function, function, alpha=alpha)
        return handler

    def mean(reader, fx_node, x, dim=None, keepdim=False, dtype=None):
        return _mean(reader, fx_node, x, dim, keepdim)

    def negative(reader, fx_node, x):
        return _with_constant(reader, fx_node, _Constant(np.asarray(0.0)), x, "subtract", "neg")

    table = {
        F.relu: fn("relu", keeps_scale=True), torch.relu: fn("relu", keeps_scale=True),
        F.leaky_relu: leaky, F.elu: elu, F.hardtanh: hardtanh, F.relu6: lambda r, n, x, inplace=False: _clip(
            r, n, x, 0.0, 6.0, "relu6"),
        torch.clamp: clamp, torch.clip: clamp, F.prelu: prelu, F.threshold: threshold,
        torch.sigmoid: fn("sigmoid"), F.sigmoid: fn("sigmoid"), torch.tanh: fn("tanh"), F.tanh: fn("tanh"),
        F.softsign: fn("softsign"), F.softplus: softplus, F.softmax: softmax, torch.softmax: softmax,
        F.hardsigmoid: lambda r, n, x, inplace=False: _elementwise(
            r, n, x, "hard_sigmoid", "hardsigmoid", slope=Weights(np.array([1 / 6])), offset=exact_weights(0.5)),
        F.max_pool1d: max_pool(1), F.max_pool2d: max_pool(2), F.avg_pool1d: avg_pool(1), F.avg_pool2d: avg_pool(2),
        F.adaptive_avg_pool1d: adaptive(1, "average"), F.adaptive_avg_pool2d: adaptive(2, "average"),
        F.adaptive_max_pool1d: adaptive(1, "max"), F.adaptive_max_pool2d: adaptive(2, "max"),
        F.pad: pad, F.interpolate: interpolate, F.dropout: dropout, F.dropout1d: dropout, F.dropout2d: dropout,
        torch.flatten: flatten, torch.reshape: reshape, torch.squeeze: lambda r, n, x, dim=None: _squeeze(r, n, x, dim),
        torch.unsqueeze: _unsqueeze, torch.permute: lambda r, n, x, dims: _permute(r, n, x, *dims),
        torch.transpose: _transpose, torch.cat: cat, torch.concat: cat, torch.concatenate: cat,
        operator.add: binary("add"), torch.add: binary("add"), operator.sub: binary("subtract"),
        torch.sub: binary("subtract"), torch.subtract: binary("subtract"), operator.mul: binary("multiply"),
        torch.mul: binary("multiply"), torch.multiply: binary("multiply"), operator.truediv: binary("divide"),
        torch.div: binary("divide"), torch.maximum: binary("maximum"), torch.minimum: binary("minimum"),
        operator.neg: negative, torch.neg: negative, torch.mean: mean, getattr: _getattr,
        operator.getitem: _getitem,
    }
    return table


@cache
def _method_table() -> dict:
    def fn(function, keeps_scale=False):
        def handler(reader, fx_node, x, *args, **kwargs):
            return _elementwise(reader, fx_node, x, function, function, keeps_scale)
        return handler

    def binary(function):
        def handler(reader, fx_node, a, b, *, alpha=1):
            return _binary(reader, fx_node, a, b, function, function, alpha=alpha)
        return handler

    return {
        "view": _view, "reshape": lambda r, n, x, *s: _view(r, n, x, *s, framework_class="reshape"),
        "flatten": lambda r, n, x, start_dim=0, end_dim=-1: _flatten(r, n, x, start_dim, end_dim),
        "squeeze": lambda r, n, x, dim=None: _squeeze(r, n, x, dim), "unsqueeze": _unsqueeze,
        "permute": _permute, "transpose": _transpose, "size": _size,
        **{name: _passthrough for name in ("contiguous", "float", "detach", "clone")},
        "relu": fn("relu", keeps_scale=True), "sigmoid": fn("sigmoid"), "tanh": fn("tanh"),
        "softmax": lambda r, n, x, dim=None, dtype=None: _softmax(r, n, x, dim, "softmax"),
        "add": binary("add"), "sub": binary("subtract"), "mul": binary("multiply"), "div": binary("divide"),
        "mean": lambda r, n, x, dim=None, keepdim=False, dtype=None: _mean(r, n, x, dim, keepdim),
        "neg": lambda r, n, x: _with_constant(r, n, _Constant(np.asarray(0.0)), x, "subtract", "neg"),
        "clamp": lambda r, n, x, min=None, max=None: _function_table()[_torch().clamp](r, n, x, min, max),
    }


def _names(table) -> list[str]:
    return [key if isinstance(key, str) else getattr(key, "__name__", repr(key)) for key in table.keys()]

