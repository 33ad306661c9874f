"""The keyword leg on PostgreSQL (full-text search with ``tsvector``); the vector leg is in pg_vector.

The same contract as :mod:`mcp_distill.search.legs` (whose query planning, rescoring and fusion
they reuse): ranked ``(search_docs.id, score)`` lists for one collection and one set of filters,
the filters applied inside the query.

- Keyword: ``search_docs.fts`` is a generated ``tsvector`` (English stemming; title weight A, tags
  B, text C; GIN index, migration 002; kept inside the row, migration 010). The planned terms'
  lexemes find the candidates through the GIN index (all OR-ed while their postings fit
  CANDIDATE_BUDGET, else the rare ones OR-ed and the common ones in AND-ed pairs, at most CANDIDATE_CAP
  read: at 1M documents a query's terms hold 10k-50k documents); ts_rank keeps the best pool of them and
  BM25 is computed over their tsvectors with the SQLite leg's column weights, in one statement
  (PostgreSQL's own ``ts_rank_cd`` measured 0.42 nDCG@10 on SciFact against BM25's 0.70; see
  docs/benchmarks.md). Document frequencies, the document count and the mean length come from the
  tables migration 009's triggers keep current (no scan of the index). Which fields matched is asked
  with ``websearch_to_tsquery`` (accepts any user text).
- Vectors: :mod:`mcp_distill.search.repository.pg_vector`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mcp_distill.search.legs import (
    DF_FLOOR_MIN,
    Filters,
    KeywordLeg,
)
from mcp_distill.search.repository.pg_vector import column_filters
from mcp_distill.store import Store

#: BM25 is computed over the best ``depth x BM25_POOL`` (at least BM25_POOL_MIN) documents by PostgreSQL's
#: own ts_rank (C code, from the GIN matches), not over every match: on SciFact the same nDCG@10 (see
#: docs/benchmarks.md) at a fraction of the cost of unnesting every matching tsvector.
BM25_POOL = 8
BM25_POOL_MIN = 400
#: GIN matches the keyword leg reads from the heap (each costs a heap page: its tsvector, for ts_rank).
#: At 1M documents most queries' two rarest planned terms hold 10k-50k documents between them (149-242 ms of
#: heap reads for one query, measured); see candidate_query for how the matches are kept under it.
CANDIDATE_BUDGET = 3000
#: AND-ed lexeme pairs a candidate query ORs at most (each is one GIN intersection).
MAX_PAIRS = 10
#: The restricted candidates answer when at least depth / RESTRICTED_ENOUGH of them pass the filters (10
#: of the fused search's 50: a page of hits); fewer, and every lexeme's matches are read too (a second
#: statement: 50-75 ms with a common tag's probes at 1M documents, so not for the last few of 50).
RESTRICTED_ENOUGH = 5
#: GIN matches one statement reads at most, whatever its candidate query (the pairs are estimates).
CANDIDATE_CAP = 4000
#: Query tokens whose lexemes are remembered (a query's tokens are stemmed for the plan and again for
#: the run; a server round trip each time otherwise).
STEM_CACHE = 20_000
#: Texts up to this long are query tokens (cached); longer ones are documents (never cached).
STEM_CACHE_CHARS = 64


def _filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """WHERE clauses of every filter on search_docs ``d`` (the keyword leg).

    Each tag is an EXISTS on search_tags' primary key (tag, doc): a probe per candidate row, so a
    common tag costs nothing extra when the GIN match already narrows the rows, and the planner may
    also drive from a rare tag's index range."""
    clauses, params = column_filters(filters, "d")
    for tag in filters.tags:
        clauses.append("EXISTS (SELECT 1 FROM search_tags t WHERE t.tag = ? AND t.doc = d.id)")
        params.append(tag)
    return " AND ".join(clauses), params


@functools.cache
def _keyword_pool() -> ThreadPoolExecutor:
    """Threads running keyword legs beside vector legs: one per concurrent search, each holding a reader
    connection while it runs (the store's pool has 8; the other reads need some)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="distill-pg-keyword")


def _quoted(lexeme: str) -> str:
    """One lexeme as a ``to_tsquery('simple', ...)`` operand (already stemmed: matched as it is)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _websearch(terms: list[str]) -> str:
    """The planned terms as one ``websearch_to_tsquery`` text: each a quoted phrase, OR-ed."""
    return " or ".join('"' + t.replace('"', " ") + '"' for t in terms)


