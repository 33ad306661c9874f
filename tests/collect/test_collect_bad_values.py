"""Collect never drops a good line: a line with an out-of-range number, a bad timestamp or duplicate
keys is quarantined on its own (with its reason) and every other line of the file is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings

GOOD = {"ts": "2026-04-12T06:02:51Z", "task_class": "codereview_lakehouse", "mode": "codereview_lakehouse",
        "model": "qwen2.5-coder:32b", "role": "primary", "attempt": 1, "file_path": "src/a.rs",
        "prompt": "review", "response": "ok", "latency_ms": 1200}

BAD_LINES = {
    "epoch far in the future": '{"ts": 1e20, "model": "m", "mode": "x", "task_class": "x", "prompt": "p"}',
    "epoch far in the past": '{"ts": -1e20, "model": "m", "mode": "x", "task_class": "x", "prompt": "p"}',
    "duplicate top-level key": '{"ts": "2026-04-12T06:02:51Z", "model": "a", "model": "b", "mode": "x", '
                               '"task_class": "x", "prompt": "p"}',
    "duplicate nested key": '{"ts": "2026-04-12T06:02:51Z", "model": "a", "mode": "x", "task_class": "x", '
                            '"prompt": "p", "meta": {"k": 1, "k": 2}}',
}


def _write(folder: Path, bad: str) -> Path:
    path = folder / "mode_experiments.jsonl"
    lines = []
    for i in range(4):
        lines.append(json.dumps(GOOD | {"attempt": i + 1, "ts": f"2026-04-12T06:0{i}:00Z"}))
        if i == 1:
            lines.append(bad)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_one_bad_value_quarantines_one_line(store, tmp_path, kind):
    folder = tmp_path / "src"
    folder.mkdir()
    path = _write(folder, BAD_LINES[kind])
    result = collect_paths(store, Settings(roots=[tmp_path]), [str(folder)])
    assert result.skipped_files == []
    assert result.total("inserted") == 4
    assert result.total("quarantined") == 1
    rows = store.query("SELECT source_file, line_offset, reason FROM quarantine")
    assert len(rows) == 1
    assert rows[0]["source_file"] == str(path)
    offset = path.read_bytes().index(BAD_LINES[kind].encode())
    assert rows[0]["line_offset"] == offset
    assert rows[0]["reason"]


def test_duplicate_key_reason_names_the_key(store, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    _write(folder, BAD_LINES["duplicate nested key"])
    collect_paths(store, Settings(roots=[tmp_path]), [str(folder)])
    reason = store.query_one("SELECT reason FROM quarantine")["reason"]
    assert "duplicate key" in reason and "'k'" in reason


def test_keys_that_only_look_alike_are_not_duplicates(store, tmp_path):
    """`":` inside string values (serialized JSON in a prompt) and equal keys in sibling objects are fine."""
    folder = tmp_path / "src"
    folder.mkdir()
    row = GOOD | {"prompt": json.dumps({"model": "x", "a": {"model": "y"}}), "meta": [{"k": 1}, {"k": 2}]}
    (folder / "mode_experiments.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(GOOD) + "\n")
    result = collect_paths(store, Settings(roots=[tmp_path]), [str(folder)])
    assert result.total("quarantined") == 0
    assert result.total("inserted") == 2


def test_integer_past_64_bits_in_a_column_quarantines_one_line(store, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    audit = {"pr_number": 101, "head_sha": "52ee1db9d772497de1568700556048dd3805dc9b", "verdict": "pass",
             "audited_at": "2026-04-12T06:40:00Z", "title": "t"}
    lines = [json.dumps(audit | {"pr_number": n}) for n in (1, 2, 123456789012345678901234567890, 3)]
    (folder / "audits.jsonl").write_text("\n".join(lines) + "\n")
    result = collect_paths(store, Settings(roots=[tmp_path]), [str(folder)])
    assert (result.total("inserted"), result.total("quarantined"), result.skipped_files) == (3, 1, [])


def test_an_unreadable_timestamp_quarantines_its_line_with_the_reason(store, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    bad = ["2026-13-45T99:00:00Z", 1e20]
    lines = [json.dumps(GOOD | {"ts": ts, "attempt": i}) for i, ts in enumerate([*bad, "2026-04-12T06:00:00Z"])]
    (folder / "mode_experiments.jsonl").write_text("\n".join(lines) + "\n")
    result = collect_paths(store, Settings(roots=[tmp_path]), [str(folder)])
    assert (result.total("inserted"), result.total("quarantined")) == (1, 2)
    reasons = [r["reason"] for r in store.query("SELECT reason FROM quarantine ORDER BY line_offset")]
    assert "not a timestamp" in reasons[0]
    assert "out of range" in reasons[1]
