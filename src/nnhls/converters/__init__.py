"""Converters from frameworks to HLSModel (the field's conventional entry points)."""

from __future__ import annotations

import os

from nnhls.config import apply_config
from nnhls.errors import NnhlsError
from nnhls.hls.backend import IO_TYPES, Project, get_backend
from nnhls.model import HLSModel
from nnhls.passes import lower

__all__ = ["convert_from_keras_model"]


def convert_from_keras_model(model, hls_config: dict | None = None, backend: str = "Vivado",
                             output_dir: str | os.PathLike = "nnhls_prj", project_name: str = "myproject",
                             part: str = "xcu250-figd2104-2L-e", clock_period: float = 5,
                             io_type: str = "io_parallel", strict: bool = False) -> HLSModel:
    """Convert a Keras 2 / QKeras / Keras 3 model (object or .h5/.keras path) into an HLSModel.

    With `strict=True`, a reuse factor the layer cannot take is an error instead of being moved
    to the nearest valid one with a warning.
    """
    from nnhls.frontends import read_keras

    chosen_backend = get_backend(backend)
    if io_type not in IO_TYPES:
        raise NnhlsError(f"io_type {io_type!r} is not valid; use one of {', '.join(IO_TYPES)}")
    if not project_name.isidentifier():
        raise NnhlsError(f"project_name {project_name!r} must be a C identifier, e.g. 'myproject'")
    graph = read_keras(model)
    settings = apply_config(graph, hls_config)
    lower(graph, settings, strict=strict)
    project = Project(graph, chosen_backend, io_type, project_name, part, clock_period)
    return HLSModel(graph, project, output_dir, hls_config or {})