def statistics(store: Store, lexemes: Iterable[str]) -> tuple[dict[str, int], int, float]:
    """(document frequency of each of ``lexemes`` that some document holds, documents, mean tokens
    per document) from migration 009's trigger-maintained tables: one indexed lookup, no scan."""
    rows = store.query("SELECT t.docs, t.tokens, s.term, s.ndoc FROM search_totals t "
                       "LEFT JOIN search_terms s ON s.term = ANY(?::text[]) AND s.ndoc > 0", (sorted(set(lexemes)),))
    if not rows:
        return {}, 0, 1.0
    n, tokens = int(rows[0]["docs"]), int(rows[0]["tokens"])
    return {r["term"]: int(r["ndoc"]) for r in rows if r["term"] is not None}, n, max(tokens / max(n, 1), 1.0)


def candidate_query(lexemes: list[str], df: dict[str, int], n: int, budget: int = CANDIDATE_BUDGET) -> str:
    """The ``to_tsquery('simple', ...)`` text whose GIN matches become the keyword leg's candidates.

    Every lexeme OR-ed when their summed document frequency fits ``budget``. Otherwise the rarest
    lexemes that fit are OR-ed alone, and the others only in AND-ed pairs (a document holding two
    common query terms, before one holding one: what BM25 ranks first among them), pairs of smaller
    expected intersection (independence: df_a x df_b / n) first while the expectations fit, at most
    MAX_PAIRS. Terms are often correlated (the intersections measured at 1M documents were ~4x the
    independent estimate), so the run also caps the matches it reads (a LIMIT before ts_rank). With
    a single lexeme over the budget the query is that lexeme (the cap bounds it)."""
    if sum(df.get(t, 0) for t in lexemes) <= budget:
        return " | ".join(_quoted(t) for t in sorted(lexemes))
    order = sorted(lexemes, key=lambda t: (df.get(t, 0), t))
    singles: list[str] = []
    spent = 0.0
    for term in order:
        if spent + df.get(term, 0) > budget:
            break
        singles.append(term)
        spent += df.get(term, 0)
    rest = order[len(singles):]
    pairs = sorted(((df.get(a, 0) * df.get(b, 0) / max(n, 1), a, b)
                    for i, a in enumerate(rest) for b in rest[i + 1:]), key=lambda p: p[0])
    kept = []
    for estimate, a, b in pairs[:MAX_PAIRS]:
        if kept and spent + estimate > budget:
            break
        kept.append(f"({_quoted(a)} & {_quoted(b)})")
        spent += estimate
    if not singles and not kept:
        singles = order[:1]
    return " | ".join([_quoted(t) for t in singles] + kept)


#: BM25 (k1 1.2, b 0.75) of the pool: ``q`` the lexemes with their idf; ``cand`` the GIN matches of the
#: candidate query (and of each filter tag's lexemes: the GIN index checks them) that pass the other
#: filters, of at most CANDIDATE_CAP read in the heap's order (the LIMIT sits below the heap filters, so
#: it bounds the rows read, not the rows kept), best ts_rank over every query lexeme first; of each
#: candidate's tsvector only the query lexemes' entries are unnested (``ts_delete`` of everything else:
#: C code, where unnesting all ~120 entries into rows was half the statement's time at 100k documents),
#: each one's weighted term frequency counted from its weights (A title, B tags, C text) with
#: ``array_positions``; the length (tokens) from search_doc_tokens (migration 010).
_BM25_SQL = """
WITH q AS (SELECT * FROM unnest(?::text[], ?::float8[]) AS q(term, idf)),
m AS (SELECT to_tsquery('simple', ?) AS q),
cand AS MATERIALIZED (SELECT d.id, d.fts FROM m, (SELECT g.id, g.fts, g.collection, g.task_type, g.source, g.ts_epoch
                                                 FROM search_docs g WHERE g.fts @@ to_tsquery('simple', ?){gin} LIMIT ?) d
                      WHERE {where} ORDER BY ts_rank(d.fts, m.q) DESC, d.id LIMIT ?),
e AS (SELECT c.id, coalesce(k.tokens, distill_fts_tokens(c.fts)) AS dl, x.lexeme,
             ? * cardinality(array_positions(x.weights, 'A')) + ? * cardinality(array_positions(x.weights, 'B'))
             + ? * (cardinality(x.weights) - cardinality(array_positions(x.weights, 'A'))
                    - cardinality(array_positions(x.weights, 'B'))) AS tf
      FROM cand c LEFT JOIN search_doc_tokens k ON k.doc = c.id,
           unnest(ts_delete(c.fts, tsvector_to_array(ts_delete(c.fts, ?::text[])))) AS x)
SELECT e.id, sum(q.idf * e.tf * 2.2 / (e.tf + 1.2 * (0.25 + 0.75 * e.dl / ?))) AS score
FROM e JOIN q ON q.term = e.lexeme GROUP BY e.id ORDER BY score DESC, e.id LIMIT ?"""


