"""Stress: 8 writers and 8 readers on one store for 2 minutes; 0 errors and 0 lost records expected.

    .venv/bin/python bench/stress.py                      # 8 + 8 processes, 120 s
    .venv/bin/python bench/stress.py --seconds 30 --writers 4 --readers 4 --no-write

Each worker is its own process with its own store connection, as separate agents and CLI runs are:

* collect writers append batches of new JSONL lines to a file of their own and collect it
  (``collect_paths``, the CLI's and ``collect_evidence``'s path), again and again;
* push writers push records live through a real MCP client (in memory) calling ``record_evidence``;
* readers, through a real MCP client, call ``search_playbooks`` (hybrid, the real ONNX embedder) and
  read ``distill://stats`` and ``distill://runs/{id}`` in turn, timing every call.

The store is seeded first with the example lakehouse streams (collected, scored, playbooks extracted
and indexed), so searches and run reads find something. At the end every collect writer's file is
collected once more, and the check is: each file's lines are all in the store once, every pushed
record acknowledged as inserted is in the store, and no call of any worker failed. Reports read
latency p50/p95/max per kind and writes its section of docs/benchmarks.md (with the machine load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import ROOT, log, machine, percentile, write_section

from mcp_distill.config import Settings

SECTION = "Stress: 8 writers + 8 readers"
QUERIES = ("retry the flaky test", "review a rust patch", "fix the parser crash", "audit a pull request",
           "route a task to a cheaper model", "resolve a merge conflict")


def _settings(work: Path) -> Settings:
    return Settings(db_path=work / "stress.db", roots=[work])


def seed(work: Path) -> list[str]:
    """The example streams collected, scored, with playbooks indexed; the run keys a reader may read."""
    from mcp_distill.pipeline import run_pipeline
    from mcp_distill.score import load_rules
    from mcp_distill.search.embed import embedder_from_env
    from mcp_distill.store import open_store

    shutil.copytree(ROOT / "examples" / "lakehouse_kb", work / "seed")
    with open_store(work / "stress.db") as store:
        run_pipeline(store, _settings(work), load_rules(), embedder_from_env(), [str(work / "seed")],
                     out_dir=str(work / "exports"))
        return [r["run_key"] for r in store.query("SELECT run_key FROM runs ORDER BY run_key LIMIT 200")]


def started(gate, seconds: float) -> float:
    """Wait until every worker is set up (processes, stores, MCP clients, the embedder), then run together."""
    gate.wait()
    return time.time() + seconds


def collect_writer(work: str, n: int, gate, seconds: float) -> dict:
    from mcp_distill.collect.collector import collect_paths
    from mcp_distill.store import open_store

    root = Path(work)
    src = root / "writers" / f"w{n}" / "evidence.jsonl"  # the native evidence stream
    src.parent.mkdir(parents=True)
    lines = rounds = 0
    errors: list[str] = []
    with open_store(root / "stress.db") as store:
        deadline = started(gate, seconds)
        while time.time() < deadline:
            with open(src, "ab") as handle:
                for _ in range(50):
                    handle.write(json.dumps({"run_id": f"w{n}-{lines // 5}", "task_type": "stress",
                                             "text": f"writer {n} line {lines}"}).encode() + b"\n")
                    lines += 1
            try:
                collect_paths(store, _settings(root), [str(src)], command="bench:stress")
                rounds += 1
            except Exception:  # counted and shown: the run must end with none
                errors.append(traceback.format_exc(limit=3))
    return {"kind": "collect", "source": str(src), "lines": lines, "rounds": rounds, "errors": errors}


async def _push(work: Path, n: int, gate, seconds: float) -> dict:
    from mcp import Client

    from mcp_distill.server import build_server

    acked: list[str] = []
    errors: list[str] = []
    i = 0
    async with Client(build_server(_settings(work))) as client:
        deadline = await asyncio.to_thread(started, gate, seconds)
        while time.time() < deadline:
            try:
                r = await client.call_tool("record_evidence", {"record": {
                    "run_id": f"p{n}-{i // 4}", "task_type": "stress", "text": f"pusher {n} record {i}"}})
                if r.is_error:
                    errors.append(r.content[0].text)
                elif r.structured_content["inserted"] == 1:
                    acked.append(r.structured_content["record"]["record_id"])
                else:
                    errors.append(f"push {n}/{i} not inserted: {r.structured_content}")
            except Exception:
                errors.append(traceback.format_exc(limit=3))
            i += 1
    return {"kind": "push", "acked": acked, "errors": errors}


def push_writer(work: str, n: int, gate, seconds: float) -> dict:
    return asyncio.run(_push(Path(work), n, gate, seconds))


async def _read(work: Path, n: int, gate, seconds: float, runs: list[str]) -> dict:
    from mcp import Client

    from mcp_distill.server import build_server

    timings: dict[str, list[float]] = {"search": [], "stats": [], "run": []}
    errors: list[str] = []
    i = n
    async with Client(build_server(_settings(work))) as client:
        await client.call_tool("search_playbooks", {"query": "warm up"})  # the ONNX model loads before the clock
        deadline = await asyncio.to_thread(started, gate, seconds)
        while time.time() < deadline:
            kind = ("search", "stats", "run")[i % 3]
            t0 = time.perf_counter()
            try:
                if kind == "search":
                    r = await client.call_tool("search_playbooks", {"query": QUERIES[i % len(QUERIES)]})
                    if r.is_error:
                        errors.append(r.content[0].text)
                elif kind == "stats":
                    json.loads((await client.read_resource("distill://stats")).contents[0].text)
                else:
                    json.loads((await client.read_resource(f"distill://runs/{runs[i % len(runs)]}")).contents[0].text)
            except Exception:
                errors.append(traceback.format_exc(limit=3))
            timings[kind].append(time.perf_counter() - t0)
            i += 1
    return {"kind": "read", "timings": timings, "errors": errors}


def reader(work: str, n: int, gate, seconds: float, runs: list[str]) -> dict:
    return asyncio.run(_read(Path(work), n, gate, seconds, runs))


def verify(work: Path, results: list[dict]) -> dict:
    """Every line written and every push acknowledged is in the store exactly once."""
    from mcp_distill.collect.collector import collect_paths
    from mcp_distill.store import open_store

    lost = 0
    with open_store(work / "stress.db") as store:
        for r in (r for r in results if r["kind"] == "collect"):
            collect_paths(store, _settings(work), [r["source"]], command="bench:stress-final")
            n = store.query_one("SELECT count(*) AS n FROM evidence WHERE source_file = ?", (r["source"],))["n"]
            lost += r["lines"] - n
        acked = [rid for r in results if r["kind"] == "push" for rid in r["acked"]]
        found = 0
        for i in range(0, len(acked), 500):
            chunk = acked[i:i + 500]
            found += store.query_one(f"SELECT count(*) AS n FROM evidence WHERE record_id IN "
                                     f"({','.join('?' * len(chunk))})", tuple(chunk))["n"]
        lost += len(acked) - found
        running = store.query_one("SELECT count(*) AS n FROM receipts WHERE "
                                  "json_extract(data, '$.details.status') = 'running'")["n"]
    return {"lost": lost, "pushes_acked": len(acked), "receipts_left_running": running}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--writers", type=int, default=8, help="half collect, half push")
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="distill-stress-"))
    try:
        log(f"seeding {work} ...")
        runs = seed(work)
        workers = args.writers + args.readers
        with multiprocessing.Manager() as manager, ProcessPoolExecutor(workers) as pool:
            gate = manager.Barrier(workers + 1)
            futures = [pool.submit(collect_writer if i % 2 == 0 else push_writer, str(work), i, gate, args.seconds)
                       for i in range(args.writers)]
            futures += [pool.submit(reader, str(work), i, gate, args.seconds, runs) for i in range(args.readers)]
            gate.wait(timeout=600)
            load_before = os.getloadavg()
            log(f"all {workers} workers set up; running {args.seconds:g} s")
            results = [f.result() for f in futures]
        load_after = os.getloadavg()
        check = verify(work, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, check, load_before, load_after)
    return 0 if check["lost"] == 0 and not any(r["errors"] for r in results) else 1


def report(args: argparse.Namespace, results: list[dict], check: dict, load_before: tuple, load_after: tuple) -> None:
    errors = [e for r in results for e in r["errors"]]
    timings: dict[str, list[float]] = {}
    for r in (r for r in results if r["kind"] == "read"):
        for kind, values in r["timings"].items():
            timings.setdefault(kind, []).extend(values)
    every = [v for values in timings.values() for v in values]
    lines = sum(r["lines"] for r in results if r["kind"] == "collect")
    rows = [f"| {kind} | {len(v)} | {percentile(v, 50) * 1000:.0f} | {percentile(v, 95) * 1000:.0f} | "
            f"{max(v) * 1000:.0f} |" for kind, v in sorted(timings.items()) if v]
    rows.append(f"| all reads | {len(every)} | {percentile(every, 50) * 1000:.0f} | "
                f"{percentile(every, 95) * 1000:.0f} | {max(every, default=0) * 1000:.0f} |")
    command = (f".venv/bin/python bench/stress.py --seconds {args.seconds:g} --writers {args.writers} "
               f"--readers {args.readers}")
    body = "\n".join([
        f"`{command}` ({machine()}; load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the "
        "end: the machine is shared with other work).",
        "",
        f"{args.writers // 2 + args.writers % 2} collect writers (append 50 lines, collect, repeat) and "
        f"{args.writers // 2} push writers (`record_evidence` through an MCP client), {args.readers} readers "
        f"(`search_playbooks` hybrid, `distill://stats`, `distill://runs/{{id}}` in turn, through an MCP "
        f"client), each its own process, for {args.seconds:g} s on one store seeded with the example streams.",
        "",
        f"- errors: **{len(errors)}**; lost: **{check['lost']}** ({lines} lines collected, "
        f"{check['pushes_acked']} pushes acknowledged, each found in the store once); "
        f"in-progress receipts left: {check['receipts_left_running']}",
        "",
        "| read | calls | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *rows,
    ])
    print(body)
    for e in errors[:5]:
        print("error:", e, file=sys.stderr)
    print(json.dumps({"errors": len(errors), **check, "reads": len(every),
                      "read_p95_ms": round(percentile(every, 95) * 1000, 1)}))
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    sys.exit(main())
