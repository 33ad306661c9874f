"""The PostgreSQL search index at scale: maintained term statistics, the bulk load, the legs' paths.

On a real PostgreSQL server (pgserver, or MCP_DISTILL_TEST_PG), with the real ONNX embedder and real
SciFact text (../shared, read in place).
"""

from __future__ import annotations

import json
import math
import uuid

import numpy as np
import psycopg
import pytest
from conftest import make_conninfo_url, shared_path

from mcp_distill.errors import InvalidInputError
from mcp_distill.search.backends import vector_leg
from mcp_distill.search.bulk import bulk_load
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import Filters
from mcp_distill.search.repository import pg_legs, pg_vector
from mcp_distill.search.repository.pg_legs import candidate_query
from mcp_distill.store import open_store

TASK_TYPES = ("bugfix", "feature", "docs")


def _docs(n: int = 60) -> list[Doc]:
    """SciFact abstracts as documents with tags, task types, sources and times spread over them."""
    docs = []
    with shared_path("data", "ir", "scifact", "corpus.jsonl").open(encoding="utf-8") as fh:
        for i, line in zip(range(n), fh, strict=False):
            row = json.loads(line)
            docs.append(Doc(id=f"d{i:03d}", title=row["title"], text=row["text"][:1200],
                            tags=["common"] + (["rare"] if i % 10 == 0 else []) + ([f"g{i % 3}"]),
                            task_type=TASK_TYPES[i % 3], source="manual" if i % 2 else "runs",
                            ts=f"2026-{1 + i % 12:02d}-15T00:00:00Z"))
    return docs


def _stats(store) -> tuple[dict[str, int], tuple[int, int], dict[int, int]]:
    terms = {r["term"]: r["ndoc"] for r in store.query("SELECT term, ndoc FROM search_terms WHERE ndoc > 0")}
    totals = store.query_one("SELECT docs, tokens FROM search_totals")
    lengths = {r["doc"]: r["tokens"] for r in store.query("SELECT doc, tokens FROM search_doc_tokens")}
    return terms, (totals["docs"], totals["tokens"]), lengths


def _recounted(store) -> tuple[dict[str, int], tuple[int, int], dict[int, int]]:
    """The same statistics read from the documents themselves (the scans the tables replace)."""
    terms = {r["word"]: r["ndoc"] for r in store.query("SELECT word, ndoc FROM ts_stat('SELECT fts FROM search_docs')")}
    row = store.query_one("SELECT count(*) AS n, coalesce(sum(distill_fts_tokens(fts)), 0) AS t FROM search_docs")
    lengths = {r["id"]: r["t"] for r in store.query("SELECT id, distill_fts_tokens(fts) AS t FROM search_docs")}
    return terms, (row["n"], row["t"]), lengths


def test_term_statistics_follow_every_insert_update_and_delete(pg_url, embedder):
    docs = _docs(30)
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        assert _stats(store) == ({}, (0, 0), {})
        index.upsert(docs)
        assert _stats(store) == _recounted(store) and _stats(store)[1][0] == 30
        changed = docs[3].model_copy(update={"text": "Zebrafish regenerate cardiac tissue quickly."})
        index.upsert([changed, docs[4].model_copy(update={"tags": ["other"]})])  # text / tags changed
        assert _stats(store) == _recounted(store)
        assert _stats(store)[0]["zebrafish"] == 1
        index.delete([docs[3].id, docs[5].id])
        assert _stats(store) == _recounted(store) and _stats(store)[1][0] == 28
        assert "zebrafish" not in _stats(store)[0]  # its only document is gone (the row stays at 0)
        Index(store, embedder, "other").upsert(docs[:2])  # a second collection counts too
        assert _stats(store) == _recounted(store) and _stats(store)[1][0] == 30


