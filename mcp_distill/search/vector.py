"""The vector leg: hamming KNN over in-memory binary codes, int8 re-ranking, exact float rescoring, exact scans for
small filtered sets."""

from __future__ import annotations

from typing import Any

import numpy as np

from mcp_distill.search.codes import MISSING_TS, code_matrix, where_of
from mcp_distill.search.legs import Filters
from mcp_distill.search.query import fts_string
from mcp_distill.search.repository import legs as legs_db
from mcp_distill.store import Store

#: PostgreSQL: a filtered set this small (or smaller) is scored exactly (mcp_distill.search.repository.pg_legs).
EXACT_SCAN_MAX = 2000
#: SQLite: a tag-filtered set this small (or smaller) is scored exactly from its float vectors read from the
#: store (~4.5 µs a document at 100k, ~8 µs at 1M where the pages are scattered over a 6 GB file); a larger
#: one is ranked by the in-memory int8 vectors (mcp_distill.search.codes, ~0.3 µs a document) and only its
#: best depth + RESCORE_EXTRA rescored by their float vectors. Measured (40 SciFact queries, depth 50, 3
#: rounds interleaved): int8 route's top 50 identical to the exact one's for every query and set; 100k, 30-38
#: documents 0.15 ms exact vs 0.18 int8, 440-453: 2.0-2.3 vs 0.5, 1,323: 6.0 vs 0.7; 1M, 259-283: 1.0-2.3
#: vs 0.6-1.0, 4,127-4,766: 22-29 vs 2-3, 13,417: 111 vs 4.5 (p50 ms). Below depth + RESCORE_EXTRA the two
#: read the same float vectors; the crossover lies between 38 and 259 documents.
SQLITE_EXACT_MAX = 100
#: Above this many documents a tag set is not ranked whole by its int8 vectors (~0.3 µs a document): the
#: in-memory hamming KNN scans only its rows instead (the tag masks of mcp_distill.search.tagsets).
TAG_SUBSET_MAX = 50_000
#: The float-rescored candidates of a tag-filtered search beyond ``depth``: int8 ranking is close enough
#: to exact that the true top ``depth`` lies within the int8 top ``depth`` + 10.
RESCORE_EXTRA = 10
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
    scan. Tags, being multi-valued, cannot live in vec0: the in-memory copy keeps a row mask per tag
    (mcp_distill.search.tagsets), so a tag filter applies inside the scan too; a small tagged set is
    scored exactly.
    """

    TABLE = legs_db.VEC_TABLE

    def __init__(self, store: Store, model_id: str | None, *, oversample: float = VEC_OVERSAMPLE,
                 knn_budget: float = VEC_KNN_BUDGET, exact_max: int | None = None, pool: float = VEC_POOL,
                 rescore: float = VEC_RESCORE, subset_max: int = TAG_SUBSET_MAX):
        self.store = store
        self.pool = pool
        self.rescore = rescore
        self.model_id = model_id  # the store's vector space; None: no vectors yet, the leg returns nothing
        self.oversample = oversample
        self.knn_budget = knn_budget
        if exact_max is None:  # each backend's own bound (see SQLITE_EXACT_MAX)
            exact_max = SQLITE_EXACT_MAX if store.dialect == "sqlite" else EXACT_SCAN_MAX
        self.exact_max = exact_max
        self.subset_max = subset_max

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
        - tags (multi-valued, so not in vec0): the passing rows are the in-memory tag masks AND-ed with
          the other filters' masks (nothing read from SQLite); up to ``exact_max`` of them are scored
          exactly; up to ``subset_max`` are ranked by their in-memory int8 vectors, the best depth +
          RESCORE_EXTRA rescored by their float vectors; a larger set goes through the same KNN as the
          unfiltered path, scanning only its rows. No filter can starve the leg, so ``need`` (what the
          caller must have at least) is always met when the set holds that many.
        """
        if depth <= 0 or self.model_id is None or not self.exists():
            return []
        qvec = np.asarray(qvec, dtype=np.float32)
        candidates = min(MAX_KNN_K, max(depth, int(depth * self.rescore)))
        if not filters.tags:
            return self._rescore(qvec, self._knn(qvec, filters, candidates, int(depth * self.pool)), depth)
        matrix = code_matrix(self.store)
        rows = matrix.passing(self._where(filters), matrix.tag_mask(self.store, filters.tags))
        assert rows is not None  # a tag mask was given
        if len(rows) <= self.exact_max:  # every passing one rescored by its float vector: exact
            return self._rescore(qvec, [int(d) for d in matrix.docs[rows]], depth)
        rescored = min(MAX_KNN_K, max(depth + RESCORE_EXTRA, int(depth * self.rescore)))
        if len(rows) <= self.subset_max:
            return self._rescore(qvec, matrix.rank(rows, qvec, rescored), depth)
        code = legs_db.query_code(self.store, _pad8(qvec).tobytes())
        return self._rescore(qvec, matrix.knn(code, {}, rescored, qvec, int(depth * self.pool), rows), depth)

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

    @staticmethod
    def _where(filters: Filters) -> dict[str, Any]:
        """The filters as the in-memory codes' columns (mcp_distill.search.codes.CodeMatrix.mask)."""
        return where_of(filters.collection, filters.task_type, filters.source, filters.since, filters.until)

    def _knn(self, qvec: np.ndarray, filters: Filters, k: int, pool: int = 0) -> list[int]:
        """The ``k`` nearest binary codes passing the collection, task_type, source and time filters,
        from the in-memory copy of ``search_vec`` (mcp_distill.search.codes); with ``pool`` > k, the
        ``pool`` nearest codes ranked again by their int8 vectors and the best ``k`` of those."""
        code = legs_db.query_code(self.store, _pad8(qvec).tobytes())
        return code_matrix(self.store).knn(code, self._where(filters), k, qvec, pool)

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
