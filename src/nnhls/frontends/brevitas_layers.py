"""Brevitas's quantized layers into the IR, exactly (docs/brevitas.md).

A Brevitas quantizer's output is integer codes times a float32 scale that is rarely a power of
two. The IR keeps the codes, and the value (`_Value.scale`) remembers the scale:

- an activation quantizer (QuantIdentity, QuantReLU, QuantHardTanh, a layer's input or output
  quantizer) is a Step whose levels are the integer codes and whose thresholds are the float32
  inputs at which Brevitas's float32 division and rounding step (`brevitas.staircase`);
- a QuantLinear or QuantConv multiplies the input's codes by its weight codes (a Dense or Conv of
  narrow exact integers), then one ScaleShift per output channel applies the input's scale times
  the weight's and adds the bias, exactly;
- a quantizer that alone reads such a ScaleShift takes it into thresholds of its own per channel
  (`nnhls.passes.staircases`, after reading), so it compares the layer's integer sums;
- max pooling, ReLU, shapes, nearest upsampling and concatenations of one scale pass codes
  through, QuantEltwiseAdd adds codes of its one input quantizer; anything else reads the value
  itself (codes times scale, exactly).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.frontends import brevitas
from nnhls.frontends.constants import exact_weights, zero_weights
from nnhls.frontends.pytorch import (_binary, _canonical_kernel, _conv_node, _conv_window, _dense, _spatial_input,
                                     _torch_image_shape, _upsample, _Value)
from nnhls.ir import Activation, Pool, ScaleShift, Step, Weights, Window
from nnhls.types import FixedType, exact_type

__all__ = ["SUPPORTED", "handler"]


def quantize(reader, x: _Value, quantizer: brevitas.IntQuantizer, function: str, name: str,
             framework_class: str, where: str) -> _Value:
    """`function` ('identity' or 'relu') then Brevitas's quantizer: a Step onto its integer codes."""
    if quantizer.per_channel:
        raise NnhlsError(f"{where} quantizes activations with a scale per channel; nnhls reads activation "
                         "quantizers with one scale (per tensor)")
    x = reader.real(x)
    thresholds, levels = brevitas.staircase(quantizer, where)
    if function == "relu":
        # relu(x) is 0 below 0: every threshold at or below 0 is passed by relu(x), whatever x is.
        passed = int(np.sum(thresholds <= 0))
        thresholds, levels = thresholds[passed:], levels[passed:]
    levels = np.asarray(levels, dtype=np.float64)
    levels_type = exact_type(levels)
    reader.add(Step(name, [x.node], x.ir_shape, staircase_of=f"{framework_class} quantizer",
                    thresholds=np.asarray(thresholds, dtype=np.float64),
                    levels=Weights(levels, quantizer=levels_type), result_quantizer=levels_type), framework_class)
    reader.quantizers[name] = quantizer
    return _Value(name, x.shape, x.axes, float(quantizer.scale))


def _read_activation(reader, fx_node, module, x, *args, **kwargs) -> _Value:
    """QuantIdentity, QuantReLU, QuantHardTanh: the function, then the quantizer (if enabled)."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    function = brevitas.activation_function(module, where)
    quantizer = brevitas.activation_quantizer(module.act_quant, where)
    framework_class = type(module).__name__
    if quantizer is None:
        if function == "identity":
            return x
        reader.add(Activation(fx_node.name, [x.node], x.ir_shape, function="relu"), framework_class)
        return _Value(fx_node.name, x.shape, x.axes, x.scale)
    return quantize(reader, x, quantizer, function, fx_node.name, framework_class, where)


def _through(reader, fx_node, module, value: _Value, proxy, role: str, where: str) -> _Value:
    """`value` through one of the layer's quantizers (`role`: 'input_quant' or 'output_quant'), if enabled."""
    quantizer = brevitas.activation_quantizer(proxy, where)
    if quantizer is None:
        return value
    return quantize(reader, value, quantizer, "identity", reader.fresh(f"{fx_node.name}_{role}"),
                    type(module).__name__, where)


def _input_quantized(reader, fx_node, module, x: _Value, where: str) -> _Value:
    return _through(reader, fx_node, module, x, module.input_quant, "input_quant", where)


