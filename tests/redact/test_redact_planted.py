"""Secrets of every kind planted into the string fields of every example stream, through the whole
pipeline, must not come out of any MCP tool result, resource, prompt, export receipt or export text."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import orjson
from conftest import EXAMPLES
from mcp import Client
from test_redact import SAMPLES

from mcp_distill.config import Settings
from mcp_distill.datasets.validate import validate_export
from mcp_distill.pipeline import run_pipeline
from mcp_distill.redact.scrub import PLACEHOLDER_RE
from mcp_distill.score import load_rules
from mcp_distill.server import build_server
from mcp_distill.store import open_store

#: One sample per kind (49 kinds; the issue asks for >= 30).
KINDS = list({k: (t, s) for k, t, s in reversed(SAMPLES)}.items())
#: Fields whose value the scorer and the joins read as a code (a verdict, a time): planting there would
#: only make lines unreadable, not test redaction. Every other string field gets a secret.
SEMANTIC = {"timestamp", "ts", "time", "created_at", "started_at", "ended_at", "date", "verdict", "decision",
            "status", "category", "severity", "outcome", "role", "verdict_source", "result", "passed", "type"}
LINES_PER_STREAM = 6
STABLE_RE = re.compile(r"\[REDACTED:[a-z_]+:[0-9a-f]{10}\]")


def _plant(value: Any, key: str | None = None) -> Any:
    if isinstance(value, str):
        if key in SEMANTIC or not value:
            return value
        # the same original value gets the same secret, so records of one run still join
        i = int(hashlib.sha256(value.encode()).hexdigest(), 16) % len(KINDS)
        template, secret = KINDS[i][1]
        return f"{value} {template.format(s=secret)}"
    if isinstance(value, dict):
        return {k: _plant(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plant(v, key) for v in value]
    return value


def _planted_streams(dest: Path) -> None:
    dest.mkdir()
    for src in sorted(EXAMPLES.glob("*.jsonl")):
        out = []
        for line in src.read_bytes().splitlines()[:LINES_PER_STREAM]:
            try:
                out.append(orjson.dumps(_plant(orjson.loads(line))))
            except orjson.JSONDecodeError:
                continue
        (dest / src.name).write_bytes(b"\n".join(out) + b"\n")


def _leaks(text: str) -> list[str]:
    escaped = {s: json.dumps(s)[1:-1] for _, (_, s) in KINDS}
    return sorted(k for k, (_, s) in KINDS if s in text or escaped[s] in text)


def planted_setup(tmp_path: Path, redact_on_collect: bool = False) -> tuple[Path, Path, Settings]:
    """The planted streams under ``tmp_path/planted``, a store path and settings rooted at ``tmp_path``."""
    data = tmp_path / "planted"
    _planted_streams(data)
    db = tmp_path / "distill.db"
    return data, db, Settings(db_path=db, roots=[tmp_path], redact_on_collect=redact_on_collect)


async def test_planted_secrets_never_leave_through_mcp_or_exports(tmp_path: Path, embedder) -> None:
    data, db, settings = planted_setup(tmp_path)
    store = open_store(db)
    try:
        result = run_pipeline(store, settings, load_rules(), embedder, [str(data)], out_dir=tmp_path / "exports")
    finally:
        store.close()
    assert result["summary"]["records collected"] > 50 and result["summary"]["playbooks"] > 0
    seen: dict[str, str] = {}
    server = build_server(settings)
    async with Client(server) as client:
        for name, args in [("search_playbooks", {"query": "fix the failing test", "mode": "keyword"}),
                           ("search_playbooks", {"query": "fix the failing test"}), ("routing_ledger", {}),
                           ("score_run", {}), ("export_dataset", {"out_dir": str(tmp_path / "mcp-exports")})]:
            r = await client.call_tool(name, args)
            assert not r.is_error, r.content
            seen[f"tool {name} {args}"] = json.dumps(r.structured_content) + "".join(
                getattr(c, "text", "") for c in r.content)
        uris = ["distill://stats", "distill://ledger"]
        uris += [f"distill://receipts/{rid}" for rid in result["receipts"]]
        uris += [f"distill://runs/{run}" for run in _run_keys(db)]
        uris += [f"distill://playbooks/{pb}" for pb in result["playbooks"]["playbook_ids"][:10]]
        for uri in uris:
            seen[uri] = "".join(c.text for c in (await client.read_resource(uri)).contents)
        prompt = await client.get_prompt("apply_playbook", {"task": "fix the failing test"})
        seen["prompt"] = json.dumps(prompt.model_dump(mode="json"))
    for folder in ("exports", "mcp-exports"):
        seen[f"{folder}/receipt.json"] = (tmp_path / folder / "receipt.json").read_text()
        for f in sorted((tmp_path / folder).rglob("*.jsonl")):
            for line in f.read_text().splitlines():
                row = json.loads(line)  # whole rows: text, ids, metadata, provenance, source_run_ids
                for prov in row.get("provenance") or row["metadata"]["provenance"]:
                    assert not prov["source_file"].startswith("/") and prov["source_file"].startswith("planted/")
                seen.setdefault(f"{folder}/{f.name}", "")
                seen[f"{folder}/{f.name}"] += json.dumps(row)
        receipt = json.loads(seen[f"{folder}/receipt.json"])
        assert receipt["input_files"] and all(i["path"].startswith("planted/") for i in receipt["input_files"])
        assert str(tmp_path) not in seen[f"{folder}/receipt.json"]
    assert len(seen) > 20
    leaks = {where: _leaks(text) for where, text in seen.items() if _leaks(text)}
    assert leaks == {}
    kinds_seen = {m.split(":")[1].rstrip("]") for t in seen.values() for m in PLACEHOLDER_RE.findall(t)}
    assert len(kinds_seen) >= 30, sorted(kinds_seen)  # the planted kinds did travel through and were caught
    ids = "".join(v for k, v in seen.items() if k.startswith("exports/"))
    assert STABLE_RE.search(ids), "secrets inside ids get stable placeholders"
    store = open_store(db)
    try:  # `mcp-distill validate` of the redacted export: ids resolved through the store, no alias map
        for folder in ("exports", "mcp-exports"):
            report = validate_export(store, tmp_path / folder)
            assert report.ok and report.checks["provenance"] > 0, report.errors
    finally:
        store.close()


def _run_keys(db: Path) -> list[str]:
    store = open_store(db)
    try:
        return [r["run_key"] for r in store.query("SELECT run_key FROM runs ORDER BY run_key LIMIT 20")]
    finally:
        store.close()
