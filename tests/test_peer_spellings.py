"""Scripts written for hls4ml, run after `import nnhls as hls4ml`: the spellings they use mean
what they mean there (configuration keys, activations, converter arguments, the model's graph
and layers), and a project name that cannot be a C++ top function is an error before anything
is written."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras (Keras 2) models

import re  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

tf_keras = pytest.importorskip("tf_keras")
keras3 = pytest.importorskip("keras")
qkeras = pytest.importorskip("qkeras")

import nnhls as hls4ml  # noqa: E402
from nnhls.converters import _check_project_name  # noqa: E402
from nnhls.errors import NnhlsError  # noqa: E402
from nnhls.types import parse_precision  # noqa: E402

LSB = 2.0**-10  # of the default fixed<16,6>
GRID = np.arange(-32, 32, LSB)  # every value of fixed<16,6>, zero and every tie of a coarser grid included


def sequential(framework, n, *layers, name="model"):
    return framework.Sequential([framework.Input((n,), name="x"), *layers], name=name)


def set_weights(model, seed=0):
    """Multiples of 1/8, different per channel (the float model's sums are exact too); a batch
    normalization's variance stays positive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = [np.round(rng.uniform(-2, 2, w.shape) * 8) / 8 for w in layer.get_weights()]
        if type(layer).__name__ == "BatchNormalization":
            weights[-1] = np.abs(weights[-1]) + 0.5
        if weights:
            layer.set_weights(weights)
    return model


def convert(model, tmp_path, config=None, **arguments):
    arguments.setdefault("output_dir", str(tmp_path / "prj"))
    return hls4ml.converters.convert_from_keras_model(model, hls_config=config, **arguments)


def assert_csim_equals_emulator(hls_model, X):
    hls_model.compile()
    assert np.array_equal(hls_model.predict(X, engine="csim"), hls_model.predict(X))


# project names -------------------------------------------------------------------------------

REJECTED_NAMES = {
    "is a C\\+\\+ keyword": ["class", "int", "float", "namespace", "template", "register", "co_await", "char8_t",
                         "requires", "nullptr"],
    "is an alternative token of C\\+\\+": ["and", "or", "not", "xor_eq", "bitand", "compl"],
    "is reserved for the C\\+\\+ implementation": ["__model", "my__net", "_Model", "_model"],
    "is a type, object or macro of the C library": ["size_t", "FILE", "stdin", "errno", "NULL", "int8_t",
                                                     "uint_fast32_t", "INT64_MAX", "offsetof", "linux"],
    "names a part of the project's own code": ["nnhls", "NNHLS_TRACE", "nnhls_predict", "ap_fixed", "AP_SAT",
                                               "ap_detail", "hls", "std"],
    "would overwrite the project's firmware/defines.h": ["defines", "Defines"],
    "would overwrite the project's firmware/parameters.h": ["parameters"],
    "is a name the written project declares itself": ["main", "layer3_t", "layer0_packet_t", "config2", "w4",
                                                      "b1", "N_LAYER1", "exp_index5", "index2", "table2_codes",
                                                      "weight3_t", "thresholds1_loaded"],
}


@pytest.mark.parametrize("name, reason", [(name, reason) for reason, names in REJECTED_NAMES.items()
                                          for name in names])
def test_a_project_name_that_cannot_be_the_top_function_is_an_error_before_anything_is_written(name, reason,
                                                                                              tmp_path):
    model = sequential(tf_keras, 4, tf_keras.layers.Dense(2, name="dense"))
    with pytest.raises(NnhlsError, match=rf"project_name '{re.escape(name)}' {reason}.*choose another name"):
        convert(model, tmp_path, project_name=name)
    assert not (tmp_path / "prj").exists()


@pytest.mark.parametrize("name", ["my-project", "1net", "mod\u00e8le", "", "a b", None, 3])
def test_a_project_name_that_is_no_c_identifier_is_an_error(name, tmp_path):
    model = sequential(tf_keras, 4, tf_keras.layers.Dense(2, name="dense"))
    with pytest.raises(NnhlsError, match="must be a C identifier"):
        convert(model, tmp_path, project_name=name)
    assert not (tmp_path / "prj").exists()


def test_the_yaml_flow_rejects_a_keyword_as_project_name_naming_its_line(tmp_path):
    from nnhls.converters import convert_from_config
    from nnhls.examples import DIGITS_QCNN

    path = tmp_path / "config.yml"
    path.write_text(f"KerasH5: {DIGITS_QCNN}\nOutputDir: prj\nProjectName: class\n")
    with pytest.raises(NnhlsError, match=r"config.yml:3: ProjectName 'class' is a C\+\+ keyword"):
        convert_from_config(path)
    assert not (tmp_path / "prj").exists()


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_names_near_reserved_ones_are_accepted_and_compile(io_type, tmp_path):
    """C library functions are reserved only with their own signatures: a top function `exp`
    overloads it legally. Names merely containing a keyword or a generated name are fine."""
    model = set_weights(sequential(tf_keras, 4, tf_keras.layers.Dense(3, activation="sigmoid", name="dense"),
                                   tf_keras.layers.Softmax(name="softmax")))
    for name in ("classifier", "model1", "w4net", "index", "x", "Int", "configs", "layer1"):
        _check_project_name(name, "project_name")
    X = np.random.default_rng(0).normal(0, 2, (50, 4))
    for name in ("exp", "printf", "Main", "layer1_out", "hls_model"):
        hls_model = convert(model, tmp_path, project_name=name, io_type=io_type, output_dir=tmp_path / name)
        assert_csim_equals_emulator(hls_model, X)


def _declared_names(folder):
    """Every identifier the written project declares at global scope: types, structs, constant
    arrays, macros (in every header, the shipped ones too) and the testbench's main."""
    declarations = re.compile(r"^(?:typedef .*?(\w+);|struct (\w+)|static (?:const )?[\w:<>, ]+? (\w+)(?:\[| =)"
                              r"|namespace (\w+)|int (main)\()", re.M)
    names = set()
    for path in folder.rglob("*"):
        if path.suffix not in (".h", ".cpp"):
            continue
        text = path.read_text()
        names.update(re.findall(r"^\s*#\s*define\s+(\w+)", text, re.M))
        if path.parent.name not in ("nnhls", "ap_types"):  # the shipped kernels live in namespace nnhls
            names.update(next(filter(None, groups)) for groups in declarations.findall(text))
    return names


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_every_name_the_writer_declares_is_refused_as_project_name(io_type, tmp_path):
    """Pins the list of generated names to the writer: networks holding every op kind."""
    from test_equivalence import IMAGE_SEEDS, NETWORKS, SEEDS, realize

    declared = set()
    for network in NETWORKS:
        for seed in (IMAGE_SEEDS if network in ("images", "signals") else SEEDS)[:2]:
            hls_model, _ = realize(seed, "Vivado", "Latency", io_type, tmp_path, network)
            declared |= _declared_names(hls_model.write())
    declared -= {"myproject", "MYPROJECT_H"}  # the top function and its header's guard, named after the project
    assert {"main", "config1", "layer0_t", "w1", "N_LAYER0"} <= declared
    accepted = []
    for name in sorted(declared):
        try:
            _check_project_name(name, "project_name")
            accepted.append(name)
        except NnhlsError:
            pass
    assert accepted == []


# configuration keys in the field's spelling --------------------------------------------------------

def softmax_model():
    return set_weights(sequential(tf_keras, 6, tf_keras.layers.Dense(5, name="dense"),
                                  tf_keras.layers.Activation("softmax", name="softmax")))


def test_exp_table_t_and_inv_table_t_set_the_softmax_tables_types(tmp_path):
    model = softmax_model()
    X = np.random.default_rng(1).normal(0, 1, (300, 6))
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    default = convert(model, tmp_path / "default", config)
    config["LayerName"]["softmax"]["exp_table_t"] = "ap_fixed<18,8>"
    config["LayerName"]["softmax"]["inv_table_t"] = "ap_fixed<18,4,AP_RND,AP_SAT>"
    hls_model = convert(model, tmp_path, config)
    softmax = hls_model.graph["softmax"]
    # in one entry the field's spelling wins over the generated Precision's exp_table / inv_table
    assert softmax.exp_table.type == parse_precision("ap_fixed<18,8>")
    assert softmax.inv_table.type == parse_precision("ap_fixed<18,4,AP_RND,AP_SAT>")
    assert softmax.get_attr("exp_table_t") == parse_precision("ap_fixed<18,8>")
    assert not np.array_equal(hls_model.predict(X), default.predict(X))  # the tables really changed
    assert_csim_equals_emulator(hls_model, X)


@pytest.mark.parametrize("function, table_below", [("sigmoid", 32), ("tanh", 32), ("elu", 0), ("selu", 0),
                                                  ("softplus", 8)])
def test_table_t_sets_the_table_type_of_table_driven_activations(function, table_below, tmp_path):
    model = sequential(tf_keras, 1, tf_keras.layers.Activation(function, name="f"))
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    config["LayerName"]["f"]["table_t"] = "ap_fixed<10,5,AP_RND,AP_SAT>"
    hls_model = convert(model, tmp_path, config)
    assert hls_model.graph["f"].table.type == parse_precision("ap_fixed<10,5,AP_RND,AP_SAT>")
    X = GRID[GRID < table_below, None]  # below the exact linear tail
    from_table = hls_model.predict(X)
    assert np.array_equal(from_table * 32, np.round(from_table * 32))  # on the 10-bit table's grid of 2**-5
    assert not np.array_equal(from_table, convert(model, tmp_path / "default").predict(X))
    assert_csim_equals_emulator(hls_model, GRID[::9, None])


def test_aliases_under_layer_type_apply_to_the_layers_that_have_the_table(tmp_path):
    model = sequential(tf_keras, 4, tf_keras.layers.Activation("relu", name="relu"),
                       tf_keras.layers.Activation("tanh", name="tanh"), tf_keras.layers.Dense(3, name="dense"),
                       tf_keras.layers.Softmax(name="softmax"))
    config = hls4ml.utils.config_from_keras_model(model, granularity="type")
    config["LayerType"]["Activation"]["table_t"] = "ap_fixed<12,2>"
    config["LayerType"]["Dense"]["accum_t"] = "auto"
    config["LayerType"]["Softmax"] = {"exp_table_t": "ap_ufixed<16,1>", "skip": False}
    hls_model = convert(model, tmp_path, config)
    assert hls_model.graph["tanh"].table.type == parse_precision("ap_fixed<12,2>")
    assert hls_model.graph["softmax"].exp_table.type == parse_precision("ap_ufixed<16,1>")
    config["LayerType"]["Dense"]["table_t"] = "ap_fixed<12,2>"
    with pytest.raises(NnhlsError, match=r"config\['LayerType'\]\['Dense'\]\['table_t'\]: no layer of this type "
                                         r"has a 'table' precision"):
        convert(model, tmp_path, config)


@pytest.mark.parametrize("layer, key, message", [
    ("dense", "table_t", r"layer 'dense' \(Dense, a dense layer\) has no 'table' precision; table_t applies to "
                         r"table-driven activations"),
    ("softmax", "table_t", r"layer 'softmax' \(Activation, a softmax layer\) has no 'table' precision"),
    ("dense", "exp_table_t", r"layer 'dense' \(Dense, a dense layer\) has no 'exp_table' precision; exp_table_t "
                             r"applies to softmax layers"),
    ("dense", "inv_table_t", r"layer 'dense' .*has no 'inv_table' precision"),
])
def test_an_alias_on_a_layer_without_that_table_is_an_error_naming_layer_and_key(layer, key, message, tmp_path):
    config = hls4ml.utils.config_from_keras_model(softmax_model(), granularity="name")
    config["LayerName"][layer][key] = "ap_fixed<18,8>"
    with pytest.raises(NnhlsError, match=rf"config\['LayerName'\]\['{layer}'\]\['{key}'\]: {message}"):
        convert(softmax_model(), tmp_path, config)
    assert not (tmp_path / "prj").exists()


def test_an_alias_value_is_validated_like_a_precision_string(tmp_path):
    config = hls4ml.utils.config_from_keras_model(softmax_model(), granularity="name")
    config["LayerName"]["softmax"]["exp_table_t"] = "ap_fixed<18;8>"
    with pytest.raises(NnhlsError, match=r"config\['LayerName'\]\['softmax'\]\['exp_table_t'\]: precision "
                                         r"'ap_fixed<18;8>': fixed types take 2 to 5 arguments"):
        convert(softmax_model(), tmp_path, config)


def test_every_precision_has_its_t_spelling(tmp_path):
    """hls4ml names every precision `<name>_t`: result_t, accum_t, weight_t and bias_t too."""
    model = softmax_model()
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    config["LayerName"]["dense"].update(weight_t="ap_fixed<8,3>", bias_t="ap_fixed<9,4>",
                                        accum_t="ap_fixed<28,12>", result_t="ap_fixed<14,5>")
    dense = convert(model, tmp_path, config).graph["dense"]
    assert (dense.weight.type, dense.bias.type, dense.accum_type, dense.result_type) == tuple(
        parse_precision(p) for p in ("ap_fixed<8,3>", "ap_fixed<9,4>", "ap_fixed<28,12>", "ap_fixed<14,5>"))


def test_skip_in_lower_case_skips_the_softmax(tmp_path):
    model = softmax_model()
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    config["LayerName"]["softmax"]["skip"] = True  # the generated entry says Skip: False
    hls_model = convert(model, tmp_path, config)
    assert "softmax" not in hls_model.graph
    X = np.random.default_rng(2).normal(0, 1, (20, 6))
    assert np.array_equal(hls_model.predict(X), convert(model, tmp_path / "b", {
        "LayerName": {"softmax": {"Skip": True}}}).predict(X))
    config["LayerName"]["dense"]["skip"] = True
    with pytest.raises(NnhlsError, match=r"config\['LayerName'\]\['dense'\]\['skip'\] applies to softmax layers"):
        convert(model, tmp_path, config)


def test_a_softmax_strategy_of_stable_or_argmax_names_its_implementation(tmp_path):
    """The field's older spelling: config['LayerName']['softmax']['Strategy'] = 'Stable'."""
    model = softmax_model()
    for strategy, implementation in (("Stable", "stable"), ("argmax", "argmax"), ("Latency", "stable")):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        config["LayerName"]["softmax"]["Strategy"] = strategy
        assert convert(model, tmp_path / strategy, config).graph["softmax"].implementation == implementation
    config["LayerName"]["softmax"]["Strategy"] = "Legacy"
    with pytest.warns(UserWarning, match=r"\['softmax'\]\['Strategy'\] is 'Legacy': nnhls realizes softmax"):
        assert convert(model, tmp_path / "legacy", config).graph["softmax"].implementation == "stable"
    config["LayerName"]["dense"]["Strategy"] = "Stable"  # not a softmax: a strategy must be Latency or Resource
    with pytest.raises(NnhlsError, match=r"\['dense'\]\['Strategy'\] is 'Stable'; valid: Latency, Resource"):
        convert(model, tmp_path / "bad", config)


# activations -------------------------------------------------------------------------------------

def _keras_outputs(model, X):
    return np.asarray(model.predict(X.astype(np.float32), batch_size=8192, verbose=0), dtype=np.float64)


@pytest.mark.parametrize("framework", [tf_keras, keras3], ids=["tf_keras", "keras3"])
def test_keras_leaky_relu_has_keras_default_slope_of_0_2(framework):
    """Verified, not assumed: tf.keras's `leaky_relu` is tf.nn.leaky_relu (alpha=0.2), Keras 3's
    keras.activations.leaky_relu(negative_slope=0.2); the LeakyReLU layer's default is 0.3."""
    from nnhls.frontends.qkeras import LEAKY_RELU_SLOPE

    out = framework.activations.get("leaky_relu")(np.array([-1.0, 0.0, 2.0], dtype=np.float32))
    assert np.array_equal(np.asarray(out), np.float32([-0.2, 0.0, 2.0]))
    assert LEAKY_RELU_SLOPE == 0.2


@pytest.mark.parametrize("framework", [tf_keras, keras3], ids=["tf_keras", "keras3"])
@pytest.mark.parametrize("form", ["Activation", "Dense", "Conv1D"])
def test_leaky_relu_by_name_is_keras_leaky_relu(framework, form, tmp_path):
    """As exact as the ReLU family is: x >= 0 (and 0) pass unchanged, bit for bit; below 0 the slope
    0.2 is quantized once into the param precision (2**-16 steps), so within one result LSB plus
    2**-17 |x| of Keras. With a param precision holding float32's 0.2 exactly and a result type
    holding every product, nnhls computes Keras's product exactly: Keras's float32 output is it,
    rounded to float32. Identical to a LeakyReLU(0.2) layer."""
    layers = framework.layers
    if form == "Activation":
        model, leaky = sequential(framework, 1, layers.Activation("leaky_relu", name="f")), "f"
        X = GRID[:, None]
    elif form == "Dense":
        model, leaky = set_weights(sequential(framework, 3, layers.Dense(4, activation="leaky_relu", name="d"))), \
            "d_leaky_relu"
        X = np.random.default_rng(3).integers(-8, 9, (400, 3)) / 4
    else:
        model = set_weights(framework.Sequential([framework.Input((6, 2), name="x"),
                                                  layers.Conv1D(3, 2, activation="leaky_relu", name="c")]))
        leaky, X = "c_leaky_relu", np.random.default_rng(4).integers(-8, 9, (300, 6, 2)) / 4
    X[:3] = 0
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    hls_model = convert(model, tmp_path, config)
    node = hls_model.graph[leaky]
    assert node.op == "prelu" and node.class_name == "Activation" and node.get_attr("activation") == "leaky_relu"
    fixed, expected = hls_model.predict(X), _keras_outputs(model, X)
    positive = expected >= 0
    assert np.array_equal(fixed[positive], expected[positive])
    assert np.all(np.abs(fixed - expected) <= LSB + 2.0**-17 * np.abs(expected) * 5)
    # the slope as float32 holds it (0.2f = 13421773 * 2**-26), and 36 fractional bits for x * 0.2f
    config["LayerName"][leaky]["Precision"].update(param="ap_fixed<28,2,AP_RND_CONV>", result="ap_fixed<48,12>")
    exact = convert(model, tmp_path / "exact", config).predict(X)
    assert np.array_equal(exact.astype(np.float32), expected.astype(np.float32))
    assert not np.array_equal(exact, expected)  # nnhls's products are exact, Keras's rounded to float32
    if form == "Activation":  # the very node a LeakyReLU(0.2) layer gives
        slope = {"negative_slope": 0.2} if framework is keras3 else {"alpha": 0.2}
        layer = convert(sequential(framework, 1, layers.LeakyReLU(**slope, name="f")), tmp_path / "layer")
        assert np.array_equal(layer.predict(X), fixed)
        assert_csim_equals_emulator(hls_model, X[::7])


def test_qkeras_layers_take_leaky_relu_too(tmp_path):
    from qkeras import QActivation

    model = sequential(tf_keras, 1, QActivation("leaky_relu", name="q"))
    hls_model = convert(model, tmp_path)
    positive = GRID >= 0
    assert np.array_equal(hls_model.predict(GRID[positive, None]), _keras_outputs(model, GRID[positive, None]))
    by_name = convert(sequential(tf_keras, 1, tf_keras.layers.Activation("leaky_relu", name="q")), tmp_path / "b")
    assert np.array_equal(hls_model.predict(GRID[:, None]), by_name.predict(GRID[:, None]))


# Inputs around QKeras's step at 2**-24 (float32's 0.5 + x/2 rounds to 0.5 up to it), zero, and
# the ends of the input type ap_fixed<32,4> (28 fractional bits).
STEP_INPUTS = np.array([0.0, 2.0**-28, 2.0**-25, 2.0**-24 - 2.0**-28, 2.0**-24, 2.0**-24 + 2.0**-28, 1.5 * 2.0**-24,
                        2.0**-23, 2.0**-10, 0.5, 1.0, 7.9, -2.0**-28, -2.0**-24, -2.0**-24 - 2.0**-28, -0.5, -1.0,
                        -8.0])


@pytest.mark.parametrize("function, levels", [("binary_tanh", (-1, 1)), ("binary_sigmoid", (0, 1))])
def test_qkeras_binary_tanh_and_binary_sigmoid_equal_qkeras_at_zero_and_at_the_step(function, levels, tmp_path):
    """QKeras 0.9.0: binary_tanh(x) = 2 round(clip(x/2 + 1/2, 0, 1)) - 1 in float32; tf.round
    rounds half to even, so 0 (and anything up to 2**-24) gives -1, unlike `binary` (0 gives +1)."""
    from qkeras import QActivation

    model = sequential(tf_keras, 1, QActivation(function, name="q"))
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    config["LayerName"]["x"]["Precision"]["result"] = "ap_fixed<32,4>"
    hls_model = convert(model, tmp_path, config)
    assert [node.op for node in hls_model.graph] == ["input", "step"]
    X = np.concatenate([STEP_INPUTS, np.random.default_rng(5).integers(-2**31, 2**31, 2000) * 2.0**-28])[:, None]
    expected = _keras_outputs(model, X)
    assert expected[0, 0] == levels[0] and expected[list(STEP_INPUTS).index(1.5 * 2.0**-24), 0] == levels[1]
    assert np.array_equal(hls_model.predict(X), expected)
    default_input = convert(model, tmp_path / "b")  # fixed<16,6>: the step falls between 0 and its LSB
    assert np.array_equal(default_input.predict(GRID[:, None]), _keras_outputs(model, GRID[:, None]))
    assert_csim_equals_emulator(hls_model, X)


def test_qdense_with_binary_tanh_equals_qkeras(tmp_path):
    from qkeras import QDense, quantized_bits

    model = sequential(tf_keras, 5, QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1), use_bias=False,
                                           activation="binary_tanh", name="fc"))
    set_weights(model)
    X = np.random.default_rng(6).integers(-16, 17, (500, 5)) / 8
    X[:5] = 0  # every sum 0: binary_tanh gives -1
    hls_model = convert(model, tmp_path)
    assert np.array_equal(hls_model.predict(X), _keras_outputs(model, X))
    assert np.all(hls_model.predict(X[:5]) == -1)
    assert_csim_equals_emulator(hls_model, X)


