"""The SQLite bulk build writes what upsert writes: every search table row for row, the same FTS5
postings and totals, the same search results; and it only ever fills an empty index, all or nothing.

Real SQLite files (tmp_path), real sqlite-vec, the real ONNX embedder, real SciFact text (../shared).
"""

from __future__ import annotations

import json

import pytest
from conftest import shared_path

from mcp_distill.errors import InvalidInputError
from mcp_distill.search import bulk_sqlite
from mcp_distill.search.index import Doc, Index
from mcp_distill.store import open_store

TASK_TYPES = ("bugfix", "feature", "docs")


def _docs(n: int = 60) -> list[Doc]:
    """SciFact abstracts with tags (one repeated, a duplicate tag), task types, sources and times; two
    documents share a text, so one embed_cache row serves both."""
    docs = []
    with shared_path("data", "ir", "scifact", "corpus.jsonl").open(encoding="utf-8") as fh:
        for i, line in zip(range(n), fh, strict=False):
            row = json.loads(line)
            docs.append(Doc(id=f"d{i:03d}", title=row["title"], text=row["text"][:1200],
                            tags=["common", "Common"] + (["rare"] if i % 10 == 0 else []) + [f"g{i % 3}"],
                            task_type=TASK_TYPES[i % 3] if i % 7 else None, source="manual" if i % 2 else "runs",
                            ts=f"2026-{1 + i % 12:02d}-15T00:00:00Z" if i % 5 else None, metadata={"i": i}))
    docs.append(docs[1].model_copy(update={"id": "copy-of-d001"}))
    return docs


def _tables(store) -> dict[str, object]:
    """Every search table's rows (updated_at aside: a clock reading), FTS5's logical index (each token
    instance, document sizes, the totals record, its config) and the schema objects."""
    from mcp_distill.search.repository import legs as legs_db

    with store.atomic():  # the writer connection: the instance view is a temporary table of its own
        store.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.t_inst USING fts5vocab(main, search_fts, 'instance')")
        instances = store.query("SELECT term, doc, col, offset FROM temp.t_inst ORDER BY term, doc, col, offset")
    return {
        "docs": store.query("SELECT id, collection, doc_id, content_hash, vector_id, task_type, source, ts, ts_epoch, "
                            "row_hash, title, tags, facets, metadata, text FROM search_docs ORDER BY id"),
        "tags": store.query("SELECT tag, doc FROM search_tags ORDER BY tag, doc"),
        "cache": store.query("SELECT id, content_hash, model_id, vector FROM embed_cache ORDER BY id"),
        "codes": store.query("SELECT doc, collection, task_type, code, source, ts_epoch FROM search_vec ORDER BY doc"),
        "fts": instances,
        "docsize": store.query("SELECT id, sz FROM search_fts_docsize ORDER BY id"),
        "totals": store.query("SELECT block FROM search_fts_data WHERE id = 1"),
        "config": store.query("SELECT k, v FROM search_fts_config ORDER BY k"),
        "vocab": store.query("SELECT term, doc, cnt FROM search_fts_vocab ORDER BY term"),
        "schema": store.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"),
        "meta": {k: store.get_meta(k) for k in ("search.embed_model", "search.embed_dim")},
        "token": legs_db.codes_token(store) is not None,
    }


def _searches(index: Index) -> list[list[tuple[str, int | None, int | None, float]]]:
    return [[(h.id, h.keyword_rank, h.vector_rank, round(h.score, 9)) for h in
             index.search(q, k=8, mode=mode, **f).hits]  # type: ignore[arg-type]
            for q in ("vitamin D deficiency", "stem cells differentiation", "the")
            for mode in ("keyword", "semantic", "hybrid")
            for f in ({}, {"tags": ["rare"]}, {"task_type": "docs", "since": "2026-06-01T00:00:00Z"},
                      {"source": "manual", "tags": ["common", "g1"]})]


def test_bulk_build_writes_what_upsert_writes_and_searches_alike(tmp_path, embedder):
    docs = _docs()
    tables, results = {}, {}
    for name in ("upsert", "bulk"):
        with open_store(tmp_path / f"{name}.db") as store:
            index = Index(store, embedder, "playbooks")
            report = index.upsert(docs) if name == "upsert" else bulk_sqlite.bulk_build(index, iter(docs))
            assert report.written == report.embedded == len(docs)
            tables[name] = _tables(store)
            results[name] = _searches(index)
            assert store.query_one("SELECT count(*) AS n FROM embed_cache")["n"] == len(docs) - 1
            store.execute("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')")
    for key in tables["upsert"]:
        assert tables["bulk"][key] == tables["upsert"][key], key
    assert results["bulk"] == results["upsert"]
    empty = [i for i, r in enumerate(results["bulk"]) if not r]
    assert len(empty) <= 4, empty  # "the" alone is no keyword query (a stop word in every document)


def test_bulk_build_then_upsert_and_delete_keep_the_index_in_step(tmp_path, embedder):
    """The trigger and index are back after the build: later writes maintain FTS5 as before."""
    docs = _docs(30)
    with open_store(tmp_path / "bulk.db") as store:
        index = Index(store, embedder, "playbooks")
        bulk_sqlite.bulk_build(index, docs[:20])
        index.upsert([*docs[20:], docs[3].model_copy(update={"text": "Zebrafish regenerate cardiac tissue."})])
        index.delete([docs[4].id])
        hits = index.search("zebrafish cardiac regeneration", k=3, mode="keyword").hits
        assert [h.id for h in hits][:1] == [docs[3].id]
        assert index.count() == len(docs) - 1
        store.execute("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')")
        assert docs[4].id not in {h.id for h in index.search(docs[4].title, k=10, mode="hybrid").hits}


def test_bulk_build_fills_only_an_empty_index_and_a_failure_leaves_it_empty(tmp_path, embedder):
    docs = _docs(12)
    with open_store(tmp_path / "bulk.db") as store:
        index = Index(store, embedder, "playbooks")
        with pytest.raises(InvalidInputError, match="appears twice"):
            bulk_sqlite.bulk_build(index, [*docs, docs[2]])
        assert index.count() == 0  # rolled back: no row, no cached vector, the schema as it was
        assert store.query_one("SELECT count(*) AS n FROM embed_cache")["n"] == 0
        assert {r["name"] for r in store.query("SELECT name FROM sqlite_master")} >= {
            "search_docs_ai", "search_tags_doc"}
        bulk_sqlite.bulk_build(index, docs)
        assert index.count() == len(docs)
        with pytest.raises(InvalidInputError, match="empty search index"):
            bulk_sqlite.bulk_build(Index(store, embedder, "other"), docs[:1])
        assert index.search("cells", k=3, mode="hybrid").hits


def test_an_invalid_document_is_named_by_position_on_every_write_path(tmp_path, embedder):
    docs: list = [d.model_dump() for d in _docs(6)]
    docs[4] = {"id": "bad", "title": "an unknown field", "owner": "someone"}
    with open_store(tmp_path / "bad.db") as store:
        index = Index(store, embedder, "playbooks")
        with pytest.raises(InvalidInputError, match="document #4 is invalid"):
            bulk_sqlite.bulk_build(index, docs)
        assert index.count() == 0  # the bulk build is all or nothing
        with pytest.raises(InvalidInputError, match="document #4 is invalid"):
            index.upsert(docs)
        assert index.count() == 0  # upsert validates a whole batch before it writes any of it
