"""Where the slow 5% of hybrid searches go (issue #19): per-search phase timing, embedding excluded.

Each phase of :meth:`mcp_distill.search.index.Index.search` is timed by wrapping its method (plan, the keyword
leg's BM25, the vector leg on its worker thread, the wait for it, fetching hits, the strengths' reads), with
Python's garbage collections counted; then the phases of the middle half are set against those of the slowest
5%, over all searches and over each query's fastest round (a query slow in every round is slow by itself; one
slow in one round only met load from elsewhere).

    flock /tmp/bench.lock .venv/bin/python bench/search_tail.py bench/.cache/search_100000_v4_s7.db
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import load_queries, machine, percentile
from search import FILTERS

from mcp_distill.search import index as search_index
from mcp_distill.search import legs as search_legs
from mcp_distill.search import vector as search_vector
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.store import open_store

PHASES: dict[str, float] = {}
Row = tuple[float, dict[str, float], int, str]


def timed(owner: Any, name: str, label: str) -> None:
    """Wrap ``owner.name`` so each call adds its milliseconds to PHASES[label]."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            PHASES[label] = PHASES.get(label, 0.0) + (time.perf_counter() - started) * 1000

    setattr(owner, name, wrapper)


def instrument() -> list[float]:
    """Wrap the phases; returns the list the GC callback appends each collection's milliseconds to."""
    for owner, name, label in ((search_legs.KeywordLeg, "plan_terms", "plan"), (search_legs.KeywordLeg, "run", "bm25"),
                               (search_legs.KeywordLeg, "hit_terms", "strengths: terms"),
                               (search_vector.VectorLeg, "vectors_for", "strengths: vectors"),
                               (search_index.Index, "_hits", "hits"), (search_index.Index, "pending", "pending count"),
                               (search_index.Index, "_nearest", "vector leg (its thread)"),
                               (concurrent.futures.Future, "result", "wait for the vector leg")):
        timed(owner, name, label)
    pauses: list[float] = []
    started: list[float] = []

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((time.perf_counter() - started.pop()) * 1000)

    gc.callbacks.append(on_gc)
    return pauses


def table(title: str, rows: list[Row]) -> list[str]:
    rows = sorted(rows, key=lambda r: r[0])
    n = len(rows)
    middle, tail = rows[n // 4: 3 * n // 4], rows[int(n * 0.95):]
    totals = [r[0] for r in rows]
    lines = [f"{title}: p50 {percentile(totals, 50):.2f} / p95 {percentile(totals, 95):.2f} ms ({n} searches)", "",
             "| phase (ms, mean) | middle half | slowest 5% |", "|---|---|---|",
             f"| whole search | {statistics.mean(r[0] for r in middle):.2f} | {statistics.mean(r[0] for r in tail):.2f} |"]
    for key in sorted({k for r in rows for k in r[1]}):
        lines.append(f"| {key} | {statistics.mean(r[1].get(key, 0.0) for r in middle):.2f} | "
                     f"{statistics.mean(r[1].get(key, 0.0) for r in tail):.2f} |")
    lines.append(f"| garbage collections (count) | {sum(r[2] for r in middle)} | {sum(r[2] for r in tail)} |")
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--queries", type=int, default=150, help="test-half SciFact claims")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--filter", type=int, default=0, help="index into bench/search.py's FILTERS")
    args = parser.parse_args()
    dataset = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "scifact"
    queries = list(load_queries(dataset).values())[150:150 + args.queries]
    index = search_index.Index(open_store(args.store), OnnxMiniLM(), "playbooks")
    for q in queries:  # embeds and caches every query vector; loads the in-memory codes
        index.search(q, k=10, mode="semantic")
    label, kwargs = FILTERS[args.filter]
    for q in queries[:10]:
        index.search(q, k=10, mode="hybrid", **kwargs)  # type: ignore[arg-type]
    pauses = instrument()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    for _ in range(args.rounds):
        for q in queries:
            PHASES.clear()
            collections = len(pauses)
            started = time.perf_counter()
            index.search(q, k=10, mode="hybrid", **kwargs)  # type: ignore[arg-type]
            rows.append(((time.perf_counter() - started) * 1000, dict(PHASES), len(pauses) - collections, q))
    fastest: dict[str, Row] = {}
    for row in rows:
        if row[3] not in fastest or row[0] < fastest[row[3]][0]:
            fastest[row[3]] = row
    print(f"Hybrid search, embedding excluded, filter {label!r}, {args.store.name}, {len(queries)} queries x "
          f"{args.rounds} rounds; {machine()}; 1-minute load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{len(pauses)} garbage collections, {sum(pauses):.1f} ms in all.\n")
    print("\n".join(table("every search", rows) + table("each query's fastest round", list(fastest.values()))))
    print("reproduce: flock /tmp/bench.lock .venv/bin/python bench/search_tail.py "
          f"{args.store} --queries {args.queries} --rounds {args.rounds} --filter {args.filter}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
