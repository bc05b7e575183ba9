"""ONNX and QONNX graphs op by op: small graphs built with onnx.helper, random weights with several
channels, converted and run with the emulator.

Float graphs are compared with onnxruntime. Their inputs and weights are exact binary fractions,
so an op that is not table-driven differs from float32 only by rounding into the wide type below:
a stated number of its LSBs. QONNX's quantizers (Quant, BipolarQuant, Trunc) on tensors must give
exactly what QONNX's own reference execution gives, on the rounding boundaries too."""

import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError

onnx = pytest.importorskip("onnx")
pytest.importorskip("qonnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402  (after the skips)
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.transformation.infer_shapes import InferShapes  # noqa: E402

from nnhls.frontends.onnx import read_onnx, reference_outputs, supported_ops  # noqa: E402

QONNX_DOMAIN = "qonnx.custom_op.general"
# 20 fraction bits, 12 integer bits: the grid inputs, weights and their sums are exact in it.
WIDE = "ap_fixed<32,12,AP_RND_CONV,AP_SAT>"
LSB = 2.0 ** -20
# The constants of the ReLU family and HardSigmoid (their 'param' type, 16 fraction bits by
# default) get 28, so that their rounding stays below an LSB of WIDE.
WIDE_PARAMETER = "ap_fixed<32,4,AP_RND_CONV,AP_SAT>"
# Ops without tables: float32's rounding and the wide type's rounding of inexact constants
# (a LeakyRelu's 0.01, a division by 3) stay within this many LSBs of WIDE.
EXACT_LSBS = 2
# Table-driven functions (sigmoid, tanh, elu, selu, softplus, softmax): half a table bin and the
# table's own rounding, as an absolute error in output units.
TABLE_TOLERANCE = 2.0 ** -6


# ---------------------------------------------------------------------------------------------
# Building and running models


def constant(name: str, values) -> "onnx.TensorProto":
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def int_constant(name: str, values) -> "onnx.TensorProto":
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def build(nodes, inputs: dict, outputs=("y",), initializers=(), opset: int = 13, qonnx_opset: int = 1,
          declare_output_shapes=True, as_exported=True):
    """A model of `nodes`; `inputs` maps each input's name to its shape without the batch axis
    (the batch axis is symbolic, as exporters write it). Output shapes are declared as an exporter
    would, from qonnx's shape inference (which knows QONNX's ops). With `as_exported`, Conv, MaxPool
    and BatchNormalization get every attribute PyTorch's exporter writes (qonnx converts them to
    channels-last only with those). `qonnx_opset` 2 makes Trunc v2."""
    if as_exported:
        with_exported_attributes(nodes, initializers)
    graph = helper.make_graph(
        list(nodes), "test_graph",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *shape]) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    if any(node.domain == QONNX_DOMAIN for node in nodes):
        opsets.append(helper.make_opsetid(QONNX_DOMAIN, qonnx_opset))
    model = helper.make_model(graph, opset_imports=opsets)
    if declare_output_shapes:
        inferred = ModelWrapper(model).transform(InferShapes()).model
        for declared, known in zip(model.graph.output, inferred.graph.output):
            declared.CopyFrom(known)
    return model


def with_exported_attributes(nodes, initializers) -> None:
    """The attributes ONNX makes optional and PyTorch's exporter always writes, at their defaults."""
    kernels = {t.name: list(t.dims)[2:] for t in initializers}
    kernels.update({n.output[0]: kernels.get(n.input[0]) for n in nodes if n.op_type == "Quant"})
    for node in nodes:
        given = {a.name for a in node.attribute}
        defaults = {}
        if node.op_type in ("Conv", "MaxPool"):
            kernel = kernels[node.input[1]] if node.op_type == "Conv" else helper.get_attribute_value(
                next(a for a in node.attribute if a.name == "kernel_shape"))
            defaults = dict(kernel_shape=kernel, strides=[1] * len(kernel))
            if "auto_pad" not in given:
                defaults["pads"] = [0] * 2 * len(kernel)
            if node.op_type == "Conv":
                defaults.update(dilations=[1] * len(kernel), group=1)
        elif node.op_type == "BatchNormalization":
            defaults = dict(epsilon=1e-5, momentum=0.9)
        for name, value in defaults.items():
            if name not in given:
                node.attribute.append(helper.make_attribute(name, value))


def quant(x: str, y: str, prefix: str, scale, zero_point, bits, rounding="ROUND", signed=1, narrow=0):
    """A QONNX Quant node and its parameter initializers."""
    node = helper.make_node("Quant", [x, f"{prefix}_scale", f"{prefix}_zero_point", f"{prefix}_bits"], [y],
                            domain=QONNX_DOMAIN, rounding_mode=rounding, signed=signed, narrow=narrow)
    return node, [constant(f"{prefix}_scale", scale), constant(f"{prefix}_zero_point", zero_point),
                  constant(f"{prefix}_bits", bits)]


def grid_inputs(shape, n: int = 64, seed: int = 1, limit: int = 24) -> np.ndarray:
    """Multiples of 1/8 in [-limit/8, limit/8]: exact in float32 and in WIDE."""
    return (np.random.default_rng(seed).integers(-limit, limit + 1, (n, *shape)) / 8).astype(np.float32)


def grid_weights(shape, seed: int = 0) -> np.ndarray:
    """Random multiples of 1/16 in [-1, 1] (never all equal: a transposition must show)."""
    return (np.random.default_rng(seed).integers(-16, 17, shape) / 16).astype(np.float32)


def convert(model, precision: str = WIDE, layer_results: dict | None = None):
    """The HLSModel of `model`, every layer in `precision` (constants of the ReLU family in
    WIDE_PARAMETER) but the results that `layer_results` names."""
    config = nnhls.config_from_onnx_model(model, granularity="name", default_precision=precision)
    for layer in config["LayerName"].values():
        if "param" in layer.get("Precision", {}):
            layer["Precision"]["param"] = WIDE_PARAMETER
    for name, result in (layer_results or {}).items():
        config["LayerName"][name]["Precision"]["result"] = result
    return nnhls.convert_from_onnx_model(model, hls_config=config, output_dir="unused")


def channels_last(values: np.ndarray) -> np.ndarray:
    """ONNX's (n, C, ...) as nnhls's outputs hold it, (n, ..., C)."""
    return np.moveaxis(values, 1, -1) if values.ndim > 2 else values


def onnxruntime_output(model, feeds: dict) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0].astype(np.float64)


def emulator_error(model, X) -> float:
    """The largest difference between the emulator's outputs (in WIDE) and onnxruntime's, for one
    input or a dict of inputs by name."""
    feeds = X if isinstance(X, dict) else {model.graph.input[0].name: X}
    expected = channels_last(onnxruntime_output(model, feeds))
    got = convert(model).predict(list(feeds.values()) if len(feeds) > 1 else next(iter(feeds.values())))
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


