"""Shared pieces of the MCP tool modules: the lifespan state, error translation, progress forwarding.

A leaf module: the tool modules import it and it imports none of them, so ``server/app.py`` can import the
tool modules without an import circle.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import time
import warnings
import weakref
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_distill.config import Settings
from mcp_distill.errors import DistillError, InvalidInputError, NotFoundError
from mcp_distill.score import ScoringRules
from mcp_distill.search import Embedder, embedder_from_env
from mcp_distill.store import Store

F = TypeVar("F", bound=Callable[..., Any])

#: MCP log levels, least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
#: What a handshake-era client that never sent logging/setLevel gets: the spec leaves it to the server;
#: warnings and worse only, so a client that did not ask is not flooded with progress chatter.
DEFAULT_LOG_LEVEL = "warning"


class Sessions:
    """Per-connection state of handshake-era clients: the logging/setLevel level and resources/subscribe URIs.

    Keyed weakly by the SDK's connection object (``Sessions.key``), so a closed connection leaves nothing behind. Clients on the
    2026-07-28 revision need neither: their log level rides each request's ``_meta`` and their subscriptions
    are ``subscriptions/listen`` streams the SDK serves from its bus.
    """

    def __init__(self) -> None:
        self.levels: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self.subscriptions: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    @staticmethod
    def key(session: Any) -> Any:
        """The connection behind a request's session: the SDK makes a new session object per request."""
        return getattr(session, "_connection", session)

    def subscribed(self, patterns: tuple[str, ...]) -> list[tuple[Any, str]]:
        """(connection, uri) for every subscribed URI matching one of the fnmatch ``patterns``."""
        return [(session, uri) for session, uris in list(self.subscriptions.items()) for uri in sorted(uris)
                if any(fnmatch.fnmatchcase(uri, p) for p in patterns)]


@dataclass
class AppState:
    store: Store
    settings: Settings
    rules: ScoringRules
    _embedder: Embedder | None = None
    sessions: Sessions = field(default_factory=Sessions)

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


def translating(translate: Callable[[DistillError], Exception]) -> Callable[[F], F]:
    """A decorator turning a core failure into ``translate(exc)``, for sync and async functions alike."""
    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except DistillError as exc:
                    raise translate(exc) from exc
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except DistillError as exc:
                raise translate(exc) from exc
        return wrapper  # type: ignore[return-value]
    return decorate


def _resource_error(exc: DistillError) -> Exception:
    """Unknown ids become the spec's resource-not-found error, bad arguments invalid-params, the rest errors."""
    if isinstance(exc, NotFoundError):
        return ResourceNotFoundError(str(exc))
    if isinstance(exc, InvalidInputError):
        return MCPError(code=INVALID_PARAMS, message=str(exc))
    return ResourceError(str(exc))


#: Expected core failures reach the client as a ToolError with the core's actionable message.
tool_errors = translating(lambda exc: ToolError(str(exc)))
#: Resource readers: not found, invalid params, or a resource error (see :func:`_resource_error`).
resource_errors = translating(_resource_error)


def is_modern(protocol_version: str | None) -> bool:
    return protocol_version in MODERN_PROTOCOL_VERSIONS


async def log(ctx: Context, level: str, message: str) -> None:
    """Send one log message to the client, if it asked for that level. Never fails the request.

    Handshake-era clients are filtered by their logging/setLevel level here; on 2026-07-28 connections the
    SDK itself sends only what the request's ``_meta`` log level opted in to.
    """
    with suppress(Exception):
        if not is_modern(ctx.protocol_version):
            sessions = state(ctx).sessions
            wanted = sessions.levels.get(sessions.key(ctx.session), DEFAULT_LOG_LEVEL)
            if LOG_LEVELS.index(level) < LOG_LEVELS.index(wanted):
                return
        with warnings.catch_warnings():
            # The logging capability is deprecated by the 2026 revision, not removed: clients still use it.
            warnings.simplefilter("ignore")
            await ctx.log(level, message, logger_name="mcp-distill")  # type: ignore[arg-type]


async def resources_changed(ctx: Context, *uris: str) -> None:
    """Tell subscribed clients that these resources changed (fnmatch patterns such as ``distill://runs/*``).

    Handshake-era subscribers get ``notifications/resources/updated`` for each of their matching URIs;
    concrete URIs are also published on the SDK's bus for ``subscriptions/listen`` streams.
    """
    for connection, uri in state(ctx).sessions.subscribed(uris):
        with suppress(Exception):  # a connection that went away must not fail the tool that changed the store
            await connection.send_resource_updated(uri)
    for uri in uris:
        if "*" not in uri:
            with suppress(Exception):
                await ctx.notify_resource_updated(uri)


async def run_with_progress(ctx: Context, work: Callable[..., Any], *args: Any, log_as: str | None = None,
                            **kwargs: Any) -> Any:
    """Run blocking core work in a worker thread, forwarding its progress callback to the client.

    The work is logged too: its start and end (with the time taken) at info, each change of its progress
    message and every tenth of the way at debug, so a client can follow long work without progress tokens.
    """
    label = log_as or getattr(work, "__name__", "work")
    last: list[Any] = [None]

    def progress(done: int, total: int | None, message: str) -> None:
        with suppress(Exception):
            anyio.from_thread.run(lambda: ctx.report_progress(done, total, message=message))
        step = (message, int(10 * done / total) if total else None)
        if step != last[0]:
            last[0] = step
            with suppress(Exception):
                anyio.from_thread.run(lambda: log(ctx, "debug", f"{label}: {message} {done}/{total or '?'}"))

    await log(ctx, "info", f"{label}: started")
    started = time.perf_counter()
    try:
        result = await anyio.to_thread.run_sync(functools.partial(work, *args, progress=progress, **kwargs))
    except Exception as exc:
        await log(ctx, "warning", f"{label}: failed: {exc}")
        raise
    await log(ctx, "info", f"{label}: done in {time.perf_counter() - started:.2f} s")
    return result


__all__ = ["LOG_LEVELS", "AppState", "Sessions", "StateHolder", "is_modern", "log", "resource_errors",
           "resources_changed", "run_with_progress", "state", "tool_errors"]
