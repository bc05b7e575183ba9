"""Keras 2 (tf.keras, QKeras) and Keras 3 models into the IR, from layer configs and weights.

Connectivity comes from `model.get_config()` (the same description Keras saves to disk), layer
arguments from `layer.get_config()` and public attributes, values from `layer.get_weights()`.
Neither TensorFlow nor Keras is imported until a model is read, so `import nnhls` stays light.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.frontends import qkeras as qk
from nnhls.frontends.constants import exact_weights, zero_weights
from nnhls.frontends.names import fresh_name
from nnhls.ir import (ACTIVATIONS, Activation, BatchNorm, Concatenate, Conv, Crop, Dense, Dot, Embedding, Flatten,
                      Graph, Input, LayerNorm, Lookup, Merge, Node, ParametricRelu, Pool, Recurrent, Reshape,
                      ScaleShift, Transpose, Upsample, Weights, Window, ZeroPad, make_activation, recurrent_parts,
                      same_padding)
from nnhls.types import exact_type

__all__ = ["SUPPORTED_LAYERS", "load_keras_file", "load_keras_json", "read_keras"]

# Activation functions by the name Keras gives them: the IR's, and `leaky_relu` (slope 0.2).
SUPPORTED_ACTIVATIONS = ACTIVATIONS + ("leaky_relu",)


@dataclass
class _Layer:
    """One Keras layer as read from the model: its config, its live object and its input layers."""

    name: str
    class_name: str
    config: dict
    layer: object  # the live layer; None for the InputLayer of a Sequential model
    inputs: list[str]  # names of the Keras layers feeding it

    @property
    def where(self) -> str:
        return f"layer {self.name!r} ({self.class_name})"


def read_keras(model) -> Graph:
    """Read a Sequential or Functional Keras model, live or from a `.h5` / `.keras` file.

    Live models may be tf.keras (Keras 2, which QKeras builds) or Keras 3. Node names are the
    Keras layer names; a Dense with an activation becomes a Dense node and an Activation node
    named `<layer>_<function>`, and Dropout disappears.
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_keras_file(model)
    with warnings.catch_warnings():
        # tf.keras warns on every QKeras quantizer in a layer's config, which nnhls only reads.
        warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API")
        layers, output_layers = _layers_of(model)
    _check_masks(layers)
    reader = _Reader({layer.name for layer in layers})
    for layer in layers:
        reader.read(layer)
    outputs = [reader.producer[name] for name in output_layers]
    return Graph(reader.nodes, outputs, name=model.name)


# ---------------------------------------------------------------------------------------------
# Loading files


def load_keras_file(path) -> object:
    """Load a model saved as `.h5` (tf.keras, QKeras) or `.keras` (Keras 3, else tf.keras)."""
    path = Path(path)
    if not path.is_file():
        raise NnhlsError(f"model file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _load_tf_keras(path, _h5_mentions_qkeras(path))
    if suffix == ".keras":
        return _load_dot_keras(path)
    raise NnhlsError(
        f"model file {str(path)!r}: expected a .h5 or .keras file, got {suffix or 'no suffix'!r}"
    )


def load_keras_json(json_path, weights_path) -> object:
    """A model from an architecture saved by `model.to_json()` and a weights file (`.h5`)."""
    json_path, weights_path = Path(json_path), Path(weights_path)
    for path in (json_path, weights_path):
        if not path.is_file():
            raise NnhlsError(f"model file {str(path)!r} does not exist")
    text = json_path.read_text()
    try:
        if "qkeras" in text or any(f'"{name}"' in text for name in _QKERAS_LAYERS):
            model = qk.load_qkeras().utils.quantized_model_from_json(text)
        else:
            model = _model_from_json(text)
        model.load_weights(str(weights_path))
    except NnhlsError:
        raise
    except Exception as error:
        raise NnhlsError(f"cannot build a model from {str(json_path)!r} and {str(weights_path)!r}: {error}") from error
    return model


def _model_from_json(text: str):
    # tf.keras (Keras 2) and Keras 3 write different JSON; each reads its own.
    try:
        import tf_keras

        return tf_keras.models.model_from_json(text)
    except Exception as tf_keras_error:
        try:
            import keras

            return keras.models.model_from_json(text)
        except Exception:
            raise tf_keras_error from None


def _load_tf_keras(path: Path, with_qkeras: bool):
    if with_qkeras:
        load_model = qk.load_qkeras().utils.load_qmodel  # registers QKeras's layers and quantizers
    else:
        try:
            import tf_keras
        except ImportError as error:
            raise NnhlsError(f"reading {str(path)!r} needs tf_keras: `pip install nnhls[keras]`") from error
        load_model = tf_keras.models.load_model
    try:
        return load_model(str(path), compile=False)
    except Exception as error:
        raise NnhlsError(f"tf.keras cannot load {str(path)!r}: {error}") from error


def _h5_mentions_qkeras(path: Path) -> bool:
    # Loading without QKeras's custom objects fails on its layers, and importing QKeras when the
    # model has none would needlessly demand a tf.keras setup; the saved config tells which.
    try:
        import h5py
    except ImportError:
        return True
    with h5py.File(path, "r") as h5:
        config = h5.attrs.get("model_config", "")
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    return "qkeras" in config or any(f'"{name}"' in config for name in _QKERAS_LAYERS)


# Class names that only QKeras defines; their presence in a saved config means QKeras is needed.
_QKERAS_LAYERS = ("QDense", "QActivation", "QConv1D", "QConv2D", "QBatchNormalization", "QConv2DBatchnorm",
                  "QDenseBatchnorm", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D", "QAveragePooling2D",
                  "QGlobalAveragePooling2D")


def _load_dot_keras(path: Path):
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode("utf-8", "replace")
    with_qkeras = "qkeras" in config or any(f'"{name}"' in config for name in _QKERAS_LAYERS)
    if with_qkeras:
        return _load_tf_keras(path, with_qkeras=True)  # QKeras layers exist only in tf.keras
    try:
        import keras

        if not keras.__version__.startswith("3."):
            raise ImportError(f"keras {keras.__version__} is not Keras 3")
        return keras.saving.load_model(str(path), compile=False)
    except Exception as keras3_error:
        # tf.keras writes .keras files too; Keras 3 cannot always read them.
        try:
            return _load_tf_keras(path, with_qkeras=False)
        except Exception as tf_keras_error:
            raise NnhlsError(
                f"cannot load {str(path)!r}: Keras 3 says {keras3_error}; tf.keras says {tf_keras_error}"
            ) from tf_keras_error


# ---------------------------------------------------------------------------------------------
# Walking the model


def _layers_of(model) -> tuple[list[_Layer], list[str]]:
    """The model's layers in topological order, and the names of its output layers."""
    if not (hasattr(model, "get_config") and hasattr(model, "layers")):
        raise NnhlsError(
            f"expected a Keras model or the path of a .h5/.keras file, got {type(model).__name__}"
        )
    config = model.get_config() or {}
    if "layers" not in config:
        raise NnhlsError(
            f"model {model.name!r} ({type(model).__name__}) is a subclassed model, whose layers and "
            "connections Keras does not describe; rebuild it as a Sequential or Functional model"
        )
    live = {layer.name: layer for layer in model.layers}
    if "output_layers" in config:
        return _functional_layers(model, config, live)
    return _sequential_layers(model, config, live)


def _sequential_layers(model, config, live) -> tuple[list[_Layer], list[str]]:
    entries = list(config["layers"])
    layers = []
    if entries and entries[0]["class_name"] == "InputLayer":
        entry = entries.pop(0)
        layers.append(_Layer(entry["config"]["name"], "InputLayer", entry["config"], None, []))
    else:
        layers.append(_implicit_input(model))
    for entry in entries:
        name = entry["config"]["name"]
        layer = live[name]
        layers.append(_Layer(name, type(layer).__name__, layer.get_config(), layer, [layers[-1].name]))
    return layers, [layers[-1].name]


def _implicit_input(model) -> _Layer:
    # Keras records an InputLayer once a Sequential model knows its input shape; without one,
    # the built model's input tensor still has the shape.
    try:
        tensor = model.inputs[0]
    except (AttributeError, IndexError, TypeError, ValueError):
        tensor = None
    if tensor is None:
        raise NnhlsError(
            f"model {model.name!r} has no input shape yet; start it with keras.Input(shape=...) "
            "or call model.build((None, ...)) before reading it"
        )
    shape = [None] + [None if d is None else int(d) for d in tuple(tensor.shape)[1:]]
    dtype = getattr(tensor.dtype, "name", str(tensor.dtype))
    return _Layer("input_1", "InputLayer", {"name": "input_1", "batch_shape": shape, "dtype": dtype}, None, [])


def _functional_layers(model, config, live) -> tuple[list[_Layer], list[str]]:
    layers = {}
    for entry in config["layers"]:
        name = entry.get("name") or entry["config"]["name"]
        calls = entry.get("inbound_nodes") or []
        layer = live.get(name)
        class_name = type(layer).__name__ if layer is not None else entry["class_name"]
        if len(calls) > 1:
            raise NnhlsError(
                f"layer {name!r} ({class_name}) is called {len(calls)} times; shared layers are not "
                "supported: give each use its own layer"
            )
        inputs = _history_names(calls[0]) if calls else []
        layer_config = layer.get_config() if layer is not None else entry["config"]
        layers[name] = _Layer(name, class_name, layer_config, layer, inputs)
    return _topological(layers), [name for name, *_ in _tensor_refs(config["output_layers"])]


def _history_names(call) -> list[str]:
    """Names of the layers whose outputs one call of a layer consumes (Keras 2 or 3 format)."""
    if isinstance(call, dict):  # Keras 3: {"args": [...], "kwargs": {...}} holding keras tensors
        names = []
        _collect_histories(call, names)
        return names
    return [ref[0] for ref in call]  # Keras 2: [[layer_name, node_index, tensor_index, kwargs], ...]


def _collect_histories(value, names: list[str]) -> None:
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") if "config" in value else None
        if value.get("class_name") == "__keras_tensor__" and history:
            names.append(history[0])
            return
        for item in value.values():
            _collect_histories(item, names)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect_histories(item, names)


def _tensor_refs(refs) -> list:
    # One output is saved as ["name", 0, 0] by Keras 3 and as [["name", 0, 0]] by Keras 2.
    if refs and isinstance(refs[0], str):
        return [refs]
    return list(refs)


def _topological(layers: dict[str, _Layer]) -> list[_Layer]:
    ordered, done = [], set()
    pending = list(layers.values())
    while pending:
        ready = [layer for layer in pending if all(name in done for name in layer.inputs)]
        if not ready:
            missing = sorted({n for layer in pending for n in layer.inputs if n not in layers})
            raise NnhlsError(
                f"the model's layers reference unknown or cyclic inputs: {missing or pending[0].name}"
            )
        for layer in ready:
            ordered.append(layer)
            done.add(layer.name)
        pending = [layer for layer in pending if layer.name not in done]
    return ordered


# Layers that pass a Keras mask on (their `supports_masking` is True) and compute their values
# without it; a layer whose `supports_masking` is False drops the mask.
_MASK_PASSING = ("Dense", "QDense", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Dropout",
                 "BatchNormalization", "QBatchNormalization", "Add", "Subtract", "Multiply", "Average", "Maximum",
                 "Minimum", "Concatenate")


def _check_masks(layers: list[_Layer]) -> None:
    """An Embedding's mask_zero changes no value of its own: it makes later layers that compute with
    a mask (GlobalAveragePooling1D averages only the unmasked steps) leave out the steps of index 0.
    nnhls has no such layers, so the mask is followed through the layers that pass it on, and one
    that would compute with it is an error."""
    readers: dict[str, list[_Layer]] = {}
    for layer in layers:
        for name in layer.inputs:
            readers.setdefault(name, []).append(layer)
    for layer in layers:
        if layer.class_name == "Embedding" and layer.config.get("mask_zero"):
            _follow_mask(layer, layer, readers)


def _follow_mask(embedding: _Layer, layer: _Layer, readers: dict[str, list[_Layer]]) -> None:
    for reader in readers.get(layer.name, []):
        if not getattr(reader.layer, "supports_masking", False):
            continue  # the mask stops here
        if reader.class_name not in _MASK_PASSING:
            raise NnhlsError(
                f"{embedding.where} has mask_zero=True, and its mask reaches {reader.where}, which computes with it "
                "(leaving out the steps of index 0); nnhls computes every step: use mask_zero=False, or a layer "
                "that drops the mask between them (Flatten, a convolution or a pooling)")
        _follow_mask(embedding, reader, readers)


# ---------------------------------------------------------------------------------------------
# Layers into nodes


class _Reader:
    """Turns layers into nodes, remembering which node each Keras layer's output is."""

    def __init__(self, keras_names: set[str]):
        self.nodes: list[Node] = []
        self.producer: dict[str, str] = {}  # Keras layer name -> name of the node holding its output
        self.shape: dict[str, tuple[int, ...]] = {}  # node name -> output shape
        self._taken = set(keras_names)

    def read(self, layer: _Layer) -> None:
        handler = _HANDLERS.get(layer.class_name)
        if handler is None:
            raise NnhlsError(
                f"{layer.where} is not supported; supported layers: {', '.join(SUPPORTED_LAYERS)}"
            )
        sources = [self.producer[name] for name in layer.inputs]
        if layer.class_name in _MERGE_HANDLERS:
            if len(sources) < 2:
                raise NnhlsError(f"{layer.where} has {len(sources)} input; it merges two or more")
            nodes = handler(layer, sources, [self.shape[name] for name in sources], self)
            source = None
        else:
            if layer.class_name != "InputLayer" and len(sources) != 1:
                raise NnhlsError(f"{layer.where} has {len(sources)} inputs; it must have exactly one")
            source = sources[0] if sources else None
            nodes = handler(layer, source, self.shape.get(source), self)
        for node in nodes:
            node.framework_class = node.framework_class or layer.class_name
            self.nodes.append(node)
            self.shape[node.name] = node.shape
        for node in nodes:
            if node.op == "hard_sigmoid" and node.slope is None:
                _hard_sigmoid_constants(node, layer)
        if nodes:
            nodes[-1].framework_output = layer.name
        # A layer that becomes no node (Dropout) passes its input through.
        self.producer[layer.name] = nodes[-1].name if nodes else source

    def op_of(self, name: str) -> str:
        """The op of node `name`."""
        return next(node.op for node in self.nodes if node.name == name)

    def fresh_name(self, name: str) -> str:
        """`name`, or `name_2`, `name_3`... if a Keras layer or node already has it."""
        return fresh_name(name, self._taken)


def _hard_sigmoid_constants(node: Node, layer: _Layer) -> None:
    """Keras 2 computes clip(0.2 x + 0.5, 0, 1); Keras 3 computes relu6(x + 3) / 6."""
    keras3 = type(layer.layer).__module__.split(".")[0] == "keras"
    node.slope = Weights(np.array([1 / 6 if keras3 else 0.2]))
    node.offset = exact_weights(0.5)


def _read_input(layer: _Layer, source, in_shape, reader) -> list[Node]:
    config = layer.config
    batch_shape = config.get("batch_shape") or config.get("batch_input_shape")
    if batch_shape is None:
        raise NnhlsError(f"{layer.where} has no shape; give the model's Input a shape")
    shape = tuple(batch_shape)[1:]
    if not shape or any(d is None for d in shape):
        raise NnhlsError(
            f"{layer.where} has shape {tuple(batch_shape)}; every dimension but the batch must be known: "
            "give keras.Input a full shape such as shape=(16,)"
        )
    return [Input(layer.name, [], tuple(int(d) for d in shape), dtype=_float_dtype(config.get("dtype")))]


def _float_dtype(dtype) -> str | None:
    """The float type Keras casts a model's inputs to, as Input names it (None: no cast to mirror).

    Keras 2 and 3 pass a float array for an integer input (an Embedding's indices) through float32,
    their floatx, before casting it to the integer type: 1.99999999999 becomes index 2. Integer
    arrays pass exactly, as they do through float32 below 2**24 (more rows than any table has)."""
    if isinstance(dtype, dict):  # Keras 3 may save a dtype policy
        dtype = dtype.get("config", {}).get("name")
    dtype = getattr(dtype, "name", dtype)
    if isinstance(dtype, str) and dtype.startswith(("int", "uint")):
        return "float32"
    return dtype if dtype in Input.DTYPES else None


def _check_weights(layer: _Layer, weights: list, expected: int, names: str) -> None:
    if len(weights) != expected:
        raise NnhlsError(
            f"{layer.where} holds {len(weights)} weight arrays, expected {expected} ({names}); "
            "its configuration adds weights nnhls does not read (for example a Keras 3 quantized or "
            "LoRA layer, or batch renormalization): use the plain layer"
        )


def _dense_kernel(layer: _Layer, in_shape) -> tuple[np.ndarray, np.ndarray]:
    use_bias = bool(layer.config.get("use_bias", True))
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 1 + use_bias, "kernel and bias" if use_bias else "kernel")
    kernel = np.asarray(weights[0], dtype=np.float64)
    bias = np.asarray(weights[1], dtype=np.float64) if use_bias else np.zeros(kernel.shape[1])
    return kernel, bias


