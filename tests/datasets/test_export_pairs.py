"""Preference pairs are two pieces of evidence: different runs, or two different attempts of one run, never one line."""

from __future__ import annotations

import copy

import orjson
import pytest
from test_export import mixed, mixed_rows, read_rows  # noqa: F401  (the shared fixture and its rows)

from mcp_distill.datasets.build import export_dataset, validate_export
from mcp_distill.datasets.preference import pair_problem

PAIRS = "preference/train.jsonl"


def line(prov):
    return prov["source_file"], prov["line_offset"]


def test_every_written_pair_is_two_pieces_of_evidence_and_the_receipt_counts_the_rest(mixed, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    result = export_dataset(mixed, "preference", str(out))
    pairs = read_rows(out, PAIRS)
    assert pairs
    for row in pairs:
        meta = row["metadata"]
        assert line(meta["provenance"][0]) != line(meta["provenance"][1])
        if meta["chosen_run_id"] == meta["rejected_run_id"]:
            assert meta["source"] == "attempts"
            assert None not in (meta["chosen_attempt"], meta["rejected_attempt"])
            assert meta["chosen_attempt"] != meta["rejected_attempt"]
    receipt = orjson.loads((out / "receipt.json").read_bytes())
    dropped = receipt["details"]["preference_pairs_dropped"]
    # the PR audit's consensus split holds both rationales on one line: a candidate, never a pair
    assert dropped["one_source_line"] == 1
    assert receipt["record_counts"]["detail"]["pairs_dropped_one_source_line"] == 1
    assert any(w.startswith("preference:") for w in receipt["warnings"])
    warning = next(w for w in result["warnings"] if w.startswith("preference:"))
    assert f"{sum(dropped.values())} candidate pair(s) dropped" in warning and "one source line" in warning
    assert validate_export(mixed, out).ok


def test_pair_problem_names_each_reason():
    prov = {"source_file": "a.jsonl", "line_offset": 0, "sig_hash": "0" * 16}
    other = {"source_file": "a.jsonl", "line_offset": 90, "sig_hash": "1" * 16}
    row = {"metadata": {"chosen_run_id": "r1", "rejected_run_id": "r2", "provenance": [prov, other]}}
    assert pair_problem(row) is None
    same_line = copy.deepcopy(row)
    same_line["metadata"]["provenance"][1] = dict(prov, sig_hash="2" * 16)
    assert pair_problem(same_line) == "one_source_line"
    one_run = copy.deepcopy(row)
    one_run["metadata"]["rejected_run_id"] = "r1"
    assert pair_problem(one_run) == "one_run_without_attempts"
    one_run["metadata"].update(chosen_attempt=2, rejected_attempt=2)
    assert pair_problem(one_run) == "one_run_without_attempts"
    one_run["metadata"]["rejected_attempt"] = 1
    assert pair_problem(one_run) is None


def _within(row):
    return row["metadata"]["chosen_run_id"] == row["metadata"]["rejected_run_id"]


TAMPER = {
    "one line on both sides": (lambda r: not _within(r), lambda m: m["provenance"].__setitem__(1, m["provenance"][0]),
                               "different source lines"),
    "one run without attempts": (lambda r: not _within(r), lambda m: m.update(rejected_run_id=m["chosen_run_id"]),
                                 "two different attempts"),
    "wrong attempt number": (_within, lambda m: m.update(rejected_attempt=3), "is not attempt 3"),
    "an override pair inside one run": (_within, lambda m: m.update(source="override"), "inside one run"),
}


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_validator_refuses_a_pair_that_is_not_two_pieces_of_evidence(mixed, tmp_path, name):  # noqa: F811
    pick, change, message = TAMPER[name]
    out = tmp_path / "out"
    export_dataset(mixed, "preference", str(out))
    rows = read_rows(out, PAIRS)
    target = next(r for r in rows if pick(r))
    change(target["metadata"])
    (out / PAIRS).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    report = validate_export(mixed, out)
    assert not report.ok
    assert any(message in e for e in report.errors), report.errors
