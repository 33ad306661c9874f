"""The search package's tables: ``search_docs`` and ``search_tags`` (the documents of every collection),
``embed_cache`` (vectors by text and model), ``playbooks``. The SQL about them lives here; the FTS5
and vec0 legs (``legs.py``) are not moved yet.

Inside ``store.atomic()`` these run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_distill.store import StoreBackend, in_list, json_array_has, json_value, list_param, placeholders

#: Hashes per cache lookup statement (SQLite's default variable limit is far above this).
CACHE_CHUNK = 500


# ----------------------------------------------------------------------------- playbooks


def playbook_keys(store: StoreBackend) -> dict[str, dict[str, Any]]:
    """pattern key -> (playbook id, pattern key, created at) of every stored playbook."""
    return {r["pattern_key"]: r for r in store.query("SELECT playbook_id, pattern_key, created_at FROM playbooks")}


def save_playbooks(store: StoreBackend, built: Sequence[tuple[str, Any]], gone: Sequence[str], now: str) -> None:
    """Store (pattern key, playbook) pairs (a pattern keeps its id and creation time) and drop ``gone`` ids."""
    with store.atomic():
        store.executemany(
            "INSERT INTO playbooks(playbook_id, task_type, pattern_key, data, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pattern_key) DO UPDATE SET data = excluded.data, "
            "updated_at = excluded.updated_at",
            [(pb.playbook_id, pb.task_type, key, pb.model_dump_json(), pb.created_at.isoformat(), now)
             for key, pb in built])
        store.executemany("DELETE FROM playbooks WHERE playbook_id = ?", [(g,) for g in gone])


def playbook_data(store: StoreBackend, playbook_id: str) -> str | None:
    row = store.query_one("SELECT data FROM playbooks WHERE playbook_id = ?", (playbook_id,))
    return row["data"] if row else None


def all_playbook_data(store: StoreBackend) -> list[str]:
    return [r["data"] for r in store.query("SELECT data FROM playbooks ORDER BY playbook_id")]


def playbook_page(store: StoreBackend, task_type: str | None, limit: int, offset: int) -> tuple[list[str], int]:
    """One page of playbooks (optionally of one task type), most accepted runs first, and the total."""
    where, params = (" WHERE task_type = ?", (task_type,)) if task_type else ("", ())
    successes = json_value(store.dialect, "data", "success_count")
    rows = store.query(f"SELECT data FROM playbooks{where} ORDER BY {successes} DESC, "
                       "playbook_id LIMIT ? OFFSET ?", (*params, limit, offset))
    total = store.query_one(f"SELECT count(*) AS n FROM playbooks{where}", params)
    return [r["data"] for r in rows], int(total["n"]) if total else 0


def playbook_data_for_run(store: StoreBackend, run_key: str, limit: int) -> list[str]:
    """Playbooks that name ``run_key`` among their source runs."""
    rows = store.query(f"SELECT data FROM playbooks WHERE {json_array_has(store.dialect, 'data', 'source_run_ids')} "
                       "ORDER BY playbook_id LIMIT ?", (run_key, limit))
    return [r["data"] for r in rows]


def playbook_task_types(store: StoreBackend) -> list[str]:
    return [r["task_type"] for r in store.query("SELECT DISTINCT task_type FROM playbooks ORDER BY task_type")]


def playbook_data_page(store: StoreBackend, after: str, limit: int) -> list[dict[str, Any]] | None:
    """The next ``limit`` (playbook id, data) rows after id ``after``; None for a store without playbooks."""
    if "playbooks" not in store.table_names():
        return None
    return store.query("SELECT playbook_id, data FROM playbooks WHERE playbook_id > ? ORDER BY playbook_id LIMIT ?",
                       (after, limit))


def playbook_count(store: StoreBackend) -> int | None:
    """How many playbooks are stored; None for a store from before playbooks existed."""
    if "playbooks" not in store.table_names():
        return None
    row = store.query_one("SELECT count(*) AS n FROM playbooks")
    return int(row["n"]) if row else 0


__all__ = [
    "CACHE_CHUNK",
    "COMPLETIONS",
    "DOC_COLUMNS",
    "all_playbook_data",
    "cache_vectors",
    "cached_ids",
    "cached_vectors",
    "delete_docs",
    "doc_columns",
    "doc_count",
    "doc_ids",
    "doc_row",
    "doc_rowids",
    "docs_by_rowid",
    "existing_docs",
    "forget_vectors",
    "insert_doc",
    "pending_docs",
    "playbook_count",
    "playbook_data",
    "playbook_data_for_run",
    "playbook_keys",
    "playbook_page",
    "playbook_task_types",
    "save_playbooks",
    "set_tags",
    "set_vector_ids",
    "update_doc",
]



# ----------------------------------------------------------------------------- search_docs, search_tags

#: The columns a document row is written with (``values`` of :func:`insert_doc` / :func:`update_doc`).
DOC_COLUMNS = ("title", "text", "tags", "facets", "task_type", "source", "ts", "ts_epoch", "metadata",
               "content_hash", "row_hash", "vector_id", "updated_at")


def doc_columns(store: StoreBackend) -> set[str]:
    """The columns ``search_docs`` has (a pre-release layout lacks some)."""
    return {r["name"] for r in store.query("PRAGMA table_info(search_docs)")}


def existing_docs(store: StoreBackend, collection: str, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Row id, doc id, hashes and vector id of these documents of a collection (the stored ones)."""
    return store.query(
        "SELECT id, doc_id, row_hash, content_hash, vector_id FROM search_docs "
        f"WHERE collection = ? AND {in_list(store.dialect, 'doc_id')}",
        (collection, list_param(store.dialect, doc_ids)),
    )