class PgKeywordLeg(KeywordLeg):
    """tsvector full-text search with the SQLite leg's term planning (see the module docstring)."""

    def __init__(self, store: Store, **knobs: Any):
        super().__init__(store, **knobs)
        title, text, tags = (float(x) for x in knobs.get("weights", self._default_weights()))
        self._column_weights = (title, tags, text)  # BM25 tf weights of positions A, B, C
        self._stems: dict[str, list[str]] = {}

    @staticmethod
    def _default_weights() -> tuple[float, float, float]:
        from mcp_distill.search.query import TAGS_WEIGHT, TEXT_WEIGHT, TITLE_WEIGHT

        return TITLE_WEIGHT, TEXT_WEIGHT, TAGS_WEIGHT

    def start(self, terms: list[str], filters: Filters, depth: int) -> Callable[[], list[tuple[int, float]]]:
        """``run`` on a worker thread and another pool connection while the calling thread runs the vector
        leg: the server works on both at once (a hybrid search waits for the slower leg, not the sum).
        While a transaction is open (this thread's writes must be seen; the store counts all threads'), here."""
        if self.store.conn.in_transaction:
            return super().start(terms, filters, depth)
        return _keyword_pool().submit(self.run, terms, filters, depth).result

    def present_terms(self, ids: list[int], terms: Iterable[str]) -> dict[int, set[str]]:
        """Which of ``terms`` each document of ``ids`` holds in title, text or tags, read from the
        documents' own tsvectors (their lexemes are the stemmed index terms)."""
        wanted = sorted(set(terms))
        if not ids or not wanted:
            return {}
        rows = self.store.query("SELECT d.id, x.lexeme FROM search_docs d, unnest(tsvector_to_array(d.fts)) AS x(lexeme) "
                                "WHERE d.id = ANY(?) AND x.lexeme = ANY(?::text[])", (list(ids), wanted))
        found: dict[int, set[str]] = {}
        for row in rows:
            found.setdefault(int(row["id"]), set()).add(row["lexeme"])
        return found

    def tokenize(self, texts: list[str]) -> dict[int, list[str]]:
        """PostgreSQL's English parser + stemmer applied to each text (index -> lexemes in order),
        the very lexemes of ``search_docs.fts`` (English stop words have none). Short texts (query
        tokens) are remembered, so the plan and the run of one query ask the server once."""
        out: dict[int, list[str]] = {}
        ask = [i for i, t in enumerate(texts) if len(t) > STEM_CACHE_CHARS or t not in self._stems]
        if ask:
            rows = self.store.query(
                "SELECT t.i - 1 AS doc, x.lexeme AS term FROM unnest(?::text[]) WITH ORDINALITY AS t(q, i) "
                "CROSS JOIN LATERAL unnest(to_tsvector('english', t.q)) AS x(lexeme, positions, weights) "
                "CROSS JOIN LATERAL unnest(x.positions) AS p(pos) ORDER BY t.i, p.pos", ([texts[i] for i in ask],))
            for row in rows:
                out.setdefault(ask[int(row["doc"])], []).append(row["term"])
            if len(self._stems) > STEM_CACHE:
                self._stems.clear()
            self._stems.update((texts[i], out.get(i, [])) for i in ask if len(texts[i]) <= STEM_CACHE_CHARS)
        for i, text in enumerate(texts):
            if i not in out and self._stems.get(text):
                out[i] = list(self._stems[text])
        return out

    def _document_frequencies(self, terms: Collection[str] = ()) -> tuple[dict[str, int], int, int]:
        """Exact document frequencies of ``terms`` (floor 1: a term absent from the answer is in no
        document)."""
        df, n, _ = statistics(self.store, terms)
        return df, n, DF_FLOOR_MIN

    def run(self, terms: list[str], filters: Filters, depth: int) -> list[tuple[int, float]]:
        """(doc id, BM25 score — higher is better) of the best ``depth`` matches.

        The GIN index finds the candidates (``candidate_query``: the documents holding any term while
        that fits CANDIDATE_BUDGET, else those holding a rare term or two common ones; every match
        again when too few of them pass the filters: RESTRICTED_ENOUGH), ts_rank keeps the best pool, and
        BM25 (k1 1.2, b 0.75, as FTS5) is computed over their tsvectors: each position's column weight
        (A title, B tags, C text) counts towards the term frequency, as FTS5's bm25() column weights
        do; idf, document count and mean length from the maintained statistics. One statement (two
        when the restricted candidates fall short)."""
        if not terms or depth <= 0:
            return []
        lexemes = sorted({lex for stems in self.tokenize(terms).values() for lex in stems})
        if not lexemes:
            return []
        df, n, avgdl = statistics(self.store, lexemes)
        idfs = [max(1e-6, math.log((n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))) for t in lexemes]
        where, params = _filter_sql(filters)
        gin, gin_params = "", []
        for tag in filters.tags:
            # The tag's lexemes are in the tsvector of every document carrying it (the tags column is part
            # of fts): a necessary condition the GIN index checks while matching, so a common tag no longer
            # costs a search_tags probe per match before the EXISTS confirms it. ASCII only, where the
            # parser's lower-casing and normalise_tag's casefold agree.
            if tag.isascii() and (stems := self.tokenize([tag]).get(0)):
                gin += " AND g.fts @@ ?::tsquery"
                gin_params.append(" & ".join(_quoted(t) for t in dict.fromkeys(stems)))
        every = " | ".join(_quoted(t) for t in lexemes)  # sorted: candidate_query gives the same text when all fit
        scores: dict[int, float] = {}
        for candidates in dict.fromkeys((candidate_query(lexemes, df, n, CANDIDATE_BUDGET), every)):
            rows = self.store.query(_BM25_SQL.format(where=where, gin=gin), (
                lexemes, idfs, every, candidates, *gin_params, CANDIDATE_CAP, *params,
                max(depth * BM25_POOL, BM25_POOL_MIN), *self._column_weights, lexemes, avgdl, depth))
            scores.update((int(r["id"]), float(r["score"])) for r in rows)  # one formula: comparable scores
            if len(scores) >= max(1, depth // RESTRICTED_ENOUGH):  # else a filter left too few: every match too
                break
        return sorted(scores.items(), key=lambda s: (-s[1], s[0]))[:depth]

    def matched_fields(self, terms: list[str], ids: list[int]) -> dict[int, list[str]]:
        """Which of title/text/tags hold a query term, per document id (one statement for all): the
        stored tsvector's entries of each column's weight (A title, B tags, C text), no parsing again."""
        if not terms or not ids:
            return {}
        rows = self.store.query(
            "SELECT d.id, ts_filter(d.fts, '{a}') @@ q.q AS title, ts_filter(d.fts, '{c}') @@ q.q AS text, "
            "ts_filter(d.fts, '{b}') @@ q.q AS tags FROM search_docs d, "
            "websearch_to_tsquery('english', ?) AS q(q) WHERE d.id = ANY(?)", (_websearch(terms), list(ids)))
        return {int(r["id"]): [f for f in ("title", "text", "tags") if r[f]] for r in rows}
