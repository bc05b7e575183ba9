"""Brevitas quantizers read as exact numpy facts, checked against Brevitas's own modules bit for bit."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")

import torch.nn.functional as F  # noqa: E402
from brevitas.quant import (Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, Int32Bias,  # noqa: E402
                            ShiftRoundSaturateTo8bit, SignedBinaryActPerTensorConst, TruncTo8bit,
                            Uint8ActPerTensorFloatMaxInit)
from brevitas.quant.float import Fp8e4m3ActPerTensorFloat  # noqa: E402
from brevitas.quant.shifted_scaled_int import ShiftedUint8ActPerTensorFloat, ShiftedUint8WeightPerTensorFloat  # noqa
from brevitas.quant_tensor import IntQuantTensor  # noqa: E402

from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.frontends import brevitas as nb  # noqa: E402

WHERE = "layer 'probe'"


@pytest.fixture(autouse=True)
def _quiet_brevitas():
    # Brevitas warns about its own defaults (e.g. the bias quantizer's cache) on every call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _evaluated(module):
    torch.manual_seed(0)
    return module.eval()


def _tensor_quant(proxy):
    return proxy.fused_activation_quant_proxy.tensor_quant


def _learn_scale(layer, scale):
    """Give a runtime-statistics quantizer a learned scale, as after calibration and training."""
    tensor_quant = _tensor_quant(layer.act_quant)
    threshold = tensor_quant.int_scaling_impl(tensor_quant.msb_clamp_bit_width_impl())
    impl = tensor_quant.scaling_impl
    with torch.no_grad():
        impl.value.fill_(scale * float(threshold))
    impl.counter = impl.collect_stats_steps + 1
    return layer


def _learn_zero_point(layer, zero_point_value):
    impl = _tensor_quant(layer.act_quant).zero_point_impl
    with torch.no_grad():
        impl.value.fill_(zero_point_value)
    impl.counter = impl.collect_stats_steps + 1
    return layer


def _keys(x):
    bits = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def _floats(keys):
    keys = np.asarray(keys, dtype=np.int64)
    return np.where(keys >= 0, keys, 0x80000000 | -keys).astype(np.uint32).view(np.float32)


def _inputs_around(thresholds, span, ulps=4):
    """Every float32 within `ulps` of each threshold, random values over and beyond the range, specials."""
    near = (_keys(thresholds)[:, None] + np.arange(-ulps, ulps + 1)[None, :]).ravel()
    random = np.random.default_rng(1).uniform(-2 * span, 2 * span, 4000).astype(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 1e30, -1e30, 3.4e38, -3.4e38, 1e-40, -1e-40], np.float32)
    return np.concatenate([_floats(near), random, specials]).astype(np.float32)


def _staircase_output(thresholds, levels, scale, x):
    k = np.searchsorted(thresholds, x.astype(np.float64), side="right")
    return (levels[k].astype(np.float32) * np.float32(scale)).astype(np.float32)


def _check_staircase(layer, before=lambda x: x):
    """The staircase of the layer's quantizer gives its forward output exactly on every probed float32."""
    quantizer = nb.activation_quantizer(layer.act_quant, WHERE)
    thresholds, levels = nb.staircase(quantizer, WHERE)
    assert np.all(np.diff(thresholds) > 0) and len(levels) == len(thresholds) + 1
    span = float(quantizer.scale) * (quantizer.high - quantizer.low + 2 * abs(float(quantizer.zero_point)))
    x = _inputs_around(thresholds, span)
    with torch.no_grad():
        expected = layer(torch.from_numpy(x)).numpy()
    assert np.array_equal(_staircase_output(thresholds, levels, quantizer.scale, before(x)), expected)
    assert np.array_equal(quantizer.quantize(before(x)), expected.astype(np.float64))
    return quantizer, thresholds, levels


def test_quant_identity_8_bit_staircase_matches_forward():
    quantizer, thresholds, levels = _check_staircase(_evaluated(qnn.QuantIdentity(bit_width=8)))
    assert (quantizer.low, quantizer.high, quantizer.signed, quantizer.rounding) == (-128, 127, True, "ROUND")
    assert list(levels) == list(range(-128, 128))


def test_learned_scale_that_is_no_power_of_two_is_read_as_its_float32_value():
    layer = _learn_scale(_evaluated(qnn.QuantIdentity(bit_width=8)), 0.0371)
    quantizer, thresholds, _ = _check_staircase(layer)
    assert quantizer.scale == float(layer.act_quant.scale()) == np.float32(np.float32(0.0371 * 128) / 128)
    # Ties to even and the rounding of x / s move thresholds off the float32 half steps fl32((k + 0.5) * s).
    scale = np.float32(quantizer.scale)
    half_steps = ((np.arange(-128, 127) + np.float32(0.5)).astype(np.float32) * scale).astype(np.float32)
    assert np.count_nonzero(thresholds != half_steps) > 50


