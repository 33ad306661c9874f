"""The CLI face: the main job on the example data, clear one-line errors, help that explains."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import EXAMPLES, PROJECT

from mcp_distill.cli import main


def cli(tmp_path, *args: str) -> list[str]:
    return ["--db", str(tmp_path / "d.db"), "--root", str(PROJECT), "--root", str(tmp_path), *args]


def test_run_on_the_example_data(tmp_path, capsys):
    assert main(cli(tmp_path, "--json", "run", str(EXAMPLES))) == 0
    result = json.loads(capsys.readouterr().out)
    summary = result["summary"]
    assert summary["records collected"] > 500
    assert summary["lines quarantined"] == 7  # the generator plants exactly seven malformed lines
    assert summary["playbooks"] > 0
    assert set(result["score"]["by_category"]) == {"accepted", "partially_accepted", "rejected", "needs_human_review"}
    # a second run adds nothing
    assert main(cli(tmp_path, "--json", "run", str(EXAMPLES))) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["summary"]["records collected"] == 0 and again["summary"]["duplicates skipped"] == 0


def test_commands_show_runs_stats_quarantine_receipts(tmp_path, capsys):
    main(cli(tmp_path, "collect", str(EXAMPLES)))
    main(cli(tmp_path, "score"))
    capsys.readouterr()
    assert main(cli(tmp_path, "--json", "runs", "list", "--category", "accepted")) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs and all(r["category"] == "accepted" for r in runs)
    assert main(cli(tmp_path, "--json", "runs", "show", runs[0]["run_key"])) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["score"]["reasons"] and all("provenance" in r for r in view["records"])
    assert main(cli(tmp_path, "--json", "quarantine")) == 0
    quarantined = json.loads(capsys.readouterr().out)
    assert len(quarantined) == 7 and all(q["reason"] and q["source_file"] for q in quarantined)
    assert main(cli(tmp_path, "--json", "receipts", "list")) == 0
    receipts = json.loads(capsys.readouterr().out)
    assert {r["stage"] for r in receipts} >= {"collect", "score"}
    assert main(cli(tmp_path, "receipts", "show", receipts[0]["receipt_id"])) == 0
    assert receipts[0]["receipt_id"] in capsys.readouterr().out
    assert main(cli(tmp_path, "--json", "stats")) == 0
    assert json.loads(capsys.readouterr().out)["evidence"] > 500


def test_errors_are_one_clear_line_and_nonzero(tmp_path, capsys):
    assert main(cli(tmp_path, "collect", "/etc")) == 1
    err = capsys.readouterr().err
    assert "outside the allowed roots" in err and "--root" in err
    assert main(cli(tmp_path, "runs", "show", "no-such-run")) == 1
    assert "runs list" in capsys.readouterr().err
    assert main(cli(tmp_path, "--rules", str(tmp_path / "missing.toml"), "score")) == 1
    assert "not found" in capsys.readouterr().err
    assert main(cli(tmp_path, "no-such-command")) == 2


def test_schemas_check_passes_on_the_committed_files(capsys):
    assert main(["schemas", "check"]) == 0


def test_help_explains_every_command():
    out = subprocess.run([sys.executable, "-m", "mcp_distill", "--help"], capture_output=True, text=True, check=True)
    for command in ("run", "collect", "score", "runs", "stats", "serve", "playbooks", "drift", "scratchpad"):
        assert command in out.stdout
    serve = subprocess.run([sys.executable, "-m", "mcp_distill", "serve", "--help"], capture_output=True, text=True,
                           check=True)
    assert "--http" in serve.stdout and "MCP_DISTILL_TOKEN" in serve.stdout


def test_version_flag_prints_the_version(capsys):
    from mcp_distill import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mcp-distill {__version__}"
