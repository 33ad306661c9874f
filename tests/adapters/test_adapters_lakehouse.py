"""The 22 Lakehouse stream adapters and the example generator (examples/generate.py)."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import mcp_distill.adapters  # noqa: F401  (registers every adapter)
from mcp_distill.adapters.base import REGISTRY, find_adapter, text_hash
from mcp_distill.adapters.lakehouse import LakehouseAdapter
from mcp_distill.adapters.lakehouse_scrum_outcomes import decision_category
from mcp_distill.config import Settings
from mcp_distill.models import EvidenceRecord, Provenance

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"
KB = EXAMPLES / "lakehouse_kb"

STREAMS = (
    "mode_experiments", "scrum_reviews", "auto_apply", "audits", "audit_facts", "audit_lessons",
    "audit_discrepancies", "observer_escalations", "observer_reviews", "model_trust", "outcomes",
    "human_overrides", "overseer_corrections", "phase_sweep_findings", "doc_drift_corrections",
    "pathway_recommendations", "signatures", "classifications", "contract_analyses", "distilled_facts",
    "distilled_procedures", "distilled_config_hints",
)  # fmt: skip


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lakehouse_generate", EXAMPLES / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return GEN.generate(tmp_path_factory.mktemp("kb"))


def adapter_for(stream: str) -> LakehouseAdapter:
    found = [a for a in REGISTRY if a.stream == stream]
    assert len(found) == 1, f"{stream}: {len(found)} adapters registered"
    assert isinstance(found[0], LakehouseAdapter)
    return found[0]


def lines_of(stream: str) -> list[tuple[int, bytes]]:
    return list(enumerate((KB / f"{stream}.jsonl").read_bytes().splitlines(), 1))


def record(stream: str, row: dict[str, Any]) -> EvidenceRecord:
    fields = adapter_for(stream).map(row)
    for forbidden in ("record_id", "stream", "provenance"):
        assert forbidden not in fields
    return EvidenceRecord(**fields, record_id="x" * 16, stream=stream,
                          provenance=Provenance(source_file=f"{stream}.jsonl", line_offset=0, sig_hash="s" * 16))


def valid_rows(stream: str) -> list[dict[str, Any]]:
    """The rows of the committed sample that parse and pass the adapter's check."""
    rows = []
    for _, raw in lines_of(stream):
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if adapter_for(stream).check(row) is None:
            rows.append(row)
    return rows


def first_row(stream: str) -> dict[str, Any]:
    rows = valid_rows(stream)
    assert rows, f"{stream} has no valid row"
    return rows[0]


# --- registry and mapping of every generated row ------------------------------------------------


def test_one_adapter_per_seed_stream() -> None:
    lakehouse = sorted(a.stream for a in REGISTRY if isinstance(a, LakehouseAdapter))
    assert lakehouse == sorted(STREAMS)
    assert sorted(p.stem for p in KB.glob("*.jsonl")) == sorted(STREAMS)


@pytest.mark.parametrize("stream", STREAMS)
def test_every_generated_row_maps_to_a_valid_record(stream: str, manifest: dict[str, Any]) -> None:
    adapter = adapter_for(stream)
    planted = {m["line"] for m in manifest["malformed"].get(stream, [])}
    refused, mapped = set(), 0
    for n, raw in lines_of(stream):
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            refused.add(n)
            continue
        reason = adapter.check(row)
        if reason:
            assert reason.startswith(f"{stream}: "), reason
            refused.add(n)
            continue
        rec = record(stream, row)
        mapped += 1
        assert rec.timestamp is not None, f"{stream} line {n}: no timestamp"
        if rec.input_text:
            assert rec.input_hash == text_hash(rec.input_text)
        if rec.output_text:
            assert rec.output_hash == text_hash(rec.output_text)
    assert refused == planted, f"{stream}: refused lines {sorted(refused)}, planted {sorted(planted)}"
    assert mapped >= 3


def test_malformed_lines_are_where_the_manifest_says(manifest: dict[str, Any]) -> None:
    malformed = manifest["malformed"]
    assert sum(len(v) for v in malformed.values()) == 7
    assert set(malformed) == {"mode_experiments", "scrum_reviews", "auto_apply", "observer_reviews", "audits",
                              "contract_analyses"}  # fmt: skip


