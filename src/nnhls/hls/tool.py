"""Running the vendor's HLS tool on a written project: finding it, calling it, keeping its log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nnhls.errors import NnhlsError
from nnhls.hls.backend import MANIFEST, Backend, get_backend

__all__ = ["BUILD_STEPS", "LOG_FILE", "build_command", "find_tool", "options_text", "project_info", "run_build"]

# The steps build_prj.tcl knows, in the order the tool runs them.
BUILD_STEPS = ("reset", "csim", "synth", "cosim", "export", "vsynth")
LOG_FILE = "nnhls_build.log"
# UG1702 documents no way to pass arguments through `vitis-run --mode hls --tcl`; build_prj.tcl
# reads its options from this variable too.
OPTIONS_VARIABLE = "NNHLS_BUILD_OPTIONS"


def find_tool(backend: Backend) -> str:
    """The tool's executable: the backend's environment variable if set, else the first of its
    executables on PATH; an error naming the tool, the variable and what was searched if none."""
    chosen = os.environ.get(backend.environment_variable)
    if chosen:
        found = shutil.which(chosen)
        if not found:
            raise NnhlsError(f"{backend.environment_variable} is {chosen!r}, which is not an executable file")
        return found
    for name in backend.executables:
        found = shutil.which(name)
        if found:
            return found
    raise NnhlsError(
        f"{backend.name} HLS was not found: searched ${backend.environment_variable} (not set) and "
        f"{', '.join(backend.executables)} on PATH. Install {backend.name} HLS and source its settings script "
        f"(settings64.sh), or set {backend.environment_variable} to the executable")


def options_text(options: dict[str, bool]) -> str:
    """Build steps (step -> on/off) as build_prj.tcl reads them: 'reset=0 csim=1 ...'."""
    return " ".join(f"{step}={int(bool(options.get(step, False)))}" for step in BUILD_STEPS)


def build_command(executable: str, options: dict[str, bool]) -> list[str]:
    """The command line that runs build_prj.tcl with `options` (step -> on/off)."""
    text = options_text(options)
    if Path(executable).name.startswith("vitis-run"):
        return [executable, "--mode", "hls", "--tcl", "build_prj.tcl"]
    return [executable, "-f", "build_prj.tcl", text]


def project_info(project_dir) -> dict:
    """What nnhls recorded about a written project (backend, project name, io type)."""
    manifest = Path(project_dir) / MANIFEST
    if not manifest.is_file():
        raise NnhlsError(f"{str(project_dir)!r} holds no project written by nnhls (no {MANIFEST}); "
                         "write one with `nnhls convert -c config.yml` or HLSModel.write()")
    try:
        info = json.loads(manifest.read_text())
    except json.JSONDecodeError as error:
        raise NnhlsError(f"{manifest} is not valid JSON: {error}") from None
    for key in ("backend", "project_name"):
        if key not in info:
            raise NnhlsError(f"{manifest} does not say the project's {key}; write the project again with nnhls")
    return info


def run_build(project_dir, options: dict[str, bool], backend: Backend | None = None, echo=sys.stdout,
              executable: str | None = None) -> Path:
    """Run the tool (`executable`, else the one find_tool finds) on the project in `project_dir`,
    echoing its output as it comes and keeping it in nnhls_build.log; returns the log's path. A
    failing tool is an error that names the log."""
    project_dir = Path(project_dir)
    backend = backend or get_backend(project_info(project_dir)["backend"])
    executable = executable or find_tool(backend)
    command = build_command(executable, options)
    environment = dict(os.environ, **{OPTIONS_VARIABLE: options_text(options)})
    log_path = project_dir / LOG_FILE
    with open(log_path, "w") as log:
        log.write(f"# {' '.join(command)}\n")
        log.flush()
        try:
            process = subprocess.Popen(command, cwd=project_dir, env=environment, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace")
        except OSError as error:
            raise NnhlsError(f"cannot run {executable}: {error}") from None
        for line in process.stdout:
            log.write(line)
            if echo is not None:
                echo.write(line)
                echo.flush()
        code = process.wait()
    if code != 0:
        raise NnhlsError(f"{backend.name} HLS ({executable}) failed with exit code {code}; its output is in {log_path}")
    return log_path