def assert_exact_op(model, X, lsbs: int = EXACT_LSBS):
    error = emulator_error(model, X)
    assert error <= lsbs * LSB, f"{error / LSB} LSBs"


def assert_table_op(model, X):
    assert emulator_error(model, X) <= TABLE_TOLERANCE


def single(op_type: str, shape, initializers=(), extra_inputs=(), **attributes):
    """A model of one node reading the input x (then `extra_inputs`), writing y."""
    node = helper.make_node(op_type, ["x", *extra_inputs], ["y"], **attributes)
    return build([node], {"x": shape}, initializers=initializers)


IMAGE = (3, 6, 6)
SIGNAL = (3, 10)


# ---------------------------------------------------------------------------------------------
# Dense layers and convolutions


@pytest.mark.parametrize("shape", [(12,), (4, 12)], ids=["vector", "per_position"])
def test_matmul_with_a_bias(shape):
    model = build([helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
                  {"x": shape}, initializers=[constant("W", grid_weights((12, 5))), constant("b", grid_weights(5, 1))])
    assert_exact_op(model, grid_inputs(shape))


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.75, 1.5)])
def test_gemm_with_transposed_weights(alpha, beta):
    model = single("Gemm", (12,), [constant("W", grid_weights((5, 12))), constant("b", grid_weights(5, 1))],
                   ["W", "b"], transB=1, alpha=alpha, beta=beta)
    assert_exact_op(model, grid_inputs((12,)))


def test_gemm_without_a_bias():
    # C is optional since opset 11.
    model = single("Gemm", (12,), [constant("W", grid_weights((12, 5)))], ["W"])
    assert_exact_op(model, grid_inputs((12,)))


CONVOLUTIONS = {
    "asymmetric_pads": dict(pads=[1, 0, 0, 2]),
    "strides_2": dict(strides=[2, 2], pads=[1, 1, 1, 1]),
    "dilation_2": dict(dilations=[2, 2]),
    "same_upper_strides_2": dict(auto_pad="SAME_UPPER", strides=[2, 2]),
}


@pytest.mark.parametrize("attributes", CONVOLUTIONS.values(), ids=CONVOLUTIONS.keys())
def test_conv_2d(attributes):
    model = single("Conv", IMAGE, [constant("W", grid_weights((4, 3, 3, 3))), constant("b", grid_weights(4, 1))],
                   ["W", "b"], **attributes)
    assert_exact_op(model, grid_inputs(IMAGE))


def test_layers_with_only_the_attributes_onnx_requires():
    # Read channels-first: qonnx's channels-last conversion needs the attributes exporters write.
    nodes = [helper.make_node("Conv", ["x", "W", "b"], ["c"], pads=[1, 0, 0, 2]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"]),
             helper.make_node("MaxPool", ["n"], ["y"], kernel_shape=[2, 2])]
    model = build(nodes, {"x": IMAGE}, as_exported=False, initializers=[
        constant("W", grid_weights((4, 3, 3, 3))), constant("b", grid_weights(4, 1)), *batchnorm_constants(4)])
    assert_exact_op(model, grid_inputs(IMAGE), FOLDED_BATCHNORM_LSBS)


def test_depthwise_conv_without_bias():
    model = single("Conv", IMAGE, [constant("W", grid_weights((3, 1, 3, 3)))], ["W"], group=3, pads=[1, 1, 1, 1])
    assert_exact_op(model, grid_inputs(IMAGE))


@pytest.mark.parametrize("attributes", [dict(pads=[2, 1]), dict(strides=[2], dilations=[2]),
                                        dict(auto_pad="SAME_UPPER")], ids=["pads", "strides_dilation", "same_upper"])
def test_conv_1d(attributes):
    model = single("Conv", SIGNAL, [constant("W", grid_weights((4, 3, 3))), constant("b", grid_weights(4, 1))],
                   ["W", "b"], **attributes)
    assert_exact_op(model, grid_inputs(SIGNAL))


def batchnorm_constants(channels: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    return [constant("gamma", rng.uniform(0.5, 1.5, channels)), constant("beta", rng.uniform(-1, 1, channels)),
            constant("mean", rng.uniform(-0.5, 0.5, channels)), constant("var", rng.uniform(0.5, 1.5, channels))]


# A batch normalization's scale, gamma / sqrt(variance + epsilon), is inexact: it and the shift
# are rounded into WIDE (half an LSB each), the scale then multiplies inputs up to 3 in magnitude.
BATCHNORM_LSBS = 3
# After a Conv it is folded into the Conv's weights: each of the 27 rounded weights (half an LSB)
# multiplies an input up to 3, and the folded bias adds half an LSB more.
FOLDED_BATCHNORM_LSBS = 27 * 3 // 2 + 1


def test_batchnorm_after_a_conv():
    nodes = [helper.make_node("Conv", ["x", "W", "b"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["h", "gamma", "beta", "mean", "var"], ["y"])]
    model = build(nodes, {"x": IMAGE}, initializers=[constant("W", grid_weights((4, 3, 3, 3))),
                                                     constant("b", grid_weights(4, 1)), *batchnorm_constants(4)])
    assert_exact_op(model, grid_inputs(IMAGE), FOLDED_BATCHNORM_LSBS)


def test_batchnorm_on_vectors():
    model = single("BatchNormalization", (6,), batchnorm_constants(6), ["gamma", "beta", "mean", "var"])
    assert_exact_op(model, grid_inputs((6,)), BATCHNORM_LSBS)


# ---------------------------------------------------------------------------------------------
# Activations


EXACT_ACTIVATIONS = {
    "Relu": {},
    "LeakyRelu": dict(alpha=0.01),
    "HardSigmoid": dict(alpha=0.2, beta=0.5),
    "Softsign": {},
}
TABLE_ACTIVATIONS = {
    "Sigmoid": ("Sigmoid", {}),
    "Tanh": ("Tanh", {}),
    "Elu": ("Elu", {}),
    "Elu_alpha_0.5": ("Elu", dict(alpha=0.5)),
    "Selu": ("Selu", {}),
    "Softplus": ("Softplus", {}),
}


@pytest.mark.parametrize("shape", [(12,), SIGNAL, IMAGE], ids=["vector", "signal", "image"])
@pytest.mark.parametrize("op_type", EXACT_ACTIVATIONS)
def test_activation_without_a_table(op_type, shape):
    assert_exact_op(single(op_type, shape, **EXACT_ACTIVATIONS[op_type]), grid_inputs(shape))


@pytest.mark.parametrize("shape", [(12,), IMAGE], ids=["vector", "image"])
@pytest.mark.parametrize("op_type, attributes", TABLE_ACTIVATIONS.values(), ids=TABLE_ACTIVATIONS.keys())
def test_activation_with_a_table(op_type, attributes, shape):
    assert_table_op(single(op_type, shape, **attributes), grid_inputs(shape))


@pytest.mark.parametrize("shape, slope_shape", [(IMAGE, (3, 1, 1)), (SIGNAL, (3, 1)), ((6,), (6,))],
                         ids=["image", "signal", "vector"])
def test_prelu_with_a_slope_per_channel(shape, slope_shape):
    slope = np.arange(1, slope_shape[0] + 1).reshape(slope_shape) / 8 - 0.25
    assert_exact_op(single("PRelu", shape, [constant("slope", slope)], ["slope"]), grid_inputs(shape))


@pytest.mark.parametrize("shape", [(12,), IMAGE], ids=["vector", "image"])
def test_clip_between_0_and_6(shape):
    model = single("Clip", shape, [constant("low", 0.0), constant("high", 6.0)], ["low", "high"])
    assert_exact_op(model, grid_inputs(shape, limit=64))


def test_softmax_on_the_last_axis():
    assert_table_op(single("Softmax", (10,), axis=-1), grid_inputs((10,)))


def test_softmax_on_the_channels_of_an_image():
    assert_table_op(single("Softmax", (4, 3, 3), axis=1), grid_inputs((4, 3, 3)))


# ---------------------------------------------------------------------------------------------
# Pooling


POOLS = {
    "max_pads_strides": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    "max_asymmetric_pads": ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1])),
    "average_pads_excluded": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                                  count_include_pad=0)),
    "average_pads_included": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                                  count_include_pad=1)),
    "average_no_pads": ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2])),
}
POOLS_1D = {
    "max": ("MaxPool", dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    "average_pads_excluded": ("AveragePool", dict(kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=0)),
    "average_pads_included": ("AveragePool", dict(kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=1)),
}


@pytest.mark.parametrize("op_type, attributes", POOLS.values(), ids=POOLS.keys())
def test_pool_2d(op_type, attributes):
    # An average over 9 or 6 values is inexact: rounded once into WIDE.
    assert_exact_op(single(op_type, IMAGE, **attributes), grid_inputs(IMAGE))


@pytest.mark.parametrize("op_type, attributes", POOLS_1D.values(), ids=POOLS_1D.keys())
def test_pool_1d(op_type, attributes):
    assert_exact_op(single(op_type, SIGNAL, **attributes), grid_inputs(SIGNAL))


@pytest.mark.parametrize("shape", [IMAGE, SIGNAL], ids=["image", "signal"])
@pytest.mark.parametrize("op_type", ["GlobalMaxPool", "GlobalAveragePool"])
def test_global_pool(op_type, shape):
    assert_exact_op(single(op_type, shape), grid_inputs(shape))


@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("op_type", ["ReduceMean", "ReduceMax"])
def test_reduce_over_the_spatial_axes_is_a_global_pool(op_type, keepdims):
    # What torch.onnx.export writes for adaptive pooling to one pixel: axes an input (opset 18).
    model = build([helper.make_node(op_type, ["x", "axes"], ["y"], keepdims=keepdims)], {"x": IMAGE}, opset=18,
                  initializers=[int_constant("axes", [2, 3])])
    assert_exact_op(model, grid_inputs(IMAGE))


def test_reduce_over_the_channels_is_an_error():
    model = build([helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=1)], {"x": IMAGE})
    with pytest.raises(NnhlsError, match=r"ReduceMean.* reduces over axes \[1\]"):
        read_onnx(model)


