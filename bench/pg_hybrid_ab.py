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

import functools
import os

import pg_ab
import search as search_bench

from mcp_distill.search.legs import KeywordLeg


def main(argv: list[str] | None = None) -> int:
    args = pg_ab.parser(__doc__).parse_args(argv)
    real, queries, vectors = pg_ab.query_vectors(args.queries, pg_ab.scifact_queries(args.queries))
    load_before = os.getloadavg()[0]
    with pg_ab.warmed_index(args, real, queries) as index:
        beside = index.keyword.start
        before = functools.partial(KeywordLeg.start, index.keyword)
        for label, kwargs in search_bench.FILTERS:
            arms = {"A": functools.partial(setattr, index.keyword, "start", before),
                    "B": functools.partial(setattr, index.keyword, "start", beside)}
            times, hits = pg_ab.interleaved(index, queries, vectors, arms, args.rounds, "hybrid", kwargs)
            same = all(h["A"] == h["B"] for h in hits)
            print(f"{label}: hybrid excl. p50/p95 " + pg_ab.arms_line(times, {"A": "keyword before", "B": "beside"})
                  + f"; same hits: {same}", flush=True)
    print(f"{args.size:,} documents, {args.queries} queries x {args.rounds} rounds, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
