"""The equivalence matrix: every backend x strategy x io type, at random valid reuse factors,
gives the emulator's bits on small generated networks with random weights and types."""

import itertools
import warnings

import numpy as np
import pytest

from nnhls.hls.backend import BACKENDS, IO_TYPES, Project, get_backend
from nnhls.ir import (OPS, Activation, Concatenate, Conv, Crop, Dense, Dot, Embedding, Flatten, Graph, HardSigmoid,
                      Input, LayerNorm, Lookup, Merge, ParametricRelu, Pool, Reshape, ScaleShift, Softmax, Softsign,
                      Step, Transpose, Upsample, Weights, Window, ZeroPad, embedding_index_type, CELLS, Recurrent,
                      recurrent_parts)
from nnhls.types import IntType, exact_type
from nnhls.model import HLSModel, spanned_codes
from nnhls.passes import lower
from nnhls.types import AUTO, OVERFLOW_MODES, ROUNDING_MODES, FixedType

STRATEGIES = ("Latency", "Resource")
# Seeds whose random types keep every layer's output varied (many random types saturate a
# layer to a constant, which would test nothing downstream of it).
SEEDS = (1, 15, 24)
TABLE_SEEDS = (10, 13, 7)  # 7 draws an argmax softmax
PIECEWISE_SEEDS = (17, 10)  # 17 draws a strict threshold, 10 a non-strict one
IMAGE_SEEDS = (3, 8)
MERGE_SEEDS = (2, 5)  # the residual network's seed, then the two-input network's
CONVOLUTION_SEED = 4
LAYERNORM_SEED = 9  # an unsigned input; the last variance is 68 bits wide
TOKENS_SEED = 4
SHAPES_SEED = 4
RECURRENT_SEED = 4


def random_type(rng, width_range=(2, 12), signed=None, modes=True) -> FixedType:
    width = int(rng.integers(*width_range, endpoint=True))
    signed = bool(rng.random() < 0.7) if signed is None else signed
    integer = int(rng.integers(-1, width + 2))
    if not modes:
        return FixedType(width, integer, signed)
    overflow = str(rng.choice([o for o in OVERFLOW_MODES if signed or o != "WRAP_SM"]))
    return FixedType(width, integer, signed, str(rng.choice(ROUNDING_MODES)), overflow,
                     int(rng.integers(0, min(width, 2), endpoint=True)))


def random_weights(rng, shape, t: FixedType) -> Weights:
    codes = rng.integers(t.min_code, t.max_code, size=shape, endpoint=True)
    return Weights(values=codes * t.lsb, type=t)


def random_network(seed: int) -> Graph:
    """Input (4, 3) -> Flatten -> Dense -> relu -> ScaleShift -> Dense (user accumulator) -> linear."""
    rng = np.random.default_rng(seed)
    hidden, outputs = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    nodes = [
        Input("x", [], (4, 3), "InputLayer", result_type=random_type(rng, (4, 10))),
        Flatten("flat", ["x"], (12,), "Flatten"),
        Dense("dense", ["flat"], (hidden,), "Dense", result_type=random_type(rng, (6, 16)), accum_type=AUTO,
              weight=random_weights(rng, (12, hidden), random_type(rng, modes=False)),
              bias=random_weights(rng, (hidden,), random_type(rng, modes=False))),
        Activation("relu", ["dense"], (hidden,), "Activation", function="relu",
                   result_type=random_type(rng, (3, 10))),
        ScaleShift("bn", ["relu"], (hidden,), "BatchNormalization", result_type=AUTO,
                   scale=random_weights(rng, (hidden,), random_type(rng, modes=False)),
                   shift=random_weights(rng, (hidden,), random_type(rng, modes=False))),
        # A narrow accumulator of the user's: products round and partial sums overflow.
        Dense("out", ["bn"], (outputs,), "Dense", result_type=AUTO, accum_type=random_type(rng, (6, 14)),
              weight=random_weights(rng, (hidden, outputs), random_type(rng, modes=False)),
              bias=random_weights(rng, (outputs,), random_type(rng, modes=False))),
        Activation("linear", ["out"], (outputs,), "Activation", function="linear",
                   result_type=random_type(rng, (2, 8))),
    ]
    return Graph(nodes, ["linear"])


def table_type(rng, integer: int, signed: bool) -> FixedType:
    """A type for values within [-1, 1]: random width and modes."""
    overflow = str(rng.choice([o for o in OVERFLOW_MODES if signed or o != "WRAP_SM"]))
    return FixedType(int(rng.integers(6, 19)), integer + int(rng.integers(0, 2)), signed,
                     str(rng.choice(ROUNDING_MODES)), overflow)


def random_table_network(seed: int) -> Graph:
    """Input -> Dense -> tanh -> Dense -> sigmoid -> Dense -> softmax, tables of random sizes and
    types, fed by wide and narrow types alike (a table's index must not depend on the width)."""
    rng = np.random.default_rng(seed)
    n_in, hidden, classes = int(rng.integers(3, 10)), int(rng.integers(3, 9)), int(rng.integers(2, 11))
    wide = FixedType(int(rng.integers(20, 40)), int(rng.integers(4, 9)))
    def dense(name, source, n, m, result):
        scale = FixedType(int(rng.integers(4, 10)), 0)  # weights in [-0.5, 0.5) keep the tables busy
        return Dense(name, [source], (m,), "Dense", result_type=result, accum_type=AUTO,
                     weight=random_weights(rng, (n, m), scale), bias=random_weights(rng, (m,), scale))
    def size():
        return int(rng.choice([64, 256, 1024]))
    nodes = [
        Input("x", [], (n_in,), "InputLayer", result_type=FixedType(int(rng.integers(6, 13)), 3)),
        dense("dense1", "x", n_in, hidden, wide),
        Lookup("tanh", ["dense1"], (hidden,), "Activation", function="tanh", table_size=size(),
               table_type=table_type(rng, 1, True), result_type=FixedType(int(rng.integers(4, 16)), 1)),
        dense("dense2", "tanh", hidden, hidden, AUTO),
        Lookup("sigmoid", ["dense2"], (hidden,), "Activation", function="sigmoid", table_size=size(),
               table_type=table_type(rng, 0, False), result_type=AUTO),
        dense("dense3", "sigmoid", hidden, classes, FixedType(int(rng.integers(8, 24)), 3)),
        Softmax("softmax", ["dense3"], (classes,), "Softmax", table_size=size(),
                implementation="argmax" if seed % 4 == 3 else "stable",
                exp_type=FixedType(int(rng.integers(8, 19)), 1, False, "RND", "SAT"),
                inv_type=FixedType(int(rng.integers(8, 19)), 1, False, "RND", "SAT"),
                result_type=random_type(rng, (8, 18))),
    ]
    return Graph(nodes, ["softmax"])


