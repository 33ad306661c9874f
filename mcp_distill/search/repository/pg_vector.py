"""The vector leg on PostgreSQL: pgvector's HNSW index, an exact scan, or the token-keyed codes.

``search_vec`` holds each document's ``vector(dim)`` with its filter columns, its facet tokens (a
GIN-indexed ``text[]``, migration 011: the source and tags are one containment test, one bitmap of this
table) and an HNSW index (cosine); ``search_vec_tokens`` (migration 012) holds each document's binary code
under each of its facet tokens, in one covering index. The planner's estimate of the rows passing the
filters decides: a few are scored exactly inside the server; a share too small for HNSW's
post-filtering is ranked from the rarest filter token's range of codes (hamming distance), the best
pool rescored exactly; otherwise HNSW is asked with a candidate list widened by the share. Either of
the last two falls back to the exact scan when too few candidates pass. Candidates are rescored from
embed_cache's float32 vectors, as on SQLite, so both backends give the same similarities.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mcp_distill.search.legs import Filters
from mcp_distill.search.query import facet_token
from mcp_distill.search.repository.pg_bulk import (
    FACETS_INDEX,
    HNSW_INDEX,
    TOKENS_DOC_INDEX,
    TOKENS_INDEX,
    TOKENS_TABLE,
)
from mcp_distill.search.vector import MAX_KNN_K, VectorLeg


def _vec_filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """WHERE clauses of every filter on search_vec ``v`` (the vector leg).

    The source and the tags are one containment test on the row's facet tokens (migration 011): the
    GIN index gives the rows holding all of them as one bitmap of search_vec itself. Collection and
    task type stay column equalities (the (collection, task_type, ts_epoch) index serves a type with a
    time range), never both forms of one filter: the planner would count its selectivity twice."""
    clauses, params = column_filters(filters, "v", source=False)
    tokens = ([facet_token("s", filters.source)] if filters.source is not None else []) + [
        facet_token("g", tag) for tag in filters.tags]
    if tokens:
        clauses.append("v.facets @> ?::text[]")
        params.append(tokens)
    return " AND ".join(clauses), params


def column_filters(filters: Filters, alias: str, source: bool = True) -> tuple[list[str], list[Any]]:
    """Collection, task type, source (``source``) and time range as column conditions on ``alias``."""
    clauses, params = [f"{alias}.collection = ?"], [filters.collection]
    for column in ("task_type", "source") if source else ("task_type",):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{alias}.{column} = ?")
            params.append(value)
    time_clause, time_params = filters.time_sql(alias)
    if time_clause:
        clauses.append(time_clause)
        params += time_params
    return clauses, params


#: Filter columns of search_vec, indexed together: a task type with a time range (or a source) is one
#: index range, not a type's every row filtered one by one.
FILTER_INDEX = "CREATE INDEX IF NOT EXISTS search_vec_type_time ON search_vec(collection, task_type, ts_epoch)"
#: HNSW candidate list (pgvector's hnsw.ef_search) bounds: its default 40, its maximum 1000.
EF_MIN, EF_MAX = 40, 1000
#: The list is this much longer than k / share, so the expected passing candidates exceed k.
EF_MARGIN = 1.2
#: Rows beyond depth an exact search takes from the server's order before rescoring (see exact_search).
EXACT_MARGIN = 10
#: The token-keyed codes' hamming pool is this many times depth (at least TOKEN_POOL_MIN), every one rescored
#: exactly from search_vec. Measured at 1M documents (40 SciFact train queries, depth 60, overlap with the exact
#: scan's top 10 / top 50): pool 400 0.982-0.995 / 0.915-0.935, 800 0.993-1.000 / 0.970-0.972, 1600 1.000 /
#: 0.988-0.995; 800 is ~2-4 ms more than 400, 1600 ~5 ms more than 800 (docs/benchmarks.md).
TOKEN_POOL = 16
TOKEN_POOL_MIN = 200
#: Seconds the facet tokens' frequencies (ANALYZE's most common elements of search_vec.facets: which token's
#: range is the smallest) are kept before they are read again.
TOKEN_STATS_TTL = 300.0
#: The codes of the ``?``-th pool nearest in hamming distance among a token's range (and time range) whose
#: signature holds every filter token, rescored against the float vectors of search_vec, where every filter
#: is checked again (a signature's false positive only costs a candidate); then their embed_cache vectors.
_POOLED_SQL = """
SELECT n.doc, c.vector FROM (
  SELECT v.doc FROM (SELECT t.doc FROM search_vec_tokens t WHERE t.token = ?{time}
                       AND t.sig & distill_facet_sig(?::text[]) = distill_facet_sig(?::text[])
                     ORDER BY bit_count(t.code # distill_vec_code(?::vector)), t.doc LIMIT ?) p
  JOIN search_vec v ON v.doc = p.doc WHERE {where} ORDER BY v.embedding <=> ?::vector, v.doc LIMIT ?) n
JOIN search_docs d ON d.id = n.doc JOIN embed_cache c ON c.id = d.vector_id"""


class PgVectorLeg(VectorLeg):
    """pgvector HNSW (cosine), the token-keyed codes or an exact scan, rescored from embed_cache (see the
    module docstring)."""

    _token_freqs: tuple[float, dict[str, float]] = (float("-inf"), {})

    def exists(self) -> bool:
        row = self.store.query_one("SELECT to_regclass(?) IS NOT NULL AS x", (self.TABLE,))
        return bool(row and row["x"])

    def create(self, dim: int) -> None:
        """The ``vector(dim)`` table and its indexes (inside a write transaction)."""
        conn = self.store.conn
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.TABLE} (doc BIGINT PRIMARY KEY REFERENCES search_docs(id) "
            "ON DELETE CASCADE, collection TEXT COLLATE \"C\" NOT NULL, task_type TEXT COLLATE \"C\", "
            f"source TEXT COLLATE \"C\", ts_epoch DOUBLE PRECISION, embedding vector({int(dim)}) NOT NULL, "
            "facets TEXT[] COLLATE \"C\")")
        conn.execute(HNSW_INDEX[1])
        conn.execute(FACETS_INDEX[1])
        conn.execute(FILTER_INDEX)
        for statement in TOKENS_TABLE:
            conn.execute(statement)
        conn.execute(TOKENS_INDEX[1])
        conn.execute(TOKENS_DOC_INDEX[1])
        conn.execute(f"DROP INDEX IF EXISTS {self.TABLE}_filters")  # (collection, task_type): FILTER_INDEX covers it

    def drop(self) -> None:
        self.store.conn.execute(f"DROP TABLE IF EXISTS {self.TABLE}")
        self.store.conn.execute("DROP TABLE IF EXISTS search_vec_tokens")

    def put(self, doc: int, collection: str, vector: np.ndarray, task_type: str | None, source: str | None,
            ts_epoch: float | None) -> None:
        self.store.conn.execute(
            f"INSERT INTO {self.TABLE}(doc, collection, task_type, source, ts_epoch, embedding, facets) "
            "VALUES (?, ?, ?, ?, ?, ?, distill_doc_facets(?)) ON CONFLICT (doc) DO UPDATE SET "
            "collection = excluded.collection, task_type = excluded.task_type, source = excluded.source, "
            "ts_epoch = excluded.ts_epoch, embedding = excluded.embedding, facets = excluded.facets",
            (doc, collection, task_type, source, ts_epoch, np.asarray(vector, dtype=np.float32), doc))

    def remove(self, docs: list[int]) -> None:
        if docs and self.exists():
            self.store.conn.execute(f"DELETE FROM {self.TABLE} WHERE doc = ANY(?)", (list(docs),))

    def _filtered_ids(self, filters: Filters, limit: int | None) -> list[int]:
        where, params = _vec_filter_sql(filters)
        sql = f"SELECT v.doc FROM {self.TABLE} v WHERE {where} ORDER BY v.doc"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [int(r["doc"]) for r in self.store.query(sql, params)]

    def search(self, qvec: np.ndarray, filters: Filters, depth: int, need: int | None = None
               ) -> list[tuple[int, float]]:
        """(doc id, cosine similarity) of the ``depth`` nearest documents passing ``filters``.

        pgvector 0.6 applies filters to the HNSW walk's candidates, after it: a filter keeping a
        share s of the documents needs a candidate list (``hnsw.ef_search``, at most 1000) about
        k / s long. The planner's estimate of the passing rows (from ANALYZE's statistics; no row
        is read) gives s. Up to ``exact_max`` passing rows are scored exactly inside the server
        (every passing row's distance, no index); a share too small for 1000 candidates is ranked
        by the token-keyed codes (``_pooled``); otherwise HNSW answers. If fewer than ``need`` of the
        last two's candidates pass, the exact scan does. Candidates come back with their embed_cache
        vectors, rescored here as on SQLite."""
        if depth <= 0 or self.model_id is None or not self.exists():
            return []
        qvec = np.asarray(qvec, dtype=np.float32)
        where, params = _vec_filter_sql(filters)
        with self.store.reading() as conn:
            estimate = conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {self.TABLE} v WHERE {where}",
                                    params).fetchone()[0][0]["Plan"]["Plan Rows"]
            n = max(int(conn.execute("SELECT docs FROM search_totals").fetchone()[0] or 0), 1)
            k = min(MAX_KNN_K, max(depth, int(min(depth * self.oversample, self.knn_budget / n))))
            ef = int(k * n / max(float(estimate), 1.0) * EF_MARGIN)
            if estimate <= self.exact_max:
                return self._top(qvec, self._nearest(conn, qvec, where, params, depth, exact=True), depth)
            if ef > EF_MAX:
                rows = self._pooled(conn, qvec, filters, where, params, depth)
            else:
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_MIN, ef)}")
                rows = self._nearest(conn, qvec, where, params, k, exact=False)
            if len(rows) < min(need or depth, depth):  # the candidates ran out before the filter did
                rows = self._nearest(conn, qvec, where, params, depth, exact=True)
        return self._top(qvec, rows, depth)

    def _pooled(self, conn: Any, qvec: np.ndarray, filters: Filters, where: str, params: list[Any], depth: int
                ) -> list[tuple[int, bytes]]:
        """(doc, embed_cache vector bytes) of the ``depth`` nearest passing documents among the
        ``TOKEN_POOL x depth`` nearest in hamming distance of the filter's rarest token's range (one
        index-only range scan of search_vec_tokens, the time range inside it), rescored exactly."""
        tokens = filters.facets()
        drive = self._rarest(conn, tokens)
        # one process: parallel workers for a 100k-entry range were slower at 1M on 2 busy cores (2 tags +
        # source p50 / p95 41.6 / 62.1 ms with 2 workers, 36.5 / 49.5 without, interleaved, load 4.6)
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        time_sql, time_params = filters.time_sql("t")
        sql = _POOLED_SQL.format(time=f" AND {time_sql}" if time_sql else "", where=where)
        rows = conn.execute(sql, (drive, *time_params, tokens, tokens, qvec, max(TOKEN_POOL_MIN, TOKEN_POOL * depth),
                                  *params, qvec, depth)).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def _rarest(self, conn: Any, tokens: list[str]) -> str:
        """The token of ``tokens`` fewest documents carry, by ANALYZE's element frequencies of
        search_vec.facets (read again after TOKEN_STATS_TTL); a token ANALYZE did not list is rarer than
        every listed one; among equals the last (tags come after source, task type and collection)."""
        read_at, freqs = self._token_freqs
        if time.monotonic() - read_at > TOKEN_STATS_TTL:
            row = conn.execute("SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats WHERE "
                               "schemaname = current_schema() AND tablename = ? AND attname = 'facets'",
                               (self.TABLE,)).fetchone()
            freqs = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
            self._token_freqs = (time.monotonic(), freqs)
        return min(reversed(tokens), key=lambda t: freqs.get(t, 0.0))

    def exact_search(self, qvec: np.ndarray, filters: Filters, depth: int) -> list[tuple[int, float]]:
        """(doc id, cosine similarity) of the ``depth`` nearest documents passing ``filters``, every one
        of them scored: the server computes each passing row's distance (no index, no candidate list;
        the ids never travel) and the best ``depth + EXACT_MARGIN`` are rescored here from embed_cache's
        float32 vectors, so a near tie at the cut that pgvector's float arithmetic orders otherwise than
        numpy still ends where the SQLite leg's exact search puts it."""
        if depth <= 0 or self.model_id is None or not self.exists():
            return []
        qvec = np.asarray(qvec, dtype=np.float32)
        where, params = _vec_filter_sql(filters)
        with self.store.reading() as conn:
            rows = self._nearest(conn, qvec, where, params, depth + EXACT_MARGIN, exact=True)
        return self._top(qvec, rows, depth)

    def _nearest(self, conn: Any, qvec: np.ndarray, where: str, params: list[Any], k: int, exact: bool
                 ) -> list[tuple[int, bytes]]:
        """(doc, embed_cache vector bytes) of the ``k`` nearest passing documents: by the HNSW index,
        or ``exact`` (the distance made an expression the index cannot serve: every passing row)."""
        order = "(v.embedding <=> ?) + 0" if exact else "v.embedding <=> ?"
        rows = conn.execute(
            f"SELECT n.doc, c.vector FROM (SELECT v.doc FROM {self.TABLE} v WHERE {where} ORDER BY {order} LIMIT ?) n "
            "JOIN search_docs d ON d.id = n.doc JOIN embed_cache c ON c.id = d.vector_id",
            (*params, qvec, k)).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]
