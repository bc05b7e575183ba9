"""The HLS project writer shared by every backend; backends differ only by the data in `Backend`.

The writer reads the lowered IR and never changes it. It emits one small piece of C++ per op
kind (a configuration struct and a call), the constants as exact integer codes, the top function
for the chosen io type, a testbench, a C-simulation bridge and the backend's build script. Files
go to a temporary folder first and replace the output folder's nnhls-written files only on success.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.hls import AP_TYPES_DIR, INCLUDE_DIR, fifo, layout
from nnhls.ir import Graph, Node, Registry, Weights, dot_type, softsign_types, table_low_type, union_type
from nnhls.types import FixedType, add_type, mul_type, sub_type

__all__ = ["BACKENDS", "EMITTERS", "IO_TYPES", "STREAM_PATTERNS", "Backend", "Project", "fifo_depths", "get_backend",
           "n_packets", "packet_size", "top_pragma", "value_of", "write_project"]

IO_TYPES = ("io_parallel", "io_stream")
MANIFEST = "nnhls_manifest.json"


@dataclass(frozen=True)
class Backend:
    """Everything that differs between HLS tools, in one place."""

    name: str
    executables: tuple[str, ...]
    environment_variable: str
    cflags: str
    open_solution: str
    interface: str
    stream_port_extra: str
    pragma_macros: str


def get_backend(name: str) -> Backend:
    from nnhls.hls.vitis import VITIS
    from nnhls.hls.vivado import VIVADO

    backends = {backend.name.lower(): backend for backend in (VIVADO, VITIS)}
    try:
        return backends[str(name).lower()]
    except KeyError:
        raise NnhlsError(f"backend {name!r} is not supported; supported backends: Vivado, Vitis") from None


BACKENDS = ("Vivado", "Vitis")


@dataclass
class Project:
    """What the writer needs besides the graph."""

    graph: Graph
    backend: Backend
    io_type: str
    project_name: str
    part: str
    clock_period: float
    clock_uncertainty: str = "12.5%"


def value_of(graph: Graph, name: str) -> str:
    """The node whose output holds `name`'s values (a view moves none: it holds its input's)."""
    while graph[name].VIEW:
        name = graph[name].inputs[0]
    return name


def packet_size(graph: Graph, name: str) -> int:
    """Values per io_stream transfer: a pixel's channels for an image or a signal, else the whole vector."""
    node = graph[value_of(graph, name)]
    return node.shape[-1] if len(node.shape) > 1 else node.size


def n_packets(graph: Graph, name: str) -> int:
    return graph[name].size // packet_size(graph, name)


def top_pragma(graph: Graph, io_type: str) -> str:
    """DATAFLOW or PIPELINE for the top function. A pipelined top unrolls every loop inside it,
    which would undo the Resource strategy and compute every output pixel of an image at once."""
    layers = [node for node in graph if node.op != "input" and not node.VIEW]
    resource = any(node.strategy == "Resource" for node in layers)
    windows = any(node.op in ("conv", "pool", "zero_pad") for node in layers)
    return "DATAFLOW" if io_type == "io_stream" or resource or windows else "PIPELINE"


def c_name(name: str) -> str:
    """A C identifier for a layer name."""
    text = re.sub(r"\W", "_", name)
    return text if re.match(r"[A-Za-z_]", text) else f"n_{text}"


def cpp_type(t: FixedType) -> str:
    """The full C++ spelling, with every template argument, so no default is left implicit."""
    if t.fractional == 0 and t.rounding == "TRN" and t.overflow == "WRAP" and not t.sat_bits:
        return f"ap_{'' if t.signed else 'u'}int<{t.width}>"
    return (f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow},"
            f"{t.sat_bits}>")