def _activation_node(layer: _Layer, dense: Node, function: str, quantizer, reader, label: str | None = None,
                     **fields) -> list[Node]:
    """The Dense node, followed by its activation unless that is a plain 'linear'; the activation
    is named `<layer>_<label>`, the label being the framework's name of the function (default: the IR's)."""
    if function == "linear" and quantizer is None:
        return [dense]
    name = reader.fresh_name(f"{layer.name}_{label or function}")
    activation = make_activation(
        name, [dense.name], dense.shape, function, framework_class="Activation", result_quantizer=quantizer, **fields,
    )
    return [dense, activation]


def _activation_function(name, layer: _Layer) -> tuple[str, dict, str]:
    """(IR function, node fields, Keras's name) of an activation Keras gives by name."""
    if name is None:
        return "linear", {}, "linear"
    if isinstance(name, dict):  # a serialized custom activation
        name = name.get("config", {}).get("name") or name.get("class_name")
    if name not in SUPPORTED_ACTIVATIONS:
        raise NnhlsError(
            f"{layer.where}: activation {name!r} is not supported; supported activations: "
            f"{', '.join(map(repr, SUPPORTED_ACTIVATIONS))}"
        )
    if name == "leaky_relu":  # Keras's default slope; the same node as a LeakyReLU(0.2) layer
        return "prelu", qk.leaky_relu_fields(), name
    return name, {}, name


def _read_dense(layer: _Layer, source, in_shape, reader) -> list[Node]:
    kernel, bias = _dense_kernel(layer, in_shape)
    dense = _dense_node(layer, source, in_shape, Weights(kernel), Weights(bias))
    function, fields, label = _activation_function(layer.config.get("activation"), layer)
    return _activation_node(layer, dense, function, None, reader, label, **fields)


def _quantized_weights(layer: _Layer, values: np.ndarray, quantizer, what: str,
                       allow_scale: bool = False) -> tuple[Weights, Weights | None]:
    """The values QKeras computes with, exactly typed, and the per-channel scale it multiplies
    them by when that scale is a float (only with `allow_scale`), else None."""
    if quantizer is None:
        return Weights(values), None
    quantized = qk.quantized_weights(quantizer, values, f"{layer.where} {what}", allow_scale=allow_scale)
    weights = Weights(quantized.values, quantizer=quantized.type)
    if quantized.scale is None:
        return weights, None
    return weights, Weights(quantized.scale, quantizer=quantized.scale_type)


def _read_qdense(layer: _Layer, source, in_shape, reader) -> list[Node]:
    kernel, bias = _dense_kernel(layer, in_shape)
    use_bias = bool(layer.config.get("use_bias", True))
    bias_quantizer = layer.layer.bias_quantizer_internal if use_bias else None
    return _qkeras_layer(layer, kernel, bias, bias_quantizer, partial(_dense_node, layer, source, in_shape), reader)


