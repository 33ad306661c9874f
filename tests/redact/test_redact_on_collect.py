"""--redact-on-collect: secrets planted into every string field of every example stream never reach the
store (no text column, no FTS table, not the file's bytes), the receipt counts what was redacted, and
records and runs stay stable when the same lines come again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
from mcp import Client
from test_redact_planted import KINDS, _planted_streams, planted_setup
from typer.testing import CliRunner

from mcp_distill.cli import app, main
from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.datasets.validate import validate_export
from mcp_distill.pipeline import run_pipeline
from mcp_distill.receipts import get_receipt
from mcp_distill.score import load_rules
from mcp_distill.server import build_server
from mcp_distill.store import open_store

SECRETS = sorted({s for _, (_, s) in KINDS})


def _text_values(db: Path) -> tuple[list[str], list[str]]:
    """Every text value of every table (FTS and vec shadow tables included), as stored."""
    store = open_store(db)
    try:
        values: list[str] = []
        tables = [r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            with store.lock:
                cursor = store.conn.execute(f'SELECT * FROM "{table}"')
                for row in cursor:
                    values += [v if isinstance(v, str) else bytes(v).decode("utf-8", "replace")
                               for v in row if isinstance(v, str | bytes)]
        return tables, values
    finally:
        store.close()


def _found(text: str) -> list[str]:
    return [s for s in SECRETS if s in text or json.dumps(s)[1:-1] in text]


def test_planted_secrets_never_reach_the_store(tmp_path: Path, embedder) -> None:
    data, db, settings = planted_setup(tmp_path, redact_on_collect=True)
    assert _found("".join(p.read_text() for p in data.iterdir()))  # the sources really hold them
    store = open_store(db)
    try:
        result = run_pipeline(store, settings, load_rules(), embedder, [str(data)], out_dir=tmp_path / "exports")
        collected = result["collect"]
        assert collected["redact_on_collect"] and collected["inserted"] > 50 and result["summary"]["playbooks"] > 0
        assert sum(collected["redactions"].values()) > 50 and len(collected["redactions"]) >= 20
        counts = get_receipt(store, collected["receipt_id"]).record_counts.detail
        assert counts["redacted_github_token"] == collected["redactions"]["github_token"]
        assert validate_export(store, tmp_path / "exports").ok  # provenance still checks against the sources
    finally:
        store.close()
    tables, values = _text_values(db)
    assert len(tables) > 20 and any("fts" in t for t in tables)
    leaks = {s for v in values for s in _found(v)}
    assert leaks == set()
    joined = "\n".join(values)
    assert "[REDACTED:" in joined
    raw = db.read_bytes() + (db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists() else b"")
    assert [s for s in SECRETS if s.encode() in raw] == []  # not even in a free page or the WAL


def test_same_lines_again_give_the_same_records_and_runs(tmp_path: Path) -> None:
    data, db, settings = planted_setup(tmp_path)
    store = open_store(db)
    try:
        first = collect_paths(store, settings, [str(data)], redact=True).as_dict()
        before = store.query("SELECT record_id, run_key, data FROM evidence ORDER BY record_id")
        runs = store.query("SELECT run_key FROM runs ORDER BY run_key")
        # the same lines once more, under a rotated name (read in full, deduplicated by content)
        src = sorted(data.glob("*.jsonl"))[0]
        shutil.copy(src, data / f"{src.name}.1")
        # and an appended line of an existing run: it must join that run, whose id holds a redacted secret
        row = orjson.loads(src.read_bytes().splitlines()[0])
        row["output_text"] = "one more line of the same run"
        with open(src, "ab") as handle:
            handle.write(orjson.dumps(row) + b"\n")
        # the flag is not given again: the store remembers it
        again = collect_paths(store, settings, [str(data)]).as_dict()
        assert again["redact_on_collect"] and again["inserted"] == 1 and again["duplicates"] >= 5
        after = store.query("SELECT record_id, run_key, data FROM evidence ORDER BY record_id")
        assert [r for r in after if r["record_id"] in {b["record_id"] for b in before}] == before
        assert store.query("SELECT run_key FROM runs ORDER BY run_key") == runs
        added = next(r for r in after if "one more line" in r["data"])
        first_of_file = store.query_one("SELECT run_key FROM evidence WHERE source_file = ? ORDER BY line_offset",
                                        (str(src),))
        assert added["run_key"] == first_of_file["run_key"]
        assert first["inserted"] == len(before)
    finally:
        store.close()
    assert {s for v in _text_values(db)[1] for s in _found(v)} == set()


def test_cli_flag_and_env_setting(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "planted"
    _planted_streams(data)
    runner = CliRunner()
    base = ["--db", str(tmp_path / "a.db"), "--root", str(tmp_path), "--json"]
    plain = runner.invoke(app, [*base, "collect", str(data)])
    assert plain.exit_code == 0 and json.loads(plain.stdout)["redact_on_collect"] is False
    assert len({s for v in _text_values(tmp_path / "a.db")[1] for s in _found(v)}) >= 30  # the scan does see them
    flagged = runner.invoke(app, ["--db", str(tmp_path / "b.db"), "--root", str(tmp_path), "--json", "collect",
                                  "--redact-on-collect", str(data)])
    assert flagged.exit_code == 0, flagged.output
    assert sum(json.loads(flagged.stdout)["redactions"].values()) > 0
    assert "--redact-on-collect" in runner.invoke(app, ["run", "--help"]).output
    monkeypatch.setenv("MCP_DISTILL_REDACT_ON_COLLECT", "1")
    assert Settings.from_env().redact_on_collect is True
    monkeypatch.setenv("MCP_DISTILL_REDACT_ON_COLLECT", "maybe")
    assert main(["--db", str(tmp_path / "c.db"), "--root", str(tmp_path), "collect", str(data)]) == 1
    assert "MCP_DISTILL_REDACT_ON_COLLECT='maybe' is not a yes/no value" in capsys.readouterr().err


async def test_mcp_collect_evidence_redact_argument(tmp_path: Path) -> None:
    data = tmp_path / "planted"
    _planted_streams(data)
    db = tmp_path / "distill.db"
    async with Client(build_server(Settings(db_path=db, roots=[tmp_path]))) as client:
        r = await client.call_tool("collect_evidence", {"paths": [str(data)], "redact": True})
        assert not r.is_error and r.structured_content["redact_on_collect"] is True
        assert sum(r.structured_content["redactions"].values()) > 50
    assert {s for v in _text_values(db)[1] for s in _found(v)} == set()
