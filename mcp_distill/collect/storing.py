"""Storing prepared batches: dedup against the store, run keys, evidence and quarantine rows.

A batch's rows and the new offset of its file commit together (crash-safe: a killed collect re-reads
the batches it had not committed and adds nothing twice). Every record's id is derived from its dedup
key, so a record already stored is counted as a duplicate and skipped. A big collect groups
:data:`GROUP_BATCHES` batches in one transaction (:meth:`BatchWriter.grouped`): each batch's offset
is still written with its own rows, so the group commits or rolls back as a whole and a resumed
collect starts right after the last committed batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from mcp_distill.collect import repository as repo
from mcp_distill.collect import workers
from mcp_distill.collect.bulk import DeferredIndexes
from mcp_distill.collect.redacting import CollectRedactor
from mcp_distill.collect.runs import JoinState, RunAssigner
from mcp_distill.collect.summary import FileSummary
from mcp_distill.collect.workers import Item
from mcp_distill.receipts import now_utc
from mcp_distill.store import Connection, Store

#: Batches per transaction in a big collect. Every commit writes the random index pages the batch
#: touched (record ids, run keys) to the WAL again; one commit per batch wrote 3.6 GiB of WAL for a
#: 1.2 GB store at 500,000 lines. Eight batches (<= 40,000 lines) keep the write lock for about a
#: second at a time, well inside another writer's busy timeout.
GROUP_BATCHES = 8


class BatchWriter:
    """Stores one collector's prepared batches; remembers run joins between its transactions."""

    def __init__(self, store: Store, redactor: CollectRedactor | None):
        self.store = store
        self.redactor = redactor
        self.joins = JoinState()  # what run joining remembers between this writer's transactions
        # the last record stored with an id that does not name its file (migration 007); 0: none
        self.legacy_max_id = int(store.get_meta("dedup_legacy_max_id") or 0)
        #: The evidence indexes a bulk load dropped (collect/bulk.py), built before rows move between runs.
        self.bulk: DeferredIndexes | None = None
        self._group: tuple[AbstractContextManager[Connection], Connection] | None = None
        self._group_size = 1
        self._in_group = 0

    @contextmanager
    def grouped(self, batches: int | None = None) -> Iterator[None]:
        """While open, line batches commit ``batches`` (default :data:`GROUP_BATCHES`) at a time; the last
        group commits on the way out, and an error rolls the open group back (its batches' offsets with
        it: they are read again next time)."""
        self._group_size = max(1, GROUP_BATCHES if batches is None else batches)
        try:
            yield
        except BaseException:
            self._end_group(rollback=True)
            raise
        finally:
            self._group_size = 1
        self._end_group()

    def flush(self) -> None:
        """Commit the batches of the open group now (before something else reads or writes the store)."""
        self._end_group()

    def _transaction(self) -> AbstractContextManager[Connection]:
        """The open group's transaction, a new group's, or (outside :meth:`grouped`) a batch's own."""
        if self._group_size <= 1:
            return repo.transaction(self.store)
        if self._group is None:
            tx = repo.transaction(self.store)
            self._group = (tx, tx.__enter__())
        # inside the group's transaction atomic() is a SAVEPOINT: a batch that fails is undone alone,
        # as when each batch had its own transaction, and the batches before it stay in the group
        return repo.transaction(self.store)

    def _end_group(self, rollback: bool = False) -> None:
        group, self._group, self._in_group = self._group, None, 0
        if group is None:
            return
        if rollback:
            error = RuntimeError("the collect stopped before this group of batches was committed")
            group[0].__exit__(RuntimeError, error, None)  # atomic() rolls back and re-raises: nothing to catch
        else:
            group[0].__exit__(None, None, None)

    def _batch_done(self) -> None:
        if self._group is not None:
            self._in_group += 1
            if self._in_group >= self._group_size:
                self._end_group()

    def commit_lines(self, path: Path, n_lines: int, end_offset: int, head: str | None,
                     stat: os.stat_result, summary: FileSummary, items: list[Item]) -> None:
        """Store one prepared batch of a line file and move the file's offset past it, in one transaction
        (the open group's, inside :meth:`grouped`)."""
        with self._transaction() as conn:
            self.store_items(conn, path, items, summary)
            repo.advance_line_source(conn, str(path), summary.stream, end_offset, stat, head, n_lines,
                                     now_utc().isoformat())
            self.joins.seal(conn)
        self._batch_done()

    def commit_document(self, path: Path, stat: os.stat_result, digest: str, summary: FileSummary,
                        items: list[Item]) -> None:
        """Store a whole document's items and remember its content hash, in one transaction."""
        self.flush()
        with repo.transaction(self.store) as conn:
            self.store_items(conn, path, items, summary)
            repo.record_document_source(conn, str(path), summary.stream, stat, digest, len(items),
                                        now_utc().isoformat())
            self.joins.seal(conn)

    def store_items(self, conn: Connection, path: Path, items: list[Item], summary: FileSummary) -> None:
        """Store one batch inside the caller's transaction: quarantine, dedup, run keys, evidence rows."""
        now = now_utc().isoformat()
        source = str(path)
        existing = self._stored(conn, source, [item[2] for item in items if item[0] == "record"])
        rows: list[tuple] = []

        def insert_rows() -> None:  # before an adoption moves rows between runs, and at the end
            repo.insert_evidence(conn, rows)
            rows.clear()

        self.joins.check(conn)
        assigner = RunAssigner(conn, self.joins, before_adopt=insert_rows,
                               before_move=self.bulk.end if self.bulk is not None else None)
        touched: set[str] = set()
        quarantine: list[tuple] = []
        redactor = self.redactor
        for item in items:
            if item[0] == "quarantine":
                _, offset, line_sha, reason, excerpt = item if redactor is None else redactor.quarantined(item)
                quarantine.append((source, offset, line_sha, summary.stream, reason, excerpt, now))
                continue
            rec = item[2]
            if rec.record_id in existing:
                summary.duplicates += 1
                continue
            existing.add(rec.record_id)
            if redactor is not None:  # after dedup (the id is the raw line's), before run joins read the fields
                rec = redactor.record(rec)
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

    def _stored(self, conn: Connection, source: str, records: list[Any]) -> set[str]:
        """The ids of ``records`` already in the store (by their old-style id too, for older stores)."""
        existing = repo.stored_ids(conn, [rec.record_id for rec in records])
        if self.legacy_max_id:  # records stored before ids named their file: found by their old id
            legacy = _legacy_duplicates(conn, source, [rec for rec in records if rec.record_id not in existing],
                                        self.legacy_max_id)
            existing.update(rec.record_id for rec in records if rec.legacy_id in legacy)
        return existing


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
