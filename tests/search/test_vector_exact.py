"""Exact vector search (``exact=True`` on every face), the query-vector LRU and the query embedded on a
worker thread. Real SQLite file, real sqlite-vec, the real ONNX embedder, a real MCP client."""

from __future__ import annotations

import itertools
import json
import threading

import numpy as np
import pytest
from conftest import EXAMPLES, PROJECT
from mcp import Client

from mcp_distill.cli import main
from mcp_distill.config import Settings
from mcp_distill.errors import EmbedderError
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.embed.query_cache import QUERY_VECTORS, QueryVectorCache
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import Filters
from mcp_distill.search.vector import VectorLeg
from mcp_distill.server import build_server
from mcp_distill.store import Store

SUBJECTS = ["database migration", "kubernetes rollout", "flaky unit test", "memory leak", "TLS certificate",
            "dependency upgrade", "slow SQL query", "CI cache", "login page", "disk full"]
VERBS = ["fails after", "hangs during", "is slow on", "breaks", "needs a fix for", "times out in"]
PLACES = ["the nightly build", "production", "the staging cluster", "a laptop", "the release branch"]
TYPES = ["bugfix", "deploy", "perf"]


def corpus() -> list[Doc]:
    docs = []
    for i, (s, v, p) in enumerate(itertools.product(SUBJECTS, VERBS, PLACES)):
        docs.append(Doc(id=f"d{i:03d}", title=f"{s} {v} {p}", text=f"The {s} {v} {p}; seen {i % 7} times.",
                        task_type=TYPES[i % 3], tags=[f"t{i % 4}"]))
    return docs


class Counting:
    """The real embedder, counting calls and remembering the threads it ran on."""

    def __init__(self, inner: OnnxMiniLM, model_id: str | None = None):
        self.inner = inner
        self.model_id = model_id or inner.model_id
        self.dim = inner.dim
        self.calls = 0
        self.threads: set[str] = set()

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return self.inner.embed(texts)


@pytest.fixture
def index(store: Store, embedder: OnnxMiniLM) -> Index:
    idx = Index(store, embedder, "playbooks")
    idx.upsert(corpus())
    return idx


def brute_force(embedder: OnnxMiniLM, docs: list[Doc], query: str, depth: int) -> list[str]:
    """Cosine over every document's own embedding, computed here without the index."""
    matrix = embedder.embed([d.embed_text() for d in docs])
    sims = matrix @ embedder.embed([query])[0]
    order = sorted(range(len(docs)), key=lambda i: (-sims[i], i))
    return [docs[i].id for i in order[:depth]]


@pytest.mark.parametrize("query", ["the rollout broke production", "tests fail at random", "out of disk space"])
def test_exact_search_is_brute_force_cosine_however_few_candidates_the_default_takes(
        index: Index, embedder: OnnxMiniLM, query: str) -> None:
    docs = corpus()
    # A default leg allowed only `depth` binary-code candidates, to show exact= does not use them.
    index.vectors = VectorLeg(index.store, embedder.model_id, pool=0.0, rescore=1.0)
    expected = brute_force(embedder, docs, query, 10)
    found = index.search(query, k=10, mode="semantic", exact=True)
    assert [h.id for h in found.hits] == expected
    assert [h.vector_rank for h in found.hits] == list(range(1, 11))
    bugfix = [d for d in docs if d.task_type == "bugfix"]
    filtered = index.search(query, k=5, mode="semantic", exact=True, task_type="bugfix")
    assert [h.id for h in filtered.hits] == brute_force(embedder, bugfix, query, 5)


