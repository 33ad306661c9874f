"""Hybrid search on PostgreSQL with the keyword leg run beside the vector leg (B) or before it (A), interleaved.

    flock /tmp/bench.lock .venv/bin/python bench/pg_hybrid_ab.py --size 1000000 --queries 40 --rounds 2

On a store bench/postgres.py built (its files read into the page cache first, as there), for each of
bench/search.py's filters and each SciFact query: ``Index.search(mode="hybrid")`` with the query's
vector already in the query-vector LRU (embedding excluded), A with the keyword leg run on the calling
thread before the vector leg (``KeywordLeg.start``), B as this checkout does it (``PgKeywordLeg.start``:
on a worker thread and another pool connection), which goes first alternating query by query,
``--rounds`` times. Prints ms p50 / p95 of each and whether both gave the same hits.
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import pg_scale
import search as search_bench
from _common import load_queries, log, percentile
from postgres import SCIFACT, server

from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.embed.query_cache import QUERY_VECTORS
from mcp_distill.search.index import Index
from mcp_distill.search.legs import KeywordLeg
from mcp_distill.search.query import embed_windows
from mcp_distill.store import open_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql:// URL of the server (default: start pgserver)")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    queries = list(load_queries(SCIFACT).values())[:args.queries]
    real = OnnxMiniLM()
    windows = sorted({w for q in queries for w in embed_windows(q)})
    prepared = dict(zip(windows, real.embed(windows), strict=True))
    vectors = {q: pg_scale.query_vector(prepared, q) for q in queries}
    load_before = os.getloadavg()[0]
    with server(args.db) as server_url:
        url = pg_scale.database_url(server_url, pg_scale.database_name(args.size, args.seed))
        log(pg_scale.warm(url))
        with open_store(url) as store:
            index = Index(store, real, pg_scale.COLLECTION)
            beside = index.keyword.start
            before = functools.partial(KeywordLeg.start, index.keyword)
            for q in queries[:5]:  # warm-up: connections, the worker thread
                index.search(q, k=10, mode="hybrid")
            for label, kwargs in search_bench.FILTERS:
                times: dict[str, list[float]] = {"A": [], "B": []}
                same = True
                for r in range(args.rounds):
                    for i, q in enumerate(queries):
                        QUERY_VECTORS.put(real.model_id, q, vectors[q])
                        hits = {}
                        for arm in ("AB" if (i + r) % 2 else "BA"):
                            index.keyword.start = before if arm == "A" else beside  # type: ignore[method-assign]
                            started = time.perf_counter()
                            result = index.search(q, k=10, mode="hybrid", **kwargs)  # type: ignore[arg-type]
                            times[arm].append((time.perf_counter() - started) * 1000)
                            hits[arm] = [h.id for h in result.hits]
                        same = same and hits["A"] == hits["B"]
                print(f"{label}: hybrid excl. p50/p95 A (keyword before) {percentile(times['A'], 50):.1f} / "
                      f"{percentile(times['A'], 95):.1f} ms, B (beside) {percentile(times['B'], 50):.1f} / "
                      f"{percentile(times['B'], 95):.1f} ms; same hits: {same}", flush=True)
    print(f"{args.size:,} documents, {args.queries} queries x {args.rounds} rounds, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
