"""The MCP Inspector CLI (a real, independent MCP client) against `mcp-distill serve` over stdio.

It runs when the Inspector is installed: `.ci/run` installs it under .ci/node (npm); elsewhere set
MCP_INSPECTOR to its `mcp-inspector` binary, or the test skips and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROJECT


def inspector() -> str:
    candidates = [os.environ.get("MCP_INSPECTOR"), str(PROJECT / ".ci" / "node" / "node_modules" / ".bin" / "mcp-inspector")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("mcp-inspector")
    if found:
        return found
    pytest.skip("MCP Inspector CLI not installed (.ci/run installs it; or set MCP_INSPECTOR)")


def call(tmp_path: Path, *args: str) -> dict:
    # the Inspector passes only a safe subset of the environment to the server: settings go as options
    server = [sys.executable, "-m", "mcp_distill", "--db", str(tmp_path / "d.db"), "--root", str(PROJECT), "serve"]
    out = subprocess.run([inspector(), "--cli", *server, *args], capture_output=True, text=True, cwd=PROJECT,
                         timeout=180)
    assert out.returncode == 0, out.stderr + out.stdout
    return json.loads(out.stdout)


def test_inspector_lists_tools_and_calls_collect_then_score(tmp_path):
    tools = {t["name"] for t in call(tmp_path, "--method", "tools/list")["tools"]}
    assert {"collect_evidence", "score_run", "search_playbooks", "export_dataset", "routing_ledger", "prd_drift",
            "normalize_scratchpad", "record_evidence", "record_override"} <= tools
    collected = call(tmp_path, "--method", "tools/call", "--tool-name", "collect_evidence",
                     "--tool-args-json", json.dumps({"paths": [str(EXAMPLES)]}))
    assert collected["structuredContent"]["inserted"] > 500
    scored = call(tmp_path, "--method", "tools/call", "--tool-name", "score_run")
    assert scored["structuredContent"]["scored"] > 50
    again = call(tmp_path, "--method", "tools/call", "--tool-name", "collect_evidence",
                 "--tool-args-json", json.dumps({"paths": [str(EXAMPLES)]}))
    assert again["structuredContent"]["inserted"] == 0
    templates = call(tmp_path, "--method", "resources/templates/list")["resourceTemplates"]
    assert {"distill://runs/{run_id}", "distill://playbooks/{playbook_id}"} <= {t["uriTemplate"] for t in templates}