# ---------------------------------------------------------------------------------------------
# Element-wise arithmetic and merges


@pytest.mark.parametrize("shape", [(12,), IMAGE], ids=["vector", "image"])
@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Max", "Min"])
def test_two_inputs_of_one_shape(op_type, shape):
    model = build([helper.make_node(op_type, ["a", "b"], ["y"])], {"a": shape, "b": shape})
    assert_exact_op(model, {"a": grid_inputs(shape, seed=1), "b": grid_inputs(shape, seed=2)})


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Max", "Min"])
def test_two_branches_of_one_input(op_type):
    # Conv and Relu outputs of one image: the merge reads two layouts nnhls made itself.
    nodes = [helper.make_node("Conv", ["x", "W"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["x"], ["b"]), helper.make_node(op_type, ["a", "b"], ["y"])]
    model = build(nodes, {"x": IMAGE}, initializers=[constant("W", grid_weights((3, 3, 3, 3)))])
    assert_exact_op(model, grid_inputs(IMAGE))


@pytest.mark.parametrize("op_type", ["Add", "Mul"])
def test_a_tensor_read_twice_by_one_node(op_type):
    # x + x, x * x: qonnx's tensor renaming renames only a name's first use in a node's inputs.
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node(op_type, ["c", "c"], ["y"])]
    model = build(nodes, {"x": IMAGE}, initializers=[constant("W", grid_weights((3, 3, 3, 3)))])
    assert_exact_op(model, grid_inputs(IMAGE))


@pytest.mark.parametrize("second", ["Relu", "Identity", "MaxPool"])
def test_a_conv_output_read_by_two_nodes(second):
    # A residual pattern: Add(c, f(c)) after a Conv. C = H = W, so that no shape check can catch a
    # layout mix-up (qonnx's channels-last conversion computes Add(transposed Relu(c), Relu(c))).
    attributes = dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]) if second == "MaxPool" else {}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node(second, ["c"], ["d"], **attributes), helper.make_node("Add", ["c", "d"], ["y"])]
    model = build(nodes, {"x": (4, 4, 4)}, initializers=[constant("W", grid_weights((4, 4, 3, 3)))])
    assert_exact_op(model, grid_inputs((4, 4, 4)))


CONSTANTS = {"scalar": (), "per_channel": (3, 1, 1)}


@pytest.mark.parametrize("constant_shape", CONSTANTS.values(), ids=CONSTANTS.keys())
@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div"])
def test_arithmetic_with_a_constant(op_type, constant_shape):
    # The divisors include 3 (inexact: rounded once into WIDE) and powers of two.
    values = np.array([0.75, 3.0, -0.5]) if constant_shape else np.array(3.0)
    model = single(op_type, IMAGE, [constant("c", values.reshape(constant_shape))], ["c"])
    assert_exact_op(model, grid_inputs(IMAGE))


def test_constant_first_arithmetic():
    model = build([helper.make_node("Sub", ["c", "x"], ["y"])], {"x": IMAGE},
                  initializers=[constant("c", np.array([0.75, 3.0, -0.5]).reshape(3, 1, 1))])
    assert_exact_op(model, grid_inputs(IMAGE))


@pytest.mark.parametrize("shapes", [[(2, 6, 6), (3, 6, 6)], [(5,), (7,)]], ids=["images", "vectors"])
def test_concat_on_axis_1(shapes):
    model = build([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)], {"a": shapes[0], "b": shapes[1]})
    assert_exact_op(model, {"a": grid_inputs(shapes[0], seed=1), "b": grid_inputs(shapes[1], seed=2)})


