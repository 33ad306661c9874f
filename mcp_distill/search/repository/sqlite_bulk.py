"""The SQL of the SQLite bulk build (:mod:`mcp_distill.search.bulk_sqlite`): the index's own tables
filled with ``executemany``, the FTS5 index built from the rows once at the end instead of by the
insert trigger row by row, and ``search_tags``' secondary index created after its rows are in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_distill.search.repository import DOC_COLUMNS
from mcp_distill.search.repository.legs import VEC_TABLE, _codes_changed
from mcp_distill.store import Store

#: Migration 002's insert trigger feeding search_fts, and search_tags' index by document.
FTS_INSERT_TRIGGER = "search_docs_ai"
TAGS_DOC_INDEX = "search_tags_doc"


def index_is_empty(store: Store) -> bool:
    """True when the store holds no search document at all (of any collection)."""
    row = store.query_one("SELECT NOT EXISTS (SELECT 1 FROM search_docs) AS empty")
    return bool(row and row["empty"])


def next_doc_id(store: Store) -> int:
    """The row id SQLite would give the next document (max + 1: search_docs has no AUTOINCREMENT)."""
    row = store.query_one("SELECT coalesce(max(id), 0) + 1 AS n FROM search_docs")
    return int(row["n"]) if row else 1


def schema_sql(store: Store, name: str) -> str:
    """The CREATE statement of a trigger or index, as the migration made it."""
    row = store.query_one("SELECT sql FROM sqlite_master WHERE name = ? AND type IN ('trigger', 'index')", (name,))
    if row is None or not row["sql"]:
        raise LookupError(f"{name} is missing from the store's schema")
    return str(row["sql"])


def drop_for_build(store: Store) -> tuple[str, str]:
    """Drop the FTS insert trigger and the tags-by-document index (inside the build's transaction);
    returns their CREATE statements for :func:`restore_after_build`."""
    saved = (schema_sql(store, FTS_INSERT_TRIGGER), schema_sql(store, TAGS_DOC_INDEX))
    store.execute(f"DROP TRIGGER {FTS_INSERT_TRIGGER}")
    store.execute(f"DROP INDEX {TAGS_DOC_INDEX}")
    return saved


def restore_after_build(store: Store, saved: tuple[str, str]) -> None:
    """The FTS5 index built from every row (``rebuild`` reads search_docs, its external content, in
    row id order), merged into one segment (``optimize``), the trigger and the index back."""
    store.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
    store.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    for sql in saved:
        store.execute(sql)


def insert_docs(store: Store, rows: Sequence[tuple[Any, ...]]) -> None:
    """(id, collection, doc_id, *DOC_COLUMNS values) rows."""
    columns = ("id", "collection", "doc_id", *DOC_COLUMNS)
    store.executemany(f"INSERT INTO search_docs({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)


def insert_tags(store: Store, rows: Sequence[tuple[str, int]]) -> None:
    """(tag, doc) rows, distinct."""
    store.executemany("INSERT INTO search_tags(tag, doc) VALUES (?, ?)", rows)


def insert_codes(store: Store, rows: Sequence[tuple[int, str, str, bytes, str, float]]) -> None:
    """(doc, collection, task_type, padded float32 vector, source, ts_epoch) rows: each vector stored as
    sqlite-vec's binary code, as :func:`mcp_distill.search.repository.legs.put_code` stores one."""
    store.executemany(f"INSERT INTO {VEC_TABLE}(doc, collection, task_type, code, source, ts_epoch) "
                      "VALUES (?, ?, ?, vec_quantize_binary(?), ?, ?)", rows)


def codes_changed(store: Store) -> None:
    """A new codes token (once for the whole build): every process reloads its in-memory copy."""
    _codes_changed(store)


def set_build_cache(store: Store, kib: int) -> int:
    """Set this connection's page cache to ``kib`` KiB; returns the previous setting (PRAGMA units)."""
    row = store.query_one("PRAGMA cache_size")
    before = int(row["cache_size"]) if row else -65536
    store.execute(f"PRAGMA cache_size = {-int(kib)}")
    return before


def restore_cache(store: Store, setting: int) -> None:
    store.execute(f"PRAGMA cache_size = {int(setting)}")
