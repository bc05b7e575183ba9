"""QKeras quantizers as exact fixed-point types.

QKeras 0.9.0 quantizes in float32 as `m_i * clip(tf.round(x * m / m_i), low, high) / m`, with
`m = 2**(bits - sign)` and `m_i = 2**integer`. `tf.round` rounds half to even, so every such
quantizer is an `ap_[u]fixed` with RND_CONV rounding and a saturating overflow mode:

* `quantized_bits(bits, integer, symmetric, keep_negative, alpha=1 or None)`:
  step `2**(integer - bits + keep_negative)`, codes clipped to
  `[-m + symmetric, m - 1]` (or `[0, m - 1]` without keep_negative), i.e.
  `FixedType(bits, integer + keep_negative, signed=keep_negative, RND_CONV, SAT or SAT_SYM)`.
* `quantized_relu(bits, integer)`: step `2**(integer - bits)`, codes clipped to `[0, 2**bits - 1]`,
  i.e. `FixedType(bits, integer, signed=False, RND_CONV, SAT)`.

Quantizers are recognised by their exact class name, never by isinstance: QKeras derives
`quantized_hswish` from `quantized_bits`, and that one computes something else. Reading the
attributes of a quantizer object needs no TensorFlow; only a quantizer written as a string
("quantized_relu(6)") imports QKeras to parse it.
"""

from __future__ import annotations

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.types import FixedType

__all__ = [
    "SUPPORTED_QUANTIZERS",
    "activation_of",
    "load_qkeras",
    "quantizer_name",
    "quantizer_type",
    "to_quantizer",
]

SUPPORTED_QUANTIZERS = ("quantized_bits", "quantized_relu")

# Plain activations a quantized layer may carry instead of a quantizer.
_PLAIN_ACTIVATIONS = ("linear", "relu")


def load_qkeras():
    """Import QKeras, which must be running on tf.keras (Keras 2), and return the module."""
    try:
        import qkeras
        import tf_keras
    except ImportError as error:
        raise NnhlsError(
            f"reading a QKeras model needs QKeras and tf_keras ({error}); "
            "install them with `pip install nnhls[keras]`"
        ) from error
    if not issubclass(qkeras.QDense, tf_keras.layers.Layer):
        # QKeras imports `tensorflow.keras`, which is Keras 3 unless asked otherwise.
        raise NnhlsError(
            "QKeras was imported on top of Keras 3, which it does not support; set the environment "
            "variable TF_USE_LEGACY_KERAS=1 before the first import of tensorflow or qkeras"
        )
    return qkeras