def insert_doc(store: StoreBackend, collection: str, doc_id: str, values: Sequence[Any]) -> int:
    """A new document row (``values`` in :data:`DOC_COLUMNS` order); its row id."""
    row = store.query_one(
        f"INSERT INTO search_docs({', '.join(DOC_COLUMNS)}, collection, doc_id) "
        f"VALUES ({placeholders(len(DOC_COLUMNS) + 2)}) RETURNING id",
        (*values, collection, doc_id),
    )
    assert row is not None
    return int(row["id"])


def update_doc(store: StoreBackend, rowid: int, values: Sequence[Any]) -> None:
    store.execute(f"UPDATE search_docs SET {', '.join(c + ' = ?' for c in DOC_COLUMNS)} WHERE id = ?",
                  (*values, rowid))


def set_tags(store: StoreBackend, rowid: int, tags: Sequence[str], replace: bool) -> None:
    """The document's tags are ``tags`` (``replace``: it had tags before)."""
    if replace:
        store.execute("DELETE FROM search_tags WHERE doc = ?", (rowid,))
    store.executemany("INSERT INTO search_tags(tag, doc) VALUES (?, ?) ON CONFLICT DO NOTHING", [(t, rowid) for t in tags])


def doc_rowids(store: StoreBackend, collection: str, doc_ids: Sequence[str]) -> list[int]:
    rows = store.query(f"SELECT id FROM search_docs WHERE collection = ? AND {in_list(store.dialect, 'doc_id')}",
                       (collection, list_param(store.dialect, doc_ids)))
    return [int(r["id"]) for r in rows]


def delete_docs(store: StoreBackend, rowids: Sequence[int]) -> None:
    store.executemany("DELETE FROM search_docs WHERE id = ?", [(r,) for r in rowids])


def doc_row(store: StoreBackend, collection: str, doc_id: str) -> dict[str, Any] | None:
    return store.query_one(
        "SELECT doc_id, title, text, tags, task_type, source, ts, metadata FROM search_docs "
        "WHERE collection = ? AND doc_id = ?", (collection, doc_id))


def docs_by_rowid(store: StoreBackend, rowids: Sequence[int], full: bool = True) -> dict[int, dict[str, Any]]:
    """Rows by row id: with doc id, facets and metadata (``full``), else title, text and tags only."""
    columns = "id, doc_id, title, text, tags, task_type, source, ts, metadata" if full else "id, title, text, tags"
    rows = store.query(f"SELECT {columns} FROM search_docs WHERE {in_list(store.dialect, 'id')}",
                       (list_param(store.dialect, rowids),))
    return {r["id"]: r for r in rows}


