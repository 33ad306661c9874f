"""Collector: streaming, incremental, truncation/rotation, quarantine, provenance, crash-resume, concurrency."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import orjson
import pytest

from mcp_distill.adapters.base import REGISTRY, canonical_hash
from mcp_distill.adapters.mapping import load_mappings
from mcp_distill.collect import reading as collect_reading
from mcp_distill.collect import storing as collect_storing
from mcp_distill.collect import workers as collect_workers
from mcp_distill.collect.collector import Collector, collect_paths
from mcp_distill.collect.storing import BatchWriter
from mcp_distill.collect.summary import FileSummary
from mcp_distill.config import Settings
from mcp_distill.errors import PathNotAllowedError
from mcp_distill.models import EvidenceRecord
from mcp_distill.receipts import get_receipt
from mcp_distill.store import open_store


def row(i: int, **extra) -> dict:
    return {"run_id": f"r{i % 50}", "timestamp": f"2026-04-20T10:{i % 60:02d}:00Z", "model_name": "qwen2.5-coder:32b",
            "text": f"finding number {i}", **extra}


def write_rows(path: Path, rows: list[dict], mode: str = "wb") -> None:
    with open(path, mode) as handle:
        for r in rows:
            handle.write(orjson.dumps(r) + b"\n")


def settings_for(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "distill.db", roots=[tmp_path])


def count(store, table: str = "evidence") -> int:
    return store.query_one(f"SELECT count(*) AS n FROM {table}")["n"]


def test_collect_twice_adds_nothing(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(100)])
    first = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert first.total("inserted") == 100
    second = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert second.total("lines") == 0 and second.total("inserted") == 0
    assert count(store) == 100


def test_appended_lines_only_are_read(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(10)])
    collect_paths(store, settings_for(tmp_path), [str(src)])
    write_rows(src, [row(i) for i in range(10, 15)], mode="ab")
    again = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert again.total("lines") == 5 and again.total("inserted") == 5
    assert count(store) == 15


def test_duplicate_content_is_dropped(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(1), row(1), row(2)])
    result = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert result.total("inserted") == 2 and result.total("duplicates") == 1


def test_truncated_file_is_detected_and_reread(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(20)])
    collect_paths(store, settings_for(tmp_path), [str(src)])
    write_rows(src, [row(i, text=f"rewritten {i}") for i in range(3)])  # shorter, new content
    again = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert again.files[0].restarted and "truncated" in again.files[0].restarted
    assert again.total("inserted") == 3
    assert count(store) == 23  # earlier evidence is kept: nothing is lost


def test_rotated_file_is_detected(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(5)])
    collect_paths(store, settings_for(tmp_path), [str(src)])
    src.rename(tmp_path / "evidence.jsonl.1")
    write_rows(src, [row(i, text=f"after rotation {i}") for i in range(8)])
    again = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert again.files[0].restarted is not None
    assert again.total("inserted") == 8


def test_malformed_lines_are_quarantined_with_file_offset_reason(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    lines = [orjson.dumps(row(1)), b"{not json", b"[1, 2, 3]", orjson.dumps(row(2, latency_ms="fast")),
             orjson.dumps(row(3, stream=5)), orjson.dumps(row(4))]
    src.write_bytes(b"\n".join(lines) + b"\n")
    result = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert result.total("inserted") == 2 and result.total("quarantined") == 4
    rows = store.query("SELECT * FROM quarantine ORDER BY line_offset")
    raw = src.read_bytes()
    reasons = [r["reason"] for r in rows]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1].startswith("not a JSON object")
    assert reasons[2].startswith("wrong types") and "latency_ms" in reasons[2]
    assert reasons[3].startswith("unknown shape")
    for r in rows:  # the offset points at the exact bad line
        line = raw[r["line_offset"]:].split(b"\n", 1)[0]
        assert r["excerpt"] == line.decode()[:240]
        assert r["source_file"] == str(src)
    # quarantine is idempotent too
    collect_paths(store, settings_for(tmp_path), [str(src)])
    assert count(store, "quarantine") == 4


def test_unknown_stream_is_quarantined_not_dropped(store, tmp_path):
    src = tmp_path / "mystery.jsonl"
    write_rows(src, [{"foo": 1}, {"foo": 2}])
    result = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert result.total("quarantined") == 2
    assert all("mapping file" in r["reason"] for r in store.query("SELECT reason FROM quarantine"))


def test_every_record_traces_to_its_source_line(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(30)])
    collect_paths(store, settings_for(tmp_path), [str(src)])
    raw = src.read_bytes()
    for r in store.query("SELECT data FROM evidence"):
        record = EvidenceRecord.model_validate_json(r["data"])
        p = record.provenance
        line = raw[p.line_offset:].split(b"\n", 1)[0]
        assert canonical_hash(orjson.loads(line)) == p.sig_hash


def test_incomplete_last_line_is_held_back_until_finished(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    full = orjson.dumps(row(7))
    src.write_bytes(orjson.dumps(row(1)) + b"\n" + full[:15])
    first = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert first.total("inserted") == 1 and first.files[0].held_back and count(store, "quarantine") == 0
    with open(src, "ab") as handle:
        handle.write(full[15:] + b"\n")
    second = collect_paths(store, settings_for(tmp_path), [str(src)])
    assert second.total("inserted") == 1 and count(store) == 2


def test_crash_mid_run_resumes_without_duplicates_or_gaps(tmp_path, monkeypatch):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(1000)])
    monkeypatch.setattr(collect_reading, "BATCH_LINES", 100)
    original = Collector._commit_batch
    calls = {"n": 0}

    def crashing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated crash")
        return original(self, *args, **kwargs)

    store = open_store(tmp_path / "distill.db")
    monkeypatch.setattr(Collector, "_commit_batch", crashing)
    with pytest.raises(KeyboardInterrupt):
        collect_paths(store, settings_for(tmp_path), [str(src)])
    assert count(store) == 300
    monkeypatch.setattr(Collector, "_commit_batch", original)
    collect_paths(store, settings_for(tmp_path), [str(src)])
    assert count(store) == 1000
    texts = {EvidenceRecord.model_validate_json(r["data"]).text for r in store.query("SELECT data FROM evidence")}
    assert texts == {f"finding number {i}" for i in range(1000)}
    store.close()


COLLECT_SCRIPT = """
import sys
from mcp_distill.config import Settings
from mcp_distill.collect.collector import collect_paths
from mcp_distill.store import open_store
db, root, target = sys.argv[1:4]
store = open_store(db)
collect_paths(store, Settings(db_path=db, roots=[root]), [target])
store.close()
"""


def test_killed_process_resumes_without_duplicates_or_gaps(tmp_path):
    src = tmp_path / "evidence.jsonl"
    n = 60_000
    write_rows(src, [row(i) for i in range(n)])
    db = tmp_path / "distill.db"
    open_store(db).close()
    proc = subprocess.Popen([sys.executable, "-c", COLLECT_SCRIPT, str(db), str(tmp_path), str(src)])
    store = open_store(db)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if count(store) > 0:
            break
        time.sleep(0.02)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = count(store)
    assert partial < n or proc.returncode == 0
    collect_paths(store, settings_for(tmp_path), [str(src)])
    assert count(store) == n
    assert store.query_one("SELECT count(DISTINCT record_id) AS n FROM evidence")["n"] == n
    store.close()


def test_two_collectors_and_a_reader_at_once(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    for k in range(4):
        write_rows(folder / f"part{k}.evidence.jsonl", [row(i, text=f"part {k} item {i}") for i in range(3000)])
    db = tmp_path / "distill.db"
    open_store(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", COLLECT_SCRIPT, str(db), str(tmp_path), str(folder)],
                              stderr=subprocess.PIPE) for _ in range(2)]
    reader = open_store(db)
    while any(p.poll() is None for p in procs):
        reader.query("SELECT count(*) FROM evidence")  # a server answering meanwhile
        time.sleep(0.01)
    for p in procs:
        stderr = p.stderr.read().decode()
        assert p.returncode == 0, stderr
        assert "locked" not in stderr
    assert count(reader) == 12_000
    reader.close()


def test_paths_outside_roots_are_refused(store, tmp_path):
    other = tmp_path.parent / "elsewhere"
    with pytest.raises(PathNotAllowedError, match="outside the allowed roots"):
        collect_paths(store, settings_for(tmp_path), [str(other)])


def test_file_window_join_is_order_independent(store, tmp_path):
    apply_rows = [{"file_path": "src/a.rs", "timestamp": "2026-04-20T10:00:30Z",
                   "signals": {"applier_action": "applied", "patches_applied": 1}}]
    review_rows = [{"run_id": "scrum-1", "file_path": "src/a.rs", "timestamp": "2026-04-20T10:00:00Z",
                    "signals": {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}}]
    # the auto_apply-like row is read first; the run_id row arrives later and adopts it
    write_rows(tmp_path / "a_apply.evidence.jsonl", apply_rows)
    collect_paths(store, settings_for(tmp_path), [str(tmp_path / "a_apply.evidence.jsonl")])
    write_rows(tmp_path / "b_review.evidence.jsonl", review_rows)
    collect_paths(store, settings_for(tmp_path), [str(tmp_path / "b_review.evidence.jsonl")])
    keys = {r["run_key"] for r in store.query("SELECT run_key FROM evidence")}
    assert keys == {"run:scrum-1"}
    assert store.query_one("SELECT count(*) AS n FROM runs")["n"] == 1


def test_receipt_records_inputs_with_sha256_and_counts(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(5)])
    result = collect_paths(store, settings_for(tmp_path), [str(src)])
    from mcp_distill.receipts import get_receipt, sha256_file

    receipt = get_receipt(store, result.receipt_id)
    assert receipt.input_files[0].path == str(src)
    assert receipt.input_files[0].sha256 == sha256_file(src)
    assert receipt.record_counts.in_ == 5 and receipt.record_counts.out == 5
    assert receipt.validation_pass and receipt.ended_at >= receipt.started_at


def test_collect_never_breaks_the_wal_of_other_connections(tmp_path):
    """Another process opening and closing the store must not lose this process's later writes."""
    src = tmp_path / "evidence.jsonl"
    write_rows(src, [row(i) for i in range(10)])
    db = tmp_path / "distill.db"
    store = open_store(db)
    collect_paths(store, settings_for(tmp_path), [str(src)])
    subprocess.run([sys.executable, "-c", f"from mcp_distill.store import open_store; open_store({str(db)!r}).close()"],
                   check=True)
    write_rows(src, [row(i) for i in range(10, 15)], mode="ab")
    collect_paths(store, settings_for(tmp_path), [str(src)])
    other = subprocess.run([sys.executable, "-c", f"from mcp_distill.store import open_store; "
                            f"print(open_store({str(db)!r}).query_one('SELECT count(*) AS n FROM evidence')['n'])"],
                           check=True, capture_output=True, text=True)
    assert other.stdout.strip() == "15"
    store.close()


