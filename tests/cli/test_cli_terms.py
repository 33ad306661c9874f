"""The CLI speaks CLI: hints name commands and flags (never MCP resources or tool arguments), lists are
tables, flags read as flags, choices show in help, and the ledger survives $0 costs and single samples."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import typer
from conftest import EXAMPLES, PROJECT, free_port

from mcp_distill.cli import app, main

MCP_WORDS = re.compile(r"distill://|\b[a-z]+_id=|\b(?:run_id|max_cost|min_strength|compare_to)\b")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """The bundled examples run through the whole pipeline once, plus the README's custom mapping example."""
    tmp = tmp_path_factory.mktemp("cli")
    path = tmp / "d.db"
    base = ["--db", str(path), "--root", str(PROJECT), "--root", str(tmp)]
    assert main([*base, "run", str(EXAMPLES), "--out", str(tmp / "exports")]) == 0
    assert main([*base, "collect", str(PROJECT / "examples/custom"), "--mapping",
                 str(PROJECT / "examples/mappings/example.toml")]) == 0
    assert main([*base, "score"]) == 0
    return tmp


def cli(db, *args: str) -> list[str]:
    return ["--db", str(db / "d.db"), "--root", str(PROJECT), "--root", str(db), *args]


def run_json(db, capsys, *args: str):
    capsys.readouterr()
    assert main(cli(db, "--json", *args)) == 0
    return json.loads(capsys.readouterr().out)


def leaf_command(words: list[str]) -> bool:
    """Whether ``mcp-distill WORDS...`` names a command that does something (not a group printing help)."""
    command = typer.main.get_command(app)
    for word in words:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command = sub
    group = hasattr(command, "commands")
    return not group or bool(getattr(command, "invoke_without_command", False))


@pytest.mark.parametrize("args", [
    ["runs", "show", "nope"], ["receipts", "show", "nope"], ["playbooks", "show", "pb-nope"],
    ["drift", "show", "drift-nope"], ["drift", "show", "latest"], ["scratchpad", "show", "nope"],
    ["ledger", "recommend", "no_such_type"], ["playbooks", "search", "x", "--since", "yesterday"],
])
def test_error_hints_name_cli_commands_that_exist(db, capsys, args):
    capsys.readouterr()
    assert main(cli(db, *args)) == 1
    message = capsys.readouterr().err
    assert message.startswith("error:") and "Traceback" not in message
    assert not MCP_WORDS.search(message), message
    for hinted in re.findall(r"`mcp-distill ([^`]+)`", message):
        words = [w for w in hinted.split() if not w.isupper() and not w.startswith("-")]
        assert leaf_command(words), f"hint points at a command that only prints help: {hinted}"


def test_help_shows_flags_bare_and_choices(capsys):
    for args, expected in ((["--help"], "--json "), (["export", "--help"], "<rag|sft|preference|all>"),
                           (["playbooks", "search", "--help"], "<hybrid|keyword|semantic>"),
                           (["playbooks", "search", "--help"], "<strong|weak|none>"),
                           (["runs", "list", "--help"], "needs_human_review")):
        with pytest.raises(SystemExit) as done:
            app(args=args, prog_name="mcp-distill")
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert expected in text and "<bool>" not in text, (args, text)
    assert main(["export", "--kind", "nonsense"]) == 2


def test_search_takes_words_without_quotes_and_time_filters(db, capsys):
    unquoted = run_json(db, capsys, "playbooks", "search", "flaky", "tests", "--min-strength", "none")
    quoted = run_json(db, capsys, "playbooks", "search", "flaky tests", "--min-strength", "none")
    assert unquoted["query"] == "flaky tests" and unquoted["hits"]
    assert [h["playbook"]["playbook_id"] for h in unquoted["hits"]] == [h["playbook"]["playbook_id"] for h in quoted["hits"]]
    later = run_json(db, capsys, "playbooks", "search", "flaky", "tests", "--min-strength", "none", "--since", "2100-01-01")
    assert later["hits"] == []
    before = run_json(db, capsys, "playbooks", "search", "flaky", "tests", "--min-strength", "none",
                      "--until", "2100-01-01")
    assert len(before["hits"]) == len(unquoted["hits"])
    seen = sorted(h["playbook"]["last_seen"] for h in unquoted["hits"])
    cut = seen[-1][:10]  # the newest hit's day: older playbooks drop out, that one stays
    recent = run_json(db, capsys, "playbooks", "search", "flaky", "tests", "--min-strength", "none", "--since", cut)
    assert recent["hits"] and all(h["playbook"]["last_seen"] >= cut for h in recent["hits"])


