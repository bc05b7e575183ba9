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

Weight quantizers (a QDense kernel or bias) are read from the values QKeras itself computes:
the layer's quantizer object applied to the float32 weights, as `QDense.call` does. Those values
are split into exact parts, `values * scale` with `scale` per output channel:

* `quantized_bits(bits, integer, symmetric, keep_negative, alpha=1)`: the type above, no scale.
* `quantized_bits(..., alpha='auto' or 'auto_po2')` (QDense turns alpha=None of a kernel into
  'auto_po2'): QKeras returns `scale_c * m_i * z / m`, with `z = sign(x) * min(floor(|x / m_i| /
  s_c + 0.5), 2**(bits-1) - 1)` an integer (negative codes too, even with keep_negative=False)
  and `scale_c = s_c * m` stored as `quantizer.scale` after the call. The grid `m_i * z / m` is
  `ap_fixed<bits, integer + keep_negative>`; 'auto_po2' makes every `scale_c` a power of two.
* `binary(use_01, alpha)`: `scale_c * k` with k in {-1, +1} (0 counts as +1) or {0, 1}.
* `ternary(alpha, threshold)`: `scale_c * q` with q in {-1, 0, +1}, q = 0 where |x| < threshold.
  For both, alpha=1 gives scale 1, 'auto' a float and 'auto_po2' a power of two per channel.
* `quantized_po2(bits, max_value)`: `sign(x) * 2**clip(round(log2|x|), min_exp, max_exp)`, with
  x = 0 giving +2**min_exp (and a weight far below that giving 0, as QKeras's straight-through
  `x + (q - x)` cancels). `quantized_relu_po2`: the same for x > 0, and +2**min_exp for x <= 0.

Where every channel's scale is a power of two, the scale is folded into the values and their
type (fractional bits from the finest channel, integer bits from the coarsest). A float scale
stays separate: the grid values then multiply exactly, and the scale follows per channel. Then
QKeras's float32 kernel is that exact product rounded to float32 (and, for binary, ternary and a
numeric alpha, rounded once more by the straight-through form), which nnhls verifies per weight.

Quantizers are recognised by their exact class name, never by isinstance: QKeras derives
`quantized_hswish` from `quantized_bits`, and that one computes something else. Reading the
attributes of a quantizer object needs no TensorFlow; only a quantizer written as a string
("quantized_relu(6)") imports QKeras to parse it, and applying a weight quantizer runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnhls import quantize
from nnhls.errors import NnhlsError
from nnhls.frontends.constants import exact_weights
from nnhls.ir import Weights
from nnhls.types import FixedType, exact_type

__all__ = [
    "SUPPORTED_QUANTIZERS",
    "SUPPORTED_WEIGHT_QUANTIZERS",
    "QuantizedWeights",
    "activation_of",
    "exact_weight_type",
    "average_factor",
    "folded_batchnorm",
    "load_qkeras",
    "quantized_batchnorm",
    "quantized_weights",
    "quantizer_name",
    "quantizer_type",
    "to_quantizer",
]

SUPPORTED_QUANTIZERS = ("quantized_bits", "quantized_relu", "quantized_tanh", "quantized_sigmoid", "binary", "ternary")
SUPPORTED_WEIGHT_QUANTIZERS = ("quantized_bits", "binary", "ternary", "quantized_po2", "quantized_relu_po2")

