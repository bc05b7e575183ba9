"""Names and plans of an HLS project, decided before any of its text is written.

Every value gets a variable, a C++ type name and a size macro; every read of a value is told
which variable it reads, so that in io_stream each stream has one reader (`clone_stream` copies
the others) and in io_parallel an output port is only written. The FIFO depths of io_stream
come from each stage's pattern of reads and writes (`STREAM_PATTERNS`, run by hls/fifo.py).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from nnhls.errors import NnhlsError
from nnhls.hls import fifo
from nnhls.ir import Graph, Node, Registry
from nnhls.types import FixedType

__all__ = ["STREAM_PATTERNS", "Plan", "c_name", "code_literals", "cpp_type", "n_packets", "packet_size",
           "top_pragma", "value_of", "words"]


def value_of(graph: Graph, name: str) -> str:
    """The node whose output holds `name`'s values (a view moves none: it holds its input's)."""
    while graph[name].VIEW:
        name = graph[name].inputs[0]
    return name


def packet_size(graph: Graph, name: str) -> int:
    """Values per io_stream transfer: a pixel's channels for an image or a signal, else the whole
    vector; an element-wise op streams the packets its input comes in (a flattened image's
    pixels), whatever its shape."""
    node = graph[value_of(graph, name)]
    if len(node.shape) > 1:
        return node.shape[-1]
    if node.ELEMENTWISE:
        return packet_size(graph, node.inputs[0])
    return node.size


def n_packets(graph: Graph, name: str) -> int:
    return graph[name].size // packet_size(graph, name)


def top_pragma(graph: Graph, io_type: str) -> str:
    """DATAFLOW or PIPELINE for the top function. A pipelined top unrolls every loop inside it,
    which would undo the Resource strategy and compute every output pixel of an image at once."""
    layers = [node for node in graph if node.op != "input" and not node.VIEW]
    resource = any(node.strategy == "Resource" for node in layers)
    windows = any(node.op in ("conv", "pool", "zero_pad", "crop", "upsample") for node in layers)
    # Likewise a recurrent layer's one cell, used at every time step, would become one per step.
    static_cells = any(node.op == "recurrent" and node.static for node in layers)
    return "DATAFLOW" if io_type == "io_stream" or resource or windows or static_cells else "PIPELINE"


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


Read = tuple[str, int]  # (reader, which of its inputs); an output port reads as ("output:<name>", o)


class Plan:
    """Where each value of the graph lives in the project, and which variable each read reads."""

    def __init__(self, graph: Graph, io_type: str):
        self.graph = graph
        self.stream = io_type == "io_stream"
        self.index = {node.name: k for k, node in enumerate(graph)}
        self.variable, self.type_name = self._names()
        self.readers = self._readers()
        self.read_from = self._read_from()

    def _names(self) -> tuple[dict[str, str], dict[str, str]]:
        """The variable and the type name of each node's output. A view changes no value, so its
        output is its input's variable."""
        variable: dict[str, str] = {}
        type_name: dict[str, str] = {}
        for node in self.graph:
            k = self.index[node.name]
            if node.VIEW:
                source = node.inputs[0]
                variable[node.name] = variable[source]
                type_name[node.name] = type_name[source]
            else:
                variable[node.name] = c_name(node.name) if node.op == "input" else f"layer{k}_out"
                type_name[node.name] = f"layer{k}_t"
        return variable, type_name

    def _readers(self) -> dict[str, list[Read]]:
        """Every read of each value, in order. A layer reading one value twice (x + x) reads it
        twice; an output port reads the value it outputs."""
        readers: dict[str, list[Read]] = {node.name: [] for node in self.graph}
        for node in self.graph:
            if not node.VIEW:
                for position, source in enumerate(node.inputs):
                    readers[self.value_of(source)].append((node.name, position))
        for o, name in enumerate(self.graph.outputs):
            readers[self.value_of(name)].append((f"output:{name}", o))
        return readers

    def _read_from(self) -> dict[Read, str]:
        """The variable each read reads. An array can be read many times; a stream only once, so in
        io_stream a value with several reads is copied into one stream each (`clone_stream`), the
        output port being one of them. An output port is written, never read, so in io_parallel an
        output that layers read too is copied into its port."""
        read_from: dict[Read, str] = {}
        for name, readers in self.readers.items():
            var = self.variable[name]
            for i, reader in enumerate(readers):
                copied = len(readers) > 1 and (self.stream or reader[0].startswith("output:"))
                read_from[reader] = f"{var}_copy{i}" if copied else var
        return read_from

    def value_of(self, name: str) -> str:
        return value_of(self.graph, name)

    def packet(self, name: str) -> str:
        return self.type_name[name].replace("_t", "_packet_t")

    def packet_size(self, name: str) -> int:
        return packet_size(self.graph, name)

    def n_packets(self, name: str) -> int:
        return n_packets(self.graph, name)

    def size_macro(self, name: str) -> str:
        return f"N_{self.type_name[name][:-2].upper()}"

    def packet_blocks(self, node: Node) -> tuple[int, ...]:
        """A concatenation's packets of each input per outer step (along an axis other than the last)."""
        _, inner = node.blocks([self.graph[name].shape for name in node.inputs])
        return tuple(size // self.packet_size(name) for size, name in zip(inner, node.inputs))

    def kernel_type(self, name: str) -> str:
        """What a kernel's template argument for value `name` is: its packet in io_stream, its
        element type in io_parallel."""
        return self.packet(name) if self.stream else self.type_name[name]

    def ports(self) -> list[tuple[str, str, bool]]:
        """(node name, variable, is an input) of each port of the top function, in order."""
        ports = [(node.name, self.variable[node.name], True) for node in self.graph.inputs]
        return ports + [(name, self.read_from[(f"output:{name}", o)], False)
                        for o, name in enumerate(self.graph.outputs)]

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
                stages.append(self._layer_stage(node))
                packets[self.variable[node.name]] = self.n_packets(node.name)
            n = self.n_packets(node.name)
            for source, first, second in self.clone_chain(node.name):
                stages.append(fifo.Stage(f"clone of {node.name}", "clone", (source,), (first, second), {"n": n}))
                packets[first] = packets[second] = n
        ports = {var for _, var, _ in self.ports()}
        inputs = {self.variable[node.name] for node in self.graph.inputs}
        return fifo.plan_depths(stages, packets, inputs, ports - inputs)

    def _layer_stage(self, node: Node) -> fifo.Stage:
        pattern, params = STREAM_PATTERNS[node.op](self, node)
        inputs = tuple(self.read_from[(node.name, position)] for position in range(len(node.inputs)))
        return fifo.Stage(node.name, pattern, inputs, (self.variable[node.name],), params)


def _elementwise_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    return "elementwise", {"n": plan.n_packets(node.name)}


def _whole_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    return "whole", {"n_in": plan.n_packets(node.inputs[0]), "n_out": plan.n_packets(node.name)}


def _windows_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    if node.op == "pool" and node.window.covers_image:
        return "global_pool", {"n_in": plan.n_packets(node.inputs[0])}
    if node.op == "conv" and node.pointwise:  # pointwise_stream: one pixel in, one out
        return "elementwise", {"n": plan.n_packets(node.name)}
    return "windows", dataclasses.asdict(node.window)


def _two_inputs_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    """Merges, concatenations and dot products of 1-D tensors read every input's whole vector
    (in whatever packets it arrives), then write; those of images go a packet at a time."""
    if len(node.shape) == 1:
        return "vectors", {"n_in": tuple(plan.n_packets(name) for name in node.inputs),
                           "n_out": plan.n_packets(node.name)}
    if node.op == "concatenate":
        return _concatenate_pattern(plan, node)
    return "lockstep", {"n": plan.n_packets(node.name)}


def _concatenate_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    if node.along_last_axis:
        return "lockstep", {"n": plan.n_packets(node.name)}
    outer, _ = node.blocks([plan.graph[name].shape for name in node.inputs])
    return "concatenate", {"outer": outer, "blocks": plan.packet_blocks(node)}


def _layernorm_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    """A 1-D tensor is read whole (in whatever packets it comes), then written; otherwise each
    position's packet (its last axis) is read and its normalized packet written."""
    if len(node.shape) == 1:
        return _whole_pattern(plan, node)
    if plan.packet_size(node.inputs[0]) != node.n:
        raise NnhlsError(f"layer {node.name!r}: in io_stream a layer normalization reads packets of its last axis "
                         f"({node.n} values), but its input comes in packets of "
                         f"{plan.packet_size(node.inputs[0])}; use io_parallel")
    return "elementwise", {"n": plan.n_packets(node.name)}


def _recurrent_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    """A forward layer returning its sequence writes each step's state right after reading the
    step; otherwise it reads every step first (backwards: buffered), then writes."""
    if node.return_sequences and not node.go_backwards:
        return _elementwise_pattern(plan, node)
    return _whole_pattern(plan, node)


def _rows_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    """An embedding writes one row per index, right after reading the packet that holds it."""
    source = node.inputs[0]
    return "rows", {"n_in": plan.n_packets(source), "rows_per_packet": plan.packet_size(source)}


def _softmax_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    """A softmax over the last axis of two or more axes normalizes each packet (a position) as it
    comes; one of a 1-D tensor reads the whole vector first."""
    return _elementwise_pattern(plan, node) if len(node.shape) > 1 else _whole_pattern(plan, node)


def _reshape_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    return "repack", {"n": node.size, "in_size": plan.packet_size(node.inputs[0]),
                      "out_size": plan.packet_size(node.name)}


def _image_pattern(plan: Plan, node: Node) -> tuple[str, dict]:
    """Cropping drops the packets outside as they come; upsampling repeats rows (nearest) or
    computes rows from a two-row buffer (bilinear)."""
    in_h, in_w, _ = node.image
    if node.op == "crop":
        return "crop", {"in_h": in_h, "in_w": in_w, "top": node.top, "bottom": node.bottom, "left": node.left,
                        "right": node.right}
    pattern = "upsample" if node.interpolation == "nearest" else "bilinear"
    return pattern, {"in_h": in_h, "in_w": in_w, "size_h": node.size_h, "size_w": node.size_w}


# op -> (plan, node) -> (pattern, parameters) of its io_stream kernel's reads and writes, for
# the FIFO depths (hls/fifo.py); each mirrors the kernel's loops in include/nnhls.
STREAM_PATTERNS = Registry("the io_stream FIFO planner (hls/plan.py STREAM_PATTERNS)", {
    **{op: _elementwise_pattern for op in
       ("activation", "scale_shift", "lookup", "prelu", "step", "softsign", "hard_sigmoid")},
    "dense": _whole_pattern, "softmax": _softmax_pattern, "layernorm": _layernorm_pattern,
    "reshape": _reshape_pattern, "transpose": _whole_pattern, "crop": _image_pattern, "upsample": _image_pattern,
    "conv": _windows_pattern, "pool": _windows_pattern,
    "zero_pad": lambda plan, node: ("zero_pad", dataclasses.asdict(node.window)),
    "merge": _two_inputs_pattern, "dot": _two_inputs_pattern, "concatenate": _two_inputs_pattern,
    "embedding": _rows_pattern, "recurrent": _recurrent_pattern,
    "input": None, "flatten": None,  # a port; a view (no stage)
})
