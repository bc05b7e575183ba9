"""C simulation: the written project built with g++ into a shared library, called through ctypes.

Each build gets a library file of its own, so two models (or two builds of one model) in one
process never share code or static state.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.hls.backend import words  # how many 64-bit words the bridge writes per code
from nnhls.types import FixedType

__all__ = ["CSimLibrary", "build_library"]

CXXFLAGS = ["-std=c++17", "-O1", "-fPIC", "-shared", "-Wno-unknown-pragmas"]


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
    command = [compiler(), *CXXFLAGS, "-DNNHLS_TRACE", "-Ifirmware", "-Iap_types",
               f"firmware/{project_name}.cpp", f"{project_name}_bridge.cpp", "-o", str(library)]
    result = subprocess.run(command, cwd=project_dir, capture_output=True, text=True)
    if result.returncode != 0:
        raise NnhlsError(f"the C simulation of {project_dir} did not compile:\n{result.stderr[-4000:]}")
    return library


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
