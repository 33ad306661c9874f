"""`store copy`: a whole store to PostgreSQL and back, every row the same, with a receipt; refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.search.index import Index
from mcp_distill.search.maintenance import META_DIM, META_MODEL
from mcp_distill.store import open_store
from mcp_distill.store.copy import DERIVED_META, SKIPPED_TABLES, copy_store, open_existing

#: Columns whose values belong to one store's vector index, not to the knowledge (see store/copy.py).
UNLINKED = {"vector_id"}


def _table_rows(store, table: str) -> list[tuple]:
    columns = [r["name"] for r in store.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))
               if r["name"] not in UNLINKED]
    rows = store.query(f"SELECT {', '.join(columns)} FROM {table}")
    if table == "receipts":
        rows = [r for r in rows if r["stage"] != "store-copy"]
    if table == "meta":
        rows = [r for r in rows if r["key"] not in DERIVED_META]
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


def test_derived_meta_names_the_search_index_keys():
    assert set(DERIVED_META) == {META_MODEL, META_DIM}


def test_a_store_copied_to_postgresql_and_back_holds_the_same_rows(example_store, pg_url, tmp_path):
    with open_store(pg_url) as pg:
        there = copy_store(example_store, pg)
        assert there.validation_pass, there.errors
        assert there.details["tables"]["evidence"] == example_store.query_one("SELECT count(*) AS n FROM evidence")["n"] > 0
        assert pg.query_one("SELECT count(*) AS n FROM receipts WHERE stage = 'store-copy'")["n"] == 1
        pg.execute("INSERT INTO quarantine(source_file, line_offset, line_sha256, reason, excerpt, created_at) "
                   "VALUES ('f', 0, 'x', 'r', 'e', 'now')")  # identities continue above the copied ids
        pg.execute("DELETE FROM quarantine WHERE source_file = 'f' AND line_sha256 = 'x'")
        back_path = tmp_path / "back.db"
        with open_store(back_path) as back:
            home = copy_store(pg, back)
            assert home.validation_pass, home.errors
            assert any("playbooks extract" in w for w in home.warnings)
            tables = sorted(set(example_store.table_names()) & set(back.table_names()) - SKIPPED_TABLES
                            - {t for t in back.table_names() if t.startswith(("search_fts", "search_vec"))})
            assert {"evidence", "runs", "scores", "playbooks", "search_docs", "embed_cache"} <= set(tables)
            for table in tables:
                assert _table_rows(back, table) == _table_rows(example_store, table), table
            # the keyword index was rebuilt from the copied documents
            title = back.query_one("SELECT title FROM search_docs ORDER BY doc_id")["title"]
            hits = Index(back, None, "playbooks").search(title, k=3, mode="keyword").hits
            assert title in [h.title for h in hits]


def test_copy_refuses_a_destination_with_data_and_a_missing_source(example_store, tmp_path):
    with open_store(tmp_path / "a.db") as dst:
        copy_store(example_store, dst)
        with pytest.raises(InvalidInputError, match="already holds data"):
            copy_store(example_store, dst)
    with pytest.raises(NotFoundError, match="no store at"):
        open_existing(tmp_path / "typo.db")
    assert not (tmp_path / "typo.db").exists()


def test_the_cli_copies_a_store_into_postgresql_with_a_receipt(example_store, pg_url, tmp_path):
    cmd = [sys.executable, "-m", "mcp_distill", "--json", "store", "copy", str(example_store.path), pg_url]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["stage"] == "store-copy" and receipt["validation_pass"] is True
    assert receipt["details"]["destination_backend"] == "postgresql" and receipt["details"]["tables"]["runs"] > 0
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert again.returncode == 1 and "already holds data" in again.stderr and len(again.stderr.strip().splitlines()) == 1
