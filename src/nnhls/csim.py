"""C simulation: the written project built with g++ into a shared library, called through ctypes.

Each build gets a library file of its own, so two models (or two builds of one model) in one
process never share code or static state. Builds are cached (in $NNHLS_CACHE_DIR, by default
~/.cache/nnhls/csim; an empty value turns the cache off) by a digest of the compiler, its flags
and every source file with its comments and HLS pragmas left out, which g++ ignores: a project
compiled before, or one that differs only in those (the same design for Vivado and for Vitis),
is copied from the cache instead of compiled again.

simulate_dataflow runs the project's own testbench with every dataflow stage in a thread and
every internal stream bounded by its depth (nnhls/dataflow.h), which shows a FIFO too shallow
for the design as a deadlock.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import operator
import os
import re
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.hls.backend import words  # how many 64-bit words the bridge writes per code
from nnhls.types import FixedType

__all__ = ["CSimLibrary", "DataflowResult", "build_library", "cache_dir", "simulate_dataflow"]

CXXFLAGS = ["-std=c++17", "-O1", "-fPIC", "-shared", "-Wno-unknown-pragmas"]
DATAFLOW_CXXFLAGS = ["-std=c++17", "-O1", "-pthread", "-DNNHLS_THREADED_DATAFLOW", "-Wno-unknown-pragmas"]


def compiler() -> str:
    """The C++ compiler: $CXX if set, else g++, found on PATH."""
    name = os.environ.get("CXX") or "g++"
    path = shutil.which(name)
    if not path:
        raise NnhlsError(f"C simulation needs a C++ compiler: {name!r} was not found on PATH "
                         "(install g++, or name a compiler in the CXX environment variable)")
    return path


def build_library(project_dir: Path, project_name: str) -> Path:
    """Compile the project's top function and bridge; returns the path of a new shared library."""
    project_dir = Path(project_dir).resolve()
    build_dir = project_dir / "build"
    build_dir.mkdir(exist_ok=True)
    for old in build_dir.glob(f"lib{project_name}_*.so"):
        old.unlink()  # a loaded library stays mapped; its file is no longer needed
    library = build_dir / f"lib{project_name}_{uuid.uuid4().hex[:12]}.so"
    arguments = [*CXXFLAGS, "-DNNHLS_TRACE", "-Ifirmware", "-Iap_types", f"firmware/{project_name}.cpp",
                 f"{project_name}_bridge.cpp"]
    cxx = compiler()
    cached = _cache_entry(cxx, arguments, project_dir, project_name)
    if cached is not None and cached.is_file():
        try:
            shutil.copyfile(cached, library)
            os.utime(cached)  # recently used: kept when the cache is pruned
            return library
        except OSError:
            pass  # pruned by another process meanwhile: build it
    result = subprocess.run([cxx, *arguments, "-o", str(library)], cwd=project_dir, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise NnhlsError(f"the C simulation of {project_dir} did not compile:\n{result.stderr[-4000:]}")
    if cached is not None:
        _store(library, cached)
    return library


# Library files the build cache keeps, the least recently used going first.
_CACHE_ENTRIES = 512
# Lines g++ ignores (-Wno-unknown-pragmas): whole-line comments and the HLS tools' pragmas; and
# what a macro expanding to an HLS pragma says (nnhls_backend.h spells them per tool).
_IGNORED_LINE = re.compile(r"^\s*(//|#pragma\s+HLS\b)")
_PRAGMA_MACRO = re.compile(r"^(\s*#define\s+\w+(?:\([^)]*\))?\s+NNHLS_PRAGMA\(HLS)\b.*\)\s*$")


def _compiled_text(text: str) -> str:
    """`text` without what g++ ignores in it."""
    lines = (_PRAGMA_MACRO.sub(r"\1)", line) for line in text.splitlines() if not _IGNORED_LINE.match(line))
    return "\n".join(lines)


def cache_dir() -> Path | None:
    """Where C simulation builds are cached, or None where the cache is off."""
    configured = os.environ.get("NNHLS_CACHE_DIR")
    if configured is not None:
        return Path(configured) / "csim" if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nnhls" / "csim"


@functools.lru_cache(maxsize=8)
def _compiler_identity(cxx: str) -> str:
    try:
        result = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30, check=False)
        return f"{cxx}\n{result.returncode}\n{result.stdout}"
    except (OSError, subprocess.SubprocessError):
        return cxx


