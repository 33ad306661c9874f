"""``store copy SRC DST``: move a whole store between backends (SQLite <-> PostgreSQL), with a receipt.

What is copied: every table both stores have (the same migrations made them), every column both
have, in the source's insertion order, ids included, parents before the tables that reference
them; into an empty destination, in one transaction (all or nothing). What is not: each backend's
derived search structures (SQLite's FTS5 and sqlite-vec tables, PostgreSQL's generated tsvector) —
the destination builds its keyword index itself as the documents arrive; documents come without
their vector link (``vector_id``) and the embedder's model and dimension are left out of ``meta``,
so the next ``mcp-distill playbooks extract`` links each document to its cached embedding again
(nothing is re-embedded: the embedding cache is copied).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models import Receipt
from mcp_distill.receipts import ReceiptBuilder
from mcp_distill.store import Store, is_server_url, open_store, placeholders

BATCH = 2000
#: Applied-migration bookkeeping: each store keeps its own.
SKIPPED_TABLES = {"_sqlite_migrations", "_distill_migrations",
                  # PostgreSQL's keyword-index statistics: the destination's triggers count its own documents
                  "search_terms", "search_totals", "search_doc_tokens"}
#: Tables whose rows say a store already holds something (a copy only goes into an empty store).
CONTENT_TABLES = ("evidence", "runs", "scores", "search_docs", "playbooks", "drift_snapshots", "ledger_entry")
#: Rows and values that belong to the source's vector index, not to the knowledge.
DERIVED_META = ("search.embed_model", "search.embed_dim")  # search.maintenance META_MODEL, META_DIM


def open_existing(location: str | Path) -> Store:
    """Open a store that must exist: a missing SQLite file is a mistake, not a new empty store."""
    if not is_server_url(location) and not Path(location).is_file():
        raise NotFoundError(f"no store at {location}; give the path of an existing SQLite store or a "
                            "postgresql:// URL")
    return open_store(location)


def _copyable_tables(store: Store) -> set[str]:
    """Plain tables: not SQLite's virtual tables (FTS5, vec0) nor their shadow tables, which each store
    derives itself; not the migration bookkeeping."""
    names = set(store.table_names()) - SKIPPED_TABLES
    if store.dialect == "sqlite":
        virtual = [r["name"] for r in store.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")]
        names = {n for n in names if n not in virtual and not n.startswith(tuple(f"{v}_" for v in virtual))}
        names = {n for n in names if not n.startswith("sqlite_")}
    return names


def _columns(store: Store, table: str) -> list[str]:
    """The table's columns, without the ones the database computes (generated, always-identity)."""
    if store.dialect == "postgresql":
        return [r["name"] for r in store.query(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? AND is_generated = 'NEVER' AND coalesce(identity_generation, '') <> 'ALWAYS' "
            "ORDER BY ordinal_position", (table,))]
    return [r["name"] for r in store.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))]


def _parents(store: Store, table: str) -> set[str]:
    if store.dialect == "postgresql":
        return {r["parent"] for r in store.query(
            "SELECT DISTINCT ccu.table_name AS parent FROM information_schema.table_constraints tc "
            "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name "
            "AND ccu.table_schema = tc.table_schema WHERE tc.constraint_type = 'FOREIGN KEY' "
            "AND tc.table_schema = current_schema() AND tc.table_name = ?", (table,))}
    return {r["table"] for r in store.query("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)", (table,))}


def _in_dependency_order(store: Store, tables: list[str]) -> list[str]:
    parents = {t: _parents(store, t) & set(tables) - {t} for t in tables}
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, ps in parents.items() if ps <= set(ordered))
        if not ready:  # a cycle: keep going in name order (no such schema exists today)
            ready = sorted(parents)
        ordered += ready
        for t in ready:
            parents.pop(t)
    return ordered


def _order_clause(store: Store, table: str, columns: list[str]) -> str:
    """Insertion order, so ties broken by it (``ORDER BY ..., rowid``) come out the same after the copy."""
    if store.dialect == "postgresql":
        return " ORDER BY rowid" if "rowid" in _all_columns(store, table) else (" ORDER BY id" if "id" in columns else "")
    without_rowid = store.query_one("SELECT 1 AS w FROM sqlite_master WHERE name = ? AND sql LIKE '%WITHOUT ROWID%'",
                                    (table,))
    return "" if without_rowid else " ORDER BY rowid"


