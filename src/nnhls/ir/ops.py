"""One small class per op kind. Each describes numbers, never how a backend realizes them."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from nnhls.types import FixedType, IntType, add_type

__all__ = ["ACTIVATIONS", "OPS", "Activation", "LayerVariable", "BatchNorm", "Concatenate", "Conv", "Crop", "Dense", "Dot", "Flatten",
           "HardSigmoid", "Input", "Lookup", "Merge", "Node", "ParametricRelu", "Pool", "Reshape", "Softsign", "Step",
           "ScaleShift", "Softmax", "Transpose", "Upsample", "Weights", "Window", "ZeroPad", "bilinear_denominator",
           "bilinear_taps", "make_activation", "mean_dividend_type", "mean_type", "dot_type", "merge_range",
           "range_type", "same_padding", "union_type", "softsign_types", "table_low_type", "Embedding",
           "embedding_index_type"]


# Configuration precision keys -> the node field holding them (keys naming a Weights field set
# that constant's type instead).
_PRECISION_FIELDS = {"result": "result_type", "accum": "accum_type", "table": "table_type", "param": "param_type",
                     "exp_table": "exp_type", "inv_table": "inv_type"}

# Keras's SELU constants.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


@dataclass
class Weights:
    """A constant tensor: the framework's float values, then exact integer codes of `type`.

    `quantizer` is the fixed-point type the framework itself quantized the values to (a QKeras
    quantizer), or None for float values that take the configured precision.
    """

    values: np.ndarray
    quantizer: FixedType | None = None
    type: FixedType | None = None
    codes: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)


@dataclass
class Node:
    """An op with one output tensor.

    `inputs` names the producing nodes. `shape` is the output shape without the batch
    dimension. `result_type` starts as a precision from the configuration (a FixedType or AUTO)
    and is a FixedType in the lowered IR. `framework_class` is the class name of the layer the
    node came from, for messages and for the configuration's LayerType.
    """

    name: str
    inputs: list[str]
    shape: tuple[int, ...]
    framework_class: str = ""
    result_type: object = None
    reuse_factor: int = 1
    strategy: str = "Latency"
    trace: bool = False
    # The output type the framework itself quantizes to (a QKeras activation), if any.
    result_quantizer: FixedType | None = None
    # The framework layer whose output this node's value is (None for a node inside a layer,
    # such as a Dense whose activation became the next node), for per-layer comparisons.
    framework_output: str | None = None
    # How the framework holds that output, where not as this node does: its axis order (this
    # node's axis k is the framework's axis framework_axes[k], without the batch axis; a PyTorch
    # tensor is channels-first) and a scale (the framework's value is this node's times it: the
    # integer codes of a Brevitas quantizer).
    framework_axes: tuple[int, ...] | None = None
    framework_scale: float | None = None

    # Facts about the op, stated once here and read by every consumer (docs/ops.md):
    op: ClassVar[str] = ""
    # The fields that hold constants (Weights): quantized once, written as integer code arrays.
    CONSTANTS: ClassVar[tuple[str, ...]] = ()
    # The precisions the configuration sets (its keys under Precision).
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result",)
    # How many inputs the op takes; None: two or more.
    N_INPUTS: ClassVar[int | None] = 1
    # Whether the op only views its input in another shape: no value moves or changes, so a
    # realization gives its output the input's storage.
    VIEW: ClassVar[bool] = False
    # Whether each output value depends only on the input value at its place (and its channel):
    # such an op can take its input a packet at a time, in whatever packets it comes.
    ELEMENTWISE: ClassVar[bool] = False
    # Whether the op only moves its input's values (reorders, drops or repeats them), changing
    # none: its exact (`auto`) result is its input's type, and so is its default precision.
    MOVES_VALUES: ClassVar[bool] = False

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))

    @property
    def moves_values(self) -> bool:
        """Whether this node only moves (or picks among) its input's values, changing none: a view,
        an op that moves values, or one that does for its configuration (a max pooling)."""
        return self.VIEW or self.MOVES_VALUES

    def constants(self) -> list[tuple[str, Weights]]:
        """(field, Weights) of each constant the node holds."""
        return [(name, value) for name in self.CONSTANTS if isinstance(value := getattr(self, name, None), Weights)]

    def precision_keys(self) -> tuple[str, ...]:
        """The configuration's precision keys of this node."""
        return self.PRECISIONS

    def part_nodes(self) -> list[Node]:
        """The ops this node is made of (a recurrent layer's Dense and activation parts)."""
        return []

    def clipped_by_framework(self, point: str, to_type) -> bool:
        """Whether the framework itself clips values into `to_type` at quantization point `point`
        (a QKeras quantizer's range): saturation there is the model's own, not lost accuracy."""
        return point == "result" and self.result_quantizer == to_type

    def set_precision(self, key: str, precision) -> None:
        """Set the precision that configuration key `key` names."""
        if key in _PRECISION_FIELDS:
            setattr(self, _PRECISION_FIELDS[key], precision)
        elif isinstance(getattr(self, key, None), Weights):
            getattr(self, key).type = precision
        else:
            raise AttributeError(f"{type(self).__name__} has no {key!r} precision")

    # The view scripts written for the field's tools have of a layer (hls4ml's `Layer`): the
    # name of its kind and its attributes, read from the fields (see `_layer_attributes`).
    @property
    def class_name(self) -> str:
        return _layer_class_name(self)

    @property
    def attributes(self) -> dict:
        return _layer_attributes(self)

    def get_attr(self, key: str, default=None):
        return self.attributes.get(key, default)

    # hls4ml's variables of a layer, for the scripts and tests written for it.
    def get_output_variable(self) -> LayerVariable:
        return LayerVariable(self.name, self.shape, self.result_type)

    def get_input_variable(self, index: int = 0) -> LayerVariable:
        """The layer's input `index` (the graph it was listed from, by HLSModel.get_layers, knows it)."""
        graph = self.__dict__.get("_graph")
        source = graph and graph()
        if source is None:
            raise AttributeError(f"layer {self.name!r} knows its inputs once listed by HLSModel.get_layers()")
        return source[self.inputs[index]].get_output_variable()

    def get_weights(self) -> list[LayerVariable]:
        """The layer's constants, in the order hls4ml lists them, with the framework's values as `data`."""
        return [LayerVariable(f"{self.name}_{name}", weights.shape, weights.type, weights.values)
                for name, weights in self.constants()]


class LayerVariable:
    """A layer's tensor or constant as the field's scripts read it (hls4ml's variables): `name`,
    `shape` (a list), `type.precision`, and for a constant `data`, the framework's values."""

    def __init__(self, name: str, shape, precision, data=None):
        from types import SimpleNamespace

        self.name, self.shape, self.data = name, list(shape), data
        self.type = SimpleNamespace(name=f"{name}_t", precision=precision)


@dataclass
class Input(Node):
    """The network input: float values are converted into `result_type` on entry.

    `dtype` is the float type the framework casts its inputs to first ('float16', 'float32'), so
    that a float64 input is rounded as the framework rounds it; None casts nothing.
    """

    dtype: str | None = None

    op: ClassVar[str] = "input"
    N_INPUTS: ClassVar[int | None] = 0
    DTYPES: ClassVar[tuple[str, ...]] = ("float16", "float32")