# Plain activations a quantized layer may carry instead of a quantizer.
_PLAIN_ACTIVATIONS = ("linear", "relu")
# Keras's `leaky_relu` activation (by name, not the layer): tf.nn.leaky_relu (alpha=0.2) in
# tf.keras and keras.activations.leaky_relu (negative_slope=0.2) in Keras 3, both max(x, 0.2 * x);
# the LeakyReLU *layer* defaults to 0.3 instead.
LEAKY_RELU_SLOPE = 0.2
# QKeras's functions of binary outputs: binary_sigmoid(x) = round(clip(0.5 * x + 0.5, 0, 1)) in
# float32, tf.round rounding half to even, and binary_tanh(x) = 2 * binary_sigmoid(x) - 1. Up to
# and including x = 2**-24, 0.5 * x + 0.5 rounds to 0.5 in float32, which rounds to 0: so 0 and
# the smallest positive inputs give the low level, and every float32 above 2**-24 the high one.
_BINARY_FUNCTIONS = {"binary_tanh": (-1.0, 1.0), "binary_sigmoid": (0.0, 1.0)}
_BINARY_FUNCTION_STEP = 2.0**-24


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


def _alpha_is_one(alpha) -> bool:
    if alpha is None:
        return True
    return not isinstance(alpha, str) and np.size(alpha) == 1 and float(np.asarray(alpha).reshape(-1)[0]) == 1


def _quantized_bits_type(quantizer, where: str) -> FixedType:
    _require(
        _alpha_is_one(quantizer.alpha),
        where,
        quantizer,
        f"alpha must be 1 or None, got {quantizer.alpha!r}: QKeras then scales the values, which no single "
        "fixed-point type does (as a QDense kernel or bias quantizer, nnhls represents such scales)",
    )
    return _quantized_bits_grid(quantizer, where)


def _quantized_bits_grid(quantizer, where: str) -> FixedType:
    """The type of quantized_bits's values before QKeras multiplies them by a numeric alpha."""
    bits = _as_int(quantizer.bits, "bits", where)
    integer = _as_int(quantizer.integer, "integer", where)
    keep_negative = bool(quantizer.keep_negative)
    symmetric = bool(quantizer.symmetric)
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


def _supported_quantizer(quantizer, where: str, supported: tuple[str, ...], context: str,
                         kind: str) -> tuple[object, str]:
    """(quantizer object, class name), or NnhlsError naming `where` and listing `supported`."""
    quantizer = to_quantizer(quantizer, where)
    name = quantizer_name(quantizer)
    if name not in supported:
        raise NnhlsError(f"{where}: quantizer {quantizer} ({name}) is not supported {context}; supported {kind}: "
                         f"{', '.join(supported)}")
    return quantizer, name


def quantizer_type(quantizer, where: str) -> FixedType:
    """The exact FixedType a QKeras quantizer object (or string) produces.

    Raises NnhlsError, naming `where`, for quantizers or arguments with no exact fixed-point type.
    """
    quantizer, name = _supported_quantizer(quantizer, where, tuple(_TYPE_OF), "here", "quantizers")
    return _TYPE_OF[name](quantizer, where)


