"""The store: pragmas, the real sqlite-vec extension, numbered migrations from empty and from the previous version."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from mcp_distill import migrations
from mcp_distill.errors import StoreVersionError
from mcp_distill.store import connect, open_store


def test_pragmas_and_extension(tmp_path):
    store = open_store(tmp_path / "s.db")
    assert store.query_one("PRAGMA journal_mode")["journal_mode"] == "wal"
    assert store.query_one("PRAGMA busy_timeout")["timeout"] >= 10_000
    assert store.query_one("PRAGMA foreign_keys")["foreign_keys"] == 1
    assert store.query_one("SELECT vec_version() AS v")["v"].startswith("v0.1")
    row = store.query_one("SELECT vec_distance_l2('[1,0]', '[0,1]') AS d")
    assert abs(row["d"] - 2 ** 0.5) < 1e-6
    store.close()


def test_migrations_from_empty_apply_every_numbered_migration(tmp_path):
    store = open_store(tmp_path / "s.db")
    applied = migrations.applied_names(store.db)
    assert applied == migrations.KNOWN
    assert applied == sorted(applied) and applied[0] == "m001_core"
    for table in ("evidence", "sources", "quarantine", "runs", "scores", "receipts", "meta"):
        assert store.db[table].exists()
    store.close()


@pytest.mark.skipif(len(migrations.KNOWN) < 2, reason="only one migration exists")
def test_migrating_from_the_previous_version_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    conn = connect(path)
    db = Database(conn)
    migrations.apply(db, stop_before=migrations.KNOWN[-1])
    assert migrations.applied_names(db) == migrations.KNOWN[:-1]
    conn.execute("INSERT INTO meta(key, value) VALUES ('kept', 'yes')")
    conn.close()
    store = open_store(path)
    assert migrations.applied_names(store.db) == migrations.KNOWN
    assert store.get_meta("kept") == "yes"
    store.close()


def test_reopening_is_idempotent(tmp_path):
    open_store(tmp_path / "s.db").close()
    store = open_store(tmp_path / "s.db")
    assert store.query_one("SELECT count(*) AS n FROM _sqlite_migrations")["n"] == len(migrations.KNOWN)
    store.close()


def test_a_store_written_by_a_newer_version_is_refused(tmp_path):
    store = open_store(tmp_path / "s.db")
    with store.write() as db:
        db["_sqlite_migrations"].insert(
            {"migration_set": migrations.MIGRATION_SET, "name": "m999_future", "applied_at": "2030-01-01"})
    store.close()
    with pytest.raises(StoreVersionError, match="newer mcp-distill"):
        open_store(tmp_path / "s.db")


def test_write_rolls_back_on_error(store):
    with pytest.raises(RuntimeError), store.write() as db:
        db.conn.execute("INSERT INTO meta(key, value) VALUES ('x', '1')")
        raise RuntimeError("boom")
    assert store.get_meta("x") is None
