"""The ``mcp-distill`` command: a thin face over the library core.

Errors of the core become one line on stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer

from ..config import DB_ENV, ROOTS_ENV, RULES_ENV, Settings
from ..errors import DistillError
from . import core
from .common import CliState, err

app = typer.Typer(
    name="mcp-distill",
    help="Turn the JSONL exhaust of agent loops into evidence, scored runs, playbooks, datasets and routing "
         "decisions, in one SQLite file; serve them over MCP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option(help=f"SQLite store (env {DB_ENV}; default store/distill.db).")] = None,
    root: Annotated[list[str] | None, typer.Option(help=f"Folder tools may read (repeatable; env {ROOTS_ENV}; "
                                                        "default: the current folder).")] = None,
    rules: Annotated[str | None, typer.Option(help=f"Scoring rules TOML (env {RULES_ENV}).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    state = CliState(Settings.from_env(db=db, roots=root, rules=rules), as_json)
    ctx.ensure_object(dict)["state"] = state
    ctx.call_on_close(state.close)


core.register(app)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except DistillError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return 1
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