@dataclass
class Dense(Node):
    """y[j] = sum_i x[i] * weight[i, j] + bias[j]   (weight is (n_in, n_out)).

    Numerics: every product and the bias are converted into `accum_type`; their sum is exact;
    the sum is converted into `accum_type` once, then into `result_type`.
    """

    weight: Weights = None
    bias: Weights = None
    accum_type: object = None

    op: ClassVar[str] = "dense"
    CONSTANTS: ClassVar[tuple[str, ...]] = ("weight", "bias")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "weight", "bias", "accum")

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    # The arithmetic of one Dense (a convolution's, per output pixel), worked out here once and
    # read by the writer, the estimate and the synthesis-limit warnings. A grouped convolution
    # (`groups` > 1, a depthwise one) is `groups` such Dense layers side by side, each of n_in
    # inputs and `group_out` outputs, all at the same reuse factor.
    groups: ClassVar[int] = 1

    @property
    def group_out(self) -> int:
        """Outputs of each group's Dense."""
        return self.n_out // self.groups

    @property
    def group_weights(self) -> int:
        """Weights (multiplications) of each group's Dense."""
        return self.n_in * self.group_out

    @property
    def n_weights(self) -> int:
        return self.n_in * self.n_out

    def weight_matrix(self) -> np.ndarray:
        """The weight codes as the (n_in, n_out) matrix the arithmetic reads (a convolution's
        canonical kernel, read row-major, is already that matrix; output column o of a grouped
        one reads the inputs of group o // group_out)."""
        return self.weight.codes.reshape(self.n_in, self.n_out)

    @property
    def multipliers(self) -> int:
        """Multiplications built: ceil(group_weights / reuse_factor) per group, each used
        reuse_factor times."""
        return self.groups * -(-self.group_weights // self.reuse_factor)

    @property
    def block_factor(self) -> int:
        """Weights of one group the Resource strategy reads per cycle (all of them under Latency)."""
        return self.group_weights // self.reuse_factor if self.strategy == "Resource" else self.group_weights

    @property
    def rows_per_step(self) -> int:
        """Whole weight rows one Resource cycle reads (1 when a cycle reads part of a row)."""
        return max(1, self.block_factor // self.group_out)

    def valid_reuse_factors(self, strategy: str) -> list[int]:
        """Reuse factors this layer can be realized with under `strategy`.

        Latency: any number of cycles up to one multiplication per cycle. Resource: each cycle
        handles a block of whole weight rows (the factor divides n_in) or an equal part of one
        row (n_in divides the factor, which divides n_in * group_out), so every block is full.
        """
        if strategy == "Latency":
            return list(range(1, self.group_weights + 1))
        whole_rows = [f for f in range(1, self.n_in + 1) if self.n_in % f == 0]
        row_parts = [self.n_in * m for m in range(2, self.group_out + 1) if self.group_out % m == 0]
        return whole_rows + row_parts


@dataclass(frozen=True)
class Window:
    """Where a sliding window goes over a channels-last image of (in_h, in_w, channels); a 1-D
    signal is an image of height 1.

    The image's pixels are first spread `spread_h` rows and `spread_w` columns apart, zeros
    between them (a transposed convolution's input; 1 spreads nothing), then surrounded by zeros
    (pad_top rows above, ... pad_right columns right). Output pixel (y, x) then reads padded rows
    y * stride_h + ky * dilation_h for ky = 0 ... kernel_h - 1, spanning `span_h` rows, and
    likewise columns. Padded and spread-in places count as zeros in a convolution and are left
    out of a pooling.
    """

    in_h: int
    in_w: int
    channels: int
    kernel_h: int = 1
    kernel_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    dilation_h: int = 1
    dilation_w: int = 1
    spread_h: int = 1
    spread_w: int = 1

    @property
    def spread_in_h(self) -> int:
        """Rows of the image once its pixels are spread apart."""
        return (self.in_h - 1) * self.spread_h + 1

    @property
    def spread_in_w(self) -> int:
        return (self.in_w - 1) * self.spread_w + 1

    @property
    def span_h(self) -> int:
        """Padded rows one window spans: its taps are dilation_h rows apart."""
        return (self.kernel_h - 1) * self.dilation_h + 1

    @property
    def span_w(self) -> int:
        return (self.kernel_w - 1) * self.dilation_w + 1

    @property
    def padded_h(self) -> int:
        return self.spread_in_h + self.pad_top + self.pad_bottom

    @property
    def padded_w(self) -> int:
        return self.spread_in_w + self.pad_left + self.pad_right

    @property
    def out_h(self) -> int:
        return (self.padded_h - self.span_h) // self.stride_h + 1

    @property
    def out_w(self) -> int:
        return (self.padded_w - self.span_w) // self.stride_w + 1

    @property
    def n_pixels(self) -> int:
        return self.out_h * self.out_w

    @property
    def n_taps(self) -> int:
        return self.kernel_h * self.kernel_w

    @property
    def covers_image(self) -> bool:
        """One window over the whole image (global pooling): io_stream needs no line buffer as
        tall as the image."""
        return self.n_pixels == 1 and self.kernel_h == self.in_h and self.kernel_w == self.in_w

    def rows_and_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(n_pixels, n_taps) arrays: the row and column of the spread image each tap of each
        output pixel reads (outside it where it reads padding); pixels and taps in row-major order."""
        y, x = np.divmod(np.arange(self.n_pixels), self.out_w)
        ky, kx = np.divmod(np.arange(self.n_taps), self.kernel_w)
        rows = y[:, None] * self.stride_h + ky[None] * self.dilation_h - self.pad_top
        columns = x[:, None] * self.stride_w + kx[None] * self.dilation_w - self.pad_left
        return rows, columns

    def inside(self) -> np.ndarray:
        """(n_pixels, n_taps): whether each tap reads a pixel of the image rather than a zero."""
        rows, columns = self.rows_and_columns()
        return ((rows >= 0) & (rows < self.spread_in_h) & (rows % self.spread_h == 0) & (columns >= 0)
                & (columns < self.spread_in_w) & (columns % self.spread_w == 0))

    def tap_counts(self) -> np.ndarray:
        """(n_pixels,): how many taps of each output pixel read the image rather than padding."""
        return self.inside().sum(axis=1)


# Significant bits of an inexact mean's `auto` type: float32's, so the mean is as close to the
# exact one as the framework's own float32 mean is near the top of the values' range.
FLOAT32_BITS = 24


def mean_dividend_type(total: FixedType, growth: int, result_type: FixedType) -> FixedType:
    """A sum of `total`'s type with enough fractional bits that its quotient by a count of up to
    2**growth values is exact where the count is 2**k, and otherwise keeps one bit below the
    result's LSB (so that rounding to nearest is exact)."""
    fractional = max(total.fractional + growth, result_type.fractional + 1)
    return FixedType(total.integer + fractional, total.integer, total.signed)


def mean_type(values: FixedType, growth: int, exact: bool) -> FixedType:
    """The `auto` type of means of up to 2**growth values, each within `values`'s range:

    - where every count is 2**k (`exact`), the exact quotient's fractional bits;
    - otherwise FLOAT32_BITS significant bits (more where the values have more), rounded to
      nearest: the quotient, truncated one bit finer, is converted with AP_RND_INF, which for a
      quotient of a sum by a count that is not a power of two is exactly round-to-nearest (such
      a quotient is never a tie at that bit).
    """
    exact_fractional = values.fractional + growth
    if exact:
        return FixedType(values.integer + exact_fractional, values.integer, values.signed)
    width = max(values.integer + exact_fractional, FLOAT32_BITS + values.signed)
    return FixedType(width, values.integer, values.signed, rounding="RND_INF")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras's 'same' padding of one axis: (before, after), the odd zero after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@dataclass
class Conv(Dense):
    """A convolution (1-D or 2-D, channels-last): on each output pixel, a Dense layer whose
    inputs are the window's values in (row, column, channel) order, zeros where it reads padding.

    `weight` is canonical (kernel_h, kernel_w, c_in / groups, c_out), so its row-major flattening
    is the (n_in, n_out) matrix of that Dense, and the numerics are exactly Dense's. With `groups`
    > 1 the channels form that many groups: output channel o reads only the window's channels of
    group o // (c_out / groups), in order (a depthwise convolution of depth multiplier m has
    groups = c_in and c_out = c_in * m, output channel c * m + j reading channel c). `in_shape`
    is the input's shape as the framework gives it ((w, c) for 1-D). `parallelization_factor`
    output pixels are computed at once in io_parallel.

    A Dense applied to the last axis of an input of rank > 1 is a Conv of 1x1 windows over the
    positions (its window an image of height 1 and one pixel per position), so the two share
    their numerics and their per-pixel kernels.
    """

    window: Window = None
    in_shape: tuple[int, ...] = ()
    parallelization_factor: int = 1
    groups: int = 1
    # The configuration's name of the kernel's precision: 'weight', or as the field names the
    # parts of a separable convolution, 'depthwise' and 'pointwise'.
    weight_key: str = "weight"

    def precision_keys(self) -> tuple[str, ...]:
        return tuple(self.weight_key if key == "weight" else key for key in self.PRECISIONS)

    def set_precision(self, key: str, precision) -> None:
        super().set_precision("weight" if key == self.weight_key else key, precision)

    @property
    def pointwise(self) -> bool:
        """A 1x1 window on every pixel, no stride or padding, one group: each output pixel is the
        Dense of one input pixel, so no window needs gathering or a line buffer."""
        w = self.window
        return (w.n_taps == 1 and w.stride_h == w.stride_w == 1 and w.padded_h == w.in_h and w.padded_w == w.in_w
                and self.groups == 1)

    op: ClassVar[str] = "conv"

    @property
    def n_in(self) -> int:
        return int(math.prod(self.weight.shape[:-1]))

    @property
    def n_out(self) -> int:
        return self.weight.shape[-1]

    def valid_parallelization_factors(self) -> list[int]:
        """Divisors of the number of output pixels, so that every step computes as many."""
        n = self.window.n_pixels
        return [f for f in range(1, n + 1) if n % f == 0]


@dataclass
class Pool(Node):
    """Max, average or sum pooling over windows (global pooling: one window covering the image).

    max: the largest value in the window, converted into `result_type`.
    average: s = the exact sum of the window's values inside the image (padding is left out),
    widened to `dividend_type(...)`, divided by their count as ap_fixed divides (truncated toward
    zero, at least one fractional bit finer than the result), converted into `result_type`. Exact
    for counts of 2**k values; the `auto` result of other counts rounds to nearest (see
    `average_type`).
    sum: the exact sum s, converted into `result_type` (QKeras's quantized average pooling, which
    multiplies the sum by its quantized 1 / pool area after, is this and a ScaleShift).
    """

    function: str = "max"
    window: Window = None
    in_shape: tuple[int, ...] = ()

    op: ClassVar[str] = "pool"
    FUNCTIONS: ClassVar[tuple[str, ...]] = ("max", "average", "sum")

    @property
    def growth(self) -> int:
        """ceil(log2(n_taps)): the bits a sum of up to n_taps values grows by."""
        return (self.window.n_taps - 1).bit_length()

    def sum_type(self, x_type: FixedType) -> FixedType:
        """The exact type of a sum of up to n_taps values of `x_type`."""
        return FixedType(x_type.width + self.growth, x_type.integer + self.growth, x_type.signed)

    def dividend_type(self, x_type: FixedType, result_type: FixedType) -> FixedType:
        return mean_dividend_type(self.sum_type(x_type), self.growth, result_type)

    def count_type(self) -> IntType:
        return IntType(max(self.window.n_taps.bit_length(), 1), signed=False)

    @property
    def moves_values(self) -> bool:
        return self.function == "max"  # picks one of the window's values

    def counts_are_powers_of_two(self) -> bool:
        counts = self.window.tap_counts()
        return bool(np.all((counts & (counts - 1)) == 0))

    def average_type(self, x_type: FixedType) -> FixedType:
        return mean_type(x_type, self.growth, self.counts_are_powers_of_two())


@dataclass
class ZeroPad(Node):
    """Surround the image with zeros (Keras ZeroPadding1D/2D); values are converted into `result_type`."""

    window: Window = None
    in_shape: tuple[int, ...] = ()

    op: ClassVar[str] = "zero_pad"
    MOVES_VALUES: ClassVar[bool] = True


@dataclass
class Crop(Node):
    """Keras Cropping1D/2D: the image (in_h, in_w, channels; a 1-D signal has height 1) without its
    `top` rows, `bottom` rows, `left` columns and `right` columns; values converted into `result_type`."""

    in_shape: tuple[int, ...] = ()
    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    op: ClassVar[str] = "crop"
    MOVES_VALUES: ClassVar[bool] = True

    @property
    def image(self) -> tuple[int, int, int]:
        """(in_h, in_w, channels) of the input."""
        return (1, *self.in_shape) if len(self.in_shape) == 2 else tuple(self.in_shape)

    @property
    def out_h(self) -> int:
        return self.image[0] - self.top - self.bottom

    @property
    def out_w(self) -> int:
        return self.image[1] - self.left - self.right


def bilinear_denominator(size: int) -> int:
    """The denominator of one axis's bilinear weights at an upsampling factor `size`: 2 * size, or
    size where every weight is even (odd factors)."""
    return size if size % 2 else 2 * size


def bilinear_taps(n: int, size: int) -> tuple[np.ndarray, ...]:
    """(lower, upper, lower weight, upper weight) of each of the n * size outputs of one axis of
    TensorFlow's bilinear resize with half-pixel centres (what Keras's UpSampling2D computes).

    Output o samples the input at (o + 0.5) / size - 0.5 = floor + f / (2 * size), with
    f = (2 * o + 1 - size) mod (2 * size): the weights are (2 * size - f) on row `floor` and f on
    row floor + 1, rows clamped into the input (a tap with weight 0 reads `lower`), and reduced to
    `bilinear_denominator(size)`.
    """
    floor, f = np.divmod(2 * np.arange(n * size) + 1 - size, 2 * size)
    lower = np.clip(floor, 0, n - 1)
    upper = np.where(f > 0, np.clip(floor + 1, 0, n - 1), lower)
    halve = 2 if size % 2 else 1
    return lower, upper, (2 * size - f) // halve, f // halve


@dataclass
class Upsample(Node):
    """Keras UpSampling1D/2D: the image (in_h, in_w, channels; a 1-D signal has height 1) resized to
    (in_h * size_h, in_w * size_w).

    nearest: output pixel (y, x) is input pixel (y // size_h, x // size_w), converted into `result_type`.
    bilinear (TensorFlow's resize with half-pixel centres, edges clamped): each output is
    s = sum of w_row * w_column * x over the two rows and two columns `bilinear_taps` gives, an
    exact sum of integer weights; s widened to `dividend_type(...)`, divided by `denominator` as
    ap_fixed divides (truncated toward zero), converted into `result_type`: Pool's average of
    weighted values, exact where the denominator is 2**k.
    """

    interpolation: str = "nearest"
    size_h: int = 1
    size_w: int = 1
    in_shape: tuple[int, ...] = ()

    op: ClassVar[str] = "upsample"
    INTERPOLATIONS: ClassVar[tuple[str, ...]] = ("nearest", "bilinear")

    @property
    def moves_values(self) -> bool:
        return self.interpolation == "nearest"  # repeats values; bilinear averages them

    @property
    def image(self) -> tuple[int, int, int]:
        """(in_h, in_w, channels) of the input."""
        return (1, *self.in_shape) if len(self.in_shape) == 2 else tuple(self.in_shape)

    @property
    def out_h(self) -> int:
        return self.image[0] * self.size_h

    @property
    def out_w(self) -> int:
        return self.image[1] * self.size_w

    @property
    def denominator(self) -> int:
        """What each bilinear sum of integer-weighted values is divided by."""
        return bilinear_denominator(self.size_h) * bilinear_denominator(self.size_w)

    @property
    def growth(self) -> int:
        """ceil(log2(denominator)): the bits a sum of weighted values grows by."""
        return (self.denominator - 1).bit_length()

    def sum_type(self, x_type: FixedType) -> FixedType:
        """The exact type of a weighted sum (its weights are non-negative and add up to `denominator`)."""
        return FixedType(x_type.width + self.growth, x_type.integer + self.growth, x_type.signed)

    def dividend_type(self, x_type: FixedType, result_type: FixedType) -> FixedType:
        return mean_dividend_type(self.sum_type(x_type), self.growth, result_type)

    def count_type(self) -> IntType:
        return IntType(max(self.denominator.bit_length(), 1), signed=False)

    def weight_type(self) -> IntType:
        """Holds every product of a row weight and a column weight (at most `denominator`)."""
        return self.count_type()

    def average_type(self, x_type: FixedType) -> FixedType:
        denominator = self.denominator
        return mean_type(x_type, self.growth, denominator & (denominator - 1) == 0)


@dataclass
class Activation(Node):
    """An element-wise function, converted into `result_type`: `linear` (y = x) or `relu` (max(x, 0))."""

    function: str = "linear"

    op: ClassVar[str] = "activation"
    ELEMENTWISE: ClassVar[bool] = True
    FUNCTIONS: ClassVar[tuple[str, ...]] = ("linear", "relu")


@dataclass
class ParametricRelu(Node):
    """The ReLU family: Keras ReLU with arguments, LeakyReLU, PReLU, ThresholdedReLU, and QKeras's
    quantized_relu with a negative slope.

        y = max_value                  where max_value is set and x >= max_value
            x                          where x >= threshold (x > threshold when `strict`)
            min_value                  where min_input is set and x < min_input
            slope * (x - threshold)    elsewhere (slope per channel, or one for all)

    Each branch is exact and converted into `result_type`. The threshold and max_value are the
    framework's values, exactly typed; the slope is quantized once into its precision ('param').
    """

    threshold: Weights = None
    max_value: Weights | None = None
    slope: Weights = None
    strict: bool = False
    min_input: Weights | None = None
    min_value: Weights | None = None
    param_type: object = None

    op: ClassVar[str] = "prelu"
    ELEMENTWISE: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = ("threshold", "max_value", "slope", "min_input", "min_value")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "param")


@dataclass
class HardSigmoid(Node):
    """y = min(max(slope * x + offset, 0), 1), exact, converted into `result_type`.

    Keras 2 uses slope 0.2, Keras 3 slope 1/6; neither is a binary fraction, so the slope is
    quantized once into its precision ('param'); the offset 0.5 is exact.
    """

    slope: Weights = None
    offset: Weights = None
    param_type: object = None

    op: ClassVar[str] = "hard_sigmoid"
    ELEMENTWISE: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = ("slope", "offset")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "param")


