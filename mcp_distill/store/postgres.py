"""The PostgreSQL backend: a team's shared store on a server with the pgvector extension.

Chosen by :func:`mcp_distill.store.open_store` for a ``postgresql://`` URL (``--db`` or
``MCP_DISTILL_DB``). Needs the optional extra: ``pip install 'mcp-distill[postgres]'``.

Connections come from two psycopg pools (psycopg-pool). Writers: the outermost ``atomic()`` of a
thread takes a connection, begins a transaction and first takes one transaction-scoped advisory
lock, so writers from every process and machine queue one at a time, as they do on SQLite's
single writer lock (the repositories were written for that: a collector reads a source offset and
moves it in one transaction). A nested ``atomic()`` is a SAVEPOINT (psycopg's nested
``transaction()``). Readers: a second pool whose connections are read-only
(``default_transaction_read_only``): under MVCC a read sees the last commit and never waits for a
writer; ``reading()`` holds one REPEATABLE READ snapshot across statements.

Statements are written with SQLite's ``?`` placeholders; :mod:`mcp_distill.store.pg_sql`
rewrites them for psycopg. Migrations are the PostgreSQL versions in
:mod:`mcp_distill.migrations.pg`, one per numbered SQLite migration, under the same names.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg_pool import ConnectionPool, PoolTimeout

from mcp_distill import migrations
from mcp_distill.errors import StoreError
from mcp_distill.migrations import pg as pg_migrations
from mcp_distill.store.interface import MetaMixin, Params
from mcp_distill.store.pg_sql import shown_url, to_psycopg

#: Key of the advisory lock every write transaction takes first ("mcp-distill writer").
WRITER_LOCK = 0x6D63_7064_7772
CONNECT_TIMEOUT_S = 15
#: The longest a writer waits for another writer's transaction, like SQLite's busy timeout.
LOCK_TIMEOUT = "60s"
READERS_MAX = 8
WRITERS_MAX = 4


class _BoolAsInt(Dumper):
    """Flags are INTEGER columns in both dialects; SQLite stores Python's True as 1, so does this."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


def _register_vector(conn: psycopg.Connection) -> None:
    if conn.execute("SELECT to_regtype('vector') IS NOT NULL").fetchone()[0]:
        from pgvector.psycopg import register_vector

        register_vector(conn)


def _configure_writer(conn: psycopg.Connection) -> None:
    conn.adapters.register_dumper(bool, _BoolAsInt)
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    _register_vector(conn)


def _configure_reader(conn: psycopg.Connection) -> None:
    _configure_writer(conn)
    conn.execute("SET default_transaction_read_only = on")


class _Rows:
    """The answer of a statement run on a pooled connection that went back to the pool."""

    def __init__(self, cursor: psycopg.Cursor[Any]):
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self._rows = list(cursor.fetchall()) if cursor.description else []

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgConnection:
    """One psycopg connection speaking the repositories' SQL (``?`` placeholders).

    ``conn`` is itself, so code written against what SQLite's ``atomic()`` yields (``db.conn.execute``)
    runs unchanged."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw
        self.conn = self

    def execute(self, sql: str, params: Params | None = ()) -> psycopg.Cursor[Any]:
        if not params:
            return self.raw.execute(sql.encode())  # as written: DDL scripts, literal % signs
        return self.raw.execute(to_psycopg(sql).encode(), params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(to_psycopg(sql).encode(), list(rows))
        return cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                  binary_types: Sequence[str] | None = None) -> int:
        """``COPY table (columns) FROM STDIN`` of ``rows`` (the bulk load: one statement, no per-row
        round trip or parse); the number of rows sent. ``binary_types`` (a type name per column):
        binary COPY, for values costly to write as text (a vector is 384 floats)."""
        names = ", ".join(f'"{c}"' for c in columns)
        options = " (FORMAT BINARY)" if binary_types else ""
        n = 0
        with self.raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN{options}'.encode()) as copy:
            if binary_types:
                copy.set_types(list(binary_types))
            for row in rows:
                copy.write_row(row)
                n += 1
        return n

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


class _StoreConn:
    """``store.conn`` of the PostgreSQL store: the thread's open transaction, else a statement of its own."""

    def __init__(self, store: PostgresStore):
        self._store = store

    def execute(self, sql: str, params: Params = ()) -> Any:
        tx = self._store._transaction()
        if tx is not None:
            return tx.execute(sql, params)
        # one statement of its own (autocommit), like SQLite's writer connection outside a transaction:
        # a read through here must not queue behind the writers' lock
        self._store._check_open()
        with self._store._writers.connection() as raw:
            return _Rows(PgConnection(raw).execute(sql, params))

    def executemany(self, sql: str, rows: Iterable[Params]) -> Any:
        with self._store.atomic() as tx:
            return tx.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self._store._open_transactions > 0


