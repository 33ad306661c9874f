"""The protocol surface through a real MCP client: completion, logging, subscriptions, spec error codes."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import anyio
import orjson
import pytest
from conftest import EXAMPLES, PROJECT
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from mcp_distill.config import Settings
from mcp_distill.server import build_server

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """One store holding every kind of id: runs, playbooks, ledger rows, a drift snapshot, a scratchpad."""
    tmp = tmp_path_factory.mktemp("filled")
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def serve():\n    pass\n")
    for args in (("init", "-q"), ("add", "."), ("commit", "-qm", "one")):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=GIT_ENV)
    (tmp / "PRD.md").write_text("- [x] `serve` in a.py\n")
    settings = Settings(db_path=tmp / "d.db", roots=[PROJECT, tmp])

    async def fill() -> dict:
        async with Client(build_server(settings)) as c:
            collected = await c.call_tool("collect_evidence", {"paths": [str(EXAMPLES)]})
            await c.call_tool("score_run", {})
            await c.call_tool("extract_playbooks", {})
            await c.call_tool("routing_ledger", {})
            drift = await c.call_tool("prd_drift", {"prd_path": str(tmp / "PRD.md"), "repo_path": str(repo)})
            await c.call_tool("normalize_scratchpad", {"text": "- [x] one\n", "run_id": "pad-run-1"})
            return {"receipt": collected.structured_content["receipt_id"],
                    "drift": drift.structured_content["snapshot"]["snapshot_id"]}

    ids = anyio.run(fill)
    return settings, ids


async def test_completion_for_every_template_and_prompt_argument(filled):
    settings, ids = filled
    async with Client(build_server(settings)) as c:
        templates = {t.uri_template: t for t in (await c.list_resource_templates()).resource_templates}
        expected = {
            "distill://runs/{run_id}": ("run_id", ""),
            "distill://schemas/{name}": ("name", "Evi"),
            "distill://receipts/{receipt_id}": ("receipt_id", ids["receipt"][:3]),
            "distill://drift/{snapshot_id}": ("snapshot_id", "drift-"),
            "distill://scratchpads/{run_id}": ("run_id", "pad"),
            "distill://playbooks/{playbook_id}": ("playbook_id", ""),
            "distill://ledger/{task_type}": ("task_type", "code"),
        }
        assert set(templates) == set(expected), "a template was added: give its argument a completion"
        for uri, (arg, prefix) in expected.items():
            done = (await c.complete(ResourceTemplateReference(type="ref/resource", uri=uri),
                                     {"name": arg, "value": prefix})).completion
            assert done.values, f"no completion for {uri} {arg}={prefix!r}"
            assert all(v.startswith(prefix) for v in done.values) and len(done.values) <= 100
            assert done.values == sorted(done.values) and done.total >= len(done.values)
            # Every completed value resolves as the resource it names.
            first = uri.replace("{" + arg + "}", done.values[0])
            assert (await c.read_resource(first)).contents
        assert ids["drift"] in (await c.complete(
            ResourceTemplateReference(type="ref/resource", uri="distill://drift/{snapshot_id}"),
            {"name": "snapshot_id", "value": ids["drift"]})).completion.values
        task = (await c.complete(PromptReference(type="ref/prompt", name="apply_playbook"),
                                 {"name": "task", "value": ""})).completion
        assert task.values
        none = (await c.complete(ResourceTemplateReference(type="ref/resource", uri="distill://runs/{run_id}"),
                                 {"name": "run_id", "value": "no-such-prefix-zz"})).completion
        assert none.values == [] and none.total == 0
        unknown = (await c.complete(PromptReference(type="ref/prompt", name="nope"),
                                    {"name": "x", "value": ""})).completion
        assert unknown.values == []


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"run_id": "r1", "task_type": "fix", "model_name": "m1",
             "signals": {"verdict": "accept", "verdict_source": "observer"}}]
    (data / "evidence.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return Settings(db_path=tmp_path / "d.db", roots=[tmp_path])


async def test_legacy_subscriber_gets_resource_updated_after_collect(small):
    seen: list[str] = []

    async def on_message(message) -> None:
        root = getattr(message, "root", message)
        params = getattr(root, "params", None)
        if getattr(root, "method", "") == "notifications/resources/updated":
            seen.append(str(params.uri))

    async with Client(build_server(small), mode="legacy", message_handler=on_message) as c:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await c.subscribe_resource("distill://stats")
            await c.subscribe_resource("distill://runs/r1")
            with pytest.raises(MCPError) as missing:
                await c.subscribe_resource("distill://nowhere")
        assert missing.value.error.code == -32002
        assert not (await c.call_tool("collect_evidence", {"paths": ["data"]})).is_error
        with anyio.fail_after(5):
            while set(seen) < {"distill://stats", "distill://runs/r1"}:
                await anyio.sleep(0.01)
        seen.clear()
        await c.call_tool("collect_evidence", {"paths": ["data"]})  # nothing new: nobody is told
        await c.call_tool("score_run", {})
        with anyio.fail_after(5):
            while "distill://stats" not in seen:
                await anyio.sleep(0.01)


async def test_modern_listener_gets_resource_updated_after_collect(small):
    async with Client(build_server(small)) as c, c.listen(resource_subscriptions=["distill://stats"]) as sub:
        assert not (await c.call_tool("collect_evidence", {"paths": ["data"]})).is_error
        with anyio.fail_after(5):
            event = await sub.__anext__()
        assert getattr(event, "uri", None) == "distill://stats"


async def test_set_level_filters_logs_and_long_work_logs(small):
    got: list[tuple[str, str]] = []

    async def on_log(params) -> None:
        got.append((params.level, str(params.data)))

    async with Client(build_server(small), mode="legacy", logging_callback=on_log) as c:
        await c.call_tool("collect_evidence", {"paths": ["data"]})
        assert not got, "no setLevel: only warnings and worse"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert (await c.set_logging_level("debug")) is not None
        await c.call_tool("score_run", {"rescore": True})
    levels = {level for level, _ in got}
    assert {"info", "debug"} <= levels
    assert any("score_run: done in" in text for _, text in got)

    modern: list[str] = []

    async def on_modern(params) -> None:
        modern.append(params.level)

    async with Client(build_server(small), logging_callback=on_modern, log_level="info") as c:
        await c.call_tool("score_run", {"rescore": True})
    assert modern and "debug" not in modern


async def test_spec_error_codes_and_one_sentence_argument_errors(small):
    async with Client(build_server(small), mode="legacy") as legacy:
        with pytest.raises(MCPError) as old:
            await legacy.read_resource("distill://runs/nope")
        assert old.value.error.code == -32002 and "runs list" in old.value.error.message
    async with Client(build_server(small)) as c:
        with pytest.raises(MCPError) as new:
            await c.read_resource("distill://runs/nope")
        assert new.value.error.code == -32602
        with pytest.raises(MCPError) as prompt:
            await c.get_prompt("apply_playbook", {})
        assert prompt.value.error.code == -32602 and "'task'" in prompt.value.error.message
        with pytest.raises(MCPError) as tool:
            await c.call_tool("no_such_tool", {})
        assert tool.value.error.code == -32602 and "search_playbooks" in tool.value.error.message
        k = await c.call_tool("search_playbooks", {"query": "x", "k": 500})
        assert k.is_error
        assert k.content[0].text == ("Invalid argument for search_playbooks: k must be an integer from 1 to 50 "
                                     "(got 500). Fix the call and retry.")
        cost = await c.call_tool("routing_ledger", {"max_cost": -1})
        assert cost.is_error and "max_cost must be a number of at least 0 (or omitted) (got -1)" in cost.content[0].text
        mode = await c.call_tool("search_playbooks", {"query": "x", "mode": "fuzzy"})
        assert "mode must be one of: hybrid, keyword, semantic" in mode.content[0].text
        missing = await c.call_tool("search_playbooks", {})
        assert "query is required (a string)" in missing.content[0].text


async def test_relative_path_is_tried_under_every_root(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    (second / "logs").mkdir(parents=True)
    (second / "logs" / "evidence.jsonl").write_bytes(orjson.dumps({"run_id": "x", "text": "hi"}) + b"\n")
    server = build_server(Settings(db_path=tmp_path / "d.db", roots=[first, second]))
    async with Client(server) as c:
        ok = await c.call_tool("collect_evidence", {"paths": ["logs"]})
        assert not ok.is_error and ok.structured_content["inserted"] == 1
        missing = await c.call_tool("collect_evidence", {"paths": ["nope"]})
        assert missing.is_error and str(first) in missing.content[0].text and str(second) in missing.content[0].text
