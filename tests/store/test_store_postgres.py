"""The PostgreSQL backend on a real server (pgserver, or MCP_DISTILL_TEST_PG): migrations, errors, locks.

The store contract shared with SQLite runs on both backends in tests/store/test_store_interface.py.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import threading

import psycopg
import pytest
from conftest import PROJECT

from mcp_distill import migrations
from mcp_distill.errors import StoreError, StoreVersionError
from mcp_distill.migrations import pg as pg_migrations
from mcp_distill.stats import store_stats
from mcp_distill.store import open_store
from mcp_distill.store.pg_sql import is_server_url, shown_url, to_psycopg
from mcp_distill.store.postgres import PgConnection, PostgresStore


def test_every_numbered_migration_has_its_postgresql_version():
    pg_names = sorted(m.name for m in pkgutil.iter_modules(pg_migrations.__path__) if m.name[:1] == "m")
    assert pg_names == migrations.KNOWN


def test_placeholders_and_percent_signs_are_rewritten_outside_literals_only():
    sql = "SELECT '?' AS q, a FROM t WHERE b LIKE 'x%' AND c = ? AND \"we?ird\" = ? -- why?"
    assert to_psycopg(sql) == "SELECT '?' AS q, a FROM t WHERE b LIKE 'x%%' AND c = %s AND \"we?ird\" = %s -- why?"
    assert is_server_url("postgresql://u@h/d") and is_server_url("POSTGRES://h/d") and not is_server_url("store/x.db")
    assert shown_url("postgresql://u:secret@h:5432/d") == "postgresql://u@h:5432/d"


def test_migrations_from_empty_create_every_table_with_the_search_columns(pg_url):
    with open_store(pg_url) as store:
        assert isinstance(store, PostgresStore) and store.dialect == "postgresql"
        assert store.query_one(f"SELECT count(*) AS n FROM {pg_migrations.TABLE}")["n"] == len(migrations.KNOWN)
        for table in ("evidence", "sources", "quarantine", "runs", "scores", "receipts", "meta", "search_docs",
                      "embed_cache", "playbooks", "scratchpads", "drift_claims", "ledger_entry"):
            assert table in store.table_names()
        assert store.query_one("SELECT extversion FROM pg_extension WHERE extname = 'vector'") is not None
        store.execute("INSERT INTO search_docs(collection, doc_id, content_hash, row_hash, updated_at, title, text) "
                      "VALUES ('c', 'd1', 'h', 'r', 'now', 'Fixing flaky migrations', 'the tests were running')")
        hit = store.query_one("SELECT doc_id FROM search_docs WHERE fts @@ websearch_to_tsquery('english', ?)",
                              ("migration run",))
        assert hit == {"doc_id": "d1"}  # English stemming: migration ~ migrations, run ~ running
        assert store.query_one("SELECT '[1,0]'::vector <=> '[0,1]'::vector AS d")["d"] == pytest.approx(1.0)


def test_migrating_from_the_previous_version_keeps_data(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as raw, raw.transaction():
        conn = PgConnection(raw)
        pg_migrations.apply(conn, store="old", stop_before=migrations.KNOWN[-1])
        assert pg_migrations.applied_names(conn) == migrations.KNOWN[:-1]
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("kept", "yes"))
        conn.execute("INSERT INTO evidence(record_id, stream, run_key, source_file, line_offset, sig_hash, data, "
                     "ingested_at) VALUES ('r1', 's', 'k', 'f', 0, 'h', '{}', 'now')")
    with open_store(pg_url) as store:
        assert pg_migrations.applied_names(store.conn) == migrations.KNOWN
        assert store.get_meta("kept") == "yes"
        assert store.query_one("SELECT record_id FROM evidence") == {"record_id": "r1"}
        store.execute("INSERT INTO evidence(record_id, stream, run_key, source_file, line_offset, sig_hash, data, "
                      "ingested_at) VALUES ('r2', 's', 'k', 'f', 1, 'h', '{}', 'now')")  # identity goes on


def test_reopening_is_idempotent_and_a_newer_store_is_refused(pg_url):
    open_store(pg_url).close()
    with open_store(pg_url) as store:
        assert store.query_one(f"SELECT count(*) AS n FROM {pg_migrations.TABLE}")["n"] == len(migrations.KNOWN)
        store.execute(f"INSERT INTO {pg_migrations.TABLE}(migration_set, name, applied_at) VALUES (?, ?, ?)",
                      (migrations.MIGRATION_SET, "m999_future", "2030-01-01"))
    with pytest.raises(StoreVersionError, match="newer mcp-distill"):
        open_store(pg_url)


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    url = f"postgresql://nobody@/distill?host={tmp_path}&port=1"
    with pytest.raises(StoreError, match=r"cannot reach the PostgreSQL store .*check the URL"):
        open_store(url)


def test_without_the_extra_the_error_names_it(tmp_path):
    """A Python where psycopg cannot be imported (``sys.modules`` entry None) is what a plain install sees."""
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from mcp_distill.store import open_store\n"
            "open_store('postgresql://u:pw@db.example:5432/kb')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "ConfigError" in result.stderr and "pip install 'mcp-distill[postgres]'" in result.stderr
    assert "pw" not in result.stderr.split("ConfigError")[-1]  # the password is not echoed


def test_a_reader_does_not_wait_for_another_clients_write(pg_url):
    """What a CLI `stats` does while a collect writes on another machine: open, read the last commit."""
    with open_store(pg_url) as seeded:
        seeded.set_meta("seed", "yes")
    with psycopg.connect(pg_url) as writer:  # a transaction of another client, held open
        writer.execute("INSERT INTO meta(key, value) VALUES ('uncommitted', '1')")
        writer.execute("SELECT pg_advisory_xact_lock(%s)", (0x6D63_7064_7772,))
        got: dict = {}
        reader = threading.Thread(target=lambda: got.update(_open_and_read(pg_url)), daemon=True)
        reader.start()
        reader.join(20)
        assert not reader.is_alive(), "the read waited for the writer"
        writer.rollback()
    assert got == {"seed": "yes", "dirty": None, "evidence": 0}


def _open_and_read(url: str) -> dict:
    with open_store(url) as s:
        return {"seed": s.get_meta("seed"), "dirty": s.get_meta("uncommitted"), "evidence": store_stats(s)["evidence"]}


def test_writers_queue_on_the_lock_and_conflicting_inserts_store_once(pg_url):
    with open_store(pg_url) as a, open_store(pg_url) as b:
        entered, release = threading.Event(), threading.Event()

        def hold() -> None:
            with a.atomic():
                a.set_meta("first", "a")
                entered.set()
                release.wait(20)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert entered.wait(20)
        order: list[str] = []
        second = threading.Thread(target=lambda: (b.set_meta("first", "b"), order.append("b")), daemon=True)
        second.start()
        second.join(0.5)
        order.append("released")
        release.set()
        holder.join()
        second.join(20)
        assert order == ["released", "b"]  # b's write waited for a's transaction, then replaced its value
        assert b.get_meta("first") == "b"
        insert = "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING"
        assert a.execute(insert, ("once", "1")) == 1 and b.execute(insert, ("once", "2")) == 0
        assert a.query("SELECT value FROM meta WHERE key = 'once'") == [{"value": "1"}]


def test_the_cli_reads_a_postgresql_store_from_the_environment(pg_url, tmp_path):
    env = {**os.environ, "MCP_DISTILL_DB": pg_url, "MCP_DISTILL_ROOTS": str(PROJECT)}
    result = subprocess.run([sys.executable, "-m", "mcp_distill", "--json", "stats"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"evidence": 0' in result.stdout and shown_url(pg_url) in result.stdout