def test_hostile_files_are_skipped_or_quarantined_and_the_rest_is_collected(store, tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    write_rows(outside / "secret.jsonl", [row(999)])
    (root / "link.jsonl").symlink_to(outside / "secret.jsonl")           # escapes the root
    (root / "broken.jsonl").symlink_to(root / "gone.jsonl")              # dangling
    os.mkfifo(root / "pipe.jsonl")                                       # would block a reader forever
    (root / "bom.evidence.jsonl").write_bytes(b"\xef\xbb\xbf" + orjson.dumps(row(1)) + b"\n")
    deep = "[" * 300 + "]" * 300
    (root / "deep.evidence.jsonl").write_bytes(orjson.dumps(row(2))[:-1] + b', "extra": {"x": ' + deep.encode()
                                               + b"}}\n")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9))
    (root / "leaderboard.yml").write_text(bomb)
    write_rows(root / "old.evidence.jsonl.1", [row(3)])                  # a rotated log
    (root / "tail.evidence.jsonl").write_bytes(orjson.dumps(row(4)) + b"\n" + orjson.dumps(row(5))[:20])
    export = root / "exports"
    (export / "sft").mkdir(parents=True)
    (export / "receipt.json").write_text("{}")
    write_rows(export / "sft" / "train.jsonl", [{"messages": []}])       # the tool's own output
    monkeypatch.setattr(collect_reading, "TAIL_GRACE_SECONDS", 0)
    settings = Settings(db_path=tmp_path / "distill.db", roots=[root])
    result = collect_paths(store, settings, [str(root)])
    skipped = "\n".join(result.skipped_files)
    assert "link.jsonl: links outside the allowed roots" in skipped
    assert "broken.jsonl" in skipped and "pipe.jsonl: not a regular file" in skipped
    texts = {EvidenceRecord.model_validate_json(r["data"]).text for r in store.query("SELECT data FROM evidence")}
    assert texts == {"finding number 1", "finding number 3", "finding number 4"}  # BOM line and rotated log read
    reasons = {r["source_file"].rsplit("/", 1)[1]: r["reason"] for r in store.query("SELECT * FROM quarantine")}
    assert reasons["deep.evidence.jsonl"].startswith("could not process the line")
    assert "aliases are not supported" in reasons["leaderboard.yml"]
    assert reasons["tail.evidence.jsonl"].startswith("truncated last line")
    assert not any("exports" in r["path"] for r in store.query("SELECT path FROM sources"))