def test_migration_009_counts_the_documents_an_older_store_already_holds(pg_url):
    from mcp_distill.migrations import pg as pg_migrations
    from mcp_distill.store.postgres import PgConnection

    with psycopg.connect(pg_url, autocommit=True) as raw, raw.transaction():
        conn = PgConnection(raw)
        pg_migrations.apply(conn, store="old", stop_before="m009_search_term_stats")  # and m010
        for i, text in enumerate(("Flaky migrations retried", "retrying the flaky test suite", "")):
            conn.execute("INSERT INTO search_docs(collection, doc_id, content_hash, row_hash, updated_at, title, text) "
                         "VALUES ('c', ?, 'h', 'r', 'now', 'Doc', ?)", (f"d{i}", text))
    with open_store(pg_url) as store:
        assert _stats(store) == _recounted(store)
        assert _stats(store)[0]["flaki"] == 2 and _stats(store)[1][0] == 3


def test_bulk_load_writes_what_upsert_writes_and_searches_alike(pg_url, pg_server_url, embedder):
    docs = _docs()
    other = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other}"')
    try:
        results = {}
        rows = {}
        for name, url in (("upsert", pg_url), ("bulk", make_conninfo_url(pg_server_url, other))):
            with open_store(url) as store:
                index = Index(store, embedder, "playbooks")
                report = index.upsert(docs) if name == "upsert" else bulk_load(index, docs)
                assert report.written == report.embedded == len(docs)
                rows[name] = (
                    store.query("SELECT id, collection, doc_id, title, text, tags, facets, task_type, source, ts, "
                                "ts_epoch, metadata, content_hash, row_hash, vector_id, fts FROM search_docs ORDER BY id"),
                    store.query("SELECT tag, doc FROM search_tags ORDER BY tag, doc"),
                    store.query("SELECT id, content_hash, model_id, vector FROM embed_cache ORDER BY id"),
                    store.query("SELECT doc, collection, task_type, source, ts_epoch, embedding::text AS e, facets "
                                "FROM search_vec ORDER BY doc"),
                    _tokens(store),
                    _stats(store), store.get_meta("search.embed_model"), store.get_meta("search.embed_dim"),
                    sorted(r["indexname"] for r in store.query("SELECT indexname FROM pg_indexes WHERE tablename "
                                                                "IN ('search_docs', 'search_vec', 'search_vec_tokens')")))
                results[name] = [
                    [(h.id, h.keyword_rank, h.vector_rank, round(h.score, 9)) for h in
                     index.search(q, k=8, mode="hybrid", **f).hits]
                    for q in ("vitamin D deficiency", "stem cells differentiation", "the")
                    for f in ({}, {"tags": ["rare"]}, {"task_type": "docs", "since": "2026-06-01T00:00:00Z"})]
                assert _stats(store) == _recounted(store)
        assert rows["bulk"] == rows["upsert"]
        assert results["bulk"] == results["upsert"] and any(results["bulk"])
        with open_store(make_conninfo_url(pg_server_url, other)) as store, \
                pytest.raises(InvalidInputError, match="empty search index"):  # only into an empty index
            bulk_load(Index(store, embedder, "playbooks"), docs[:1])
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


def _vec_facets(store) -> dict[str, list[str]]:
    """Each vector row's facet tokens, and (second) the tokens of its document row, by document id."""
    rows = store.query("SELECT d.doc_id, v.facets AS v, d.facets AS d FROM search_vec v JOIN search_docs d ON d.id = v.doc")
    return {r["doc_id"]: sorted(r["v"]) for r in rows}, {r["doc_id"]: sorted(r["d"].split(" ")) for r in rows}


def _passing(store, docs: list[Doc], task_type: str | None, tags: list[str], source: str | None) -> set[int]:
    """Row ids of the documents a filter keeps, decided here from the documents themselves."""
    ids = {r["doc_id"]: r["id"] for r in store.query("SELECT id, doc_id FROM search_docs")}
    return {ids[d.id] for d in docs if set(tags) <= set(d.tags) and task_type in (None, d.task_type)
            and source in (None, d.source)}


