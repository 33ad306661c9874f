"""Mapping commands: suggest a mapping file for logs of a format mcp-distill has no adapter for."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from mcp_distill.adapters import suggest_for_paths
from mcp_distill.cli.common import cli_state, emit, err, out
from mcp_distill.errors import InvalidInputError
from mcp_distill.redact import redact_string

mapping_app = typer.Typer(help="Mapping files: teach collect a log format without code.", no_args_is_help=True)


@mapping_app.command("suggest")
def suggest(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="JSONL, JSON or YAML files of one format (inside the roots).")],
    name: Annotated[str | None, typer.Option(help="Stream name of the records (default: from the first file's "
                                                  "name).")] = None,
    out_file: Annotated[str | None, typer.Option("--out", help="Write the mapping to this file instead of "
                                                               "printing it.")] = None,
    force: Annotated[bool, typer.Option(help="With --out: replace an existing file.")] = False,
) -> None:
    """Print a complete, commented TOML mapping inferred from the files' first rows: each field's detected role
    (run, task, time, model, tokens, cost, outcome, prompt, answer) with example values. Use it unchanged or
    edited: `mcp-distill collect FILE --mapping MAPPING.toml`."""
    state = cli_state(ctx)
    suggestion = suggest_for_paths(state.settings, files, name=name)
    if state.as_json:
        emit(state, suggestion.model_dump(mode="json"))
        return
    if out_file is None:
        # no wrapping, markup or highlighting: the text must stay valid TOML when piped into a file
        out.print(suggestion.toml, end="", soft_wrap=True, markup=False, highlight=False)
        return
    target = Path(out_file)
    if target.exists() and not force:
        raise InvalidInputError(f"{target} exists; pass --force to replace it, or another --out")
    target.write_text(redact_string(suggestion.toml, out.key, Counter()), encoding="utf-8")
    err.print(f"wrote {target}: stream {suggestion.name}, {len(suggestion.fields)} field(s) mapped from "
              f"{suggestion.rows_sampled} row(s); collect with --mapping {target}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(mapping_app, name="mapping")