# --- the parallel path: worker processes prepare the lines, the collector stores them in order -------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


SNAPSHOT = {  # every stored fact a collect decides (ids, run keys, JSON, offsets), none of the clock's
    "evidence": "record_id, stream, run_key, run_id, task_id, task_type, model_name, file_path, pr_number, head_sha, "
                "ts, ts_epoch, source_file, line_offset, sig_hash, data FROM evidence ORDER BY id",
    "runs": "run_key, run_id, join_method, file_path, pr_number, head_sha, task_type, first_epoch, last_epoch, "
            "record_count FROM runs ORDER BY run_key",
    "quarantine": "source_file, line_offset, line_sha256, stream, reason, excerpt FROM quarantine ORDER BY id",
    "sources": "path, stream, byte_offset, size, head_sha256, lines_read FROM sources ORDER BY path",
}


def snapshot(store) -> dict[str, list[dict]]:
    return {table: store.query(f"SELECT {sql}") for table, sql in SNAPSHOT.items()}


def force_sequential(monkeypatch) -> None:
    monkeypatch.setattr(collect_workers, "POOL_MIN_BYTES", 1 << 62)


def force_pool(monkeypatch) -> list[str]:
    """Send every pool-able file to two workers, whatever its size; the returned list names each batch sent."""
    monkeypatch.setattr(collect_workers, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(collect_workers, "POOL_WORKERS", 2)
    sent: list[str] = []
    submit = collect_workers.PreparePool.submit
    monkeypatch.setattr(collect_workers.PreparePool, "submit",
                        lambda self, tag, source, key, chunk: sent.append(key) or submit(self, tag, source, key, chunk))
    return sent


def collect_into(db: Path, root: Path, mapping: bool = False) -> tuple[dict, object]:
    with open_store(db) as store:
        result = collect_paths(store, Settings(db_path=db, roots=[root, EXAMPLES / "mappings"]), [str(root)],
                               mapping_files=[str(EXAMPLES / "mappings" / "example.toml")] if mapping else None)
        return snapshot(store), result


def vary(template: dict, i: int) -> dict:
    """A distinct copy of an example row: new run ids (and sig_hash), so nothing is deduplicated away."""
    ids = {k: f"{v}-c{i}" for k, v in template.items() if k in ("run_id", "llm_team_run_id", "sig_hash") and v}
    return {**template, **ids, "copy": i}


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def generated_folder(root: Path, copies: int) -> Path:
    """The example streams times ``copies``, with the awkward lines a real folder has, plus a Claude Code
    session (a stateful adapter) and a mapping-file stream (both stay in the collector's process)."""
    root.mkdir()
    for path in sorted((EXAMPLES / "lakehouse_kb").glob("*.jsonl")):
        templates = [orjson.loads(line) for line in path.read_bytes().splitlines() if _is_object(line)]
        lines = [orjson.dumps(vary(t, i)) for i in range(copies) for t in templates]
        lines[len(lines) // 2:len(lines) // 2] = [b"", b"{not json", lines[0], b"[1, 2]"]  # blank, bad, duplicate
        (root / path.name).write_bytes(b"\n".join(lines) + b"\n")
    with open(root / "auto_apply.jsonl", "ab") as handle:  # a truncated last line, quarantined after the grace
        handle.write(b'{"file": "src/x.rs", "ts": "2026-05-0')
    session = "0b7a5c2e-1d3f-4e5a-9b8c-7d6e5f4a3b2c"
    (root / f"{session}.jsonl").write_bytes(b"".join(orjson.dumps(
        {"type": kind, "sessionId": session, "uuid": f"u-{i}", "timestamp": f"2026-05-01T10:0{i}:00Z",
         "message": {"role": kind, "content": f"step {i} on src/a.rs"}}) + b"\n"
        for i, kind in enumerate(["user", "assistant", "user", "assistant"])))
    (root / "eval_runs.jsonl").write_bytes((EXAMPLES / "custom" / "eval_runs.jsonl").read_bytes())
    return root


def test_parallel_path_stores_exactly_what_the_sequential_path_stores_on_the_examples(tmp_path, monkeypatch):
    force_sequential(monkeypatch)
    expected, _ = collect_into(tmp_path / "seq.db", EXAMPLES / "lakehouse_kb")
    sent = force_pool(monkeypatch)
    got, _ = collect_into(tmp_path / "par.db", EXAMPLES / "lakehouse_kb")
    assert sent, "the pool was not used"
    assert got == expected
    assert expected["evidence"] and expected["quarantine"]  # the examples hold malformed lines on purpose
    assert not multiprocessing.active_children()  # the workers were shut down


def test_parallel_path_matches_sequential_on_a_bigger_folder_with_mixed_adapters(tmp_path, monkeypatch):
    monkeypatch.setattr(collect_reading, "BATCH_LINES", 150)  # many batches, several in flight at once
    monkeypatch.setattr(collect_reading, "TAIL_GRACE_SECONDS", 0)
    root = generated_folder(tmp_path / "src", copies=6)
    force_sequential(monkeypatch)
    expected, seq = collect_into(tmp_path / "seq.db", root, mapping=True)
    sent = force_pool(monkeypatch)
    got, par = collect_into(tmp_path / "par.db", root, mapping=True)
    assert len(sent) > collect_workers.IN_FLIGHT * 3
    assert "claude_code_session" not in sent and "eval_runs" not in sent  # stateful and mapping streams stay here
    assert got == expected
    assert {r["stream"] for r in got["evidence"]} >= {"claude_code_session", "eval_runs", "auto_apply"}
    reasons = " | ".join(r["reason"] for r in got["quarantine"])
    assert "invalid JSON" in reasons and "not a JSON object" in reasons and "truncated last line" in reasons
    assert par.as_dict()["per_file"] == seq.as_dict()["per_file"]
    assert par.total("duplicates") > 0


def test_parallel_crash_mid_run_then_rerun_leaves_no_duplicates_and_no_gaps(tmp_path, monkeypatch):
    monkeypatch.setattr(collect_reading, "BATCH_LINES", 100)
    root = generated_folder(tmp_path / "src", copies=4)
    (root / "eval_runs.jsonl").unlink()
    force_sequential(monkeypatch)
    expected, _ = collect_into(tmp_path / "seq.db", root)
    force_pool(monkeypatch)
    original = BatchWriter.commit_lines
    calls = {"n": 0}
    lines: list[int] = []

    def crashing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("simulated crash")
        lines.append(args[1])  # the batch's line count
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BatchWriter, "commit_lines", crashing)
    monkeypatch.setattr(collect_storing, "GROUP_BATCHES", 4)  # batches commit 4 at a time: the 5th is lost
    db = tmp_path / "par.db"
    with pytest.raises(KeyboardInterrupt):
        collect_into(db, root)
    assert not multiprocessing.active_children()  # the pool was shut down on the way out
    with open_store(db) as crashed:
        partial = snapshot(crashed)
    assert 0 < len(partial["evidence"]) < len(expected["evidence"])
    assert partial["evidence"] == expected["evidence"][:len(partial["evidence"])]  # the batches stored, in order
    # exactly the first group: four batches' lines read and their offset kept, the open group's fifth rolled back
    assert sum(s["lines_read"] for s in partial["sources"]) == sum(lines[:4]) < sum(lines)
    monkeypatch.setattr(BatchWriter, "commit_lines", original)
    got, _ = collect_into(db, root)
    assert got["evidence"] == expected["evidence"]
    assert got["runs"] == expected["runs"] and got["quarantine"] == expected["quarantine"]
    assert [(s["path"], s["byte_offset"], s["head_sha256"]) for s in got["sources"]] == \
        [(s["path"], s["byte_offset"], s["head_sha256"]) for s in expected["sources"]]


@pytest.mark.parametrize("workers", ["dying", "slow"])
def test_dying_or_slow_workers_leave_batches_to_the_collector(tmp_path, monkeypatch, workers):
    """A broken pool (a worker killed, out of memory) costs speed, not rows; while the batch due is not
    ready, queued batches are taken back and prepared here. Either way the rows are the sequential ones."""
    futures: list[Future] = []

    class StubPool:  # stands in for the process pool: "dying" breaks after two batches, "slow" runs when waited on
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, fn, *args):
            future: Future = Future()
            futures.append(future)
            if fn is not collect_workers.prepare_batch or (workers == "dying" and len(futures) <= 3):
                future.set_result(fn(*args))
            elif workers == "dying":
                future.set_exception(BrokenProcessPool("gone"))
            else:
                def run_when_waited_on(timeout=None):
                    if not future.done():
                        future.set_result(fn(*args))
                    return Future.result(future)

                future.result = run_when_waited_on
            return future

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    force_sequential(monkeypatch)
    expected, _ = collect_into(tmp_path / "seq.db", EXAMPLES / "lakehouse_kb")
    force_pool(monkeypatch)
    monkeypatch.setattr(collect_workers, "POOL_WORKERS", 1)
    monkeypatch.setattr(collect_workers, "ProcessPoolExecutor", StubPool)
    got, result = collect_into(tmp_path / "par.db", EXAMPLES / "lakehouse_kb")
    assert got == expected
    with open_store(tmp_path / "par.db") as store:
        warned = any("worker processes stopped" in w for w in get_receipt(store, result.receipt_id).warnings)
    assert warned == (workers == "dying")
    assert workers == "dying" or sum(f.cancelled() for f in futures) > 0  # batches taken back from the queue