def _cache_entry(cxx: str, arguments: list[str], project_dir: Path, project_name: str) -> Path | None:
    """Where the build of these sources with this compiler and these flags is cached (None: no
    cache). The digest covers every file the build can include: the firmware, the ap types and the
    bridge, each without the lines g++ ignores."""
    directory = cache_dir()
    if directory is None:
        return None
    digest = hashlib.sha256()
    digest.update(_compiler_identity(cxx).encode())
    digest.update("\0".join(arguments).encode())
    sources = [project_dir / f"{project_name}_bridge.cpp"]
    for folder in ("firmware", "ap_types"):
        sources += sorted(path for path in (project_dir / folder).rglob("*") if path.is_file())
    for path in sources:
        digest.update(f"\0{path.relative_to(project_dir).as_posix()}\0".encode())
        digest.update(_compiled_text(path.read_text(errors="surrogateescape")).encode(errors="surrogateescape"))
    return directory / f"{digest.hexdigest()[:32]}.so"


def _store(library: Path, entry: Path) -> None:
    """Put a new build into the cache (atomically: another process may be storing it too), and
    keep the cache to _CACHE_ENTRIES files. A cache that cannot be written is no cache."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_name(f"{entry.stem}.{uuid.uuid4().hex[:8]}.part")
        shutil.copyfile(library, partial)
        os.replace(partial, entry)
        entries = sorted(entry.parent.glob("*.so"), key=lambda path: path.stat().st_mtime)
        for old in entries[:-_CACHE_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


class CSimLibrary:
    """A loaded C simulation library and the shapes and types of what it reads and writes."""

    def __init__(self, path: Path, input_sizes: list[int], output_types: list[tuple[int, FixedType]],
                 node_types: list[tuple[int, FixedType] | None]):
        self.path = path
        self._library = ctypes.CDLL(str(path))
        self._predict = self._library.nnhls_predict
        self._predict.restype = None
        pointer = ctypes.POINTER
        self._predict.argtypes = [pointer(ctypes.c_void_p), ctypes.c_longlong, pointer(ctypes.c_void_p),
                                  pointer(ctypes.c_void_p)]
        self.input_sizes = input_sizes
        self.output_types = output_types
        self.node_types = node_types

    def run(self, inputs: list[np.ndarray], trace: bool = False):
        """Codes of every output (and of every traced node) for float inputs of shape (batch, size)."""
        batch = len(inputs[0])
        arrays = [np.ascontiguousarray(x, dtype=np.float64).reshape(batch, size)
                  for x, size in zip(inputs, self.input_sizes)]
        outputs = [np.zeros((batch, size, words(t)), dtype=np.int64) for size, t in self.output_types]
        traces = [None if entry is None or not trace else np.zeros((batch, entry[0], words(entry[1])), dtype=np.int64)
                  for entry in self.node_types]
        self._predict(_pointers(arrays), batch, _pointers(outputs),
                      _pointers(traces) if trace else None)
        decoded = [_decode(raw, t) for raw, (_, t) in zip(outputs, self.output_types)]
        if not trace:
            return decoded, None
        return decoded, [None if raw is None else _decode(raw, entry[1])
                         for raw, entry in zip(traces, self.node_types)]


def _pointers(arrays):
    pointers = (ctypes.c_void_p * len(arrays))()
    for i, array in enumerate(arrays):
        pointers[i] = None if array is None else array.ctypes.data
    return pointers


def _decode(raw: np.ndarray, t: FixedType) -> np.ndarray:
    """Codes from the 64-bit words the C side wrote (low word first for wide types)."""
    if raw.shape[-1] == 1:
        codes = raw[..., 0]
        if not t.signed and t.width == 64:
            codes = codes.astype(object) % (1 << 64)
        return codes
    low = raw[..., 0].astype(object) % (1 << 64)
    return low + raw[..., 1].astype(object) * (1 << 64)


@dataclass(frozen=True)
class DataflowResult:
    """How a threaded run of the testbench (simulate_dataflow) ended."""

    ok: bool  # ran one sample or more to the end, every output equal to tb_output_predictions.dat
    deadlock: bool  # every stage waited on a stream or on its stages: the FIFO depths are too small
    samples: int
    mismatches: int
    report: str  # the deadlock or stall report, or what the program printed when it failed
    command: str  # the run, as a shell command in the project folder


def simulate_dataflow(project_dir: Path, project_name: str, depths: dict[str, int] | None = None,
                      timeout: float = 120) -> DataflowResult:
    """Build the project's testbench with NNHLS_THREADED_DATAFLOW and run it in the project folder.

    Each stage runs in its own thread and each stream declared with NNHLS_STREAM_DEPTH holds at
    most its depth; `depths` (stream name -> depth, 0 for unbounded) overrides declared depths.
    Raises NnhlsError when the testbench does not compile or `depths` names a stream that no
    NNHLS_STREAM_DEPTH declares.
    """
    project_dir = Path(project_dir).resolve()
    environment = dict(os.environ)
    environment.pop("NNHLS_FIFO_DEPTHS", None)
    run = f"cd {shlex.quote(str(project_dir))} && "
    if depths:
        environment["NNHLS_FIFO_DEPTHS"] = _depths_variable(depths)
        run += f"NNHLS_FIFO_DEPTHS={shlex.quote(environment['NNHLS_FIFO_DEPTHS'])} "
    executable = _dataflow_executable(project_dir, project_name)
    run += executable
    try:
        finished = subprocess.run([str(project_dir / executable)], cwd=project_dir, env=environment,
                                  capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return DataflowResult(False, False, 0, 0, f"the run did not finish within {timeout} s", run)
    unused = re.search(r"nnhls dataflow: NNHLS_FIFO_DEPTHS names streams without NNHLS_STREAM_DEPTH: (.*)",
                       finished.stderr)
    if unused:
        raise NnhlsError(f"depths names streams that {project_name} does not declare with "
                         f"NNHLS_STREAM_DEPTH: {unused.group(1)} (give the names that the streams' "
                         "constructors take)")
    counts = re.search(r"(\d+) samples, (\d+) outputs differ", finished.stdout)
    samples, mismatches = (int(counts.group(1)), int(counts.group(2))) if counts else (0, 0)
    ok = finished.returncode == 0 and samples > 0 and mismatches == 0
    start = finished.stderr.find("nnhls dataflow ")
    stopped = finished.returncode == 3 and start >= 0  # a deadlock or a stall, reported
    deadlock = stopped and finished.stderr.startswith("nnhls dataflow deadlock:", start)
    if stopped:
        report = finished.stderr[start:]
    elif ok:
        report = finished.stderr
    else:
        report = f"exit status {finished.returncode}\n{finished.stdout[-4000:]}{finished.stderr[-4000:]}"
    return DataflowResult(ok, deadlock, samples, mismatches, report, run)


def _depths_variable(depths: dict[str, int]) -> str:
    """NNHLS_FIFO_DEPTHS for `depths`: name=depth,name=depth."""
    entries = []
    for name, depth in depths.items():
        try:
            packets = -1 if isinstance(depth, bool) else operator.index(depth)
        except TypeError:
            packets = -1
        if not name or any(c in name for c in ",= ") or packets < 0:
            raise NnhlsError(f"depths[{name!r}] = {depth!r}: expected a stream name without ',', '=' or "
                             "spaces and a whole number of packets (0 for unbounded)")
        entries.append(f"{name}={packets}")
    return ",".join(entries)


def _dataflow_executable(project_dir: Path, project_name: str) -> str:
    """The threaded testbench, compiled unless an executable of the same sources and flags exists:
    runs at several depths then share one build. Its path relative to the project folder."""
    sources = [project_dir / f"{project_name}_test.cpp"]
    for folder in ("firmware", "ap_types"):
        sources += sorted(path for path in (project_dir / folder).rglob("*") if path.is_file())
    digest = hashlib.sha256(" ".join([compiler(), *DATAFLOW_CXXFLAGS]).encode())
    for path in sources:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes())
    executable = f"build/{project_name}_dataflow_{digest.hexdigest()[:12]}"
    if (project_dir / executable).exists():
        return executable
    build_dir = project_dir / "build"
    build_dir.mkdir(exist_ok=True)
    for old in build_dir.glob(f"{project_name}_dataflow_{'?' * 12}"):
        old.unlink(missing_ok=True)
    partial = f"{executable}.{uuid.uuid4().hex[:8]}"  # renamed when complete: never run half-written
    command = [compiler(), *DATAFLOW_CXXFLAGS, "-Ifirmware", "-Iap_types", f"{project_name}_test.cpp",
               f"firmware/{project_name}.cpp", "-o", partial]
    result = subprocess.run(command, cwd=project_dir, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NnhlsError(f"the threaded dataflow simulation of {project_dir} did not compile:\n"
                         f"{result.stderr[-4000:]}")
    os.replace(project_dir / partial, project_dir / executable)
    return executable
