"""Is the side-by-side run fair to mcp-distill? Its hybrid search (query vector given) timed in one process
under the conditions bench/search.py's LanceDB side by side creates, in interleaved rounds (issue #19):

- before LanceDB is imported (no tokio / Lance thread pools in the process),
- with the LanceDB table open and idle 2 s before the round,
- right after a round of LanceDB hybrid searches (its threads just busy),
- right after a round of ours with the embedding included (onnxruntime's threads just busy),

plus LanceDB's own round, and the garbage collections during ours (count, ms). Needs the stores
bench/search.py --sizes 100000 --peers lancedb built (read only here).

    flock /tmp/bench.lock .venv/bin/python bench/search_fair.py --queries 100 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import search_peers
from _common import CACHE_DIR, load_queries, machine, percentile

from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.embed.query_cache import QUERY_VECTORS
from mcp_distill.search.index import Index
from mcp_distill.store import open_store

COLLECTIONS: list[float] = []  # ms of each garbage collection since the last clear


def _gc_timer(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_timer.started = time.perf_counter()  # type: ignore[attr-defined]
    else:
        COLLECTIONS.append((time.perf_counter() - _gc_timer.started) * 1000)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=100, help="the test half of the first N is timed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    dataset = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "scifact"
    queries = list(load_queries(dataset).values())[: args.queries][args.queries // 2:]
    real = OnnxMiniLM()
    qvecs = real.embed(queries)
    index = Index(open_store(CACHE_DIR / f"search_{args.size}_v4_s7.db"), real, "playbooks")
    gc.callbacks.append(_gc_timer)
    load_before = os.getloadavg()[0]

    def ours(included: bool = False) -> list[float]:
        out = []
        for text, qvec in zip(queries, qvecs, strict=True):
            QUERY_VECTORS.clear() if included else QUERY_VECTORS.put(real.model_id, text, qvec)
            started = time.perf_counter()
            index.search(text, k=10, mode="hybrid")
            out.append((time.perf_counter() - started) * 1000)
        return out

    got: dict[str, list[tuple[float, float]]] = {}
    collections: dict[str, list[float]] = {}

    def record(name: str, times: list[float]) -> None:
        got.setdefault(name, []).append((percentile(times, 50), percentile(times, 95)))
        collections.setdefault(name, []).extend(COLLECTIONS)
        COLLECTIONS.clear()

    ours(), ours()  # warm-up: the in-memory codes, the page cache
    for _ in range(args.rounds):
        COLLECTIONS.clear()
        record("ours, LanceDB not imported", ours())
    import lancedb

    table = lancedb.connect(str(CACHE_DIR / f"lancedb_{args.size}_v4_s7")).open_table("docs")

    def lance() -> list[float]:
        out = []
        for text, qvec in zip(queries, qvecs, strict=True):
            started = time.perf_counter()
            search_peers.hybrid(table, text, qvec, 10)
            out.append((time.perf_counter() - started) * 1000)
        return out

    lance(), lance()
    for _ in range(args.rounds):
        time.sleep(2)
        COLLECTIONS.clear()
        record("ours, LanceDB open, 2 s idle before", ours())
        record("LanceDB hybrid", lance())
        record("ours, right after a LanceDB round", ours())
        ours(included=True)
        COLLECTIONS.clear()
        record("ours, right after an embedding-included round", ours())
    print(f"{args.size:,} documents, {len(queries)} queries x {args.rounds} rounds, hybrid k=10, query vector "
          f"given; {machine()}; 1-minute load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| condition | p50 / p95 ms (median of rounds) | rounds | GCs (ms) |\n|---|---|---|---|")
    for name, rows in got.items():
        each = " ".join(f"{a:.1f}/{b:.1f}" for a, b in rows)
        print(f"| {name} | {np.median([a for a, _ in rows]):.1f} / {np.median([b for _, b in rows]):.1f} | "
              f"{each} | {len(collections[name])} ({sum(collections[name]):.1f}) |")
    print("reproduce: flock /tmp/bench.lock .venv/bin/python bench/search_fair.py "
          f"--queries {args.queries} --rounds {args.rounds} --size {args.size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
