"""What the interleaved PostgreSQL A/B benchmarks share (bench/pg_hybrid_ab.py, bench/pg_vector_ab.py): their
arguments, the store opened and warmed, the query vectors, two arms timed query by query in alternating order."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pg_scale
from _common import load_queries, log, percentile
from postgres import SCIFACT, server

from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.embed.query_cache import QUERY_VECTORS
from mcp_distill.search.index import Index
from mcp_distill.search.query import embed_windows
from mcp_distill.store import open_store


def parser(doc: str) -> argparse.ArgumentParser:
    """--db, --size, --seed, --queries, --rounds (the caller adds its own)."""
    out = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    out.add_argument("--db", help="postgresql:// URL of the server (default: start pgserver)")
    out.add_argument("--size", type=int, default=1_000_000)
    out.add_argument("--seed", type=int, default=7)
    out.add_argument("--queries", type=int, default=40)
    out.add_argument("--rounds", type=int, default=2)
    return out


@contextmanager
def warmed_index(args: argparse.Namespace, real: OnnxMiniLM, queries: list[str]) -> Iterator[Index]:
    """The ``--size`` store's Index, its files read into the page cache and 5 hybrid searches run (connections,
    the keyword leg's worker thread)."""
    with server(args.db) as server_url:
        url = pg_scale.database_url(server_url, pg_scale.database_name(args.size, args.seed))
        log(pg_scale.warm(url))
        with open_store(url) as store:
            index = Index(store, real, pg_scale.COLLECTION)
            for q in queries[:5]:
                index.search(q, k=10, mode="hybrid")
            yield index


def scifact_queries(n: int) -> list[str]:
    return list(load_queries(SCIFACT).values())[:n]


def query_vectors(n: int, queries: list[str]) -> tuple[OnnxMiniLM, list[str], dict[str, np.ndarray]]:
    """The real embedder, the first ``n`` of ``queries`` and the vector Index gives each (embedded beforehand)."""
    real = OnnxMiniLM()
    queries = queries[:n]
    windows = sorted({w for q in queries for w in embed_windows(q)})
    prepared = dict(zip(windows, real.embed(windows), strict=True))
    return real, queries, {q: pg_scale.query_vector(prepared, q) for q in queries}


def arms_line(times: dict[str, list[float]], names: dict[str, str]) -> str:
    """``A (name) p50 / p95 ms, B (name) p50 / p95 ms`` of an interleaved A/B."""
    return ", ".join(f"{arm} ({names[arm]}) {percentile(t, 50):.1f} / {percentile(t, 95):.1f} ms"
                     for arm, t in times.items())


def interleaved(index: Index, queries: list[str], vectors: dict[str, np.ndarray], arms: dict[str, Callable[[], None]],
                rounds: int, mode: str, kwargs: dict) -> tuple[dict[str, list[float]], list[dict[str, list[str]]]]:
    """ms of ``index.search`` (the query's vector in the LRU: embedding excluded) under each of two ``arms``
    (each a callable that sets its arm up), which goes first alternating query by query and round by round;
    and each query's hit ids per arm."""
    first, second = arms
    times: dict[str, list[float]] = {first: [], second: []}
    hits: list[dict[str, list[str]]] = []
    for r in range(rounds):
        for i, q in enumerate(queries):
            QUERY_VECTORS.put(index.embedder.model_id, q, vectors[q])  # type: ignore[union-attr]
            found = {}
            for arm in ((first, second) if (i + r) % 2 else (second, first)):
                arms[arm]()
                started = time.perf_counter()
                result = index.search(q, k=10, mode=mode, **kwargs)
                times[arm].append((time.perf_counter() - started) * 1000)
                found[arm] = [h.id for h in result.hits]
            hits.append(found)
    return times, hits
