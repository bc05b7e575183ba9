"""What a project targets: the HLS tool (`Backend`, what differs between tools, as data) and the
project's own settings (`Project`). Every writer module reads these; none of them imports a tool."""

from __future__ import annotations

from dataclasses import dataclass

from nnhls.ir import Graph

__all__ = ["IO_TYPES", "Backend", "Project"]

IO_TYPES = ("io_parallel", "io_stream")


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
