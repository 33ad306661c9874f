"""The two retrieval legs of :mod:`mcp_distill.search.index`: FTS5 keyword and sqlite-vec vector.

Both return ranked ``(search_docs.id, score)`` lists for one collection and one set of filters;
fusion and the public API are in :mod:`mcp_distill.search.index`. Every statement runs under the
store's lock (the MCP server shares one connection between worker threads).
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcp_distill.search.query import (
    MAX_DF_RATIO,
    MAX_QUERY_TERMS,
    MIN_KEEP_TERMS,
    POSTINGS_BUDGET,
    TAGS_WEIGHT,
    TEXT_WEIGHT,
    TITLE_WEIGHT,
    build_match,
    facet_token,
    fts_string,
    query_tokens,
)
from mcp_distill.store import Store
from mcp_distill.store.dialect import in_list, list_param

#: A tag-filtered set this small (or smaller) is scored exactly from the float vectors (about 3 µs
#: per document on 2 cores at 100k), which is both cheaper than an over-fetching KNN and exact.
EXACT_SCAN_MAX = 2000
#: Binary-code KNN candidates rescored exactly: between ``depth`` and VEC_OVERSAMPLE x depth,
#: as many as fit VEC_KNN_BUDGET (documents x k; sqlite-vec's KNN cost is linear in k, about
#: 1.2 ns per unit at 100k documents and 3 ns at 10k on 2 cores: k=50 costs 1.9 ms at 10k,
#: 6.6 ms at 100k). Hamming order is a rough proxy of cosine order: on SciFact train,
#: rescoring 1x/2x/4x depth candidates gives the leg's recall@100 0.89/0.91/0.93 (exact 0.93),
#: nDCG@10 unchanged. So small collections get a near-exact leg almost for free, and 100k
#: documents (where 4x would cost 25 ms) get 1x.
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
#: Seconds the total document count (used by the document-frequency cut) may be stale.
_COUNT_TTL_S = 2.0
#: Document frequencies come from a snapshot of fts5vocab (a full scan: 0.3 s at 100k documents;
#: looking terms up one by one costs 0.4 ms each there, since fts5vocab counts by walking the
#: posting list). Only terms in at least max(DF_FLOOR_MIN, N / DF_FLOOR_DIV) documents are kept
#: (a term absent from the snapshot is rare, hence cheap; below 2000 documents the snapshot is
#: the whole vocabulary, so a term absent from it is in no document); the snapshot is retaken when the
#: document count drifts by more than SNAPSHOT_DRIFT (always below SNAPSHOT_SMALL documents).
DF_FLOOR_MIN = 1
DF_FLOOR_DIV = 2000
SNAPSHOT_DRIFT = 0.05
SNAPSHOT_SMALL = 2000


@dataclass
class _StoreState:
    """Per-store (per-connection) caches shared by every Index on that store."""

    total: int = -1
    total_at: float = 0.0
    df: dict[str, int] = field(default_factory=dict)
    df_total: int = -1
    df_floor: int = DF_FLOOR_MIN
    temp_ready: bool = False


_STATES: weakref.WeakKeyDictionary[Store, _StoreState] = weakref.WeakKeyDictionary()


def _state(store: Store) -> _StoreState:
    state = _STATES.get(store)
    if state is None:
        state = _STATES[store] = _StoreState()
    return state


def total_docs(store: Store) -> int:
    """Documents in the store (all collections), cached for _COUNT_TTL_S seconds."""
    state = _state(store)
    now = time.monotonic()
    if now - state.total_at > _COUNT_TTL_S:
        row = store.query_one("SELECT count(*) AS n FROM search_docs")
        state.total = int(row["n"]) if row else 0
        state.total_at = now
    return state.total


def forget_counts(store: Store) -> None:
    """Writers call this so the next search sees the new document count at once."""
    _state(store).total_at = 0.0


@dataclass(frozen=True)
class Filters:
    """One collection plus optional filters; ``tags`` normalised, all must match."""

    collection: str
    task_type: str | None = None
    source: str | None = None
    tags: tuple[str, ...] = ()
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive

    def facets(self, with_collection: bool = True) -> list[str]:
        """Facet tokens every matching document carries in FTS5's ``facets`` column."""
        out = [facet_token("c", self.collection)] if with_collection else []
        if self.task_type is not None:
            out.append(facet_token("t", self.task_type))
        if self.source is not None:
            out.append(facet_token("s", self.source))
        out.extend(facet_token("g", tag) for tag in self.tags)
        return out

    def time_sql(self, alias: str = "d") -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            clauses.append(f"{alias}.ts_epoch >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{alias}.ts_epoch < ?")
            params.append(self.until)
        return " AND ".join(clauses), params


