"""PostgreSQL search latency at scale (part 2 of bench/postgres.py): bulk-built stores, timed in a process of its own.

Building: bench/search.py's synthetic documents (its document builder, 50k documents per chunk, each
chunk its own seed so 1M documents never sit in memory at once) go through
:func:`mcp_distill.search.bulk.bulk_load` (COPY, then the GIN and HNSW indexes built once) into a
database named after the size and recipe (``bench_search_<n>_v<version>_s<seed>``), kept on the
server and reused by later runs (``--rebuild`` to redo). Building is not timed under the bench lock.
The load commits every batch, so a build stopped part-way is resumed by the next run: the documents
stored are counted and generation starts at that document (chunks are seeded independently).

Timing: a fresh spawned process opens the store, as a client would, and runs every query of every
filter in every mode, twice per query, interleaved: once with the query embedding excluded (the query's
vectors embedded beforehand, looked up) and once included (the ONNX model embeds it, as in production).
Its peak resident memory is the client's memory figure.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import search as search_bench
from _common import log, percentile

from mcp_distill.search.bulk import META_BULK, bulk_load
from mcp_distill.search.embed import Embedder, OnnxMiniLM
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.query import embed_windows
from mcp_distill.store import open_store

CHUNK = 50_000
COLLECTION = "playbooks"
MODES = ("keyword", "semantic", "hybrid")


class ChunkVectors:
    """The prepared vectors of the documents being loaded (one chunk at a time); any other text is
    refused, so a document can never be embedded by the model unnoticed (hours at 1M)."""

    def __init__(self, real: Embedder):
        self.model_id = real.model_id
        self.dim = real.dim
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def database_name(n: int, seed: int) -> str:
    return f"bench_search_{n}_v{search_bench.BUILD_VERSION}_s{seed}"


def database_url(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def _built(server_url: str, name: str) -> float | None:
    """Seconds the stored build took, or None when the database is missing or incomplete."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return None
    with psycopg.connect(database_url(server_url, name)) as conn:
        if not conn.execute("SELECT to_regclass('bench_build') IS NOT NULL").fetchone()[0]:
            return None
        row = conn.execute("SELECT seconds FROM bench_build").fetchone()
        return float(row[0]) if row else None


def _documents(n: int, corpus: dict, pool: np.ndarray, seed: int, vectors: ChunkVectors, skip: int = 0
               ) -> Iterator[Doc]:
    """Documents ``skip`` .. ``n`` - 1 (the same ones whatever ``skip``: each chunk has its own seed)."""
    for start in range(skip - skip % CHUNK, n, CHUNK):
        docs, chunk_vectors = search_bench.synthetic(min(CHUNK, n - start), corpus, pool, seed * 1000 + start // CHUNK)
        vectors.vectors = chunk_vectors  # the previous chunk is written by now (bulk_load batches divide CHUNK)
        for i, doc in enumerate(docs):
            if start + i >= skip:
                yield doc.model_copy(update={"id": f"pb-{start + i:07d}"})


def _stored(url: str) -> int:
    """Documents an earlier, stopped build committed (0 for a database without the index tables)."""
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass('search_docs') IS NOT NULL").fetchone()[0]:
            return 0
        return int(conn.execute("SELECT count(*) FROM search_docs WHERE collection = %s", (COLLECTION,)).fetchone()[0])


def build(server_url: str, n: int, corpus: dict, pool: np.ndarray, seed: int, rebuild: bool, workers: int) -> float:
    """The store of ``n`` documents (built now unless a complete one exists); the build's seconds."""
    name = database_name(n, seed)
    took = None if rebuild else _built(server_url, name)
    if took is not None:
        log(f"{n}: reusing database {name} (built in {took:.0f} s)")
        return took
    url = database_url(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if rebuild or not exists:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    skip = 0 if rebuild or not exists else _stored(url)
    if skip:
        log(f"{n}: resuming a stopped build at document {skip}")
    started = time.perf_counter()
    vectors = ChunkVectors(OnnxMiniLM())
    with open_store(url) as store:
        index = Index(store, vectors, COLLECTION)
        if skip < n or store.get_meta(META_BULK) is not None:  # else only the marker below was missing
            bulk_load(index, _documents(n, corpus, pool, seed, vectors, skip), workers=workers, resume=True,
                      progress=lambda done, total, _stage: log(f"{n}: loaded {skip + done}") if done % CHUNK == 0 else None)
    took = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:  # the benchmark's own marker: the build completed
        conn.execute("CREATE TABLE IF NOT EXISTS bench_build (seconds DOUBLE PRECISION)")
        conn.execute("INSERT INTO bench_build VALUES (%s)", (took,))
        conn.execute("VACUUM ANALYZE")
    log(f"{n}: built in {took:.0f} s" + (f" (resumed at document {skip})" if skip else ""))
    return took


def _measure(url: str, queries: list[str], query_vectors: dict[str, np.ndarray], k: int, out) -> None:
    """In the spawned client process: every filter x query x mode, embedding excluded and included."""
    real = OnnxMiniLM()
    prepared = search_bench.SyntheticVectors(real, query_vectors)
    times: dict[tuple[str, str, str], list[float]] = {}
    hits: dict[tuple[str, str], list[int]] = {}
    shares: dict[str, float] = {}
    with open_store(url) as store:
        excluded, included = Index(store, prepared, COLLECTION), Index(store, real, COLLECTION)
        for q in queries[:5]:  # warm-up: ONNX session, connections, page cache
            included.search(q, k=k, mode="hybrid")
        for label, kwargs in search_bench.FILTERS:
            for q in queries:
                for mode in MODES:
                    for kind, index in (("excluded", excluded), ("included", included)):
                        if mode == "keyword" and kind == "included":
                            continue  # no embedding in the keyword mode
                        started = time.perf_counter()
                        result = index.search(q, k=k, mode=mode, **kwargs)  # type: ignore[arg-type]
                        times.setdefault((label, mode, kind), []).append((time.perf_counter() - started) * 1000)
                        hits.setdefault((label, mode), []).append(len(result.hits))
            shares[label] = search_bench.share(excluded, kwargs)
            log(f"{label}: " + ", ".join(f"{m} {percentile(times[(label, m, 'excluded')], 95):.1f}" for m in MODES))
    out.put({"times": {"|".join(key): [percentile(v, 50), percentile(v, 95)] for key, v in times.items()},
             "hits": {"|".join(key): float(np.mean(v)) for key, v in hits.items()}, "shares": shares,
             "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(server_url: str, n: int, seed: int, queries: list[str], k: int) -> dict:
    """Time the ``n``-document store from a fresh client process (see the module docstring)."""
    real = OnnxMiniLM()
    windows = sorted({w for q in queries for w in embed_windows(q)})
    query_vectors = dict(zip(windows, real.embed(windows), strict=True))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(database_url(server_url, database_name(n, seed)), queries,
                                              query_vectors, k, out))
    proc.start()
    result = out.get(timeout=3600)
    proc.join(60)
    return result