@dataclass
class Step(Node):
    """A monotonic staircase: y = levels[number of thresholds passed], into `result_type`; x passes
    threshold t when x >= t, or when x > t for the thresholds marked `strict`.

    Exact for any input type: a quantized monotonic function (QKeras's quantized tanh or sigmoid
    with the real functions, binary) is its output levels and the inputs where the output steps.
    The pass that types the graph turns the thresholds into codes of the input type
    (`threshold_codes`, `first_level`), dropping those no input of that type can reach.

    Per channel (`thresholds` of shape (channels, T), each row ascending, none strict; the channel
    is the last axis): channel c steps at its own thresholds (a quantizer reading a layer whose
    scale and bias per channel are folded into them). The thresholds may be floats or exact
    fractions (`fractions.Fraction`); their codes, rounded up onto the input's grid and clamped to
    one step beyond its range, are of `threshold_type` (the input type with one more integer bit),
    and every threshold is kept (`first_level` 0).
    """

    staircase_of: str = "step"  # the function this staircase realizes, for messages
    thresholds: np.ndarray = None  # ascending; (T,) or (channels, T)
    strict: np.ndarray | None = None  # per threshold; None: none is strict
    levels: Weights = None  # one more than thresholds, exactly typed
    threshold_codes: np.ndarray = None
    first_level: int = 0
    threshold_type: object = None  # the type of threshold_codes (the input type, or wider per channel)

    @property
    def per_channel(self) -> bool:
        return np.ndim(self.thresholds) == 2

    op: ClassVar[str] = "step"
    ELEMENTWISE: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = ("levels",)


