"""The ledger's tables: ``ledger_run`` (each run's contributions), the aggregates ``ledger_entry``,
``ledger_failure``, ``ledger_partner``, and the bookkeeping ``ledger_dirty`` (filled by triggers on
the collect tables, migration 006) and ``ledger_state``. Every SQL statement about them is here.

Inside the refresh's ``store.atomic()`` these run in its transaction; the evidence, score and run
rows a refresh reads come from :mod:`mcp_distill.collect.repository`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from mcp_distill.ledger.rules import Contribution, Key
from mcp_distill.store import StoreBackend, placeholders

TABLES = ("ledger_run", "ledger_entry", "ledger_failure", "ledger_partner", "ledger_state")
#: The numeric columns of ``ledger_entry`` (the blobs ``hist``, ``roles``, ``providers`` follow them).
NUMERIC = ("runs", "sample_count", "success_count", "partial_count", "cost_runs", "cost_nano", "latency_n")
_UPSERT_SET = ", ".join(f"{c} = excluded.{c}" for c in (*NUMERIC, "hist", "roles", "providers", "updated_epoch"))
_CONTRIB_COLUMNS = ("run_key, task_type, model_name, unit_key, seq_epoch, position, role, outcome, cost_nano, "
                    "latencies, reasons, provider, updated_epoch")

# ----------------------------------------------------------------------------- contributions (ledger_run)


def load_contributions(store: StoreBackend, keys: Sequence[str]) -> list[Contribution]:
    rows = store.query(f"SELECT {_CONTRIB_COLUMNS} FROM ledger_run WHERE run_key IN ({placeholders(len(keys))})", keys)
    return [Contribution(r["run_key"], r["task_type"], r["model_name"], r["unit_key"], r["seq_epoch"], r["position"],
                         r["role"], r["outcome"], r["cost_nano"], orjson.loads(r["latencies"]),
                         orjson.loads(r["reasons"]), r["provider"], r["updated_epoch"]) for r in rows]


def unit_rows(store: StoreBackend, unit: str) -> list[tuple[Any, ...]]:
    """(task_type, model, run key, seq epoch, outcome) of every contribution of one task_id unit."""
    rows = store.query("SELECT task_type, model_name, run_key, seq_epoch, outcome FROM ledger_run "
                       "WHERE unit_key = ? AND unit_key LIKE 'task%'", (unit,))
    return [(r["task_type"], r["model_name"], r["run_key"], r["seq_epoch"], r["outcome"]) for r in rows]


def replace_contributions(store: StoreBackend, keys: Sequence[str], new: list[Contribution], full: bool) -> None:
    """The runs ``keys`` now contribute ``new`` (on a full rebuild the table starts empty)."""
    if not full:
        store.execute(f"DELETE FROM ledger_run WHERE run_key IN ({placeholders(len(keys))})", keys)
    store.executemany(
        f"INSERT INTO ledger_run({_CONTRIB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(c.run_key, c.task_type, c.model_name, c.unit_key, c.seq_epoch, c.position, c.role, c.outcome, c.cost_nano,
          orjson.dumps(c.latencies).decode(), orjson.dumps(c.reasons).decode(), c.provider, c.updated_epoch)
         for c in new],
    )


# ----------------------------------------------------------------------------- aggregates


def entry_numbers(store: StoreBackend, key: Key) -> dict[str, Any] | None:
    """The numeric columns and blobs of one (task type, model) entry."""
    return store.query_one(f"SELECT {', '.join(NUMERIC)}, hist, roles, providers FROM ledger_entry "
                           "WHERE task_type = ? AND model_name = ?", key)


def delete_entry(store: StoreBackend, key: Key) -> None:
    store.execute("DELETE FROM ledger_entry WHERE task_type = ? AND model_name = ?", key)


def put_entry(store: StoreBackend, key: Key, numbers: Sequence[int], blobs: Sequence[str]) -> None:
    """Store an entry's numbers and blobs; its time is its latest contribution's."""
    row = store.query_one("SELECT max(updated_epoch) AS t FROM ledger_run WHERE task_type = ? AND model_name = ?", key)
    store.execute(
        f"INSERT INTO ledger_entry(task_type, model_name, {', '.join(NUMERIC)}, hist, roles, "
        "providers, updated_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"ON CONFLICT(task_type, model_name) DO UPDATE SET {_UPSERT_SET}",
        (*key, *numbers, *blobs, row["t"] if row else None),
    )


#: The counted side tables: table -> the column naming what is counted.
COUNTED = {"ledger_failure": "reason", "ledger_partner": "partner"}


def add_counts(store: StoreBackend, table: str, changes: list[tuple[str, str, str, int]]) -> None:
    """Add signed counts to (task type, model, what) rows of a counted table; rows falling to 0 go."""
    column = COUNTED[table]
    store.executemany(
        f"INSERT INTO {table}(task_type, model_name, {column}, n) VALUES (?, ?, ?, ?) "
        f"ON CONFLICT(task_type, model_name, {column}) DO UPDATE SET n = {table}.n + excluded.n", changes)
    store.executemany(f"DELETE FROM {table} WHERE task_type = ? AND model_name = ? AND {column} = ? AND n <= 0",
                      [k[:3] for k in changes if k[3] < 0])


def entry_rows(store: StoreBackend, keys: Iterable[Key] | None = None,
               task_type: str | None = None) -> list[dict[str, Any]]:
    """Entry rows: of these keys, else of one task type, else all."""
    if keys is not None:
        return [r for k in keys for r in store.query(
            "SELECT * FROM ledger_entry WHERE task_type = ? AND model_name = ?", k)]
    if task_type is not None:
        return store.query("SELECT * FROM ledger_entry WHERE task_type = ?", (task_type,))
    return store.query("SELECT * FROM ledger_entry")


def top_failures(store: StoreBackend, key: Key, limit: int) -> list[dict[str, Any]]:
    return store.query("SELECT reason, n FROM ledger_failure WHERE task_type = ? AND model_name = ? AND n > 0 "
                       "ORDER BY n DESC, reason LIMIT ?", (*key, limit))


def best_partner(store: StoreBackend, key: Key) -> str | None:
    row = store.query_one("SELECT partner FROM ledger_partner WHERE task_type = ? AND model_name = ? AND n > 0 "
                          "ORDER BY n DESC, partner LIMIT 1", key)
    return row["partner"] if row else None


def entry_count(store: StoreBackend) -> int:
    row = store.query_one("SELECT count(*) AS n FROM ledger_entry")
    return int(row["n"]) if row else 0


def ledger_task_types(store: StoreBackend) -> list[str]:
    return [r["task_type"] for r in store.query("SELECT DISTINCT task_type FROM ledger_entry ORDER BY task_type")]


# ----------------------------------------------------------------------------- state and dirty runs


def state(store: StoreBackend) -> dict[str, str]:
    return {r["key"]: r["value"] for r in store.query("SELECT key, value FROM ledger_state")}


def generation(store: StoreBackend) -> str | None:
    row = store.query_one("SELECT value FROM ledger_state WHERE key = 'generation'")
    return row["value"] if row else None


def reset(store: StoreBackend, new_generation: str) -> None:
    """Empty every ledger table and start generation ``new_generation`` (in the caller's transaction)."""
    for table in TABLES:
        store.execute(f"DELETE FROM {table}")
    store.execute("INSERT INTO ledger_state(key, value) VALUES ('generation', ?)", (new_generation,))


def save_state(store: StoreBackend, values: dict[str, str]) -> None:
    store.executemany(
        "INSERT INTO ledger_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(values.items()))


def max_dirty_seq(store: StoreBackend) -> int:
    row = store.query_one("SELECT coalesce(max(seq), 0) AS n FROM ledger_dirty")
    return int(row["n"]) if row else 0


def any_dirty(store: StoreBackend) -> bool:
    return store.query_one("SELECT 1 AS x FROM ledger_dirty LIMIT 1") is not None


def dirty_runs(store: StoreBackend, up_to_seq: int) -> set[str]:
    return {r["run_key"] for r in store.query("SELECT DISTINCT run_key FROM ledger_dirty WHERE seq <= ?", (up_to_seq,))}


def clear_dirty(store: StoreBackend, up_to_seq: int) -> None:
    store.execute("DELETE FROM ledger_dirty WHERE seq <= ?", (up_to_seq,))


#: Completion sources (``lookup.complete``): kind -> (table, column) holding its values.
COMPLETIONS = {"model": (("ledger_entry", "model_name"),), "task_type": (("ledger_entry", "task_type"),)}
