"""The filtered vector leg on PostgreSQL: every passing row scored (A) or the token-keyed codes (B), interleaved.

    flock /tmp/bench.lock .venv/bin/python bench/pg_vector_ab.py --size 1000000 --queries 40 --rounds 2

On a store bench/postgres.py built (its files read into the page cache first, as there), for each of
bench/search.py's filters and each SciFact query: ``Index.search`` (``--modes``: semantic and hybrid) with the
query's vector already in the query-vector LRU (embedding excluded). A: a filtered set too small for HNSW is
scored exactly (every passing row of search_vec, the path before migration 012); B: this checkout
(``PgVectorLeg._pooled``: the rarest filter token's range of binary codes, the best pool rescored exactly).
Which goes first alternates query by query, ``--rounds`` times. Prints ms p50 / p95 of each, and B's overlap
with A's hits (top 10 of the search; A's is the exact answer for the filters where the paths differ).
Filters HNSW answers take neither path: their two arms are the same code (a check of the noise).
"""

from __future__ import annotations

import functools
import os

import pg_ab
import search as search_bench

from mcp_distill.search.repository.pg_vector import PgVectorLeg


def every_row(self: PgVectorLeg, conn, qvec, filters, where, params, depth):  # type: ignore[no-untyped-def]
    """Arm A: the exact scan in place of the codes (what the leg ran for these sets before migration 012)."""
    return self._nearest(conn, qvec, where, params, depth, exact=True)


def main(argv: list[str] | None = None) -> int:
    parser = pg_ab.parser(__doc__)
    parser.add_argument("--modes", default="semantic,hybrid")
    args = parser.parse_args(argv)
    real, queries, vectors = pg_ab.query_vectors(args.queries, pg_ab.scifact_queries(args.queries))
    load_before = os.getloadavg()[0]
    codes = PgVectorLeg._pooled
    with pg_ab.warmed_index(args, real, queries) as index:
        for mode in args.modes.split(","):
            for label, kwargs in search_bench.FILTERS:
                arms = {"A": functools.partial(setattr, PgVectorLeg, "_pooled", every_row),
                        "B": functools.partial(setattr, PgVectorLeg, "_pooled", codes)}
                times, hits = pg_ab.interleaved(index, queries, vectors, arms, args.rounds, mode, kwargs)
                overlap = [len(set(h["A"]) & set(h["B"])) / max(len(h["A"]), 1) for h in hits]
                PgVectorLeg._pooled = codes  # type: ignore[method-assign]
                print(f"{mode} {label}: excl. p50/p95 " + pg_ab.arms_line(times, {"A": "every row", "B": "codes"})
                      + f"; overlap@10 mean {sum(overlap) / len(overlap):.3f}, min {min(overlap):.1f}", flush=True)
    print(f"{args.size:,} documents, {args.queries} queries x {args.rounds} rounds, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