class PostgresStore(MetaMixin):
    """One open PostgreSQL store; implements :class:`mcp_distill.store.interface.StoreBackend`.

    Thread-safe: each thread's ``atomic()`` has its own connection; writers serialise on the
    advisory lock, readers never wait.
    """

    dialect = "postgresql"

    def __init__(self, url: str):
        self.url = url
        #: The URL without its password (what messages, receipts and ``stats`` show).
        self.path = shown_url(url)
        self.conn = _StoreConn(self)
        self.lock = threading.RLock()  # for repositories that guard process-local state with it
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self._open_transactions = 0
        self._closed = False
        self._open_pools()
        self.migrate()

    def _open_pools(self) -> None:
        try:  # one direct attempt first: it fails at once and says why (a pool would retry until its timeout)
            psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise StoreError(f"cannot reach the PostgreSQL store {self.path}: {reason}; check the URL, that the "
                             "server runs and that this role may connect") from exc
        kwargs = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S}
        self._writers = ConnectionPool(self.url, min_size=1, max_size=WRITERS_MAX, kwargs=kwargs,
                                       configure=_configure_writer, open=False, name="mcp-distill-writers")
        self._readers = ConnectionPool(self.url, min_size=1, max_size=READERS_MAX, kwargs=kwargs,
                                       configure=_configure_reader, open=False, name="mcp-distill-readers")
        try:
            self._writers.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            self._readers.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout as exc:
            self._close_pools()
            raise StoreError(f"the PostgreSQL store {self.path} accepted one connection but not a pool of "
                             f"{WRITERS_MAX + READERS_MAX}: {exc}; raise the server's max_connections or retry") from exc

    def _close_pools(self) -> None:
        self._writers.close()
        self._readers.close()

    # -- migrations ---------------------------------------------------------------------------

    def _applied(self) -> list[str]:
        return pg_migrations.applied_names(self._transaction() or _Reader(self))

    def migrate(self) -> None:
        """Apply missing migrations (all in one transaction: PostgreSQL's DDL is transactional).
        Reads first, so opening an up-to-date store never waits for another process's writer."""
        applied = self._applied()
        migrations.check_known(applied, self.path)
        if set(migrations.KNOWN) <= set(applied):
            return
        with self.atomic() as tx:
            migrations.check_known(pg_migrations.applied_names(tx), self.path)  # another process may have moved on
            pg_migrations.apply(tx, store=self.path)
        # pgvector's type exists from migration 002 on: fresh connections register its adapters
        self._close_pools()
        self._open_pools()

    # -- transactions -------------------------------------------------------------------------

    def _transaction(self) -> PgConnection | None:
        return getattr(self._local, "tx", None)

    def owns_transaction(self) -> bool:
        """Whether the calling thread is inside its own ``atomic()`` (another thread would not see its writes)."""
        return self._transaction() is not None

    @contextlib.contextmanager
    def atomic(self) -> Iterator[PgConnection]:
        """A write transaction holding the writers' advisory lock from its first statement;
        nested: a SAVEPOINT, so an error inside undoes the inner block only."""
        tx = self._transaction()
        if tx is not None:
            with tx.raw.transaction():
                yield tx
            return
        self._check_open()
        with self._writers.connection() as raw:
            tx = PgConnection(raw)
            self._local.tx = tx
            with self._count_lock:
                self._open_transactions += 1
            try:
                with raw.transaction():
                    raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                    yield tx
            finally:
                self._local.tx = None
                with self._count_lock:
                    self._open_transactions -= 1

    #: The former name of :meth:`atomic`, as on the SQLite store.
    write = atomic

    def execute(self, sql: str, params: Params = ()) -> int:
        with self.atomic() as tx:
            return int(tx.execute(sql, params).rowcount)

    def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        with self.atomic() as tx:
            return int(tx.executemany(sql, rows).rowcount)

    # -- reads --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed; open it again")

    @contextlib.contextmanager
    def _read_conn(self) -> Iterator[PgConnection]:
        tx = self._transaction()
        if tx is not None:  # see this thread's uncommitted writes
            yield tx
            return
        self._check_open()
        with self._readers.connection() as raw:
            yield PgConnection(raw)

    @contextlib.contextmanager
    def reading(self) -> Iterator[PgConnection]:
        """A read-only connection holding one snapshot (REPEATABLE READ) for several statements;
        inside this thread's ``atomic()``, the transaction's connection."""
        with self._read_conn() as conn:
            if conn is self._transaction():
                yield conn
                return
            with conn.raw.transaction():
                conn.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield conn

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self._read_conn() as conn:
            cursor = conn.execute(sql, params)
            if not cursor.description:
                return []
            names = [d.name for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def table_names(self) -> list[str]:
        return [r["name"] for r in self.query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close_pools()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Reader:
    """A one-statement reader for the migration table (before the store is known to be current)."""

    def __init__(self, store: PostgresStore):
        self._store = store

    def execute(self, sql: str, params: Params = ()) -> _Rows:
        with self._store._read_conn() as conn:
            return _Rows(conn.execute(sql, params))
