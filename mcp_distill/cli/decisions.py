"""Commands for PRD drift and scratchpads."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, command_group, emit, kv_table, out, table_of
from mcp_distill.drift import get_snapshot, latest_snapshot, list_snapshots, run_drift
from mcp_distill.models import DriftSnapshot
from mcp_distill.scratchpad import get_scratchpad, normalize

scratchpad_app = command_group("Normalise free-text agent scratchpads.")
drift_app = command_group("PRD claims checked against the repository at a git revision.")


@drift_app.command("check")
def drift_check(
    ctx: typer.Context,
    prd_path: Annotated[str, typer.Argument(help="PRD markdown file or folder of .md files.")],
    repo_path: Annotated[str, typer.Argument(help="Top folder of the git repository.")] = ".",
    rev: Annotated[str, typer.Option(help="Git revision to check.")] = "HEAD",
    compare_to: Annotated[str | None, typer.Option(help="Snapshot id or revision to compare with.")] = None,
) -> None:
    """Check every claim at REV and store a snapshot; with --compare-to, show what drifted."""
    state = cli_state(ctx)
    report = run_drift(state.store, state.settings, prd_path, repo_path, rev=rev, compare_to=compare_to)
    if state.as_json:
        emit(state, report.model_dump(mode="json"))
        return
    print_snapshot(report.snapshot, cached=report.cached)
    if report.comparison:
        comp = report.comparison
        out.print(kv_table("drift", {"newly broken": len(comp.newly_broken), "newly verified": len(comp.newly_verified),
                                     "appeared": len(comp.appeared), "disappeared": len(comp.disappeared)}))
        for change in comp.newly_broken:
            out.print(f"[red]broken:[/] {change.text}")

def print_snapshot(snap: DriftSnapshot, cached: bool = False) -> None:
    """A snapshot as a table of claims (status, text, evidence) and its totals."""
    table = Table(title=f"{snap.snapshot_id} at {snap.repo_sha[:12]}" + (" (cached)" if cached else ""))
    for col in ("status", "claim", "evidence"):
        table.add_column(col)
    for result in snap.claims:
        evidence = "; ".join(f"{'found' if e.found else 'MISSING'} {e.reference.kind}:{e.reference.value}"
                             for e in result.evidence)
        table.add_row(result.status + (" (fake)" if result.fake else ""), result.claim.text[:70], evidence[:90])
    out.print(table)
    out.print(kv_table("totals", snap.totals))


@drift_app.command("show")
def drift_show(ctx: typer.Context, snapshot_id: Annotated[str, typer.Argument(help="Snapshot id or 'latest'.")]) -> None:
    """One stored snapshot: its claims with their evidence, and totals (--json: every field)."""
    state = cli_state(ctx)
    snap = latest_snapshot(state.store) if snapshot_id == "latest" else get_snapshot(state.store, snapshot_id)
    if state.as_json:
        emit(state, snap.model_dump(mode="json"))
        return
    out.print(f"PRD {snap.prd_path} against {snap.repo_path} at {snap.rev} ({snap.repo_sha[:12]}), "
              f"checked {snap.created_at:%Y-%m-%d %H:%M} UTC", highlight=False)
    print_snapshot(snap)


@drift_app.command("list")
def drift_list(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Stored snapshots, newest first."""
    state = cli_state(ctx)
    rows = list_snapshots(state.store, limit)
    totals = [", ".join(f"{k} {v}" for k, v in r["totals"].items()) for r in rows]
    emit(state, rows, table_of("drift snapshots (newest first)",
                               ["snapshot_id", "prd", "repo", "rev", "sha", "last run", "claims", "totals"],
                               [[r["snapshot_id"], r["prd_path"], r["repo_path"], r["rev"], r["repo_sha"][:12],
                                 r["last_run_at"], r["claim_count"], t] for r, t in zip(rows, totals, strict=True)]))


@scratchpad_app.command("normalize")
def scratchpad_normalize(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Scratchpad file (markdown, checklist, log, chat history).")],
    run_id: Annotated[str | None, typer.Option(help="Store the summary under this run.")] = None,
    llm: Annotated[bool | None, typer.Option("--llm/--no-llm", help="Force the optional LLM refinement on/off.")]
    = None,
) -> None:
    """Objective, steps, paths, decisions, questions, validation status and next command, as JSON."""
    state = cli_state(ctx)
    summary = normalize(state.store, path=path, run_id=run_id, settings=state.settings, llm=llm,
                        command="cli:scratchpad normalize")
    out.print_json(summary.model_dump_json())

@scratchpad_app.command("show")
def scratchpad_show(ctx: typer.Context, run_id: str) -> None:
    """The stored summary of a run."""
    state = cli_state(ctx)
    out.print_json(get_scratchpad(state.store, run_id).model_dump_json())



def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(drift_app, name="drift")
    app.add_typer(scratchpad_app, name="scratchpad")