def activation_of(identifier, where: str) -> tuple[str, FixedType | None, dict]:
    """(function, result quantizer, extra node fields) of a QKeras activation: a quantizer, a
    string or a function.

    quantized_relu is a relu into its type; quantized_bits is the identity into its type. With
    QKeras's default hard sigmoid, quantized_tanh(bits) is round(clip(x, -1, 1) * m) / m clipped
    to [-1, 1 - 1/m] (m = 2**(bits-1)): the identity into ap_fixed<bits,1,RND_CONV,SAT>, and
    quantized_sigmoid(bits) is clip(x/2 + 1/2, 0, 1) rounded into ap_ufixed<bits,0,RND_CONV,SAT>.
    The plain 'linear', 'relu' and Keras's 'leaky_relu' (slope 0.2) have no quantizer; QKeras's
    binary_tanh and binary_sigmoid are one step, passed above 2**-24 (see _BINARY_FUNCTIONS).
    Anything else raises NnhlsError naming `where`.
    """
    if identifier is None:
        return "linear", None, {}
    if quantizer_name(identifier) == "ternary_tanh":
        raise NnhlsError(f"{where}: activation 'ternary_tanh' is not supported: QKeras 0.9.0 defines no ternary_tanh "
                         "(QActivation('ternary_tanh') fails in QKeras itself), so a function of that name is the "
                         "model's own and nnhls cannot know its values; use QKeras's ternary() quantizer "
                         "(-1, 0, +1 with a threshold) or binary_tanh")
    activation = to_quantizer(identifier, where)
    name = quantizer_name(activation)
    if name in _PLAIN_ACTIVATIONS:
        return name, None, {}
    if name == "leaky_relu":
        return "prelu", None, leaky_relu_fields()
    if name in _BINARY_FUNCTIONS:
        levels = np.array(_BINARY_FUNCTIONS[name])
        result = exact_type(levels)
        return "step", result, {"staircase_of": name, "thresholds": np.array([_BINARY_FUNCTION_STEP]),
                                "strict": np.array([True]), "levels": Weights(levels, quantizer=result)}
    if name == "quantized_relu" and float(activation.negative_slope) != 0.0:
        return _leaky_quantized_relu(activation, where)
    if name == "quantized_relu":
        return "relu", quantizer_type(activation, where), {}
    if name == "quantized_bits":
        return "linear", quantizer_type(activation, where), {}
    if name in ("quantized_tanh", "quantized_sigmoid"):
        return _quantized_hard_function(activation, name, where)
    if name == "ternary" and not isinstance(activation.alpha, str) and np.ndim(activation.alpha) == 0:
        # (|x| >= threshold) * sign(x) * alpha, the threshold compared in float32
        scale = 1.0 if activation.alpha is None else float(activation.alpha)
        threshold = float(np.float32(activation.default_threshold if activation.threshold is None
                                     else activation.threshold))
        levels = np.array([-scale, 0.0, scale])
        result = exact_type(levels)
        return "step", result, {"staircase_of": "ternary", "thresholds": np.array([-threshold, threshold]),
                                "strict": np.array([True, False]), "levels": Weights(levels, quantizer=result)}
    if name == "binary" and activation.alpha in (None, 1, 1.0) and not activation.use_stochastic_rounding:
        # sign(x) with 0 counted as +1 (or its 0/1 form): one step, at 0
        levels = np.array([0.0, 1.0] if activation.use_01 else [-1.0, 1.0])
        result = exact_type(levels)
        return "step", result, {"staircase_of": "binary", "thresholds": np.array([0.0]),
                                "levels": Weights(levels, quantizer=result)}
    if name in ("quantized_po2", "quantized_relu_po2"):
        raise NnhlsError(f"{where}: {activation} as an activation is not supported: QKeras maps 0 to "
                         "2**min_exponent (2**-64 for 8 bits), which needs wider exact types than nnhls writes; "
                         "use it on weights, or quantized_bits / quantized_relu for activations")
    # A function prints as "<function softmax at 0x...>"; its name says all there is to say.
    is_named = isinstance(activation, str) or hasattr(activation, "__name__")
    shown = repr(name) if is_named else f"{activation} ({name})"
    raise NnhlsError(
        f"{where}: activation {shown} is not supported; supported activations: "
        f"{', '.join(_PLAIN_ACTIVATIONS + ('leaky_relu',) + SUPPORTED_QUANTIZERS + tuple(_BINARY_FUNCTIONS))}"
    )


def leaky_relu_fields() -> dict:
    """The ReLU family's fields for Keras's `leaky_relu` activation: y = x from 0 up, else 0.2 * x,
    the slope quantized once into the layer's `param` precision (as for the LeakyReLU layer)."""
    return {"threshold": exact_weights(0.0), "slope": Weights(np.array([LEAKY_RELU_SLOPE]))}


