"""Hybrid index: real store, real FTS5 and sqlite-vec, real ONNX embedder."""

from __future__ import annotations

import numpy as np
import pytest

from mcp_distill.errors import EmbedderError, InvalidInputError
from mcp_distill.search.embed import Embedder, OnnxMiniLM
from mcp_distill.search.index import META_DIM, META_MODEL, Doc, Index, reindex
from mcp_distill.search.query import LONG_QUERY_TERMS, build_match, keyword_weight, query_tokens, rrf_fuse
from mcp_distill.store import Store

HOSTILE = ['foo AND (', '"unbalanced', 'col:val', 'NEAR(a b)', '*', '', '   ', '🔥 ünïcödé', '-x', 'OR OR',
           'title:deploy', '{title}: x', 'a^2 + b*', "it's", '\\', 'NOT', '(((', 'x' * 5000, '\x00\x01']

PLAYBOOKS = [
    Doc(id="pb-migrate", title="Schema migration times out",
        text="Alembic upgrade hangs on a table lock; raise lock_timeout, split the migration and rerun.",
        tags=["db", "migrations"], task_type="bugfix", source="runs", ts="2026-11-01T10:00:00Z"),
    Doc(id="pb-rollback", title="Undo a bad release",
        text="Revert the Kubernetes deployment to the previous ReplicaSet when health checks fail after rollout.",
        tags=["k8s", "deploy"], task_type="deploy", source="runs", ts="2026-10-01T08:00:00Z"),
    Doc(id="pb-flaky", title="Quarantine flaky tests",
        text="Tests that pass and fail at random: rerun them three times, mark them flaky, open an issue.",
        tags=["tests"], task_type="test", source="manual", ts="2026-09-15T12:00:00Z"),
    Doc(id="pb-deps", title="Bump vulnerable dependency",
        text="Upgrade the library flagged by the security advisory, regenerate the lock file, run the suite.",
        tags=["deps", "security"], task_type="deps", source="review"),
    Doc(id="pb-cache", title="Speed up the CI pipeline",
        text="Cache the package downloads and build layers between workflow runs to cut build minutes.",
        tags=["ci"], task_type="perf", source="runs", ts="2026-08-01T00:00:00Z"),
    Doc(id="pb-oom", title="Worker killed for memory",
        text="The process exceeded its memory limit; stream the input file instead of loading it whole.",
        tags=["perf"], task_type="bugfix", source="runs", ts="2026-07-01T00:00:00Z"),
]


@pytest.fixture(scope="module")
def onnx() -> OnnxMiniLM:
    return OnnxMiniLM()


@pytest.fixture
def index(store: Store, onnx: OnnxMiniLM) -> Index:
    idx = Index(store, onnx, "playbooks")
    idx.upsert(PLAYBOOKS)
    return idx


class Broken:
    """An embedder whose endpoint is down."""

    def __init__(self, model_id: str):
        self.model_id = model_id
        self.dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        raise EmbedderError("cannot reach the ollama embedder at http://127.0.0.1:9; start it")


