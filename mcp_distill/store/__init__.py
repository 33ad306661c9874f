"""The store: the narrow interface every package's repository uses, and its SQLite backend.

``open_store(path)`` opens (and migrates) one SQLite file. See :mod:`mcp_distill.store.interface`
for what a backend offers and docs/architecture.md for how a second backend plugs in.
"""

from __future__ import annotations

from pathlib import Path

from mcp_distill.store.interface import Params, StoreBackend, placeholders
from mcp_distill.store.sqlite import BUSY_TIMEOUT_MS, WRITE_RETRIES, Connection, SqliteStore, connect, connect_reader

#: The store type the packages are written against today (the SQLite backend).
Store = SqliteStore


def open_store(path: str | Path) -> Store:
    """Open the SQLite store at ``path`` (created when missing), applying missing migrations."""
    return SqliteStore(path)


__all__ = [
    "BUSY_TIMEOUT_MS", "WRITE_RETRIES", "Connection", "Params", "SqliteStore", "Store", "StoreBackend",
    "connect", "connect_reader", "open_store", "placeholders",
]
