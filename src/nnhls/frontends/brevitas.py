"""Brevitas's integer quantizers as exact numpy facts, read from live modules.

Brevitas (0.13) quantizes an activation in float32 torch arithmetic as

    q = clamp(R(fl32(fl32(x / s) + z)), low, high),    value = fl32((q - z) * s)

with `s` the scale, `z` an integer zero point, `R` the rounding (`torch.round`, which rounds half
to even, or floor, ceil, round to zero) and `[low, high]` the range of `bit_width` bits (signed or
not, narrow or not). The functions here read `s`, `z`, the bit width, the signedness, the narrow
range and `R` from the modules Brevitas runs, refuse what they cannot describe exactly, and check
each reading against the module itself on probe inputs, so a Brevitas behaviour this module does
not know about becomes an error rather than a silent mismatch.

* `activation_quantizer(proxy, where)` and `activation_function(module, where)`: the quantizer of
  an activation proxy (`act_quant`, `input_quant`, `output_quant`) and what runs before it.
* `staircase(quantizer, where)`: the quantizer as comparisons of the float32 input against
  thresholds, found by bisection over float32 bit patterns with the quantizer's own float32
  division, so the rounding of `x / s` is mirrored exactly, for every float32 input.
* `weight_quantizer(module, where)`: the integer codes of `module.quant_weight()` and their scale.
* `quantized_bias(module, input_scale, where)`: the float32 bias Brevitas adds.
* `trunc_avg_pool(module, input_quantizer, where)`: `TruncAvgPool2d` as an integer recipe on the
  sum of a window's codes.

Modules are recognised by their exact class name, never by isinstance: a subclass may compute
something else. Every reading assumes inference: a module in training mode is refused, because
Brevitas then quantizes with statistics of each batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nnhls.errors import NnhlsError
from nnhls.frontends.int_quant import MAX_BIT_WIDTH as _MAX_BIT_WIDTH
from nnhls.frontends.int_quant import MAX_STAIRCASE_BIT_WIDTH as _MAX_STAIRCASE_BIT_WIDTH
from nnhls.frontends.int_quant import ROUNDINGS, IntQuantizer, float32_below, staircase
from nnhls.frontends.int_quant import along as _along
from nnhls.frontends.int_quant import to_float32_values as _to_float32_values

__all__ = [
    "ROUNDINGS",
    "IntQuantizer",
    "TruncAvgPool",
    "activation_function",
    "activation_quantizer",
    "quantized_bias",
    "staircase",
    "trunc_avg_pool",
    "weight_quantizer",
]

# Brevitas's float_to_int_impl modules (float_to_int_impl_type 'round', 'round_to_zero', 'floor', 'ceil').
_ROUNDING_OF_MODULE = {"RoundSte": "ROUND", "RoundToZeroSte": "ROUND_TO_ZERO", "FloorSte": "FLOOR", "CeilSte": "CEIL"}
# Both clamp with torch.where against float32 bounds; they differ only in their gradient.
_CLAMPS = ("TensorClamp", "TensorClampSte")
_UNIT_ROUNDOFF_FLOAT32 = 2.0**-24


def _class_name(obj) -> str:
    """The class name of a module, also when TorchScript (BREVITAS_JIT=1) has wrapped it."""
    return getattr(obj, "original_name", None) or type(obj).__name__


# ---------------------------------------------------------------------------------------------
# Activation quantizers
# ---------------------------------------------------------------------------------------------


def _check_eval(module, where: str) -> None:
    """Refuse a module in training mode: Brevitas then quantizes with each batch's statistics."""
    if any(part.training for part in module.modules()):
        raise NnhlsError(f"{where} is in training mode, where Brevitas quantizes with statistics of each batch "
                         f"and updates them; call model.eval() before reading the model")


def activation_quantizer(proxy, where: str) -> IntQuantizer | None:
    """The integer quantizer of an activation proxy (`act_quant`, `input_quant`, `output_quant`).

    None when the proxy does not quantize (Brevitas then passes float values on). Raises an
    NnhlsError naming `where` for a quantizer nnhls cannot reproduce exactly: float and minifloat
    formats, binary and ternary quantizers, learned or stochastic rounding, a scale computed from
    each input (dynamic quantization), a quantization delay, an observer-only quantizer.
    """
    if proxy is None:
        return None
    _check_eval(proxy, where)
    if not proxy.is_quant_enabled:
        return None
    proxy_kind = _class_name(proxy)
    if proxy_kind != "ActQuantProxyFromInjector":
        raise NnhlsError(f"{where}: its activation quantizer runs through {proxy_kind} (a float, minifloat, "
                         f"groupwise or dynamic quantizer); nnhls reads integer quantizers with a fixed scale "
                         f"(ActQuantProxyFromInjector), such as Int8ActPerTensorFloat or Uint8ActPerTensorFloat")
    tensor_quant = proxy.fused_activation_quant_proxy.tensor_quant
    int_quant = _int_quant_of(tensor_quant, where)
    rounding = _rounding_of(int_quant.float_to_int_impl, where)
    with torch.no_grad():
        scale, zero_point, bit_width = proxy.scale(), proxy.zero_point(), proxy.bit_width()
    quantizer = _int_quantizer(scale, zero_point, bit_width, bool(int_quant.signed), bool(int_quant.narrow_range),
                               rounding, where)
    _check_activation_reading(tensor_quant, quantizer, scale, where)
    return quantizer


