"""PostgreSQL search latency at scale (part 2 of bench/postgres.py): bulk-built stores, timed in a process of its own.

Building: bench/search.py's synthetic documents (its document builder, 50k documents per chunk, each
chunk its own seed so 1M documents never sit in memory at once) go through
:func:`mcp_distill.search.bulk.bulk_load` (COPY, then the GIN and HNSW indexes built once) into a
database named after the size and recipe (``bench_search_<n>_v<version>_s<seed>``), kept on the
server and reused by later runs (``--rebuild`` to redo). Building is not timed under the bench lock.
The load commits every batch, so a build stopped part-way is resumed by the next run: the documents
stored are counted and generation starts at that document (chunks are seeded independently).

Timing: the database's files are first read into the OS page cache (a server in use keeps its
indexes in memory; at 1M documents a cold HNSW walk or GIN scan reads its pages from disk: 121 ms
p50 for a first semantic search against 6 ms for the same search again), when the server's data
folder is readable here (a pgserver; a server given by URL is timed as it is). Then a fresh spawned
process opens the store, as a client would, and runs every query of every filter in every mode,
twice per query, interleaved: once with the query embedding excluded (its vector, embedded
beforehand, put in the process's query-vector LRU right before the call) and once included (the
LRU emptied: the ONNX model embeds it, as for a new query). Which of the two goes first alternates
from query to query, so neither always finds the pages the other just read; the included calls are
counted against the model's calls (an LRU hit would make "included" another "excluded").
Its peak resident memory is the client's memory figure.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import search as search_bench
from _common import log, percentile

from mcp_distill.search.bulk import META_BULK, bulk_load
from mcp_distill.search.embed import Embedder, OnnxMiniLM, l2_normalise
from mcp_distill.search.embed.query_cache import QUERY_VECTORS
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


class CountingEmbedder:
    """The real model, its calls counted: the included timings must each have embedded the query."""

    def __init__(self, real: Embedder):
        self.real, self.model_id, self.dim, self.calls = real, real.model_id, real.dim, 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return self.real.embed(texts)


def query_vector(windows: dict[str, np.ndarray], query: str) -> np.ndarray:
    """The vector Index gives ``query`` (its windows' normalised mean), from prepared window vectors."""
    vectors = np.vstack([windows[w] for w in embed_windows(query)])
    return l2_normalise(vectors.mean(axis=0, keepdims=True))[0] if len(vectors) > 1 else vectors[0]


def warm(url: str) -> str:
    """Read the database's files into the OS page cache (see the module docstring); what was done."""
    with psycopg.connect(url) as conn:
        try:
            folder = Path(conn.execute("SHOW data_directory").fetchone()[0])
        except psycopg.Error:  # not a superuser: the folder is not ours to read
            return "not warmed (data folder not readable)"
        base = folder / conn.execute("SELECT pg_relation_filepath('search_docs')").fetchone()[0]
    if not base.parent.is_dir() or not os.access(base.parent, os.R_OK):
        return "not warmed (data folder not readable)"
    started, size = time.perf_counter(), 0
    for path in base.parent.iterdir():
        with path.open("rb") as f:
            while chunk := f.read(1 << 24):
                size += len(chunk)
    return f"{size / 2**30:.1f} GB of the database's files read into the page cache in {time.perf_counter() - started:.0f} s"


def _measure(url: str, queries: list[str], windows: dict[str, np.ndarray], k: int, out) -> None:
    """In the spawned client process: every filter x query x mode, embedding excluded and included."""
    real = CountingEmbedder(OnnxMiniLM())
    prepared = {q: query_vector(windows, q) for q in queries}
    times: dict[tuple[str, str, str], list[float]] = {}
    hits: dict[tuple[str, str], list[int]] = {}
    shares: dict[str, float] = {}
    expected_calls = 0
    with open_store(url) as store:
        index = Index(store, real, COLLECTION)
        for q in queries[:5]:  # warm-up: ONNX session, connections
            index.search(q, k=k, mode="hybrid")
        for label, kwargs in search_bench.FILTERS:
            for i, q in enumerate(queries):
                for mode in MODES:
                    kinds = ("excluded",) if mode == "keyword" else ("excluded", "included")[::1 if i % 2 else -1]
                    for kind in kinds:
                        if kind == "excluded":
                            QUERY_VECTORS.put(real.model_id, q, prepared[q])
                        else:
                            QUERY_VECTORS.clear()
                            expected_calls += 1
                        calls = real.calls
                        started = time.perf_counter()
                        result = index.search(q, k=k, mode=mode, **kwargs)  # type: ignore[arg-type]
                        times.setdefault((label, mode, kind), []).append((time.perf_counter() - started) * 1000)
                        hits.setdefault((label, mode), []).append(len(result.hits))
                        if (real.calls > calls) != (kind == "included"):
                            raise RuntimeError(f"{kind} search of {q!r} {'did not embed' if kind == 'included' else 'embedded'}")
            shares[label] = search_bench.share(index, kwargs)
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
    url = database_url(server_url, database_name(n, seed))
    warmed = warm(url)
    log(f"{n}: {warmed}")
    proc = ctx.Process(target=_measure, args=(url, queries, query_vectors, k, out))
    proc.start()
    result = out.get(timeout=3600)
    proc.join(60)
    return {**result, "warm": warmed}