def test_search_vec_facets_follow_each_write_and_migration_011_fills_an_older_store(pg_url, embedder):
    docs = _docs()
    changed = [docs[1].model_copy(update={"tags": ["fresh", "common"], "source": "other"}),
               docs[2].model_copy(update={"task_type": "feature", "tags": ["rare"]})]
    docs[1:3] = changed
    cases = [("feature", ["rare"], None), (None, ["common", "fresh"], "other"), ("bugfix", ["common", "g0"], "manual"),
             (None, ["rare"], None), (None, [], "runs")]
    qvec = embedder.embed(["protein folding in cells"])[0]
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert(_docs())
        index.upsert(changed)  # tags, source and task type rewritten: the vector rows must follow
        vec, doc = _vec_facets(store)
        assert vec == doc and len(vec) == 60
        found = {}
        for task_type, tags, source in cases:
            filters = index._filters(task_type, tags, source, None, None)
            assert set(index.vectors._filtered_ids(filters, None)) == _passing(store, docs, task_type, tags, source)
            found[(task_type, *tags, source)] = index.vectors.exact_search(qvec, filters, 10)
        assert found[(None, "common", "fresh", "other")] and len(found[("feature", "rare", None)]) == 3  # d002, d010, d040
    with psycopg.connect(pg_url, autocommit=True) as raw:  # the layout migration 010 left
        raw.execute("ALTER TABLE search_vec DROP COLUMN facets")
        raw.execute("DROP FUNCTION distill_doc_facets(bigint)")
        raw.execute("DELETE FROM _distill_migrations WHERE name = 'm011_search_vec_facets'")
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        vec, doc = _vec_facets(store)
        assert vec == doc and len(vec) == 60
        assert store.query_one("SELECT to_regclass('search_vec_facets') IS NOT NULL AS x")["x"]
        for task_type, tags, source in cases:
            filters = index._filters(task_type, tags, source, None, None)
            assert index.vectors.exact_search(qvec, filters, 10) == found[(task_type, *tags, source)]


def _tokens(store) -> list[tuple[str, int, float | None, int, str]]:
    """search_vec_tokens' rows (token, doc, time, signature, code) in order."""
    return [(r["token"], r["doc"], r["ts_epoch"], r["sig"], r["code"]) for r in store.query(
        "SELECT token, doc, ts_epoch, sig, code::text AS code FROM search_vec_tokens ORDER BY token, doc")]


def _expected_tokens(store) -> set[tuple[str, int, float | None, str]]:
    """The rows search_vec_tokens must hold, decided here from search_vec: each facet token of each vector
    row with its time and its vector's sign bits."""
    out = set()
    for r in store.query("SELECT doc, ts_epoch, facets, embedding::text AS e FROM search_vec"):
        code = "".join("1" if x > 0 else "0" for x in json.loads(r["e"]))
        out |= {(token, r["doc"], r["ts_epoch"], code) for token in r["facets"]}
    return out