def _int_quant_of(tensor_quant, where: str):
    """The IntQuant inside an activation's RescalingIntQuant, checked to compute what nnhls models."""
    kind = _class_name(tensor_quant)
    if kind != "RescalingIntQuant":
        raise NnhlsError(f"{where}: its quantizer is {kind}; nnhls reads integer quantizers (RescalingIntQuant "
                         f"of IntQuant), not binary, ternary, float or truncating ones")
    if getattr(tensor_quant, "observer_only", False):
        raise NnhlsError(f"{where}: its quantizer only observes (observer_only=True) and passes float values on; "
                         f"finish calibration so that it quantizes")
    int_quant = tensor_quant.int_quant
    if _class_name(int_quant) != "IntQuant":
        raise NnhlsError(f"{where}: its quantizer is {_class_name(int_quant)}, not Brevitas's IntQuant")
    _check_int_quant_parts(int_quant, where)
    return int_quant


def _check_int_quant_parts(int_quant, where: str) -> None:
    """Refuse the parts of an IntQuant that change what it computes from `clamp(R(x / s + z))`."""
    clamp_kind = _class_name(int_quant.tensor_clamp_impl)
    if clamp_kind not in _CLAMPS:
        raise NnhlsError(f"{where}: its quantizer clamps with {clamp_kind}; nnhls knows {', '.join(_CLAMPS)}")
    view_kind = _class_name(int_quant.input_view_impl)
    if view_kind != "Identity":
        raise NnhlsError(f"{where}: its quantizer views its input through {view_kind} (groupwise quantization); "
                         f"nnhls reads per-tensor and per-channel quantizers")
    delay = int_quant.delay_wrapper.delay_impl
    if _class_name(delay) != "_NoDelay" and getattr(delay, "quant_delay_steps", 0) > 0:
        raise NnhlsError(f"{where}: its quantizer still passes {delay.quant_delay_steps} calls through "
                         f"unquantized (quant_delay_steps), counting inference calls too; set quant_delay_steps=0")


def _rounding_of(float_to_int_impl, where: str) -> str:
    """The name (one of ROUNDINGS) of the rounding a float_to_int_impl applies at inference."""
    kind = _class_name(float_to_int_impl)
    if kind in _ROUNDING_OF_MODULE:
        return _ROUNDING_OF_MODULE[kind]
    if kind == "StochasticRoundSte" and float_to_int_impl.deterministic_inference:
        # At inference this rounds with torch.round (Brevitas's round_ste), half to even.
        return "ROUND"
    raise NnhlsError(f"{where}: its quantizer rounds with {kind}, which nnhls does not reproduce (it knows "
                     f"float_to_int_impl_type 'round', 'round_to_zero', 'floor' and 'ceil'; DPU rounding, learned "
                     f"rounding and stochastic rounding without deterministic inference are not supported)")


def _per_channel_vector(values: torch.Tensor, what: str, where: str) -> tuple[np.ndarray, int | None]:
    """A per-tensor (shape ()) or per-channel (shape (C,)) reading, and the channel's axis."""
    array = values.detach().cpu().numpy().astype(np.float64)
    if array.size == 1:
        return array.reshape(()), None
    channel_axes = [axis for axis, size in enumerate(array.shape) if size != 1]
    if len(channel_axes) != 1:
        raise NnhlsError(f"{where}: its {what} has shape {tuple(array.shape)}; nnhls reads one {what} per tensor "
                         f"or per channel (a single axis)")
    return array.reshape(-1), channel_axes[0]