def test_ternary_tanh_is_no_qkeras_activation_and_a_clear_error(tmp_path):
    """QKeras 0.9.0 has binary_tanh but no ternary_tanh: QKeras itself refuses the name, and a
    function the model defines under that name computes what nnhls cannot know."""
    from qkeras import QActivation

    with pytest.raises(ValueError, match="ternary_tanh"):
        sequential(tf_keras, 2, QActivation("ternary_tanh"))

    def ternary_tanh(x):
        return tf_keras.backend.clip(x, -1, 1)

    model = sequential(tf_keras, 2, QActivation(ternary_tanh, name="t"))
    with pytest.raises(NnhlsError, match=r"layer 't' \(QActivation\): activation 'ternary_tanh' is not supported: "
                                         r"QKeras 0.9.0 defines no ternary_tanh.*use QKeras's ternary\(\)"):
        convert(model, tmp_path)


# converter arguments -------------------------------------------------------------------------------

def small_model():
    return set_weights(sequential(tf_keras, 4, tf_keras.layers.Dense(3, activation="relu", name="fc1"),
                                  tf_keras.layers.Dense(2, name="fc2")))


def test_bit_exact_is_accepted_and_false_only_warns_that_nnhls_is_always_exact(tmp_path):
    model = small_model()
    X = np.random.default_rng(7).normal(0, 2, (50, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = convert(model, tmp_path / "a", bit_exact=True)
        convert(model, tmp_path / "b", bit_exact=None)
    with pytest.warns(UserWarning, match="bit_exact=False: nnhls is always bit-exact"):
        inexact = convert(model, tmp_path / "c", bit_exact=False)
    assert np.array_equal(exact.predict(X), inexact.predict(X))


def test_the_peers_positional_order_and_backend_options(tmp_path):
    """(model, output_dir, project_name, input_data_tb, output_data_tb, backend, hls_config), then
    clock_uncertainty into the build script, input_data_tb into the testbench."""
    model = small_model()
    X = np.random.default_rng(8).integers(-256, 256, (7, 4)) / 64  # exact in float32 and in fixed<16,6>
    np.save(tmp_path / "x.npy", X)
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, str(tmp_path / "prj"), "jets", str(tmp_path / "x.npy"), None, "Vitis", {"Model": {"ReuseFactor": 2}},
        clock_uncertainty="27%", write_weights_txt=False)
    assert hls_model.project.project_name == "jets" and hls_model.backend == "Vitis"
    assert hls_model.graph["fc1"].reuse_factor == 2 and hls_model.output_dir == tmp_path / "prj"
    folder = hls_model.write()
    assert "set_clock_uncertainty 27%" in (folder / "build_prj.tcl").read_text()
    written = np.loadtxt(folder / "tb_data/tb_input_features.dat", ndmin=2)
    assert np.array_equal(written, X)
    np.savetxt(tmp_path / "x.dat", X)
    text = convert(model, tmp_path / "dat", input_data_tb=tmp_path / "x.dat").write()
    assert np.array_equal(np.loadtxt(text / "tb_data/tb_input_features.dat", ndmin=2), X)


def test_peer_options_that_would_change_meaning_are_refused_or_warned(tmp_path):
    model = small_model()
    with pytest.raises(NnhlsError, match="namespace='ml' is not supported"):
        convert(model, tmp_path, namespace="ml")
    with pytest.raises(NnhlsError, match="write_tar=True is not supported"):
        convert(model, tmp_path, write_tar=True)
    with pytest.raises(NnhlsError, match="clock_uncertainty 'a lot' is not valid"):
        convert(model, tmp_path, clock_uncertainty="a lot")
    with pytest.warns(UserWarning, match="output_data_tb='y.dat' is not used: nnhls's testbench expects the "
                                         "emulator's outputs"):
        convert(model, tmp_path, output_data_tb="y.dat")
    with pytest.raises(NnhlsError, match="input_data_tb .*has 3 values per sample; the model's inputs take 4"):
        np.savetxt(tmp_path / "bad.dat", np.zeros((2, 3)))
        convert(model, tmp_path, input_data_tb=tmp_path / "bad.dat")
    for unknown in ({"board": "pynq-z2"}, {"fpga_part": "xc7z020"}, {"io": "io_stream"}):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            convert(model, tmp_path, **unknown)
    assert not (tmp_path / "prj").exists()


# the model's graph and layers ----------------------------------------------------------------------

def test_graph_is_a_mapping_from_layer_name_to_layer(tmp_path):
    hls_model = convert(small_model(), tmp_path)
    graph = hls_model.graph
    names = ["x", "fc1", "fc1_relu", "fc2"]
    assert graph.keys() == names and list(dict(graph)) == names and len(graph) == 4
    assert [layer.name for layer in graph.values()] == names == [name for name, _ in graph.items()]
    assert "fc1" in graph and "fc3" not in graph and graph.get("fc3") is None
    assert graph["fc1"] is graph.get("fc1") is dict(graph.items())["fc1"]
    # iterating gives the layers themselves (nnhls's own code reads the graph so), never names
    assert [layer.name for layer in graph] == names
    # so a loop written for an ordered dict of names still finds each layer
    assert [graph[name].name for name in graph] == names


def test_get_layers_gives_each_layer_its_class_name_and_attributes(tmp_path):
    from qkeras import QActivation, QDense, quantized_bits

    layers = tf_keras.layers
    model = tf_keras.Sequential([
        tf_keras.Input((8, 8, 2), name="x"), layers.ZeroPadding2D(1, name="pad"), layers.Conv2D(3, 3, name="conv"),
        layers.LeakyReLU(name="leaky"), layers.BatchNormalization(name="bn"), layers.MaxPooling2D(name="pool"),
        layers.Conv2D(2, 1, activation="hard_sigmoid", name="conv_b"),
        layers.GlobalAveragePooling2D(name="gap"), layers.Flatten(name="flat"),
        QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha="auto"), name="qfc"),
        QActivation("quantized_relu(4)", name="qrelu"), layers.Dense(3, name="fc"), layers.PReLU(name="prelu"),
        layers.Activation("elu", name="elu"), layers.Dense(3, name="fc_out"), layers.Softmax(name="softmax")])
    set_weights(model)
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    config["LayerName"]["fc"]["ReuseFactor"] = 3
    config["LayerName"]["softmax"]["exp_table_t"] = "ap_ufixed<16,1>"
    hls_model = convert(model, tmp_path, config)
    classes = {layer.name: layer.class_name for layer in hls_model.get_layers()}
    assert classes == {
        "x": "Input", "pad": "ZeroPadding2D", "conv": "Conv2D", "leaky": "ParametrizedActivation",
        "bn": "BatchNormalization", "pool": "Pooling2D", "conv_b": "Conv2D",
        "conv_b_hard_sigmoid": "HardActivation", "gap": "GlobalPooling2D", "flat": "Reshape", "qfc": "Dense",
        "qfc_scale": "ApplyAlpha", "qrelu": "Activation", "fc": "Dense", "prelu": "PReLU", "elu": "Activation",
        "fc_out": "Dense",
        "softmax": "Softmax"}
    assert [layer.name for layer in hls_model.get_layers()] == hls_model.graph.keys()
    layers_ = hls_model.get_layers()
    # As hls4ml keeps them: the framework's class, the input's shape, a Dense's own activation
    assert [layers_[i].attributes["class_name"] for i in (0, 1, 2)] == ["InputLayer", "ZeroPadding2D", "Conv2D"]
    assert layers_[0].attributes["input_shape"] == [8, 8, 2]
    assert hls_model.graph["fc"].attributes["activation"] == "linear"
    fc = hls_model.graph["fc"]
    assert (fc.get_attr("reuse_factor"), fc.get_attr("strategy"), fc.get_attr("n_in"), fc.get_attr("n_out")) == \
        (3, "Latency", 4, 3)
    assert fc.get_attr("result_t") == fc.result_type and fc.get_attr("weight_t") == fc.weight.type
    assert fc.get_attr("accum_t") == fc.accum_type and fc.attributes["bias_t"] == fc.bias.type
    assert fc.get_attr("no_such_attribute", "default") == "default"
    conv = hls_model.graph["conv"]
    assert {key: conv.get_attr(key) for key in ("in_height", "in_width", "n_chan", "n_filt", "filt_height",
                                                 "out_height", "shape")} == {
        "in_height": 10, "in_width": 10, "n_chan": 2, "n_filt": 3, "filt_height": 3, "out_height": 8,
        "shape": (8, 8, 3)}
    softmax = hls_model.get_layers()[-1]
    assert softmax.get_attr("exp_table_t") == parse_precision("ap_ufixed<16,1>")
    assert (softmax.get_attr("table_size"), softmax.get_attr("implementation"), softmax.get_attr("skip")) == \
        (1024, "stable", False)
    assert hls_model.graph["elu"].get_attr("activation") == "elu"
    assert hls_model.graph["pool"].get_attr("pool_op") == "Max"
    X = np.random.default_rng(9).integers(-8, 9, (20, 8, 8, 2)) / 4
    assert_csim_equals_emulator(hls_model, X)