def _dense_node(layer: _Layer, source, in_shape, weight: Weights, bias: Weights) -> Dense:
    """A Dense node; on an input of rank > 1, Keras applies the same Dense to the last axis at every
    position, which is a Conv of 1x1 windows over the positions (a pointwise convolution)."""
    n_in, n_out = weight.shape
    if in_shape[-1] != n_in:
        raise NnhlsError(f"{layer.where} has a kernel of shape {weight.shape} for an input of shape {tuple(in_shape)}; "
                         "please report this with the model")
    if len(in_shape) == 1:
        return Dense(layer.name, [source], (n_out,), weight=weight, bias=bias)
    positions = int(np.prod(in_shape[:-1]))
    weight = replace(weight, values=weight.values.reshape(1, 1, n_in, n_out))
    return Conv(layer.name, [source], (*in_shape[:-1], n_out), weight=weight, bias=bias,
                window=Window(1, positions, n_in), in_shape=tuple(in_shape))


def _qkeras_layer(layer: _Layer, kernel: np.ndarray, bias: np.ndarray | None, bias_quantizer, make_node,
                  reader, kernel_quantizer=None, what: str = "kernel") -> list[Node]:
    """A QKeras QDense or QConv computing with the kernel and bias QKeras computes with, then its activation.

    `make_node(weight, bias)` builds the Dense or Conv node from the quantized values; `bias` None
    means the layer adds no bias. A kernel quantizer with a float scale per output channel
    (alpha='auto') becomes the node on the exact grid followed by a ScaleShift.
    """
    qlayer = layer.layer
    kernel_quantizer = kernel_quantizer or qlayer.kernel_quantizer_internal
    weight, scale = _quantized_weights(layer, kernel, kernel_quantizer, what, allow_scale=True)
    if bias is None:
        bias_weights = zero_weights(kernel.shape[-1])
    else:
        bias_weights, _ = _quantized_weights(layer, bias, bias_quantizer, "bias")
    function, quantizer, fields = qk.activation_of(qlayer.activation, layer.where)
    node = make_node(weight, bias_weights)
    if scale is None:
        return _activation_node(layer, node, function, quantizer, reader, **fields)
    *inner, scale_shift = _scaled_qdense(layer, node, scale, reader)
    return inner + _activation_node(layer, scale_shift, function, quantizer, reader, **fields)


def _scaled_qdense(layer: _Layer, node: Dense, scale: Weights, reader) -> list[Node]:
    """A QDense or QConv (`node`, holding QKeras's bias) whose kernel is a float scale per output
    channel times a grid of exact values.

    QKeras computes x @ (scale * grid) + bias; as x @ grid (exact, narrow multipliers) then
    * scale + bias per channel (the last axis, channels-last), each output is scaled once and the
    arithmetic stays exact.
    """
    bias = node.bias
    # The bias moves after the scale, so the Dense or Conv adds nothing.
    node.bias = zero_weights(node.n_out)
    if bias.quantizer is None:
        # QKeras adds the float32 bias as it is; the configuration has no precision for a
        # ScaleShift's shift, so it gets the exact type of those values.
        bias = Weights(bias.values, quantizer=qk.exact_weight_type(
            bias.values, f"{layer.where} bias", "the float bias",
            "quantize the bias (bias_quantizer=quantized_bits(...)) or keep it within a narrower range"))
    scale_shift = ScaleShift(
        reader.fresh_name(f"{layer.name}_scale"), [node.name], node.shape, framework_class=layer.class_name,
        scale=scale, shift=bias,
    )
    return [node, scale_shift]


# ---------------------------------------------------------------------------------------------
# Convolutions, poolings and zero padding: channels-last images, a 1-D signal being an image of
# height 1. Each becomes one node holding a Window; `spatial` is 1 or 2, from the class name.


def _channels_last(layer: _Layer) -> None:
    if layer.config.get("data_format") not in (None, "channels_last"):
        raise NnhlsError(
            f"{layer.where} has data_format={layer.config.get('data_format')!r}; nnhls reads channels-last "
            "images only: use data_format='channels_last' (the Keras default)"
        )


def _image(layer: _Layer, in_shape, spatial: int) -> tuple[int, int, int]:
    """(height, width, channels) of the input, which must be (width, channels) for a 1-D layer and
    (height, width, channels) for a 2-D one."""
    if len(in_shape) != spatial + 1:
        expected = "(width, channels)" if spatial == 1 else "(height, width, channels)"
        raise NnhlsError(
            f"{layer.where} is applied to an input of shape {in_shape}; nnhls supports it on inputs of shape "
            f"{expected} only (tf.keras treats further leading axes as batch axes): give it such an input"
        )
    return (1, *in_shape) if spatial == 1 else tuple(in_shape)


def _image_shape(window: Window, spatial: int, channels: int) -> tuple[int, ...]:
    """The output shape as Keras gives it: (width, channels) in 1-D, (height, width, channels) in 2-D."""
    return (window.out_w, channels) if spatial == 1 else (window.out_h, window.out_w, channels)


def _per_axis(layer: _Layer, key: str, spatial: int, default=None, minimum: int = 1) -> tuple[int, int] | None:
    """A per-axis argument (kernel_size, strides...) as (height, width): Keras stores one int per
    axis, or one int for all; a 1-D layer's height is 1. None stays None."""
    given = layer.config.get(key, default)
    if given is None:
        return None
    value = [given] * spatial if isinstance(given, int) else given
    values = list(value) if isinstance(value, (list, tuple)) else []
    if len(values) != spatial or not all(isinstance(v, int) and v >= minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        several = f" or {spatial} {kind} ints" if spatial > 1 else ""
        raise NnhlsError(f"{layer.where}: {key}={given!r} must be a {kind} int{several}")
    return (1, values[0]) if spatial == 1 else (values[0], values[1])


def _padding_mode(layer: _Layer, supported: tuple[str, ...]) -> str:
    padding = str(layer.config.get("padding", "valid")).lower()
    if padding not in supported:
        raise NnhlsError(
            f"{layer.where} has padding={layer.config.get('padding')!r}; supported: "
            f"{', '.join(map(repr, supported))} (pad explicitly with a ZeroPadding layer for anything else)"
        )
    return padding


def _sliding_window(layer: _Layer, image: tuple[int, int, int], kernel: tuple[int, int],
                    strides: tuple[int, int], padding: str, dilation: tuple[int, int] = (1, 1)) -> Window:
    """Keras's window: 'valid' pads nothing, 'same' pads as `same_padding` (of the dilated
    kernel's span), 'causal' (Conv1D) pads span_w - 1 columns on the left. Refuses a window that
    does not fit in the padded input."""
    in_h, in_w, channels = image
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if padding == "same":
        (top, bottom) = same_padding(in_h, span[0], strides[0])
        (left, right) = same_padding(in_w, span[1], strides[1])
    elif padding == "causal":
        (top, bottom), (left, right) = (0, 0), (span[1] - 1, 0)
    else:
        (top, bottom), (left, right) = (0, 0), (0, 0)
    window = Window(in_h, in_w, channels, *kernel, *strides, top, bottom, left, right, *dilation)
    if window.padded_h < window.span_h or window.padded_w < window.span_w:
        raise NnhlsError(
            f"{layer.where}: its window {span[0]}x{span[1]} does not fit in its padded input "
            f"{window.padded_h}x{window.padded_w}, so the output would be empty: use a smaller kernel or "
            "pool size, padding='same', or a larger input"
        )
    return window


def _conv_window(layer: _Layer, in_shape, spatial: int, kernel: tuple[int, int] | None = None) -> Window:
    """The Window of a convolution (Conv, DepthwiseConv, SeparableConv, or a QKeras one), after
    refusing what nnhls does not compute; `kernel` (height, width) where the config has no kernel_size."""
    _channels_last(layer)
    dilation = _per_axis(layer, "dilation_rate", spatial, 1)
    padding = _padding_mode(layer, ("valid", "same", "causal") if spatial == 1 else ("valid", "same"))
    image = _image(layer, in_shape, spatial)
    kernel = kernel or _per_axis(layer, "kernel_size", spatial)
    strides = _per_axis(layer, "strides", spatial, 1)
    return _sliding_window(layer, image, kernel, strides, padding, dilation)


def _groups(layer: _Layer, window: Window, filters: int) -> int:
    """Keras's `groups` of a Conv1D/Conv2D: the channels and the filters form that many groups."""
    groups = layer.config.get("groups", 1) or 1
    if not isinstance(groups, int) or groups < 1 or window.channels % groups or filters % groups:
        raise NnhlsError(
            f"{layer.where} has groups={groups!r}; it must be a positive int dividing its {window.channels} input "
            f"channels and its {filters} filters"
        )
    return groups


def _conv_weights(layer: _Layer) -> tuple[np.ndarray, np.ndarray | None]:
    """The Keras kernel, (kw, c_in, c_out) or (kh, kw, c_in, c_out), and the bias (None without one)."""
    use_bias = bool(layer.config.get("use_bias", True))
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 1 + use_bias, "kernel and bias" if use_bias else "kernel")
    kernel = np.asarray(weights[0], dtype=np.float64)
    bias = np.asarray(weights[1], dtype=np.float64) if use_bias else None
    return kernel, bias