def test_concat_of_conv_outputs():
    nodes = [helper.make_node("Conv", ["x", "W1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["x", "W2"], ["b"]),
             helper.make_node("Pad", ["b", "pads"], ["c"]),
             helper.make_node("Concat", ["a", "c"], ["y"], axis=1)]
    model = build(nodes, {"x": IMAGE}, initializers=[constant("W1", grid_weights((2, 3, 3, 3), 1)),
                                                     constant("W2", grid_weights((4, 3, 3, 3), 2)),
                                                     int_constant("pads", [0, 0, 1, 1, 0, 0, 1, 1])])
    assert_exact_op(model, grid_inputs(IMAGE))


# ---------------------------------------------------------------------------------------------
# Shapes and layouts


def dense_after(nodes, flat: str, n_in: int, shape, initializers=()):
    """`nodes` turning x into the vector `flat`, then a MatMul: a wrong order of the flattened
    values shows in its outputs."""
    nodes = [*nodes, helper.make_node("MatMul", [flat, "W"], ["y"])]
    return build(nodes, {"x": shape}, initializers=[*initializers, constant("W", grid_weights((n_in, 5), 4))])


@pytest.mark.parametrize("target", [[-1, 108], [0, -1]], ids=["minus_one_first", "zero_first"])
def test_reshape_of_an_image_into_a_vector(target):
    model = dense_after([helper.make_node("Reshape", ["x", "shape"], ["flat"])], "flat", 108, IMAGE,
                        [int_constant("shape", target)])
    assert_exact_op(model, grid_inputs(IMAGE))


def test_reshape_of_a_vector_into_a_signal():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["s"]),
             helper.make_node("Conv", ["s", "W"], ["y"], pads=[1, 1])]
    model = build(nodes, {"x": (30,)}, initializers=[int_constant("shape", [-1, 3, 10]),
                                                     constant("W", grid_weights((4, 3, 3)))])
    assert_exact_op(model, grid_inputs((30,)))


def test_flatten_of_a_conv_output():
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["flat"])]
    model = dense_after(nodes, "flat", 4 * 36, IMAGE, [constant("K", grid_weights((4, 3, 3, 3)))])
    assert_exact_op(model, grid_inputs(IMAGE))


def test_transpose_to_channels_last_then_flatten_then_matmul():
    # The classic layout trap: the MatMul's rows are in (H, W, C) order.
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Flatten", ["t"], ["flat"])]
    model = dense_after(nodes, "flat", 4 * 36, IMAGE, [constant("K", grid_weights((4, 3, 3, 3)))])
    assert_exact_op(model, grid_inputs(IMAGE))


@pytest.mark.parametrize("perm", [[0, 2, 3, 1], [0, 3, 1, 2], [0, 1, 3, 2]])
def test_transpose_as_the_output(perm):
    assert_exact_op(single("Transpose", (3, 4, 5), perm=perm), grid_inputs((3, 4, 5)))


def test_unsqueeze_then_squeeze_with_axes_as_inputs():
    nodes = [helper.make_node("Unsqueeze", ["x", "axes"], ["u"]),
             helper.make_node("Conv", ["u", "K"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Squeeze", ["c", "axes"], ["y"])]
    model = build(nodes, {"x": (6, 5)}, initializers=[int_constant("axes", [1]),
                                                      constant("K", grid_weights((1, 1, 3, 3)))])
    assert_exact_op(model, grid_inputs((6, 5)))


def test_unsqueeze_of_a_vector_for_a_1d_conv():
    nodes = [helper.make_node("Unsqueeze", ["x", "axes"], ["u"]), helper.make_node("Conv", ["u", "K"], ["y"])]
    model = build(nodes, {"x": (10,)}, initializers=[int_constant("axes", [1]), constant("K", grid_weights((3, 1, 3)))])
    assert_exact_op(model, grid_inputs((10,)))


def resize(shape, scales, mode="nearest", transform="asymmetric", nearest="floor"):
    return single("Resize", shape, [constant("roi", []), constant("scales", scales)], ["roi", "scales"], mode=mode,
                  coordinate_transformation_mode=transform, nearest_mode=nearest)


def test_resize_nearest_2d():
    assert_exact_op(resize((3, 4, 5), [1, 1, 2, 2]), grid_inputs((3, 4, 5)))


def test_resize_nearest_1d():
    assert_exact_op(resize(SIGNAL, [1, 1, 3]), grid_inputs(SIGNAL))


def test_pad_height_and_width_with_zeros():
    model = single("Pad", IMAGE, [int_constant("pads", [0, 0, 1, 2, 0, 0, 2, 1])], ["pads"], mode="constant")
    assert_exact_op(model, grid_inputs(IMAGE))


def test_pad_a_signal_with_zeros():
    assert_exact_op(single("Pad", SIGNAL, [int_constant("pads", [0, 0, 2, 0, 0, 1])], ["pads"]), grid_inputs(SIGNAL))


@pytest.mark.parametrize("op_type", ["Identity", "Dropout"])
def test_pass_through_between_layers(op_type):
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"]), helper.make_node(op_type, ["c"], ["d"]),
             helper.make_node("Relu", ["d"], ["y"])]
    model = build(nodes, {"x": IMAGE}, initializers=[constant("K", grid_weights((4, 3, 3, 3)))])
    assert_exact_op(model, grid_inputs(IMAGE))


OLDER_OPSETS = {
    "clip_opset_9": (9, [helper.make_node("Clip", ["x"], ["y"], min=0.0, max=1.5)], ()),
    "pad_opset_10": (10, [helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 1, 0, 0, 0, 0, 2])], ()),
    "unsqueeze_squeeze_opset_11": (11, [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[1]),
                                        helper.make_node("Conv", ["u", "K"], ["c"], pads=[1, 1, 1, 1]),
                                        helper.make_node("Squeeze", ["c"], ["y"], axes=[1])],
                                   [constant("K", grid_weights((1, 1, 3, 3)))]),
}


@pytest.mark.parametrize("opset, nodes, initializers", OLDER_OPSETS.values(), ids=OLDER_OPSETS.keys())
def test_older_opsets_with_attributes_for_inputs(opset, nodes, initializers):
    shape = (6, 5) if "Squeeze" in [n.op_type for n in nodes] else IMAGE
    model = build(nodes, {"x": shape}, initializers=initializers, opset=opset)
    assert_exact_op(model, grid_inputs(shape))


# ---------------------------------------------------------------------------------------------
# QONNX's quantizers on tensors: exactly QONNX's reference execution


