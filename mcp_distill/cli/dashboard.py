"""``mcp-distill dashboard``: serve the web dashboard and review queue (a thin face over the core)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from mcp_distill.cli.common import cli_state, err
from mcp_distill.config import TOKEN_ENV


def dashboard(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help=f"Bind address; anything but loopback needs {TOKEN_ENV}.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8780,
    reviewer: Annotated[str | None, typer.Option(help="Name recorded with review decisions (default: the token's "
                                                      "label, else local:<user>).")] = None,
) -> None:
    """Serve the dashboard (overview, runs, playbooks, ledger, drift, datasets) and the review queue."""
    import uvicorn

    from mcp_distill.dashboard import dashboard_app
    from mcp_distill.server import check_token

    state = cli_state(ctx)
    token = os.environ.get(TOKEN_ENV) or None  # set but empty: as unset, exactly like serve --http
    web = dashboard_app(state.settings, host=host, token=check_token(token) if token else None, reviewer=reviewer)
    err.print(f"dashboard on http://{host}:{port}/ (store {state.settings.db_path}); Ctrl-C stops it")
    uvicorn.run(web, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(dashboard)