def code_literals(codes: np.ndarray, t: FixedType) -> list[str]:
    """C++ initializers of codes as `nnhls::rom<T>::word`s (nnhls/common.h) hold them: integer
    literals up to 64 bits, else braced 64-bit words of the two's-complement code, least
    significant first. Integers are exact at any width; no compiler rounds them."""
    flat = [int(c) for c in np.asarray(codes).reshape(-1)]
    if t.width > 64:
        n_words = -(-t.width // 64)
        mask = (1 << 64) - 1
        return ["{{" + ", ".join(f"0x{(c >> (64 * k)) & mask:016x}ULL" for k in range(n_words)) + "}}"
                for c in flat]
    return [_integer_literal(c) for c in flat]


def _integer_literal(code: int) -> str:
    # Literals beyond 32 bits say they are 64-bit; -2**63 has no literal of its own.
    if code == -(1 << 63):
        return "(-9223372036854775807LL - 1)"
    if code >= 1 << 63:
        return f"{code}ULL"
    return f"{code}LL" if abs(code) >= 1 << 31 else str(code)


def words(t: FixedType) -> int:
    """64-bit words a code travels in between the C simulation and Python."""
    return 1 if t.width <= 64 else 2


class _Writer:
    """Emits the project's text. One `_op_*` method per op kind."""

    def __init__(self, project: Project):
        self.project = project
        self.graph = project.graph
        self.stream = project.io_type == "io_stream"
        self.index = {node.name: k for k, node in enumerate(self.graph)}
        # Flatten changes no value: its output is its input's variable.
        self.variable: dict[str, str] = {}
        self.type_name: dict[str, str] = {}
        for node in self.graph:
            k = self.index[node.name]
            if node.VIEW:
                source = node.inputs[0]
                self.variable[node.name] = self.variable[source]
                self.type_name[node.name] = self.type_name[source]
            else:
                self.variable[node.name] = c_name(node.name) if node.op == "input" else f"layer{k}_out"
                self.type_name[node.name] = f"layer{k}_t"
        self._plan_reads()
        self.weight_files: dict[str, str] = {}
        self.depths: dict[str, int] = {}

    def value_of(self, name: str) -> str:
        return value_of(self.graph, name)

    def _plan_reads(self) -> None:
        """Which variable each read of a value reads. A read is (reader, which of its inputs), so
        a layer reading one value twice (x + x) reads it twice. An array can be read many times; a
        stream only once, so in io_stream a value with several reads is copied into one stream
        each (`clone_stream`), the output port being one of them. An output port is written,
        never read, so in io_parallel an output that layers read too is copied into its port."""
        self.readers: dict[str, list[tuple[str, int]]] = {node.name: [] for node in self.graph}
        for node in self.graph:
            if not node.VIEW:
                for position, source in enumerate(node.inputs):
                    self.readers[self.value_of(source)].append((node.name, position))
        for o, name in enumerate(self.graph.outputs):
            self.readers[self.value_of(name)].append((f"output:{name}", o))
        self.read_from: dict[tuple[str, int], str] = {}
        for name, readers in self.readers.items():
            var = self.variable[name]
            for i, reader in enumerate(readers):
                copied = len(readers) > 1 and (self.stream or reader[0].startswith("output:"))
                self.read_from[reader] = f"{var}_copy{i}" if copied else var

    # names -------------------------------------------------------------------------------

    def packet(self, name: str) -> str:
        return self.type_name[name].replace("_t", "_packet_t")

    def packet_size(self, name: str) -> int:
        return packet_size(self.graph, name)

    def n_packets(self, name: str) -> int:
        return n_packets(self.graph, name)

    def size_macro(self, name: str) -> str:
        return f"N_{self.type_name[name][:-2].upper()}"

    def port_declaration(self, name: str, var: str, is_input: bool) -> str:
        if self.stream:
            return f"hls::stream<{self.packet(name)}>& {var}"
        const = "const " if is_input else ""
        return f"{const}{self.type_name[name]} {var}[{self.size_macro(name)}]"

    # files -------------------------------------------------------------------------------

    def files(self) -> dict[str, str]:
        name = self.project.project_name
        calls, configs = [], []
        for node in self.graph:
            emitted = EMITTERS[node.op](self, node)
            if emitted is not None:
                config, call = emitted
                configs.append(config)
                calls.append((node, call))
        files = {
            "firmware/defines.h": self.defines(),
            "firmware/nnhls_backend.h": self.backend_header(),
            "firmware/parameters.h": self.parameters(configs),
            f"firmware/{name}.h": self.top_header(),
            f"firmware/{name}.cpp": self.top(calls),
            f"{name}_test.cpp": self.testbench(),
            f"{name}_bridge.cpp": self.bridge(),
            "build_prj.tcl": self.build_tcl(),
        }
        files.update(self.weight_files)
        return files

    def defines(self) -> str:
        lines = [self.banner(), "#ifndef NNHLS_DEFINES_H", "#define NNHLS_DEFINES_H", "",
                 '#include "ap_fixed.h"', '#include "ap_int.h"', '#include "hls_stream.h"',
                 '#include "nnhls_backend.h"', '#include "nnhls/common.h"', "", "// Tensor sizes"]
        for node in self.graph:
            if not node.VIEW:
                lines.append(f"#define {self.size_macro(node.name)} {node.size}")
        lines += ["", "// Tensor types"]
        for node in self.graph:
            if node.VIEW:
                continue
            lines.append(f"typedef {cpp_type(node.result_type)} {self.type_name[node.name]};  // {node.name}")
            if self.stream:
                lines.append(f"typedef nnhls::packet<{self.type_name[node.name]}, {self.packet_size(node.name)}> "
                             f"{self.packet(node.name)};")
        lines += ["", "#endif", ""]
        return "\n".join(lines)

    def backend_header(self) -> str:
        return "\n".join([self.banner(), f"// Pragmas spelled for {self.project.backend.name} HLS.",
                          "#ifndef NNHLS_BACKEND_H", "#define NNHLS_BACKEND_H", "",
                          self.project.backend.pragma_macros, "#endif", ""])

    def parameters(self, configs: list[str]) -> str:
        includes = [f'#include "nnhls/{header}.h"' for header in
                    ("activation", "conv", "dense", "lookup", "merge", "pool", "scale_shift", "softmax", "trace")]
        weights = [f'#include "{path[len("firmware/"):]}"' for path in sorted(self.weight_files)]
        return "\n".join([self.banner(), "#ifndef NNHLS_PARAMETERS_H", "#define NNHLS_PARAMETERS_H", "",
                          '#include "defines.h"', *includes, "", *configs, *weights, "", "#endif", ""])

    def top_header(self) -> str:
        name = self.project.project_name
        return "\n".join([self.banner(), f"#ifndef {name.upper()}_H", f"#define {name.upper()}_H", "",
                          '#include "defines.h"', "", f"void {name}({self.top_arguments()});", "",
                          "#endif", ""])

    def ports(self) -> list[tuple[str, str, bool]]:
        """(node name, variable, is an input) of each port of the top function, in order."""
        ports = [(node.name, self.variable[node.name], True) for node in self.graph.inputs]
        return ports + [(name, self.read_from[(f"output:{name}", o)], False) for o, name in enumerate(self.graph.outputs)]

    def top_arguments(self) -> str:
        return ", ".join(self.port_declaration(*port) for port in self.ports())

    def top(self, calls: list[tuple[Node, str]]) -> str:
        backend, name = self.project.backend, self.project.project_name
        body = []
        port_variables = {var for _, var, _ in self.ports()}
        for _, var, _ in self.ports():
            if self.stream:
                body.append(backend.interface.format(mode="axis", port=var))
                if backend.stream_port_extra:
                    body.append(backend.stream_port_extra.format(port=var))
            else:
                body.append(f"#pragma HLS ARRAY_RESHAPE variable={var} complete dim=0")
                body.append(backend.interface.format(mode="ap_vld", port=var))
        body.append(f"#pragma HLS {top_pragma(self.graph, self.project.io_type)}")
        body.append("")
        if self.stream:
            self.depths = self.fifo_depths()
            body.append("NNHLS_DATAFLOW_REGION")
        for node in self.graph.inputs:
            body.append(self.trace(node))
            body += self.copies(node, port_variables)
        for node, call in calls:
            var = self.variable[node.name]
            if var not in port_variables:
                body += self.declaration(node.name, var)
            body.append(self.stage(call))
            body.append(self.trace(node))
            body += self.copies(node, port_variables)
            body.append("")
        if self.stream:
            body.append("NNHLS_DATAFLOW_END")
        text = "\n".join("    " + line if line else "" for line in body).rstrip()
        return (f'{self.banner()}#include "{name}.h"\n#include "parameters.h"\n\n'
                f"void {name}({self.top_arguments()}) {{\n{text}\n}}\n")

    def stage(self, call: str) -> str:
        """A call in the top function; in io_stream one dataflow stage, which the threaded C
        simulation (nnhls/dataflow.h) runs in a thread of its own."""
        return f"NNHLS_STAGE({call[:-1]})" if self.stream else call

    def declaration(self, name: str, var: str) -> list[str]:
        if self.stream:
            depth = self.depths.get(var, 1)
            return [f'hls::stream<{self.packet(name)}> {var}("{var}");', f"#pragma HLS STREAM variable={var} depth={depth}",
                    f"NNHLS_STREAM_DEPTH({var}, {depth})"]
        return [f"{self.type_name[name]} {var}[{self.size_macro(name)}];",
                f"#pragma HLS ARRAY_PARTITION variable={var} complete dim=0"]

    def clone_chain(self, name: str) -> list[tuple[str, str, str]]:
        """io_stream: (source, first, second) of each clone_stream that copies value `name`'s
        stream into one stream per read, two at a time."""
        readers = self.readers[name]
        if len(readers) < 2:
            return []
        var = self.variable[name]
        targets = [self.read_from[reader] for reader in readers]
        chain, source = [], var
        for i, target in enumerate(targets[:-1]):
            rest = targets[-1] if i == len(targets) - 2 else f"{var}_rest{i + 1}"
            chain.append((source, target, rest))
            source = rest
        return chain

    def copies(self, node: Node, port_variables: set[str]) -> list[str]:
        """io_stream: the node's stream copied into one stream per read, two at a time.
        io_parallel: the node's array copied into the output ports among its readers."""
        readers = self.readers[node.name]
        var = self.variable[node.name]
        if len(readers) < 2:
            return []
        if not self.stream:
            ports = [self.read_from[reader] for reader in readers if reader[0].startswith("output:")]
            return [f"for (unsigned i = 0; i < {self.size_macro(node.name)}; i++) {port}[i] = {var}[i];"
                    for port in ports]
        lines = []
        for target in [self.read_from[reader] for reader in readers]:
            if target not in port_variables:
                lines += self.declaration(node.name, target)
        n = self.n_packets(node.name)
        for source, first, second in self.clone_chain(node.name):
            if second not in port_variables and second.startswith(f"{var}_rest"):
                lines += self.declaration(node.name, second)
            lines.append(self.stage(f"nnhls::clone_stream<{n}>({source}, {first}, {second});"))
        return lines

    def fifo_depths(self) -> dict[str, int]:
        """io_stream: the least depth of every stream between stages that cannot deadlock, from
        each stage's pattern of reads and writes (hls/fifo.py)."""
        stages, packets = [], {}
        for node in self.graph.inputs:
            packets[self.variable[node.name]] = self.n_packets(node.name)
        for node in self.graph:
            if node.VIEW:
                continue
            if node.op != "input":
                pattern, params = STREAM_PATTERNS[node.op](self, node)
                inputs = tuple(self.read_from[(node.name, position)] for position in range(len(node.inputs)))
                stages.append(fifo.Stage(node.name, pattern, inputs, (self.variable[node.name],), params))
                packets[self.variable[node.name]] = self.n_packets(node.name)
            n = self.n_packets(node.name)
            for source, first, second in self.clone_chain(node.name):
                stages.append(fifo.Stage(f"clone of {node.name}", "clone", (source,), (first, second), {"n": n}))
                packets[first] = packets[second] = n
        ports = {var for _, var, _ in self.ports()}
        inputs = {self.variable[node.name] for node in self.graph.inputs}
        return fifo.plan_depths(stages, packets, inputs, ports - inputs)

    def trace(self, node: Node) -> str:
        k, var = self.index[node.name], self.variable[node.name]
        if self.stream:
            return f"NNHLS_TRACE_STREAM({k}, {var}, {self.n_packets(node.name)})"
        return f"NNHLS_TRACE_ARRAY({k}, {var}, {self.size_macro(node.name)})"

    # one method per op kind: returns (configuration struct, call in the top function) ---------

    def _sources(self, node: Node) -> list[tuple[str, str]]:
        """(variable, C++ type) of each input the node reads, in order."""
        return [(self.read_from[(node.name, position)], self.packet(source) if self.stream else self.type_name[source])
                for position, source in enumerate(node.inputs)]

    def array(self, node: Node, name: str, alias: str, t: FixedType, codes: np.ndarray, title: str) -> str:
        """Write the constant array `<name><k>` of the codes of values of the node's configuration
        type `alias`; returns the array's name."""
        k = self.index[node.name]
        self.weight_array(f"{name}{k}", f"{alias[:-2]}{k}_t", t, codes, f"{node.name}: {title}")
        return f"{name}{k}"

    def config(self, node: Node, description: str, constants: dict, types: dict, before: tuple = ()) -> str:
        """The node's `config<k>` struct. `constants` are bools, ints or C++ enumerators (strings);
        `types` maps each member type to a FixedType (also typedef'd outside the struct as
        `<name><k>_t`, for arrays) or to the name of a C++ type."""
        k = self.index[node.name]
        def outer(alias):
            return f"{alias[:-2]}{k}_t"
        lines = [f"// {node.name} ({node.framework_class}): {description}"]
        lines += [f"typedef {cpp_type(t)} {outer(alias)};" for alias, t in types.items() if isinstance(t, FixedType)]
        lines += [*before, f"struct config{k} {{"]
        for name, value in constants.items():
            if isinstance(value, bool):
                lines.append(f"    static const bool {name} = {str(value).lower()};")
            else:
                lines.append(f"    static const {'int' if isinstance(value, int) and value < 0 else 'unsigned'} "
                             f"{name} = {value};")
        lines += [f"    typedef {outer(alias) if isinstance(t, FixedType) else t} {alias};" for alias, t in types.items()]
        return "\n".join(lines + ["};", ""])

    def _op_dense(self, node: Node) -> tuple[str, str]:
        constants, types, arrays = self._dense_parts(node)
        config = self.config(
            node, f"Dense {node.n_in} -> {node.n_out}, {node.strategy}, reuse factor {node.reuse_factor}",
            constants, types)
        return config, self.call(node, "dense", arrays)

    def _op_conv(self, node: Node) -> tuple[str, str]:
        constants, types, arrays = self._dense_parts(node)
        w = node.window
        constants.update(self._geometry(w), n_pixels=w.n_pixels, parallelization_factor=node.parallelization_factor)
        kernel = f"{w.kernel_h}x{w.kernel_w}" if len(node.in_shape) == 3 else f"{w.kernel_w}"
        config = self.config(
            node, f"Conv {kernel}, {w.channels} -> {node.n_out} channels, stride {w.stride_h}x{w.stride_w}, "
                  f"{node.strategy}, reuse factor {node.reuse_factor}, parallelization factor "
                  f"{node.parallelization_factor}", constants, types)
        return config, self.call(node, "conv", arrays)

    @staticmethod
    def _geometry(w) -> dict:
        return {"in_h": w.in_h, "in_w": w.in_w, "n_chan": w.channels, "kernel_h": w.kernel_h, "kernel_w": w.kernel_w,
                "stride_h": w.stride_h, "stride_w": w.stride_w, "pad_top": w.pad_top, "pad_left": w.pad_left,
                "padded_h": w.padded_h, "padded_w": w.padded_w, "out_h": w.out_h, "out_w": w.out_w}

    def _op_pool(self, node: Node) -> tuple[str, str]:
        w, x_type = node.window, self.graph[node.inputs[0]].result_type
        constants = dict(self._geometry(w), n_pixels=w.n_pixels, is_max=node.function == "max")
        types = {"sum_t": cpp_type(node.sum_type(x_type)), "dividend_t": cpp_type(node.dividend_type(x_type, node.result_type)),
                 "count_t": cpp_type(node.count_type())}
        whole = w.n_pixels == 1 and w.kernel_h == w.in_h and w.kernel_w == w.in_w
        config = self.config(node, f"{node.function} pooling {w.kernel_h}x{w.kernel_w}, stride "
                                   f"{w.stride_h}x{w.stride_w}", constants, types)
        # A window covering the whole image needs no line buffer as tall as the image.
        return config, self.call(node, "global_pool" if self.stream and whole else "pool", "")

    def _op_zero_pad(self, node: Node) -> tuple[str, str]:
        config = self.config(node, "zero padding", self._geometry(node.window), {})
        return config, self.call(node, "zero_pad", "")

    def _dense_parts(self, node: Node) -> tuple[dict, dict, str]:
        """A Dense's (or a convolution's) configuration constants and types, and its arrays' names."""
        accum = node.accum_type
        wrap_accum = accum.overflow == "WRAP" and accum.sat_bits == 0
        # Partial sums must not overflow: an exact sum, converted into accum_t once, is the
        # specification. With a plain wrapping accumulator the running sum wraps identically.
        guard = node.n_in.bit_length()
        sum_type = accum if wrap_accum else FixedType(accum.width + guard, accum.integer + guard, accum.signed)
        resource = node.strategy == "Resource"
        if node.op == "conv":
            title = f"kernel, canonical (kernel_h, kernel_w, c_in, c_out) = {node.weight.shape} row-major"
        else:
            title = f"weight, canonical (n_in, n_out) = ({node.n_in}, {node.n_out}) row-major"
        weights = self.array(node, "w", "weight_t", node.weight.type,
                             layout.dense_weights(node.weight_matrix(), node.strategy, node.reuse_factor), title)
        bias = self.array(node, "b", "bias_t", node.bias.type, node.bias.codes, "bias")
        constants = {"n_in": node.n_in, "n_out": node.n_out,
                     "strategy": f"nnhls::{'resource' if resource else 'latency'}",
                     "reuse_factor": node.reuse_factor, "multiplier_limit": node.multipliers,
                     "block_factor": node.block_factor, "rows_per_step": node.rows_per_step}
        types = {"weight_t": node.weight.type, "bias_t": node.bias.type, "accum_t": accum, "sum_t": sum_type}
        return constants, types, f"{weights}, {bias}"

    def _op_activation(self, node: Node) -> tuple[str, str]:
        return self.config(node, node.function, {"n_in": node.size}, {}), self.call(node, node.function, "")

    def _op_scale_shift(self, node: Node) -> tuple[str, str]:
        scale = self.array(node, "s", "scale_t", node.scale.type, node.scale.codes, "scale")
        shift = self.array(node, "t", "shift_t", node.shift.type, node.shift.codes, "shift")
        config = self.config(node, "per-channel scale and shift", {"n_in": node.size, "n_channels": node.shape[-1]},
                             {"scale_t": node.scale.type, "shift_t": node.shift.type})
        return config, self.call(node, "scale_shift", f"{scale}, {shift}")

    def _index_struct(self, name: str, x_type: FixedType, low: int, span_log2: int, size: int) -> str:
        """Types that compute a table index exactly from values of `x_type` (see nnhls/lookup.h)."""
        low_type = table_low_type(low)
        offset_type = sub_type(x_type, low_type)
        scale_type = FixedType(1, size.bit_length() - 1 - span_log2 + 1, signed=False)
        return "\n".join([
            f"struct {name} {{",
            f"    static const int low = {low};",
            f"    static const unsigned size = {size};",
            f"    static const unsigned bits = {size.bit_length() - 1};",
            f"    typedef {cpp_type(low_type)} low_t;",
            f"    typedef {cpp_type(offset_type)} offset_t;",
            f"    typedef {cpp_type(scale_type)} scale_t;",
            f"    typedef {cpp_type(mul_type(offset_type, scale_type))} scaled_t;",
            "};",
        ])

    def _op_lookup(self, node: Node) -> tuple[str, str]:
        k = self.index[node.name]
        x_type = self.graph[node.inputs[0]].result_type
        table = self.array(node, "table", "table_t", node.table.type, node.table.codes,
                           f"{node.function} at the centres of {node.table_size} bins over "
                           f"[{node.low}, {node.low + 2 ** node.span_log2})")
        scale = node.tail_scale or Weights(np.ones(1), type=FixedType(2, 2), codes=np.ones(1, dtype=np.int64))
        scale_array = self.array(node, "scale", "scale_t", scale.type, scale.codes, "scale of the linear tail")
        tail_from = node.tail_from if node.tail_from is not None else 0
        config = self.config(
            node, f"{node.function} from a table",
            {"n_in": node.size, "has_tail": node.tail_from is not None, "tail_from": tail_from,
             "has_scale": node.tail_scale is not None},
            {"tail_t": cpp_type(table_low_type(tail_from)), "table_t": node.table.type, "scale_t": scale.type,
             "index_t": f"index{k}"},
            before=(self._index_struct(f"index{k}", x_type, node.low, node.span_log2, node.table_size),))
        return config, self.call(node, "lookup", f"{table}, {scale_array}")

    def _op_prelu(self, node: Node) -> tuple[str, str]:
        def bound(weights):  # an unused bound still needs an array (never read)
            return weights or Weights(np.zeros(1), type=FixedType(1, 1, False), codes=np.zeros(1, dtype=np.int64))
        arrays = [self.array(node, name, f"{name}_t", weights.type, weights.codes, name.replace("_", " "))
                  for name, weights in (("threshold", node.threshold), ("slope", node.slope),
                                        ("max", bound(node.max_value)), ("min_input", bound(node.min_input)),
                                        ("min_value", bound(node.min_value)))]
        config = self.config(
            node, "ReLU family",
            {"n_in": node.size, "n_channels": node.shape[-1], "n_slopes": node.slope.codes.size,
             "strict": node.strict, "has_max": node.max_value is not None, "has_min": node.min_input is not None},
            {"threshold_t": node.threshold.type, "slope_t": node.slope.type, "max_t": bound(node.max_value).type,
             "min_input_t": bound(node.min_input).type, "min_value_t": bound(node.min_value).type})
        return config, self.call(node, "prelu", ", ".join(arrays))

    def _op_step(self, node: Node) -> tuple[str, str]:
        k = self.index[node.name]
        source = node.inputs[0]
        # A C array needs one element at least; with no reachable threshold it is never read.
        codes = node.threshold_codes if len(node.threshold_codes) else np.zeros(1, dtype=np.int64)
        self.weight_array(f"thresholds{k}", self.type_name[source], self.graph[source].result_type, codes,
                          f"{node.name}: inputs where {node.staircase_of} steps up")
        levels = self.array(node, "levels", "levels_t", node.levels.type, node.levels.codes, "output levels")
        config = self.config(
            node, f"{node.staircase_of} as a staircase",
            {"n_in": node.size, "n_thresholds": len(node.threshold_codes), "first_level": node.first_level,
             "n_levels": len(node.levels.codes)},
            {"levels_t": node.levels.type})
        return config, self.call(node, "step", f"thresholds{k}, {levels}")

    def _op_softsign(self, node: Node) -> tuple[str, str]:
        magnitude, denominator, quotient = softsign_types(self.graph[node.inputs[0]].result_type)
        config = self.config(node, "softsign", {"n_in": node.size},
                             {"abs_t": cpp_type(magnitude), "denominator_t": cpp_type(denominator),
                              "quotient_t": cpp_type(quotient)})
        return config, self.call(node, "softsign", "")

    def _op_hard_sigmoid(self, node: Node) -> tuple[str, str]:
        x_type = self.graph[node.inputs[0]].result_type
        slope = self.array(node, "slope", "slope_t", node.slope.type, node.slope.codes, "slope")
        offset = self.array(node, "offset", "offset_t", node.offset.type, node.offset.codes, "offset")
        config = self.config(
            node, "hard sigmoid", {"n_in": node.size},
            {"slope_t": node.slope.type, "offset_t": node.offset.type,
             "line_t": cpp_type(add_type(mul_type(x_type, node.slope.type), node.offset.type))})
        return config, self.call(node, "hard_sigmoid", f"{slope}, {offset}")

    def _op_softmax(self, node: Node) -> tuple[str, str]:
        k = self.index[node.name]
        x_type = self.graph[node.inputs[0]].result_type
        difference_type = sub_type(x_type, x_type)
        exps = self.array(node, "exp", "exp_t", node.exp_table.type, node.exp_table.codes,
                          f"exp at the centres of {node.table_size} bins over [{node.EXP_LOW}, 0)")
        inverses = self.array(node, "inv", "inv_t", node.inv_table.type, node.inv_table.codes,
                              f"1/x at the centres of {node.table_size} bins over [0, {2 ** node.inv_span_log2})")
        config = self.config(
            node, f"softmax, {node.implementation}",
            {"n_in": node.size, "implementation": f"nnhls::softmax_{node.implementation}"},
            {"exp_t": node.exp_table.type, "inv_t": node.inv_table.type, "diff_t": cpp_type(difference_type),
             "sum_t": cpp_type(node.sum_type), "exp_index": f"exp_index{k}", "inv_index": f"inv_index{k}"},
            before=(self._index_struct(f"exp_index{k}", difference_type, node.EXP_LOW, node.EXP_SPAN_LOG2,
                                       node.table_size),
                    self._index_struct(f"inv_index{k}", node.sum_type, 0, node.inv_span_log2, node.table_size)))
        return config, self.call(node, "softmax", f"{exps}, {inverses}")

    def _op_merge(self, node: Node) -> tuple[str, str]:
        types = [self.graph[name].result_type for name in node.inputs]
        members: dict = {"function": f"nnhls::merge_{node.function}"}
        constants = {"n_in": node.size}
        if node.function in ("maximum", "minimum"):
            members["union_t"] = cpp_type(union_type(types))
        if node.function == "average":
            constants["count"] = node.count
            members.update(dividend_t=cpp_type(node.dividend_type(types)), count_t=cpp_type(node.count_type()))
        description = node.function if node.function != "average" else f"average of {node.count} values"
        return self.config(node, description, constants, members), self.call(node, "merge", "")

    def _op_concatenate(self, node: Node) -> tuple[str, str]:
        shapes = [self.graph[name].shape for name in node.inputs]
        outer, inner = node.blocks(shapes)
        packets = [self.packet_size(name) for name in node.inputs]
        # In io_stream a packet is a pixel (or a whole vector): along the last axis (or of
        # vectors) each output packet joins one packet of each input; along another axis the
        # output passes blocks of whole packets of each input in turn.
        lockstep = len(node.shape) == 1 or node.axis == len(node.shape) - 1
        constants = {"outer": outer, "a_inner": inner[0], "b_inner": inner[1], "lockstep": lockstep,
                     "a_blocks": inner[0] // packets[0], "b_blocks": inner[1] // packets[1]}
        config = self.config(node, f"concatenation along axis {node.axis} of {tuple(shapes[0])} and "
                                   f"{tuple(shapes[1])}", constants, {})
        return config, self.call(node, "concatenate", "")

    def _op_dot(self, node: Node) -> tuple[str, str]:
        types = [self.graph[name].result_type for name in node.inputs]
        config = self.config(node, f"dot product of two vectors of {node.length}", {"n_in": node.length},
                             {"accum_t": cpp_type(dot_type(node, types))})
        return config, self.call(node, "dot", "")

    def call(self, node: Node, kernel: str, weights: str) -> str:
        sources = self._sources(node)
        out_type = self.packet(node.name) if self.stream else self.type_name[node.name]
        suffix = "_stream" if self.stream else ""
        types = ", ".join([t for _, t in sources] + [out_type, f"config{self.index[node.name]}"])
        arguments = ", ".join(filter(None, [var for var, _ in sources] + [self.variable[node.name], weights]))
        return f"nnhls::{kernel}{suffix}<{types}>({arguments});"

    def weight_array(self, variable: str, type_name: str, t: FixedType, codes: np.ndarray, title: str) -> None:
        """A constant array of the integer codes of values of `type_name` (FixedType `t`), which
        the kernels read through nnhls::from_code (nnhls/common.h says why: a `static const`
        integer array needs no start-up code in any C simulation and is a ROM for the HLS tools).
        nnhls's C simulation and the vendor's compile the very same array."""
        def table(items):
            rows = [", ".join(items[i:i + 16]) for i in range(0, len(items), 16)]
            return ",\n    ".join(rows)
        n = np.asarray(codes).size
        self.weight_files[f"firmware/weights/{variable}.h"] = (
            f"{self.banner()}// {title}; {t}, as integer codes (value = code * 2^{-t.fractional})\n"
            f"#ifndef NNHLS_WEIGHTS_{variable.upper()}_H\n#define NNHLS_WEIGHTS_{variable.upper()}_H\n\n"
            f"static const nnhls::rom<{type_name}>::word {variable}[{n}] = {{\n    {table(code_literals(codes, t))}\n}};\n"
            "\n#endif\n")

    # testbench, bridge, tcl ----------------------------------------------------------------

    def io_layout(self):
        inputs = [(node.name, node) for node in self.graph.inputs]
        outputs = [(name, self.graph[name]) for name in self.graph.outputs]
        return inputs, outputs

    def run_sample(self, indent: str, read_input: str, use_output: str) -> list[str]:
        """Statements that fill the inputs with `read_input(input_index, element)`, run the top
        function, and pass each output element to `use_output(output_index, element, value)`."""
        inputs, outputs = self.io_layout()
        lines, arguments = [], []
        for i, (name, node) in enumerate(inputs):
            var, n = f"in{i}", node.size
            if self.stream:
                size = self.packet_size(name)
                lines += [f"hls::stream<{self.packet(name)}> {var};",
                          f"for (unsigned p = 0; p < {n // size}; p++) {{",
                          f"    {self.packet(name)} packet;",
                          f"    for (unsigned c = 0; c < {size}; c++) packet[c] = {read_input(i, f'p * {size} + c')};",
                          f"    {var}.write(packet);", "}"]
            else:
                lines += [f"{self.type_name[name]} {var}[{n}];",
                          f"for (unsigned e = 0; e < {n}; e++) {var}[e] = {read_input(i, 'e')};"]
            arguments.append(var)
        for o, (name, node) in enumerate(outputs):
            var = f"out{o}"
            lines.append(f"hls::stream<{self.packet(name)}> {var};" if self.stream
                         else f"{self.type_name[name]} {var}[{node.size}];")
            arguments.append(var)
        lines.append(f"{self.project.project_name}({', '.join(arguments)});")
        for o, (name, node) in enumerate(outputs):
            if self.stream:
                size = self.packet_size(name)
                lines += [f"for (unsigned p = 0; p < {node.size // size}; p++) {{",
                          f"    {self.packet(name)} result = out{o}.read();",
                          f"    for (unsigned c = 0; c < {size}; c++) {{ "
                          f"{use_output(o, f'(p * {size} + c)', 'result[c]')} }}", "}"]
            else:
                lines.append(f"for (unsigned e = 0; e < {node.size}; e++) {{ {use_output(o, 'e', f'out{o}[e]')} }}")
        return [indent + line for line in lines]

    def testbench(self) -> str:
        inputs, outputs = self.io_layout()
        offsets, total = _offsets(node.size for _, node in inputs)
        out_offsets, out_total = _offsets(node.size for _, node in outputs)
        sample = self.run_sample(
            "        ", lambda i, e: f"features[{offsets[i]} + {e}]",
            lambda o, e, v: (f"double y = {v}.to_double(); std::fprintf(log, \"%.17g \", y); "
                             f"if (have_expected && y != expected[{out_offsets[o]} + {e}]) mismatches++;"))
        return "\n".join([
            self.banner() + "// Runs tb_data/tb_input_features.dat through the design and compares every",
            "// output with tb_data/tb_output_predictions.dat exactly (nnhls writes the emulator's values there).",
            "#include <cstdio>", "#include <fstream>", "#include <sstream>", "#include <string>", "#include <vector>",
            "", f'#include "firmware/{self.project.project_name}.h"', "",
            "static std::vector<double> numbers(const std::string& line) {",
            "    std::istringstream in(line);", "    std::vector<double> values;", "    double v;",
            "    while (in >> v) values.push_back(v);", "    return values;", "}", "",
            "int main() {",
            '    std::ifstream features_file("tb_data/tb_input_features.dat");',
            '    std::ifstream predictions_file("tb_data/tb_output_predictions.dat");',
            '    FILE* log = std::fopen("tb_data/csim_results.log", "w");',
            "    if (!features_file || !log) {",
            '        std::fprintf(stderr, "cannot open tb_data/tb_input_features.dat or the log\\n");',
            "        return 2;", "    }",
            "    std::string line;", "    int samples = 0, mismatches = 0;",
            "    while (std::getline(features_file, line)) {",
            "        std::vector<double> features = numbers(line);",
            f"        if (features.size() != {total}) continue;",
            "        std::string expected_line;",
            "        bool have_expected = bool(std::getline(predictions_file, expected_line));",
            "        std::vector<double> expected = numbers(expected_line);",
            f"        have_expected = have_expected && expected.size() == {out_total};",
            *sample,
            '        std::fprintf(log, "\\n");', "        samples++;", "    }", "    std::fclose(log);",
            '    std::printf("%d samples, %d outputs differ from tb_output_predictions.dat\\n", samples, mismatches);',
            "    return mismatches ? 1 : 0;", "}", "",
        ])

    def bridge(self) -> str:
        inputs, outputs = self.io_layout()
        sample = self.run_sample(
            "        ", lambda i, e: f"inputs[{i}][s * {inputs[i][1].size} + {e}]",
            lambda o, e, v: (f"nnhls::put_code({v}, outputs[{o}] + (s * {outputs[o][1].size} + {e}) * "
                             f"{words(outputs[o][1].result_type)});"))
        return "\n".join([
            self.banner() + "// C simulation entry points for nnhls (Python, ctypes): a whole batch per call.",
            "#ifndef NNHLS_TRACE", "#define NNHLS_TRACE", "#endif",
            f'#include "firmware/{self.project.project_name}.h"',
            '#include "firmware/nnhls/trace.h"', "",
            "namespace nnhls {", f"long long* trace_buffers[{len(self.graph)}];", "long long trace_sample = 0;",
            "}", "", 'extern "C" {', "",
            "// inputs[i]: sample-major doubles of input i; outputs[o]: codes of output o (1 or 2 words each);",
            "// traces[k]: codes of node k, or null.",
            "void nnhls_predict(const double* const* inputs, long long n, long long* const* outputs,",
            "                   long long* const* traces) {",
            f"    for (int k = 0; k < {len(self.graph)}; k++) nnhls::trace_buffers[k] = traces ? traces[k] : 0;",
            "    for (long long s = 0; s < n; s++) {", "        nnhls::trace_sample = s;", *sample, "    }", "}", "",
            "}", "",
        ])

    def build_tcl(self) -> str:
        p, backend = self.project, self.project.backend
        name = p.project_name
        return "\n".join([
            f"# {backend.name} HLS build script written by nnhls.",
            f"# Run: {backend.executables[0]} -f build_prj.tcl \"csim=1 synth=1 cosim=0 export=0 vsynth=0\"",
            "array set opt {reset 0 csim 1 synth 1 cosim 0 export 0 vsynth 0}",
            "# Options come as arguments (vivado_hls/vitis_hls -f) or in NNHLS_BUILD_OPTIONS (vitis-run).",
            "set arguments $::argv",
            "if {[info exists ::env(NNHLS_BUILD_OPTIONS)]} { lappend arguments $::env(NNHLS_BUILD_OPTIONS) }",
            "foreach arg $arguments {",
            "    foreach pair [split $arg] {",
            "        set kv [split $pair =]",
            "        if {[llength $kv] == 2 && [info exists opt([lindex $kv 0])]} { set opt([lindex $kv 0]) [lindex $kv 1] }",
            "    }",
            "}",
            "",
            f"set project_name {name}",
            "if {$opt(reset)} { open_project -reset ${project_name}_prj } else { open_project ${project_name}_prj }",
            "set_top ${project_name}",
            f'add_files firmware/${{project_name}}.cpp -cflags "{backend.cflags} -Ifirmware"',
            f'add_files -tb ${{project_name}}_test.cpp -cflags "{backend.cflags} -Ifirmware"',
            "add_files -tb tb_data",
            backend.open_solution,
            f"set_part {{{p.part}}}",
            f"create_clock -period {p.clock_period} -name default",
            f"set_clock_uncertainty {p.clock_uncertainty}",
            "",
            "if {$opt(csim)} { csim_design }",
            "if {$opt(synth)} { csynth_design }",
            "if {$opt(cosim)} { cosim_design }",
            "if {$opt(export)} { export_design -format ip_catalog }",
            "if {$opt(vsynth)} { export_design -flow syn -rtl verilog -format ip_catalog }",
            "exit",
            "",
        ])

    def banner(self) -> str:
        return f"// Written by nnhls for {self.project.project_name} ({self.project.backend.name}, {self.project.io_type}).\n"


def _no_call(writer: _Writer, node: Node) -> None:
    return None  # an input is a port; a view is its input's variable


# op -> (writer, node) -> (configuration struct, call in the top function), or None for no call.
EMITTERS = Registry("the HLS writer (hls/backend.py EMITTERS)", {
    "input": _no_call, "flatten": _no_call,
    **{op: getattr(_Writer, f"_op_{op}") for op in
       ("dense", "conv", "pool", "zero_pad", "activation", "scale_shift", "lookup", "prelu", "step", "softsign",
        "hard_sigmoid", "softmax", "merge", "concatenate", "dot")},
})


def _elementwise_pattern(writer: _Writer, node: Node) -> tuple[str, dict]:
    return "elementwise", {"n": writer.n_packets(node.name)}


def _whole_pattern(writer: _Writer, node: Node) -> tuple[str, dict]:
    return "whole", {"n_in": writer.n_packets(node.inputs[0]), "n_out": writer.n_packets(node.name)}


def _window_params(w) -> dict:
    return {"in_h": w.in_h, "in_w": w.in_w, "kernel_h": w.kernel_h, "kernel_w": w.kernel_w, "stride_h": w.stride_h,
            "stride_w": w.stride_w, "pad_top": w.pad_top, "pad_bottom": w.pad_bottom, "pad_left": w.pad_left,
            "pad_right": w.pad_right}


def _windows_pattern(writer: _Writer, node: Node) -> tuple[str, dict]:
    w = node.window
    if node.op == "pool" and w.n_pixels == 1 and w.kernel_h == w.in_h and w.kernel_w == w.in_w:
        return "global_pool", {"n_in": writer.n_packets(node.inputs[0])}
    return "windows", _window_params(w)


def _concatenate_pattern(writer: _Writer, node: Node) -> tuple[str, dict]:
    outer, inner = node.blocks([writer.graph[name].shape for name in node.inputs])
    if len(node.shape) == 1 or node.axis == len(node.shape) - 1:
        return "lockstep", {"n": writer.n_packets(node.name)}
    blocks = tuple(size // writer.packet_size(name) for size, name in zip(inner, node.inputs))
    return "concatenate", {"outer": outer, "blocks": blocks}


# op -> (writer, node) -> (pattern, parameters) of its io_stream kernel's reads and writes, for
# the FIFO depths (hls/fifo.py); each mirrors the kernel's loops in include/nnhls.
STREAM_PATTERNS = Registry("the io_stream FIFO planner (hls/backend.py STREAM_PATTERNS)", {
    **{op: _elementwise_pattern for op in
       ("activation", "scale_shift", "lookup", "prelu", "step", "softsign", "hard_sigmoid")},
    "dense": _whole_pattern, "softmax": _whole_pattern,
    "conv": _windows_pattern, "pool": _windows_pattern,
    "zero_pad": lambda writer, node: ("zero_pad", _window_params(node.window)),
    "merge": lambda writer, node: ("lockstep", {"n": writer.n_packets(node.name)}),
    "dot": lambda writer, node: ("lockstep", {"n": 1}),
    "concatenate": _concatenate_pattern,
    "input": None, "flatten": None,  # a port; a view (no stage)
})


def _offsets(sizes) -> tuple[list[int], int]:
    """Where each of several arrays starts when they are laid side by side, and the total size."""
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += size
    return offsets, total


def fifo_depths(project: Project) -> dict[str, int]:
    """The depth of every stream between the stages of an io_stream design (empty for
    io_parallel), as the written pragmas give them."""
    return _Writer(project).fifo_depths() if project.io_type == "io_stream" else {}


def write_project(project: Project, output_dir: str | os.PathLike, tb_inputs: list[np.ndarray],
                  tb_outputs: list[np.ndarray]) -> Path:
    """Write the complete project into `output_dir`.

    Everything is written into a temporary folder first; then nnhls's files replace the ones an
    earlier write left (listed in the manifest), and files nnhls did not write stay untouched.
    """
    files = _Writer(project).files()
    files["tb_data/tb_input_features.dat"] = _table(tb_inputs)
    files["tb_data/tb_output_predictions.dat"] = _table(tb_outputs)
    output = Path(output_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".nnhls_", dir=output.parent) as staging:
        staging_path = Path(staging)
        for relative, text in files.items():
            path = staging_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for source_dir, target in ((INCLUDE_DIR / "nnhls", "firmware/nnhls"), (AP_TYPES_DIR, "ap_types")):
            for header in sorted(source_dir.glob("*.h")):
                relative = f"{target}/{header.name}"
                (staging_path / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(header, staging_path / relative)
                files[relative] = ""
        written = sorted(files) + [MANIFEST]
        (staging_path / MANIFEST).write_text(json.dumps(
            {"written_by": "nnhls", "backend": project.backend.name, "project_name": project.project_name,
             "io_type": project.io_type, "files": written}, indent=1))
        _replace(staging_path, output, written)
    return output


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