def doc_count(store: StoreBackend, collection: str | None, pending_only: bool = False) -> int:
    """Documents of a collection (None: all), or only those without a vector."""
    where = [w for w, on in (("collection = ?", collection is not None), ("vector_id IS NULL", pending_only)) if on]
    sql = "SELECT count(*) AS n FROM search_docs" + (" WHERE " + " AND ".join(where) if where else "")
    row = store.query_one(sql, (collection,) if collection is not None else ())
    return int(row["n"]) if row else 0


def doc_ids(store: StoreBackend, collection: str) -> list[str]:
    rows = store.query("SELECT doc_id FROM search_docs WHERE collection = ? ORDER BY doc_id", (collection,))
    return [r["doc_id"] for r in rows]


def pending_docs(store: StoreBackend, collection: str | None, after_id: int, limit: int) -> list[dict[str, Any]]:
    """The next ``limit`` documents without a vector (row id above ``after_id``), by row id."""
    where = "vector_id IS NULL" + (" AND collection = ?" if collection else "")
    params: tuple[Any, ...] = (collection,) if collection else ()
    return store.query(
        f"SELECT id, collection, title, text, content_hash, task_type, source, ts_epoch FROM search_docs "
        f"WHERE {where} AND id > ? ORDER BY id LIMIT ?", (*params, after_id, limit))


def set_vector_ids(store: StoreBackend, pairs: Sequence[tuple[int, int]]) -> None:
    """(embed_cache id, row id) pairs: each document's vector."""
    store.executemany("UPDATE search_docs SET vector_id = ? WHERE id = ?", pairs)


def forget_vectors(store: StoreBackend, meta_keys: Sequence[str]) -> None:
    """No document has a vector any more, and the store records no vector space (``meta_keys``)."""
    store.execute("UPDATE search_docs SET vector_id = NULL WHERE vector_id IS NOT NULL")
    store.execute(f"DELETE FROM meta WHERE key IN ({placeholders(len(meta_keys))})", meta_keys)


# ----------------------------------------------------------------------------- embed_cache


def _cache_rows(store: StoreBackend, column: str, model_id: str, hashes: Sequence[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), CACHE_CHUNK):
        chunk = unique[start:start + CACHE_CHUNK]
        for row in store.query(
            f"SELECT content_hash, {column} FROM embed_cache WHERE model_id = ? "
            f"AND content_hash IN ({placeholders(len(chunk))})", (model_id, *chunk),
        ):
            found[row["content_hash"]] = row[column]
    return found


def cached_vectors(store: StoreBackend, model_id: str, hashes: Sequence[str]) -> dict[str, bytes]:
    """The cached float32 vector bytes of these content hashes for this model."""
    return _cache_rows(store, "vector", model_id, hashes)  # type: ignore[return-value]


def cached_ids(store: StoreBackend, model_id: str, hashes: Sequence[str]) -> dict[str, int]:
    """``embed_cache`` row ids of these content hashes for this model (the ones cached)."""
    return {h: int(i) for h, i in _cache_rows(store, "id", model_id, hashes).items()}  # type: ignore[call-overload]


def cache_vectors(store: StoreBackend, rows: list[tuple[str, str, bytes]]) -> None:
    """Store (content hash, model id, vector bytes) rows.

    OR IGNORE, not REPLACE: a row's id is referenced (search_docs.vector_id), and a concurrent
    writer's vector for the same text and model is the same vector."""
    store.executemany("INSERT INTO embed_cache(content_hash, model_id, vector) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                      rows)


#: Completion sources (``lookup.complete``); the apply_playbook prompt's task completes from what
#: earlier tasks were called (playbook titles).
COMPLETIONS = {"playbook": (("playbooks", "playbook_id"),),
               "playbook_title": (("playbooks", "$.title"),),
               "task_type": (("playbooks", "task_type"),)}
