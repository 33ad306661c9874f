"""The MCP face through real clients: in memory, over a stdio subprocess, and over Streamable HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import wait_for_http
from mcp import Client, StdioServerParameters

from mcp_distill.config import Settings
from mcp_distill.server import build_server

ROWS = [
    {"run_id": "r1", "timestamp": "2026-04-20T10:00:00Z", "file_path": "src/a.rs",
     "signals": {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}},
    {"run_id": "r1", "validation_results": [{"name": "cargo test", "passed": True}]},
    {"run_id": "r2", "signals": {"verdict": "reject", "verdict_source": "observer"}},
    {"run_id": "r3", "text": "no signal here"},
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    src = tmp_path / "data"
    src.mkdir()
    (src / "evidence.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ROWS) + b"{broken\n")
    return src


@pytest.fixture
def server(tmp_path: Path, data_dir: Path):
    return build_server(Settings(db_path=tmp_path / "distill.db", roots=[tmp_path]))


async def test_tools_are_listed_with_schemas_and_annotations(server):
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("collect_evidence", "score_run", "record_evidence", "record_override"):
        assert name in tools
        assert tools[name].description
        assert tools[name].output_schema is not None
    assert tools["collect_evidence"].input_schema["properties"]["paths"]["description"]
    assert tools["score_run"].annotations.read_only_hint is False


async def test_collect_then_score_then_read_run(server, data_dir):
    async with Client(server) as client:
        r = await client.call_tool("collect_evidence", {"paths": [str(data_dir)]})
        assert not r.is_error, r.content
        assert r.structured_content["inserted"] == 4 and r.structured_content["quarantined"] == 1
        again = await client.call_tool("collect_evidence", {"paths": [str(data_dir)]})
        assert again.structured_content["inserted"] == 0
        scored = await client.call_tool("score_run", {})
        assert scored.structured_content["by_category"] == {"accepted": 1, "rejected": 1, "needs_human_review": 1}
        one = await client.call_tool("score_run", {"run_id": "r1", "rescore": True})
        assert one.structured_content["runs"][0]["category"] == "accepted"
        run = json.loads((await client.read_resource("distill://runs/r1")).contents[0].text)
        assert run["score"]["category"] == "accepted" and len(run["records"]) == 2
        stats = json.loads((await client.read_resource("distill://stats")).contents[0].text)
        assert stats["evidence"] == 4 and stats["quarantined"] == 1
        receipt_id = r.structured_content["receipt_id"]
        receipt = json.loads((await client.read_resource(f"distill://receipts/{receipt_id}")).contents[0].text)
        assert receipt["stage"] == "collect" and receipt["input_files"][0]["sha256"]
        schema = json.loads((await client.read_resource("distill://schemas/EvidenceRecord")).contents[0].text)
        assert "provenance" in schema["required"]


async def test_record_evidence_and_override_live(server, data_dir):
    async with Client(server) as client:
        await client.call_tool("collect_evidence", {"paths": [str(data_dir)]})
        pushed = await client.call_tool("record_evidence", {"record": {
            "run_id": "r9", "model_name": "kimi-k2:1t", "signals": {"outcome": "resolved"}}})
        assert not pushed.is_error, pushed.content
        assert pushed.structured_content["record"]["run_key"] == "run:r9"
        bad = await client.call_tool("record_evidence", {"record": {"latency_ms": "fast"}})
        assert bad.is_error and "latency_ms" in bad.content[0].text
        over = await client.call_tool("record_override", {"run_id": "r2", "category": "accepted",
                                                          "reason": "the observer misread the diff", "reviewer": "ana"})
        assert not over.is_error, over.content
        run = json.loads((await client.read_resource("distill://runs/r2")).contents[0].text)
        assert run["score"]["category"] == "accepted"
        assert "human_overrides" in run["streams"]
        # the pushed records trace to lines of the live log
        prov = next(r["provenance"] for r in run["records"] if r["stream"] == "human_overrides")
        assert Path(prov["source_file"]).exists()


async def test_expected_errors_are_clear_tool_errors(server, tmp_path):
    async with Client(server) as client:
        outside = await client.call_tool("collect_evidence", {"paths": ["/etc"]})
        assert outside.is_error and "outside the allowed roots" in outside.content[0].text
        missing = await client.call_tool("collect_evidence", {"paths": [str(tmp_path / "nope")]})
        assert missing.is_error and "does not exist" in missing.content[0].text
        unknown = await client.call_tool("score_run", {"run_id": "no-such-run"})
        assert unknown.is_error and "no run" in unknown.content[0].text
        with pytest.raises(Exception, match="no run"):
            await client.read_resource("distill://runs/no-such-run")
        with pytest.raises(Exception, match="no schema"):
            await client.read_resource("distill://schemas/Nope")


def test_stdio_subprocess(tmp_path, data_dir):
    import anyio

    async def main() -> None:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "mcp_distill", "--db", str(tmp_path / "s.db"), "--root",
                                          str(tmp_path), "serve"],
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"collect_evidence", "score_run"} <= names
            r = await client.call_tool("collect_evidence", {"paths": [str(data_dir)]})
            assert r.structured_content["inserted"] == 4
            s = await client.call_tool("score_run", {})
            assert s.structured_content["scored"] == 3

    anyio.run(main)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_with_token(tmp_path, data_dir):
    import anyio
    import httpx

    port = _free_port()
    env = {**os.environ, "MCP_DISTILL_TOKEN": "s3cret-token"}
    proc = subprocess.Popen([sys.executable, "-m", "mcp_distill", "--db", str(tmp_path / "h.db"), "--root", str(tmp_path),
                             "serve", "--http", "--port", str(port)], env=env, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        wait_for_http(url)
        assert httpx.post(url, json={}).status_code == 401

        async def main() -> None:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            auth_client = httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-token"})
            async with auth_client, Client(streamable_http_client(url, http_client=auth_client)) as client:
                r = await client.call_tool("collect_evidence", {"paths": [str(data_dir)]})
                assert r.structured_content["inserted"] == 4

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_non_loopback_bind_requires_a_token(tmp_path, monkeypatch):
    from mcp_distill.errors import ConfigError
    from mcp_distill.server.http import http_app

    monkeypatch.delenv("MCP_DISTILL_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="MCP_DISTILL_TOKEN"):
        http_app(Settings(db_path=tmp_path / "x.db", roots=[tmp_path]), host="0.0.0.0")


async def test_pushes_go_to_each_stores_own_log_and_report_their_own_row(tmp_path):
    import anyio

    first = build_server(Settings(db_path=tmp_path / "a.db", roots=[tmp_path]))
    second = build_server(Settings(db_path=tmp_path / "b.db", roots=[tmp_path]))
    async with Client(first) as a:
        results = []

        async def push(i: int) -> None:
            r = await a.call_tool("record_evidence", {"record": {"run_id": f"p{i}", "text": f"note {i}"}})
            results.append((i, r.structured_content))

        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(push, i)
        for i, content in results:
            assert content["run_key"] == f"run:p{i}" and content["record"]["run_key"] == f"run:p{i}"
            assert content["inserted"] == 1
        bad = await a.call_tool("record_evidence", {"record": {"stream": "../../etc", "text": "x"}})
        assert bad.is_error and "'stream'" in bad.content[0].text
        typo = await a.call_tool("record_override", {"run_id": "no-such-run", "category": "accepted",
                                                     "reason": "looked fine"})
        assert typo.structured_content["warnings"] and "typo" in typo.structured_content["warnings"][0]
    async with Client(second) as b:
        await b.call_tool("record_evidence", {"record": {"run_id": "only-b", "text": "b"}})
        stats = json.loads((await b.read_resource("distill://stats")).contents[0].text)
        assert stats["evidence"] == 1  # nothing of a.db's pushes leaked into b.db


async def test_pushing_the_same_record_twice_stores_it_once(tmp_path):
    server = build_server(Settings(db_path=tmp_path / "d.db", roots=[tmp_path]))
    record = {"run_id": "same", "timestamp": "2026-04-20T10:00:00Z", "text": "identical"}
    async with Client(server) as client:
        first = (await client.call_tool("record_evidence", {"record": record})).structured_content
        second = (await client.call_tool("record_evidence", {"record": record})).structured_content
        assert first["inserted"] == 1 and second["inserted"] == 0 and second["duplicates"] == 1
        assert second["record"]["record_id"] == first["record"]["record_id"]
        stats = json.loads((await client.read_resource("distill://stats")).contents[0].text)
        assert stats["evidence"] == 1
