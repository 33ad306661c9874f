"""Line preparation for the collector, and the process pool that runs it on big collects.

Preparing a line (parse the JSON, check and map it with its adapter, validate the EvidenceRecord,
dump its JSON) is pure: it needs only the line, its offset, the file name and the adapter, and it is
~60% of a collect's CPU. It yields plain tuples (:class:`Prepared`, or a quarantine tuple) that pickle
cheaply, so big collects hand blocks of raw lines (cut at line ends) to worker processes while the
collector keeps reading and storing. Results come back and are stored strictly in file order, each batch with its
offset in one transaction, so the store ends exactly as after a sequential collect.

Only stateless line adapters of the registry go to the pool: workers find them by stream name in
their own registry. Stateful adapters (``begin_file``: sessions carried across lines), mapping-file
adapters and whole documents stay in the collector's process.

Workers are started with ``spawn`` (never ``fork``: the MCP server is multi-threaded), so a script that
calls the collector on big inputs needs the usual ``if __name__ == "__main__":`` guard. Should the
workers die (killed, out of memory, an unguarded script), the batches still out and all later ones are
prepared in the collector's own process: slower, same result.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from mcp_distill.adapters import REGISTRY, Adapter, TimestampError, canonical_json
from mcp_distill.collect.sources import INT64, ROTATED, json_line_problem, parse_json_line
from mcp_distill.models import EvidenceRecord

EXCERPT_CHARS = 240
#: Below this many bytes to read in pooled files a collect stays in one process: starting workers
#: (a fresh interpreter importing pydantic and the adapters, ~0.2 s of CPU each, plus the IPC) costs
#: more than it saves on a few MB (~10,000 lines); tests and MCP pushes stay sequential.
POOL_MIN_BYTES = 8 * 1024 * 1024
#: Worker processes of the pool. One core is left to the collector's own process: storing (SQLite) is
#: the longer half of a collect, and a third process on two cores only slows it down (measured: 1 worker
#: beats 2 on 2 cores). When the workers fall behind, the collector prepares batches itself. On one
#: core there is no pool.
POOL_WORKERS = (os.cpu_count() or 1) - 1
#: Batches handed to the pool ahead of the one being stored: enough to keep every worker busy while
#: the collector stores, few enough that memory stays flat (a batch is at most BATCH_LINES lines and
#: about BATCH_BYTES bytes).
IN_FLIGHT = 3

#: (offset, raw line, reason it is quarantined without parsing, or None)
Line = tuple[int, bytes, str | None]
#: A batch as read: (offset of its first byte, its whole lines as one block, a last line without newline)
Chunk = tuple[int, bytes, Line | None]


def batch_cut(buf: bytes, max_lines: int, max_bytes: int) -> int:
    """Where the first batch of ``buf`` ends: after its ``max_lines``-th line or after the line that
    reaches ``max_bytes``, whichever comes first; 0 while ``buf`` holds neither."""
    by_bytes = buf.find(b"\n", max_bytes - 1) + 1 if len(buf) >= max_bytes else 0
    if buf.count(b"\n", 0, by_bytes or len(buf)) < max_lines:
        return by_bytes
    end = 0
    for _ in range(max_lines):
        end = buf.index(b"\n", end) + 1
    return end


def chunk_lines(chunk: Chunk) -> Iterator[Line]:
    """The lines of a chunk, each with its offset, as reading the file line by line gives them."""
    offset, block, tail = chunk
    start = 0
    find = block.find
    while (end := find(b"\n", start) + 1) > 0:
        yield offset + start, block[start:end], None
        start = end
    if tail is not None:
        yield tail


class Prepared(NamedTuple):
    """One line ready to store: the evidence columns, its JSON and where it came from."""

    record_id: str
    stream: str
    run_id: str | None
    task_id: str | None
    task_type: str | None
    model_name: str | None
    file_path: str | None
    pr_number: int | None
    head_sha: str | None
    ts: str | None
    epoch: float | None
    sig_hash: str
    data: str
    offset: int
    #: The id this line had before ids named their source file (stores collected before migration 007).
    legacy_id: str


#: ("record", offset, Prepared) or ("quarantine", offset, line sha256, reason, excerpt)
Item = tuple[Any, ...]


def quarantined(offset: int, raw: bytes, reason: str) -> Item:
    excerpt = raw[:EXCERPT_CHARS * 4].rstrip(b"\r\n").decode("utf-8", "replace")[:EXCERPT_CHARS]
    return ("quarantine", offset, hashlib.sha256(raw).hexdigest(), reason, excerpt)


def prepare_line(source_file: str, adapter: Adapter | None, offset: int, raw: bytes,
                 reason: str | None = None) -> Item | None:
    """Parse and map one line: a record, a quarantine tuple, or None (blank or bookkeeping line)."""
    if reason is not None:
        return quarantined(offset, raw, reason)
    if not raw.strip():
        return None
    try:
        row = parse_json_line(raw)
    except orjson.JSONDecodeError as exc:
        return quarantined(offset, raw, f"invalid JSON: {exc}")
    if type(row) is not dict:
        return quarantined(offset, raw, f"not a JSON object but {type(row).__name__}")
    if adapter is None:
        return quarantined(offset, raw,
                           "unknown shape: no adapter recognises this stream; add a mapping file "
                           "(`mcp-distill mapping suggest FILE` writes one; docs/streams.md)")
    try:
        return build(source_file, adapter, offset, raw, row)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError) as exc:
        # e.g. JSON nested deeper than can be hashed: the line is kept in quarantine, the run goes on
        return quarantined(offset, raw, f"could not process the line: {type(exc).__name__}: {exc}"[:400])


_validate = EvidenceRecord.__pydantic_validator__.validate_python
_to_json = EvidenceRecord.__pydantic_serializer__.to_json


def build(source_file: str, adapter: Adapter, offset: int, raw: bytes, row: Any,
          fields: dict[str, Any] | None = None) -> Item | None:
    """Map ``row`` (unless ``fields`` are given), add id and provenance, validate: a record or quarantine."""
    canonical = canonical_json(row)
    if fields is None:
        problem = json_line_problem(raw, canonical)
        if problem is not None:
            return quarantined(offset, raw, problem)
        try:
            reason = adapter.check(row)
            if reason:
                return quarantined(offset, raw, f"unknown shape: {reason}")
            fields = dict(adapter.map(row))
        except TimestampError as exc:
            return quarantined(offset, raw, f"bad timestamp: {exc}; fix or remove the value and collect again")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return quarantined(offset, raw, f"mapping failed in {adapter.stream}: {exc!r}")
        if not fields:
            return None  # a bookkeeping line of its format (progress tick, snapshot): nothing to record
    stream = fields.pop("stream", None) or adapter.stream
    content_hash = hashlib.sha256(canonical).hexdigest()
    own_sig = row.get("sig_hash") if isinstance(row, dict) else None
    sig_hash = own_sig if isinstance(own_sig, str) and len(own_sig) >= 8 else content_hash
    # The run id is part of the key: some formats name the run only in the file name, and two
    # identical lines of two sessions are two events, not one. So is the source file: the same line
    # in two files is two records (two agents can log byte-identical lines), while the same line read
    # again from the same file (a rewrite, a rotation, a re-collect) is one.
    legacy_key = f"{stream}:{fields.get('run_id') or ''}:{content_hash}"
    legacy_id = hashlib.sha256(legacy_key.encode()).hexdigest()[:24]
    fields["record_id"] = hashlib.sha256(f"{legacy_key}:{source_key(source_file)}".encode()).hexdigest()[:24]
    fields["stream"] = stream
    fields["provenance"] = {"source_file": source_file, "line_offset": offset, "sig_hash": sig_hash}
    try:
        record = _validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        return quarantined(offset, raw, f"wrong types: {problems}")
    if record.pr_number is not None and not INT64[0] <= record.pr_number <= INT64[1]:
        return quarantined(offset, raw, f"out-of-range number: pr_number {record.pr_number} does not fit a signed "
                                        "64-bit integer; fix the value and collect again")
    ts = record.timestamp
    return ("record", offset, Prepared(
        record.record_id, record.stream, record.run_id, record.task_id, record.task_type, record.model_name,
        record.file_path, record.pr_number, record.head_sha, ts.isoformat() if ts else None,
        ts.timestamp() if ts else None, sig_hash,
        _to_json(record, exclude_none=True, exclude_unset=True).decode(), offset, legacy_id))


def source_key(source_file: str) -> str:
    """The file part of a record's dedup key: its path, a rotation suffix (``x.jsonl.1``) dropped, so a
    rotated log's lines are the lines already read from ``x.jsonl``, not new ones."""
    match = ROTATED.search(source_file)
    return source_file[:match.start()] + "." + match.group(1) if match else source_file


