"""The MCP face's one redaction choke point: a middleware over every result that carries data.

Why a middleware and not each tool: a tool, resource or prompt added later is covered without
anyone remembering to redact, and so are the SDK's own renderings (a tool's text content beside its
structured content, error messages that echo an id). Every string of the result goes through
:func:`mcp_distill.redact.edges.redact_tree` with the store's key, so an id holding a secret gets the
same stable placeholder here as in an export.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from mcp_distill.redact import redact_string, redact_tree, redaction_key

#: Methods whose results carry store content (listings carry only names the server defines).
DATA_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})


class RedactResults:
    """``ServerMiddleware``: redacts every string of the result of :data:`DATA_METHODS` calls."""

    def __init__(self, holder: Any) -> None:
        self._holder = holder  # server.context.StateHolder: the running store
        self._key: tuple[Any, bytes] | None = None

    def _key_of(self) -> bytes:
        """The running store's key (read once per store: a restarted lifespan opens a new one)."""
        store = self._holder.get().store
        if self._key is None or self._key[0] is not store:
            self._key = (store, redaction_key(store))
        return self._key[1]

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in DATA_METHODS:
            return await call_next(ctx)
        try:
            result = await call_next(ctx)
        except MCPError as exc:  # a resource error echoes the id it was asked for
            key = self._key_of()
            message = redact_string(exc.error.message, key, Counter())
            if message == exc.error.message:
                raise
            raise MCPError(code=exc.error.code, message=message, data=exc.error.data) from exc
        if result is None:
            return None
        data = result.model_dump(by_alias=True, exclude_none=True, mode="json") if isinstance(result, BaseModel) else result
        redacted, counts = redact_tree(data, self._key_of())
        return redacted if counts else result


def install(mcp: Any, holder: Any) -> None:
    """Put the redaction middleware on ``mcp`` (outermost of the user middleware)."""
    mcp.middleware.append(RedactResults(holder))


__all__ = ["DATA_METHODS", "RedactResults", "install"]