def random_piecewise_network(seed: int) -> Graph:
    """The ReLU family (per-channel slopes, a threshold, a maximum), ELU, SELU and softplus with
    their exact linear tails, and hard sigmoid."""
    rng = np.random.default_rng(seed)
    n_in, hidden = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    def dense(name, source, n, m):
        scale = FixedType(int(rng.integers(5, 10)), 1)
        return Dense(name, [source], (m,), "Dense", result_type=FixedType(int(rng.integers(10, 20)), 5),
                     accum_type=AUTO, weight=random_weights(rng, (n, m), scale), bias=random_weights(rng, (m,), scale))
    def exact(value):
        return Weights(np.atleast_1d(value), quantizer=exact_type(np.atleast_1d(value)))
    def param():
        return FixedType(int(rng.integers(6, 19)), 2, True, str(rng.choice(ROUNDING_MODES)), "SAT")
    def result():
        return random_type(rng, (6, 16))
    nodes = [
        Input("x", [], (n_in,), "InputLayer", result_type=FixedType(int(rng.integers(6, 13)), 3)),
        dense("dense1", "x", n_in, hidden),
        ParametricRelu("prelu", ["dense1"], (hidden,), "PReLU", result_type=result(), param_type=param(),
                       threshold=exact(float(rng.integers(-8, 8)) / 4), max_value=exact(float(rng.integers(4, 24)) / 4),
                       slope=Weights(rng.uniform(-0.5, 0.5, hidden)), strict=bool(seed % 2),
                       min_input=exact(-float(rng.integers(1, 12)) / 2), min_value=exact(-0.75)),
        dense("dense2", "prelu", hidden, hidden),
        Lookup("elu", ["dense2"], (hidden,), "ELU", function="elu", alpha=float(rng.uniform(0.5, 1.5)),
               table_size=256, table_type=FixedType(int(rng.integers(8, 18)), 2, True, "RND", "SAT"), result_type=AUTO),
        dense("dense3", "elu", hidden, hidden),
        Lookup("selu", ["dense3"], (hidden,), "Activation", function="selu", table_size=512, param_type=param(),
               table_type=FixedType(int(rng.integers(8, 18)), 2, True, "RND", "SAT"), result_type=result()),
        dense("dense4", "selu", hidden, hidden),
        Lookup("softplus", ["dense4"], (hidden,), "Activation", function="softplus", table_size=1024,
               table_type=FixedType(int(rng.integers(8, 18)), 4, False, "RND", "SAT"), result_type=result()),
        # Thresholds beyond both ends of the input range too: those are dropped or always passed.
        Step("step", ["softplus"], (hidden,), "QActivation", staircase_of="test", result_type=AUTO,
             thresholds=np.sort(np.concatenate([[-40.0, 50.0], np.round(rng.uniform(0, 6, 5) * 8) / 8])),
             strict=np.array([False, True, False, True, False, True, False]),
             levels=exact(np.arange(8) / 4 - 1)),
        dense("dense5", "step", hidden, hidden),
        Softsign("softsign", ["dense5"], (hidden,), "Activation", result_type=result()),
        dense("dense6", "softsign", hidden, hidden),
        HardSigmoid("hard_sigmoid", ["dense6"], (hidden,), "Activation", param_type=param(),
                    slope=Weights(np.array([0.2])), offset=exact(0.5), result_type=AUTO),
    ]
    return Graph(nodes, ["hard_sigmoid"])


def ranged_type(rng, width_range, integer: int, signed: bool = True) -> FixedType:
    """A random width and random modes around `integer` integer bits: values stay varied."""
    overflow = str(rng.choice([o for o in OVERFLOW_MODES if signed or o != "WRAP_SM"]))
    width = int(rng.integers(*width_range, endpoint=True))
    return FixedType(width, integer + int(rng.integers(-1, 2)), signed, str(rng.choice(ROUNDING_MODES)), overflow)


def conv(rng, name, source, in_shape, window: Window, filters: int, result=AUTO, accum=AUTO) -> Conv:
    """A convolution with random kernel and bias codes."""
    height = (window.out_h,) if len(in_shape) == 3 else ()
    kernel = random_weights(rng, (window.kernel_h, window.kernel_w, window.channels, filters),
                            FixedType(int(rng.integers(3, 8)), 1))
    return Conv(name, [source], (*height, window.out_w, filters), "Conv2D" if height else "Conv1D",
                result_type=result, accum_type=accum, weight=kernel,
                bias=random_weights(rng, (filters,), FixedType(int(rng.integers(3, 8)), 2)),
                window=window, in_shape=in_shape, parallelization_factor=int(rng.choice([1, window.n_pixels])))


