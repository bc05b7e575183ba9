"""Recurrent layers from Keras 2, Keras 3, QKeras and PyTorch: what each frontend reads, the
numbers against the framework (QKeras: equal; float frameworks: within stated output LSBs), the
configuration's keys, the estimate, and clear errors for what nnhls does not realize."""

import tests.keras_models  # noqa: F401  sets TF_USE_LEGACY_KERAS before TensorFlow loads

import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.estimate import estimate

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")
keras = pytest.importorskip("keras")

STEPS, FEATURES = 6, 3
# Float models run with wide internal types and large tables, so that the difference from the
# framework's float32 is a few LSBs of the 16-bit output type.
WIDE = "ap_fixed<26,6,AP_RND_CONV,AP_SAT>"
OUTPUT_TYPE = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
OUTPUT_LSB = 2.0**-10


def sequences(n=300, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (n, STEPS, FEATURES)).astype(np.float32)


def randomized(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape) for w in weights])
    return model


def wide_config(model, tables=True):
    """Every precision WIDE (tables included), 65536-entry tables, the output in OUTPUT_TYPE."""
    config = nnhls.config_from_keras_model(model, granularity="name", default_precision=WIDE)
    for name, entry in config["LayerName"].items():
        if "TableSize" in entry and tables:
            entry["TableSize"] = 65536
        for key in entry.get("Precision", {}):
            if key.endswith("table"):
                entry["Precision"][key] = "ap_fixed<22,2,AP_RND,AP_SAT>"
    config["LayerName"][model.layers[-1].name]["Precision"]["result"] = OUTPUT_TYPE
    return config


def error_lsb(hls_model, model, X) -> float:
    return float(np.abs(hls_model.predict(X) - np.asarray(model.predict(X, verbose=0))).max() / OUTPUT_LSB)


