"""HLSModel: a converted network that can be written, compiled, run and built."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from nnhls import emulate, quantize
from nnhls.csim import CSimLibrary, build_library
from nnhls.errors import NnhlsError
from nnhls.hls.backend import Project, fifo_depths, write_project
from nnhls.ir import Graph
from nnhls.progress import progress

__all__ = ["HLSModel"]

# Samples written into the project's testbench data when the user gives none.
_TESTBENCH_SAMPLES = 64
# Samples that compile() runs through both the C simulation and the emulator.
_SELF_CHECK_SAMPLES = 256
# Samples per call into the C simulation, so that a long prediction can show its progress.
_CSIM_CHUNK = 4096


def _readers(graph: Graph, name: str) -> list:
    """The nodes reading the value `name`, through views (which hold the same values)."""
    readers = []
    for reader in graph.consumers(name):
        readers += _readers(graph, reader.name) if reader.VIEW else [reader]
    return readers


def spanned_codes(graph: Graph, node) -> tuple[int, int]:
    """(lowest, highest) code of input `node` that every reader takes: the whole type, but for
    embeddings only the codes whose indices read a row of each table (the emulator refuses others)."""
    t = node.result_type
    low, high = t.min_code, t.max_code
    for reader in _readers(graph, node.name):
        if reader.op == "embedding":  # code 0, index 0, is within every table
            reader_low, reader_high = reader.index_codes(t)
            low, high = max(low, reader_low), min(high, reader_high)
    return low, high


class HLSModel:
    """The lowered network plus where and how its HLS project is written."""

    def __init__(self, graph: Graph, project: Project, output_dir: str | os.PathLike, config: dict,
                 tb_inputs: list[np.ndarray] | None = None):
        # `graph` iterates over its layers (nodes), and is also a mapping from layer name to layer
        # (keys, values, items, [name], in, len), as scripts for the field's tools read it.
        self.graph = graph
        self.project = project
        self.output_dir = Path(output_dir)
        self.config = config
        self._tb_inputs = tb_inputs  # the testbench's inputs when write() is given none
        self._library: CSimLibrary | None = None
        self._fifo_depths: dict[str, int] | None = None

    @property
    def backend(self) -> str:
        return self.project.backend.name

    @property
    def io_type(self) -> str:
        return self.project.io_type

    def get_layers(self) -> list:
        """The layers in graph order; each has `name`, `class_name` (the field's name for its kind,
        e.g. 'Dense', 'Conv2D', 'Activation', 'Softmax'), `attributes`, `get_attr(key, default)`,
        `get_weights()`, `get_input_variable()` and `get_output_variable()` (hls4ml's)."""
        import weakref

        layers = list(self.graph.values())
        for layer in layers:  # how a layer finds its inputs' variables
            layer.__dict__["_graph"] = weakref.ref(self.graph)
        return layers

    # writing and compiling --------------------------------------------------------------

    def write(self, tb_inputs=None) -> Path:
        """Write the complete HLS project; returns its folder.

        The testbench data are `tb_inputs` (else the converter's `input_data_tb`, else random
        values spanning each input type) and the emulator's outputs for them, so the vendor's C
        simulation checks the design bit for bit.
        """
        if tb_inputs is None:
            tb_inputs = self._tb_inputs if self._tb_inputs is not None else self._spanning_inputs(_TESTBENCH_SAMPLES)
        inputs = self._check_inputs(tb_inputs)
        outputs = self._emulate(inputs)
        floats = [quantize.to_float(codes, self.graph[name].result_type)
                  for name, codes in zip(self.graph.outputs, outputs)]
        return write_project(self.project, self.output_dir, inputs, floats)

    def compile(self, self_check: bool = True) -> None:
        """Write the project and build its C simulation with g++.

        Then, unless `self_check` is False, random inputs spanning each input type go through the
        C simulation and the emulator; any difference is an error naming the first layer (in
        graph order) whose outputs differ and the first differing element.
        """
        steps = ("write", "g++", "self-check") if self_check else ("write", "g++")
        for step in progress(steps, description=f"compile {self.project.project_name}"):
            if step == "write":
                self.write()
            elif step == "g++":
                path = build_library(self.output_dir, self.project.project_name)
                nodes = [None if node.VIEW else (node.size, node.result_type) for node in self.graph]
                self._library = CSimLibrary(
                    path, [node.size for node in self.graph.inputs],
                    [(self.graph[name].size, self.graph[name].result_type) for name in self.graph.outputs], nodes)
            else:
                self._self_check(self._spanning_inputs(_SELF_CHECK_SAMPLES, seed=1))

    def _self_check(self, inputs: list[np.ndarray]) -> None:
        _, csim = self._codes(inputs, "csim", trace=True)
        _, emulated = self._codes(inputs, "emulator", trace=True)
        for node in self.graph:
            differ = np.asarray(csim[node.name] != emulated[node.name]).reshape(len(inputs[0]), -1)
            if differ.any():
                sample, element = (int(i) for i in np.argwhere(differ)[0])
                c = csim[node.name].reshape(len(differ), -1)[sample, element]
                e = emulated[node.name].reshape(len(differ), -1)[sample, element]
                t = node.result_type
                raise NnhlsError(
                    f"self-check failed: layer {node.name!r} ({node.op}) gives different outputs in the C "
                    f"simulation and the emulator, although every layer before it agrees: sample {sample}, "
                    f"element {element}: C simulation {float(quantize.to_float(c, t))} (code {c}), emulator "
                    f"{float(quantize.to_float(e, t))} (code {e}), type {t}. The written project would not "
                    "compute what nnhls promises; please report this with the model")

    # running ---------------------------------------------------------------------------

    def predict(self, X, engine: str = "emulator"):
        """Outputs for a batch `X` (an array, or a list of arrays for several inputs), as floats.

        engine: 'emulator' (numpy, the specification; needs no compiler) or 'csim' (the compiled
        C simulation; call `compile()` first). Both give the same bits.
        """
        outputs, _ = self._run(X, engine, trace=False)
        return outputs[0] if len(outputs) == 1 else outputs

    def trace(self, X, engine: str = "emulator"):
        """(outputs, {layer name: that layer's output as floats}) for a batch `X`."""
        outputs, per_layer = self._run(X, engine, trace=True)
        return (outputs[0] if len(outputs) == 1 else outputs), per_layer

    def overflow_report(self, X) -> "OverflowReport":
        """How many values wrapped or saturated at each quantization point of each layer, for `X`."""
        return self.predict_with_overflows(X)[1]

    def predict_with_overflows(self, X):
        """(predict(X), overflow_report(X)) from one run of the emulator."""
        from nnhls.compare import OverflowReport

        rows = []
        codes = emulate.run(self.graph, self._named(self._check_inputs(X)), overflows=rows)
        outputs = [self._floats(name, codes[name]) for name in self.graph.outputs]
        report = OverflowReport((*row, self.graph[row[0]].clipped_by_framework(row[1], row[2])) for row in rows)
        return (outputs[0] if len(outputs) == 1 else outputs), report

    def _run(self, X, engine: str, trace: bool):
        inputs = self._check_inputs(X)
        single = not isinstance(X, (list, tuple)) and np.asarray(X).ndim == len(self.graph.inputs[0].shape)
        codes, per_node = self._codes(inputs, engine, trace)
        outputs = [self._floats(name, c) for name, c in zip(self.graph.outputs, codes)]
        per_layer = {name: self._floats(name, c) for name, c in per_node.items()} if trace else None
        if single:
            outputs = [o[0] for o in outputs]
            per_layer = per_layer and {name: value[0] for name, value in per_layer.items()}
        return outputs, per_layer

    def _codes(self, inputs: list[np.ndarray], engine: str, trace: bool):
        """Output codes, and with `trace` the codes of every node, from one engine."""
        if engine == "emulator":
            values = emulate.run(self.graph, self._named(inputs), keep_all=trace, show_progress=True)
            per_node = {node.name: values[node.name] for node in self.graph} if trace else None
            return [values[name] for name in self.graph.outputs], per_node
        if engine == "csim":
            if self._library is None:
                raise NnhlsError("predict(engine='csim') needs the C simulation: call compile() first")
            starts = range(0, len(inputs[0]), _CSIM_CHUNK)
            parts = [self._library.run([x[start:start + _CSIM_CHUNK] for x in inputs], trace)
                     for start in progress(starts, description="C simulation")]
            if len(parts) == 1:
                codes, traced = parts[0]
            else:  # a batch of several chunks, put back together
                codes = [np.concatenate(output) for output in zip(*(part[0] for part in parts))]
                traced = [None if node[0] is None else np.concatenate(node)
                          for node in zip(*(part[1] for part in parts))] if trace else None
            return codes, (self._csim_trace(traced) if trace else None)
        raise NnhlsError(f"engine {engine!r} is not valid; use 'emulator' or 'csim'")

    def _named(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        return {node.name: x for node, x in zip(self.graph.inputs, inputs)}

    def _csim_trace(self, traced) -> dict:
        per_node = {}
        for node, codes in zip(self.graph, traced):
            if node.VIEW:  # moves no value, so the C simulation records nothing for it
                codes = per_node[node.inputs[0]]
            per_node[node.name] = codes.reshape(len(codes), *node.shape)
        return per_node

    def _floats(self, name: str, codes: np.ndarray) -> np.ndarray:
        node = self.graph[name]
        return quantize.to_float(codes, node.result_type).reshape(len(codes), *node.shape)

    def _emulate(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return self._codes(inputs, "emulator", trace=False)[0]

    def _check_inputs(self, X) -> list[np.ndarray]:
        """The inputs as float arrays of shape (batch, *input shape), rounded first to the
        framework's input dtype (float32 for Keras) as the framework rounds them, and kept in it;
        float64 otherwise; or a clear error."""
        nodes = self.graph.inputs
        arrays = list(X) if isinstance(X, (list, tuple)) else [X]
        if len(arrays) != len(nodes):
            raise NnhlsError(f"the model has {len(nodes)} inputs ({', '.join(n.name for n in nodes)}), "
                             f"but {len(arrays)} arrays were given")
        checked = []
        for node, array in zip(nodes, arrays):
            array = np.asarray(array)
            if array.dtype.kind not in "biuf":
                raise NnhlsError(f"input {node.name!r} must be numeric, got an array of dtype {array.dtype}")
            if array.shape == tuple(node.shape):
                array = array[None]
            if array.shape[1:] != tuple(node.shape):
                raise NnhlsError(f"input {node.name!r} expects shape (batch, {', '.join(map(str, node.shape))}), "
                                 f"got {array.shape}")
            if node.dtype is not None:  # the framework rounds its inputs to this type first
                array = array.astype(node.dtype, copy=False)
            if array.dtype not in (np.float32, np.float64):
                array = array.astype(np.float64)
            low, high = (array.min(), array.max()) if array.size else (0.0, 0.0)  # NaN comes through both
            if not (np.isfinite(low) and np.isfinite(high)):
                bad = array[~np.isfinite(array)][0]
                raise NnhlsError(f"input {node.name!r} holds {bad}, which has no fixed-point code; give finite "
                                 "numbers (a fixed-point design saturates or wraps what is too large for its type)")
            checked.append(array)
        batches = {len(a) for a in checked}
        if len(batches) > 1:
            raise NnhlsError(f"all inputs need the same batch size, got {sorted(batches)}")
        return checked

    def _spanning_inputs(self, n: int, seed: int = 0) -> list[np.ndarray]:
        """Random values of each input type, its extremes included (for an input that embeddings
        read, the values whose indices lie within every one of their tables)."""
        rng = np.random.default_rng(seed)
        inputs = []
        for node in self.graph.inputs:
            t = node.result_type
            low, high = spanned_codes(self.graph, node)
            codes = rng.integers(low, high, size=(n, *node.shape), endpoint=True)
            codes.reshape(n, -1)[:2] = [[low], [high]]
            inputs.append(quantize.to_float(codes, t))
        return inputs

    @property
    def fifo_depths(self) -> dict[str, int]:
        """io_stream: the depth of every stream between the design's stages, by stream name, as the
        written pragmas give them: the least that cannot deadlock, computed from each stage's
        pattern of reads and writes (docs/ops.md). Empty for io_parallel."""
        if self._fifo_depths is None:
            self._fifo_depths = fifo_depths(self.project)
        return dict(self._fifo_depths)

    def simulate_dataflow(self, X=None, fifo_depths: dict[str, int] | None = None):
        """Run the io_stream design's testbench with every dataflow stage in its own thread and
        every stream bounded by its depth (`fifo_depths` overrides some, by name), as the
        hardware runs it. Returns a DataflowResult: `ok`, or `deadlock` with a report of which
        streams were full and which empty when nothing could move. `X` (else the testbench's
        data) is written as the testbench's input first."""
        from nnhls.csim import simulate_dataflow

        if self.io_type != "io_stream":
            raise NnhlsError("simulate_dataflow() checks the FIFOs of an io_stream design; this one is "
                             f"{self.io_type}: convert with io_type='io_stream'")
        unknown = sorted(set(fifo_depths or {}) - set(self.fifo_depths))
        if unknown:
            raise NnhlsError(f"fifo_depths names streams the design does not have: {', '.join(unknown)}; "
                             f"its streams: {', '.join(sorted(self.fifo_depths))}")
        if X is not None or not (self.output_dir / "tb_data").exists():
            self.write(X)
        return simulate_dataflow(self.output_dir, self.project.project_name, fifo_depths)

    def estimate(self, show: bool = True):
        """What the design would cost, from nnhls's documented formulas (docs/estimate.md), without
        any vendor tool: per layer and in total, multipliers, initiation interval and latency in
        clock cycles, weight storage bits and block RAMs. Printed unless `show` is False."""
        from nnhls.estimate import estimate

        result = estimate(self)
        if show:
            print(result)
        return result

    # vendor tools ----------------------------------------------------------------------

    def build(self, reset: bool = False, csim: bool = True, synth: bool = True, cosim: bool = False,
              export: bool = False, vsynth: bool = False, echo: bool = True) -> dict:
        """Run the backend's HLS tool on the written project (written first if it is not there).

        The tool is the executable named by the backend's environment variable (NNHLS_VIVADO_HLS,
        NNHLS_VITIS_HLS), else `vivado_hls`, or `vitis_hls` / `vitis-run`, on PATH; without it this
        is an error that says what was searched. The tool's output is echoed (unless `echo` is
        False) and kept in nnhls_build.log. Returns the synthesis and co-simulation reports as a
        dictionary (see nnhls.report), empty when neither step ran.
        """
        from nnhls import report
        from nnhls.hls.tool import find_tool, run_build

        executable = find_tool(self.project.backend)  # a missing tool is reported before anything is written
        if not (self.output_dir / "build_prj.tcl").exists():
            self.write()
        steps = dict(reset=reset, csim=csim, synth=synth, cosim=cosim, export=export, vsynth=vsynth)
        run_build(self.output_dir, steps, self.project.backend, echo=sys.stdout if echo else None,
                  executable=executable)
        return report.read(self.output_dir) if synth or cosim else {}