def _output_quantized(reader, fx_node, module, value: _Value, where: str) -> _Value:
    return _through(reader, fx_node, module, value, module.output_quant, "output_quant", where)


def _scaled_output(reader, fx_node, module, node_value: _Value, x_scale: float | None,
                   weights: brevitas.IntQuantizer, where: str) -> _Value:
    """The Dense or Conv of codes, times the input's and the weight's scales, plus the bias; then the
    layer's output quantizer (if enabled)."""
    channels = node_value.ir_shape[-1]
    scale = np.broadcast_to(weights.scale * (1.0 if x_scale is None else x_scale), (channels,))
    bias = brevitas.quantized_bias(module, None if x_scale is None else np.asarray(x_scale), where)
    shift = zero_weights(channels) if bias is None else exact_weights(np.broadcast_to(bias, (channels,)))
    name = reader.fresh(f"{fx_node.name}_scale")
    framework_class = type(module).__name__
    reader.add(ScaleShift(name, [node_value.node], node_value.ir_shape, scale=exact_weights(scale), shift=shift),
               framework_class)
    return _output_quantized(reader, fx_node, module, _Value(name, node_value.shape, node_value.axes), where)


def _codes_weights(codes: np.ndarray) -> Weights:
    codes = np.asarray(codes, dtype=np.float64)
    return Weights(codes, quantizer=exact_type(codes))


def _read_linear(reader, fx_node, module, x) -> _Value:
    where = reader.where(fx_node)
    x = _input_quantized(reader, fx_node, module, reader.tensor(x, where), where)
    codes, weights = brevitas.weight_quantizer(module, where)
    out_features = codes.shape[0]
    dense = _dense(reader, fx_node.name, x, _codes_weights(np.ascontiguousarray(codes.T)),
                   zero_weights(out_features), type(module).__name__)
    return _scaled_output(reader, fx_node, module, dense, x.scale, weights, where)


def _read_conv(reader, fx_node, module, x, spatial: int) -> _Value:
    where = reader.where(fx_node)
    x = _input_quantized(reader, fx_node, module, reader.tensor(x, where), where)
    x, window = _conv_window(reader, module, x, spatial, where)
    codes, weights = brevitas.weight_quantizer(module, where)
    kernel = _codes_weights(_canonical_kernel(codes, spatial))
    conv = _conv_node(reader, fx_node.name, x, window, kernel, zero_weights(kernel.shape[-1]), module.groups, spatial,
                      type(module).__name__, where)
    return _scaled_output(reader, fx_node, module, conv, x.scale, weights, where)


# Brevitas's rounding of a window's code sum, as the fixed-point conversion that rounds alike.
_ROUNDING_MODES = {"ROUND": "RND_CONV", "FLOOR": "TRN", "ROUND_TO_ZERO": "TRN_ZERO"}


