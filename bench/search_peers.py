"""The peer of bench/search.py: LanceDB fed the very same documents and vectors, with its own indexes.

LanceDB is the embedded store a user would pick instead (Arrow files on disk, an ANN index, a native
full-text index, hybrid search fused by reciprocal rank). It is a bench-only dependency
(``pip install -e '.[bench]'``); mcp-distill does not depend on it.

The table holds the benchmark's synthetic documents (``content`` = title, text and tags, as the
FTS5 index reads them) with the same float vectors mcp-distill stores, an IVF_HNSW_SQ vector
index (cosine), a native FTS index on ``content`` and scalar indexes on the filter columns.
Queries get the same query vectors (embedded once, outside the timing, for both engines).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mcp_distill.search.index import Doc

#: Hybrid search of LanceDB's own: RRF over its vector leg (ANN index) and its FTS leg.
LANCE_INDEX = "IVF_HNSW_SQ"


def available() -> str | None:
    """None when lancedb imports, else why not (the benchmark then reports without it)."""
    try:
        import lancedb  # noqa: F401
    except ImportError as exc:
        return f"lancedb is not installed ({exc}); pip install -e '.[bench]'"
    return None


def lance_version() -> str:
    import lancedb

    return str(getattr(lancedb, "__version__", "?"))


def open_table(folder: Path, make: Callable[[], tuple[list[Doc], dict[str, np.ndarray]]], rebuild: bool,
               log: Any) -> tuple[Any, float | None]:
    """The LanceDB table at ``folder`` (built once, with its indexes, from the documents and vectors
    ``make`` returns: called only to build), and its build seconds."""
    import lancedb
    import pyarrow as pa

    marker = folder.with_suffix(".ok")
    if rebuild or not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        marker.unlink(missing_ok=True)
    db = lancedb.connect(str(folder))
    if marker.exists():
        return db.open_table("docs"), float(json.loads(marker.read_text())["seconds"])
    started = time.perf_counter()
    docs, vectors = make()
    dim = len(next(iter(vectors.values())))
    schema = pa.schema([("id", pa.string()), ("content", pa.string()), ("task_type", pa.string()),
                        ("source", pa.string()), ("tags", pa.list_(pa.string())),
                        ("vector", pa.list_(pa.float32(), dim))])
    table = db.create_table("docs", schema=schema)
    step = 20_000
    for start in range(0, len(docs), step):
        part = docs[start:start + step]
        matrix = np.vstack([vectors[d.embed_text()] for d in part]).astype(np.float32)
        table.add(pa.table({
            "id": [d.id for d in part],
            "content": [f"{d.title}\n{d.text}\n{' '.join(d.tags)}" for d in part],
            "task_type": [d.task_type or "" for d in part],
            "source": [d.source or "" for d in part],
            "tags": [list(d.tags) for d in part],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dim),
        }, schema=schema))
        log(f"lancedb: added {start + len(part)}/{len(docs)}")
    table.create_index(metric="cosine", vector_column_name="vector", index_type=LANCE_INDEX)
    table.create_fts_index("content")
    table.create_scalar_index("task_type", index_type="BITMAP")
    table.create_scalar_index("tags", index_type="LABEL_LIST")
    took = time.perf_counter() - started
    marker.write_text(json.dumps({"seconds": took}))
    log(f"lancedb: built with {LANCE_INDEX} + FTS in {took:.0f} s")
    return table, took


def where_of(kwargs: dict[str, object]) -> str | None:
    """The SQL filter of a bench filter (task_type and tags only: those the side-by-side runs)."""
    parts = []
    if kwargs.get("task_type"):
        parts.append(f"task_type = '{kwargs['task_type']}'")
    for tag in kwargs.get("tags", ()) or ():  # type: ignore[attr-defined]
        parts.append(f"array_has(tags, '{tag}')")
    return " AND ".join(parts) or None


def hybrid(table: Any, text: str, qvec: np.ndarray, k: int, where: str | None = None) -> list[str]:
    """LanceDB's hybrid search (its default RRF reranker), ids best first."""
    builder = table.search(query_type="hybrid").vector(qvec).text(text).limit(k).select(["id"])
    if where:
        builder = builder.where(where, prefilter=True)
    return [row["id"] for row in builder.to_list()]


