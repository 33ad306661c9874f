"""The PostgreSQL backend measured: SciFact quality beside SQLite, search latency, concurrent writers.

    .venv/bin/python bench/postgres.py                                   # a pgserver in bench/.cache
    .venv/bin/python bench/postgres.py --db postgresql://u@host/empty_db  # a server of your own
    .venv/bin/python bench/postgres.py --sizes 10000,100000 --writers 8 --readers 8 --seconds 60

1. Retrieval quality: SciFact (../shared/data/ir/scifact) indexed through ``Index.upsert`` into a
   fresh SQLite file and into the PostgreSQL database, every test query through ``Index.search``
   in each mode on both; nDCG@10 and recall@100 side by side (bench/retrieval.py's code).
2. Search latency on PostgreSQL: bench/search.py's synthetic playbook-sized documents (real text,
   pooled real embeddings with noise) at each size, p50/p95 per mode and filter; the query
   embedding is timed separately and subtracted for the "without embedding" column, and the
   client process's peak resident memory is reported.
3. Concurrency: ``--writers`` processes each collect a copy of one example stream plus two files
   every writer collects, then push live evidence in a loop, while ``--readers`` processes read
   stats and runs, for ``--seconds``; then the evidence is counted against what one sequential
   collect stores: errors, lost and duplicated records.

Each part uses its own database on the server (created and dropped; the role needs CREATEDB) or,
without ``--db``, a pgserver (PostgreSQL 16 + pgvector from PyPI) started in bench/.cache/pgserver.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import retrieval
import search as search_bench
from _common import (
    CACHE_DIR,
    ROOT,
    cached_embedder,
    load_corpus,
    load_qrels,
    load_queries,
    log,
    machine,
    percentile,
    write_section,
)

from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.index import embed_text
from mcp_distill.store import open_store

SECTION = "PostgreSQL backend"
SCIFACT = ROOT.parent / "shared" / "data" / "ir" / "scifact"
EXAMPLES = ROOT / "examples" / "lakehouse_kb"


@contextmanager
def server(url: str | None):
    if url:
        yield url
        return
    import pgserver

    folder = CACHE_DIR / "pgserver"
    srv = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield srv.get_uri()
    finally:
        srv.cleanup()


@contextmanager
def fresh_database(server_url: str):
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ----------------------------------------------------------------------------- 1. quality


def quality(server_url: str) -> dict[str, dict[str, dict[str, float]]]:
    queries = load_queries(SCIFACT)
    qrels = {q: r for q, r in load_qrels(SCIFACT, "test").items() if q in queries}
    out = {}
    with tempfile.TemporaryDirectory(prefix="mcp-distill-bench-") as tmp, fresh_database(server_url) as pg:
        for name, location in (("sqlite", Path(tmp) / "bench.db"), ("postgresql", pg)):
            index, took = retrieval.build(SCIFACT, location)
            log(f"{name}: SciFact indexed in {took:.0f} s")
            out[name] = retrieval.evaluate(index, queries, qrels)
            index.store.close()
    return out


# ----------------------------------------------------------------------------- 2. latency


def latency(server_url: str, sizes: list[int], n_queries: int, seed: int) -> dict[int, dict]:
    corpus = load_corpus(SCIFACT)
    real = OnnxMiniLM()
    pool = cached_embedder(real).embed([embed_text(t, x) for t, x in corpus.values()])
    queries = list(load_queries(SCIFACT).values())[:n_queries]
    embed_ms = []
    for q in queries:
        started = time.perf_counter()
        real.embed([q])
        embed_ms.append((time.perf_counter() - started) * 1000)
    out = {}
    for n in sizes:
        with fresh_database(server_url) as pg:
            docs, vectors = search_bench.synthetic(n, corpus, pool, seed)
            store = open_store(pg)
            index = search_bench.Index(store, search_bench.SyntheticVectors(real, vectors), "playbooks")
            started = time.perf_counter()
            index.upsert(docs, progress=lambda done, total, n=n: log(f"{n}: upserted {done}/{total}")
                         if done % 10240 == 0 or done == total else None)
            built = time.perf_counter() - started
            store.execute("ANALYZE")
            out[n] = {"built_s": built, "results": search_bench.measure(index, queries, 10)}
            store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"sizes": out, "embed_p50": percentile(embed_ms, 50), "embed_p95": percentile(embed_ms, 95),
            "rss_mb": rss_mb}


# ----------------------------------------------------------------------------- 3. concurrency


def _writer(url: str, files: list[str], home: str, index: int, until: float, out) -> None:
    from mcp_distill.collect.collector import collect_paths
    from mcp_distill.collect.live import record_evidence
    from mcp_distill.config import Settings

    pushed = errors = 0
    try:
        os.chdir(home)
        with open_store(url) as store:
            collect_paths(store, Settings(db_path=url, roots=[Path(files[0]).parent.parent]), files)
            while time.time() < until:
                try:
                    record_evidence(store, {"stream": "scrum_reviews", "run_id": f"live-{index}-{pushed}",
                                            "text": f"push {pushed} of writer {index}"})
                    pushed += 1
                except Exception as exc:  # counted, and the loop goes on: the figure is the error count
                    errors += 1
                    log(f"writer {index}: {exc!r}")
    except Exception as exc:
        errors += 1
        log(f"writer {index}: {exc!r}")
    out.put(("writer", pushed, errors))


def _reader(url: str, until: float, out) -> None:
    from mcp_distill.collect.runs import get_run
    from mcp_distill.stats import store_stats

    reads = errors = 0
    with open_store(url) as store:
        while time.time() < until:
            try:
                store_stats(store)
                row = store.query_one("SELECT run_key FROM runs ORDER BY run_key DESC LIMIT 1")
                if row:
                    get_run(store, row["run_key"])
                reads += 1
            except Exception as exc:
                errors += 1
                log(f"reader: {exc!r}")
    out.put(("reader", reads, errors))


def concurrency(server_url: str, writers: int, readers: int, seconds: float) -> dict[str, int]:
    from mcp_distill.collect.collector import collect_paths
    from mcp_distill.config import Settings

    with tempfile.TemporaryDirectory(prefix="mcp-distill-bench-") as tmp, fresh_database(server_url) as pg:
        data = Path(tmp) / "data"
        shared = [data / "shared" / n for n in ("outcomes.jsonl", "audits.jsonl")]
        plans = []
        for path in shared:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(EXAMPLES / path.name, path)
        for i in range(writers):
            own = data / f"own{i}" / "model_trust.jsonl"
            own.parent.mkdir(parents=True)
            shutil.copy(EXAMPLES / own.name, own)
            (Path(tmp) / f"home{i}").mkdir()
            plans.append(([str(own), *map(str, shared)], str(Path(tmp) / f"home{i}")))
        open_store(pg).close()
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        until = time.time() + seconds + 5  # + start-up of the spawned interpreters
        procs = [ctx.Process(target=_writer, args=(pg, files, home, i, until, out)) for i, (files, home) in
                 enumerate(plans)] + [ctx.Process(target=_reader, args=(pg, until, out)) for _ in range(readers)]
        for p in procs:
            p.start()
        reports = [out.get(timeout=seconds + 600) for _ in procs]
        for p in procs:
            p.join(60)
        expected_path = Path(tmp) / "expected.db"
        with open_store(expected_path) as expected:
            files = sorted({f for fs, _ in plans for f in fs})
            collect_paths(expected, Settings(db_path=expected_path, roots=[data]), files)
            from_files_expected = expected.query_one("SELECT count(*) AS n FROM evidence")["n"]
        with open_store(pg) as store:
            total = store.query_one("SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM evidence")
            from_files = store.query_one("SELECT count(*) AS n FROM evidence WHERE source_file NOT LIKE '%.live/%'")["n"]
            live = store.query_one("SELECT count(*) AS n FROM evidence WHERE source_file LIKE '%.live/%'")["n"]
    pushed = sum(r[1] for r in reports if r[0] == "writer")
    return {"writers": writers, "readers": readers, "seconds": int(seconds),
            "errors": sum(r[2] for r in reports), "pushed": pushed, "reads": sum(r[1] for r in reports if r[0] == "reader"),
            "file_records_expected": from_files_expected, "file_records_stored": from_files, "live_stored": live,
            "lost": max(0, from_files_expected - from_files) + max(0, pushed - live),
            "duplicated": total["n"] - total["ids"] + max(0, from_files - from_files_expected) + max(0, live - pushed)}


# ----------------------------------------------------------------------------- report


def report(q: dict, lat: dict, conc: dict, cmd: str, load: tuple[float, float]) -> str:
    lines = [f"Measured by `bench/postgres.py` on a local PostgreSQL 16.2 + pgvector 0.6 (pgserver), {machine()}; "
             f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after (shared machine).", "",
             "**SciFact (test, 300 queries), same code, both backends** — nDCG@10 / R@100:", "",
             "| mode | SQLite (FTS5 bm25, sqlite-vec) | PostgreSQL (tsvector + BM25, pgvector HNSW) | difference |",
             "|---|---|---|---|"]
    for mode in retrieval.MODES:
        s, p = q["sqlite"][mode], q["postgresql"][mode]
        lines.append(f"| {mode} | {s['ndcg@10']:.4f} / {s['recall@100']:.3f} | {p['ndcg@10']:.4f} / "
                     f"{p['recall@100']:.3f} | {p['ndcg@10'] - s['ndcg@10']:+.4f} |")
    lines += ["", f"**Search latency on PostgreSQL** (bench/search.py's synthetic documents, k=10, ms p50 / p95, the "
              f"query embedding included; embedding alone: p50 {lat['embed_p50']:.1f} / p95 {lat['embed_p95']:.1f} ms; "
              f"client process peak RSS {lat['rss_mb']:.0f} MB):", ""]
    for n, part in lat["sizes"].items():
        res = part["results"]
        lines += [f"{n:,} documents (built through `Index.upsert` in {part['built_s']:.0f} s)", "",
                  "| filter (share) | keyword | semantic | hybrid |", "|---|---|---|---|"]
        for label in dict.fromkeys(label for label, _ in res):
            cells = [f"{res[(label, m)][0]:.1f} / {res[(label, m)][1]:.1f}" for m in ("keyword", "semantic", "hybrid")]
            lines.append(f"| {label} ({100 * res[(label, 'share')][0]:.1f}%) | {' | '.join(cells)} |")
        lines.append("")
    lines += [f"**Concurrency**: {conc['writers']} writer processes (each its own copy of one stream + two files all "
              f"collect, then live pushes) and {conc['readers']} reader processes for {conc['seconds']} s: "
              f"{conc['pushed']} live pushes, {conc['reads']} reads, **{conc['errors']} errors, {conc['lost']} lost, "
              f"{conc['duplicated']} duplicated** (file records {conc['file_records_stored']} stored of "
              f"{conc['file_records_expected']} expected; live {conc['live_stored']} of {conc['pushed']}).", "",
              f"Reproduce: `.venv/bin/python {cmd}`"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql:// URL of a server with pgvector (default: start pgserver)")
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with server(args.db) as url:
        q = quality(url)
        lat = latency(url, [int(s) for s in args.sizes.split(",") if s.strip()], args.queries, args.seed)
        conc = concurrency(url, args.writers, args.readers, args.seconds)
    cmd = (f"bench/postgres.py --sizes {args.sizes} --queries {args.queries} --writers {args.writers} "
           f"--readers {args.readers} --seconds {args.seconds:g}")
    body = report(q, lat, conc, cmd, (load_before, os.getloadavg()[0]))
    print(body)
    if not args.no_doc:
        write_section(SECTION, body)
        print("updated docs/benchmarks.md section", repr(SECTION))
    print(json.dumps({"quality": q, "concurrency": conc,
                      "latency": {str(n): {f"{lb}|{m}": [round(v[0], 2), round(v[1], 2)] for (lb, m), v in
                                           p["results"].items() if m != "share"} for n, p in lat["sizes"].items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