def test_lists_and_show_commands_print_tables_or_text(db, capsys):
    capsys.readouterr()
    for args, marker in ((["drift", "list"], "drift snapshots"), (["validate", str(db / "exports")], "validated"),
                         (["receipts", "list"], "receipt_id"), (["quarantine"], "excerpt")):
        assert main(cli(db, *args)) == 0, args
        text = capsys.readouterr().out
        assert marker in text and not text.lstrip().startswith(("[", "{")), (args, text[:200])
    pid = run_json(db, capsys, "playbooks", "search", "retry", "backoff")["hits"][0]["playbook"]["playbook_id"]
    assert main(cli(db, "playbooks", "show", pid)) == 0
    text = capsys.readouterr().out
    assert pid in text and "runs accepted" in text and not text.lstrip().startswith("{")


def test_quarantine_table_shows_the_excerpt(db, capsys):
    rows = run_json(db, capsys, "quarantine")
    assert main(cli(db, "quarantine")) == 0
    table = capsys.readouterr().out
    assert all(" ".join(r["excerpt"].split())[:20] in table for r in rows if r["excerpt"])


def test_ledger_has_no_empty_rows_and_survives_zero_cost_and_single_samples(db, capsys):
    ledger = run_json(db, capsys, "ledger")
    assert ledger["entries"] and all(e["sample_count"] > 0 for e in ledger["entries"])
    capsys.readouterr()
    # The README's custom-mapping example: the best rust_fix model costs $0 (used to be a ZeroDivisionError).
    assert main(cli(db, "ledger", "--task-type", "rust_fix")) == 0
    text = capsys.readouterr().out
    assert "recommend qwen2.5-coder:32b" in text and "cheaper" in text
    free = run_json(db, capsys, "ledger", "recommend", "rust_fix", "--max-cost", "0")
    assert free["model_name"] == "qwen2.5-coder:32b" and free["entry"]["cost_mean"] == 0
    single = run_json(db, capsys, "ledger", "recommend", "ts_fix")  # one decisive run per model
    assert single["entry"]["sample_count"] == 1 and single["reason"]
    assert main(cli(db, "ledger", "--model", "no-such-model")) == 0
    assert "no scored runs" in capsys.readouterr().err


def test_bare_collect_and_run_never_read_an_unnamed_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MCP_DISTILL_ROOTS", raising=False)
    monkeypatch.chdir(PROJECT)  # a checkout: schemas/ and tests/fixtures are no evidence
    assert main(["--db", str(tmp_path / "a.db"), "collect"]) == 1
    assert "mcp-distill collect PATH" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert main(["--db", str(tmp_path / "b.db"), "run"]) == 1
    assert "mcp-distill run PATH" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "b.db"), "run", "."]) == 1
    assert "no evidence to work on" in capsys.readouterr().err
    assert not (empty / "exports").exists()
    # roots someone configured are collected without naming them
    assert main(["--db", str(tmp_path / "c.db"), "--root", str(PROJECT / "examples/custom"), "--json", "collect"]) == 0
    assert json.loads(capsys.readouterr().out)["lines"] == 6


def test_serve_http_prints_its_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mcp_distill", "--db", str(tmp_path / "d.db"), "serve", "--http",
                             "--port", str(port)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f"http://127.0.0.1:{port}/mcp" in line and "/dashboard/" in line


async def test_search_tool_takes_the_time_filters(db):
    from mcp import Client

    from mcp_distill.config import Settings
    from mcp_distill.server import build_server

    settings = Settings(db_path=db / "d.db", roots=[PROJECT, db])
    async with Client(build_server(settings)) as client:
        args = {"query": "flaky tests", "min_strength": "none"}
        every = (await client.call_tool("search_playbooks", args)).structured_content
        later = (await client.call_tool("search_playbooks", {**args, "since": "2100-01-01"})).structured_content
        before = (await client.call_tool("search_playbooks", {**args, "until": "2100-01-01"})).structured_content
        bad = await client.call_tool("search_playbooks", {**args, "since": "yesterday"})
    assert every["hits"] and later["hits"] == [] and len(before["hits"]) == len(every["hits"])
    assert bad.is_error and "since" in bad.content[0].text


def test_readme_inspector_commands_run_non_interactively():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    npx = [line for line in readme.splitlines() if line.lstrip().startswith("npx ")]
    assert npx and all(line.split()[1] == "-y" for line in npx)