def to_quantizer(identifier, where: str):
    """A quantizer object (or activation function) from an object, a string or a config dict.

    `where` names the layer for messages, e.g. "layer 'dense' (QDense)".
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _PLAIN_ACTIVATIONS:
        return identifier
    qkeras = load_qkeras()
    try:
        return qkeras.get_quantizer(identifier)
    except Exception as error:  # QKeras raises ValueError, KeyError or pyparsing errors
        raise NnhlsError(f"{where}: cannot interpret the quantizer {identifier!r}: {error}") from error


def quantizer_name(quantizer) -> str:
    """The name a quantizer or activation goes by: its class name, function name, or the string."""
    if isinstance(quantizer, str):
        return quantizer.split("(")[0].strip()
    if hasattr(quantizer, "__name__"):  # a plain function such as keras.activations.relu
        return quantizer.__name__
    return type(quantizer).__name__


def _as_int(value, what: str, where: str) -> int:
    # `integer` is a tf.Variable when the quantizer was built with use_variables=True.
    if hasattr(value, "numpy"):
        value = value.numpy()
    array = np.asarray(value)
    if array.size != 1 or float(array.reshape(-1)[0]) != int(array.reshape(-1)[0]):
        raise NnhlsError(f"{where}: quantizer {what} must be a single integer, got {value!r}")
    return int(array.reshape(-1)[0])


def _require(condition: bool, where: str, quantizer, message: str) -> None:
    if not condition:
        raise NnhlsError(f"{where}: quantizer {quantizer} is not supported: {message}")


def _check_common(quantizer, where: str) -> None:
    # A qnoise_factor below 1 mixes the float input into the output: no fixed-point type does that.
    qnoise = getattr(quantizer, "qnoise_factor", 1.0)
    if hasattr(qnoise, "numpy"):
        qnoise = qnoise.numpy()
    _require(float(qnoise) == 1.0, where, quantizer, f"qnoise_factor must be 1.0, got {qnoise}")


def _quantized_bits_type(quantizer, where: str) -> FixedType:
    bits = _as_int(quantizer.bits, "bits", where)
    integer = _as_int(quantizer.integer, "integer", where)
    keep_negative = bool(quantizer.keep_negative)
    symmetric = bool(quantizer.symmetric)
    alpha = quantizer.alpha
    alpha_is_one = alpha is None or (
        not isinstance(alpha, str) and np.size(alpha) == 1 and float(np.asarray(alpha).reshape(-1)[0]) == 1.0
    )
    _require(
        alpha_is_one,
        where,
        quantizer,
        f"alpha must be 1 or None for now, got {alpha!r}; QKeras scales the values by alpha, which nnhls "
        "does not represent yet (note that QDense and QConv turn alpha=None of a kernel quantizer into "
        "'auto_po2': give kernel quantizers alpha=1)",
    )
    # With no magnitude bit left, QKeras maps x to sign(x) (+-1): a binary quantizer, not a fixed type.
    _require(bits - keep_negative > 0, where, quantizer, f"{bits} bit(s) with keep_negative={keep_negative}")
    _check_common(quantizer, where)
    signed = keep_negative
    # Unsigned codes are clipped at 0, so `symmetric` changes nothing there; SAT says so plainly.
    overflow = "SAT_SYM" if symmetric and signed else "SAT"
    return FixedType(bits, integer + keep_negative, signed=signed, rounding="RND_CONV", overflow=overflow)


def _quantized_relu_type(quantizer, where: str) -> FixedType:
    bits = _as_int(quantizer.bits, "bits", where)
    integer = _as_int(quantizer.integer, "integer", where)
    _require(not quantizer.use_sigmoid, where, quantizer, "use_sigmoid must be 0")
    _require(float(quantizer.negative_slope) == 0.0, where, quantizer, "negative_slope must be 0")
    # QKeras applies relu_upper_bound only when is_quantized_clip is False (is_quantized_clip is
    # True by default and is not saved with the model); otherwise the bound has no effect.
    bound = getattr(quantizer, "relu_upper_bound", None)
    clips_at_bound = bound is not None and not getattr(quantizer, "is_quantized_clip", True)
    _require(not clips_at_bound, where, quantizer, "relu_upper_bound must be None")
    _check_common(quantizer, where)
    return FixedType(bits, integer, signed=False, rounding="RND_CONV", overflow="SAT")


_TYPE_OF = {"quantized_bits": _quantized_bits_type, "quantized_relu": _quantized_relu_type}


def quantizer_type(quantizer, where: str) -> FixedType:
    """The exact FixedType a QKeras quantizer object (or string) produces.

    Raises NnhlsError, naming `where`, for quantizers or arguments with no exact fixed-point type.
    """
    quantizer = to_quantizer(quantizer, where)
    name = quantizer_name(quantizer)
    if name not in _TYPE_OF:
        raise NnhlsError(
            f"{where}: quantizer {quantizer} ({name}) is not supported; supported quantizers: "
            f"{', '.join(SUPPORTED_QUANTIZERS)}"
        )
    return _TYPE_OF[name](quantizer, where)


def activation_of(identifier, where: str) -> tuple[str, FixedType | None]:
    """(function, result quantizer) of a QKeras activation: a quantizer, a string or a function.

    quantized_relu is a relu into its type; quantized_bits is the identity into its type; the
    plain 'linear' and 'relu' have no quantizer. Anything else raises NnhlsError naming `where`.
    """
    if identifier is None:
        return "linear", None
    activation = to_quantizer(identifier, where)
    name = quantizer_name(activation)
    if name in _PLAIN_ACTIVATIONS:
        return name, None
    if name == "quantized_relu":
        return "relu", quantizer_type(activation, where)
    if name == "quantized_bits":
        return "linear", quantizer_type(activation, where)
    # A function prints as "<function softmax at 0x...>"; its name says all there is to say.
    is_named = isinstance(activation, str) or hasattr(activation, "__name__")
    shown = repr(name) if is_named else f"{activation} ({name})"
    raise NnhlsError(
        f"{where}: activation {shown} is not supported; supported activations: "
        f"{', '.join(_PLAIN_ACTIVATIONS + SUPPORTED_QUANTIZERS)}"
    )
