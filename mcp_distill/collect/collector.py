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

This module plans and drives a collect; the parts live by concept: :mod:`.reading` (resume offsets, batches
cut at line ends), :mod:`.workers` (preparing lines, the pool), :mod:`.storing` (a batch's transaction),
:mod:`.documents` (whole JSON/YAML files) and :mod:`.summary` (per-file summaries, the receipt).
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mcp_distill.adapters import Adapter, find_adapter  # the package registers every adapter, native included
from mcp_distill.collect import bulk, reading, redacting, trail, workers
from mcp_distill.collect import repository as repo
from mcp_distill.collect.documents import collect_document, take_notes
from mcp_distill.collect.sources import discover, first_object, is_line_file
from mcp_distill.collect.storing import BatchWriter
from mcp_distill.collect.summary import CollectResult, FileSummary, finish_receipt
from mcp_distill.collect.workers import (  # noqa: F401  (EXCERPT_CHARS: kept importable from here)
    EXCERPT_CHARS,
    Chunk,
    Item,
    chunk_lines,
    prepare_line,
)
from mcp_distill.config import Settings
from mcp_distill.errors import InvalidInputError
from mcp_distill.progress import Progress
from mcp_distill.receipts import ReceiptBuilder
from mcp_distill.store import Store

#: While a big collect runs, the WAL is checkpointed every this many pages instead of SQLite's 1,000:
#: every commit of a big batch rewrites the same random index pages, and copying them into the database
#: (and syncing it) after each commit cost a third of the store's time.
BIG_WAL_CHECKPOINT_PAGES = 16_384

#: While a big collect runs, the writer connection's page cache is this many KiB instead of the store's
#: 64 MiB: the collect writes appended rows and their index pages once, so a larger cache mostly holds
#: pages it will not read again; at 500,000 lines the 64 MiB cache filled and put the collect's peak RSS
#: past 300 MB (issue #19) with no measurable speed gain.
BIG_PAGE_CACHE_KIB = 16_384

#: A planned file: (path, its adapter or None, whether it is read as one whole document)
Planned = tuple[Path, Adapter | None, bool]


__all__ = ["BIG_PAGE_CACHE_KIB", "BIG_WAL_CHECKPOINT_PAGES", "CollectResult", "Collector", "FileSummary", "collect_paths"]


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
        self.writer = BatchWriter(store, self.redactor)

    # -- planning -----------------------------------------------------------------------------

    def _pick_adapter(self, path: Path, sample: dict[str, Any] | None, whole_file: bool) -> Adapter | None:
        for adapter in self.extra_adapters:
            fits = adapter.whole_file == whole_file or (whole_file and getattr(adapter, "reads_documents", False))
            if fits and adapter.can_handle(path, sample):
                return adapter
        adapter = find_adapter(path, sample, whole_file=whole_file)
        return None if adapter is not None and getattr(adapter, "inferred", False) and not self.infer else adapter

    def _plan(self, paths: list[Path], result: CollectResult) -> list[Planned]:
        """Each readable file with its adapter, streams carrying run ids first (file-window rows find their run)."""
        planned = []
        for path in paths:
            try:
                path.stat()
                is_lines = is_line_file(path)
                sample = first_object(path) if is_lines else None
            except OSError as exc:
                result.skipped_files.append(f"{path}: cannot be read ({exc.strerror or exc})")
                continue
            planned.append((path, self._pick_adapter(path, sample, whole_file=not is_lines), not is_lines))
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
        plan = self._plan(files, result)
        sizes = {path: _size(path) for path, _, _ in plan}
        to_read = self._bytes_to_read(plan, sizes)
        big = to_read >= workers.POOL_MIN_BYTES
        pool = workers.PreparePool(workers.POOL_WORKERS) if big and workers.POOL_WORKERS >= 1 else None
        # WAL checkpoints are SQLite's; a PostgreSQL server manages its own
        checkpoint_pages = self._defer_checkpoints() if big and self.store.dialect == "sqlite" else None
        cache_size = repo.page_cache(self.store, -BIG_PAGE_CACHE_KIB) if checkpoint_pages is not None else None
        total_bytes = sum(sizes.values()) or 1
        bulk.restore_interrupted(self.store)  # a killed bulk load's indexes are built before anything else
        deferred = bulk.DeferredIndexes(self.store)
        if big and deferred.begin(to_read):
            self.writer.bulk = deferred
        try:
            with self.writer.grouped() if big else contextlib.nullcontext():
                self._run_plan(plan, sizes, total_bytes, pool, receipt, result)
            deferred.end()
        finally:
            deferred.abandon()
            self.writer.bulk = None
            if pool is not None:
                pool.close()
            if checkpoint_pages is not None:
                repo.wal_autocheckpoint(self.store, checkpoint_pages)
            if cache_size is not None:
                repo.page_cache(self.store, cache_size)
        if self.progress:
            self.progress(total_bytes, total_bytes, "done")
        finish_receipt(self.store, result, receipt, self.redactor)
        return result

    def _run_plan(self, plan: list[Planned], sizes: dict[Path, int], total_bytes: int,
                  pool: workers.PreparePool | None, receipt: ReceiptBuilder, result: CollectResult) -> None:
        """Collect the planned files in order, lines of stateless adapters through ``pool`` when there is one."""
        done_bytes = 0
        for path, adapter, whole_file in plan:
            if self.progress:
                self.progress(done_bytes, total_bytes, path.name)
            key = workers.pool_key(adapter) if pool is not None and not whole_file else None
            if key is None and pool is not None:
                self._drain(pool)  # the lines before this file are stored first: order decides run joins
            try:
                receipt.add_input(path)
                if key is not None and pool is not None:
                    summary = self._collect_lines_pooled(path, adapter, key, pool)
                elif whole_file:
                    summary = collect_document(self.writer, path, adapter,
                                               lambda p, sample: self._pick_adapter(p, sample, whole_file=True))
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

    def _bytes_to_read(self, plan: list[Planned], sizes: dict[Path, int]) -> int:
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
            self.writer.commit_lines(*tag, items)

    def _collect_lines(self, path: Path, adapter: Adapter | None) -> FileSummary:
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        start, summary.restarted = reading.resume_offset(self.store, path)
        stat = path.stat()
        if adapter is not None and hasattr(adapter, "begin_file"):
            # Stateful line adapters (session ids carried across lines) get their own copy per file,
            # so two collects at once never share state.
            adapter = copy.copy(adapter)
            adapter.begin_file(path, start)
        for chunk, n_lines, offset, head in reading.line_batches(path, start, stat, summary):
            self._commit_batch(path, adapter, chunk, n_lines, offset, head, stat, summary)
        take_notes(adapter, summary)
        return summary

    def _collect_lines_pooled(self, path: Path, adapter: Adapter | None, key: str,
                              pool: workers.PreparePool) -> FileSummary:
        """As :meth:`_collect_lines`, the lines prepared by the pool; batches are stored as they come back."""
        if any(tag[0] == path for tag in pool.tags):
            self._drain(pool)  # the same file twice in one collect: resume from what is stored
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        start, summary.restarted = reading.resume_offset(self.store, path)
        stat = path.stat()
        for chunk, n_lines, offset, head in reading.line_batches(path, start, stat, summary):
            for tag, items in pool.submit((path, n_lines, offset, head, stat, summary), str(path), key, chunk):
                self.writer.commit_lines(*tag, items)
        return summary

    def _commit_batch(self, path: Path, adapter: Adapter | None, chunk: Chunk, n_lines: int, end_offset: int,
                      head: str | None, stat: os.stat_result, summary: FileSummary) -> None:
        """Prepare one batch in this process and store it with the file's new offset."""
        source = str(path)
        items = [item for off, raw, reason in chunk_lines(chunk)
                 if (item := prepare_line(source, adapter, off, raw, reason)) is not None]
        self.writer.commit_lines(path, n_lines, end_offset, head, stat, summary, items)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
        from mcp_distill.adapters import load_mappings

        extra = load_mappings([settings.check_path(m, must_exist=True) for m in mapping_files])
    files, skipped = discover(targets, settings)
    collector = Collector(store, extra_adapters=extra, progress=progress, redact=redact or settings.redact_on_collect,
                          infer=infer)
    return collector.collect(files, command=command, skipped=skipped)