def _quantized_hard_function(activation, name: str, where: str) -> tuple[str, FixedType, dict]:
    if getattr(activation, "use_stochastic_rounding", False):
        raise NnhlsError(f"{where}: {activation} uses stochastic rounding, which has no fixed inference value")
    bits, symmetric = int(activation.bits), bool(activation.symmetric)
    is_tanh = name == "quantized_tanh"
    real = activation.use_real_tanh if is_tanh else activation.use_real_sigmoid
    module = _qkeras_module()
    if not real and module._sigmoid is not module.hard_sigmoid:
        raise NnhlsError(f"{where}: {activation} follows QKeras's internal sigmoid, which was changed from the "
                         "default hard sigmoid; only the default or use_real_tanh/use_real_sigmoid is supported")
    if is_tanh:
        # round(p * m) / m clipped to [-1 (+1/m if symmetric), 1 - 1/m], m = 2**(bits-1)
        result = FixedType(bits, 1, True, "RND_CONV", "SAT_SYM" if symmetric else "SAT")
    else:
        if symmetric:
            raise NnhlsError(f"{where}: {activation} with symmetric=True (smallest output 1/2**bits) has no "
                             "ap_fixed equivalent; use symmetric=False")
        result = FixedType(bits, 0, False, "RND_CONV", "SAT")
    if not real:  # tanh: clip(x, -1, 1); sigmoid: clip(x/2 + 1/2, 0, 1), both exact before rounding
        if is_tanh:
            return "linear", result, {}
        half = np.array([0.5])
        return "hard_sigmoid", result, {"slope": Weights(half, quantizer=exact_type(half)),
                                        "offset": Weights(half, quantizer=exact_type(half))}
    # The real function rounded to the output grid is a staircase: it steps up where the function
    # crosses a level's upper half-way point; those inputs are irrational, so no input is a tie.
    lowest = -result.max_code if is_tanh and symmetric else result.min_code
    levels = np.arange(lowest, result.max_code + 1) * result.lsb
    midpoints = (levels[:-1] + levels[1:]) / 2
    thresholds = np.arctanh(midpoints) if is_tanh else np.log(midpoints / (1 - midpoints))
    return "step", result, {"staircase_of": name, "thresholds": thresholds,
                            "levels": Weights(levels, quantizer=exact_type(levels))}


def _leaky_quantized_relu(activation, where: str) -> tuple[str, FixedType, dict]:
    """quantized_relu with a negative slope s: one of the bits is the sign; x >= 0 rounds onto
    the grid of 2**integer / 2**(bits-1) and saturates below 2**integer; x < 0 gives s * x
    rounded onto the same grid and clipped at -s * 2**integer."""
    slope = float(activation.negative_slope)
    bits, integer = int(activation.bits), int(activation.integer)
    _require(not activation.use_sigmoid, where, activation, "use_sigmoid must be 0")
    _check_common(activation, where)
    bound = getattr(activation, "relu_upper_bound", None)
    _require(bound is None or getattr(activation, "is_quantized_clip", True), where, activation,
             "relu_upper_bound must be None")
    result = FixedType(bits, integer + 1, True, "RND_CONV", "SAT")
    lowest = -(2.0**integer) * slope
    _require(slope > 0 and float(np.ldexp(lowest, result.fractional)).is_integer(), where, activation,
             "negative_slope must be positive with -negative_slope * 2**integer on the output grid")
    return "prelu", result, {
        "threshold": exact_weights(0.0), "slope": exact_weights(slope), "min_input": exact_weights(-(2.0**integer)),
        "min_value": exact_weights(lowest)}


def _qkeras_module():
    from qkeras import quantizers

    return quantizers


# ---------------------------------------------------------------------------------------------
# Weight quantizers


@dataclass(frozen=True)
class QuantizedWeights:
    """A weight tensor as QKeras computes with it, in exact parts.

    QKeras's quantized tensor is `values * scale` (scale per output channel, the last axis),
    rounded to float32 as QKeras computes it.
    `type` holds every one of `values` exactly. `scale` is None when the values are QKeras's own
    (no scale, or power-of-two scales folded into `type`); otherwise it holds the float32 scale
    of each channel, which `scale_type` holds exactly.
    """

    values: np.ndarray
    type: FixedType
    scale: np.ndarray | None = None
    scale_type: FixedType | None = None


