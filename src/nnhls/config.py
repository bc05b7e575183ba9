"""The configuration dictionary users know: `Model` > `LayerType` > `LayerName`, and applying it.

A precision, reuse factor, strategy or trace flag set for a layer name wins over one set for its
layer type, which wins over the model's. Precisions nobody set come from what the framework
itself did where it did something (a QKeras quantizer's exact type), `auto` for accumulators (an
exact type, inferred), and the model's default precision otherwise.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.ir import Graph, Node, embedding_index_type, range_type
from nnhls.types import AUTO, FixedType, exact_type, parse_precision

__all__ = ["apply_config", "config_from_graph", "config_from_keras_model", "config_from_onnx_model",
           "config_from_pytorch_model", "print_dict"]

STRATEGIES = ("Latency", "Resource")
_MODEL_KEYS = ("Precision", "ReuseFactor", "Strategy", "BramFactor", "TraceOutput", "ParallelizationFactor",
               "ConvImplementation", "ChannelsLastConversion", "TransposeOutputs", "RecurrentReuseFactor", "Static")
_LAYER_KEYS = ("Precision", "ReuseFactor", "Strategy", "Trace", "TableSize", "Implementation", "Skip",
               "ParallelizationFactor", "ConvImplementation", "RecurrentReuseFactor", "Static")
# How io_stream convolutions and poolings see their windows; the only one nnhls has.
CONV_IMPLEMENTATIONS = ("LineBuffer",)
PRECISION_KEYS = ("default", "maximum", "result", "accum", "weight", "bias", "scale", "table", "exp_table",
                  "inv_table", "param", "depthwise", "pointwise", "embeddings", "recurrent_weight", "recurrent_bias",
                  "state", "cell_state", "recurrent_table", "recurrent_param")
# The field's own spellings of layer keys: a precision as `<key>_t` directly in a layer's entry
# (config['LayerName']['softmax']['exp_table_t'] = 'ap_fixed<18,8>' sets Precision exp_table),
# and `skip` for `Skip`. Such scripts edit a configuration generated with nnhls's spellings, so in
# one entry the field's spelling wins.
_PRECISION_ALIASES = {f"{key}_t": key for key in PRECISION_KEYS if key not in ("default", "maximum")}
_KEY_ALIASES = {"skip": "Skip"}
# Which layers have each precision, for messages.
_PRECISION_OWNERS = {"result": "every layer but Flatten", "accum": "Dense, convolution and layer normalization layers",
                     "weight": "Dense and convolution layers",
                     "depthwise": "the depthwise parts of separable convolutions",
                     "pointwise": "the pointwise parts of separable convolutions",
                     "bias": "Dense, convolution, batch and layer normalization layers",
                     "scale": "batch and layer normalization layers",
                     "table": "table-driven activations (sigmoid, tanh, elu, selu, softplus) and layer normalizations",
                     "exp_table": "softmax layers", "inv_table": "softmax layers",
                     "param": "the ReLU family, hard sigmoid and table-driven activations",
                     "embeddings": "embedding layers",
                     "recurrent_weight": "recurrent layers", "recurrent_bias": "recurrent layers",
                     "state": "recurrent layers", "cell_state": "LSTM layers",
                     "recurrent_table": "recurrent layers whose gates are table-driven (sigmoid)",
                     "recurrent_param": "recurrent layers whose gates are hard sigmoids"}
# The field's range of a layer normalization's table (2**TableRangePower2), which nnhls's has no
# need of: its index normalizes the variance by its leading one (docs/fixed_point.md).
_TABLE_RANGE_KEYS = ("TableRangePower2", "table_range_power2")
# hls4ml's scripts set a recurrent layer's `static` in lowercase.
_STATIC_KEYS = ("Static", "static")
_LAYER_KEYS += tuple(_PRECISION_ALIASES) + tuple(_KEY_ALIASES) + _TABLE_RANGE_KEYS + ("static",)
# Slopes and scales inside activations that are not binary fractions (LeakyReLU's 0.3, SELU's scale).
DEFAULT_PARAM = "ap_fixed<18,2,AP_RND_CONV,AP_SAT>"
_TABLE_SIZES = tuple(2**k for k in range(1, 17))


def config_from_keras_model(model, granularity: str = "model", backend: str | None = None,
                            default_precision: str = "fixed<16,6>", default_reuse_factor: int = 1,
                            max_precision: str | None = None) -> dict:
    """A configuration dictionary for `model`, ready to edit and pass to the converter.

    granularity: 'model' (one entry for everything), 'type' (one per layer class) or 'name'
    (one per layer, showing the precisions nnhls will use). `backend` is accepted for
    compatibility; nothing in the configuration depends on it.
    """
    from nnhls.frontends import read_keras

    _check_granularity(granularity)
    return config_from_graph(read_keras(model), granularity, backend, default_precision, default_reuse_factor,
                             max_precision)


def config_from_pytorch_model(model, input_shape, granularity: str = "model", backend: str | None = None,
                              default_precision: str = "fixed<16,6>", default_reuse_factor: int = 1,
                              channels_last_conversion: str = "full", transpose_outputs: bool = False,
                              max_precision: str | None = None) -> dict:
    """A configuration dictionary for a torch.nn.Module (float, or with Brevitas's quantized layers).

    `input_shape`: the input's shape without the batch axis in PyTorch's layout, e.g. (1, 8, 8), or
    a list of shapes for several inputs; it is kept in the configuration (`InputShape`), which the
    converter reads. Layer names are the fx node names of the traced module.
    `channels_last_conversion`: 'full' (the design and `predict` take PyTorch's channels-first
    layout; nnhls transposes at the input), 'internal' (inputs are given channels-last: a (C, H, W)
    input as (H, W, C)), or 'off' (PyTorch's axis order throughout, for modules no layer of which
    needs channels-last). `transpose_outputs`: outputs in PyTorch's layout (True) or channels-last
    (False). Both are kept under config['Model'].
    """
    from nnhls.frontends.pytorch import input_shapes, read_pytorch

    _check_granularity(granularity)
    shapes = input_shapes(input_shape)
    graph = read_pytorch(model, shapes, channels_last_conversion, transpose_outputs)
    config = config_from_graph(graph, granularity, backend, default_precision, default_reuse_factor, max_precision)
    config["Model"]["ChannelsLastConversion"] = str(channels_last_conversion).lower()
    config["Model"]["TransposeOutputs"] = transpose_outputs
    config["InputShape"] = list(shapes[0]) if len(shapes) == 1 else [list(shape) for shape in shapes]
    return config


def config_from_onnx_model(model, granularity: str = "model", backend: str | None = None,
                           default_precision: str = "fixed<16,6>", default_reuse_factor: int = 1,
                           channels_last_conversion: str = "full", transpose_outputs: bool = False,
                           max_precision: str | None = None) -> dict:
    """A configuration dictionary for an ONNX or QONNX model: an onnx.ModelProto, a path to a .onnx
    file, or a qonnx ModelWrapper (docs/onnx.md).

    The model is read after qonnx's own clean-up and channels-last conversion; layer names are the
    node names they give ('Conv_0', 'MatMul_1', 'Quant_2'). `channels_last_conversion` and
    `transpose_outputs` as for config_from_pytorch_model (ONNX's tensors are channels-first too);
    both are kept under config['Model'].
    """
    from nnhls.frontends.onnx import read_onnx

    _check_granularity(granularity)
    graph = read_onnx(model, channels_last_conversion, transpose_outputs)
    config = config_from_graph(graph, granularity, backend, default_precision, default_reuse_factor, max_precision)
    config["Model"]["ChannelsLastConversion"] = str(channels_last_conversion).lower()
    config["Model"]["TransposeOutputs"] = transpose_outputs
    return config


def _check_granularity(granularity) -> None:
    if str(granularity).lower() not in ("model", "type", "name"):
        raise NnhlsError(f"granularity {granularity!r} is not valid; use 'model', 'type' or 'name'")


def config_from_graph(graph: Graph, granularity: str = "model", backend: str | None = None,
                      default_precision: str = "fixed<16,6>", default_reuse_factor: int = 1,
                      max_precision: str | None = None) -> dict:
    """The configuration of a graph a frontend read (what the framework-named functions return)."""
    granularity = str(granularity).lower()
    if granularity not in ("model", "type", "name"):
        raise NnhlsError(f"granularity {granularity!r} is not valid; use 'model', 'type' or 'name'")
    if backend is not None:
        from nnhls.hls.backend import get_backend

        get_backend(backend)  # a misspelt backend is reported now, not at conversion
    parse_precision(default_precision)
    precision = {"default": default_precision}
    if max_precision is not None:
        parse_precision(max_precision)
        precision["maximum"] = max_precision
    config = {"Model": {"Precision": precision, "ReuseFactor": default_reuse_factor, "Strategy": "Latency",
                        "BramFactor": 1_000_000_000, "TraceOutput": False}}
    if granularity == "type":
        config["LayerType"] = {}
        for node in graph:
            config["LayerType"].setdefault(node.framework_class, {
                "Precision": default_precision, "ReuseFactor": default_reuse_factor, "Trace": False})
        for layer_type, entry in config["LayerType"].items():
            framework = {str(t) for node in graph if node.framework_class == layer_type
                         for t in _framework_types(node, graph)}
            # A type-wide precision would replace the framework's own types (each quantizer's).
            if layer_type == "InputLayer" and len(framework) == 1:
                entry["Precision"] = framework.pop()
            elif framework:
                del entry["Precision"]
    elif granularity == "name":
        config["LayerName"] = {}
        for node in graph:
            entry = {"Trace": False}
            keys = node.precision_keys()
            if keys:
                entry["Precision"] = {key: str(_default_precision(node, key, default_precision, graph))
                                      for key in keys}
            if node.op in ("dense", "conv"):
                entry["ReuseFactor"] = default_reuse_factor
            if node.op == "conv":
                entry.update(ParallelizationFactor=1, ConvImplementation="LineBuffer")
            if node.op == "recurrent":
                entry.update(ReuseFactor=default_reuse_factor, RecurrentReuseFactor=default_reuse_factor,
                             Static=True)
            if node.op in ("lookup", "softmax", "layernorm") or getattr(node, "table_size", None) is not None:
                entry["TableSize"] = node.table_size
            if node.op == "softmax":
                entry.update(Implementation=node.implementation, Skip=False)
            config["LayerName"][node.name] = entry
    return config


def _framework_types(node: Node, graph: Graph) -> list[FixedType]:
    """The types the framework itself fixed for `node` (its quantizers; an input's rounding-once type)."""
    if node.op == "input":
        once = embedding_input_type(graph, node) or input_rounding_once(graph, node)
        return [once] if once is not None else []
    constants = [getattr(node, key, None) for key in ("weight", "bias")]
    return [t for t in [node.result_quantizer] + [c.quantizer for c in constants if c is not None] if t is not None]


def _default_precision(node: Node, key: str, default: str, graph: Graph):
    """What a precision is when the user sets nothing: the framework's own type where it has one."""
    if node.op == "input":
        rounding_once = embedding_input_type(graph, node) or input_rounding_once(graph, node)
        return rounding_once if rounding_once is not None else default
    if node.op == "conv" and key == node.weight_key:
        key = "weight"
    if node.op == "recurrent":
        return _recurrent_precision(node, key, default)
    if node.op == "layernorm" and key != "result":
        return _layernorm_precision(node, key)
    if key in ("weight", "bias") and node.op in ("dense", "conv"):
        quantizer = getattr(node, key).quantizer
        return quantizer if quantizer is not None else default
    if key == "accum" or (key in ("scale", "bias") and node.op == "batchnorm"):
        return AUTO
    if key == "table":
        return node.FUNCTIONS[node.function][3]
    if key == "param":
        return DEFAULT_PARAM
    if key in ("exp_table", "inv_table"):
        return node.DEFAULT_TABLE
    if key == "result":
        if node.result_quantizer is not None:
            return node.result_quantizer
        if node.op in ("dense", "conv") and node.weight.quantizer is not None:
            return AUTO  # a quantized layer's sum is exact in the framework too
        if node.moves_values or node.op in ("pool", "upsample"):
            return AUTO  # moves or averages values: exactly the input's type (see Pool for averages)
        if node.op == "embedding":
            return AUTO  # a row of the table, exactly the table's type
        if node.op == "scale_shift" and node.scale.quantizer is not None:
            return AUTO  # the per-channel scale of a quantized layer (QKeras alpha='auto')
        if node.op == "concatenate" or (node.op == "merge" and node.function in ("maximum", "minimum")):
            return AUTO  # moves or picks values: exactly the union of the inputs' types
        if node.op in ("merge", "dot") and all(_framework_exact(graph, name) for name in node.inputs):
            return AUTO  # of values the framework quantized, its float result is exact too
        readers = _quantizers_reading(graph, node.name)
        if readers and all(reader is not None for reader in readers) and node.name not in graph.outputs:
            return AUTO  # read only by quantizers, which then round the exact value once, as the framework does
    return default


def _recurrent_precision(node: Node, key: str, default: str):
    """A recurrent layer's kernels and biases, and its state, take the framework's types where it
    has them (QKeras's quantizers), else the default; the pre-activations are exact; the tables
    and parameters are its activations' defaults."""
    if key in ("weight", "bias", "recurrent_weight", "recurrent_bias"):
        part = node.parts["input" if key in ("weight", "bias") else "recurrent"]
        quantizer = getattr(part, key.removeprefix("recurrent_")).quantizer
        return quantizer if quantizer is not None else default
    if key == "accum":
        return AUTO
    if key == "result":  # QKeras returns the state it computed, exactly; a float one the default
        return AUTO if node.state_quantizer is not None else default
    if key in ("state", "cell_state"):
        quantizer = node.state_quantizer
        return quantizer if quantizer is not None else default
    part = node.parts["gate" if key.startswith("recurrent_") else "candidate"]
    if key.endswith("table"):
        return part.FUNCTIONS[part.function][3]
    return DEFAULT_PARAM


def _layernorm_precision(node: Node, key: str) -> str:
    """A LayerNorm's table and normalized differences keep about 18 significant bits; gamma and
    beta 18 bits sized to their values: a few output LSBs from the framework (docs/fixed_point.md)."""
    if key == "table":
        return f"ap_ufixed<18,{node.table_integer_bits()},AP_RND,AP_SAT>"
    if key == "accum":
        return node.DEFAULT_ACCUM
    largest = float(np.abs(getattr(node, key).values).max(initial=0))
    integer = max(int(np.floor(np.log2(largest))) + 2, 1) if largest > 0 else 1
    return f"ap_fixed<18,{integer},AP_RND_CONV,AP_SAT>"


def _framework_exact(graph: Graph, name: str) -> bool:
    """Whether the value `name` is exact in the framework's own arithmetic: a quantizer's output,
    or what moves, picks or merges such values."""
    node = graph[name]
    if node.result_quantizer is not None:
        return True
    # A quantized layer's sum of exact inputs is exact in the framework too (its result is `auto`).
    quantized_sum = node.op in ("dense", "conv") and node.weight.quantizer is not None and (
        node.bias is None or node.bias.quantizer is not None)
    exact_of_exact = _moves_values(node) or quantized_sum or node.op in ("concatenate", "merge", "dot")
    return exact_of_exact and bool(node.inputs) and all(_framework_exact(graph, source) for source in node.inputs)


def _moves_values(node: Node) -> bool:
    """Whether `node` only moves its input's values (or picks among them), changing none."""
    return node.moves_values


# Quantized activations that are the identity or relu into their type: a float input converted
# into a type of the same step and rounding is rounded once, as the framework rounds it.
_ROUNDS_LIKE_ITS_INPUT = ("linear", "relu")


def _quantizers_reading(graph: Graph, name: str) -> list[Node]:
    """The nodes that quantize the value `name` (through the ops that move values and change none:
    Flatten, reshapes, transposes, cropping, zero padding, nearest upsampling and max pooling); a
    reader that is none of these gives None in the list."""
    readers = []
    for consumer in graph.consumers(name):
        if _moves_values(consumer):
            readers += _quantizers_reading(graph, consumer.name)
        elif consumer.result_quantizer is not None:
            readers.append(consumer)
        else:
            readers.append(None)
    return readers


def _rounding_once_type(reader: Node) -> FixedType | None:
    """The type a float converted into rounds exactly as `reader`'s quantizer rounds it, or None
    where `reader` is no identity or relu into its quantizer's type."""
    if reader.op == "step":
        return _staircase_input_type(reader)
    if reader.op != "activation" or reader.function not in _ROUNDS_LIKE_ITS_INPUT:
        return None
    quantizer = reader.result_quantizer
    if reader.function == "linear":
        return quantizer
    # relu(round(x)) = round(relu(x)): the step and rounding of the quantizer, signed, saturating.
    return FixedType(quantizer.width + (not quantizer.signed), quantizer.integer + (not quantizer.signed), True,
                     quantizer.rounding, "SAT")


# Widest input type a staircase's thresholds may ask for (a Brevitas quantizer's float32
# thresholds need about 24 significant bits plus the quantizer's bits).
_STAIRCASE_INPUT_WIDTH = 48


def _staircase_input_type(step: Node) -> FixedType | None:
    """The type a float input converted into compares with every threshold of `step` (x >= t) as
    the float itself does: every threshold lies on its grid and in its range, and it rounds down
    (AP_TRN) and saturates, so x >= t exactly when its conversion is. Where that grid needs more
    than _STAIRCASE_INPUT_WIDTH bits (a threshold at 2**-149, where a quantizer rounding up steps),
    the type keeps that width and the range of every threshold, and drops the finest fractional
    bits: only an input nearer than its LSB to a threshold off its grid then compares as the grid
    point below it. None for a staircase with strict thresholds."""
    thresholds = np.asarray(step.thresholds, dtype=np.float64)
    thresholds = thresholds[np.isfinite(thresholds)]
    if step.strict is not None and np.any(step.strict) or not thresholds.size:
        return None
    frac = exact_type(thresholds).fractional
    while True:
        low = int(np.floor(np.ldexp(thresholds.min(), frac))) - 1  # one step below every threshold
        high = int(np.ceil(np.ldexp(thresholds.max(), frac)))
        grid = range_type(low, high, frac)
        if grid.width <= _STAIRCASE_INPUT_WIDTH:
            return FixedType(grid.width, grid.integer, grid.signed, "TRN", "SAT")
        frac -= grid.width - _STAIRCASE_INPUT_WIDTH


def embedding_input_type(graph: Graph, node: Node) -> FixedType | None:
    """The type of input `node` when embeddings are its only readers: the narrowest unsigned integer
    type holding every index of the largest table (`embedding_index_type`), as hls4ml's users set
    it by hand (ap_uint<4> for 13 words). None otherwise."""
    readers = graph.consumers(node.name)
    if not readers or any(reader.op != "embedding" for reader in readers):
        return None
    return embedding_index_type(max(reader.input_dim for reader in readers))


def input_rounding_once(graph: Graph, node: Node) -> FixedType | None:
    """The type of input `node` that rounds a float once, as the quantizer reading it does: where
    every reader is a quantized identity or relu of one step and one rounding mode, the type of
    that step and mode holding every reader's range. None otherwise."""
    readers = _quantizers_reading(graph, node.name)
    types = [None if reader is None else _rounding_once_type(reader) for reader in readers]
    if not types or any(t is None for t in types):
        return None
    first = types[0]
    if any((t.fractional, t.rounding) != (first.fractional, first.rounding) for t in types):
        return None
    if all(t == first for t in types):
        return first
    integer = max(t.integer for t in types)
    return FixedType(integer + first.fractional, integer, True, first.rounding, "SAT")


def _warn_if_rounding_twice(graph: Graph, node: Node) -> None:
    """Warn where the input's type rounds or clips a float input that a quantizer reading it
    would have rounded differently (once, at its own step)."""
    chosen, derived = node.result_type, input_rounding_once(graph, node)
    for reader in _quantizers_reading(graph, node.name):
        once = None if reader is None else _rounding_once_type(reader)
        if once is None or chosen == once:
            continue
        quantizer = f"the quantizer {reader.result_quantizer} of {reader.name!r}"
        if chosen.fractional < once.fractional:
            why = f"keeps fewer fractional bits than {quantizer}"
        elif (chosen.fractional, chosen.rounding) != (once.fractional, once.rounding):
            why = f"rounds the float input before {quantizer} rounds it again, so values near a tie land one step off"
        elif chosen.overflow not in ("SAT", "SAT_SYM") or _lowest_kept(chosen, reader) > _lowest_kept(once, reader) \
                or chosen.max_code < once.max_code:
            why = f"wraps or clips values that {quantizer} keeps"
        else:
            continue  # the same step and rounding, saturating over at least the quantizer's range
        fix = ("; leave the input's precision unset: its default rounds once" if derived is not None
               else f"; {once} rounds once for {reader.name!r}")
        warnings.warn(f"input {node.name!r}: its precision {chosen} {why}{fix}", stacklevel=4)


def _lowest_kept(t: FixedType, reader: Node) -> int:
    """The lowest code of `t` that `reader` tells apart from higher ones (a relu maps all below 0 to 0)."""
    if reader.function == "relu":
        return 0
    # AP_SAT_SYM keeps the most negative code out, except on one signed bit, where it acts as AP_SAT.
    return -t.max_code if t.overflow == "SAT_SYM" and t.signed and t.width > 1 else t.min_code


def print_dict(dictionary: dict, indent: int = 0) -> None:
    """Print a (configuration) dictionary as an indented tree."""
    for key, value in dictionary.items():
        if isinstance(value, dict):
            print(" " * indent + f"{key}:")
            print_dict(value, indent + 2)
        else:
            print(" " * indent + f"{key}: {value}")


def _check_keys(entry: dict, valid: tuple[str, ...], where: str) -> None:
    if not isinstance(entry, dict):
        raise NnhlsError(f"{where} must be a dictionary, got {entry!r}")
    for key in entry:
        if key not in valid:
            raise NnhlsError(f"unknown key {key!r} in {where}; valid keys: {', '.join(valid)}")


def _precisions(value, where: str) -> dict:
    """A Precision entry as a dict; a plain string is the `default` of that scope."""
    if isinstance(value, str):
        value = {"default": value}
    _check_keys(value, PRECISION_KEYS, f"{where}['Precision']")
    parsed = {}
    for key, text in value.items():
        try:
            parsed[key] = parse_precision(text)
        except NnhlsError as error:
            raise NnhlsError(f"{where}['Precision']['{key}']: {error}") from None
    return parsed


def _reuse_factor(value, where: str, key: str = "ReuseFactor") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NnhlsError(f"{where}['{key}'] must be a positive integer, got {value!r}")
    return value


def _static(value, where: str, key: str = "Static") -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise NnhlsError(f"{where}['{key}'] is {value!r}; use True (one cell reused at every time step) or False "
                         "(the time steps unrolled)")
    return bool(value)


def _conv_implementation(entry: dict, where: str) -> None:
    value = entry.get("ConvImplementation", CONV_IMPLEMENTATIONS[0])
    if not any(isinstance(value, str) and value.lower() == known.lower() for known in CONV_IMPLEMENTATIONS):
        raise NnhlsError(f"{where}['ConvImplementation'] is {value!r}; supported: {', '.join(CONV_IMPLEMENTATIONS)}")


def _strategy(value, where: str) -> str:
    for strategy in STRATEGIES:
        if isinstance(value, str) and value.lower() == strategy.lower():
            return strategy
    raise NnhlsError(f"{where}['Strategy'] is {value!r}; valid: {', '.join(STRATEGIES)}")


def apply_config(graph: Graph, config: dict | None) -> dict:
    """Set every node's precisions, reuse factor, strategy and trace flag from `config`.

    Returns the model-level settings (`default`/`maximum` precision, BramFactor) the passes need.
    """
    config = copy.deepcopy(config) if config else {}
    _check_keys(config, ("Model", "LayerType", "LayerName", "InputShape"), "the configuration")
    model = config.get("Model", {})
    _check_keys(model, _MODEL_KEYS, "config['Model']")
    model_precision = _precisions(model.get("Precision", "fixed<16,6>"), "config['Model']")
    default = model_precision.get("default", parse_precision("fixed<16,6>"))
    settings = {
        "ReuseFactor": _reuse_factor(model.get("ReuseFactor", 1), "config['Model']"),
        "Strategy": _strategy(model.get("Strategy", "Latency"), "config['Model']"),
        "Trace": bool(model.get("TraceOutput", False)),
        "ParallelizationFactor": _reuse_factor(model.get("ParallelizationFactor", 1), "config['Model']",
                                               "ParallelizationFactor"),
        "Static": _static(model.get("Static", True), "config['Model']"),
    }
    settings["RecurrentReuseFactor"] = _reuse_factor(model.get("RecurrentReuseFactor", settings["ReuseFactor"]),
                                                     "config['Model']", "RecurrentReuseFactor")
    _conv_implementation(model, "config['Model']")

    layer_types = config.get("LayerType", {})
    _check_keys(layer_types, tuple(sorted({n.framework_class for n in graph})), "config['LayerType']")
    layer_names = _by_node_name(config.get("LayerName", {}), graph)
    _check_keys(layer_names, tuple(n.name for n in graph), "config['LayerName']")

    aliases_applied = {}  # (LayerType entry, alias) -> whether a layer of that type has the precision
    for node in graph:
        scopes = []  # most specific last
        for where, entry in ((f"config['LayerType']['{node.framework_class}']", layer_types.get(node.framework_class)),
                             (f"config['LayerName']['{node.name}']", layer_names.get(node.name))):
            if entry is not None:
                _check_keys(entry, _LAYER_KEYS, where)
                scopes.append((where, entry))
        values = dict(settings)
        precision = {}
        for where, entry in scopes:
            if "ReuseFactor" in entry:
                values["ReuseFactor"] = _reuse_factor(entry["ReuseFactor"], where)
            if "ReuseFactor" in entry and "RecurrentReuseFactor" not in entry:
                values["RecurrentReuseFactor"] = values["ReuseFactor"]
            for key in ("RecurrentReuseFactor", *_STATIC_KEYS):
                if key in entry:
                    if node.op != "recurrent" and where.startswith("config['LayerName']"):
                        raise NnhlsError(f"{where}['{key}'] applies to recurrent layers; {node.name!r} is a "
                                         f"{node.op} layer")
                    if key == "RecurrentReuseFactor":
                        values[key] = _reuse_factor(entry[key], where, key)
                    else:
                        values["Static"] = _static(entry[key], where, key)
            if "ParallelizationFactor" in entry or "ConvImplementation" in entry:
                if node.op not in ("conv", "pool"):
                    key = "ParallelizationFactor" if "ParallelizationFactor" in entry else "ConvImplementation"
                    if where.startswith("config['LayerName']"):
                        raise NnhlsError(f"{where}['{key}'] applies to convolution layers; {node.name!r} is a "
                                         f"{node.op} layer")
                if "ParallelizationFactor" in entry:
                    values["ParallelizationFactor"] = _reuse_factor(entry["ParallelizationFactor"], where,
                                                                    "ParallelizationFactor")
                _conv_implementation(entry, where)
            softmax_strategy = (node.op == "softmax" and "Strategy" in entry
                                and str(entry["Strategy"]).lower() in _SOFTMAX_STRATEGIES)
            if "Strategy" in entry and not softmax_strategy:
                values["Strategy"] = _strategy(entry["Strategy"], where)
            if "Trace" in entry:
                values["Trace"] = bool(entry["Trace"])
            _table_settings(node, entry, where)
            if softmax_strategy:  # after Implementation: in one entry the field's spelling wins
                _softmax_implementation(node, entry["Strategy"], f"{where}['Strategy']", stacklevel=4)
            if "Precision" in entry:
                scoped = _precisions(entry["Precision"], where)
                if "default" in scoped:  # a scope's default covers all of that scope's precisions
                    precision = {"default": scoped["default"]}
                precision.update(scoped)
            precision.update(_aliased_precisions(node, entry, where, aliases_applied))
        node.reuse_factor = values["ReuseFactor"]
        if node.op == "conv":
            node.parallelization_factor = values["ParallelizationFactor"]
        if node.op == "recurrent":
            node.recurrent_reuse_factor = values["RecurrentReuseFactor"]
            node.static = values["Static"]
        node.strategy = values["Strategy"]
        node.trace = values["Trace"]
        for key in node.precision_keys():
            # A part of a separable convolution takes a type-wide 'weight' for its own kernel key.
            chosen = precision.get(key, precision.get("weight") if key in ("depthwise", "pointwise") else None)
            chosen = precision.get("default") if chosen is None else chosen
            if chosen is None:
                chosen = parse_precision(_default_precision(node, key, str(default), graph))
            _set_precision(node, key, chosen)
        if node.op == "input":
            _warn_if_rounding_twice(graph, node)
    for (where, alias), applied in aliases_applied.items():
        if not applied:
            raise NnhlsError(f"{where}['{alias}']: no layer of this type has a {_PRECISION_ALIASES[alias]!r} "
                             "precision; set it on the layers that have one")
    return {"default": default, "maximum": model_precision.get("maximum"),
            "BramFactor": model.get("BramFactor", 1_000_000_000)}


def _by_node_name(layer_names, graph: Graph):
    """config['LayerName'] with each key that is another name of a node (graph.aliases) as that node's name."""
    if not isinstance(layer_names, dict) or not graph.aliases:
        return layer_names
    renamed = {}
    for name, entry in layer_names.items():
        key = graph.aliases[name] if name not in graph and name in graph.aliases else name
        if key in renamed:
            raise NnhlsError(f"config['LayerName'] names layer {key!r} twice (as {name!r} too)")
        renamed[key] = entry
    return renamed


def _aliased_precisions(node: Node, entry: dict, where: str, applied: dict) -> dict:
    """The precisions an entry sets in the field's spelling (`exp_table_t`, ...), parsed.

    A layer name's entry naming a precision its layer does not have is an error; a layer type's
    entry sets it on the layers of that type that have it (`applied` records whether any has).
    """
    precisions = {}
    keys = node.precision_keys()
    for alias, key in _PRECISION_ALIASES.items():
        if alias not in entry:
            continue
        try:
            parsed = parse_precision(entry[alias])
        except NnhlsError as error:
            raise NnhlsError(f"{where}['{alias}']: {error}") from None
        by_type = where.startswith("config['LayerType']")
        if by_type:
            applied[(where, alias)] = applied.get((where, alias), False) or key in keys
        if key in keys:
            precisions[key] = parsed
        elif not by_type:
            raise NnhlsError(f"{where}['{alias}']: layer {node.name!r} ({node.framework_class}, a {node.op} layer) "
                             f"has no {key!r} precision; {alias} applies to {_PRECISION_OWNERS[key]}")
    return precisions


def _table_settings(node: Node, entry: dict, where: str) -> None:
    """TableSize, Implementation and Skip (or `skip`), which only table-driven activations have."""
    for key in _TABLE_RANGE_KEYS:
        if key not in entry:
            continue
        if node.op != "layernorm":
            raise NnhlsError(f"{where}['{key}'] applies to layer normalization layers; {node.name!r} is a "
                             f"{node.op} layer")
        # A script written for the field's tools sets it; nnhls's table has no range to set.
        warnings.warn(f"{where}['{key}'] is ignored: nnhls's layer normalization table needs no range: it is "
                      "indexed by the variance's leading bits, so it covers every variance with the same relative "
                      "resolution (TableSize sets the resolution)", stacklevel=5)
    for key in ("TableSize", "Implementation", "Skip", *_KEY_ALIASES):
        if key not in entry:
            continue
        valid_op = ("lookup", "softmax", "layernorm", "recurrent") if key == "TableSize" else ("softmax",)
        if node.op not in valid_op or (node.op == "recurrent" and node.table_size is None):
            raise NnhlsError(f"{where}['{key}'] applies to {' and '.join(valid_op)} layers; "
                             f"{node.name!r} is a {node.op} layer")
        value = entry[key]
        if key == "TableSize":
            if value not in _TABLE_SIZES:
                raise NnhlsError(f"{where}['TableSize'] is {value!r}; use a power of two from 2 to 65536")
            if node.op == "layernorm" and value < node.MIN_TABLE_SIZE:
                raise NnhlsError(f"{where}['TableSize'] is {value!r}; a layer normalization's table has half its "
                                 f"bins per octave, so it needs at least {node.MIN_TABLE_SIZE}")
            if node.op == "recurrent":
                node.set_table_size(value)
            else:
                node.table_size = value
        elif key == "Implementation":
            _softmax_implementation(node, value, f"{where}['Implementation']")
        else:
            node.skip = bool(value)


# The field's older spelling names a softmax's implementation as its Strategy ('Stable').
_SOFTMAX_STRATEGIES = ("stable", "argmax", "legacy")


def _softmax_implementation(node: Node, value, where: str, stacklevel: int = 5) -> None:
    implementation = str(value).lower()
    if implementation in ("latency", "legacy"):
        # Their designs index tables without subtracting the maximum, which needs an
        # inverse table over [0, n * e**range): too coarse at any usual size.
        warnings.warn(f"{where} is {value!r}: nnhls realizes softmax {node.name!r} with its 'stable' algorithm "
                      "(exactly indexed tables, maximum subtracted first)", stacklevel=stacklevel)
        implementation = "stable"
    if implementation not in node.IMPLEMENTATIONS:
        raise NnhlsError(f"{where} is {value!r}; supported: {', '.join(node.IMPLEMENTATIONS)} "
                         "('latency' and 'legacy' run as 'stable')")
    node.implementation = implementation


def _set_precision(node: Node, key: str, precision) -> None:
    node.set_precision(key, precision)
