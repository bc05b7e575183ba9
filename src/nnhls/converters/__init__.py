"""Converters from frameworks to HLSModel (the field's conventional entry points)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from nnhls.config import apply_config
from nnhls.errors import NnhlsError
from nnhls.hls.backend import IO_TYPES, Project, get_backend
from nnhls.hls.limits import synthesis_limits
from nnhls.model import HLSModel
from nnhls.passes import lower

__all__ = ["convert_from_config", "convert_from_keras_model"]


def convert_from_keras_model(model, hls_config: dict | None = None, backend: str = "Vivado",
                             output_dir: str | os.PathLike = "nnhls_prj", project_name: str = "myproject",
                             part: str = "xcu250-figd2104-2L-e", clock_period: float = 5,
                             io_type: str = "io_parallel", strict: bool = False) -> HLSModel:
    """Convert a Keras 2 / QKeras / Keras 3 model (object or .h5/.keras path) into an HLSModel.

    With `strict=True`, a reuse factor the layer cannot take is an error instead of being moved
    to the nearest valid one with a warning. A layer past what synthesis tools handle well (see
    nnhls.hls.limits) gets a warning that names it and the way out.
    """
    from nnhls.frontends import read_keras

    chosen_backend = get_backend(backend)
    _check_io_type(io_type, "io_type")
    _check_project_name(project_name, "project_name")
    graph = read_keras(model)
    settings = apply_config(graph, hls_config)
    lower(graph, settings, strict=strict)
    for message in synthesis_limits(graph, io_type):
        warnings.warn(message, stacklevel=2)
    project = Project(graph, chosen_backend, io_type, project_name, part, clock_period)
    return HLSModel(graph, project, output_dir, hls_config or {})


def _check_io_type(io_type, key: str) -> None:
    if io_type not in IO_TYPES:
        raise NnhlsError(f"{key} {io_type!r} is not valid; use one of {', '.join(IO_TYPES)}")


def _check_project_name(project_name, key: str) -> None:
    if not project_name.isidentifier():
        raise NnhlsError(f"{key} {project_name!r} must be a C identifier, e.g. 'myproject'")


def convert_from_config(config_file) -> HLSModel:
    """Convert the model a YAML configuration file names, as `nnhls convert -c config.yml` does
    (keys: see nnhls.config_file). Errors in the file name its line."""
    from nnhls.config_file import read_config_file
    from nnhls.frontends.keras import load_keras_file, load_keras_json

    config = read_config_file(config_file)
    values = config.values
    backend = values.get("Backend", "Vivado")
    io_type = values.get("IOType", "io_parallel")
    project_name = values.get("ProjectName", "myproject")
    checks = {"Backend": lambda: get_backend(backend), "IOType": lambda: _check_io_type(io_type, "IOType"),
              "ProjectName": lambda: _check_project_name(project_name, "ProjectName")}
    for key, check in checks.items():
        try:
            check()
        except NnhlsError as error:  # checked here, before the model loads, to name the line
            raise config.error(str(error), key) from None
    if "KerasJson" in values:
        model = load_keras_json(config.file("KerasJson"), config.file("KerasH5"))
    else:
        model = load_keras_file(config.file("KerasModel") or config.file("KerasH5"))
    output_dir = Path(values.get("OutputDir", "nnhls_prj"))
    output_dir = output_dir if output_dir.is_absolute() else config.path.parent / output_dir
    try:
        return convert_from_keras_model(
            model, hls_config=values.get("HLSConfig"), backend=backend, output_dir=output_dir,
            project_name=project_name, part=values.get("Part", "xcu250-figd2104-2L-e"),
            clock_period=values.get("ClockPeriod", 5), io_type=io_type)
    except NnhlsError as error:
        raise config.located(error) from None
