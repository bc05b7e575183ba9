"""One small class per op kind. Each describes numbers, never how a backend realizes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from nnhls.types import FixedType

__all__ = ["OPS", "Activation", "BatchNorm", "Dense", "Flatten", "Input", "Node", "ScaleShift", "Weights"]


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

    op: ClassVar[str] = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Input(Node):
    """The network input: float values are converted into `result_type` on entry."""

    op: ClassVar[str] = "input"


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

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    def valid_reuse_factors(self, strategy: str) -> list[int]:
        """Reuse factors this layer can be realized with under `strategy`.

        Latency: any number of cycles up to one multiplication per cycle. Resource: each cycle
        handles a block of whole weight rows (the factor divides n_in) or an equal part of one
        row (n_in divides the factor, which divides n_in * n_out), so every block is full.
        """
        n_weights = self.n_in * self.n_out
        if strategy == "Latency":
            return list(range(1, n_weights + 1))
        whole_rows = [f for f in range(1, self.n_in + 1) if self.n_in % f == 0]
        row_parts = [self.n_in * m for m in range(2, self.n_out + 1) if self.n_out % m == 0]
        return whole_rows + row_parts


@dataclass
class Activation(Node):
    """An element-wise function, converted into `result_type`: `linear` (y = x) or `relu` (max(x, 0))."""

    function: str = "linear"

    op: ClassVar[str] = "activation"
    FUNCTIONS: ClassVar[tuple[str, ...]] = ("linear", "relu")


@dataclass
class BatchNorm(Node):
    """Keras BatchNormalization as the framework stores it; folded or lowered to ScaleShift by passes."""

    gamma: np.ndarray = None
    beta: np.ndarray = None
    mean: np.ndarray = None
    variance: np.ndarray = None
    epsilon: float = 1e-3
    # Configured precisions of the scale and the shift ('scale', 'bias') if it becomes a ScaleShift.
    precisions: dict = field(default_factory=dict)

    op: ClassVar[str] = "batchnorm"


@dataclass
class ScaleShift(Node):
    """y = x * scale + shift per channel (last axis), exact, then converted into `result_type`."""

    scale: Weights = None
    shift: Weights = None

    op: ClassVar[str] = "scale_shift"


@dataclass
class Flatten(Node):
    """Reshape to one dimension; channels-last order is kept, so the values do not move."""

    op: ClassVar[str] = "flatten"


# Every op kind the lowered IR may hold, by name. The equivalence tests compare against this.
OPS = {cls.op: cls for cls in (Input, Dense, Activation, ScaleShift, Flatten)}
