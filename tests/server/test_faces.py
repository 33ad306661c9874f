"""The decision tools through a real MCP client: routing_ledger, prd_drift, normalize_scratchpad, their resources."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, PROJECT
from mcp import Client
from test_drift import git  # the drift tests' git helper (a clean GIT_ env, no signing)

from mcp_distill.config import Settings
from mcp_distill.server import build_server


@pytest.fixture
def server(tmp_path):
    return build_server(Settings(db_path=tmp_path / "d.db", roots=[PROJECT, tmp_path]))


async def test_routing_ledger_ranks_and_recommends(server):
    async with Client(server) as client:
        await client.call_tool("collect_evidence", {"paths": [str(EXAMPLES)]})
        await client.call_tool("score_run", {})
        r = await client.call_tool("routing_ledger", {"task_type": "codereview_lakehouse"})
        assert not r.is_error, r.content
        entries = r.structured_content["entries"]
        assert entries and all(e["task_type"] == "codereview_lakehouse" for e in entries)
        bounds = [e["success_lower_bound"] or 0 for e in entries]
        assert bounds == sorted(bounds, reverse=True)
        for e in entries:
            assert e["success_count"] <= e["sample_count"]
        rec = r.structured_content["recommendation"]
        assert rec["model_name"] == entries[0]["model_name"] and "Runner-up" in rec["reason"]
        everything = json.loads((await client.read_resource("distill://ledger")).contents[0].text)
        assert {e["task_type"] for e in everything} >= {"codereview_lakehouse", "staffing_inference"}
        one = json.loads((await client.read_resource("distill://ledger/codereview_lakehouse")).contents[0].text)
        assert one["recommendation"]["model_name"] == rec["model_name"]
        unknown = await client.call_tool("routing_ledger", {"task_type": "no_such_task"})
        assert not unknown.is_error and "codereview_lakehouse" in unknown.structured_content["recommendation_error"]


async def test_prd_drift_reports_a_deleted_file_as_newly_broken(server, tmp_path):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text("def serve():\n    return '/v1/health'\n")
    (repo / "src" / "util.py").write_text("def helper():\n    pass\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one")
    prd = tmp_path / "PRD.md"
    prd.write_text("# Phase 1: basics\n\n- [x] `serve` in src/app.py answers `/v1/health`\n"
                   "- [x] helpers live in src/util.py\n- [x] docs in docs/guide.md\n- [x] it is fast\n")
    async with Client(server) as client:
        first = await client.call_tool("prd_drift", {"prd_path": str(prd), "repo_path": str(repo)})
        assert not first.is_error, first.content
        statuses = [c["status"] for c in first.structured_content["snapshot"]["claims"]]
        assert statuses == ["verified", "verified", "missing", "unverifiable"]
        base_id = first.structured_content["snapshot"]["snapshot_id"]
        (repo / "src" / "util.py").unlink()
        git(repo, "commit", "-qam", "drop util")
        second = await client.call_tool("prd_drift", {"prd_path": str(prd), "repo_path": str(repo),
                                                      "compare_to": base_id})
        comparison = second.structured_content["comparison"]
        assert [c["text"] for c in comparison["newly_broken"]] == ["helpers live in src/util.py"]
        latest = json.loads((await client.read_resource("distill://drift/latest")).contents[0].text)
        assert latest["snapshot_id"] == second.structured_content["snapshot"]["snapshot_id"]
        again = json.loads((await client.read_resource(f"distill://drift/{base_id}")).contents[0].text)
        assert again["snapshot_id"] == base_id
        bad = await client.call_tool("prd_drift", {"prd_path": str(prd), "repo_path": str(repo), "rev": "--all"})
        assert bad.is_error
        outside = await client.call_tool("prd_drift", {"prd_path": "/etc/hostname", "repo_path": str(repo)})
        assert outside.is_error and "outside the allowed roots" in outside.content[0].text


async def test_normalize_scratchpad_tool_and_resource(server, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Goal: ship the ledger\n\n- [x] write models\n- [ ] wire the CLI\n"
                     "Decision: keep sqlite\n$ pytest -q\n3 passed, 1 failed\nNEXT: `pytest -q tests/test_ledger.py`\n")
    async with Client(server) as client:
        r = await client.call_tool("normalize_scratchpad", {"path": str(notes), "run_id": "r1"})
        assert not r.is_error, r.content
        s = r.structured_content
        assert s["completed_steps"] == ["write models"] and "wire the CLI" in s["pending_steps"]
        assert s["validation_status"]["passed"] == 3 and s["validation_status"]["failed"] == 1
        stored = json.loads((await client.read_resource("distill://scratchpads/r1")).contents[0].text)
        assert stored["source_scratchpad_hash"] == s["source_scratchpad_hash"]
        both = await client.call_tool("normalize_scratchpad", {"text": "x", "path": str(notes)})
        assert both.is_error and "exactly one" in both.content[0].text
