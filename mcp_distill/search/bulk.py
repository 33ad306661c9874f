"""Bulk load of an empty PostgreSQL search index: many documents in minutes, not hours.

:meth:`Index.upsert` writes a document with a handful of statements (row, tags, vector; the GIN and
HNSW indexes maintained as it goes): about 13 ms a document on 2 cores, so 1M documents would take
hours. :func:`bulk_load` writes the very same rows (values from :func:`mcp_distill.search.writes.doc_values`,
vectors through the index's embedder and into embed_cache) with ``COPY``, ``BATCH`` documents per
statement, the GIN and HNSW indexes dropped meanwhile and built once at the end. The term
statistics (migration 009's triggers) are counted per COPY statement as for any write.

Each batch is its own write transaction, so a load stopped part-way (1M documents take most of an
hour on 2 cores) keeps what it wrote: the meta key ``search.bulk_load`` marks the index unfinished
(its search indexes not built yet) until the end, and ``bulk_load(..., resume=True)`` continues it,
skipping the documents already stored (by id) before embedding them. Only for an index holding no
document yet, or an unfinished bulk load (the use is filling a benchmark or a new team server);
anything else goes through ``upsert``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from mcp_distill.errors import InvalidInputError
from mcp_distill.progress import Progress
from mcp_distill.search.embed import content_hash
from mcp_distill.search.maintenance import META_DIM, META_MODEL, check_dim, check_embedder
from mcp_distill.search.repository import DOC_COLUMNS, pg_bulk
from mcp_distill.search.types import Doc, UpsertReport
from mcp_distill.search.writes import doc_batches, doc_row_hash, doc_values

if TYPE_CHECKING:
    from mcp_distill.search.index import Index

#: Documents per COPY statement (and per call of the embedder, and per committed transaction).
BATCH = 5000
#: Set (to the collection) while a bulk load has not built the search indexes yet.
META_BULK = "search.bulk_load"


def bulk_load(index: Index, docs: Iterable[Doc | dict[str, Any]], progress: Progress | None = None,
              workers: int = 1, resume: bool = False, batch_size: int = BATCH) -> UpsertReport:
    """Write ``docs`` (distinct ids) into ``index``'s collection of an empty PostgreSQL store, embedded
    with the index's embedder; ``workers``: parallel workers for building the HNSW index; ``resume``:
    continue an unfinished bulk load of this collection (documents already stored are skipped)."""
    store = index.store
    if store.dialect != "postgresql":
        raise InvalidInputError("the bulk load is for PostgreSQL stores; use Index.upsert on SQLite")
    if index.embedder is None:
        raise InvalidInputError("the bulk load needs an embedder (every document gets its vector)")
    unfinished = store.get_meta(META_BULK)
    if not (resume and unfinished == index.collection) and not pg_bulk.index_is_empty(store):
        hint = " or resume=True to finish it" if unfinished == index.collection else ""
        raise InvalidInputError(f"the bulk load fills an empty search index; {store.path} already holds "
                                f"documents: use Index.upsert{hint}")
    embedder = index.embedder
    check_embedder(store, embedder)
    report = UpsertReport(collection=index.collection)
    seen: set[str] = set()
    vector_ids: dict[str, int] = {}
    started = unfinished == index.collection
    for batch in doc_batches(docs, batch_size):
        report.received += len(batch)
        with store.atomic() as conn:
            _check_distinct(batch, seen)
            if started:
                stored = pg_bulk.stored_doc_ids(conn, index.collection, [d.id for d in batch])
                batch = [d for d in batch if d.id not in stored]
                report.unchanged += len(stored)
            if batch:
                array = np.asarray(embedder.embed([d.embed_text() for d in batch]), dtype=np.float32)
                check_dim(store, embedder, int(array.shape[1]))
                if not started:
                    _begin(index, conn, int(array.shape[1]))
                    started = True
                _write_batch(conn, index, batch, array, vector_ids)
                report.written += len(batch)
                report.embedded += len(batch)
        if progress:
            progress(report.received, None, "index")
    if started:
        with store.atomic() as conn:
            pg_bulk.build_search_indexes(conn, workers)
            pg_bulk.delete_meta(conn, META_BULK)
    return report


def _check_distinct(batch: list[Doc], seen: set[str]) -> None:
    for doc in batch:
        if doc.id in seen:
            raise InvalidInputError(f"document id {doc.id!r} appears twice in the bulk load")
        seen.add(doc.id)


def _begin(index: Index, conn: Any, dim: int) -> None:
    """The first batch's transaction: model and dimension noted, the vector table made, the search
    indexes dropped and the load marked unfinished, committed with the first documents."""
    store = index.store
    if store.get_meta(META_MODEL) is None:
        store.set_meta(META_MODEL, index.embedder.model_id)  # type: ignore[union-attr]
        store.set_meta(META_DIM, str(dim))
    index.vectors.create(dim)
    pg_bulk.drop_search_indexes(conn)
    store.set_meta(META_BULK, index.collection)


def _write_batch(conn: Any, index: Index, batch: list[Doc], array: np.ndarray, vector_ids: dict[str, int]) -> None:
    """COPY one batch: new embed_cache rows, then documents, tags and vectors."""
    model_id = index.embedder.model_id  # type: ignore[union-attr]
    hashes = [content_hash(d.embed_text()) for d in batch]
    vector_ids.update(pg_bulk.cached_vector_ids(conn, model_id, [h for h in hashes if h not in vector_ids]))
    new = list(dict.fromkeys(h for h in hashes if h not in vector_ids))
    first = {h: i for i, h in reversed(list(enumerate(hashes)))}
    vector_ids.update(zip(new, pg_bulk.reserve_ids(conn, "embed_cache", len(new)), strict=True))
    pg_bulk.copy_cache(conn, ((vector_ids[h], h, model_id, array[first[h]].tobytes()) for h in new))
    rowids = pg_bulk.reserve_ids(conn, "search_docs", len(batch))
    docs, tags, vectors = [], [], []
    for doc, rowid, chash, vector in zip(batch, rowids, hashes, array, strict=True):
        values, doc_tags, ts_epoch = doc_values(doc, index.collection, chash, doc_row_hash(doc, index.collection),
                                                vector_ids[chash])
        docs.append((rowid, index.collection, doc.id, *values))
        tags += [(t, rowid) for t in dict.fromkeys(doc_tags)]
        facets = values[DOC_COLUMNS.index("facets")].split(" ")  # as distill_doc_facets reads them (migration 011)
        vectors.append((rowid, index.collection, doc.task_type, doc.source, ts_epoch, vector, facets))
    pg_bulk.copy_docs(conn, docs)
    pg_bulk.copy_tags(conn, tags)
    pg_bulk.copy_vectors(conn, vectors)
