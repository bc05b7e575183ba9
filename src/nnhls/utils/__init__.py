"""Configuration helpers under the field's conventional names."""

from nnhls.config import config_from_keras_model, config_from_onnx_model, config_from_pytorch_model, print_dict

__all__ = ["config_from_keras_model", "config_from_onnx_model", "config_from_pytorch_model", "print_dict"]