def _int_quantizer(scale: torch.Tensor, zero_point: torch.Tensor, bit_width: torch.Tensor, signed: bool,
                   narrow: bool, rounding: str, where: str) -> IntQuantizer:
    """An IntQuantizer from the tensors Brevitas quantizes with, checked to be exact readings."""
    if scale.dtype != torch.float32:
        raise NnhlsError(f"{where}: its scale is {scale.dtype}; nnhls reproduces Brevitas's float32 arithmetic "
                         f"(keep the model in float32)")
    scale_values, scale_axis = _per_channel_vector(scale, "scale", where)
    zero_values, zero_axis = _per_channel_vector(zero_point, "zero point", where)
    if scale_axis is not None and zero_axis is not None and scale.shape != zero_point.shape:
        raise NnhlsError(f"{where}: its scale {tuple(scale.shape)} and zero point {tuple(zero_point.shape)} vary "
                         f"along different axes")
    scale_values, zero_values = np.broadcast_arrays(scale_values, zero_values)
    if not (np.all(np.isfinite(scale_values)) and np.all(scale_values > 0)):
        raise NnhlsError(f"{where}: its scale {scale_values} is not positive and finite")
    if not np.array_equal(zero_values, np.rint(zero_values)):
        raise NnhlsError(f"{where}: its zero point {zero_values} is not an integer (quantize_zero_point=False); "
                         f"nnhls reads integer zero points")
    width = float(bit_width.detach().reshape(-1)[0]) if bit_width.numel() == 1 else float("nan")
    if width != round(width) or not 1 <= width <= _MAX_BIT_WIDTH:
        raise NnhlsError(f"{where}: its bit width {bit_width} is not one integer in [1, {_MAX_BIT_WIDTH}] "
                         f"(float32 holds every code of up to {_MAX_BIT_WIDTH} bits exactly)")
    return IntQuantizer(scale=np.array(scale_values), zero_point=np.array(zero_values), bit_width=int(width),
                        signed=signed, narrow=narrow, rounding=rounding)


def _probe_inputs(quantizer: IntQuantizer, scale: torch.Tensor) -> torch.Tensor:
    """float32 inputs in scale units that meet every code, its half steps, the clamps and beyond."""
    codes = np.arange(quantizer.low - 3, quantizer.high + 4, dtype=np.float64)
    if codes.size > 2**16 + 7:
        # Wide quantizers: both ends of the range and evenly spread codes between them.
        codes = np.unique(np.concatenate([codes[:64], codes[-64:], np.linspace(codes[0], codes[-1], 2**14).round()]))
    offsets = codes[:, None] + np.array([0.0, 0.25, 0.5, 0.75])[None, :]
    random = np.random.default_rng(0).uniform(2.0 * (quantizer.low - 2), 2.0 * (quantizer.high + 2), 256)
    steps = np.concatenate([offsets.ravel(), random, [0.0, -1e30, 1e30]])
    steps = torch.tensor(steps, dtype=torch.float32)
    if scale.numel() == 1:
        # Code n is met at (n - zero_point) * s.
        return (steps - float(quantizer.zero_point)) * scale.reshape(())
    # One row per step, each channel scaled by its own scale (broadcast as Brevitas holds it).
    return steps.reshape((-1,) + (1,) * scale.dim()) * scale.unsqueeze(0)


def _staircase_boundaries(quantizer: IntQuantizer, where: str) -> torch.Tensor:
    """Each threshold of a per-tensor quantizer and the float32 just below it.

    Brevitas's quantizer is monotonic in x, so agreeing with it on both sides of every threshold
    means agreeing with it on every float32 input.
    """
    if quantizer.per_channel or quantizer.bit_width > _MAX_STAIRCASE_BIT_WIDTH:
        return torch.zeros(0)
    thresholds = staircase(quantizer, where)[0].astype(np.float32)
    return torch.from_numpy(np.concatenate([thresholds, float32_below(thresholds)]))


def _check_activation_reading(tensor_quant, quantizer: IntQuantizer, scale: torch.Tensor, where: str) -> None:
    """Run the quantizer on probe inputs: its scale must not depend on them, its output must match."""
    probe = _probe_inputs(quantizer, scale)
    if not quantizer.per_channel:
        probe = torch.cat([probe, _staircase_boundaries(quantizer, where)])
    with torch.no_grad():
        output, probe_scale, probe_zero_point, _ = tensor_quant(probe)
    reading = _int_quantizer(probe_scale, probe_zero_point, torch.tensor(float(quantizer.bit_width)),
                             quantizer.signed, quantizer.narrow, quantizer.rounding, where)
    if reading != quantizer:
        raise NnhlsError(f"{where}: its scale or zero point changes with the input at inference (scale "
                         f"{quantizer.scale} for one input, {reading.scale} for another); nnhls needs quantizers "
                         f"with a fixed scale")
    axis = 0 if scale.numel() == 1 else 1 + _per_channel_vector(scale, "scale", where)[1]
    expected = quantizer.quantize(probe.numpy(), axis=axis)
    if not np.array_equal(output.numpy().astype(np.float64), expected):
        raise NnhlsError(f"{where}: Brevitas's quantizer does not compute clamp({quantizer.rounding}(x / scale + "
                         f"zero_point)) as nnhls reads it; this quantizer is not supported")