def _conv_node(layer: _Layer, source, in_shape, window: Window, weight: Weights, bias: Weights, groups: int = 1,
               filters: int | None = None, name: str | None = None, weight_key: str = "weight") -> Conv:
    """The Conv node; `weight` is the Keras kernel, made canonical (kernel_h, kernel_w, c_in /
    groups, filters) by reshaping, which keeps Keras's order (a depthwise kernel (kh, kw, c, m)
    reshapes to (kh, kw, 1, c * m), output channel c * m + j as Keras orders it)."""
    filters = filters or weight.shape[-1]
    canonical = (window.kernel_h, window.kernel_w, window.channels // groups, filters)
    if int(np.prod(weight.shape)) != int(np.prod(canonical)):
        raise NnhlsError(
            f"{layer.where} has a kernel of shape {weight.shape}, which does not match its kernel size and "
            f"its input's {window.channels} channels; please report this with the model"
        )
    weight = replace(weight, values=weight.values.reshape(canonical))
    shape = _image_shape(window, len(in_shape) - 1, filters)
    return Conv(name or layer.name, [source], shape, weight=weight, bias=bias, window=window,
                in_shape=tuple(in_shape), groups=groups, weight_key=weight_key)


def _read_conv(layer: _Layer, source, in_shape, reader, spatial: int, window: Window | None = None) -> list[Node]:
    window = window or _conv_window(layer, in_shape, spatial)
    kernel, bias = _conv_weights(layer)
    bias = zero_weights(kernel.shape[-1]) if bias is None else Weights(bias)
    conv = _conv_node(layer, source, in_shape, window, Weights(kernel), bias,
                      groups=_groups(layer, window, kernel.shape[-1]))
    function, fields, label = _activation_function(layer.config.get("activation"), layer)
    return _activation_node(layer, conv, function, None, reader, label, **fields)


def _read_qconv(layer: _Layer, source, in_shape, reader, spatial: int, window: Window | None = None) -> list[Node]:
    # The kernel is quantized in the shape QKeras quantizes it in, and made canonical after.
    window = window or _conv_window(layer, in_shape, spatial)
    kernel, bias = _conv_weights(layer)
    make_node = partial(_conv_node, layer, source, in_shape, window, groups=_groups(layer, window, kernel.shape[-1]))
    return _qkeras_layer(layer, kernel, bias, layer.layer.bias_quantizer_internal, make_node, reader)


def _transposed_axis(layer: _Layer, size: int, kernel: int, stride: int, dilation: int, padding: str,
                     output_padding: int | None) -> tuple[int, int, int]:
    """(length, pad before, pad after) of one axis of a transposed convolution as the convolution
    of the input spread `stride` apart (zeros between) with the flipped kernel.

    Keras's output length is the input's of the convolution this one transposes, which reads
    output place o + before (before: what that convolution pads, 0 for 'valid') at input place i
    and tap k where o + before = i * stride + k * dilation; the spread input padded by span - 1 -
    before reads the same places with the flipped kernel."""
    span = (kernel - 1) * dilation + 1
    if output_padding is None:
        length = size * stride + max(span - stride, 0) if padding == "valid" else size * stride
    else:
        if not 0 <= output_padding < stride:
            raise NnhlsError(f"{layer.where} has output_padding={layer.config.get('output_padding')!r}; each must be "
                             "at least 0 and below the stride")
        length = (size - 1) * stride + span - 2 * (span // 2 if padding == "same" else 0) + output_padding
    before = max((-(-length // stride) - 1) * stride + span - length, 0) // 2 if padding == "same" else 0
    pad_before = span - 1 - before
    pad_after = length + span - 1 - ((size - 1) * stride + 1) - pad_before
    if pad_before < 0 or pad_after < 0:
        raise NnhlsError(f"{layer.where}: its output does not cover the spread input this way; please report this "
                         "with the model")
    return length, pad_before, pad_after


def _read_conv_transpose(layer: _Layer, source, in_shape, reader, spatial: int) -> list[Node]:
    """Conv1DTranspose / Conv2DTranspose: a Conv of stride 1 over
    the input's pixels spread `strides` apart with zeros between (Window.spread), with the kernel
    flipped and its channel axes swapped. The products of the spread-in zeros are exact zeros, so
    the numerics are Dense's on the taps that read the input, as the framework sums them."""
    _channels_last(layer)
    in_h, in_w, channels = _image(layer, in_shape, spatial)
    kernel_size = _per_axis(layer, "kernel_size", spatial)
    strides = _per_axis(layer, "strides", spatial, 1)
    dilation = _per_axis(layer, "dilation_rate", spatial, 1)
    padding = _padding_mode(layer, ("valid", "same"))
    output_padding = _per_axis(layer, "output_padding", spatial, None, minimum=0)
    if output_padding is None or spatial == 1:  # a signal's height is not transposed
        output_padding = (None, None if output_padding is None else output_padding[1])
    axes = [_transposed_axis(layer, *arguments, padding, extra) for arguments, extra in
            zip(zip((in_h, in_w), kernel_size, strides, dilation), output_padding)]
    (_, top, bottom), (_, left, right) = axes
    window = Window(in_h, in_w, channels, *kernel_size, 1, 1, top, bottom, left, right, *dilation, *strides)
    kernel, bias = _conv_weights(layer)
    filters = kernel.shape[-2]
    flipped = np.flip(kernel.reshape(*kernel_size, filters, channels), axis=(0, 1)).transpose(0, 1, 3, 2)
    conv = _conv_node(layer, source, in_shape, window, Weights(np.ascontiguousarray(flipped)),
                      zero_weights(filters) if bias is None else Weights(bias))
    function, fields, label = _activation_function(layer.config.get("activation"), layer)
    return _activation_node(layer, conv, function, None, reader, label, **fields)


def _depth_multiplier(layer: _Layer) -> int:
    multiplier = layer.config.get("depth_multiplier", 1)
    if not isinstance(multiplier, int) or multiplier < 1:
        raise NnhlsError(f"{layer.where} has depth_multiplier={multiplier!r}; it must be a positive int")
    return multiplier


def _depthwise_part(layer: _Layer, source, in_shape, kernel: np.ndarray, bias: Weights, quantizer, reader,
                    name: str | None = None, weight_key: str = "depthwise") -> list[Node]:
    """The depthwise convolution of a DepthwiseConv or SeparableConv layer: a Conv of c_in groups,
    one per channel, each of depth_multiplier filters (`kernel` is Keras's (kh, kw, c, m), or (kw,
    c, m) in 1-D), adding `bias` (c * m values); `quantizer` is QKeras's, or None. A QKeras scale
    per multiplier (alpha='auto') follows as a ScaleShift, channel c * m + j taking scale j."""
    spatial = len(in_shape) - 1
    window = _conv_window(layer, in_shape, spatial, kernel=(1, kernel.shape[0]) if spatial == 1 else kernel.shape[:2])
    channels, multiplier = kernel.shape[-2], kernel.shape[-1]
    if channels != window.channels or multiplier != _depth_multiplier(layer):
        raise NnhlsError(f"{layer.where} has a depthwise kernel of shape {kernel.shape}, which does not match its "
                         f"input's {window.channels} channels and its depth_multiplier; please report this with the model")
    weight, scale = _quantized_weights(layer, kernel, quantizer, "depthwise kernel", allow_scale=True)
    n_out = channels * multiplier
    conv = _conv_node(layer, source, in_shape, window, weight, bias, groups=channels, filters=n_out,
                      name=name, weight_key=weight_key)
    if scale is None:
        return [conv]
    scale = replace(scale, values=np.tile(scale.values, channels))
    return _scaled_qdense(layer, conv, scale, reader)


def _read_depthwise(layer: _Layer, source, in_shape, reader, spatial: int, quantized: bool = False) -> list[Node]:
    """DepthwiseConv1D/2D (and QKeras's QDepthwiseConv2D): each channel convolved with its own
    depth_multiplier filters; the bias after, then the activation."""
    _image(layer, in_shape, spatial)
    use_bias = bool(layer.config.get("use_bias", True))
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 1 + use_bias, "depthwise kernel and bias" if use_bias else "depthwise kernel")
    kernel = np.asarray(weights[0], dtype=np.float64)
    qlayer = layer.layer if quantized else None
    if not use_bias:
        bias = zero_weights(kernel.shape[-2] * kernel.shape[-1])
    else:
        bias, _ = _quantized_weights(layer, np.asarray(weights[1], dtype=np.float64),
                                     qlayer.bias_quantizer_internal if quantized else None, "bias")
    nodes = _depthwise_part(layer, source, in_shape, kernel, bias,
                            qlayer.depthwise_quantizer_internal if quantized else None, reader, weight_key="weight")
    if quantized:
        (function, quantizer, fields), label = qk.activation_of(qlayer.activation, layer.where), None
    else:
        (function, fields, label), quantizer = _activation_function(layer.config.get("activation"), layer), None
    return nodes[:-1] + _activation_node(layer, nodes[-1], function, quantizer, reader, label, **fields)


def _read_separable(layer: _Layer, source, in_shape, reader, spatial: int, quantized: bool = False) -> list[Node]:
    """SeparableConv1D/2D (and QKeras's): the depthwise convolution (node `<layer>_depthwise`,
    its exact sums kept at full precision where the kernels are quantized, as the framework's
    float32 keeps them), then the pointwise convolution (node `<layer>`, a Dense on each pixel)
    with the bias, then the activation."""
    _image(layer, in_shape, spatial)
    use_bias = bool(layer.config.get("use_bias", True))
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 2 + use_bias, "depthwise kernel, pointwise kernel and bias" if use_bias
                   else "depthwise and pointwise kernels")
    depthwise, pointwise = (np.asarray(w, dtype=np.float64) for w in weights[:2])
    qlayer = layer.layer if quantized else None
    no_bias = zero_weights(depthwise.shape[-2] * depthwise.shape[-1])  # the bias comes after the pointwise part
    nodes = _depthwise_part(layer, source, in_shape, depthwise, no_bias,
                            qlayer.depthwise_quantizer_internal if quantized else None, reader,
                            name=reader.fresh_name(f"{layer.name}_depthwise"))
    middle = nodes[-1]  # the depthwise Conv, or the ScaleShift after it
    window = Window(nodes[0].window.out_h, nodes[0].window.out_w, middle.shape[-1])
    bias = np.asarray(weights[2], dtype=np.float64) if use_bias else None
    make_node = partial(_conv_node, layer, middle.name, middle.shape, window, weight_key="pointwise")
    if quantized:
        return nodes + _qkeras_layer(layer, pointwise, bias, qlayer.bias_quantizer_internal if use_bias else None,
                                     make_node, reader, kernel_quantizer=qlayer.pointwise_quantizer_internal,
                                     what="pointwise kernel")
    conv = make_node(Weights(pointwise), zero_weights(pointwise.shape[-1]) if bias is None else Weights(bias))
    function, fields, label = _activation_function(layer.config.get("activation"), layer)
    return nodes + _activation_node(layer, conv, function, None, reader, label, **fields)


def _read_folded_batchnorm(layer: _Layer, source, in_shape, reader, spatial: int) -> list[Node]:
    """QConv2DBatchnorm (spatial 2) or QDenseBatchnorm (spatial 0): the layer with its batch
    normalization folded in as QKeras folds it at inference, then quantized as QKeras quantizes."""
    if spatial:
        window = _conv_window(layer, in_shape, spatial)
        make_node = partial(_conv_node, layer, source, in_shape, window)
    else:
        if len(in_shape) != 1:
            raise NnhlsError(
                f"{layer.where} is applied to an input of shape {tuple(in_shape)}; nnhls folds QDenseBatchnorm "
                "on 1-D inputs only: add a Flatten layer before it, or use QDense and BatchNormalization")
        make_node = partial(_dense_node, layer, source, in_shape)
    kernel, bias = qk.folded_batchnorm(layer.layer, layer.where)
    # QKeras quantizes the folded bias whether or not the layer has a bias of its own.
    return _qkeras_layer(layer, kernel, bias, layer.layer.bias_quantizer_internal, make_node, reader)


def _read_pool(layer: _Layer, source, in_shape, reader, spatial: int, function: str) -> list[Node]:
    _channels_last(layer)
    image = _image(layer, in_shape, spatial)
    pool_size = _per_axis(layer, "pool_size", spatial)
    strides = _per_axis(layer, "strides", spatial) or pool_size  # Keras: strides=None means pool_size
    window = _sliding_window(layer, image, pool_size, strides, _padding_mode(layer, ("valid", "same")))
    shape = _image_shape(window, spatial, image[2])
    return [Pool(layer.name, [source], shape, function=function, window=window, in_shape=tuple(in_shape))]


def _read_global_pool(layer: _Layer, source, in_shape, reader, spatial: int, function: str) -> list[Node]:
    """One window covering the whole image; keepdims keeps its one pixel as (1, c) or (1, 1, c)."""
    _channels_last(layer)
    in_h, in_w, channels = _image(layer, in_shape, spatial)
    window = Window(in_h, in_w, channels, kernel_h=in_h, kernel_w=in_w)
    shape = (1,) * spatial + (channels,) if layer.config.get("keepdims") else (channels,)
    return [Pool(layer.name, [source], shape, function=function, window=window, in_shape=tuple(in_shape))]


def _read_qaverage_pool(layer: _Layer, source, in_shape, reader, covering: bool) -> list[Node]:
    """QKeras's QAveragePooling2D (`covering` False) and QGlobalAveragePooling2D.

    QKeras 0.9.0 takes Keras's average (over the window's values inside the image), multiplies it
    by the pool area and then by `average_quantizer(1 / pool area)`, all in float32, and applies
    its `activation`. Without an average_quantizer it is Keras's average pooling. Where every
    window lies inside the image, the exact value is sum * q: a sum pooling (exact) and a
    ScaleShift by q (exact). Where 'same' padding leaves windows with fewer values, it is
    mean * area * q: the average pooling and a ScaleShift by area * q.
    """
    read = _read_global_pool if covering else _read_pool
    nodes = read(layer, source, in_shape, reader, spatial=2, function="average")
    qlayer, pool = layer.layer, nodes[0]
    if qlayer.average_quantizer:
        area = pool.window.n_taps
        factor = qk.average_factor(qlayer.average_quantizer_internal, area, layer.where)
        if bool(np.all(pool.window.tap_counts() == area)):
            pool.function = "sum"
        else:
            factor *= area  # exact: an integer times a binary fraction of float32's 24 bits
        if factor != 1:
            channels = pool.shape[-1]
            scale = Weights(np.full(channels, factor), quantizer=exact_type(np.array([factor])))
            nodes.append(ScaleShift(reader.fresh_name(f"{layer.name}_scale"), [pool.name], pool.shape,
                                    framework_class=layer.class_name, scale=scale, shift=zero_weights(channels)))
    function, quantizer, fields = qk.activation_of(qlayer.activation, layer.where)
    return nodes[:-1] + _activation_node(layer, nodes[-1], function, quantizer, reader, **fields)


def _pair(value) -> tuple | None:
    """An int as (value, value), a sequence of two as a tuple, anything else None."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(value)
    return None


def _zero_padding(layer: _Layer, spatial: int, key: str = "padding") -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) of a padding (or, with key 'cropping', a cropping) from every
    form Keras accepts: 1-D an int or (left, right); 2-D an int, (rows, columns) each on both
    sides, or ((top, bottom), (left, right))."""
    value = layer.config.get(key, 1)
    axes = [(0, 0), _pair(value)] if spatial == 1 else [_pair(axis) for axis in _pair(value) or (None, None)]
    if not all(axis is not None and all(isinstance(v, int) and v >= 0 for v in axis) for axis in axes):
        forms = ("an int or (left, right)" if spatial == 1
                 else "an int, (rows, columns) or ((top, bottom), (left, right))")
        raise NnhlsError(
            f"{layer.where}: {key}={value!r} is not a form Keras accepts: give non-negative ints as {forms}"
        )
    return axes[0], axes[1]


def _read_zero_padding(layer: _Layer, source, in_shape, reader, spatial: int) -> list[Node]:
    _channels_last(layer)
    in_h, in_w, channels = _image(layer, in_shape, spatial)
    (top, bottom), (left, right) = _zero_padding(layer, spatial)
    window = Window(in_h, in_w, channels, 1, 1, 1, 1, top, bottom, left, right)
    return [ZeroPad(layer.name, [source], _image_shape(window, spatial, channels), window=window,
                    in_shape=tuple(in_shape))]


def _read_cropping(layer: _Layer, source, in_shape, reader, spatial: int) -> list[Node]:
    """Cropping1D (steps from the start and the end) or Cropping2D, in every form of `cropping`."""
    _channels_last(layer)
    in_h, in_w, channels = _image(layer, in_shape, spatial)
    (top, bottom), (left, right) = _zero_padding(layer, spatial, "cropping")
    if top + bottom >= in_h or left + right >= in_w:
        raise NnhlsError(
            f"{layer.where}: cropping={layer.config.get('cropping')!r} leaves nothing of its input of shape "
            f"{tuple(in_shape)}; crop fewer rows or columns than the input has"
        )
    out_h, out_w = in_h - top - bottom, in_w - left - right
    shape = (out_w, channels) if spatial == 1 else (out_h, out_w, channels)
    return [Crop(layer.name, [source], shape, in_shape=tuple(in_shape), top=top, bottom=bottom, left=left,
                 right=right)]


def _read_upsampling(layer: _Layer, source, in_shape, reader, spatial: int) -> list[Node]:
    """UpSampling1D (nearest) or UpSampling2D (nearest or bilinear) by whole factors."""
    _channels_last(layer)
    in_h, in_w, channels = _image(layer, in_shape, spatial)
    size_h, size_w = _per_axis(layer, "size", spatial, 2)  # whole factors only, as Keras builds them
    interpolation = str(layer.config.get("interpolation", "nearest")).lower()
    if interpolation not in Upsample.INTERPOLATIONS:
        raise NnhlsError(
            f"{layer.where} has interpolation={layer.config.get('interpolation')!r}; supported: "
            f"{', '.join(map(repr, Upsample.INTERPOLATIONS))}"
        )
    shape = (in_w * size_w, channels) if spatial == 1 else (in_h * size_h, in_w * size_w, channels)
    return [Upsample(layer.name, [source], shape, interpolation=interpolation, size_h=size_h, size_w=size_w,
                     in_shape=tuple(in_shape))]


def _read_reshape(layer: _Layer, source, in_shape, reader) -> list[Node]:
    """A Reshape to one axis is a Flatten (a view); to two or more axes a Reshape node; to the
    input's own shape no node."""
    shape = _target_shape(layer, in_shape)
    if shape == tuple(in_shape):
        return []
    if len(shape) == 1:
        return [Flatten(layer.name, [source], shape)]
    return [Reshape(layer.name, [source], shape)]


def _target_shape(layer: _Layer, in_shape) -> tuple[int, ...]:
    """Keras's target_shape with its one -1 (if any) resolved as Keras resolves it: the size that
    keeps the number of values."""
    target = layer.config.get("target_shape")
    size = int(np.prod(in_shape))
    dims = list(target) if isinstance(target, (list, tuple)) else []
    valid = bool(dims) and all(isinstance(d, int) and (d >= 1 or d == -1) for d in dims) and dims.count(-1) <= 1
    known = int(np.prod([d for d in dims if d != -1])) if valid else 0
    if valid and -1 in dims and size % known == 0:
        dims[dims.index(-1)] = size // known
    if not valid or int(np.prod(dims)) != size:
        raise NnhlsError(
            f"{layer.where}: target_shape={target!r} does not hold the {size} values of its input of shape "
            f"{tuple(in_shape)}; give positive sizes (at most one -1) whose product is {size}"
        )
    return tuple(dims)


def _read_permute(layer: _Layer, source, in_shape, reader) -> list[Node]:
    """Keras Permute: `dims` orders the axes 1 ... rank (axis 0, the batch, stays first). An order
    that changes nothing is no node."""
    dims = layer.config.get("dims")
    rank = len(in_shape)
    dims = list(dims) if isinstance(dims, (list, tuple)) else dims
    if not isinstance(dims, list) or sorted(dims) != list(range(1, rank + 1)):
        given = f"{layer.where}: dims={layer.config.get('dims')!r}"
        if isinstance(dims, list) and 0 in dims:
            raise NnhlsError(f"{given} would move the batch axis (axis 0), which stays first: order only the axes "
                             f"1 to {rank} of its input of shape {tuple(in_shape)}")
        raise NnhlsError(f"{given} is not an order of the axes 1 to {rank} of its input of shape "
                         f"{tuple(in_shape)}: give each of them once")
    perm = tuple(d - 1 for d in dims)
    if perm == tuple(range(rank)):
        return []
    if rank > Transpose.MAX_RANK:
        raise NnhlsError(f"{layer.where} permutes a tensor of {rank} axes; nnhls permutes up to "
                         f"{Transpose.MAX_RANK} axes (besides the batch axis)")
    return [Transpose(layer.name, [source], tuple(in_shape[axis] for axis in perm), perm=perm,
                      in_shape=tuple(in_shape))]


def _read_activation(layer: _Layer, source, in_shape, reader) -> list[Node]:
    function, fields, _ = _activation_function(layer.config.get("activation"), layer)
    return [make_activation(layer.name, [source], in_shape, function, **fields)]


def _read_softmax(layer: _Layer, source, in_shape, reader) -> list[Node]:
    axis = layer.config.get("axis", -1)
    rank = len(in_shape)
    if axis not in (-1, rank, [-1], [rank], (-1,), (rank,)):
        raise NnhlsError(f"{layer.where} has axis={axis!r} on an input of shape {tuple(in_shape)}; nnhls computes "
                         f"softmax over the last axis only (axis=-1 or {rank}): move the axis last with a Permute")
    return [make_activation(layer.name, [source], in_shape, "softmax")]


def _relu_family(layer: _Layer, source, in_shape, threshold=0.0, slope=0.0, max_value=None,
                 strict=False) -> list[Node]:
    return [ParametricRelu(
        layer.name, [source], in_shape, threshold=exact_weights(threshold), slope=Weights(np.atleast_1d(slope).astype(float)),
        max_value=None if max_value is None else exact_weights(max_value), strict=strict)]


def _read_relu(layer: _Layer, source, in_shape, reader) -> list[Node]:
    config = layer.config
    max_value = config.get("max_value")
    slope = float(config.get("negative_slope") or 0.0)
    threshold = float(config.get("threshold") or 0.0)
    if max_value is None and slope == 0 and threshold == 0:
        return [Activation(layer.name, [source], in_shape, function="relu")]
    # Keras passes x only above the threshold (at it, the slope branch gives 0 as well).
    return _relu_family(layer, source, in_shape, threshold, slope, None if max_value is None else float(max_value),
                        strict=True)


def _read_leaky_relu(layer: _Layer, source, in_shape, reader) -> list[Node]:
    config = layer.config
    slope = config.get("negative_slope", config.get("alpha", 0.3))  # Keras 3 / Keras 2 spelling
    return _relu_family(layer, source, in_shape, slope=float(slope))


def _read_prelu(layer: _Layer, source, in_shape, reader) -> list[Node]:
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 1, "alpha")
    alpha = np.asarray(weights[0], dtype=np.float64)
    # Keras gives alpha the input's shape with 1 on each shared axis.
    per_channel = alpha.size == 1 or (alpha.size == in_shape[-1] and all(d == 1 for d in alpha.shape[:-1]))
    if not per_channel:
        raise NnhlsError(f"{layer.where} has alpha of shape {alpha.shape}; one value per channel of the last axis "
                         "(or one in all) is supported: share it over every other axis with shared_axes")
    return _relu_family(layer, source, in_shape, slope=alpha.reshape(-1))


def _read_thresholded_relu(layer: _Layer, source, in_shape, reader) -> list[Node]:
    return _relu_family(layer, source, in_shape, threshold=float(layer.config.get("theta", 1.0)), strict=True)


def _read_elu(layer: _Layer, source, in_shape, reader) -> list[Node]:
    return [make_activation(layer.name, [source], in_shape, "elu", alpha=float(layer.config.get("alpha", 1.0)))]


def _read_qactivation(layer: _Layer, source, in_shape, reader) -> list[Node]:
    activation = getattr(layer.layer, "quantizer", None)
    if activation is None:
        activation = layer.config.get("activation")
    function, quantizer, fields = qk.activation_of(activation, layer.where)
    return [make_activation(layer.name, [source], in_shape, function, result_quantizer=quantizer, **fields)]


def _read_embedding(layer: _Layer, source, in_shape, reader) -> list[Node]:
    """A table of input_dim rows of output_dim values; each index of a sequence picks a row.

    Keras casts the input to int32 (truncating toward zero) and gathers; Keras 3's `take` also
    counts a negative index from the end. mask_zero changes none of its values (`_check_masks`).
    """
    if reader.op_of(source) != "input":
        raise NnhlsError(f"{layer.where} reads the output of {source!r}; nnhls supports an Embedding of a model "
                         "input (its sequence of indices): feed the indices to it directly")
    if len(in_shape) != 1:
        raise NnhlsError(f"{layer.where} reads an input of shape {tuple(in_shape)}; nnhls supports an Embedding of a "
                         "1-D sequence of indices, shape (sequence_length,): give it such an input")
    if getattr(layer.layer, "sparse", False):  # tf.keras keeps it on the layer, not in its config
        raise NnhlsError(f"{layer.where} has sparse=True (a sparse output tensor), which nnhls does not support; "
                         "use sparse=False")
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 1, "embeddings")
    table = np.asarray(weights[0], dtype=np.float64)
    keras3 = type(layer.layer).__module__.split(".")[0] == "keras"
    return [Embedding(layer.name, [source], (in_shape[0], table.shape[1]), embeddings=Weights(table),
                      negative_wraps=keras3)]


# Recurrent settings a layer may have that nnhls does not realize, with why and the fix.
_RECURRENT_REFUSED = {
    "return_state": "its states as outputs; use return_state=False",
    "stateful": "a state kept from one batch to the next; use stateful=False (each sequence starts from zero)",
    "time_major": "time-major inputs; use time_major=False",
}
# Activations a recurrent cell's parts can be (an element-wise function of each value): by the
# framework's names, and as the IR's functions (the ReLU family, QKeras's staircases).
_CELL_ACTIVATIONS = tuple(name for name in SUPPORTED_ACTIVATIONS if name != "softmax")
_CELL_FUNCTIONS = tuple(name for name in ACTIVATIONS if name != "softmax") + ("prelu", "step")


def _read_recurrent(layer: _Layer, source, in_shape, reader, cell: str, quantized: bool = False) -> list[Node]:
    """SimpleRNN, LSTM and GRU (QKeras's QSimpleRNN, QLSTM and QGRU with `quantized`): kernels
    (n_in, blocks * units) and (units, blocks * units) in Keras's block order (i, f, c, o; z, r,
    h), which is the IR's."""
    config = layer.config
    for key, why in _RECURRENT_REFUSED.items():
        if config.get(key):
            raise NnhlsError(f"{layer.where} has {key}=True, which asks for {why}")
    if len(in_shape) != 2:
        raise NnhlsError(f"{layer.where} reads an input of shape {tuple(in_shape)}; a recurrent layer reads "
                         "(time steps, features)")
    units = int(config["units"])
    use_bias = bool(config.get("use_bias", True))
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 2 + use_bias, "kernel, recurrent kernel" + " and bias" * use_bias)
    kernel, recurrent_kernel = (np.asarray(w, dtype=np.float64) for w in weights[:2])
    reset_after = cell == "gru" and bool(config.get("reset_after", True))
    n_columns = kernel.shape[1]
    quantizers = _recurrent_quantizers(layer, cell) if quantized else {}
    kernel, _ = _quantized_weights(layer, kernel, quantizers.get("kernel"), "kernel")
    recurrent_kernel, _ = _quantized_weights(layer, recurrent_kernel, quantizers.get("recurrent"), "recurrent kernel")
    bias, recurrent_bias = zero_weights(n_columns), zero_weights(n_columns)
    if use_bias:
        # QKeras quantizes the whole bias, a GRU's rows of input and recurrent bias at once.
        values = np.asarray(weights[2], dtype=np.float64)
        quantized_bias, _ = _quantized_weights(layer, values, quantizers.get("bias"), "bias")
        rows = [Weights(row, quantizer=quantized_bias.quantizer) for row in np.atleast_2d(quantized_bias.values)]
        bias, recurrent_bias = rows if reset_after else (rows[0], recurrent_bias)
    activations = []
    for key, default in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        if cell == "simple" and key == "recurrent_activation":
            activations.append(("", {}, None, ""))
            continue
        activations.append(_cell_activation(layer, key, default, quantized))
    (function, fields, quantizer, name), (gate_function, gate_fields, gate_quantizer, gate_name) = activations
    parts = recurrent_parts(layer.name, cell, units, kernel, recurrent_kernel, bias, recurrent_bias,
                            (function, fields, quantizer), (gate_function, gate_fields, gate_quantizer), reset_after)
    for part in parts.values():
        if part.op == "hard_sigmoid" and part.slope is None:
            _hard_sigmoid_constants(part, layer)
    steps = int(in_shape[0])
    shape = (steps, units) if config.get("return_sequences") else (units,)
    state = quantizers.get("state")
    return [Recurrent(layer.name, [source], shape, cell=cell, units=units, steps=steps,
                      return_sequences=bool(config.get("return_sequences")),
                      go_backwards=bool(config.get("go_backwards")), reset_after=reset_after, activation=name,
                      recurrent_activation=gate_name, parts=parts,
                      state_quantizer=None if state is None else qk.quantizer_type(state, f"{layer.where} state"))]


