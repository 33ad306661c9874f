"""Mappings that cover real formats: whole JSON/YAML documents (records selector), run-id templates over
fields and the file, yes/no outcome tables, per-file defaults, and collect's warning for untranslated
outcome values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_shapes import write_jsonl

from mcp_distill.adapters.mapping import bool_word, load_mapping, select_records
from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.errors import ConfigError
from mcp_distill.receipts import get_receipt
from mcp_distill.score import load_rules, score_runs


def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "distill.db", roots=[tmp_path])


def mapping(tmp_path: Path, body: str, files: str = '["*.jsonl", "*.json", "*.yaml"]') -> str:
    path = tmp_path / "m.toml"
    path.write_text(f'[stream]\nname = "bench"\nfiles = {files}\n{body}')
    return str(path)


def categories(store) -> dict[str, str]:
    score_runs(store, load_rules())
    return {r["run_key"]: r["category"] for r in store.query("SELECT run_key, category FROM scores")}


def test_yes_no_words():
    assert [bool_word(v) for v in (True, 1, "yes", " Y ", "1", "true")] == ["true"] * 6
    assert [bool_word(v) for v in (False, 0, 0.0, "no", "N", "false")] == ["false"] * 6
    assert [bool_word(v) for v in ("maybe", 2, None, [])] == [None] * 4


def test_records_selector_pointer_dotted_and_members():
    doc = {"run": {"results": [{"a": 1}, {"a": 2}]}, "by_task": {"t1": {"ok": True}, "t2": {"ok": False}}}
    assert select_records(doc, "/run/results") == [{"a": 1}, {"a": 2}] == select_records(doc, "run.results")
    assert select_records(doc, "/run/results/1") == [{"a": 2}]
    assert select_records(doc, "/by_task") == [{"_key": "t1", "ok": True}, {"_key": "t2", "ok": False}]
    assert select_records([{"a": 1}], None) == [{"a": 1}] and select_records({"a": 1}, "") == [{"a": 1}]
    with pytest.raises(ValueError, match="no 'trials' at the top"):
        select_records(doc, "/trials")


def test_whole_documents_json_and_yaml_through_a_mapping(store, tmp_path):
    trials = [{"id": f"t{i}", "passed": i % 2 == 0} for i in range(4)] + ["not an object"]
    (tmp_path / "run1.json").write_text(json.dumps({"meta": {"model": "m"}, "data": {"trials": trials}}))
    (tmp_path / "run2.yaml").write_text("data:\n  trials:\n    - id: y0\n      passed: yes\n    - id: y1\n"
                                        "      passed: 'no'\n")
    m = mapping(tmp_path, 'records = "/data/trials"\n[fields]\nrun_id = "{file_stem}:{id}"\n'
                          '"signals.outcome" = "passed"\n')
    result = collect_paths(store, settings(tmp_path), [str(tmp_path / "run1.json"), str(tmp_path / "run2.yaml")],
                           mapping_files=[m])
    assert (result.total("inserted"), result.total("quarantined")) == (6, 1)  # the string item alone
    assert categories(store) == {"run:run1:t0": "accepted", "run:run1:t1": "rejected", "run:run1:t2": "accepted",
                                 "run:run1:t3": "rejected", "run:run2:y0": "accepted", "run:run2:y1": "rejected"}
    reason = store.query_one("SELECT reason FROM quarantine")["reason"]
    assert "not a JSON object but str (item 4)" in reason
    again = collect_paths(store, settings(tmp_path), [str(tmp_path)], mapping_files=[m])
    assert again.total("inserted") == 0  # unchanged documents add nothing


def test_a_selector_that_finds_nothing_quarantines_the_document_with_the_fix(store, tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"results": []}))
    m = mapping(tmp_path, 'records = "/trials"\n[fields]\nrun_id = "id"\n')
    result = collect_paths(store, settings(tmp_path), [str(tmp_path / "x.json")], mapping_files=[m])
    assert result.total("quarantined") == 1
    assert "point [stream] records at the list of records" in store.query_one("SELECT reason FROM quarantine")["reason"]


def test_run_id_templates_fall_back_and_keep_strategies_apart(store, tmp_path):
    for name in ("react", "reflexion"):
        write_jsonl(tmp_path / f"{name}.jsonl", [{"task": "q1", "seed": 7, "ok": name == "react"},
                                                 {"task": "q2", "ok": True}])
    m = mapping(tmp_path, '[fields]\nrun_id = ["{file_stem}:{task}:{seed}", "{file_stem}:{task}"]\n'
                          '"signals.outcome" = "ok"\n')
    collect_paths(store, settings(tmp_path), [str(tmp_path)], mapping_files=[m])
    assert categories(store) == {"run:react:q1:7": "accepted", "run:react:q2": "accepted",
                                 "run:reflexion:q1:7": "rejected", "run:reflexion:q2": "accepted"}
    extra = json.loads(store.query_one("SELECT data FROM evidence LIMIT 1")["data"])["extra"]
    assert "task" in extra  # fields named only in a template stay in extra


def test_outcome_tables_accept_every_yes_no_spelling(store, tmp_path):
    values = [True, False, "yes", "no", 1, 0, "Y", "N"]
    write_jsonl(tmp_path / "yn.jsonl", [{"id": f"r{i}", "solved": v} for i, v in enumerate(values)])
    m = mapping(tmp_path, '[fields]\nrun_id = "id"\n"signals.outcome" = "solved"\n'
                          '[values."signals.outcome"]\ntrue = "success"\nfalse = "failure"\n')
    result = collect_paths(store, settings(tmp_path), [str(tmp_path)], mapping_files=[m])
    assert result.as_dict()["warnings"] == []
    assert categories(store) == {f"run:r{i}": "accepted" if i % 2 == 0 else "rejected" for i in range(8)}


def test_a_yes_no_outcome_needs_no_table(store, tmp_path):
    write_jsonl(tmp_path / "yn.jsonl", [{"id": "a", "correct": True}, {"id": "b", "correct": "no"}])
    m = mapping(tmp_path, '[fields]\nrun_id = "id"\n"signals.outcome" = "correct"\n')
    collect_paths(store, settings(tmp_path), [str(tmp_path)], mapping_files=[m])
    assert categories(store) == {"run:a": "accepted", "run:b": "rejected"}


def test_untranslated_outcome_values_are_warned_in_summary_and_receipt(store, tmp_path):
    write_jsonl(tmp_path / "ev.jsonl", [{"id": f"r{i}", "grade": g} for i, g in enumerate(["A", "F", "C", "C"])])
    m = mapping(tmp_path, '[fields]\nrun_id = "id"\n"signals.outcome" = "grade"\n'
                          '[values."signals.outcome"]\nA = "success"\nF = "failure"\n')
    result = collect_paths(store, settings(tmp_path), [str(tmp_path)], mapping_files=[m])
    warnings = result.as_dict()["warnings"]
    assert len(warnings) == 1 and "'C' (2 lines)" in warnings[0] and "from 'grade'" in warnings[0]
    receipt = get_receipt(store, result.receipt_id)
    assert any("'C' (2 lines)" in w for w in receipt.warnings)
    assert categories(store)["run:r2"] == "needs_human_review"


def test_defaults_per_file_and_for_every_file(store, tmp_path):
    (tmp_path / "bench_a").mkdir()
    for name in ("react_1.jsonl", "plain.jsonl"):
        write_jsonl(tmp_path / "bench_a" / name, [{"id": name, "model": None}])
    write_jsonl(tmp_path / "bench_a" / "own.jsonl", [{"id": "own", "model": "mine"}])
    m = mapping(tmp_path, '[fields]\nrun_id = "id"\nmodel_name = "model"\n[defaults]\ntask_type = "{parent}"\n'
                          'model_name = "unknown"\n[defaults."react_*.jsonl"]\nmodel_name = "gpt-4o"\n')
    collect_paths(store, settings(tmp_path), [str(tmp_path)], mapping_files=[m])
    rows = {r["run_id"]: (r["model_name"], r["task_type"]) for r in store.query("SELECT * FROM evidence")}
    assert rows == {"react_1.jsonl": ("gpt-4o", "bench_a"), "plain.jsonl": ("unknown", "bench_a"),
                    "own": ("mine", "bench_a")}


@pytest.mark.parametrize(("body", "words"), [
    ('[fields]\nrun_id = "{file_stem"\n', ["braces paired"]),
    ('[fields]\nrun_id = "id"\n[defaults]\nmodel_name = "{model}"\n', ["{model}", "[fields]"]),
    ('[fields]\nrun_id = "id"\n[constants]\nmodel_name = "a"\n[defaults]\nmodel_name = "b"\n', ["[constants]"]),
    ('records = 3\n[fields]\nrun_id = "id"\n', ["records", "JSON Pointer"]),
])
def test_bad_new_keys_are_refused_with_the_fix(tmp_path, body, words):
    with pytest.raises(ConfigError) as exc:
        load_mapping(mapping(tmp_path, body))
    assert all(w in str(exc.value) for w in words)
