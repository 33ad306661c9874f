"""The whole pipeline on the real agent runs in ../shared/data/real (read in place; skipped when absent).

Every folder is collected with no quarantined line, each source is scored as its SOURCE.md markers say,
the ledger carries per-model figures from the sources with telemetry, and SFT takes only resolved runs.
"""

from __future__ import annotations

import json

import pytest
from conftest import SHARED, shared_path

from mcp_distill.config import Settings
from mcp_distill.ledger.routing import ledger_entries
from mcp_distill.pipeline import run_pipeline
from mcp_distill.score import load_rules
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.store import open_store

RESOLVED = {"astropy__astropy-12907", "django__django-11099", "django__django-12453", "django__django-14752",
            "django__django-14915"}
UNRESOLVED = {"astropy__astropy-7746", "django__django-13660", "django__django-13768", "django__django-14411",
              "django__django-15320"}


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    data = shared_path("data", "real")
    tmp = tmp_path_factory.mktemp("real")
    store = open_store(tmp / "d.db")
    result = run_pipeline(store, Settings(db_path=tmp / "d.db", roots=[SHARED, tmp]), load_rules(), OnnxMiniLM(),
                          [str(data)], out_dir=tmp / "exports")
    yield store, result, tmp / "exports"
    store.close()


def categories(store, stream: str) -> dict[str, str]:
    rows = store.query("SELECT DISTINCT e.run_key, s.category FROM evidence e JOIN scores s ON s.run_key = e.run_key "
                       "WHERE e.stream = ?", (stream,))
    return {r["run_key"]: r["category"] for r in rows}


def test_every_folder_is_collected_and_nothing_is_quarantined(real):
    store, result, _ = real
    assert result["collect"]["quarantined"] == 0
    folders = {r["f"] for r in store.query(
        "SELECT DISTINCT substr(source_file, instr(source_file, '/data/real/') + 11) AS f FROM evidence")}
    tops = {f.split("/")[0] for f in folders}
    assert {"aider", "claude-code-spotter", "codex-cli-agentcmd", "mini-swe-agent-deepseek", "openhands",
            "openhands-sdk-openagentsafety", "swe-agent"} <= tops


def test_swe_bench_report_split_decides_the_runs(real):
    store, _, _ = real
    cats = categories(store, "swe_bench_report")
    assert {k for k, v in cats.items() if v == "accepted"} == {f"run:{i}" for i in RESOLVED}
    assert {k for k, v in cats.items() if v == "rejected"} == {f"run:{i}" for i in UNRESOLVED}


def test_openagentsafety_result_one_is_a_failure(real):
    store, _, _ = real
    rows = store.query("SELECT e.data, s.category FROM evidence e JOIN scores s ON s.run_key = e.run_key "
                       "WHERE e.stream = 'openhands_eval'")
    seen = set()
    for row in rows:
        outcome = json.loads(row["data"]).get("signals", {}).get("outcome")
        seen.add(outcome)
        if outcome == "unsafe":
            assert row["category"] == "rejected"
        if outcome == "safe":
            assert row["category"] in ("accepted", "rejected")  # a safe run can still have failed otherwise
    assert {"unsafe", "safe"} <= seen


def test_openhands_and_sessions_follow_their_markers(real):
    store, _, _ = real
    out = store.query("SELECT e.data, s.category FROM evidence e JOIN scores s ON s.run_key = e.run_key "
                      "WHERE e.stream = 'openhands_output'")
    by_outcome = {json.loads(r["data"]).get("signals", {}).get("outcome"): r["category"] for r in out}
    assert by_outcome.get("max_iterations") == "rejected"
    assert by_outcome.get("success") == "accepted"
    claude = categories(store, "claude_code_session")
    assert "needs_human_review" in claude.values()  # no session label: a human decides
    assert "accepted" not in claude.values()


def test_ledger_has_per_model_figures_from_telemetry(real):
    store, _, _ = real
    swe = {e.model_name: e for e in ledger_entries(store, task_type="swe_bench")}
    chat = swe["deepseek/deepseek-chat"]
    assert chat.sample_count >= 100 and chat.success_count == 61  # the summary's 61 resolved of 100
    assert chat.cost_total and chat.cost_total > 0 and chat.latency_p50
    aider = [e for e in ledger_entries(store) if e.task_type.startswith("aider") and e.cost_total]
    assert aider


def test_sft_takes_only_resolved_runs(real):
    store, result, exports = real
    assert result["export"]["validation"]["ok"]
    rows = [json.loads(line) for split in ("train", "validation")
            for line in (exports / "sft" / f"{split}.jsonl").read_text().splitlines()]
    assert rows
    for row in rows:
        run = store.query_one("SELECT category FROM scores WHERE run_key = ?", (row["metadata"]["run_id"],))
        assert run["category"] == "accepted"
        if row["metadata"]["task_type"] == "swe_bench":
            assert row["metadata"]["run_id"].removeprefix("run:") in RESOLVED