@pytest.mark.parametrize("bit_width", [4, 6])
def test_quant_relu_staircase_matches_forward_after_relu(bit_width):
    layer = _learn_scale(_evaluated(qnn.QuantReLU(bit_width=bit_width)), 0.0413)
    assert nb.activation_function(layer, WHERE) == "relu"
    quantizer, _, levels = _check_staircase(layer, before=lambda x: np.maximum(x, np.float32(0)))
    assert (quantizer.low, quantizer.high, quantizer.signed) == (0, 2**bit_width - 1, False)
    assert levels[-1] == 2**bit_width - 1


def test_quant_hardtanh_is_its_quantizer_with_a_scale_from_the_larger_bound():
    layer = _evaluated(qnn.QuantHardTanh(bit_width=8, min_val=-0.5, max_val=0.7))
    assert nb.activation_function(layer, WHERE) == "identity"
    quantizer, _, _ = _check_staircase(layer)
    # scale = max(|min_val|, |max_val|) / 128: the clamp is [-0.7, 0.7 * 127 / 128], not [min_val, max_val].
    assert quantizer.scale == np.float32(0.7) / 128
    unsigned = _evaluated(qnn.QuantHardTanh(act_quant=Uint8ActPerTensorFloatMaxInit, max_val=0.9))
    quantizer, _, _ = _check_staircase(unsigned)
    assert quantizer.scale == np.float32(np.float32(0.9) / 255) and quantizer.low == 0


def test_shifted_quantizer_reads_its_integer_zero_point():
    layer = _evaluated(qnn.QuantIdentity(act_quant=ShiftedUint8ActPerTensorFloat))
    tensor_quant = _tensor_quant(layer.act_quant)
    with torch.no_grad():
        tensor_quant.scaling_impl.value.fill_(0.9)
    tensor_quant.scaling_impl.counter = 10**6
    _learn_zero_point(layer, 0.5)
    quantizer, _, levels = _check_staircase(layer)
    assert float(quantizer.zero_point) == float(layer.act_quant.zero_point()) == 142
    assert (levels[0], levels[-1]) == (-142, 255 - 142)


@pytest.mark.parametrize("rounding", ["round", "round_to_zero", "floor", "ceil"])
@pytest.mark.parametrize("narrow", [False, True])
def test_each_rounding_mode_and_narrow_range_match_forward(rounding, narrow):
    layer = _evaluated(qnn.QuantIdentity(bit_width=4, narrow_range=narrow, float_to_int_impl_type=rounding))
    quantizer, _, levels = _check_staircase(_learn_scale(layer, 0.0917))
    assert quantizer.rounding == rounding.upper() and quantizer.narrow == narrow
    assert levels[0] == (-7 if narrow else -8) and levels[-1] == 7


def test_levels_only_infinities_reach_are_kept_and_unreachable_ones_dropped():
    # With scale 2**125 the finite float32 numbers reach codes -8..8 only: -inf and +inf reach the clamps,
    # and no float32 input reaches the codes in between.
    quantizer = nb.IntQuantizer(scale=2.0**125, zero_point=0.0, bit_width=8, signed=True, narrow=False,
                                rounding="ROUND")
    thresholds, levels = nb.staircase(quantizer, WHERE)
    assert list(levels) == [-128] + list(range(-8, 9)) + [127]
    assert thresholds[0] == -np.finfo(np.float32).max and thresholds[-1] == np.inf
    x = _inputs_around(thresholds[1:-1], 1e38)
    assert np.array_equal(levels[np.searchsorted(thresholds, x.astype(np.float64), side="right")], quantizer.codes(x))


def test_disabled_quantizer_reads_as_none():
    identity = _evaluated(qnn.QuantIdentity(act_quant=None))
    assert nb.activation_quantizer(identity.act_quant, WHERE) is None
    relu = _evaluated(qnn.QuantReLU(act_quant=None))
    assert nb.activation_quantizer(relu.act_quant, WHERE) is None
    assert nb.activation_function(relu, WHERE) == "relu"


