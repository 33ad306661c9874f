"""The keyword leg with its common facets filtered by the in-memory masks (mcp_distill.search.postfilter)
returns exactly what the MATCH carrying every facet returns: same documents, same order, same scores, on
the first read, when too few pass and it falls back, and after writes. Real SQLite file, real FTS5 and
sqlite-vec, the real ONNX embedder."""

from __future__ import annotations

import pytest
from test_vector_tags import corpus, leg_filters

from mcp_distill.search import postfilter
from mcp_distill.search.codes import code_matrix, loaded_code_matrix
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import KeywordLeg
from mcp_distill.store import Store

QUERIES = ["the rollout broke production", "tests fail at random", "slow query on the staging cluster",
           "certificate expired in the nightly build"]
FILTERS = [{"tags": ("t0",)}, {"tags": ("t1", "t2")}, {"tags": ("t3",), "task_type": "deploy"},
           {"tags": ("t0",), "source": "manual"}, {"tags": ("t2",), "since": "2026-06-01"},
           {"tags": (), "task_type": "perf"}, {"tags": (), "source": "runs", "task_type": "bugfix"},
           {"tags": ("nosuchtag",)}]


def both(store: Store, query: str, f: dict, depth: int) -> tuple[list, list]:
    """(post-filtered, full MATCH) answers of the keyword leg."""
    leg = KeywordLeg(store)
    terms = leg.plan(query)
    assert terms
    filters = leg_filters(f)
    ours = leg.run(terms, filters, depth)
    leg.post_filter = False
    return ours, leg.run(terms, filters, depth)


@pytest.mark.parametrize("overfetch", [postfilter.POSTFILTER_OVERFETCH, 0.0])
def test_post_filtered_keyword_leg_is_the_facet_match(store: Store, embedder: OnnxMiniLM,
                                                      monkeypatch: pytest.MonkeyPatch, overfetch: float) -> None:
    """Every facet left out of the MATCH (FACET_MATCH_MAX 0); overfetch 0 reads only POSTFILTER_MIN = 8
    matches, so many searches fall short and take the fallback (all of those at depth 50)."""
    index = Index(store, embedder, "playbooks")
    index.upsert(corpus())
    code_matrix(store)  # the post-filter uses the codes only once a vector search has loaded them
    monkeypatch.setattr(postfilter, "FACET_MATCH_MAX", 0)
    monkeypatch.setattr(postfilter, "POSTFILTER_OVERFETCH", overfetch)
    if not overfetch:
        monkeypatch.setattr(postfilter, "POSTFILTER_MIN", 8)
    calls: list[list[str]] = []
    real = postfilter.post_filtered
    monkeypatch.setattr("mcp_distill.search.legs.post_filtered",
                        lambda *a, **kw: (r := real(*a, **kw), calls.append(r))[0])
    for query in QUERIES:
        for f in FILTERS:
            for depth in (5, 50):
                ours, full = both(store, query, f, depth)
                assert ours == full, (query, f, depth)
    answered = [c for c in calls if c is not None]
    assert answered  # the in-memory filter answered...
    if not overfetch:
        assert len(answered) < len(calls)  # ...and the fallback to the full MATCH was taken too


def test_post_filter_follows_writes_and_documents_without_vectors(store: Store, embedder: OnnxMiniLM,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index(store, embedder, "playbooks")
    index.upsert(corpus())
    code_matrix(store)
    monkeypatch.setattr(postfilter, "FACET_MATCH_MAX", 0)
    query, f = "the rollout broke production", {"tags": ("t1",)}
    before, _ = both(store, query, f, 10)
    changed = [Doc(id="extra", title="The rollout broke production again", text="Rollback.", tags=["t1"]),
               Doc(id="d001", title="kubernetes rollout breaks production", text="Rolled back.", tags=["t3"])]
    index.upsert(changed)  # a new tagged document, and one that loses t1 (if it had it)
    ours, full = both(store, query, f, 10)
    assert ours == full and ours != before
    ids = {int(r["id"]): r["doc_id"] for r in store.query("SELECT id, doc_id FROM search_docs")}
    assert "extra" in {ids[d] for d, _ in ours} and "d001" not in {ids[d] for d, _ in ours}
    store.execute("DELETE FROM search_vec WHERE doc = (SELECT id FROM search_docs WHERE doc_id = 'extra')")
    ours, full = both(store, query, f, 10)  # 'extra' has no code now (the token is unchanged: it is still held)
    assert ours == full


def test_keyword_only_search_does_not_load_the_codes(store: Store, embedder: OnnxMiniLM,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyword-mode search with a common facet answers by the full MATCH until a vector search has loaded the
    codes: loading a large store's codes (seconds, hundreds of MB at 1M) for one keyword search costs more
    than the facet's postings."""
    index = Index(store, embedder, "playbooks")
    index.upsert(corpus())
    monkeypatch.setattr(postfilter, "FACET_MATCH_MAX", 0)
    fresh = Index(store, None, "playbooks")  # as a keyword-only process sees the store
    assert loaded_code_matrix(store) is None  # writes do not load the codes
    got = fresh.search("the rollout broke production", k=5, mode="keyword", tags=["t1"])
    assert got.hits and loaded_code_matrix(store) is None
    ours, full = both(store, "the rollout broke production", {"tags": ("t1",)}, 5)
    assert ours == full
