"""The loops' shared prompt template: learned at extract from the prompts of several kinds of task, left
out of a playbook search's keyword leg (and of its vector leg when it is most of the prompt)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from mcp import Client

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.score import load_rules, score_runs
from mcp_distill.search.playbooks import (
    TEMPLATE_META_KEY,
    all_playbooks,
    extract_playbooks,
    index_playbooks,
    prompt_template,
    search_playbooks,
    split_prompt,
)
from mcp_distill.server import build_server

#: A harness's instructions, wrapped around every task like mini-swe-agent's or OpenHands' (written here).
HARNESS = """<instructions>
You are a software engineer working in a sandboxed checkout of the repository.
Think step by step and explain your reasoning in a THOUGHT section before each command.
Issue exactly one shell command per response, inside a fenced bash block.
Do not modify the existing test files; add a new test file when you need one.
When the change is complete, print the final diff and stop with the submit command.
Keep every edit minimal and consistent with the style of the surrounding code.
The environment has no network access and no package installs are possible.
</instructions>"""
TASKS = {
    "billing": ["The invoice total ignores the discount coupon when the currency is euro.",
                "Refunds for a cancelled invoice are booked twice in the ledger export."],
    "glacier": ["Thumbnails of archived photos in cold storage fail to render after restore.",
                "Restoring an archived photo album from cold storage loses the album cover."],
    "router": ["The nightly route planner assigns two lorries to the same depot bay.",
               "Route planner ignores the depot bay closing hours for late lorries."],
    "weather": ["The forecast widget shows yesterday's rainfall in millimetres as inches.",
                "Forecast alerts for frost arrive after sunrise instead of the evening before."],
}


def _lines() -> str:
    rows = []
    for kind, tasks in TASKS.items():
        for i, task in enumerate(tasks):
            rows.append(json.dumps({
                "schema": "mcp-distill/evidence", "stream": "evidence", "run_id": f"{kind}-run-{i}",
                "task_id": f"{kind}-{100 + i}", "task_type": "codefix", "timestamp": "2026-11-28T10:00:00Z",
                "input_text": f"<task>\n{task}\n</task>\n{HARNESS}", "signals": {"outcome": "resolved"}}))
    return "\n".join(rows) + "\n"


def test_split_prompt_drops_a_dominant_template_from_both_legs_and_a_minor_one_from_keywords():
    template = frozenset(" ".join(line.lower().split()) for line in HARNESS.splitlines()[1:-1])
    task = "Thumbnails of archived photos fail to render."
    long_wrap = split_prompt(f"{task}\n{HARNESS}", template)
    assert long_wrap.keyword_text.split("\n")[0] == task and "THOUGHT" not in long_wrap.keyword_text
    assert long_wrap.vector_text == long_wrap.keyword_text  # the template is most of the prompt
    assert long_wrap.template_words == sum(len(line.split()) for line in HARNESS.splitlines()[1:-1])
    short_wrap = "\n".join([task * 12, HARNESS.splitlines()[1]])  # the task is most of the prompt
    parts = split_prompt(short_wrap, template)
    assert "software engineer" not in parts.keyword_text and parts.vector_text == short_wrap
    only_template = "\n".join(HARNESS.splitlines()[1:-1])
    assert split_prompt(only_template, template).keyword_text == only_template  # nothing else: kept whole
    assert split_prompt(short_wrap, frozenset()).template_words == 0


def test_extract_learns_the_template_and_search_leaves_it_out(store, tmp_path, embedder):
    (tmp_path / "evidence.jsonl").write_text(_lines(), encoding="utf-8")
    collect_paths(store, Settings(db_path=store.path, roots=[tmp_path]), [str(tmp_path)])
    score_runs(store, load_rules())
    assert extract_playbooks(store)["playbooks"] == len(TASKS)
    learned = prompt_template(store)
    harness = {" ".join(line.lower().split()) for line in HARNESS.splitlines()}
    assert learned == {line for line in harness if len(line.split()) >= 3}  # the tags are too short to count
    assert not any(task.lower() in learned for tasks in TASKS.values() for task in tasks)
    # each playbook's keywords come from its own tasks, none from the harness's instructions or tags
    for pb in all_playbooks(store):
        keywords = pb.problem_pattern.split(": ", 1)[1].split(", ")
        kind = pb.title.split(": ")[1]
        task_words = {w.strip(".'").lower() for task in TASKS[kind] for w in task.split()}
        assert len(keywords) == 5 and set(keywords) <= task_words, pb.problem_pattern
    index_playbooks(store, embedder)

    query = f"<task>\nArchived photos restored from cold storage show no thumbnails.\n</task>\n{HARNESS}"
    found = search_playbooks(store, embedder, query, min_strength="none")  # 4 playbooks: no background
    assert found.template_words == sum(len(line.split()) for line in HARNESS.splitlines()[1:-1])
    assert found.hits and "glacier" in found.hits[0].playbook.title
    assert found.query == query  # the caller's text, as given

    store.set_meta(TEMPLATE_META_KEY, "[]")  # a store extracted before templates were kept
    assert search_playbooks(store, embedder, query).template_words == 0


def test_a_line_shared_by_two_kinds_of_task_is_not_template(store, tmp_path):
    shared = "Both depots report through the same regional dispatch office."
    rows = [json.dumps({"schema": "mcp-distill/evidence", "stream": "evidence", "run_id": f"{kind}-r",
                        "task_id": f"{kind}-1", "task_type": "codefix", "timestamp": "2026-11-28T10:00:00Z",
                        "input_text": f"{TASKS[kind][0]}\n{shared if kind in ('router', 'weather') else ''}",
                        "signals": {"outcome": "resolved"}}) for kind in TASKS]
    (tmp_path / "evidence.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    collect_paths(store, Settings(db_path=store.path, roots=[tmp_path]), [str(tmp_path)])
    score_runs(store, load_rules())
    extract_playbooks(store)
    assert prompt_template(store) == frozenset()


async def test_the_mcp_tool_reports_the_template_words_it_left_out(tmp_path):
    """Over a real MCP client: the harness learned at extract is left out of a new task's prompt, the
    structured result counts its words, and the new task still finds its own playbook first."""
    (tmp_path / "evidence.jsonl").write_text(_lines(), encoding="utf-8")
    server = build_server(Settings(db_path=tmp_path / "d.db", roots=[tmp_path]))
    query = f"<task>\nThe route planner sends a lorry to a depot bay that is closed.\n</task>\n{HARNESS}"
    async with Client(server) as client:
        for tool in ("collect_evidence", "score_run", "extract_playbooks"):
            args = {"paths": [str(tmp_path)]} if tool == "collect_evidence" else {}
            assert not (await client.call_tool(tool, args)).is_error
        found = await client.call_tool("search_playbooks", {"query": query, "min_strength": "none"})
    assert not found.is_error
    result = found.structured_content
    assert result["template_words"] == sum(len(line.split()) for line in HARNESS.splitlines()[1:-1])
    assert result["hits"] and "route" in result["hits"][0]["playbook"]["title"].lower()


def test_a_playbooks_keywords_leave_out_a_template_line_that_ends_the_prompt_before_the_note():
    # The prompt's last line is a template line and the record's note follows it: each text is stripped
    # on its own, so the template line's words never reach the keywords.
    from mcp_distill.models import EvidenceRecord, Provenance
    from mcp_distill.search.patterns import Harness, RunView
    from mcp_distill.search.playbook_build import build_playbook

    closing = "Reply with one patch: one unified patch, then stop."
    record = EvidenceRecord(
        record_id="rec0000000000001", stream="evidence", task_type="codefix",
        provenance=Provenance(source_file="t.jsonl", line_offset=0, sig_hash="0" * 16),
        input_text=f"Invoice totals drop cents when rounding euro invoices.\n{closing}",
        text="Carried the cents before rounding the invoice totals.")
    run = RunView("run-1", "accepted", [], [], [record])
    harness = Harness(lines=frozenset({" ".join(closing.lower().split())}))

    with_harness = build_playbook("codefix|billing", [run], datetime.now(UTC), harness)
    without = build_playbook("codefix|billing", [run], datetime.now(UTC))

    assert with_harness is not None and without is not None
    template_words = {"reply", "one", "patch", "unified", "then", "stop"}
    assert not template_words & set(with_harness.problem_pattern.replace(",", " ").split())
    assert {"invoice", "cents", "rounding"} <= set(with_harness.problem_pattern.replace(",", " ").split())
    # without the harness the template's repeated word leads the keywords: what the harness takes out
    assert "patch" in without.problem_pattern