def _recurrent_quantizers(layer: _Layer, cell: str) -> dict:
    """A QKeras recurrent layer's kernel, recurrent, bias and state quantizers (None where unset)."""
    qlayer = layer.layer
    quantizers = {role: getattr(qlayer, f"{role}_quantizer_internal", None)
                  for role in ("kernel", "recurrent", "bias", "state")}
    if cell == "gru" and quantizers["recurrent"] is None:
        # QKeras 0.9.0's QGRUCell then multiplies the state by its input kernel (qrecurrent.py,
        # QGRUCell.call): it fails where the input and state sizes differ, and is wrong where they agree.
        raise NnhlsError(f"{layer.where} has no recurrent_quantizer, with which QKeras 0.9.0's QGRU multiplies the "
                         "state by its input kernel instead of its recurrent kernel; give it a recurrent_quantizer "
                         "(such as quantized_bits(8, 0, alpha=1))")
    return quantizers


def _cell_activation(layer: _Layer, key: str, default: str, quantized: bool) -> tuple[str, dict, object, str]:
    """(IR function, node fields, result quantizer, the framework's name) of a cell's activation."""
    if not quantized:
        name = layer.config.get(key, default)
        function, fields, label = _activation_function(name, layer)
        quantizer = None
    else:
        activation = getattr(layer.layer.cell, key)
        label = qk.quantizer_name(activation)
        if label == "hard_sigmoid":  # QKeras's own, clip(0.5 x + 0.5, 0, 1), not Keras's
            function, fields, quantizer = "hard_sigmoid", {"slope": exact_weights(0.5),
                                                           "offset": exact_weights(0.5)}, None
        elif label in Lookup.FUNCTIONS or label == "softsign":
            function, fields, quantizer = label, {}, None
        else:
            function, quantizer, fields = qk.activation_of(activation, f"{layer.where} {key}")
            label = str(activation)
    if function not in _CELL_FUNCTIONS:
        raise NnhlsError(f"{layer.where}: its {key} {label!r} is not an element-wise function; use one of "
                         f"{', '.join(map(repr, _CELL_ACTIVATIONS))}, or a QKeras quantized activation")
    return function, fields, quantizer, str(label)


