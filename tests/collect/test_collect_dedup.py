"""Duplicate detection by source line: identical lines of two files are two records, the same line read
again from one file is one, and stores collected before ids named their file keep no duplicates."""

from __future__ import annotations

from pathlib import Path

import orjson

from mcp_distill.adapters.native import NativeEvidenceAdapter
from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.workers import prepare_line, source_key
from mcp_distill.config import Settings
from mcp_distill.store import Store


def lines(n: int, run: str = "r1") -> list[bytes]:
    return [orjson.dumps({"run_id": run, "text": f"step {i}", "model_name": "m"}) + b"\n" for i in range(n)]


def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "distill.db", roots=[tmp_path])


def count(store: Store) -> int:
    return store.query_one("SELECT count(*) AS n FROM evidence")["n"]


def test_identical_lines_in_two_files_are_two_records(store, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "evidence.jsonl").write_bytes(b"".join(lines(5)))
    result = collect_paths(store, settings(tmp_path), [str(tmp_path)])
    assert result.total("inserted") == 10 and result.total("duplicates") == 0
    sources = store.query("SELECT source_file, count(*) AS n FROM evidence GROUP BY source_file")
    assert sorted(r["n"] for r in sources) == [5, 5]


def test_the_same_line_read_again_from_one_file_is_one_record(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    src.write_bytes(b"".join(lines(5)) + lines(1)[0])  # the first line twice in one file
    first = collect_paths(store, settings(tmp_path), [str(src)])
    assert first.total("inserted") == 5 and first.total("duplicates") == 1
    src.write_bytes(b"".join(reversed(lines(5))))  # rewritten: read from the start again
    again = collect_paths(store, settings(tmp_path), [str(src)])
    assert again.files[0].restarted and again.total("inserted") == 0 and again.total("duplicates") == 5
    assert count(store) == 5


def test_a_rotated_log_is_the_same_source(store, tmp_path):
    src = tmp_path / "evidence.jsonl"
    src.write_bytes(b"".join(lines(4)))
    collect_paths(store, settings(tmp_path), [str(src)])
    src.rename(tmp_path / "evidence.jsonl.1")
    src.write_bytes(b"".join(lines(6)))  # the new log starts with the 4 lines already read, then 2 more
    again = collect_paths(store, settings(tmp_path), [str(tmp_path)])
    # evidence.jsonl.1 holds the 4 lines read before; evidence.jsonl those 4 again and 2 new ones
    assert again.total("inserted") == 2 and again.total("duplicates") == 8 and count(store) == 6
    assert source_key("/x/evidence.jsonl.3") == "/x/evidence.jsonl" == source_key("/x/evidence.jsonl")


def test_a_store_with_old_style_ids_gets_no_duplicates_and_no_losses(store, tmp_path):
    """Simulates a store collected before migration 007: ids made from stream + run + content only."""
    a, b = tmp_path / "a.evidence.jsonl", tmp_path / "b.evidence.jsonl"
    a.write_bytes(b"".join(lines(3)))
    collect_paths(store, settings(tmp_path), [str(a)])
    with store.write() as db:  # give the stored records the ids the old key gave them
        for offset, raw in _offsets(a):
            item = prepare_line(str(a), NativeEvidenceAdapter(), offset, raw)
            db.conn.execute("UPDATE evidence SET record_id = ? WHERE record_id = ?", (item[2].legacy_id,
                                                                                      item[2].record_id))
        db.conn.execute("UPDATE meta SET value = (SELECT max(id) FROM evidence) WHERE key = 'dedup_legacy_max_id'")
    a.write_bytes(b"".join(reversed(lines(3))))  # rewritten: every line is read again
    b.write_bytes(b"".join(lines(3)))  # the same lines in another file: the old key dropped them
    result = collect_paths(store, settings(tmp_path), [str(a), str(b)])
    by_file = {Path(f.path).name: (f.inserted, f.duplicates) for f in result.files}
    assert by_file == {"a.evidence.jsonl": (0, 3), "b.evidence.jsonl": (3, 0)}
    assert count(store) == 6


def _offsets(path: Path) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    for raw in path.read_bytes().splitlines(keepends=True):
        out.append((offset, raw))
        offset += len(raw)
    return out


def test_a_new_store_needs_no_old_style_lookup(store):
    assert store.get_meta("dedup_legacy_max_id") == "0"
