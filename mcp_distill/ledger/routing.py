"""Model Routing Ledger: how each model fares on each task type, and which model to route a task to.

The rules (who did a run, roles, outcomes, failure modes, partners, Wilson ranking, latency and
cost) are documented and implemented in :mod:`mcp_distill.ledger.rules` (pure); contributions,
deltas, the aggregate tables and the incremental refresh in :mod:`mcp_distill.ledger.aggregate`. This
module is the public face: :func:`refresh_ledger`, :func:`ledger_entries`, :func:`ledger_task_types`,
:func:`recommend` and :class:`Recommendation`; it re-exports the rules' public names
(:func:`wilson_lower_bound`, :func:`load_model_config`...) so ``from mcp_distill.ledger.routing import ...``
keeps working.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.ledger.aggregate import (
    _LOCKS_GUARD,
    _REFRESH_LOCKS,
    BATCH_RUNS,
    _entries_where,
    _refresh,
    _Superseded,
)
from mcp_distill.ledger.repository import ledger_task_types
from mcp_distill.ledger.rules import (
    BIN_RATIO,
    DECISIVE,
    DEFAULT_MODELS,
    LEDGER_VERSION,
    MODELS_ENV,
    SEQUENCE_ROLES,
    TOP_FAILURE_MODES,
    UNSPECIFIED,
    Z95,
    Contribution,
    EvidenceRow,
    Key,
    ModelConfig,
    ModelInfo,
    bin_value,
    hist_percentile,
    latency_bin,
    load_model_config,
    run_contributions,
    unit_pairs,
    wilson_lower_bound,
)
from mcp_distill.models import ModelLedgerEntry
from mcp_distill.progress import Progress
from mcp_distill.store import Store

__all__ = [
    "BATCH_RUNS", "BIN_RATIO", "DECISIVE", "DEFAULT_MODELS", "LEDGER_VERSION", "MODELS_ENV", "SEQUENCE_ROLES",
    "TOP_FAILURE_MODES", "UNSPECIFIED", "Z95", "Contribution", "EvidenceRow", "Key", "ModelConfig", "ModelInfo",
    "Progress", "Recommendation", "bin_value", "hist_percentile", "latency_bin", "ledger_entries",
    "ledger_task_types", "load_model_config", "recommend", "refresh_ledger", "run_contributions", "unit_pairs",
    "wilson_lower_bound",
]


# ----------------------------------------------------------------------------- refresh


def refresh_ledger(store: Store, progress: Progress | None = None, *, rebuild: bool = False,
                   config_path: str | Path | None = None, command: str = "ledger refresh") -> dict[str, Any]:
    """Bring the ledger up to date with the evidence and scores; incremental unless ``rebuild``.

    Only runs with new evidence rows or a changed score / membership are recomputed, so the cost is
    in proportion to what changed. The first refresh, ``rebuild=True``, or a changed aggregation
    setting (``[ledger]`` of models.toml) rebuilds from scratch. A refresh that changes anything
    writes a receipt (stage ``ledger``). Refreshes of one store are serialised in this process; across
    processes, a rebuild bumps a generation token and an older refresh stops at its next batch.
    """
    with _LOCKS_GUARD:
        where = store.path.resolve() if isinstance(store.path, Path) else store.path  # a file, or a server URL
        lock = _REFRESH_LOCKS.setdefault(str(where), threading.Lock())
    with lock:
        started = time.perf_counter()
        try:
            result = _refresh(store, progress, rebuild, load_model_config(config_path), command)
        except _Superseded:
            result = {"mode": "superseded", "runs_refreshed": 0, "receipt_id": None}
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return result


# ----------------------------------------------------------------------------- reading the ledger


def _rank(e: ModelLedgerEntry) -> tuple[Any, ...]:
    """Bound, then rate, then samples (descending); then cheaper, faster, and by name."""
    return (e.success_lower_bound is None, -(e.success_lower_bound or 0.0), -(e.success_rate or 0.0),
            -e.sample_count, e.cost_mean is None, e.cost_mean or 0.0, e.latency_p50 is None,
            e.latency_p50 or 0.0, e.task_type, e.model_name)


def ledger_entries(store: Store, task_type: str | None = None, model: str | None = None, *, refresh: bool = True,
                   config_path: str | Path | None = None, decided_only: bool = False) -> list[ModelLedgerEntry]:
    """One entry per task_type x model, best first (by the 95% Wilson lower bound of success).

    ``model`` is an exact name or a glob (``qwen*``). ``refresh`` first brings the ledger up to date
    (cheap when nothing changed; pass False for a read that must not write). ``decided_only`` leaves
    out entries without one decisive (scored) run: a row of zeros tells a reader nothing.
    """
    if refresh:
        refresh_ledger(store, config_path=config_path)
    config = load_model_config(config_path)
    entries = _entries_where(store, config, task_type=task_type)
    if model is not None:
        if any(ch in model for ch in "*?["):
            entries = [e for e in entries if fnmatch.fnmatchcase(e.model_name.lower(), model.lower())]
        else:
            entries = [e for e in entries if e.model_name == model]
    if decided_only:
        entries = [e for e in entries if e.sample_count]
    return sorted(entries, key=_rank)



# ----------------------------------------------------------------------------- recommendation


class Recommendation(BaseModel):
    """Which model to route a task type to, and why."""

    model_name: str
    task_type: str
    reason: str
    entry: ModelLedgerEntry
    runner_up: ModelLedgerEntry | None = None
    considered: int = Field(ge=1, description="Models with scored runs that met the constraints.")
    excluded: list[str] = Field(default_factory=list, description="Models left out, each with why.")


def _money(x: float | None) -> str:
    return "unknown" if x is None else f"${x:.5f}"


def _ms(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.0f} ms"


def _rate(e: ModelLedgerEntry) -> str:
    return f"bound {e.success_lower_bound:.3f} ({e.success_count}/{e.sample_count} accepted = {e.success_rate:.1%})"


def _compare(a: float | None, b: float | None, lower: str, higher: str) -> str:
    if a is None or b is None:
        return ""
    if a == b:
        return " (equal)"
    if a == 0 or b == 0:  # a free model (cost $0) has no finite ratio to another
        return f" ({lower})" if a < b else f" ({higher})"
    ratio = a / b
    return f" ({1 / ratio:.1f}x {lower})" if ratio < 1 else f" ({ratio:.1f}x {higher})"


def recommend(store: Store, task_type: str, max_cost: float | None = None, max_latency_ms: float | None = None,
              *, refresh: bool = True, config_path: str | Path | None = None) -> Recommendation:
    """The model for ``task_type`` with the highest 95% Wilson lower bound of success among those meeting
    ``max_cost`` (mean cost per run, USD) and ``max_latency_ms`` (p95 latency); unknown values do not
    meet a constraint. Ties fall to the higher rate, more samples, lower cost, lower p50, then name.
    """
    for name, value in (("max_cost", max_cost), ("max_latency_ms", max_latency_ms)):
        if value is not None and (not isinstance(value, int | float) or value < 0):
            flag = "--" + name.replace("_", "-")
            raise InvalidInputError(f"{name} must be a non-negative number, got {value!r}",
                                    cli=f"{flag} must be a non-negative number, got {value!r}")
    entries = ledger_entries(store, task_type=task_type, refresh=refresh, config_path=config_path)
    if not entries:
        known = ledger_task_types(store)
        listing = ", ".join(known) if known else "none yet (collect and score evidence first)"
        raise NotFoundError(f"no ledger data for task type {task_type!r}; task types with data: {listing}")
    candidates: list[ModelLedgerEntry] = []
    excluded: list[str] = []
    for e in entries:
        if not e.sample_count:
            excluded.append(f"{e.model_name}: no scored (decisive) runs yet")
        elif max_cost is not None and (e.cost_mean is None or e.cost_mean > max_cost):
            excluded.append(f"{e.model_name}: mean cost {_money(e.cost_mean)} per run, over max_cost {_money(max_cost)}"
                            if e.cost_mean is not None else f"{e.model_name}: cost unknown (max_cost set)")
        elif max_latency_ms is not None and (e.latency_p95 is None or e.latency_p95 > max_latency_ms):
            excluded.append(f"{e.model_name}: p95 latency {_ms(e.latency_p95)}, over max_latency_ms "
                            f"{_ms(max_latency_ms)}" if e.latency_p95 is not None
                            else f"{e.model_name}: latency unknown (max_latency_ms set)")
        else:
            candidates.append(e)
    if not candidates:
        none = f"no model for task type {task_type!r} meets the constraints: {'; '.join(excluded)}"
        raise NotFoundError(f"{none}; relax max_cost / max_latency_ms or score more runs",
                            cli=f"{none}; relax --max-cost / --max-latency-ms or score more runs")
    best = candidates[0]
    runner = candidates[1] if len(candidates) > 1 else None
    reason = (f"{best.model_name} has the highest 95% Wilson lower bound of success for {task_type}: "
              f"{_rate(best)}.")
    if runner is None:
        reason += " It is the only model with scored runs that meets the constraints."
        reason += f" Cost {_money(best.cost_mean)} mean per run; latency p50 {_ms(best.latency_p50)}, " \
                  f"p95 {_ms(best.latency_p95)}."
    else:
        gap = (best.success_lower_bound or 0) - (runner.success_lower_bound or 0)
        reason += (f" Runner-up {runner.model_name}: {_rate(runner)}, {gap:.3f} lower."
                   f" Cost {_money(best.cost_mean)} vs {_money(runner.cost_mean)} mean per run"
                   f"{_compare(best.cost_mean, runner.cost_mean, 'cheaper', 'dearer')};"
                   f" latency p50 {_ms(best.latency_p50)} vs {_ms(runner.latency_p50)}"
                   f"{_compare(best.latency_p50, runner.latency_p50, 'faster', 'slower')},"
                   f" p95 {_ms(best.latency_p95)} vs {_ms(runner.latency_p95)}.")
    constraints = [f"max_cost {_money(max_cost)}" if max_cost is not None else "",
                   f"max_latency_ms {_ms(max_latency_ms)} (p95)" if max_latency_ms is not None else ""]
    if any(constraints):
        reason += f" Constraints: {', '.join(c for c in constraints if c)}."
    if excluded:
        reason += f" Excluded: {'; '.join(excluded)}."
    return Recommendation(model_name=best.model_name, task_type=task_type, reason=reason, entry=best,
                          runner_up=runner, considered=len(candidates), excluded=excluded)
