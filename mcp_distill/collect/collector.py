"""Evidence Collector: stream JSONL/JSON sources into the unified evidence table.

Guarantees, and how they are kept:
- Streaming: files are read line by line from a byte offset; memory does not grow with file size.
- Incremental: ``sources`` remembers each file's byte offset, size, inode and the sha256 of its
  head; a second run reads only appended bytes. A file that shrank, whose head changed or whose
  inode changed (truncated, rewritten, rotated) is read again from the start.
- Idempotent and crash-safe: rows of a batch and the new offset commit in one transaction; every
  record's id is derived from its dedup key (stream + run id + sha256 of the row's canonical JSON)
  and a record already stored is skipped: a killed run re-reads its last batch and adds nothing twice.
- Nothing lost: a bad line (invalid JSON, not an object, unknown shape, wrong types) goes to
  ``quarantine`` with file, offset, reason and an excerpt; the run continues.
- An incomplete last line (no newline, invalid JSON) is held back until its writer finishes it.
- Parallel on big inputs: above ``collect_workers.POOL_MIN_BYTES`` to read, lines of stateless
  adapters are prepared by a pool of worker processes while this process reads and stores; batches
  are stored in file order, each with its offset, so the store ends exactly as a sequential run leaves it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from mcp_distill.adapters import native as _native  # noqa: F401  (registers the native adapter)
from mcp_distill.adapters.base import Adapter, find_adapter
from mcp_distill.adapters.documents import DOCUMENT_MAX_BYTES, load_yaml
from mcp_distill.collect import redacting, trail, workers
from mcp_distill.collect import repository as repo
from mcp_distill.collect.runs import JoinState, RunAssigner
from mcp_distill.collect.sources import discover, first_object, is_line_file
from mcp_distill.collect.workers import (  # noqa: F401  (EXCERPT_CHARS: kept importable from here)
    EXCERPT_CHARS,
    Chunk,
    Item,
    build,
    chunk_lines,
    prepare_line,
    quarantined,
)
from mcp_distill.config import Settings
from mcp_distill.errors import InvalidInputError
from mcp_distill.progress import Progress
from mcp_distill.receipts import ReceiptBuilder, now_utc
from mcp_distill.store import Connection, Store

#: Rows per transaction: large enough to amortise commits, small enough to lose little on a crash.
BATCH_LINES = 5_000
#: ...and at most this many bytes of lines, so memory stays flat when lines are long.
BATCH_BYTES = 4 * 1024 * 1024
#: While a big collect runs, the WAL is checkpointed every this many pages instead of SQLite's 1,000:
#: every commit of a big batch rewrites the same random index pages, and copying them into the database
#: (and syncing it) after each commit cost a third of the store's time.
BIG_WAL_CHECKPOINT_PAGES = 16_384
#: Bytes hashed at a file's head to notice a rewrite or rotation.
HEAD_BYTES = 1_024
#: An incomplete last line (no newline, not valid JSON) unchanged for this long is a truncated file,
#: not a writer mid-line: it is quarantined instead of held back.
TAIL_GRACE_SECONDS = 120



@dataclass
class FileSummary:
    path: str
    stream: str | None
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    restarted: str | None = None
    held_back: bool = False
    #: What the file's adapter noticed (outcome values no mapping translates), for the summary and receipt.
    warnings: list[str] = field(default_factory=list)
    #: The mapping inferred for a file no adapter claimed (TOML text), when the generic adapter read it.
    inferred_mapping: str | None = None


@dataclass
class CollectResult:
    files: list[FileSummary] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    receipt_id: str | None = None
    #: Placeholders written by type when the collect redacted before storing (None: it stored raw lines).
    redactions: dict[str, int] | None = None

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "lines": self.total("lines"),
            "inserted": self.total("inserted"),
            "duplicates": self.total("duplicates"),
            "quarantined": self.total("quarantined"),
            "skipped_files": self.skipped_files,
            "warnings": [w for f in self.files for w in f.warnings],
            "receipt_id": self.receipt_id,
            "redact_on_collect": self.redactions is not None,
            "redactions": self.redactions or {},
            "per_file": [f.__dict__ for f in self.files],
        }


class Collector:
    """One collect run over a store; construct it, then call :meth:`collect`."""

    def __init__(self, store: Store, extra_adapters: Iterable[Adapter] = (), progress: Progress | None = None,
                 redact: bool = False, infer: bool = True):
        self.store = store
        #: False: files no adapter claims are quarantined instead of read by the generic (inferring) adapter.
        self.infer = infer
        self.extra_adapters = list(extra_adapters)
        self.progress = progress
        # redact before storing (collect/redacting.py): asked for now, or by an earlier collect into this store
        self.redactor = redacting.for_store(store, redact)
        self._joins = JoinState()  # what run joining remembers between this collector's transactions
        # the last record stored with an id that does not name its file (migration 007); 0: none
        self._legacy_max_id = int(store.get_meta("dedup_legacy_max_id") or 0)

    # -- planning -----------------------------------------------------------------------------

    def _pick_adapter(self, path: Path, sample: dict[str, Any] | None, whole_file: bool) -> Adapter | None:
        for adapter in self.extra_adapters:
            fits = adapter.whole_file == whole_file or (whole_file and getattr(adapter, "reads_documents", False))
            if fits and adapter.can_handle(path, sample):
                return adapter
        adapter = find_adapter(path, sample, whole_file=whole_file)
        return None if adapter is not None and getattr(adapter, "inferred", False) and not self.infer else adapter

    def _plan(self, files: list[Path]) -> list[tuple[Path, Adapter | None, bool]]:
        planned = []
        for path in files:
            is_lines = is_line_file(path)
            sample = first_object(path) if is_lines else None
            adapter = self._pick_adapter(path, sample, whole_file=not is_lines)
            planned.append((path, adapter, not is_lines))
        # streams carrying run ids first, so file-window rows find their run
        planned.sort(key=lambda item: (item[1].priority if item[1] else 99, str(item[0])))
        return planned

    # -- running ------------------------------------------------------------------------------

    def collect(self, files: list[Path], command: str = "collect", skipped: Iterable[str] = ()) -> CollectResult:
        """Collect ``files``; an in-progress receipt marks the run until it ends (see :mod:`.trail`)."""
        receipt = ReceiptBuilder("collect", command)
        trail.interrupted(self.store, receipt)
        running = trail.start(self.store, command, len(files))
        try:
            result = self._collect(files, receipt, skipped)
        except BaseException as exc:
            with contextlib.suppress(Exception):  # best effort: the disk may be the reason it stopped
                trail.stopped(self.store, running, str(exc) or type(exc).__name__)
            raise
        trail.finish(self.store, running)
        return result

    def _collect(self, files: list[Path], receipt: ReceiptBuilder, skipped: Iterable[str]) -> CollectResult:
        result = CollectResult(skipped_files=list(skipped))
        readable = []
        for path in files:
            try:
                readable.append((path, path.stat().st_size))
            except OSError as exc:
                result.skipped_files.append(f"{path}: cannot be read ({exc.strerror or exc})")
        plan = []
        for path, _ in readable:
            try:
                plan.extend(self._plan([path]))
            except OSError as exc:
                result.skipped_files.append(f"{path}: cannot be read ({exc.strerror or exc})")
        plan.sort(key=lambda item: (item[1].priority if item[1] else 99, str(item[0])))
        sizes = dict(readable)
        total_bytes = sum(sizes.values()) or 1
        done_bytes = 0
        big = self._bytes_to_read(plan, sizes) >= workers.POOL_MIN_BYTES
        pool = workers.PreparePool(workers.POOL_WORKERS) if big and workers.POOL_WORKERS >= 1 else None
        # WAL checkpoints are SQLite's; a PostgreSQL server manages its own
        checkpoint_pages = self._defer_checkpoints() if big and self.store.dialect == "sqlite" else None
        try:
            for path, adapter, whole_file in plan:
                if self.progress:
                    self.progress(done_bytes, total_bytes, path.name)
                key = workers.pool_key(adapter) if pool is not None and not whole_file else None
                if key is None and pool is not None:
                    self._drain(pool)  # the lines before this file are stored first: order decides run joins
                try:
                    receipt.add_input(path)
                    if key is not None:
                        summary = self._collect_lines_pooled(path, adapter, key, pool)
                    elif whole_file:
                        summary = self._collect_document(path, adapter)
                    else:
                        summary = self._collect_lines(path, adapter)
                except (OSError, InvalidInputError) as exc:  # one unreadable file never stops the others
                    if pool is not None:
                        self._drain(pool)  # what was read of it before the error is stored, as sequentially
                    result.skipped_files.append(f"{path}: {exc}")
                    continue
                result.files.append(summary)
                done_bytes += sizes.get(path, 0)
            if pool is not None:
                self._drain(pool)
                if pool.broken:
                    receipt.warnings.append(f"{pool.broken}; the lines were prepared in the collector's process")
        finally:
            if pool is not None:
                pool.close()
            if checkpoint_pages is not None:
                repo.wal_autocheckpoint(self.store, checkpoint_pages)
        if self.progress:
            self.progress(total_bytes, total_bytes, "done")
        receipt.count_in = result.total("lines")
        receipt.count_out = result.total("inserted")
        receipt.count("duplicates", result.total("duplicates"))
        receipt.count("quarantined", result.total("quarantined"))
        if self.redactor is not None:
            for f in result.files:  # what adapters wrote about a file quotes its lines (examples, values)
                f.warnings = [self.redactor.text(w) for w in f.warnings]
                f.inferred_mapping = f.inferred_mapping and self.redactor.text(f.inferred_mapping)
            result.redactions = dict(sorted(self.redactor.counts.items()))
            receipt.details["redact_on_collect"] = True
            receipt.details["redactions"] = result.redactions
            for kind, n in result.redactions.items():
                receipt.count(f"redacted_{kind}", n)
        for f in result.files:
            if f.stream is None:
                receipt.warnings.append(f"{f.path}: no adapter recognises it; its lines were quarantined")
            if f.restarted:
                receipt.warnings.append(f"{f.path}: {f.restarted}; read again from the start")
            if f.held_back:
                receipt.warnings.append(f"{f.path}: incomplete last line held back until it is finished")
            receipt.warnings.extend(f"{f.path}: {w}" for w in f.warnings)
        receipt.warnings.extend(result.skipped_files)
        receipt.details["files"] = [f.__dict__ for f in result.files]
        # The output is the store itself. It is never hashed from here: opening and closing a second
        # handle on a live SQLite file drops this process's POSIX locks, and another process could then
        # checkpoint and delete the WAL under us. The receipt names it and counts what was written.
        receipt.details["store"] = str(self.store.path)
        result.receipt_id = receipt.finish(self.store, validation_pass=True).receipt_id
        return result

    def _bytes_to_read(self, plan: list[tuple[Path, Adapter | None, bool]], sizes: dict[Path, int]) -> int:
        """Bytes not yet read in the line files whose lines workers can prepare."""
        todo = 0
        for path, adapter, whole_file in plan:
            if whole_file or workers.pool_key(adapter) is None:
                continue
            row = repo.source_row(self.store, str(path))
            size = sizes.get(path, 0)
            done = row["byte_offset"] if row and row["byte_offset"] <= size else 0
            todo += size - done
        return todo

    def _defer_checkpoints(self) -> int:
        """Raise this connection's WAL auto-checkpoint for a big collect; the previous value, to restore."""
        previous = repo.wal_autocheckpoint(self.store)
        repo.wal_autocheckpoint(self.store, max(previous, BIG_WAL_CHECKPOINT_PAGES))
        return previous

    def _drain(self, pool: workers.PreparePool) -> None:
        for tag, items in pool.drain():
            self._commit_prepared(*tag, items)

    def _collect_lines(self, path: Path, adapter: Adapter | None) -> FileSummary:
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        start, summary.restarted = self._resume_offset(path)
        stat = path.stat()
        if adapter is not None and hasattr(adapter, "begin_file"):
            # Stateful line adapters (session ids carried across lines) get their own copy per file,
            # so two collects at once never share state.
            adapter = copy.copy(adapter)
            adapter.begin_file(path, start)
        for chunk, n_lines, offset, head in self._line_batches(path, start, stat, summary):
            self._commit_batch(path, adapter, chunk, n_lines, offset, head, stat, summary)
        _take_notes(adapter, summary)
        return summary

    def _collect_lines_pooled(self, path: Path, adapter: Adapter | None, key: str,
                              pool: workers.PreparePool) -> FileSummary:
        """As :meth:`_collect_lines`, the lines prepared by the pool; batches are stored as they come back."""
        if any(tag[0] == path for tag in pool.tags):
            self._drain(pool)  # the same file twice in one collect: resume from what is stored
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        start, summary.restarted = self._resume_offset(path)
        stat = path.stat()
        for chunk, n_lines, offset, head in self._line_batches(path, start, stat, summary):
            for tag, items in pool.submit((path, n_lines, offset, head, stat, summary), str(path), key, chunk):
                self._commit_prepared(*tag, items)
        return summary

    def _line_batches(self, path: Path, start: int, stat: os.stat_result,
                      summary: FileSummary) -> Iterator[tuple[Chunk, int, int, str | None]]:
        """The file from ``start`` in batches: (chunk, its line count, the offset after it, the hash of the
        file's head read through the same handle). Blocks are cut at line ends, never split into lines
        here: workers do that. The last batch may be empty; it holds a last line without newline when
        that line is complete JSON or, unchanged for TAIL_GRACE_SECONDS, truncated for good."""
        with open(path, "rb") as handle:
            handle.seek(start)
            offset, buf, eof = start, b"", False
            while True:
                cut = workers.batch_cut(buf, BATCH_LINES, BATCH_BYTES)
                if not cut and not eof:
                    more = handle.read(BATCH_BYTES)
                    eof = not more
                    buf += more
                    continue
                if cut:
                    block, buf = buf[:cut], buf[cut:]
                    offset += cut
                    yield (offset - cut, block, None), block.count(b"\n"), offset, \
                        _head_hash(handle, min(HEAD_BYTES, offset))
                    continue
                end = buf.rfind(b"\n") + 1  # the end of the file: its whole lines, then maybe a last one
                block, last = buf[:end], buf[end:]
                tail: tuple[int, bytes, str | None] | None = None
                if last and _complete_json(last):
                    tail = (offset + end, last, None)
                elif last and time.time() - stat.st_mtime >= TAIL_GRACE_SECONDS:
                    # unchanged for a while: truncated for good, so it is quarantined and the offset moves on
                    tail = (offset + end, last, f"truncated last line: no newline and not valid JSON, unchanged "
                                                f"for over {TAIL_GRACE_SECONDS} s")
                elif last:
                    summary.held_back = True  # a writer may be finishing this line
                stop = offset + end + (len(last) if tail else 0)
                yield (offset, block, tail), block.count(b"\n") + (tail is not None), stop, \
                    _head_hash(handle, min(HEAD_BYTES, stop))
                return

    def _resume_offset(self, path: Path) -> tuple[int, str | None]:
        row = repo.source_row(self.store, str(path))
        if row is None:
            return 0, None
        stat = path.stat()
        if stat.st_size < row["byte_offset"]:
            return 0, "file shrank (truncated)"
        if row["inode"] is not None and row["inode"] != stat.st_ino:
            return 0, "file was replaced (rotated)"
        if row["head_sha256"] and _head_hash_of(path, min(HEAD_BYTES, row["byte_offset"])) != row["head_sha256"]:
            return 0, "file head changed (rewritten)"
        return row["byte_offset"], None

    def _commit_batch(self, path: Path, adapter: Adapter | None, chunk: Chunk, n_lines: int, end_offset: int,
                      head: str | None, stat: os.stat_result, summary: FileSummary) -> None:
        source = str(path)
        items = [item for off, raw, reason in chunk_lines(chunk)
                 if (item := prepare_line(source, adapter, off, raw, reason)) is not None]
        self._commit_prepared(path, n_lines, end_offset, head, stat, summary, items)

    def _commit_prepared(self, path: Path, n_lines: int, end_offset: int, head: str | None,
                         stat: os.stat_result, summary: FileSummary, items: list[Item]) -> None:
        """Store one prepared batch and move the file's offset past it, in one transaction."""
        with repo.transaction(self.store) as conn:
            self._store_items(conn, path, items, summary)
            repo.advance_line_source(conn, str(path), summary.stream, end_offset, stat, head, n_lines,
                                     now_utc().isoformat())
            self._joins.seal(conn)

    def _prepare_line(self, path: Path, adapter: Adapter | None, offset: int, raw: bytes,
                      reason: str | None = None) -> Item | None:
        """Parse and map one line outside the write lock: ('record', ...), ('quarantine', ...) or None."""
        return prepare_line(str(path), adapter, offset, raw, reason)

    def _store_items(self, conn: Connection, path: Path, items: list[Item], summary: FileSummary) -> None:
        """Store one batch inside the caller's transaction: quarantine, dedup, run keys, evidence rows."""
        now = now_utc().isoformat()
        source = str(path)
        records = [item[2] for item in items if item[0] == "record"]
        existing = repo.stored_ids(conn, [rec.record_id for rec in records])
        if self._legacy_max_id:  # records stored before ids named their file: found by their old id
            legacy = _legacy_duplicates(conn, source, [rec for rec in records if rec.record_id not in existing],
                                        self._legacy_max_id)
            existing.update(rec.record_id for rec in records if rec.legacy_id in legacy)
        rows: list[tuple] = []

        def insert_rows() -> None:  # before an adoption moves rows between runs, and at the end
            repo.insert_evidence(conn, rows)
            rows.clear()

        self._joins.check(conn)
        assigner = RunAssigner(conn, self._joins, before_adopt=insert_rows)
        touched: set[str] = set()
        quarantine: list[tuple] = []
        for item in items:
            if item[0] == "quarantine":
                _, offset, line_sha, reason, excerpt = item if self.redactor is None else self.redactor.quarantined(item)
                quarantine.append((source, offset, line_sha, summary.stream, reason, excerpt, now))
                continue
            rec = item[2]
            if rec.record_id in existing:
                summary.duplicates += 1
                continue
            existing.add(rec.record_id)
            if self.redactor is not None:  # after dedup (the id is the raw line's), before run joins read the fields
                rec = self.redactor.record(rec)
            run_key = assigner.assign(rec)
            touched.add(run_key)
            rows.append((rec.record_id, rec.stream, run_key, rec.run_id, rec.task_id, rec.task_type, rec.model_name,
                         rec.file_path, rec.pr_number, rec.head_sha, rec.ts, rec.epoch, source, rec.offset,
                         rec.sig_hash, rec.data, now))
            summary.inserted += 1
        summary.lines += len(items)
        insert_rows()
        assigner.flush()
        if quarantine:  # a line quarantined by an earlier run is not counted again
            summary.quarantined += repo.insert_quarantine(conn, quarantine)
        repo.invalidate_scores(conn, touched)

    def _collect_document(self, path: Path, adapter: Adapter | None) -> FileSummary:
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        stat = path.stat()
        if stat.st_size > DOCUMENT_MAX_BYTES:
            raise InvalidInputError(f"{path} is {stat.st_size} bytes, above the {DOCUMENT_MAX_BYTES}-byte limit "
                                    "for whole documents; split it or convert it to JSONL")
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        row = repo.source_row(self.store, str(path))
        if row and row["head_sha256"] == digest:
            return summary  # unchanged since the last run
        items: list[Item] = []
        try:
            doc = load_yaml(raw) if path.suffix.lower() in {".yml", ".yaml"} else orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            items.append(quarantined(0, raw[:4096], f"invalid or truncated document: {exc}"))
            doc = None
        if doc is not None:
            if adapter is None:
                sample = doc if isinstance(doc, dict) else {"$list": doc} if isinstance(doc, list) else None
                adapter = self._pick_adapter(path, sample, whole_file=True)
                summary.stream = adapter.stream if adapter else None
            if adapter is None:
                items.append(quarantined(0, raw[:4096], "unknown shape: no adapter recognises this document; add "
                                         "a mapping (`mcp-distill mapping suggest FILE` writes one)"))
            else:
                if hasattr(adapter, "file_notes"):
                    adapter = copy.copy(adapter)  # its notes are this document's
                try:
                    mapped = (adapter.map_document(doc, raw, path=path) if getattr(adapter, "takes_path", False)
                              else adapter.map_document(doc, raw))
                    for offset, fields in mapped:
                        if "_problem" in fields:  # one item not of the adapter's shape: only it is quarantined
                            items.append(quarantined(offset, raw[offset:offset + 4096], fields["_problem"]))
                            continue
                        # Dedup key: the raw item when the adapter names it (unchanged items of a changed
                        # document then add nothing), else the document's content and the item's offset
                        # (two documents that map alike are never merged by mistake).
                        item_row = fields.pop("_source_row", None) or {"_document_sha256": digest, "_offset": offset}
                        built = build(str(path), adapter, offset, raw[offset:offset + 4096], item_row, fields=fields)
                        if built is not None:
                            items.append(built)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    items.append(quarantined(0, raw[:4096], f"mapping failed in {adapter.stream}: {exc!r}"))
                _take_notes(adapter, summary)
        with repo.transaction(self.store) as conn:
            self._store_items(conn, path, items, summary)
            repo.record_document_source(conn, str(path), summary.stream, stat, digest, len(items), now_utc().isoformat())
            self._joins.seal(conn)
        return summary


