"""Shared pieces of the CLI: settings from global options, progress bars, output helpers."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mcp_distill.config import Settings
from mcp_distill.progress import Progress as CoreProgress
from mcp_distill.redact import redact_string, redact_tree, redaction_key
from mcp_distill.score import ScoringRules, load_rules
from mcp_distill.search import Embedder, embedder_from_env
from mcp_distill.store import Store, open_store


# Piped output is not cut to 80 columns: tables stay readable in logs and CI.
class RedactingConsole(Console):
    """A console that redacts what it prints: the CLI's one choke point for show commands.

    Strings, tables (cell by cell, before wrapping could split a secret) and JSON texts pass
    :mod:`mcp_distill.redact.edges`; ``key`` becomes the store's key once a store is open, so ids
    get the same placeholders as in exports and MCP results.
    """

    key: bytes = os.urandom(32)

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        counts: Counter[str] = Counter()
        cleaned = [redact_string(o, self.key, counts) if isinstance(o, str)
                   else redact_table(o, self.key) if isinstance(o, Table) else o for o in objects]
        super().print(*cleaned, **kwargs)

    def print_json(self, json: str | None = None, **kwargs: Any) -> None:  # type: ignore[override]
        if json is not None:
            json = redact_string(json, self.key, Counter())
        if kwargs.get("data") is not None:
            kwargs["data"] = redact_tree(orjson.loads(orjson.dumps(kwargs["data"], default=str)), self.key)[0]
        super().print_json(json, **kwargs)


def redact_table(table: Table, key: bytes) -> Table:
    """Every text cell redacted before rendering (after it, a wrapped cell would split a secret)."""
    counts: Counter[str] = Counter()
    table.title = redact_string(table.title, key, counts) if isinstance(table.title, str) else table.title
    for column in table.columns:
        cells = getattr(column, "_cells", None)
        if isinstance(cells, list):
            column._cells = [redact_string(c, key, counts) if isinstance(c, str) else c for c in cells]
    return table


out = RedactingConsole(width=None if sys.stdout.isatty() else 160)
err = RedactingConsole(stderr=True, width=None if sys.stderr.isatty() else 160)


class CliState:
    def __init__(self, settings: Settings, as_json: bool):
        self.settings = settings
        self.as_json = as_json
        self._store: Store | None = None
        self._embedder: Embedder | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.db_path)
            out.key = err.key = redaction_key(self._store)  # stable placeholders from here on
        return self._store

    def rules(self) -> ScoringRules:
        return load_rules(self.settings.rules_path)

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = embedder_from_env()
        return self._embedder

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def cli_state(ctx: typer.Context) -> CliState:
    return ctx.ensure_object(dict)["state"]


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[CoreProgress]:
    """A rich progress bar on stderr (hidden when stderr is not a terminal) fed by core callbacks."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, total, message: None
        return
    with Progress(TextColumn("[bold]" + label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=err, transient=False) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int | None, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message[:40])

        yield update


def emit(state: CliState, data: Any, table: Table | None = None) -> None:
    """JSON on --json (for scripts), else the table when there is one; redacted either way (``out``)."""
    if state.as_json or table is None:
        data = redact_tree(orjson.loads(orjson.dumps(data, default=str)), out.key)[0]
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.print(table)


#: Plain click-style help: typer's rich panels print every flag with a type (``--json <bool>``), which
#: reads as if a flag took a value; the plain layout prints a flag bare and a choice as ``<a|b|c>``.
HELP_STYLE = None


def command_group(help: str, **kwargs: Any) -> typer.Typer:
    """A typer app for a group of subcommands, with the CLI's help style (see :data:`HELP_STYLE`)."""
    kwargs.setdefault("no_args_is_help", not kwargs.get("invoke_without_command", False))
    return typer.Typer(help=help, rich_markup_mode=HELP_STYLE, **kwargs)


def table_of(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A rich table with these column headers; cells are printed as text ('' for None)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    return table


def kv_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(key, str(value))
    return table
