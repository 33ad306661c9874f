"""Finding the right procedure for a task never seen before: keyword terms chosen from a long prompt
by document frequency, a match strength that says "no match" to unrelated queries, min_strength on
every face. Real SQLite, sqlite-vec, the real ONNX embedder and a real MCP client."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, PROJECT, shared_path
from mcp import Client

from mcp_distill.cli import main
from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.errors import InvalidInputError
from mcp_distill.score import load_rules, score_runs
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.playbooks import (
    _scored_runs,
    all_playbooks,
    component,
    extract_playbooks,
    pattern_key,
    playbook_id,
    search_playbooks,
    task_family,
    task_text,
)
from mcp_distill.server import build_server

BOILERPLATE = ("You are the reviewer of this repository. Review the file below, cite line numbers, propose "
               "minimal patches as unified diffs and say how to test them. ")
SUBJECTS = ["invoice", "glacier", "turbine", "orchard", "lantern", "compass", "harbour", "meadow", "quarry",
            "saddle", "violin", "walnut"]
#: Unrelated to the example KB (a few of bench/data/junk_queries.txt, which the benchmark measures in full).
JUNK = ["the cat sat on the mat", "recipe for banana bread without eggs", "the", "a an the of and",
        "who won the 1998 football world cup", "how do I tie a bowline knot"]


def test_long_prompt_keeps_its_late_informative_term_and_drops_boilerplate(store):
    index = Index(store, None, "docs")
    index.upsert([Doc(id=s, title=f"procedure {i}", text=BOILERPLATE + f"The {s} module needs care.")
                  for i, s in enumerate(SUBJECTS)])
    # 300 distinct tokens no document holds, then the one word that says which document is meant,
    # with FTS5 syntax sprinkled in: the old "first 32 / 128 tokens" cut never reached it.
    filler = " ".join(f"zz{n}q" for n in range(300))
    prompt = BOILERPLATE * 3 + 'AND ( "quoted" OR NEAR(x y) col:val * ' + filler + " Now look at the turbine."
    plan = index.keyword.plan_terms(prompt)
    assert "turbine" in plan.terms
    assert not {"review", "file", "the", "reviewer"} & set(plan.terms)  # in every document: boilerplate
    assert not any(t.startswith("zz") for t in plan.terms)  # in no document: can match nothing
    result = index.search(prompt, k=3, mode="keyword")
    assert result.hits[0].id == "turbine"
    assert index.search("turbine", k=1, mode="keyword").hits[0].id == "turbine"  # a short query works too
    # a query of boilerplate only still searches its rarest words instead of nothing
    assert index.keyword.plan_terms(BOILERPLATE).terms


@pytest.mark.parametrize("query", JUNK)
def test_unrelated_queries_find_nothing_at_the_default_strength(example_store, embedder, query):
    found = search_playbooks(example_store, embedder, query, k=5)
    assert found.hits == [] and found.nothing_relevant
    assert any("minimum strength" in w for w in found.warnings)
    everything = search_playbooks(example_store, embedder, query, k=5, min_strength="none")
    assert everything.hits and not everything.nothing_relevant
    assert all(h.match == "none" and 0 <= h.strength < 1 for h in everything.hits)


def test_a_real_task_text_finds_its_playbook_with_a_real_match(example_store, embedder):
    """Task texts of accepted runs of three kinds (scrum review, PR audit, staffing): each finds the
    playbook of its own pattern first, as at least a weak match."""
    seen: dict[str, str] = {}
    for run in _scored_runs(example_store):
        kind = pattern_key(run).split("|")[0]
        if run.category == "accepted" and kind in ("codereview_lakehouse", "pr_audit", "staffing_inference") \
                and kind not in seen and task_text(run):
            seen[kind] = run.run_key
            found = search_playbooks(example_store, embedder, task_text(run), k=3)
            assert found.hits and not found.nothing_relevant
            assert found.hits[0].playbook.playbook_id == playbook_id(pattern_key(run))
            assert found.hits[0].match in ("weak", "strong") and found.hits[0].vector_z is not None
    assert len(seen) == 3


def test_min_strength_is_checked(example_store, embedder):
    with pytest.raises(InvalidInputError, match="min_strength"):
        search_playbooks(example_store, embedder, "anything", min_strength="medium")


async def test_mcp_search_says_when_nothing_is_relevant(tmp_path):
    server = build_server(Settings(db_path=tmp_path / "d.db", roots=[PROJECT]))
    async with Client(server) as client:
        await client.call_tool("collect_evidence", {"paths": [str(EXAMPLES)]})
        await client.call_tool("score_run", {})
        await client.call_tool("extract_playbooks", {})
        junk = await client.call_tool("search_playbooks", {"query": "recipe for banana bread without eggs"})
        assert not junk.is_error and junk.structured_content["nothing_relevant"] is True
        assert junk.structured_content["hits"] == []
        all_hits = await client.call_tool("search_playbooks", {"query": "recipe for banana bread without eggs",
                                                               "min_strength": "none"})
        assert all_hits.structured_content["hits"]
        real = await client.call_tool("search_playbooks", {"query": "permit analysis for a Chicago building contract"})
        hit = real.structured_content["hits"][0]
        assert hit["match"] in ("weak", "strong") and hit["playbook"]["title"].endswith("CHI-BLD")
        bad = await client.call_tool("search_playbooks", {"query": "x", "min_strength": "medium"})
        assert bad.is_error
        prompt = await client.get_prompt("apply_playbook", {"task": "the cat sat on the mat"})
        assert "No playbook matches this kind of task" in prompt.messages[0].content.text


def test_cli_search_takes_min_strength(tmp_path, capsys):
    args = ["--db", str(tmp_path / "d.db"), "--root", str(PROJECT), "--root", str(tmp_path)]
    assert main([*args, "run", str(EXAMPLES)]) == 0
    capsys.readouterr()
    assert main([*args, "--json", "playbooks", "search", "the cat sat on the mat"]) == 0
    assert json.loads(capsys.readouterr().out)["nothing_relevant"] is True
    assert main([*args, "--json", "playbooks", "search", "the cat sat on the mat", "--min-strength", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"]
    assert main([*args, "playbooks", "search", "x", "--min-strength", "medium"]) == 2  # a choice: typer refuses it
    assert "--min-strength" in capsys.readouterr().err


@pytest.mark.parametrize(("task_id", "family"), [
    ("django__django-11099", "django"), ("HumanEval/0", "HumanEval"), ("mbpp_234_volume_cube", "mbpp"),
    ("CHI-BLD-1581469", "CHI-BLD"), ("safety-exfiltration", "safety"), ("01997ea4-a70d-7da3-8c20", None),
])
def test_task_ids_lose_their_instance_part(task_id, family):
    assert task_family(task_id) == family


def test_components_ignore_sandbox_and_home_folders():
    assert component("crates/gateway/src/v1/mode.rs") == "crates/gateway"
    assert component("/workspace/app/models/user.py") == "app/models"
    assert component("/Users/someone/proj/src/a.ts") == "proj/src"
    assert component("/workspace/notes.txt") is None  # a bare file in a sandbox names no component


def test_same_kind_runs_merge_into_one_playbook_with_stable_ids(store):
    """Real OpenAgentSafety runs each have a unique task id (safety-exfiltration, safety-workbook, ...):
    they used to make one playbook each; now the accepted ones merge, with their success statistics."""
    data = shared_path("data", "real", "openhands-sdk-openagentsafety")
    collect_paths(store, Settings(db_path=store.path, roots=[data.parent]), [str(data)])
    score_runs(store, load_rules())
    first = extract_playbooks(store)
    books = [pb for pb in all_playbooks(store) if pb.task_type == "openagentsafety"]
    assert len(books) == 1
    pb = books[0]
    assert pb.success_count >= 2 and pb.attempt_count > pb.success_count  # rejected runs of the kind count too
    assert pb.success_rate == round(pb.success_count / pb.attempt_count, 4)
    again = extract_playbooks(store)
    assert again["playbook_ids"] == first["playbook_ids"] and pb.playbook_id in again["playbook_ids"]


def _native_run(run: str, task: str, outcome: str, prompt: str) -> str:
    return json.dumps({"schema": "mcp-distill/evidence", "stream": "evidence", "run_id": run, "task_id": task,
                       "task_type": "codegen", "timestamp": "2026-11-28T10:00:00Z", "input_text": prompt,
                       "signals": {"outcome": outcome}})


def test_unique_task_ids_of_one_kind_merge_into_one_playbook(store, tmp_path):
    """Every task id unique (HumanEval/0, /1, ...): grouped by raw id each run would be its own playbook.
    The kind's runs merge into one playbook with their statistics (the rejected run counts as an attempt),
    another kind stays apart, and ids hold on re-extraction. No ../shared data needed."""
    prompts = {"HumanEval/0": "Write has_close_elements(numbers, threshold) returning True if any two floats "
                              "are closer than threshold.",
               "HumanEval/1": "Write separate_paren_groups(paren_string) splitting balanced parenthesis groups.",
               "HumanEval/2": "Write truncate_number(number) returning the decimal part of a positive float.",
               "HumanEval/3": "Write below_zero(operations) returning True if a bank balance ever drops below zero."}
    outcomes = {"HumanEval/0": "resolved", "HumanEval/1": "resolved", "HumanEval/2": "resolved",
                "HumanEval/3": "unresolved"}
    lines = [_native_run(f"r{i}", task, outcomes[task], prompts[task]) for i, task in enumerate(prompts)]
    lines.append(_native_run("r9", "invoice-approval-7", "resolved",
                             "Route the supplier invoice to the finance approver and record the decision."))
    (tmp_path / "evidence.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    collect_paths(store, Settings(db_path=store.path, roots=[tmp_path]), [str(tmp_path)])
    score_runs(store, load_rules())
    first = extract_playbooks(store)
    books = {pb.problem_pattern: pb for pb in all_playbooks(store)}
    humaneval = [pb for pb in books.values() if "HumanEval" in pb.problem_pattern]
    assert len(humaneval) == 1 and len(books) == 2
    pb = humaneval[0]
    assert (pb.success_count, pb.attempt_count) == (3, 4)
    assert extract_playbooks(store)["playbook_ids"] == first["playbook_ids"]


def test_keyword_coverage_reads_the_postings_a_fresh_tokenization_would_give(store):
    """The strength's keyword coverage takes each hit's terms from the index postings (fts5vocab), not
    from tokenizing its text again: same terms, title, text and tags included, filter facets left out."""
    index = Index(store, None, "docs")
    index.upsert([Doc(id=s, title=f"{s} procedure", text=BOILERPLATE + f"The {s} modules were rebuilt twice.",
                      tags=[s.upper(), *(["Runbooks"] if i % 3 == 2 else [])]) for i, s in enumerate(SUBJECTS)])
    plan = index.keyword.plan_terms("rebuilding the turbine modules from the runbook " + BOILERPLATE)
    rows = store.query("SELECT id, title, text, tags FROM search_docs ORDER BY id")
    ids = [r["id"] for r in rows]
    tokens = index.keyword.tokenize([f"{r['title']}\n{r['text']}\n{' '.join(json.loads(r['tags']))}" for r in rows])
    expected = {d: set(tokens[i]) & set(plan.weights) for i, d in enumerate(ids)}
    assert index.keyword.present_terms(ids, plan.weights) == {d: t for d, t in expected.items() if t}
    assert {"turbin", "runbook"} <= set(plan.weights)  # a title word and a tag of some documents
    hit = index.search("turbine runbook", k=1, mode="keyword").hits[0]
    assert hit.id == "turbine" and hit.keyword_coverage == 1.0
