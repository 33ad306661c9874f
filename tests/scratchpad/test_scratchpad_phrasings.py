"""The phrasings real notes use for decisions, the next command, test results and paths (issue 14),
and the note-set benchmark's bound (bench/data/scratchpad_notes.yaml, F1 >= 0.9 per field)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcp_distill.scratchpad.normalize import normalize_text
from mcp_distill.scratchpad.phrases import decisions_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("line, expected", [
    ("Decided to drop X because Y.", ["Decided to drop X because Y"]),
    ("Decided against a rewrite; patching instead.", ["Decided against a rewrite; patching instead"]),
    ("We'll go with httpx instead of requests.", ["We'll go with httpx instead of requests"]),
    ("Chose SQLite over Postgres for the cache", ["Chose SQLite over Postgres for the cache"]),
    ("Opted for pinning lodash.", ["Opted for pinning lodash"]),
    ("Settled on rendezvous hashing.", ["Settled on rendezvous hashing"]),
    ("Agreed with reviewers to keep the API frozen.", ["Agreed with reviewers to keep the API frozen"]),
    ("I'll use saturating_mul instead of checked arithmetic.", ["I'll use saturating_mul instead of checked arithmetic"]),
    ("09:40 we decided to include the tenant id", ["we decided to include the tenant id"]),
    ("After two days I picked the append-only log.", ["I picked the append-only log"]),
    ("Call: we decided to ship behind a flag, and we'll go with the v2 schema.",
     ["we decided to ship behind a flag", "we'll go with the v2 schema"]),
])
def test_decision_phrasings(line, expected):
    assert decisions_in(line) == expected


@pytest.mark.parametrize("line", [
    "Should we go with X?", "We haven't decided yet.", "the request went with a header", "switched to branch main",
    "Nothing decided yet; is the budget per host?",
])
def test_prose_that_is_no_decision(line):
    assert decisions_in(line) == []


@pytest.mark.parametrize("note, command", [
    ("Next: pytest tests/test_upload.py -x\n", "pytest tests/test_upload.py -x"),
    ("Next step: `make docs`\n", "make docs"),
    ("All green. Next: git push origin main\n", "git push origin main"),
    ("next: make integration VERBOSE=1\n", "make integration VERBOSE=1"),
    ("## Next steps\n1. sqlite3 store/dev.db '.schema'\n", "sqlite3 store/dev.db '.schema'"),
])
def test_next_line_is_the_next_command_not_a_pending_step(note, command):
    got = normalize_text(note)
    assert got.next_command == command
    if note.lower().startswith("next"):
        assert command not in got.pending_steps


def test_a_prose_next_line_stays_a_pending_step():
    got = normalize_text("Next: write the migration guide\n")
    assert got.next_command is None and got.pending_steps == ["write the migration guide"]


@pytest.mark.parametrize("note, status", [
    ("Ran the suite: 42 passed\n", "passing"),
    ("test result: FAILED. 11 passed; 1 failed; 0 ignored\n", "mixed"),
    ("==================== 1 failed, 88 passed in 12.40s ====================\n", "mixed"),
    ("ok  \tgithub.com/a/b\t0.4s\n", "passing"),
    ("--- FAIL: TestX (0.01s)\nFAIL\tgithub.com/a/b\t0.2s\n", "failing"),
    ("Tests:       57 passed, 57 total\n", "passing"),
    ("     Tests  1 failed | 63 passed (64)\n", "mixed"),
    ("# tests 9\n# pass 9\n# fail 0\n", "passing"),
    ("npm ERR! Test failed.  See above for more details.\n", "failing"),
    ("FAILED: cargo test --workspace exited 101\n", "failing"),
    ("$ ./ci/check.sh\nexit code 0\n", "passing"),
    ("48 examples, 3 failures\n", "mixed"),
    ("Run A: 12 passed, 2 failed\nRun B (after the fix): 14 passed\n", "passing"),
    ("dotnet test: Passed!  - Failed:     0, Passed:    23, Skipped:     0, Total:    23\n", "passing"),
    ("ruff check . -> Found 3 errors.\n", "failing"),
    ("$ python scripts/migrate.py\nexit code 1\n", "unknown"),  # not a check run: a failure, no test result
])
def test_validation_status_from_runner_summaries(note, status):
    assert normalize_text(note).validation_status.status == status


def test_paths_only_when_they_look_like_paths():
    got = normalize_text("See e.g. the Node.js docs, v2.0 and 3.5x; i.e. nothing. Touched src/a.py, "
                         "tools\\build.ps1, out/bin/ and `target/debug/app`; prose: client/server, and/or.\n")
    assert got.important_paths == ["src/a.py", "tools\\build.ps1", "out/bin/", "target/debug/app"]


def test_note_set_benchmark_reaches_f1_0_9_per_field():
    sys.path.insert(0, str(ROOT))
    from bench.scratchpad import evaluate, load_notes

    for field, tally in evaluate(load_notes()).items():
        assert tally.scores()[2] >= 0.9, field
