"""The store interface: nested atomic() with SAVEPOINTs, and readers that never wait for a writer."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcp_distill.errors import StoreError
from mcp_distill.stats import store_stats
from mcp_distill.store import StoreBackend, connect, open_store, placeholders

#: A read that waits for the writer waits the busy timeout (60 s); this bound only says "it did not".
RETURNS_WITHIN_S = 20
FIXTURES = Path(__file__).parent.parent / "fixtures" / "stores"


@pytest.fixture
def store(any_store):
    """The contract tests here run on both backends (SQLite file, PostgreSQL on a real server)."""
    return any_store


def test_each_store_implements_the_interface(store):
    assert isinstance(store, StoreBackend)
    assert store.dialect in ("sqlite", "postgresql")
    assert placeholders(3) == "?, ?, ?" and placeholders(0) == "?"


def test_an_inner_atomic_that_fails_undoes_only_itself(store):
    with store.atomic():
        store.set_meta("outer", "1")
        with pytest.raises(RuntimeError), store.atomic():
            store.set_meta("inner", "1")
            raise RuntimeError("inner fails")
        store.set_meta("after", "1")
    assert store.get_meta("outer") == "1" and store.get_meta("after") == "1"
    assert store.get_meta("inner") is None


def test_an_outer_failure_undoes_the_committed_inner_blocks_too(store):
    with pytest.raises(RuntimeError), store.atomic():
        with store.atomic():
            store.set_meta("inner", "1")
        raise RuntimeError("outer fails")
    assert store.get_meta("inner") is None
    assert not store.conn.in_transaction


def test_execute_returns_rowcounts_and_reads_see_their_own_transaction(store):
    with store.atomic():
        n = store.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [("a", "1"), ("b", "2")])
        assert n == 2
        assert store.query_one(f"SELECT count(*) AS n FROM meta WHERE key IN ({placeholders(2)})", ("a", "b"))["n"] == 2
    assert store.execute("DELETE FROM meta WHERE key = ?", ("a",)) == 1


def test_readers_cannot_write(store):
    with pytest.raises(Exception, match=r"readonly|read-only"):
        store.query("INSERT INTO meta(key, value) VALUES ('x', 'y')")
    assert store.get_meta("x") is None


def _returns_while_held(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread; fail unless it returns within the bound (a writer is held meanwhile)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # the test thread re-raises it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(RETURNS_WITHIN_S)
    assert not thread.is_alive(), "the read waited for the writer"
    if "error" in out:
        raise out["error"]
    return out["value"]


def _seed(path: Path) -> None:
    with open_store(path) as s:
        s.set_meta("seed", "yes")


def test_opening_and_reading_while_another_process_holds_a_write(tmp_path):
    """What a CLI `stats` does while a collect writes: open (migrations already applied), read."""
    path = tmp_path / "s.db"
    _seed(path)
    writer = connect(path)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO meta(key, value) VALUES ('uncommitted', '1')")
    try:
        def open_and_read() -> dict[str, Any]:
            with open_store(path) as s:
                return {"stats": store_stats(s), "seed": s.get_meta("seed"), "dirty": s.get_meta("uncommitted")}
        got = _returns_while_held(open_and_read)
        assert writer.in_transaction  # still held: the read did not wait for it to end
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert got["seed"] == "yes" and got["dirty"] is None  # the last commit, not the writer's work
    assert got["stats"]["evidence"] == 0


def test_a_thread_reads_while_another_thread_of_the_same_store_writes(store):
    store.set_meta("before", "1")
    entered, release = threading.Event(), threading.Event()

    def write() -> None:
        with store.atomic():
            store.set_meta("during", "1")
            entered.set()
            release.wait(RETURNS_WITHIN_S * 2)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert entered.wait(RETURNS_WITHIN_S)
    try:
        got = _returns_while_held(lambda: (store.get_meta("before"), store.get_meta("during"), store_stats(store)))
        assert store.conn.in_transaction
    finally:
        release.set()
        writer.join()
    assert got[0] == "1" and got[1] is None
    assert store.get_meta("during") == "1"


def test_a_snapshot_sees_one_commit_across_statements(store):
    with store.reading() as conn:
        before = conn.execute("SELECT count(*) FROM meta").fetchone()[0]
        with open_store(getattr(store, "url", store.path)) as other:  # another client commits meanwhile
            other.set_meta("later", "1")
        assert conn.execute("SELECT count(*) FROM meta").fetchone()[0] == before
    assert store.get_meta("later") == "1"


def test_a_closed_store_says_so(tmp_path):
    s = open_store(tmp_path / "s.db")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.query("SELECT 1")


def test_a_store_written_before_the_redesign_opens_and_reads(tmp_path):
    """tests/fixtures/stores/dc8e70b.db.gz: `mcp-distill run` of four lakehouse streams by commit
    dc8e70b (migrations 001-006, before the store interface); it must open, migrate and read."""
    from mcp_distill import migrations
    from mcp_distill.collect.runs import get_run
    from mcp_distill.search.index import Index

    path = tmp_path / "old.db"
    path.write_bytes(gzip.decompress((FIXTURES / "dc8e70b.db.gz").read_bytes()))
    with open_store(path) as s:
        assert migrations.applied_names(s.db) == migrations.KNOWN
        stats = store_stats(s)
        assert (stats["evidence"], stats["runs"], stats["scored_runs"], stats["playbooks"]) == (86, 66, 66, 13)
        first = s.query_one("SELECT run_key FROM runs ORDER BY run_key")["run_key"]
        run = get_run(s, first)
        assert run["score"] is not None and run["records"]
        title = s.query_one("SELECT title FROM search_docs ORDER BY doc_id")["title"]
        hits = Index(s, None, "playbooks").search(title, k=3, mode="keyword").hits
        assert title in [h.title for h in hits]