def _all_columns(store: Store, table: str) -> set[str]:
    return {r["name"] for r in store.query("SELECT column_name AS name FROM information_schema.columns "
                                           "WHERE table_schema = current_schema() AND table_name = ?", (table,))}


def _rows(store: Store, table: str, columns: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    select = ", ".join(f'"{c}"' for c in columns)
    order = _order_clause(store, table, columns)
    with store.reading() as conn:
        cursor = conn.execute(f'SELECT {select} FROM "{table}"{order}')
        while batch := cursor.fetchmany(BATCH):
            yield [_value(table, columns, row) for row in batch]


def _value(table: str, columns: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    if table == "search_docs":
        return tuple(None if name == "vector_id" else value for name, value in zip(columns, row, strict=True))
    if isinstance(row, tuple):
        return row
    return tuple(row)


def _refuse_unless_empty(dst: Store) -> None:
    present = set(dst.table_names())
    for table in CONTENT_TABLES:
        if table in present and dst.query_one(f"SELECT 1 AS x FROM {table} LIMIT 1"):
            raise InvalidInputError(f"the destination {dst.path} already holds data (table {table}); copy into an "
                                    "empty store (a new SQLite path, or an empty PostgreSQL database)")


def _restart_identities(dst: Store, table: str, columns: list[str]) -> None:
    """After ids were copied explicitly, new rows must get ids above them (PostgreSQL identity columns)."""
    if dst.dialect != "postgresql":
        return
    for col in columns:
        seq = dst.query_one("SELECT pg_get_serial_sequence(?, ?) AS s", (table, col))
        if seq and seq["s"]:
            dst.conn.execute(f'SELECT setval(?, (SELECT coalesce(max("{col}"), 0) + 1 FROM "{table}"), false)',
                             (seq["s"],))


def copy_store(src: Store, dst: Store, command: str = "store copy") -> Receipt:
    """Copy every table of ``src`` into the empty ``dst``; returns the receipt (also stored in ``dst``)."""
    receipt = ReceiptBuilder("store-copy", command)
    receipt.details.update({"source": str(src.path), "source_backend": src.dialect,
                            "destination": str(dst.path), "destination_backend": dst.dialect})
    _refuse_unless_empty(dst)
    shared = sorted(_copyable_tables(src) & _copyable_tables(dst))
    tables = _in_dependency_order(src, shared)
    copied: dict[str, int] = {}
    with dst.atomic():
        # what the destination's own migrations wrote (meta's bookkeeping) gives way to the source's rows
        dst.conn.execute("DELETE FROM meta")
        for table in tables:
            columns = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
            insert = (f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
                      f'VALUES ({placeholders(len(columns))})')
            n = 0
            for batch in _rows(src, table, columns):
                if table == "meta":
                    batch = [row for row in batch if row[columns.index("key")] not in DERIVED_META]
                if batch:
                    dst.conn.executemany(insert, batch)
                n += len(batch)
            _restart_identities(dst, table, columns)
            copied[table] = n
            receipt.count(table, n)
    receipt.count_in = sum(_count(src, t) for t in tables)
    receipt.count_out = sum(copied.values())
    mismatched = [t for t in tables if t != "meta" and _count(dst, t) != _count(src, t)]
    receipt.errors += [f"{t}: {_count(src, t)} rows in the source, {_count(dst, t)} in the destination" for t in mismatched]
    pending = _count(dst, "search_docs") if "search_docs" in copied else 0
    if pending:
        receipt.warnings.append(f"{pending} search documents wait for their vectors: run `mcp-distill playbooks extract` "
                                "on the destination (cached embeddings are reused, nothing is re-embedded)")
    receipt.details["tables"] = copied
    return receipt.finish(dst, validation_pass=not mismatched)


def _count(store: Store, table: str) -> int:
    row = store.query_one(f'SELECT count(*) AS n FROM "{table}"')
    return int(row["n"]) if row else 0
