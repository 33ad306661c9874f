"""Render time of every dashboard page on a store of 100k runs.

    .venv/bin/python bench/dashboard.py                    # 100k runs, writes docs/benchmarks.md
    .venv/bin/python bench/dashboard.py --runs 20000 --no-write

How the store is built: runs from bench/ledger.py's generator (1-3 model calls with latency and cost,
then an observer verdict; 5% of runs get no verdict, so they wait in the review queue) are written to
one evidence.jsonl and go through the core's own bulk paths: ``collect_paths``, ``score_runs``,
``extract_playbooks`` + ``index_playbooks`` (real embedder), ``refresh_ledger``, ``export_dataset``,
and two ``run_drift`` snapshots of a small git repository. The store is kept in bench/.cache/ and
reused (``--rebuild`` makes it again).

Each page is requested in process through the ASGI app (Starlette's TestClient: routing, the core's
queries, template rendering; no socket), once to warm up and then ``--repeat`` times; the median and
the worst are reported. Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Dashboard"
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402
from bench.ledger import Gen, _iso  # noqa: E402
from mcp_distill.collect.collector import collect_paths  # noqa: E402
from mcp_distill.collect.runs import RunQuery, query_runs  # noqa: E402
from mcp_distill.config import Settings  # noqa: E402
from mcp_distill.datasets.build import export_dataset  # noqa: E402
from mcp_distill.drift.snapshots import run_drift  # noqa: E402
from mcp_distill.ledger.routing import refresh_ledger  # noqa: E402
from mcp_distill.score import load_rules, score_runs  # noqa: E402
from mcp_distill.search.embed import OnnxMiniLM  # noqa: E402
from mcp_distill.search.playbooks import extract_playbooks, index_playbooks  # noqa: E402
from mcp_distill.stats import store_stats  # noqa: E402
from mcp_distill.store import open_store  # noqa: E402

log = _common.log
PRD = "# Phase 1\n- [x] Parser in `src/parse.py` with `parse_claims`\n- [x] `GET /v1/items` answers\n- [ ] `docs/guide.md`\n"


def _jsonl(path: Path, runs: int) -> int:
    """The generator's runs as native evidence lines; 5% lose their verdict (no outcome: human review)."""
    gen, rng, lines = Gen(seed=7), random.Random(7), 0
    with path.open("wb") as out:
        for n in range(runs):
            rows = gen.run(f"d{n:07d}", n * 30.0)
            if rng.random() < 0.05:
                rows = rows[:-1]
            for r in rows:
                r = {**r, "timestamp": _iso(r["timestamp"]), "stream": "evidence",
                     "input_text": f"task {n % 997}: review the change to module {n % 89}",
                     "output_text": f"attempt by {r['model_name']}"}
                out.write(orjson.dumps(r) + b"\n")
                lines += 1
    return lines


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.invalid", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-C", str(repo), *args], check=True, env=env,
                   capture_output=True)


def _drift(store, settings: Settings, root: Path) -> None:
    repo = root / "repo"
    (repo / "src").mkdir(parents=True, exist_ok=True)
    (repo / "src" / "parse.py").write_text("def parse_claims(text):\n    return []\n")
    (repo / "src" / "server.py").write_text('ROUTES = {"/v1/items": None}\n')
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    (repo / "src" / "parse.py").unlink()
    _git(repo, "commit", "-qam", "two")
    (root / "PRD.md").write_text(PRD)
    run_drift(store, settings, root / "PRD.md", repo, rev="HEAD~1")
    run_drift(store, settings, root / "PRD.md", repo, rev="HEAD")


def build(root: Path, runs: int) -> tuple[Settings, dict[str, float]]:
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings(db_path=root / "distill.db", roots=[root])
    steps: dict[str, float] = {}
    t = time.perf_counter()
    lines = _jsonl(root / "evidence.jsonl", runs)
    steps["generate"] = time.perf_counter() - t
    with open_store(settings.db_path) as store:
        for name, work in (
                ("collect", lambda: collect_paths(store, settings, [str(root / "evidence.jsonl")])),
                ("score", lambda: score_runs(store, load_rules(None))),
                ("playbooks", lambda: (extract_playbooks(store), index_playbooks(store, OnnxMiniLM()))),
                ("ledger", lambda: refresh_ledger(store)),
                ("export", lambda: export_dataset(store, kind="all", out_dir=root / "exports")),
                ("drift", lambda: _drift(store, settings, root))):
            t = time.perf_counter()
            work()
            steps[name] = time.perf_counter() - t
            log(f"  {name}: {steps[name]:.1f} s")
    log(f"built {runs:,} runs from {lines:,} lines")
    return settings, steps


