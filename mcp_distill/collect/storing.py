"""Storing prepared batches: dedup against the store, run keys, evidence and quarantine rows, one transaction each.

A batch's rows and the new offset of its file commit together (crash-safe: a killed collect re-reads
its last batch and adds nothing twice). Every record's id is derived from its dedup key, so a record
already stored is counted as a duplicate and skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mcp_distill.collect import repository as repo
from mcp_distill.collect import workers
from mcp_distill.collect.redacting import CollectRedactor
from mcp_distill.collect.runs import JoinState, RunAssigner
from mcp_distill.collect.summary import FileSummary
from mcp_distill.collect.workers import Item
from mcp_distill.receipts import now_utc
from mcp_distill.store import Connection, Store


class BatchWriter:
    """Stores one collector's prepared batches; remembers run joins between its transactions."""

    def __init__(self, store: Store, redactor: CollectRedactor | None):
        self.store = store
        self.redactor = redactor
        self.joins = JoinState()  # what run joining remembers between this writer's transactions
        # the last record stored with an id that does not name its file (migration 007); 0: none
        self.legacy_max_id = int(store.get_meta("dedup_legacy_max_id") or 0)

    def commit_lines(self, path: Path, n_lines: int, end_offset: int, head: str | None,
                     stat: os.stat_result, summary: FileSummary, items: list[Item]) -> None:
        """Store one prepared batch of a line file and move the file's offset past it, in one transaction."""
        with repo.transaction(self.store) as conn:
            self.store_items(conn, path, items, summary)
            repo.advance_line_source(conn, str(path), summary.stream, end_offset, stat, head, n_lines,
                                     now_utc().isoformat())
            self.joins.seal(conn)

    def commit_document(self, path: Path, stat: os.stat_result, digest: str, summary: FileSummary,
                        items: list[Item]) -> None:
        """Store a whole document's items and remember its content hash, in one transaction."""
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
        assigner = RunAssigner(conn, self.joins, before_adopt=insert_rows)
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