def test_token_codes_follow_each_write_rank_filtered_sets_and_migration_012_fills_an_older_store(
        pg_url, embedder, monkeypatch):
    docs = _docs()
    changed = [docs[1].model_copy(update={"tags": ["fresh", "common"], "source": "other"}),
               docs[2].model_copy(update={"task_type": "feature", "tags": ["rare"], "ts": "2026-11-20T00:00:00Z"})]
    cases = [("feature", [], None, "2026-06-01", None), (None, ["rare"], None, None, None),
             ("bugfix", ["common", "g0"], "manual", "2026-03-01", "2026-12-01"), (None, ["common", "fresh"], "other", None, None),
             (None, [], "runs", None, "2026-05-01")]
    qvec = embedder.embed(["protein folding in cells"])[0]
    monkeypatch.setattr(pg_vector, "EF_MAX", 0)  # every filtered search above exact_max ranks by the token codes
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert(docs)
        index.upsert(changed)  # tags, source, task type and time rewritten: the token rows must follow
        index.delete(["d005", "d030"])
        rows = _tokens(store)
        assert {(t, d, ts, code) for t, d, ts, _, code in rows} == _expected_tokens(store) and len(rows) > 4 * 58
        assert len(rows) == len(_expected_tokens(store))
        pooled = vector_leg(store, index.vectors.model_id, exact_max=0)
        for task_type, tags, source, since, until in cases:
            filters = index._filters(task_type, tags, source, since, until)
            passing = set(pooled._filtered_ids(filters, None))
            expected = pooled.exact_search(qvec, filters, 10)
            assert passing and pooled.search(qvec, filters, 10) == expected  # the pool holds every passing row here
            monkeypatch.setattr(pg_vector, "TOKEN_POOL_MIN", 1)
            monkeypatch.setattr(pg_vector, "TOKEN_POOL", 1)  # a pool of depth: ranked by hamming alone
            narrow = pooled.search(qvec, filters, 4)
            assert {d for d, _ in narrow} <= passing and len(narrow) == min(4, len(passing))
            monkeypatch.setattr(pg_vector, "TOKEN_POOL_MIN", 200)
            monkeypatch.setattr(pg_vector, "TOKEN_POOL", 16)
    with psycopg.connect(pg_url, autocommit=True) as raw:  # the layout migration 011 left
        raw.execute("DROP TABLE search_vec_tokens")
        raw.execute("DROP FUNCTION distill_vec_tokens() CASCADE")
        raw.execute("DROP FUNCTION distill_vec_code(vector)")
        raw.execute("DROP FUNCTION distill_facet_sig(text[])")
        raw.execute("DELETE FROM _distill_migrations WHERE name = 'm012_search_vec_tokens'")
    with open_store(pg_url) as store:
        assert _tokens(store) == rows
        index = Index(store, embedder, "playbooks")
        index.upsert([docs[3].model_copy(update={"tags": ["late"]})])  # the migration's triggers keep it in step
        assert {(t, d, ts, code) for t, d, ts, _, code in _tokens(store)} == _expected_tokens(store)


def test_bulk_load_is_refused_on_sqlite(tmp_path, embedder):
    with open_store(tmp_path / "distill.db") as store, pytest.raises(InvalidInputError, match="PostgreSQL"):
        bulk_load(Index(store, embedder, "playbooks"), _docs(2))


def test_the_vector_leg_answers_every_filter_by_hnsw_or_exactly_with_the_same_hits(pg_url, embedder):
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        bulk_load(index, _docs())
        exact = vector_leg(store, index.vectors.model_id, exact_max=10**9)  # every search scored exactly
        hnsw = vector_leg(store, index.vectors.model_id, exact_max=0)  # HNSW wherever the filter's share allows
        qvec = embedder.embed(["protein folding in cells"])[0]
        for filters in (index._filters(None, None, None, None, None), index._filters("docs", None, None, None, None),
                        index._filters(None, ["rare"], None, None, None),
                        index._filters("bugfix", ["common", "g0"], "manual", "2026-03-01", "2026-12-01")):
            expected = exact.search(qvec, filters, 10)
            assert expected, filters
            assert [d for d, _ in hnsw.search(qvec, filters, 10)] == [d for d, _ in expected], filters
            passing = set(exact._filtered_ids(filters, None))
            assert {d for d, _ in expected} <= passing
            assert len(expected) == min(10, len(passing))


def test_matched_fields_name_the_column_each_term_was_found_in(pg_url, embedder):
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert([Doc(id="a", title="Zebrafish heart repair", text="Cardiac tissue regrows after injury.",
                          tags=["regeneration"]),
                      Doc(id="b", title="Mouse liver", text="Hepatocytes of zebrafish divide.", tags=["liver"])])
        fields = {h.id: h.matched_fields for h in index.search("zebrafish", k=5, mode="keyword").hits}
        assert fields == {"a": ["title"], "b": ["text"]}
        assert [h.matched_fields for h in index.search("regeneration liver", k=5, mode="keyword").hits
                if h.id == "a"] == [["tags"]]
        assert {h.id: h.matched_fields for h in index.search("cardiac repair", k=5, mode="keyword").hits} == {
            "a": ["title", "text"]}


