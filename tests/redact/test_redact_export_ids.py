"""Ids, keys and provenance inside export rows: a secret in one becomes one stable placeholder
everywhere (joins survive), plain ids stay readable, paths are ``<label>/<relative>``, and the
validator still checks every row against the raw store (with the alias map and without it)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
from test_export import ACCEPT, REJECT, SECRETS, ev, prose, write
from test_redact import SAMPLES

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.datasets.build import export_dataset, validate_export
from mcp_distill.redact.aliases import Publisher, suspects
from mcp_distill.redact.scrub import find_secrets
from mcp_distill.score import load_rules, score_runs

TOKEN = SECRETS["github_token"]
STABLE = re.compile(r"\[REDACTED:github_token:[0-9a-f]{10}\]")


def _rows() -> list[dict]:
    secret_task = f"T-1 {TOKEN}"  # a task id someone pasted a token into
    return [
        ev(f"alpha-{TOKEN}", 1, task_id=secret_task, input_text=prose("prompt a"), output_text=prose("out a"),
           text=prose("notes a"), signals=ACCEPT),
        ev(f"beta-{TOKEN}", 2, task_id=secret_task, input_text=prose("prompt b"), output_text=prose("out b"),
           signals=REJECT),
        ev("plain", 3, task_id="T-2", input_text=prose("prompt p"), output_text=prose("out p"),
           text=prose("notes p"), signals=ACCEPT),
        ev("plain-rejected", 4, task_id="T-2", input_text=prose("prompt q"), output_text=prose("out q"),
           signals=REJECT),
    ]


def _export(store, tmp_path: Path) -> tuple[Path, dict[str, list[dict]]]:
    # the folder holding the source is the label; a token in its name must not leave either
    src = write(tmp_path / f"drop-{TOKEN}" / "evidence.jsonl", _rows())
    collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[tmp_path]), [str(src)])
    score_runs(store, load_rules())
    out = tmp_path / "exports"
    result = export_dataset(store, "all", out)
    rows = {rel: [orjson.loads(line) for line in (out / rel).read_bytes().splitlines()] for rel in result["files"]}
    return out, rows


def test_secret_ids_get_one_stable_placeholder_and_plain_ids_stay(store, tmp_path):
    out, rows = _export(store, tmp_path)
    text = b"".join((out / rel).read_bytes() for rel in rows).decode() + (out / "receipt.json").read_text()
    assert TOKEN not in text and str(tmp_path) not in text
    sft = [r for rel, rs in rows.items() if rel.startswith("sft/") for r in rs]
    pref = [r for rel, rs in rows.items() if rel.startswith("preference/") for r in rs]
    rag = rows["rag/chunks.jsonl"]
    alpha = {r["metadata"]["run_id"] for r in sft} - {"run:plain"}
    assert len(alpha) == 1 and STABLE.search(alpha.pop()) is not None
    alpha_id = next(r["metadata"]["run_id"] for r in sft if r["metadata"]["run_id"] != "run:plain")
    # the same published id in every file: SFT, preference and RAG rows still join on it
    assert any(r["metadata"]["chosen_run_id"] == alpha_id for r in pref)
    assert any(alpha_id in r["source_run_ids"] for r in rag)
    # plain ids are untouched
    assert {"run:plain"} <= {r["metadata"]["run_id"] for r in sft}
    assert any(r["metadata"]["task_key"] == "task:T-2" for r in pref)
    secret_pair = next(r for r in pref if r["metadata"]["chosen_run_id"] == alpha_id)
    assert STABLE.search(secret_pair["metadata"]["task_key"]) and STABLE.search(secret_pair["metadata"]["rejected_run_id"])
    for r in [*sft, *pref, *rag]:
        for prov in r.get("provenance") or r["metadata"]["provenance"]:
            assert prov["source_file"].endswith("/evidence.jsonl") and STABLE.match(prov["source_file"][5:])
            assert not prov["source_file"].startswith("/")
    receipt = orjson.loads((out / "receipt.json").read_bytes())
    assert [i["path"] for i in receipt["input_files"]] == [secret_pair["metadata"]["provenance"][0]["source_file"]]
    assert sum(n for k, n in receipt["record_counts"]["detail"].items() if k == "redacted_github_token") > 0


def test_validate_resolves_published_ids_through_the_store_and_still_catches_lies(store, tmp_path):
    out, rows = _export(store, tmp_path)
    report = validate_export(store, out)  # no alias map: `mcp-distill validate` in a later process
    assert report.ok, report.errors
    assert report.checks["provenance"] >= 6 and report.checks["sft_run_accepted"] >= 2
    # a published id of a rejected run put into SFT is still caught: ids are resolved, not trusted
    pref = [r for rel, rs in rows.items() if rel.startswith("preference/") for r in rs]
    beta = next(r["metadata"]["rejected_run_id"] for r in pref if STABLE.search(r["metadata"]["rejected_run_id"]))
    rel = next(rel for rel in rows if rel.startswith("sft/") and any(STABLE.search(r["metadata"]["run_id"])
                                                                    for r in rows[rel]))
    edited = [r | {"metadata": r["metadata"] | {"run_id": beta}} if STABLE.search(r["metadata"]["run_id"]) else r
              for r in rows[rel]]
    (out / rel).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in edited))
    report = validate_export(store, out)
    assert any("rejected, not accepted" in e for e in report.errors), report.errors
    assert all(TOKEN not in e for e in report.errors)
    # a raw secret id written back into a row is caught by the scan of every string
    leaked = [r | {"metadata": r["metadata"] | {"run_id": f"run:alpha-{TOKEN}"}} for r in rows[rel]]
    (out / rel).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in leaked))
    assert any("metadata.run_id still holds a secret (github_token)" in e for e in validate_export(store, out).errors)


def test_one_joined_scan_finds_every_planted_kind_among_plain_ids():
    plain = ["run:3f9a1c", "a" * 64, "task:django__django-11099", "file:review|src/a.py", "m1", "ev:9c2e:text:0"]
    checked = 0
    for _, template, secret in SAMPLES:
        for value in (secret, template.format(s=secret)):
            if not find_secrets(value):
                continue
            for pos in range(len(plain) + 1):
                assert pos in suspects([*plain[:pos], value, *plain[pos:]]), (value, pos)
                checked += 1
    assert checked > 300
    assert suspects(plain) == set()


def test_publisher_maps_back_and_counts():
    ids = Publisher(b"k" * 32, {"/home/me/data/a.jsonl": "data/a.jsonl"})
    shown = ids.publish([f"run:{TOKEN}", "run:plain", f"run:{TOKEN}"])
    assert shown[0] == shown[2] != f"run:{TOKEN}" and shown[1] == "run:plain"
    assert ids.path("/home/me/data/a.jsonl") == "data/a.jsonl"
    assert ids.aliases == {shown[0]: f"run:{TOKEN}", "data/a.jsonl": "/home/me/data/a.jsonl"}
    assert ids.counts["github_token"] == 2  # per occurrence written
    other = Publisher(b"j" * 32).id(f"run:{TOKEN}")
    assert other != shown[0]  # the placeholder hash is keyed per store


def test_publisher_memo_forgets_without_losing_a_batch(monkeypatch):
    monkeypatch.setattr("mcp_distill.redact.aliases.MEMO_LIMIT", 4)
    ids = Publisher(b"k" * 32)
    assert ids.publish(["a", "b", "c"]) == ["a", "b", "c"]
    shown = ids.publish(["a", "d", "e", f"run:{TOKEN}"])  # over the limit: the memo is cleared mid-way
    assert shown[:3] == ["a", "d", "e"] and STABLE.search(shown[3])
    assert ids.publish(["b", f"run:{TOKEN}"]) == ["b", shown[3]]
