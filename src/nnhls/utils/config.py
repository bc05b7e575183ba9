"""The configuration functions where the field's scripts also look for them
(`hls4ml.utils.config.config_from_onnx_model(...)`); the same functions as `nnhls.utils`."""

from nnhls.config import config_from_keras_model, config_from_onnx_model, config_from_pytorch_model, print_dict

__all__ = ["config_from_keras_model", "config_from_onnx_model", "config_from_pytorch_model", "print_dict"]
