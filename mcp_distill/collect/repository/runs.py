"""The ``runs`` table: run rows, listings and browsing pages, and the run-joining statements the collector
runs inside its transaction (``conn``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mcp_distill.collect.repository.lists import in_lists
from mcp_distill.collect.repository.scores import delete_scores
from mcp_distill.store import Connection, StoreBackend, greatest, least, placeholders


def run_keys(store: StoreBackend) -> list[str]:
    """Every run key, sorted."""
    return [r["run_key"] for r in store.query("SELECT run_key FROM runs ORDER BY run_key")]


def run_exists(store: StoreBackend, run_key: str) -> bool:
    return store.query_one("SELECT 1 FROM runs WHERE run_key = ?", (run_key,)) is not None


def run_row(store: StoreBackend, run_key: str) -> dict[str, Any] | None:
    """The ``runs`` row of one run (join method, file, PR, task type, epochs, record count)."""
    return store.query_one("SELECT * FROM runs WHERE run_key = ?", (run_key,))


def list_runs(store: StoreBackend, category: str | None = None, limit: int = 50,
              offset: int = 0) -> list[dict[str, Any]]:
    sql = (
        "SELECT r.run_key, r.run_id, r.join_method, r.file_path, r.task_type, r.record_count, s.category "
        "FROM runs r LEFT JOIN scores s ON s.run_key = r.run_key"
    )
    params: list[Any] = []
    if category:
        sql += " WHERE s.category = ?"
        params.append(category)
    sql += " ORDER BY r.first_epoch, r.run_key LIMIT ? OFFSET ?"
    return store.query(sql, (*params, limit, offset))


def run_page(store: StoreBackend, where: list[tuple[str, Any]], order_by: str, descending: bool,
             limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of runs (with category and scoring time) and how many match. ``where`` holds
    (filter name, value) pairs from :data:`RUN_FILTERS`; ``order_by`` a key of :data:`RUN_ORDER`."""
    clauses = [RUN_FILTERS[name] for name, _ in where]
    params = [value for name, value in where if name != "unscored"]
    base = "FROM runs r LEFT JOIN scores s ON s.run_key = r.run_key" + (
        " WHERE " + " AND ".join(clauses) if clauses else "")
    direction = "DESC" if descending else "ASC"
    rows = store.query(
        "SELECT r.run_key, r.run_id, r.join_method, r.file_path, r.task_type, r.record_count, r.first_epoch, "
        f"r.last_epoch, s.category, s.scored_at {base} ORDER BY {RUN_ORDER[order_by]} {direction}, "
        f"r.run_key {direction} LIMIT ? OFFSET ?", (*params, limit, offset))
    total = store.query_one(f"SELECT count(*) AS n {base}", tuple(params))
    return rows, int(total["n"]) if total else 0


#: Filters of :func:`run_page` (IN, an index range, rather than EXISTS per run for model / stream:
#: the filtered total stays an index lookup). "unscored" takes no value.
RUN_FILTERS = {
    "category": "s.category = ?", "task_type": "r.task_type = ?",
    "model": "r.run_key IN (SELECT run_key FROM evidence WHERE model_name = ?)",
    "stream": "r.run_key IN (SELECT run_key FROM evidence WHERE stream = ?)",
    "since": "r.first_epoch >= ?", "until": "r.first_epoch < ?", "unscored": "s.run_key IS NULL",
}


#: Orders of :func:`run_page`: the column each sort key orders by (never user text in the SQL).
RUN_ORDER = {"time": "r.first_epoch", "last": "r.last_epoch", "records": "r.record_count",
             "task_type": "r.task_type", "category": "s.category", "run": "r.run_key"}