ROUNDING_MODES = ["ROUND", "HALF_EVEN", "ROUND_TO_ZERO", "DOWN", "FLOOR", "CEIL", "UP", "HALF_UP", "HALF_DOWN"]
# Brevitas's name for rounding toward zero, which its QONNX exports write; qonnx's execution knows
# only DOWN (the same np.fix), so a ROUND_TO_ZERO model is compared with its DOWN twin.
QONNX_NAMES = {"ROUND_TO_ZERO": "DOWN"}
# The roundings a power-of-two Quant with zero point 0 is read as a fixed-point conversion with.
CONVERSION_ROUNDINGS = {"ROUND": "RND_CONV", "HALF_EVEN": "RND_CONV", "ROUND_TO_ZERO": "TRN_ZERO",
                        "DOWN": "TRN_ZERO", "FLOOR": "TRN", "HALF_DOWN": "RND_ZERO"}
WIDTH = 8  # values per sample of the quantizer tests' inputs
BITS = 4


def quant_model(quantizer: dict, rounding: str, bits: int = BITS):
    node, parameters = quant("x", "y", "q", quantizer["scale"], quantizer["zero_point"], bits, rounding,
                             quantizer["signed"], quantizer["narrow"])
    return build([node], {"x": (WIDTH,)}, initializers=parameters)


def quant_range(quantizer: dict, bits: int = BITS) -> tuple[float, float]:
    """The input range over which a Quant's output changes, one step wider on each side."""
    signed, narrow, scale, zero_point = (quantizer[k] for k in ("signed", "narrow", "scale", "zero_point"))
    low = -(2 ** (bits - 1)) + narrow if signed else 0
    high = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - narrow
    return (low - zero_point - 1) * scale, (high - zero_point + 1) * scale