# Weights become exact integer codes in the written project, of any width; nnhls's C simulation
# types hold at most 128 bits (see passes/quantize_weights.py).
_MAX_WEIGHT_WIDTH = 128


def quantized_weights(quantizer, values: np.ndarray, where: str, allow_scale: bool = False
                      ) -> QuantizedWeights:
    """Apply a QKeras weight quantizer to float `values` and describe the result exactly.

    `allow_scale` lets a float per-channel scale stay separate (a kernel, whose output channels
    can be scaled after the sum); otherwise the values are given one exact type as they are (a
    bias). Raises NnhlsError, naming `where` and the quantizer, for anything not exact.
    """
    quantizer, name = _supported_quantizer(quantizer, where, SUPPORTED_WEIGHT_QUANTIZERS, "on weights",
                                           "weight quantizers")
    _check_common(quantizer, where)
    if name == "quantized_bits" and _alpha_is_one(quantizer.alpha):
        fixed_type = _quantized_bits_type(quantizer, where)  # checked first: QKeras may fail on bad arguments
        quantized = _apply(quantizer, values, where)
        _require_exact(quantized, fixed_type, where, quantizer)
        return QuantizedWeights(quantized, fixed_type)
    grid_type = _GRID_TYPES[name](quantizer, where) if name in _GRID_TYPES else None
    quantized = _apply(quantizer, values, where)
    if grid_type is None:
        return _powers_of_two(quantized, where, quantizer)
    if not allow_scale:
        # A bias is added as it is; QKeras's scale for a 1-D tensor is not per output channel.
        return QuantizedWeights(quantized, _produced_type(quantized, where, quantizer, "values"))
    return _scaled_grid(quantizer, values, quantized, grid_type, where)


def _apply(quantizer, values: np.ndarray, where: str) -> np.ndarray:
    """QKeras's quantized values, computed as QDense.call computes them (float32, inference)."""
    try:
        quantized = quantizer(np.asarray(values, dtype=np.float32))
    except Exception as error:  # QKeras asserts on argument combinations it does not implement
        raise NnhlsError(f"{where}: QKeras's {quantizer} fails on these weights: {error!r}") from error
    quantized = np.asarray(quantized, dtype=np.float64)
    if not np.isfinite(quantized).all():
        raise NnhlsError(f"{where}: QKeras's {quantizer} gives non-finite values for these weights")
    return quantized


def _require_exact(values: np.ndarray, fixed_type: FixedType, where: str, quantizer) -> None:
    exact = quantize.to_float(quantize.from_float(values, fixed_type), fixed_type)
    if not np.array_equal(exact, values):
        worst = np.abs(exact - values).max()
        raise NnhlsError(
            f"{where}: the values QKeras's {quantizer} produces are not all exact {fixed_type} values "
            f"(off by up to {worst}); this happens for float weights far outside the quantizer's range, "
            "where QKeras's float32 arithmetic is inexact: clip the weights to the quantizer's range"
        )


def _quantized_bits_auto_grid(quantizer, where: str) -> FixedType:
    """quantized_bits with a numeric or 'auto' alpha: the values before QKeras's scale."""
    if not isinstance(quantizer.alpha, str):
        return _quantized_bits_grid(quantizer, where)
    bits = _as_int(quantizer.bits, "bits", where)
    integer = _as_int(quantizer.integer, "integer", where)
    keep_negative = bool(quantizer.keep_negative)
    alpha = quantizer.alpha
    _require(alpha in ("auto", "auto_po2"), where, quantizer, f"alpha {alpha!r} is unknown")
    # 2**(bits-1) - 1 levels each side; with one bit there are none and QKeras divides by zero.
    _require(bits >= 2, where, quantizer, f"alpha={alpha!r} needs at least 2 bits, got {bits}")
    # Codes are symmetric and signed even with keep_negative=False (which only halves the step);
    # values are exact, so the type converts nothing and its default modes never act.
    return FixedType(bits, integer + keep_negative, signed=True)


