"""Ledger persistence: per-run contributions stored in ``ledger_run``, signed deltas applied to the
aggregate tables, generation checks and the incremental refresh (the rules live in ``ledger_rules``).

Incrementality: see ``migrations/m006_ledger.py``. A refresh recomputes only runs with new
evidence (``evidence.id`` above the high-water mark) or a changed score/run membership
(``ledger_dirty``, filled by triggers), subtracting their previous contribution and adding the new.
Refreshes of one store are serialised in this process; across processes, a rebuild writes a new
generation token and an older refresh stops at its next batch (:class:`_Superseded`).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from mcp_distill.collect import repository as collect_db
from mcp_distill.ledger import repository as ledger_db
from mcp_distill.ledger.rules import (
    TOP_FAILURE_MODES,
    Contribution,
    EvidenceRow,
    Key,
    ModelConfig,
    hist_percentile,
    latency_bin,
    run_contributions,
    unit_pairs,
    wilson_lower_bound,
)
from mcp_distill.models import ModelLedgerEntry
from mcp_distill.progress import Progress
from mcp_distill.receipts import ReceiptBuilder
from mcp_distill.store import Store

#: Runs recomputed per write transaction.
BATCH_RUNS = 5_000



# ----------------------------------------------------------------------------- aggregation deltas


def _zero() -> dict[str, Any]:
    return {"runs": 0, "sample_count": 0, "success_count": 0, "partial_count": 0, "cost_runs": 0,
            "cost_nano": 0, "latency_n": 0, "hist": Counter(), "roles": Counter(), "providers": Counter()}


class _Delta:
    """Signed changes to the aggregate tables, summed in memory and applied once per batch."""

    def __init__(self) -> None:
        self.entries: dict[Key, dict[str, Any]] = {}
        self.failures: Counter[tuple[str, str, str]] = Counter()
        self.partners: Counter[tuple[str, str, str]] = Counter()

    def add(self, c: Contribution, sign: int) -> None:
        e = self.entries.get((c.task_type, c.model_name))
        if e is None:
            e = self.entries[(c.task_type, c.model_name)] = _zero()
        e["runs"] += sign
        if c.outcome != "undecided":
            e["sample_count"] += sign
        if c.outcome == "success":
            e["success_count"] += sign
        elif c.outcome == "partial":
            e["partial_count"] += sign
        if c.cost_nano is not None:
            e["cost_runs"] += sign
            e["cost_nano"] += sign * c.cost_nano
        for ms in c.latencies:
            e["hist"][latency_bin(ms)] += sign
        e["latency_n"] += sign * len(c.latencies)
        e["roles"][c.role] += sign
        if c.provider:
            e["providers"][c.provider] += sign
        for reason in c.reasons:
            self.failures[(c.task_type, c.model_name, reason)] += sign

    def add_pairs(self, pairs: Iterable[tuple[str, str, str]], sign: int) -> None:
        for pair in pairs:
            self.partners[pair] += sign


def _contribution_pairs(contribs: list[Contribution]) -> set[tuple[str, str, str]]:
    return unit_pairs((c.task_type, c.model_name, c.run_key, c.seq_epoch, c.outcome) for c in contribs)


# ----------------------------------------------------------------------------- reading the store


def _load_evidence(store: Store, keys: list[str]) -> tuple[dict[str, list[EvidenceRow]], int]:
    by_run: dict[str, list[EvidenceRow]] = {}
    rows = collect_db.model_evidence(store, keys)
    for row in rows:
        by_run.setdefault(row[0], []).append(EvidenceRow._make(row))
    return by_run, len(rows)


def _unit_pairs_in_store(store: Store, units: Iterable[str]) -> Counter[tuple[str, str, str]]:
    """Pairs of each task_id unit as the ledger_run table holds it now, summed over units."""
    total: Counter[tuple[str, str, str]] = Counter()
    for unit in sorted(units):
        total.update(unit_pairs(ledger_db.unit_rows(store, unit)))
    return total


def _per_run_pairs(contribs: list[Contribution]) -> Counter[tuple[str, str, str]]:
    by_run: dict[str, list[Contribution]] = {}
    for c in contribs:
        if c.unit_key.startswith("run"):
            by_run.setdefault(c.run_key, []).append(c)
    total: Counter[tuple[str, str, str]] = Counter()
    for group in by_run.values():
        if len(group) > 1:
            total.update(_contribution_pairs(group))
    return total


def _process_batch(store: Store, keys: list[str], judge_roles: frozenset[str], delta: _Delta,
                   full: bool) -> tuple[int, int]:
    """Recompute the runs ``keys`` inside the caller's transaction, adding the changes to ``delta``.

    Incremental: the caller applies ``delta`` in the same transaction. Full rebuild (empty tables):
    the caller applies one delta at the end. Returns (evidence rows read, contributions written).
    """
    old = [] if full else ledger_db.load_contributions(store, keys)
    by_run, n_rows = _load_evidence(store, keys)
    scores = collect_db.scores_of(store, keys)
    run_types = collect_db.run_task_types(store, keys)
    new: list[Contribution] = []
    for key in keys:
        rows = by_run.get(key)
        if not rows:
            continue
        category, reasons_raw, votes_raw = scores.get(key, (None, None, None))
        needs_why = category in ("rejected", "partially_accepted") or (
            category == "accepted" and len({r.model for r in rows}) > 1)
        reasons = orjson.loads(reasons_raw) if needs_why and reasons_raw else []
        votes = orjson.loads(votes_raw) if needs_why and votes_raw else []
        new.extend(run_contributions(key, rows, category, reasons, votes, run_types.get(key), judge_roles))
    for c in old:
        delta.add(c, -1)
    for c in new:
        delta.add(c, +1)
    delta.add_pairs(_per_run_pairs(old).elements(), -1)
    delta.add_pairs(_per_run_pairs(new).elements(), +1)
    task_units = {c.unit_key for c in (*old, *new) if c.unit_key.startswith("task")}
    if task_units:
        delta.add_pairs(_unit_pairs_in_store(store, task_units).elements(), -1)
    ledger_db.replace_contributions(store, keys, new, full)
    if task_units:
        delta.add_pairs(_unit_pairs_in_store(store, task_units).elements(), +1)
    return n_rows, len(new)


def _merge_counter(stored: str | None, change: Counter[Any]) -> dict[str, int]:
    merged = Counter({k: v for k, v in orjson.loads(stored or "{}").items()})
    for k, v in change.items():
        merged[str(k)] += v
    return {k: merged[k] for k in sorted(merged, key=lambda s: (len(s), s)) if merged[k] > 0}


_BLOBS = ("hist", "roles", "providers")


def _apply(store: Store, delta: _Delta) -> None:
    for key, d in delta.entries.items():
        row = ledger_db.entry_numbers(store, key)
        numbers = [(row[name] if row else 0) + d[name] for name in ledger_db.NUMERIC]
        if numbers[0] <= 0:
            ledger_db.delete_entry(store, key)
            continue
        blobs = [orjson.dumps(_merge_counter(row[name] if row else None, d[name])).decode() for name in _BLOBS]
        ledger_db.put_entry(store, key, numbers, blobs)
    for table, counts in (("ledger_failure", delta.failures), ("ledger_partner", delta.partners)):
        ledger_db.add_counts(store, table, [(*k, n) for k, n in sorted(counts.items()) if n != 0])


# ----------------------------------------------------------------------------- refresh

_REFRESH_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class _Superseded(Exception):
    """Another refresh started a rebuild after this one began: stop and leave the ledger to it."""


def _check_generation(store: Store, generation: str) -> None:
    if ledger_db.generation(store) != generation:
        raise _Superseded


def _refresh(store: Store, progress: Progress | None, rebuild: bool, config: ModelConfig,
             command: str) -> dict[str, Any]:
    state = ledger_db.state(store)
    full = rebuild or state.get("fingerprint") != config.fingerprint or "evidence_hwm" not in state
    hwm = 0 if full else int(state["evidence_hwm"])
    max_id = collect_db.max_evidence_id(store)
    max_seq = ledger_db.max_dirty_seq(store)
    result: dict[str, Any] = {"mode": "full" if full else "incremental", "runs_refreshed": 0,
                              "new_evidence_rows": max_id - hwm, "changed_runs": 0, "evidence_rows_read": 0,
                              "entries_touched": 0, "evidence_hwm": max_id, "receipt_id": None}
    if not full and max_id == hwm and not ledger_db.any_dirty(store):
        return result
    receipt = ReceiptBuilder("ledger", command)
    generation = state.get("generation", "")
    if full:
        generation = uuid.uuid4().hex
        with store.atomic():  # the high-water mark goes with the rest: a crash mid-rebuild forces a rebuild
            ledger_db.reset(store, generation)
        keys = collect_db.run_keys(store)
        dirty_keys: set[str] = set()
    else:
        dirty_keys = ledger_db.dirty_runs(store, max_seq)
        keys = sorted(dirty_keys | collect_db.runs_with_evidence_between(store, hwm, max_id))
    rows_read = written = 0
    touched: set[Key] = set()
    delta = _Delta()  # a rebuild sums one delta over all batches and applies it at the end
    for start in range(0, len(keys), BATCH_RUNS):
        with store.atomic():
            _check_generation(store, generation)
            if not full:
                delta = _Delta()
            n_rows, n_contrib = _process_batch(store, keys[start:start + BATCH_RUNS], config.judge_roles, delta, full)
            if not full:
                _apply(store, delta)
                touched.update(delta.entries)
        rows_read += n_rows
        written += n_contrib
        if progress:
            progress(min(start + BATCH_RUNS, len(keys)), len(keys), "ledger runs")
    with store.atomic():
        _check_generation(store, generation)
        if full:
            _apply(store, delta)
            touched.update(delta.entries)
        ledger_db.clear_dirty(store, max_seq)
        ledger_db.save_state(store, {"evidence_hwm": str(max_id), "fingerprint": config.fingerprint,
                                     "config": config.path})
    entries_total = ledger_db.entry_count(store)
    try:  # every touched entry must still make a valid ModelLedgerEntry
        _entries_where(store, config, sorted(touched))
    except ValidationError as exc:
        receipt.errors.append(f"ledger entry failed its schema: {exc.errors()[0]}")
    receipt.count_in, receipt.count_out = rows_read, written
    receipt.count("runs_refreshed", len(keys))
    receipt.count("entries_touched", len(touched))
    result.update({"runs_refreshed": len(keys), "changed_runs": len(dirty_keys), "evidence_rows_read": rows_read,
                   "entries_touched": len(touched), "entries_total": entries_total})
    receipt.details.update({**result, "previous_hwm": hwm, "config": config.path})
    result["receipt_id"] = receipt.finish(store, validation_pass=True).receipt_id
    return result


# ----------------------------------------------------------------------------- reading the ledger tables

_ROLE_ORDER = {"primary": 0, "escalation": 1, "fallback": 2}


def _entry(store: Store, row: dict[str, Any], config: ModelConfig) -> ModelLedgerEntry:
    key = (row["task_type"], row["model_name"])
    failures = ledger_db.top_failures(store, key, TOP_FAILURE_MODES)
    partner = ledger_db.best_partner(store, key)
    roles = orjson.loads(row["roles"])
    providers = orjson.loads(row["providers"])
    info = config.lookup(row["model_name"])
    n, ok = row["sample_count"], row["success_count"]
    hist = {int(b): c for b, c in orjson.loads(row["hist"]).items()}
    return ModelLedgerEntry(
        model_name=row["model_name"],
        model_provider=info.provider or (max(sorted(providers), key=lambda p: providers[p]) if providers else None),
        task_type=row["task_type"],
        sample_count=n,
        success_count=ok,
        success_rate=round(ok / n, 6) if n else None,
        success_lower_bound=round(wilson_lower_bound(ok, n), 6) if n else None,
        failure_modes=[f"{f['reason']} ({f['n']} runs)" for f in failures],
        best_partner_model=partner,
        escalation_role=min(roles, key=lambda r: (-roles[r], _ROLE_ORDER.get(r, 9), r)) if roles else "unknown",
        cost_mean=round(row["cost_nano"] / row["cost_runs"] / 1e9, 9) if row["cost_runs"] else None,
        cost_total=round(row["cost_nano"] / 1e9, 9) if row["cost_runs"] else None,
        latency_p50=hist_percentile(hist, 50),
        latency_p95=hist_percentile(hist, 95),
        context_window=info.context_window,
        last_updated=datetime.fromtimestamp(row["updated_epoch"] or 0.0, UTC),
    )


def _entries_where(store: Store, config: ModelConfig, keys: list[Key] | None = None,
                   task_type: str | None = None) -> list[ModelLedgerEntry]:
    rows = ledger_db.entry_rows(store, keys, task_type)
    return [_entry(store, r, config) for r in rows]