# Bidirectional's merge modes: the IR's merge of the forward and backward outputs.
_BIDIRECTIONAL_MERGES = {"concat": "concatenate", "sum": "add", "ave": "average", "mul": "multiply"}


def _read_bidirectional(layer: _Layer, source, in_shape, reader) -> list[Node]:
    """The forward layer and the backward one (reading the steps last first, its sequence returned
    in time order), then their merge."""
    mode = layer.config.get("merge_mode", "concat")
    if mode not in _BIDIRECTIONAL_MERGES:
        raise NnhlsError(f"{layer.where} has merge_mode={mode!r}, which returns the two directions apart; use one of "
                         f"{', '.join(map(repr, _BIDIRECTIONAL_MERGES))}")
    nodes = []
    for direction in ("forward", "backward"):
        inner = getattr(layer.layer, f"{direction}_layer")
        sub = _Layer(reader.fresh_name(f"{layer.name}_{direction}"), type(inner).__name__, inner.get_config(), inner,
                     layer.inputs)
        if sub.class_name not in _RECURRENT_CLASSES:
            raise NnhlsError(f"{layer.where} wraps {sub.class_name}; nnhls reads Bidirectional around "
                             f"{', '.join(_RECURRENT_CLASSES)}")
        (node,) = _HANDLERS[sub.class_name](sub, source, in_shape, reader)
        node.time_order = node.go_backwards
        node.framework_class = sub.class_name
        nodes.append(node)
    names, shape = [node.name for node in nodes], nodes[0].shape
    if mode == "concat":
        merged = Concatenate(layer.name, names, shape[:-1] + (2 * shape[-1],), axis=len(shape) - 1)
    else:
        merged = Merge(layer.name, names, shape, function=_BIDIRECTIONAL_MERGES[mode])
    return nodes + [merged]


