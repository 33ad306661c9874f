"""The ``evidence`` and ``quarantine`` tables as other packages read them: a run's records, counts, what
the ledger and the exports read."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from mcp_distill.store import StoreBackend, json_number, json_text, json_value, placeholders


def run_record_data(store: StoreBackend, run_key: str) -> list[str]:
    """The stored JSON of every record of a run, in time order."""
    rows = store.query("SELECT data FROM evidence WHERE run_key = ? ORDER BY ts_epoch, id", (run_key,))
    return [r["data"] for r in rows]


def evidence_at(store: StoreBackend, source_file: str, line_offset: int) -> dict[str, Any] | None:
    """The record collected from one line of one file (id, run key, file, offset)."""
    return store.query_one("SELECT record_id, run_key, source_file, line_offset FROM evidence "
                           "WHERE source_file = ? AND line_offset = ?", (source_file, line_offset))


def evidence_by_id(store: StoreBackend, record_id: str | None) -> dict[str, Any] | None:
    return store.query_one("SELECT record_id, run_key, source_file, line_offset FROM evidence "
                           "WHERE record_id = ?", (record_id,))


def collect_counts(store: StoreBackend) -> dict[str, Any]:
    """How much was collected: evidence, runs, sources and quarantined lines, by stream and by reason."""
    def count(table: str) -> int:
        row = store.query_one(f"SELECT count(*) AS n FROM {table}")
        return int(row["n"]) if row else 0

    # the reason's kind: the text before its first ':'
    kind = ("split_part(reason, ':', 1)" if store.dialect == "postgresql"
            else "substr(reason, 1, instr(reason || ':', ':') - 1)")

    return {
        "evidence": count("evidence"), "runs": count("runs"), "quarantined": count("quarantine"),
        "sources": count("sources"),
        "by_stream": {r["stream"]: r["n"] for r in store.query(
            "SELECT stream, count(*) AS n FROM evidence GROUP BY stream ORDER BY stream")},
        "quarantine_by_reason": {r["reason"]: r["n"] for r in store.query(
            f"SELECT {kind} AS reason, count(*) AS n FROM quarantine GROUP BY 1 ORDER BY 2 DESC")},
    }


def quarantine_rows(store: StoreBackend, limit: int = 50) -> list[dict[str, Any]]:
    return store.query(
        "SELECT source_file, line_offset, stream, reason, excerpt FROM quarantine ORDER BY source_file, line_offset "
        "LIMIT ?", (limit,))


def max_evidence_id(store: StoreBackend) -> int:
    """The highest evidence row id (a high-water mark: later records have higher ids)."""
    row = store.query_one("SELECT coalesce(max(id), 0) AS n FROM evidence")
    return int(row["n"]) if row else 0


def model_evidence(store: StoreBackend, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """The model-bearing records of these runs as tuples: (run key, id, record id, model, task type, task id,
    epoch, ingested at, latency ms, cost usd, model role, provider, errored, accepted on attempt, failure
    markers JSON) — the ledger's ``EvidenceRow`` order."""
    value = functools.partial(json_value, store.dialect, "data")
    rows = store.query(
        "SELECT run_key, id, record_id, model_name, task_type, task_id, ts_epoch, ingested_at, "
        f"{value('latency_ms')} AS latency, {value('cost_usd')} AS cost, {value('model_role')} AS role, "
        f"{value('model_provider')} AS provider, "
        f"coalesce({json_number(store.dialect, 'data', 'signals', 'error_count')}, 0) > 0 AS errored, "
        f"{value('signals', 'accepted_on_attempt')} AS attempt, {json_text(store.dialect, 'data', 'failure_markers')} "
        f"AS markers FROM evidence WHERE model_name IS NOT NULL AND run_key IN ({placeholders(len(keys))})", keys)
    return [tuple(r.values()) for r in rows]


def records_of_runs(store: StoreBackend, keys: Sequence[str]) -> list[tuple[str, float | None, str]]:
    """(run key, epoch, record JSON) of every record of these runs, by run then time."""
    rows = store.query(f"SELECT run_key, ts_epoch, data FROM evidence WHERE run_key IN ({placeholders(len(keys))}) "
                       "ORDER BY run_key, ts_epoch, id", tuple(keys))
    return [(r["run_key"], r["ts_epoch"], r["data"]) for r in rows]


def records_by_id(store: StoreBackend, record_ids: Sequence[str]) -> dict[str, str]:
    """record id -> record JSON."""
    rows = store.query(f"SELECT record_id, data FROM evidence WHERE record_id IN ({placeholders(len(record_ids))})",
                       tuple(record_ids))
    return {r["record_id"]: r["data"] for r in rows}


def source_files(store: StoreBackend) -> list[str]:
    """Every source file the store's evidence came from, sorted."""
    return [r["source_file"] for r in store.query("SELECT DISTINCT source_file FROM evidence ORDER BY source_file")]


def records_at_lines(store: StoreBackend, source_file: str, offsets: Sequence[int]) -> list[tuple[Any, ...]]:
    """What the export checks read of the records collected from these lines of one file: (offset, sig hash,
    run key, task id, task type, file path, input text when neither task id nor file names the task,
    the record's ``extra.attempt``), in collect order."""
    rows = store.query(
        "SELECT line_offset, sig_hash, run_key, task_id, task_type, file_path, "
        f"CASE WHEN task_id IS NULL AND file_path IS NULL THEN {json_text(store.dialect, 'data', 'input_text')} END AS text, "
        f"{json_value(store.dialect, 'data', 'extra', 'attempt')} AS attempt "
        f"FROM evidence WHERE source_file = ? AND line_offset IN ({placeholders(len(offsets))}) ORDER BY id",
        (source_file, *offsets))
    return [tuple(r.values()) for r in rows]
