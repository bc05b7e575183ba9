"""PyTorch modules read through torch.fx, layer by layer: the emulator against PyTorch's float
outputs (a stated tolerance: PyTorch computes in float32, nnhls in fixed point), the layouts
(channels-first to channels-last), the configuration and the errors."""

import numpy as np
import pytest

import nnhls
from nnhls import NnhlsError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

# Wide enough that the fixed-point types cost nothing visible: LSB 2**-24.
WIDE = "ap_fixed<40,16,AP_RND_CONV,AP_SAT>"
# Exact ops differ from float32 by its rounding; table functions by half a table bin.
EXACT_TOLERANCE = 1e-4
TABLE_TOLERANCE = 1e-2


class Lambda(nn.Module):
    """A module whose forward is `function` (traced by fx like any user's module)."""

    def __init__(self, function, *modules):
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.function = function

    def forward(self, x):
        return self.function(x, *self.parts)


def _randomized(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights with several channels, and batch normalizations with statistics of their own."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator) * 2 - 1)
        for child in module.modules():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                child.running_mean.copy_(torch.rand(child.running_mean.shape, generator=generator) - 0.5)
                child.running_var.copy_(torch.rand(child.running_var.shape, generator=generator) + 0.5)
    return module.eval()


def convert(module, input_shape, precision=WIDE, **options):
    config = nnhls.config_from_pytorch_model(module, input_shape, default_precision=precision, **options)
    return nnhls.convert_from_pytorch_model(module, hls_config=config, output_dir="unused")


def inputs(input_shape, n=64, seed=1):
    return np.random.default_rng(seed).uniform(-2, 2, (n, *input_shape))


def torch_outputs(module, X):
    with torch.no_grad():
        return module(torch.tensor(X, dtype=torch.float32)).numpy().astype(np.float64)


def channels_last(values):
    """PyTorch's (n, C, ...) as (n, ..., C)."""
    return np.moveaxis(values, 1, -1) if values.ndim > 2 else values


def assert_close(module, input_shape, tolerance=EXACT_TOLERANCE, **options):
    hls_model = convert(module, input_shape, **options)
    X = inputs(input_shape)
    expected = torch_outputs(module, X)
    if not options.get("transpose_outputs"):
        expected = channels_last(expected)
    got = hls_model.predict(X)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= tolerance
    return hls_model


IMAGE = (3, 8, 8)
SIGNAL = (3, 10)

LAYERS = {
    "linear": (nn.Linear(5, 4), (5,)),
    "linear_on_positions": (nn.Linear(10, 4), SIGNAL),
    "conv1d": (nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2), SIGNAL),
    "conv1d_same": (nn.Conv1d(3, 4, 4, padding="same"), SIGNAL),
    "conv2d": (nn.Conv2d(3, 5, 3, padding=1), IMAGE),
    "conv2d_strided_dilated": (nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1)), IMAGE),
    "conv2d_same": (nn.Conv2d(3, 4, 4, padding="same", bias=False), IMAGE),
    "conv2d_depthwise": (nn.Conv2d(3, 6, 3, groups=3, padding=1), IMAGE),
    "conv2d_groups": (nn.Conv2d(4, 6, 3, groups=2), (4, 6, 6)),
    "batchnorm1d": (nn.BatchNorm1d(5), (5,)),
    "batchnorm1d_signal": (nn.BatchNorm1d(3), SIGNAL),
    "batchnorm2d": (nn.BatchNorm2d(3), IMAGE),
    "relu": (nn.ReLU(), IMAGE),
    "leaky_relu": (nn.LeakyReLU(0.125), IMAGE),
    "prelu_one": (nn.PReLU(), IMAGE),
    "prelu_channels": (nn.PReLU(3), IMAGE),
    "threshold": (nn.Threshold(0.25, 0.0), IMAGE),
    "threshold_to_itself": (nn.Threshold(0.5, 0.5), IMAGE),
    "threshold_to_a_value": (nn.Threshold(-0.25, 1.75), IMAGE),
    "hardtanh": (nn.Hardtanh(-0.5, 1.5), IMAGE),
    "relu6": (nn.ReLU6(), IMAGE),
    "maxpool1d": (nn.MaxPool1d(3, stride=2, padding=1), SIGNAL),
    "maxpool2d": (nn.MaxPool2d(2), IMAGE),
    "maxpool2d_padded": (nn.MaxPool2d(3, stride=2, padding=1), IMAGE),
    "avgpool1d": (nn.AvgPool1d(2), SIGNAL),
    "avgpool2d": (nn.AvgPool2d(2), IMAGE),
    "avgpool2d_padding_counted": (nn.AvgPool2d(3, stride=2, padding=1), IMAGE),
    "avgpool2d_padding_left_out": (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), IMAGE),
    "adaptive_avg_global": (nn.AdaptiveAvgPool2d(1), IMAGE),
    "adaptive_avg_2x2": (nn.AdaptiveAvgPool2d((2, 2)), IMAGE),
    "adaptive_max_1d": (nn.AdaptiveMaxPool1d(1), SIGNAL),
    "flatten": (nn.Flatten(), IMAGE),
    "upsample_nearest": (nn.Upsample(scale_factor=2), IMAGE),
    "upsample_bilinear": (nn.Upsample(scale_factor=2, mode="bilinear"), IMAGE),
    "upsample_nearest_1d": (nn.Upsample(scale_factor=3), SIGNAL),
    "constant_pad2d": (nn.ConstantPad2d((1, 2, 0, 1), 0.0), IMAGE),
    "zero_pad2d": (nn.ZeroPad2d(1), IMAGE),
    "constant_pad1d": (nn.ConstantPad1d((2, 1), 0.0), SIGNAL),
    "dropout_identity": (nn.Sequential(nn.Dropout(0.5), nn.Identity()), IMAGE),
    # Functional forms and tensor methods, as users write them.
    "f_relu_view": (Lambda(lambda x: F.relu(x).view(x.size(0), -1)), IMAGE),
    "reshape_and_linear": (Lambda(lambda x, fc: fc(x.reshape(x.shape[0], 4, 48)), nn.Linear(48, 5)), IMAGE),
    "flatten_method": (Lambda(lambda x: x.flatten(1)), IMAGE),
    "permute": (Lambda(lambda x: x.permute(0, 3, 1, 2)), IMAGE),
    "transpose_and_linear": (Lambda(lambda x, fc: fc(x.transpose(1, 2)), nn.Linear(3, 4)), SIGNAL),
    "squeeze_unsqueeze": (Lambda(lambda x: torch.unsqueeze(x, 1).squeeze(1)), SIGNAL),
    "cat_channels": (Lambda(lambda x, conv: torch.cat([x, conv(x)], dim=1), nn.Conv2d(3, 2, 1)), IMAGE),
    "cat_height": (Lambda(lambda x: torch.cat((x, F.relu(x)), 2)), IMAGE),
    "add_sub_mul": (Lambda(lambda x, conv: (x + conv(x)) * (x - conv(x)), nn.Conv2d(3, 3, 1)), IMAGE),
    "maximum_minimum": (Lambda(lambda x: torch.maximum(x, -x) - torch.minimum(x, F.relu(x))), IMAGE),
    "scalar_constants": (Lambda(lambda x: (x + 1.5) * 0.25 - 2 / 8 + x / 4), IMAGE),
    "channel_constant": (Lambda(lambda x, bn: x * bn.weight.view(1, 3, 1, 1) + bn.bias.view(3, 1, 1),
                                nn.BatchNorm2d(3)), IMAGE),
    "computed_constant": (Lambda(lambda x, bn: x * torch.exp(bn.weight).view(3, 1, 1) - torch.ones(1),
                                 nn.BatchNorm2d(3)), IMAGE),
    "mean_spatial": (Lambda(lambda x: x.mean((2, 3))), IMAGE),
    "f_pools": (Lambda(lambda x: F.avg_pool2d(F.max_pool2d(x, 2), 2, count_include_pad=False)), IMAGE),
    "f_pad_interpolate": (Lambda(lambda x: F.interpolate(F.pad(x, (1, 1)), scale_factor=2)), IMAGE),
    "f_adaptive": (Lambda(lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1)), IMAGE),
    "clamp_hardtanh_leaky": (Lambda(lambda x: F.leaky_relu(torch.clamp(F.hardtanh(x), -0.75, 0.75), 0.5)), IMAGE),
}

