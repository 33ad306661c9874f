"""The ``mcp-distill`` command: a thin face over the library core.

Errors of the core become one line on stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mcp_distill import __version__
from mcp_distill.cli import core, dashboard, datasets, decisions, interop, knowledge, ledger, mapping, store
from mcp_distill.cli.common import HELP_STYLE, CliState, err
from mcp_distill.config import DB_ENV, ROOTS_ENV, RULES_ENV, Settings
from mcp_distill.errors import DistillError
from mcp_distill.redact import redact

app = typer.Typer(
    name="mcp-distill",
    help="Turn the JSONL exhaust of agent loops into evidence, scored runs, playbooks, datasets and routing "
         "decisions, in one SQLite file; serve them over MCP.",
    no_args_is_help=True,
    rich_markup_mode=HELP_STYLE,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mcp-distill {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    db: Annotated[str | None, typer.Option(help=f"Store: a SQLite file, or a postgresql://user@host:port/dbname URL "
                                           f"of a team server (env {DB_ENV}; default store/distill.db).")] = None,
    root: Annotated[list[str] | None, typer.Option(help=f"Folder tools may read (repeatable; env {ROOTS_ENV}; "
                                                        "default: the current folder).")] = None,
    rules: Annotated[str | None, typer.Option(help=f"Scoring rules TOML (env {RULES_ENV}).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    state = CliState(Settings.from_env(db=db, roots=root, rules=rules), as_json)
    ctx.ensure_object(dict)["state"] = state
    ctx.call_on_close(state.close)


core.register(app)
knowledge.register(app)
datasets.register(app)
decisions.register(app)
ledger.register(app)
interop.register(app)
dashboard.register(app)
store.register(app)
mapping.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; usage errors are reported by typer (exit 2), core errors as one line (exit 1)."""
    try:
        app(args=argv, prog_name="mcp-distill")
    except DistillError as exc:
        err.print(f"[red]error:[/] {redact(exc.for_cli())[0]}", highlight=False, soft_wrap=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["app", "main", "run"]
