"""Generic hybrid retrieval index: FTS5 BM25 + sqlite-vec vectors, fused by reciprocal rank.

Usage (the MCP tools and the CLI are thin faces over exactly this)::

    from mcp_distill.search.backends import keyword_leg, vector_leg
from mcp_distill.search.embed import embedder_from_env
    from mcp_distill.search.index import Doc, Index, reindex

    index = Index(store, embedder_from_env(), "playbooks")   # EmbedderError on a model mismatch
    report = index.upsert([Doc(id="pb-1", title="Fix flaky migration", text="...",
                               tags=["db"], task_type="bugfix", source="runs",
                               ts="2026-11-28T10:00:00Z")],
                          progress=lambda done, total: ...)   # -> UpsertReport
    result = index.search("migration keeps failing", k=5, mode="hybrid",  # or keyword / semantic
                          task_type="bugfix", tags=["db"], source="runs",
                          since="2026-11-01", until="2026-12-01")          # -> SearchResult
    for hit in result.hits:   # Hit: id, title, snippet, score, keyword_rank, keyword_score,
        ...                   # vector_rank, vector_similarity, vector_distance, matched_fields, ...
    result.semantic_available  # False when the embedder was down (keyword results only)
    result.warnings            # human-readable notes for the caller
    result.model_dump()        # JSON-ready for an MCP tool

    index.get("pb-1"); index.delete(["pb-1"]); index.count(); index.pending(); index.status()
    index.embed_pending()      # vectors for documents written while the embedder was down
    reindex(store, new_embedder, progress)  # after changing embedder: rebuild every vector

    Index(store, None, "playbooks")  # keyword-only (semantic mode raises EmbedderError)

Errors: InvalidInputError (bad mode, k, time, document), EmbedderError (model mismatch ->
``mcp-distill reindex``; embedder down in semantic mode). Any query text is accepted.

Design
------
- Documents of every collection live in ``search_docs``; ``collection`` scopes every call.
- Keyword leg (:class:`~mcp_distill.search.legs.KeywordLeg`): FTS5 ``porter unicode61``,
  ``bm25()`` with the title weighted 3x. The query is sanitised to quoted tokens OR-ed (see
  :mod:`mcp_distill.search.query`), stemmed by FTS5's own tokenizer, and *bounded*: terms in
  more than half the documents are dropped and the rarest kept within a postings budget (the
  leg costs about its matched postings). Filters are facet tokens ANDed inside the MATCH (time
  through a join), so they never starve it.
- Vector leg (:class:`~mcp_distill.search.vector.VectorLeg`): one vector space per store (model id
  and dim in ``meta``; another model is refused until ``mcp-distill reindex``). Binary codes in a
  sqlite-vec ``vec0`` table (collection, task_type, source, time alongside), read into memory once
  per change (:mod:`mcp_distill.search.codes`): a hamming pool masked by the filters, ranked again
  by int8 copies of the vectors, the best rescored by the float vectors (which live once, in
  ``embed_cache``). Tag filters (multi-valued) read the tagged set from the facet postings and
  score it exactly, or over-fetch from the KNN when that is cheaper, with an exact fallback: no
  filter starves this leg either. ``exact=True`` scores every filtered document by its float vector.
- The query is embedded on a worker thread while the keyword leg runs, and its vector kept in an
  in-process LRU keyed by (model, text) (:mod:`mcp_distill.search.embed.query_cache`).
- Fusion: :func:`~mcp_distill.search.query.rrf_fuse` over ranks, constants tuned on SciFact train.
- An embedder outage never blocks writing (documents stay keyword-searchable and are marked
  pending; the next upsert, :meth:`Index.embed_pending` or :func:`reindex` fills them), and in
  hybrid search it degrades to keyword results with ``semantic_available=False``.
- Measured figures: docs/benchmarks.md (bench/retrieval.py, bench/search.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import numpy as np

from mcp_distill.errors import EmbedderError, InvalidInputError
from mcp_distill.progress import Progress
from mcp_distill.search import repository as docs_db
from mcp_distill.search.backends import keyword_leg, vector_leg
from mcp_distill.search.embed import CachingEmbedder, Embedder, l2_normalise
from mcp_distill.search.embed.query_cache import QUERY_VECTORS
from mcp_distill.search.legs import Filters, TermPlan
from mcp_distill.search.maintenance import (
    META_DIM,
    META_MODEL,
    check_dim,
    check_embedder,
    check_schema,
    embed_pending,
    reindex,
)
from mcp_distill.search.query import (
    FUSION_DEPTH,
    MAX_QUERY_CHARS,
    RRF_K,
    VECTOR_WEIGHT,
    embed_windows,
    keyword_weight,
    normalise_tag,
    parse_time,
    rrf_fuse,
)
from mcp_distill.search.strength import coverage, reference_background, strength, vector_z
from mcp_distill.search.types import MODES, Doc, Hit, Mode, SearchResult, UpsertReport, embed_text
from mcp_distill.search.writes import IndexWrites
from mcp_distill.store import Store

__all__ = [
    "META_DIM", "META_MODEL", "MODES", "Doc", "Hit", "Index", "Mode", "Progress", "SearchResult", "UpsertReport",
    "check_embedder", "check_schema", "embed_pending", "embed_text", "reindex",
]

MAX_K = 1000
NO_EMBEDDER = "no embedder is configured; set MCP_DISTILL_EMBEDDER (default onnx)"
SNIPPET_CHARS = 280
#: Threads embedding queries while the searching thread runs the keyword leg (onnxruntime and the
#: remote embedders' sockets release the GIL, so the two overlap on two cores); 0 embeds on the
#: searching thread first (the benchmark's "before").
EMBED_THREADS = 2
_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _embed_executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=EMBED_THREADS, thread_name_prefix="query-embed")
        return _EXECUTOR


def _finished(value: np.ndarray | None = None, error: Exception | None = None) -> Future[np.ndarray]:
    """A Future already holding ``value`` (or raising ``error``), like one a pool finished."""
    future: Future[np.ndarray] = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)  # type: ignore[arg-type]
    return future


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


# ----------------------------------------------------------------------------- the index


class Index(IndexWrites):
    """One collection of the store's search index (see the module docstring for the design).

    ``embedder=None`` gives a keyword-only index: documents are written pending vectors and
    semantic search raises EmbedderError.
    """

    def __init__(self, store: Store, embedder: Embedder | None, collection: str):
        if not isinstance(collection, str) or not collection.strip():
            raise InvalidInputError("collection must be a non-empty name such as 'playbooks'")
        self.store = store
        self.collection = collection
        self.embedder = embedder
        check_schema(store)
        if embedder is not None:
            check_embedder(store, embedder)
        self._doc_embedder = CachingEmbedder(store, embedder) if embedder is not None else None
        self.keyword = keyword_leg(store)
        self.vectors = vector_leg(store, embedder.model_id if embedder is not None else store.get_meta(META_MODEL))

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed this collection's documents that have no vector yet (after an outage)."""
        return embed_pending(self.store, self._require_embedder(), self.collection, progress)

    def reindex(self, progress: Progress | None = None) -> int:
        """Drop every vector of the store and rebuild them with this index's embedder."""
        return reindex(self.store, self._require_embedder(), progress)

    def _require_embedder(self) -> Embedder:
        if self.embedder is None:
            raise EmbedderError(NO_EMBEDDER)
        return self.embedder

    # -- reading --------------------------------------------------------------------------

    def get(self, doc_id: str) -> Doc | None:
        """The stored document, or None."""
        row = docs_db.doc_row(self.store, self.collection, doc_id)
        if row is None:
            return None
        return Doc(id=row["doc_id"], title=row["title"], text=row["text"], tags=json.loads(row["tags"]),
                   task_type=row["task_type"], source=row["source"], ts=row["ts"],
                   metadata=json.loads(row["metadata"]))

    def count(self) -> int:
        return docs_db.doc_count(self.store, self.collection)

    def ids(self) -> list[str]:
        """Every document id of this collection, sorted (to find documents whose source is gone)."""
        return docs_db.doc_ids(self.store, self.collection)

    def pending(self) -> int:
        """Documents of this collection without a vector (embedder was down, or never set)."""
        return docs_db.doc_count(self.store, self.collection, pending_only=True)

    def status(self) -> dict[str, Any]:
        """Counts and the vector space of the store, for `stats`-like tools."""
        return {
            "collection": self.collection,
            "documents": self.count(),
            "pending_vectors": self.pending(),
            "embed_model": self.store.get_meta(META_MODEL),
            "embed_dim": int(d) if (d := self.store.get_meta(META_DIM)) else None,
            "embedder": self.embedder.model_id if self.embedder is not None else None,
        }

    def search(
        self,
        query: str,
        k: int = 5,
        mode: Mode = "hybrid",
        task_type: str | None = None,
        tags: Sequence[str] | str | None = None,
        source: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        explain: bool = True,
        exact: bool = False,
        vector_query: str | None = None,
    ) -> SearchResult:
        """The ``k`` best documents for ``query``.

        ``mode``: ``hybrid`` (both legs, RRF), ``keyword`` (BM25 only) or ``semantic`` (vectors
        only). Filters: ``task_type``/``source`` exact, ``tags`` all must match (case-insensitive),
        ``since`` inclusive / ``until`` exclusive ISO-8601 times (documents without a time are
        excluded by a time filter). Any query text is accepted — FTS5 syntax is neutralised —
        and an empty query returns no hits. In hybrid mode an embedder failure returns keyword
        results with ``semantic_available=False`` and a warning; in semantic mode it raises
        :class:`EmbedderError`. Raises :class:`InvalidInputError` for a bad mode, k or time.
        ``explain=False`` skips ``matched_fields`` (about 0.15 ms per hit). ``exact=True`` scores
        every document passing the filters by its float vector (no binary-code candidates): slower
        on a large index, and the reference the default vector leg's recall is measured against.
        ``vector_query``: what the vector leg embeds when it should read other words than the keyword
        leg (playbook search drops a dominant prompt template there too; default: ``query``).
        """
        started = time.perf_counter()
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise InvalidInputError(f"k must be an integer from 1 to {MAX_K}, not {k!r}")
        query = "" if query is None else str(query)[:MAX_QUERY_CHARS]
        filters = self._filters(task_type, tags, source, since, until)
        result = SearchResult(query=query, collection=self.collection, mode=mode, hits=[])
        depth = max(FUSION_DEPTH, k)
        if not query.strip():
            result.warnings.append("empty query: nothing to search for")
            return result
        keyword: list[tuple[int, float]] = []
        vector: list[tuple[int, float]] = []
        # The query is embedded on another thread while this one plans and runs the keyword leg.
        vector_text = query if vector_query is None else str(vector_query)[:MAX_QUERY_CHARS]
        pending_vector = self._query_vector(vector_text or query) if mode in ("hybrid", "semantic") else None
        # A query vector already known (the LRU): the vector leg runs on a worker thread while this one
        # plans and runs the keyword leg (FTS5 and the codes' numpy scans release the GIL; reads borrow
        # their own reader connection).
        leg = self._vector_leg(pending_vector, filters, depth, k, exact) if mode == "hybrid" else None
        plan = self.keyword.plan_terms(query)  # also in semantic mode: the strength's keyword coverage
        keyword_hits = None
        if mode in ("hybrid", "keyword"):
            result.keyword_terms = plan.terms
            keyword_hits = self.keyword.start(plan.terms, filters, depth)  # PostgreSQL: beside the vector leg
        qvec: np.ndarray | None = None
        if leg is not None:
            vector, qvec = leg.result()
        elif pending_vector is not None:
            vector, qvec = self._semantic(pending_vector, filters, depth, k, mode, result, exact)
        if keyword_hits is not None:
            keyword = keyword_hits()
        if mode != "keyword" and result.semantic_available and (n := self.pending()):
            result.warnings.append(f"{n} documents of {self.collection!r} have no vector yet and can only be "
                                   "found by keywords; run `mcp-distill reindex`")
        legs = {"keyword": [d for d, _ in keyword], "vector": [d for d, _ in vector]}
        weights = {"keyword": keyword_weight(len(plan.terms)), "vector": VECTOR_WEIGHT}
        fused = rrf_fuse(legs, weights, k=RRF_K, depth=depth)[:k]
        result.hits = self._hits(fused, keyword, vector)
        self._strengths(result.hits, fused, plan, qvec, result.keyword_terms if explain else [])
        result.took_ms = round((time.perf_counter() - started) * 1000, 3)
        return result

    def _strengths(self, hits: list[Hit], fused: list[tuple[int, float]], plan: TermPlan,
                   qvec: np.ndarray | None, explain: list[str]) -> None:
        """Fill each hit's match strength (mcp_distill.search.strength): keyword coverage from the
        hit's own terms, vector z-score against the collection background (exact cosine also for
        hits only the keyword leg found); and the matched_fields of the keyword leg's hits for the
        ``explain`` terms (the ORed ones; none: left empty), read in the same pass as the coverage."""
        if not hits:
            return
        by_id = {h.id: doc for h, (doc, _) in zip(hits, fused, strict=False)}
        rowids = [by_id[h.id] for h in hits]
        weights = plan.weights
        # each informative term with the query token it came from (FTS5 matches tokens, not stems)
        found_by_keyword = {rowids[i] for i, h in enumerate(hits) if h.keyword_rank is not None} if explain else set()
        present, fields = self.keyword.hit_terms(rowids, {t: plan.tokens.get(t) for t in weights}, explain,
                                                 found_by_keyword)
        sims: dict[int, float] = {}
        doc_vectors: dict[int, np.ndarray] = {}
        reference = None
        if qvec is not None and self.embedder is not None:
            reference = reference_background(self.embedder)
            doc_vectors = self.vectors.vectors_for(rowids)
            sims = {d: float(v @ qvec) for d, v in doc_vectors.items() if v.shape == qvec.shape}
        for i, hit in enumerate(hits):
            hit.matched_fields = fields.get(rowids[i], [])
            hit.keyword_coverage = round(coverage(weights, present.get(rowids[i], ())), 4)
            sim = sims.get(rowids[i], hit.vector_similarity)
            if hit.vector_similarity is None and sim is not None:
                hit.vector_similarity, hit.vector_distance = sim, 1.0 - sim
            z = None
            if reference is not None and rowids[i] in doc_vectors and sim is not None:
                z = vector_z(sim, *reference.moments(doc_vectors[rowids[i]]))
            hit.vector_z = None if z is None else round(z, 3)
            hit.strength, hit.match = strength(z, hit.keyword_coverage)

    def _filters(self, task_type: str | None, tags: Sequence[str] | str | None, source: str | None,
                 since: datetime | str | None, until: datetime | str | None) -> Filters:
        if isinstance(tags, str):
            tags = [tags]
        norm = tuple(dict.fromkeys(t for t in (normalise_tag(x) for x in (tags or ())) if t))
        lo = parse_time(since, "since")
        hi = parse_time(until, "until")
        return Filters(
            collection=self.collection,
            task_type=task_type if task_type not in (None, "") else None,
            source=source if source not in (None, "") else None,
            tags=norm,
            since=lo[1] if lo else None,
            until=hi[1] if hi else None,
        )

    def _query_vector(self, query: str) -> Future[np.ndarray]:
        """The query's vector: from the process's LRU at once, else being embedded on a worker
        thread (which touches no store: the store's connection stays with the searching thread)."""
        embedder = self.embedder
        if embedder is None:
            return _finished(error=EmbedderError(NO_EMBEDDER))
        cached = QUERY_VECTORS.get(embedder.model_id, query)
        if cached is not None:
            return _finished(cached)

        def work() -> np.ndarray:
            windows = embedder.embed(embed_windows(query))
            qvec = l2_normalise(windows.mean(axis=0, keepdims=True))[0] if len(windows) > 1 else windows[0]
            return QUERY_VECTORS.put(embedder.model_id, query, qvec)

        if EMBED_THREADS <= 0:
            try:
                return _finished(work())
            except EmbedderError as exc:
                return _finished(error=exc)
        return _embed_executor().submit(work)

    def _vector_leg(self, pending: Future[np.ndarray] | None, filters: Filters, depth: int, k: int, exact: bool
                    ) -> Future[tuple[list[tuple[int, float]], np.ndarray]] | None:
        """The vector leg started on a worker thread when the query vector is already known and valid;
        None otherwise (still being embedded, or an embedder error :meth:`_semantic` reports)."""
        # inside the caller's own transaction the leg stays on this thread: a worker's reader connection
        # would not see the transaction's uncommitted documents and vectors
        if (EMBED_THREADS <= 0 or self.store.dialect != "sqlite" or self.store.owns_transaction()
                or pending is None or not pending.done() or pending.exception() is not None):
            return None
        qvec = pending.result()
        try:
            check_dim(self.store, self._require_embedder(), int(qvec.shape[0]))
        except EmbedderError:
            return None

        return _embed_executor().submit(self._nearest, qvec, filters, depth, k, exact)

    def _semantic(self, pending: Future[np.ndarray], filters: Filters, depth: int, k: int, mode: str,
                  result: SearchResult, exact: bool) -> tuple[list[tuple[int, float]], np.ndarray | None]:
        try:
            qvec = pending.result()
            check_dim(self.store, self._require_embedder(), int(qvec.shape[0]))
        except EmbedderError as exc:
            if mode == "semantic":
                raise
            result.semantic_available = False
            result.warnings.append(f"semantic search unavailable, keyword results only: {exc}")
            return [], None
        return self._nearest(qvec, filters, depth, k, exact)

    def _nearest(self, qvec: np.ndarray, filters: Filters, depth: int, k: int, exact: bool
                 ) -> tuple[list[tuple[int, float]], np.ndarray]:
        if exact:
            return self.vectors.exact_search(qvec, filters, depth), qvec
        return self.vectors.search(qvec, filters, depth, need=k), qvec

    def _hits(self, fused: list[tuple[int, float]], keyword: list[tuple[int, float]],
              vector: list[tuple[int, float]]) -> list[Hit]:
        if not fused:
            return []
        ids = [d for d, _ in fused]
        kw = {d: (rank, score) for rank, (d, score) in enumerate(keyword, start=1)}
        vec = {d: (rank, sim) for rank, (d, sim) in enumerate(vector, start=1)}
        rows = docs_db.docs_by_rowid(self.store, ids)
        hits: list[Hit] = []
        for doc, score in fused:
            row = rows.get(doc)
            if row is None:  # deleted between the legs and now
                continue
            kw_rank, kw_score = kw.get(doc, (None, None))
            v_rank, sim = vec.get(doc, (None, None))
            hits.append(Hit(
                id=row["doc_id"], collection=self.collection, title=row["title"], snippet=_snippet(row["text"]),
                score=score, keyword_rank=kw_rank, keyword_score=kw_score, vector_rank=v_rank,
                vector_similarity=sim, vector_distance=None if sim is None else 1.0 - sim,
                tags=json.loads(row["tags"]), task_type=row["task_type"],
                source=row["source"], ts=row["ts"], metadata=json.loads(row["metadata"]),
            ))
        return hits
