"""EXPLAIN (ANALYZE, BUFFERS) of the statements one search runs on a PostgreSQL benchmark store.

    .venv/bin/python bench/pg_explain.py --size 1000000 --filter "2 tags + source" --mode semantic

Runs ``Index.search`` once (the query's vector embedded beforehand, so only the store's statements
run), records every statement it sends that reads ``search_vec`` or ``search_docs``, runs each again
under EXPLAIN (ANALYZE, BUFFERS) with the same parameters, and prints the plans: where a filtered
leg's time goes, without reading the server's log.
"""

from __future__ import annotations

import argparse

import pg_scale
import search as search_bench
from postgres import server

from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.index import Index
from mcp_distill.store import open_store
from mcp_distill.store.postgres import PgConnection

TABLES = ("search_vec", "search_docs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql:// URL of the server (default: start pgserver)")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--filter", action="append", help="a bench/search.py FILTERS label (default: all)")
    parser.add_argument("--mode", default="semantic", choices=("semantic", "keyword", "hybrid"))
    parser.add_argument("--query", default="retry the flaky integration test after the database migration")
    args = parser.parse_args(argv)
    cases = [(label, kw) for label, kw in search_bench.FILTERS if not args.filter or label in args.filter]
    seen: list[tuple[str, object]] = []
    original = PgConnection.execute

    def recording(self: PgConnection, sql: str, params: object = ()) -> object:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")) and any(t in sql for t in TABLES):
            seen.append((sql, params))
        return original(self, sql, params)  # type: ignore[arg-type]

    with server(args.db) as server_url, open_store(
            pg_scale.database_url(server_url, pg_scale.database_name(args.size, args.seed))) as store:
        index = Index(store, OnnxMiniLM(), pg_scale.COLLECTION)
        index.search(args.query, k=10, mode=args.mode)  # embeds the query, warms the connections
        for label, kwargs in cases:
            seen.clear()
            PgConnection.execute = recording  # type: ignore[method-assign]
            try:
                index.search(args.query, k=10, mode=args.mode, **kwargs)  # type: ignore[arg-type]
            finally:
                PgConnection.execute = original  # type: ignore[method-assign]
            print(f"=== {label} ({args.mode}, {args.size:,} documents): {len(seen)} statements")
            with store.reading() as conn:
                for sql, params in seen:
                    print("--- " + " ".join(sql.split())[:300])
                    plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)  # type: ignore[arg-type]
                    print("\n".join(r[0] for r in plan.fetchall()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