# --- the pool ---------------------------------------------------------------------------------


def pool_key(adapter: Adapter | None) -> str | None:
    """The name a worker finds ``adapter`` under, or None when its lines must be prepared here."""
    if adapter is None or adapter.whole_file or hasattr(adapter, "begin_file"):
        return None
    if not type(adapter).__module__.startswith("mcp_distill.adapters."):
        return None  # defined outside the package (a test, a plug-in): a worker's registry lacks it
    same = [a for a in REGISTRY if a.stream == adapter.stream and not a.whole_file]
    return adapter.stream if len(same) == 1 and same[0] is adapter else None


_WORKER_ADAPTERS: dict[str, Adapter] = {}


def _adapters() -> dict[str, Adapter]:
    if not _WORKER_ADAPTERS:
        import mcp_distill.adapters  # noqa: F401  (registers every adapter module)

        _WORKER_ADAPTERS.update((a.stream, a) for a in REGISTRY if not a.whole_file)
    return _WORKER_ADAPTERS


def prepare_batch(source_file: str, key: str, chunk: Chunk) -> list[Item]:
    """In a worker: prepare one chunk of lines with the registry's adapter named ``key``."""
    adapter = _adapters()[key]
    items = []
    for offset, raw, reason in chunk_lines(chunk):
        item = prepare_line(source_file, adapter, offset, raw, reason)
        if item is not None:
            items.append(item)
    return items


