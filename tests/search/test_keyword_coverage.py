"""The match strength's keyword coverage (KeywordLeg.present_terms) asks FTS5 per (document, term) instead
of walking each term's postings through fts5vocab: on a real index of SciFact abstracts it finds exactly
the terms the postings hold, for stems that are not their own stem too ('caus', 'diseas'). Real SQLite
file, real FTS5."""

from __future__ import annotations

import json

import pytest
from conftest import shared_path

from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import Filters
from mcp_distill.search.repository import legs as legs_db
from mcp_distill.store import Store

DOCS = 600
QUERIES = 120


def read_jsonl(path, limit: int) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


@pytest.fixture(scope="module")
def scifact():
    folder = shared_path("data", "ir", "scifact")
    corpus = read_jsonl(folder / "corpus.jsonl", DOCS)
    claims = [q["text"] for q in read_jsonl(folder / "queries.jsonl", QUERIES)]
    return corpus, claims


def postings_way(store: Store, ids: list[int], terms: list[str]) -> dict[int, set[str]]:
    """The way before: every (doc, term) of the index's postings (fts5vocab 'instance'), title/text/tags."""
    found: dict[int, set[str]] = {}
    for doc, term in legs_db.present_terms(store, ids, terms, False):
        found.setdefault(doc, set()).add(term)
    return found


def test_coverage_terms_are_those_of_the_postings(store: Store, scifact) -> None:
    corpus, claims = scifact
    index = Index(store, None, "papers")
    index.upsert([Doc(id=str(r["_id"]), title=r["title"], text=r["text"], tags=["cause" if i % 3 else "diseases"],
                      task_type="study") for i, r in enumerate(corpus)])
    claims += ["causes of disease", "the diseases increase, decrease and cause"]
    checked = unusual = 0
    for claim in claims:
        plan = index.keyword.plan_terms(claim)
        hits = [d for d, _ in index.keyword.run(plan.terms, Filters("papers"), 10)]
        ids = [*hits, 1, 2, 3, len(corpus)]  # some documents that may hold none of the terms
        expected = postings_way(store, ids, sorted(plan.weights))
        got = index.keyword.present_terms(ids, {t: plan.tokens.get(t) for t in plan.weights})
        assert got == {d: t for d, t in expected.items() if t}, claim
        assert index.keyword.present_terms(ids, plan.weights) == got  # stems alone (no tokens) too
        stems = index.keyword.tokenize(list(plan.tokens))
        unusual += sum(stems.get(i) != [t] for i, t in enumerate(plan.tokens))
        checked += sum(len(t) for t in got.values())
    assert checked > 500 and unusual > 5  # many terms found, some of them not their own stem
    hit = index.search("causes of disease", k=1, mode="keyword").hits[0]
    assert hit.keyword_coverage > 0


def test_hit_terms_in_one_pass_equal_coverage_and_matched_fields_asked_apart(store: Store, scifact) -> None:
    """KeywordLeg.hit_terms (one highlight() per document, its spans tokenized) finds the same terms as
    present_terms and the same fields as matched_fields, on real SciFact text; a query whose ORed tokens are
    no informative terms (only common words) takes the two calls and still agrees."""
    corpus, claims = scifact
    index = Index(store, None, "papers")
    index.upsert([Doc(id=str(r["_id"]), title=r["title"], text=r["text"], tags=["cause" if i % 3 else "diseases"],
                      task_type="study") for i, r in enumerate(corpus)])
    claims += ["causes of disease", "the diseases increase, decrease and cause", "the of and in"]
    fields_seen = 0
    for claim in claims:
        plan = index.keyword.plan_terms(claim)
        hits = [d for d, _ in index.keyword.run(plan.terms, Filters("papers"), 10)]
        ids = [*hits, 1, 2, 3, len(corpus)]
        tokens = {t: plan.tokens.get(t) for t in plan.weights}
        explain = set(hits[:6])
        present, fields = index.keyword.hit_terms(ids, tokens, plan.terms, explain)
        assert present == index.keyword.present_terms(ids, tokens), claim
        assert fields == index.keyword.matched_fields(plan.terms, [d for d in ids if d in explain]), claim
        fields_seen += sum(len(f) for f in fields.values())
    assert fields_seen > 100
    hit = index.search("causes of disease", k=3, mode="hybrid").hits[0]
    assert hit.matched_fields and hit.keyword_coverage > 0
