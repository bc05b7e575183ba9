"""Keras 2 (tf.keras, QKeras) and Keras 3 models into the IR, from layer configs and weights.

Connectivity comes from `model.get_config()` (the same description Keras saves to disk), layer
arguments from `layer.get_config()` and public attributes, values from `layer.get_weights()`.
Neither TensorFlow nor Keras is imported until a model is read, so `import nnhls` stays light.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnhls import quantize
from nnhls.errors import NnhlsError
from nnhls.frontends import qkeras as qk
from nnhls.ir import ACTIVATIONS, Activation, BatchNorm, Dense, Flatten, Graph, Input, Node, Weights, make_activation

__all__ = ["SUPPORTED_LAYERS", "load_keras_file", "read_keras"]

SUPPORTED_ACTIVATIONS = ACTIVATIONS


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
    layers, output_layers = _layers_of(model)
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
_QKERAS_LAYERS = ("QDense", "QActivation", "QConv1D", "QConv2D", "QBatchNormalization")


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
    return _Layer("input_1", "InputLayer", {"name": "input_1", "batch_shape": shape}, None, [])


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
        if layer.class_name != "InputLayer" and len(layer.inputs) != 1:
            raise NnhlsError(f"{layer.where} has {len(layer.inputs)} inputs; it must have exactly one")
        source = self.producer[layer.inputs[0]] if layer.inputs else None
        nodes = handler(layer, source, self.shape.get(source), self)
        for node in nodes:
            node.framework_class = node.framework_class or layer.class_name
            self.nodes.append(node)
            self.shape[node.name] = node.shape
        if nodes:
            nodes[-1].framework_output = layer.name
        # A layer that becomes no node (Dropout) passes its input through.
        self.producer[layer.name] = nodes[-1].name if nodes else source

    def fresh_name(self, name: str) -> str:
        """`name`, or `name_2`, `name_3`... if a Keras layer or node already has it."""
        candidate, index = name, 1
        while candidate in self._taken:
            index += 1
            candidate = f"{name}_{index}"
        self._taken.add(candidate)
        return candidate


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
    return [Input(layer.name, [], tuple(int(d) for d in shape))]


def _check_weights(layer: _Layer, weights: list, expected: int, names: str) -> None:
    if len(weights) != expected:
        raise NnhlsError(
            f"{layer.where} holds {len(weights)} weight arrays, expected {expected} ({names}); "
            "its configuration adds weights nnhls does not read (for example a Keras 3 quantized or "
            "LoRA layer, or batch renormalization): use the plain layer"
        )


def _dense_kernel(layer: _Layer, in_shape) -> tuple[np.ndarray, np.ndarray]:
    if len(in_shape) != 1:
        raise NnhlsError(
            f"{layer.where} is applied to an input of shape {in_shape}; Keras then applies it to the "
            "last axis only, which nnhls does not support: add a Flatten layer before it"
        )
    use_bias = bool(layer.config.get("use_bias", True))
    weights = layer.layer.get_weights()
    _check_weights(layer, weights, 1 + use_bias, "kernel and bias" if use_bias else "kernel")
    kernel = np.asarray(weights[0], dtype=np.float64)
    bias = np.asarray(weights[1], dtype=np.float64) if use_bias else np.zeros(kernel.shape[1])
    return kernel, bias


def _activation_node(layer: _Layer, dense: Node, function: str, quantizer, reader) -> list[Node]:
    """The Dense node, followed by its activation unless that is a plain 'linear'."""
    if function == "linear" and quantizer is None:
        return [dense]
    name = reader.fresh_name(f"{layer.name}_{function}")
    activation = make_activation(
        name, [dense.name], dense.shape, function, framework_class="Activation", result_quantizer=quantizer,
    )
    return [dense, activation]


def _activation_function(name, layer: _Layer) -> str:
    if name is None:
        return "linear"
    if isinstance(name, dict):  # a serialized custom activation
        name = name.get("config", {}).get("name") or name.get("class_name")
    if name not in SUPPORTED_ACTIVATIONS:
        raise NnhlsError(
            f"{layer.where}: activation {name!r} is not supported; supported activations: "
            f"{', '.join(map(repr, SUPPORTED_ACTIVATIONS))}"
        )
    return name


def _read_dense(layer: _Layer, source, in_shape, reader) -> list[Node]:
    kernel, bias = _dense_kernel(layer, in_shape)
    dense = Dense(
        layer.name, [source], (kernel.shape[1],), weight=Weights(kernel), bias=Weights(bias)
    )
    function = _activation_function(layer.config.get("activation"), layer)
    return _activation_node(layer, dense, function, None, reader)


def _quantized_weights(layer: _Layer, values: np.ndarray, quantizer, what: str) -> Weights:
    """The values QKeras computes with (the quantizer applied to the float values), and their type."""
    if quantizer is None:
        return Weights(values)
    where = f"{layer.where} {what}"
    fixed_type = qk.quantizer_type(quantizer, where)
    quantized = np.asarray(quantizer(values.astype(np.float32)), dtype=np.float64)
    exact = quantize.to_float(quantize.from_float(quantized, fixed_type), fixed_type)
    if not np.array_equal(exact, quantized):
        worst = np.abs(exact - quantized).max()
        raise NnhlsError(
            f"{where}: the values QKeras's {quantizer} produces are not all exact {fixed_type} values "
            f"(off by up to {worst}); this happens for float weights far outside the quantizer's range, "
            "where QKeras's float32 arithmetic is inexact: clip the weights to the quantizer's range"
        )
    return Weights(quantized, quantizer=fixed_type)


def _read_qdense(layer: _Layer, source, in_shape, reader) -> list[Node]:
    kernel, bias = _dense_kernel(layer, in_shape)
    qdense = layer.layer
    weight = _quantized_weights(layer, kernel, qdense.kernel_quantizer_internal, "kernel")
    use_bias = bool(layer.config.get("use_bias", True))
    bias_quantizer = qdense.bias_quantizer_internal if use_bias else None
    dense = Dense(
        layer.name, [source], (kernel.shape[1],), weight=weight,
        bias=_quantized_weights(layer, bias, bias_quantizer, "bias"),
    )
    function, quantizer = qk.activation_of(qdense.activation, layer.where)
    return _activation_node(layer, dense, function, quantizer, reader)


def _read_activation(layer: _Layer, source, in_shape, reader) -> list[Node]:
    function = _activation_function(layer.config.get("activation"), layer)
    if function == "softmax" and len(in_shape) != 1:
        raise NnhlsError(f"{layer.where}: softmax is supported on 1-D tensors; add Flatten before it")
    return [make_activation(layer.name, [source], in_shape, function)]


def _read_softmax(layer: _Layer, source, in_shape, reader) -> list[Node]:
    axis = layer.config.get("axis", -1)
    if axis not in (-1, len(in_shape), [-1], [len(in_shape)]) or len(in_shape) != 1:
        raise NnhlsError(f"{layer.where}: softmax is supported over the last axis of a 1-D tensor; "
                         f"got axis {axis} on shape {in_shape}")
    return [make_activation(layer.name, [source], in_shape, "softmax")]


def _read_relu(layer: _Layer, source, in_shape, reader) -> list[Node]:
    config = layer.config
    arguments = {
        "max_value": config.get("max_value"),
        "negative_slope": float(config.get("negative_slope") or 0.0),
        "threshold": float(config.get("threshold") or 0.0),
    }
    if arguments != {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}:
        raise NnhlsError(
            f"{layer.where} has arguments {arguments}; only the plain ReLU (max_value=None, "
            "negative_slope=0, threshold=0) is supported"
        )
    return [Activation(layer.name, [source], in_shape, function="relu")]


def _read_qactivation(layer: _Layer, source, in_shape, reader) -> list[Node]:
    activation = getattr(layer.layer, "quantizer", None)
    if activation is None:
        activation = layer.config.get("activation")
    function, quantizer = qk.activation_of(activation, layer.where)
    return [make_activation(layer.name, [source], in_shape, function, result_quantizer=quantizer)]


def _read_dropout(layer: _Layer, source, in_shape, reader) -> list[Node]:
    return []  # inference ignores dropout


def _read_flatten(layer: _Layer, source, in_shape, reader) -> list[Node]:
    if layer.config.get("data_format") == "channels_first" and len(in_shape) > 1:
        raise NnhlsError(
            f"{layer.where} has data_format='channels_first', which reorders the values; "
            "use channels-last models (the Keras default)"
        )
    return [Flatten(layer.name, [source], (int(np.prod(in_shape)),))]


def _read_batchnorm(layer: _Layer, source, in_shape, reader) -> list[Node]:
    config = layer.config
    axes = config.get("axis", -1)
    axes = [axes] if isinstance(axes, int) else list(axes)  # tf.keras stores a list once built
    rank = len(in_shape) + 1  # Keras counts the batch axis
    if [int(a) % rank for a in axes] != [rank - 1]:
        raise NnhlsError(
            f"{layer.where} normalizes axis {config.get('axis')}; only the last axis (axis=-1) is supported"
        )
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


_HANDLERS = {
    "InputLayer": _read_input,
    "Dense": _read_dense,
    "QDense": _read_qdense,
    "Activation": _read_activation,
    "Softmax": _read_softmax,
    "ReLU": _read_relu,
    "QActivation": _read_qactivation,
    "Dropout": _read_dropout,
    "Flatten": _read_flatten,
    "BatchNormalization": _read_batchnorm,
}

SUPPORTED_LAYERS = tuple(_HANDLERS)