# --- recognition ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
def test_recognised_by_name(stream: str) -> None:
    for name in (f"{stream}.jsonl", f"2026-04-12.{stream}.jsonl", f"lakehouse_{stream}.jsonl"):
        adapter = find_adapter(Path("/data/_kb") / name, None)
        assert adapter is not None and adapter.stream == stream, name


@pytest.mark.parametrize("stream", STREAMS)
def test_recognised_by_content(stream: str) -> None:
    adapter = find_adapter(Path("/tmp/unnamed_dump.jsonl"), first_row(stream))
    assert adapter is not None and adapter.stream == stream


def test_an_unrelated_row_is_not_claimed_by_a_lakehouse_adapter() -> None:
    adapter = find_adapter(Path("/tmp/unnamed.jsonl"), {"foo": 1, "bar": "baz"})
    assert adapter is None or not isinstance(adapter, LakehouseAdapter)


# --- checks: malformed rows fail with a clear reason ------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "change", "words"),
    [
        ("mode_experiments", {"latency_ms": "fast"}, ["latency_ms", "must be a number", "'fast'"]),
        ("mode_experiments", {"ts": "yesterday"}, ["field ts", "not a timestamp"]),
        ("observer_reviews", {"confidence": "high"}, ["confidence", "must be a number"]),
        ("observer_reviews", {"confidence": 250}, ["confidence", "0..1"]),
        ("auto_apply", {"patches_applied": -1}, ["patches_applied", "negative"]),
        ("auto_apply", {"gates": ["tests"]}, ["gates", "must be an object"]),
        ("audits", {"head_sha": None}, ["missing required field(s) head_sha"]),
        ("scrum_reviews", {"accepted_on_attempt": 1.5}, ["accepted_on_attempt", "integer"]),
        ("contract_analyses", {"ok": "yes"}, ["field ok", "true or false"]),
        ("model_trust", {"attempts_made": "two"}, ["attempts_made", "integer"]),
    ],
)
def test_malformed_rows_fail_check_with_a_reason(stream: str, change: dict[str, Any], words: list[str]) -> None:
    row = {**first_row(stream), **change}
    row = {k: v for k, v in row.items() if v is not None}
    reason = adapter_for(stream).check(row)
    assert reason is not None
    for word in words:
        assert word in reason, reason


def test_a_null_required_key_counts_as_missing() -> None:
    reason = adapter_for("model_trust").check({**first_row("model_trust"), "run_id": None})
    assert reason == "model_trust: missing required field(s) run_id"


def test_a_row_that_is_not_an_object_fails_check() -> None:
    reason = adapter_for("scrum_reviews").check(["not", "an", "object"])  # type: ignore[arg-type]
    assert reason and "JSON object" in reason


# --- what the mapped fields mean ----------------------------------------------------------------------


def test_scrum_review_maps_attempts_prompt_and_review() -> None:
    rows = valid_rows("scrum_reviews")
    retry = next(r for r in rows if r["accepted_on_attempt"] == 2 and isinstance(r["review"], str)
                 and r["verdict"] == "accept")  # fmt: skip
    rec = record("scrum_reviews", retry)
    assert rec.run_id == retry["run_id"] and rec.file_path == retry["file"]
    assert rec.signals.verdict == "accept" and rec.signals.verdict_source == "scrum"
    assert rec.signals.attempts == 2 and rec.signals.accepted_on_attempt == 2
    assert rec.input_text == retry["prompt"] and rec.output_text == retry["review"]
    assert rec.model_name == retry["accepted_model"]
    assert any("attempt 1" in m and "rejected" in m for m in rec.failure_markers)
    assert "branch" in rec.extra and "attempts" in rec.extra
    forensic = next(r for r in rows if isinstance(r["review"], dict))
    assert json.loads(record("scrum_reviews", forensic).output_text or "{}")["file"] == forensic["file"]


def test_auto_apply_maps_gates_commands_and_epoch_ms() -> None:
    row = next(r for r in valid_rows("auto_apply") if r["action"] == "reverted")
    rec = record("auto_apply", row)
    assert rec.signals.applier_action == "reverted" and rec.signals.patches_applied == 0
    assert {v.name: v.passed for v in rec.validation_results}["tests"] is False
    failed = [c for c in rec.commands_run if c.exit_code not in (None, 0)]
    assert failed and failed[0].ok is False and failed[0].output_excerpt
    assert rec.timestamp is not None and abs(rec.timestamp.timestamp() * 1000 - row["ts"]) < 1
    assert rec.run_id is None  # auto_apply rows join their run by file + time window


