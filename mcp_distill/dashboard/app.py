"""The dashboard's Starlette app: the security guard every request passes, and the assembled routes.

Security, in the same spirit as ``serve --http``:
- Binding anything but loopback needs ``MCP_DISTILL_TOKEN``. A browser proves it once by opening
  ``/?token=...`` (the token then lives in an HttpOnly, SameSite=Strict cookie) or sends
  ``Authorization: Bearer <token>`` on every request.
- The Host header must name loopback or the bound host (DNS-rebinding protection).
- Every form post carries a CSRF token (double submit: a cookie and a hidden field must match) and,
  when the browser sends Origin, it must be this host.
- Templates autoescape every value; a Content-Security-Policy forbids scripts and outside requests.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mcp_distill.config import Settings
from mcp_distill.dashboard import pages, review
from mcp_distill.dashboard.web import CSP, LOOPBACK, TOKEN_COOKIE, Dashboard
from mcp_distill.errors import ConfigError


class Guard:
    """Plain ASGI middleware: the Host check, the token (when one is set) and security headers."""

    def __init__(self, app: Any, dash: Dashboard):
        self.app = app
        self.dash = dash
        self.hosts = LOOPBACK | {dash.host}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = _hostname(request.headers.get("host", ""))
        if host not in self.hosts:
            await _plain(403, f"host {host!r} is not this dashboard's; open it as http://127.0.0.1 or the bound "
                              "address", scope, receive, send)
            return
        if self.dash.token and not self._authorised(request):
            if request.query_params.get("token") and hmac.compare_digest(
                    request.query_params["token"].encode(), self.dash.token.encode()):
                # Swap the token in the address for a cookie, so it leaves the URL bar and history.
                base = request.scope.get("root_path", "") or "/"
                response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
                response.set_cookie(TOKEN_COOKIE, self.dash.token, httponly=True, samesite="strict", path=base)
                await response(scope, receive, send)
                return
            await _plain(401, "this dashboard needs the MCP_DISTILL_TOKEN: open it once as /?token=<token> "
                              "or send 'Authorization: Bearer <token>'", scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"content-security-policy", CSP.encode()),
                                      (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                                      (b"x-frame-options", b"DENY")]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _authorised(self, request: Request) -> bool:
        assert self.dash.token is not None
        expected = self.dash.token.encode()
        # the scheme word is case-insensitive (RFC 9110), as for the MCP endpoint; the token is exact
        scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
        by_header = hmac.compare_digest(credentials.strip().encode(), expected) and scheme.lower() == "bearer"
        return by_header or hmac.compare_digest(request.cookies.get(TOKEN_COOKIE, "").encode(), expected)


def _hostname(header: str) -> str:
    """The host part of a Host header: ``[::1]:8765`` -> ``[::1]``, ``127.0.0.1:8765`` -> ``127.0.0.1``."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


async def _plain(status: int, text: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
    await Response(text + "\n", status_code=status, media_type="text/plain")(scope, receive, send)


def dashboard_app(settings: Settings, host: str = "127.0.0.1", token: str | None = None,
                  reviewer: str | None = None) -> Any:
    """The dashboard as an ASGI app (standalone, or mounted under ``serve --http`` at /dashboard)."""
    if host not in LOOPBACK and not token:
        raise ConfigError(f"binding {host} exposes the store to the network: set MCP_DISTILL_TOKEN to a secret "
                          "token (a browser opens /?token=<token> once), or bind 127.0.0.1")
    dash = Dashboard(settings=settings, host=host, token=token, reviewer=reviewer)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            dash.close()

    app = Starlette(routes=[*pages.routes(), *review.routes()], lifespan=lifespan)
    app.state.dashboard = dash
    return Guard(app, dash)


__all__ = ["Guard", "dashboard_app"]
