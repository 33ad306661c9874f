"""The two retrieval legs on PostgreSQL: full-text search with ``tsvector`` and vectors with pgvector.

The same contract as :mod:`mcp_distill.search.legs` (whose query planning, rescoring and fusion
they reuse): ranked ``(search_docs.id, score)`` lists for one collection and one set of filters,
the filters applied inside the query.

- Keyword: ``search_docs.fts`` is a generated ``tsvector`` (English stemming; title weight A, tags
  B, text C; GIN index, migration 002). The planned terms' lexemes, OR-ed, find the documents
  through the GIN index; they are ranked by BM25 computed over their tsvectors with the SQLite
  leg's column weights (PostgreSQL's own ``ts_rank_cd`` measured 0.42 nDCG@10 on SciFact against
  BM25's 0.70; see docs/benchmarks.md). Document frequencies for the term plan and the idf come
  from ``ts_stat``, snapshotted like fts5vocab on SQLite. Which fields matched is asked with
  ``websearch_to_tsquery`` (accepts any user text).
- Vectors: ``search_vec`` holds each document's ``vector(dim)`` with its filter columns and an HNSW
  index (cosine). Below ``exact_max`` passing documents the leg scores the filtered set exactly;
  above, it asks HNSW (``hnsw.ef_search`` raised to the candidates wanted) and falls back to the
  exact scan when the index returns fewer than needed (pgvector filters after the graph walk).
  Candidates are rescored from embed_cache's float32 vectors, as on SQLite, so both backends give
  the same similarities.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from mcp_distill.search.legs import (
    DF_FLOOR_DIV,
    DF_FLOOR_MIN,
    SNAPSHOT_DRIFT,
    SNAPSHOT_SMALL,
    Filters,
    KeywordLeg,
    store_state,
    total_docs,
)
from mcp_distill.search.vector import MAX_KNN_K, VectorLeg
from mcp_distill.store import Store
from mcp_distill.store.dialect import in_list, list_param

#: BM25 is computed over the best ``depth x BM25_POOL`` (at least BM25_POOL_MIN) documents by PostgreSQL's
#: own ts_rank (C code, from the GIN matches), not over every match: on SciFact the same nDCG@10 (see
#: docs/benchmarks.md) at a fraction of the cost of unnesting every matching tsvector.
BM25_POOL = 8
BM25_POOL_MIN = 400


def _filter_sql(filters: Filters, alias: str = "d") -> tuple[str, list[Any]]:
    """WHERE clauses of every filter on ``search_docs`` (tags through ``search_tags``)."""
    clauses, params = [f"{alias}.collection = ?"], [filters.collection]
    for column in ("task_type", "source"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{alias}.{column} = ?")
            params.append(value)
    time_clause, time_params = filters.time_sql(alias)
    if time_clause:
        clauses.append(time_clause)
        params += time_params
    if filters.tags:
        clauses.append(f"{alias}.id IN (SELECT doc FROM search_tags WHERE tag = ANY(?) GROUP BY doc "
                       "HAVING count(*) = ?)")
        params += [list(filters.tags), len(filters.tags)]
    return " AND ".join(clauses), params


def _quoted(lexeme: str) -> str:
    """One lexeme as a ``to_tsquery('simple', ...)`` operand (already stemmed: matched as it is)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _websearch(terms: list[str]) -> str:
    """The planned terms as one ``websearch_to_tsquery`` text: each a quoted phrase, OR-ed."""
    return " or ".join('"' + t.replace('"', " ") + '"' for t in terms)