def models_and_streams(store: StoreBackend, keys: Sequence[str]) -> dict[str, tuple[set[str], set[str]]]:
    """The models and streams of each of these runs."""
    seen: dict[str, tuple[set[str], set[str]]] = {k: (set(), set()) for k in keys}
    if keys:
        for ev in store.query(f"SELECT DISTINCT run_key, model_name, stream FROM evidence WHERE run_key IN "
                              f"({placeholders(len(keys))})", tuple(keys)):
            if ev["model_name"]:
                seen[ev["run_key"]][0].add(ev["model_name"])
            seen[ev["run_key"]][1].add(ev["stream"])
    return seen


#: The indexed columns :func:`distinct_values` may hop: (table, column) by name.
DISTINCT_COLUMNS = {"task_type": ("runs", "task_type"), "model": ("evidence", "model_name"),
                    "stream": ("evidence", "stream")}


def distinct_values(store: StoreBackend, name: str, cap: int) -> list[str]:
    """Distinct values of an indexed column by hopping the index (distinct x log n, not a full scan)."""
    table, column = DISTINCT_COLUMNS[name]
    rows = store.query(
        f"WITH RECURSIVE v(x, n) AS (SELECT min({column}), 1 FROM {table} "
        f"UNION ALL SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x), n + 1 FROM v "
        "WHERE v.x IS NOT NULL AND n < ?) SELECT x FROM v WHERE x IS NOT NULL", (cap,))
    return [r["x"] for r in rows]


def conn_dialect(conn: Connection) -> str:
    """The SQL dialect of a transaction's connection (PostgreSQL's says so; SQLite's is sqlean's own)."""
    return getattr(conn, "dialect", "sqlite")


def change_token(conn: Connection) -> tuple[int, int] | object:
    """Commits by other connections (``data_version``) and writes by this one (``total_changes``).

    PostgreSQL has no cheap "nobody else wrote" token: a fresh object, never equal, so nothing is reused."""
    if conn_dialect(conn) != "sqlite":
        return object()
    return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes


def window_files(conn: Connection) -> set[str]:
    """Files that have file-window runs."""
    return {r[0] for r in conn.execute("SELECT DISTINCT file_path FROM runs WHERE join_method = 'file_window'")}


def longest_span(conn: Connection, file_path: str) -> float:
    """The longest ``last_epoch - first_epoch`` over the stored runs of a file (0 when none)."""
    row = conn.execute("SELECT max(last_epoch - first_epoch) FROM runs WHERE file_path = ?", (file_path,)).fetchone()
    return max(row[0] or 0.0, 0.0)


def stored_run_in_window(conn: Connection, file_path: str, epoch: float, window: float, span: float) -> str | None:
    """The stored run of ``file_path`` whose window holds ``epoch``, nearest by its first epoch.

    The range on first_epoch only narrows the index scan (a matching run starts at most ``span``
    before the window); the window test itself is exact. Ties go to the earlier run, then to the one
    stored first."""
    row = conn.execute(
        "SELECT run_key FROM runs WHERE file_path = ? AND first_epoch >= ? AND first_epoch <= ? "
        "AND first_epoch - ? <= ? AND last_epoch + ? >= ? ORDER BY abs(first_epoch - ?), first_epoch, rowid LIMIT 1",
        (file_path, epoch - window - span - 1.0, epoch + window + 1.0, window, epoch, window, epoch, epoch),
    ).fetchone()
    return row[0] if row else None


def spans_by_file(conn: Connection, keys: list[str]) -> Iterable[tuple[str, float | None]]:
    """(file, longest span) over the runs ``keys`` that name a file."""
    for marks, chunk in in_lists(keys):
        yield from conn.execute(f"SELECT file_path, max(last_epoch - first_epoch) FROM runs WHERE run_key IN ({marks}) "
                                "AND file_path IS NOT NULL GROUP BY file_path", chunk)