def test_return_quant_tensor_changes_no_value():
    x = torch.from_numpy(np.random.default_rng(2).normal(0, 2, 500).astype(np.float32))
    plain = _learn_scale(_evaluated(qnn.QuantReLU(bit_width=6)), 0.05)
    packed = _learn_scale(_evaluated(qnn.QuantReLU(bit_width=6, return_quant_tensor=True)), 0.05)
    with torch.no_grad():
        assert torch.equal(plain(x), packed(x).value)
    assert nb.activation_quantizer(plain.act_quant, WHERE) == nb.activation_quantizer(packed.act_quant, WHERE)


@pytest.mark.parametrize("make, message", [
    (lambda: _evaluated(qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)), "BinaryQuant"),
    (lambda: _evaluated(qnn.QuantIdentity(act_quant=Fp8e4m3ActPerTensorFloat)), "ActFloatQuantProxyFromInjector"),
    (lambda: _evaluated(qnn.QuantIdentity(bit_width=8, float_to_int_impl_type="dpu")), "DPURoundSte"),
    (lambda: qnn.QuantIdentity(bit_width=8).train(), "training mode"),
])
def test_quantizers_nnhls_cannot_reproduce_are_refused_by_name(make, message):
    module = make()
    with pytest.raises(NnhlsError, match=message) as error:
        nb.activation_quantizer(module.act_quant, WHERE)
    assert WHERE in str(error.value)


def test_other_activation_functions_and_per_channel_staircases_are_refused():
    with pytest.raises(NnhlsError, match=f"{WHERE}.*Sigmoid"):
        nb.activation_function(_evaluated(qnn.QuantSigmoid(bit_width=8)), WHERE)
    with pytest.raises(NnhlsError, match=f"{WHERE}.*Hardtanh"):
        nb.activation_function(_evaluated(qnn.QuantHardTanh(act_quant=None, min_val=-1, max_val=1)), WHERE)
    per_channel = nb.IntQuantizer(scale=np.array([0.5, 0.25]), zero_point=np.zeros(2), bit_width=8, signed=True,
                                  narrow=False, rounding="ROUND")
    with pytest.raises(NnhlsError, match=f"{WHERE}.*per channel"):
        nb.staircase(per_channel, WHERE)


def test_per_channel_activation_quantizer_matches_forward():
    layer = _evaluated(qnn.QuantReLU(bit_width=5, scaling_per_output_channel=True, scaling_impl_type="parameter",
                                     per_channel_broadcastable_shape=(1, 3, 1), scaling_stats_permute_dims=(1, 0, 2),
                                     max_val=2.0))
    impl = _tensor_quant(layer.act_quant).scaling_impl
    with torch.no_grad():
        impl.value.copy_(torch.tensor([1.3, 2.7, 0.61]).reshape(1, 3, 1))
    quantizer = nb.activation_quantizer(layer.act_quant, WHERE)
    assert quantizer.per_channel and quantizer.scale.shape == (3,)
    x = np.random.default_rng(3).uniform(-1, 4, (50, 3, 7)).astype(np.float32)
    with torch.no_grad():
        expected = layer(torch.from_numpy(x)).numpy().astype(np.float64)
    assert np.array_equal(quantizer.quantize(np.maximum(x, np.float32(0)), axis=1), expected)


# ---------------------------------------------------------------------------------------------
# Weights and biases
# ---------------------------------------------------------------------------------------------

WEIGHT_LAYERS = {
    "linear per tensor": lambda: qnn.QuantLinear(7, 5, bias=True),
    "linear per channel 6 bits": lambda: qnn.QuantLinear(7, 5, bias=True, weight_quant=Int8WeightPerChannelFloat,
                                                         weight_bit_width=6),
    "conv2d per tensor": lambda: qnn.QuantConv2d(3, 4, 3, weight_quant=Int8WeightPerTensorFloat, groups=1),
    "conv2d per channel": lambda: qnn.QuantConv2d(4, 6, (3, 2), groups=2, weight_quant=Int8WeightPerChannelFloat,
                                                  weight_bit_width=6),
    "conv1d per channel": lambda: qnn.QuantConv1d(3, 4, 5, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4),
}


@pytest.mark.parametrize("name", WEIGHT_LAYERS)
def test_weight_codes_times_scale_are_brevitas_weights_exactly(name):
    layer = _evaluated(WEIGHT_LAYERS[name]())
    codes, quantizer = nb.weight_quantizer(layer, WHERE)
    value = layer.quant_weight().value.detach().numpy()
    assert codes.dtype == np.int64 and codes.shape == tuple(layer.weight.shape)
    scale = quantizer.scale.astype(np.float32).reshape((-1,) + (1,) * (codes.ndim - 1))
    assert np.array_equal((codes.astype(np.float32) * scale).astype(np.float32), value)
    assert quantizer.low <= codes.min() and codes.max() <= quantizer.high and quantizer.narrow
    assert quantizer.scale.shape == ((codes.shape[0],) if "per channel" in name else ())
    # Brevitas scales a weight by its own largest magnitude, so some code reaches the top of the range.
    assert np.max(np.abs(codes)) == quantizer.high
    assert np.array_equal(quantizer.quantize(layer.weight.detach().numpy().reshape(codes.shape[0], -1), axis=0),
                          value.reshape(codes.shape[0], -1).astype(np.float64))


