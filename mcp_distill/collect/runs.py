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

from mcp_distill.collect import repository as repo
from mcp_distill.collect.repository import get_score, list_runs
from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models import EvidenceRecord
from mcp_distill.store import Connection, Store

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

    def check(self, conn: Connection) -> None:
        if self.token is None or repo.change_token(conn) != self.token:
            self.window_files = None
            self.adopt_checked.clear()
            self.spans.clear()

    def seal(self, conn: Connection) -> None:
        self.token = repo.change_token(conn)


class RunAssigner:
    """Assigns run keys inside one write transaction, batching the ``runs`` upserts.

    Counts and time spans are aggregated in memory and written by :meth:`flush`, which the collector
    calls before its transaction commits; file-window lookups see both the table and the pending runs.
    """

    def __init__(self, conn: Connection, state: JoinState | None = None,
                 before_adopt: Callable[[], None] | None = None, before_move: Callable[[], None] | None = None):
        self.tx = conn  # the transaction connection of collect.repository.transaction(), for its statements
        self.pending: dict[str, dict[str, Any]] = {}
        # Pending runs by file, for file-window lookups: filed under every time bucket their window
        # touches (or as "wide"), with the order in which each got its file (ties go to the earliest).
        self._order: dict[str, int] = {}
        self._buckets: dict[str, dict[int, list[str]]] = {}
        self._wide: dict[str, list[str]] = {}
        self._filed: dict[str, tuple[int, int] | None] = {}
        self.state = state if state is not None else JoinState()
        if self.state.window_files is None:
            self.state.window_files = repo.window_files(conn)
        self.window_files: set[str] = self.state.window_files
        self.adopt_checked = self.state.adopt_checked
        self.before_adopt = before_adopt
        self.before_move = before_move  # rows of a stored run are about to move to another (see adopt_file_window_runs)

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
                if repo.adopt_file_window_runs(self.tx, key, file_path, epoch, FILE_WINDOW_SECONDS,
                                               self._span(file_path), self.before_move):
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
        return repo.stored_run_in_window(self.tx, file_path, epoch, FILE_WINDOW_SECONDS, self._span(file_path))

    def _span(self, file_path: str) -> float:
        """An upper bound of the longest span of ``file_path``'s stored runs (kept up to date by flush)."""
        span = self.state.spans.get(file_path)
        if span is None:
            span = self.state.spans[file_path] = repo.longest_span(self.tx, file_path)
        return span

    def _widen_spans(self, keys: Iterable[str]) -> None:
        """Raise the remembered longest span of every known file to cover the runs ``keys`` (just written)."""
        spans = self.state.spans
        if not spans:
            return
        for file_path, span in repo.spans_by_file(self.tx, list(keys)):
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
        repo.upsert_runs(self.tx, [
            (key, r["run_id"], r["method"], r["file_path"], r["pr_number"], r["head_sha"], r["task_type"],
             r["first"], r["last"], r["count"], now) for key, r in self.pending.items()])
        # a run's span grows with new epochs, and a stored run joins a file when it first gets one
        self._widen_spans(key for key, r in self.pending.items() if r["first"] is not None or r["file_path"])
        self.pending.clear()
        self._order.clear()
        self._buckets.clear()
        self._wide.clear()
        self._filed.clear()


def run_records(store: Store, run_key: str) -> list[EvidenceRecord]:
    return [EvidenceRecord.model_validate_json(data) for data in repo.run_record_data(store, run_key)]


def resolve_run_key(store: Store, run: str) -> str:
    """Accept a run key (``run:...``, ``file:...``) or a bare run_id."""
    for key in (run, f"run:{run}"):
        if repo.run_exists(store, key):
            return key
    raise NotFoundError(f"no run {run!r}; run ids complete from distill://runs/{{run_id}} (the CLI's `mcp-distill "
                        "runs list` lists them)",
                        cli=f"no run {run!r}; list runs with `mcp-distill runs list`")


def get_run(store: Store, run: str) -> dict[str, Any]:
    """The joined run: its row, every record about it, and its score when it has one."""
    key = resolve_run_key(store, run)
    row = repo.run_row(store, key)
    score = get_score(store, key)
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


# ----------------------------------------------------------------------------- browsing (dashboard)

#: Sort keys a caller may ask for, and the column each orders by (never user text in the SQL).
RUN_SORTS = repo.RUN_ORDER
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


def _run_where(q: RunQuery) -> list[tuple[str, Any]]:
    wanted = [("category", q.category if q.category != UNSCORED else None), ("task_type", q.task_type),
              ("model", q.model), ("stream", q.stream), ("since", q.since), ("until", q.until)]
    where = [(name, value) for name, value in wanted if value not in (None, "")]
    if q.category == UNSCORED:
        where.append(("unscored", None))
    return where


def query_runs(store: Store, q: RunQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of runs matching ``q`` (with category, models and streams of each) and the total that match."""
    if q.sort not in RUN_SORTS:
        raise InvalidInputError(f"unknown sort {q.sort!r}; use one of {', '.join(RUN_SORTS)}")
    if not 1 <= q.limit <= MAX_PAGE or q.offset < 0:
        raise InvalidInputError(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    rows, total = repo.run_page(store, _run_where(q), q.sort, q.descending, q.limit, q.offset)
    # Models and streams only for the page's runs: a deep OFFSET must not compute them for skipped rows.
    seen = repo.models_and_streams(store, [r["run_key"] for r in rows])
    for row in rows:
        models, streams = seen[row["run_key"]]
        row["models"], row["streams"] = sorted(models), sorted(streams)
    return rows, total


def run_filter_values(store: Store, cap: int = 500) -> dict[str, list[str]]:
    """The values a run listing can be filtered by: task types, models and streams present in the store."""
    return {name: repo.distinct_values(store, name, cap) for name in ("task_type", "model", "stream")}


__all__ = [
    "FILE_WINDOW_SECONDS", "MAX_PAGE", "RUN_SORTS", "UNSCORED", "JoinState", "RunAssigner", "RunFields", "RunQuery",
    "get_run", "list_runs", "query_runs", "resolve_run_key", "run_filter_values", "run_records",
]
