"""The keyword leg of :mod:`mcp_distill.search.index` (FTS5, BM25) and what both legs share: the
filters, the facet tokens and the per-store document counts. The vector leg is :mod:`mcp_distill.search.vector`.

Both legs return ranked ``(search_docs.id, score)`` lists for one collection and one set of filters;
fusion and the public API are in :mod:`mcp_distill.search.index`. Their SQL is in
:mod:`mcp_distill.search.repository.legs`.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_distill.search.codes import where_of
from mcp_distill.search.postfilter import post_filtered
from mcp_distill.search.query import (
    MAX_DF_RATIO,
    MAX_QUERY_TERMS,
    MIN_KEEP_CAP,
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
from mcp_distill.search.repository import legs as legs_db
from mcp_distill.store import Store

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


def store_state(store: Store) -> _StoreState:
    state = _STATES.get(store)
    if state is None:
        state = _STATES[store] = _StoreState()
    return state


def total_docs(store: Store) -> int:
    """Documents in the store (all collections), cached for _COUNT_TTL_S seconds."""
    state = store_state(store)
    now = time.monotonic()
    if now - state.total_at > _COUNT_TTL_S:
        state.total = legs_db.total_docs(store)
        state.total_at = now
    return state.total


def forget_counts(store: Store) -> None:
    """Writers call this so the next search sees the new document count at once."""
    store_state(store).total_at = 0.0


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
    #: A query token stemming to each single-term key of ``weights``, for matching it in FTS5 (which stems
    #: what it is given, and a stem is not always its own stem: 'caus' -> 'cau').
    tokens: dict[str, str] = field(default_factory=dict)

_FIELDS = ("title", "text", "tags")
#: A span highlight() marked (opened by \x01, closed by \x02).
_SPAN = re.compile("\x01([^\x02]*)\x02")


class KeywordLeg:
    """BM25 over FTS5 with a bounded, sanitised OR query.

    The knobs default to the module constants; they are parameters so the benchmark can tune
    them (on SciFact train) through this very code.
    """

    def __init__(self, store: Store, *, weights: tuple[float, float, float] = (TITLE_WEIGHT, TEXT_WEIGHT, TAGS_WEIGHT),
                 max_df_ratio: float = MAX_DF_RATIO, postings_budget: int = POSTINGS_BUDGET,
                 min_keep: int = MIN_KEEP_TERMS, max_terms: int = MAX_QUERY_TERMS, forced_cap: int = MIN_KEEP_CAP):
        self.store = store
        self.max_df_ratio = max_df_ratio
        self.postings_budget = postings_budget
        self.min_keep = min_keep
        self.forced_cap = forced_cap
        self.max_terms = max_terms
        #: common facets filtered by the in-memory masks (mcp_distill.search.postfilter), not in the MATCH
        self.post_filter = store.dialect == "sqlite"
        self._weights = tuple(float(x) for x in weights)

    def start(self, terms: list[str], filters: Filters, depth: int) -> Callable[[], list[tuple[int, float]]]:
        """``run`` begun; the call returned gives its result. Here it runs at once (SQLite's connection
        belongs to the calling thread); PostgreSQL's leg runs beside the vector leg (another connection)."""
        hits = self.run(terms, filters, depth)
        return lambda: hits

    def tokenize(self, texts: list[str]) -> dict[int, list[str]]:
        """FTS5's own tokenizer + porter stemmer applied to each text (index -> terms in order).

        A temporary FTS5 table with the same tokenizer does it, so the terms are exactly those
        of the index vocabulary; costs about 0.15 ms a query.
        """
        state = store_state(self.store)
        rows = legs_db.tokenize(self.store, texts, state.temp_ready)
        state.temp_ready = True
        terms: dict[int, list[str]] = {}
        for doc, term in rows:
            terms.setdefault(int(doc), []).append(term)
        return terms

    def present_terms(self, ids: list[int], terms: Iterable[str] | Mapping[str, str | None]) -> dict[int, set[str]]:
        """Which of ``terms`` (stemmed index terms; or a mapping of each to a query token it comes from,
        as :attr:`TermPlan.tokens`) each document of ``ids`` holds in its title, text or tags.

        FTS5 is asked once per (document, term) with the document's rowid, a seek into the term's
        postings (~10-20 µs): 100k documents cost as much as 1k. A term is matched through a token that
        stems to it (the given one, or the term itself when it is its own stem); a term with neither is
        read from the postings themselves (an fts5vocab 'instance' view, which walks them: that was 44 ms
        of a hybrid search at 100k documents). A key of several terms (a token FTS5 splits) is no index
        term and never present, as before."""
        wanted = sorted({t for t in terms if " " not in t})
        if not ids or not wanted:
            return {}
        given = {t: v for t, v in terms.items() if isinstance(v, str)} if isinstance(terms, Mapping) else {}
        via = [given.get(t, t) for t in wanted]
        stems = self.tokenize(via)
        matchable = {t: via[i] for i, t in enumerate(wanted) if stems.get(i) == [t]}
        rows = legs_db.docs_holding(self.store, [(d, t, fts_string(tok)) for d in ids for t, tok in matchable.items()])
        if rest := [t for t in wanted if t not in matchable]:
            state = store_state(self.store)
            rows += legs_db.present_terms(self.store, ids, rest, state.temp_ready)
            state.temp_ready = True
        found: dict[int, set[str]] = {}
        for doc, term in rows:
            found.setdefault(int(doc), set()).add(term)
        return found

    def hit_terms(self, ids: list[int], tokens: Mapping[str, str | None], kept: list[str],
                  explain: Collection[int]) -> tuple[dict[int, set[str]], dict[int, list[str]]]:
        """``(present_terms(ids, tokens), matched_fields(kept, explain))`` in one pass: ``tokens`` maps each
        informative term to a query token stemming to it (:attr:`TermPlan.tokens`; None: none known),
        ``kept`` the tokens the leg ORed, ``explain`` the documents of ``ids`` whose fields are wanted.

        On SQLite, one highlight() point query per document for the OR of every token, its matched spans
        then tokenized once for all documents: a span's stems are the terms the document holds there.
        That replaces one FTS5 point query per (document, term) plus a highlight() per explained
        document (~2.6 ms of a hybrid search at 100k documents; ~1.5 ms this way). A kept token that is
        no informative single term (a phrase, or a query of only common words), or a term with no token,
        has no span of its own: then the two are asked apart, as before. A key of several terms is never
        present (as in present_terms)."""
        single = {t: v for t, v in tokens.items() if " " not in t}
        known = {t: v for t, v in single.items() if isinstance(v, str)}
        kept_tokens = set(kept)
        kept_stems = {stem for stem, token in known.items() if token in kept_tokens}
        if self.store.dialect != "sqlite" or len(kept_stems) < len(kept_tokens) or len(known) < len(single):
            return self.present_terms(ids, tokens), self.matched_fields(kept, [d for d in ids if d in explain])
        if not ids or not known:
            return {}, {}
        rows = legs_db.highlighted(self.store, build_match(sorted(set(known.values())), []), ids, close="\x02")
        spans = [(doc, col, span) for doc, row in rows.items() for col, value in enumerate(row) if value
                 for span in _SPAN.findall(value)]
        # each distinct span once: a term's few surface forms recur across the hits (87 spans, ~1.5 ms, to ~25)
        forms = list(dict.fromkeys(span for _, _, span in spans))
        stems = self.tokenize(forms)
        form_terms = {form: {t for t in stems.get(i, ()) if t in known} for i, form in enumerate(forms)}
        present: dict[int, set[str]] = {}
        fields: dict[int, set[int]] = {}
        for doc, col, span in spans:
            found = form_terms[span]
            if found:
                present.setdefault(doc, set()).update(found)
            if doc in explain and found & kept_stems:
                fields.setdefault(doc, set()).add(col)
        return present, {doc: [_FIELDS[c] for c in sorted(cols)] for doc, cols in fields.items()}

    def _document_frequencies(self, terms: Collection[str] = ()) -> tuple[dict[str, int], int, int]:
        """(df of the common terms, document count, floor under which terms were left out).
        ``terms``: the stems wanted (a backend that looks terms up reads only these)."""
        state = store_state(self.store)
        n = total_docs(self.store)
        drift = abs(n - state.df_total)
        if state.df_total < 0 or (drift and (n < SNAPSHOT_SMALL or drift > SNAPSHOT_DRIFT * state.df_total)):
            floor = max(DF_FLOOR_MIN, n // DF_FLOOR_DIV)
            state.df = legs_db.common_terms(self.store, floor)
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
        summed document frequency fits ``postings_budget`` (at least ``min_keep`` while the sum stays
        within ``forced_cap``, the rarest one whatever it costs; at most ``max_terms``). If nothing
        is left, the ``min_keep`` rarest present terms are searched anyway. Terms too rare for the df
        snapshot of a large index are estimated at half its floor.
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
        df, n, floor = self._document_frequencies({t for terms in by_terms for t in terms})
        absent = 0 if floor <= 1 else floor // 2  # a full snapshot knows every term of the index
        # A phrase matches no more documents than its rarest term.
        scored = sorted(((min(df.get(t, absent) for t in terms), token, " ".join(terms))
                         for terms, token in by_terms.items()), key=lambda s: s[0])
        limit = self.max_df_ratio * max(n, 1)
        weights = {stem: idf(freq, n) for freq, _, stem in scored if freq <= limit}
        tokens = {stem: token for _, token, stem in scored if stem in weights and " " not in stem}
        kept: list[str] = []
        spent = 0
        for freq, token, _ in scored:
            if freq == 0 or freq > limit:
                continue
            # past the budget a term is only forced in (up to min_keep) while within forced_cap; the rarest always
            if spent + freq > self.postings_budget and (
                    len(kept) >= self.min_keep or (kept and spent + freq > self.forced_cap)):
                break
            kept.append(token)
            spent += freq
            if len(kept) >= self.max_terms:
                break
        if not kept:  # only very common words: search the rarest of them anyway
            kept = [token for freq, token, _ in scored if freq > 0][: self.min_keep]
        return TermPlan(kept, weights, n, tokens)

    def _single_collection(self, collection: str) -> bool:
        """True when every document belongs to ``collection``: its facet would filter nothing
        and cost a walk of a posting list as long as the index."""
        lo, hi = legs_db.collection_bounds(self.store)
        return lo == collection and hi == collection

    def run(self, terms: list[str], filters: Filters, depth: int) -> list[tuple[int, float]]:
        """(doc id, BM25 score — higher is better) of the best ``depth`` matches."""
        if not terms or depth <= 0:
            return []
        facets = filters.facets(with_collection=not self._single_collection(filters.collection))
        time_clause, time_params = filters.time_sql("d")

        def matches(kept: list[str], limit: int, timed: bool = True) -> list[tuple[int, float]]:
            match = build_match(terms, kept)
            return legs_db.bm25_matches(self.store, self._weights, match, time_clause if timed else "",
                                        time_params if timed else [], limit)

        rows = None
        if self.post_filter and (filters.tags or filters.task_type is not None or filters.source is not None):
            where = where_of(filters.collection, filters.task_type, filters.source, filters.since, filters.until)
            # the time too is filtered in memory there: joining search_docs for every match cost more than the facet
            rows = post_filtered(self.store, facets, where, filters.tags, depth,
                                 lambda kept, limit: matches(kept, limit, timed=False))
        if rows is None:
            rows = matches(facets, depth)
        return [(doc, -score) for doc, score in rows]

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
        return {doc_id: [name for name, value in zip(_FIELDS, row, strict=True) if value and mark in value]
                for doc_id, row in legs_db.highlighted(self.store, match, ids).items()}
