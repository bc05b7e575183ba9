"""Depths of the FIFOs between the dataflow stages of an io_stream design.

Every layer is a dataflow stage; its streams are bounded FIFOs with blocking reads and writes.
Where paths fork and reconverge, the FIFO on the short path must hold what the long path
delays, or the design deadlocks. The stages are deterministic, so the design is a Kahn network:
whether it deadlocks with given depths does not depend on the schedule. The depths therefore
come from running the stages' read/write patterns (which mirror the C++ kernels in
include/nnhls/ event for event) over FIFO occupancy counts, starting every depth at 1 and
enlarging, at each deadlock, only the FIFOs that hold it up. Enlarging a FIFO never invalidates
the run so far, so the run resumes where it stopped.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nnhls.errors import NnhlsError
from nnhls.ir import Window

__all__ = ["PATTERNS", "Stage", "plan_depths"]

Event = tuple[str, str]

# The stream between the line buffer and the per-window loop of conv_stream and pool_stream is
# declared in the kernel without a depth, which is the tools' default of 2; it is not ours to size.
WINDOWS_DEPTH = 2


@dataclass(frozen=True)
class Stage:
    """One dataflow stage: which pattern of reads and writes it performs, on which streams."""

    name: str
    pattern: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict


def _elementwise(stage: Stage) -> Iterator[Event]:
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for _ in range(stage.params["n"]):
        yield read
        yield write


def _clone(stage: Stage) -> Iterator[Event]:
    read = ("read", stage.inputs[0])
    first, second = (("write", s) for s in stage.outputs)
    for _ in range(stage.params["n"]):
        yield read
        yield first
        yield second


def _all_then_all(n_in: int, n_out: int, stage: Stage) -> Iterator[Event]:
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for _ in range(n_in):
        yield read
    for _ in range(n_out):
        yield write


def _whole(stage: Stage) -> Iterator[Event]:
    return _all_then_all(stage.params["n_in"], stage.params["n_out"], stage)


def _vectors(stage: Stage) -> Iterator[Event]:
    """Whole vectors of several inputs: all packets of input 0, then of input 1, ..., then every
    output packet (the io_stream merges of 1-D tensors, whose inputs may arrive in packets of
    any size, such as a flattened image's pixels)."""
    for stream, n in zip(stage.inputs, stage.params["n_in"]):
        for _ in range(n):
            yield ("read", stream)
    write = ("write", stage.outputs[0])
    for _ in range(stage.params["n_out"]):
        yield write


def _global_pool(stage: Stage) -> Iterator[Event]:
    return _all_then_all(stage.params["n_in"], 1, stage)


def _geometry(p: dict) -> Window:
    """The Window a `windows` or `zero_pad` stage's parameters give (nnhls.ir.Window's fields; the
    channels, which no pattern reads, and whatever a stage leaves at 1 may be left out)."""
    return Window(**{"channels": 1, **p})


def _on_image(w: Window) -> tuple[list[bool], list[bool]]:
    """Which padded rows and which padded columns hold the image's pixels (on_image in window.h):
    those inside the padding, `spread` apart."""
    rows = [w.pad_top <= r < w.pad_top + w.spread_in_h and (r - w.pad_top) % w.spread_h == 0
            for r in range(w.padded_h)]
    columns = [w.pad_left <= c < w.pad_left + w.spread_in_w and (c - w.pad_left) % w.spread_w == 0
               for c in range(w.padded_w)]
    return rows, columns


def _zero_pad(stage: Stage) -> Iterator[Event]:
    rows, columns = _on_image(_geometry(stage.params))
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for row_inside in rows:
        for column_inside in columns:
            if row_inside and column_inside:
                yield read
            yield write


def _windows(stage: Stage) -> Iterator[Event]:
    """stream_windows of window.h: one window written as each padded pixel completes one."""
    w = _geometry(stage.params)
    rows, columns = _on_image(w)
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    y, next_row = 0, w.span_h - 1
    for row, row_inside in enumerate(rows):
        completes = row == next_row and y < w.out_h
        x, next_column = 0, w.span_w - 1
        for column, column_inside in enumerate(columns):
            if row_inside and column_inside:
                yield read
            if completes and column == next_column and x < w.out_w:
                yield write
                x += 1
                next_column += w.stride_w
        if completes:
            y += 1
            next_row += w.stride_h


def _lockstep(stage: Stage) -> Iterator[Event]:
    reads = tuple(("read", s) for s in stage.inputs)
    write = ("write", stage.outputs[0])
    for _ in range(stage.params["n"]):
        yield from reads
        yield write


def _concatenate(stage: Stage) -> Iterator[Event]:
    reads = tuple(("read", s) for s in stage.inputs)
    write = ("write", stage.outputs[0])
    for _ in range(stage.params["outer"]):
        for read, block in zip(reads, stage.params["blocks"], strict=True):
            for _ in range(block):
                yield read
                yield write


def _rows(stage: Stage) -> Iterator[Event]:
    """embedding_stream of embedding.h: each packet of indices read, then one row written per index."""
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for _ in range(stage.params["n_in"]):
        yield read
        for _ in range(stage.params["rows_per_packet"]):
            yield write


def _repack(stage: Stage) -> Iterator[Event]:
    """reshape_stream of shape.h: steps of gcd(in_size, out_size) values, a read where a step
    starts an input packet, a write where it completes an output packet."""
    p = stage.params
    step = math.gcd(p["in_size"], p["out_size"])
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for s in range(p["n"] // step):
        if s * step % p["in_size"] == 0:
            yield read
        if (s + 1) * step % p["out_size"] == 0:
            yield write


def _crop(stage: Stage) -> Iterator[Event]:
    """crop_stream of shape.h: every pixel read, those inside the crop written at once."""
    p = stage.params
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for row in range(p["in_h"]):
        row_kept = p["top"] <= row < p["in_h"] - p["bottom"]
        for column in range(p["in_w"]):
            yield read
            if row_kept and p["left"] <= column < p["in_w"] - p["right"]:
                yield write


def _upsample(stage: Stage) -> Iterator[Event]:
    """upsample_stream of shape.h: each input row's pixels read as its first copy is written
    (each pixel size_w times), then size_h - 1 more copies written from the row buffer."""
    p = stage.params
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    for _ in range(p["in_h"]):
        for copy in range(p["size_h"]):
            for _ in range(p["in_w"]):
                for repeat in range(p["size_w"]):
                    if copy == 0 and repeat == 0:
                        yield read
                    yield write


def _bilinear(stage: Stage) -> Iterator[Event]:
    """upsample_bilinear_stream of shape.h: after input row r, the late output rows of row r - 1
    and the early ones of row r; after the last row, its late output rows."""
    p = stage.params
    read, write = ("read", stage.inputs[0]), ("write", stage.outputs[0])
    early = (p["size_h"] + 1) // 2
    late = p["size_h"] - early
    out_w = p["in_w"] * p["size_w"]
    for row in range(p["in_h"]):
        for _ in range(p["in_w"]):
            yield read
        for _ in range(((late if row > 0 else 0) + early) * out_w):
            yield write
    for _ in range(late * out_w):
        yield write


PATTERNS: dict[str, Callable[[Stage], Iterator[Event]]] = {
    "elementwise": _elementwise,
    "clone": _clone,
    "whole": _whole,
    "vectors": _vectors,
    "global_pool": _global_pool,
    "zero_pad": _zero_pad,
    # Only the line buffer; plan_depths adds the per-window loop that conv_stream and
    # pool_stream run beside it in their own dataflow region.
    "windows": _windows,
    "lockstep": _lockstep,
    "concatenate": _concatenate,
    "rows": _rows,
    "repack": _repack,
    "crop": _crop,
    "upsample": _upsample,
    "bilinear": _bilinear,
}


def _processes(stages: list[Stage]) -> tuple[list[Stage], dict]:
    """The dataflow processes the stages run as, and the labels of streams inside a stage."""
    processes, inner_labels = [], {}
    for index, stage in enumerate(stages):
        if stage.pattern not in PATTERNS:
            raise NnhlsError(
                f"stage {stage.name!r} has the stream pattern {stage.pattern!r}, which has no entry in "
                f"nnhls.hls.fifo.PATTERNS (known: {', '.join(sorted(PATTERNS))}); add one that mirrors "
                "its kernel")
        if stage.pattern != "windows":
            processes.append(stage)
            continue
        # A tuple cannot collide with the callers' stream names, which are strings.
        inner = ("windows", index)
        inner_labels[inner] = f"the windows stream inside {stage.name!r}"
        processes.append(Stage(stage.name, "windows", stage.inputs, (inner,), stage.params))
        processes.append(Stage(stage.name, "elementwise", (inner,), stage.outputs, {"n": _geometry(stage.params).n_pixels}))
    return processes, inner_labels


def _endpoints(processes: list[Stage], inputs: set[str], outputs: set[str]) -> tuple[dict, dict]:
    """The one process that writes and the one that reads each stream, checked."""
    writers, readers = {}, {}
    for p, process in enumerate(processes):
        for ends, streams, verb in ((readers, process.inputs, "read"), (writers, process.outputs, "write")):
            for stream in streams:
                if stream in ends:
                    raise NnhlsError(
                        f"stages {processes[ends[stream]].name!r} and {process.name!r} both {verb} stream "
                        f"{stream!r}; a stream has one writer and one reader, so fan-out needs a clone "
                        "stage")
                ends[stream] = p
    for stream, p in readers.items():
        if stream not in writers and stream not in inputs:
            raise NnhlsError(f"stage {processes[p].name!r} reads stream {stream!r}, which no stage writes "
                             "and which is not an input; connect it or add it to the inputs")
        if stream in outputs:
            raise NnhlsError(f"stage {processes[p].name!r} reads output stream {stream!r}; clone it "
                             "instead")
    for stream, p in writers.items():
        if stream in inputs:
            raise NnhlsError(f"stage {processes[p].name!r} writes input stream {stream!r}")
        if stream not in readers and stream not in outputs:
            raise NnhlsError(f"stage {processes[p].name!r} writes stream {stream!r}, which no stage reads "
                             "and which is not an output; connect it or add it to the outputs")
    return writers, readers


def plan_depths(stages: list[Stage], packets: dict[str, int], inputs: set[str],
                outputs: set[str]) -> dict[str, int]:
    """Least depth of every internal stream (those neither in `inputs` nor `outputs`) that cannot deadlock."""
    processes, inner_labels = _processes(stages)
    network = _Network(processes, inner_labels, packets, inputs, outputs)
    network.run()
    network.check_counts(packets)
    return {s: network.capacity[i] for i, s in enumerate(network.streams) if network.sizable[i]}


class _Network:
    """The FIFO occupancy of every stream and where every process stands.

    Streams and processes are list indices, and an event is the int 2 * stream + 1 for a write,
    2 * stream for a read, so an event costs a few list operations and no allocation.
    """

    def __init__(self, processes: list[Stage], inner_labels: dict, packets: dict[str, int], inputs: set[str],
                 outputs: set[str]):
        writers, readers = _endpoints(processes, inputs, outputs)
        missing = sorted(s for s in inputs if s not in packets)
        if missing:
            raise NnhlsError(f"no packet count for input streams {missing}; give packets[s] for every stream")
        self.processes, self.inputs, self.outputs = processes, inputs, outputs
        self.streams = list(dict.fromkeys([*sorted(inputs), *writers, *readers]))
        self.label = [inner_labels.get(s, repr(s)) for s in self.streams]
        self.writer = [writers.get(s, -1) for s in self.streams]
        self.reader = [readers.get(s, -1) for s in self.streams]
        # Ports are the caller's: inputs arrive all at once, outputs are drained, neither is sized.
        self.count = [packets[s] if s in inputs else 0 for s in self.streams]
        self.capacity = [sys.maxsize if s in inputs or s in outputs else WINDOWS_DEPTH if s in inner_labels
                         else 1 for s in self.streams]
        self.sizable = [s not in inputs and s not in outputs and s not in inner_labels for s in self.streams]
        self.written = [0] * len(self.streams)
        sid_of = {s: i for i, s in enumerate(self.streams)}
        self.codes = [{**{("read", s): 2 * sid_of[s] for s in process.inputs},
                       **{("write", s): 2 * sid_of[s] + 1 for s in process.outputs}} for process in processes]
        self.nexts = [PATTERNS[process.pattern](process).__next__ for process in processes]
        self.pending = [-1] * len(processes)
        self.asleep = [False] * len(processes)
        self.finished = [False] * len(processes)
        self.runnable = list(range(len(processes)))

    def run(self) -> None:
        """Runs every process to its end, enlarging the FIFOs that hold up each deadlock by one."""
        while True:
            while self.runnable:
                self._advance(self.runnable.pop())
            waiting = [p for p, done in enumerate(self.finished) if not done]
            if not waiting:
                return
            for sid in self._holding_up(waiting):
                self.capacity[sid] += 1
                self.asleep[self.writer[sid]] = False
                self.runnable.append(self.writer[sid])
            if not self.runnable:
                raise NnhlsError(self._deadlock_message(waiting))

    def _advance(self, p: int) -> None:
        """Runs process p until it finishes or blocks, waking the processes it unblocks."""
        next_event, code_of = self.nexts[p], self.codes[p]
        pending, asleep, runnable = self.pending, self.asleep, self.runnable
        count, capacity, written = self.count, self.capacity, self.written
        writer, reader = self.writer, self.reader
        code = pending[p]
        while True:
            if code < 0:
                try:
                    code = code_of[next_event()]
                except StopIteration:
                    self.finished[p] = True
                    pending[p] = -1
                    return
                except KeyError as error:
                    process = self.processes[p]
                    raise NnhlsError(
                        f"the {process.pattern!r} pattern of stage {process.name!r} yields "
                        f"{error.args[0]!r}, which is not a read of its inputs or a write of its outputs"
                    ) from None
            sid = code >> 1
            if code & 1:
                if count[sid] == capacity[sid]:
                    break
                count[sid] += 1
                written[sid] += 1
                other = reader[sid]
                if other >= 0 and asleep[other] and pending[other] == code - 1:
                    asleep[other] = False
                    runnable.append(other)
            else:
                if count[sid] == 0:
                    break
                count[sid] -= 1
                other = writer[sid]
                if other >= 0 and asleep[other] and pending[other] == code + 1:
                    asleep[other] = False
                    runnable.append(other)
            code = -1
        pending[p] = code
        asleep[p] = True

    def _holding_up(self, waiting: list[int]) -> list[int]:
        """The full streams that hold up a deadlock: those whose writer waits on them.

        Preferably only those whose reader waits for another stream: the end of a short path,
        whose joining stage needs the long path first. Enlarging one whose reader is itself
        blocked writing would only move the blockage downstream.
        """
        pending, reader = self.pending, self.reader
        full = [pending[p] >> 1 for p in waiting if pending[p] & 1]
        full = [sid for sid in full if self.sizable[sid] and not self.finished[reader[sid]]]
        short_ends = [sid for sid in full if not pending[reader[sid]] & 1]
        return short_ends or full

    def _deadlock_message(self, waiting: list[int]) -> str:
        waits = []
        for p in waiting:
            sid = self.pending[p] >> 1
            verb = "write" if self.pending[p] & 1 else "read"
            waits.append(f"{self.processes[p].name!r} waits to {verb} {self.label[sid]} "
                         f"({self.written[sid]} packets written to it so far)")
        return (f"the stages deadlock whatever the FIFO depths: {'; '.join(waits)}. A stage reads more "
                "packets than its producer writes, or writes more than its consumer reads; check the stages' "
                "packet counts")

    def check_counts(self, packets: dict[str, int]) -> None:
        """Every packet of a sample is read once, or the next sample would find it in the FIFO."""
        for sid, stream in enumerate(self.streams):
            if stream in packets and stream not in self.inputs and self.written[sid] != packets[stream]:
                name = self.processes[self.writer[sid]].name
                raise NnhlsError(f"stage {name!r} writes {self.written[sid]} packets to stream {stream!r}, "
                                 f"where packets says {packets[stream]}")
            if stream not in self.outputs and self.count[sid]:
                name = self.processes[self.reader[sid]].name
                raise NnhlsError(f"stage {name!r} leaves {self.count[sid]} of the packets of "
                                 f"{self.label[sid]} unread; its packet counts disagree with its producer's")
