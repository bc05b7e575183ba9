"""The graph: nodes in topological order, looked up by name."""

from __future__ import annotations

from collections.abc import Iterator

from nnhls.errors import NnhlsError
from nnhls.ir.ops import Node

__all__ = ["Graph"]


class Graph:
    """Nodes in topological order; `outputs` names the nodes whose values the network returns."""

    def __init__(self, nodes: list[Node], outputs: list[str], name: str = "model", aliases: dict[str, str] | None = None):
        self.name = name
        self._nodes: dict[str, Node] = {}
        for node in nodes:
            self.add(node)
        self.outputs = list(outputs)
        # Other names the configuration may give a node (a PyTorch module's path for its fx node's name).
        self.aliases: dict[str, str] = dict(aliases or {})

    def add(self, node: Node) -> None:
        if node.name in self._nodes:
            raise NnhlsError(f"two layers are named {node.name!r}; layer names must be unique")
        for name in node.inputs:
            if name not in self._nodes:
                raise NnhlsError(f"layer {node.name!r} reads {name!r}, which is not defined before it")
        self._nodes[node.name] = node

    def insert_before(self, name: str, node: Node) -> None:
        """Add `node` just before node `name` (it may read only nodes defined before that one)."""
        if node.name in self._nodes:
            raise NnhlsError(f"two layers are named {node.name!r}; layer names must be unique")
        nodes = {}
        for current_name, current in self._nodes.items():
            if current_name == name:
                for source in node.inputs:
                    if source not in nodes:
                        raise NnhlsError(f"layer {node.name!r} reads {source!r}, which is not defined before it")
                nodes[node.name] = node
            nodes[current_name] = current
        self._nodes = nodes

    # Iterating gives the nodes, in order: every pass and consumer reads the graph so. It is also a
    # mapping from name to node for scripts written for the field's tools (whose graph is an
    # ordered dict of layers by name): keys(), values(), items(), get(), [name], in and len.
    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes.values()))

    def __getitem__(self, name: str | Node) -> Node:
        # A loop written for an ordered dict (`for name in graph: graph[name]`) gets layers as
        # "names"; indexing with a layer gives that layer back, so such loops still work.
        if isinstance(name, Node):
            name = name.name
        return self._nodes[name]

    def keys(self) -> list[str]:
        return list(self._nodes)

    def values(self) -> list[Node]:
        return list(self._nodes.values())

    def items(self) -> list[tuple[str, Node]]:
        return list(self._nodes.items())

    def get(self, name: str, default=None):
        return self._nodes.get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def every_node(self) -> Iterator[Node]:
        """Every node in order, a layer made of parts (a recurrent layer) right after its parts:
        what passes that treat each node on its own (tables, constants, checks) visit."""
        for node in self:
            yield from node.part_nodes()
            yield node

    @property
    def inputs(self) -> list[Node]:
        return [node for node in self if node.op == "input"]

    def consumers(self, name: str) -> list[Node]:
        return [node for node in self if name in node.inputs]

    def only_reader(self, name: str) -> Node | None:
        """The one node reading `name`, once, if exactly one does and `name` is no output of the graph."""
        readers = self.consumers(name)
        if len(readers) != 1 or name in self.outputs or readers[0].inputs.count(name) != 1:
            return None
        return readers[0]

    def replace(self, old: str, new: Node | None) -> None:
        """Replace node `old` by `new` (same position), or remove it when `new` is None.

        A removed node must have exactly one input; its consumers then read that input.
        """
        node = self._nodes[old]
        if new is None:
            if len(node.inputs) != 1:
                raise NnhlsError(f"cannot remove layer {old!r}: it has {len(node.inputs)} inputs")
            source = node.inputs[0]
            for consumer in self.consumers(old):
                consumer.inputs = [source if name == old else name for name in consumer.inputs]
            self.outputs = [source if name == old else name for name in self.outputs]
            del self._nodes[old]
            return
        nodes = {}
        for name, current in self._nodes.items():
            nodes[new.name if name == old else name] = new if name == old else current
        self._nodes = nodes
        if new.name != old:
            for consumer in self.consumers(old):
                consumer.inputs = [new.name if name == old else name for name in consumer.inputs]
            self.outputs = [new.name if name == old else name for name in self.outputs]
