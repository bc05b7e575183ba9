"""A registry per consumer of the IR (type inference, emulator, C++ emission, estimate, ...).

Each consumer keeps one entry per op, keyed by the op's name. Looking up an op that a consumer
does not know raises one clear error naming both, instead of a KeyError deep inside it; the
op-model test checks that every registry covers every op (docs/ops.md lists the registries).
"""

from __future__ import annotations

from nnhls.errors import NnhlsError

__all__ = ["Registry"]


class Registry(dict):
    """op name -> entry, for the consumer named `consumer`."""

    def __init__(self, consumer: str, entries: dict | None = None):
        super().__init__(entries or {})
        self.consumer = consumer

    def __missing__(self, op):
        raise NnhlsError(f"op {op!r} has no entry in {self.consumer}; every op is registered in each of the places "
                         "docs/ops.md lists")

    def register(self, *ops: str):
        """Decorator: the function is the entry of each of `ops`."""
        def add(function):
            for op in ops:
                if op in self:
                    raise NnhlsError(f"op {op!r} is registered twice in {self.consumer}")
                self[op] = function
            return function
        return add

    def missing(self, ops) -> list[str]:
        """The ops of `ops` this registry has no entry for."""
        return sorted(op for op in ops if op not in self)
