"""The collector's writes: its transaction, the ``sources`` offsets, evidence and quarantine inserts, and
the WAL checkpoint and page cache settings of a big collect."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp_distill.collect.repository.lists import in_lists
from mcp_distill.collect.repository.runs import conn_dialect
from mcp_distill.store import Connection, SqliteStore, StoreBackend, greatest


@contextmanager
def transaction(store: StoreBackend) -> Iterator[Connection]:
    """A write transaction (``store.atomic()``) and its connection, for the collector's batched statements."""
    with store.atomic() as db:
        yield db.conn


def wal_autocheckpoint(store: SqliteStore, pages: int | None = None) -> int:
    """The writer connection's WAL auto-checkpoint (pages), set to ``pages`` when given; the value before."""
    with store.lock:
        previous = int(store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        if pages is not None:
            store.conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
    return previous


def page_cache(store: SqliteStore, size: int | None = None) -> int:
    """The writer connection's page cache (``PRAGMA cache_size``: negative is KiB, positive pages), set to
    ``size`` when given; the value before."""
    with store.lock:
        previous = int(store.conn.execute("PRAGMA cache_size").fetchone()[0])
        if size is not None:
            store.conn.execute(f"PRAGMA cache_size = {int(size)}")
    return previous


def source_row(store: StoreBackend, path: str) -> dict[str, Any] | None:
    """What the store remembers of a source file: offset, size, head hash, inode, mtime, lines read."""
    return store.query_one("SELECT * FROM sources WHERE path = ?", (path,))


def stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    """The ``ids`` already in the evidence table."""
    found: set[str] = set()
    for marks, chunk in in_lists(ids):
        found.update(r[0] for r in conn.execute(f"SELECT record_id FROM evidence WHERE record_id IN ({marks})", chunk))
    return found


def stored_up_to(conn: Connection, ids: list[str], max_id: int) -> Iterator[tuple[str, str]]:
    """(record id, source file) of the ``ids`` stored in rows up to ``max_id``."""
    for marks, chunk in in_lists(ids):
        yield from conn.execute(f"SELECT record_id, source_file FROM evidence WHERE record_id IN ({marks}) AND id <= ?",
                                (*chunk, max_id))


def insert_evidence(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Evidence rows: (record id, stream, run key, run id, task id, task type, model, file path, PR number,
    head sha, ts, epoch, source file, line offset, sig hash, data, ingested at)."""
    conn.executemany(
        "INSERT INTO evidence(record_id, stream, run_key, run_id, task_id, task_type, model_name, "
        "file_path, pr_number, head_sha, ts, ts_epoch, source_file, line_offset, sig_hash, data, ingested_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def insert_quarantine(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Quarantined lines (a line quarantined by an earlier run is not stored again); how many are new."""
    return conn.executemany(
        "INSERT INTO quarantine(source_file, line_offset, line_sha256, stream, reason, excerpt, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows).rowcount


def invalidate_scores(conn: Connection, run_keys: set[str]) -> None:
    """New evidence invalidates the score of every run it joined."""
    if run_keys and conn.execute("SELECT 1 FROM scores LIMIT 1").fetchone():
        conn.executemany("DELETE FROM scores WHERE run_key = ?", [(k,) for k in run_keys])


def advance_line_source(conn: Connection, path: str, stream: str | None, end_offset: int, stat: os.stat_result,
                        head: str | None, n_lines: int, now: str) -> None:
    """A line file was read up to ``end_offset``: the offset moves on (or restarts when the file was
    replaced or rewritten), with its size, head hash, inode and mtime."""
    further = greatest(conn_dialect(conn), "sources.byte_offset", "excluded.byte_offset")
    conn.execute(
        f"""INSERT INTO sources(path, stream, byte_offset, size, head_sha256, inode, mtime_ns, lines_read, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(path) DO UPDATE SET stream = excluded.stream,
             byte_offset = CASE WHEN excluded.inode != sources.inode OR excluded.byte_offset < sources.byte_offset
                            AND excluded.head_sha256 != sources.head_sha256 THEN excluded.byte_offset
                            ELSE {further} END,
             size = excluded.size, head_sha256 = excluded.head_sha256, inode = excluded.inode,
             mtime_ns = excluded.mtime_ns, lines_read = sources.lines_read + ?, updated_at = excluded.updated_at""",
        (path, stream, end_offset, stat.st_size, head, stat.st_ino, stat.st_mtime_ns, n_lines, now, n_lines),
    )


def record_document_source(conn: Connection, path: str, stream: str | None, stat: os.stat_result, digest: str,
                           n_items: int, now: str) -> None:
    """A whole document was read: its size, content hash, inode and mtime (unchanged: not read again)."""
    conn.execute(
        "INSERT INTO sources(path, stream, byte_offset, size, head_sha256, inode, mtime_ns, lines_read, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
        "stream = excluded.stream, byte_offset = excluded.byte_offset, size = excluded.size, "
        "head_sha256 = excluded.head_sha256, inode = excluded.inode, mtime_ns = excluded.mtime_ns, "
        "lines_read = sources.lines_read + excluded.lines_read, updated_at = excluded.updated_at",
        (path, stream, stat.st_size, stat.st_size, digest, stat.st_ino, stat.st_mtime_ns, n_items, now),
    )


def secondary_evidence_indexes(store: StoreBackend) -> list[list[str]]:
    """[name, CREATE statement] of the evidence table's own indexes (SQLite; not the UNIQUE constraint's)."""
    return [[r["name"], r["sql"]] for r in store.query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'evidence' AND sql IS NOT NULL "
        "ORDER BY name")]


def drop_index(store: StoreBackend, name: str) -> None:
    store.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_index(store: StoreBackend, name: str, sql: str) -> None:
    """Run ``sql`` (an index's CREATE statement as sqlite_master keeps it) unless index ``name`` exists."""
    if not store.query_one("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)):
        store.execute(sql)