def random_image_network(seed: int) -> Graph:
    """Images with 2 and 3 channels: zero padding, a strided 'same' convolution, batch norm,
    max pooling with padding, a valid convolution with a narrow user accumulator, average
    pooling whose window count varies at the edges (3x3 = 9 values inside, fewer on padding),
    global max pooling keeping its dimensions (an output that the flatten reads too), a Dense
    on the flattened pixels, and global average pooling on a branch of the second convolution."""
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(5, 8)), int(rng.integers(5, 8)), 2
    pad = Window(h, w, c, pad_top=1, pad_bottom=0, pad_left=2, pad_right=1)
    hp, wp = pad.padded_h, pad.padded_w
    first = Window(hp, wp, c, 3, 3, 2, 1, 1, 1, 1, 1)
    f1 = int(rng.integers(3, 5))
    pool1 = Window(first.out_h, first.out_w, f1, 2, 2, 2, 2, 0, first.out_h % 2, 0, first.out_w % 2)
    second = Window(pool1.out_h, pool1.out_w, f1, 2, 2, 1, 1)
    f2 = 3
    pool2 = Window(second.out_h, second.out_w, f2, 3, 3, 1, 1, 1, 1, 1, 1)
    nodes = [
        Input("x", [], (h, w, c), "InputLayer", result_type=ranged_type(rng, (6, 10), 3)),
        ZeroPad("pad", ["x"], (hp, wp, c), "ZeroPadding2D", result_type=AUTO, window=pad, in_shape=(h, w, c)),
        conv(rng, "conv1", "pad", (hp, wp, c), first, f1, result=ranged_type(rng, (8, 14), 6)),
        ScaleShift("bn", ["conv1"], (first.out_h, first.out_w, f1), "BatchNormalization", result_type=AUTO,
                   scale=random_weights(rng, (f1,), FixedType(int(rng.integers(3, 8)), 1)),
                   shift=random_weights(rng, (f1,), FixedType(int(rng.integers(3, 8)), 3))),
        Activation("relu", ["bn"], (first.out_h, first.out_w, f1), "Activation", function="relu",
                   result_type=ranged_type(rng, (5, 10), 4, signed=False)),
        Pool("pool1", ["relu"], (pool1.out_h, pool1.out_w, f1), "MaxPooling2D", function="max",
             result_type=AUTO, window=pool1, in_shape=(first.out_h, first.out_w, f1)),
        conv(rng, "conv2", "pool1", (pool1.out_h, pool1.out_w, f1), second, f2, result=AUTO,
             accum=ranged_type(rng, (9, 14), 6)),
        Pool("pool2", ["conv2"], (pool2.out_h, pool2.out_w, f2), "AveragePooling2D", function="average",
             result_type=ranged_type(rng, (6, 12), 6), window=pool2, in_shape=(second.out_h, second.out_w, f2)),
        Pool("global", ["pool2"], (1, 1, f2), "GlobalMaxPooling2D", function="max", result_type=AUTO,
             window=Window(pool2.out_h, pool2.out_w, f2, pool2.out_h, pool2.out_w),
             in_shape=(pool2.out_h, pool2.out_w, f2)),
        Flatten("flat", ["global"], (f2,), "Flatten"),
        Dense("dense", ["flat"], (4,), "Dense", result_type=AUTO, accum_type=AUTO,
              weight=random_weights(rng, (f2, 4), FixedType(int(rng.integers(3, 6)), 1)),
              bias=random_weights(rng, (4,), FixedType(int(rng.integers(3, 6)), 2))),
        Pool("global_average", ["conv2"], (f2,), "GlobalAveragePooling2D", function="average",
             result_type=ranged_type(rng, (6, 12), 6), window=Window(second.out_h, second.out_w, f2, second.out_h,
                                                                     second.out_w),
             in_shape=(second.out_h, second.out_w, f2)),
    ]
    return Graph(nodes, ["dense", "global_average", "global"])


def random_signal_network(seed: int) -> Graph:
    """1-D signals with 3 channels: a causal strided convolution, max pooling with 'same'
    padding, a valid convolution, global average pooling and global max pooling (keepdims)."""
    rng = np.random.default_rng(seed)
    w, c = int(rng.integers(9, 14)), 3
    first = Window(1, w, c, 1, 3, 1, 2, pad_left=2)
    f1 = int(rng.integers(2, 5))
    pool = Window(1, first.out_w, f1, 1, 3, 1, 2, pad_left=1, pad_right=1)
    second = Window(1, pool.out_w, f1, 1, 2)
    f2 = 3
    nodes = [
        Input("x", [], (w, c), "InputLayer", result_type=ranged_type(rng, (6, 10), 3)),
        conv(rng, "conv1", "x", (w, c), first, f1, result=ranged_type(rng, (8, 14), 6)),
        Pool("pool", ["conv1"], (pool.out_w, f1), "MaxPooling1D", function="max", result_type=ranged_type(rng, (5, 12), 6),
             window=pool, in_shape=(first.out_w, f1)),
        conv(rng, "conv2", "pool", (pool.out_w, f1), second, f2, result=AUTO),
        Pool("average", ["conv2"], (f2,), "GlobalAveragePooling1D", function="average",
             result_type=ranged_type(rng, (6, 12), 6), window=Window(1, second.out_w, f2, 1, second.out_w),
             in_shape=(second.out_w, f2)),
        Dense("dense", ["average"], (8,), "Dense", result_type=AUTO, accum_type=AUTO,
              weight=random_weights(rng, (f2, 8), FixedType(int(rng.integers(3, 6)), 1)),
              bias=random_weights(rng, (8,), FixedType(int(rng.integers(3, 6)), 2))),
    ]
    return Graph(nodes, ["dense"])


def grouped_conv(rng, name, source, in_shape, window: Window, filters: int, groups: int, framework: str,
                 result=AUTO, shape=None) -> Conv:
    """A convolution of `groups` groups (a depthwise one when groups = channels) with random codes."""
    kernel = random_weights(rng, (window.kernel_h, window.kernel_w, window.channels // groups, filters),
                            FixedType(int(rng.integers(3, 8)), 1))
    return Conv(name, [source], shape or (window.out_h, window.out_w, filters), framework, result_type=result,
                accum_type=AUTO, weight=kernel, bias=random_weights(rng, (filters,), FixedType(int(rng.integers(3, 8)), 2)),
                window=window, in_shape=in_shape, groups=groups,
                parallelization_factor=int(rng.choice([1, window.n_pixels])))


def random_convolution_network(seed: int) -> Graph:
    """The convolutions beyond the plain one: a dilated 'same' convolution, a depthwise one of
    depth multiplier 2 with strides, a pointwise one (a Dense on each pixel), a transposed one (its
    input's pixels spread apart), a Dense on the last axis of an image, and a grouped convolution
    on a branch."""
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(5, 8)), int(rng.integers(5, 8)), 3
    dilated = Window(h, w, c, 3, 3, 1, 1, 2, 2, 2, 2, dilation_h=2, dilation_w=2)
    f1 = 4
    depthwise = Window(h, w, f1, 3, 3, 2, 1, 1, 1, 1, 1)
    pointwise = Window(depthwise.out_h, depthwise.out_w, 2 * f1)
    f2 = 3
    # 'same' with stride 2: the spread input padded 2 before and 1 after (frontends/keras.py).
    transposed = Window(pointwise.out_h, pointwise.out_w, f2, 3, 3, 1, 1, 2, 1, 2, 1, spread_h=2, spread_w=2)
    grouped = Window(h, w, f1, 2, 2)
    image = (transposed.out_h, transposed.out_w)
    nodes = [
        Input("x", [], (h, w, c), "InputLayer", result_type=ranged_type(rng, (6, 10), 3)),
        grouped_conv(rng, "dilated", "x", (h, w, c), dilated, f1, 1, "Conv2D", result=ranged_type(rng, (8, 12), 5)),
        grouped_conv(rng, "depthwise", "dilated", (h, w, f1), depthwise, 2 * f1, f1, "DepthwiseConv2D",
                     result=ranged_type(rng, (8, 12), 6)),
        grouped_conv(rng, "pointwise", "depthwise", (depthwise.out_h, depthwise.out_w, 2 * f1), pointwise, f2, 1,
                     "Conv2D", result=ranged_type(rng, (8, 12), 7)),
        grouped_conv(rng, "transposed", "pointwise", (pointwise.out_h, pointwise.out_w, f2), transposed, f2, 1,
                     "Conv2DTranspose", result=ranged_type(rng, (8, 12), 7)),
        grouped_conv(rng, "dense", "transposed", (*image, f2), Window(1, image[0] * image[1], f2), 4, 1, "Dense",
                     result=ranged_type(rng, (8, 14), 8), shape=(*image, 4)),
        grouped_conv(rng, "grouped", "dilated", (h, w, f1), grouped, 4, 2, "Conv2D", result=AUTO),
    ]
    return Graph(nodes, ["dense", "grouped"])


