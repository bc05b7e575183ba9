"""Brevitas's quantized layers read exactly: every quantizer's output equals Brevitas's own bit
for bit (float32 values), and a layer's float output (a QuantLinear without output quantizer)
is the exact value of what Brevitas computes in float32."""

import numpy as np
import pytest

import nnhls
from nnhls import NnhlsError

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")
brevitas_quant = pytest.importorskip("brevitas.quant")
nn = torch.nn


def _learned_scales(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, and activation scales that are no powers of two (as after training)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "scaling_impl" in name:
                parameter.mul_(0.7 + 0.6 * torch.rand((), generator=generator))
            else:
                parameter.copy_(torch.rand(parameter.shape, generator=generator) * 2 - 1)
    return module.eval()


def _brevitas(module, X) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.tensor(X, dtype=torch.float32))
    return np.asarray(getattr(out, "value", out), dtype=np.float32)


def _converted(module, input_shape, **options):
    config = nnhls.config_from_pytorch_model(module, input_shape, granularity="name", **options)
    return nnhls.convert_from_pytorch_model(module, hls_config=config, output_dir="unused")


def _inputs(input_shape, n=200, seed=1):
    """Any float32 values: the input's default type holds every quantizer threshold, so each input
    compares with them as its float32 value does in Brevitas."""
    return np.random.default_rng(seed).uniform(-3, 3, (n, *input_shape)).astype(np.float32).astype(np.float64)


class QuantizedEnd(nn.Module):
    """Layers ending in a quantizer: the output is a quantizer's, compared bit for bit."""

    def __init__(self, body, bit_width=8):
        super().__init__()
        self.body = body
        self.out = qnn.QuantIdentity(bit_width=bit_width)

    def forward(self, x):
        return self.out(self.body(x))


class Merges(nn.Module):
    """QuantEltwiseAdd, QuantUpsample (nearest, or bilinear rounded to the scale), torch.cat of
    QuantTensors (Brevitas 0.13's own QuantCat fails: QuantTensor has no `cat`)."""

    def __init__(self, mode="nearest"):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(2, 2, 3, padding=1, weight_bit_width=4)
        self.add = qnn.QuantEltwiseAdd()
        self.relu = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.bilinear = qnn.QuantUpsample(scale_factor=2, mode=mode)
        self.nearest = qnn.QuantUpsamplingNearest2d(scale_factor=2)

    def forward(self, x):
        x = self.inp(x)
        y = self.relu(self.add(x, self.conv(x)))
        return torch.cat([self.bilinear(y), self.nearest(y)], dim=1)


MODELS = {
    "mlp": (lambda: QuantizedEnd(nn.Sequential(
        qnn.QuantIdentity(bit_width=8), qnn.QuantLinear(12, 16, weight_bit_width=6), qnn.QuantReLU(bit_width=6),
        qnn.QuantLinear(16, 5, weight_bit_width=4))), (12,)),
    "per_channel_conv_hardtanh_pool": (lambda: QuantizedEnd(nn.Sequential(
        qnn.QuantIdentity(bit_width=8),
        qnn.QuantConv2d(2, 4, 3, padding=1, weight_quant=brevitas_quant.Int8WeightPerChannelFloat, weight_bit_width=5),
        qnn.QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0), nn.MaxPool2d(2), nn.Flatten(),
        qnn.QuantLinear(16, 3, weight_bit_width=6))), (2, 4, 4)),
    "conv1d_input_and_output_quant": (lambda: nn.Sequential(
        qnn.QuantConv1d(2, 3, 3, weight_bit_width=6, input_quant=brevitas_quant.Int8ActPerTensorFloat,
                        output_quant=brevitas_quant.Int8ActPerTensorFloat)), (2, 9)),
    "int32_bias": (lambda: QuantizedEnd(nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(6, 4, weight_bit_width=6, bias_quant=brevitas_quant.Int32Bias),
        qnn.QuantReLU(bit_width=4))), (6,)),
    "trunc_avg_pool": (lambda: QuantizedEnd(nn.Sequential(
        qnn.QuantIdentity(bit_width=6, return_quant_tensor=True), qnn.TruncAvgPool2d(2, 2))), (3, 4, 4)),
    "merges_and_upsampling": (Merges, (2, 4, 4)),
    "rounding_modes": (lambda: nn.Sequential(
        qnn.QuantIdentity(bit_width=5, float_to_int_impl_type="floor"), nn.ReLU(),
        qnn.QuantReLU(bit_width=3, float_to_int_impl_type="round_to_zero")), (7,)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_quantized_outputs_are_brevitas_bit_for_bit(name):
    make, input_shape = MODELS[name]
    module = _learned_scales(make())
    hls_model = _converted(module, input_shape, transpose_outputs=True)
    X = _inputs(input_shape)
    expected = _brevitas(module, X)
    got = hls_model.predict(X)
    # Brevitas's value is fl32(code * scale); nnhls's is code * scale exactly.
    assert np.array_equal(got.astype(np.float32), expected)
    assert len(np.unique(expected)) > 4  # the inputs reach several levels


def test_every_quantizer_inside_is_brevitas_bit_for_bit():
    """Per layer, through nnhls.compare's per-layer outputs: each Step's codes are Brevitas's."""
    module = _learned_scales(MODELS["per_channel_conv_hardtanh_pool"][0]())
    hls_model = _converted(module, (2, 4, 4))
    X = _inputs((2, 4, 4))
    from nnhls.frontends.pytorch import layer_outputs

    theirs = layer_outputs(module, hls_model.graph, [X])
    _, ours = hls_model.trace(X)
    steps = [node for node in hls_model.graph if node.op == "step"]
    assert len(steps) == 3
    for node in steps:
        codes = ours[node.name]
        # Brevitas's float32 values, times 1 / scale in float64 (the float32 value is code * scale rounded
        # once), are the codes within float32's rounding: round them and they are exactly nnhls's codes.
        assert np.array_equal(np.rint(theirs[node.framework_output]), codes), node.name
        assert np.array_equal((codes * node.framework_scale).astype(np.float32),
                              (theirs[node.framework_output] * node.framework_scale).astype(np.float32))


def test_a_float_output_is_the_exact_value_of_brevitas_float32_arithmetic():
    module = _learned_scales(nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantLinear(10, 4, weight_bit_width=6)))
    hls_model = _converted(module, (10,))
    X = _inputs((10,))
    expected = _brevitas(module, X).astype(np.float64)
    got = hls_model.predict(X)
    # Brevitas sums ten float32 products: a few float32 roundings of the largest term.
    assert np.abs(got - expected).max() <= 16 * np.spacing(np.float32(np.abs(expected).max()))
    scale_shift = hls_model.graph[hls_model.graph.outputs[0]]
    assert scale_shift.op == "scale_shift" and scale_shift.result_type.width > 32  # exact: the framework's own bits


