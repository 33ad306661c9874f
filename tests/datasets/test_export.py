"""Dataset Builder: exports, mining, splits, redaction, dedup, atomic writes, the validator, receipts."""

from __future__ import annotations

import hashlib
import importlib.util
import random
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import EXAMPLES, PROJECT

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.datasets import build as export_mod
from mcp_distill.datasets import passes as export_passes
from mcp_distill.datasets import validate as export_validate
from mcp_distill.datasets.build import export_dataset, validate_export
from mcp_distill.datasets.mine import VALIDATION_FRACTION, split_for
from mcp_distill.datasets.rag import chunk_text
from mcp_distill.errors import InvalidInputError, ValidationFailedError
from mcp_distill.receipts import get_receipt, sha256_file
from mcp_distill.redact.scrub import find_secrets
from mcp_distill.score import load_rules, score_runs
from mcp_distill.search.playbooks import extract_playbooks

WORDS = ("index cache retry budget shard vector gateway parser schema token window latency queue worker "
         "lock commit patch review finding runtime handler config manifest trace metric test branch merge "
         "socket buffer stream batch offset cursor page row column table query plan join filter sort").split()
ACCEPT = {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}
REJECT = {"verdict": "reject", "verdict_source": "observer", "confidence": 0.9}
PARTIAL = {"verdict": "needs_work", "verdict_source": "observer", "confidence": 0.9}
ALL_FILES = ("sft/train.jsonl", "sft/validation.jsonl", "preference/train.jsonl", "preference/validation.jsonl",
             "rag/chunks.jsonl")
# The mixed fixture's tasks put no SFT row and no preference pair in validation (its one validation task is
# a consensus split, whose pair is one record and so dropped), and an empty split file is not written.
DATA_FILES = tuple(rel for rel in ALL_FILES if rel not in ("sft/validation.jsonl", "preference/validation.jsonl"))