def test_a_tag_filter_keeps_exactly_the_tagged_matches_whatever_the_tag(pg_url, embedder):
    # the keyword leg narrows by the tag's lexemes in the GIN index first: stop words, punctuation,
    # several words and non-ASCII tags must still keep exactly the documents carrying the tag
    tags = ["the", "CI/CD", "Data  Lake", "Daten-Qualität", "common"]
    docs = [d.model_copy(update={"tags": [tags[i % len(tags)], "common"]}) for i, d in enumerate(_docs(40))]
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert(docs)
        query = "cells protein expression in patients"
        everything = index.search(query, k=100, mode="keyword").hits
        for tag in tags:
            wanted = [h.id for h in everything if " ".join(tag.split()).casefold() in
                      {" ".join(t.split()).casefold() for t in h.tags}]
            assert wanted, tag
            assert [h.id for h in index.search(query, k=100, mode="keyword", tags=[tag.upper()]).hits] == wanted, tag


def _by_doc_id(store) -> tuple:
    """The index's content keyed by document id (a resumed load's row ids skip the failed batch's)."""
    return (store.query("SELECT d.doc_id, d.title, d.text, d.tags, d.task_type, d.source, d.ts_epoch, d.row_hash, "
                        "d.fts, v.embedding::text AS e, v.facets, c.content_hash, k.tokens FROM search_docs d "
                        "JOIN search_vec v ON v.doc = d.id JOIN embed_cache c ON c.id = d.vector_id "
                        "JOIN search_doc_tokens k ON k.doc = d.id ORDER BY d.doc_id"),
            store.query("SELECT d.doc_id, t.tag FROM search_tags t JOIN search_docs d ON d.id = t.doc "
                        "ORDER BY d.doc_id, t.tag"),
            _stats(store)[:2],
            sorted(r["indexname"] for r in store.query("SELECT indexname FROM pg_indexes WHERE tablename "
                                                        "IN ('search_docs', 'search_vec')")))


def test_a_stopped_bulk_load_keeps_its_batches_and_resumes_to_what_upsert_writes(pg_url, pg_server_url, embedder):
    docs = _docs()

    def stopped_after(n: int):
        yield from docs[:n]
        raise KeyboardInterrupt  # the build process stopped part-way

    other = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other}"')
    try:
        with open_store(pg_url) as store:
            index = Index(store, embedder, "playbooks")
            with pytest.raises(KeyboardInterrupt):
                bulk_load(index, stopped_after(45), batch_size=20)
            # two batches committed, the third (5 documents read) lost; the search indexes not built yet
            assert store.query_one("SELECT count(*) AS n FROM search_docs")["n"] == 40
            assert store.get_meta("search.bulk_load") == "playbooks"
            assert store.query_one("SELECT to_regclass('search_vec_hnsw') IS NULL AS gone")["gone"]
            with pytest.raises(InvalidInputError, match="resume=True"):
                bulk_load(index, docs, batch_size=20)
            report = bulk_load(index, docs, batch_size=20, resume=True)
            assert (report.received, report.unchanged, report.written) == (60, 40, 20)
            assert store.get_meta("search.bulk_load") is None
            resumed = _by_doc_id(store)
            assert _stats(store) == _recounted(store)
            hits = [[h.id for h in index.search(q, k=8, mode="hybrid").hits]
                    for q in ("vitamin D deficiency", "stem cells differentiation")]
            with pytest.raises(InvalidInputError, match="empty search index"):  # finished: no resume any more
                bulk_load(index, docs[:1], resume=True)
        with open_store(make_conninfo_url(pg_server_url, other)) as store:
            index = Index(store, embedder, "playbooks")
            index.upsert(docs)
            assert _by_doc_id(store) == resumed
            assert hits == [[h.id for h in index.search(q, k=8, mode="hybrid").hits]
                            for q in ("vitamin D deficiency", "stem cells differentiation")] and all(hits)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


