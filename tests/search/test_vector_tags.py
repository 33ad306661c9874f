"""The tag-filtered vector leg on every route it can take (exact float scan of a small set, the set ranked by
the in-memory int8 vectors, the KNN scanning the tagged rows) against brute-force cosine over the passing documents.
Real SQLite file, real sqlite-vec, the real ONNX embedder."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mcp_distill.search import vector as search_vector
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import Filters
from mcp_distill.search.query import parse_time
from mcp_distill.search.repository import legs as legs_db
from mcp_distill.search.vector import VectorLeg
from mcp_distill.store import Store

SUBJECTS = ["database migration", "kubernetes rollout", "flaky unit test", "memory leak", "TLS certificate",
            "dependency upgrade", "slow SQL query", "CI cache", "login page", "disk full", "DNS lookup",
            "cron job"]
VERBS = ["fails after", "hangs during", "is slow on", "breaks", "needs a fix for", "times out in"]
PLACES = ["the nightly build", "production", "the staging cluster", "a laptop", "the release branch"]
TYPES = ["bugfix", "deploy", "perf"]
#: (exact_max, subset_max) of each route: every tag set scored exactly from the float vectors; every
#: set ranked by the int8 vectors, depth + RESCORE_EXTRA rescored; every set through the KNN over its rows.
ROUTES = {"exact": (10**6, 10**6), "int8 subset": (0, 10**6), "knn": (0, 0)}
FILTERS = [{"tags": ("t0",)}, {"tags": ("t1", "t2")}, {"tags": ("t3",), "task_type": "deploy"},
           {"tags": ("t0",), "source": "manual"}, {"tags": ("t2",), "since": "2026-06-01"}]


def corpus() -> list[Doc]:
    docs = []
    for i, (s, v, p) in enumerate(itertools.product(SUBJECTS, VERBS, PLACES)):
        tags = [f"t{j}" for j in range(4) if (i >> j) & 1] or ["none"]
        docs.append(Doc(id=f"d{i:03d}", title=f"{s} {v} {p}", text=f"The {s} {v} {p}; seen {i % 7} times.",
                        task_type=TYPES[i % 3], source="manual" if i % 5 == 0 else "runs", tags=tags,
                        ts=f"2026-{1 + i % 12:02d}-15"))
    return docs


def passes(doc: Doc, f: dict) -> bool:
    since = f.get("since")
    return (set(f["tags"]) <= set(doc.tags) and f.get("task_type", doc.task_type) == doc.task_type
            and f.get("source", doc.source) == doc.source and (since is None or (doc.ts or "") >= since))


@pytest.fixture(scope="module")
def vectors(embedder: OnnxMiniLM) -> np.ndarray:
    return embedder.embed([d.embed_text() for d in corpus()])


def brute_force(docs: list[Doc], vectors: np.ndarray, qvec: np.ndarray, f: dict, depth: int) -> list[tuple[str, float]]:
    """The ``depth`` passing documents nearest by cosine, computed here without the index."""
    sims = vectors @ qvec
    order = sorted((i for i, d in enumerate(docs) if passes(d, f)), key=lambda i: (-sims[i], i))
    return [(docs[i].id, round(float(sims[i]), 5)) for i in order[:depth]]


def leg_filters(f: dict) -> Filters:
    since = parse_time(f.get("since"), "since")
    return Filters("playbooks", task_type=f.get("task_type"), source=f.get("source"), tags=f["tags"],
                   since=since[1] if since else None)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("query", ["the rollout broke production", "tests fail at random", "out of disk space"])
def test_tag_filtered_leg_is_brute_force_cosine_on_every_route(store: Store, embedder: OnnxMiniLM,
                                                               vectors: np.ndarray, route: str, query: str) -> None:
    docs = corpus()
    index = Index(store, embedder, "playbooks")
    index.upsert(docs)
    exact_max, subset_max = ROUTES[route]
    leg = VectorLeg(store, embedder.model_id, exact_max=exact_max, subset_max=subset_max)
    names = {int(r["id"]): r["doc_id"] for r in store.query("SELECT id, doc_id FROM search_docs")}
    qvec = embedder.embed([query])[0]
    for f in FILTERS:
        for depth in (5, 20):
            expected = brute_force(docs, vectors, qvec, f, depth)
            assert len(expected) == depth  # the filters keep enough documents to tell the routes apart
            got = [(names[d], round(s, 5)) for d, s in leg.search(qvec, leg_filters(f), depth)]
            assert got == expected, (route, f, depth)


def test_int8_route_reads_float_vectors_of_only_its_best_candidates(store: Store, embedder: OnnxMiniLM,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the int8 route: a tag set's float vectors are not read from SQLite, only the best
    depth + RESCORE_EXTRA of its int8 ranking; the exact route reads every passing one."""
    docs = corpus()
    Index(store, embedder, "playbooks").upsert(docs)
    read: list[int] = []
    real = legs_db.exact_vectors
    monkeypatch.setattr(legs_db, "exact_vectors", lambda s, ids: read.append(len(ids)) or real(s, ids))
    qvec = embedder.embed(["memory leak in production"])[0]
    tagged = sum(1 for d in docs if "t0" in d.tags)
    for (exact_max, subset_max), reads in (((0, 10**6), 5 + search_vector.RESCORE_EXTRA), ((10**6, 10**6), tagged)):
        read.clear()
        hits = VectorLeg(store, embedder.model_id, exact_max=exact_max, subset_max=subset_max).search(
            qvec, leg_filters({"tags": ("t0",)}), 5)
        assert len(hits) == 5 and read == [reads], (exact_max, read)


def test_tag_route_sees_documents_written_and_removed_after_the_codes_loaded(store: Store,
                                                                            embedder: OnnxMiniLM) -> None:
    """The int8 route reads the in-memory codes: a document added since (its row appended) is found, and a
    removed one (its row dead) is not, though the FTS5 postings are read fresh."""
    index = Index(store, embedder, "playbooks")
    index.upsert(corpus()[:60])
    leg = VectorLeg(store, embedder.model_id, exact_max=0)
    qvec = embedder.embed(["the office coffee machine is broken"])[0]
    names = {int(r["id"]): r["doc_id"] for r in store.query("SELECT id, doc_id FROM search_docs")}
    assert names[leg.search(qvec, leg_filters({"tags": ("t1",)}), 3)[0][0]] != "coffee"
    index.upsert([Doc(id="coffee", title="The office coffee machine is broken", text="Descale it.", tags=["t1"])])
    names = {int(r["id"]): r["doc_id"] for r in store.query("SELECT id, doc_id FROM search_docs")}
    assert names[leg.search(qvec, leg_filters({"tags": ("t1",)}), 3)[0][0]] == "coffee"
    index.delete(["coffee"])
    assert "coffee" not in {names.get(d) for d, _ in leg.search(qvec, leg_filters({"tags": ("t1",)}), 3)}