def prose(seed: str, n: int = 40) -> str:
    """Distinct, deterministic text: different seeds share few 5-word shingles."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    return f"[{seed}] " + " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def ev(run: str, minute: int = 0, **fields: Any) -> dict[str, Any]:
    return {"run_id": run, "task_type": "review", "model_name": "m1",
            "timestamp": f"2026-05-01T10:{minute:02d}:00Z", **fields}


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def load(store, tmp_path: Path, rows: list[dict[str, Any]], name: str = "evidence.jsonl") -> Path:
    src = write(tmp_path / "src" / name, rows)
    collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[tmp_path]), [str(src)])
    score_runs(store, load_rules())
    return src


def mixed_rows() -> list[dict[str, Any]]:
    """Accepted, partial, rejected and unsure runs; attempts, consensus splits and human overrides."""
    rows = [
        # task A (same file): accepted, rejected, partial
        ev("a1", 1, file_path="src/a.py", input_text=prose("prompt a1"), output_text=prose("out a1"), signals=ACCEPT),
        ev("a2", 2, file_path="src/a.py", input_text=prose("prompt a2"), output_text=prose("out a2"), signals=REJECT),
        ev("a3", 3, file_path="src/a.py", input_text=prose("prompt a3"), output_text=prose("out a3"), signals=PARTIAL),
        # task B (task id): accepted, rejected, and two human overrides
        ev("b1", 4, task_id="T-B", input_text=prose("prompt b1"), output_text=prose("out b1"), signals=ACCEPT),
        ev("b2", 5, task_id="T-B", input_text=prose("prompt b2"), output_text=prose("out b2"), signals=REJECT),
        ev("b3", 6, task_id="T-B", input_text=prose("prompt b3"), output_text=prose("out b3"), signals=REJECT),
        ev("b3", 7, human_override={"category": "accepted", "reason": "checked by hand", "reviewer": "ann"}),
        ev("b4", 8, task_id="T-B", input_text=prose("prompt b4"), output_text=prose("out b4"), signals=ACCEPT),
        ev("b4", 9, human_override={"category": "rejected", "reason": "broke prod", "reviewer": "ann"}),
        # run c: accepted on attempt 2 of 2, per-attempt outputs
        ev("c1", 10, file_path="src/c.py", input_text=prose("prompt c"), output_text=prose("attempt c1"),
           extra={"attempt": 1}, model_role="primary"),
        ev("c1", 11, file_path="src/c.py", input_text=prose("prompt c"), output_text=prose("attempt c2"),
           extra={"attempt": 2}, model_role="escalation"),
        ev("c1", 12, file_path="src/c.py", input_text=prose("prompt c"), output_text=prose("attempt c2"),
           text=prose("findings c"), signals={**ACCEPT, "attempts": 2, "accepted_on_attempt": 2}),
        ev("c1", 13, file_path="src/c.py", input_text=prose("attempt c1"), output_text=prose("overseer c"),
           model_role="overseer"),
        # run p: a PR audit with a consensus split on one claim
        ev("p1", 14, task_id="PR#7", input_text=prose("audit prompt"), output_text=prose("audit verdict"),
           signals={"verdict": "pass", "verdict_source": "auditor", "severity": "info"}),
        ev("p1", 15, stream="audit_discrepancies", task_id="PR#7/claim0", pr_number=7, input_text="Adds retry budget",
           output_text="the diff bounds the retry loop as claimed", extra={"rejected": "no change bounds the loop"},
           signals={"verdict": "verified", "verdict_source": "consensus", "votes_for": 2, "votes_against": 1}),
        # run n: no outcome signal at all
        ev("n1", 16, file_path="src/a.py", input_text=prose("prompt n1"), output_text=prose("out n1")),
        # run d: a fact with text only (RAG, not SFT)
        ev("d1", 17, text=prose("fact d1"), signals=ACCEPT),
    ]
    return rows


@pytest.fixture
def mixed(store, tmp_path):
    load(store, tmp_path, mixed_rows())
    return store


def read_rows(out: Path, rel: str) -> list[dict[str, Any]]:
    path = out / rel
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()] if path.exists() else []


def all_rows(out: Path, prefix: str) -> list[dict[str, Any]]:
    return [r for rel in DATA_FILES if rel.startswith(prefix) for r in read_rows(out, rel)]


def categories(store) -> dict[str, str]:
    return {r["run_key"]: r["category"] for r in store.query("SELECT run_key, category FROM scores")}


# --- exports ---------------------------------------------------------------------------------------


def test_mixed_fixture_exports_and_validates(mixed, tmp_path):
    out = tmp_path / "exports"
    result = export_dataset(mixed, "all", str(out))
    cats = categories(mixed)
    assert cats["run:a1"] == "accepted" and cats["run:a2"] == "rejected" and cats["run:a3"] == "partially_accepted"
    assert cats["run:b3"] == "accepted" and cats["run:b4"] == "rejected" and cats["run:n1"] == "needs_human_review"
    assert result["validation"]["ok"] and result["validation"]["error_count"] == 0
    assert set(result["files"]) == set(DATA_FILES)

    sft = all_rows(out, "sft/")
    assert {r["metadata"]["run_id"] for r in sft} == {"run:a1", "run:b1", "run:b3", "run:c1", "run:p1"}
    assert all(cats[r["metadata"]["run_id"]] == "accepted" for r in sft)
    c1 = next(r for r in sft if r["metadata"]["run_id"] == "run:c1")
    assert c1["messages"][-1] == {"role": "assistant", "content": prose("attempt c2")}  # the accepted attempt
    assert c1["messages"][0]["role"] == "user" and "File: src/c.py" in c1["messages"][0]["content"]
    assert {"out a2", "out a3", "out b2", "out b4", "attempt c1", "out n1"}.isdisjoint(
        {r["messages"][-1]["content"][1:-1].split("]")[0] for r in sft})

    prefs = all_rows(out, "preference/")
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in prefs:
        by_source.setdefault(r["metadata"]["source"], []).append(r)
    assert set(by_source) == {"attempts", "override"}  # the consensus split is one record: dropped, counted
    assert result["counts"]["pairs_dropped_one_source_line"] == 1
    within = [r for r in by_source["attempts"] if r["metadata"]["chosen_run_id"] == r["metadata"]["rejected_run_id"]]
    assert [(r["chosen"], r["rejected"]) for r in within] == [(prose("attempt c2"), prose("attempt c1"))]
    assert [(r["metadata"]["chosen_attempt"], r["metadata"]["rejected_attempt"]) for r in within] == [(2, 1)]
    across = {(r["metadata"]["chosen_run_id"], r["metadata"]["rejected_run_id"]) for r in prefs
              if r["metadata"]["chosen_run_id"] != r["metadata"]["rejected_run_id"]}
    assert ("run:a1", "run:a2") in across
    assert {("run:b1", "run:b2"), ("run:b3", "run:b4")} <= across  # b3 overridden to accepted, b4 to rejected
    assert all(cats[c] == "accepted" and cats[r] == "rejected" for c, r in across)
    assert not any("run:a3" in pair or "run:n1" in pair for pair in across)
    override = {(r["metadata"]["chosen_run_id"], r["metadata"]["rejected_run_id"]) for r in by_source["override"]}
    assert all("run:b3" in pair or "run:b4" in pair for pair in override)
    for r in prefs:
        assert r["chosen"] != r["rejected"] and len(r["metadata"]["provenance"]) >= 2
        chosen_line, rejected_line = ((p["source_file"], p["line_offset"]) for p in r["metadata"]["provenance"][:2])
        assert chosen_line != rejected_line

    rag = all_rows(out, "rag/")
    assert rag and all(cats[run] == "accepted" for r in rag for run in r["source_run_ids"])
    texts = {r["text"] for r in rag}
    assert prose("fact d1") in texts and prose("findings c") in texts and prose("attempt c2") in texts
    assert prose("attempt c1") not in texts and prose("out a2") not in texts  # rejected outputs never in RAG
    assert len({r["id"] for r in rag}) == len(rag)


def test_receipt_is_written_and_stored(mixed, tmp_path):
    out = tmp_path / "exports"
    result = export_dataset(mixed, "all", out, command="export --kind all")
    receipt = get_receipt(mixed, result["receipt_id"])
    on_disk = orjson.loads((out / "receipt.json").read_bytes())
    assert on_disk["receipt_id"] == receipt.receipt_id and receipt.stage == "export" and receipt.validation_pass
    assert receipt.command == "export --kind all"
    assert {Path(d.path).relative_to(out).as_posix(): d.sha256 for d in receipt.output_files} == {
        rel: sha256_file(out / rel) for rel in DATA_FILES}
    assert receipt.input_files and receipt.record_counts.in_ > 0
    assert receipt.record_counts.out == sum(f["rows"] for f in result["files"].values())
    assert receipt.details["scorer_version"] == load_rules().version
    assert receipt.details["validation"]["ok"] is True
    assert receipt.record_counts.detail["sft/train.jsonl"] + receipt.record_counts.detail["sft/validation.jsonl"] == 5


def test_two_exports_are_byte_identical(mixed, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    export_dataset(mixed, "all", first)
    export_dataset(mixed, "all", second)
    for rel in DATA_FILES:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_in_process_validation_gives_the_same_export(mixed, tmp_path, monkeypatch):
    background = export_dataset(mixed, "all", tmp_path / "bg")
    monkeypatch.setattr(export_mod, "BACKGROUND_VALIDATION", False)
    inline = export_dataset(mixed, "all", tmp_path / "fg")
    for rel in DATA_FILES:
        assert (tmp_path / "bg" / rel).read_bytes() == (tmp_path / "fg" / rel).read_bytes(), rel
    assert background["validation"]["rows"] == inline["validation"]["rows"] and inline["validation"]["ok"]


def test_a_dead_validator_process_fails_the_export(mixed, tmp_path, monkeypatch):
    out = tmp_path / "exports"
    export_dataset(mixed, "all", out)
    before = snapshot(out)
    monkeypatch.setattr(export_validate.sys, "executable", shutil.which("false"))
    with pytest.raises(ValidationFailedError, match="validator process died"):
        export_dataset(mixed, "all", out)
    assert snapshot(out) == before and leftovers(out) == []


def test_paging_does_not_change_the_result(mixed, tmp_path, monkeypatch):
    export_dataset(mixed, "all", tmp_path / "big")
    monkeypatch.setattr(export_passes, "RUN_PAGE", 2)
    monkeypatch.setattr(export_mod, "SINK_BATCH", 3)
    export_dataset(mixed, "all", tmp_path / "small")
    for rel in DATA_FILES:
        assert (tmp_path / "big" / rel).read_bytes() == (tmp_path / "small" / rel).read_bytes(), rel


def test_one_kind_writes_only_its_files(mixed, tmp_path):
    out = tmp_path / "x"
    result = export_dataset(mixed, "sft", out)
    assert set(result["files"]) == {"sft/train.jsonl"}  # the empty validation split is not written
    assert not (out / "preference").exists() and not (out / "rag").exists()
    assert validate_export(mixed, out).ok
    with pytest.raises(InvalidInputError, match="unknown export kind"):
        export_dataset(mixed, "dpo", out)


def test_default_folder_is_exports(mixed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = export_dataset(mixed, "rag")
    assert Path(result["files"]["rag/chunks.jsonl"]["path"]) == Path("exports") / "rag" / "chunks.jsonl"
    assert (tmp_path / "exports" / "rag" / "chunks.jsonl").stat().st_size > 0


def test_a_prompt_of_another_task_never_joins_an_answer(store, tmp_path):
    """A wrong join put a prompt about src/other.py into the run of an answer about src/j.py."""
    load(store, tmp_path, [
        ev("j1", 1, file_path="src/j.py", output_text=prose("answer j"), signals=ACCEPT),
        ev("j1", 2, file_path="src/other.py", input_text=prose("prompt other")),
        ev("j2", 3, file_path="src/k.py", output_text=prose("answer k"), signals=ACCEPT),
        ev("j2", 4, file_path="src/k.py", input_text=prose("prompt k")),
    ])
    result = export_dataset(store, "sft", tmp_path / "out")
    sft = all_rows(tmp_path / "out", "sft/")
    assert [r["metadata"]["run_id"] for r in sft] == ["run:j2"]
    assert sft[0]["messages"][0]["content"].endswith(prose("prompt k")) and len(sft[0]["metadata"]["provenance"]) == 2
    assert result["counts"]["sft_skipped_no_input"] == 1


# --- splits ----------------------------------------------------------------------------------------


def test_splits_are_by_task_and_deterministic(store, tmp_path):
    rows = []
    for t in range(80):
        for k, signals in enumerate((ACCEPT, REJECT)):
            rows.append(ev(f"t{t}-{k}", k, file_path=f"src/f{t}.py", input_text=prose(f"p{t}-{k}"),
                           output_text=prose(f"o{t}-{k}"), signals=signals))
    load(store, tmp_path, rows)
    out = tmp_path / "exports"
    export_dataset(store, "all", out)
    split_of: dict[str, set[str]] = {}
    for rel in ALL_FILES[:4]:
        for r in read_rows(out, rel):
            meta = r["metadata"]
            task = meta.get("task_key") or f"file:review|src/f{meta['run_id'].split('-')[0][5:]}.py"
            assert meta["split"] == rel.split("/")[1].removesuffix(".jsonl") == split_for(task)
            split_of.setdefault(task, set()).add(meta["split"])
    assert all(len(s) == 1 for s in split_of.values())  # one task never lands in both splits
    validation = sum(1 for s in split_of.values() if s == {"validation"})
    assert 0 < validation < len(split_of) * VALIDATION_FRACTION * 3
    assert read_rows(out, "sft/validation.jsonl") and read_rows(out, "preference/validation.jsonl")


# --- dedup -----------------------------------------------------------------------------------------


def test_exact_and_near_duplicates_are_dropped_and_counted(store, tmp_path):
    long_out = prose("shared answer", 120)
    near_out = long_out.replace("].", "] and one more clause appended.", 1)[:-1] + " fin."
    rows = [
        ev("x1", 1, file_path="src/x.py", input_text=prose("px", 60), output_text=long_out, signals=ACCEPT),
        ev("x2", 2, file_path="src/x.py", input_text=prose("px", 60), output_text=long_out, signals=ACCEPT),
        ev("x3", 3, file_path="src/x.py", input_text=prose("px", 60), output_text=near_out, signals=ACCEPT),
        ev("x4", 4, file_path="src/x.py", input_text=prose("px", 60), output_text=prose("different", 120),
           signals=ACCEPT),
    ]
    load(store, tmp_path, rows)
    result = export_dataset(store, "sft", tmp_path / "out")
    sft = all_rows(tmp_path / "out", "sft/")
    assert sorted(r["metadata"]["run_id"] for r in sft) == ["run:x1", "run:x4"]  # same prompt, other answer kept
    assert result["counts"]["sft_duplicates_exact"] == 1 and result["counts"]["sft_duplicates_near"] == 1
    receipt = get_receipt(store, result["receipt_id"])
    assert receipt.details["duplicates"] == {"sft_duplicates_exact": 1, "sft_duplicates_near": 1}


# --- redaction -------------------------------------------------------------------------------------

PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aumTxSTPqJhrQbwgN/eVzTUDPa\n"
       "kE8Jr6GmM3nU0HGZa3B7bnvnAAhYz3HyfkUQ1Xk=\n-----END RSA PRIVATE KEY-----")
SECRETS = {
    "openai_key": "sk-proj-4fG7hJ2kL9mN3pQ8rS5tV1wX6yZ0aB2cD4eF",
    "anthropic_key": "sk-ant-api03-Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9EdCbA",
    "github_token": "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5",
    "aws_access_key_id": "AKIAQ3EGRTY7XK2LMN4P",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "slack_token": "xoxb-2048-4096-Qw3Er5Ty7Ui9",
    "stripe_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "email": "alice.smith@example.com",
}
PLANTS = [
    f"export OPENAI_API_KEY={SECRETS['openai_key']}",
    f"client = Anthropic(api_key='{SECRETS['anthropic_key']}')",
    f"git clone https://x:{SECRETS['github_token']}@github.com/o/r.git",
    f"aws_access_key_id = {SECRETS['aws_access_key_id']}",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    f"Authorization: Bearer {SECRETS['jwt']}",
    "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0' https://api.example.com",
    "DATABASE_URL=postgres://app:S3cr3t-Passw0rd@db.internal:5432/app",
    'password = "hunter2!xyz9Q"',
    'client_secret: "q8Xz!29dkLmP0vR"',
    f"slack: {SECRETS['slack_token']}",
    f"stripe = '{SECRETS['stripe_key']}'",
    f"contact {SECRETS['email']} or bob@corp.example.org",
    PEM,
]


def planted(seed: str, i: int) -> str:
    return f"{prose(seed)}\n{PLANTS[i % len(PLANTS)]}\n{PLANTS[(i + 5) % len(PLANTS)]}\n{prose(seed + ' tail')}"


def test_no_planted_secret_reaches_any_export(store, tmp_path):
    rows = []
    for i in range(len(PLANTS)):
        for k, signals in enumerate((ACCEPT, REJECT)):
            run = f"s{i}-{k}"
            rows.append(ev(run, k, file_path=f"src/s{i}.py", system_text=planted(f"sys {run}", i + 3),
                           input_text=planted(f"in {run}", i), output_text=planted(f"out {run}", i + 1),
                           text=planted(f"text {run}", i + 2), retrieved_context=[PLANTS[(i + 7) % len(PLANTS)]],
                           tags=[f"owner:{SECRETS['email']}"], signals=signals))
    src = load(store, tmp_path, rows)
    assert find_secrets(src.read_text())  # the sources really hold them
    out = tmp_path / "exports"
    result = export_dataset(store, "all", out)
    exported = 0
    for rel in result["files"]:
        text = (out / rel).read_text()
        for value in [*SECRETS.values(), "S3cr3t-Passw0rd", "hunter2!xyz9Q", "wJalrXUtnFEMI", "MIIEowIBAAKCAQEA"]:
            assert value not in text, (rel, value)
        assert find_secrets(text) == [], rel
        for row in read_rows(out, rel):
            exported += 1
            for value in _all_strings(row):
                assert find_secrets(value) == [], (rel, value)
    assert exported > 20 and all(result["files"][rel]["rows"] for rel in ("sft/train.jsonl", "rag/chunks.jsonl"))
    assert "[REDACTED:openai_key]" in "".join((out / rel).read_text() for rel in result["files"] if rel.startswith("sft/"))
    detail = get_receipt(store, result["receipt_id"]).record_counts.detail
    for kind in ("openai_key", "anthropic_key", "github_token", "aws_access_key_id", "aws_secret_key", "jwt",
                 "bearer_token", "url_password", "password", "secret", "slack_token", "stripe_key", "email",
                 "private_key"):
        assert detail.get(f"redacted_{kind}", 0) > 0, kind
    assert result["redactions"]["email"] == detail["redacted_email"]


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _all_strings(v)]
    return []


# --- atomicity and failure -------------------------------------------------------------------------


def snapshot(out: Path) -> dict[str, bytes]:
    return {rel: (out / rel).read_bytes() for rel in (*DATA_FILES, "receipt.json")}


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".export-")]


def test_interrupted_export_leaves_previous_export_intact(mixed, tmp_path, monkeypatch):
    out = tmp_path / "exports"
    export_dataset(mixed, "all", out)
    before = snapshot(out)
    load(mixed, tmp_path, [ev("z1", 30, file_path="src/z.py", input_text=prose("pz"), output_text=prose("oz"),
                              signals=ACCEPT)], name="more.evidence.jsonl")
    real_write = export_mod.AtomicFile.write
    calls = {"n": 0}

    def failing_write(self, line: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full (simulated)")
        real_write(self, line)

    monkeypatch.setattr(export_mod.AtomicFile, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        export_dataset(mixed, "all", out)
    assert snapshot(out) == before
    assert leftovers(out) == []
    monkeypatch.setattr(export_mod.AtomicFile, "write", real_write)
    export_dataset(mixed, "all", out)
    assert any(r["metadata"]["run_id"] == "run:z1" for r in all_rows(out, "sft/"))


def test_failing_validation_fails_the_export_and_keeps_the_previous_one(store, tmp_path):
    rows = mixed_rows()
    src = load(store, tmp_path, rows)
    out = tmp_path / "exports"
    export_dataset(store, "all", out)
    before = snapshot(out)
    # The source changes under the store (same length, other content): provenance no longer matches.
    text = src.read_bytes()
    src.write_bytes(text.replace(b"out a1", b"OUT A1"))
    with pytest.raises(ValidationFailedError, match="sig_hash") as info:
        export_dataset(store, "all", out)
    assert snapshot(out) == before and leftovers(out) == []
    failed = store.query_one("SELECT receipt_id, validation_pass FROM receipts ORDER BY started_at DESC LIMIT 1")
    assert failed["validation_pass"] == 0 and failed["receipt_id"] in str(info.value)
    assert get_receipt(store, failed["receipt_id"]).errors


# --- the validator on corrupted files --------------------------------------------------------------


def _edit(out: Path, rel: str, fn) -> None:
    rows = read_rows(out, rel)
    assert rows, f"{rel} is empty in the fixture"
    rows = fn(rows)
    (out / rel).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def _first(fn):
    def apply(rows):
        fn(rows[0])
        return rows
    return apply


def _sft_rel(out: Path) -> str:
    return next(rel for rel in ALL_FILES[:2] if read_rows(out, rel))


def _pref_rel(out: Path) -> str:
    return next(rel for rel in ALL_FILES[2:4] if read_rows(out, rel))


def _mismatched_split(rows):
    rows[0]["metadata"]["split"] = "validation" if rows[0]["metadata"]["split"] == "train" else "train"
    return rows


def _across(rows):
    return [r for r in rows if r["metadata"]["chosen_run_id"] != r["metadata"]["rejected_run_id"]][:1]


CORRUPTIONS = {
    "rejected run in SFT": ("sft", _first(lambda r: r["metadata"].update(run_id="run:a2")), "not accepted"),
    "partial run in SFT": ("sft", _first(lambda r: r["metadata"].update(run_id="run:a3")), "partially_accepted"),
    "unknown run in SFT": ("sft", _first(lambda r: r["metadata"].update(run_id="run:nope")), "not scored"),
    "schema": ("sft", _first(lambda r: r.pop("messages")), "schema SftSample: messages"),
    "last message not the assistant's": (
        "sft", _first(lambda r: r["messages"].append({"role": "user", "content": "x"})), "assistant"),
    "split of another file": ("sft", _mismatched_split, "split"),
    "sig_hash": ("sft", _first(lambda r: r["metadata"]["provenance"][0].update(sig_hash="f" * 64)), "sig_hash"),
    "offset inside a line": (
        "sft", _first(lambda r: r["metadata"]["provenance"][0].update(line_offset=r["metadata"]["provenance"][0]
                                                                      ["line_offset"] + 3)), "start of a line"),
    "offset past the end": ("sft", _first(lambda r: r["metadata"]["provenance"][0].update(line_offset=10**9)),
                            "beyond the end"),
    "missing source": ("sft", _first(lambda r: r["metadata"]["provenance"][0].update(source_file="/nope.jsonl")),
                       "does not exist"),
    "secret": ("sft", _first(lambda r: r["messages"][-1].update(content="key sk-proj-4fG7hJ2kL9mN3pQ8rS5tV1wX6yZ0aB2")),
               "secret"),
    "chosen equals rejected": ("preference", _first(lambda r: r.update(chosen=r["rejected"])), "must differ"),
    "equal after normalisation": ("preference", _first(lambda r: r.update(chosen=r["rejected"] + " !!")),
                                  "same after normalisation"),
    "two tasks": ("preference", _first(lambda r: r["metadata"].update(task_key="task:other")), "one task"),
    "rejected side accepted": (
        "preference", lambda rows: [r for r in _across(rows) if r["metadata"].update(rejected_run_id="run:b1") or True],
        "rejected run rejected"),
    "chosen side from another run": (
        "preference", _first(lambda r: r["metadata"].update(chosen_run_id="run:a3")), "not a record of run"),
    "rag from a rejected run": ("rag", _first(lambda r: r.update(source_run_ids=["run:a2"])), "not accepted"),
    "rag duplicate id": ("rag", lambda rows: [rows[0], rows[0]], "appears twice"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_validator_catches_corrupted_files(mixed, tmp_path, name):
    out = tmp_path / "exports"
    export_dataset(mixed, "all", out)
    assert validate_export(mixed, out).ok
    kind, corrupt, expected = CORRUPTIONS[name]
    rel = {"sft": _sft_rel, "preference": _pref_rel}.get(kind, lambda _: "rag/chunks.jsonl")(out)
    _edit(out, rel, corrupt)
    report = validate_export(mixed, out)
    assert not report.ok
    assert any(expected in e for e in report.errors), report.errors
    assert any("receipt.json" in e for e in report.errors)  # the file no longer has its exported sha256


def test_validator_reports_unparseable_lines_and_bad_folders(mixed, tmp_path):
    out = tmp_path / "exports"
    export_dataset(mixed, "all", out)
    with open(out / "rag" / "chunks.jsonl", "ab") as handle:
        handle.write(b'{"id": "truncated\n\n')
    report = validate_export(mixed, out)
    assert report.error_count == 3  # not JSON, an empty line, the receipt hash
    assert any("not JSON" in e for e in report.errors) and any("empty line" in e for e in report.errors)
    summary = report.summary()
    assert summary["ok"] is False and summary["rows"] == report.rows
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="no export files"):
        validate_export(mixed, empty)
    with pytest.raises(InvalidInputError, match="not a folder"):
        validate_export(mixed, tmp_path / "missing")


# --- playbooks and chunking ------------------------------------------------------------------------


def test_playbook_chunks_when_the_table_exists(mixed, tmp_path):
    def playbook(pid: str, runs: list[str]) -> str:
        return orjson.dumps({
            "playbook_id": pid, "task_type": "review", "problem_pattern": f"pattern {pid}", "title": f"Fix {pid}",
            "commands_worked": ["pytest -q"], "known_failure_modes": ["flaky retry"], "source_run_ids": runs,
            "tags": ["python"], "success_count": 1, "attempt_count": 2, "success_rate": 0.5,
            "created_at": "2026-05-02T00:00:00Z"}).decode()

    with mixed.write() as db:  # the playbooks table of migration 003, filled by hand
        for pid, runs in (("pb-1", ["run:a1", "a2"]), ("pb-2", ["run:a2"])):
            db.conn.execute("INSERT INTO playbooks (playbook_id, task_type, pattern_key, data, created_at, updated_at) "
                            "VALUES (?, 'review', ?, ?, '2026-05-02', '2026-05-02')", (pid, pid, playbook(pid, runs)))
    out = tmp_path / "exports"
    result = export_dataset(mixed, "rag", out)
    chunks = [r for r in read_rows(out, "rag/chunks.jsonl") if r["kind"] == "playbook"]
    assert [c["id"] for c in chunks] == ["pb:pb-1:0"]
    assert chunks[0]["source_run_ids"] == ["run:a1"] and "pytest -q" in chunks[0]["text"]
    assert "kind:playbook" in chunks[0]["tags"] and chunks[0]["provenance"]
    assert result["counts"]["playbooks"] == 1 and result["counts"]["playbooks_without_accepted_runs"] == 1
    assert result["validation"]["ok"]


def test_without_a_playbooks_table_rag_has_evidence_only(mixed, tmp_path):
    with mixed.write() as db:
        db.conn.execute("DROP TABLE playbooks")
    result = export_dataset(mixed, "rag", tmp_path / "exports")
    assert result["counts"]["playbooks_table_absent"] == 1 and result["files"]["rag/chunks.jsonl"]["rows"] > 0


def test_chunk_text_respects_the_limit():
    text = "\n\n".join(prose(f"para {i}", 30) for i in range(20)) + "\n\n" + "x" * 4000
    chunks = chunk_text(text, 500)
    assert all(0 < len(c) <= 500 for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks) == text.replace("\n", "")
    assert chunk_text("short") == ["short"] and chunk_text("  ") == []


# --- the example data ------------------------------------------------------------------------------


def _example_data(tmp_path: Path) -> tuple[Path, dict[str, Any] | None]:
    if EXAMPLES.exists():
        return EXAMPLES, None
    generator = PROJECT / "examples" / "generate.py"
    if not generator.exists():
        pytest.skip("examples/lakehouse_kb and examples/generate.py are both absent")
    spec = importlib.util.spec_from_file_location("example_generate", generator)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    kb = tmp_path / "lakehouse_kb"
    return kb, module.generate(kb)


def test_example_data_exports_cleanly(store, tmp_path):
    kb, manifest = _example_data(tmp_path)
    collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[kb.parent, tmp_path]), [str(kb)])
    score_runs(store, load_rules())
    extract_playbooks(store)
    out = tmp_path / "exports"
    result = export_dataset(store, "all", out)
    assert result["validation"]["ok"], result["validation"]["errors"]
    assert {r["kind"] for r in all_rows(out, "rag/")} == {"evidence", "playbook"}
    assert all_rows(out, "sft/") and all_rows(out, "preference/") and all_rows(out, "rag/")
    cats = categories(store)
    assert all(cats[r["metadata"]["run_id"]] == "accepted" for r in all_rows(out, "sft/"))
    prefs = all_rows(out, "preference/")
    assert {r["metadata"]["source"] for r in prefs} == {"attempts", "override"}
    assert not any(r["metadata"]["chosen_run_id"] == r["metadata"]["rejected_run_id"] and r["metadata"]["chosen_attempt"]
                   is None for r in prefs)
    assert result["counts"]["pairs_dropped_one_source_line"] >= 1  # the audit's consensus splits
    texts = "".join((out / rel).read_text() for rel in result["files"])
    assert find_secrets(texts) == []
    export_dataset(store, "all", tmp_path / "again")
    assert all((out / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes() for rel in result["files"])
    if manifest:
        for value in manifest["secrets"].values():
            for v in value if isinstance(value, list) else [value]:
                assert v not in texts