def _take_notes(adapter: Adapter | None, summary: FileSummary) -> None:
    """What a per-file adapter noticed while reading the file (mapping and inferring adapters)."""
    if adapter is not None and hasattr(adapter, "file_notes"):
        summary.warnings.extend(adapter.file_notes())
        summary.inferred_mapping = getattr(adapter, "inferred_toml", None)


def _legacy_duplicates(conn: Connection, source: str, records: list[Any], max_id: int) -> set[str]:
    """Old-style ids (stream + run + content) of ``records`` already stored from this same file.

    Before migration 007 the id did not name the file: a stored old-style id from *another* file is
    a line that was then dropped as a duplicate across files, so it is not a duplicate now."""
    found: set[str] = set()
    mine = workers.source_key(source)
    for record_id, source_file in repo.stored_up_to(conn, [rec.legacy_id for rec in records], max_id):
        if workers.source_key(source_file) == mine:
            found.add(record_id)
    return found


def _head_hash(handle: Any, n: int) -> str | None:
    """sha256 of the first ``n`` bytes of an open file (read at offset 0, the handle's position kept)."""
    if n <= 0:
        return None
    return hashlib.sha256(os.pread(handle.fileno(), n, 0)).hexdigest()


def _head_hash_of(path: Path, n: int) -> str | None:
    with open(path, "rb") as handle:
        return _head_hash(handle, n)


