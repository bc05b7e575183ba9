"""Configuration helpers under the field's conventional names."""

from nnhls.config import config_from_keras_model, config_from_onnx_model, config_from_pytorch_model, print_dict

__all__ = ["config", "config_from_keras_model", "config_from_onnx_model", "config_from_pytorch_model", "print_dict"]

from nnhls.utils import config  # noqa: E402  (the field's scripts also call nnhls.utils.config.<function>)
