"""Collect never drops a good line: one bad value quarantines its own line, with the reason, and the rest goes in."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from mcp_distill.adapters.base import canonical_json
from mcp_distill.collect.collector import BIG_PAGE_CACHE_KIB, collect_paths
from mcp_distill.collect.sources import has_long_digit_run, json_line_problem
from mcp_distill.config import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lakehouse_kb"


def good(i: int) -> bytes:
    return orjson.dumps({"run_id": f"g{i}", "timestamp": "2026-04-20T10:00:00Z", "model_name": "m",
                         "text": f"good line {i}"})


def collect_with(store, tmp_path: Path, name: str, lines: list[bytes]) -> tuple[list[str], object]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / name).write_bytes(b"\n".join(lines) + b"\n")
    result = collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[root]), [str(root)])
    assert not result.skipped_files, result.skipped_files
    return [r["reason"] for r in store.query("SELECT reason FROM quarantine ORDER BY line_offset")], result


def scrum_lines(**planted: object) -> list[bytes]:
    """Three real scrum_reviews lines, the middle one with ``planted`` values (written verbatim)."""
    first, middle, last = EXAMPLES.joinpath("scrum_reviews.jsonl").read_bytes().splitlines()[:3]
    text = middle.decode()
    for key, raw in planted.items():
        value = orjson.loads(middle)[key]
        text = text.replace(f'"{key}":{orjson.dumps(value).decode()}', f'"{key}":{raw}', 1)
    assert text != middle.decode()
    return [first, text.encode(), last]


@pytest.mark.parametrize("raw", ["1e20", "-1e20", "1e300"])
def test_a_numeric_timestamp_out_of_range_quarantines_its_line_only(store, tmp_path, raw):
    # 1e20 used to raise OSError (EOVERFLOW) in the adapter and skip the whole file with exit code 0
    reasons, result = collect_with(store, tmp_path, "scrum_reviews.jsonl", scrum_lines(reviewed_at=raw))
    assert result.total("inserted") == 2 and result.total("quarantined") == 1
    assert len(reasons) == 1 and "out of range" in reasons[0] and "collect again" in reasons[0]


@pytest.mark.parametrize("raw", ['"yesterday"', '"2026-13-45T10:00:00Z"', '"99999-01-01"'])
def test_a_timestamp_that_is_no_time_quarantines_its_line_only(store, tmp_path, raw):
    reasons, result = collect_with(store, tmp_path, "scrum_reviews.jsonl", scrum_lines(reviewed_at=raw))
    assert result.total("inserted") == 2 and len(reasons) == 1
    assert "timestamp" in reasons[0]


def test_a_bad_timestamp_in_a_trace_adapter_is_quarantined_not_dropped_silently(store, tmp_path):
    line = {"timestamp": "not a time", "type": "response_item",
            "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}
    meta = {"timestamp": "2025-09-24T19:22:20.000Z", "type": "session_meta",
            "payload": {"id": "0199-abc", "timestamp": "2025-09-24T19:22:20.000Z", "cwd": "/w", "originator": "codex_cli_rs",
                        "cli_version": "0.39.0", "instructions": None}}
    ok = {**line, "timestamp": "2025-09-24T19:22:21.000Z"}
    reasons, result = collect_with(store, tmp_path, "rollout-2025-09-24T19-22-20-0199.jsonl",
                                   [orjson.dumps(meta), orjson.dumps(line), orjson.dumps(ok)])
    assert any(r.startswith("bad timestamp:") and "'not a time'" in r for r in reasons), reasons
    assert result.total("quarantined") == 1 and result.total("inserted") >= 1  # the good message went in


def test_duplicate_keys_quarantine_their_line_with_the_key_named(store, tmp_path):
    dup = b'{"run_id":"d1","timestamp":"2026-04-20T10:00:00Z","model_name":"m","text":"kept?","text":"or this?"}'
    reasons, result = collect_with(store, tmp_path, "a.evidence.jsonl", [good(1), dup, good(2)])
    assert result.total("inserted") == 2
    assert reasons == [reasons[0]] and "duplicate key 'text'" in reasons[0]


def test_a_duplicate_key_written_with_blanks_before_its_colon_is_found(store, tmp_path):
    dup = b'{"run_id" : "d2", "timestamp" : "2026-04-20T10:00:00Z", "model_name" : "m", "text" : "a", "text" : "b"}'
    reasons, result = collect_with(store, tmp_path, "a.evidence.jsonl", [good(1), dup, good(2)])
    assert result.total("inserted") == 2 and "duplicate key 'text'" in reasons[0]


def test_a_duplicate_key_deep_inside_a_line_is_found(store, tmp_path):
    nested = scrum_lines(attempts='[{"attempt":1,"model":"a","model":"b","verdict":"accepted"}]')
    reasons, result = collect_with(store, tmp_path, "scrum_reviews.jsonl", nested)
    assert result.total("inserted") == 2 and "duplicate key 'model'" in reasons[0]


@pytest.mark.parametrize("number", ["9223372036854775808", "99999999999999999999", "-9223372036854775809"])
def test_integers_beyond_64_bits_quarantine_their_line(store, tmp_path, number):
    # 2**63 in pr_number used to crash the whole collect in SQLite; larger ones became floats silently
    big = b'{"run_id":"b1","timestamp":"2026-04-20T10:00:00Z","model_name":"m","text":"t","pr_number":' + \
        number.encode() + b"}"
    reasons, result = collect_with(store, tmp_path, "a.evidence.jsonl", [good(1), big, good(2)])
    assert result.total("inserted") == 2 and len(reasons) == 1 and "does not fit signed 64 bits" in reasons[0]


@pytest.mark.parametrize("raw", [
    b"", b"1" * 18, b"1" * 19, b"x" + b"0123456789" * 2, b"123456789 0123456789", b"\xd9\xa1" * 19 + b"12345678901234567",
    "\u0661".encode() * 20, b'{"id": "' + b"9" * 18 + b'", "n": 1}', b"-" + b"5" * 19 + b".0",
])
def test_the_long_digit_run_check_is_the_regular_expression(raw):
    # the pre-check that sends a line to the exact (slow) parse: ASCII digits only, as rb"\d" matches
    assert has_long_digit_run(raw) == bool(re.search(rb"\d{19}", raw))


@pytest.mark.parametrize("raw", [
    b'{"a": "{\\"a\\": 1, \\"a\\": 2}", "b": ":x", "c": "id 1234567890123456789012 in text"}',  # JSON in a string
    b'{"k" : 1, "l"\t:\n2, "m": [{"k": 1}, {"k": 2}]}',  # blanks before colons, same key in sibling objects
    b'{"n": 9223372036854775807, "o": -9223372036854775808, "p": 1.5e300}',
])
def test_lines_without_duplicates_or_huge_integers_pass_the_check(raw):
    assert json_line_problem(raw, canonical_json(orjson.loads(raw))) is None


def test_big_collect_writes_with_a_small_page_cache_then_restores_it(store, tmp_path, monkeypatch):
    """A big collect's writer holds a 16 MiB page cache (peak RSS, #19) while it stores, and the store's after."""
    from mcp_distill.collect import repository as repo
    from mcp_distill.collect import workers

    monkeypatch.setattr(workers, "POOL_MIN_BYTES", 0)  # every collect counts as big
    before = repo.page_cache(store)
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.jsonl").write_bytes(b"\n".join(good(i) for i in range(50)) + b"\n")
    seen: list[tuple[str, int]] = []
    result = collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[root]), [str(root)],
                           progress=lambda done, total, name: seen.append((name, repo.page_cache(store))))
    assert result.total("inserted") == 50
    assert seen == [("a.jsonl", -BIG_PAGE_CACHE_KIB), ("done", before)]  # "done": reported after the collect
    assert repo.page_cache(store) == before == -65536
