"""The vector leg: hamming KNN over in-memory binary codes, int8 re-ranking, exact float rescoring, exact scans for
small filtered sets."""

from __future__ import annotations

from typing import Any

import numpy as np

from mcp_distill.search.codes import code_matrix
from mcp_distill.search.legs import Filters, total_docs
from mcp_distill.search.query import fts_string
from mcp_distill.search.repository import legs as legs_db
from mcp_distill.store import Store

#: A tag-filtered set this small (or smaller) is scored exactly from the float vectors (about 3 µs
#: per document on 2 cores at 100k), which is both cheaper than an over-fetching KNN and exact.
EXACT_SCAN_MAX = 2000
#: Candidates of the default (no tag filter) path, in multiples of ``depth``: the VEC_POOL x depth
#: nearest binary codes by hamming distance (in memory, mcp_distill.search.codes: ~1.5 ms at 100k
#: documents whatever the pool), ranked again by their int8 vectors (~0.2 ms for 1600), and the best
#: VEC_RESCORE x depth of those rescored by their float vectors. Hamming order alone is a rough
#: proxy of cosine order: at 100k documents the leg's top 10 overlapped exact search's 0.92-0.95
#: with 4x depth rescored, and a pool of 16x / 24x / 32x / 40x reaches 0.983 / 0.989 / 0.994 / 0.995
#: on the train half of the queries (test half: 0.976 / 0.980 / 0.985 / 0.989); int8 ranking is
#: close enough to exact that rescoring 1x or 4x depth gives the same overlap. 32x is the smallest
#: pool reaching 0.99 on train (bench/search.py --recall; docs/benchmarks.md "Search latency").
VEC_POOL = 32.0
VEC_RESCORE = 1.0
#: The PostgreSQL leg (pgvector HNSW, mcp_distill.search.repository.pg_legs) asks for between
#: ``depth`` and VEC_OVERSAMPLE x depth candidates, as many as fit VEC_KNN_BUDGET (documents x k).
VEC_OVERSAMPLE = 4.0
VEC_KNN_BUDGET = 1_000_000
#: sqlite-vec caps a KNN's k at 4096 (and fails quietly above it).
MAX_KNN_K = 4096
#: Reading a tag set (to size the KNN over-fetch) stops here: beyond it the tag is common enough.
TAG_COUNT_CAP = 50_000
#: Cost model of the two ways to honour a tag filter on a large set: scoring it exactly (per
#: document: id from the facet postings, vector row, dot product) or a KNN over-fetching by the
#: tag's rarity (sqlite-vec, per document x k). Measured on 2 cores at 100k documents.
EXACT_NS_PER_DOC = 3000.0
KNN_NS_PER_UNIT = 1.2
#: The over-fetch is depth / (tags' share) times this: the expected yield is then 1.2 x depth,
#: and a shortfall only matters below the caller's k (then the exact scan answers).
TAG_OVERFETCH = 1.2
#: vec0 metadata columns cannot hold NULL: documents without a time carry this sentinel, and
#: time filters exclude it (as SQL's NULL comparisons do in the exact path).
MISSING_TS = -1.0e18
#: Exact search reads the float vectors this many documents at a time (~30 MB of 384-d vectors).
EXACT_BATCH = 20_000


def _pad8(vector: np.ndarray) -> np.ndarray:
    """bit[N] needs N divisible by 8: pad with zeros (sign bit 0 on both sides, so harmless)."""
    extra = (-vector.shape[-1]) % 8
    return np.pad(vector, (0, extra)) if extra else vector


