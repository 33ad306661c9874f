"""The store: the narrow interface every package's repository uses, and its two backends.

``open_store(location)`` opens (and migrates) one SQLite file, or, for a ``postgresql://`` URL,
the shared PostgreSQL store (:mod:`mcp_distill.store.postgres`, optional extra ``postgres``).
See :mod:`mcp_distill.store.interface` for what a backend offers. Repositories write their SQL once for
both backends with the ``dialect`` helpers (``json_text``, ``in_list``...); ``adhoc`` runs ``mcp-distill sql``.
``copy`` (``mcp-distill store copy``) is imported from its module: it writes a receipt, and the receipts
package is built on this one.
"""

from __future__ import annotations

from pathlib import Path

from mcp_distill.errors import ConfigError
from mcp_distill.store.adhoc import SQL_ROW_LIMIT, SqlResult, datasette_command, run_sql, vec_path
from mcp_distill.store.dialect import greatest, in_list, json_array_has, json_number, json_text, json_value, least, list_param
from mcp_distill.store.interface import Params, StoreBackend, placeholders, prefix_values
from mcp_distill.store.pg_sql import is_server_url, shown_url
from mcp_distill.store.sqlite import (
    BUSY_TIMEOUT_MS,
    WRITE_RETRIES,
    Connection,
    ReadOnlyStore,
    SqliteStore,
    connect,
    connect_reader,
)

#: The store type the packages are written against today (the SQLite backend).
Store = SqliteStore


def open_store(location: str | Path) -> Store:
    """Open the store at ``location``, applying missing migrations: a SQLite file path (created when
    missing), or a ``postgresql://user@host:port/dbname`` URL of a server with pgvector."""
    if is_server_url(location):
        try:
            from mcp_distill.store.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(f"{shown_url(str(location))} is a PostgreSQL store, and the PostgreSQL backend is not "
                              f"installed ({exc.name} is missing): pip install 'mcp-distill[postgres]'") from exc
        return PostgresStore(str(location))  # type: ignore[return-value]
    return SqliteStore(location)


__all__ = [
    "BUSY_TIMEOUT_MS", "SQL_ROW_LIMIT", "WRITE_RETRIES", "Connection", "Params", "ReadOnlyStore", "SqlResult", "SqliteStore",
    "Store", "StoreBackend", "connect", "connect_reader", "datasette_command", "greatest", "in_list", "is_server_url",
    "json_array_has", "json_number", "json_text", "json_value", "least", "list_param", "open_store", "placeholders",
    "prefix_values", "run_sql", "vec_path",
]
