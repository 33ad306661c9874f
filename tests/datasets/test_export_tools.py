"""SFT rows carry a run's tool calls in TRL's tool-calling shape, and they load with `datasets.load_dataset`."""

from __future__ import annotations

import pytest
from test_export import ACCEPT, REJECT, ev, load, prose, read_rows

from mcp_distill.datasets.build import export_dataset, validate_export
from mcp_distill.models import SftSample


def tool_rows():
    shell = {"command": "pytest -q tests/test_cache.py", "kind": "shell", "exit_code": 1, "ok": False,
             "output_excerpt": "1 failed: test_eviction"}
    read = {"command": "Read src/cache.py", "kind": "tool", "ok": True, "output_excerpt": "class Cache: ..."}
    edit = {"command": "Edit src/cache.py", "kind": "edit", "ok": True}
    cell = {"command": "limit = cache.resize(64)", "kind": "tool", "ok": True}  # a code cell, recorded as its code
    return [
        ev("t1", 1, task_id="T-tool", input_text=prose("fix the cache eviction"), commands_run=[shell]),
        ev("t1", 2, task_id="T-tool", commands_run=[read, edit, cell]),
        ev("t1", 3, task_id="T-tool", output_text=prose("eviction fixed"), signals=ACCEPT),
        ev("t1", 4, task_id="T-tool", commands_run=[{"command": "rm -rf build", "kind": "shell"}]),  # after the answer
        ev("t2", 5, task_id="T-plain", input_text=prose("plain prompt"), output_text=prose("plain answer"), signals=ACCEPT),
        ev("t3", 6, task_id="T-tool", input_text=prose("rejected try"), output_text=prose("wrong"),
           commands_run=[shell], signals=REJECT),
    ]


@pytest.fixture
def tools_out(store, tmp_path):
    load(store, tmp_path, tool_rows())
    out = tmp_path / "out"
    result = export_dataset(store, "sft", str(out))
    rows = {r["metadata"]["run_id"]: r for rel in result["files"] for r in read_rows(out, rel)}
    return store, out, result, rows


def test_tool_calls_become_trl_tool_messages(tools_out):
    store, out, _, rows = tools_out
    row = rows["run:t1"]
    SftSample.model_validate(row)
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["user", *["assistant", "tool"] * 4, "assistant"]
    calls = [m["tool_calls"][0] for m in row["messages"] if "tool_calls" in m]
    assert calls == [
        {"type": "function", "function": {"name": "shell", "arguments": {"command": "pytest -q tests/test_cache.py"}}},
        {"type": "function", "function": {"name": "Read", "arguments": {"input": "src/cache.py"}}},
        {"type": "function", "function": {"name": "Edit", "arguments": {"input": "src/cache.py"}}},
        {"type": "function", "function": {"name": "tool", "arguments": {"input": "limit = cache.resize(64)"}}},
    ]
    results = [(m["name"], m["content"]) for m in row["messages"] if m["role"] == "tool"]
    assert results == [("shell", "1 failed: test_eviction"), ("Read", "class Cache: ..."), ("Edit", "ok"), ("tool", "ok")]
    assert row["messages"][-1] == {"role": "assistant", "content": prose("eviction fixed")}
    assert sorted(t["function"]["name"] for t in row["tools"]) == ["Edit", "Read", "shell", "tool"]
    assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object" for t in row["tools"])
    assert len(row["metadata"]["provenance"]) == 3  # the answer, the prompt (its record also ran the shell call), t1@2
    assert "tools" not in rows["run:t2"] and [m["role"] for m in rows["run:t2"]["messages"]] == ["user", "assistant"]
    assert "run:t3" not in rows  # a rejected run's calls never reach SFT
    assert validate_export(store, out).ok


def test_sft_with_tool_calls_loads_with_load_dataset(tools_out, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets", reason="the `datasets` library is in the test extra")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    _, out, result, _ = tools_out
    files = {p.stem: str(p) for p in sorted((out / "sft").glob("*.jsonl"))}
    loaded = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "cache"))
    assert sum(ds.num_rows for ds in loaded.values()) == sum(f["rows"] for f in result["files"].values())
    rows = [r for ds in loaded.values() for r in ds if r["tools"]]
    (row,) = rows
    assert row["messages"][1]["tool_calls"][0]["function"]["name"] == "shell"
    tool = row["messages"][2]
    assert (tool["role"], tool["name"], tool["content"]) == ("tool", "shell", "1 failed: test_eviction")


def test_schema_refuses_tool_calls_out_of_shape(tools_out):
    row = tools_out[3]["run:t1"]
    bad = [
        lambda r: r["messages"][2].pop("name"),  # a tool message names its function
        lambda r: r["messages"][0].update(tool_calls=r["messages"][1]["tool_calls"]),  # only the assistant calls
        lambda r: r.update(tools=r["tools"][:1]),  # tools list every function called
        lambda r: r["messages"][1]["tool_calls"][0]["function"].update(name="not a name"),
    ]
    for change in bad:
        copy = SftSample.model_validate(row).model_dump(exclude_none=True)
        change(copy)
        with pytest.raises(ValueError):
            SftSample.model_validate(copy)