def activation_function(module, where: str) -> str:
    """What runs before an activation quantizer: 'identity' or 'relu'.

    `module` is a quantized activation layer (QuantReLU, QuantIdentity, QuantHardTanh: its
    `act_quant` is read) or an activation proxy itself. QuantHardTanh runs no Hardtanh while it
    quantizes: the quantizer's clamp is the activation, so it is 'identity'.
    """
    proxy = module if hasattr(module, "fused_activation_quant_proxy") else getattr(module, "act_quant", None)
    if proxy is None:
        raise NnhlsError(f"{where}: {_class_name(module)} has no activation quantizer (act_quant) to read")
    fused = proxy.fused_activation_quant_proxy
    if fused is None:
        return "identity"
    kind = _class_name(fused.activation_impl)
    if kind == "ReLU":
        return "relu"
    if kind == "Identity":
        return "identity"
    raise NnhlsError(f"{where}: Brevitas runs {kind} before its quantizer (or without one); nnhls reads identity "
                     f"and ReLU there (QuantIdentity, QuantReLU, and QuantHardTanh with a quantizer)")


# ---------------------------------------------------------------------------------------------
# Staircase: the quantizer as thresholds on its float32 input
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Weights and biases
# ---------------------------------------------------------------------------------------------

_WEIGHT_PROXIES = ("WeightQuantProxyFromInjector", "DecoupledWeightQuantProxyFromInjector")
_WEIGHT_TENSOR_QUANTS = {"RescalingIntQuant": "int_quant", "DecoupledRescalingIntQuant": "decoupled_int_quant"}


def _weight_int_quant(proxy, where: str):
    """The IntQuant (or DecoupledIntQuant) that quantizes a layer's weight, checked."""
    proxy_kind = _class_name(proxy)
    if proxy_kind not in _WEIGHT_PROXIES:
        raise NnhlsError(f"{where}: its weight quantizer runs through {proxy_kind}; nnhls reads integer weight "
                         f"quantizers per tensor or per output channel ({', '.join(_WEIGHT_PROXIES)})")
    kind = _class_name(proxy.tensor_quant)
    if kind not in _WEIGHT_TENSOR_QUANTS:
        raise NnhlsError(f"{where}: its weight quantizer is {kind}; nnhls reads integer weight quantizers "
                         f"({', '.join(_WEIGHT_TENSOR_QUANTS)}), not binary, ternary or float ones")
    int_quant = getattr(proxy.tensor_quant, _WEIGHT_TENSOR_QUANTS[kind])
    _check_int_quant_parts(int_quant, where)
    return int_quant


def weight_quantizer(module, where: str) -> tuple[np.ndarray, IntQuantizer]:
    """The integer weight codes Brevitas computes with (int64, torch layout) and their quantizer.

    Layouts: Linear (out, in), Conv (out, in / groups, kh, kw) or (out, in / groups, k). The
    scale is per tensor (shape ()) or per output channel (shape (C_out,)); `codes * scale` in
    float32 equals `module.quant_weight().value` exactly (checked). The quantizer's `quantize`
    reproduces Brevitas on the float weight only where Brevitas quantizes with that same scale
    (not for decoupled quantizers, whose rounding uses a separate pre-scale).
    """
    _check_eval(module, where)
    proxy = module.weight_quant
    if not proxy.is_quant_enabled:
        raise NnhlsError(f"{where}: its weight is not quantized (weight_quant=None); nnhls needs integer weights, "
                         f"e.g. weight_quant=Int8WeightPerTensorFloat")
    int_quant = _weight_int_quant(proxy, where)
    rounding = _rounding_of(int_quant.float_to_int_impl, where)
    with torch.no_grad():
        quant_weight = module.quant_weight()
    if _class_name(quant_weight) != "IntQuantTensor":
        raise NnhlsError(f"{where}: its quantized weight is a {_class_name(quant_weight)}, not an IntQuantTensor")
    value = quant_weight.value
    if value.dtype != torch.float32:
        raise NnhlsError(f"{where}: its weight is {value.dtype}; nnhls reproduces float32 models")
    _check_per_output_channel(quant_weight.scale, value.shape, "scale", where)
    if torch.any(quant_weight.zero_point != 0):
        raise NnhlsError(f"{where}: its weight quantizer has a nonzero zero point; nnhls reads symmetric weight "
                         f"quantizers (zero point 0), e.g. Int8WeightPerTensorFloat or Int8WeightPerChannelFloat")
    quantizer = _int_quantizer(quant_weight.scale, torch.zeros(()), quant_weight.bit_width,
                               bool(quant_weight.signed), bool(int_quant.narrow_range), rounding, where)
    return _weight_codes(value, quant_weight.scale, quantizer, where), quantizer