class PgKeywordLeg(KeywordLeg):
    """tsvector full-text search with the SQLite leg's term planning (see the module docstring)."""

    def __init__(self, store: Store, **knobs: Any):
        super().__init__(store, **knobs)
        title, text, tags = (float(x) for x in knobs.get("weights", self._default_weights()))
        self._column_weights = (title, tags, text)  # BM25 tf weights of positions A, B, C

    @staticmethod
    def _default_weights() -> tuple[float, float, float]:
        from mcp_distill.search.query import TAGS_WEIGHT, TEXT_WEIGHT, TITLE_WEIGHT

        return TITLE_WEIGHT, TEXT_WEIGHT, TAGS_WEIGHT

    def present_terms(self, ids: list[int], terms: Iterable[str]) -> dict[int, set[str]]:
        """Which of ``terms`` each document of ``ids`` holds in title, text or tags: its text
        tokenized again (PostgreSQL has no per-document view of the tsvector postings)."""
        wanted = set(terms)
        if not ids or not wanted:
            return {}
        rows = {r["id"]: r for r in self.store.query(
            f"SELECT id, title, text, tags FROM search_docs WHERE {in_list(self.store.dialect, 'id')}",
            (list_param(self.store.dialect, ids),))}
        order = [d for d in ids if d in rows]
        tokens = self.tokenize([f"{rows[d]['title']}\n{rows[d]['text']}\n{' '.join(json.loads(rows[d]['tags']))}"
                                for d in order])
        return {d: set(tokens.get(i, ())) & wanted for i, d in enumerate(order)}

    def tokenize(self, texts: list[str]) -> dict[int, list[str]]:
        """PostgreSQL's English parser + stemmer applied to each text (index -> lexemes in order),
        the very lexemes of ``search_docs.fts`` (English stop words have none)."""
        if not texts:
            return {}
        rows = self.store.query(
            "SELECT t.i - 1 AS doc, x.lexeme AS term FROM unnest(?::text[]) WITH ORDINALITY AS t(q, i) "
            "CROSS JOIN LATERAL unnest(to_tsvector('english', t.q)) AS x(lexeme, positions, weights) "
            "CROSS JOIN LATERAL unnest(x.positions) AS p(pos) ORDER BY t.i, p.pos", (list(texts),))
        terms: dict[int, list[str]] = {}
        for row in rows:
            terms.setdefault(int(row["doc"]), []).append(row["term"])
        return terms

    def _document_frequencies(self) -> tuple[dict[str, int], int, int]:
        state = store_state(self.store)
        n = total_docs(self.store)
        drift = abs(n - state.df_total)
        if state.df_total < 0 or (drift and (n < SNAPSHOT_SMALL or drift > SNAPSHOT_DRIFT * state.df_total)):
            floor = max(DF_FLOOR_MIN, n // DF_FLOOR_DIV)
            rows = self.store.query("SELECT word AS term, ndoc AS doc FROM ts_stat('SELECT fts FROM search_docs') "
                                    "WHERE ndoc >= ?", (floor,))
            state.df = {r["term"]: int(r["doc"]) for r in rows}
            state.df_total = n
            state.df_floor = floor
        return state.df, n, state.df_floor

    def run(self, terms: list[str], filters: Filters, depth: int) -> list[tuple[int, float]]:
        """(doc id, BM25 score — higher is better) of the best ``depth`` matches.

        The GIN index finds the documents holding any term, ts_rank keeps the best pool of them, and
        BM25 (k1 1.2, b 0.75, as FTS5) is computed over their tsvectors: each position's column weight
        (A title, B tags, C text) counts towards the term frequency, as FTS5's bm25() column weights
        do; idf from the df snapshot."""
        if not terms or depth <= 0:
            return []
        lexemes = sorted({lex for stems in self.tokenize(terms).values() for lex in stems})
        if not lexemes:
            return []
        df, n, floor = self._document_frequencies()
        absent = 0 if floor <= 1 else floor // 2
        idfs = [max(1e-6, math.log((n - df.get(t, absent) + 0.5) / (df.get(t, absent) + 0.5))) for t in lexemes]
        where, params = _filter_sql(filters)
        rows = self.store.query(
            "WITH q AS (SELECT * FROM unnest(?::text[], ?::float8[]) AS q(term, idf)), "
            "cand AS (SELECT d.id, d.fts FROM search_docs d, to_tsquery('simple', ?) AS m(q) "
            f"WHERE d.fts @@ m.q AND {where} ORDER BY ts_rank(d.fts, m.q) DESC, d.id LIMIT ?), "
            "scored AS (SELECT c.id, q.idf, t.tf, t.dl FROM cand c CROSS JOIN LATERAL ("
            "  SELECT u.lexeme, sum(CASE w WHEN 'A' THEN ? WHEN 'B' THEN ? ELSE ? END) AS tf, "
            "         (SELECT sum(coalesce(array_length(x.positions, 1), 1)) FROM unnest(c.fts) AS x) AS dl "
            "  FROM unnest(c.fts) AS u, unnest(u.weights) AS w WHERE u.lexeme = ANY(?::text[]) GROUP BY u.lexeme"
            ") AS t JOIN q ON q.term = t.lexeme) "
            "SELECT id, sum(idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / ?))) AS score FROM scored "
            "GROUP BY id ORDER BY score DESC, id LIMIT ?",
            (lexemes, idfs, " | ".join(_quoted(t) for t in lexemes), *params, max(depth * BM25_POOL, BM25_POOL_MIN),
             *self._column_weights, lexemes,
             self._average_length(), depth))
        return [(int(r["id"]), float(r["score"])) for r in rows]

    def _average_length(self) -> float:
        """Mean tokens per document (BM25's avgdl), taken with the df snapshot."""
        state = store_state(self.store)
        if getattr(state, "pg_avgdl", None) is None or state.df_total != getattr(state, "pg_avgdl_at", -2):
            row = self.store.query_one("SELECT avg((SELECT sum(coalesce(array_length(x.positions, 1), 1)) "
                                       "FROM unnest(fts) AS x)) AS a FROM search_docs")
            state.pg_avgdl = float(row["a"] or 1.0) if row else 1.0  # type: ignore[attr-defined]
            state.pg_avgdl_at = state.df_total  # type: ignore[attr-defined]
        return max(state.pg_avgdl, 1.0)  # type: ignore[attr-defined]

    def matched_fields(self, terms: list[str], ids: list[int]) -> dict[int, list[str]]:
        """Which of title/text/tags hold a query term, per document id (one statement for all)."""
        if not terms or not ids:
            return {}
        rows = self.store.query(
            "SELECT d.id, to_tsvector('english', d.title) @@ q.q AS title, to_tsvector('english', d.text) @@ q.q "
            "AS text, to_tsvector('english', d.tags) @@ q.q AS tags FROM search_docs d, "
            "websearch_to_tsquery('english', ?) AS q(q) WHERE d.id = ANY(?)", (_websearch(terms), list(ids)))
        return {int(r["id"]): [f for f in ("title", "text", "tags") if r[f]] for r in rows}


class PgVectorLeg(VectorLeg):
    """pgvector HNSW (cosine) or an exact scan, rescored from embed_cache (see the module docstring)."""

    def exists(self) -> bool:
        row = self.store.query_one("SELECT to_regclass(?) IS NOT NULL AS x", (self.TABLE,))
        return bool(row and row["x"])

    def create(self, dim: int) -> None:
        """The ``vector(dim)`` table and its indexes (inside a write transaction)."""
        conn = self.store.conn
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.TABLE} (doc BIGINT PRIMARY KEY REFERENCES search_docs(id) "
            "ON DELETE CASCADE, collection TEXT COLLATE \"C\" NOT NULL, task_type TEXT COLLATE \"C\", "
            f"source TEXT COLLATE \"C\", ts_epoch DOUBLE PRECISION, embedding vector({int(dim)}) NOT NULL)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {self.TABLE}_hnsw ON {self.TABLE} "
                     "USING hnsw (embedding vector_cosine_ops)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {self.TABLE}_filters ON {self.TABLE}(collection, task_type)")

    def drop(self) -> None:
        self.store.conn.execute(f"DROP TABLE IF EXISTS {self.TABLE}")

    def put(self, doc: int, collection: str, vector: np.ndarray, task_type: str | None, source: str | None,
            ts_epoch: float | None) -> None:
        self.store.conn.execute(
            f"INSERT INTO {self.TABLE}(doc, collection, task_type, source, ts_epoch, embedding) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (doc) DO UPDATE SET collection = excluded.collection, "
            "task_type = excluded.task_type, source = excluded.source, ts_epoch = excluded.ts_epoch, "
            "embedding = excluded.embedding",
            (doc, collection, task_type, source, ts_epoch, np.asarray(vector, dtype=np.float32)))

    def remove(self, docs: list[int]) -> None:
        if docs and self.exists():
            self.store.conn.execute(f"DELETE FROM {self.TABLE} WHERE doc = ANY(?)", (list(docs),))

    def _filtered_ids(self, filters: Filters, limit: int | None) -> list[int]:
        where, params = _filter_sql(filters)
        sql = f"SELECT d.id FROM search_docs d WHERE {where} AND d.vector_id IS NOT NULL ORDER BY d.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [int(r["id"]) for r in self.store.query(sql, params)]

    def _filtered_count(self, filters: Filters, limit: int) -> int:
        where, params = _filter_sql(filters)
        row = self.store.query_one(f"SELECT count(*) AS n FROM (SELECT 1 FROM search_docs d WHERE {where} "
                                   "AND d.vector_id IS NOT NULL LIMIT ?) AS s", (*params, limit))
        return max(int(row["n"]) if row else 0, 1)

    def search(self, qvec: np.ndarray, filters: Filters, depth: int, need: int | None = None
               ) -> list[tuple[int, float]]:
        """(doc id, cosine similarity) of the ``depth`` nearest documents passing ``filters``."""
        if depth <= 0 or self.model_id is None or not self.exists():
            return []
        qvec = np.asarray(qvec, dtype=np.float32)
        small = self._filtered_ids(filters, self.exact_max + 1)
        if len(small) <= self.exact_max:  # exact below the threshold: cheaper and no recall loss
            return self._rescore(qvec, small, depth)
        n = max(total_docs(self.store), 1)
        k = min(MAX_KNN_K, max(depth, int(min(depth * self.oversample, self.knn_budget / n))))
        found = self._knn(qvec, filters, k)
        if len(found) < min(need or depth, depth):  # the graph walk ran out before the filter did
            return self._rescore(qvec, self._filtered_ids(filters, None), depth)
        return self._rescore(qvec, found, depth)

    def _knn(self, qvec: np.ndarray, filters: Filters, k: int) -> list[int]:
        where, params = _filter_sql(filters, "v")
        where = where.replace("v.id IN", "v.doc IN")  # the tag clause names the document column
        with self.store.reading() as conn:
            # a candidate list as long as the k asked for (pgvector's default is 40)
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(int(k), 1000))}")
            rows = conn.execute(f"SELECT v.doc FROM {self.TABLE} v WHERE {where} ORDER BY v.embedding <=> ? LIMIT ?",
                                (*params, qvec, k)).fetchall()
        return [int(r[0]) for r in rows]
