"""Node names a frontend makes up (for the nodes of a layer that becomes several)."""

from __future__ import annotations

__all__ = ["fresh_name"]


def fresh_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... the first that is not in `taken`; it is added to `taken`."""
    candidate, index = name, 1
    while candidate in taken:
        index += 1
        candidate = f"{name}_{index}"
    taken.add(candidate)
    return candidate