def random_residual_network(seed: int) -> Graph:
    """Branches that reconverge: an Add around two 'same' convolutions (the skip path waits in
    its FIFO while the line buffers fill), max and average pooling of the sum, read by every merge
    and by concatenations along channels, rows (three inputs, one of them twice) and columns; an
    average of three (not a power of two) and one of two, a maximum of three."""
    rng = np.random.default_rng(seed)
    h, w, c, f = 6, 6, 2, 3
    same = Window(h, w, c, 3, 3, 1, 1, 1, 1, 1, 1)
    inner = Window(h, w, f, 3, 3, 1, 1, 1, 1, 1, 1)
    pool = Window(h, w, f, 2, 2, 2, 2)
    image, pooled = (h, w, f), (pool.out_h, pool.out_w, f)
    def merge(name, inputs, function, result=None):
        return Merge(name, inputs, pooled, "Add", function=function,
                     result_type=ranged_type(rng, (7, 14), 5) if result is None else result)
    nodes = [
        Input("x", [], (h, w, c), "InputLayer", result_type=ranged_type(rng, (6, 10), 3)),
        conv(rng, "conv_a", "x", (h, w, c), same, f, result=ranged_type(rng, (8, 12), 5)),
        Activation("relu", ["conv_a"], image, "Activation", function="relu",
                   result_type=ranged_type(rng, (5, 9), 4, signed=False)),
        conv(rng, "conv_b", "relu", image, inner, f, result=ranged_type(rng, (8, 12), 5)),
        conv(rng, "conv_c", "conv_b", image, inner, f, result=ranged_type(rng, (8, 12), 6)),
        Merge("add", ["relu", "conv_c"], image, "Add", function="add", result_type=ranged_type(rng, (8, 13), 6)),
        Pool("max", ["add"], pooled, "MaxPooling2D", function="max", result_type=AUTO, window=pool, in_shape=image),
        Pool("avg", ["add"], pooled, "AveragePooling2D", function="average", result_type=ranged_type(rng, (7, 12), 6),
             window=pool, in_shape=image),
        Concatenate("channels", ["max", "avg"], (3, 3, 2 * f), "Concatenate", axis=2,
                    result_type=ranged_type(rng, (6, 12), 6)),
        Concatenate("rows", ["max", "avg", "max"], (9, 3, f), "Concatenate", axis=0, result_type=AUTO),
        Concatenate("columns", ["avg", "max"], (3, 6, f), "Concatenate", axis=1, result_type=AUTO),
        merge("subtract", ["max", "avg"], "subtract"),
        merge("multiply", ["max", "avg"], "multiply", result=ranged_type(rng, (8, 14), 8)),
        merge("maximum", ["max", "avg", "subtract"], "maximum", result=AUTO),
        merge("minimum", ["avg", "multiply"], "minimum"),
        merge("average3", ["max", "avg", "minimum"], "average", result=AUTO),
        merge("average2", ["subtract", "maximum"], "average", result=AUTO),
        Flatten("flat", ["channels"], (9 * 2 * f,), "Flatten"),
        Dense("dense", ["flat"], (5,), "Dense", result_type=AUTO, accum_type=AUTO,
              weight=random_weights(rng, (9 * 2 * f, 5), FixedType(int(rng.integers(3, 6)), 1)),
              bias=random_weights(rng, (5,), FixedType(int(rng.integers(3, 6)), 2))),
        # Element-wise ops after a Flatten take the flattened image's pixels as they stream.
        Flatten("flat_avg", ["avg"], (9 * f,), "Flatten"),
        Activation("relu_flat", ["flat_avg"], (9 * f,), "Activation", function="relu",
                   result_type=ranged_type(rng, (5, 9), 5, signed=False)),
        ScaleShift("scaled", ["relu_flat"], (9 * f,), "BatchNormalization", result_type=AUTO,
                   scale=random_weights(rng, (9 * f,), FixedType(int(rng.integers(3, 8)), 1)),
                   shift=random_weights(rng, (9 * f,), FixedType(int(rng.integers(3, 8)), 3))),
    ]
    return Graph(nodes, ["dense", "rows", "columns", "average3", "average2", "channels", "scaled"])


