"""Writing an index collection: upsert (embedding outside the write transaction, each text once per
model), delete. The :class:`IndexWrites` half of :class:`mcp_distill.search.index.Index`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from mcp_distill.errors import EmbedderError, InvalidInputError
from mcp_distill.progress import Progress
from mcp_distill.search import repository as docs_db
from mcp_distill.search.embed import CachingEmbedder, Embedder, content_hash
from mcp_distill.search.legs import doc_facets, forget_counts
from mcp_distill.search.maintenance import META_DIM, META_MODEL, WRITE_BATCH, check_dim, check_embedder
from mcp_distill.search.query import normalise_tag, parse_time
from mcp_distill.search.types import Doc, UpsertReport

if TYPE_CHECKING:
    from mcp_distill.search.vector import VectorLeg
    from mcp_distill.store import Store


@dataclass
class _Existing:
    id: int
    row_hash: str
    content_hash: str
    vector_id: int | None


def doc_row_hash(doc: Doc, collection: str) -> str:
    """The hash upsert compares to skip an unchanged document."""
    payload = json.dumps([collection, doc.model_dump(mode="json")], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def doc_values(doc: Doc, collection: str, chash: str, row_hash: str, vector_id: int | None
               ) -> tuple[tuple[Any, ...], list[str], float | None]:
    """A document's ``search_docs`` values (in DOC_COLUMNS order), its normalised tags and its time
    in epoch seconds: what every write path stores for it (upsert and the PostgreSQL bulk load)."""
    tags = [normalise_tag(t) for t in doc.tags if normalise_tag(t)]
    parsed = parse_time(doc.ts) if doc.ts else None
    ts_epoch = parsed[1] if parsed else None
    values = (doc.title, doc.text, json.dumps(doc.tags, ensure_ascii=False),
              doc_facets(collection, doc.task_type, doc.source, tags), doc.task_type, doc.source,
              doc.ts, ts_epoch, json.dumps(doc.metadata, ensure_ascii=False, default=str), chash, row_hash,
              vector_id, _now())
    return values, tags, ts_epoch


def doc_batches(docs: Iterable[Doc | dict[str, Any]], size: int) -> Iterator[list[Doc]]:
    """``docs`` validated as :class:`Doc`, in lists of ``size`` (the last one shorter): the one way every
    write path (upsert, the SQLite bulk build, the PostgreSQL bulk load) reads its input. An invalid
    document raises :class:`InvalidInputError` naming its position, before anything of its batch is written."""
    batch: list[Doc] = []
    for position, item in enumerate(docs):
        try:
            batch.append(item if isinstance(item, Doc) else Doc.model_validate(item))
        except ValueError as exc:
            raise InvalidInputError(f"document #{position} is invalid: {exc}; fix or drop it and write again") from exc
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class IndexWrites:
    """Upsert and delete of one collection; the index's ``store``, ``collection``, embedders and legs."""

    store: Store
    collection: str
    embedder: Embedder | None
    _doc_embedder: CachingEmbedder | None
    vectors: VectorLeg


    def upsert(self, docs: Iterable[Doc | dict[str, Any]], progress: Progress | None = None) -> UpsertReport:
        """Insert or update documents by id. Unchanged documents are skipped; only documents whose
        title/text changed are (re-)embedded, each text at most once per model (embed_cache).

        Embedding runs outside the write transaction, ``WRITE_BATCH`` documents at a time.
        An embedder failure does not lose the batch: it is written keyword-only, counted in
        ``pending`` with a warning. ``progress(done, total, "index")`` is called after each batch (total
        is None for an unsized iterable).
        """
        total = len(docs) if isinstance(docs, Sequence) else None
        report = UpsertReport(collection=self.collection)
        for batch in doc_batches(docs, WRITE_BATCH):
            self._upsert_batch(batch, report)
            if progress and len(batch) == WRITE_BATCH:
                progress(report.received, total, "index")
        if progress:
            progress(report.received, total, "index")
        return report

    def _existing(self, ids: list[str]) -> dict[str, _Existing]:
        rows = docs_db.existing_docs(self.store, self.collection, ids)
        return {r["doc_id"]: _Existing(r["id"], r["row_hash"], r["content_hash"], r["vector_id"]) for r in rows}

    def _upsert_batch(self, batch: list[Doc], report: UpsertReport) -> None:
        report.received += len(batch)
        unique = list({d.id: d for d in batch}.values())  # last one of an id wins
        existing = self._existing([d.id for d in unique])
        todo: list[tuple[Doc, str, str, _Existing | None]] = []
        for doc in unique:
            row_hash = doc_row_hash(doc, self.collection)
            old = existing.get(doc.id)
            if old is not None and old.row_hash == row_hash and (old.vector_id or self._doc_embedder is None):
                report.unchanged += 1
                continue
            todo.append((doc, row_hash, content_hash(doc.embed_text()), old))
        if not todo:
            return
        needs = [t for t in todo if t[3] is None or t[3].content_hash != t[2] or not t[3].vector_id]
        vectors: dict[str, np.ndarray] = {}
        if needs and self._doc_embedder is not None:
            try:
                array = self._doc_embedder.embed([t[0].embed_text() for t in needs])
                check_dim(self.store, self._doc_embedder, int(array.shape[1]))
                vectors = {t[0].id: array[i] for i, t in enumerate(needs)}
            except EmbedderError as exc:
                report.warnings.append(f"{len(needs)} documents written without vectors (keyword search only "
                                       f"until `mcp-distill reindex` or the next upsert): {exc}")
        with self.store.atomic():
            vector_ids: dict[str, int] = {}
            if vectors and self._doc_embedder is not None:
                self._ensure_vectors(next(iter(vectors.values())).shape[0])
                vector_ids = self._doc_embedder.ids([t[2] for t in needs])
            for doc, row_hash, chash, old in todo:
                vector = vectors.get(doc.id)
                vector_id = vector_ids.get(chash) if vector is not None else None
                if vector_id is None:
                    vector = None  # its cache row is gone (pruned meanwhile): leave it pending
                keep = old.vector_id if old is not None and old.content_hash == chash else None
                has_vector = self._write_doc(doc, row_hash, chash, old, vector, vector_id, keep)
                report.written += 1
                if vector is not None:
                    report.embedded += 1
                elif not has_vector:
                    report.pending += 1
        forget_counts(self.store)

    def _ensure_vectors(self, dim: int) -> None:
        """Create the vec0 table and record model + dim on the first vectors (inside a write)."""
        assert self.embedder is not None
        check_embedder(self.store, self.embedder)
        if self.store.get_meta(META_MODEL) is None:
            self.store.set_meta(META_MODEL, self.embedder.model_id)
            self.store.set_meta(META_DIM, str(dim))
        self.vectors.create(dim)

    def _write_doc(self, doc: Doc, row_hash: str, chash: str, old: _Existing | None,
                   vector: np.ndarray | None, vector_id: int | None, keep: int | None) -> bool:
        """Write one document (inside a write); True when it has a vector afterwards.

        ``vector``/``vector_id``: a new vector and its embed_cache row; ``keep``: the vector row
        of an unchanged text (only metadata changed), re-filed under the new metadata.
        """
        if vector is None and keep is not None:  # re-file the same vector (task_type is a partition key)
            vector = self.vectors.vector_of(keep)
            vector_id = keep if vector is not None else None
        values, tags, ts_epoch = doc_values(doc, self.collection, chash, row_hash, vector_id)
        if old is None:
            rowid = docs_db.insert_doc(self.store, self.collection, doc.id, values)
        else:
            rowid = old.id
            docs_db.update_doc(self.store, rowid, values)
        docs_db.set_tags(self.store, rowid, tags, replace=old is not None)
        if vector is not None:
            self.vectors.put(rowid, self.collection, vector, doc.task_type, doc.source, ts_epoch)
        elif old is not None and old.vector_id:
            self.vectors.remove([rowid])  # the text changed and no new vector: never serve a stale one
        return vector is not None

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; returns how many existed."""
        wanted = [str(i) for i in ids]
        if not wanted:
            return 0
        with self.store.atomic():
            rowids = docs_db.doc_rowids(self.store, self.collection, wanted)
            if rowids:
                self.vectors.remove(rowids)
                docs_db.delete_docs(self.store, rowids)
        forget_counts(self.store)
        return len(rowids)
