"""The store interface: what every package may ask of the database, and nothing more.

A backend offers connections for reading, ``atomic()`` transactions that nest, statements run
inside them, a small key-value ``meta`` table, migrations and closing. The SQL of each package's
tables lives in that package's repository module, never here; the store only runs it.

:class:`mcp_distill.store.sqlite.SqliteStore` (one SQLite file with sqlite-vec, the embedded
default) and :class:`mcp_distill.store.postgres.PostgresStore` (a shared PostgreSQL server with
pgvector, issue #16) implement this Protocol; the repositories whose SQL differs between dialects
branch on :attr:`StoreBackend.dialect`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mcp_distill.store.dialect import json_text

Params = Sequence[Any] | dict[str, Any]


def placeholders(n: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``n`` values (at least one, so the SQL stays valid)."""
    return ", ".join("?" * max(1, n))


def prefix_values(store: StoreBackend, sources: Sequence[tuple[str, str]], prefix: str,
                  limit: int) -> tuple[list[str], int]:
    """Distinct non-empty values starting with ``prefix`` over ``sources`` ((table, column or expression)
    pairs the owning packages name; ``"$.key"`` names a key of the table's JSON ``data`` column), sorted,
    at most ``limit``, and how many there are in all.

    Each source is one indexed range scan (``col >= prefix AND col < prefix || U+10FFFF``) rather than
    ``LIKE``, so a prefix holding ``%`` or ``_`` means itself and the primary-key indexes are used."""
    def column(col: str) -> str:  # "$.key": a key of the JSON ``data`` column, in the store's dialect
        return json_text(store.dialect, "data", col[2:]) if col.startswith("$.") else col

    # the range's upper end (prefix + U+10FFFF) is a parameter, so the SQL is the same in both dialects
    union = " UNION ".join(f"SELECT {column(col)} AS v FROM {table} WHERE {column(col)} >= ? AND {column(col)} < ?"
                           for table, col in sources)
    bounds = [prefix, prefix + "\U0010ffff"] * len(sources)
    rows = store.query(f"SELECT v FROM ({union}) AS u WHERE v IS NOT NULL AND v != '' ORDER BY v LIMIT ?",
                       (*bounds, limit))
    total = store.query_one(f"SELECT count(*) AS n FROM ({union}) AS u WHERE v IS NOT NULL AND v != ''", bounds)
    return [r["v"] for r in rows], int(total["n"]) if total else 0


@runtime_checkable
class StoreBackend(Protocol):
    """The narrow interface the packages' repositories use.

    Transactions: ``with store.atomic():`` begins a write transaction that holds the writer's
    lock from its first statement; an ``atomic()`` inside another is a SAVEPOINT, so an error
    inside the inner block undoes only the inner block (the outer one may catch it and go on).

    Reads: :meth:`query` / :meth:`query_one` outside a transaction run on a reader connection
    that never begins a write transaction and never waits for a writer (a snapshot of the last
    commit); inside ``atomic()`` on the same thread they run in the transaction, so they see its
    own uncommitted writes. :meth:`reading` gives one reader connection for several statements
    that must see the same snapshot.
    """

    #: The SQLite file, or the PostgreSQL URL without its password (for messages and receipts).
    path: Path | str
    #: SQL dialect of the backend ("sqlite" or "postgresql"); repositories branch on it where SQL differs.
    dialect: str

    def atomic(self) -> AbstractContextManager[Any]:
        """A write transaction (outermost) or a SAVEPOINT (nested)."""
        ...

    def owns_transaction(self) -> bool:
        """Whether the calling thread is inside its own ``atomic()``: work handed to another thread would
        not see this transaction's uncommitted writes."""
        ...

    def reading(self) -> AbstractContextManager[Any]:
        """A connection for reads only, as one consistent snapshot; never waits for a writer."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]: ...

    def query_one(self, sql: str, params: Params = ()) -> dict[str, Any] | None: ...

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement in a transaction (its own, when none is open); returns the rowcount."""
        ...

    def executemany(self, sql: str, rows: Iterable[Params]) -> int: ...

    def table_names(self) -> list[str]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def migrate(self) -> None:
        """Apply the migrations this store lacks; refuse a store written by a newer version."""
        ...

    def close(self) -> None: ...


class MetaMixin:
    """``query_one``, ``get_meta`` and ``set_meta`` written once over a backend's ``query`` and ``execute``
    (the same SQL in both dialects)."""

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def execute(self, sql: str, params: Params = ()) -> int:
        raise NotImplementedError

    def query_one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (key, value))
