"""A bulk load's evidence indexes: dropped while a big collect fills a small store, built after by a sort.

Each evidence row costs an insert into every secondary index of the table (run key, source line,
model + run, stream + run); their keys arrive in random order, so each insert touches a random page,
and with a page cache held small for RSS those pages are read back and written to the WAL again and
again. Building an index over rows already stored is one sort and a sequential write instead. So a
big SQLite collect into a store that holds few rows against what it is about to read
(:data:`BULK_RATIO`) drops those indexes first and builds them again when it ends, as search's bulk
build does for its own tables. The UNIQUE index on ``record_id`` stays: dedup reads it per batch.

Crash-safe: the dropped indexes' definitions (``sqlite_master.sql``) are kept in the store's meta
(:data:`META_KEY`) in the same transaction that drops them, with the collector's host and pid. A
collect that stops on an error builds them before it returns; one that was killed leaves the meta
behind, and the next collect (this host, that pid gone) builds them before it starts. A collect that
finds another live collector's deferral leaves it alone and collects with the indexes as they are.
Moving rows between runs (a file-window run adopted by a run id) updates by run key: the indexes are
built first, the rest of the collect keeps them.
"""

from __future__ import annotations

import contextlib
import os
import socket

import orjson

from mcp_distill.collect import repository as repo
from mcp_distill.faults import pid_alive
from mcp_distill.store import Store

#: The store's meta key holding the deferred indexes: {"owner": "host:pid", "indexes": [[name, sql], ...]}.
META_KEY = "collect_deferred_indexes"
#: Indexes are deferred when the bytes to read exceed this many times the stored rows' (estimated at
#: :data:`ROW_BYTES` each): building over the stored rows again then costs less than the new rows' inserts.
BULK_RATIO = 4
#: A rough size of one collected line, to compare bytes to read with stored rows.
ROW_BYTES = 1_024


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


#: Deferrals of this process still open (a server's collect that failed to build its indexes leaves none).
_OPEN: set[int] = set()


def _owner_gone(owner: str) -> bool:
    """Whether the collector that deferred the indexes has ended (only judged on this host)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not _OPEN if int(pid) == os.getpid() else not pid_alive(int(pid))


def _deferred(store: Store) -> dict | None:
    value = store.get_meta(META_KEY)
    return orjson.loads(value) if value else None


def restore_interrupted(store: Store) -> bool:
    """Build the indexes a killed collect deferred and never built; whether there were any."""
    if store.dialect != "sqlite":
        return False
    deferred = _deferred(store)
    if deferred is None or not _owner_gone(deferred["owner"]):
        return False
    _build(store, deferred)
    return True


class DeferredIndexes:
    """The secondary evidence indexes of one big collect, dropped by :meth:`begin` and built by :meth:`end`."""

    def __init__(self, store: Store):
        self.store = store
        self.active = False

    def begin(self, bytes_to_read: int) -> bool:
        """Drop the secondary evidence indexes when this collect is a bulk load; whether it did."""
        store = self.store
        if store.dialect != "sqlite" or _deferred(store) is not None:
            return False  # PostgreSQL keeps its own; another live collect already deferred them
        if repo.max_evidence_id(store) * ROW_BYTES * BULK_RATIO > bytes_to_read:
            return False
        with repo.transaction(store):
            indexes = repo.secondary_evidence_indexes(store)
            if not indexes:
                return False
            store.set_meta(META_KEY, orjson.dumps({"owner": _owner(), "indexes": indexes}).decode())
            for name, _ in indexes:
                repo.drop_index(store, name)
        self.active = True
        _OPEN.add(id(self))
        return True

    def end(self) -> None:
        """Build the deferred indexes again (a sort each over the stored rows) and forget the deferral."""
        if self.active:
            self.active = False
            _OPEN.discard(id(self))
            deferred = _deferred(self.store)
            if deferred is not None:
                _build(self.store, deferred)

    def abandon(self) -> None:
        """On the way out of a failed collect: build them if the store still lets us (best effort: the
        next collect builds what is left, see :func:`restore_interrupted`)."""
        with contextlib.suppress(Exception):
            self.end()


def _build(store: Store, deferred: dict) -> None:
    with repo.transaction(store):
        for name, sql in deferred["indexes"]:
            repo.create_index(store, name, sql)
        store.set_meta(META_KEY, "")


__all__ = ["BULK_RATIO", "META_KEY", "ROW_BYTES", "DeferredIndexes", "restore_interrupted"]
