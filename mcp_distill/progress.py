"""The one progress callback every long-running core function accepts.

The faces feed it to their own display: the CLI to a rich progress bar, the MCP server to the
client's progress notifications (``server.context.run_with_progress``).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(done, total, message)``: ``done`` of ``total`` units (``total`` is None when the
    input's length is unknown), ``message`` a short label of what is being worked on."""

    def __call__(self, done: int, total: int | None, message: str, /) -> None: ...


__all__ = ["Progress"]
