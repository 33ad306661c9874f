"""Store-wide operations of the search index: the embedder guard, filling and rebuilding vectors.

One vector space per store: the embedder's model id and dimension are recorded in ``meta`` with
the first vectors, and any other embedder is refused until :func:`reindex` rebuilds them all.
Re-exported by :mod:`mcp_distill.search.index`.
"""

from __future__ import annotations

from mcp_distill.errors import EmbedderError, StoreError
from mcp_distill.progress import Progress
from mcp_distill.search import repository as docs_db
from mcp_distill.search.backends import vector_leg
from mcp_distill.search.embed import CachingEmbedder, Embedder
from mcp_distill.search.types import embed_text
from mcp_distill.store import Store

META_MODEL = "search.embed_model"
META_DIM = "search.embed_dim"
#: Documents per write transaction during upsert / reindex (embedding happens outside it).
WRITE_BATCH = 256


def check_embedder(store: Store, embedder: Embedder) -> None:
    """Refuse an embedder other than the one whose vectors the store holds."""
    model = store.get_meta(META_MODEL)
    if model is not None and model != embedder.model_id:
        dim = store.get_meta(META_DIM)
        raise EmbedderError(
            f"the store's vectors were made by {model} ({dim}-d) but the configured embedder is "
            f"{embedder.model_id}; run `mcp-distill reindex` to rebuild the vectors with it, or set "
            "MCP_DISTILL_EMBEDDER / MCP_DISTILL_EMBED_MODEL back to the previous model"
        )


_SCHEMA_OK: set[str] = set()


def check_schema(store: Store) -> None:
    """Refuse a store whose migration 002 came from a pre-release snapshot of this module
    (commit 8c0a2f4 recorded m002 with an older layout; migrations are never re-run)."""
    key = str(store.path)
    if key in _SCHEMA_OK:
        return
    if store.dialect != "sqlite":  # that snapshot only ever existed as a SQLite file
        return
    columns = docs_db.doc_columns(store)
    if "vector_id" not in columns:
        raise StoreError(
            f"{store.path} holds a development version of the search index tables (migration 002 from "
            "before its release); move the file away and run `mcp-distill collect` again to rebuild it"
        )
    _SCHEMA_OK.add(key)


def check_dim(store: Store, embedder: Embedder, got: int) -> None:
    """Refuse vectors whose dimension differs from the store's (same model id, other size)."""
    dim = store.get_meta(META_DIM)
    if dim is not None and int(dim) != got:
        raise EmbedderError(
            f"{embedder.model_id} returned {got}-d vectors but the store holds {dim}-d ones; run "
            "`mcp-distill reindex` to rebuild the vectors"
        )


def embed_pending(store: Store, embedder: Embedder, collection: str | None = None,
                  progress: Progress | None = None) -> int:
    """Give a vector to every document without one (one collection, or all). Returns how many.

    Raises EmbedderError if the embedder fails (nothing is lost: rerun when it is back).
    """
    check_schema(store)
    check_embedder(store, embedder)
    cached = CachingEmbedder(store, embedder)
    vectors = vector_leg(store, embedder.model_id)
    total = docs_db.doc_count(store, collection or None, pending_only=True)
    done = 0
    last = 0
    while True:
        rows = docs_db.pending_docs(store, collection, last, WRITE_BATCH)
        if not rows:
            break
        last = int(rows[-1]["id"])
        array = cached.embed([embed_text(r["title"], r["text"]) for r in rows])
        check_dim(store, embedder, int(array.shape[1]))
        with store.atomic():
            if store.get_meta(META_MODEL) is None:
                store.set_meta(META_MODEL, embedder.model_id)
                store.set_meta(META_DIM, str(array.shape[1]))
            vectors.create(int(array.shape[1]))
            for r, v in zip(rows, array, strict=True):
                vectors.put(r["id"], r["collection"], v, r["task_type"], r["source"], r["ts_epoch"])
            ids = cached.ids([r["content_hash"] for r in rows])
            docs_db.set_vector_ids(store, [(ids[r["content_hash"]], r["id"]) for r in rows])
        done += len(rows)
        if progress:
            progress(done, total, "vectors")
    return done


def reindex(store: Store, embedder: Embedder, progress: Progress | None = None) -> int:
    """Drop every vector of the store and rebuild all of them with ``embedder``.

    The way to change embedder (model or dimension): vectors of two models are never mixed.
    Cached embeddings of the new model are reused, so a rerun after an interruption is quick.
    Returns the number of documents embedded.
    """
    check_schema(store)
    with store.atomic():
        vector_leg(store, None).drop()
        docs_db.forget_vectors(store, (META_MODEL, META_DIM))
    return embed_pending(store, embedder, None, progress)
