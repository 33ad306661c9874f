"""Refresh time of the Model Routing Ledger at 1M evidence rows, full and incremental.

    .venv/bin/python bench/ledger.py                      # 1M rows, append 10k, writes docs/benchmarks.md
    .venv/bin/python bench/ledger.py --rows 200000 --no-write --verify

How the store is built (say it plainly: this is the fast path, not the collector):
1. ``--rows`` evidence rows are inserted *directly* into ``evidence`` / ``runs`` / ``scores`` in bulk
   (executemany, 50k rows per transaction). Each row's ``data`` is a valid EvidenceRecord JSON of the
   native ``evidence`` stream; each run has 1-3 model calls (latency, cost, role) and an observer
   verdict naming the model judged; its score is what the real scorer gives for that verdict, stamped
   with the current scorer_version, so ``score_runs`` treats it as current. Collecting 1M rows through
   the collector instead would add ~40 s and measure the collector, not the ledger.
2. The first ``refresh_ledger`` is a full build (timed).
3. ``--append`` rows go through the real path: written to an evidence.jsonl (80% new runs, 15% new calls
   and verdicts joining existing runs, 5% human overrides that re-score existing runs), collected with
   ``collect_paths``, scored with ``score_runs`` (unscored runs only), then the incremental refresh is
   timed. ``--verify`` then rebuilds from scratch and checks the result is identical.

Progress goes to stderr; the last stdout line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Ledger"
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402
from mcp_distill.collect.collector import collect_paths  # noqa: E402
from mcp_distill.config import Settings  # noqa: E402
from mcp_distill.ledger.routing import ledger_entries, refresh_ledger  # noqa: E402
from mcp_distill.score import load_rules, score_runs  # noqa: E402
from mcp_distill.store import Store, open_store  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TASKS = ["codereview", "pr_audit", "triage", "summarize", "contract_analysis", "staffing_inference",
         "doc_drift", "refactor"]
#: model -> (quality, mean latency ms, USD per call)
MODELS = {
    "qwen2.5-coder:32b": (0.55, 4_000, 0.0), "llama3.1:8b": (0.40, 1_500, 0.0),
    "gpt-oss:120b": (0.75, 9_000, 0.0006), "deepseek-v3.1": (0.80, 11_000, 0.0009),
    "kimi-k2:1t": (0.78, 13_000, 0.0015), "gpt-4o": (0.82, 6_000, 0.006), "gpt-5-codex": (0.88, 15_000, 0.012),
    "claude-sonnet-4-5": (0.90, 10_000, 0.010), "claude-haiku-4-5": (0.72, 3_000, 0.002),
    "deepseek-reasoner": (0.84, 25_000, 0.002), "meta-llama/llama-4-maverick": (0.65, 5_000, 0.001),
    "gemma3:27b": (0.50, 3_500, 0.0),
}
NAMES = list(MODELS)
VOTE = {"accept": ("accepted", "positive"), "reject": ("rejected", "negative"),
        "needs_work": ("partially_accepted", "partial")}


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


class Gen:
    """Deterministic synthetic runs: an escalation ladder of 1-3 models, then an observer verdict."""

    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.n = 0

    def run(self, run_id: str, t: float) -> list[dict]:
        rng = self.rng
        task = TASKS[rng.randrange(len(TASKS))]
        ladder = rng.sample(NAMES, rng.choice((1, 1, 2, 2, 3)))
        rows: list[dict] = []
        word = "reject"
        for k, model in enumerate(ladder):
            quality, latency, price = MODELS[model]
            rows.append({"run_id": run_id, "task_type": task, "model_name": model, "timestamp": t + k * 20,
                         "model_role": "primary" if k == 0 else "escalation",
                         "latency_ms": round(rng.lognormvariate(0, 0.5) * latency, 1),
                         "cost_usd": round(price * rng.uniform(0.5, 1.5), 6)})
            if rng.random() < quality:
                word = "accept" if rng.random() < 0.85 else "needs_work"
                break
        rows.append({"run_id": run_id, "task_type": task, "model_name": rows[-1]["model_name"],
                     "timestamp": t + len(rows) * 20 + 5,
                     "signals": {"verdict": word, "verdict_source": "observer", "confidence": 0.9}})
        return rows


def _iso(epoch: float) -> str:
    return (T0 + timedelta(seconds=epoch)).isoformat()


def bulk_build(store: Store, total_rows: int, gen: Gen) -> tuple[int, int]:
    """Insert ``total_rows`` evidence rows with their runs and scores directly. Returns (rows, runs)."""
    version = load_rules().version
    now = datetime.now(UTC).isoformat()
    ev: list[tuple] = []
    runs: list[tuple] = []
    scores: list[tuple] = []
    n_rows = n_runs = 0

    def flush() -> None:
        with store.write() as db:
            db.conn.executemany(
                "INSERT INTO evidence(record_id, stream, run_key, run_id, task_type, model_name, ts, ts_epoch, "
                "source_file, line_offset, sig_hash, data, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ev)
            db.conn.executemany(
                "INSERT INTO runs(run_key, run_id, join_method, task_type, first_epoch, last_epoch, record_count, "
                "updated_at) VALUES (?, ?, 'run_id', ?, ?, ?, ?, ?)", runs)
            db.conn.executemany(
                "INSERT INTO scores(run_key, category, reasons, votes, scorer_version, scored_at, evidence_count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", scores)
        ev.clear(), runs.clear(), scores.clear()

    while n_rows < total_rows:
        run_id = f"b{n_runs:07d}"
        key = f"run:{run_id}"
        rows = gen.run(run_id, n_runs * 30.0)[: total_rows - n_rows]
        epochs = [r["timestamp"] for r in rows]
        for i, r in enumerate(rows):
            rid = f"{n_rows + i:024x}"
            record = {**r, "timestamp": _iso(r["timestamp"]), "record_id": rid, "stream": "evidence",
                      "provenance": {"source_file": "bench/synthetic.jsonl", "line_offset": n_rows + i,
                                     "sig_hash": rid}}
            ev.append((rid, "evidence", key, run_id, r["task_type"], r.get("model_name"), record["timestamp"],
                       T0.timestamp() + r["timestamp"], "bench/synthetic.jsonl", n_rows + i, rid,
                       orjson.dumps(record).decode(), now))
        verdict = rows[-1].get("signals")
        runs.append((key, run_id, rows[0]["task_type"], T0.timestamp() + min(epochs), T0.timestamp() + max(epochs),
                     len(rows), now))
        if verdict:
            category, vote = VOTE[verdict["verdict"]]
            detail = f"observer verdict '{verdict['verdict']}' (confidence 0.90) in evidence"
            votes = [{"signal": "observer_verdict", "vote": vote, "detail": detail,
                      "record_id": f"{n_rows + len(rows) - 1:024x}"}]
            scores.append((key, category, json.dumps([f"{detail} -> {vote}"]), json.dumps(votes), version, now,
                           len(rows)))
        n_rows += len(rows)
        n_runs += 1
        if len(ev) >= 50_000:
            flush()
            log(f"inserted {n_rows}/{total_rows} evidence rows")
    flush()
    return n_rows, n_runs


def append_rows(path: Path, count: int, gen: Gen, existing_runs: int, prefix: str = "new", seed: int = 99) -> None:
    """``count`` native rows: new runs, rows joining existing runs, and human overrides."""
    rng = random.Random(seed)
    out: list[dict] = []
    fresh = 0
    while len(out) < count:
        pick = rng.random()
        t = (existing_runs + fresh) * 30.0
        if pick < 0.80:
            out += gen.run(f"{prefix}{fresh:07d}", t)
            fresh += 1
        elif pick < 0.95:
            run_id = f"b{rng.randrange(existing_runs):07d}"
            model = rng.choice(NAMES)
            out.append({"run_id": run_id, "task_type": rng.choice(TASKS), "model_name": model, "timestamp": t,
                        "latency_ms": 2000.0 + rng.randrange(5000), "cost_usd": 0.001})
        else:
            out.append({"run_id": f"b{rng.randrange(existing_runs):07d}", "timestamp": t,
                        "human_override": {"category": rng.choice(["accepted", "rejected"]),
                                           "reason": "bench override", "reviewer": "bench"}})
    with open(path, "wb") as handle:
        for row in out[:count]:
            handle.write(orjson.dumps({**row, "timestamp": _iso(row["timestamp"])}) + b"\n")


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def write_section(body: str) -> None:
    """This benchmark's section of docs/benchmarks.md (the shared writer leaves the others alone)."""
    _common.write_section(SECTION, body)


def timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    log(f"{label}: {seconds:.2f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows inserted in bulk")
    parser.add_argument("--append", type=int, default=10_000, help="rows appended through collect + score")
    parser.add_argument("--workdir", type=Path, help="keep the store here (default: a temporary folder)")
    parser.add_argument("--verify", action="store_true", help="rebuild after the append and compare")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = open_store(workdir / "bench.db")
    gen = Gen()
    (rows, runs), build_s = timed("bulk insert", bulk_build, store, args.rows, gen)
    full, full_s = timed("full refresh", refresh_ledger, store)
    _, noop_s = timed("no-op refresh", refresh_ledger, store)
    src = workdir / "evidence.jsonl"
    append_rows(src, args.append, gen, runs)
    _, collect_s = timed("collect append", collect_paths, store, Settings(db_path=store.path, roots=[workdir]),
                         [str(src)])
    scored, score_s = timed("score append", score_runs, store, load_rules())
    inc, inc_s = timed("incremental refresh", refresh_ledger, store)
    small = max(1, args.append // 10)  # a 10x smaller append: the refresh time should follow it
    src_small = workdir / "small" / "evidence.jsonl"  # the native adapter recognises the name "evidence"
    src_small.parent.mkdir(exist_ok=True)
    append_rows(src_small, small, Gen(seed=7), runs, prefix="more", seed=7)
    collect_paths(store, Settings(db_path=store.path, roots=[workdir]), [str(src_small)])
    score_runs(store, load_rules())
    inc_small, inc_small_s = timed("incremental refresh (small append)", refresh_ledger, store)
    figures = {
        "evidence_rows": rows + args.append, "runs": runs, "bulk_insert_s": round(build_s, 2),
        "full_refresh_s": round(full_s, 2), "full_rows_per_s": round(full["evidence_rows_read"] / full_s),
        "noop_refresh_ms": round(noop_s * 1000, 2), "appended_rows": args.append,
        "collect_append_s": round(collect_s, 2), "score_append_s": round(score_s, 2),
        "scored_runs": scored["scored"], "incremental_refresh_s": round(inc_s, 3),
        "incremental_runs": inc["runs_refreshed"], "incremental_changed_runs": inc["changed_runs"],
        "small_append_rows": small, "small_incremental_refresh_s": round(inc_small_s, 3),
        "small_incremental_runs": inc_small["runs_refreshed"],
        "entries": inc["entries_total"], "machine": machine(),
    }
    if args.verify:
        before = [e.model_dump(mode="json") for e in ledger_entries(store, refresh=False)]
        _, rebuild_s = timed("verify rebuild", refresh_ledger, store, rebuild=True)
        figures["rebuild_after_append_s"] = round(rebuild_s, 2)
        figures["incremental_equals_rebuild"] = before == [e.model_dump(mode="json")
                                                           for e in ledger_entries(store, refresh=False)]
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    db_mb = (workdir / "bench.db").stat().st_size / 1e6
    figures["store_mb"] = round(db_mb, 1)
    command = "python bench/ledger.py" + ("" if args.rows == 1_000_000 else f" --rows {args.rows}") + (
        "" if args.append == 10_000 else f" --append {args.append}") + (" --verify" if args.verify else "")
    print(f"evidence rows        {figures['evidence_rows']:>12,}  ({runs:,} runs, {figures['entries']} entries)")
    print(f"bulk insert          {build_s:>10.2f} s")
    print(f"full refresh         {full_s:>10.2f} s  ({figures['full_rows_per_s']:,} rows/s)")
    print(f"no-op refresh        {noop_s * 1000:>10.2f} ms")
    print(f"append {args.append:,} rows: collect {collect_s:.2f} s, score {score_s:.2f} s "
          f"({scored['scored']} runs)")
    print(f"incremental refresh  {inc_s:>10.3f} s  ({inc['runs_refreshed']} runs recomputed, "
          f"{inc['changed_runs']} with changed scores)")
    print(f"incremental refresh  {inc_small_s:>10.3f} s  after a {small:,}-row append "
          f"({inc_small['runs_refreshed']} runs recomputed)")
    print(f"peak memory          {figures['peak_rss_mb']:>10.0f} MB")
    if args.verify:
        print(f"rebuild after append {figures['rebuild_after_append_s']:>10.2f} s  identical: "
              f"{figures['incremental_equals_rebuild']}")
    print(f"command: .venv/bin/{command}")
    if not args.no_write:
        verify_line = (f"| rebuild after the append (check) | {figures['rebuild_after_append_s']} s; incremental result "
                       f"identical: {figures['incremental_equals_rebuild']} |\n" if args.verify else "")
        inc_detail = f"{inc['runs_refreshed']} runs recomputed, {inc['changed_runs']} with changed scores"
        write_section(f"""
Written by `bench/ledger.py` ({machine()}, store {figures['store_mb']} MB). Reproduce:
`.venv/bin/{command}`

The {rows:,} base evidence rows ({runs:,} runs: 1-3 model calls with latency and cost, then an observer
verdict; {len(TASKS)} task types x {len(MODELS)} models) are inserted **directly** into the evidence, runs and
scores tables in bulk (valid EvidenceRecord JSON, scores as the scorer would write them) to save the
collector's time. The {args.append:,} appended rows take the real path: an evidence.jsonl collected with
`collect_paths` and scored with `score_runs` (80% new runs, 15% rows joining existing runs, 5% human
overrides re-scoring existing runs).

| step | time |
|---|---|
| bulk insert of {rows:,} rows (setup, not the ledger) | {build_s:.1f} s |
| **full refresh** (first build, {rows:,} rows) | **{full_s:.1f} s** ({figures['full_rows_per_s']:,} rows/s) |
| no-op refresh (nothing new) | {noop_s * 1000:.1f} ms |
| collect {args.append:,} appended rows | {collect_s:.2f} s |
| score the affected runs ({scored['scored']}) | {score_s:.2f} s |
| **incremental refresh** after the append | **{inc_s:.3f} s** ({inc_detail}) |
| incremental refresh after a further {small:,}-row append | {inc_small_s:.3f} s ({inc_small['runs_refreshed']} runs recomputed) |
{verify_line}
Peak memory of the whole benchmark process: {figures['peak_rss_mb']} MB. The incremental refresh reads
only evidence above the high-water mark and the runs the score / run
triggers marked dirty, subtracts their previous contribution and adds the new one, so its time follows
the appended rows (compare the two appends), not the {rows:,} already there. A full refresh is needed
only for the first build, after `rebuild=True`, or when `[ledger]` of models.toml changes.
""")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
