"""Collector throughput and memory: N lines across the seed's streams, collected into a fresh store.

Lines are made from the example rows of every stream (examples/lakehouse_kb) used as templates: each copy gets
its own run id, timestamp and text, so nothing is deduplicated away. Each size runs in its own subprocess so
peak RSS (ru_maxrss) is that size's alone. No embeddings are involved.

    .venv/bin/python bench/collect.py --sizes 50000 500000

``--baseline CHECKOUT`` also collects the same generated lines with the code of another checkout (e.g. a
worktree of main before a change), alternating runs of the two (``--rounds``, best of each kept), so both
figures come from the same moment of the machine:

    git worktree add /tmp/base main && .venv/bin/python bench/collect.py --baseline /tmp/base

Each round also runs the bare loop of issue #19 on the same lines (orjson parse, sha1, batched insert with a
unique index, WAL, FTS5; ``--no-bare`` leaves it out), and the report gives collect's ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import log, machine, write_section  # noqa: E402

EXAMPLES = ROOT / "examples" / "lakehouse_kb"


def templates() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        rows = []
        for line in path.read_bytes().splitlines():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        out[path.name] = rows
    return out


def vary(row: dict, i: int) -> dict:
    """A distinct copy of a template row: new run id, shifted times, a marked text field."""
    copy = dict(row)
    for key in ("run_id", "llm_team_run_id"):
        if isinstance(copy.get(key), str):
            copy[key] = f"{copy[key]}-b{i}"
    for key in ("ts", "reviewed_at", "audited_at", "created_at", "extracted_at", "discovered_at", "decided_at"):
        if isinstance(copy.get(key), str) and copy[key][:4].isdigit():
            day = 1 + i % 28
            copy[key] = f"2026-05-{day:02d}T{(i // 28) % 24:02d}:{(i // 672) % 60:02d}:{i % 60:02d}Z"
    if isinstance(copy.get("sig_hash"), str):
        copy["sig_hash"] = f"{copy['sig_hash'][:8]}{i:016x}"
    if isinstance(copy.get("pr_number"), int):
        copy["pr_number"] = copy["pr_number"] + 1000 * (i + 1)
    copy["bench_seq"] = i
    return copy


def generate(folder: Path, n: int) -> int:
    tpl = templates()
    names = sorted(tpl)
    handles = {name: open(folder / name, "wb") for name in names}  # noqa: SIM115 - closed below
    try:
        written = 0
        i = 0
        while written < n:
            for name in names:
                for row in tpl[name]:
                    if written >= n:
                        break
                    handles[name].write(orjson.dumps(vary(row, i)) + b"\n")
                    written += 1
                if written >= n:
                    break
            i += 1
    finally:
        for h in handles.values():
            h.close()
    return written


CHILD = """
import json, resource, sys, time
from mcp_distill.config import Settings
from mcp_distill.collect.collector import collect_paths
from mcp_distill.store import open_store
db, folder = sys.argv[1:3]
store = open_store(db)
t0 = time.perf_counter()
result = collect_paths(store, Settings(db_path=db, roots=[folder]), [folder])
seconds = time.perf_counter() - t0
t1 = time.perf_counter()
again = collect_paths(store, Settings(db_path=db, roots=[folder]), [folder])
rerun = time.perf_counter() - t1
print(json.dumps({"lines": result.total("lines"), "inserted": result.total("inserted"),
                  "quarantined": result.total("quarantined"), "seconds": seconds,
                  "rerun_seconds": rerun, "rerun_inserted": again.total("inserted"),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


#: The bare loop issue #19 compares collect with: orjson parse, sha1 of the line, batched inserts into a
#: table with a unique index (duplicates ignored), WAL, and an FTS5 index over the line kept up to date per
#: batch; on the same SQLite build (sqlean) and batch size as the collector. Nothing of mcp_distill is
#: imported, so it is the floor of what storing these lines costs in Python, not a second implementation.
BARE = """
import json, hashlib, os, resource, sys, time
import orjson, sqlean
db, folder = sys.argv[1:3]
conn = sqlean.connect(db, isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL"); conn.execute("PRAGMA synchronous = NORMAL")
conn.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, sha1 TEXT NOT NULL UNIQUE, source_file TEXT NOT NULL, "
             "line_offset INTEGER NOT NULL, data TEXT NOT NULL)")
conn.execute("CREATE VIRTUAL TABLE records_fts USING fts5(data, content='records', content_rowid='id')")
t0 = time.perf_counter()
lines = inserted = skipped = 0
def store(rows):
    global inserted
    conn.execute("BEGIN IMMEDIATE")
    last = conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0]
    inserted += conn.executemany("INSERT OR IGNORE INTO records(sha1, source_file, line_offset, data) "
                                 "VALUES (?, ?, ?, ?)", rows).rowcount
    conn.execute("INSERT INTO records_fts(rowid, data) SELECT id, data FROM records WHERE id > ?", (last,))
    conn.execute("COMMIT")
for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    rows, offset = [], 0
    with open(path, "rb") as handle:
        for raw in handle:
            lines += 1
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError:
                row = None
            if type(row) is dict:
                rows.append((hashlib.sha1(raw).hexdigest(), path, offset, raw.decode()))
            else:
                skipped += 1
            offset += len(raw)
            if len(rows) >= 5000:
                store(rows); rows = []
    if rows:
        store(rows)
seconds = time.perf_counter() - t0
print(json.dumps({"lines": lines, "inserted": inserted, "quarantined": skipped, "seconds": seconds,
                  "rerun_seconds": 0.0, "rerun_inserted": 0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bare_once(tmp: Path, folder: Path, run: int) -> dict:
    """The bare loop over ``folder`` into a fresh SQLite file, in a subprocess of its own (its own peak RSS)."""
    out = subprocess.run([sys.executable, "-c", BARE, str(tmp / f"bare{run}.db"), str(folder)],
                         capture_output=True, text=True, check=True, cwd=tmp)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["records_per_s"] = figures["inserted"] / figures["seconds"]
    return figures


def collect_once(tmp: Path, folder: Path, code: Path, run: int) -> dict:
    """One collect of ``folder`` into a fresh store, in a subprocess importing mcp_distill from ``code``
    (``python -c`` puts its working folder first on sys.path)."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp / f"d{run}.db"), str(folder)],
                         capture_output=True, text=True, check=True, cwd=code)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["records_per_s"] = figures["inserted"] / figures["seconds"]
    return figures


def _drop(db: Path) -> None:
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def run_size(n: int, baseline: Path | None = None, rounds: int = 1,
             bare: bool = True) -> tuple[dict, dict | None, dict | None]:
    """This checkout's figures for ``n`` lines (best of ``rounds``), the baseline's and the bare loop's
    from the same lines, the three alternating within each round."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "src"
        folder.mkdir()
        t0 = time.perf_counter()
        generate(folder, n)
        log(f"generated {n:,} lines in {time.perf_counter() - t0:.1f}s; collecting...")
        mine: list[dict] = []
        base: list[dict] = []
        loop: list[dict] = []
        for r in range(rounds):
            if baseline is not None:
                base.append(collect_once(Path(tmp), folder, baseline, 3 * r))
                _drop(Path(tmp) / f"d{3 * r}.db")  # a 500k-line store is ~1 GB: one at a time on disk
            mine.append(collect_once(Path(tmp), folder, ROOT, 3 * r + 1))
            _drop(Path(tmp) / f"d{3 * r + 1}.db")
            if bare:
                loop.append(bare_once(Path(tmp), folder, 3 * r + 2))
                _drop(Path(tmp) / f"bare{3 * r + 2}.db")

    def best(figures: list[dict]) -> dict | None:
        return max(figures, key=lambda f: f["records_per_s"]) if figures else None

    return best(mine), best(base), best(loop)  # type: ignore[return-value]


def _row(label: str, n: int, f: dict) -> str:
    return (f"| {label}{n:,} | {f['records_per_s']:,.0f} | {f['seconds']:.1f} | {f['peak_rss_mb']:.0f} | "
            f"{f['quarantined']} | {f['rerun_seconds']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 500_000])
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure on the same lines (before/after)")
    parser.add_argument("--baseline-label", default="before", help="its name in the report (e.g. a commit id)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs per size; the best of each is kept")
    parser.add_argument("--no-bare", action="store_true", help="leave out the bare loop (orjson, sha1, insert, FTS5)")
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        f, base, bare = run_size(n, args.baseline, max(1, args.rounds), bare=not args.no_bare)
        rows.append((n, f, base, bare))
        for label, figures in (("", f), (f" [{args.baseline_label}]", base), (" [bare loop]", bare)):
            if figures is not None:
                print(f"{n:>9,} lines{label}: {figures['records_per_s']:>8,.0f} records/s, {figures['seconds']:.1f}s, "
                      f"peak RSS {figures['peak_rss_mb']:.0f} MB, rerun adds {figures['rerun_inserted']} in "
                      f"{figures['rerun_seconds']:.2f}s", flush=True)
        if base is not None:
            print(f"{n:>9,} lines: {f['records_per_s'] / base['records_per_s']:.2f}x {args.baseline_label}", flush=True)
        if bare is not None:
            print(f"{n:>9,} lines: ratio to the bare loop {f['records_per_s'] / bare['records_per_s']:.2f}", flush=True)
    command = "python bench/collect.py --sizes " + " ".join(str(n) for n in args.sizes)
    if args.baseline is not None:
        command += f" --baseline CHECKOUT_OF_{args.baseline_label} --baseline-label {args.baseline_label}"
    if args.rounds > 1:
        command += f" --rounds {args.rounds}"
    if args.no_bare:
        command += " --no-bare"
    print(f"reproduce: {command}")
    if not args.no_write:
        write_section("Collect", "\n".join(report(command, rows, args.baseline_label, max(1, args.rounds))))
    print(json.dumps({str(n): {"this": f, "baseline": base, "bare_loop": bare} for n, f, base, bare in rows}))


def report(command: str, rows: list[tuple[int, dict, dict | None, dict | None]], label: str, rounds: int) -> list[str]:
    """The docs/benchmarks.md section: the table, then what its rows are."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    body = [f"`{command}` on {machine()}, load average {load} at the end. Targets (#19): >= 50,000 records/s and "
            "peak RSS < 300 MB at 500,000 lines, and >= 0.75 of the bare loop's pace in the same run.", "",
            "| lines | records/s | seconds | peak RSS MB | quarantined | re-run (nothing new) s | vs bare loop |",
            "|---|---|---|---|---|---|---|"]
    for n, f, base, bare in rows:
        ratio = f"{f['records_per_s'] / bare['records_per_s']:.2f}" if bare else ""
        body.append(_row("", n, f) + f" {ratio} |")
        if base is not None:
            body.append(_row(f"{label}: ", n, base) + (f" {base['records_per_s'] / bare['records_per_s']:.2f} |"
                                                       if bare else " |"))
        if bare is not None:
            body.append(_row("bare loop: ", n, bare) + " 1.00 |")
    if any(base is not None for _, _, base, _ in rows):
        body += ["", f"Rows marked {label} are the same generated lines collected with the baseline checkout; "
                 f"the runs alternate ({rounds} of each, best kept), so all rows come from the same moment of the "
                 "machine."]
    if any(bare is not None for *_, bare in rows):
        body += ["", "The bare loop reads the same lines with orjson, keys each by the sha1 of the line, inserts "
                 "batches of 5,000 into a table with a unique index (duplicates ignored) and keeps an FTS5 index over "
                 "the line per batch, in WAL mode on the same SQLite build: no adapters, validation, run joins, "
                 "quarantine or resumable offsets. Its quarantined column counts lines that are not JSON objects."]
    body += ["", "Lines are the example rows of all 22 seed streams used as templates (new run ids, times, texts), "
             "so every line becomes a record; malformed example lines stay malformed and are quarantined. "
             "Each size runs in a fresh subprocess and store; peak RSS is that process's ru_maxrss."]
    return body


if __name__ == "__main__":
    main()
