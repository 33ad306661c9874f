"""``mcp-distill ledger``: the model routing ledger as a table, and ``ledger recommend`` for one task type."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, command_group, emit, err, out, table_of
from mcp_distill.ledger import Recommendation, ledger_entries, recommend, refresh_ledger
from mcp_distill.models import ModelLedgerEntry

ledger_app = command_group(
    "The model routing ledger: success per task type x model (best first by the 95% Wilson lower bound), "
    "latency, cost, role and partner; `ledger recommend TASK_TYPE` picks a model and says why.",
    invoke_without_command=True)

MaxCost = Annotated[float | None, typer.Option(min=0, help="Recommendation budget: mean USD per run.")]
MaxLatency = Annotated[float | None, typer.Option(min=0, help="Recommendation budget: p95 latency in ms.")]
Rebuild = Annotated[bool, typer.Option(help="Rebuild from scratch instead of an incremental refresh.")]


@ledger_app.callback()
def ledger(
    ctx: typer.Context,
    task_type: Annotated[str | None, typer.Option(help="Only this task type (and recommend a model for it).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (exact name or glob).")] = None,
    max_cost: MaxCost = None,
    max_latency_ms: MaxLatency = None,
    rebuild: Rebuild = False,
) -> None:
    """The ledger table; with --task-type, also a recommendation and why."""
    if ctx.invoked_subcommand:  # `ledger recommend ...` prints its own answer
        return
    state = cli_state(ctx)
    refresh_ledger(state.store, rebuild=rebuild, command="cli:ledger")
    entries = ledger_entries(state.store, task_type=task_type, model=model, refresh=False, decided_only=True)
    # With a task type, recommend() also says what is wrong when it has no data (and which task types do).
    rec = recommend(state.store, task_type, max_cost=max_cost, max_latency_ms=max_latency_ms,
                    refresh=False) if task_type else None
    if state.as_json:
        emit(state, {"entries": [e.model_dump(mode="json") for e in entries],
                     "recommendation": rec.model_dump(mode="json") if rec else None})
        return
    out.print(ledger_table(entries))
    if not entries:
        err.print("no scored runs in the ledger" + (f" for model {model!r}" if model else "")
                  + "; collect and score evidence first (`mcp-distill run PATH`)", highlight=False, soft_wrap=True)
    if rec:
        print_recommendation(rec)


@ledger_app.command("recommend")
def ledger_recommend(
    ctx: typer.Context,
    task_type: Annotated[str, typer.Argument(help="The task type to route (see `mcp-distill ledger`).")],
    max_cost: MaxCost = None,
    max_latency_ms: MaxLatency = None,
) -> None:
    """Which model to route TASK_TYPE to (optionally under a cost or latency budget), and why."""
    state = cli_state(ctx)
    refresh_ledger(state.store, command="cli:ledger recommend")
    rec = recommend(state.store, task_type, max_cost=max_cost, max_latency_ms=max_latency_ms, refresh=False)
    if state.as_json:
        emit(state, rec.model_dump(mode="json"))
        return
    print_recommendation(rec)


def ledger_table(entries: list[ModelLedgerEntry]) -> Table:
    return table_of("routing ledger (best first by Wilson lower bound)",
                    ["task_type", "model", "runs", "ok", "rate", "bound", "role", "p50 ms", "p95 ms", "cost/run",
                     "partner"],
                    [[e.task_type, e.model_name, e.sample_count, e.success_count, _fraction(e.success_rate),
                      _fraction(e.success_lower_bound), e.escalation_role, _num(e.latency_p50), _num(e.latency_p95),
                      "-" if e.cost_mean is None else f"${e.cost_mean:.4f}", e.best_partner_model or "-"]
                     for e in entries])


def print_recommendation(rec: Recommendation) -> None:
    out.print(f"[bold]recommend {rec.model_name}[/] for {rec.task_type}: {rec.reason}")


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
