"""The YAML configuration file of `nnhls convert -c config.yml`, with errors that name the line.

Keys (the ones users of this kind of tool know):

    KerasModel: model.h5      # a whole model: .h5 (tf.keras, QKeras) or .keras
    KerasH5: model.h5         # the same, or the weights when KerasJson is given
    KerasJson: model.json     # an architecture from model.to_json(), weights from KerasH5
    PytorchModel: model.pt    # a whole torch.nn.Module saved by torch.save(model) (its classes importable)
    InputShape: [1, 8, 8]     # with PytorchModel: the input's shape without the batch axis (a list of them)
    OnnxModel: model.onnx     # an ONNX or QONNX model
    OutputDir: my_prj         # default nnhls_prj
    ProjectName: myproject
    Backend: Vivado           # or Vitis
    Part: xcu250-figd2104-2L-e
    ClockPeriod: 5            # ns
    IOType: io_parallel       # or io_stream
    HLSConfig:                # the configuration dictionary (Model / LayerType / LayerName)
      Model: {Precision: ap_fixed<16,6>, ReuseFactor: 1, Strategy: Latency}
    Sweep:                    # `nnhls sweep -c` only: nnhls.sweep's space and settings
      Space: {Precision: ['ap_fixed<12,5>', 'ap_fixed<16,6>'], ReuseFactor: [1, 2, 4]}   # quoted: commas
      Data: digits.npz        # arrays X (and y) the points are scored on
      Metric: accuracy        # or agreement
      Samples: 10             # a random sample of the grid (Seed: 0); all of it without
      Results: sweep.csv      # rerunning skips the points it holds
      Folder: sweep           # the sweep's folder (the points' projects with Build or Keep)
      Build: false            # the vendor synthesis of every point
      Keep: false
      Workers: 2              # local processes (default: one per core)
      Scheduler: tcp://host:8786   # or a Dask scheduler's address: the sweep runs on that cluster
      Plot: pareto.png        # score against multipliers, the Pareto front marked

Relative paths are relative to the folder of the YAML file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nnhls.errors import NnhlsError

__all__ = ["ConfigFile", "read_config_file"]

KEYS = ("KerasModel", "KerasH5", "KerasJson", "PytorchModel", "InputShape", "OnnxModel", "OutputDir", "ProjectName", "Backend",
        "Part", "ClockPeriod", "IOType", "HLSConfig", "Sweep")
SWEEP_KEYS = ("Space", "Data", "Metric", "Samples", "Seed", "Results", "Folder", "Build", "Keep", "Workers",
              "Scheduler", "Plot")


@dataclass
class ConfigFile:
    """A parsed configuration file: its values, and the line of every key (by key path)."""

    path: Path
    values: dict
    lines: dict[tuple[str, ...], int]

    def where(self, *keys: str) -> str:
        """`file:line` of the deepest of `keys` the file has (the file alone if none)."""
        for depth in range(len(keys), 0, -1):
            line = self.lines.get(tuple(keys[:depth]))
            if line is not None:
                return f"{self.path}:{line}"
        return str(self.path)

    def error(self, message: str, *keys: str) -> NnhlsError:
        return NnhlsError(f"{self.where(*keys)}: {message}")

    def file(self, key: str) -> Path | None:
        """The path a key names, relative to the configuration file's folder; it must exist."""
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.error(f"{key} must be a file path, got {value!r}", key)
        path = Path(value)
        path = path if path.is_absolute() else self.path.parent / path
        if not path.is_file():
            raise self.error(f"{key}: file {str(path)!r} does not exist", key)
        return path

    def located(self, error: NnhlsError) -> NnhlsError:
        """An error about `config['A']['B']...` (the HLSConfig part), with the line of that key."""
        match = re.search(r"config((?:\['[^']*'\])+)", str(error))
        keys = re.findall(r"\['([^']*)'\]", match.group(1)) if match else []
        unknown = re.match(r"unknown key '([^']*)' in config", str(error))
        if unknown:  # the line of the unknown key itself
            keys.append(unknown.group(1))
        return NnhlsError(f"{self.where('HLSConfig', *keys)}: {error}")


def read_config_file(path) -> ConfigFile:
    """Parse the YAML file; unknown or mistyped top-level keys are errors naming their line."""
    try:
        import yaml
    except ImportError as error:
        raise NnhlsError("reading a YAML configuration needs PyYAML: `pip install pyyaml`") from error
    path = Path(path)
    if not path.is_file():
        raise NnhlsError(f"configuration file {str(path)!r} does not exist")
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise NnhlsError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(values, dict):
        raise NnhlsError(f"{path}: expected a mapping of keys such as KerasH5, OutputDir and HLSConfig")
    lines: dict[tuple[str, ...], int] = {}
    _record_lines(node, (), lines)
    config = ConfigFile(path, values, lines)
    for key in values:
        if key not in KEYS:
            raise config.error(f"unknown key {key!r}; valid keys: {', '.join(KEYS)}", str(key))
    models = [key for key in ("KerasModel", "KerasH5", "KerasJson", "PytorchModel", "OnnxModel") if key in values]
    if not models:
        raise NnhlsError(f"{path}: no model: give KerasModel or KerasH5 (a model file), KerasJson and KerasH5, "
                         "PytorchModel and InputShape, or OnnxModel")
    for single in ("PytorchModel", "OnnxModel"):
        if single in values and len(models) > 1:
            other = next(key for key in models if key != single)
            raise config.error(f"{single} and {other} both name a model; give one", single)
    if ("PytorchModel" in values) != ("InputShape" in values):
        key = "PytorchModel" if "PytorchModel" in values else "InputShape"
        raise config.error("PytorchModel needs InputShape (the input's shape without the batch axis), and InputShape "
                           "belongs to a PytorchModel", key)
    if "KerasJson" in values and "KerasH5" not in values:
        raise config.error("KerasJson needs KerasH5 with the weights", "KerasJson")
    for key in ("OutputDir", "ProjectName", "Backend", "Part", "IOType"):
        if key in values and not isinstance(values[key], str):
            raise config.error(f"{key} must be a string, got {values[key]!r}", key)
    clock = values.get("ClockPeriod", 5)
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or clock <= 0:
        raise config.error(f"ClockPeriod must be a positive number of nanoseconds, got {clock!r}", "ClockPeriod")
    if "HLSConfig" in values and not isinstance(values["HLSConfig"], dict):
        raise config.error("HLSConfig must be a mapping (Model, LayerType, LayerName)", "HLSConfig")
    sweep = values.get("Sweep")
    if sweep is not None:
        if not isinstance(sweep, dict):
            raise config.error("Sweep must be a mapping (Space, Data, ...)", "Sweep")
        for key in sweep:
            if key not in SWEEP_KEYS:
                raise config.error(f"unknown key {key!r} in Sweep; valid keys: {', '.join(SWEEP_KEYS)}", "Sweep",
                                   str(key))
    return config


def _record_lines(node, prefix: tuple[str, ...], lines: dict) -> None:
    """The 1-based line of every mapping key, by its path of keys."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            path = prefix + (str(key_node.value),)
            lines[path] = key_node.start_mark.line + 1
            _record_lines(value_node, path, lines)