def _binary_grid(quantizer, where: str) -> FixedType:
    return FixedType(1, 1, signed=False) if quantizer.use_01 else FixedType(2, 2, signed=True)


def _ternary_grid(quantizer, where: str) -> FixedType:
    return FixedType(2, 2, signed=True)


_GRID_TYPES = {"quantized_bits": _quantized_bits_auto_grid, "binary": _binary_grid, "ternary": _ternary_grid}


def _channel_scale(quantizer, shape: tuple[int, ...], where: str) -> np.ndarray:
    """The scale QKeras multiplied each output channel by in its last call, as float64 values."""
    scale = quantizer.scale
    if scale is None:
        raise NnhlsError(f"{where}: QKeras's {quantizer} recorded no scale; please report this with a model")
    scale = np.asarray(scale.numpy() if hasattr(scale, "numpy") else scale)
    # QKeras multiplies float32 tensors, so a Python float alpha acts as its float32 value.
    scale = scale.astype(np.float32).astype(np.float64)
    per_channel = scale.ndim <= len(shape) and all(d == 1 for d in scale.shape[:-1])
    if not per_channel or scale.size not in (1, shape[-1]):
        raise NnhlsError(
            f"{where}: QKeras's {quantizer} scales the weights with shape {scale.shape}, not one scale per "
            f"output channel (weights {shape}); leave scale_axis unset"
        )
    return np.broadcast_to(scale.reshape(-1), (shape[-1],)).copy()


def _is_power_of_two(values: np.ndarray) -> np.ndarray:
    return np.frexp(np.abs(values))[0] == 0.5


def _scaled_grid(quantizer, values: np.ndarray, quantized: np.ndarray, grid_type: FixedType,
                 where: str) -> QuantizedWeights:
    """Split QKeras's `scale_c * grid` into the grid and the per-channel scale; fold po2 scales."""
    scale = _channel_scale(quantizer, quantized.shape, where)
    # A channel of zeros has scale 0 ('auto') or any power of two ('auto_po2'); its grid is 0.
    dividing = np.where(scale == 0, 1.0, scale)
    steps = np.where(scale == 0, 0.0, quantized / dividing) / grid_type.lsb
    codes = np.rint(steps)
    grid = codes * grid_type.lsb
    if codes.size and (codes.min() < grid_type.min_code or codes.max() > grid_type.max_code):
        raise NnhlsError(
            f"{where}: QKeras's {quantizer} gives values outside {grid_type} times the channel scales; "
            "please report this with the model"
        )
    product = scale * grid  # exact: 24 significant bits times a few
    used = (codes != 0).any(axis=tuple(range(codes.ndim - 1)))  # channels holding a non-zero value
    if _is_power_of_two(scale[used]).all() and np.array_equal(product, quantized):
        folded = _folded_type(grid_type, scale[used])
        if folded.width <= _MAX_WEIGHT_WIDTH:
            _require_exact(quantized, folded, where, quantizer)
            return QuantizedWeights(quantized, folded)
    explained = _float32_of(product, values, quantized)
    if not explained.all():
        worst = np.abs(product - quantized)[~explained].max()
        raise NnhlsError(
            f"{where}: the values QKeras's {quantizer} produces are not a per-channel scale times its grid "
            f"(off by up to {worst}); this happens for float weights far outside the quantizer's range, "
            "where QKeras's float32 arithmetic is inexact: clip the weights to the quantizer's range"
        )
    return QuantizedWeights(grid, grid_type, scale, _produced_type(scale, where, quantizer, "scales"))


