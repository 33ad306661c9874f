"""The SQLite backend: one file, sqlite-vec loaded, WAL, nested ``atomic()`` transactions.

The stdlib ``sqlite3`` of many Pythons cannot load extensions, so the store uses ``sqlean``
(sqlean.py), a drop-in sqlite3 build that can; sqlite-vec is loaded into every connection.

Connections: one writer connection (``conn``, behind ``lock``) for every transaction, and a pool
of read-only connections for reads outside a transaction. WAL lets a reader see the last commit
while a writer works, so a read neither begins a write transaction nor takes the writer's lock:
``stats`` or a search answers at once while a collect holds a write (issue #18). The readers are
opened read-only (``mode=ro``), so a read that would write fails loudly instead of queueing
behind the writer. All connections are sqlean's, in one process, so SQLite's own bookkeeping of
file locks keeps them from dropping each other's POSIX locks.

Writers: :meth:`SqliteStore.atomic` takes the write lock up front (``BEGIN IMMEDIATE``) and waits
on the busy timeout, so two writers queue instead of failing with "database is locked"; an
``atomic()`` inside another is a SAVEPOINT (sqlite-utils' ``Database.atomic()``).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlean
import sqlite_vec
from sqlite_utils import Database

from mcp_distill import migrations
from mcp_distill.errors import StoreError
from mcp_distill.faults import store_fault
from mcp_distill.store.interface import MetaMixin, Params

BUSY_TIMEOUT_MS = 60_000
#: Extra attempts when SQLite answers BUSY even after the busy timeout (a WAL snapshot race).
WRITE_RETRIES = 5
MEMORY = ":memory:"

Connection = sqlean.Connection


def _prepare(conn: Connection) -> Connection:
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def connect(path: str | Path) -> Connection:
    """A read-write connection with sqlite-vec loaded, WAL, a busy timeout and foreign keys on."""
    path = Path(path)
    try:
        if str(path) != MEMORY:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = _prepare(sqlean.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                       isolation_level=None))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except (sqlean.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}; check the path or point --db elsewhere") from exc
    return conn


def connect_reader(path: str | Path) -> Connection:
    """A read-only connection (``mode=ro``) with sqlite-vec loaded: it can never take the write lock.

    Temporary tables still work on it (they live in the connection's own temp database)."""
    path = Path(path)
    try:
        return _prepare(sqlean.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None))
    except (sqlean.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot open the store at {path} for reading: {exc}; check the path and its "
                         "permissions") from exc


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class SqliteStore(MetaMixin):
    """One open store; implements :class:`mcp_distill.store.interface.StoreBackend`.

    Thread-safe: transactions serialise on ``lock`` (one writer connection), reads outside a
    transaction each borrow a reader connection from the pool.
    ``conn``, ``db`` and ``lock`` are for repositories and migrations only.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.conn = connect(self.path)
        self.db = Database(self.conn)
        self.lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread inside atomic()
        self._idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._readers: list[Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self.migrate()

    # -- migrations ---------------------------------------------------------------------------

    def _applied(self) -> list[str]:
        if not self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (migrations.TABLE,)):
            return []
        return [r["name"] for r in self.query(
            f"SELECT name FROM {migrations.TABLE} WHERE migration_set = ? ORDER BY rowid", (migrations.MIGRATION_SET,))]

    def migrate(self) -> None:
        """Apply missing migrations. Reads first, so opening an up-to-date store (every CLI call)
        never waits for another process's write transaction."""
        applied = self._applied()
        migrations.check_known(applied, self.path)
        if set(migrations.KNOWN) <= set(applied):
            return
        with self.atomic():
            migrations.check_known(migrations.applied_names(self.db), self.path)  # another process may have moved on
            migrations.apply(self.db)

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """A write transaction holding the write lock from its first statement; nested: a SAVEPOINT,
        so an error inside undoes the inner block only. Yields the sqlite-utils Database."""
        with self.lock:
            if self._depth or self.conn.in_transaction:
                self._depth += 1
                try:
                    with self.db.atomic():
                        yield self.db
                finally:
                    self._depth -= 1
                return
            self._begin_immediate()
            self._depth, self._owner = 1, threading.get_ident()
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
            finally:
                self._depth, self._owner = 0, None

    #: The former name of :meth:`atomic` (it now nests with SAVEPOINTs instead of joining).
    write = atomic

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

    def execute(self, sql: str, params: Params = ()) -> int:
        # Inside this thread's transaction one statement needs no SAVEPOINT of its own: it is atomic.
        if self._owner == threading.get_ident():
            return int(self.conn.execute(sql, params).rowcount)
        with self.atomic():
            return int(self.conn.execute(sql, params).rowcount)

    def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        if self._owner == threading.get_ident():
            return int(self.conn.executemany(sql, rows).rowcount)
        with self.atomic():
            return int(self.conn.executemany(sql, rows).rowcount)

    # -- reads --------------------------------------------------------------------------------

    def owns_transaction(self) -> bool:
        """Whether the calling thread is inside its own ``atomic()`` (its reads see its uncommitted writes;
        a read on another thread would not)."""
        return self._owner == threading.get_ident()

    def _in_own_transaction(self) -> bool:
        return self.owns_transaction() or str(self.path) == MEMORY

    def _checkout(self) -> Connection:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed; open it again")
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            conn = connect_reader(self.path)
            with self._readers_lock:
                self._readers.append(conn)
            return conn

    @contextlib.contextmanager
    def _read_conn(self) -> Iterator[Connection]:
        if self._in_own_transaction():  # see this thread's uncommitted writes
            with self.lock:
                yield self.conn
            return
        conn = self._checkout()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._idle.put(conn)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A reader connection holding one snapshot (a deferred read transaction, no write lock)
        for several statements; inside this thread's ``atomic()``, the transaction's connection."""
        with self._read_conn() as conn:
            if conn is self.conn:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self._read_conn() as conn:
            return _rows(conn.execute(sql, params))

    def table_names(self) -> list[str]:
        return [r["name"] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def close(self) -> None:
        with self.lock:
            self._closed = True
            with self._readers_lock:
                for conn in self._readers:
                    conn.close()
                self._readers.clear()
            self.conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadOnlyStore:
    """The reads of a store over one read-only connection, for a helper process (the export's
    background validator). Read-only on purpose: a read-write connection that believes it is the last
    one checkpoints and deletes the WAL when it closes, which would strand the writes of a parent whose
    POSIX locks were dropped (any close() of another descriptor of the database file in that process
    drops them)."""

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._conn = connect_reader(self.path)
        self._lock = threading.RLock()

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self._lock:
            return _rows(self._conn.execute(sql, params))

    def query_one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def table_names(self) -> list[str]:
        return [r["name"] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def close(self) -> None:
        self._conn.close()