class VectorLeg:
    """Hamming KNN over the binary codes of ``search_vec`` held in memory (:mod:`mcp_distill.search.codes`),
    a pool of VEC_POOL x depth ranked again by int8 vectors, exact float rescoring; exact scans for
    small filtered sets and ``exact=True``.

    The codes live in the vec0 table (partitioned by collection and task_type, source and time as
    metadata columns); their in-memory copy carries those columns, so these filters apply inside the
    scan. Tags, being multi-valued, cannot live in vec0: a tag filter scans its (small) set exactly,
    or over-fetches from the KNN when the set is large, and falls back to the exact scan.
    """

    TABLE = legs_db.VEC_TABLE

    def __init__(self, store: Store, model_id: str | None, *, oversample: float = VEC_OVERSAMPLE,
                 knn_budget: float = VEC_KNN_BUDGET, exact_max: int = EXACT_SCAN_MAX, pool: float = VEC_POOL,
                 rescore: float = VEC_RESCORE):
        self.store = store
        self.pool = pool
        self.rescore = rescore
        self.model_id = model_id  # the store's vector space; None: no vectors yet, the leg returns nothing
        self.oversample = oversample
        self.knn_budget = knn_budget
        self.exact_max = exact_max

    def exists(self) -> bool:
        return legs_db.vec_table_exists(self.store)

    def create(self, dim: int) -> None:
        """The vec0 table for ``dim``-d vectors (call inside a write transaction)."""
        legs_db.create_vec_table(self.store, dim + (-dim) % 8)

    def drop(self) -> None:
        legs_db.drop_vec_table(self.store)

    def put(self, doc: int, collection: str, vector: np.ndarray, task_type: str | None, source: str | None,
            ts_epoch: float | None) -> None:
        """Store one document's binary code (inside a write). Its exact vector is already in
        embed_cache (CachingEmbedder wrote it), found through search_docs.vector_id."""
        legs_db.put_code(self.store, doc, collection, _pad8(np.asarray(vector, dtype=np.float32)).tobytes(),
                         task_type or "", source or "", MISSING_TS if ts_epoch is None else ts_epoch)

    def vectors_for(self, docs: list[int]) -> dict[int, np.ndarray]:
        """The exact vectors of these documents (those that have one)."""
        if not docs:
            return {}
        return {doc: np.frombuffer(blob, dtype=np.float32) for doc, blob in legs_db.exact_vectors(self.store, docs)}

    def vector_of(self, vector_id: int) -> np.ndarray | None:
        """The exact vector stored in embed_cache row ``vector_id``."""
        blob = legs_db.cached_vector(self.store, vector_id)
        return np.frombuffer(blob, dtype=np.float32) if blob is not None else None

    def remove(self, docs: list[int]) -> None:
        if self.exists():
            legs_db.remove_codes(self.store, docs)

    # -- search ---------------------------------------------------------------------------

    def search(self, qvec: np.ndarray, filters: Filters, depth: int, need: int | None = None
               ) -> list[tuple[int, float]]:
        """(doc id, cosine similarity) of the ``depth`` nearest documents, best first.

        - no tag filter: one KNN with collection, task_type, source and time filtered *inside* the
          scan, so the k nearest passing documents come back however selective the filter;
        - tags (multi-valued, so not in vec0): the tagged set comes from the FTS5 facet postings
          (intersections are cheap); up to ``exact_max`` documents are scored exactly; a larger
          set is scored exactly or by a KNN over-fetching by the tags' rarity, whichever the cost
          model says is cheaper. If the over-fetch still yields fewer than ``need`` (default
          ``depth``), the whole set is scored exactly. No filter can starve the leg.
        """
        if depth <= 0 or self.model_id is None or not self.exists():
            return []
        qvec = np.asarray(qvec, dtype=np.float32)
        n = max(total_docs(self.store), 1)
        candidates = min(MAX_KNN_K, max(depth, int(depth * self.rescore)))
        if not filters.tags:
            pool = int(depth * self.pool)
            return self._rescore(qvec, self._knn(qvec, filters, candidates, pool), depth)
        ids = self._filtered_ids(filters, self.exact_max + 1)
        if len(ids) <= self.exact_max:
            return self._rescore(qvec, ids, depth)
        m = self._filtered_count(filters, TAG_COUNT_CAP)
        k = int(depth * n / m * TAG_OVERFETCH) + 1
        if m < TAG_COUNT_CAP and (k > MAX_KNN_K or m * EXACT_NS_PER_DOC <= k * n * KNN_NS_PER_UNIT):
            return self._rescore(qvec, self._filtered_ids(filters, None), depth)
        k = min(k, MAX_KNN_K)
        raw = self._knn(qvec, filters, k)
        found = self._with_tags(raw, filters.tags)
        if len(found) >= min(need or depth, depth) or len(raw) < k:  # enough, or the KNN saw every candidate
            return self._rescore(qvec, found, depth)
        return self._rescore(qvec, self._filtered_ids(filters, None), depth)

    def exact_search(self, qvec: np.ndarray, filters: Filters, depth: int) -> list[tuple[int, float]]:
        """(doc id, cosine similarity) of the ``depth`` nearest documents passing ``filters``, every
        one of them scored by its float vector (no binary codes, no candidate pool): the reference
        the default leg's recall is measured against, and ``--exact`` on search. Linear in the
        filtered set (about 3 µs a document)."""
        if depth <= 0 or self.model_id is None or not self.exists():
            return []
        qvec = np.asarray(qvec, dtype=np.float32)
        ids = self._filtered_ids(filters, None)
        best: list[tuple[int, float]] = []
        for start in range(0, len(ids), EXACT_BATCH):
            best += self._rescore(qvec, ids[start:start + EXACT_BATCH], depth)
            best = sorted(best, key=lambda hit: (-hit[1], hit[0]))[:depth]
        return best

    @staticmethod
    def _filtered_sql(filters: Filters, limit: int | None) -> tuple[str, list[Any]]:
        """SELECT of the ids passing every filter (at most ``limit``), from the facet postings."""
        match = "facets : (" + " AND ".join(fts_string(f) for f in filters.facets()) + ")"
        time_clause, time_params = filters.time_sql("d")
        return legs_db.facet_filter_sql(match, time_clause, time_params, limit)

    def _filtered_ids(self, filters: Filters, limit: int | None) -> list[int]:
        return legs_db.ids_of(self.store, self._filtered_sql(filters, limit))

    def _filtered_count(self, filters: Filters, limit: int) -> int:
        """How many documents pass every filter, counting no further than ``limit`` (counting in
        SQLite is ~10x cheaper than bringing 50k ids into Python)."""
        return max(legs_db.count_of(self.store, self._filtered_sql(filters, limit)), 1)

    def _knn(self, qvec: np.ndarray, filters: Filters, k: int, pool: int = 0) -> list[int]:
        """The ``k`` nearest binary codes passing the collection, task_type, source and time filters,
        from the in-memory copy of ``search_vec`` (mcp_distill.search.codes); with ``pool`` > k, the
        ``pool`` nearest codes ranked again by their int8 vectors and the best ``k`` of those."""
        where: dict[str, Any] = {"collection": filters.collection}
        if filters.task_type is not None:
            where["task_type"] = filters.task_type
        if filters.source is not None:
            where["source"] = filters.source
        if filters.since is not None or filters.until is not None:
            # a time filter excludes the documents without a time (MISSING_TS), as SQL's NULL does
            low = filters.since if filters.since is not None else float(np.nextafter(MISSING_TS, 0.0))
            where["ts_epoch"] = (low, filters.until)
        code = legs_db.query_code(self.store, _pad8(qvec).tobytes())
        return code_matrix(self.store).knn(code, where, k, qvec, pool)

    def _with_tags(self, docs: list[int], tags: tuple[str, ...]) -> list[int]:
        if not docs:
            return []
        keep = legs_db.docs_with_tags(self.store, docs, tags)
        return [d for d in docs if d in keep]

    def _rescore(self, qvec: np.ndarray, docs: list[int], depth: int) -> list[tuple[int, float]]:
        if not docs:
            return []
        return self._top(qvec, legs_db.exact_vectors(self.store, docs), depth)

    @staticmethod
    def _top(qvec: np.ndarray, rows: list[Any], depth: int) -> list[tuple[int, float]]:
        if not rows:
            return []
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        if matrix.shape[1] != qvec.shape[0]:
            return []
        sims = np.einsum("ij,j->i", matrix, qvec)  # not `@`: see mcp_distill.search.codes (BLAS threads)
        take = min(depth, len(rows))
        top = np.argpartition(-sims, take - 1)[:take] if take < len(rows) else np.arange(len(rows))
        top = top[np.lexsort((ids[top], -sims[top]))]
        return [(int(ids[i]), float(sims[i])) for i in top]