@dataclass
class Softsign(Node):
    """y = x / (1 + |x|): |x| and 1 + |x| exact, the quotient as ap_fixed divides (truncated
    toward zero at x's fractional bits), then converted into `result_type`."""

    op: ClassVar[str] = "softsign"
    ELEMENTWISE: ClassVar[bool] = True


@dataclass
class Lookup(Node):
    """y = table[index(x)] converted into `result_type`: a smooth function from a table.

    The table holds `function` at the centre of each of `table_size` equal bins covering
    [low, low + 2**span_log2); an input below or above that range reads the first or the last
    bin. The index comes from the exact value of x minus `low`, never from the bits of x's type,
    so it is right for any input type. `table` is filled by the tables pass.
    """

    function: str = "sigmoid"
    alpha: float = 1.0  # ELU's alpha
    table_size: int = 1024
    table_type: object = None
    table: Weights = None
    # From `tail_from` upwards y = x (times tail_scale where the function has one), exactly.
    tail_scale: Weights | None = None
    param_type: object = None

    op: ClassVar[str] = "lookup"
    ELEMENTWISE: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = ("table", "tail_scale")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "table", "param")
    # function -> (numpy function of (x, alpha), low, log2 of the span, default table precision,
    # tail_from or None, tail scale or None). Spans reach where the function is within a
    # fraction of an LSB (of a 16-bit result) of its asymptote or of its linear tail, so the
    # clamping costs nothing visible.
    FUNCTIONS: ClassVar[dict] = {
        "sigmoid": (lambda x, a: 1 / (1 + np.exp(-x)), -8, 4, "ap_ufixed<16,0,AP_RND,AP_SAT>", None, None),
        "tanh": (lambda x, a: np.tanh(x), -4, 3, "ap_fixed<16,1,AP_RND,AP_SAT>", None, None),
        "elu": (lambda x, a: a * np.expm1(x), -8, 3, "ap_fixed<18,3,AP_RND,AP_SAT>", 0, None),
        "selu": (lambda x, a: SELU_SCALE * SELU_ALPHA * np.expm1(x), -8, 3, "ap_fixed<18,2,AP_RND,AP_SAT>", 0,
                 SELU_SCALE),
        "softplus": (lambda x, a: np.logaddexp(0, x), -8, 4, "ap_ufixed<18,4,AP_RND,AP_SAT>", 8, None),
    }

    def precision_keys(self) -> tuple[str, ...]:
        # Only a function with a scaled linear tail (SELU) has a parameter.
        return self.PRECISIONS if self.FUNCTIONS[self.function][5] is not None else ("result", "table")

    @property
    def tail_from(self) -> int | None:
        return self.FUNCTIONS[self.function][4]

    @property
    def low(self) -> int:
        return self.FUNCTIONS[self.function][1]

    @property
    def span_log2(self) -> int:
        return self.FUNCTIONS[self.function][2]