def _complete_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def collect_paths(store: Store, settings: Settings, paths: list[str] | None = None,
                  mapping_files: list[str] | None = None, progress: Progress | None = None,
                  command: str = "collect", redact: bool = False, infer: bool = True,
                  roots_by_default: bool = True) -> CollectResult:
    """Collect every source file under ``paths`` (default: the configured roots), each checked against the roots.

    ``redact`` (or ``settings.redact_on_collect``, or an earlier such collect into the store): every
    string is redacted before it is stored (:mod:`mcp_distill.collect.redacting`). ``infer=False``
    quarantines the lines of files no adapter or mapping claims instead of reading them with the generic
    adapter (:mod:`mcp_distill.adapters.generic`).

    With ``roots_by_default`` False, no ``paths`` and roots nobody configured (the current folder by
    default), nothing is read: a bare collect in a project checkout would take its schemas and test
    fixtures for evidence. Raises InvalidInputError saying what to pass instead.
    """
    if not paths and not roots_by_default and not settings.roots_configured:
        raise InvalidInputError(
            "no sources given; pass paths, or configure the roots to collect them all",
            cli="nothing to collect: name the files or folders to read (`mcp-distill run PATH...` or `mcp-distill "
                "collect PATH...`), or set them with --root DIR / MCP_DISTILL_ROOTS and give no path")
    targets = [settings.check_path(p, must_exist=True) for p in paths] if paths else list(settings.roots)
    for target in targets:
        if not target.exists():
            raise InvalidInputError(f"{target} does not exist; pass a file or folder of JSONL/JSON sources")
    extra: list[Adapter] = []
    if mapping_files:
        from mcp_distill.adapters.mapping import load_mappings

        extra = load_mappings([settings.check_path(m, must_exist=True) for m in mapping_files])
    files, skipped = discover(targets, settings)
    collector = Collector(store, extra_adapters=extra, progress=progress, redact=redact or settings.redact_on_collect,
                          infer=infer)
    return collector.collect(files, command=command, skipped=skipped)
