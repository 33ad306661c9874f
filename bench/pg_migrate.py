"""Bring the PostgreSQL benchmark stores up to this build's migrations, timed (the 1M store's backfills).

    nice -n 19 .venv/bin/python bench/pg_migrate.py --sizes 1000000

Opens each latency store of bench/postgres.py (pgserver in bench/.cache/pgserver unless ``--db``), which
applies the migrations it lacks in one transaction, and prints which ran and how long they took. Run it
niced and outside the bench lock: it is a build step, not a timing run (the server's backend runs at the
server's priority: renice it). Afterwards ``search_vec_tokens`` is vacuumed (its visibility map, which
index-only scans read; autovacuum would set it later).
"""

from __future__ import annotations

import argparse
import time

import pg_scale
import psycopg
from _common import log
from postgres import server

from mcp_distill.migrations import pg as pg_migrations
from mcp_distill.store import open_store
from mcp_distill.store.postgres import PgConnection


def applied(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as raw:
        return pg_migrations.applied_names(PgConnection(raw))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql:// URL of the server (default: start pgserver)")
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with server(args.db) as server_url:
        for n in (int(s) for s in args.sizes.split(",")):
            url = pg_scale.database_url(server_url, pg_scale.database_name(n, args.seed))
            before = set(applied(url))
            started = time.perf_counter()
            with open_store(url):
                pass
            took = time.perf_counter() - started
            with psycopg.connect(url, autocommit=True) as raw:  # index-only scans need the visibility map set
                if raw.execute("SELECT to_regclass('search_vec_tokens') IS NOT NULL").fetchone()[0]:
                    raw.execute("VACUUM search_vec_tokens")
            ran = [m for m in applied(url) if m not in before]
            log(f"{n}: migrations {', '.join(ran) or 'none'} applied in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