def test_unquantized_and_zero_point_weights_are_refused():
    with pytest.raises(NnhlsError, match=f"{WHERE}.*not quantized"):
        nb.weight_quantizer(_evaluated(qnn.QuantLinear(4, 3, bias=False, weight_quant=None)), WHERE)
    with pytest.raises(NnhlsError, match=f"{WHERE}.*zero point"):
        shifted = qnn.QuantLinear(4, 3, bias=False, weight_quant=ShiftedUint8WeightPerTensorFloat)
        nb.weight_quantizer(_evaluated(shifted), WHERE)


def test_float_bias_is_added_as_is():
    layer = _evaluated(qnn.QuantLinear(4, 3, bias=True))
    assert np.array_equal(nb.quantized_bias(layer, None, WHERE), layer.bias.detach().numpy().astype(np.float64))
    assert nb.quantized_bias(_evaluated(qnn.QuantLinear(4, 3, bias=False)), None, WHERE) is None


@pytest.mark.parametrize("make", [
    lambda: qnn.QuantLinear(6, 4, bias=True, bias_quant=Int32Bias, weight_quant=Int8WeightPerChannelFloat),
    lambda: qnn.QuantConv2d(2, 3, 3, bias=True, bias_quant=Int32Bias),
])
def test_int32_bias_is_brevitas_bias_for_the_input_scale(make):
    layer = _evaluated(make())
    with torch.no_grad():
        layer.bias.copy_(torch.tensor(np.random.default_rng(4).normal(0, 0.3, layer.bias.shape), dtype=torch.float32))
    input_scale = np.float32(0.0371)
    bias = nb.quantized_bias(layer, np.float64(input_scale), WHERE)
    # Zero inputs make the layer's output its bias, as Brevitas quantized it for this input's scale.
    shape = (1, layer.in_features) if isinstance(layer, torch.nn.Linear) else (1, 2, 3, 3)
    zeros = IntQuantTensor(torch.zeros(shape), torch.tensor(input_scale), torch.tensor(0.0), torch.tensor(8.0),
                           True, False)
    with torch.no_grad():
        output = layer(zeros).reshape(-1).numpy().astype(np.float64)
    assert np.array_equal(bias, output)
    assert not np.array_equal(bias, layer.bias.detach().numpy().astype(np.float64))
    with pytest.raises(NnhlsError, match=f"{WHERE}.*input's scale"):
        nb.quantized_bias(layer, None, WHERE)


# ---------------------------------------------------------------------------------------------
# TruncAvgPool2d
# ---------------------------------------------------------------------------------------------


def _quant_input(quantizer, shape, seed):
    """A QuantTensor of random codes of `quantizer` (all values Brevitas could produce)."""
    codes = np.random.default_rng(seed).integers(quantizer.low, quantizer.high + 1, shape).astype(np.float32)
    codes[0, 0] = quantizer.high  # a window of the largest codes reaches the clamp
    values = torch.from_numpy((codes * np.float32(quantizer.scale)).astype(np.float32))
    return codes, IntQuantTensor(values, torch.tensor(np.float32(quantizer.scale)), torch.tensor(0.0),
                                 torch.tensor(float(quantizer.bit_width)), quantizer.signed, False)


POOLS = {
    "3x3 round": (lambda: qnn.TruncAvgPool2d(3, stride=2), 8, False, 0),
    "2x2 round": (lambda: qnn.TruncAvgPool2d(2), 8, True, 0),
    "3x3 floor padded": (lambda: qnn.TruncAvgPool2d(3, stride=1, trunc_quant=TruncTo8bit), 8, True, 1),
    "4-bit input, left shift": (lambda: qnn.TruncAvgPool2d(2, stride=1), 4, False, 0),
    "divisor override": (lambda: qnn.TruncAvgPool2d((2, 3), stride=(1, 2), divisor_override=5), 6, True, 0),
}