def test_only_stateless_registry_adapters_go_to_workers():
    by_stream = {a.stream: a for a in REGISTRY if not a.whole_file}
    assert collect_workers.pool_key(by_stream["scrum_reviews"]) == "scrum_reviews"
    assert collect_workers.pool_key(by_stream["evidence"]) == "evidence"
    assert collect_workers.pool_key(by_stream["claude_code_session"]) is None  # begin_file: state across lines
    assert collect_workers.pool_key(load_mappings([EXAMPLES / "mappings" / "example.toml"])[0]) is None
    assert all(collect_workers.pool_key(a) is None for a in REGISTRY if a.whole_file)
    assert collect_workers.pool_key(None) is None


def test_batches_cut_at_line_ends_by_count_and_bytes_as_line_by_line_reading_would(store, tmp_path, monkeypatch):
    monkeypatch.setattr(collect_reading, "BATCH_LINES", 7)
    monkeypatch.setattr(collect_reading, "BATCH_BYTES", 300)
    src = tmp_path / "evidence.jsonl"
    lines = [orjson.dumps(row(i, text="x" * (i * 37 % 500))) + b"\n" for i in range(60)] + [b"\n", b"{cut"]
    src.write_bytes(b"".join(lines))
    summary = FileSummary(str(src), "evidence")
    batches = list(collect_reading.line_batches(src, 0, src.stat(), summary))
    got = [line for chunk, *_ in batches for line in collect_workers.chunk_lines(chunk)]
    offsets = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    assert got == list(zip(offsets[:-1], lines[:-1], [None] * (len(lines) - 1), strict=True))
    assert summary.held_back and batches[-1][2] == offsets[-1]  # the unfinished line waits for its writer
    for chunk, n_lines, end, _ in batches:
        parts = list(collect_workers.chunk_lines(chunk))
        assert len(parts) == n_lines <= 7 and (not parts or parts[-1][0] + len(parts[-1][1]) == end)
        assert all(off + len(raw) - chunk[0] < 300 for off, raw, _ in parts[:-1])  # only the last line crosses
