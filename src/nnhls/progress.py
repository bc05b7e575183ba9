"""A one-line progress display for long compiles and predictions, shown only where someone watches."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator

__all__ = ["progress"]

_REDRAW_SECONDS = 0.1  # at most ten updates a second, so the loop itself is not slowed


def progress(iterable: Iterable, total: int | None = None, description: str = "", force: bool = False,
             stream=None) -> Iterator:
    """Yield the items of `iterable`, showing `description  12/40  30%  1.2s` on one line.

    The line is redrawn in place (carriage return) at most ten times a second, and ended with a
    newline when the loop ends (or is left early), so later output starts on a fresh line.
    `total` defaults to len(iterable) when it has one; without it only the count is shown.

    It writes only where someone watches: when `stream` (default: sys.stderr at call time) is
    a terminal and no pytest test is running. Redirected or captured output, logs and the test
    suite thus stay clean. `force=True` writes regardless (for tests of this function, or a
    caller that knows better).

        for chunk in progress(chunks, description="C simulation"):
            ...
    """
    stream = sys.stderr if stream is None else stream
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    shown = force or (_is_terminal(stream) and "PYTEST_CURRENT_TEST" not in os.environ)
    if not shown:
        yield from iterable
        return
    start = last = time.monotonic()
    done = 0
    width = 0

    def draw() -> None:
        nonlocal width
        parts = [description] if description else []
        if total:
            parts += [f"{done}/{total}", f"{100 * done / total:3.0f}%"]
        else:
            parts.append(str(done))
        parts.append(f"{time.monotonic() - start:.1f}s")
        text = "  ".join(parts)
        stream.write("\r" + text.ljust(width))  # pad over a longer previous line
        stream.flush()
        width = len(text)

    try:
        draw()
        for item in iterable:
            yield item
            done += 1
            now = time.monotonic()
            if now - last >= _REDRAW_SECONDS:
                last = now
                draw()
    finally:
        draw()
        stream.write("\n")
        stream.flush()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
