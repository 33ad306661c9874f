"""Opening the store with other tools: ``mcp-distill sql`` and ``mcp-distill datasette`` (sqlite-vec loaded)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from mcp_distill.cli.common import cli_state, emit, err, out, table_of
from mcp_distill.store import SQL_ROW_LIMIT, datasette_command, run_sql, vec_path


def sql(
    ctx: typer.Context,
    statement: Annotated[str | None, typer.Argument(help="One SQL statement, quoted: \"SELECT ...\".")] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow a statement that changes the store (run in one "
                                                        "transaction, committed only when it succeeds).")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Most rows printed.")] = SQL_ROW_LIMIT,
    show_vec_path: Annotated[bool, typer.Option("--vec-path", help="Print the sqlite-vec extension file (for "
                                                                   "--load-extension of sqlite-utils or Datasette) "
                                                                   "and exit.")] = False,
) -> None:
    """Query the store with sqlite-vec loaded (vec_distance_l2(), vec_to_json(), the search_vec table).
    Read-only unless --write; blobs print as their size (use hex() or vec_to_json() to see them)."""
    if show_vec_path:
        typer.echo(vec_path())
        return
    state = cli_state(ctx)
    result = run_sql(state.settings.db_path, statement or "", write=write, limit=limit)
    if state.as_json:  # rows as objects; a statement without rows (an UPDATE) gives the rows it changed
        emit(state, result.as_dicts() if result.columns else {"changes": result.changes})
        return
    if result.columns:
        out.print(table_of("", result.columns, result.rows))
    for note in result.notes:
        err.print(f"note: {note}; raise --limit to see more", highlight=False)
    if result.changes is not None:
        out.print(f"{result.changes} row(s) changed", highlight=False)


def datasette(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Bind address (Datasette's --host).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (Datasette's --port; 0 picks a free one).")] = 8001,
) -> None:
    """Browse the store in Datasette (when installed: `pip install datasette`), sqlite-vec loaded, on a
    SQLite build that can load extensions. Arguments after -- go to `datasette serve`."""
    state = cli_state(ctx)
    command = datasette_command(state.settings.db_path, ["--host", host, "--port", str(port), *ctx.args])
    err.print(f"Datasette on http://{host}:{port}/ over {state.settings.db_path}; Ctrl-C stops it", highlight=False)
    sys.stderr.flush()
    # Datasette takes this process's place: Ctrl-C and signals reach it directly, no wrapper is left behind.
    os.execv(command[0], command)


def register(app: typer.Typer) -> None:
    app.command()(sql)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(datasette)