class _OneStep:
    """A layer that TimeDistributed applies to each step, as the 2-D layer it is over (steps, ...):
    a Conv1D over (steps, width, channels) is a Conv2D of kernel (1, k); its weights reshaped."""

    def __init__(self, layer, weights):
        self._layer, self._weights = layer, weights

    def get_weights(self):
        return self._weights

    def __getattr__(self, name):
        return getattr(self._layer, name)


# Layers TimeDistributed applies to each step that already compute on the last axis alone (or on
# each value), so that on (steps, ...) they are the same layer.
_PER_STEP = ("Dense", "QDense", "Activation", "QActivation", "Dropout", "ReLU", "LeakyReLU", "ELU", "Softmax",
             "BatchNormalization", "QBatchNormalization")


def _read_time_distributed(layer: _Layer, source, in_shape, reader) -> list[Node]:
    inner = layer.layer.layer
    class_name, config = type(inner).__name__, inner.get_config()
    sub = _Layer(layer.name, class_name, config, inner, layer.inputs)
    if class_name in _PER_STEP:
        return _HANDLERS[class_name](sub, source, in_shape, reader)
    if class_name in ("Conv1D", "QConv1D") and len(in_shape) == 3:
        if config.get("padding") == "causal":
            raise NnhlsError(f"{layer.where} wraps a Conv1D of causal padding; use 'valid' or 'same' inside "
                             "TimeDistributed")
        two_d = dict(config)
        for key in ("kernel_size", "strides", "dilation_rate"):
            value = config.get(key, 1)
            two_d[key] = (1, int(value if isinstance(value, int) else value[0]))
        weights = inner.get_weights()
        weights[0] = np.asarray(weights[0])[None]  # (k, c_in, c_out) -> (1, k, c_in, c_out)
        sub = _Layer(layer.name, class_name, two_d, _OneStep(inner, weights), layer.inputs)
        return _HANDLERS[class_name.replace("1D", "2D")](sub, source, in_shape, reader)
    if class_name in ("Conv2D", "QConv2D") and len(in_shape) == 4:
        return _stacked_steps_conv(sub, source, tuple(in_shape), reader)
    if class_name == "Flatten" and len(in_shape) > 2:  # each step's values in a row, in order
        return [Reshape(layer.name, [source], (in_shape[0], int(np.prod(in_shape[1:]))))]
    raise NnhlsError(f"{layer.where} wraps {class_name} on an input of shape {tuple(in_shape)}; nnhls reads "
                     f"TimeDistributed around {', '.join(_PER_STEP)}, Flatten, Conv1D on (steps, width, channels) "
                     "and Conv2D on (steps, height, width, channels)")


