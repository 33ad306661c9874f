"""Answers for requests the MCP SDK cannot parse, so no client waits forever for a reply.

The SDK (mcp 2.3) parses each message with pydantic-core's JSON parser, which refuses a lone UTF-16
surrogate escape such as ``"\\ud800"`` (RFC 8259 allows it in the grammar; it is no Unicode
character). Over stdio the refused line becomes an exception item that the dispatcher only logs at
debug level: the request gets no response at all. Over HTTP the SDK answers ``-32700 Parse error``
with ``id: null`` and a misleading "unexpected end of hex escape". See docs/upstream-sdk-unparsable.md.

Here the raw message is read again with the stdlib parser (which keeps lone surrogates), and the
request is answered with its own id: ``-32602`` naming the field that holds the surrogate, or
``-32600`` / ``-32700`` when it is not a request or not JSON. Nothing unparsable reaches a tool.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import pydantic_core
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError
from starlette.requests import Request

#: Bodies above this are passed through unread: the SDK refuses oversize bodies itself.
MAX_BODY_PEEK = 4 * 1024 * 1024


def _surrogate_path(value: Any, path: str) -> str | None:
    """The dotted path of the first string (key or value) holding a lone surrogate, else None."""
    if isinstance(value, str):
        return path if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _surrogate_path(key, f"{path}.{key!r}") or _surrogate_path(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


def error_for(raw: str | bytes, reason: str) -> JSONRPCError | None:
    """The JSON-RPC error answering a message the SDK refused (``reason`` its parser's words).

    None for a notification (nothing may answer one) and for a message the SDK can parse.
    """
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(
            code=PARSE_ERROR, message=f"Parse error: the message is not JSON ({reason}); send one JSON-RPC "
                                      "message as UTF-8 JSON (over stdio: one per line)"))
    if not isinstance(message, dict) or "method" not in message:
        return None  # a response, a batch or an envelope the SDK answers (or ignores) itself
    request_id = message.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        return None  # a notification, or an id nobody could match a reply to
    where = _surrogate_path(message, "message")
    if where is not None:
        text = (f"Invalid params: {where.removeprefix('message.')} holds a lone UTF-16 surrogate (a \\uD800-"
                "\\uDFFF escape without its pair), which is no Unicode character; send the text as valid "
                "UTF-8 (pair the surrogate or drop it)")
        return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=INVALID_PARAMS, message=text))
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(
        code=INVALID_REQUEST, message=f"Invalid request: {reason}; send a JSON-RPC 2.0 request "
                                      "(jsonrpc, id, method, params)"))


def _raw_of(exc: Exception) -> str | None:
    """The message text an SDK parse failure carries (pydantic keeps the refused JSON as its input)."""
    if isinstance(exc, ValidationError):
        for detail in exc.errors():
            if detail.get("type") == "json_invalid" and isinstance(detail.get("input"), str):
                return detail["input"]
            if isinstance(detail.get("input"), dict) and "method" in detail["input"]:
                return json.dumps(detail["input"])
    return None


class AnsweringReadStream:
    """The SDK's stdio read stream, answering each refused line on the write stream instead of dropping it."""

    def __init__(self, inner: Any, write: Any):
        self.inner = inner
        self.write = write

    def __getattr__(self, name: str) -> Any:  # last_context and whatever else the SDK reads
        return getattr(self.inner, name)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self.inner.receive()
            if not isinstance(item, Exception):
                return item
            raw = _raw_of(item)
            reply = error_for(raw, _reason(item)) if raw is not None else None
            if reply is None:
                return item
            print(f"mcp-distill: answered an unparsable request: {reply.error.message}", file=sys.stderr)
            await self.write.send(SessionMessage(reply))

    def __aiter__(self) -> AnsweringReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> AnsweringReadStream:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self.inner.__aexit__(*exc)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        return str(exc.errors()[0].get("msg", exc))
    return str(exc)


async def run_stdio(server: MCPServer) -> None:
    """``MCPServer.run_stdio_async`` with the answering read stream (the SDK offers no hook for it)."""
    lowlevel = server._lowlevel_server  # the patch point: the same call run_stdio_async makes
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(AnsweringReadStream(read_stream, write_stream), write_stream,
                           lowlevel.create_initialization_options())


class UnparsableRequestMiddleware:
    """ASGI: a POSTed request the SDK's parser would refuse is answered here with its id (see module doc).

    Runs after the SDK's own Host/Origin check (a refused request is passed on to be refused there);
    bodies above :data:`MAX_BODY_PEEK` are passed on unread.
    """

    def __init__(self, app: Any, security: TransportSecuritySettings, path: str):
        self.app = app
        self.security = TransportSecurityMiddleware(security)
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more and size <= MAX_BODY_PEEK:
            event = await receive()
            if event["type"] != "http.request":
                chunks.append(event)
                break
            chunks.append(event)
            size += len(event.get("body", b""))
            more = event.get("more_body", False)
        replay = iter(chunks)

        async def replayed() -> dict[str, Any]:
            return next(replay, None) or await receive()

        if not more and all(e["type"] == "http.request" for e in chunks):
            body = b"".join(e.get("body", b"") for e in chunks)
            reply = await self._reply(body, scope, replayed)
            if reply is not None:
                await _send_json(send, 400, reply)
                return
        await self.app(scope, replayed, send)

    async def _reply(self, body: bytes, scope: dict[str, Any], receive: Any) -> JSONRPCError | None:
        try:
            pydantic_core.from_json(body)
            return None  # the SDK can read it
        except ValueError as exc:
            reason = str(exc)
        if await self.security.validate_request(Request(scope, receive), is_post=True) is not None:
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None  # not UTF-8: the SDK's parse error says so
        reply = error_for(text, reason)
        return reply if reply is not None and reply.error.code == INVALID_PARAMS else None


async def _send_json(send: Any, status: int, reply: JSONRPCError) -> None:
    body = reply.model_dump_json(by_alias=True, exclude_unset=True).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["AnsweringReadStream", "UnparsableRequestMiddleware", "error_for", "run_stdio"]
