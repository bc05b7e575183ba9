"""Converters from frameworks to HLSModel (the field's conventional entry points)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from nnhls.config import apply_config
from nnhls.errors import NnhlsError
from nnhls.hls.backend import IO_TYPES, Project, get_backend
from nnhls.hls.limits import synthesis_limits
from nnhls.model import HLSModel
from nnhls.passes import lower

__all__ = ["convert_from_config", "convert_from_keras_model", "convert_from_onnx_model", "convert_from_pytorch_model",
           "convert_graph"]


def convert_from_keras_model(model, output_dir: str | os.PathLike = "nnhls_prj", project_name: str = "myproject",
                             input_data_tb=None, output_data_tb=None, backend: str = "Vivado",
                             hls_config: dict | None = None, *, part: str = "xcu250-figd2104-2L-e",
                             clock_period: float = 5, io_type: str = "io_parallel", strict: bool = False,
                             clock_uncertainty: str | float | None = None, bit_exact: bool | None = None,
                             namespace: str | None = None, write_weights_txt: bool = True,
                             write_tar: bool = False) -> HLSModel:
    """Convert a Keras 2 / QKeras / Keras 3 model (object or .h5/.keras path) into an HLSModel.

    The positional order is the field's (model, output_dir, project_name, input_data_tb,
    output_data_tb, backend, hls_config); everything after is by keyword only.

    With `strict=True`, a reuse factor the layer cannot take is an error instead of being moved
    to the nearest valid one with a warning. A layer past what synthesis tools handle well (see
    nnhls.hls.limits) gets a warning that names it and the way out.

    Arguments scripts written for hls4ml pass: `input_data_tb` (a .npy or .dat file, one sample
    per row) gives the testbench's inputs; `output_data_tb` is not used, with a warning, because
    the testbench expects the emulator's outputs so that the C simulation checks every bit (compare
    with the framework with nnhls.compare). `clock_uncertainty` ('12.5%' or nanoseconds) goes into
    the build script. `bit_exact`: nnhls is always bit-exact (False gets a warning saying so).
    `write_weights_txt` changes nothing (the C simulation compiles the weights as integer codes);
    `namespace` and `write_tar=True` are not supported and are errors.
    """
    from nnhls.frontends import read_keras

    return _convert(lambda: read_keras(model), hls_config, output_dir, project_name, input_data_tb, output_data_tb,
                    backend, part, clock_period, io_type, strict, clock_uncertainty, bit_exact, namespace,
                    write_weights_txt, write_tar)


def convert_from_pytorch_model(model, output_dir: str | os.PathLike = "nnhls_prj", project_name: str = "myproject",
                               input_data_tb=None, output_data_tb=None, backend: str = "Vivado",
                               hls_config: dict | None = None, *, input_shape=None, part: str = "xcu250-figd2104-2L-e",
                               clock_period: float = 5, io_type: str = "io_parallel", strict: bool = False,
                               clock_uncertainty: str | float | None = None, bit_exact: bool | None = None,
                               namespace: str | None = None, write_weights_txt: bool = True,
                               write_tar: bool = False) -> HLSModel:
    """Convert a torch.nn.Module (float, or with Brevitas's quantized layers) into an HLSModel.

    The input shape and the channels-last settings come from the configuration that
    `config_from_pytorch_model(model, input_shape, ...)` made (`InputShape`, and
    `ChannelsLastConversion` and `TransposeOutputs` under `Model`); `input_shape=` here gives or
    overrides the shape. Everything else as `convert_from_keras_model`.
    """
    from nnhls.frontends.pytorch import read_pytorch

    if isinstance(output_dir, (list, tuple)):
        raise NnhlsError(f"convert_from_pytorch_model's second argument is output_dir, got the shape {output_dir!r}; "
                         "give the input shape to config_from_pytorch_model(model, input_shape) (or input_shape= "
                         "here), as hls4ml 0.8 and later take it")
    config = hls_config or {}
    shape = input_shape if input_shape is not None else config.get("InputShape")
    if shape is None:
        raise NnhlsError("convert_from_pytorch_model needs the input's shape: make the configuration with "
                         "nnhls.config_from_pytorch_model(model, input_shape=(...)), or pass input_shape=(...)")
    conversion, transpose_outputs = _layout_settings(config)
    return _convert(lambda: read_pytorch(model, shape, conversion, transpose_outputs), hls_config, output_dir,
                    project_name, input_data_tb, output_data_tb, backend, part, clock_period, io_type, strict,
                    clock_uncertainty, bit_exact, namespace, write_weights_txt, write_tar)


def convert_from_onnx_model(model, output_dir: str | os.PathLike = "nnhls_prj", project_name: str = "myproject",
                            input_data_tb=None, output_data_tb=None, backend: str = "Vivado",
                            hls_config: dict | None = None, *, part: str = "xcu250-figd2104-2L-e",
                            clock_period: float = 5, io_type: str = "io_parallel", strict: bool = False,
                            clock_uncertainty: str | float | None = None, bit_exact: bool | None = None,
                            namespace: str | None = None, write_weights_txt: bool = True,
                            write_tar: bool = False) -> HLSModel:
    """Convert an ONNX or QONNX model (an onnx.ModelProto, a .onnx path or a qonnx ModelWrapper)
    into an HLSModel.

    The channels-last settings come from the configuration (`ChannelsLastConversion` and
    `TransposeOutputs` under `Model`, as config_from_onnx_model writes them). Everything else as
    `convert_from_keras_model`.
    """
    from nnhls.frontends.onnx import read_onnx

    conversion, transpose_outputs = _layout_settings(hls_config or {})
    return _convert(lambda: read_onnx(model, conversion, transpose_outputs), hls_config, output_dir, project_name,
                    input_data_tb, output_data_tb, backend, part, clock_period, io_type, strict, clock_uncertainty,
                    bit_exact, namespace, write_weights_txt, write_tar)


def _layout_settings(config: dict) -> tuple:
    """A channels-first frontend's layout settings as config_from_pytorch_model and
    config_from_onnx_model keep them under `Model` (ChannelsLastConversion, TransposeOutputs)."""
    model_config = config.get("Model", {})
    return model_config.get("ChannelsLastConversion", "full"), model_config.get("TransposeOutputs", False)


def convert_graph(graph, hls_config: dict | None = None, **options) -> HLSModel:
    """Convert a graph a frontend read (nnhls.frontends), with the options of convert_from_keras_model."""
    return _convert(lambda: graph, hls_config, **options)


def _convert(read, hls_config, output_dir="nnhls_prj", project_name="myproject", input_data_tb=None,
             output_data_tb=None, backend="Vivado", part="xcu250-figd2104-2L-e", clock_period=5,
             io_type="io_parallel", strict=False, clock_uncertainty=None, bit_exact=None, namespace=None,
             write_weights_txt=True, write_tar=False) -> HLSModel:
    chosen_backend = get_backend(backend)
    _check_io_type(io_type, "io_type")
    _check_project_name(project_name, "project_name")
    extras = _peer_options(clock_uncertainty, bit_exact, namespace, write_weights_txt, write_tar, output_data_tb)
    graph = read()
    settings = apply_config(graph, hls_config)
    lower(graph, settings, strict=strict)
    for message in synthesis_limits(graph, io_type):
        warnings.warn(message, stacklevel=2)
    project = Project(graph, chosen_backend, io_type, project_name, part, clock_period, **extras)
    tb_inputs = None if input_data_tb is None else _testbench_inputs(input_data_tb, graph)
    return HLSModel(graph, project, output_dir, hls_config or {}, tb_inputs=tb_inputs)


def _peer_options(clock_uncertainty, bit_exact, namespace, write_weights_txt, write_tar, output_data_tb) -> dict:
    """Check the options hls4ml's backends take; returns the Project fields they set."""
    if bit_exact is not None and not isinstance(bit_exact, bool):
        raise NnhlsError(f"bit_exact must be True, False or None, got {bit_exact!r}")
    if bit_exact is False:
        warnings.warn("bit_exact=False: nnhls is always bit-exact (the C simulation and the emulator agree bit for "
                      "bit, and quantized layers match the framework); the option changes nothing", stacklevel=3)
    if namespace is not None:
        raise NnhlsError(f"namespace={namespace!r} is not supported: nnhls writes the top function in the global "
                         "namespace (its own code is in namespace nnhls); leave namespace unset")
    if not isinstance(write_weights_txt, bool):
        raise NnhlsError(f"write_weights_txt must be True or False, got {write_weights_txt!r}")
    if write_tar is not False:
        raise NnhlsError(f"write_tar={write_tar!r} is not supported: nnhls writes the project folder only; archive "
                         "it yourself, e.g. shutil.make_archive(output_dir, 'gztar', output_dir)")
    if output_data_tb is not None:
        warnings.warn(f"output_data_tb={str(output_data_tb)!r} is not used: nnhls's testbench expects the "
                      "emulator's outputs, so that the C simulation checks every bit; compare the design with the "
                      "framework with nnhls.compare(keras_model, hls_model, X)", stacklevel=3)
    if clock_uncertainty is None:
        return {}
    return {"clock_uncertainty": _clock_uncertainty(clock_uncertainty)}


def _clock_uncertainty(value) -> str:
    """'12.5%' (of the clock period) or a number of nanoseconds, as set_clock_uncertainty takes it."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"\d+(\.\d+)?%?", text):
        raise NnhlsError(f"clock_uncertainty {value!r} is not valid; give a percentage of the clock period such as "
                         "'12.5%', or nanoseconds such as 0.5")
    return text


def _testbench_inputs(path, graph) -> list[np.ndarray]:
    """The testbench inputs in `path` (.npy, or text with one sample per row), one array per input."""
    path = Path(path)
    if not path.is_file():
        raise NnhlsError(f"input_data_tb {str(path)!r} does not exist")
    try:
        values = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, ndmin=2)
    except ValueError as error:
        raise NnhlsError(f"input_data_tb {str(path)!r} is not a .npy file or rows of numbers: {error}") from None
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    sizes = [node.size for node in graph.inputs]
    if values.shape[1] != sum(sizes):
        raise NnhlsError(f"input_data_tb {str(path)!r} has {values.shape[1]} values per sample; the model's inputs "
                         f"take {' + '.join(map(str, sizes))}")
    parts = np.split(values, np.cumsum(sizes)[:-1], axis=1)
    return [part.reshape(len(values), *node.shape) for part, node in zip(parts, graph.inputs)]


def _check_io_type(io_type, key: str) -> None:
    if io_type not in IO_TYPES:
        raise NnhlsError(f"{key} {io_type!r} is not valid; use one of {', '.join(IO_TYPES)}")


_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# C++17's keywords and alternative tokens (`and` is `&&` to the compiler), and C++20's keywords,
# which a newer compiler reserves.
_CPP_KEYWORDS = frozenset("""
    alignas alignof asm auto bool break case catch char char16_t char32_t class const constexpr const_cast
    continue decltype default delete do double dynamic_cast else enum explicit export extern false float for
    friend goto if inline int long mutable namespace new noexcept nullptr operator private protected public
    register reinterpret_cast return short signed sizeof static static_assert static_cast struct switch template
    this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
    while char8_t concept consteval constinit co_await co_return co_yield requires""".split())
_ALTERNATIVE_TOKENS = frozenset("and and_eq bitand bitor compl not not_eq or or_eq xor xor_eq".split())
# Types, objects and macros of the C library headers a project includes (nnhls's own: <cstdio>,
# <cstdlib>, <cstdint>, with <cstddef>, <cerrno>, <cwchar>, <ctime> through the C++ headers; the
# vendor's ap_types add <cassert>, <cmath>, <cfenv>): a top function of such a name does not
# compile. The library's functions are reserved only with their own signatures, so a top function
# named `exp` is a legal overload. `linux` and `unix` are macros in g++'s and clang's GNU dialects.
_C_LIBRARY = frozenset("""
    size_t ptrdiff_t max_align_t nullptr_t FILE fpos_t div_t ldiv_t lldiv_t wint_t mbstate_t time_t clock_t
    NULL EOF BUFSIZ FILENAME_MAX FOPEN_MAX L_tmpnam SEEK_CUR SEEK_END SEEK_SET TMP_MAX stdin stdout stderr
    EXIT_FAILURE EXIT_SUCCESS MB_CUR_MAX RAND_MAX SIZE_MAX PTRDIFF_MAX PTRDIFF_MIN SIG_ATOMIC_MAX SIG_ATOMIC_MIN
    WCHAR_MAX WCHAR_MIN WINT_MAX WINT_MIN WEOF errno EDOM ERANGE EILSEQ offsetof assert CLOCKS_PER_SEC
    TIME_UTC alloca float_t double_t HUGE_VAL HUGE_VALF HUGE_VALL INFINITY NAN math_errhandling MATH_ERRNO
    MATH_ERREXCEPT FP_INFINITE FP_NAN FP_NORMAL FP_SUBNORMAL FP_ZERO FP_ILOGB0 FP_ILOGBNAN fenv_t fexcept_t
    FE_ALL_EXCEPT FE_DIVBYZERO FE_INEXACT FE_INVALID FE_OVERFLOW FE_UNDERFLOW FE_DOWNWARD FE_TONEAREST
    FE_TOWARDZERO FE_UPWARD FE_DFL_ENV linux unix""".split())
_C_LIBRARY_PATTERN = re.compile(r"u?int(_least|_fast)?(8|16|32|64)_t|u?int(max|ptr)_t"
                                r"|U?INT(_LEAST|_FAST)?(8|16|32|64)_(MAX|MIN|C|WIDTH)"
                                r"|U?INT(MAX|PTR)_(MAX|MIN|C|WIDTH)")
# What the writer declares at global scope (nnhls.hls.firmware, .emitters, .templates): the
# testbench's main, the sizes N_LAYER<k>, the types layer<k>_t and layer<k>_packet_t, each layer's
# config<k> and index structs, its constants' arrays (w<k>, b<k>, table<k>, ... with <array>_codes
# and _loaded) and their types (weight<k>_t, ...).
# A recurrent layer's parts are written as layers of their own, their names ending in `_<role>`.
_PART = r"(_(input|recurrent|reset|gate|candidate|output)(_in)?)?"
_GENERATED_PATTERN = re.compile(
    rf"main|N_LAYER\d+|layer\d+_(t|packet_t)|config\d+{_PART}|(exp_|inv_)?index\d+{_PART}|parts\d+"
    r"|(w|b|s|t|exp|inv|table|scale|shift|slope|offset|threshold|thresholds|max|min_input|min_value|levels"
    rf"|weight|bias|accum|sum|gamma|beta|epsilon|variance|embeddings|index|state|cell)\d+{_PART}(_t|_codes|_loaded)?")
# Files the project holds besides the top function's: a project of that name would overwrite
# them (compared without case: some file systems ignore it).
_PROJECT_FILES = ("defines", "parameters")


def _reserved_because(name: str) -> str | None:
    """Why `name`, a C identifier, cannot name a project's top function, or None if it can."""
    lowered = name.lower()
    if name in _CPP_KEYWORDS:
        return "is a C++ keyword"
    if name in _ALTERNATIVE_TOKENS:
        return "is an alternative token of C++ (an operator to the compiler)"
    if "__" in name or name.startswith("_"):
        return ("is reserved for the C++ implementation (names holding '__', and at global scope names starting "
                "with '_')")
    if name in _C_LIBRARY or _C_LIBRARY_PATTERN.fullmatch(name):
        return "is a type, object or macro of the C library the project includes"
    if lowered.startswith("nnhls") or lowered.startswith("ap_") or name in ("hls", "std"):
        return ("names a part of the project's own code (namespace nnhls and NNHLS_ macros, the ap_ types, "
                "namespaces hls and std)")
    if lowered in _PROJECT_FILES:
        return f"would overwrite the project's firmware/{lowered}.h"
    if _GENERATED_PATTERN.fullmatch(name):
        return "is a name the written project declares itself (the testbench's main, a layer's type or constants)"
    return None


def _check_project_name(project_name, key: str) -> None:
    if not isinstance(project_name, str) or not _C_IDENTIFIER.fullmatch(project_name):
        raise NnhlsError(f"{key} {project_name!r} must be a C identifier (ASCII letters, digits and '_', not "
                         "starting with a digit), e.g. 'myproject'")
    reason = _reserved_because(project_name)
    if reason is not None:
        raise NnhlsError(f"{key} {project_name!r} {reason}, so it cannot name the project's top function; "
                         "choose another name, e.g. 'myproject'")


def convert_from_config(config_file) -> HLSModel:
    """Convert the model a YAML configuration file names, as `nnhls convert -c config.yml` does
    (keys: see nnhls.config_file). Errors in the file name its line."""
    from nnhls.config_file import read_config_file

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
    options = {"hls_config": values.get("HLSConfig"), "backend": backend, "project_name": project_name,
               "part": values.get("Part", "xcu250-figd2104-2L-e"), "clock_period": values.get("ClockPeriod", 5),
               "io_type": io_type}
    output_dir = Path(values.get("OutputDir", "nnhls_prj"))
    options["output_dir"] = output_dir if output_dir.is_absolute() else config.path.parent / output_dir
    model, input_shape = model_from_config(config)
    convert = {"PytorchModel": convert_from_pytorch_model, "OnnxModel": convert_from_onnx_model}.get(
        next((key for key in ("PytorchModel", "OnnxModel") if key in values), ""), convert_from_keras_model)
    if input_shape is not None:
        options["input_shape"] = input_shape
    try:
        return convert(model, **options)
    except NnhlsError as error:
        raise config.located(error) from None


def model_from_config(config) -> tuple[object, object]:
    """(the model a parsed configuration file names, its InputShape or None)."""
    from nnhls.frontends.keras import load_keras_file, load_keras_json

    values = config.values
    if "PytorchModel" in values:
        model = _load_torch_module(config.file("PytorchModel"))
        try:
            from nnhls.frontends.pytorch import input_shapes

            input_shapes(values["InputShape"])
        except NnhlsError as error:
            raise config.error(str(error), "InputShape") from None
        return model, values["InputShape"]
    if "OnnxModel" in values:
        return config.file("OnnxModel"), None
    if "KerasJson" in values:
        return load_keras_json(config.file("KerasJson"), config.file("KerasH5")), None
    return load_keras_file(config.file("KerasModel") or config.file("KerasH5")), None


def _load_torch_module(path: Path):
    """A whole module saved by torch.save(model): unpickled, so its classes must be importable (and
    the file trusted, as unpickling runs its code)."""
    try:
        import torch
    except ImportError as error:
        raise NnhlsError(f"reading {str(path)!r} needs torch: pip install 'nnhls[torch]'") from error
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise NnhlsError(f"torch cannot load {str(path)!r} as a whole module: {type(error).__name__}: {error}") from None
    if not isinstance(model, torch.nn.Module):
        raise NnhlsError(f"{str(path)!r} holds a {type(model).__name__}, not a torch.nn.Module: save the whole module "
                         "with torch.save(model, path) (a state_dict has no architecture)")
    return model
