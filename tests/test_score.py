"""Scorer: each rule, the combination, determinism, rules from a user file, re-scoring."""

from __future__ import annotations

import pytest

from mcp_distill.errors import ConfigError
from mcp_distill.models import EvidenceRecord, Provenance
from mcp_distill.score import DEFAULT_RULES, combine, load_rules, score_records, votes_for_record

RULES = load_rules()


def rec(i: int = 0, **fields) -> EvidenceRecord:
    return EvidenceRecord(record_id=f"rec{i:013d}", stream=fields.pop("stream", "test"),
                          provenance=Provenance(source_file="t.jsonl", line_offset=i, sig_hash="0" * 16), **fields)


def category(*records: EvidenceRecord) -> str:
    return combine(list(records), RULES)[0]


@pytest.mark.parametrize(("signals", "expected"), [
    ({"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}, "positive"),
    ({"verdict": "REJECTED", "verdict_source": "observer"}, "negative"),
    ({"verdict": "needs_work", "verdict_source": "observer"}, "partial"),
    ({"severity": "block"}, "negative"),
    ({"severity": "warn"}, "partial"),
    ({"severity": "info"}, "positive"),
    ({"applier_action": "applied", "patches_applied": 2}, "positive"),
    ({"applier_action": "reverted"}, "negative"),
    ({"votes_for": 3, "votes_against": 0}, "positive"),
    ({"votes_for": 0, "votes_against": 3}, "negative"),
    ({"votes_for": 2, "votes_against": 2}, "partial"),
    ({"outcome": "resolved"}, "positive"),
    ({"outcome": "unsafe"}, "negative"),
    ({"accepted_on_attempt": 3}, "partial"),
    ({"error_count": 7}, "partial"),
])
def test_each_signal_votes(signals, expected):
    votes = votes_for_record(rec(signals=signals), RULES)
    assert [v.vote for v in votes] == [expected]
    assert votes[0].detail and votes[0].record_id == "rec0000000000000"


def test_validation_results_vote():
    def vote(*passed: bool) -> str:
        results = [{"name": f"t{i}", "passed": p} for i, p in enumerate(passed)]
        return votes_for_record(rec(validation_results=results), RULES)[0].vote

    assert vote(True, True) == "positive"
    assert vote(False, False) == "negative"
    assert vote(True, False) == "partial"


def test_low_confidence_verdict_is_noted_but_does_not_vote():
    votes = votes_for_record(rec(signals={"verdict": "accept", "confidence": 0.2}), RULES)
    assert votes[0].vote == "neutral" and "min_confidence" in votes[0].detail


def test_categories_from_votes():
    accept = rec(1, signals={"verdict": "accept", "verdict_source": "observer", "confidence": 0.9})
    tests_ok = rec(2, validation_results=[{"name": "cargo test", "passed": True}])
    reject = rec(3, signals={"verdict": "reject", "verdict_source": "observer"})
    warn = rec(4, signals={"severity": "warn"})
    late = rec(5, signals={"accepted_on_attempt": 4})
    assert category(accept, tests_ok) == "accepted"
    assert category(reject) == "rejected"
    assert category(reject, warn) == "rejected"
    assert category(accept, warn) == "partially_accepted"
    assert category(warn) == "partially_accepted"
    assert category(accept, late) == "partially_accepted"
    assert category(accept, reject) == "needs_human_review"


def test_missing_signals_need_a_human_never_a_guess():
    cat, reasons, _ = combine([rec(1, text="a fact"), rec(2, signals={"error_count": 9})], RULES)
    assert cat == "needs_human_review"
    assert "no outcome signal" in reasons[0]


def test_conflict_says_so():
    cat, reasons, _ = combine([rec(1, signals={"outcome": "resolved"}), rec(2, signals={"verdict": "fail"})], RULES)
    assert cat == "needs_human_review" and reasons[0].startswith("conflicting signals")


def test_human_override_always_wins_and_latest_counts():
    reject = rec(1, signals={"verdict": "reject", "verdict_source": "observer"})
    old = rec(2, human_override={"category": "rejected", "reason": "first look", "decided_at": "2026-04-20T10:00:00Z"})
    new = rec(3, human_override={"category": "accepted", "reason": "false alarm", "reviewer": "ana",
                                 "decided_at": "2026-04-21T10:00:00Z"})
    cat, reasons, _ = combine([new, reject, old], RULES)
    assert cat == "accepted"
    assert "human override by ana" in reasons[0] and "false alarm" in reasons[0]
    assert any(r.startswith("overridden:") for r in reasons)


def test_scoring_is_deterministic_and_order_independent():
    records = [rec(i, signals={"verdict": v}) for i, v in enumerate(["accept", "warn", "pass"])]
    a = combine(records, RULES)
    b = combine(list(reversed(records)), RULES)
    assert a == b
    scored = score_records("run:x", records, RULES)
    assert scored.scorer_version == RULES.version and scored.reasons


def test_user_rules_change_the_outcome_and_the_version(tmp_path):
    text = DEFAULT_RULES.read_text().replace('partial = ["warn", "warning", "medium"]',
                                             'partial = []\nnegative_extra = 1')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="negative_extra"):
        load_rules(bad)
    custom = tmp_path / "rules.toml"
    custom.write_text(DEFAULT_RULES.read_text().replace('positive = ["info", "low", "none", "clean"]',
                                                        'positive = ["info", "low", "none", "clean", "warn"]')
                      .replace('partial = ["warn", "warning", "medium"]', 'partial = ["warning", "medium"]'))
    rules = load_rules(custom)
    assert rules.version != RULES.version
    assert combine([rec(1, signals={"severity": "warn"})], rules)[0] == "accepted"


def test_bad_rules_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_rules(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[verdict\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_rules(broken)


def test_a_partial_rules_file_keeps_the_defaults(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert load_rules(empty).version == RULES.version
    partial = tmp_path / "partial.toml"
    partial.write_text('[errors]\nmax_errors = 10\n')
    rules = load_rules(partial)
    assert rules.errors.max_errors == 10 and rules.verdict.positive == RULES.verdict.positive
    assert rules.version != RULES.version


@pytest.mark.parametrize(("text", "message"), [
    ('[verdict]\npositive = ["accept"]\nnegative = ["accept"]\n', "both positive and negative"),
    ("[consensus]\naccept_share = 0.2\nreject_share = 0.9\n", "reject_share must be below"),
    ('[verdict]\nmin_confidence = "high"\n', "min_confidence"),
])
def test_inconsistent_rules_are_refused(tmp_path, text, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_rules(bad)
