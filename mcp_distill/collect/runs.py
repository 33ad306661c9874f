"""The run view: records that describe the same run, joined under one run key.

Join order (the seed's): a record with a ``run_id`` joins ``run:<run_id>``; else a record naming a
file and a time joins the run that touched the same file within ``FILE_WINDOW_SECONDS`` (the scrum
loop's auto_apply rows carry only file + ts); else ``pr_number`` + ``head_sha`` joins
``pr:<n>@<sha>``; else the record is a run of its own. When a record with a run_id arrives and a
file-window run (no run_id) already holds rows for its file in the window, that run is adopted
into the run_id run, so the result does not depend on which file was read first.

The file-window lookup reads the ``runs_file`` index over a bounded range: a run can only match
``epoch`` when its ``first_epoch`` lies within the window plus the longest run span of that file, and
:class:`JoinState` keeps that longest span (an upper bound) between the collector's transactions, so
the lookup stays a short index range however many runs a file has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models import EvidenceRecord
from mcp_distill.store import Connection, Store
from mcp_distill.store.dialect import greatest, least

#: Records about the same file closer in time than this belong to the same run.
FILE_WINDOW_SECONDS = 30 * 60
#: A pending run whose window covers more time buckets (of FILE_WINDOW_SECONDS) than this is checked
#: on every file-window lookup of its file instead of being filed under each bucket.
_MAX_BUCKETS = 16


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _file_key(file_path: str, epoch: float) -> str:
    return f"file:{hashlib.sha256(file_path.encode()).hexdigest()[:12]}@{int(epoch)}"


class RunFields(Protocol):
    """What run assignment reads of a record (the collector's prepared rows have these attributes)."""

    record_id: str
    run_id: str | None
    task_type: str | None
    file_path: str | None
    pr_number: int | None
    head_sha: str | None
    epoch: float | None


@dataclass
class JoinState:
    """What one collector remembers about the ``runs`` table between its write transactions.

    Valid only while nobody else wrote: :meth:`check` (inside a transaction) compares the store's
    ``data_version`` (commits by other connections) and this connection's ``total_changes`` (writes by
    other threads on the same connection) with what :meth:`seal` saw at the end of the collector's
    own last transaction, and forgets everything when they differ.
    """

    #: Files that have file-window runs: only for those can a run_id record have a run to adopt.
    window_files: set[str] | None = None
    #: (run key, file) pairs already checked for adoption: later records join the run directly.
    adopt_checked: set[tuple[str, str]] = field(default_factory=set)
    #: file -> an upper bound of (last_epoch - first_epoch) over that file's runs in the table.
    spans: dict[str, float] = field(default_factory=dict)
    token: tuple[int, int] | object | None = None

    @staticmethod
    def _token(conn: Connection) -> tuple[int, int] | object:
        if _dialect(conn) != "sqlite":  # PostgreSQL: no cheap "nobody else wrote" token; never reuse
            return object()
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    def check(self, conn: Connection) -> None:
        if self.token is None or self._token(conn) != self.token:
            self.window_files = None
            self.adopt_checked.clear()
            self.spans.clear()

    def seal(self, conn: Connection) -> None:
        self.token = self._token(conn)


class RunAssigner:
    """Assigns run keys inside one write transaction, batching the ``runs`` upserts.

    Counts and time spans are aggregated in memory and written by :meth:`flush`, which the collector
    calls before its transaction commits; file-window lookups see both the table and the pending runs.
    """

    def __init__(self, conn: Connection, state: JoinState | None = None,
                 before_adopt: Callable[[], None] | None = None):
        self.conn = conn
        self.pending: dict[str, dict[str, Any]] = {}
        # Pending runs by file, for file-window lookups: filed under every time bucket their window
        # touches (or as "wide"), with the order in which each got its file (ties go to the earliest).
        self._order: dict[str, int] = {}
        self._buckets: dict[str, dict[int, list[str]]] = {}
        self._wide: dict[str, list[str]] = {}
        self._filed: dict[str, tuple[int, int] | None] = {}
        self.state = state if state is not None else JoinState()
        if self.state.window_files is None:
            self.state.window_files = {r[0] for r in conn.execute(
                "SELECT DISTINCT file_path FROM runs WHERE join_method = 'file_window'")}
        self.window_files: set[str] = self.state.window_files
        self.adopt_checked = self.state.adopt_checked
        self.before_adopt = before_adopt

    def assign(self, record: RunFields) -> str:
        file_path = record.file_path
        epoch = record.epoch
        if record.run_id:
            key = f"run:{record.run_id}"
            self._add(key, "run_id", record, epoch)
            if file_path and epoch is not None and file_path in self.window_files \
                    and (key, file_path) not in self.adopt_checked:
                self.adopt_checked.add((key, file_path))
                if self.before_adopt:
                    self.before_adopt()
                self.flush()
                if _adopt_file_window_runs(self.conn, key, file_path, epoch):
                    self._widen_spans([key])
            return key
        if file_path and epoch is not None:
            key = self._pending_in_window(file_path, epoch) or self._stored_in_window(file_path, epoch)
            if key is None:
                key = _file_key(file_path, epoch)
            if key.startswith("file:"):
                self.window_files.add(file_path)
            self._add(key, "file_window", record, epoch)
            return key
        if record.pr_number is not None and record.head_sha:
            key = f"pr:{record.pr_number}@{record.head_sha[:12]}"
            self._add(key, "pr_head", record, epoch)
            return key
        key = f"rec:{record.record_id}"
        self._add(key, "record", record, epoch)
        return key

    def _pending_in_window(self, file_path: str, epoch: float) -> str | None:
        """The pending run of ``file_path`` whose window holds ``epoch``, nearest by its first epoch."""
        buckets = self._buckets.get(file_path)
        if buckets is None:
            return None
        candidates = buckets.get(int(epoch // FILE_WINDOW_SECONDS), [])
        wide = self._wide.get(file_path)
        if wide:
            candidates = candidates + wide
        best: tuple[float, int, str] | None = None
        for key in candidates:
            run = self.pending[key]
            first = run["first"]
            if not (first - FILE_WINDOW_SECONDS <= epoch <= run["last"] + FILE_WINDOW_SECONDS):
                continue
            rank = (abs(first - epoch), self._order[key], key)
            if best is None or rank < best:
                best = rank
        return best[2] if best else None

    def _file(self, key: str, run: dict[str, Any]) -> None:
        """File a pending run under the time buckets its window [first - W, last + W] touches."""
        file_path = run["file_path"]
        low = int((run["first"] - FILE_WINDOW_SECONDS) // FILE_WINDOW_SECONDS)
        high = int((run["last"] + FILE_WINDOW_SECONDS) // FILE_WINDOW_SECONDS)
        filed = self._filed.get(key, ())
        if filed == (low, high) or filed is None:  # unchanged, or already checked on every lookup
            return
        buckets = self._buckets.setdefault(file_path, {})
        if high - low > _MAX_BUCKETS:
            self._wide.setdefault(file_path, []).append(key)
            self._filed[key] = None
            return
        old_low, old_high = filed or (high + 1, high)
        for bucket in range(low, high + 1):
            if not old_low <= bucket <= old_high:
                buckets.setdefault(bucket, []).append(key)
        self._filed[key] = (low, high)

    def _stored_in_window(self, file_path: str, epoch: float) -> str | None:
        """The stored run of ``file_path`` whose window holds ``epoch``, nearest by its first epoch."""
        span = self.state.spans.get(file_path)
        if span is None:
            row = self.conn.execute("SELECT max(last_epoch - first_epoch) FROM runs WHERE file_path = ?",
                                    (file_path,)).fetchone()
            span = self.state.spans[file_path] = max(row[0] or 0.0, 0.0)
        # The range on first_epoch only narrows the index scan (a matching run starts at most its span
        # before the window); the window test itself is the exact original one. Ties go to the earlier
        # run, then to the one stored first.
        row = self.conn.execute(
            "SELECT run_key FROM runs WHERE file_path = ? AND first_epoch >= ? AND first_epoch <= ? "
            "AND first_epoch - ? <= ? AND last_epoch + ? >= ? ORDER BY abs(first_epoch - ?), first_epoch, rowid LIMIT 1",
            (file_path, epoch - FILE_WINDOW_SECONDS - span - 1.0, epoch + FILE_WINDOW_SECONDS + 1.0,
             FILE_WINDOW_SECONDS, epoch, FILE_WINDOW_SECONDS, epoch, epoch),
        ).fetchone()
        return row[0] if row else None

    def _widen_spans(self, keys: Iterable[str]) -> None:
        """Raise the remembered longest span of every known file to cover the runs ``keys`` (just written)."""
        spans = self.state.spans
        if not spans:
            return
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for file_path, span in self.conn.execute(
                    f"SELECT file_path, max(last_epoch - first_epoch) FROM runs WHERE run_key IN ({marks}) "
                    "AND file_path IS NOT NULL GROUP BY file_path", chunk):
                if file_path in spans and span is not None and span > spans[file_path]:
                    spans[file_path] = span

    def _add(self, key: str, method: str, record: RunFields, epoch: float | None) -> None:
        run = self.pending.get(key)
        if run is None:
            run = self.pending[key] = {"run_id": record.run_id, "method": method, "file_path": None,
                                       "pr_number": None, "head_sha": None, "task_type": None,
                                       "first": None, "last": None, "count": 0}
        if run["file_path"] is None and record.file_path is not None:
            run["file_path"] = record.file_path
            self._order[key] = len(self._order)
        if run["pr_number"] is None and record.pr_number is not None:
            run["pr_number"] = record.pr_number
        if run["head_sha"] is None and record.head_sha is not None:
            run["head_sha"] = record.head_sha
        if run["task_type"] is None and record.task_type is not None:
            run["task_type"] = record.task_type
        if epoch is not None:
            first = run["first"]
            if first is None:
                run["first"] = run["last"] = epoch
            elif epoch < first:
                run["first"] = epoch
            elif epoch > run["last"]:
                run["last"] = epoch
        run["count"] += 1
        if run["file_path"] is not None and run["first"] is not None:
            self._file(key, run)

    def flush(self) -> None:
        if not self.pending:
            return
        now = _now()
        dialect = _dialect(self.conn)
        first = least(dialect, "coalesce(runs.first_epoch, excluded.first_epoch)",
                      "coalesce(excluded.first_epoch, runs.first_epoch)")
        last = greatest(dialect, "coalesce(runs.last_epoch, excluded.last_epoch)",
                        "coalesce(excluded.last_epoch, runs.last_epoch)")
        self.conn.executemany(
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
            """,
            [(key, r["run_id"], r["method"], r["file_path"], r["pr_number"], r["head_sha"], r["task_type"],
              r["first"], r["last"], r["count"], now) for key, r in self.pending.items()],
        )
        # a run's span grows with new epochs, and a stored run joins a file when it first gets one
        self._widen_spans(key for key, r in self.pending.items() if r["first"] is not None or r["file_path"])
        self.pending.clear()
        self._order.clear()
        self._buckets.clear()
        self._wide.clear()
        self._filed.clear()


def _dialect(conn: Connection) -> str:
    """The SQL dialect of a transaction's connection (PostgreSQL's says so; SQLite's is sqlean's own)."""
    return getattr(conn, "dialect", "sqlite")


def _adopt_file_window_runs(conn: Connection, key: str, file_path: str, epoch: float) -> bool:
    rows = conn.execute(
        "SELECT run_key, record_count, first_epoch, last_epoch FROM runs WHERE join_method = 'file_window' "
        "AND file_path = ? AND first_epoch - ? <= ? AND last_epoch + ? >= ?",
        (file_path, FILE_WINDOW_SECONDS, epoch, FILE_WINDOW_SECONDS, epoch),
    ).fetchall()
    for old_key, count, first_epoch, last_epoch in rows:
        conn.execute("UPDATE evidence SET run_key = ? WHERE run_key = ?", (key, old_key))
        dialect = _dialect(conn)  # the adopting run was just flushed with this record's epoch: not NULL
        conn.execute(
            f"UPDATE runs SET record_count = record_count + ?, first_epoch = {least(dialect, 'first_epoch', '?')}, "
            f"last_epoch = {greatest(dialect, 'last_epoch', '?')} WHERE run_key = ?",
            (count, first_epoch, last_epoch, key),
        )
        conn.execute("DELETE FROM runs WHERE run_key = ?", (old_key,))
        conn.execute("DELETE FROM scores WHERE run_key = ?", (old_key,))
    if rows:  # the adopting run's score no longer covers all its evidence
        conn.execute("DELETE FROM scores WHERE run_key = ?", (key,))
    return bool(rows)


def run_records(store: Store, run_key: str) -> list[EvidenceRecord]:
    rows = store.query("SELECT data FROM evidence WHERE run_key = ? ORDER BY ts_epoch, id", (run_key,))
    return [EvidenceRecord.model_validate_json(r["data"]) for r in rows]


def resolve_run_key(store: Store, run: str) -> str:
    """Accept a run key (``run:...``, ``file:...``) or a bare run_id."""
    for key in (run, f"run:{run}"):
        if store.query_one("SELECT 1 FROM runs WHERE run_key = ?", (key,)):
            return key
    raise NotFoundError(f"no run {run!r}; list runs with `mcp-distill runs list` or read distill://stats")


def get_run(store: Store, run: str) -> dict[str, Any]:
    """The joined run: its row, every record about it, and its score when it has one."""
    key = resolve_run_key(store, run)
    row = store.query_one("SELECT * FROM runs WHERE run_key = ?", (key,))
    score = store.query_one("SELECT * FROM scores WHERE run_key = ?", (key,))
    records = run_records(store, key)
    view: dict[str, Any] = {
        "run_key": key,
        "run_id": row["run_id"] if row else None,
        "join_method": row["join_method"] if row else None,
        "file_path": row["file_path"] if row else None,
        "task_type": row["task_type"] if row else None,
        "streams": sorted({r.stream for r in records}),
        "records": [r.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {
            "record_id": r.record_id, "stream": r.stream} for r in records],
        "score": None,
    }
    if score:
        view["score"] = {
            "category": score["category"],
            "reasons": orjson.loads(score["reasons"]),
            "votes": orjson.loads(score["votes"]),
            "scorer_version": score["scorer_version"],
            "scored_at": score["scored_at"],
        }
    return view


def list_runs(store: Store, category: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
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


# ----------------------------------------------------------------------------- browsing (dashboard)

#: Sort keys a caller may ask for, and the column each orders by (never user text in the SQL).
RUN_SORTS = {"time": "r.first_epoch", "last": "r.last_epoch", "records": "r.record_count",
             "task_type": "r.task_type", "category": "s.category", "run": "r.run_key"}
#: A page holds at most this many runs: pages stay small however large the store is.
MAX_PAGE = 200
UNSCORED = "unscored"


@dataclass(frozen=True)
class RunQuery:
    """Filters, order and page of a run listing. ``category`` may be ``"unscored"``; ``model`` is a
    model that took part in the run, ``stream`` a stream that fed it; ``since``/``until`` bound the
    run's first record (epoch seconds, ``until`` exclusive)."""

    category: str | None = None
    task_type: str | None = None
    model: str | None = None
    stream: str | None = None
    since: float | None = None
    until: float | None = None
    sort: str = "time"
    descending: bool = True
    limit: int = 50
    offset: int = 0


def _run_where(q: RunQuery) -> tuple[str, list[Any]]:
    # IN (index range) rather than EXISTS per run for model / stream: the filtered total stays an index lookup.
    wanted = [("s.category = ?", q.category if q.category != UNSCORED else None),
              ("r.task_type = ?", q.task_type),
              ("r.run_key IN (SELECT run_key FROM evidence WHERE model_name = ?)", q.model),
              ("r.run_key IN (SELECT run_key FROM evidence WHERE stream = ?)", q.stream),
              ("r.first_epoch >= ?", q.since), ("r.first_epoch < ?", q.until)]
    clauses = [sql for sql, value in wanted if value not in (None, "")]
    params = [value for _, value in wanted if value not in (None, "")]
    if q.category == UNSCORED:
        clauses.append("s.run_key IS NULL")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def query_runs(store: Store, q: RunQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of runs matching ``q`` (with category, models and streams of each) and the total that match."""
    if q.sort not in RUN_SORTS:
        raise InvalidInputError(f"unknown sort {q.sort!r}; use one of {', '.join(RUN_SORTS)}")
    if not 1 <= q.limit <= MAX_PAGE or q.offset < 0:
        raise InvalidInputError(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    where, params = _run_where(q)
    base = "FROM runs r LEFT JOIN scores s ON s.run_key = r.run_key" + where
    direction = "DESC" if q.descending else "ASC"
    rows = store.query(
        "SELECT r.run_key, r.run_id, r.join_method, r.file_path, r.task_type, r.record_count, r.first_epoch, "
        f"r.last_epoch, s.category, s.scored_at {base} ORDER BY {RUN_SORTS[q.sort]} {direction}, "
        f"r.run_key {direction} LIMIT ? OFFSET ?", (*params, q.limit, q.offset))
    # Models and streams only for the page's runs: a deep OFFSET must not compute them for skipped rows.
    keys = [r["run_key"] for r in rows]
    seen = {k: {"models": set(), "streams": set()} for k in keys}
    if keys:
        for ev in store.query(f"SELECT DISTINCT run_key, model_name, stream FROM evidence WHERE run_key IN "
                              f"({','.join('?' * len(keys))})", tuple(keys)):
            if ev["model_name"]:
                seen[ev["run_key"]]["models"].add(ev["model_name"])
            seen[ev["run_key"]]["streams"].add(ev["stream"])
    for row in rows:
        row["models"] = sorted(seen[row["run_key"]]["models"])
        row["streams"] = sorted(seen[row["run_key"]]["streams"])
    total = store.query_one(f"SELECT count(*) AS n {base}", tuple(params))
    return rows, int(total["n"]) if total else 0


def _distinct(store: Store, table: str, column: str, cap: int) -> list[str]:
    """Distinct values of an indexed column by hopping the index (distinct x log n, not a full scan)."""
    rows = store.query(
        f"WITH RECURSIVE v(x, n) AS (SELECT min({column}), 1 FROM {table} "
        f"UNION ALL SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x), n + 1 FROM v "
        "WHERE v.x IS NOT NULL AND n < ?) SELECT x FROM v WHERE x IS NOT NULL", (cap,))
    return [r["x"] for r in rows]


def run_filter_values(store: Store, cap: int = 500) -> dict[str, list[str]]:
    """The values a run listing can be filtered by: task types, models and streams present in the store."""
    return {"task_type": _distinct(store, "runs", "task_type", cap),
            "model": _distinct(store, "evidence", "model_name", cap),
            "stream": _distinct(store, "evidence", "stream", cap)}