def _stacked_steps_conv(layer: _Layer, source, in_shape: tuple[int, ...], reader) -> list[Node]:
    """TimeDistributed(Conv2D) over (steps, H, W, C): one convolution over the steps' images
    stacked into one of steps * Hq rows, where each step's image is padded above and below as the
    layer pads it (and below to Hq rows, a multiple of the vertical stride), so that no window
    reads two steps; the rows of windows that would are cropped after. The same convolution, so
    the same numbers and one kernel in hardware."""
    steps, height, width, channels = in_shape
    window = _conv_window(layer, (height, width, channels), 2)
    stride = window.stride_h
    padded = height + window.pad_top + window.pad_bottom
    step_rows = -(-padded // stride) * stride
    rows_out = step_rows // stride  # per step, of which window.out_h are the step's own
    name = layer.name
    nodes = [Reshape(reader.fresh_name(f"{name}_rows"), [source], (steps, height, width * channels))]
    if step_rows > height:
        rows = Window(steps, height, width * channels, pad_left=window.pad_top,
                      pad_right=step_rows - height - window.pad_top)
        nodes.append(ZeroPad(reader.fresh_name(f"{name}_padded"), [nodes[-1].name], (steps, step_rows, width * channels),
                             window=rows, in_shape=nodes[-1].shape))
    nodes.append(Reshape(reader.fresh_name(f"{name}_stacked"), [nodes[-1].name], (steps * step_rows, width, channels)))
    # Below the last step, rows enough for its last windows.
    stacked = replace(window, in_h=steps * step_rows, pad_top=0, pad_bottom=max(window.span_h - stride, 0))
    convolved = _HANDLERS[layer.class_name](replace(layer, name=reader.fresh_name(f"{name}_conv")), nodes[-1].name,
                                            nodes[-1].shape, reader, window=stacked)
    nodes += convolved
    filters = convolved[0].shape[-1]
    out_w = window.out_w
    nodes.append(Reshape(reader.fresh_name(f"{name}_steps"), [nodes[-1].name], (steps, rows_out, out_w * filters)))
    if rows_out > window.out_h:
        nodes.append(Crop(reader.fresh_name(f"{name}_cropped"), [nodes[-1].name], (steps, window.out_h, out_w * filters),
                          in_shape=nodes[-1].shape, right=rows_out - window.out_h))
    nodes.append(Reshape(name, [nodes[-1].name], (steps, window.out_h, out_w, filters)))
    return nodes


def _read_dropout(layer: _Layer, source, in_shape, reader) -> list[Node]:
    return []  # inference ignores dropout


def _read_flatten(layer: _Layer, source, in_shape, reader) -> list[Node]:
    if layer.config.get("data_format") == "channels_first" and len(in_shape) > 1:
        raise NnhlsError(
            f"{layer.where} has data_format='channels_first', which reorders the values; "
            "use channels-last models (the Keras default)"
        )
    return [Flatten(layer.name, [source], (int(np.prod(in_shape)),))]


def _check_normalized_axis(layer: _Layer, in_shape) -> None:
    axes = layer.config.get("axis", -1)
    axes = [axes] if isinstance(axes, int) else list(axes)  # tf.keras stores a list once built
    rank = len(in_shape) + 1  # Keras counts the batch axis
    if [int(a) % rank for a in axes] != [rank - 1]:
        raise NnhlsError(
            f"{layer.where} normalizes axis {layer.config.get('axis')}; only the last axis (axis=-1) is supported"
        )


def _read_batchnorm(layer: _Layer, source, in_shape, reader) -> list[Node]:
    config = layer.config
    _check_normalized_axis(layer, in_shape)
    scale, center = bool(config.get("scale", True)), bool(config.get("center", True))
    weights = [np.asarray(w, dtype=np.float64) for w in layer.layer.get_weights()]
    _check_weights(layer, weights, 2 + scale + center, "gamma, beta, moving mean and variance as configured")
    channels = in_shape[-1]
    gamma = weights.pop(0) if scale else np.ones(channels)
    beta = weights.pop(0) if center else np.zeros(channels)
    mean, variance = weights
    return [
        BatchNorm(
            layer.name, [source], in_shape, gamma=gamma, beta=beta, mean=mean, variance=variance,
            epsilon=float(config.get("epsilon", 1e-3)),
        )
    ]


def _read_layernorm(layer: _Layer, source, in_shape, reader) -> list[Node]:
    """Keras LayerNormalization (Keras 2 and 3) over the last axis, with or without gamma and beta."""
    config = layer.config
    axes = config.get("axis", -1)
    axes = [axes] if isinstance(axes, int) else list(axes)  # tf.keras stores a list once built
    rank = len(in_shape) + 1  # Keras counts the batch axis
    if sorted({int(a) % rank for a in axes}) != [rank - 1]:
        raise NnhlsError(f"{layer.where} normalizes over axis {config.get('axis')!r}; nnhls normalizes over the "
                         "last axis only (axis=-1)")
    if config.get("rms_scaling"):
        raise NnhlsError(f"{layer.where} has rms_scaling=True, which nnhls does not support; use rms_scaling=False")
    scale, center = bool(config.get("scale", True)), bool(config.get("center", True))
    weights = [np.asarray(w, dtype=np.float64).reshape(-1) for w in layer.layer.get_weights()]
    _check_weights(layer, weights, scale + center, "gamma and beta as configured")
    gamma = Weights(weights.pop(0)) if scale else None
    beta = Weights(weights.pop(0)) if center else None
    return [LayerNorm(layer.name, [source], tuple(in_shape), scale=gamma, bias=beta,
                      epsilon=float(config.get("epsilon", 1e-3)))]


def _read_qbatchnorm(layer: _Layer, source, in_shape, reader) -> list[Node]:
    """QKeras's QBatchNormalization: y = x * inv + shift per channel, with QKeras's own float32
    inv and shift (`qk.quantized_batchnorm`), each exactly typed; it stays a ScaleShift (QKeras
    never folds it). QKeras 0.9.0 stores an `activation` but never applies it; nor does nnhls."""
    _check_normalized_axis(layer, in_shape)
    qlayer = layer.layer
    if qlayer.activation is not None:
        warnings.warn(f"{layer.where} has activation={qlayer.activation!r}, which QKeras 0.9.0 stores but never "
                      "applies (nor saves); nnhls does not apply it either: add a QActivation after the layer",
                      stacklevel=5)
    scale, shift = qk.quantized_batchnorm(qlayer, layer.where)
    what = "the {} QKeras computes with"
    fix = "quantize the layer's gamma, mean and variance more coarsely (power-of-two quantizers)"
    exact = [Weights(values, quantizer=qk.exact_weight_type(values, layer.where, what.format(name), fix))
             for values, name in ((scale, "scales (gamma / sqrt(variance + epsilon))"),
                                  (shift, "shifts (beta - mean * scale)"))]
    # gamma, beta, mean and variance stay unset: the framework's scale and shift replace them.
    return [BatchNorm(layer.name, [source], in_shape, epsilon=float(qlayer.epsilon), framework_scale=exact[0],
                      framework_shift=exact[1])]


def _read_merge(layer: _Layer, sources: list[str], in_shapes: list, reader, function: str) -> list[Node]:
    if len(set(map(tuple, in_shapes))) != 1:
        shapes = ", ".join(str(tuple(shape)) for shape in in_shapes)
        raise NnhlsError(f"{layer.where} merges inputs of shapes {shapes}; nnhls merges inputs of one shape "
                         "(no broadcasting): give every input the same shape")
    if function == "subtract" and len(sources) != 2:
        raise NnhlsError(f"{layer.where} has {len(sources)} inputs; Subtract takes exactly two")
    return [Merge(layer.name, list(sources), tuple(in_shapes[0]), function=function)]


def _read_concatenate(layer: _Layer, sources: list[str], in_shapes: list, reader) -> list[Node]:
    ranks = {len(shape) for shape in in_shapes}
    rank = ranks.pop() if len(ranks) == 1 else None
    if rank is None:
        raise NnhlsError(f"{layer.where} concatenates inputs of different ranks: "
                         f"{', '.join(str(tuple(s)) for s in in_shapes)}")
    axis = layer.config.get("axis", -1)
    if not isinstance(axis, int) or not -(rank + 1) <= axis <= rank or axis % (rank + 1) == 0:
        raise NnhlsError(f"{layer.where} has axis={axis!r}; concatenate along an axis of the samples "
                         f"(1 to {rank}, or -1 to -{rank}), not the batch axis")
    axis = axis % (rank + 1) - 1  # of the shapes without the batch axis
    others = {tuple(s[:axis]) + tuple(s[axis + 1:]) for s in in_shapes}
    if len(others) != 1:
        raise NnhlsError(f"{layer.where}: inputs of shapes {', '.join(str(tuple(s)) for s in in_shapes)} differ "
                         f"outside the concatenation axis {axis + 1}")
    shape = list(in_shapes[0])
    shape[axis] = sum(s[axis] for s in in_shapes)
    return [Concatenate(layer.name, list(sources), tuple(shape), axis=axis)]


def _read_dot(layer: _Layer, sources: list[str], in_shapes: list, reader) -> list[Node]:
    if len(sources) != 2:
        raise NnhlsError(f"{layer.where} has {len(sources)} inputs; Dot takes exactly two")
    if any(len(shape) != 1 for shape in in_shapes) or in_shapes[0] != in_shapes[1]:
        raise NnhlsError(f"{layer.where} multiplies inputs of shapes {tuple(in_shapes[0])} and {tuple(in_shapes[1])}; "
                         "nnhls supports Dot of two vectors of one length (1-D tensors)")
    axes = layer.config.get("axes", -1)
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes, axes]
    if any(a not in (1, -1) for a in axes):
        raise NnhlsError(f"{layer.where} has axes={layer.config.get('axes')!r}; 1-D inputs are multiplied along "
                         "axis 1 (axes=1 or -1)")
    if layer.config.get("normalize"):
        raise NnhlsError(f"{layer.where} has normalize=True (a cosine similarity), which nnhls does not support; "
                         "use normalize=False")
    return [Dot(layer.name, list(sources), (1,), length=int(in_shapes[0][0]))]


# Layers of two or more inputs: (layer, input node names, their shapes, reader) -> nodes.
_MERGE_HANDLERS = {
    **{name: partial(_read_merge, function=name.lower()) for name in
       ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
    "Concatenate": _read_concatenate,
    "Dot": _read_dot,
}

_HANDLERS = {
    "InputLayer": _read_input,
    "Dense": _read_dense,
    "QDense": _read_qdense,
    "Activation": _read_activation,
    "Softmax": _read_softmax,
    "ReLU": _read_relu,
    "LeakyReLU": _read_leaky_relu,
    "PReLU": _read_prelu,
    "ThresholdedReLU": _read_thresholded_relu,
    "ELU": _read_elu,
    "QActivation": _read_qactivation,
    "Dropout": _read_dropout,
    "Flatten": _read_flatten,
    "BatchNormalization": _read_batchnorm,
    "LayerNormalization": _read_layernorm,
    "Conv1D": partial(_read_conv, spatial=1),
    "Conv2D": partial(_read_conv, spatial=2),
    "Conv1DTranspose": partial(_read_conv_transpose, spatial=1),
    "Conv2DTranspose": partial(_read_conv_transpose, spatial=2),
    "DepthwiseConv1D": partial(_read_depthwise, spatial=1),
    "DepthwiseConv2D": partial(_read_depthwise, spatial=2),
    "QDepthwiseConv2D": partial(_read_depthwise, spatial=2, quantized=True),
    "SeparableConv1D": partial(_read_separable, spatial=1),
    "SeparableConv2D": partial(_read_separable, spatial=2),
    "QSeparableConv1D": partial(_read_separable, spatial=1, quantized=True),
    "QSeparableConv2D": partial(_read_separable, spatial=2, quantized=True),
    "QConv1D": partial(_read_qconv, spatial=1),
    "QConv2D": partial(_read_qconv, spatial=2),
    "QConv2DBatchnorm": partial(_read_folded_batchnorm, spatial=2),
    "QDenseBatchnorm": partial(_read_folded_batchnorm, spatial=0),
    "MaxPooling1D": partial(_read_pool, spatial=1, function="max"),
    "MaxPooling2D": partial(_read_pool, spatial=2, function="max"),
    "AveragePooling1D": partial(_read_pool, spatial=1, function="average"),
    "AveragePooling2D": partial(_read_pool, spatial=2, function="average"),
    "GlobalMaxPooling1D": partial(_read_global_pool, spatial=1, function="max"),
    "GlobalMaxPooling2D": partial(_read_global_pool, spatial=2, function="max"),
    "GlobalAveragePooling1D": partial(_read_global_pool, spatial=1, function="average"),
    "GlobalAveragePooling2D": partial(_read_global_pool, spatial=2, function="average"),
    "ZeroPadding1D": partial(_read_zero_padding, spatial=1),
    "ZeroPadding2D": partial(_read_zero_padding, spatial=2),
    "Embedding": _read_embedding,
    "SimpleRNN": partial(_read_recurrent, cell="simple"),
    "LSTM": partial(_read_recurrent, cell="lstm"),
    "GRU": partial(_read_recurrent, cell="gru"),
    "QSimpleRNN": partial(_read_recurrent, cell="simple", quantized=True),
    "QLSTM": partial(_read_recurrent, cell="lstm", quantized=True),
    "QGRU": partial(_read_recurrent, cell="gru", quantized=True),
    "Bidirectional": _read_bidirectional,
    "QBidirectional": _read_bidirectional,
    "TimeDistributed": _read_time_distributed,
    "QAveragePooling2D": partial(_read_qaverage_pool, covering=False),
    "QGlobalAveragePooling2D": partial(_read_qaverage_pool, covering=True),
    "QBatchNormalization": _read_qbatchnorm,
    "Reshape": _read_reshape,
    "Permute": _read_permute,
    "Cropping1D": partial(_read_cropping, spatial=1),
    "Cropping2D": partial(_read_cropping, spatial=2),
    "UpSampling1D": partial(_read_upsampling, spatial=1),
    "UpSampling2D": partial(_read_upsampling, spatial=2),
}

_HANDLERS.update(_MERGE_HANDLERS)
_RECURRENT_CLASSES = ("SimpleRNN", "LSTM", "GRU", "QSimpleRNN", "QLSTM", "QGRU")

SUPPORTED_LAYERS = tuple(_HANDLERS)