@pytest.mark.parametrize("query", ["the rollout broke production", "out of disk space"])
def test_exact_search_on_postgresql_is_brute_force_cosine(pg_url, embedder, query):
    from test_vector_exact import brute_force, corpus

    docs = corpus()
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert(docs)
        # a default leg that would answer from HNSW with pgvector's shortest candidate list, to show
        # exact= scores every passing row instead
        index.vectors = vector_leg(store, index.vectors.model_id, exact_max=0, oversample=1.0)
        found = index.search(query, k=10, mode="semantic", exact=True)
        assert [h.id for h in found.hits] == brute_force(embedder, docs, query, 10)
        assert [h.vector_rank for h in found.hits] == list(range(1, 11))
        both = [d for d in docs if d.task_type == "bugfix" and "t1" in d.tags]
        filtered = index.search(query, k=5, mode="semantic", exact=True, task_type="bugfix", tags=["t1"])
        assert [h.id for h in filtered.hits] == brute_force(embedder, both, query, 5)
        sims = [h.vector_similarity for h in found.hits]
        matrix = embedder.embed([d.embed_text() for d in docs])
        by_id = dict(zip((d.id for d in docs), matrix @ embedder.embed([query])[0], strict=True))
        np.testing.assert_allclose(sims, [by_id[h.id] for h in found.hits], atol=1e-5)


def test_candidate_query_ors_the_terms_that_fit_then_pairs_of_the_common_ones():
    df = {"a": 5, "b": 40, "c": 50, "d": 60}
    assert candidate_query(["a", "b", "c", "d"], df, 1000, budget=200) == "'a' | 'b' | 'c' | 'd'"
    assert candidate_query(["a", "b", "c", "d"], df, 1000, budget=50) == "'a' | 'b' | ('c' & 'd')"
    # pairs of smaller expected intersection first, while the expectations fit the budget
    assert candidate_query(["a", "b", "c", "d"], df, 1000, budget=10) == "'a' | ('b' & 'c') | ('b' & 'd')"
    assert candidate_query(["c"], df, 1000, budget=10) == "'c'"  # nothing fits: the rarest term alone


def test_restricted_keyword_candidates_keep_their_scores_and_fall_back_when_a_filter_leaves_too_few(
        pg_url, embedder, monkeypatch):
    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert(_docs(60))
        leg = index.keyword
        terms = leg.plan("cells protein expression in patients with disease")
        every, rare = Filters("playbooks"), Filters("playbooks", tags=("rare",))
        full, full_rare = dict(leg.run(terms, every, 50)), dict(leg.run(terms, rare, 50))
        assert len(full) > 20 and full_rare
        monkeypatch.setattr(pg_legs, "CANDIDATE_BUDGET", 30)  # the two commonest terms only as an AND-ed pair
        restricted = leg.run(terms, every, 50)
        assert 10 <= len(restricted) < len(full)
        assert all(math.isclose(score, full[doc]) for doc, score in restricted)  # the same BM25
        # the rare tag leaves fewer than 10 restricted candidates: every match is read as well
        assert dict(leg.run(terms, rare, 50)) == pytest.approx(full_rare)
        monkeypatch.setattr(pg_legs, "CANDIDATE_CAP", 4)  # at most 4 matches read per statement
        capped = leg.run(terms, every, 50)
        assert 0 < len(capped) <= 8 and all(math.isclose(score, full[doc]) for doc, score in capped)


def test_the_keyword_leg_runs_beside_the_vector_leg_but_inside_a_transaction_here(pg_url, embedder):
    import threading

    with open_store(pg_url) as store:
        index = Index(store, embedder, "playbooks")
        index.upsert(_docs())
        leg, filters = index.keyword, index._filters(None, None, None, None, None)
        terms = leg.plan_terms("vitamin D deficiency in patients").terms
        ran_on, run = [], leg.run

        def recording(*args):
            ran_on.append(threading.current_thread().name)
            return run(*args)

        leg.run = recording
        expected = run(terms, filters, 50)
        assert expected and leg.start(terms, filters, 50)() == expected
        assert ran_on[-1].startswith("distill-pg-keyword")
        with store.atomic():  # an uncommitted document: only this thread's connection sees it
            index.upsert([Doc(id="new", title="Zebrafish fins regrow", text="Zebrafish regenerate fins.")])
            found = leg.start(["zebrafish"], filters, 50)()
            assert ran_on[-1] == threading.current_thread().name
        assert index.store.query_one("SELECT id FROM search_docs WHERE doc_id = 'new'")["id"] in [d for d, _ in found]
