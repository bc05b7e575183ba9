"""nnhls: quantized neural networks to bit-exact HLS C++ for AMD/Xilinx FPGAs."""

from nnhls import quantize, types
from nnhls.errors import NnhlsError, PrecisionError
from nnhls.types import AUTO, FixedType, IntType, parse_precision

__all__ = [
    "AUTO",
    "FixedType",
    "IntType",
    "NnhlsError",
    "PrecisionError",
    "parse_precision",
    "quantize",
    "types",
]

__version__ = "0.1.0"