def _check_per_output_channel(values: torch.Tensor, weight_shape, what: str, where: str) -> None:
    """A weight scale is one value, or one per output channel shaped (C_out, 1, ..., 1)."""
    per_channel_shape = (weight_shape[0],) + (1,) * (len(weight_shape) - 1)
    if values.numel() != 1 and tuple(values.shape) != per_channel_shape:
        raise NnhlsError(f"{where}: its weight {what} has shape {tuple(values.shape)}; nnhls reads one per tensor "
                         f"or one per output channel {per_channel_shape}")


def _weight_codes(value: torch.Tensor, scale: torch.Tensor, quantizer: IntQuantizer, where: str) -> np.ndarray:
    """The integers q with fl32(q * scale) == value, checked to exist and to lie in the quantizer's range."""
    value32 = value.detach().cpu().numpy()
    scale32 = scale.detach().cpu().numpy().astype(np.float32)
    codes = np.rint(value32.astype(np.float64) / scale32.astype(np.float64))
    if not np.array_equal((codes.astype(np.float32) * scale32).astype(np.float32), value32):
        raise NnhlsError(f"{where}: its quantized weight is not an integer times its scale in float32")
    if codes.min(initial=0) < quantizer.low or codes.max(initial=0) > quantizer.high:
        raise NnhlsError(f"{where}: its weight codes span [{codes.min()}, {codes.max()}], beyond the "
                         f"{quantizer.bit_width}-bit range [{quantizer.low}, {quantizer.high}]")
    return codes.astype(np.int64)


def quantized_bias(module, input_scale: np.ndarray | None, where: str) -> np.ndarray | None:
    """The bias values Brevitas adds (float64 holding float32 values); None for a layer without bias.

    Without bias quantization (Brevitas's default) that is the float32 bias itself. A bias
    quantizer that needs the input's scale (IntBias, Int8Bias, ..., Int32Bias: scale = input
    scale * weight scale) is given `input_scale`, one float32 value per tensor; it is an error to
    give None then (Brevitas itself needs a QuantTensor input there).
    """
    if module.bias is None:
        return None
    _check_eval(module, where)
    proxy = module.bias_quant
    if not proxy.is_quant_enabled:
        return module.bias.detach().cpu().numpy().astype(np.float64)
    if _class_name(proxy) != "BiasQuantProxyFromInjector":
        raise NnhlsError(f"{where}: its bias quantizer runs through {_class_name(proxy)}; nnhls reads integer bias "
                         f"quantizers (BiasQuantProxyFromInjector)")
    with torch.no_grad():
        if proxy.requires_input_scale:
            quant_input = _input_with_scale(module, input_scale, where)
            bias = proxy(module.bias, quant_input, module.quant_weight())
        else:
            bias = proxy(module.bias)
    # A proxy told to skip_create_quant_tensor returns the values as a plain tensor.
    values = bias.value if _class_name(bias) == "IntQuantTensor" else bias
    return values.detach().cpu().numpy().astype(np.float64)


def _input_with_scale(module, input_scale: np.ndarray | None, where: str):
    """A stand-in for the layer's QuantTensor input: Brevitas's bias quantizer reads only its scale."""
    from brevitas.quant_tensor import IntQuantTensor

    if input_scale is None:
        raise NnhlsError(f"{where}: its bias quantizer ({_class_name(module.bias_quant.tensor_quant)}) scales the "
                         f"bias by the input's scale, and the input has none; quantize the layer's input "
                         f"(input_quant, or return_quant_tensor=True on the layer before it)")
    scale = np.asarray(input_scale, dtype=np.float64)
    if scale.size != 1:
        raise NnhlsError(f"{where}: its input has a scale per channel {scale.shape}; nnhls quantizes a bias "
                         f"with one input scale per tensor")
    scale = _to_float32_values(scale.reshape(()), f"{where}: the input scale")
    # Brevitas broadcasts the scales along the input's channel axis, so the stand-in needs the input's rank.
    rank = module.weight.dim()
    return IntQuantTensor(torch.zeros((1,) * rank), torch.tensor(float(scale), dtype=torch.float32),
                          torch.tensor(0.0), torch.tensor(8.0), True, False)