def upsert_runs(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert runs, or fold counts and epochs into the stored ones. A row: (key, run_id, method, file,
    pr_number, head_sha, task_type, first_epoch, last_epoch, record_count, updated_at)."""
    dialect = conn_dialect(conn)
    first = least(dialect, "coalesce(runs.first_epoch, excluded.first_epoch)",
                  "coalesce(excluded.first_epoch, runs.first_epoch)")
    last = greatest(dialect, "coalesce(runs.last_epoch, excluded.last_epoch)",
                    "coalesce(excluded.last_epoch, runs.last_epoch)")
    conn.executemany(
        f"""
        INSERT INTO runs(run_key, run_id, join_method, file_path, pr_number, head_sha, task_type,
                         first_epoch, last_epoch, record_count, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(run_key) DO UPDATE SET
            file_path = coalesce(runs.file_path, excluded.file_path),
            pr_number = coalesce(runs.pr_number, excluded.pr_number),
            head_sha = coalesce(runs.head_sha, excluded.head_sha),
            task_type = coalesce(runs.task_type, excluded.task_type),
            first_epoch = {first},  -- both coalesced: NULL only when neither has an epoch
            last_epoch = {last},
            record_count = runs.record_count + excluded.record_count,
            updated_at = excluded.updated_at
        """, rows)


def adopt_file_window_runs(conn: Connection, key: str, file_path: str, epoch: float, window: float,
                           span: float, before_move: Callable[[], None] | None = None) -> bool:
    """Move the file-window runs of ``file_path`` whose window holds ``epoch`` into run ``key``; whether any moved.

    ``span`` is at least the longest ``last_epoch - first_epoch`` of the file's runs: as in
    :func:`stored_run_in_window`, it bounds the index range on first_epoch (a file's every run was
    scanned before, once per record with a new run id); the window test itself is exact.
    Their scores and the adopting run's go: they no longer cover all the evidence. ``before_move`` runs
    when there are rows to move (a bulk load builds its evidence indexes then: the moves update by run key)."""
    rows = conn.execute(
        "SELECT run_key, record_count, first_epoch, last_epoch FROM runs WHERE join_method = 'file_window' "
        "AND file_path = ? AND first_epoch >= ? AND first_epoch <= ? AND first_epoch - ? <= ? AND last_epoch + ? >= ?",
        (file_path, epoch - window - span - 1.0, epoch + window + 1.0, window, epoch, window, epoch),
    ).fetchall()
    if rows and before_move is not None:
        before_move()
    for old_key, count, first_epoch, last_epoch in rows:
        conn.execute("UPDATE evidence SET run_key = ? WHERE run_key = ?", (key, old_key))
        dialect = conn_dialect(conn)  # the adopting run was just flushed with this record's epoch: not NULL
        conn.execute(
            f"UPDATE runs SET record_count = record_count + ?, first_epoch = {least(dialect, 'first_epoch', '?')}, "
            f"last_epoch = {greatest(dialect, 'last_epoch', '?')} WHERE run_key = ?",
            (count, first_epoch, last_epoch, key),
        )
        conn.execute("DELETE FROM runs WHERE run_key = ?", (old_key,))
    if rows:
        delete_scores(conn, [r[0] for r in rows] + [key])
    return bool(rows)


#: Completion sources (``lookup.complete``): kind -> (table, column or expression) holding its values.
#: A run is named by its run_id when it has one (what people type), else by its run key.
COMPLETIONS = {"run": (("runs", "coalesce(run_id, run_key)"),), "task_type": (("runs", "task_type"),)}


def runs_with_evidence_between(store: StoreBackend, above_id: int, up_to_id: int) -> set[str]:
    """Runs that got evidence rows with ids in (above_id, up_to_id]."""
    return {r["run_key"] for r in store.query("SELECT DISTINCT run_key FROM evidence WHERE id > ? AND id <= ?",
                                              (above_id, up_to_id))}


def run_task_types(store: StoreBackend, keys: Sequence[str]) -> dict[str, str | None]:
    return {r["run_key"]: r["task_type"] for r in store.query(
        f"SELECT run_key, task_type FROM runs WHERE run_key IN ({placeholders(len(keys))})", keys)}
