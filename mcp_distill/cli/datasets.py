"""Dataset commands: export and validate."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, emit, err, kv_table, out, progress_bar, table_of
from mcp_distill.datasets import KINDS, export_dataset, validate_export
from mcp_distill.errors import ValidationFailedError

#: The export kinds as a choice in --help (the core's KINDS, so a new kind shows up by itself).
ExportKind = Literal[KINDS]  # type: ignore[valid-type]


def files_table(result: dict) -> Table:
    table = Table(title=f"exported to {result['out_dir']}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, info in result["files"].items():
        table.add_row(name, str(info["rows"]))
    return table


def export(
    ctx: typer.Context,
    kind: Annotated[ExportKind, typer.Option(help="Which dataset to write.")] = "all",
    out_dir: Annotated[str, typer.Option("--out", help="Output folder.")] = "exports",
    rag_format: Annotated[Literal["chunks", "beir"], typer.Option(
        "--format",
        help="Layout of the RAG export: chunks (rag/chunks.jsonl) or beir (rag/corpus.jsonl, rag/queries.jsonl, "
             "rag/qrels/test.tsv: BEIR's GenericDataLoader reads rag/).")] = "chunks",
) -> None:
    """Write RAG / SFT / preference JSONL with receipt.json; redacted, deduplicated, validated."""
    state = cli_state(ctx)
    target = out_dir  # a person at the shell may write anywhere; the MCP tool checks its out_dir against the roots
    with progress_bar("export") as bar:
        result = export_dataset(state.store, kind=kind, out_dir=target, progress=bar, command="cli:export",
                                rag_format=rag_format)
    emit(state, result, files_table(result))
    if not state.as_json:
        redacted = sum(result.get("redactions", {}).values())
        out.print(f"validation ok ({result['validation']['rows']} rows checked); {redacted} secret(s) redacted; "
                  f"receipt {result['receipt_id']}")

def validate(
    ctx: typer.Context,
    directory: Annotated[str, typer.Argument(help="An export folder (the one holding sft/, preference/, rag/).")],
) -> None:
    """Check an export against the store: accepted-only SFT, one-task pairs, provenance, schemas, no secrets."""
    state = cli_state(ctx)
    report = validate_export(state.store, directory)
    summary = report.summary()
    emit(state, summary, table_of(f"validated {directory}: {'ok' if report.ok else 'FAILED'}", ["file", "rows"],
                                  [[name, rows] for name, rows in summary["files"].items()]))
    if not state.as_json:
        out.print(kv_table("checks", {**summary["checks"], "problems": summary["error_count"]}))
    if not report.ok:
        for message in report.errors[:20]:
            err.print(f"- {message}", soft_wrap=True)
        raise ValidationFailedError(f"{report.error_count} problem(s) in {directory}; fix or re-run "
                                    "`mcp-distill export`")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(export)
    app.command()(validate)
