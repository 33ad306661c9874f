"""A big collect into a small store drops the secondary evidence indexes and builds them after (collect/bulk.py):
the same rows, the same indexes at the end, none left missing when a collect is killed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from mcp_distill.collect import bulk
from mcp_distill.collect import repository as repo
from mcp_distill.collect import workers as collect_workers
from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.storing import BatchWriter
from mcp_distill.config import Settings
from mcp_distill.store import open_store


def write_rows(path: Path, rows: list[dict]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def rows(n: int) -> list[dict]:
    return [{"run_id": f"r{i % 50}", "timestamp": f"2026-04-20T10:{i % 60:02d}:00Z", "model_name": "m",
             "text": f"finding number {i}"} for i in range(n)]


def collect(store, root: Path) -> None:
    collect_paths(store, Settings(db_path=store.path, roots=[root]), [str(root)])


def snapshot(store) -> list[dict]:
    return store.query("SELECT record_id, run_key, source_file, line_offset, data FROM evidence ORDER BY id")


def test_a_bulk_load_collects_without_the_indexes_and_builds_them_after(tmp_path, monkeypatch):
    write_rows(tmp_path / "a.evidence.jsonl", rows(300))
    with open_store(tmp_path / "seq.db") as seq:
        collect(seq, tmp_path)  # small: no bulk path
        expected, indexes = snapshot(seq), repo.secondary_evidence_indexes(seq)
    assert len(indexes) >= 4
    monkeypatch.setattr(collect_workers, "POOL_MIN_BYTES", 0)  # every collect counts as big
    seen: list[list] = []
    commit_lines = BatchWriter.commit_lines
    monkeypatch.setattr(BatchWriter, "commit_lines",
                        lambda self, *a: seen.append(repo.secondary_evidence_indexes(self.store)) or commit_lines(self, *a))
    with open_store(tmp_path / "bulk.db") as store:
        collect(store, tmp_path)
        assert seen and all(found == [] for found in seen)  # stored with the indexes dropped
        assert repo.secondary_evidence_indexes(store) == indexes and not store.get_meta(bulk.META_KEY)
        assert snapshot(store) == expected
        write_rows(tmp_path / "b.evidence.jsonl", rows(10))
        seen.clear()
        collect(store, tmp_path)  # 300 rows stored against 10 new lines: the indexes stay
        assert seen and all(found == indexes for found in seen)


def test_a_killed_bulk_load_leaves_its_indexes_to_the_next_collect(tmp_path):
    db = tmp_path / "distill.db"
    with open_store(db) as store:
        indexes = repo.secondary_evidence_indexes(store)
    # a collector that deferred the indexes and died before building them (its pid is gone when it exits)
    script = ("import sys; from mcp_distill.collect import bulk; from mcp_distill.store import open_store; "
              "s = open_store(sys.argv[1]); assert bulk.DeferredIndexes(s).begin(1 << 40); s.conn.close()")
    subprocess.run([sys.executable, "-c", script, str(db)], check=True)
    with open_store(db) as store:
        assert repo.secondary_evidence_indexes(store) == [] and store.get_meta(bulk.META_KEY)
        write_rows(tmp_path / "a.evidence.jsonl", rows(5))
        collect(store, tmp_path)
        assert repo.secondary_evidence_indexes(store) == indexes and not store.get_meta(bulk.META_KEY)


def test_a_live_collectors_deferral_is_left_alone(tmp_path):
    with open_store(tmp_path / "distill.db") as store:
        deferred = bulk.DeferredIndexes(store)
        assert deferred.begin(1 << 40)
        assert not bulk.restore_interrupted(store)  # its owner (this process) still holds it open
        assert not bulk.DeferredIndexes(store).begin(1 << 40)
        deferred.end()
        assert repo.secondary_evidence_indexes(store) and not store.get_meta(bulk.META_KEY)


def test_an_adoption_during_a_bulk_load_builds_the_indexes_first(tmp_path, monkeypatch):
    """A file-window run adopted by a run id moves rows by run key: the indexes come back first, same result."""
    apply_rows = [{"file_path": "src/a.rs", "timestamp": "2026-04-20T10:00:30Z",
                   "signals": {"applier_action": "applied", "patches_applied": 1}}]
    review_rows = [{"run_id": "scrum-1", "file_path": "src/a.rs", "timestamp": "2026-04-20T10:00:00Z",
                    "signals": {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}}]
    write_rows(tmp_path / "a_apply.evidence.jsonl", apply_rows)  # read first: a file-window run
    write_rows(tmp_path / "b_review.evidence.jsonl", review_rows)  # then the run id that adopts it
    monkeypatch.setattr(collect_workers, "POOL_MIN_BYTES", 0)
    moved: list[list] = []
    adopt = repo.adopt_file_window_runs

    def watching(conn, *args):
        before = args[-1]
        return adopt(conn, *args[:-1], lambda: (before(), moved.append(repo.secondary_evidence_indexes(store))))

    monkeypatch.setattr(repo, "adopt_file_window_runs", watching)
    with open_store(tmp_path / "distill.db") as store:
        collect(store, tmp_path)
        assert moved and moved[0]  # the indexes were there when the rows moved
        assert {r["run_key"] for r in store.query("SELECT run_key FROM evidence")} == {"run:scrum-1"}
        assert store.query_one("SELECT count(*) AS n FROM runs")["n"] == 1
        assert not store.get_meta(bulk.META_KEY)
