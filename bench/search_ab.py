"""A/B of hybrid search latency between two checkouts of mcp-distill on one built store (issue #19).

Each round runs one fresh interpreter per checkout (the order alternates, A B B A ...), so a burst of load
from elsewhere on the machine falls on both alike; each interpreter imports mcp_distill from its own
checkout, opens the store, embeds the queries (untimed: the embedding is excluded, as in bench/search.py's
"hybrid, embedding excluded"), warms up, then times hybrid search of every query under every filter of
bench/search.py. It also checks that both checkouts return the same hits, scores and strengths.

    flock /tmp/bench.lock .venv/bin/python bench/search_ab.py /work/base-hot . \\
        bench/.cache/search_100000_v4_s7.db --queries 100 --rounds 4
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def worker(checkout: Path, path: Path, queries: list[str], filters: list[dict[str, Any]], k: int,
           profile: Path | None) -> dict[str, Any]:
    """In this process, with mcp_distill imported from ``checkout``: per-filter times (ms) and the results."""
    sys.path.insert(0, str(checkout))
    import time

    from mcp_distill.search.embed import OnnxMiniLM
    from mcp_distill.search.index import Index
    from mcp_distill.store import open_store

    times: list[list[float]] = []
    results: list[list[Any]] = []
    with open_store(path) as store:
        index = Index(store, OnnxMiniLM(), "playbooks")
        for q in queries:  # embeds and caches every query vector; loads the in-memory codes
            index.search(q, k=k, mode="semantic")
        for q in queries[:10]:
            index.search(q, k=k, mode="hybrid")
        for f in filters:  # each filter's first use (its tag masks or facet counts, read once) is not timed
            index.search(queries[0], k=k, mode="hybrid", **f)
        prof = None
        if profile is not None:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        for f in filters:
            took: list[float] = []
            for q in queries:
                started = time.perf_counter()
                got = index.search(q, k=k, mode="hybrid", **f)
                took.append((time.perf_counter() - started) * 1000)
                results.append([(h.id, round(h.score, 9), round(h.strength, 6)) for h in got.hits])
            times.append(took)
        if prof is not None:
            prof.disable()
            prof.dump_stats(str(profile))
    import mcp_distill

    return {"times": times, "results": results, "module": mcp_distill.__file__}


def run(checkout: Path, path: Path, queries: list[str], filters: list[dict[str, Any]], k: int,
        profile: Path | None = None) -> dict[str, Any]:
    """:func:`worker` in a fresh interpreter."""
    cmd = [sys.executable, __file__, str(checkout), "-", str(path), "--worker", "--k", str(k)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    done = subprocess.run(cmd, capture_output=True, text=True,
                          input=json.dumps({"queries": queries, "filters": filters}))
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(got["module"]).resolve().is_relative_to(checkout.resolve()):  # the editable install won
        raise RuntimeError(f"mcp_distill came from {got['module']}, not {checkout}")
    return got


def main() -> int:
    import argparse
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="checkout A (before)")
    parser.add_argument("b", type=Path, help="checkout B (after)")
    parser.add_argument("store", type=Path)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--filters", type=int, default=2, help="the first N filters of bench/search.py")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=Path, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.worker:  # one side: 'a' is its checkout, 'b' unused
        given = json.loads(sys.stdin.read())
        print(json.dumps(worker(args.a, args.store, given["queries"], given["filters"], args.k, args.profile)))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import load_queries, log, machine, percentile
    from search import FILTERS

    dataset = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "scifact"
    queries = list(load_queries(dataset).values())[: args.queries]
    chosen = FILTERS[: args.filters]
    filters = [f for _, f in chosen]
    load_before = os.getloadavg()[0]
    times: dict[str, list[list[float]]] = {"A": [[] for _ in chosen], "B": [[] for _ in chosen]}
    reference: dict[str, Any] = {}
    for r in range(args.rounds):
        for side in ("A", "B") if r % 2 == 0 else ("B", "A"):
            got = run(args.a if side == "A" else args.b, args.store, queries, filters, args.k)
            for i, took in enumerate(got["times"]):
                times[side][i] += took
            reference.setdefault(side, got["results"])
            log(f"round {r + 1} {side}: " + ", ".join(f"p50 {percentile(t, 50):.1f} ms" for t in got["times"]))
    same = reference["A"] == reference["B"]
    lines = [f"A/B hybrid search, embedding excluded, {args.store.name}, {len(queries)} queries x {args.rounds} "
             f"rounds, k={args.k}; A = {args.a}, B = {args.b}; {machine()}; 1-minute load "
             f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; same results: {same}.", "",
             "| filter | A p50 / p95 ms | B p50 / p95 ms | B/A p50 | B/A p95 |", "|---|---|---|---|---|"]
    for i, (label, _) in enumerate(chosen):
        a, b = times["A"][i], times["B"][i]
        pa, pb = (percentile(a, 50), percentile(a, 95)), (percentile(b, 50), percentile(b, 95))
        lines.append(f"| {label} | {pa[0]:.1f} / {pa[1]:.1f} | {pb[0]:.1f} / {pb[1]:.1f} | "
                     f"{pb[0] / pa[0]:.2f} | {pb[1] / pa[1]:.2f} |")
    print("\n".join(lines))
    print("reproduce: .venv/bin/python bench/search_ab.py " + " ".join(sys.argv[1:]))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