def vector_only(table: Any, qvec: np.ndarray, k: int) -> list[str]:
    """LanceDB's ANN search alone (for its overlap with exact search)."""
    return [row["id"] for row in table.search(qvec, query_type="vector").limit(k).select(["id"]).to_list()]


# ----------------------------------------------------------------------------- side by side

#: Filters of the side-by-side run (a subset of bench/search.py's FILTERS both engines index).
ENGINES = ("ours, embedding excluded", "ours, embedding included", "lancedb hybrid")


def time_one(engine: str, index: Any, table: Any, text: str, qvec: np.ndarray, k: int,
             kwargs: dict[str, object], where: str | None) -> float:
    """Milliseconds of one search of one engine."""
    from mcp_distill.search.embed.query_cache import QUERY_VECTORS

    if engine == "ours, embedding excluded":
        QUERY_VECTORS.put(index.embedder.model_id, text, qvec)  # the same vector LanceDB gets, embedded beforehand
    elif engine == "ours, embedding included":
        QUERY_VECTORS.clear()
    started = time.perf_counter()
    if engine == "lancedb hybrid":
        hybrid(table, text, qvec, k, where)
    else:
        index.search(text, k=k, mode="hybrid", **kwargs)
    return (time.perf_counter() - started) * 1000


def time_round(index: Any, table: Any, queries: list[str], qvecs: np.ndarray, k: int, kwargs: dict[str, object],
               shift: int) -> dict[str, list[float]]:
    """Milliseconds of each query of one round for every engine, interleaved query by query: each query
    runs on every engine in turn, the order rotated from query to query (and by ``shift`` from round
    to round), so a burst of load from elsewhere falls on all engines alike and none always goes first."""
    where = where_of(kwargs)
    out: dict[str, list[float]] = {e: [] for e in ENGINES}
    for i, (text, qvec) in enumerate(zip(queries, qvecs, strict=True)):
        turn = (i + shift) % len(ENGINES)
        for engine in ENGINES[turn:] + ENGINES[:turn]:
            out[engine].append(time_one(engine, index, table, text, qvec, k, kwargs, where))
    return out


def side_by_side(index: Any, table: Any, queries: list[str], qvecs: np.ndarray, k: int, rounds: int,
                 filters: list[tuple[str, dict[str, object]]], percentile: Any, log: Any
                 ) -> dict[tuple[str, str], tuple[float, float]]:
    """(filter label, engine) -> (median over rounds of p50, of p95). Engines interleaved query by query
    (:func:`time_round`) in every round."""
    per_round: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _label, kwargs in filters:  # warm-up (sessions, caches, the page cache)
        time_round(index, table, queries[:10], qvecs[:10], k, kwargs, 0)
    for r in range(rounds):
        for label, kwargs in filters:
            for engine, times in time_round(index, table, queries, qvecs, k, kwargs, r).items():
                per_round.setdefault((label, engine), []).append((percentile(times, 50), percentile(times, 95)))
        log(f"side by side: round {r + 1}/{rounds} done")
    return {key: (float(np.median([p for p, _ in v])), float(np.median([q for _, q in v])))
            for key, v in per_round.items()}


def lance_overlap(table: Any, qvecs: np.ndarray, exact_ids: list[list[str]], k: int = 10) -> float:
    """Mean overlap@k of LanceDB's ANN search with the exact top k."""
    return float(np.mean([len(set(vector_only(table, q, k)) & set(e[:k])) / k
                          for q, e in zip(qvecs, exact_ids, strict=True)]))