def _float32_of(product: np.ndarray, values: np.ndarray, quantized: np.ndarray) -> np.ndarray:
    """Where QKeras's value is what its float32 arithmetic makes of the exact `product`.

    QKeras rounds scale * grid to float32 and returns it in the straight-through form
    x + (scale * grid - x), which rounds twice more unless x is within a factor of two of the
    product (always so for quantized_bits 'auto'; not for binary, ternary or a numeric alpha).
    nnhls keeps the exact product: the difference is QKeras's own float32 rounding.
    """
    rounded = product.astype(np.float32)
    x = np.asarray(values, dtype=np.float32)
    straight_through = x + (rounded - x)  # float32 arithmetic, as TensorFlow's
    return (rounded == quantized) | (straight_through == quantized)


def _folded_type(grid_type: FixedType, scales: np.ndarray) -> FixedType:
    """The grid type widened to hold the grid times each power-of-two scale exactly."""
    if not scales.size:
        return grid_type
    exponents = np.frexp(np.abs(scales))[1] - 1  # |scale| = 2**exponent
    low, high = int(exponents.min()), int(exponents.max())
    return FixedType(grid_type.width + high - low, grid_type.integer + high, signed=grid_type.signed)


def _powers_of_two(quantized: np.ndarray, where: str, quantizer) -> QuantizedWeights:
    # An unbounded quantized_po2(8) has exponents -64..63, far more than a weight type can hold;
    # the type holds the ones the weights use. Zero occurs too: QKeras's straight-through
    # x + (2**e - x) cancels to 0 for a weight far below 2**e.
    nonzero = quantized[quantized != 0]
    if not _is_power_of_two(nonzero).all():
        odd = nonzero[~_is_power_of_two(nonzero)][0]
        raise NnhlsError(
            f"{where}: QKeras's {quantizer} produced {odd}, which is not a power of two; this happens for "
            "float weights far outside the quantizer's range: clip the weights to the quantizer's range"
        )
    return QuantizedWeights(quantized, _produced_type(quantized, where, quantizer, "values"))


def _produced_type(values: np.ndarray, where: str, quantizer, what: str) -> FixedType:
    return exact_weight_type(
        values, where, f"the {what} QKeras's {quantizer} produces",
        "use a quantizer with a narrower range (fewer bits, a max_value, or alpha='auto_po2')",
    )


def exact_weight_type(values: np.ndarray, where: str, what: str, fix: str) -> FixedType:
    """The narrowest type holding every one of `values` (floats, so binary fractions) exactly.

    Raises NnhlsError naming `where`, `what` the values are and the `fix` when it would be wider
    than an exact weight may be.
    """
    fixed_type = exact_type(values)
    width = fixed_type.width
    if width > _MAX_WEIGHT_WIDTH:
        magnitudes = np.abs(np.asarray(values, dtype=np.float64))
        raise NnhlsError(
            f"{where}: {what} need {width} bits to be exact (magnitudes from {magnitudes[magnitudes > 0].min()} to "
            f"{magnitudes.max()}), more than the {_MAX_WEIGHT_WIDTH} an exact weight may have: {fix}"
        )
    return fixed_type


# ---------------------------------------------------------------------------------------------
# Batch normalization folded into the layer before it