def test_verdict_words_are_kept_raw() -> None:
    words = {record("observer_reviews", row).signals.verdict for row in valid_rows("observer_reviews")}
    assert {"accept", "reject", "needs_work"} <= words
    audits = {record("audits", row).signals.severity for row in valid_rows("audits")}
    assert {"block", "warn", "info"} <= audits


@pytest.mark.parametrize(
    ("word", "category"),
    [("approve", "accepted"), ("Approved", "accepted"), ("partial", "partially_accepted"),
     ("reject", "rejected"), ("revert", "rejected"), ("escalate", "needs_human_review"),
     ("needs review", "needs_human_review"), ("shrug", "needs_human_review")],
)  # fmt: skip
def test_human_override_decision_words(word: str, category: str) -> None:
    assert decision_category(word) == category
    rec = record("human_overrides", {"run_id": "r1", "decision": word, "decided_at": "2026-04-12T10:00:00Z"})
    assert rec.human_override is not None and rec.human_override.category == category
    assert rec.human_override.reason  # a default reason when the row has none
    assert rec.signals.verdict == word and rec.signals.verdict_source == "human"


def test_generated_human_overrides_cover_scrum_scenario_and_pr_runs() -> None:
    recs = [record("human_overrides", row) for row in valid_rows("human_overrides")]
    assert {r.human_override.category for r in recs if r.human_override} == {
        "accepted", "rejected", "partially_accepted", "needs_human_review"}
    assert any(r.pr_number and r.head_sha and not r.run_id for r in recs)
    assert all(r.human_override and r.human_override.decided_at for r in recs)


def test_consensus_votes_count_voters_holding_the_claim_true() -> None:
    row = {"pr_number": 7, "head_sha": "a" * 40, "claim_idx": 1, "claim": "c", "resolution": "fake",
           "votes": [{"verdict": "fake"}, {"verdict": "fake"}, {"verdict": "verified"}], "chosen": "x"}
    rec = record("audit_discrepancies", row)
    assert (rec.signals.votes_for, rec.signals.votes_against) == (1, 2)
    assert rec.signals.verdict == "fake" and rec.signals.verdict_source == "consensus"
    assert rec.task_id == "PR#7/claim1" and rec.output_text == "x"


def test_distilled_streams_are_told_apart_by_category() -> None:
    row = first_row("distilled_facts")
    for category, stream in (("procedural", "distilled_procedures"), ("config_hint", "distilled_config_hints"),
                             ("factual", "distilled_facts"), ("architecture", "distilled_facts")):
        adapter = find_adapter(Path("/tmp/dump.jsonl"), {**row, "category": category})
        assert adapter is not None and adapter.stream == stream, category
    rec = record("distilled_facts", row)
    assert rec.run_id == row["run_id"] and rec.text == row["text"]
    assert rec.extra["embedding"] == row["embedding"]  # kept, never mixed into the index


def test_contract_analysis_carries_observer_fields() -> None:
    row = first_row("contract_analyses")
    rec = record("contract_analyses", row)
    assert rec.signals.verdict == row["observer_verdict"] and rec.signals.verdict_source == "observer"
    assert rec.signals.confidence == row["observer_conf"] and rec.observer_notes == row["observer_notes"]
    assert rec.retrieved_context == row["matrix_corpora"] and rec.task_id == row["permit_id"]
    assert rec.cost_usd == row["cost"] and rec.latency_ms == row["duration_ms"]
    assert rec.extra["observer_src"] == row["observer_src"]


def test_percent_confidence_is_scaled() -> None:
    rec = record("observer_reviews", {"verdict": "accept", "confidence": 85, "reviewed_at": 1776000000})
    assert rec.signals.confidence == 0.85


def test_mode_experiment_extra_keeps_unmapped_keys() -> None:
    rec = record("mode_experiments", first_row("mode_experiments"))
    assert {"attempt", "mode", "matrix_hits", "response_chars"} <= set(rec.extra)
    assert rec.tokens_in and rec.tokens_out and rec.retrieved_context and rec.input_text and rec.output_text


