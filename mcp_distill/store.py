"""The single SQLite file: connection set-up, migrations and the write-transaction helper.

The stdlib ``sqlite3`` of many Pythons cannot load extensions, so the store uses ``sqlean``
(sqlean.py), a drop-in sqlite3 build that can; sqlite-vec is loaded into every connection.

Concurrency: WAL lets readers run beside one writer; every write goes through
:meth:`Store.write`, which takes the write lock up front (``BEGIN IMMEDIATE``) and waits on the
busy timeout, so two writers queue instead of failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlean
import sqlite_vec
from sqlite_utils import Database

from mcp_distill import migrations
from mcp_distill.errors import StoreError, StoreVersionError
from mcp_distill.faults import store_fault

BUSY_TIMEOUT_MS = 60_000
#: Extra attempts when SQLite answers BUSY even after the busy timeout (a WAL snapshot race).
WRITE_RETRIES = 5

Connection = sqlean.Connection


def connect(path: str | Path) -> Connection:
    """A connection with sqlite-vec loaded, WAL, a busy timeout and foreign keys on."""
    path = Path(path)
    try:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlean.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                              isolation_level=None)
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache
        conn.execute("PRAGMA temp_store = MEMORY")
    except (sqlean.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}; check the path or point --db elsewhere") from exc
    return conn


class Store:
    """One open store. Thread-safe for the MCP server's worker threads through one lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.conn = connect(self.path)
        self.db = Database(self.conn)
        self.lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        with self.write():
            applied = migrations.applied_names(self.db)
            unknown = [name for name in applied if name not in migrations.KNOWN]
            if unknown:
                raise StoreVersionError(
                    f"{self.path} was written by a newer mcp-distill (migrations {', '.join(unknown)} "
                    "are unknown here); upgrade mcp-distill or point --db at another file"
                )
            migrations.apply(self.db)

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction, holding the write lock from its first statement."""
        with self.lock:
            if self.conn.in_transaction:  # nested: join the outer transaction
                yield self.db
                return
            self._begin_immediate()
            try:
                yield self.db
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                # a full or read-only disk: one line naming it (the transaction is rolled back, nothing lost)
                fault = store_fault(exc, f"the store {self.path}", "free space (or move the store with --db) and re-run; "
                                    "what was committed before is kept")
                if fault is not None:
                    raise fault from exc
                raise

    def _begin_immediate(self) -> None:
        for attempt in range(WRITE_RETRIES + 1):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlean.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == WRITE_RETRIES:
                    raise StoreError(
                        f"the store {self.path} stayed locked by another writer: {exc}; retry when it finishes"
                    ) from exc
                time.sleep(0.05 * (attempt + 1))

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self.lock:
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write():
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: str | Path) -> Store:
    return Store(path)
