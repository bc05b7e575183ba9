"""Plain-text tables for what nnhls prints (comparisons, overflow counts, reports, estimates)."""

from __future__ import annotations

__all__ = ["table"]


def table(header: tuple[str, ...], rows: list[tuple], total: tuple | None = None) -> str:
    """Left-aligned columns under a dashed rule; a `total` row goes below a second rule."""
    body = [tuple(str(value) for value in row) for row in rows]
    last = [tuple(str(value) for value in total)] if total is not None else []
    cells = [tuple(header)] + body + last
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    rule = "  ".join("-" * width for width in widths)
    lines.insert(1, rule)
    if total is not None:
        lines.insert(len(lines) - 1, rule)
    return "\n".join(lines)