# --- the generator ------------------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.jsonl"))}


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first = GEN.generate(tmp_path / "a")
    second = GEN.generate(tmp_path / "b")
    assert first == second
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    small = GEN.generate(tmp_path / "c", runs=5)
    assert len(small["runs"]) < len(first["runs"]) and len(_tree(tmp_path / "c")) == 22


def test_committed_examples_equal_a_fresh_generation(tmp_path: Path) -> None:
    GEN.generate(tmp_path)
    fresh, committed = _tree(tmp_path), _tree(KB)
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"{stale} differ: run `python examples/generate.py` and commit examples/lakehouse_kb"
    assert sum(len(b) for b in committed.values()) < 2_000_000


def test_generator_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert GEN.main(["--out", str(tmp_path), "--runs", "16", "--manifest"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len([k for k in out["runs"] if k.startswith("scrum-")]) == 16


def test_manifest_lays_out_every_case(manifest: dict[str, Any]) -> None:
    runs = manifest["runs"]
    assert 60 <= len(runs) <= 120
    kinds = {v["kind"] for v in runs.values()}
    assert {"accepted", "accepted_retry", "partial", "partial_late", "rejected", "conflicting",
            "override_to_accepted", "override_to_rejected", "override_conflict_partial"} <= kinds
    intended = {v["intended"] for v in runs.values()}
    assert intended == {"accepted", "partially_accepted", "rejected", "needs_human_review"}
    # recurring tasks: every scrum file has runs with different outcomes
    by_file: dict[str, set[str]] = {}
    for v in runs.values():
        if v["family"] == "scrum":
            by_file.setdefault(v["file"], set()).add(v["intended"])
    assert all(len(outcomes) >= 2 for outcomes in by_file.values())


def test_planted_secrets_are_in_the_sample(manifest: dict[str, Any]) -> None:
    blob = b"".join(_tree(KB).values()).decode()
    secrets = manifest["secrets"]
    assert secrets["openai_key"].startswith("sk-") and secrets["github_token"].startswith("ghp_")
    for value in (secrets["openai_key"], secrets["github_token"], f":{secrets['push_url_password']}@",
                  f":{secrets['db_url_password']}@", *secrets["emails"]):
        assert value in blob, value


def test_auto_apply_rows_sit_near_their_scrum_review_and_runs_of_a_file_are_apart() -> None:
    from mcp_distill.adapters.base import parse_ts

    reviews = valid_rows("scrum_reviews")
    times: dict[str, list[float]] = {}
    for r in reviews:
        times.setdefault(r["file"], []).append(parse_ts(r["reviewed_at"]).timestamp())
    for stamps in times.values():
        stamps.sort()
        assert all(b - a >= 2 * 3600 for a, b in itertools.pairwise(stamps))
    for row in valid_rows("auto_apply"):
        gap = min(abs(row["ts"] / 1000 - t) for t in times[row["file"]])
        assert gap <= 60


# --- end to end: the real collector joins the runs and the default rules score them as intended -----


def test_collected_runs_join_and_score_as_intended(store: Any, manifest: dict[str, Any]) -> None:
    from mcp_distill.collect.collector import Collector
    from mcp_distill.collect.sources import discover
    from mcp_distill.score import load_rules, score_runs

    result = Collector(store).collect(discover([KB], Settings(db_path=store.path, roots=[KB]))[0])
    assert result.total("quarantined") == 7
    stray = store.query("SELECT stream, count(*) n FROM evidence WHERE run_key NOT LIKE 'run:%' AND stream IN "
                        "('mode_experiments', 'auto_apply', 'classifications', 'signatures', "
                        "'overseer_corrections') GROUP BY stream")  # fmt: skip
    assert stray == [], "scrum-loop rows without run_id must join their run by file + time window"
    score_runs(store, load_rules())
    got = {r["run_key"]: r["category"] for r in store.query("SELECT run_key, category FROM scores")}
    for key, info in manifest["runs"].items():
        if info["family"] == "contract":
            continue  # contract analyses are runs of one record each
        run_key = key if key.startswith("pr:") else f"run:{key}"
        assert got.get(run_key) == info["intended"], f"{key} ({info['kind']})"