KERAS_CASES = [
    ("LSTM", {}), ("LSTM", {"return_sequences": True, "go_backwards": True}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid", "use_bias": False}),
    ("GRU", {}), ("GRU", {"reset_after": False, "return_sequences": True}), ("GRU", {"go_backwards": True}),
    ("SimpleRNN", {}), ("SimpleRNN", {"activation": "relu", "return_sequences": True}),
]


@pytest.mark.parametrize("frontend", ["keras2", "keras3"])
@pytest.mark.parametrize("cell, options", KERAS_CASES, ids=[f"{c}-{'-'.join(o) or 'plain'}" for c, o in KERAS_CASES])
def test_keras_recurrent_layers_within_two_output_lsbs(tmp_path, frontend, cell, options):
    library = tf_keras if frontend == "keras2" else keras
    layers = library.layers
    head = [layers.Dense(2)]
    model = randomized(library.Sequential([layers.Input((STEPS, FEATURES)), getattr(layers, cell)(5, **options),
                                           *head]))
    hls_model = nnhls.convert_from_keras_model(model, hls_config=wide_config(model), output_dir=tmp_path / "prj")
    assert hls_model.graph[model.layers[0].name].class_name == {"SimpleRNN": "SimpleRNN"}.get(cell, cell)
    assert error_lsb(hls_model, model, sequences()) <= 2


@pytest.mark.parametrize("mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_and_time_distributed_within_two_output_lsbs(tmp_path, mode):
    layers = tf_keras.layers
    model = randomized(tf_keras.Sequential([
        layers.Input((STEPS, 4, 2)), layers.TimeDistributed(layers.Conv1D(3, 3, padding="same", strides=2)),
        layers.Reshape((STEPS, 6)), layers.TimeDistributed(layers.Dense(4)),
        layers.Bidirectional(layers.GRU(5, return_sequences=True), merge_mode=mode, name="bi"),
        layers.Bidirectional(layers.LSTM(3), merge_mode=mode), layers.Dense(2)]))
    hls_model = nnhls.convert_from_keras_model(model, hls_config=wide_config(model), output_dir=tmp_path / "prj")
    backward = hls_model.graph["bi_backward"]
    assert backward.go_backwards and backward.time_order and backward.return_sequences
    X = np.random.default_rng(1).normal(0, 1, (300, STEPS, 4, 2)).astype(np.float32)
    assert error_lsb(hls_model, model, X) <= 2


def test_a_bidirectional_layer_whose_directions_stay_apart_is_refused(tmp_path):
    layers = tf_keras.layers
    model = tf_keras.Model(*(lambda x: (x, layers.Bidirectional(layers.LSTM(3), merge_mode=None)(x)))(
        layers.Input((STEPS, FEATURES))))
    with pytest.raises(NnhlsError, match="merge_mode=None, which returns the two directions apart"):
        nnhls.config_from_keras_model(model)


@pytest.mark.parametrize("options, message", [
    ({"return_state": True}, "return_state=True, which asks for its states as outputs"),
    ({"stateful": True}, "stateful=True, which asks for a state kept from one batch to the next"),
])
def test_recurrent_settings_nnhls_does_not_realize_are_clear_errors(options, message):
    layer = tf_keras.layers.LSTM(4, **options)
    inputs = tf_keras.layers.Input((STEPS, FEATURES), batch_size=2 if options.get("stateful") else None)
    outputs = layer(inputs)
    model = tf_keras.Model(inputs, outputs[0] if options.get("return_state") else outputs)
    with pytest.raises(NnhlsError, match=message):
        nnhls.config_from_keras_model(model)


def test_a_mask_reaching_a_recurrent_layer_is_refused():
    layers = tf_keras.layers
    model = tf_keras.Sequential([layers.Input((STEPS,)), layers.Embedding(10, 4, mask_zero=True), layers.LSTM(3)])
    with pytest.raises(NnhlsError, match="mask_zero=True, and its mask reaches layer 'lstm.*' \\(LSTM\\)"):
        nnhls.config_from_keras_model(model)


@pytest.mark.parametrize("padding, strides, dilation, kernel", [("valid", 1, 1, 3), ("same", 2, 1, 3),
                                                                ("same", 1, 2, 3), ("valid", 3, 1, 2)])
def test_time_distributed_conv2d_is_one_convolution_over_the_stacked_steps(tmp_path, padding, strides, dilation,
                                                                          kernel):
    """No window reads two steps: each step's image is padded as the layer pads it, the windows
    between steps are cropped; one Conv node, the csim equal to the emulator."""
    layers = tf_keras.layers
    model = randomized(tf_keras.Sequential([
        layers.Input((3, 7, 6, 2)), layers.TimeDistributed(layers.Conv2D(3, kernel, padding=padding, strides=strides,
                                                                        dilation_rate=dilation), name="frames"),
        layers.TimeDistributed(layers.Flatten()), layers.LSTM(3)]))
    hls_model = nnhls.convert_from_keras_model(model, hls_config=wide_config(model), io_type="io_stream",
                                               output_dir=tmp_path / "prj")
    assert [node.op for node in hls_model.graph].count("conv") == 1
    X = np.random.default_rng(3).normal(0, 1, (200, 3, 7, 6, 2)).astype(np.float32)
    assert error_lsb(hls_model, model, X) <= 2
    if padding == "same" and strides == 2:
        hls_model.compile()
        assert np.array_equal(hls_model.predict(X, engine="csim"), hls_model.predict(X))


def test_time_distributed_around_a_layer_it_cannot_split_is_refused():
    layers = tf_keras.layers
    model = tf_keras.Sequential([layers.Input((STEPS, 4, 4, 1)), layers.TimeDistributed(layers.MaxPooling2D())])
    with pytest.raises(NnhlsError, match="wraps MaxPooling2D on an input of shape"):
        nnhls.config_from_keras_model(model)


# configuration --------------------------------------------------------------------------------

def lstm_model():
    layers = tf_keras.layers
    return randomized(tf_keras.Sequential([layers.Input((STEPS, FEATURES)), layers.LSTM(4, name="lstm"),
                                           layers.Dense(2, name="dense")]))


def test_the_configuration_names_every_precision_and_setting_of_a_recurrent_layer():
    entry = nnhls.config_from_keras_model(lstm_model(), granularity="name")["LayerName"]["lstm"]
    assert set(entry["Precision"]) == {"result", "weight", "bias", "recurrent_weight", "recurrent_bias", "accum",
                                       "state", "cell_state", "table", "recurrent_table"}
    assert entry["Precision"]["accum"] == "auto"
    assert entry["Precision"]["table"] == "ap_fixed<16,1,AP_RND,AP_SAT>"  # tanh's
    assert entry["Precision"]["recurrent_table"] == "ap_ufixed<16,0,AP_RND,AP_SAT>"  # sigmoid's
    assert (entry["ReuseFactor"], entry["RecurrentReuseFactor"], entry["Static"], entry["TableSize"]) == (1, 1, True, 1024)


def test_reuse_factors_static_and_table_size_reach_the_layer_and_its_parts(tmp_path):
    model = lstm_model()
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["Model"]["Strategy"] = "Resource"
    config["LayerName"]["lstm"].update(ReuseFactor=3, RecurrentReuseFactor=2, Static=False, TableSize=256)
    config["LayerName"]["lstm"]["Precision"]["state"] = "ap_fixed<12,2,AP_RND_CONV,AP_SAT>"
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")
    node = hls_model.graph["lstm"]
    assert (node.reuse_factor, node.recurrent_reuse_factor, node.static) == (3, 2, False)
    assert (node.parts["input"].reuse_factor, node.parts["recurrent"].reuse_factor) == (3, 2)
    assert node.parts["candidate"].table_size == node.parts["gate"].table_size == 256
    assert str(node.state_type) == "ap_fixed<12,2,AP_RND_CONV,AP_SAT>"
    attributes = node.attributes
    assert (attributes["n_timesteps"], attributes["n_out"], attributes["recurrent_reuse_factor"]) == (STEPS, 4, 2)
    hls_model.compile()
    X = sequences(50)
    assert np.array_equal(hls_model.predict(X, engine="csim"), hls_model.predict(X))


@pytest.mark.parametrize("entry, message", [
    ({"Static": "yes"}, r"\['Static'\] is 'yes'; use True"),
    ({"Precision": {"state": "auto"}}, "its state precision must be a type .* the state is fed back"),
])
def test_recurrent_settings_that_cannot_be_are_clear_errors(tmp_path, entry, message):
    model = lstm_model()
    config = nnhls.config_from_keras_model(model, granularity="name")
    for key, value in entry.items():
        if key == "Precision":
            config["LayerName"]["lstm"]["Precision"].update(value)
        else:
            config["LayerName"]["lstm"][key] = value
    with pytest.raises(NnhlsError, match=message):
        nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")


def test_recurrent_keys_on_another_layer_are_refused(tmp_path):
    model = lstm_model()
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["dense"]["RecurrentReuseFactor"] = 2
    with pytest.raises(NnhlsError, match=r"\['RecurrentReuseFactor'\] applies to recurrent layers; 'dense'"):
        nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")


def test_the_estimate_is_time_steps_times_one_step(tmp_path):
    model = lstm_model()
    rows = {}
    for static in (True, False):
        config = nnhls.config_from_keras_model(model, granularity="name")
        config["LayerName"]["lstm"]["Static"] = static
        rows[static] = estimate(nnhls.convert_from_keras_model(model, hls_config=config,
                                                               output_dir=tmp_path / str(static)))["lstm"]
    one_cell, unrolled = rows[True], rows[False]
    assert (one_cell.latency - 1) % STEPS == 0 and one_cell.latency == unrolled.latency
    assert unrolled.multipliers == STEPS * one_cell.multipliers
    # input 3x16 and recurrent 4x16 products, 3 products per unit in the cell
    assert one_cell.multipliers == 3 * 16 + 4 * 16 + 3 * 4


# QKeras -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qkeras():
    """QKeras 0.9.0's QSimpleRNN and QGRU call TensorFlow functions that TensorFlow 2.19 removed
    (nest.is_sequence, array_ops.unstack): without them QKeras cannot run these layers at all."""
    module = pytest.importorskip("qkeras")
    from tensorflow.python.ops import array_ops
    from tensorflow.python.util import nest

    if not hasattr(nest, "is_sequence"):
        nest.is_sequence = nest.is_nested
    if not hasattr(array_ops, "unstack"):
        array_ops.unstack = tf.unstack
    return module


QKERAS_CASES = [("QLSTM", {}), ("QLSTM", {"return_sequences": True, "go_backwards": True}),
                ("QLSTM", {"recurrent_activation": "quantized_sigmoid(8, use_real_sigmoid=True)"}),
                ("QGRU", {"reset_after": True}), ("QGRU", {"reset_after": False, "return_sequences": True}),
                ("QSimpleRNN", {}), ("QBidirectional", {})]


@pytest.mark.parametrize("cell, options", QKERAS_CASES,
                         ids=[f"{c}-{'-'.join(o) or 'plain'}" for c, o in QKERAS_CASES])
def test_qkeras_recurrent_layers_equal_qkeras(tmp_path, qkeras, cell, options):
    """8-bit kernels, biases and state, quantized tanh and QKeras's hard sigmoid (or the real
    sigmoid quantized: a staircase), on inputs of the 2**-7 grid: QKeras's float32 arithmetic is
    exact there, and nnhls gives its bits."""
    def bits():
        return qkeras.quantized_bits(8, 0, alpha=1)
    quantizers = dict(kernel_quantizer=bits(), recurrent_quantizer=bits(), bias_quantizer=bits(),
                      state_quantizer=bits(), activation="quantized_tanh(8)")
    if cell == "QBidirectional":
        layer = qkeras.QBidirectional(qkeras.QLSTM(4, recurrent_activation="hard_sigmoid", **quantizers))
    else:
        if cell != "QSimpleRNN":
            quantizers["recurrent_activation"] = "hard_sigmoid"
        layer = getattr(qkeras, cell)(4, **{**quantizers, **options})
    model = randomized(tf_keras.Sequential([tf_keras.layers.Input((STEPS, FEATURES)), layer]))
    X = (np.round(np.random.default_rng(2).uniform(-1, 1, (400, STEPS, FEATURES)) * 128) / 128).astype(np.float32)
    config = nnhls.config_from_keras_model(model, granularity="name")
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")
    assert np.array_equal(hls_model.predict(X), model.predict(X, verbose=0))
    # Saturation into the quantized activations and the state quantizer is QKeras's own.
    assert sum(hls_model.overflow_report(X).by_layer().values()) == 0
    if cell in ("QGRU", "QSimpleRNN"):
        hls_model.compile()
        assert np.array_equal(hls_model.predict(X, engine="csim"), hls_model.predict(X))


def test_a_qgru_without_recurrent_quantizer_is_refused(qkeras):
    layer = qkeras.QGRU(4, kernel_quantizer=qkeras.quantized_bits(8, 0, alpha=1))
    model = tf_keras.Sequential([tf_keras.layers.Input((STEPS, 4)), layer])
    with pytest.raises(NnhlsError, match="has no recurrent_quantizer, with which QKeras 0.9.0's QGRU multiplies"):
        nnhls.config_from_keras_model(model)


# PyTorch ----------------------------------------------------------------------------------------

TORCH_CASES = [("LSTM", 1, False, "last"), ("LSTM", 2, True, "sequence"), ("GRU", 2, True, "h_n"),
               ("GRU", 1, False, "sequence"), ("RNN", 1, False, "h_n"), ("RNN", 2, False, "relu")]


def torch_wide_config(model):
    """As wide_config: WIDE precisions, 65536-entry tables, the output `fc` in OUTPUT_TYPE."""
    config = nnhls.config_from_pytorch_model(model, (STEPS, FEATURES), granularity="name", default_precision=WIDE)
    for entry in config["LayerName"].values():
        if "TableSize" in entry:
            entry["TableSize"] = 65536
            for key in entry["Precision"]:
                if key.endswith("table"):
                    entry["Precision"][key] = "ap_fixed<22,2,AP_RND,AP_SAT>"
    config["LayerName"]["fc"]["Precision"]["result"] = OUTPUT_TYPE
    return config


def torch_model(kind, layers, bidirectional, read):
    torch = pytest.importorskip("torch")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            options = {"nonlinearity": "relu"} if read == "relu" else {}
            self.rnn = getattr(torch.nn, kind)(FEATURES, 5, num_layers=layers, batch_first=True,
                                               bidirectional=bidirectional, **options)
            self.fc = torch.nn.Linear(5 * (1 + bidirectional), 2)

        def forward(self, x):
            out, states = self.rnn(x)
            if read == "h_n":
                h_n = states[0] if kind == "LSTM" else states
                return self.fc(torch.cat([h_n[-2], h_n[-1]], dim=1) if bidirectional else h_n[-1])
            if read == "sequence":
                return self.fc(out)
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    return Model().eval()


@pytest.mark.parametrize("kind, layers, bidirectional, read", TORCH_CASES,
                         ids=[f"{k}-{n}{'-bi' * b}-{r}" for k, n, b, r in TORCH_CASES])
def test_pytorch_recurrent_modules_within_two_output_lsbs(tmp_path, kind, layers, bidirectional, read):
    torch = pytest.importorskip("torch")
    model = torch_model(kind, layers, bidirectional, read)
    hls_model = nnhls.convert_from_pytorch_model(model, hls_config=torch_wide_config(model),
                                                 output_dir=tmp_path / "prj")
    X = sequences()
    with torch.no_grad():
        expected = model(torch.tensor(X)).numpy()
    ours = hls_model.predict(X)
    assert ours.shape == expected.shape  # a sequence's outputs stay (batch, steps, features)
    assert np.abs(ours - expected).max() / OUTPUT_LSB <= 2


def time_major_models():
    torch = pytest.importorskip("torch")

    class FedTimeMajor(torch.nn.Module):  # forward takes (steps, batch, features)
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(FEATURES, 5, num_layers=2)
            self.fc = torch.nn.Linear(5, 2)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[-1])

    class TransposedInside(torch.nn.Module):  # forward takes (batch, steps, features)
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(FEATURES, 5, bidirectional=True)
            self.fc = torch.nn.Linear(10, 2)

        def forward(self, x):
            out, _ = self.gru(x.transpose(0, 1))
            return self.fc(out.transpose(0, 1).contiguous())

    return {"fed_time_major": FedTimeMajor, "transposed_inside": TransposedInside}


@pytest.mark.parametrize("name", ["fed_time_major", "transposed_inside"])
def test_pytorch_recurrent_modules_of_batch_first_false(tmp_path, name):
    """nnhls's inputs are batch first: a module fed (steps, batch, features) takes them transposed,
    in nnhls.compare too; one that transposes inside reads as any other."""
    torch = pytest.importorskip("torch")
    model = time_major_models()[name]().eval()
    hls_model = nnhls.convert_from_pytorch_model(model, hls_config=torch_wide_config(model),
                                                 output_dir=tmp_path / "prj")
    X = sequences()
    with torch.no_grad():
        expected = model(torch.tensor(X.swapaxes(0, 1) if name == "fed_time_major" else X)).numpy()
    assert np.abs(hls_model.predict(X) - expected).max() / OUTPUT_LSB <= 2
    rows = nnhls.compare(model, hls_model, X)
    assert rows[-1].layer == "fc" and rows[-1].max_error_lsb <= 2


@pytest.mark.parametrize("make, message", [
    (lambda t: t.nn.LSTM(3, 4), "has batch_first=False and reads a batch-first tensor"),
    (lambda t: t.nn.LSTM(3, 4, batch_first=True, proj_size=2), "proj_size=2"),
])
@pytest.mark.filterwarnings("ignore:LSTM with projections")
def test_pytorch_recurrent_modules_nnhls_does_not_realize_are_refused(make, message):
    torch = pytest.importorskip("torch")
    module = make(torch)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = module

        def forward(self, x):
            return self.rnn(x.relu())[0]

    with pytest.raises(NnhlsError, match=message):
        nnhls.config_from_pytorch_model(Model().eval(), (STEPS, FEATURES))


def test_reading_the_lstm_cell_state_is_refused():
    torch = pytest.importorskip("torch")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(FEATURES, 4, batch_first=True)

        def forward(self, x):
            _, (h_n, c_n) = self.rnn(x)
            return c_n[-1]

    with pytest.raises(NnhlsError, match="reads the LSTM's final cell state c_n"):
        nnhls.config_from_pytorch_model(Model().eval(), (STEPS, FEATURES))


def test_the_numerical_profile_shows_every_part_s_constants(tmp_path):
    from nnhls.profiling import _constants

    model = lstm_model()
    hls_model = nnhls.convert_from_keras_model(model, hls_config=nnhls.config_from_keras_model(model),
                                               output_dir=tmp_path / "prj")
    names = [name for name, _ in _constants(hls_model.graph["lstm"])]
    assert names == ["input weight", "input bias", "recurrent weight", "recurrent bias", "gate table",
                     "candidate table", "output table"]


def test_a_recurrent_layer_past_the_tools_limits_is_named_with_its_reuse_factor_key(tmp_path):
    from nnhls.hls.limits import synthesis_limits

    layers = tf_keras.layers
    model = randomized(tf_keras.Sequential([layers.Input((STEPS, 40)), layers.LSTM(24, name="big")]))
    hls_model = nnhls.convert_from_keras_model(model, hls_config=nnhls.config_from_keras_model(model),
                                               output_dir=tmp_path / "prj")
    messages = synthesis_limits(hls_model.graph, "io_parallel")
    # 40 x 96 input weights; 24 x 96 recurrent ones, unrolled at every one of the steps when not static
    assert not any("'big'" in m for m in messages)  # 3840 and 2304 multiplications: within the limits
    hls_model.graph["big"].static = False
    messages = synthesis_limits(hls_model.graph, "io_parallel")
    assert any("'big' (input product): the Latency strategy unrolls 23040" in m and "raise its ReuseFactor" in m
               for m in messages)
    assert any("'big' (recurrent product)" in m and "raise its RecurrentReuseFactor" in m for m in messages)


# scripts written for hls4ml ---------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:layer .* more than the tools handle well")
@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_hls4ml_s_layer_api_of_a_recurrent_layer(tmp_path, cell, return_sequences):
    """What hls4ml's own recurrent tests read: class name, sizes, activations, the input and
    output variables' shapes, and the weights as [kernel, recurrent kernel, bias, recurrent bias]."""
    import nnhls as hls4ml

    layers = tf_keras.layers
    inputs = layers.Input((3, 8))
    outputs = getattr(layers, cell)(64, return_sequences=return_sequences)(inputs)
    model = tf_keras.Model(inputs, outputs)
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado")
    hls_model = hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path))
    layer, keras_layer = list(hls_model.get_layers())[1], model.layers[1]
    assert layer.class_name == cell and layer.attributes["n_out"] == 64
    assert layer.attributes["activation"] == keras_layer.activation.__name__
    assert ("recurrent_activation" in layer.attributes) == (cell != "SimpleRNN")
    if cell != "SimpleRNN":
        assert layer.attributes["recurrent_activation"] == keras_layer.recurrent_activation.__name__
    assert layer.get_input_variable().shape == [3, 8]
    assert layer.get_output_variable().shape == outputs.shape.as_list()[1:]
    ours, theirs = [w.data for w in layer.get_weights()], keras_layer.get_weights()
    biases = list(theirs[2]) if cell == "GRU" else [theirs[2], np.zeros_like(theirs[2])]
    for mine, keras_weights in zip(ours, theirs[:2] + biases):
        np.testing.assert_array_equal(mine, keras_weights)


def test_hls4ml_s_lowercase_static_key(tmp_path):
    model = lstm_model()
    config = nnhls.config_from_keras_model(model, granularity="name")
    config["LayerName"]["lstm"]["static"] = False
    hls_model = nnhls.convert_from_keras_model(model, hls_config=config, output_dir=tmp_path / "prj")
    assert hls_model.graph["lstm"].static is False