def folded_batchnorm(layer, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The float32 kernel and bias a QConv2DBatchnorm or QDenseBatchnorm quantizes at inference.

    With training=False both folding modes use the moving statistics:
    inv = rsqrt(moving_variance + epsilon) * gamma, kernel = inv * kernel and
    bias = inv * (bias - moving_mean) + beta (bias 0 without use_bias). TensorFlow's rsqrt need not
    be correctly rounded (on x86 with AVX it is off by an ulp for about a quarter of float32 values,
    and its vectorized and scalar paths differ), so these are computed with QKeras's own TensorFlow
    ops, in its order, on the layer's variables: the values are then QKeras's to the bit, and so
    are the quantized ones.
    """
    import tensorflow as tf

    norm = layer.batchnorm
    rank = len(layer.kernel.shape)  # the output's rank, batch included: conv (b, h, w, c), dense (b, c)
    if [int(axis) % rank for axis in norm.axis] != [rank - 1]:
        raise NnhlsError(
            f"{where} normalizes axis {list(norm.axis)}; only the last axis (axis=-1) is supported"
        )
    if norm.beta is None:
        # QKeras adds beta unconditionally, so such a layer cannot even run.
        raise NnhlsError(
            f"{where} has center=False, which QKeras's folding does not support: use center=True"
        )
    inv = tf.math.rsqrt(norm.moving_variance + norm.epsilon)
    if norm.gamma is not None:
        inv = inv * norm.gamma
    kernel = inv * layer.kernel
    bias = layer.bias if layer.use_bias else 0
    bias = inv * (bias - norm.moving_mean) + norm.beta
    return np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Quantized pooling and batch normalization


def average_factor(quantizer, area: int, where: str) -> float:
    """The factor QKeras's QAveragePooling2D and QGlobalAveragePooling2D multiply the window's sum
    by: `average_quantizer(1 / pool_area)`, the float32 of 1 / area quantized as QKeras quantizes
    it (an exact binary fraction, which nnhls multiplies by exactly)."""
    where = f"{where} average_quantizer"
    quantizer = to_quantizer(quantizer, where)
    _check_common(quantizer, where)
    _require(not getattr(quantizer, "use_stochastic_rounding", False), where, quantizer,
             "stochastic rounding has no fixed value at inference")
    factor = _apply(quantizer, np.array([1.0 / area]), where)  # QKeras casts 1 / area to float32 first
    exact_weight_type(factor, where, f"1/{area} as QKeras's {quantizer} quantizes it",
                      "use a quantizer with fewer bits")
    return float(factor[0])


def quantized_batchnorm(layer, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The float32 per-channel scale and shift a QBatchNormalization computes with at inference.

    QKeras 0.9.0 quantizes gamma, beta, the moving mean and the moving variance with their
    quantizers (each where given; gamma and beta only where the layer scales and centres) and
    calls tf.nn.batch_normalization, which computes inv = rsqrt(variance + epsilon) * gamma and
    y = x * inv + (beta - mean * inv) in float32. The scale `inv` and the shift are computed here
    with the same TensorFlow ops on the layer's own variables, so they are QKeras's values to the
    bit (TensorFlow's rsqrt is not correctly rounded); nnhls then computes x * inv + shift
    exactly, where QKeras rounds the product and the sum to float32.
    """
    import tensorflow as tf

    def parameter(value, given, quantizer, wanted: bool = True):
        """A parameter as QKeras computes with it: quantized where its quantizer is given."""
        return quantizer(value) if wanted and given and value is not None else value

    try:
        gamma = parameter(layer.gamma, layer.gamma_quantizer, layer.gamma_quantizer_internal, layer.scale)
        beta = parameter(layer.beta, layer.beta_quantizer, layer.beta_quantizer_internal, layer.center)
        mean = parameter(layer.moving_mean, layer.mean_quantizer, layer.mean_quantizer_internal)
        variance = parameter(layer.moving_variance, layer.variance_quantizer, layer.variance_quantizer_internal)
        inv = tf.math.rsqrt(tf.cast(variance, tf.float32) + layer.epsilon)
        if gamma is not None:
            inv = inv * tf.cast(gamma, tf.float32)
        mean = tf.cast(mean, tf.float32)
        shift = -mean * inv if beta is None else tf.cast(beta, tf.float32) - mean * inv
    except Exception as error:  # a quantizer QKeras cannot apply to these values
        raise NnhlsError(f"{where}: QKeras cannot quantize its parameters: {error!r}") from error
    scale, shift = np.asarray(inv, dtype=np.float64), np.asarray(shift, dtype=np.float64)
    if not (np.isfinite(scale).all() and np.isfinite(shift).all()):
        raise NnhlsError(f"{where}: its quantized variance, gamma or mean make QKeras's scale or shift infinite or "
                         "NaN (a variance of 0 quantized below -epsilon, say); check the layer's quantizers")
    return scale, shift