def test_exact_search_reads_in_batches_and_keeps_the_best(index: Index, embedder: OnnxMiniLM,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import mcp_distill.search.vector as vector

    qvec = embedder.embed(["a certificate expired in production"])[0]
    whole = index.vectors.exact_search(qvec, Filters("playbooks"), 20)
    monkeypatch.setattr(vector, "EXACT_BATCH", 7)  # 300 documents in 43 batches
    batched = index.vectors.exact_search(qvec, Filters("playbooks"), 20)
    assert [d for d, _ in batched] == [d for d, _ in whole]  # BLAS may round the last bit differently
    np.testing.assert_allclose([s for _, s in batched], [s for _, s in whole], atol=1e-6)
    assert len(whole) == 20 and [s for _, s in whole] == sorted((s for _, s in whole), reverse=True)


def test_query_vectors_are_cached_by_model_and_text(store: Store, embedder: OnnxMiniLM) -> None:
    QUERY_VECTORS.clear()
    counting = Counting(embedder)
    idx = Index(store, counting, "playbooks")
    idx.upsert(corpus()[:30])
    calls = counting.calls
    first = idx.search("memory leak in production", k=3, mode="hybrid")
    assert counting.calls == calls + 1
    assert counting.threads - {threading.current_thread().name}, "the query is embedded on a worker thread"
    again = Index(store, counting, "playbooks").search("memory leak in production", k=3, mode="semantic")
    assert counting.calls == calls + 1  # a new Index (as per MCP request) still hits the process's cache
    assert again.hits and first.hits
    idx.search("memory leak in production ", k=3)  # another text: embedded again
    assert counting.calls == calls + 2
    other = QUERY_VECTORS.get("onnx:some-other-model", "memory leak in production")
    assert other is None
    cached = QUERY_VECTORS.get(embedder.model_id, "memory leak in production")
    assert cached is not None and not cached.flags.writeable
    np.testing.assert_allclose(cached, embedder.embed(["memory leak in production"])[0], atol=1e-6)


def test_the_cache_evicts_the_least_recently_used() -> None:
    cache = QueryVectorCache(size=2)
    for text in ("a", "b"):
        cache.put("m", text, np.full(3, ord(text), np.float32))
    assert cache.get("m", "a") is not None  # a is now the most recent
    cache.put("m", "c", np.zeros(3, np.float32))
    assert cache.get("m", "b") is None and cache.get("m", "a") is not None and len(cache) == 2


def test_an_embedder_failing_on_the_worker_thread_degrades_hybrid_and_raises_in_semantic(
        index: Index, embedder: OnnxMiniLM) -> None:
    class Down(Counting):
        def embed(self, texts: list[str]) -> np.ndarray:
            raise EmbedderError("cannot reach the embedder; start it")

    QUERY_VECTORS.clear()
    index.embedder = Down(embedder)
    found = index.search("disk full on the staging cluster", k=3)
    assert not found.semantic_available and found.hits and "cannot reach" in found.warnings[0]
    with pytest.raises(EmbedderError, match="cannot reach"):
        index.search("disk full on the staging cluster", k=3, mode="semantic")


async def test_mcp_and_cli_take_exact(tmp_path, capsys) -> None:
    args = ["--db", str(tmp_path / "d.db"), "--root", str(PROJECT), "--root", str(tmp_path)]
    assert main([*args, "run", str(EXAMPLES)]) == 0
    capsys.readouterr()
    task = "permit analysis for a Chicago building contract"
    assert main([*args, "--json", "playbooks", "search", task, "--exact", "--min-strength", "none"]) == 0
    cli_exact = [h["playbook"]["playbook_id"] for h in json.loads(capsys.readouterr().out)["hits"]]
    server = build_server(Settings(db_path=tmp_path / "d.db", roots=[PROJECT]))
    async with Client(server) as client:
        exact = await client.call_tool("search_playbooks", {"query": task, "exact": True, "min_strength": "none"})
        default = await client.call_tool("search_playbooks", {"query": task, "min_strength": "none"})
        bad = await client.call_tool("search_playbooks", {"query": task, "exact": "very"})
    assert not exact.is_error and bad.is_error
    ids = [h["playbook"]["playbook_id"] for h in exact.structured_content["hits"]]
    assert ids == cli_exact and ids
    # the example KB is small, so the default leg already rescores every candidate exactly
    assert ids == [h["playbook"]["playbook_id"] for h in default.structured_content["hits"]]


def test_in_memory_codes_rank_as_sqlite_vec_knn(index: Index, embedder: OnnxMiniLM) -> None:
    from mcp_distill.search.codes import code_matrix
    from mcp_distill.search.repository import legs as legs_db
    from mcp_distill.search.vector import _pad8

    for text in ("the login page breaks", "nightly build timeouts"):
        padded = _pad8(embedder.embed([text])[0]).tobytes()
        code = legs_db.query_code(index.store, padded)
        # filtered (the hamming scan over the kept rows only) and unfiltered (over every row)
        for where, clauses in (({"collection": "playbooks", "task_type": "perf"},
                                [("collection = ?", "playbooks"), ("task_type = ?", "perf")]),
                               ({"collection": "playbooks"}, [("collection = ?", "playbooks")])):
            ours = code_matrix(index.store).knn(code, where, 15)
            theirs = legs_db.knn(index.store, padded, 15, clauses)
            assert len(ours) == 15
            assert legs_db.hamming(index.store, padded, ours) == legs_db.hamming(index.store, padded, theirs)


def test_a_write_from_another_connection_reaches_the_in_memory_codes(index: Index, embedder: OnnxMiniLM, tmp_path) -> None:
    from mcp_distill.store import open_store

    before = index.search("a giraffe escaped from the zoo", k=1, mode="semantic")
    assert before.hits[0].id != "giraffe"
    other = open_store(index.store.path)
    try:
        Index(other, embedder, "playbooks").upsert([Doc(id="giraffe", title="Giraffe escaped from the zoo",
                                                    text="A tall animal left its enclosure.")])
    finally:
        other.close()
    assert index.search("a giraffe escaped from the zoo", k=1, mode="semantic").hits[0].id == "giraffe"
    Index(index.store, embedder, "playbooks").delete(["giraffe"])
    assert index.search("a giraffe escaped from the zoo", k=1, mode="semantic").hits[0].id != "giraffe"


def test_session_settings_change_speed_not_vectors(embedder: OnnxMiniLM) -> None:
    texts = ["short query", "a somewhat longer query about a database migration that keeps timing out"]
    base = embedder.embed(texts)
    for variant in (OnnxMiniLM(pad_to=256), OnnxMiniLM(threads=1), OnnxMiniLM(graph_level="basic")):
        np.testing.assert_allclose(variant.embed(texts), base, atol=2e-3)
    with pytest.raises(EmbedderError, match="graph optimisation level"):
        OnnxMiniLM(graph_level="fastest").embed(["x"])


def test_embedding_on_the_searching_thread_gives_the_same_hits(index: Index, embedder: OnnxMiniLM,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import mcp_distill.search.index as search_index

    QUERY_VECTORS.clear()
    counting = Counting(embedder)
    index.embedder = counting
    alongside = index.search("certificate problems on the release branch", k=5)
    QUERY_VECTORS.clear()
    monkeypatch.setattr(search_index, "EMBED_THREADS", 0)
    first = index.search("certificate problems on the release branch", k=5)
    assert [h.id for h in first.hits] == [h.id for h in alongside.hits]
    assert threading.current_thread().name in counting.threads and len(counting.threads) == 2
