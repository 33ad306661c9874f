"""Dataset Builder throughput: N scored runs through the SFT, preference and RAG exports.

    .venv/bin/python bench/export.py                 # 100k runs, writes the "Export" section of docs/benchmarks.md
    .venv/bin/python bench/export.py --runs 20000 --no-write

Builds a synthetic store the way a user's would be built: a generated ``evidence.jsonl`` in the
native evidence shape goes through ``collect_paths``, every run is scored by ``score_runs`` with the
shipped rules, then ``export_dataset(kind="all")`` runs in a child process (so its peak RSS is its
own) and again for the byte-identity check. Runs come in tasks of four (same file and task type:
accepted / rejected / partially accepted / no signal mixes), a tenth carry two attempts accepted
on the second, a fiftieth a consensus split, 1 % a planted secret and 3 % an exact copy of
another run's answer, so every path of the exporter (mining, redaction, dedup) is exercised.

stdout: the figures, then one JSON line. The build is timed but not part of the target (< 30 s
for the export on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402
from mcp_distill.collect.collector import collect_paths  # noqa: E402
from mcp_distill.config import Settings  # noqa: E402
from mcp_distill.score import load_rules, score_runs  # noqa: E402
from mcp_distill.store import open_store  # noqa: E402

SECTION = "Export"
SEED = 20261128
TASK_TYPES = ("codereview", "refactor", "bugfix", "docs", "pr_audit")
SECRETS = ("export OPENAI_API_KEY=sk-proj-4fG7hJ2kL9mN3pQ8rS5tV1wX6yZ0aB2cD4eF",
           "postgres://app:S3cr3t-Passw0rd@db.internal:5432/app", "mail ops.lead@example.com for access",
           "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0")
VERDICTS = {"accepted": {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9},
            "rejected": {"verdict": "reject", "verdict_source": "observer", "confidence": 0.85},
            "partial": {"verdict": "needs_work", "verdict_source": "observer", "confidence": 0.8},
            "none": {}}


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def vocabulary(rng: random.Random, n: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(n)]


def generate(path: Path, runs: int) -> int:
    """Write the evidence file; returns the number of records."""
    rng = random.Random(SEED)
    vocab = vocabulary(rng)

    def text(words: int) -> str:
        return " ".join(rng.choices(vocab, k=words))

    plan = ("accepted", "rejected", "accepted", "partial", "accepted", "none", "rejected", "accepted")
    records = 0
    answers: list[str] = []
    with open(path, "wb") as out:
        for i in range(runs):
            task = i // 4
            kind = plan[(i + task) % len(plan)]
            ts = 1_767_225_600 + i * 60
            base = {"run_id": f"r{i:06d}", "task_type": TASK_TYPES[task % len(TASK_TYPES)], "model_name": f"m{i % 7}",
                    "file_path": f"src/pkg{task % 97}/mod{task}.py"}
            prompt = f"Review src/pkg{task % 97}/mod{task}.py and propose a patch.\n{text(90)}"
            answer = text(70)
            if answers and rng.random() < 0.03:
                answer = rng.choice(answers)  # an exact copy of an earlier answer
            elif rng.random() < 0.01:
                answer += "\n" + SECRETS[i % len(SECRETS)]
            if len(answers) < 1000:
                answers.append(answer)
            rows = []
            if kind == "accepted" and i % 10 == 0:  # two attempts, accepted on the second
                rows.append({**base, "timestamp": ts, "input_text": prompt, "output_text": text(40),
                             "model_role": "primary", "extra": {"attempt": 1}})
                rows.append({**base, "timestamp": ts + 20, "input_text": prompt, "output_text": answer,
                             "model_role": "escalation", "extra": {"attempt": 2},
                             "signals": {**VERDICTS[kind], "attempts": 2, "accepted_on_attempt": 2}})
            else:
                rows.append({**base, "timestamp": ts, "input_text": prompt, "output_text": answer,
                             "text": text(30) if i % 3 == 0 else None, "signals": VERDICTS[kind]})
            if i % 50 == 7:
                rows.append({**base, "stream": "audit_discrepancies", "timestamp": ts + 30, "task_id": f"PR#{i}/claim0",
                             "input_text": text(12), "output_text": text(15), "extra": {"rejected": text(15)},
                             "signals": {"verdict": "verified", "verdict_source": "consensus", "votes_for": 2,
                                         "votes_against": 1}})
            for row in rows:
                out.write(json.dumps({k: v for k, v in row.items() if v is not None}).encode() + b"\n")
            records += len(rows)
    return records


def _children_peak_rss(stop: threading.Event, peak: list[float]) -> None:
    """Peak RSS (VmHWM) of this process's children, i.e. the validator, sampled from /proc."""
    me = os.getpid()
    while not stop.wait(0.2):
        try:
            kids = open(f"/proc/{me}/task/{me}/children").read().split()  # noqa: SIM115
            for pid in kids:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]) / 1024)
        except OSError:
            continue


def export_child(db: str, out: str) -> None:
    """Run in a child process: one export, its figures as JSON on stdout."""
    from mcp_distill.datasets.build import export_dataset

    store = open_store(db)
    load_before = os.getloadavg()[0]
    stop, peak = threading.Event(), [0.0]
    sampler = threading.Thread(target=_children_peak_rss, args=(stop, peak), daemon=True)
    sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = export_dataset(store, "all", out, command="bench/export.py")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    stop.set()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN)  # the validator process, waited for by the export
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "validator_cpu_seconds": child.ru_utime + child.ru_stime,
                      "validator_peak_rss_mb": peak[0], "peak_rss_mb": peak_mb,
                      "load": [round(load_before, 2), round(os.getloadavg()[0], 2)], "result": result}))


