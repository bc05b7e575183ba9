"""Brevitas's quantized layers into the IR (see docs/brevitas.md)."""

from __future__ import annotations

__all__ = ["SUPPORTED", "handler"]

SUPPORTED: tuple[str, ...] = ()


def handler(module):
    """The reader of a Brevitas module, or None."""
    return None