@dataclass
class Embedding(Node):
    """y[t, :] = embeddings[index(x[t]), :] converted into `result_type`: a table of vectors,
    one row per word, indexed by a sequence of integers (Keras Embedding).

    index(x) is x truncated toward zero, as Keras casts its input to int32 (2.7 and -0.5 give
    2 and 0). With `negative_wraps` (Keras 3, whose `take` counts from the end) an index in
    [-input_dim, -1] reads row input_dim + index. Any other index outside [0, input_dim) is an
    error in the emulator, which names the layer, the index and the range; in hardware it reads
    the table's last row (the index saturates), so a design never reads outside its table.
    """

    embeddings: Weights = None  # (input_dim, output_dim)
    negative_wraps: bool = False

    op: ClassVar[str] = "embedding"
    CONSTANTS: ClassVar[tuple[str, ...]] = ("embeddings",)
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "embeddings")

    @property
    def input_dim(self) -> int:
        return self.embeddings.shape[0]

    @property
    def output_dim(self) -> int:
        return self.embeddings.shape[1]

    @property
    def lowest_index(self) -> int:
        """The lowest index that reads a row."""
        return -self.input_dim if self.negative_wraps else 0

    def index_type(self) -> FixedType:
        """The integer each input value becomes: truncated toward zero (AP_TRN_ZERO) and saturated
        (AP_SAT) to a range one beyond the table at each end, so that an index outside the table
        stays outside it (both realizations convert into this one type)."""
        width = self.input_dim.bit_length() + 1
        return FixedType(width, width, True, "TRN_ZERO", "SAT")

    def index_codes(self, x_type: FixedType) -> tuple[int, int]:
        """(lowest, highest) code of `x_type` whose value's index reads a row (code 0 always does).

        trunc(v) lies in [low, high] exactly when low - 1 < v < high + 1 (low <= 0 <= high)."""
        from fractions import Fraction

        scale = Fraction(2) ** x_type.fractional
        low = math.floor((self.lowest_index - 1) * scale) + 1
        high = math.ceil(self.input_dim * scale) - 1
        return max(low, x_type.min_code), min(high, x_type.max_code)


def embedding_index_type(input_dim: int) -> FixedType:
    """The narrowest unsigned integer type holding every index 0 .. input_dim - 1, truncating
    toward zero as Keras casts (a float in (-1, 0) is index 0) and saturating, so a value above
    the type's range lands on its largest code rather than wrapping onto a valid row."""
    width = max((input_dim - 1).bit_length(), 1)
    return FixedType(width, width, False, "TRN_ZERO", "SAT")


@dataclass
class Softmax(Node):
    """Softmax over the last axis, of each position of a tensor of any rank on its own.

    stable: d = x - max(x) exactly; e = exp_table[index(d)] over [-16, 0); s = sum(e) exactly;
    y = e * inv_table[index(s)] over [0, 2**ceil(log2(n))), converted into `result_type`.
    argmax: y = 1 at the first largest input, 0 elsewhere.
    """

    implementation: str = "stable"
    skip: bool = False
    table_size: int = 1024
    exp_type: object = None
    inv_type: object = None
    exp_table: Weights = None
    inv_table: Weights = None

    op: ClassVar[str] = "softmax"
    CONSTANTS: ClassVar[tuple[str, ...]] = ("exp_table", "inv_table")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "exp_table", "inv_table")
    IMPLEMENTATIONS: ClassVar[tuple[str, ...]] = ("stable", "argmax")
    EXP_LOW: ClassVar[int] = -16
    EXP_SPAN_LOG2: ClassVar[int] = 4
    DEFAULT_TABLE: ClassVar[str] = "ap_ufixed<18,1,AP_RND,AP_SAT>"

    @property
    def n(self) -> int:
        return self.shape[-1]

    @property
    def n_positions(self) -> int:
        """The vectors along the last axis (one for a 1-D tensor), each normalized on its own."""
        return self.size // self.n

    @property
    def inv_span_log2(self) -> int:
        """The sum of n exponentials of non-positive numbers lies in (0, n]."""
        return max(1, (self.n - 1).bit_length())

    @property
    def sum_type(self) -> FixedType:
        """The exact type of a sum of n exponentials from the table."""
        exp_type, growth = self.exp_table.type, (self.n - 1).bit_length()
        return FixedType(exp_type.width + growth, exp_type.integer + growth, exp_type.signed)


def softsign_types(x_type: FixedType) -> tuple[FixedType, FixedType, FixedType]:
    """(|x|, 1 + |x|, quotient) types of Softsign for input type `x_type` (one definition for
    every realization)."""
    from nnhls.types import add_type, div_type, neg_type

    magnitude = neg_type(x_type) if x_type.signed else x_type
    denominator = add_type(magnitude, IntType(1, signed=False))
    return magnitude, denominator, div_type(x_type, denominator)


@functools.lru_cache(maxsize=1024)
def table_low_type(low: int) -> IntType:
    """The type a table range's lower end is subtracted in (both realizations use this one)."""
    return IntType(max(abs(low).bit_length() + 1, 2))


@dataclass
class BatchNorm(Node):
    """Keras BatchNormalization as the framework stores it; folded or lowered to ScaleShift by passes.

    `framework_scale` and `framework_shift` are the per-channel scale and shift a quantized batch
    normalization computes with (QKeras QBatchNormalization: its float32 gamma / sqrt(variance +
    epsilon) and beta - mean * scale), exactly typed; with them the node becomes that ScaleShift,
    never folded, its `auto` scale and shift those exact types.
    """

    gamma: np.ndarray = None
    beta: np.ndarray = None
    mean: np.ndarray = None
    variance: np.ndarray = None
    epsilon: float = 1e-3
    framework_scale: Weights | None = None
    framework_shift: Weights | None = None
    # Configured precisions of the scale and the shift ('scale', 'bias') if it becomes a ScaleShift.
    precisions: dict = field(default_factory=dict)

    op: ClassVar[str] = "batchnorm"
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "scale", "bias")

    def set_precision(self, key: str, precision) -> None:
        if key == "result":
            self.result_type = precision
        else:  # kept until the batch norm is folded or lowered to a ScaleShift
            self.precisions[key] = precision