def pages(settings: Settings) -> dict[str, str]:
    with open_store(settings.db_path) as store:
        middle, total = query_runs(store, RunQuery(sort="time", limit=1, offset=store_stats(store)["runs"] // 2))
        model = middle[0]["models"][0] if middle[0]["models"] else ""
    last = -(-total // 50)
    return {"overview": "/", "runs (page 1)": "/runs", f"runs (last page, {last:,})": f"/runs?page={last}",
            "runs (model + category filter)": f"/runs?model={model}&category=rejected",
            "runs (sorted by category)": "/runs?sort=category&order=asc",
            "run detail": f"/runs/{middle[0]['run_key']}", "review queue": "/review",
            "playbooks (list)": "/playbooks", "playbooks (hybrid search)": "/playbooks?q=review+the+change+to+module",
            "ledger": "/ledger", "drift": "/drift", "datasets": "/datasets"}


def measure(settings: Settings, repeat: int) -> list[tuple[str, float, float, int]]:
    from starlette.testclient import TestClient

    from mcp_distill.dashboard import dashboard_app

    out = []
    with TestClient(dashboard_app(settings), base_url="http://127.0.0.1") as client:
        for name, url in pages(settings).items():
            first = client.get(url)
            if first.status_code != 200:
                raise SystemExit(f"{url} answered {first.status_code}: {first.text[:300]}")
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                client.get(url)
                times.append(time.perf_counter() - t)
            out.append((name, statistics.median(times), max(times), len(first.content)))
            log(f"  {name:<36} median {out[-1][1] * 1000:7.1f} ms  worst {out[-1][2] * 1000:7.1f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    root = _common.CACHE_DIR / f"dashboard-{args.runs}"
    steps: dict[str, float] = {}
    if args.rebuild or not (root / "distill.db").exists():
        if root.exists():
            subprocess.run(["rm", "-rf", str(root)], check=True)
        settings, steps = build(root, args.runs)
    else:
        settings = Settings(db_path=root / "distill.db", roots=[root])
    load_before = os.getloadavg()
    results = measure(settings, args.repeat)
    load_after = os.getloadavg()
    with open_store(settings.db_path) as store:
        stats = store_stats(store)
    figures = {"runs": stats["runs"], "evidence": stats["evidence"], "playbooks": stats.get("playbooks"),
               "pages": {n: {"median_ms": round(m * 1000, 1), "worst_ms": round(w * 1000, 1), "bytes": b}
                         for n, m, w, b in results},
               "load": [round(x, 1) for x in (*load_before, *load_after)], "build_s": {k: round(v, 1) for k, v in steps.items()}}
    command = "python bench/dashboard.py" + ("" if args.runs == 100_000 else f" --runs {args.runs}")
    print(f"# reproduce: .venv/bin/{command}")
    if not args.no_write:
        rows = "\n".join(f"| {n} | {m * 1000:,.0f} ms | {w * 1000:,.0f} ms | {b / 1024:,.0f} KB |" for n, m, w, b in results)
        build_line = (", ".join(f"{k} {v:.0f} s" for k, v in steps.items()) if steps else "reused from bench/.cache")
        _common.write_section(SECTION, f"""
`.venv/bin/{command}` ({_common.machine()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after:
the machine was shared, so times are upper bounds)

A store of {stats['runs']:,} runs ({stats['evidence']:,} evidence rows, {stats.get('playbooks', 0)} playbooks, a
ledger, an export and two drift snapshots) built through the core's own paths (collect, score, extract +
index, ledger refresh, export, drift; {build_line}). Each page is rendered in process through the ASGI
app ({args.repeat} timed requests after one warm-up; routing, the core's queries and the templates, no socket).

| page | median | worst | size |
|---|---|---|---|
{rows}
""")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
