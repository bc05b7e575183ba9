"""nnhls: quantized neural networks to bit-exact HLS C++ for AMD/Xilinx FPGAs."""

from nnhls import converters, estimate, profiling, quantize, report, types, utils
from nnhls.compare import compare
from nnhls.config import config_from_keras_model, config_from_onnx_model, config_from_pytorch_model, print_dict
from nnhls.converters import convert_from_config, convert_from_keras_model, convert_from_onnx_model, convert_from_pytorch_model
from nnhls.errors import NnhlsError, PrecisionError
from nnhls.model import HLSModel
from nnhls.sweep import SweepResults, sweep
from nnhls.types import AUTO, FixedType, IntType, parse_precision

__all__ = [
    "AUTO",
    "HLSModel",
    "SweepResults",
    "compare",
    "config_from_keras_model",
    "config_from_onnx_model",
    "config_from_pytorch_model",
    "convert_from_config",
    "convert_from_keras_model",
    "convert_from_onnx_model",
    "convert_from_pytorch_model",
    "converters",
    "estimate",
    "profiling",
    "report",
    "sweep",
    "print_dict",
    "utils",
    "FixedType",
    "IntType",
    "NnhlsError",
    "PrecisionError",
    "parse_precision",
    "quantize",
    "types",
]

__version__ = "0.1.0"