@dataclass
class ScaleShift(Node):
    """y = x * scale + shift per channel (last axis), exact, then converted into `result_type`."""

    scale: Weights = None
    shift: Weights = None

    op: ClassVar[str] = "scale_shift"
    ELEMENTWISE: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = ("scale", "shift")


__all__ += ["LayerNorm", "LayerNormTypes"]


@dataclass(frozen=True)
class LayerNormTypes:
    """The exact types and constants of one LayerNorm's statistics for one input type (see
    `LayerNorm.statistics`); every realization reads these, none works them out again."""

    total: FixedType  # S = the sum of the n values of a position
    count: IntType  # holds n
    difference: FixedType  # d = n * x - S
    square_sum: FixedType  # Q = the sum of d**2
    variance: FixedType  # V = Q + n**3 * epsilon, with `guard` more pairs of fractional bits than Q
    guard: int
    epsilon_code: int  # n**3 * epsilon as a code of `variance`, rounded to nearest
    shift: FixedType  # holds d and every d * 2**(shift_base - j) exactly
    shift_base: int  # d's fractional bits plus `guard`: d is shifted left by shift_base - j


@dataclass
class LayerNorm(Node):
    """Keras LayerNormalization over the last axis, n values per position. In codes (x's with F
    fractional bits, V's with 2F + 2 * guard; docs/fixed_point.md):

        S = sum(x);  d = n * x - S;  Q = sum(d**2)                    exact (no mean, no division)
        V = Q + n**3 * epsilon        epsilon's code rounded to nearest, V's LSB fine enough that
                                      this moves no V with Q > 0 by 2**-24 of itself
        V = m * 4**j, m in [1, 4)     j and the bin of m from V's leading one, exactly
        a = d * 2**(guard - j)        |a| < 2, converted into `accum_type`
        y = a * table[bin] * scale + bias, exact, converted into `result_type` once.

    (x - mean) / sqrt(var + epsilon) = d * sqrt(n) / sqrt(V) = a * sqrt(n / m), so the table holds
    sqrt(n / m) at the centre of each of its bins, half of them over [1, 2) and half over [2, 4):
    every variance gets the same relative resolution, with no declared range. `scale` (gamma)
    and `bias` (beta) are None where the layer has none (scale=False, center=False).
    """

    scale: Weights | None = None
    bias: Weights | None = None
    epsilon: float = 1e-3
    table_size: int = 1024
    table_type: object = None
    accum_type: object = None
    table: Weights = None

    op: ClassVar[str] = "layernorm"
    CONSTANTS: ClassVar[tuple[str, ...]] = ("table", "scale", "bias")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("result", "table", "accum", "scale", "bias")
    DEFAULT_ACCUM: ClassVar[str] = "ap_fixed<20,2,AP_RND_CONV,AP_SAT>"
    MIN_TABLE_SIZE: ClassVar[int] = 4

    @property
    def n(self) -> int:
        return self.shape[-1]

    @property
    def positions(self) -> int:
        return self.size // self.n

    @property
    def mantissa_bits(self) -> int:
        """Bits of m below its leading one that pick a bin (half the table per octave of m)."""
        return self.table_size.bit_length() - 2

    def precision_keys(self) -> tuple[str, ...]:
        return tuple(key for key in self.PRECISIONS if key not in ("scale", "bias") or getattr(self, key) is not None)

    def table_integer_bits(self) -> int:
        """Integer bits of an unsigned type holding every table value, sqrt(n / m) < sqrt(n)."""
        return ((self.n - 1).bit_length() + 1) // 2

    def table_values(self) -> np.ndarray:
        """sqrt(n / m) at the centre of each bin: [1, 2) then [2, 4), table_size / 2 bins each."""
        half = self.table_size // 2
        centres = 1 + (np.arange(half) + 0.5) / half
        return np.sqrt(self.n / np.concatenate([centres, 2 * centres]))

    def statistics(self, x_type: FixedType) -> LayerNormTypes:
        return _layernorm_types(self.n, float(np.float32(self.epsilon)), x_type)