def as_rows(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    return np.concatenate([values, np.zeros(-len(values) % WIDTH, dtype=np.float32)]).reshape(-1, WIDTH)


def with_neighbours(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    return np.concatenate([values, np.nextafter(values, np.float32(np.inf)),
                           np.nextafter(values, np.float32(-np.inf))])


def boundary_inputs(scale: float, low: float, high: float, seed: int = 5) -> np.ndarray:
    """float32 inputs on and next to every multiple of scale/2 from `low` to `high` (where QONNX's
    roundings step, give or take its float32 division), 0, the smallest numbers on both sides,
    values far outside the range, and random values: a (n, WIDTH) array."""
    half = np.float32(scale) / np.float32(2)
    steps = np.arange(int(np.floor(low / half)) - 2, int(np.ceil(high / half)) + 3).astype(np.float32)
    tiny = np.array([0.0, -0.0, 1e-45, -1e-45, 1.2e-38, -1.2e-38, 1e-30, -1e-30, 1e-9, -1e-9], dtype=np.float32)
    far = np.array([1e3, -1e3, 3e38, -3e38], dtype=np.float32)  # (infinities have no fixed-point code)
    spread = np.random.default_rng(seed).uniform(low - 2 * scale, high + 2 * scale, 256)
    return as_rows(np.concatenate([with_neighbours(steps * half), tiny, far, spread]))


def step_thresholds(model) -> np.ndarray:
    """Every finite threshold of the model's staircases as nnhls reads them, and their neighbours."""
    thresholds = [np.asarray(node.thresholds, dtype=np.float64).reshape(-1)
                  for node in read_onnx(model) if node.op == "step"]
    values = np.concatenate([np.zeros(0), *thresholds])
    return with_neighbours(values[np.isfinite(values)])


def qonnx_output(model, X) -> np.ndarray:
    with np.errstate(over="ignore"):  # QONNX's x / s of the largest float32 inputs
        return reference_outputs(model, [X])[model.graph.output[0].name]


def assert_equal_outputs(got, expected, X):
    """nnhls's outputs are QONNX's, after the one rounding QONNX applies to them: its value of a
    code is the float32 product (q - zero point) * scale, nnhls's the exact product."""
    got = np.asarray(got, dtype=np.float32).astype(np.float64)
    mismatched = np.flatnonzero(got.reshape(-1) != expected.reshape(-1))
    assert not mismatched.size, (f"{mismatched.size} of {got.size} differ, e.g. at x = "
                                 f"{X.reshape(-1)[mismatched[:4]].tolist()}: got {got.reshape(-1)[mismatched[:4]]}, "
                                 f"QONNX {expected.reshape(-1)[mismatched[:4]]}")


QUANTIZERS = {
    "signed_scale_0.0371": dict(scale=0.0371, zero_point=0, signed=1, narrow=0),
    "signed_narrow_scale_0.0371": dict(scale=0.0371, zero_point=0, signed=1, narrow=1),
    "signed_scale_0.0371_zero_point_3": dict(scale=0.0371, zero_point=3, signed=1, narrow=0),
    "unsigned_scale_0.0371": dict(scale=0.0371, zero_point=0, signed=0, narrow=0),
    "unsigned_narrow_scale_0.0371_zero_point_3": dict(scale=0.0371, zero_point=3, signed=0, narrow=1),
    "signed_scale_0.125": dict(scale=0.125, zero_point=0, signed=1, narrow=0),
    "signed_narrow_scale_0.125": dict(scale=0.125, zero_point=0, signed=1, narrow=1),
    "unsigned_scale_0.125": dict(scale=0.125, zero_point=0, signed=0, narrow=0),
    "unsigned_narrow_scale_0.125": dict(scale=0.125, zero_point=0, signed=0, narrow=1),
}


def steps_near_zero(quantizer: dict, rounding: str) -> bool:
    """Whether QONNX's quantizer steps within 2**-24 of 0, on a finer grid than the 48 bits at most
    that nnhls gives a staircase's input: CEIL and UP step at the smallest float32 above 0, and with
    a zero point z, FLOOR and DOWN step where QONNX's float32 sum x / s + z stops absorbing x / s
    (near -2**-24 z s). Inputs that close to 0 are left out of their tests: no fixed-point type
    tells them from 0 (and no ap_fixed conversion rounds toward +inf, as CEIL would need)."""
    return rounding in ("CEIL", "UP") or (rounding in ("FLOOR", "DOWN", "ROUND_TO_ZERO") and quantizer["zero_point"])


def quant_cases() -> list:
    return [pytest.param(quantizer, rounding, id=f"{key}-{rounding}")
            for key, quantizer in QUANTIZERS.items() for rounding in ROUNDING_MODES]


@pytest.mark.parametrize("quantizer, rounding", quant_cases())
def test_quant_on_the_input_is_qonnx_exactly(quantizer, rounding):
    model = quant_model(quantizer, rounding)
    X = np.concatenate([boundary_inputs(quantizer["scale"], *quant_range(quantizer)), as_rows(step_thresholds(model))])
    if steps_near_zero(quantizer, rounding):
        X = np.where(np.abs(X) < 2.0 ** -24, np.float32(0), X)  # see steps_near_zero
    expected = qonnx_output(quant_model(quantizer, QONNX_NAMES.get(rounding, rounding)), X)
    assert_equal_outputs(convert(model).predict(X), expected, X)


@pytest.mark.parametrize("quantizer, rounding", [p.values for p in quant_cases() if steps_near_zero(*p.values)])
def test_quant_on_inputs_that_its_input_type_holds_is_qonnx_exactly(quantizer, rounding):
    # What these staircases promise today: exactness on every input the input's type holds (here
    # the points of its grid nearest the rounding boundaries, and one LSB either side of them).
    model = quant_model(quantizer, rounding)
    hls_model = convert(model)
    lsb = 2.0 ** -hls_model.graph.inputs[0].result_type.fractional
    values = boundary_inputs(quantizer["scale"], *quant_range(quantizer)).reshape(-1).astype(np.float64)
    on_grid = np.round(values[np.abs(values) < 1e3] / lsb) * lsb
    X = as_rows(np.concatenate([on_grid, on_grid + lsb, on_grid - lsb]))
    assert np.array_equal(np.round(X / lsb) * lsb, X)  # float32 holds them exactly
    expected = qonnx_output(quant_model(quantizer, QONNX_NAMES.get(rounding, rounding)), X)
    assert_equal_outputs(hls_model.predict(X), expected, X)


def test_int_quant_is_read_as_quant():
    quantizer = QUANTIZERS["signed_scale_0.0371_zero_point_3"]
    model = quant_model(quantizer, "ROUND")
    model.graph.node[0].op_type = "IntQuant"
    X = np.concatenate([boundary_inputs(quantizer["scale"], *quant_range(quantizer)), as_rows(step_thresholds(model))])
    assert_equal_outputs(convert(model).predict(X), qonnx_output(model, X), X)


@pytest.mark.parametrize("rounding", CONVERSION_ROUNDINGS)
@pytest.mark.parametrize("key", ["signed_scale_0.125", "signed_narrow_scale_0.125", "unsigned_scale_0.125"])
def test_power_of_two_quant_is_a_fixed_point_conversion(key, rounding):
    quantizer = QUANTIZERS[key]
    graph = convert(quant_model(quantizer, rounding)).graph
    node = graph["Quant_0"]
    assert node.op == "activation" and node.function == "linear"
    # 4 bits with the step 2**-3: one integer bit (with the sign bit where signed).
    q = node.result_quantizer
    assert (q.width, q.integer, q.signed, q.rounding) == (BITS, 1, bool(quantizer["signed"]),
                                                           CONVERSION_ROUNDINGS[rounding])
    assert q.overflow == ("SAT_SYM" if quantizer["narrow"] else "SAT")


@pytest.mark.parametrize("rounding", ["CEIL", "UP", "HALF_UP"])
def test_power_of_two_quant_without_an_equal_conversion_is_a_staircase(rounding):
    # CEIL and UP have no ap_fixed rounding; HALF_UP's float32 sum |x / s| + 0.5 rounds up where AP_RND_INF does not.
    assert convert(quant_model(QUANTIZERS["signed_scale_0.125"], rounding)).graph["Quant_0"].op == "step"


@pytest.mark.parametrize("scale", [0.0371, 0.125])
def test_one_bit_signed_quant_is_bipolar_as_in_qonnx(scale):
    model = quant_model(dict(scale=scale, zero_point=0, signed=1, narrow=0), "ROUND", bits=1)
    X = np.concatenate([boundary_inputs(scale, -2 * scale, 2 * scale), as_rows(step_thresholds(model))])
    expected = qonnx_output(model, X)
    assert set(np.unique(expected)) == {-float(np.float32(scale)), float(np.float32(scale))}
    assert_equal_outputs(convert(model).predict(X), expected, X)


@pytest.mark.parametrize("scale", [0.0371, 0.5])
def test_bipolar_quant_is_qonnx_exactly(scale):
    node = helper.make_node("BipolarQuant", ["x", "s"], ["y"], domain=QONNX_DOMAIN)
    model = build([node], {"x": (WIDTH,)}, initializers=[constant("s", scale)])
    X = boundary_inputs(scale, -2 * scale, 2 * scale)
    assert_equal_outputs(convert(model).predict(X), qonnx_output(model, X), X)


AFTER_A_QUANT = {
    "Relu": [helper.make_node("Relu", ["q"], ["y"])],
    "MaxPool": [helper.make_node("MaxPool", ["q"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
    "Transpose": [helper.make_node("Transpose", ["q"], ["y"], perm=[0, 2, 3, 1])],
    "Reshape": [helper.make_node("Reshape", ["q", "shape"], ["y"])],
    "Pad_Relu": [helper.make_node("Pad", ["q", "pads"], ["p"]), helper.make_node("Relu", ["p"], ["y"])],
}


@pytest.mark.parametrize("nodes", AFTER_A_QUANT.values(), ids=AFTER_A_QUANT.keys())
def test_what_moves_or_relus_a_quants_codes_is_qonnx_exactly(nodes):
    # QONNX's values are the float32 products of codes and scale; nnhls moves the codes and gives
    # the same float32 products at the end.
    quantize, parameters = quant("x", "q", "q", 0.0371, 3, 5, "ROUND", 1, 0)
    model = build([quantize, *nodes], {"x": (2, 4, 4)}, initializers=[
        *parameters, int_constant("shape", [-1, 32]), int_constant("pads", [0, 0, 1, 0, 0, 0, 0, 1])])
    values = boundary_inputs(0.0371, *quant_range(dict(scale=0.0371, zero_point=3, signed=1, narrow=0), 5))
    X = values.reshape(-1)[:values.size // 32 * 32].reshape(-1, 2, 4, 4)
    assert_equal_outputs(convert(model).predict(X), channels_last(qonnx_output(model, X)), X)


TRUNCATIONS = {
    "floor_by_4": dict(rounding="FLOOR", out_scale=4, out_bits=6, signed=1),
    "round_by_8": dict(rounding="ROUND", out_scale=8, out_bits=5, signed=1),
    "unsigned_floor_by_2": dict(rounding="FLOOR", out_scale=2, out_bits=7, signed=0),
}


@pytest.mark.parametrize("truncation", TRUNCATIONS.values(), ids=TRUNCATIONS.keys())
def test_trunc_after_a_quant_is_qonnx_exactly(truncation):
    # An 8-bit Quant of step 0.0371, then Trunc v2 onto fewer bits of a coarser step.
    scale, signed = 0.0371, truncation["signed"]
    quantize, parameters = quant("x", "q", "q", scale, 0, 8, "ROUND", signed, 0)
    trunc = helper.make_node("Trunc", ["q", "q_scale", "q_zero_point", "q_bits", "t_scale", "t_bits"], ["y"],
                             domain=QONNX_DOMAIN, rounding_mode=truncation["rounding"], signed=signed, narrow=0)
    model = build([quantize, trunc], {"x": (WIDTH,)}, qonnx_opset=2, initializers=[
        *parameters, constant("t_scale", scale * truncation["out_scale"]), constant("t_bits", truncation["out_bits"])])
    low, high = (-129 * scale, 128 * scale) if signed else (-scale, 256 * scale)
    X = np.concatenate([boundary_inputs(scale, low, high), as_rows(step_thresholds(model))])
    expected = qonnx_output(model, X)
    assert len(np.unique(expected)) > 8  # the truncation has steps to get wrong
    assert_equal_outputs(convert(model).predict(X), expected, X)


def quant_then_trunc(trunc_inputs, qonnx_opset: int, extra_initializers=()):
    scale = 0.0371
    quantize, parameters = quant("x", "q", "q", scale, 0, 8, "ROUND", 1, 0)
    trunc = helper.make_node("Trunc", ["q", *trunc_inputs], ["y"], name="truncation", domain=QONNX_DOMAIN,
                             rounding_mode="FLOOR")
    return build([quantize, trunc], {"x": (WIDTH,)}, qonnx_opset=qonnx_opset,
                 initializers=[*parameters, *extra_initializers]), scale


def test_trunc_v1_after_a_quant_is_qonnx_exactly():
    # Trunc v1 (5 inputs, the input's scale throughout) clamps nothing: it is read on the values its
    # input, an 8-bit staircase, can take.
    model, scale = quant_then_trunc(["q_scale", "q_zero_point", "q_bits", "t_bits"], 1, [constant("t_bits", 5)])
    X = np.concatenate([boundary_inputs(scale, -129 * scale, 128 * scale), as_rows(step_thresholds(model))])
    expected = qonnx_output(model, X)
    assert len(np.unique(expected)) > 8
    assert_equal_outputs(convert(model).predict(X), expected, X)


def test_trunc_with_inputs_of_another_version_than_imported_is_an_error():
    # qonnx executes the Trunc of the imported version: v1 would read the output scale as the bit width.
    model, _ = quant_then_trunc(["q_scale", "q_zero_point", "q_bits", "t_scale", "t_bits"], 1,
                                [constant("t_scale", 0.0371 * 4), constant("t_bits", 6)])
    with pytest.raises(NnhlsError, match=r"'truncation', .* has 6 inputs, but the model imports .* at version 1"):
        nnhls.config_from_onnx_model(model)


# ---------------------------------------------------------------------------------------------
# Quantized weights: within an LSB of the output type of QONNX's float32 execution


OUTPUT_TYPE = "ap_fixed<24,8,AP_RND_CONV,AP_SAT>"
OUTPUT_LSB = 2.0 ** -16


def assert_within_an_output_lsb(model, X):
    """The emulator's outputs, in OUTPUT_TYPE, within one of its LSBs of QONNX's float32 outputs,
    and mostly equal to them rounded into it (QONNX's float32 sums differ from the exact ones by
    far less than an LSB, so only outputs near a rounding tie may round the other way)."""
    outputs = read_onnx(model).outputs
    got = convert(model, layer_results={name: OUTPUT_TYPE for name in outputs}).predict(X)
    expected = channels_last(qonnx_output(model, X))
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= OUTPUT_LSB
    rounded = np.round(expected / OUTPUT_LSB) * OUTPUT_LSB
    assert np.mean(got == rounded) >= 0.99


WEIGHT_SCALES = {
    "per_tensor_0.0371": lambda channels: 0.0371,
    "per_output_channel": lambda channels: 0.01 + 0.0173 * np.arange(channels),
    "power_of_two": lambda channels: 0.0625,
}


def quantized_weight(name: str, shape, scale, seed: int = 7):
    """Float weights through a 4-bit narrow signed Quant of `scale` (per output channel where it
    has the output channels' shape): the Quant node and its initializers; the weight is `name`."""
    values = np.random.default_rng(seed).uniform(-0.4, 0.4, shape)
    node, parameters = quant(f"{name}_float", name, name, scale, 0, 4, "ROUND", 1, 1)
    return node, [constant(f"{name}_float", values), *parameters]


@pytest.mark.parametrize("scales", WEIGHT_SCALES.values(), ids=WEIGHT_SCALES.keys())
def test_quantized_matmul_with_a_bias(scales):
    scale = np.reshape(scales(5), (1, -1)) if np.ndim(scales(5)) else scales(5)
    weight, parameters = quantized_weight("W", (12, 5), scale)
    nodes = [weight, helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    model = build(nodes, {"x": (12,)}, initializers=[*parameters, constant("b", np.linspace(-0.3, 0.4, 5))])
    assert_within_an_output_lsb(model, grid_inputs((12,), n=256))


@pytest.mark.parametrize("scales", WEIGHT_SCALES.values(), ids=WEIGHT_SCALES.keys())
def test_quantized_conv(scales):
    scale = np.reshape(scales(4), (4, 1, 1, 1)) if np.ndim(scales(4)) else scales(4)
    weight, parameters = quantized_weight("W", (4, 3, 3, 3), scale)
    nodes = [weight, helper.make_node("Conv", ["x", "W", "b"], ["y"], pads=[1, 1, 1, 1])]
    model = build(nodes, {"x": IMAGE}, initializers=[*parameters, constant("b", np.linspace(-0.3, 0.4, 4))])
    assert_within_an_output_lsb(model, grid_inputs(IMAGE, n=64))


def test_quant_conv_quant():
    # Quantized input, weights and output: QONNX's float32 sums and nnhls's exact ones round alike
    # but where one lies within float32's error of a rounding boundary of the output quantizer.
    activation, activation_parameters = quant("x", "xq", "a", 0.0371, 0, 6, "ROUND", 1, 0)
    weight, parameters = quantized_weight("W", (4, 3, 3, 3), 0.0371)
    output, output_parameters = quant("c", "y", "o", 0.05, 0, 8, "ROUND", 1, 0)
    nodes = [activation, weight, helper.make_node("Conv", ["xq", "W", "b"], ["c"], pads=[1, 1, 1, 1]), output]
    model = build(nodes, {"x": IMAGE}, initializers=[*activation_parameters, *parameters, *output_parameters,
                                                     constant("b", np.linspace(-0.3, 0.4, 4))])
    X = grid_inputs(IMAGE, limit=12)
    expected = channels_last(qonnx_output(model, X))
    got = convert(model).predict(X)
    assert len(np.unique(expected)) > 50
    # QONNX's value of a code is the float32 product of code and scale; nnhls's the exact product.
    assert np.abs(got - expected).max() <= 0.05 + 1e-7 and np.mean(got.astype(np.float32) == expected) >= 0.999


def test_quantized_activations_and_weights():
    # Quant on the input (a staircase onto codes), then a MatMul of quantized weights: the product
    # of codes and both scales applied once.
    activation, activation_parameters = quant("x", "xq", "a", 0.0371, 0, 6, "ROUND", 1, 0)
    weight, parameters = quantized_weight("W", (12, 5), np.reshape(WEIGHT_SCALES["per_output_channel"](5), (1, -1)))
    nodes = [activation, weight, helper.make_node("MatMul", ["xq", "W"], ["y"])]
    model = build(nodes, {"x": (12,)}, initializers=[*activation_parameters, *parameters])
    assert_within_an_output_lsb(model, grid_inputs((12,), n=256, limit=10))


# ---------------------------------------------------------------------------------------------
# Errors


def test_an_unsupported_op_is_named_with_its_type_and_inputs():
    model = build([helper.make_node("Erf", ["x"], ["e"], name="erf_of_x"), helper.make_node("Relu", ["e"], ["y"])],
                  {"x": (6,)})
    with pytest.raises(NnhlsError, match=r"'erf_of_x' \(Erf, inputs \['x'\]\) is not supported; supported ONNX ops: "):
        nnhls.config_from_onnx_model(model)


def test_an_unsupported_op_without_a_name_is_named_by_its_output():
    W, R = grid_weights((1, 16, 6)), grid_weights((1, 16, 4), 1)
    model = build([helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=4)], {"x": (1, 6)},
                  initializers=[constant("W", W), constant("R", R)], declare_output_shapes=False)
    with pytest.raises(NnhlsError, match=r"ONNX node writing 'y' \(LSTM, inputs \['x', 'W', 'R'\]\) is not supported"):
        nnhls.config_from_onnx_model(model)


def test_resize_cubic_is_an_error():
    with pytest.raises(NnhlsError, match=r"Resize.*mode='cubic'"):
        nnhls.config_from_onnx_model(resize((3, 4, 5), [1, 1, 2, 2], mode="cubic"))


def test_pad_reflect_is_an_error():
    model = single("Pad", IMAGE, [int_constant("pads", [0, 0, 1, 1, 0, 0, 1, 1])], ["pads"], mode="reflect")
    with pytest.raises(NnhlsError, match=r"Pad.*mode 'reflect'.*zeros only"):
        nnhls.config_from_onnx_model(model)


def test_quant_with_a_scale_per_channel_on_an_activation_is_an_error():
    node, parameters = quant("x", "y", "q", np.array([0.1, 0.2, 0.3]).reshape(3, 1, 1), 0, 4)
    model = build([node], {"x": IMAGE}, initializers=parameters)
    with pytest.raises(NnhlsError, match=r"Quant.*scale or zero point per channel"):
        nnhls.config_from_onnx_model(model)


def test_matmul_of_two_tensors_is_an_error():
    model = build([helper.make_node("MatMul", ["a", "b"], ["y"], name="product")], {"a": (3, 4), "b": (4, 2)})
    # The prepared graph renames nodes and tensors; the error names them as the model gave them too.
    with pytest.raises(NnhlsError, match=r"given: node 'product', inputs \['a', 'b'\]\) multiplies by a tensor"):
        nnhls.config_from_onnx_model(model)


def test_a_model_path_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(NnhlsError, match=r"cannot read .*missing\.onnx.* as an ONNX model"):
        nnhls.config_from_onnx_model(missing)


def test_supported_ops_lists_the_readers():
    ops = supported_ops()
    assert {"Conv", "Gemm", "MatMul", "Quant", "BipolarQuant", "Trunc", "Resize"} <= set(ops)
    assert "Erf" not in ops and ops == sorted(ops)


# ---------------------------------------------------------------------------------------------
# Models as written by hand


def test_outputs_without_a_declared_shape_are_read():
    # onnx.helper.make_tensor_value_info(name, FLOAT, None): no shape, which shape inference gives.
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    model = build(nodes, {"x": IMAGE}, initializers=[constant("K", grid_weights((4, 3, 3, 3)))],
                  declare_output_shapes=False)
    assert_exact_op(model, grid_inputs(IMAGE))


def test_a_model_with_a_fixed_batch_size_takes_any_batch():
    model = single("Relu", (6,))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 1
    assert convert(model).predict(grid_inputs((6,), n=32)).shape == (32, 6)


def test_a_model_qonnx_converted_to_channels_last_is_read():
    # qonnx's channels-last Conv, BatchNormalization and MaxPool, as a user may have converted them.
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    nodes = [helper.make_node("Conv", ["x", "W", "b"], ["c"], pads=[1, 0, 0, 2], strides=[1, 2]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"]),
             helper.make_node("MaxPool", ["n"], ["p"], kernel_shape=[2, 2], strides=[2, 1]),
             helper.make_node("Flatten", ["p"], ["flat"]), helper.make_node("MatMul", ["flat", "D"], ["y"])]
    model = build(nodes, {"x": IMAGE}, initializers=[
        constant("W", grid_weights((4, 3, 3, 3))), constant("b", grid_weights(4, 1)), *batchnorm_constants(4),
        constant("D", grid_weights((4 * 2 * 2, 5), 2))])
    wrapper = ModelWrapper(onnx.load_from_string(model.SerializeToString()))
    converted = cleanup_model(wrapper).transform(ConvertToChannelsLastAndClean(make_input_channels_last=False))
    assert {n.domain for n in converted.graph.node if n.op_type == "Conv"} == {"qonnx.custom_op.channels_last"}
    X = grid_inputs(IMAGE)
    expected = onnxruntime_output(model, {"x": X})
    assert np.abs(convert(converted).predict(X) - expected).max() <= 3 * 9 * 3 // 2 * LSB * 2 + 2 * LSB


def test_a_model_path_is_read(tmp_path):
    model = single("Conv", IMAGE, [constant("W", grid_weights((4, 3, 3, 3)))], ["W"], pads=[1, 1, 1, 1])
    onnx.save(model, tmp_path / "conv.onnx")
    X = grid_inputs(IMAGE)
    assert np.array_equal(convert(str(tmp_path / "conv.onnx")).predict(X), convert(model).predict(X))


# ---------------------------------------------------------------------------------------------
# The C simulation


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_small_cnn_compiles_and_its_c_simulation_is_the_emulator(io_type, tmp_path):
    nodes = [helper.make_node("Conv", ["x", "K", "c"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"]),
             helper.make_node("MaxPool", ["relu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["pool"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["y"])]
    model = build(nodes, {"x": (2, 6, 6)}, initializers=[
        constant("K", grid_weights((3, 2, 3, 3))), constant("c", grid_weights(3, 1)),
        constant("W", grid_weights((27, 4), 2))])
    config = nnhls.config_from_onnx_model(model, default_precision="ap_fixed<18,8,AP_RND_CONV,AP_SAT>")
    hls_model = nnhls.convert_from_onnx_model(model, hls_config=config, output_dir=str(tmp_path / "prj"),
                                              backend="Vivado", io_type=io_type)
    X = grid_inputs((2, 6, 6), n=64)
    emulated = hls_model.predict(X)
    assert np.abs(emulated - onnxruntime_output(model, {"x": X})).max() <= 2.0 ** -9  # a few LSBs of <18,8>
    hls_model.compile()
    assert np.array_equal(hls_model.predict(X, engine="csim"), emulated)
