"""Transports: stdio, and Streamable HTTP with DNS-rebinding protection and an optional bearer token.

Binding anything but loopback exposes the store to the network, so it requires a token from
MCP_DISTILL_TOKEN; every request must then carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings

from mcp_distill.config import TOKEN_ENV, Settings
from mcp_distill.errors import ConfigError
from mcp_distill.server.app import build_server
from mcp_distill.server.wire import UnparsableRequestMiddleware, run_stdio

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DASHBOARD_PATH = "/dashboard"


def serve_stdio(settings: Settings) -> None:
    anyio.run(run_stdio, build_server(settings))


class BearerTokenMiddleware:
    """Plain ASGI middleware: refuse HTTP requests without the expected bearer token (constant-time compare).

    The scheme word is case-insensitive and may be followed by several spaces (RFC 9110 section 11.1);
    the token itself is compared exactly.
    """

    def __init__(self, app: Any, token: str, exempt: str | None = None):
        self.app = app
        self.expected = token.encode()
        self.exempt = exempt  # a mounted app that checks the same token itself (the dashboard: also by cookie)

    def _authorized(self, value: bytes) -> bool:
        scheme, _, credentials = value.strip().partition(b" ")
        # compare_digest runs even for a wrong scheme, so timing does not tell the scheme check apart
        matches = hmac.compare_digest(credentials.strip(b" "), self.expected)
        return scheme.lower() == b"bearer" and matches

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        exempt = self.exempt is not None and (scope.get("path") or "").startswith(self.exempt)
        if scope["type"] == "http" and not exempt:
            headers = dict(scope.get("headers") or [])
            if not self._authorized(headers.get(b"authorization", b"")):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "missing or wrong bearer token (MCP_DISTILL_TOKEN)"}'})
                return
        await self.app(scope, receive, send)


def check_token(token: str) -> str:
    """The configured token, refused when blank or when it holds characters a header cannot carry as sent."""
    if not token.strip():
        raise ConfigError(f"{TOKEN_ENV} is blank: any client sending 'Bearer ' plus spaces would get in; "
                          "set it to a long random secret (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    if any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in token):
        raise ConfigError(f"{TOKEN_ENV} holds spaces, control or non-ASCII characters, which an Authorization header "
                          "cannot carry unchanged; use letters, digits and -._~+/ only")
    return token


def http_app(settings: Settings, host: str = "127.0.0.1", port: int = 8765, path: str = "/mcp") -> Any:
    token = os.environ.get(TOKEN_ENV) or None  # set but empty: as unset (loopback only, below)
    if token is not None:
        token = check_token(token)
    if host not in LOOPBACK and not token:
        raise ConfigError(f"binding {host} exposes the store to the network: set {TOKEN_ENV} to a secret token "
                          "(clients send it as 'Authorization: Bearer <token>'), or bind 127.0.0.1")
    allowed_hosts = [f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")] + [f"{host}:{port}", host]
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts,
                                         allowed_origins=[f"http://{h}" for h in allowed_hosts])
    server = build_server(settings)
    app = server.streamable_http_app(streamable_http_path=path, transport_security=security, host=host)
    mount_dashboard(app, settings, host, token)
    app = UnparsableRequestMiddleware(app, security, path)
    return BearerTokenMiddleware(app, token, exempt=DASHBOARD_PATH) if token else app


def mount_dashboard(app: Any, settings: Settings, host: str, token: str | None) -> None:
    """The dashboard at /dashboard, under the same loopback / token rules (it checks them itself)."""
    from starlette.routing import Mount

    from mcp_distill.dashboard import dashboard_app

    app.router.routes.insert(0, Mount(DASHBOARD_PATH, app=dashboard_app(settings, host=host, token=token)))


def serve_http(settings: Settings, host: str = "127.0.0.1", port: int = 8765, path: str = "/mcp",
               announce: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted; ``announce`` gets the endpoint URL once the settings passed their checks."""
    import uvicorn

    app = http_app(settings, host, port, path)
    if announce is not None:
        shown = f"[{host}]" if ":" in host else host  # an IPv6 literal needs brackets in a URL
        announce(f"http://{shown}:{port}{path}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