class Resized:
    """A real embedder's vectors cut to another dimension, under its own model id."""

    def __init__(self, inner: Embedder, dim: int, model_id: str):
        self.inner = inner
        self.dim = dim
        self.model_id = model_id

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self.inner.embed(texts)[:, : self.dim]
        return v / np.linalg.norm(v, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- pure pieces


def test_rrf_formula_weights_depth_and_ties() -> None:
    fused = dict(rrf_fuse({"a": ["x", "y", "z"], "b": ["y", "w"]}, k=10))
    assert fused["y"] == pytest.approx(1 / 12 + 1 / 11)
    assert fused["x"] == pytest.approx(1 / 11) and fused["z"] == pytest.approx(1 / 13)
    order = [key for key, _ in rrf_fuse({"a": ["x", "y"], "b": ["y", "x"]}, k=10)]
    assert order == ["x", "y"]  # equal scores: first appearance decides, deterministically
    assert [k for k, _ in rrf_fuse({"a": ["x"], "b": ["y"]}, weights={"b": 2.0}, k=10)] == ["y", "x"]
    assert [k for k, _ in rrf_fuse({"a": ["x", "y", "z"]}, k=10, depth=2)] == ["x", "y"]
    assert rrf_fuse({}) == [] and rrf_fuse({"a": []}) == []


def test_rrf_tie_goes_to_the_strongest_weighted_evidence() -> None:
    # k=1, keyword weight 0.5 (a long prompt), vector 0.75: "a" = 0.5/2 + 0.75/3 = 0.5 and
    # "b" = 0.5/4 + 0.75/2 = 0.5. "b" holds the single strongest piece (vector rank 1: 0.375 against
    # keyword rank 1: 0.25), so it wins although the keyword leg is listed first.
    legs = {"keyword": ["a", "c", "b"], "vector": ["b", "a"]}
    fused = rrf_fuse(legs, {"keyword": 0.5, "vector": 0.75}, k=1)
    assert fused[0][1] == pytest.approx(fused[1][1])
    assert [key for key, _ in fused] == ["b", "a", "c"]
    # with equal weights the same ranks are no tie, and the sum decides as before
    assert rrf_fuse(legs, k=1)[0][0] == "a"


def test_long_prompt_keyword_weight_cannot_outvote_both_legs() -> None:
    # Short queries keep the full keyword weight; beyond LONG_QUERY_TERMS it falls as (L/n)^2.
    assert keyword_weight(LONG_QUERY_TERMS) == 1.0 and keyword_weight(3) == 1.0
    assert keyword_weight(2 * LONG_QUERY_TERMS) == pytest.approx(0.25)
    assert keyword_weight(28) < keyword_weight(20) < 1.0
    # The bundled train half's PR-audit prompt (28 kept terms): the right playbook "r" is keyword
    # rank 5 and vector rank 3; the others are high in one leg only. With the weight as 16/n (0.57)
    # "r" came 6th; at (16/28)^2 = 0.33 it is 3rd, its vector rank.
    keyword = ["k1", "k2", "k3", "x", "r", "y", "v2", "z", "v1"]
    vector = ["v1", "v2", "r", "k3", "w", "q", "k2", "s", "t", "u", "k1"]
    fused = [key for key, _ in rrf_fuse({"keyword": keyword, "vector": vector},
                                        {"keyword": keyword_weight(28), "vector": 0.75}, k=1)]
    assert fused.index("r") + 1 == 3
    linear = [key for key, _ in rrf_fuse({"keyword": keyword, "vector": vector},
                                         {"keyword": 16 / 28, "vector": 0.75}, k=1)]
    assert linear.index("r") + 1 == 6


def test_query_sanitising_leaves_no_syntax() -> None:
    assert query_tokens('foo AND ("bar" OR baz*) col:val NEAR(a b) -x') == [
        "foo", "and", "bar", "or", "baz", "col", "val", "near", "a", "b", "x"]
    assert query_tokens("🔥 ünïcödé") == ["ünïcödé"]
    assert query_tokens("") == [] and query_tokens("*^:()") == []
    assert build_match(["or", "near"], ["xc0"]) == '{title text tags} : ("or" OR "near") AND facets : ("xc0")'


# ----------------------------------------------------------------------------- search


def test_each_mode_finds_a_doc_phrased_with_other_words(index: Index) -> None:
    semantic = index.search("how do I revert a broken rollout", mode="semantic")
    assert semantic.hits[0].id == "pb-rollback"
    assert semantic.hits[0].vector_rank == 1 and semantic.hits[0].keyword_rank is None
    keyword = index.search("migrations timing out", mode="keyword")  # stems: migration, time
    assert keyword.hits[0].id == "pb-migrate"
    assert keyword.hits[0].keyword_score and keyword.hits[0].keyword_score > 0
    assert "title" in keyword.hits[0].matched_fields
    hybrid = index.search("tests that sometimes pass and sometimes fail", mode="hybrid")
    assert hybrid.hits[0].id == "pb-flaky"
    top = hybrid.hits[0]
    assert top.keyword_rank is not None and top.vector_rank is not None
    assert hybrid.semantic_available and not hybrid.warnings
    assert top.vector_similarity is not None and top.vector_distance == pytest.approx(1 - top.vector_similarity)


def test_hostile_queries_never_raise(index: Index) -> None:
    for mode in ("keyword", "semantic", "hybrid"):
        for q in HOSTILE:
            result = index.search(q, k=3, mode=mode)
            assert len(result.hits) <= 3
    assert index.search("", mode="hybrid").hits == []
    assert index.search("NEAR(lock timeout)", mode="keyword").hits[0].id == "pb-migrate"


def test_empty_index(store: Store, onnx: OnnxMiniLM) -> None:
    empty = Index(store, onnx, "nothing-yet")
    for mode in ("keyword", "semantic", "hybrid"):
        assert empty.search("anything at all", mode=mode).hits == []
    assert empty.count() == 0 and empty.delete(["nope"]) == 0


def test_filters(index: Index) -> None:
    assert [h.id for h in index.search("problem", k=10, task_type="bugfix").hits] != []
    assert {h.id for h in index.search("problem", k=10, task_type="bugfix").hits} == {"pb-migrate", "pb-oom"}
    assert {h.id for h in index.search("upgrade", k=10, tags=["DEPS", " security "]).hits} == {"pb-deps"}
    assert index.search("upgrade", k=10, tags=["deps", "ci"]).hits == []
    assert {h.id for h in index.search("build", k=10, source="manual").hits} == {"pb-flaky"}
    recent = {h.id for h in index.search("failure", k=10, since="2026-09-15T12:00:00Z").hits}
    assert recent == {"pb-migrate", "pb-rollback", "pb-flaky"}  # since inclusive; no-ts doc excluded
    older = {h.id for h in index.search("failure", k=10, until="2026-09-15T12:00:00Z").hits}
    assert older == {"pb-cache", "pb-oom"}  # until exclusive
    both = index.search("failure", k=10, mode="semantic", since="2026-08-01", until="2026-10-02")
    assert {h.id for h in both.hits} == {"pb-rollback", "pb-flaky", "pb-cache"}
    with pytest.raises(InvalidInputError):
        index.search("x", since="last tuesday")


# tag sets through the over-fetching KNN, ranked by the int8 vectors, scored exactly
@pytest.mark.parametrize(("exact_max", "subset_max"), [(0, 0), (0, 10_000), (10_000, 10_000)])
def test_filter_matching_one_doc_ranked_last_is_still_found(store: Store, onnx: OnnxMiniLM, exact_max: int,
                                                            subset_max: int) -> None:
    idx = Index(store, onnx, "many")
    idx.vectors.exact_max, idx.vectors.subset_max = exact_max, subset_max
    crowd = [Doc(id=f"c{i}", title=f"Database migration lock timeout number {i}",
                 text=f"Migration {i} hung on a table lock; raised the timeout and reran it.",
                 tags=["db"], task_type="bugfix", source="runs", ts="2026-11-01") for i in range(150)]
    lonely = Doc(id="lonely", title="Office plants need watering", text="Water the ficus on Fridays.",
                 tags=["db", "garden"], task_type="chores", source="manual", ts="2025-01-01")
    idx.upsert([*crowd, lonely])
    q = "database migration lock timeout"
    for mode in ("semantic", "hybrid", "keyword"):
        for filters in ({"task_type": "chores"}, {"tags": ["garden"]}, {"source": "manual"},
                        {"until": "2025-06-01"}, {"tags": ["db", "garden"], "source": "manual"}):
            hits = idx.search(q, k=5, mode=mode, **filters).hits  # type: ignore[arg-type]
            if mode == "keyword":
                assert hits == []  # no query word occurs in it: keyword cannot find it, rightly
            else:
                assert [h.id for h in hits] == ["lonely"], (mode, filters)
    assert len(idx.search(q, k=20, mode="semantic", tags=["db"]).hits) == 20


def test_tag_knn_route_scans_only_tagged_rows(store: Store, onnx: OnnxMiniLM) -> None:
    """The KNN route of a tag filter scans the tagged rows only (the tag mask inside the scan), so even
    a tag on every other document, far from the query, fills k."""
    idx = Index(store, onnx, "many")
    idx.vectors.exact_max = idx.vectors.subset_max = 0  # force the KNN route for every tag filter
    idx.upsert([Doc(id=f"d{i}", title=f"Note {i}", text=f"Deployment step {i} of the release checklist.",
                    tags=["ops"] if i % 2 else ["ops", "odd"]) for i in range(40)])
    hits = idx.search("release checklist deployment", k=15, mode="semantic", tags=["odd"]).hits
    assert len(hits) == 15 and all("odd" in h.tags for h in hits)


def test_upsert_update_skip_delete_and_progress(index: Index, onnx: OnnxMiniLM) -> None:
    seen: list[tuple[int, int | None, str]] = []
    again = index.upsert(PLAYBOOKS, progress=lambda done, total, message: seen.append((done, total, message)))
    assert again.unchanged == len(PLAYBOOKS) and again.written == 0 and seen[-1] == (6, 6, "index")
    changed = PLAYBOOKS[0].model_copy(update={"text": "Use pg_repack to avoid the long lock.", "tags": ["pg"]})
    report = index.upsert([changed, PLAYBOOKS[1].model_copy(update={"task_type": "release"})])
    assert report.written == 2 and report.embedded == 1  # metadata-only change keeps its vector
    assert index.get("pb-migrate").text.startswith("Use pg_repack")  # type: ignore[union-attr]
    assert index.search("pg_repack", mode="keyword").hits[0].id == "pb-migrate"
    assert index.search("lock", tags=["db"], mode="keyword").hits == []  # old tags gone
    assert index.search("revert", task_type="release", mode="semantic").hits[0].id == "pb-rollback"
    assert index.delete(["pb-migrate", "missing"]) == 1
    assert index.get("pb-migrate") is None and index.count() == 5
    assert all(h.id != "pb-migrate" for h in index.search("lock timeout", k=10, mode="hybrid").hits)
    rows = index.store.query("SELECT count(*) AS n FROM search_vec")
    assert rows[0]["n"] == 5


def test_bad_arguments(index: Index) -> None:
    with pytest.raises(InvalidInputError):
        index.search("x", mode="fuzzy")  # type: ignore[arg-type]
    for k in (0, -1, 10**6):
        with pytest.raises(InvalidInputError):
            index.search("x", k=k)
    with pytest.raises(InvalidInputError):
        index.upsert([{"id": "x", "ts": "not a time"}])
    with pytest.raises(InvalidInputError):
        index.upsert([{"id": "", "title": "no id"}])


# ----------------------------------------------------------------------------- embedder changes and outages


def test_model_or_dimension_mismatch_is_refused_until_reindex(index: Index, onnx: OnnxMiniLM) -> None:
    store = index.store
    assert store.get_meta(META_MODEL) == onnx.model_id and store.get_meta(META_DIM) == "384"
    small = Resized(onnx, 128, "test:minilm-128")
    with pytest.raises(EmbedderError, match="mcp-distill reindex"):
        Index(store, small, "playbooks")
    same_name = Resized(onnx, 128, onnx.model_id)  # same id, other dimension
    with pytest.raises(EmbedderError, match="reindex"):
        Index(store, same_name, "playbooks").search("revert a rollout", mode="semantic")
    assert reindex(store, small) == len(PLAYBOOKS)
    assert store.get_meta(META_MODEL) == "test:minilm-128" and store.get_meta(META_DIM) == "128"
    with pytest.raises(EmbedderError, match="reindex"):
        Index(store, onnx, "playbooks")
    rebuilt = Index(store, small, "playbooks")
    assert rebuilt.search("revert a broken rollout", mode="semantic").hits[0].id == "pb-rollback"
    assert Index(store, None, "playbooks").search("flaky", mode="keyword").hits[0].id == "pb-flaky"


def test_outage_in_hybrid_falls_back_to_keyword(index: Index, onnx: OnnxMiniLM) -> None:
    down = Index(index.store, Broken(onnx.model_id), "playbooks")
    result = down.search("flaky tests", mode="hybrid")
    assert result.hits[0].id == "pb-flaky"
    assert result.semantic_available is False
    assert any("semantic search unavailable" in w for w in result.warnings)
    assert all(h.vector_rank is None for h in result.hits)
    with pytest.raises(EmbedderError, match="cannot reach"):
        down.search("flaky tests", mode="semantic")
    index.search("flaky tests", mode="semantic")  # the real model embeds it once ...
    cached = down.search("flaky tests", mode="semantic")  # ... and the process's LRU answers during the outage
    assert cached.semantic_available and cached.hits[0].id == "pb-flaky"


def test_outage_while_writing_keeps_documents_pending(store: Store, onnx: OnnxMiniLM) -> None:
    down = Index(store, Broken(onnx.model_id), "playbooks")
    report = down.upsert(PLAYBOOKS[:3])
    assert report.written == 3 and report.pending == 3 and report.warnings
    assert down.search("flaky", mode="keyword").hits[0].id == "pb-flaky"
    up = Index(store, onnx, "playbooks")
    assert up.pending() == 3
    assert any("no vector yet" in w for w in up.search("flaky", mode="hybrid").warnings)
    assert up.upsert(PLAYBOOKS[:3]).embedded == 3  # the next upsert fills them...
    assert up.pending() == 0
    down.upsert([PLAYBOOKS[3]])
    assert up.embed_pending() == 1 and up.pending() == 0  # ...or embed_pending does
    assert up.search("security advisory upgrade", mode="semantic").hits[0].id == "pb-deps"


def test_store_from_a_development_snapshot_of_migration_002_is_refused(store: Store) -> None:
    from mcp_distill.errors import StoreError

    with store.write():
        store.conn.execute("ALTER TABLE search_docs RENAME COLUMN vector_id TO embedded")
    with pytest.raises(StoreError, match="development version"):
        Index(store, None, "playbooks")


def test_cached_query_vector_runs_the_vector_leg_alongside_the_keyword_leg(
        index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from mcp_distill.search import index as search_index

    where: list[str] = []
    search = index.vectors.search

    def spy(*args: object, **kwargs: object) -> list[tuple[int, float]]:
        where.append(threading.current_thread().name)
        return search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index.vectors, "search", spy)
    cases = [("failed rollout health checks", {}), ("problem", {"task_type": "bugfix"}),
             ("upgrade", {"tags": ["deps"]})]

    def results() -> list[list[tuple[str, float, float, list[str]]]]:
        return [[(h.id, h.score, h.strength, h.matched_fields) for h in index.search(q, k=5, **f).hits]
                for q, f in cases]  # type: ignore[arg-type]

    results()  # embeds the queries: their vectors are now in the LRU
    where.clear()
    threaded = results()
    assert all(name.startswith("query-embed") for name in where) and len(where) == len(cases)
    monkeypatch.setattr(search_index, "EMBED_THREADS", 0)  # the same searches, one leg after the other
    where.clear()
    assert results() == threaded and threaded[0] and threaded[2][0][0] == "pb-deps"
    assert where == [threading.current_thread().name] * len(cases)



def test_search_inside_the_callers_transaction_sees_its_uncommitted_documents(index: Index, store: Store) -> None:
    # a cached query vector sends the vector leg to a worker thread, whose reader connection would not see
    # this transaction's writes (and whose reads waited on it: the search hung): inside atomic() the leg
    # stays on the calling thread. The transaction runs on a thread of its own so a hang fails the test.
    import threading

    query = "database backup restore drill"
    index.search(query, k=3)  # the query vector is now in the LRU
    seen: list[object] = []

    def in_transaction() -> None:
        with store.atomic():
            index.upsert([Doc(id="pb-backup", title="Practice a database restore",
                              text="Restore last night's backup into a scratch database every week and time it.",
                              tags=["db"], task_type="ops", source="manual")])
            got = index.search(query, k=3, task_type="ops")
            seen.extend([(h.id, h.vector_rank) for h in got.hits] + [store.owns_transaction()])

    worker = threading.Thread(target=in_transaction, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "a search inside its own transaction did not return"
    assert seen == [("pb-backup", 1), True] and not store.owns_transaction()
