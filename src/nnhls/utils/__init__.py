"""Configuration helpers under the field's conventional names."""

from nnhls.config import config_from_keras_model, print_dict

__all__ = ["config_from_keras_model", "print_dict"]
