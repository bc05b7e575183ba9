"""The HLS project writer's entry point. Backends differ only by the data in `Backend`
(hls/target.py; hls/vivado.py and hls/vitis.py hold the values).

The writer reads the lowered IR and never changes it:
- hls/plan.py names every value and plans its reads (in io_stream, its clones and FIFO depths);
- hls/emitters.py writes each layer's configuration struct and call, its constants as exact
  integer codes;
- hls/firmware.py writes defines.h, nnhls_backend.h, parameters.h and the top function for the
  chosen io type;
- hls/templates.py writes the testbench, the C-simulation bridge and the backend's build script.
Here the files are gathered and written into a temporary folder first, whose files replace the
output folder's nnhls-written files only on success.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.hls import AP_TYPES_DIR, INCLUDE_DIR, firmware, templates
from nnhls.hls.emitters import EMITTERS, emit_layers
from nnhls.hls.plan import (STREAM_PATTERNS, Plan, code_literals, cpp_type, n_packets, packet_size, top_pragma,
                            value_of, words)
from nnhls.hls.target import IO_TYPES, Backend, Project
from nnhls.hls.vitis import VITIS
from nnhls.hls.vivado import VIVADO

__all__ = ["BACKENDS", "EMITTERS", "IO_TYPES", "MANIFEST", "STREAM_PATTERNS", "Backend", "Project",
           "code_literals", "cpp_type", "fifo_depths", "get_backend", "n_packets", "packet_size", "top_pragma",
           "value_of", "words", "write_project"]

MANIFEST = "nnhls_manifest.json"
BACKENDS = ("Vivado", "Vitis")
_BACKENDS_BY_NAME = {backend.name.lower(): backend for backend in (VIVADO, VITIS)}


def get_backend(name: str) -> Backend:
    """The backend called `name`, in any case."""
    try:
        return _BACKENDS_BY_NAME[str(name).lower()]
    except KeyError:
        raise NnhlsError(f"backend {name!r} is not supported; supported backends: Vivado, Vitis") from None


def _project_files(project: Project) -> dict[str, str]:
    """Every file the writer writes for the graph (by path within the project), but the
    testbench's data and the copied headers."""
    plan = Plan(project.graph, project.io_type)
    layers = emit_layers(plan, firmware.banner(project))
    name = project.project_name
    files = {
        "firmware/defines.h": firmware.defines(project, plan),
        "firmware/nnhls_backend.h": firmware.backend_header(project),
        "firmware/parameters.h": firmware.parameters(project, layers),
        f"firmware/{name}.h": firmware.top_header(project, plan),
        f"firmware/{name}.cpp": firmware.top_function(project, plan, layers.calls),
        f"{name}_test.cpp": templates.testbench(project, plan),
        f"{name}_bridge.cpp": templates.bridge(project, plan),
        "build_prj.tcl": templates.build_tcl(project),
    }
    files.update(layers.weight_files)
    return files


def fifo_depths(project: Project) -> dict[str, int]:
    """The depth of every stream between the stages of an io_stream design (empty for
    io_parallel), as the written pragmas give them."""
    return Plan(project.graph, project.io_type).fifo_depths() if project.io_type == "io_stream" else {}


def write_project(project: Project, output_dir: str | os.PathLike, tb_inputs: list[np.ndarray],
                  tb_outputs: list[np.ndarray]) -> Path:
    """Write the complete project into `output_dir`.

    Everything is written into a temporary folder first; then nnhls's files replace the ones an
    earlier write left (listed in the manifest), and files nnhls did not write stay untouched.
    """
    files = _project_files(project)
    files["tb_data/tb_input_features.dat"] = _table(tb_inputs)
    files["tb_data/tb_output_predictions.dat"] = _table(tb_outputs)
    output = Path(output_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".nnhls_", dir=output.parent) as staging:
        staging_path = Path(staging)
        _stage_files(staging_path, files)
        files.update(dict.fromkeys(_stage_headers(staging_path), ""))
        written = sorted(files) + [MANIFEST]
        (staging_path / MANIFEST).write_text(json.dumps(
            {"written_by": "nnhls", "backend": project.backend.name, "project_name": project.project_name,
             "io_type": project.io_type, "files": written}, indent=1))
        _replace(staging_path, output, written)
    return output


def _stage_files(staging: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _stage_headers(staging: Path) -> list[str]:
    """Copy nnhls's C++ library and our ap_types into the project; returns their paths within it."""
    copied = []
    for source_dir, target in ((INCLUDE_DIR / "nnhls", "firmware/nnhls"), (AP_TYPES_DIR, "ap_types")):
        for header in sorted(source_dir.glob("*.h")):
            relative = f"{target}/{header.name}"
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(header, staging / relative)
            copied.append(relative)
    return copied


def _replace(staging: Path, output: Path, written: list[str]) -> None:
    output.mkdir(parents=True, exist_ok=True)
    manifest = output / MANIFEST
    previous = []
    if manifest.exists():
        try:
            previous = json.loads(manifest.read_text()).get("files", [])
        except (json.JSONDecodeError, AttributeError):
            previous = []
    for relative in set(previous) - set(written):
        stale = output / relative
        if stale.is_file():
            stale.unlink()
    for relative in written:
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, target)


def _table(arrays: list[np.ndarray]) -> str:
    """One sample per line: the arrays' flattened values side by side, as exact decimals."""
    if not arrays:
        return ""
    flat = np.concatenate([np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in arrays], axis=1)
    return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in flat)
