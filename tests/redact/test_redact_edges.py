"""Redaction at the edges: stable id placeholders, and every MCP result / resource / prompt redacted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import orjson
from mcp import Client

from mcp_distill.config import Settings
from mcp_distill.redact.edges import redact_tree, redaction_key, stable_placeholder
from mcp_distill.redact.scrub import PLACEHOLDER_RE, find_secrets
from mcp_distill.server import build_server

GH = "ghp_" + "Q7r8A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
SK = "sk-" + "Zx8Qw2Lm9Pt4Rv7Ks1Hd6Jf3Gb5Nc0Ty2Ue4Ai"
KEY = bytes(range(32))


def test_ids_get_one_stable_placeholder_everywhere_and_distinct_secrets_stay_distinct() -> None:
    row = {"metadata": {"run_id": f"run:{GH}", "chosen_run_id": f"run:{GH}", "other": f"run:{SK}"},
           "source_run_ids": [f"run:{GH}"], f"key:{GH}": 1, "text": f"see run:{GH} for details"}
    out, counts = redact_tree(row, KEY)
    rid = out["metadata"]["run_id"]
    assert GH not in json.dumps(out) and SK not in json.dumps(out)
    assert rid == out["metadata"]["chosen_run_id"] == out["source_run_ids"][0]  # joins survive
    assert rid == "run:" + stable_placeholder("github_token", GH, KEY)
    assert out["metadata"]["other"] != rid
    assert f"key:{stable_placeholder('github_token', GH, KEY)}" in out  # dict keys too
    assert out["text"] == "see run:[REDACTED:github_token] for details"  # free text: no hash
    assert counts == Counter(github_token=5, openai_key=1)
    assert all(PLACEHOLDER_RE.fullmatch(p) for p in PLACEHOLDER_RE.findall(json.dumps(out)))
    assert redact_tree(out, KEY) == (out, Counter())  # idempotent
    # another key (another store) gives other placeholders: the hash is not a dictionary oracle
    assert redact_tree(row, bytes(32))[0]["metadata"]["run_id"] != rid


def test_embedded_json_and_keyed_values_are_redacted_as_trees() -> None:
    doc = orjson.dumps({"run_id": f"r:{GH}", "password": "hunter2", "n": 3}).decode()
    out, _ = redact_tree({"text": doc}, KEY)
    inner = json.loads(out["text"])
    assert inner["run_id"] == "r:" + stable_placeholder("github_token", GH, KEY)
    assert inner["password"].startswith("[REDACTED:password")
    assert inner["n"] == 3


def test_the_store_key_is_random_and_kept(store) -> None:
    key = redaction_key(store)
    assert len(key) == 32 and redaction_key(store) == key


def _rows(tmp_path: Path) -> Path:
    src = tmp_path / "data"
    src.mkdir()
    rows = [
        {"run_id": f"r-{GH}", "timestamp": "2026-04-20T10:00:00Z", "file_path": f"src/{SK}.py",
         "model_name": f"m-{GH}", "task_type": "fix", "input_text": f"fix it, key {SK}",
         "output_text": "done; password: correct horse battery staple",
         "signals": {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}},
        {"run_id": f"r-{GH}", "validation_results": [{"name": "pytest", "passed": True}]},
    ]
    (src / "evidence.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return src


async def test_mcp_results_resources_and_errors_carry_no_secret(tmp_path: Path) -> None:
    src = _rows(tmp_path)
    server = build_server(Settings(db_path=tmp_path / "distill.db", roots=[tmp_path]))
    seen: list[str] = []
    async with Client(server) as client:
        for name, args in [("collect_evidence", {"paths": [str(src)]}), ("score_run", {}),
                           ("score_run", {"run_id": f"r-{GH}"}), ("routing_ledger", {})]:
            r = await client.call_tool(name, args)
            seen.append(json.dumps(r.structured_content) + "".join(getattr(c, "text", "") for c in r.content))
        run = await client.read_resource(f"distill://runs/r-{GH}")
        seen.extend(c.text for c in run.contents)
        ledger = await client.read_resource("distill://ledger")
        seen.extend(c.text for c in ledger.contents)
        try:
            await client.read_resource(f"distill://runs/nope-{SK}")
        except Exception as exc:  # the SDK raises its own error type; only the message matters
            seen.append(str(exc))
    blob = "\n".join(seen)
    assert "[REDACTED:" in blob
    assert GH not in blob and SK not in blob and "correct horse battery staple" not in blob
    assert find_secrets(blob) == []
    run_doc = json.loads(run.contents[0].text)
    assert GH not in json.dumps(run_doc)


def test_cli_views_and_errors_are_redacted(tmp_path: Path, capsys) -> None:
    from mcp_distill.cli import main

    src = _rows(tmp_path)
    base = ["--db", str(tmp_path / "d.db"), "--root", str(tmp_path)]
    assert main([*base, "collect", str(src)]) == 0
    assert main([*base, "score"]) == 0
    capsys.readouterr()
    assert main([*base, "--json", "runs", "show", f"r-{GH}"]) == 0
    as_json = capsys.readouterr().out
    assert main([*base, "runs", "show", f"r-{GH}"]) == 0
    as_table = capsys.readouterr().out
    assert main([*base, "runs", "show", f"nope-{SK}"]) == 1
    error = capsys.readouterr().err
    for shown in (as_json, as_table, error):
        assert GH not in shown and SK not in shown
    assert "[REDACTED:" in as_json and "[REDACTED:" in error


def test_ordinary_text_loses_under_one_percent_of_its_tokens() -> None:
    """The example KB (its only secrets are the generator's planted ones) and one real trace set."""
    from conftest import EXAMPLES, shared_path

    from mcp_distill.redact.measure import corpus_texts, token_change

    total, changed, kinds = token_change(corpus_texts([EXAMPLES]))
    assert total > 10_000 and changed / total < 0.01
    assert set(kinds) <= {"openai_key", "github_token", "email", "url_password", "password", "secret"}
    total, changed, kinds = token_change(corpus_texts([shared_path("data", "real", "aider")]))
    assert total > 5_000 and changed / total < 0.01, kinds


def test_exported_receipt_names_paths_relative_and_carries_no_secret(tmp_path: Path) -> None:
    from mcp_distill.datasets.build import export_dataset
    from mcp_distill.receipts import get_receipt
    from mcp_distill.store import open_store

    src = _rows(tmp_path)
    secret_dir = tmp_path / f"kb-{GH}"
    src.rename(secret_dir)
    store = open_store(tmp_path / "d.db")
    try:
        from mcp_distill.collect.collector import collect_paths
        from mcp_distill.score import load_rules, score_runs

        collect_paths(store, Settings(db_path=tmp_path / "d.db", roots=[tmp_path]), [str(secret_dir)])
        score_runs(store, load_rules(None))
        out = tmp_path / "exports"
        result = export_dataset(store, "all", out)
        on_disk = (out / "receipt.json").read_text()
        receipt = json.loads(on_disk)
        assert GH not in on_disk and str(tmp_path) not in on_disk
        assert receipt["input_files"] and all(not f["path"].startswith("/") for f in receipt["input_files"])
        assert receipt["input_files"][0]["path"].endswith("/evidence.jsonl")
        assert {f["path"] for f in receipt["output_files"]} >= {"rag/chunks.jsonl", "sft/train.jsonl"}
        stored = get_receipt(store, result["receipt_id"])  # the store keeps the absolute paths
        assert stored.input_files[0].path.startswith(str(tmp_path))
    finally:
        store.close()