# ---------------------------------------------------------------------------------------------
# TruncAvgPool2d
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TruncAvgPool:
    """Brevitas's TruncAvgPool2d on input codes q (zero point 0, scale s) as an integer recipe.

    For each window, with S = the sum of its input codes (padded taps add 0):

        out_code = clamp(R(S / 2**shift), low, high),    out_value = fl32(out_code * scale)

    where R is `rounding` applied to the exact quotient (shift <= 0 multiplies S by 2**-shift,
    exactly, and R does nothing), [low, high] the range of `bit_width` bits (`signed` as the
    input, `narrow`), and `scale` = fl32(s / divisor) * 2**shift, exact float32 values as float64.
    The output is thus an ordinary quantized tensor: `output_quantizer` describes it.

    Fields:
      kernel, stride, padding: (height, width) of the window, its step, and the zeros added on
        each side (top and bottom, left and right).
      divisor: what Brevitas divides the input scale by: kh * kw, or divisor_override.
      sum_bit_width: Brevitas's bit width of a window's sum, ceil(log2((2**b - 1) * divisor)) for
        b input bits (signed or not); shift = sum_bit_width - bit_width, so that the output keeps
        the sum's most significant bits (TruncMsbScaling). The shift is not log2(divisor): a 3x3
        window of 8-bit codes divides by 2**4 and puts 16/9 into the scale.
      rounding: one of ROUNDINGS ('ROUND' for RoundTo8bit, 'FLOOR' for TruncTo8bit).
    """

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    divisor: int
    sum_bit_width: int
    shift: int
    rounding: str
    bit_width: int
    signed: bool
    narrow: bool
    scale: np.ndarray

    def __post_init__(self):
        scale = _to_float32_values(self.scale, "TruncAvgPool.scale")
        scale.setflags(write=False)
        object.__setattr__(self, "scale", scale)

    def __eq__(self, other):
        if not isinstance(other, TruncAvgPool):
            return NotImplemented
        return self._plain_fields() == other._plain_fields() and np.array_equal(self.scale, other.scale)

    def __hash__(self):
        return hash((self._plain_fields(), self.scale.tobytes()))

    def _plain_fields(self) -> tuple:
        return (self.kernel, self.stride, self.padding, self.divisor, self.sum_bit_width, self.shift,
                self.rounding, self.bit_width, self.signed, self.narrow)

    @property
    def output_quantizer(self) -> IntQuantizer:
        """The output as a quantizer: codes in [low, high], zero point 0, scale `scale`."""
        return IntQuantizer(scale=self.scale, zero_point=np.zeros_like(self.scale), bit_width=self.bit_width,
                            signed=self.signed, narrow=self.narrow, rounding=self.rounding)

    @property
    def low(self) -> int:
        return self.output_quantizer.low

    @property
    def high(self) -> int:
        return self.output_quantizer.high

    def out_codes(self, window_sums: np.ndarray) -> np.ndarray:
        """The output codes (int64) of windows whose input codes sum to `window_sums`, in exact integers."""
        sums = np.asarray(window_sums, dtype=np.int64)
        if self.shift <= 0:
            codes = sums << -self.shift
        else:
            codes = _shift_right_rounding(sums, self.shift, self.rounding)
        return np.clip(codes, self.low, self.high)