def _read_trunc_avg_pool(reader, fx_node, module, x) -> _Value:
    """QuantAvgPool2d / TruncAvgPool2d: the exact sum of each window's codes (a sum pooling), then
    Brevitas's rounding shift right onto its output bits, as a conversion into that integer type."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    if x.scale is None:
        raise NnhlsError(f"{where} reads a value that is not a Brevitas quantizer's output; Brevitas averages "
                         "quantized tensors only: put a quantizer (e.g. QuantIdentity) before it")
    quantizer = _codes_quantizer(reader, x, where)
    pool = brevitas.trunc_avg_pool(module, quantizer, where)
    x, (in_h, in_w, channels) = _spatial_input(reader, x, 2, where)
    window = Window(in_h, in_w, channels, *pool.kernel, *pool.stride, pool.padding[0], pool.padding[0],
                    pool.padding[1], pool.padding[1])
    sum_name = reader.fresh(f"{fx_node.name}_sum")
    shape = _torch_image_shape(window, 2, channels)
    summed = _Value(sum_name, shape, x.axes)
    framework_class = type(module).__name__
    reader.add(Pool(sum_name, [x.node], summed.ir_shape, function="sum", window=window, in_shape=x.ir_shape),
               framework_class)
    if pool.shift <= 0:
        factor, result = 2.0 ** -pool.shift, None
    else:
        rounding = _ROUNDING_MODES.get(pool.rounding)
        if rounding is None or (pool.narrow and not pool.signed):
            raise NnhlsError(f"{where} rounds with {pool.rounding}{' onto a narrow unsigned range' * pool.narrow}, "
                             "which nnhls does not realize; use Brevitas's ROUND or FLOOR rounding")
        factor = 2.0 ** -pool.shift
        result = FixedType(pool.bit_width, pool.bit_width, pool.signed, rounding, "SAT_SYM" if pool.narrow else "SAT")
    scale = exact_weights(np.full(channels, factor))
    name = fx_node.name
    reader.add(ScaleShift(name, [sum_name], summed.ir_shape, scale=scale, shift=zero_weights(channels),
                          result_quantizer=result), framework_class)
    return _Value(name, shape, x.axes, float(pool.scale))


def _codes_quantizer(reader, x: _Value, where: str) -> brevitas.IntQuantizer:
    """The quantizer whose codes `x` holds: the one of the Step it comes from, through the nodes
    that pass codes on (max pooling, shapes)."""
    name = x.node
    while name not in reader.quantizers:
        node = reader.by_name[name]
        if len(node.inputs) != 1:
            raise NnhlsError(f"{where} reads values of several quantizers; nnhls averages one quantizer's codes")
        name = node.inputs[0]
    return reader.quantizers[name]


def _inputs_quantized(reader, fx_node, module, values: list, where: str) -> list[_Value]:
    """Each input through the layer's input quantizer (one quantizer, so one scale for all), if enabled."""
    return [_input_quantized(reader, fx_node, module, reader.tensor(v, where, "an input"), where) for v in values]


def _read_eltwise_add(reader, fx_node, module, x, y) -> _Value:
    """QuantEltwiseAdd: both inputs through its input quantizer, their sum (of codes, when they share
    a scale), then its output quantizer."""
    where = reader.where(fx_node)
    x, y = _inputs_quantized(reader, fx_node, module, [x, y], where)
    total = _binary(reader, fx_node, x, y, "add", type(module).__name__)
    return _output_quantized(reader, fx_node, module, total, where)


def _read_upsample(reader, fx_node, module, x, mode: str | None = None) -> _Value:
    """QuantUpsample and kin: nearest repeats the codes; bilinear interpolates them and, as Brevitas
    does, rounds the result to the input's scale (half to even), an integer code again."""
    where = reader.where(fx_node)
    x = reader.tensor(x, where)
    mode = mode or module.mode
    if mode != "nearest" and x.scale is None:
        raise NnhlsError(f"{where} interpolates a value that is not a quantizer's output; Brevitas needs the input's "
                         "scale to round the result: put a quantizer before it (return_quant_tensor=True)")
    align_corners = getattr(module, "align_corners", None)
    out = _upsample(reader, fx_node, x, module.size, module.scale_factor, mode, align_corners, type(module).__name__)
    if mode != "nearest":
        codes = _codes_quantizer(reader, x, where)
        node = reader.by_name[out.node]
        node.result_quantizer = FixedType(codes.bit_width, codes.bit_width, codes.signed, "RND_CONV", "SAT")
        reader.quantizers[out.node] = codes
    return out


_HANDLERS = {
    "QuantIdentity": _read_activation,
    "QuantReLU": _read_activation,
    "QuantHardTanh": _read_activation,
    "QuantLinear": _read_linear,
    "QuantConv1d": partial(_read_conv, spatial=1),
    "QuantConv2d": partial(_read_conv, spatial=2),
    "TruncAvgPool2d": _read_trunc_avg_pool,
    "QuantAvgPool2d": _read_trunc_avg_pool,
    "QuantEltwiseAdd": _read_eltwise_add,
    "QuantUpsample": _read_upsample,
    "QuantUpsamplingNearest2d": partial(_read_upsample, mode="nearest"),
}

SUPPORTED = tuple(_HANDLERS)


def handler(module):
    """The reader of a Brevitas module, or None."""
    return _HANDLERS.get(type(module).__name__)