@pytest.mark.parametrize("name", POOLS)
def test_trunc_avg_pool_recipe_is_brevitas_output_exactly(name):
    make, bit_width, signed, padding = POOLS[name]
    pool = _evaluated(make())
    pool.padding = padding  # TruncAvgPool2d takes no padding argument; set the attribute AvgPool2d reads
    source = _learn_scale(_evaluated(qnn.QuantIdentity(bit_width=bit_width, signed=signed)), 0.0293)
    quantizer = nb.activation_quantizer(source.act_quant, WHERE)
    recipe = nb.trunc_avg_pool(pool, quantizer, WHERE)
    codes, quant_input = _quant_input(quantizer, (2, 3, 9, 10), seed=5)
    with torch.no_grad():
        output = pool(quant_input)
        sums = F.avg_pool2d(torch.from_numpy(codes.astype(np.float64)), recipe.kernel, recipe.stride,
                            recipe.padding, divisor_override=1).numpy().astype(np.int64)
    expected = (recipe.out_codes(sums).astype(np.float32) * np.float32(recipe.scale)).astype(np.float32)
    assert np.array_equal(expected, output.value.numpy())
    assert float(output.scale) == float(recipe.scale) and float(output.bit_width) == recipe.bit_width
    assert recipe.shift == recipe.sum_bit_width - recipe.bit_width
    assert recipe.output_quantizer.low == recipe.low and recipe.padding == (padding, padding)


def test_trunc_avg_pool_of_3x3_8_bit_shifts_by_4_and_scales_by_16_over_9():
    source = _learn_scale(_evaluated(qnn.QuantReLU(bit_width=8)), 0.0293)
    quantizer = nb.activation_quantizer(source.act_quant, WHERE)
    recipe = nb.trunc_avg_pool(_evaluated(qnn.TruncAvgPool2d(3)), quantizer, WHERE)
    assert (recipe.divisor, recipe.sum_bit_width, recipe.shift, recipe.rounding) == (9, 12, 4, "ROUND")
    assert float(recipe.scale) == np.float32(np.float32(quantizer.scale) / 9) * 16
    assert list(recipe.out_codes(np.array([8, 24, 40, -8, 2295]))) == [0, 2, 2, 0, 143]


def test_trunc_avg_pool_returning_a_plain_tensor_computes_the_same_values():
    quantizer = nb.activation_quantizer(_evaluated(qnn.QuantReLU(bit_width=8)).act_quant, WHERE)
    packed = _evaluated(qnn.TruncAvgPool2d(3, stride=2))
    plain = _evaluated(qnn.TruncAvgPool2d(3, stride=2, return_quant_tensor=False))
    assert nb.trunc_avg_pool(plain, quantizer, WHERE) == nb.trunc_avg_pool(packed, quantizer, WHERE)
    _, quant_input = _quant_input(quantizer, (1, 2, 7, 7), seed=6)
    with torch.no_grad():
        assert torch.equal(plain(quant_input), packed(quant_input).value)


@pytest.mark.parametrize("make, message", [
    (lambda: qnn.TruncAvgPool2d(3, ceil_mode=True), "ceil_mode"),
    (lambda: qnn.TruncAvgPool2d(3, trunc_quant=ShiftRoundSaturateTo8bit), "TruncScalingWrapper"),
    (lambda: qnn.TruncAvgPool2d(3, trunc_quant=None), "disabled"),
])
def test_trunc_avg_pool_settings_without_an_integer_recipe_are_refused(make, message):
    quantizer = nb.IntQuantizer(scale=0.5, zero_point=0.0, bit_width=8, signed=False, narrow=False, rounding="ROUND")
    with pytest.raises(NnhlsError, match=f"{WHERE}.*{message}"):
        nb.trunc_avg_pool(_evaluated(make()), quantizer, WHERE)


def test_trunc_avg_pool_needs_a_quantized_input_without_zero_point_and_counted_padding():
    pool = _evaluated(qnn.TruncAvgPool2d(3, count_include_pad=False))
    pool.padding = 1
    quantizer = nb.IntQuantizer(scale=0.5, zero_point=0.0, bit_width=8, signed=False, narrow=False, rounding="ROUND")
    with pytest.raises(NnhlsError, match=f"{WHERE}.*count_include_pad"):
        nb.trunc_avg_pool(pool, quantizer, WHERE)
    with pytest.raises(NnhlsError, match=f"{WHERE}.*not quantized"):
        nb.trunc_avg_pool(_evaluated(qnn.TruncAvgPool2d(3)), None, WHERE)
    shifted = nb.IntQuantizer(scale=0.5, zero_point=3.0, bit_width=8, signed=False, narrow=False, rounding="ROUND")
    with pytest.raises(NnhlsError, match=f"{WHERE}.*zero point"):
        nb.trunc_avg_pool(_evaluated(qnn.TruncAvgPool2d(3)), shifted, WHERE)