def _shift_right_rounding(values: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """R(values / 2**shift) for integers, shift >= 1, without floats."""
    floor = values >> shift
    remainder = values - (floor << shift)
    half = 1 << (shift - 1)
    if rounding == "FLOOR":
        return floor
    if rounding == "CEIL":
        return floor + (remainder > 0)
    if rounding == "ROUND_TO_ZERO":
        return floor + ((remainder > 0) & (values < 0))
    round_up = (remainder > half) | ((remainder == half) & (floor % 2 == 1))
    return floor + round_up


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def trunc_avg_pool(module, input_quantizer: IntQuantizer, where: str) -> TruncAvgPool:
    """Brevitas's TruncAvgPool2d on a QuantTensor input of `input_quantizer` as a TruncAvgPool.

    Brevitas averages the float values, divides the scale by the divisor, recovers the window's
    code sum by rounding value / scale, then truncates it to the output bit width. That is exactly
    `clamp(R(S / 2**shift))` when float32 recovers S (checked: the window's sum is small enough),
    the truncation keeps the most significant bits (TruncMsbScaling), every window has the same
    divisor (no ceil_mode, padding counted) and the input's zero point is 0. The reading is then
    checked against the module on probe inputs.
    """
    kind = _class_name(module)
    if kind != "TruncAvgPool2d":
        raise NnhlsError(f"{where}: {kind} is not Brevitas's TruncAvgPool2d")
    _check_eval(module, where)
    if input_quantizer is None:
        raise NnhlsError(f"{where}: its input is not quantized, so Brevitas averages float values; feed it a "
                         f"QuantTensor (return_quant_tensor=True on the layer before it)")
    if not module.trunc_quant.is_quant_enabled:
        raise NnhlsError(f"{where}: its truncation is disabled (trunc_quant=None), so Brevitas averages float "
                         f"values; use trunc_quant=RoundTo8bit or TruncTo8bit")
    if np.any(input_quantizer.zero_point != 0):
        raise NnhlsError(f"{where}: its input has zero point {input_quantizer.zero_point}; Brevitas's truncation "
                         f"then leaves a fractional zero point, which nnhls does not read (use a zero point 0)")
    kernel = _pair(module.kernel_size)
    stride = _pair(module.stride if module.stride is not None else module.kernel_size)
    padding = _pair(module.padding)
    divisor = _divisor_of(module, kernel, padding, where)
    tensor_quant = module.trunc_quant.tensor_quant
    _check_trunc_quant(tensor_quant, where)
    rounding = _rounding_of(tensor_quant.float_to_int_impl, where)
    sum_bit_width, bit_width, shift = _trunc_bit_widths(tensor_quant, input_quantizer, divisor, where)
    scale = _trunc_output_scale(input_quantizer, divisor, shift)
    pool = TruncAvgPool(kernel=kernel, stride=stride, padding=padding, divisor=divisor,
                        sum_bit_width=sum_bit_width, shift=shift, rounding=rounding, bit_width=bit_width,
                        signed=input_quantizer.signed, narrow=bool(tensor_quant.narrow_range), scale=scale)
    _check_sum_recovered(pool, input_quantizer, where)
    _check_pool_reading(module, pool, input_quantizer, where)
    return pool


def _divisor_of(module, kernel: tuple[int, int], padding: tuple[int, int], where: str) -> int:
    """The one divisor of every window, refusing settings where PyTorch divides edge windows by fewer."""
    if module.divisor_override is not None:
        return int(module.divisor_override)
    if module.ceil_mode:
        raise NnhlsError(f"{where}: ceil_mode=True lets edge windows reach past the padding, which PyTorch then "
                         f"divides by fewer taps while Brevitas keeps the scale; use ceil_mode=False")
    if not module.count_include_pad and any(padding):
        raise NnhlsError(f"{where}: count_include_pad=False divides edge windows by fewer taps while Brevitas keeps "
                         f"the scale, so their code is not the window's sum; use count_include_pad=True")
    return kernel[0] * kernel[1]


def _check_trunc_quant(tensor_quant, where: str) -> None:
    """Refuse truncations other than TruncIntQuant keeping the most significant bits."""
    kind = _class_name(tensor_quant)
    if kind != "TruncIntQuant":
        raise NnhlsError(f"{where}: its truncation is {kind}, not Brevitas's TruncIntQuant")
    scaling_kind = _class_name(tensor_quant.trunc_scaling_impl)
    if scaling_kind != "TruncMsbScaling":
        raise NnhlsError(f"{where}: its truncation scale comes from {scaling_kind} (statistics of the inputs, e.g. "
                         f"ShiftRoundSaturateTo8bit); nnhls reads truncations that keep the most significant bits "
                         f"(RoundTo8bit, TruncTo8bit)")
    clamp_kind = _class_name(tensor_quant.tensor_clamp_impl)
    if clamp_kind not in _CLAMPS:
        raise NnhlsError(f"{where}: its truncation clamps with {clamp_kind}; nnhls knows {', '.join(_CLAMPS)}")
    delay = tensor_quant.delay_wrapper.delay_impl
    if _class_name(delay) != "_NoDelay" and getattr(delay, "quant_delay_steps", 0) > 0:
        raise NnhlsError(f"{where}: its truncation is delayed (quant_delay_steps); set quant_delay_steps=0")


def _trunc_bit_widths(tensor_quant, input_quantizer: IntQuantizer, divisor: int, where: str) -> tuple[int, int, int]:
    """(sum bit width, output bit width, shift) as Brevitas computes them for this input."""
    import torch.nn.functional as F
    from brevitas.quant_tensor.int_torch_handler import FN_ACC_BITWIDTH_MAPPING

    # Brevitas's own formula for the bit width of an average pooling's sum (float32 log2 and ceil).
    sum_width = FN_ACC_BITWIDTH_MAPPING[F.avg_pool2d](torch.tensor(float(input_quantizer.bit_width)), divisor)
    with torch.no_grad():
        out_width = tensor_quant.msb_clamp_bit_width_impl()
        trunc_scale = tensor_quant.trunc_scaling_impl(torch.tensor(0.0), sum_width, out_width,
                                                      input_quantizer.signed)
    sum_bit_width, bit_width = int(sum_width), int(out_width)
    shift = sum_bit_width - bit_width
    if float(sum_width) != sum_bit_width or float(out_width) != bit_width or float(trunc_scale) != 2.0**shift:
        raise NnhlsError(f"{where}: its truncation scale {float(trunc_scale)} is not 2**(sum bits {float(sum_width)} "
                         f"- output bits {float(out_width)})")
    if not 1 <= bit_width <= _MAX_BIT_WIDTH:
        raise NnhlsError(f"{where}: its output bit width {bit_width} is not in [1, {_MAX_BIT_WIDTH}]")
    return sum_bit_width, bit_width, shift


def _trunc_output_scale(input_quantizer: IntQuantizer, divisor: int, shift: int) -> np.ndarray:
    """The output scale in Brevitas's float32 steps: (s / divisor) * 2**shift (the product is exact)."""
    scale = torch.tensor(input_quantizer.scale, dtype=torch.float32)
    return ((scale / divisor) * torch.tensor(2.0**shift)).numpy().astype(np.float64)


def _check_sum_recovered(pool: TruncAvgPool, input_quantizer: IntQuantizer, where: str) -> None:
    """Refuse windows so large that Brevitas's float32 average may not round back to the code sum.

    Brevitas computes fl32(sum of fl32 values / divisor) / fl32(s / divisor) and rounds it: each
    of the taps - 1 additions, the two divisions and the scale's division errs by at most one
    float32 rounding relative to what it computes, so the error is below (taps + 3) * 2**-24 *
    taps * max|code|, which must stay below 1/2. Tiny scales are refused too: subnormal float32
    numbers lose the relative precision this bound needs.
    """
    taps = pool.kernel[0] * pool.kernel[1]
    largest_code = max(abs(input_quantizer.low), abs(input_quantizer.high))
    if (taps + 3) * _UNIT_ROUNDOFF_FLOAT32 * taps * largest_code >= 0.5:
        raise NnhlsError(f"{where}: a {pool.kernel} window of {input_quantizer.bit_width}-bit codes is too large "
                         f"for Brevitas's float32 average to give back the sum of its codes exactly")
    if np.min(input_quantizer.scale) / pool.divisor < 2.0**-100:
        raise NnhlsError(f"{where}: its input scale {input_quantizer.scale} is too small for an exact float32 "
                         f"average")


def _window_sums(codes: np.ndarray, pool: TruncAvgPool) -> np.ndarray:
    """Sums of the (zero-padded) windows of codes shaped (N, C, H, W)."""
    (pad_h, pad_w), (kernel_h, kernel_w), (stride_h, stride_w) = pool.padding, pool.kernel, pool.stride
    padded = np.pad(codes, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel_h, kernel_w), axis=(2, 3))
    return windows[:, :, ::stride_h, ::stride_w].sum(axis=(-2, -1))