def random_two_input_network(seed: int) -> Graph:
    """Two input vectors: a Dot of two Dense layers, an Add of three that reads one input twice,
    a product, an exact average of two and a concatenation; inputs read by several layers."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 9))
    def dense(name, source, result=AUTO):
        return Dense(name, [source], (n,), "Dense", result_type=result, accum_type=AUTO,
                     weight=random_weights(rng, (n, n), FixedType(int(rng.integers(3, 6)), 1)),
                     bias=random_weights(rng, (n,), FixedType(int(rng.integers(3, 6)), 2)))
    nodes = [
        Input("a", [], (n,), "InputLayer", result_type=ranged_type(rng, (6, 10), 3)),
        Input("b", [], (n,), "InputLayer", result_type=ranged_type(rng, (6, 10), 2)),
        dense("dense_a", "a", ranged_type(rng, (8, 12), 4)),
        dense("dense_b", "b", ranged_type(rng, (8, 12), 4)),
        Dot("dot", ["dense_a", "dense_b"], (1,), "Dot", result_type=AUTO, length=n),
        Merge("sum", ["a", "b", "a"], (n,), "Add", function="add", result_type=ranged_type(rng, (6, 10), 4)),
        Merge("product", ["dense_a", "b"], (n,), "Multiply", function="multiply", result_type=AUTO),
        Merge("mean", ["a", "dense_b"], (n,), "Average", function="average", result_type=AUTO),
        Concatenate("joined", ["dense_a", "b"], (2 * n,), "Concatenate", axis=0,
                    result_type=ranged_type(rng, (6, 12), 4)),
    ]
    return Graph(nodes, ["dot", "sum", "product", "mean", "joined"])


def random_layernorm_network(seed: int) -> Graph:
    """Layer normalizations over the last axis of a (positions, channels) input and of 1-D
    vectors, with random types, table sizes and epsilons: one with gamma and beta, one without
    gamma and with an exact (`auto`) normalized difference over a flattened input (which streams a
    position at a time), one without beta on a wide exact Dense sum."""
    rng = np.random.default_rng(seed)
    positions, channels, outputs = int(rng.integers(2, 5)), int(rng.integers(3, 9)), int(rng.integers(3, 7))
    flat = positions * channels
    def weights(n, integer):
        return random_weights(rng, (n,), FixedType(int(rng.integers(4, 12)), integer))
    def norm(name, source, shape, scale, bias, accum):
        node = LayerNorm(name, [source], shape, "LayerNormalization", scale=scale, bias=bias, accum_type=accum,
                         epsilon=float(rng.choice([1e-5, 1e-3, 0.1])), table_size=int(rng.choice([16, 64, 256, 1024])),
                         result_type=ranged_type(rng, (8, 16), 3))
        node.table_type = FixedType(int(rng.integers(8, 19)), node.table_integer_bits() + int(rng.integers(0, 2)),
                                    False, str(rng.choice(ROUNDING_MODES)), "SAT")
        return node
    nodes = [
        Input("x", [], (positions, channels), "InputLayer",
              result_type=ranged_type(rng, (6, 14), 4, signed=bool(rng.random() < 0.6))),
        norm("norm", "x", (positions, channels), weights(channels, 2), weights(channels, 2),
             ranged_type(rng, (8, 20), 2)),
        Flatten("flat", ["norm"], (flat,), "Flatten"),
        norm("norm_flat", "flat", (flat,), None, weights(flat, 1), AUTO),
        Dense("dense", ["norm_flat"], (outputs,), "Dense", result_type=AUTO, accum_type=AUTO,
              weight=random_weights(rng, (flat, outputs), FixedType(int(rng.integers(10, 17)), 1)),
              bias=random_weights(rng, (outputs,), FixedType(int(rng.integers(4, 9)), 2))),
        norm("norm_dense", "dense", (outputs,), weights(outputs, 2), None, ranged_type(rng, (8, 20), 2)),
    ]
    return Graph(nodes, ["norm", "norm_dense"])


def random_tokens_network(seed: int) -> Graph:
    """Two token sequences: one of a random signed type with fractions, read by an embedding that
    truncates toward zero and counts negative indices from the end (Keras 3), one of the default
    index type (Keras 2); their tables of random types joined along the channels, a 1-D
    convolution, sum pooling and its scale (QKeras's quantized average), a global average of the
    first embedding, and the second embedding's narrower result."""
    rng = np.random.default_rng(seed)
    n, vocab_a, vocab_b = int(rng.integers(5, 9)), int(rng.integers(5, 14)), int(rng.integers(4, 9))
    dim_a, dim_b, filters = 3, 2, 3
    index_bits = vocab_a.bit_length() + 1
    tokens = FixedType(index_bits + int(rng.integers(1, 4)), index_bits + int(rng.integers(0, 2)), True,
                       str(rng.choice(ROUNDING_MODES)), "SAT")
    table_a, table_b = ranged_type(rng, (4, 10), 2), FixedType(int(rng.integers(6, 12)), 3)
    joined = Window(1, n, dim_a + dim_b, 1, 3, 1, 1, pad_left=1, pad_right=1)
    pooled = Window(1, joined.out_w, filters, 1, 2, 1, 2)
    nodes = [
        Input("tokens", [], (n,), "InputLayer", result_type=tokens),
        Input("ids", [], (n,), "InputLayer", result_type=embedding_index_type(vocab_b)),
        Embedding("embed", ["tokens"], (n, dim_a), "Embedding", result_type=AUTO, negative_wraps=True,
                  embeddings=random_weights(rng, (vocab_a, dim_a), table_a)),
        Embedding("embed_ids", ["ids"], (n, dim_b), "Embedding", result_type=ranged_type(rng, (4, 8), 3),
                  embeddings=random_weights(rng, (vocab_b, dim_b), table_b)),
        Concatenate("joined", ["embed", "embed_ids"], (n, dim_a + dim_b), "Concatenate", axis=1, result_type=AUTO),
        conv(rng, "conv", "joined", (n, dim_a + dim_b), joined, filters, result=ranged_type(rng, (8, 12), 5)),
        Pool("sum", ["conv"], (pooled.out_w, filters), "QAveragePooling2D", function="sum", result_type=AUTO,
             window=pooled, in_shape=(joined.out_w, filters)),
        ScaleShift("scaled", ["sum"], (pooled.out_w, filters), "QAveragePooling2D", result_type=AUTO,
                   scale=random_weights(rng, (filters,), FixedType(int(rng.integers(3, 7)), 0, False)),
                   shift=Weights(np.zeros(filters), type=IntType(1, signed=False))),
        Pool("mean", ["embed"], (dim_a,), "GlobalAveragePooling1D", function="average",
             result_type=ranged_type(rng, (6, 12), 2), window=Window(1, n, dim_a, 1, n), in_shape=(n, dim_a)),
    ]
    return Graph(nodes, ["scaled", "mean", "embed_ids"])


def random_shapes_network(seed: int) -> Graph:
    """Shape layers on images of 3 channels: a cropping whose nearest upsampling is added to a
    'same' convolution (branches that reconverge), a bilinear upsampling whose denominator is not a
    power of two (3 x 2: 12) joined along rows to that sum, a transpose of the join that moves its
    last axis, reshapes that repack (packets of 10 into 20, 3 into 2, a vector into rows of 3) or
    keep the last axis (four axes, flattened), softmax over the last axis of 2-D tensors, an exact
    bilinear upsampling (2 x 1: 4), and Cropping1D and UpSampling1D of a signal."""
    rng = np.random.default_rng(seed)
    h, w, c = 4, 6, 3
    def softmax(name, source, shape, implementation):
        table = [FixedType(int(rng.integers(10, 19)), 1, False, "RND", "SAT") for _ in range(2)]
        return Softmax(name, [source], shape, "Softmax", table_size=int(rng.choice([256, 1024])),
                       implementation=implementation, exp_type=table[0], inv_type=table[1],
                       result_type=random_type(rng, (8, 18)))
    nodes = [
        Input("x", [], (h, w, c), "InputLayer", result_type=ranged_type(rng, (6, 10), 3)),
        conv(rng, "conv", "x", (h, w, c), Window(h, w, c, 3, 3, 1, 1, 1, 1, 1, 1), c,
             result=ranged_type(rng, (8, 12), 5)),
        Crop("crop", ["x"], (2, 3, c), "Cropping2D", result_type=AUTO, in_shape=(h, w, c), top=1, bottom=1, left=1,
             right=2),
        Upsample("nearest", ["crop"], (h, w, c), "UpSampling2D", result_type=AUTO, size_h=2, size_w=2,
                 in_shape=(2, 3, c)),
        Merge("add", ["nearest", "conv"], (h, w, c), "Add", function="add", result_type=ranged_type(rng, (8, 12), 5)),
        Upsample("bilinear", ["crop"], (6, 6, c), "UpSampling2D", result_type=AUTO, interpolation="bilinear",
                 size_h=3, size_w=2, in_shape=(2, 3, c)),
        Concatenate("rows", ["add", "bilinear"], (10, 6, c), "Concatenate", axis=0,
                    result_type=ranged_type(rng, (8, 14), 5)),
        Transpose("transpose", ["rows"], (6, c, 10), "Permute", result_type=AUTO, perm=(1, 2, 0),
                  in_shape=(10, 6, c)),
        Reshape("reshape", ["transpose"], (9, 20), "Reshape", result_type=AUTO),
        softmax("softmax", "reshape", (9, 20), "stable"),
        Upsample("bilinear_exact", ["add"], (2 * h, w, c), "UpSampling2D", result_type=ranged_type(rng, (8, 14), 5),
                 interpolation="bilinear", size_h=2, size_w=1, in_shape=(h, w, c)),
        Reshape("four_axes", ["bilinear_exact"], (4, 2, w, c), "Reshape", result_type=AUTO),
        Flatten("flat", ["four_axes"], (8 * w * c,), "Flatten"),
        Dense("dense", ["flat"], (12,), "Dense", result_type=ranged_type(rng, (8, 14), 4), accum_type=AUTO,
              weight=random_weights(rng, (8 * w * c, 12), FixedType(int(rng.integers(3, 6)), 0)),
              bias=random_weights(rng, (12,), FixedType(int(rng.integers(3, 6)), 2))),
        Reshape("vector_rows", ["dense"], (4, 3), "Reshape", result_type=AUTO),
        softmax("softmax_rows", "vector_rows", (4, 3), "stable" if seed % 2 else "argmax"),
        Reshape("pairs", ["add"], (h * w * c // 2, 2), "Reshape", result_type=ranged_type(rng, (6, 12), 5)),
        Crop("crop_signal", ["pairs"], (h * w * c // 2 - 3, 2), "Cropping1D", result_type=AUTO,
             in_shape=(h * w * c // 2, 2), left=2, right=1),
        Upsample("upsample_signal", ["crop_signal"], (2 * (h * w * c // 2 - 3), 2), "UpSampling1D", result_type=AUTO,
                 size_w=2, in_shape=(h * w * c // 2 - 3, 2)),
    ]
    return Graph(nodes, ["softmax", "softmax_rows", "upsample_signal", "four_axes"])


def recurrent_layer(rng, name: str, source: str, cell: str, steps: int, n_in: int, units: int, activation: tuple,
                    gate: tuple, **fields) -> Recurrent:
    """A recurrent layer of random kernels, biases and types; its state and cell state narrow
    enough that they saturate or wrap now and then."""
    blocks = len(CELLS[cell])
    def weights(shape):
        return random_weights(rng, shape, FixedType(int(rng.integers(4, 9)), int(rng.integers(0, 2))))
    parts = recurrent_parts(name, cell, units, weights((n_in, blocks * units)), weights((units, blocks * units)),
                            weights((blocks * units,)), weights((blocks * units,)), activation, gate,
                            fields.get("reset_after", True))
    return_sequences = fields.pop("return_sequences", True)
    shape = (steps, units) if return_sequences else (units,)
    node = Recurrent(name, [source], shape, cell.upper(), cell=cell, units=units, steps=steps,
                     return_sequences=return_sequences, parts=parts, static=bool(rng.random() < 0.5), **fields)
    node.set_precision("result", random_type(rng, (6, 14)) if rng.random() < 0.5 else AUTO)
    node.set_precision("state", ranged_type(rng, (8, 14), 2))
    for key in node.precision_keys():
        if key == "cell_state":
            node.set_precision(key, ranged_type(rng, (8, 16), 2))
        elif key.endswith("table"):
            node.set_precision(key, table_type(rng, 1, True))
        elif key.endswith("param"):
            rounding = str(rng.choice(ROUNDING_MODES))
            node.set_precision(key, FixedType(int(rng.integers(6, 19)), 2, True, rounding, "SAT"))
    node.set_precision("accum", AUTO if rng.random() < 0.5 else ranged_type(rng, (10, 18), 4))
    return node


def random_recurrent_network(seed: int) -> Graph:
    """An LSTM of table-driven gates returning its sequence; a GRU of hard-sigmoid gates
    (reset after the product) reading it backwards, returning it in time order; a GRU with the
    reset before the product, a staircase gate and a ReLU candidate, reading backwards; a
    SimpleRNN returning its last state; each with its own types, reuse factors and `static`."""
    rng = np.random.default_rng(seed)
    steps, n_in = int(rng.integers(3, 6)), int(rng.integers(2, 5))
    units = [int(rng.integers(2, 5)) for _ in range(4)]
    exact = Weights(np.array([0.5]), quantizer=FixedType(1, 0, False))
    hard_sigmoid = ("hard_sigmoid", {"slope": Weights(np.array([0.2])), "offset": exact})
    staircase = ("step", {"staircase_of": "quantized_sigmoid", "thresholds": np.array([-1.5, -0.25, 0.5, 2.0]),
                          "levels": Weights(np.arange(5) / 4, quantizer=FixedType(3, 1, False))})
    nodes = [
        Input("x", [], (steps, n_in), "InputLayer", result_type=ranged_type(rng, (6, 10), 2)),
        recurrent_layer(rng, "lstm", "x", "lstm", steps, n_in, units[0], ("tanh", {}), ("sigmoid", {})),
        recurrent_layer(rng, "gru", "lstm", "gru", steps, units[0], units[1], ("tanh", {}), hard_sigmoid,
                        go_backwards=True, time_order=True),
        recurrent_layer(rng, "gru_reset_before", "gru", "gru", steps, units[1], units[2], ("relu", {}), staircase,
                        reset_after=False, go_backwards=True),
        recurrent_layer(rng, "rnn", "gru_reset_before", "simple", steps, units[2], units[3], ("tanh", {}),
                        ("sigmoid", {}), return_sequences=False),
    ]
    return Graph(nodes, ["lstm", "rnn"])


NETWORKS = {"ops": random_network, "tables": random_table_network, "piecewise": random_piecewise_network,
            "images": random_image_network, "signals": random_signal_network, "residual": random_residual_network,
            "two_inputs": random_two_input_network, "convolutions": random_convolution_network,
            "layernorm": random_layernorm_network, "tokens": random_tokens_network, "shapes": random_shapes_network,
            "recurrent": random_recurrent_network}


def spanning_inputs(graph: Graph, n: int, seed: int):
    """Values beyond each end of the input type too, so input conversion saturates and wraps
    (a list of arrays for a graph of several inputs). An input that embeddings read takes values
    between its codes whose indices lie within the tables (the emulator refuses others), fractions
    included, so that every rounding mode lands on such a code."""
    rng = np.random.default_rng(seed)
    arrays = []
    for node in graph.inputs:
        t = node.result_type
        if any(reader.op == "embedding" for reader in graph.consumers(node.name)):
            low, high = spanned_codes(graph, node)
            codes = rng.integers(low, high, size=(n, *node.shape))
            arrays.append((codes + rng.choice([0.0, 0.25, 0.5, 0.9], codes.shape)) * t.lsb)
        else:
            arrays.append(rng.uniform(t.min_value * 1.3 - 1, t.max_value * 1.3 + 1, size=(n, *node.shape)))
    return arrays[0] if len(arrays) == 1 else arrays


def realize(seed, backend, strategy, io_type, tmp_path, network="ops") -> tuple[HLSModel, Graph]:
    graph = NETWORKS[network](seed)
    rng = np.random.default_rng([seed, STRATEGIES.index(strategy)])
    for node in graph:
        node.strategy = strategy
        if node.op in ("dense", "conv"):
            node.reuse_factor = int(rng.choice(node.valid_reuse_factors(strategy)))
        if node.op == "recurrent":  # each of its Dense parts at a factor it takes
            node.reuse_factor = int(rng.choice(node.parts["input"].valid_reuse_factors(strategy)))
            recurrent = [set(part.valid_reuse_factors(strategy)) for role, part in node.dense_parts() if role != "input"]
            node.recurrent_reuse_factor = int(rng.choice(sorted(set.intersection(*recurrent))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # user types here overflow on purpose
        lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    project = Project(graph, get_backend(backend), io_type, "myproject", "xcu250-figd2104-2L-e", 5)
    return HLSModel(graph, project, tmp_path / f"{network}_{backend}_{strategy}_{io_type}_{seed}", {}), graph


def test_matrix_covers_every_op():
    used = {node.op for seed in SEEDS for network in NETWORKS.values() for node in network(seed)}
    assert used == set(OPS), "every op the converter accepts needs a row in the equivalence matrix"


CASES = [("residual", MERGE_SEEDS[0]), ("two_inputs", MERGE_SEEDS[1]), ("convolutions", CONVOLUTION_SEED)] + \
    [("images", seed) for seed in IMAGE_SEEDS] + [("signals", seed) for seed in IMAGE_SEEDS] + \
    [("ops", seed) for seed in SEEDS] + [("tables", seed) for seed in TABLE_SEEDS] + \
    [("piecewise", seed) for seed in PIECEWISE_SEEDS] + [("layernorm", LAYERNORM_SEED), ("tokens", TOKENS_SEED),
                                                          ("shapes", SHAPES_SEED), ("recurrent", RECURRENT_SEED)]


@pytest.mark.parametrize("network, seed", CASES)
@pytest.mark.parametrize("backend, strategy, io_type", list(itertools.product(BACKENDS, STRATEGIES, IO_TYPES)))
def test_csim_equals_emulator(network, seed, backend, strategy, io_type, tmp_path):
    model, graph = realize(seed, backend, strategy, io_type, tmp_path, network)
    model.compile()
    X = spanning_inputs(graph, 300, seed)
    csim_out, csim_trace = model.trace(X, engine="csim")
    emulator_out, emulator_trace = model.trace(X, engine="emulator")
    for node in graph:  # first differing layer first
        assert np.array_equal(csim_trace[node.name], emulator_trace[node.name]), node.name
        varied = 2 if node.op == "softmax" and node.implementation == "argmax" else 30
        assert len(np.unique(emulator_trace[node.name], axis=0)) > varied, f"{node.name} is nearly constant"
    for csim, emulated in zip(*(out if isinstance(out, list) else [out] for out in (csim_out, emulator_out))):
        assert np.array_equal(csim, emulated)


def run_testbench(model):
    """Write the project, build its vendor-facing testbench with g++ against our ap_types (the
    top function as the HLS tools see it, without the bridge) and run it: (project folder,
    finished process)."""
    import subprocess

    project = model.write()
    command = ["g++", "-std=c++14", "-O1", "-Wno-unknown-pragmas", "-Ifirmware", "-Iap_types",
               "firmware/myproject.cpp", "myproject_test.cpp", "-o", "testbench"]
    subprocess.run(command, cwd=project, check=True)
    return project, subprocess.run(["./testbench"], cwd=project, capture_output=True, text=True)


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_project_testbench_checks_every_output_bit(io_type, tmp_path):
    """The testbench the vendor's C simulation runs, built here with g++ against our ap_types."""
    model, _ = realize(SEEDS[0], "Vitis", "Resource", io_type, tmp_path)
    project, result = run_testbench(model)
    assert result.returncode == 0 and "64 samples, 0 outputs differ" in result.stdout
    predictions = project / "tb_data" / "tb_output_predictions.dat"
    lines = predictions.read_text().splitlines()
    values = lines[3].split()
    values[0] = repr(float(values[0]) + model.graph["linear"].result_type.lsb)
    predictions.write_text("\n".join(lines[:3] + [" ".join(values)] + lines[4:]) + "\n")
    import subprocess

    result = subprocess.run(["./testbench"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 1 and "64 samples, 1 outputs differ" in result.stdout


@pytest.mark.parametrize("input_width, weight_width", [(20, 16), (34, 20), (40, 30)])
def test_wide_types_take_exact_paths(input_width, weight_width, tmp_path):
    """Float64 BLAS, int64 and Python-int matrix products must all be exact: the widest case
    here has 70-bit products and a 76-bit accumulator."""
    rng = np.random.default_rng(input_width)
    x_type = FixedType(input_width, input_width // 2)
    w_type = FixedType(weight_width, 3)
    weight = random_weights(rng, (9, 4), w_type)
    nodes = [
        Input("x", [], (9,), "InputLayer", result_type=x_type),
        Dense("dense", ["x"], (4,), "Dense", result_type=AUTO, accum_type=AUTO, weight=weight,
              bias=random_weights(rng, (4,), w_type)),
    ]
    graph = Graph(nodes, ["dense"])
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    X = spanning_inputs(graph, 200, input_width)
    model = HLSModel(graph, Project(graph, get_backend("Vitis"), "io_parallel", "myproject", "xc", 5),
                     tmp_path / "prj", {})
    model.compile()
    emulated = model.predict(X)
    assert np.array_equal(model.predict(X, engine="csim"), emulated)
    # The same sums in exact rationals, compared code for code.
    from fractions import Fraction

    from nnhls import emulate, quantize

    codes = emulate.run(graph, {"x": X})["dense"]
    x_values = quantize.to_float(quantize.from_float(X, x_type), x_type)
    accum = graph["dense"].accum_type
    for sample in range(0, 200, 37):
        for j in range(4):
            exact = sum(Fraction(float(x_values[sample, i])) * Fraction(float(weight.values[i, j])) for i in range(9))
            exact += Fraction(float(nodes[1].bias.values[j]))
            assert int(codes[sample, j]) == exact * 2**accum.fractional
    assert accum.width >= input_width + weight_width - 2


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_csim_keeps_no_state_between_calls(io_type, tmp_path):
    """Line buffers and counters start clean on every image: two batches in a row give what
    one call on both gives, and the same image gives the same output wherever it comes."""
    model, graph = realize(IMAGE_SEEDS[0], "Vivado", "Latency", io_type, tmp_path, "images")
    model.compile()
    X = spanning_inputs(graph, 60, 5)
    together = model.predict(X, engine="csim")
    first, second = model.predict(X[:25], engine="csim"), model.predict(X[25:], engine="csim")
    backwards = model.predict(X[::-1], engine="csim")
    for output, (a, b, c) in enumerate(zip(first, second, backwards)):
        assert np.array_equal(together[output], np.concatenate([a, b]))
        assert np.array_equal(together[output], c[::-1])


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_output_that_is_a_flatten_or_read_by_layers(io_type, tmp_path):
    """A network whose outputs are a Flatten and a value another layer reads as well: the port
    is written once, from the array or stream that holds the value."""
    rng = np.random.default_rng(4)
    window = Window(4, 5, 2, 2, 2)
    nodes = [
        Input("x", [], (4, 5, 2), "InputLayer", result_type=FixedType(8, 3)),
        conv(rng, "conv", "x", (4, 5, 2), window, 3, result=FixedType(12, 5)),
        Flatten("flat", ["conv"], (window.n_pixels * 3,), "Flatten"),
        Activation("relu", ["conv"], (window.out_h, window.out_w, 3), "Activation", function="relu",
                   result_type=AUTO),
    ]
    graph = Graph(nodes, ["flat", "relu"])
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    model = HLSModel(graph, Project(graph, get_backend("Vivado"), io_type, "myproject", "xc", 5), tmp_path / "p", {})
    model.compile()
    X = spanning_inputs(graph, 50, 4)
    for csim, emulated in zip(model.predict(X, engine="csim"), model.predict(X)):
        assert np.array_equal(csim, emulated)


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_every_resource_reuse_factor_and_parallelization_factor_of_a_convolution(io_type, tmp_path):
    """A 2x2 convolution over 2 channels into 3 (n_in = 8, n_out = 3, 15 output pixels) at every
    Resource reuse factor and, in io_parallel, every parallelization factor: the same bits."""
    rng = np.random.default_rng(12)
    window = Window(4, 5, 2, 2, 2, pad_right=1)
    X = None
    reference = None
    base = conv(rng, "conv", "x", (4, 5, 2), window, 3, result=FixedType(12, 5))
    factors = base.valid_reuse_factors("Resource")
    parallel = base.valid_parallelization_factors() if io_type == "io_parallel" else [1]
    assert factors == [1, 2, 4, 8, 24] and (io_type == "io_stream" or parallel == [1, 3, 5, 15])
    for reuse_factor, parallelization_factor in itertools.zip_longest(factors, parallel, fillvalue=1):
        node = Conv("conv", ["x"], base.shape, "Conv2D", result_type=base.result_type, accum_type=AUTO,
                    weight=Weights(base.weight.values, type=base.weight.type),
                    bias=Weights(base.bias.values, type=base.bias.type), window=window, in_shape=(4, 5, 2),
                    strategy="Resource", reuse_factor=reuse_factor, parallelization_factor=parallelization_factor)
        graph = Graph([Input("x", [], (4, 5, 2), "InputLayer", result_type=FixedType(8, 3)), node], ["conv"])
        lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
        model = HLSModel(graph, Project(graph, get_backend("Vitis"), io_type, "myproject", "xc", 5),
                         tmp_path / f"rf{reuse_factor}_pf{parallelization_factor}", {})
        model.compile()
        X = spanning_inputs(graph, 40, 12) if X is None else X
        csim = model.predict(X, engine="csim")
        reference = model.predict(X) if reference is None else reference
        assert np.array_equal(csim, reference), (reuse_factor, parallelization_factor)


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_project_testbench_passes_on_a_convolutional_network(io_type, tmp_path):
    """The vendor-facing testbench on images streamed pixel by pixel, with branches and three
    outputs."""
    model, _ = realize(IMAGE_SEEDS[1], "Vivado", "Resource", io_type, tmp_path, "images")
    _, result = run_testbench(model)
    assert result.returncode == 0 and "64 samples, 0 outputs differ" in result.stdout


def test_batches_longer_than_one_csim_call(tmp_path):
    """The C simulation takes a long batch in several calls (so progress can show); the pieces
    join into the emulator's answer, traces included."""
    model, graph = realize(IMAGE_SEEDS[0], "Vitis", "Latency", "io_stream", tmp_path, "images")
    model.compile()
    X = spanning_inputs(graph, 4500, 9)
    csim_out, csim_trace = model.trace(X, engine="csim")
    emulator_out, emulator_trace = model.trace(X)
    for csim, emulated in zip(csim_out, emulator_out):
        assert np.array_equal(csim, emulated)
    for node in graph:
        assert np.array_equal(csim_trace[node.name], emulator_trace[node.name]), node.name
