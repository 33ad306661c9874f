"""Scratchpad Normalizer: real notes read in place, hand-made edge cases, storage, and the LLM pass
against a small real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_path

from mcp_distill.config import Settings
from mcp_distill.errors import ConfigError, InvalidInputError, NotFoundError, PathNotAllowedError
from mcp_distill.models import ScratchpadSummary
from mcp_distill.scratchpad.llm import LLM_MODEL_ENV, LLM_URL_ENV, LLMConfig
from mcp_distill.scratchpad.normalize import (
    MAX_CHECKS,
    MAX_ITEM_CHARS,
    MAX_LIST_ITEMS,
    MAX_SCRATCHPAD_BYTES,
    get_scratchpad,
    list_scratchpad_runs,
    normalize,
    normalize_text,
    path_of,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scratchpads"
REAL = ("data", "real")
SPECS = (*REAL, "roadmap-specs-agentcmd", ".agent", "specs")
SPEC_FILES = [
    "done/2511131117-config-simplification/spec.md",
    "done/2511191028-webhook-system/spec.md",
    "done/2511191130-webhook-frontend/spec.md",
    "done/2511230804-session-store-refactor/spec.md",
    "done/2511260537-playwright-e2e-testing/spec.md",
    "done/2511271548-prisma-7-upgrade/spec.md",
    "todo/2511282130-server-start-consolidation/spec.md",
]


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- independent readings of the spec files (simple line regexes, not the normaliser's) -----------
_BOX = re.compile(r"^\s*[-*+] \[([ xX])\] (.+)$")
_DONE_EMOJI_LINE = re.compile(r"^\s*(?:[-*+]\s+)?✅\s*(.+)$")
_TOP_ITEM = re.compile(r"^(?:\d+\.|[-*+]) (.+)$")
_FILE_LINE = re.compile(r"^\s*-\s*Files?:")
_PATHISH = re.compile(r"[\w./*@~-]*\.(?:ts|tsx|js|json|md|prisma|ya?ml|sql|db|sh|py|css|example)")


def _outside_fences(text: str) -> Iterator[str]:
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ITEM_CHARS else text[: MAX_ITEM_CHARS - 1] + "…"


def _spec_expectations(text: str) -> dict[str, Any]:
    """Step states in document order (the last mark of a text wins), checkbox states, named paths.

    Steps are the checkboxes, the lines led by ✅ and the numbered items under a "Next Steps" heading.
    """
    states: dict[str, str] = {}
    boxes: dict[str, bool] = {}
    paths: dict[str, None] = {}
    in_next = False
    for line in _outside_fences(text):
        if line.startswith("#"):
            in_next = bool(re.match(r"#+ Next Steps", line))
            continue
        box = _BOX.match(line)
        if box:
            boxes[_clip(box.group(2))] = box.group(1) != " "
            states[_clip(box.group(2))] = "done" if box.group(1) != " " else "pending"
        elif (emoji := _DONE_EMOJI_LINE.match(line)) is not None:
            states[_clip(emoji.group(1))] = "done"
        elif in_next and (item := _TOP_ITEM.match(line)) is not None:
            states[_clip(item.group(1))] = "pending"
        if box or _FILE_LINE.match(line):
            for span in re.findall(r"`([^`\s]+)`", line):
                if _PATHISH.fullmatch(span):
                    paths[span] = None
    return {"states": states, "boxes": boxes, "paths": list(paths)}


# --- real data ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SPEC_FILES)
def test_real_spec_checkboxes_are_counted_exactly(name: str) -> None:
    path = shared_path(*SPECS, *name.split("/"))
    text = path.read_text(encoding="utf-8")
    want = _spec_expectations(text)
    got = normalize_text(text)

    # every checkbox is found, once, in the list its (last) mark says, and nowhere else
    checked = [t for t, on in want["boxes"].items() if on]
    unchecked = [t for t, on in want["boxes"].items() if not on]
    assert sorted(s for s in got.completed_steps if s in want["boxes"]) == sorted(checked)
    assert sorted(s for s in got.pending_steps if s in want["boxes"]) == sorted(unchecked)
    # and the whole step lists are exactly: checkboxes + ✅ claims + "Next Steps" items, in first-seen order
    assert got.completed_steps == [t for t, state in want["states"].items() if state == "done"]
    assert got.pending_steps == [t for t, state in want["states"].items() if state == "pending"]
    assert got.failed_steps == []
    missing = [p for p in want["paths"] if p not in got.important_paths]
    assert not missing, f"paths named by the checklist but not extracted: {missing}"
    assert got.source_scratchpad_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_real_spec_prisma_counts_verified_by_eye() -> None:
    path = shared_path(*SPECS, "done", "2511271548-prisma-7-upgrade", "spec.md")
    got = normalize_text(path.read_text(encoding="utf-8"))
    # 15 tasks 1.1-5.1 checked; 10 open "Success Criteria"; 6 numbered "Next Steps"
    assert len(got.completed_steps) == 15
    assert len(got.pending_steps) == 16
    assert got.completed_steps[0] == "1.1 [3/10] Check latest Prisma 7 version on npm"
    assert got.completed_steps[-1] == "5.1 [4/10] Create upgrade branch and commit changes"
    assert got.pending_steps[:2] == ["Prisma upgraded to ^7.0.0 in package.json", "All unit tests pass with per-worker isolation"]
    assert got.current_objective == "Prisma 7 Upgrade"
    assert got.next_command == "git checkout -b upgrade/prisma-7"  # the command under "## Next Steps"
    assert len(got.decisions) == 4  # "## Key Design Decisions"
    for named in ("apps/app/package.json", "apps/app/vitest.global-setup.ts", "apps/app/src/cli/commands/install.ts",
                  "apps/app/scripts/start.js", "apps/app/src/shared/prisma.ts", "apps/app/.env.example",
                  "/Users/devbot/.claude/plans/typed-watching-ritchie.md"):
        assert named in got.important_paths
    for not_a_path in ("6.19.0", "7.0.0", "7.0.1", "prisma@7.0.1", "https://www.prisma.io/docs/orm/more/upgrade-guides"):
        assert not any(not_a_path in p for p in got.important_paths)


def test_real_spec_server_start_counts_verified_by_eye() -> None:
    path = shared_path(*SPECS, "todo", "2511282130-server-start-consolidation", "spec.md")
    got = normalize_text(path.read_text(encoding="utf-8"))
    # 9 tasks + 1 review finding + 3 review-checklist items checked; 8 open success criteria
    assert len(got.completed_steps) == 13
    assert len(got.pending_steps) == 8
    assert got.pending_steps[0] == "`pnpm dev` starts server + inngest dev concurrently"
    assert got.next_command == "pnpm dev"  # first command in an unchecked item
    assert "src/cli/utils/spawnInngest.ts" in got.important_paths
    assert "src/scripts/start.ts" in got.important_paths  # named as `src/scripts/start.ts:32` too
    assert not any(p.endswith(":32") for p in got.important_paths)


def test_real_spec_relabelled_item_takes_its_last_state() -> None:
    path = shared_path(*SPECS, "done", "2511230804-session-store-refactor", "spec.md")
    got = normalize_text(path.read_text(encoding="utf-8"))
    # listed twice as "- [ ]" and reviewed twice: one step each
    assert got.pending_steps.count("4.2 [6/10] Remove DEBUG code from message components") == 1
    assert got.completed_steps.count("All spec requirements reviewed") == 1


def test_real_aider_chat_history() -> None:
    folder = shared_path(*REAL, "aider-chat-zen-mcp")
    path = folder / ".aider.chat.history.md"
    got = normalize_text(path.read_text(encoding="utf-8"))
    assert got.source_scratchpad_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    # the H1s are session banners; the latest user request (a /copy-context message) is the objective
    latest = "请你分析一下我这列的处理，我想知道我这里涉及gemini的处理是不是有问题 是否少了一些gemin的特有参数？"
    assert got.current_objective == latest
    assert len(got.unresolved_questions) == 2  # the same question asked three times counts once
    assert "^C KeyboardInterrupt" in got.failed_steps  # SOURCE.md: every session was aborted
    assert any(step.startswith("Error checking pypi for new version") for step in got.failed_steps)
    for named in ("/home/dragonfsky/git/github/zen-mcp-server/utils/file_utils.py", "utils/file_utils.py",
                  "conf/gemini_models.json", "providers/registries/gemini.py", "config.py", ".gitignore"):
        assert named in got.important_paths
    assert not any("aider.chat" in p or p == "/add" or "gemini-2.5" in p for p in got.important_paths)
    assert got.completed_steps == [] and got.pending_steps == []
    assert got.validation_status.status == "unknown"
    assert got.next_command is None  # nothing pending, no failed command to re-run


# --- the conventions ------------------------------------------------------------------------------
def test_checklist_conventions() -> None:
    got = normalize_text(fixture_text("checklist_conventions.md"))
    assert got.current_objective == "Ship the export command"  # the line under "## Task"
    assert got.completed_steps == ["wire the CLI flag", "add a test", "bump version", "formatted with ruff",
                                   "lockfile updated", "release notes drafted"]
    assert got.failed_steps == ["upload to the test index", "waiting for the signing key", "smoke test on 3.11", "tag pushed"]
    assert got.pending_steps == ["write the exporter", "document the flag", "benchmark large stores", "changelog entry",
                                 "check Windows paths", "the progress bar flickers", "docs site",
                                 "review by Bo", "flaky test on macOS", "tag the release", "announce it"]
    assert got.decisions == ["keep JSONL as the only format"]
    assert got.unresolved_questions == ["who owns the index credentials"]  # the other one is "(answered)"
    assert got.next_command == "make release"  # "NEXT: `make release`" is the next command, not a pending step


def test_agent_log_failures_tests_and_next_command() -> None:
    got = normalize_text(fixture_text("agent_log.txt"))
    assert got.failed_steps == ["ValueError: DATABASE_URL is not set", "python scripts/migrate.py --dry-run (exit 1)",
                                "ERROR worker: lost connection to redis"]
    status = got.validation_status
    assert (status.status, status.passed, status.failed) == ("mixed", 4, 1)  # 3 tests + ruff; the FAILED line once
    assert status.checks[0].startswith("FAILED tests/test_api.py::test_timeout")
    assert got.next_command == "python scripts/migrate.py --dry-run"  # the last command that failed
    assert got.important_paths == ["tests/test_api.py", "scripts/migrate.py", "/srv/app/scripts/migrate.py"]


def test_next_command_prefers_next_then_todo_then_failed_run() -> None:
    log = "$ make build\nerror: linker failed\n"
    assert normalize_text(log).next_command == "make build"
    assert normalize_text(log + "$ make build\nexit code 0\n").next_command is None  # re-run, fixed
    todo = "- [ ] rerun `pytest -q`\n"
    assert normalize_text(log + todo).next_command == "pytest -q"
    assert normalize_text(log + todo + "NEXT: `ruff check .`\n").next_command == "ruff check ."
    assert normalize_text("## Done\n```bash\npytest\n```\n").next_command is None  # history, not a plan
    assert normalize_text("## Next steps\n```bash\nuv sync\npytest -q\n```\n").next_command == "uv sync"


def test_small_rules() -> None:
    # a bash block holding a "$" transcript: the other lines are output, not commands
    got = normalize_text("## Next steps\n```bash\n$ pytest -q\n2 failed, 1 passed in 0.1s\n```\n")
    assert got.next_command == "pytest -q"
    assert (got.validation_status.passed, got.validation_status.failed) == (1, 2)
    # a quoted traceback keeps its frames' indentation: the exception line is the failure
    assert normalize_text('> Traceback (most recent call last):\n>   File "a.py", line 1\n>     x()\n> NameError: x\n'
                          ).failed_steps == ["NameError: x"]
    # prose ending in a lowercase state word is no step; a separator or capitals make it one
    assert normalize_text("I think we are done").completed_steps == []
    assert normalize_text("write parser - done\ntests DONE").completed_steps == ["write parser", "tests"]
    # an open checkbox asking something is a pending step and an open question
    got = normalize_text("- [ ] should we cache?\n- [x] did we lint?")
    assert got.unresolved_questions == ["should we cache?"]
    # a heading naming a state covers its subsections; a top-level item only (sub-bullets are details)
    got = normalize_text("## TODO\n### Backend\n- port the API\n  - keep v1\n### Frontend\n- new form\n")
    assert got.pending_steps == ["port the API", "new form"]


@pytest.mark.parametrize(
    ("line", "status", "passed", "failed"),
    [
        ("=== 5 passed, 2 failed in 0.12s ===", "mixed", 5, 2),
        ("Tests:       2 failed, 5 passed, 7 total", "mixed", 5, 2),
        (" Tests  695 passed | 1 failed (696)", "mixed", 695, 1),
        ("test result: ok. 5 passed; 0 failed; 0 ignored", "passing", 5, 0),
        ("  5 passing (20ms)\n  2 failing", "mixed", 5, 2),
        ("Ran 4 tests in 0.1s\n\nFAILED (failures=1, errors=1)", "mixed", 2, 2),
        ("Ran 4 tests in 0.1s\n\nOK", "passing", 4, 0),
        ("--- FAIL: TestA (0.0s)\n--- PASS: TestB (0.0s)\nFAIL\tgithub.com/x/z\t0.2s", "mixed", 1, 1),
        ("ok 1 - a\nnot ok 2 - b", "mixed", 1, 1),
        ("test foo ... ok\ntest bar ... FAILED", "mixed", 1, 1),
        ("tests/x.py::t PASSED\ntests/x.py::t FAILED", "failing", 0, 1),  # the last result of a test wins
        ("=== 3 failed in 1s ===\n$ x\n=== 3 passed in 1s ===", "mixed", 3, 3),  # two commands add up
        ("=== 3 failed in 1s ===\n=== 3 passed in 1s ===", "passing", 3, 0),  # a re-run replaces
        ("All checks passed!", "passing", 1, 0),
        ("Found 3 errors.", "failing", 0, 3),
        ("request 3 failed: timeout", "unknown", 0, 0),
        ("All 16 unit tests pass", "unknown", 0, 0),
    ],
)
def test_test_summaries(line: str, status: str, passed: int, failed: int) -> None:
    got = normalize_text(line).validation_status
    assert (got.status, got.passed, got.failed) == (status, passed, failed)


@pytest.mark.parametrize(
    ("line", "code"),
    [("npm test exited with code 2", 2), ("exit code 1", 1), ("Process exited with 2", 2), ("Exit status: 127", 127),
     ("subprocess.CalledProcessError: returned non-zero exit status 3", 3)],
)
def test_exit_codes(line: str, code: int) -> None:
    got = normalize_text(f"$ npm test\n{line}\n")
    assert got.failed_steps[-1] == f"npm test (exit {code})" or got.failed_steps[0].startswith("subprocess")
    assert got.next_command == "npm test"


@pytest.mark.parametrize(
    ("token", "path"),
    [("src/app.py", "src/app.py"), ("/etc/hosts", "/etc/hosts"), ("~/.config/x.toml", "~/.config/x.toml"),
     ("./run.sh", "./run.sh"), ("README.md", "README.md"), (".env", ".env"), (".env.example", ".env.example"),
     ("**docs/a.md**", "docs/a.md"), ("tests/x.py.", "tests/x.py"), ("apps/*.spec.ts", "apps/*.spec.ts"),
     ("6.19.0", None), ("v1.2.3", None), ("3.1/10", None), ("e.g", None), ("os.path", None), ("Node.js", None),
     ("user@example.com", None), ("prisma@7.0.1", None), ("pypi.org", None), ("and/or", None), ("/add", None),
     (".ts", None), ("console.log", None)],
)
def test_path_rules(token: str, path: str | None) -> None:
    assert path_of(token) == path


def test_paths_skip_urls_and_line_suffixes() -> None:
    got = normalize_text("see https://example.com/docs/a.html and www.x.org/b.md, then src/a.py:12:3 and tests/t.py::test_x")
    assert got.important_paths == ["src/a.py", "tests/t.py"]


def test_mixed_languages() -> None:
    got = normalize_text(fixture_text("mixed_languages.md"))
    assert got.current_objective == "支持中文输入"  # the last objective label wins: 目标：
    assert got.completed_steps == ["Tests für `parser/lexer.py` geschrieben", "修复 src/parser.py 中的编码问题"]
    assert got.pending_steps[-1] == "Übersetzung prüfen lassen"
    assert got.decisions == ["Wir bleiben bei UTF-8 überall", "使用 sqlite 存储结果"]
    assert got.unresolved_questions == ["Warum schlägt test_umlaut fehl?", "为什么 CI 会失败？"]
    # ASCII paths are found even when glued to CJK text; CJK file names are not (documented limit)
    assert got.important_paths == ["parser/lexer.py", "docs/anleitung.md", "src/parser.py", "README.md"]


def test_empty_text() -> None:
    got = normalize_text("")
    assert got.source_scratchpad_hash == hashlib.sha256(b"").hexdigest()
    assert got.model_dump(include={"current_objective", "completed_steps", "failed_steps", "pending_steps",
                                   "important_paths", "decisions", "unresolved_questions", "next_command"}) == {
        "current_objective": None, "completed_steps": [], "failed_steps": [], "pending_steps": [],
        "important_paths": [], "decisions": [], "unresolved_questions": [], "next_command": None}
    assert got.validation_status.status == "unknown"
    assert normalize_text(" \n\t\n").completed_steps == []


def test_only_a_code_block() -> None:
    got = normalize_text(fixture_text("only_code_block.md"))
    assert got.unresolved_questions == []  # "?" in code is no question
    assert got.current_objective is None and got.pending_steps == [] and got.next_command is None
    assert normalize_text("```\n- [ ] not a step inside a fence\n```").pending_steps == []


def test_deterministic_and_byte_identical() -> None:
    text = fixture_text("checklist_conventions.md") + fixture_text("agent_log.txt") + fixture_text("mixed_languages.md")
    first = normalize_text(text, run_id="r").model_dump_json()
    assert normalize_text(text, run_id="r").model_dump_json() == first
    assert normalize_text(text.replace("\n", "\r\n"), run_id="r").model_dump_json() != first  # other bytes, other hash
    crlf = json.loads(normalize_text(text.replace("\n", "\r\n")).model_dump_json())
    assert crlf["completed_steps"] == json.loads(first)["completed_steps"]


def _megabyte_log() -> str:
    parts: list[str] = []
    size = i = 0
    while size < 1_000_000:
        i += 1
        block = (f"2024-05-01T10:{i % 60:02d}:00Z INFO worker {i} handled src/pkg/mod_{i % 50}.py\n"
                 f"2024-05-01T10:{i % 60:02d}:01Z ERROR job {i % 700} lost connection\n"
                 f"$ pytest tests/test_{i % 20}.py -q\n{i % 7} passed, {i % 3} failed in 1.{i % 10}s\n"
                 "Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n"
                 f"KeyError: 'k{i % 40}'\n" + "x" * (i % 5000) + "\n")
        parts.append(block)
        size += len(block)
    return "".join(parts)


def test_one_megabyte_of_log() -> None:
    text = _megabyte_log()
    assert 1_000_000 <= len(text.encode()) < MAX_SCRATCHPAD_BYTES
    got = normalize_text(text)
    assert got.validation_status.status == "mixed"
    assert len(got.validation_status.checks) <= MAX_CHECKS
    assert len(got.failed_steps) == MAX_LIST_ITEMS  # capped, first seen kept
    assert got.failed_steps[0] == "ERROR job 1 lost connection"
    assert "src/pkg/mod_1.py" in got.important_paths
    assert normalize_text(text).model_dump_json() == got.model_dump_json()


def test_pathological_lines_stay_linear() -> None:
    for text in ("a" * 1_500_000, " " * 1_000_000 + "x", "- [x] " + "a " * 500_000, "1." * 700_000, "exit" * 400_000,
                 ("Error" + " " * 90 + "\n") * 15_000, "./" * 700_000):
        normalize_text(text)  # finishes (no catastrophic backtracking); the suite has no timing assertions


# --- refused input --------------------------------------------------------------------------------
def test_binary_input_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="binary"):
        normalize_text("notes\x00more")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        normalize_text(b"\xff\xfenotes")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        normalize_text(b"caf\xe9")
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InvalidInputError, match="binary"):
        normalize(None, path=png, settings=Settings(roots=[tmp_path]))


def test_oversize_input_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="2,097,152-byte limit"):
        normalize_text("a" * (MAX_SCRATCHPAD_BYTES + 1))
    with pytest.raises(InvalidInputError, match="2,097,152-byte limit"):
        normalize_text("é" * (MAX_SCRATCHPAD_BYTES // 2 + 1))  # the limit is in UTF-8 bytes
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * (MAX_SCRATCHPAD_BYTES + 1))
    with pytest.raises(InvalidInputError, match="limit"):
        normalize(None, path=big, settings=Settings(roots=[tmp_path]))
    assert normalize_text("a" * MAX_SCRATCHPAD_BYTES).completed_steps == []  # exactly at the limit is fine


def test_path_guard_and_missing_file(tmp_path: Path) -> None:
    inside = tmp_path / "inside"
    inside.mkdir()
    outside = tmp_path / "notes.md"
    outside.write_text("- [x] a\n", encoding="utf-8")
    with pytest.raises(PathNotAllowedError):
        normalize(None, path=outside, settings=Settings(roots=[inside]))
    with pytest.raises(NotFoundError, match="check the path"):
        normalize(None, path=inside / "nope.md", settings=Settings(roots=[inside]))
    with pytest.raises(InvalidInputError, match="exactly one"):
        normalize(None)
    with pytest.raises(InvalidInputError, match="exactly one"):
        normalize(None, text="x", path=outside)
    got = normalize(None, path=outside, settings=Settings(roots=[tmp_path]))
    assert got.completed_steps == ["a"]


# --- storage ------------------------------------------------------------------------------------
def test_storage_is_idempotent_and_retrievable(store, tmp_path: Path) -> None:
    text = fixture_text("checklist_conventions.md")
    first = normalize(store, text=text, run_id="run-1", llm=False)
    second = normalize(store, text=text, run_id="run-1", llm=False)
    assert first == second
    assert store.query_one("SELECT count(*) AS n FROM scratchpads")["n"] == 1
    assert get_scratchpad(store, "run-1") == first
    assert first.run_id == "run-1"

    notes = tmp_path / "notes.md"
    notes.write_text(text + "\n- [x] one more\n", encoding="utf-8")
    newer = normalize(store, path=notes, run_id="run-1", settings=Settings(roots=[tmp_path]), llm=False)
    assert store.query_one("SELECT count(*) AS n FROM scratchpads")["n"] == 2
    assert get_scratchpad(store, "run-1") == newer  # the latest text of the run
    assert get_scratchpad(store, "run-1", source_hash=first.source_scratchpad_hash) == first
    normalize(store, text=text, run_id="run-2", llm=False)
    assert list_scratchpad_runs(store) == ["run-1", "run-2"]
    assert normalize(store, text="no run id", llm=False).run_id is None
    assert store.query_one("SELECT count(*) AS n FROM scratchpads")["n"] == 3

    with pytest.raises(NotFoundError, match="run_id='nope'"):
        get_scratchpad(store, "nope")
    with pytest.raises(NotFoundError):
        get_scratchpad(store, "run-1", source_hash="0" * 64)


def test_stored_normalisation_writes_a_receipt(store, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("- [x] a\n- [ ] b\n", encoding="utf-8")
    got = normalize(store, path=notes, run_id="run-r", settings=Settings(roots=[tmp_path]), llm=False, command="test")
    rows = store.query("SELECT * FROM receipts WHERE stage='scratchpad'")
    assert len(rows) == 1 and rows[0]["validation_pass"] == 1
    data = json.loads(rows[0]["data"])
    assert data["command"] == "test"
    assert [f["path"] for f in data["input_files"]] == [str(notes.resolve())]
    assert (data["record_counts"]["in"], data["record_counts"]["out"]) == (1, 1)
    assert data["details"]["run_id"] == "run-r"
    assert data["details"]["source_scratchpad_hash"] == got.source_scratchpad_hash


# --- LLM refinement against a real local HTTP server ----------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


REFINED = {"current_objective": "Release the export command", "pending_steps": ["document the flag", "tag the release"],
           "validation_status": {"status": "passing", "passed": 1, "failed": 0, "checks": ["ruff: ok"]}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.server.requests.append((self.path, body))
        mode = self.server.mode
        if mode == "timeout":
            self.server.release.wait(10)
            return
        if mode == "http500":
            self._send(500, b'{"error": "boom"}')
            return
        content = {"valid": json.dumps(REFINED), "fenced": "```json\n" + json.dumps(REFINED) + "\n```",
                   "invalid_json": "Sure! Here is the summary: {objective: ...",
                   "bad_schema": json.dumps({"completed_steps": "all of them"}),
                   "unknown_field": json.dumps({"mood": "optimistic"})}[mode]
        self._send(200, json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode())

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def llm_server() -> Iterator[Any]:
    servers: list[_Server] = []

    def start(mode: str) -> _Server:
        server = _Server(mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def test_llm_valid_answer_refines(llm_server) -> None:
    server = llm_server("valid")
    text = fixture_text("checklist_conventions.md")
    draft = normalize_text(text, run_id="r")
    got = normalize(None, text=text, run_id="r", llm=LLMConfig(server.base + "/v1/", "tiny-model", timeout_s=5))
    assert got.method == "llm_refined" and not got.needs_human_review and got.review_reason is None
    assert got.current_objective == "Release the export command"
    assert got.pending_steps == ["document the flag", "tag the release"]
    assert got.completed_steps == draft.completed_steps  # fields the answer left out stay deterministic
    assert got.source_scratchpad_hash == draft.source_scratchpad_hash and got.run_id == "r"
    path, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "tiny-model" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert "Ship the export command" in body["messages"][1]["content"]


def test_llm_answer_in_a_code_fence_is_accepted(llm_server) -> None:
    server = llm_server("fenced")
    got = normalize(None, text="- [ ] a", llm=LLMConfig(server.base, "m", timeout_s=5))
    assert got.method == "llm_refined"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("invalid_json", "not valid JSON"), ("http500", "HTTP 500"), ("timeout", "timed out after 0.3s"),
     ("bad_schema", "does not validate against ScratchpadSummary (completed_steps"),
     ("unknown_field", "fields outside the schema: mood")],
)
def test_llm_failures_fall_back_flagged(llm_server, mode: str, reason: str) -> None:
    server = llm_server(mode)
    text = fixture_text("agent_log.txt")
    draft = normalize_text(text)
    got = normalize(None, text=text, llm=LLMConfig(server.base, "m", timeout_s=0.3))
    assert got.needs_human_review is True
    assert reason in (got.review_reason or "")
    assert "deterministic summary is kept" in (got.review_reason or "")
    assert got.method == "deterministic"
    assert got.model_dump(exclude={"needs_human_review", "review_reason"}) == draft.model_dump(
        exclude={"needs_human_review", "review_reason"})
    assert len(server.requests) == 1


def test_llm_unreachable_port_falls_back() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    got = normalize(None, text="- [x] a", llm=LLMConfig(f"http://127.0.0.1:{port}", "m", timeout_s=2))
    assert got.needs_human_review and "unreachable" in (got.review_reason or "")
    assert got.completed_steps == ["a"]


def test_llm_is_off_unless_asked(llm_server, monkeypatch: pytest.MonkeyPatch) -> None:
    server = llm_server("valid")
    monkeypatch.delenv(LLM_URL_ENV, raising=False)
    monkeypatch.delenv(LLM_MODEL_ENV, raising=False)
    assert normalize(None, text="- [ ] a").method == "deterministic"
    with pytest.raises(ConfigError, match=LLM_URL_ENV):
        normalize(None, text="- [ ] a", llm=True)
    monkeypatch.setenv(LLM_URL_ENV, server.base)
    assert normalize(None, text="- [ ] a", llm=False).method == "deterministic"
    assert server.requests == []
    monkeypatch.setenv(LLM_MODEL_ENV, "env-model")
    assert normalize(None, text="- [ ] a").method == "llm_refined"
    assert server.requests[0][1]["model"] == "env-model"


def test_stored_run_is_not_refined_twice(store, llm_server) -> None:
    server = llm_server("http500")
    config = LLMConfig(server.base, "m", timeout_s=5)
    first = normalize(store, text="- [ ] a\n", run_id="run-llm", llm=config)
    assert first.needs_human_review
    again = normalize(store, text="- [ ] a\n", run_id="run-llm", llm=config)
    assert again == first and len(server.requests) == 1
    assert get_scratchpad(store, "run-llm").review_reason == first.review_reason
    assert isinstance(ScratchpadSummary.model_validate_json(
        store.query_one("SELECT summary FROM scratchpads")["summary"]), ScratchpadSummary)


def test_checklist_tally_equals_the_checkboxes_of_every_real_spec():
    """The plain tally counts exactly the checked and unchecked items the spec files contain."""
    import re as _re

    from mcp_distill.scratchpad.normalize import normalize_text as _normalize

    specs = sorted(shared_path("data", "real", "roadmap-specs-agentcmd").rglob("spec.md"))
    assert specs
    box = _re.compile(r"^\s*[-*+] \[([ xX])\] ")
    for spec in specs:
        text = spec.read_text(encoding="utf-8")
        checked = sum(1 for line in text.splitlines() if (m := box.match(line)) and m.group(1) != " ")
        unchecked = sum(1 for line in text.splitlines() if (m := box.match(line)) and m.group(1) == " ")
        tally = _normalize(text).checklist
        assert (tally.checked, tally.unchecked) == (checked, unchecked), spec
    config = next(s for s in specs if "config-simplification" in str(s))
    assert _normalize(config.read_text(encoding="utf-8")).checklist.model_dump() == {"checked": 14, "unchecked": 9}


def test_checklist_skips_fenced_code_and_counts_numbered_items():
    from mcp_distill.scratchpad.normalize import normalize_text as _normalize

    text = "1. [x] one\n2) [ ] two\n```md\n- [x] an example, not a task\n```\n* [X] three\n"
    assert _normalize(text).checklist.model_dump() == {"checked": 2, "unchecked": 1}
