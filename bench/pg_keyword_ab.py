"""The PostgreSQL keyword leg A/B at scale: this checkout's ``PgKeywordLeg.run`` against a baseline's, interleaved.

    flock /tmp/bench.lock .venv/bin/python bench/pg_keyword_ab.py --size 1000000 --baseline main

On a store bench/postgres.py built (``--build-only``; the database's files read into the page cache
first, as there), for each of bench/search.py's filters and each SciFact query: the query's planned
terms (this checkout's plan, the same for both), then the baseline's ``run`` (its module loaded from
``git show BASELINE:mcp_distill/search/repository/pg_legs.py``) and this checkout's, on the same
leg object, which goes first alternating query by query, ``--rounds`` times. Figures: ms p50 / p95 of
each, and overlap@10: how many of the baseline's top 10 this checkout's top 10 holds (the baseline
reads every GIN match: what a restricted candidate set loses). Printed, and kept in
bench/.cache/postgres_results.json under ``keyword_ab``, which bench/postgres.py writes into
docs/benchmarks.md with the rest (rewritten here).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pg_scale
import postgres
import search as search_bench
from _common import ROOT, log, percentile

from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.index import Index
from mcp_distill.search.legs import Filters
from mcp_distill.search.query import FUSION_DEPTH, normalise_tag, parse_time
from mcp_distill.store import open_store

MODULE = "mcp_distill/search/repository/pg_legs.py"


def baseline_leg_class(ref: str) -> type:
    """``PgKeywordLeg`` of ``ref``'s pg_legs.py (its SQL and run), importing this checkout's other modules."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{MODULE}"], capture_output=True, text=True,
                            check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="pg-keyword-ab-")) / "pg_legs_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("pg_legs_baseline", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.PgKeywordLeg


def filters_of(collection: str, kwargs: dict) -> Filters:
    since = parse_time(kwargs.get("since"), "since")
    return Filters(collection, task_type=kwargs.get("task_type"), source=kwargs.get("source"),
                   tags=tuple(normalise_tag(t) for t in kwargs.get("tags", ())), since=since[1] if since else None)


def measure(url: str, ref: str, queries: list[str], rounds: int) -> dict:
    baseline = baseline_leg_class(ref)
    out: dict[str, dict] = {}
    with open_store(url) as store:
        index = Index(store, OnnxMiniLM(), pg_scale.COLLECTION)
        leg = index.keyword
        for q in queries[:5]:  # warm-up: connections, the stem cache
            leg.run(leg.plan(q), Filters(index.collection), FUSION_DEPTH)
        for label, kwargs in search_bench.FILTERS:
            filters = filters_of(index.collection, kwargs)
            times: dict[str, list[float]] = {"baseline": [], "this": []}
            overlap = []
            for r in range(rounds):
                for i, q in enumerate(queries):
                    terms = leg.plan(q)
                    got = {}
                    for name in ("baseline", "this")[:: 1 if (i + r) % 2 else -1]:
                        run = baseline.run if name == "baseline" else type(leg).run
                        started = time.perf_counter()
                        got[name] = run(leg, terms, filters, FUSION_DEPTH)
                        times[name].append((time.perf_counter() - started) * 1000)
                    top = {d for d, _ in got["baseline"][:10]}
                    overlap.append(len(top & {d for d, _ in got["this"][:10]}) / max(len(top), 1))
            out[label] = {name: [percentile(v, 50), percentile(v, 95)] for name, v in times.items()}
            out[label]["overlap@10"] = sum(overlap) / len(overlap)
            log(f"{label}: baseline {out[label]['baseline'][1]:.1f}, this {out[label]['this'][1]:.1f} ms p95, "
                f"overlap@10 {out[label]['overlap@10']:.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql:// URL of the server (default: bench/postgres.py's pgserver)")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default="main")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline], capture_output=True,
                          text=True).stdout.strip()
    load_before = os.getloadavg()[0]
    queries = list(postgres.load_queries(postgres.SCIFACT).values())[: args.queries]
    with postgres.server(args.db) as server_url:
        url = pg_scale.database_url(server_url, pg_scale.database_name(args.size, args.seed))
        log(pg_scale.warm(url))
        result = measure(url, args.baseline, queries, args.rounds)
    cmd = (f"bench/pg_keyword_ab.py --size {args.size} --queries {args.queries} --rounds {args.rounds} "
           f"--baseline {args.baseline}")
    part = {"result": result, "size": args.size, "queries": args.queries, "rounds": args.rounds, "baseline": base,
            "cmd": cmd, "when": {**postgres.stamp(load_before), "commit": commit}}
    print(json.dumps(part, indent=1))
    saved = json.loads(postgres.RESULTS.read_text()) if postgres.RESULTS.exists() else {}
    saved["keyword_ab"] = part
    postgres.RESULTS.write_text(json.dumps(saved, indent=1, default=str))
    postgres.publish(saved, next(iter(saved.get("latency", {}).get("sizes", {}).values()), {}).get("queries", args.queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