def _warm_up() -> bool:
    """In a worker: import the adapters before the first batch arrives."""
    return bool(_adapters())


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the collector stops the pool; workers must not die mid-task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A collector killed outright (SIGKILL, OOM) cannot stop its pool, and a worker waiting for work
    # would wait forever: each worker leaves as soon as its parent is gone.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True, name="parent-watch").start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


class PreparePool:
    """Worker processes preparing batches; results are handed back in submission order.

    At most :data:`IN_FLIGHT` batches are out at once: :meth:`submit` waits for and returns the oldest
    batches beyond that, so the caller stores them while the workers prepare the next ones. Batches are
    prepared here instead whenever this process would otherwise wait: before a first worker has started
    (a fresh interpreter: ~0.2 s), and while the batch due is still being prepared (a queued one is
    taken back from the workers).
    """

    def __init__(self, workers: int):
        # spawn, never fork: the MCP server is multi-threaded, and a forked child inherits held locks
        self._executor = ProcessPoolExecutor(max_workers=max(1, workers),
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_start)
        # each entry: [future or None, tag, job, items once prepared here]
        self._out: deque[list[Any]] = deque()
        #: Why the workers stopped, when they did (the rest is then prepared in this process).
        self.broken: str | None = None
        self._started: list[Future[bool]] = []
        try:
            self._started = [self._executor.submit(_warm_up) for _ in range(max(1, workers))]
        except (BrokenProcessPool, RuntimeError) as exc:
            self.broken = f"{type(exc).__name__}: {exc}"

    def submit(self, tag: Any, source_file: str, key: str, chunk: Chunk) -> list[tuple[Any, list[Item]]]:
        """Hand one batch to the workers; return the (tag, items) of the batches now due, oldest first."""
        job = (source_file, key, chunk)
        future = items = None
        if self.broken is None and self._started and not any(f.done() for f in self._started):
            items = prepare_batch(*job)  # no worker is up yet
        elif self.broken is None:
            try:
                future = self._executor.submit(prepare_batch, *job)
            except (BrokenProcessPool, RuntimeError) as exc:
                self.broken = f"{type(exc).__name__}: {exc}"
        self._out.append([future, tag, job, items])
        return [self._next() for _ in range(len(self._out) - IN_FLIGHT)]

    def _help(self) -> bool:
        """Take back the newest batch no worker has started and prepare it here; False when there is none."""
        for entry in reversed(self._out):
            if entry[0] is not None and entry[0].cancel():
                entry[0], entry[3] = None, prepare_batch(*entry[2])
                return True
        return False

    @property
    def tags(self) -> list[Any]:
        """The tags of the batches out, oldest first."""
        return [entry[1] for entry in self._out]

    def drain(self) -> Iterator[tuple[Any, list[Item]]]:
        while self._out:
            yield self._next()

    def _next(self) -> tuple[Any, list[Item]]:
        while self._out[0][0] is not None and not self._out[0][0].done() and self._help():
            pass  # the workers are behind: this process prepares queued batches instead of waiting
        future, tag, job, items = self._out[0]
        if future is not None:
            try:
                items = future.result()  # a worker's own exception is raised here, before its batch is stored
            except BrokenProcessPool as exc:
                self.broken = f"worker processes stopped: {exc}"
        if items is None:
            items = prepare_batch(*job)
        self._out.popleft()
        return tag, items

    def close(self) -> None:
        """Stop the workers; batches not yet stored are dropped (their lines are read again next time)."""
        for future, *_ in self._out:
            if future is not None:
                future.cancel()
        self._out.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)
