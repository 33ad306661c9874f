"""Any agent log in: files of formats no adapter knows are read with inferred field roles (the generic
adapter), and ``mapping suggest`` writes a mapping that collect uses unchanged. Shapes: tests/adapters/ingest_shapes.py."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from ingest_shapes import eval_harness, research_agent, strategy_runs, trials_document, write_jsonl
from mcp import Client

from mcp_distill.adapters.mapping import parse_mapping
from mcp_distill.adapters.suggest import suggest_mapping
from mcp_distill.cli import main
from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.receipts import get_receipt
from mcp_distill.score import load_rules, score_runs
from mcp_distill.server import build_server

SHAPES = {"research.jsonl": research_agent, "eval.jsonl": eval_harness, "trials.json": trials_document}


def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "distill.db", roots=[tmp_path])


def categories(store) -> dict[str, str]:
    score_runs(store, load_rules())
    return {r["run_key"]: r["category"] for r in store.query("SELECT run_key, category FROM scores")}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_an_unknown_format_is_read_with_inferred_roles_and_scored_as_the_log_states(store, tmp_path, name):
    expected = SHAPES[name](tmp_path / name)
    result = collect_paths(store, settings(tmp_path), [str(tmp_path / name)])
    assert result.total("inserted") >= 0.9 * result.total("lines")
    assert {f.stream for f in result.files} == {"inferred"}
    assert categories(store) == expected  # every run grouped, scored with the outcome its log states
    # the mapping used is in the receipt, and it is a mapping file collect could read
    receipt = get_receipt(store, result.receipt_id)
    text = receipt.details["files"][0]["inferred_mapping"]
    assert parse_mapping(Path("receipt.toml"), tomllib.loads(text)).name == "inferred"


def test_the_research_log_keeps_its_lines_and_their_fields(store, tmp_path):
    research_agent(tmp_path / "research.jsonl")
    result = collect_paths(store, settings(tmp_path), [str(tmp_path)])
    assert (result.total("lines"), result.total("inserted"), result.total("quarantined")) == (38, 36, 2)
    run = store.query("SELECT data FROM evidence WHERE run_id = 'research:web-000' ORDER BY line_offset")
    final = json.loads(run[-1]["data"])
    assert len(run) == 3 and final["signals"]["outcome"] == "success" and final["model_name"] == "qwen2.5-72b-instruct"
    assert (final["tokens_in"], final["tokens_out"], final["task_id"]) == (900, 80, "web-000")
    assert final["timestamp"].startswith("2026-02-01T10:00:59") and final["output_text"].startswith("The answer")
    assert json.loads(run[0]["data"])["extra"]["tool"]["name"] == "search"  # nothing unmapped is lost


def test_no_infer_quarantines_as_before_and_objectless_files_stay_quarantined(store, tmp_path):
    research_agent(tmp_path / "research.jsonl")
    off = collect_paths(store, settings(tmp_path), [str(tmp_path)], infer=False)
    assert off.total("inserted") == 0 and off.total("quarantined") == 38 and off.files[0].stream is None
    write_jsonl(tmp_path / "counters.jsonl", [{"foo": i, "bar": [i]} for i in range(3)])
    on = collect_paths(store, settings(tmp_path), [str(tmp_path / "counters.jsonl")])
    assert on.total("inserted") == 0 and on.total("quarantined") == 3
    assert any("mapping suggest" in w for w in on.as_dict()["warnings"])


def test_same_task_ids_in_two_files_are_distinct_runs(store, tmp_path):
    expected = strategy_runs(tmp_path)
    collect_paths(store, settings(tmp_path), [str(tmp_path)])
    assert categories(store) == expected and len(expected) == 10


def test_identical_lines_in_two_files_are_two_records_and_a_file_read_again_adds_none(store, tmp_path):
    rows = [{"run": "shared-run", "prompt": "Summarise the paper. " * 6, "ok": True}]
    for name in ("worker_a.jsonl", "worker_b.jsonl"):
        write_jsonl(tmp_path / name, rows)
    first = collect_paths(store, settings(tmp_path), [str(tmp_path)])
    assert first.total("inserted") == 2 and first.total("duplicates") == 0
    assert collect_paths(store, settings(tmp_path), [str(tmp_path / "worker_a.jsonl")]).total("inserted") == 0
    # rewritten with a new first line: read again from the start, and only the new line is new
    write_jsonl(tmp_path / "worker_a.jsonl", [{**rows[0], "ok": False}, *rows])
    again = collect_paths(store, settings(tmp_path), [str(tmp_path / "worker_a.jsonl")])
    assert again.files[0].restarted and (again.total("inserted"), again.total("duplicates")) == (1, 1)
    assert store.query_one("SELECT count(DISTINCT run_key) AS n FROM evidence")["n"] == 1


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_suggested_mapping_used_unedited_scores_as_the_log_states(store, tmp_path, name):
    expected = SHAPES[name](tmp_path / name)
    suggestion = suggest_mapping([tmp_path / name])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(suggestion.toml)
    result = collect_paths(store, settings(tmp_path), [str(tmp_path / name)], mapping_files=[str(mapping)])
    assert {f.stream for f in result.files} == {suggestion.name} and result.as_dict()["warnings"] == []
    assert result.total("inserted") >= 0.9 * result.total("lines")
    assert categories(store) == expected
    targets = {f.target: f.source for f in suggestion.fields}
    assert "signals.outcome" in targets and "run_id" in targets


def test_suggestion_names_roles_with_example_values(tmp_path):
    eval_harness(tmp_path / "eval.jsonl")
    suggestion = suggest_mapping([tmp_path / "eval.jsonl"])
    targets = {f.target: f.source for f in suggestion.fields}
    assert targets == {"run_id": "{file_stem}:{question_id}", "signals.outcome": "correct", "task_id": "question_id",
                       "timestamp": "created", "model_name": "model", "latency_ms": "latency_ms",
                       "input_text": "question", "output_text": "answer"}
    assert set(suggestion.unmapped) == {"idx", "target"}
    assert '# outcome (yes/no values); bool in 100% of rows, 2 distinct, e.g. false, true' in suggestion.toml
    assert "#   target: str in 100% of rows" in suggestion.toml
    data = tomllib.loads(suggestion.toml)
    assert set(data["stream"]["required_keys"]) == {"question_id", "correct"}
    assert data["values"]["signals.outcome"] == {"true": "success", "false": "failure"}
    doc = tmp_path / "trials.json"
    trials_document(doc)
    assert tomllib.loads(suggest_mapping([doc]).toml)["stream"]["records"] == "/trials"


def test_cli_mapping_suggest_then_collect(tmp_path, capsys):
    expected = strategy_runs(tmp_path)
    base = ["--db", str(tmp_path / "d.db"), "--root", str(tmp_path)]
    files = [str(tmp_path / "react.jsonl"), str(tmp_path / "reflexion.jsonl")]
    assert main([*base, "mapping", "suggest", *files, "--name", "hotpot"]) == 0
    printed = capsys.readouterr().out
    (tmp_path / "hotpot.toml").write_text(printed)
    assert tomllib.loads(printed)["stream"]["files"] == ["react.jsonl", "reflexion.jsonl"]
    assert main([*base, "mapping", "suggest", *files, "--out", str(tmp_path / "hotpot.toml")]) == 1  # exists
    assert "pass --force" in capsys.readouterr().err
    assert main([*base, "--json", "collect", *files, "--mapping", str(tmp_path / "hotpot.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 10
    assert main([*base, "--json", "score"]) == 0
    assert json.loads(capsys.readouterr().out)["by_category"] == {
        category: sum(v == category for v in expected.values()) for category in ("accepted", "rejected")}
    assert main([*base, "mapping", "suggest", str(tmp_path / "missing.jsonl")]) == 1


async def test_mcp_suggest_mapping_tool(tmp_path):
    eval_harness(tmp_path / "eval.jsonl")
    async with Client(build_server(settings(tmp_path))) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["suggest_mapping"].annotations.read_only_hint is True
        r = await client.call_tool("suggest_mapping", {"paths": ["eval.jsonl"]})
        assert not r.is_error and r.structured_content["name"] == "eval"
        assert "[values.\"signals.outcome\"]" in r.structured_content["toml"]
        outside = await client.call_tool("suggest_mapping", {"paths": ["/etc/hostname"]})
        assert outside.is_error
        collected = await client.call_tool("collect_evidence", {"paths": ["eval.jsonl"], "infer": False})
        assert collected.structured_content["quarantined"] == 10


def test_redact_on_collect_also_scrubs_the_inferred_mapping_and_warnings(tmp_path):
    from test_redact_on_collect import SECRETS, _found, _text_values

    from mcp_distill.store import open_store

    secret = SECRETS[0]
    rows = [{"task_id": f"t{i}", "prompt": f"deploy with {secret} please " * 3, "status": ["passed", secret][i % 2]}
            for i in range(4)]
    write_jsonl(tmp_path / "ops.jsonl", rows)
    store = open_store(tmp_path / "distill.db")
    try:
        result = collect_paths(store, settings(tmp_path), [str(tmp_path / "ops.jsonl")], redact=True)
        assert result.files[0].stream == "inferred" and result.files[0].inferred_mapping
    finally:
        store.close()
    assert {s for v in _text_values(tmp_path / "distill.db")[1] for s in _found(v)} == set()
