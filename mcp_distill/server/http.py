"""Transports: stdio, and Streamable HTTP with DNS-rebinding protection and an optional bearer token.

Binding anything but loopback exposes the store to the network, so it requires a token from
MCP_DISTILL_TOKEN; every request must then carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings

from mcp_distill.config import TOKEN_ENV, Settings
from mcp_distill.errors import ConfigError
from mcp_distill.server.app import build_server

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def serve_stdio(settings: Settings) -> None:
    build_server(settings).run()


class BearerTokenMiddleware:
    """Plain ASGI middleware: refuse HTTP requests without the expected bearer token (constant-time compare)."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "missing or wrong bearer token (MCP_DISTILL_TOKEN)"}'})
                return
        await self.app(scope, receive, send)


def http_app(settings: Settings, host: str = "127.0.0.1", port: int = 8765, path: str = "/mcp") -> Any:
    token = os.environ.get(TOKEN_ENV)
    if host not in LOOPBACK and not token:
        raise ConfigError(f"binding {host} exposes the store to the network: set {TOKEN_ENV} to a secret token "
                          "(clients send it as 'Authorization: Bearer <token>'), or bind 127.0.0.1")
    allowed_hosts = [f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")] + [f"{host}:{port}", host]
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts,
                                         allowed_origins=[f"http://{h}" for h in allowed_hosts])
    server = build_server(settings)
    app = server.streamable_http_app(streamable_http_path=path, transport_security=security, host=host)
    return BearerTokenMiddleware(app, token) if token else app


def serve_http(settings: Settings, host: str = "127.0.0.1", port: int = 8765, path: str = "/mcp") -> None:
    import uvicorn

    uvicorn.run(http_app(settings, host, port, path), host=host, port=port, log_level="warning")