def _pool_probe_codes(pool: TruncAvgPool, input_quantizer: IntQuantizer, channels: int) -> np.ndarray:
    """Codes shaped (3, C, H, W): random ones, all at the top of the range and all at the bottom."""
    height = pool.kernel[0] + 2 * pool.stride[0] + 1
    width = pool.kernel[1] + 2 * pool.stride[1] + 1
    shape = (1, channels, height, width)
    random = np.random.default_rng(0).integers(input_quantizer.low, input_quantizer.high + 1, shape)
    return np.concatenate([random, np.full(shape, input_quantizer.high), np.full(shape, input_quantizer.low)])


def _check_pool_reading(module, pool: TruncAvgPool, input_quantizer: IntQuantizer, where: str) -> None:
    """Run the module on a QuantTensor of probe codes: values, scale and bit width must match the recipe."""
    from brevitas.quant_tensor import IntQuantTensor

    channels = input_quantizer.scale.size if input_quantizer.per_channel else 2
    codes = _pool_probe_codes(pool, input_quantizer, channels)
    scale = _along(input_quantizer.scale.astype(np.float32), 4, 1)
    values = torch.from_numpy((codes.astype(np.float32) * scale).astype(np.float32))
    quant_input = IntQuantTensor(values, torch.from_numpy(np.asarray(scale)), torch.tensor(0.0),
                                 torch.tensor(float(input_quantizer.bit_width)), input_quantizer.signed, False)
    with torch.no_grad():
        output = module(quant_input)
    expected_codes = pool.out_codes(_window_sums(codes, pool)).astype(np.float32)
    expected = (expected_codes * _along(pool.scale.astype(np.float32), 4, 1)).astype(np.float32)
    # return_quant_tensor=False returns the same values without their scale and bit width.
    if _class_name(output) == "IntQuantTensor":
        matches = (np.array_equal(output.value.numpy(), expected)
                   and np.array_equal(output.scale.numpy().reshape(pool.scale.shape).astype(np.float64), pool.scale)
                   and float(output.bit_width) == pool.bit_width)
    else:
        matches = np.array_equal(output.numpy(), expected)
    if not matches:
        raise NnhlsError(f"{where}: Brevitas's TruncAvgPool2d does not compute clamp({pool.rounding}(sum / "
                         f"2**{pool.shift})) as nnhls reads it; this pooling is not supported")
