"""What every dashboard page shares: the :class:`Dashboard` state, template rendering, the CSRF
check and the error-to-page wrapper. A leaf: the pages import it, it imports no page."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mcp_distill.config import Settings
from mcp_distill.dashboard import filters
from mcp_distill.errors import DistillError, InvalidInputError, NotFoundError
from mcp_distill.score import ScoringRules, load_rules
from mcp_distill.search import Embedder, embedder_from_env
from mcp_distill.store import Store, open_store

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSRF_COOKIE = "distill_csrf"
TOKEN_COOKIE = "distill_token"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


@dataclass
class Dashboard:
    """What every page needs: the store (opened on first use), rules, embedder, reviewer, token."""

    settings: Settings
    host: str = "127.0.0.1"
    token: str | None = None
    reviewer: str | None = None
    _store: Store | None = None
    _rules: ScoringRules | None = None
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings.db_path)
            return self._store

    @property
    def rules(self) -> ScoringRules:
        if self._rules is None:
            self._rules = load_rules(self.settings.rules_path)
        return self._rules

    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_from_env()
            return self._embedder

    def reviewer_name(self) -> str:
        """Who decides: the --reviewer option; else the token's label (a fingerprint, never the secret);
        else the local account, since on loopback without a token only this machine's user can reach it."""
        if self.reviewer:
            return self.reviewer
        if self.token:
            return "token:" + hashlib.sha256(self.token.encode()).hexdigest()[:8]
        return f"local:{getpass.getuser()}"

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


_env = Environment(loader=PackageLoader("mcp_distill.dashboard", "templates"),
                   autoescape=select_autoescape(["html"], default=True), trim_blocks=True, lstrip_blocks=True)
filters.install(_env)

NAV = [("overview", ""), ("runs", "/runs"), ("review", "/review"), ("playbooks", "/playbooks"),
       ("ledger", "/ledger"), ("drift", "/drift"), ("datasets", "/datasets")]


def base_path(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(32)
    return token


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    dash: Dashboard = request.app.state.dashboard
    base = base_path(request)

    def link(path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"{base}{path}" + (f"?{query}" if query else "")

    html = _env.get_template(template).render(
        base=base, nav=NAV, page=context.pop("page", template.removesuffix(".html")), link=link,
        csrf=csrf_token(request), reviewer=dash.reviewer_name(), store_path=str(dash.settings.db_path), **context)
    response = HTMLResponse(html, status_code=status)
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path=base or "/")
    return response


def check_csrf(request: Request, form_token: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not form_token or not hmac.compare_digest(cookie, form_token):
        raise PermissionError("the form's CSRF token does not match: reload the page and submit again")
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise PermissionError(f"a form from {origin} may not post here: use the dashboard's own page")


def page(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Core errors become a page saying what to do (400 bad input, 404 unknown, 403 refused)."""

    def wrapped(request: Request) -> Response:
        try:
            return handler(request)
        except NotFoundError as exc:
            return render(request, "error.html", 404, page="error", message=str(exc))
        except (InvalidInputError, ValueError) as exc:
            return render(request, "error.html", 400, page="error", message=str(exc))
        except PermissionError as exc:
            return render(request, "error.html", 403, page="error", message=str(exc))
        except DistillError as exc:
            return render(request, "error.html", 500, page="error", message=str(exc))

    wrapped.__name__ = handler.__name__
    return wrapped
