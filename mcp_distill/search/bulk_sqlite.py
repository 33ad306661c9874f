"""Bulk build of an empty SQLite search index: a million documents in minutes, not half an hour.

:meth:`Index.upsert` writes a document with a handful of statements (its row, which fires the FTS5
insert trigger; its tags; a delete and an insert into the vec0 table; a new codes token in meta), about
1.4 ms a document on 2 cores (730 documents/s), so 1M documents take ~25 minutes. :func:`bulk_build`
writes the very same rows — values from :func:`mcp_distill.search.writes.doc_values`, vectors through the
index's caching embedder into embed_cache, row ids as SQLite would give them — with one ``executemany``
per table and batch, and builds the derived structures once at the end:

- the FTS5 insert trigger is dropped meanwhile and the keyword index built by FTS5's ``rebuild`` from
  ``search_docs`` (its external content), then merged into one segment (``optimize``): the same
  postings, document sizes and totals the trigger would have written, without maintaining and merging
  segments row by row; the trigger is put back as migration 002 made it;
- ``search_tags``' index by document is created after its rows (one sort instead of 2.5M b-tree inserts);
- the codes token in meta changes once, so every process reloads its in-memory codes once.

Only for a store holding no search document yet (filling a new store or a benchmark); anything else
goes through ``upsert``. Everything happens in one write transaction, so a failure leaves the index
empty, as it was. It is a product function rather than a benchmark helper because the rows it writes
must stay exactly upsert's (tests/search/test_bulk_sqlite.py compares every search table and the
search results of both ways); the benchmark is one caller.

PRAGMA choices: ``cache_size`` is raised to BUILD_CACHE_KIB for the build's connection only (and put
back), so the unique b-trees of search_docs (collection, doc_id) and embed_cache (content hash, model)
and FTS5's merge stay in memory instead of spilling to the WAL page by page; ``journal_mode`` stays WAL
and ``synchronous`` NORMAL (the store's own settings: switching journal mode would change them under
other connections, and in WAL one big transaction costs a single fsync anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from mcp_distill.errors import InvalidInputError
from mcp_distill.progress import Progress
from mcp_distill.search.embed import content_hash
from mcp_distill.search.legs import forget_counts
from mcp_distill.search.repository import sqlite_bulk
from mcp_distill.search.types import Doc, UpsertReport
from mcp_distill.search.vector import MISSING_TS, _pad8
from mcp_distill.search.writes import doc_batches, doc_row_hash, doc_values

if TYPE_CHECKING:
    from mcp_distill.search.index import Index

#: Documents per batch (one embedder call, one executemany per table).
BATCH = 5000
#: Page cache of the build's connection, KiB (1 GiB; the store's default is 64 MiB).
BUILD_CACHE_KIB = 1 << 20


def bulk_build(index: Index, docs: Iterable[Doc | dict[str, Any]], progress: Progress | None = None) -> UpsertReport:
    """Write ``docs`` (distinct ids) into ``index``'s collection of an empty SQLite store, embedded with
    the index's embedder (through embed_cache, as upsert does); the same rows as ``index.upsert(docs)``."""
    store = index.store
    if store.dialect != "sqlite":
        raise InvalidInputError("bulk_build is for SQLite stores; on PostgreSQL use mcp_distill.search.bulk.bulk_load")
    embedder = index._doc_embedder
    if embedder is None:
        raise InvalidInputError("the bulk build needs an embedder (every document gets its vector)")
    report = UpsertReport(collection=index.collection)
    with store.atomic():
        if not sqlite_bulk.index_is_empty(store):
            raise InvalidInputError(f"the bulk build fills an empty search index; {store.path} already holds "
                                    "documents: use Index.upsert")
        cache_before = sqlite_bulk.set_build_cache(store, BUILD_CACHE_KIB)
        try:
            saved = sqlite_bulk.drop_for_build(store)
            seen: set[str] = set()
            next_id = sqlite_bulk.next_doc_id(store)
            for batch in doc_batches(docs, BATCH):
                next_id = _write_batch(index, batch, next_id, seen)
                report.received += len(batch)
                report.written += len(batch)
                report.embedded += len(batch)
                if progress:
                    progress(report.received, None, "index")
            sqlite_bulk.restore_after_build(store, saved)
            if report.written:
                sqlite_bulk.codes_changed(store)
        finally:
            sqlite_bulk.restore_cache(store, cache_before)
    forget_counts(store)
    return report


def _write_batch(index: Index, batch: list[Doc], next_id: int, seen: set[str]) -> int:
    """One batch: vectors (embed_cache rows for new texts), documents, tags, codes; the next row id."""
    for doc in batch:
        if doc.id in seen:
            raise InvalidInputError(f"document id {doc.id!r} appears twice in the bulk build")
        seen.add(doc.id)
    embedder = index._doc_embedder
    assert embedder is not None
    store = index.store
    array = embedder.embed([d.embed_text() for d in batch])  # misses embedded and cached, in upsert's order
    index._ensure_vectors(int(array.shape[1]))  # meta model + dim and the vec0 table, as upsert's first vectors
    hashes = [content_hash(d.embed_text()) for d in batch]
    vector_ids = embedder.ids(hashes)
    docs, tags, codes = [], [], []
    for offset, (doc, chash) in enumerate(zip(batch, hashes, strict=True)):
        rowid = next_id + offset
        values, doc_tags, ts_epoch = doc_values(doc, index.collection, chash, doc_row_hash(doc, index.collection),
                                                vector_ids[chash])
        docs.append((rowid, index.collection, doc.id, *values))
        tags += [(t, rowid) for t in dict.fromkeys(doc_tags)]
        codes.append((rowid, index.collection, doc.task_type or "", _pad8(np.asarray(array[offset], np.float32)).tobytes(),
                      doc.source or "", MISSING_TS if ts_epoch is None else ts_epoch))
    sqlite_bulk.insert_docs(store, docs)
    sqlite_bulk.insert_tags(store, tags)
    sqlite_bulk.insert_codes(store, codes)
    return next_id + len(batch)
