"""A/B in one process, query by query: hybrid search with the vector leg on a worker thread alongside the
keyword leg (``mcp_distill.search.index.EMBED_THREADS`` = 2, the default) against one leg after the
other (0), the query vector given (the LRU filled first), issue #19. Each query runs both ways in turn,
the order alternating, so load from elsewhere falls on both alike; the hits and scores must agree.

    flock /tmp/bench.lock .venv/bin/python bench/search_threads.py bench/.cache/search_100000_v4_s7.db
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _common import load_queries, machine, percentile
from search import FILTERS

from mcp_distill.search import index as search_index
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.store import open_store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--filters", default="0,1,4", help="indices into bench/search.py's FILTERS")
    args = parser.parse_args()
    dataset = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "scifact"
    queries = list(load_queries(dataset).values())[: args.queries]
    index = search_index.Index(open_store(args.store), OnnxMiniLM(), "playbooks")
    for q in queries:  # embeds and caches every query vector; loads the in-memory codes
        index.search(q, k=10, mode="semantic")
    default = search_index.EMBED_THREADS

    def timed(query: str, kwargs: dict[str, object], threads: int) -> tuple[float, list[tuple[str, float]]]:
        search_index.EMBED_THREADS = threads
        started = time.perf_counter()
        got = index.search(query, k=10, mode="hybrid", **kwargs)  # type: ignore[arg-type]
        took = (time.perf_counter() - started) * 1000
        return took, [(h.id, round(h.score, 9)) for h in got.hits]

    load_before = os.getloadavg()[0]
    rows = []
    for label, kwargs in [FILTERS[int(i)] for i in args.filters.split(",")]:
        for q in queries[:10]:
            timed(q, kwargs, default), timed(q, kwargs, 0)
        times: dict[int, list[float]] = {default: [], 0: []}
        same = True
        for r in range(args.rounds):
            for i, q in enumerate(queries):
                got = {}
                for threads in (default, 0) if (i + r) % 2 else (0, default):
                    took, got[threads] = timed(q, kwargs, threads)
                    times[threads].append(took)
                same &= got[0] == got[default]
        a, b = times[0], times[default]
        rows.append(f"| {label} | {percentile(a, 50):.1f} / {percentile(a, 95):.1f} | {percentile(b, 50):.1f} / "
                    f"{percentile(b, 95):.1f} | {percentile(b, 50) / percentile(a, 50):.2f} | "
                    f"{percentile(b, 95) / percentile(a, 95):.2f} | {same} |")
    search_index.EMBED_THREADS = default
    print(f"Hybrid search, query vector given, {args.store.name}, {len(queries)} queries x {args.rounds} rounds "
          f"each way; {machine()}; 1-minute load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.\n")
    print("| filter | legs in turn p50 / p95 ms | vector leg threaded | ratio p50 | ratio p95 | same hits |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("reproduce: flock /tmp/bench.lock .venv/bin/python bench/search_threads.py "
          f"{args.store} --queries {args.queries} --rounds {args.rounds} --filters {args.filters}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
