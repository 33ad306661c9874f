"""Commands for PRD drift and scratchpads."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, emit, kv_table, out
from mcp_distill.drift.snapshots import get_snapshot, latest_snapshot, list_snapshots, run_drift
from mcp_distill.ledger.routing import ledger_entries, recommend, refresh_ledger
from mcp_distill.scratchpad.normalize import get_scratchpad, normalize

scratchpad_app = typer.Typer(help="Normalise free-text agent scratchpads.", no_args_is_help=True)
drift_app = typer.Typer(help="PRD claims checked against the repository at a git revision.", no_args_is_help=True)


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
    snap = report.snapshot
    if state.as_json:
        emit(state, report.model_dump(mode="json"))
        return
    table = Table(title=f"{snap.snapshot_id} at {snap.repo_sha[:12]}" + (" (cached)" if report.cached else ""))
    for col in ("status", "claim", "evidence"):
        table.add_column(col)
    for result in snap.claims:
        evidence = "; ".join(f"{'found' if e.found else 'MISSING'} {e.reference.kind}:{e.reference.value}"
                             for e in result.evidence)
        table.add_row(result.status + (" (fake)" if result.fake else ""), result.claim.text[:70], evidence[:90])
    out.print(table)
    out.print(kv_table("totals", snap.totals))
    if report.comparison:
        comp = report.comparison
        out.print(kv_table("drift", {"newly broken": len(comp.newly_broken), "newly verified": len(comp.newly_verified),
                                     "appeared": len(comp.appeared), "disappeared": len(comp.disappeared)}))
        for change in comp.newly_broken:
            out.print(f"[red]broken:[/] {change.text}")

@drift_app.command("show")
def drift_show(ctx: typer.Context, snapshot_id: Annotated[str, typer.Argument(help="Snapshot id or 'latest'.")]) -> None:
    """One stored snapshot as JSON."""
    state = cli_state(ctx)
    snap = latest_snapshot(state.store) if snapshot_id == "latest" else get_snapshot(state.store, snapshot_id)
    out.print_json(snap.model_dump_json())

@drift_app.command("list")
def drift_list(ctx: typer.Context, limit: int = 20) -> None:
    """Stored snapshots, newest first."""
    state = cli_state(ctx)
    emit(state, list_snapshots(state.store, limit))

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


def ledger(
    ctx: typer.Context,
    task_type: Annotated[str | None, typer.Option(help="Only this task type (and recommend a model for it).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (exact name or glob).")] = None,
    max_cost: Annotated[float | None, typer.Option(help="Recommendation budget: mean USD per run.")] = None,
    max_latency_ms: Annotated[float | None, typer.Option(help="Recommendation budget: p95 latency in ms.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Rebuild from scratch instead of an incremental refresh.")] = False,
) -> None:
    """The model routing ledger, sorted by the 95% Wilson lower bound of success; with --task-type, a
    recommendation and why."""
    state = cli_state(ctx)
    refresh_ledger(state.store, rebuild=rebuild, command="cli:ledger")
    entries = ledger_entries(state.store, task_type=task_type, model=model, refresh=False)
    rec = None
    if task_type:
        rec = recommend(state.store, task_type, max_cost=max_cost, max_latency_ms=max_latency_ms, refresh=False)
    if state.as_json:
        emit(state, {"entries": [e.model_dump(mode="json") for e in entries],
                     "recommendation": rec.model_dump(mode="json") if rec else None})
        return
    table = Table(title="routing ledger (best first by Wilson lower bound)")
    for col in ("task_type", "model", "runs", "ok", "rate", "bound", "role", "p50 ms", "p95 ms", "cost/run",
                "partner"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.task_type, e.model_name, str(e.sample_count), str(e.success_count),
                      "-" if e.success_rate is None else f"{e.success_rate:.2f}",
                      "-" if e.success_lower_bound is None else f"{e.success_lower_bound:.2f}",
                      e.escalation_role, _num(e.latency_p50), _num(e.latency_p95),
                      "-" if e.cost_mean is None else f"${e.cost_mean:.4f}", e.best_partner_model or "-")
    out.print(table)
    if rec:
        out.print(f"[bold]recommend {rec.model_name}[/] for {rec.task_type}: {rec.reason}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(ledger)
    app.add_typer(drift_app, name="drift")
    app.add_typer(scratchpad_app, name="scratchpad")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
