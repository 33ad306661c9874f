"""Declarative mapping files (mcp_distill/adapters/mapping.py) and the documented example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcp_distill.adapters.base import Adapter, text_hash
from mcp_distill.adapters.mapping import TARGETS, load_mapping, load_mappings
from mcp_distill.errors import ConfigError
from mcp_distill.models import EvidenceRecord, Provenance

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE = PROJECT / "examples" / "mappings" / "example.toml"
SAMPLE = PROJECT / "examples" / "custom" / "eval_runs.jsonl"

MINIMAL = """
[stream]
name = "tiny"
files = ["tiny*.jsonl"]
required_keys = ["id"]

[fields]
run_id = "id"
timestamp = "when"
"""


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines()]


def record(adapter: Adapter, row: dict[str, Any]) -> EvidenceRecord:
    return EvidenceRecord(**adapter.map(row), record_id="x" * 16, stream=adapter.stream,
                          provenance=Provenance(source_file=str(SAMPLE), line_offset=0, sig_hash="s" * 16))


def write(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the documented example ------------------------------------------------------------------------


def test_example_mapping_loads_as_an_adapter() -> None:
    adapters = load_mappings([EXAMPLE])
    assert len(adapters) == 1
    adapter = adapters[0]
    assert isinstance(adapter, Adapter) and adapter.stream == "eval_runs" and adapter.priority == 40
    assert adapter.matches_name(SAMPLE) and adapter.matches_name(Path("/x/eval_runs-2026-04.jsonl"))
    assert not adapter.matches_name(Path("/x/scrum_reviews.jsonl"))
    assert adapter.can_handle(Path("/x/unnamed.jsonl"), rows()[0])
    assert not adapter.matches_content({"id": "a", "result": "pass"})  # no signature key
    assert load_mappings([EXAMPLE.parent])[0].stream == "eval_runs"  # a folder of *.toml works too


def test_every_sample_row_maps_to_a_valid_record() -> None:
    adapter = load_mapping(EXAMPLE)
    for row in rows():
        assert adapter.check(row) is None
        rec = record(adapter, row)
        assert rec.run_id == row["id"] and rec.timestamp is not None
        assert rec.signals.verdict_source == "grader"
        if rec.input_text:
            assert rec.input_hash == text_hash(rec.input_text)


def test_fields_values_and_extra_of_one_row() -> None:
    adapter = load_mapping(EXAMPLE)
    rec = record(adapter, rows()[1])
    assert rec.model_name == "gpt-oss:120b" and rec.model_provider == "ollama-cloud"
    assert rec.task_type == "rust_fix" and rec.task_id == "gateway-unwrap-header"
    assert rec.signals.verdict == "reject" and rec.signals.outcome == "failed"  # translated by [values]
    assert {v.name: v.passed for v in rec.validation_results} == {"cargo_test": False, "clippy": True}
    assert rec.commands_run[0].exit_code == 101 and rec.commands_run[0].ok is False
    assert (rec.tokens_in, rec.tokens_out, rec.cost_usd, rec.latency_ms) == (812, 64, 0.0005, 6480.0)
    assert rec.tags == ["rust", "error-handling"] and rec.failure_markers
    assert rec.extra == {"meta": {"temperature": 0.2}}  # consumed leaves removed, the rest kept


def test_human_override_through_a_mapping() -> None:
    adapter = load_mapping(EXAMPLE)
    rec = record(adapter, rows()[4])
    assert rec.human_override is not None
    assert rec.human_override.category == "accepted" and rec.human_override.reviewer == "priya.n"
    assert rec.human_override.decided_at is not None and "flaky" in rec.human_override.reason
    unknown = record(adapter, {**rows()[4], "human": {"decision": "whatever"}})
    assert unknown.human_override and unknown.human_override.category == "needs_human_review"  # the "*" rule


def test_example_collects_with_the_real_collector(store: Any) -> None:
    from mcp_distill.collect.collector import Collector

    result = Collector(store, extra_adapters=load_mappings([EXAMPLE])).collect([SAMPLE])
    assert (result.total("inserted"), result.total("quarantined")) == (6, 0)
    assert {r["stream"] for r in store.query("SELECT stream FROM evidence")} == {"eval_runs"}


def test_targets_cover_every_settable_evidence_field() -> None:
    settable = set(EvidenceRecord.model_fields) - {"record_id", "stream", "provenance", "schema_version",
                                                   "input_hash", "output_hash", "extra", "signals",
                                                   "human_override"}  # fmt: skip
    plain = {t for t in TARGETS if "." not in t}
    assert plain == settable
    from mcp_distill.models import HumanOverride, Signals

    assert {t.split(".", 1)[1] for t in TARGETS if t.startswith("signals.")} == set(Signals.model_fields)
    assert {t.split(".", 1)[1] for t in TARGETS if t.startswith("human_override.")} == set(
        HumanOverride.model_fields)


# --- rows a mapping refuses --------------------------------------------------------------------------


def test_check_reasons(tmp_path: Path) -> None:
    adapter = load_mapping(write(tmp_path, MINIMAL + '\n"signals.confidence" = "conf"\nlatency_ms = "ms"\n'))
    assert adapter.check({"when": "2026-04-20T09:00:00Z"}) == "tiny: missing required field(s) id"
    reason = adapter.check({"id": 1, "when": "yesterday"})
    assert reason and "timestamp" in reason and "'when'" in reason
    reason = adapter.check({"id": 1, "ms": "fast"})
    assert reason and "latency_ms" in reason and "number" in reason
    reason = adapter.check({"id": 1, "conf": 300})
    assert reason and "signals.confidence" in reason
    assert adapter.check({"id": 1, "when": 1776676200, "ms": 12}) is None
    assert record(adapter, {"id": 7, "when": 1776676200}).run_id == "7"  # numbers become strings


def test_untranslatable_category_is_refused_with_a_hint(tmp_path: Path) -> None:
    text = MINIMAL + '"human_override.category" = "decision"\n[values."human_override.category"]\nok = "accepted"\n'
    adapter = load_mapping(write(tmp_path, text))
    assert adapter.check({"id": 1, "decision": "ok"}) is None
    reason = adapter.check({"id": 1, "decision": "meh"})
    assert reason and "human_override.category" in reason and '[values."human_override.category"]' in reason


def test_glob_with_a_slash_matches_the_path_tail(tmp_path: Path) -> None:
    adapter = load_mapping(write(tmp_path, MINIMAL.replace('["tiny*.jsonl"]', '["runs/*.jsonl"]')))
    assert adapter.matches_name(Path("/data/runs/a.jsonl"))
    assert not adapter.matches_name(Path("/data/other/a.jsonl"))


# --- bad mapping files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (MINIMAL + 'modle_name = "model"\n', ["[fields] modle_name", "unknown target field"]),
        (MINIMAL + 'record_id = "id2"\n', ["[fields] record_id", "computed"]),
        (MINIMAL + '"signals.verdikt" = "v"\n', ["signals.verdikt", "unknown target"]),
        (MINIMAL + "model_name = 3\n", ["[fields] model_name", "list of non-empty strings"]),
        (MINIMAL.replace('name = "tiny"\n', ""), ["[stream] name", "non-empty string"]),
        (MINIMAL.replace('files = ["tiny*.jsonl"]\n', ""), ["[stream] files", "missing"]),
        (MINIMAL.replace('files = ["tiny*.jsonl"]', "files = 5"), ["[stream] files"]),
        (MINIMAL.replace("[stream]", "[stream]\nprority = 3"), ["[stream] prority", "unknown key"]),
        ('[fields]\nrun_id = "id"\n', ["[stream]", "missing"]),
        (MINIMAL + "[extras]\nx = 1\n", ["[extras]", "unknown table"]),
        (MINIMAL + '[constants]\nrun_id = "r"\n', ["[constants] run_id", "also in [fields]"]),
        (MINIMAL + '[values."signals.verdict"]\npass = "accept"\n', ['[values."signals.verdict"]', "not in [fields]"]),
        (MINIMAL + '"human_override.category" = "d"\n[values."human_override.category"]\nok = "fine"\n',
         ["human_override.category", "ok = 'fine'", "not one of"]),
        ("[stream]\nname = \"x\"\nfiles = [\"x\"]\n", ["[fields]", "missing or empty"]),
    ],
)
def test_bad_mapping_files_raise_config_error(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_mappings([path])
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[stream\nname = 'x'\n")
    with pytest.raises(ConfigError, match="invalid TOML") as err:
        load_mappings([path])
    assert str(path) in str(err.value)


def test_missing_file_and_duplicate_streams(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_mappings([tmp_path / "absent.toml"])
    write(tmp_path, MINIMAL, "a.toml")
    write(tmp_path, MINIMAL, "b.toml")
    with pytest.raises(ConfigError, match="both define stream 'tiny'"):
        load_mappings([tmp_path])
