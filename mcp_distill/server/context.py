"""Shared pieces of the MCP tool modules: the lifespan state, error translation, progress forwarding.

A leaf module: the tool modules import it and it imports none of them, so ``server/app.py`` can import the
tool modules without an import circle.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from mcp_distill.config import Settings
from mcp_distill.errors import DistillError
from mcp_distill.score import ScoringRules
from mcp_distill.search.embed import Embedder, embedder_from_env
from mcp_distill.store import Store

F = TypeVar("F", bound=Callable[..., Any])

@dataclass
class AppState:
    store: Store
    settings: Settings
    rules: ScoringRules
    _embedder: Embedder | None = None

    def embedder(self) -> Embedder:
        """The configured embedder, created on first use (the ONNX model loads lazily too)."""
        if self._embedder is None:
            self._embedder = embedder_from_env()
        return self._embedder


def state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


class StateHolder:
    """The lifespan's state for static resources, which the SDK calls without a Context."""

    def __init__(self) -> None:
        self.current: AppState | None = None

    def get(self) -> AppState:
        if self.current is None:
            raise ResourceError("the server is not started yet; retry in a moment")
        return self.current


def tool_errors(fn: F) -> F:
    """Expected core failures reach the client as a ToolError with the core's actionable message."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except DistillError as exc:
                raise ToolError(str(exc)) from exc
        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DistillError as exc:
            raise ToolError(str(exc)) from exc
    return wrapper  # type: ignore[return-value]


def resource_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DistillError as exc:
            raise ResourceError(str(exc)) from exc
    return wrapper  # type: ignore[return-value]


async def run_with_progress(ctx: Context, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking core work in a worker thread, forwarding its progress callback to the client."""

    def progress(done: int, total: int, message: str) -> None:
        with suppress(Exception):
            anyio.from_thread.run(lambda: ctx.report_progress(done, total, message=message))

    return await anyio.to_thread.run_sync(functools.partial(work, *args, progress=progress, **kwargs))


__all__ = ["AppState", "StateHolder", "resource_errors", "run_with_progress", "state", "tool_errors"]