def doc_facets(collection: str, task_type: str | None, source: str | None, tags: list[str]) -> str:
    """The ``facets`` column of a document: the tokens its filters will look for."""
    tokens = [facet_token("c", collection)]
    if task_type is not None:
        tokens.append(facet_token("t", task_type))
    if source is not None:
        tokens.append(facet_token("s", source))
    tokens.extend(facet_token("g", tag) for tag in dict.fromkeys(tags))
    return " ".join(tokens)


# ----------------------------------------------------------------------------- keyword leg


def idf(df: int, n: int) -> float:
    """BM25's idf in the always-positive form log(1 + (N - df + 0.5) / (df + 0.5))."""
    return math.log(1.0 + (max(n, df) - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class TermPlan:
    """What the keyword leg makes of a query: the tokens it ORs, and the idf of each informative
    query term (stemmed; absent terms included) for the keyword coverage of a hit."""

    terms: list[str]
    weights: dict[str, float]
    documents: int

_FIELDS = ("title", "text", "tags")


class KeywordLeg:
    """BM25 over FTS5 with a bounded, sanitised OR query.

    The knobs default to the module constants; they are parameters so the benchmark can tune
    them (on SciFact train) through this very code.
    """

    def __init__(self, store: Store, *, weights: tuple[float, float, float] = (TITLE_WEIGHT, TEXT_WEIGHT, TAGS_WEIGHT),
                 max_df_ratio: float = MAX_DF_RATIO, postings_budget: int = POSTINGS_BUDGET,
                 min_keep: int = MIN_KEEP_TERMS, max_terms: int = MAX_QUERY_TERMS):
        self.store = store
        self.max_df_ratio = max_df_ratio
        self.postings_budget = postings_budget
        self.min_keep = min_keep
        self.max_terms = max_terms
        w = [float(x) for x in weights]
        self._bm25 = f"bm25(search_fts, {w[0]!r}, {w[1]!r}, {w[2]!r}, 0.0)"

    def _temp_tables(self) -> None:
        """Once per connection (under the store's lock): a temporary FTS5 table with the index's
        tokenizer and its per-token view (tokenize), and a per-token view of the index itself
        (present_terms). Temporary, so a read-only reader can create them too."""
        state = _state(self.store)
        if not state.temp_ready:
            conn = self.store.conn
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_qtok USING fts5(q, tokenize='porter unicode61')")
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_qtok_v USING "
                         "fts5vocab(temp, search_qtok, 'instance')")
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_fts_inst USING "
                         "fts5vocab(main, search_fts, 'instance')")
            state.temp_ready = True

    def tokenize(self, texts: list[str]) -> dict[int, list[str]]:
        """FTS5's own tokenizer + porter stemmer applied to each text (index -> terms in order).

        A temporary FTS5 table with the same tokenizer does it, so the terms are exactly those
        of the index vocabulary; costs about 0.15 ms a query.
        """
        conn = self.store.conn
        with self.store.lock:
            self._temp_tables()
            conn.executemany("INSERT INTO temp.search_qtok(rowid, q) VALUES (?, ?)", list(enumerate(texts)))
            try:
                rows = conn.execute("SELECT doc, term FROM temp.search_qtok_v ORDER BY doc, offset").fetchall()
            finally:
                conn.execute("DELETE FROM temp.search_qtok")
        terms: dict[int, list[str]] = {}
        for doc, term in rows:
            terms.setdefault(int(doc), []).append(term)
        return terms

    def present_terms(self, ids: list[int], terms: Iterable[str]) -> dict[int, set[str]]:
        """Which of ``terms`` (stemmed index terms) each document of ``ids`` holds in its title,
        text or tags, read from the index's own postings (an fts5vocab 'instance' view of
        search_fts): the hits need no re-tokenizing. On SciFact at k=100 this takes ~5 ms a query
        where tokenizing the hits' text again took ~160 ms; the terms found are the same."""
        wanted = sorted(set(terms))
        if not ids or not wanted:
            return {}
        conn = self.store.conn
        with self.store.lock:
            self._temp_tables()
            dialect = self.store.dialect
            rows = conn.execute(
                f"SELECT DISTINCT doc, term FROM temp.search_fts_inst WHERE {in_list(dialect, 'term')} "
                f"AND {in_list(dialect, 'doc')} AND col != 'facets'",
                (list_param(dialect, wanted), list_param(dialect, ids))).fetchall()
        found: dict[int, set[str]] = {}
        for doc, term in rows:
            found.setdefault(int(doc), set()).add(term)
        return found

    def _document_frequencies(self) -> tuple[dict[str, int], int, int]:
        """(df of the common terms, document count, floor under which terms were left out)."""
        state = _state(self.store)
        n = total_docs(self.store)
        drift = abs(n - state.df_total)
        if state.df_total < 0 or (drift and (n < SNAPSHOT_SMALL or drift > SNAPSHOT_DRIFT * state.df_total)):
            floor = max(DF_FLOOR_MIN, n // DF_FLOOR_DIV)
            rows = self.store.query("SELECT term, doc FROM search_fts_vocab WHERE doc >= ?", (floor,))
            state.df = {r["term"]: int(r["doc"]) for r in rows}
            state.df_total = n
            state.df_floor = floor
        return state.df, n, state.df_floor

    def plan(self, query: str) -> list[str]:
        """The query tokens the keyword leg will OR, rarest first (maybe none)."""
        return self.plan_terms(query).terms

    def plan_terms(self, query: str) -> TermPlan:
        """Which query tokens the keyword leg ORs, chosen by document frequency over the whole query.

        Tokens stemming to the same term count once. A term in no document is left out (it can
        match nothing); a term in more than ``max_df_ratio`` of the documents is boilerplate
        (idf ~0, see MAX_DF_RATIO) and left out too. The rest are kept rarest first while their
        summed document frequency fits ``postings_budget`` (at least ``min_keep``, at most
        ``max_terms``). If nothing is left, the ``min_keep`` rarest present terms are searched
        anyway. Terms too rare for the df snapshot of a large index are estimated at half its floor.
        ``weights`` holds the idf of every informative (non-boilerplate) query term, present or
        not, for the keyword coverage of the match strength.
        """
        tokens = query_tokens(query)
        if not tokens:
            return TermPlan([], {}, 0)
        stems = self.tokenize(tokens)
        by_terms: dict[tuple[str, ...], str] = {}
        for i, token in enumerate(tokens):
            terms = stems.get(i)
            if terms and tuple(terms) not in by_terms:
                by_terms[tuple(terms)] = token
        df, n, floor = self._document_frequencies()
        absent = 0 if floor <= 1 else floor // 2  # a full snapshot knows every term of the index
        # A phrase matches no more documents than its rarest term.
        scored = sorted(((min(df.get(t, absent) for t in terms), token, " ".join(terms))
                         for terms, token in by_terms.items()), key=lambda s: s[0])
        limit = self.max_df_ratio * max(n, 1)
        weights = {stem: idf(freq, n) for freq, _, stem in scored if freq <= limit}
        kept: list[str] = []
        spent = 0
        for freq, token, _ in scored:
            if freq == 0 or freq > limit:
                continue
            if len(kept) >= self.min_keep and spent + freq > self.postings_budget:
                break
            kept.append(token)
            spent += freq
            if len(kept) >= self.max_terms:
                break
        if not kept:  # only very common words: search the rarest of them anyway
            kept = [token for freq, token, _ in scored if freq > 0][: self.min_keep]
        return TermPlan(kept, weights, n)

    def _single_collection(self, collection: str) -> bool:
        """True when every document belongs to ``collection``: its facet would filter nothing
        and cost a walk of a posting list as long as the index."""
        # Two statements: SQLite answers a lone min() or max() from the index in O(log n), but
        # scans for both in one statement.
        lo = self.store.query_one("SELECT min(collection) AS v FROM search_docs")
        hi = self.store.query_one("SELECT max(collection) AS v FROM search_docs")
        return bool(lo and hi) and lo["v"] == collection and hi["v"] == collection  # type: ignore[index]

    def run(self, terms: list[str], filters: Filters, depth: int) -> list[tuple[int, float]]:
        """(doc id, BM25 score — higher is better) of the best ``depth`` matches."""
        if not terms or depth <= 0:
            return []
        match = build_match(terms, filters.facets(with_collection=not self._single_collection(filters.collection)))
        time_clause, time_params = filters.time_sql("d")
        if time_clause:
            sql = (f"SELECT search_fts.rowid, {self._bm25} FROM search_fts JOIN search_docs d "
                   f"ON d.id = search_fts.rowid WHERE search_fts MATCH ? AND {time_clause} ORDER BY 2 LIMIT ?")
            params: list[Any] = [match, *time_params, depth]
        else:
            sql = f"SELECT rowid, {self._bm25} FROM search_fts WHERE search_fts MATCH ? ORDER BY 2 LIMIT ?"
            params = [match, depth]
        with self.store.lock:
            rows = self.store.conn.execute(sql, params).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def matched_fields(self, terms: list[str], ids: list[int]) -> dict[int, list[str]]:
        """Which of title/text/tags hold a query term, per document id.

        highlight() marks matched tokens of one column; one point query per document (about
        0.15 ms each: FTS5 opens every phrase's posting list per statement, and a ``rowid IN``
        list re-runs the whole query per value, so batching does not help).
        """
        if not terms or not ids:
            return {}
        match = build_match(terms, [])
        mark = "\x01"
        sql = ("SELECT highlight(search_fts, 0, char(1), ''), highlight(search_fts, 1, char(1), ''), "
               "highlight(search_fts, 2, char(1), '') FROM search_fts WHERE search_fts MATCH ? AND rowid = ?")
        out: dict[int, list[str]] = {}
        with self.store.lock:
            for doc_id in ids:
                row = self.store.conn.execute(sql, (match, doc_id)).fetchone()
                if row:
                    out[doc_id] = [name for name, value in zip(_FIELDS, row, strict=True) if value and mark in value]
        return out


# ----------------------------------------------------------------------------- vector leg


def _pad8(vector: np.ndarray) -> np.ndarray:
    """bit[N] needs N divisible by 8: pad with zeros (sign bit 0 on both sides, so harmless)."""
    extra = (-vector.shape[-1]) % 8
    return np.pad(vector, (0, extra)) if extra else vector


class VectorLeg:
    """Binary-code KNN in sqlite-vec, exact float rescoring, exact scans for small filtered sets.

    The vec0 table is partitioned by collection and task_type (a partition is a separate set of
    chunks, so a task_type filter makes the KNN *cheaper*: 2 ms instead of 19 ms at 100k for a
    10% type), with source and time as metadata columns filtered inside the KNN. Tags, being
    multi-valued, cannot live in vec0: a tag filter scans its (small) set exactly, or
    over-fetches from the KNN when the set is large, and falls back to the exact scan.
    """

    TABLE = "search_vec"

    def __init__(self, store: Store, model_id: str | None, *, oversample: float = VEC_OVERSAMPLE,
                 knn_budget: float = VEC_KNN_BUDGET, exact_max: int = EXACT_SCAN_MAX):
        self.store = store
        self.model_id = model_id  # the store's vector space; None: no vectors yet, the leg returns nothing
        self.oversample = oversample
        self.knn_budget = knn_budget
        self.exact_max = exact_max

    def exists(self) -> bool:
        return self.store.query_one(
            "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", (self.TABLE,)
        ) is not None

    def create(self, dim: int) -> None:
        """The vec0 table for ``dim``-d vectors (call inside a write transaction)."""
        bits = dim + (-dim) % 8
        self.store.conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.TABLE} USING vec0("
            "doc INTEGER PRIMARY KEY, collection TEXT PARTITION KEY, task_type TEXT PARTITION KEY, "
            f"code BIT[{bits}], source TEXT, ts_epoch FLOAT)"
        )

    def drop(self) -> None:
        self.store.conn.execute(f"DROP TABLE IF EXISTS {self.TABLE}")

    def put(self, doc: int, collection: str, vector: np.ndarray, task_type: str | None, source: str | None,
            ts_epoch: float | None) -> None:
        """Store one document's binary code (inside a write). Its exact vector is already in
        embed_cache (CachingEmbedder wrote it), found through search_docs.vector_id."""
        conn = self.store.conn
        conn.execute(f"DELETE FROM {self.TABLE} WHERE doc = ?", (doc,))
        conn.execute(
            f"INSERT INTO {self.TABLE}(doc, collection, task_type, code, source, ts_epoch) "
            "VALUES (?, ?, ?, vec_quantize_binary(?), ?, ?)",
            (doc, collection, task_type or "", _pad8(np.asarray(vector, dtype=np.float32)).tobytes(),
             source or "", MISSING_TS if ts_epoch is None else ts_epoch),
        )

    def vectors_for(self, docs: list[int]) -> dict[int, np.ndarray]:
        """The exact vectors of these documents (those that have one)."""
        if not docs:
            return {}
        with self.store.lock:
            rows = self.store.conn.execute(
                "SELECT d.id, c.vector FROM search_docs d JOIN embed_cache c ON c.id = d.vector_id "
                f"WHERE {in_list(self.store.dialect, 'd.id')}", (list_param(self.store.dialect, docs),)).fetchall()
        return {int(r[0]): np.frombuffer(r[1], dtype=np.float32) for r in rows}

    def vector_of(self, vector_id: int) -> np.ndarray | None:
        """The exact vector stored in embed_cache row ``vector_id``."""
        row = self.store.query_one("SELECT vector FROM embed_cache WHERE id = ?", (vector_id,))
        return np.frombuffer(row["vector"], dtype=np.float32) if row else None

    def remove(self, docs: list[int]) -> None:
        if self.exists():
            self.store.conn.executemany(f"DELETE FROM {self.TABLE} WHERE doc = ?", [(d,) for d in docs])

    # -- search ---------------------------------------------------------------------------

    def search(self, qvec: np.ndarray, filters: Filters, depth: int, need: int | None = None
               ) -> list[tuple[int, float]]:
        """(doc id, cosine similarity) of the ``depth`` nearest documents, best first.

        - no tag filter: one KNN; collection and task_type select vec0 partitions, source and
          time are vec0 metadata columns filtered *inside* the KNN, so the k nearest passing
          documents come back however selective the filter;
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
        candidates = min(MAX_KNN_K, max(depth, int(min(depth * self.oversample, self.knn_budget / n))))
        if not filters.tags:
            return self._rescore(qvec, self._knn(qvec, filters, candidates), depth)
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

    @staticmethod
    def _filtered_sql(filters: Filters, limit: int | None) -> tuple[str, list[Any]]:
        """SELECT of the ids passing every filter (at most ``limit``), from the facet postings."""
        match = "facets : (" + " AND ".join(fts_string(f) for f in filters.facets()) + ")"
        time_clause, time_params = filters.time_sql("d")
        if time_clause:
            sql = ("SELECT search_fts.rowid FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid "
                   f"WHERE search_fts MATCH ? AND {time_clause}")
            params: list[Any] = [match, *time_params]
        else:
            sql, params = "SELECT rowid FROM search_fts WHERE search_fts MATCH ?", [match]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return sql, params

    def _filtered_ids(self, filters: Filters, limit: int | None) -> list[int]:
        sql, params = self._filtered_sql(filters, limit)
        with self.store.lock:
            return [int(r[0]) for r in self.store.conn.execute(sql, params).fetchall()]

    def _filtered_count(self, filters: Filters, limit: int) -> int:
        """How many documents pass every filter, counting no further than ``limit`` (counting in
        SQLite is ~10x cheaper than bringing 50k ids into Python)."""
        sql, params = self._filtered_sql(filters, limit)
        row = self.store.query_one(f"SELECT count(*) AS n FROM ({sql})", params)
        return max(int(row["n"]) if row else 0, 1)

    def _knn(self, qvec: np.ndarray, filters: Filters, k: int) -> list[int]:
        clauses = ["code MATCH vec_quantize_binary(?)", "k = ?", "collection = ?"]
        params: list[Any] = [_pad8(qvec).tobytes(), k, filters.collection]
        if filters.task_type is not None:
            clauses.append("task_type = ?")
            params.append(filters.task_type)
        if filters.source is not None:
            clauses.append("source = ?")
            params.append(filters.source)
        if filters.since is not None:
            clauses.append("ts_epoch >= ?")
            params.append(filters.since)
        elif filters.until is not None:
            clauses.append("ts_epoch > ?")
            params.append(MISSING_TS)
        if filters.until is not None:
            clauses.append("ts_epoch < ?")
            params.append(filters.until)
        sql = f"SELECT doc FROM {self.TABLE} WHERE {' AND '.join(clauses)} ORDER BY distance"
        with self.store.lock:
            return [int(r[0]) for r in self.store.conn.execute(sql, params).fetchall()]

    def _with_tags(self, docs: list[int], tags: tuple[str, ...]) -> list[int]:
        if not docs:
            return []
        marks = ",".join("?" * len(tags))
        rows = self.store.query(
            f"SELECT doc FROM search_tags WHERE {in_list(self.store.dialect, 'doc')} AND tag IN ({marks}) "
            "GROUP BY doc HAVING count(*) = ?",
            (list_param(self.store.dialect, docs), *tags, len(tags)),
        )
        keep = {int(r["doc"]) for r in rows}
        return [d for d in docs if d in keep]

    def _rescore(self, qvec: np.ndarray, docs: list[int], depth: int) -> list[tuple[int, float]]:
        if not docs:
            return []
        with self.store.lock:
            rows = self.store.conn.execute(
                "SELECT d.id, c.vector FROM search_docs d JOIN embed_cache c ON c.id = d.vector_id "
                f"WHERE {in_list(self.store.dialect, 'd.id')}",
                (list_param(self.store.dialect, docs),),
            ).fetchall()
        return self._top(qvec, rows, depth)

    @staticmethod
    def _top(qvec: np.ndarray, rows: list[Any], depth: int) -> list[tuple[int, float]]:
        if not rows:
            return []
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        if matrix.shape[1] != qvec.shape[0]:
            return []
        sims = matrix @ qvec
        take = min(depth, len(rows))
        top = np.argpartition(-sims, take - 1)[:take] if take < len(rows) else np.arange(len(rows))
        top = top[np.lexsort((ids[top], -sims[top]))]
        return [(int(ids[i]), float(sims[i])) for i in top]