def test_weights_are_narrow_integer_codes_and_the_scales_come_after():
    module = _learned_scales(MODELS["mlp"][0]())
    hls_model = _converted(module, (12,))
    dense = [node for node in hls_model.graph if node.op == "dense"]
    assert [node.weight.type.width for node in dense] == [6, 4]
    assert all(node.weight.type.integer == node.weight.type.width for node in dense)  # integers
    assert hls_model.graph["body_0"].result_type.width == 8  # QuantIdentity: 8-bit codes


def test_what_brevitas_computes_in_training_mode_is_refused():
    module = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantLinear(4, 2, weight_bit_width=4))
    module.train()
    with pytest.raises(NnhlsError, match="training"):
        from nnhls.frontends.pytorch import read_pytorch

        # read_pytorch puts the module in eval mode itself; a sub-module kept training is refused
        original = module.eval

        def eval_but_keep_training():
            original()
            module[0].train()
            return module

        module.eval = eval_but_keep_training
        read_pytorch(module, (4,))


def test_a_quantizer_after_a_layer_compares_its_integer_sums_per_channel():
    module = _learned_scales(MODELS["mlp"][0]())
    hls_model = _converted(module, (12,))
    ops = [(node.name, node.op) for node in hls_model.graph]
    # body_1 (QuantLinear) feeds body_2 (QuantReLU) directly: its scales and bias are in the thresholds.
    assert ("body_1_scale", "scale_shift") not in ops and hls_model.graph["body_2"].inputs == ["body_1"]
    step = hls_model.graph["body_2"]
    assert step.per_channel and step.threshold_codes.shape == (16, len(step.levels.codes) - 1)
    assert step.threshold_type.width == hls_model.graph["body_1"].result_type.width + 1
    assert hls_model.graph["body_1"].result_type.width <= 20  # integer sums of 8-bit by 6-bit codes


def test_bilinear_upsampling_rounds_to_the_scale_as_brevitas_within_its_float32_ties():
    """Brevitas interpolates the float32 values and rounds value / scale half to even; nnhls rounds
    the exact interpolation of the codes. Where that is a tie (x.5 codes, often: the weights are
    sixteenths), Brevitas's float32 lands on either side, so codes differ by one there only."""
    module = _learned_scales(Merges("bilinear"))
    hls_model = _converted(module, (2, 4, 4), transpose_outputs=True)
    X = _inputs((2, 4, 4))
    expected = _brevitas(module, X)
    got = hls_model.predict(X).astype(np.float32)
    scale = hls_model.graph["relu"].framework_scale
    assert np.abs(got - expected).max() <= scale * 1.0001
    assert np.mean(got == expected) >= 0.9
