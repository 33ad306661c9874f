"""Playbooks from the example data: deterministic extraction, stable ids, search that finds them by meaning."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, PROJECT
from mcp import Client

from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.runs import get_run
from mcp_distill.config import Settings
from mcp_distill.score import load_rules, score_runs
from mcp_distill.search.playbooks import all_playbooks, extract_playbooks, get_playbook, index_playbooks, search_playbooks
from mcp_distill.server import build_server


def test_playbooks_come_only_from_accepted_runs(example_store):
    books = all_playbooks(example_store)
    assert books, "the example data must yield playbooks"
    for pb in books:
        assert pb.source_run_ids and pb.success_count == len(pb.source_run_ids)
        assert 0 < pb.success_rate <= 1 and pb.attempt_count >= pb.success_count
        for run_key in pb.source_run_ids:
            assert get_run(example_store, run_key)["score"]["category"] == "accepted"


def test_failure_modes_come_from_rejected_runs_of_the_same_pattern(example_store):
    with_failures = [pb for pb in all_playbooks(example_store) if pb.known_failure_modes]
    assert with_failures
    assert all(pb.success_count < pb.attempt_count for pb in with_failures)


def test_reextraction_is_idempotent_and_ids_are_stable(example_store):
    before = {pb.playbook_id: pb for pb in all_playbooks(example_store)}
    again = extract_playbooks(example_store)
    after = {pb.playbook_id: pb for pb in all_playbooks(example_store)}
    assert before.keys() == after.keys() == set(again["playbook_ids"])
    assert before == after  # created_at kept, content identical
    report = index_playbooks(example_store, None)  # unchanged documents need no embedder
    assert report["written"] == 0 and report["unchanged"] == len(after)


@pytest.mark.parametrize(("query", "expected_subject"), [
    ("loading a big index from disk freezes the async server", "crates/vectord"),
    ("permit analysis for a Chicago building contract", "CHI-BLD"),
    ("warehouse worker shift assignment with certifications", "tests/multi-agent"),
])
def test_search_finds_the_playbook_phrased_in_other_words(example_store, embedder, query, expected_subject):
    found = search_playbooks(example_store, embedder, query, k=3)
    assert found.hits[0].playbook.title.endswith(expected_subject)
    top = found.hits[0]
    assert top.score > 0 and (top.keyword_rank is not None or top.vector_rank is not None)


def test_semantic_only_and_keyword_only_modes(example_store, embedder):
    semantic = search_playbooks(example_store, embedder, "the HNSW lookup stalls the tokio executor", k=5,
                                mode="semantic")
    assert all(h.keyword_rank is None and h.vector_rank is not None for h in semantic.hits)
    keyword = search_playbooks(example_store, None, "spawn_blocking", k=5, mode="keyword")
    assert keyword.hits and all(h.vector_rank is None for h in keyword.hits)
    assert keyword.hits[0].playbook.title.endswith("crates/vectord")


def test_filters_by_task_type_and_tags(example_store, embedder):
    # min_strength="none": this test is about the filters, not about whether the query matches
    found = search_playbooks(example_store, embedder, "review", k=20, task_type="pr_audit", min_strength="none")
    assert found.hits and all(h.playbook.task_type == "pr_audit" for h in found.hits)
    some = all_playbooks(example_store)[0]
    tagged = search_playbooks(example_store, embedder, "anything at all", k=50, tags=some.tags, min_strength="none")
    assert some.playbook_id in {h.playbook.playbook_id for h in tagged.hits}
    assert all(set(some.tags) <= set(h.playbook.tags) for h in tagged.hits)


def test_empty_store_searches_to_nothing(store, embedder):
    found = search_playbooks(store, embedder, "anything", k=5)
    assert found.hits == []


async def test_mcp_playbook_tools_resource_and_prompt(tmp_path):
    server = build_server(Settings(db_path=tmp_path / "d.db", roots=[PROJECT]))
    async with Client(server) as client:
        await client.call_tool("collect_evidence", {"paths": [str(EXAMPLES)]})
        await client.call_tool("score_run", {})
        extracted = await client.call_tool("extract_playbooks", {})
        assert not extracted.is_error, extracted.content
        assert extracted.structured_content["playbooks"] > 0
        found = await client.call_tool("search_playbooks", {"query": 'spawn_blocking AND ("async" OR NEAR(x', "k": 3})
        assert not found.is_error, found.content
        hits = found.structured_content["hits"]
        assert hits and hits[0]["playbook"]["title"].endswith("crates/vectord")
        pid = hits[0]["playbook"]["playbook_id"]
        res = json.loads((await client.read_resource(f"distill://playbooks/{pid}")).contents[0].text)
        assert res["playbook_id"] == pid
        prompt = await client.get_prompt("apply_playbook", {"task": "an async loader blocks the runtime"})
        text = prompt.messages[0].content.text
        assert "Playbooks from accepted runs" in text and "Example:" in text
        missing = await client.call_tool("search_playbooks", {"query": "x", "mode": "bogus"})
        assert missing.is_error
        with pytest.raises(Exception, match="no playbook"):
            await client.read_resource("distill://playbooks/pb-nope")


def test_get_unknown_playbook_says_what_to_do(store):
    from mcp_distill.errors import NotFoundError

    with pytest.raises(NotFoundError, match="playbooks extract"):
        get_playbook(store, "pb-000")


def test_a_playbook_that_disappears_leaves_the_index(store, embedder, tmp_path):
    from mcp_distill.search.index import Index

    collect_paths(store, Settings(db_path=store.path, roots=[PROJECT]), [str(EXAMPLES)])
    score_runs(store, load_rules())
    extract_playbooks(store)
    index_playbooks(store, embedder)
    gone = all_playbooks(store)[0].playbook_id
    with store.write() as db:
        db.conn.execute("DELETE FROM playbooks WHERE playbook_id = ?", (gone,))
    assert index_playbooks(store, embedder)["removed"] == 1
    assert gone not in Index(store, embedder, "playbooks").ids()
    found = search_playbooks(store, embedder, "review", k=50, min_strength="none")
    assert all(h.playbook.playbook_id != gone for h in found.hits)