def run_export(db: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(db), str(out)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"export failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_section(body: str) -> None:
    """This benchmark's section of docs/benchmarks.md (the shared writer leaves the others alone)."""
    _common.write_section(SECTION, body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--child", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        export_child(*args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        src = work / "src" / "evidence.jsonl"
        src.parent.mkdir()
        t0 = time.perf_counter()
        records = generate(src, args.runs)
        t_gen = time.perf_counter() - t0
        log(f"generated {records} records for {args.runs} runs in {t_gen:.1f} s")
        db = work / "distill.db"
        store = open_store(db)
        t0 = time.perf_counter()
        collect_paths(store, Settings(db_path=db, roots=[work]), [str(src)])
        t_collect = time.perf_counter() - t0
        log(f"collected in {t_collect:.1f} s")
        t0 = time.perf_counter()
        scored = score_runs(store, load_rules())
        t_score = time.perf_counter() - t0
        log(f"scored {scored['scored']} runs in {t_score:.1f} s: {scored['by_category']}")
        store.close()
        first = run_export(db, work / "out1")
        log(f"export 1: {first['seconds']:.1f} s ({first['cpu_seconds']:.1f} + {first['validator_cpu_seconds']:.1f} s CPU), "
            f"load {first['load']}")
        second = run_export(db, work / "out2")
        log(f"export 2: {second['seconds']:.1f} s ({second['cpu_seconds']:.1f} + {second['validator_cpu_seconds']:.1f} s CPU), "
            f"load {second['load']}")
        files = first["result"]["files"]
        identical = all((work / "out1" / rel).read_bytes() == (work / "out2" / rel).read_bytes() for rel in files)
    res = first["result"]
    counts = res["counts"]
    dups = {k: v for k, v in counts.items() if "_duplicates_" in k}
    figures = {
        "runs": args.runs, "records": records, "by_category": scored["by_category"],
        "build_s": {"generate": round(t_gen, 1), "collect": round(t_collect, 1), "score": round(t_score, 1)},
        "export_s": [round(first["seconds"], 1), round(second["seconds"], 1)],
        "cpu_s": [round(first["cpu_seconds"], 1), round(second["cpu_seconds"], 1)],
        "validator_cpu_s": [round(first["validator_cpu_seconds"], 1), round(second["validator_cpu_seconds"], 1)],
        "validator_peak_rss_mb": round(max(first["validator_peak_rss_mb"], second["validator_peak_rss_mb"])),
        "load": [first["load"], second["load"]],
        "runs_per_s": round(args.runs / min(first["seconds"], second["seconds"])),
        "peak_rss_mb": round(max(first["peak_rss_mb"], second["peak_rss_mb"])),
        "rows": {rel: f["rows"] for rel, f in files.items()}, "duplicates": dups,
        "redactions": res["redactions"], "validation_ok": res["validation"]["ok"], "byte_identical": identical,
        "cpus": os.cpu_count(), "python": sys.version.split()[0],
    }
    command = "`.venv/bin/python bench/export.py" + (f" --runs {args.runs}`" if args.runs != 100_000 else "`")
    rows = "\n".join(f"| `{rel}` | {n:,} |" for rel, n in figures["rows"].items())
    cats = ", ".join(f"{k} {v:,}" for k, v in sorted(scored["by_category"].items()))
    body = f"""Reproduce: {command} ({figures['cpus']} cores, Python {figures['python']}). Target: all three
exports of 100k scored runs in under 30 s on 2 cores.

{args.runs:,} runs ({records:,} native evidence records; {cats}) built through
`collect_paths` ({t_collect:.1f} s) and `score_runs` ({t_score:.1f} s), then `export_dataset(kind="all")` in a
fresh process, twice:

| figure | value |
|---|---|
| export wall time (1st, 2nd run) | {figures['export_s'][0]} s, {figures['export_s'][1]} s |
| CPU: exporting process (1st, 2nd) | {figures['cpu_s'][0]} s, {figures['cpu_s'][1]} s |
| CPU: validator process, in parallel (1st, 2nd) | {figures['validator_cpu_s'][0]} s, {figures['validator_cpu_s'][1]} s |
| machine load average (start, end of each run) | {figures['load'][0]}, {figures['load'][1]} |
| throughput (best wall time) | {figures['runs_per_s']:,} runs/s |
| peak RSS: exporting process, validator process | {figures['peak_rss_mb']} MB, {figures['validator_peak_rss_mb']} MB |
| validator | {'passed' if figures['validation_ok'] else 'FAILED'} (runs inside every export) |
| two exports byte-identical | {'yes' if identical else 'NO'} |
| duplicates dropped | {', '.join(f'{k} {v:,}' for k, v in dups.items()) or 'none'} |
| secrets redacted | {', '.join(f'{k} {v:,}' for k, v in res['redactions'].items()) or 'none'} |

| file | rows |
|---|---|
{rows}

The wall time includes redaction (each distinct text scanned once), the MinHash dedup (each
distinct text hashed once), schema validation, the fsync of each file and the validator, which
runs in a second process while the files are written (it re-reads every provenance line and every
run's category, re-validates every row, and re-scans every text the redaction pass did not already
prove clean). The exporting process is the critical path: on an otherwise idle 2-core machine the
wall time is about its CPU time; a load average above 2 means other jobs shared the cores and the
wall time grew accordingly. Memory: runs are read a page at a time and rows written as they come;
what grows is the dedup index (about 2 KB per kept distinct text) and the scratch SQLite file of
cross-run pair candidates (on disk).
"""
    print(body)
    print(json.dumps(figures))
    if not args.no_write:
        write_section(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