@functools.lru_cache(maxsize=256)
def _layernorm_types(n: int, epsilon: float, x_type: FixedType) -> LayerNormTypes:
    """The statistics' exact types for n values of `x_type` (epsilon as the framework's float32)."""
    from fractions import Fraction

    frac, spread = x_type.fractional, x_type.max_code - x_type.min_code
    difference = range_type(-(n - 1) * spread, (n - 1) * spread, frac)
    # Q = n * sum over pairs of (x_i - x_j)**2: at most n * floor(n**2 / 4) * spread**2, and at
    # least n * (n - 1) codes where the values are not all equal.
    square_max = n * (n * n // 4) * spread * spread
    two = Fraction(2)
    epsilon_value = Fraction(epsilon) * n**3
    smallest = max(n * (n - 1) * two ** (-2 * frac) if spread else Fraction(0), epsilon_value)
    # Rounding epsilon at V's LSB moves V by at most half an LSB, and by at most epsilon itself.
    guard = 0
    while min(two ** -(2 * frac + 2 * guard + 1), epsilon_value) > smallest * two**-FLOAT32_BITS:
        guard += 1
    variance_frac = 2 * frac + 2 * guard
    epsilon_code = round(epsilon_value * two**variance_frac)
    variance = range_type(0, (square_max << 2 * guard) + epsilon_code, variance_frac)
    most_shift = (variance.width - 1) // 2 - guard  # j - guard at the largest V
    shift_frac = max(frac, most_shift)
    shift_integer = max(difference.integer + (not difference.signed), 2)
    return LayerNormTypes(
        total=range_type(n * x_type.min_code, n * x_type.max_code, frac), count=IntType(n.bit_length(), signed=False),
        difference=difference, square_sum=range_type(0, square_max, 2 * frac), variance=variance, guard=guard,
        epsilon_code=epsilon_code, shift=FixedType(shift_integer + shift_frac, shift_integer, True),
        shift_base=frac + guard)


@dataclass
class Flatten(Node):
    """Reshape to one dimension; channels-last order is kept, so the values do not move."""

    op: ClassVar[str] = "flatten"
    PRECISIONS: ClassVar[tuple[str, ...]] = ()
    VIEW: ClassVar[bool] = True


@dataclass
class Reshape(Node):
    """The values in row-major order, in another shape of two or more axes (Keras Reshape; one to a
    single axis is a Flatten), each converted into `result_type`. It is a stage of its own rather
    than a view because io_stream sends a value of two or more axes in packets of its last axis:
    a reshape that changes the last axis repacks its input's packets."""

    op: ClassVar[str] = "reshape"
    MOVES_VALUES: ClassVar[bool] = True


@dataclass
class Transpose(Node):
    """Keras Permute: the input's axes in another order, values converted into `result_type`.
    Output axis k is input axis perm[k] (axes of the shapes without the batch axis, from 0)."""

    perm: tuple[int, ...] = ()
    in_shape: tuple[int, ...] = ()

    op: ClassVar[str] = "transpose"
    MOVES_VALUES: ClassVar[bool] = True
    MAX_RANK: ClassVar[int] = 6  # axes the C++ kernel loops over

    def source_strides(self) -> tuple[int, ...]:
        """For each output axis, how far one step along it moves in the input's row-major order."""
        strides = np.cumprod((1,) + tuple(self.in_shape[:0:-1]))[::-1]
        return tuple(int(strides[axis]) for axis in self.perm)


@dataclass
class Merge(Node):
    """An element-wise function of two or more inputs of one shape (Keras's merge layers):

    add, multiply, maximum, minimum: of all inputs; subtract: input 0 - input 1;
    average: the exact sum of the inputs, widened to `mean_dividend_type`, divided by `count` as
    ap_fixed divides (truncated toward zero, at least one fractional bit finer than the result).
    `count` is the number of values averaged: the inputs' number, unless input 0 is already the
    exact sum of several of them (passes/merges.py splits a merge of n inputs into a chain of
    two-input ones, each exact). Every other result is exact before its one conversion into
    `result_type`.
    """

    function: str = "add"
    count: int = 0

    op: ClassVar[str] = "merge"
    N_INPUTS: ClassVar[int | None] = None
    FUNCTIONS: ClassVar[tuple[str, ...]] = ("add", "subtract", "multiply", "average", "maximum", "minimum")

    @property
    def growth(self) -> int:
        """ceil(log2(count)): the bits a sum of `count` values grows by."""
        return (max(self.count, 1) - 1).bit_length()

    def count_type(self) -> IntType:
        return IntType(max(self.count.bit_length(), 1), signed=False)

    def dividend_type(self, sources: list[FixedType]) -> FixedType:
        """An average's sum (of its two inputs, as ap_fixed adds them) ready to be divided."""
        return mean_dividend_type(add_type(*sources), self.growth, self.result_type)


def range_type(low: int, high: int, frac: int) -> FixedType:
    """The narrowest type with `frac` fractional bits holding every code in [low, high]."""
    width = max(high.bit_length(), (-low - 1).bit_length()) + 1 if low < 0 else max(high.bit_length(), 1)
    return FixedType(width, width - frac, low < 0)


def union_type(types: list[FixedType]) -> FixedType:
    """The narrowest type holding every value of each of `types` exactly."""
    frac = max(t.fractional for t in types)
    return range_type(min(t.min_code << (frac - t.fractional) for t in types),
                      max(t.max_code << (frac - t.fractional) for t in types), frac)


def dot_type(node: Node, sources: list[FixedType]) -> FixedType:
    """The exact type of a Dot's sum, which holds every partial sum too (each lies between
    `length` times the lowest and the highest product)."""
    low, high, frac = merge_range("multiply", sources)
    return range_type(min(low, 0) * node.length, max(high, 0) * node.length, frac)


def merge_range(function: str, sources: list[FixedType]) -> tuple[int, int, int]:
    """(lowest code, highest code, fractional bits) of the exact sum, difference or product of
    values of `sources` (in order)."""
    if function == "multiply":
        low, high, frac = sources[0].min_code, sources[0].max_code, sources[0].fractional
        for t in sources[1:]:
            corners = [a * b for a in (low, high) for b in (t.min_code, t.max_code)]
            low, high, frac = min(corners), max(corners), frac + t.fractional
        return low, high, frac
    frac = max(t.fractional for t in sources)
    lows = [t.min_code << (frac - t.fractional) for t in sources]
    highs = [t.max_code << (frac - t.fractional) for t in sources]
    if function == "subtract":
        return lows[0] - highs[1], highs[0] - lows[1], frac
    return sum(lows), sum(highs), frac


@dataclass
class Concatenate(Node):
    """The inputs side by side along `axis` (of the shapes without the batch axis); every value
    converted into `result_type`."""

    axis: int = -1

    op: ClassVar[str] = "concatenate"
    N_INPUTS: ClassVar[int | None] = None

    @property
    def along_last_axis(self) -> bool:
        """Along the last axis of an image or a signal: in io_stream each output packet (a pixel)
        joins one packet of each input."""
        return len(self.shape) > 1 and self.axis == len(self.shape) - 1

    def blocks(self, shapes: list[tuple[int, ...]]) -> tuple[int, list[int]]:
        """(outer, inner sizes): the output is `outer` times, for each input, its next `inner`
        values, in row-major order."""
        outer = int(np.prod(self.shape[:self.axis]))
        return outer, [int(np.prod(shape[self.axis:])) for shape in shapes]


@dataclass
class Dot(Node):
    """The dot product of two vectors of one length (Keras Dot on 1-D tensors): the exact sum of
    the products, converted into `result_type`. The output has shape (1,)."""

    length: int = 0  # of each vector

    op: ClassVar[str] = "dot"
    N_INPUTS: ClassVar[int | None] = 2


# Every op kind the lowered IR may hold, by name. The equivalence tests compare against this.
OPS = {cls.op: cls for cls in (Input, Dense, Conv, Pool, ZeroPad, Activation, ParametricRelu, HardSigmoid, Step, Softsign, Lookup,
                                Embedding, Softmax, ScaleShift, LayerNorm, Flatten, Merge, Concatenate, Dot,
                                Reshape, Transpose, Crop, Upsample)}

# Activation functions by name, as frameworks spell them.
ACTIVATIONS = Activation.FUNCTIONS + tuple(Lookup.FUNCTIONS) + ("softmax", "hard_sigmoid", "softsign")


def make_activation(name: str, inputs: list[str], shape: tuple[int, ...], function: str, **fields) -> Node:
    """The node computing `function` (one of ACTIVATIONS): exact, from a table, or a softmax."""
    if function in Lookup.FUNCTIONS:
        return Lookup(name, inputs, shape, function=function, **fields)
    if function == "softmax":
        return Softmax(name, inputs, shape, **fields)
    if function == "hard_sigmoid":
        return HardSigmoid(name, inputs, shape, **fields)
    if function == "step":
        return Step(name, inputs, shape, **fields)
    if function == "prelu":
        return ParametricRelu(name, inputs, shape, **fields)
    if function == "softsign":
        return Softsign(name, inputs, shape, **fields)
    return Activation(name, inputs, shape, function=function, **fields)


# The field's class names (hls4ml's) of the kinds of layer, by op; some depend on the framework
# layer a node came from (below).
_LAYER_CLASSES = {"input": "Input", "dense": "Dense", "hard_sigmoid": "HardActivation", "softmax": "Softmax",
                  "batchnorm": "BatchNormalization", "flatten": "Reshape", "merge": "Merge", "concatenate": "Concatenate",
                  "dot": "Dot", "layernorm": "LayerNormalization", "embedding": "Embedding", "reshape": "Reshape",
                  "transpose": "Transpose", "upsample": "Resize"}
_PARAMETRIZED = {"PReLU": "PReLU", "LeakyReLU": "ParametrizedActivation", "ThresholdedReLU": "ParametrizedActivation",
                 "ELU": "ParametrizedActivation", "Threshold": "ParametrizedActivation",
                 "leaky_relu": "ParametrizedActivation", "elu": "ParametrizedActivation", "prelu": "PReLU"}


def _layer_class_name(node: Node) -> str:
    """The field's name for the kind of layer `node` is: 'Dense', 'Conv2D', 'Activation', ..."""
    framework = node.framework_class
    dimensions = f"{len(node.in_shape) - 1}D" if node.op in ("conv", "pool", "zero_pad") else ""
    if node.op == "conv":
        if framework in ("Dense", "QDense", "Linear", "QuantLinear", "MatMul"):  # on the last axis of rank > 1
            return "Dense"
        if framework == "QConv2DBatchnorm":
            return "Conv2DBatchnorm"
        if node.weight_key == "pointwise":
            return f"PointwiseConv{dimensions}"
        if node.groups > 1 and node.groups == node.window.channels:
            return f"DepthwiseConv{dimensions}"
        return f"Conv{dimensions}Transpose" if framework.endswith("Transpose") else f"Conv{dimensions}"
    if node.op == "recurrent":
        return {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[node.cell]
    if node.op == "dense" and framework == "QDenseBatchnorm":
        return "DenseBatchnorm"
    if node.op == "pool":
        covering = "Global" in framework or (framework.startswith(("Adaptive", "adaptive", "mean"))
                                             and node.window.covers_image)
        return f"{'Global' if covering else ''}Pooling{dimensions}"
    if node.op == "zero_pad":
        return f"ZeroPadding{dimensions}"
    if node.op == "crop":
        return f"Cropping{len(node.in_shape) - 1}D"
    if node.op == "scale_shift":  # a batch normalization, or the channel scales of QKeras's alpha='auto'
        batchnorm = "BatchNormalization" in framework or framework.startswith("BatchNorm")
        return "BatchNormalization" if batchnorm else "ApplyAlpha"
    if node.op in ("activation", "prelu", "step", "softsign", "lookup"):
        return _PARAMETRIZED.get(framework, "Activation")
    return _LAYER_CLASSES[node.op]


def _activation_name(node: Node) -> str | None:
    if node.op in ("activation", "lookup"):
        return node.function
    if node.op == "prelu":
        return {"PReLU": "prelu", "ThresholdedReLU": "thresholded_relu", "ReLU": "relu"}.get(
            node.framework_class, "leaky_relu")
    if node.op == "step":
        return node.staircase_of
    return node.op if node.op in ("softsign", "hard_sigmoid", "softmax") else None


def _window_attributes(window: Window) -> dict:
    return {"in_height": window.in_h, "in_width": window.in_w, "out_height": window.out_h, "out_width": window.out_w,
            "stride_height": window.stride_h, "stride_width": window.stride_w, "pad_top": window.pad_top,
            "pad_bottom": window.pad_bottom, "pad_left": window.pad_left, "pad_right": window.pad_right}


# (attribute, the constant whose type it is, the field holding its configured precision)
_TYPED_ATTRIBUTES = (("weight_t", "weight", None), ("bias_t", "bias", None), ("accum_t", None, "accum_type"),
                     ("scale_t", "scale", None), ("table_t", "table", "table_type"),
                     ("exp_table_t", "exp_table", "exp_type"), ("inv_table_t", "inv_table", "inv_type"),
                     ("param_t", None, "param_type"), ("embeddings_t", "embeddings", None))


def _layer_attributes(node: Node) -> dict:
    """The node's attributes under the field's names: its precisions as `<name>_t` (the lowered
    IR's types once converted), reuse_factor, strategy, trace, shape, and what its kind has (n_in
    and n_out, a convolution's or pooling's geometry, an activation's name, table sizes...)."""
    attributes = {"shape": tuple(node.shape), "inputs": list(node.inputs), "result_t": node.result_type,
                  "reuse_factor": node.reuse_factor, "strategy": node.strategy, "trace": node.trace}
    for key, constant, configured in _TYPED_ATTRIBUTES:
        if node.op == "scale_shift" and key == "bias_t":
            constant = "shift"
        weights = getattr(node, constant, None) if constant else None
        if isinstance(weights, Weights) and weights.type is not None:
            attributes[key] = weights.type  # the lowered type (before lowering, the configured one)
        elif configured is not None and hasattr(node, configured):
            attributes[key] = getattr(node, configured)
    if node.op in ("dense", "conv"):  # an activation of the framework layer is the next layer
        attributes.update(n_in=node.n_in, n_out=node.n_out, activation="linear")
    if node.op == "conv":
        window = node.window
        attributes.update(_window_attributes(window), n_chan=window.channels, n_filt=node.n_out,
                          filt_height=window.kernel_h, filt_width=window.kernel_w,
                          parallelization_factor=node.parallelization_factor, groups=node.groups,
                          dilation_height=window.dilation_h, dilation_width=window.dilation_w)
        if node.groups > 1 and node.groups == window.channels:
            attributes["depth_multiplier"] = node.n_out // node.groups
        if node.weight_key != "weight" and "weight_t" in attributes:  # a separable convolution's part
            attributes[f"{node.weight_key}_t"] = attributes["weight_t"]
    elif node.op in ("pool", "zero_pad"):
        attributes.update(_window_attributes(node.window), n_chan=node.window.channels, n_filt=node.window.channels)
        if node.op == "pool":
            attributes.update(pool_op=node.function.capitalize(), pool_height=node.window.kernel_h,
                              pool_width=node.window.kernel_w)
    activation = _activation_name(node)
    if activation is not None or node.op == "scale_shift":
        attributes["n_in"] = node.size
    if activation is not None:
        attributes["activation"] = activation
    if node.op in ("lookup", "softmax", "layernorm"):
        attributes["table_size"] = node.table_size
    if node.op == "layernorm":
        attributes.update(n_in=node.size, seq_len=node.positions, epsilon=node.epsilon)
    if node.op == "softmax":
        attributes.update(implementation=node.implementation, skip=node.skip)
    if node.op in ("flatten", "reshape"):
        attributes["target_shape"] = tuple(node.shape)
    if node.op == "transpose":
        attributes["perm"] = list(node.perm)
    if node.op in ("crop", "upsample"):
        in_h, in_w, channels = node.image
        attributes.update(in_height=in_h, in_width=in_w, out_height=node.out_h, out_width=node.out_w, n_chan=channels)
    if node.op == "crop":
        attributes.update(crop_top=node.top, crop_bottom=node.bottom, crop_left=node.left, crop_right=node.right)
    if node.op == "upsample":
        attributes.update(algorithm=node.interpolation, height_factor=node.size_h, width_factor=node.size_w)
    if node.op == "input":
        attributes["input_shape"] = list(node.shape)
    if node.op == "merge":
        attributes["op"] = node.function
    if node.op == "concatenate":
        attributes["axis"] = node.axis
    if node.op == "embedding":
        attributes.update(n_in=node.shape[0], n_out=node.output_dim, vocab_size=node.input_dim)
    if node.op == "recurrent":
        attributes.update(n_in=node.n_in, n_out=node.units, n_timesteps=node.steps, n_state=node.units,
                          return_sequences=node.return_sequences, go_backwards=node.go_backwards,
                          recurrent_reuse_factor=node.recurrent_reuse_factor, static=node.static,
                          activation=node.activation, state_t=node.state_type, accum_t=node.accum_type)
        if node.cell != "simple":
            attributes["recurrent_activation"] = node.recurrent_activation
        if node.cell == "gru":
            attributes["apply_reset_gate"] = "after" if node.reset_after else "before"
        if node.cell == "lstm":
            attributes["cell_state_t"] = node.cell_type
        for key, part, constant in (("weight_t", "input", "weight"), ("bias_t", "input", "bias"),
                                    ("recurrent_weight_t", "recurrent", "weight"),
                                    ("recurrent_bias_t", "recurrent", "bias")):
            attributes[key] = getattr(node.parts[part], constant).type
    attributes["class_name"] = node.framework_class  # the framework's class, as the field's tools keep it
    return attributes