TABLE_LAYERS = {
    "sigmoid": (nn.Sigmoid(), IMAGE),
    "tanh": (nn.Tanh(), IMAGE),
    "elu": (nn.ELU(0.5), IMAGE),
    "softplus": (nn.Softplus(), IMAGE),
    "softsign": (nn.Softsign(), IMAGE),
    "hardsigmoid": (nn.Hardsigmoid(), IMAGE),
    "softmax_vector": (nn.Softmax(dim=1), (6,)),
    "softmax_channels": (nn.Softmax(dim=1), IMAGE),
    "softmax_last_axis": (nn.Softmax(dim=-1), SIGNAL),
    "f_functions": (Lambda(lambda x: torch.sigmoid(x) + torch.tanh(x) + F.elu(x) + F.softsign(x)), IMAGE),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_pytorch(name):
    module, input_shape = LAYERS[name]
    assert_close(_randomized(module), input_shape)


@pytest.mark.parametrize("name", list(TABLE_LAYERS))
def test_table_function_matches_pytorch(name):
    module, input_shape = TABLE_LAYERS[name]
    assert_close(_randomized(module), input_shape, TABLE_TOLERANCE)


class Residual(nn.Module):
    """A CNN of the shape users write: residual add, concatenation, view, Linear."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.conv3 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 2, 1)
        self.pool, self.fc = nn.MaxPool2d(2), nn.Linear(6 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = torch.cat([self.conv2(x) + x, self.conv3(x)], dim=1)
        x = self.pool(x)
        return self.fc(x.view(x.size(0), -1))


def test_the_flatten_before_a_linear_costs_no_transpose():
    hls_model = assert_close(_randomized(Residual()), IMAGE)
    ops = [node.op for node in hls_model.graph]
    # One at the input ('full': the design takes PyTorch's layout); the one before the view went into fc's rows.
    assert ops.count("transpose") == 1 and hls_model.graph["x_transpose"].perm == (1, 2, 0)


def test_internal_conversion_takes_channels_last_inputs():
    module = _randomized(Residual())
    hls_model = convert(module, IMAGE, channels_last_conversion="internal")
    X = inputs(IMAGE)
    assert "transpose" not in [node.op for node in hls_model.graph]
    got = hls_model.predict(channels_last(X))
    assert np.abs(got - torch_outputs(module, X)).max() <= EXACT_TOLERANCE


def test_outputs_in_pytorch_layout_with_transpose_outputs():
    module = _randomized(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    assert_close(module, IMAGE, transpose_outputs=True)
    channels_last_model = assert_close(module, IMAGE)
    assert channels_last_model.predict(inputs(IMAGE)).shape == (64, 6, 6, 4)


def test_off_keeps_pytorch_order_and_refuses_what_needs_channels_last():
    assert_close(_randomized(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))), (5,),
                 channels_last_conversion="off")
    with pytest.raises(NnhlsError, match="channels_last_conversion='off'"):
        convert(_randomized(nn.Conv2d(3, 4, 3)), IMAGE, channels_last_conversion="off")


def test_several_inputs():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(2, 3)

        def forward(self, x, y):
            return F.relu(self.a(x)) + self.b(y)

    module = _randomized(Two())
    hls_model = convert(module, [(4,), (2,)])
    X, Y = inputs((4,)), inputs((2,), seed=2)
    with torch.no_grad():
        expected = module(torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)).numpy()
    assert np.abs(hls_model.predict([X, Y]) - expected).max() <= EXACT_TOLERANCE


def test_configuration_names_the_fx_nodes_and_keeps_the_settings():
    config = nnhls.config_from_pytorch_model(_randomized(Residual()), IMAGE, granularity="name",
                                             channels_last_conversion="internal", transpose_outputs=True)
    assert config["InputShape"] == [3, 8, 8]
    assert config["Model"]["ChannelsLastConversion"] == "internal" and config["Model"]["TransposeOutputs"] is True
    assert {"conv1", "bn1", "relu", "conv2", "add", "cat", "pool", "view", "fc"} <= set(config["LayerName"])
    config["LayerName"]["fc"]["ReuseFactor"] = 4
    hls_model = nnhls.convert_from_pytorch_model(_randomized(Residual()), hls_config=config, output_dir="unused")
    assert hls_model.graph["fc"].reuse_factor == 4
    assert nnhls.utils.config_from_pytorch_model is nnhls.config_from_pytorch_model


def test_convert_needs_an_input_shape():
    with pytest.raises(NnhlsError, match="input_shape"):
        nnhls.convert_from_pytorch_model(nn.Linear(3, 2), output_dir="unused")
    hls_model = nnhls.convert_from_pytorch_model(_randomized(nn.Linear(3, 2)), input_shape=(3,),
                                                 output_dir="unused")
    assert hls_model.graph.inputs[0].shape == (3,)


def test_the_module_stays_in_its_mode():
    module = nn.Sequential(nn.Linear(3, 2), nn.Dropout())
    module.train()
    convert(module, (3,))
    assert module.training


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


@pytest.mark.parametrize("module, input_shape, match", [
    (nn.Sequential(nn.Linear(3, 4), nn.GELU()), (3,), r"module '1' \(GELU, fx node '_1'\) is not supported"),
    (Lambda(lambda x: torch.exp(x)), (3,), r"function torch\.exp \(fx node 'exp'\) is not supported"),
    (Lambda(lambda x: x.exp()), (3,), r"method exp \(fx node 'exp'\) is not supported"),
    (DataDependent(), (3,), r"torch\.fx cannot trace DataDependent"),
    (Lambda(lambda x: x + x[:, :1]), (3,), r"indexes"),
    (nn.Conv2d(3, 4, 3, padding_mode="reflect"), IMAGE, r"padding_mode='reflect'"),
    (nn.MaxPool2d(3, ceil_mode=True), IMAGE, r"ceil_mode=True"),
    (nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), IMAGE, r"align_corners"),
    (nn.ConstantPad2d(1, 0.5), IMAGE, r"pads with 0\.5"),
    (nn.Linear(3, 2), (4,), r"check input_shape"),
    (nn.Linear(3, 2), (3, 0), r"input_shape"),
    (Lambda(lambda x: x.view(2, -1)), (3,), r"keep the batch axis first"),
    (Lambda(lambda x: x / F.relu(x)), (3,), r"divides a tensor by a tensor"),
    (Lambda(lambda x: 2 / x), (3,), r"divide of a tensor and a constant is not supported"),
    (nn.Embedding(10, 3), (4,), r"Embedding"),
    (Lambda(lambda x, fc: fc(x) * torch.ones(2, 3), nn.Linear(3, 3)), (3,), r"broadcasts a constant"),
])
def test_what_nnhls_cannot_read_is_an_error_naming_it(module, input_shape, match):
    with pytest.raises(NnhlsError, match=match):
        convert(module, input_shape)


def test_a_module_that_is_not_one():
    with pytest.raises(NnhlsError, match="expected a torch.nn.Module"):
        convert(object(), (3,))


def test_compare_reads_every_layer_in_its_layout():
    module = _randomized(Residual())
    for conversion in ("full", "internal"):
        hls_model = convert(module, IMAGE, precision="ap_fixed<24,10,AP_RND_CONV,AP_SAT>",
                            channels_last_conversion=conversion)
        X = inputs(IMAGE)
        comparison = nnhls.compare(module, hls_model, X if conversion == "full" else channels_last(X))
        layers = {row.layer for row in comparison}
        assert {"bn1", "relu", "add", "cat", "pool", "fc"} <= layers  # conv1's output is folded into bn1's
        # Each layer's output within the rounding of its weights' types from PyTorch's float: the
        # layouts line up (a transposition would be off by whole values, some 10**4 LSBs).
        assert max(row.max_error_lsb for row in comparison) <= 128


def test_numerical_profile_draws_pytorch_layer_outputs(tmp_path):
    pytest.importorskip("matplotlib")
    module = _randomized(Residual())
    hls_model = convert(module, IMAGE)
    from nnhls.profiling import _framework_outputs

    framework = _framework_outputs(module, hls_model, inputs(IMAGE))
    assert framework["fc"].shape == (64, 5) and framework["relu"].shape == (64, 8, 8, 4)  # channels-last
    path = nnhls.profiling.numerical(module, hls_model, inputs(IMAGE), path=tmp_path / "profile.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_older_spellings_of_the_input_shape():
    module = _randomized(nn.Linear(3, 2))
    assert convert(module, (None, 3)).graph.inputs[0].shape == (3,)  # a leading None for the batch axis
    with pytest.raises(NnhlsError, match="give the input shape to config_from_pytorch_model"):
        nnhls.convert_from_pytorch_model(module, (None, 3))


def test_arguments_nnhls_does_not_read_are_an_error_naming_the_node():
    with pytest.raises(NnhlsError, match=r"function torch\.mean \(fx node 'mean'\) is called "
                                         r"with arguments nnhls does not read"):
        convert(Lambda(lambda x: torch.mean(x, (2, 3), out=None)), IMAGE)


def test_layer_names_may_be_module_paths():
    module = _randomized(nn.Sequential(nn.Sequential(nn.Linear(4, 6), nn.ReLU()), nn.Linear(6, 3)))
    config = nnhls.config_from_pytorch_model(module, (4,))
    config["LayerName"] = {"0.0": {"ReuseFactor": 2}, "1": {"ReuseFactor": 3}}
    hls_model = nnhls.convert_from_pytorch_model(module, hls_config=config, output_dir="unused")
    assert hls_model.graph["_0_0"].reuse_factor == 2 and hls_model.graph["_1"].reuse_factor == 3


def test_threshold_gives_its_value_at_the_threshold_itself():
    module = Lambda(lambda x: F.threshold(x, 0.5, -3.0))
    hls_model = convert(module, (9,))
    X = np.arange(-4, 5)[None, :] / 4.0  # 0.5 is among them
    assert np.array_equal(hls_model.predict(X), torch_outputs(module, X))


def test_yaml_configuration_reads_a_saved_module(tmp_path):
    from nnhls.converters import convert_from_config

    module = _randomized(Residual())
    torch.save(module, tmp_path / "model.pt")
    (tmp_path / "config.yml").write_text(
        "PytorchModel: model.pt\nInputShape: [3, 8, 8]\nOutputDir: prj\nIOType: io_stream\n"
        "HLSConfig:\n  Model:\n    Precision: ap_fixed<24,10>\n  LayerName:\n    fc:\n      ReuseFactor: 4\n")
    hls_model = convert_from_config(tmp_path / "config.yml")
    assert hls_model.graph["fc"].reuse_factor == 4 and hls_model.io_type == "io_stream"
    expected = convert(module, IMAGE, precision="ap_fixed<24,10>").predict(inputs(IMAGE))
    assert np.array_equal(hls_model.predict(inputs(IMAGE)), expected)
    (tmp_path / "bad.yml").write_text("PytorchModel: model.pt\nOutputDir: prj\n")
    with pytest.raises(NnhlsError, match=r"bad.yml:1: PytorchModel needs InputShape"):
        convert_from_config(tmp_path / "bad.yml")
    torch.save(module.state_dict(), tmp_path / "weights.pt")
    (tmp_path / "weights.yml").write_text("PytorchModel: weights.pt\nInputShape: [3, 8, 8]\n")
    with pytest.raises(NnhlsError, match="not a torch.nn.Module"):
        convert_from_config(tmp_path / "weights.yml")


def test_layers_have_the_field_s_class_names():
    module = _randomized(Lambda(lambda x, conv, bn, fc: fc(F.adaptive_avg_pool2d(bn(conv(x)), 1).flatten(1)),
                                nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2)))
    hls_model = convert(module, IMAGE)
    names = {node.name: node.class_name for node in hls_model.get_layers()}
    assert names["parts_0"] == "Conv2D" and names["adaptive_avg_pool2d"] == "GlobalPooling2D"
    assert names["parts_2"] == "Dense"
    on_positions = convert(_randomized(nn.Linear(10, 4)), SIGNAL)
    assert on_positions.graph["linear"].op == "conv" and on_positions.graph["linear"].class_name == "Dense"
