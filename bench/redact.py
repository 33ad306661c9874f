"""Micro-benchmark of the two export-time filters: redaction and duplicate detection.

Every exported row goes through ``mcp_distill.redact.scrub`` and ``mcp_distill.datasets.neardup``, so their
throughput bounds export speed. Rows are synthetic agent-loop text (~1 KB of prose, code and log
lines, a planted secret in 5 % of them, and 10 % edited copies for the dedup pass), generated from a
fixed seed so runs compare. The adversarial section times 1 MB of each pathological input that the
redaction patterns were designed against (the figure must grow linearly with the size).

    .venv/bin/python bench/redact.py                 # 20k rows for redaction, 100k for dedup
    .venv/bin/python bench/redact.py --rows 5000 --dedup-rows 20000 --no-adversarial
    .venv/bin/python bench/redact.py --false-change   # ordinary text: share of tokens redaction changes
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import machine, write_section  # noqa: E402
from mcp_distill.datasets.neardup import DedupIndex  # noqa: E402
from mcp_distill.redact.measure import corpus_texts, token_change  # noqa: E402
from mcp_distill.redact.scrub import Redactor, find_secrets, redact  # noqa: E402

_LINES = [
    "The agent opened {f} and replaced the retry loop with exponential backoff.",
    "def {f}(self, rows: list[dict[str, Any]], *, limit: int = 100) -> Iterator[Row]:",
    "    token = None  # filled in by the caller",
    "2024-05-01T12:00:{n:02d}Z INFO collector appended {n} lines to runs.jsonl (offset {n}42)",
    "    api_key=os.environ['API_KEY'], timeout=30, retries=3,",
    "Tests: {n} passed, 0 failed in {n}.{n}s; commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    'request_id = "123e4567-e89b-12d3-a456-426614174000"  # for the log line',
    "See https://docs.example.com/guide/{f}#section-{n} for the reasoning behind the change.",
    "password: str | None = None",
    "    self.secret_key = secret_key",
]


def _rand(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n - 1)) + "7"


def _secret(rng: random.Random) -> str:
    return rng.choice(
        [
            lambda: f"export OPENAI_API_KEY=sk-{_rand(rng, 48)}",
            lambda: f"GH_TOKEN=ghp_{_rand(rng, 36)}",
            lambda: f'password = "{_rand(rng, 14)}!"',
            lambda: f"DATABASE_URL=postgres://app:{_rand(rng, 16)}@db:5432/app",
            lambda: f"contact ops-{rng.randrange(999)}@example.com",
            lambda: f"Authorization: Bearer {_rand(rng, 40)}",
        ]
    )()


def make_rows(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    names = [f"{rng.choice(['load', 'parse', 'score', 'export'])}_{rng.randrange(10**4)}" for _ in range(500)]
    rows: list[str] = []
    for _ in range(n):
        lines = []
        while sum(len(x) + 1 for x in lines) < 1000:
            lines.append(rng.choice(_LINES).format(f=rng.choice(names), n=rng.randrange(60)))
        if rng.random() < 0.05:
            lines.insert(rng.randrange(len(lines)), _secret(rng))
        rows.append("\n".join(lines))
    return rows


def bench_redact(rows: list[str]) -> dict[str, float]:
    mb = sum(len(r) for r in rows) / 1e6
    r = Redactor()
    t = time.perf_counter()
    out = [r.redact(x) for x in rows]
    dt_redact = time.perf_counter() - t
    t = time.perf_counter()
    leftovers = sum(len(find_secrets(x)) for x in out)
    dt_find = time.perf_counter() - t
    return {
        "rows": len(rows),
        "mb": round(mb, 2),
        "redact_s": round(dt_redact, 3),
        "redact_mb_per_s": round(mb / dt_redact, 2),
        "find_secrets_mb_per_s": round(mb / dt_find, 2),
        "redacted": r.total,
        "left_after_redact": leftovers,
    }


ADVERSARIAL = [
    "a", " ", "AKIA", "a@", "a@b.", "eyJa.", "sk-a", "password=", 'password = "', "_password:",
    "http://a:", "a://b:c", "-----BEGIN RSA PRIVATE KEY-----\n", "Bearer a", "_azure_key=",
    "AccountKey=", "aaaaQ~", "Authorization: Basic ",
]  # fmt: skip


def bench_adversarial(size: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for piece in ADVERSARIAL:
        text = (piece * (size // len(piece) + 1))[:size]
        t = time.perf_counter()
        redact(text)
        out[piece.strip() or repr(piece)] = round(time.perf_counter() - t, 3)
    return out


def make_dedup_rows(n: int, seed: int = 2) -> list[tuple[str, str]]:
    """~1.1 KB rows of random words; 10 % are copies of an earlier row with one word changed."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    rows: list[tuple[str, str]] = []
    for i in range(n):
        if rows and rng.random() < 0.1:
            words = rng.choice(rows)[1].split()
            words[rng.randrange(len(words))] = "changed"
            rows.append((f"r{i}", " ".join(words)))
        else:
            rows.append((f"r{i}", " ".join(rng.choice(vocab) for _ in range(170))))
    return rows


def bench_dedup(rows: list[tuple[str, str]]) -> dict[str, float]:
    idx = DedupIndex()
    t = time.perf_counter()
    res = idx.add_many(rows)
    dt = time.perf_counter() - t
    single = DedupIndex()
    sample = rows[:10000]
    t = time.perf_counter()
    for key, text in sample:
        single.add(key, text)
    dt_single = time.perf_counter() - t
    return {
        "rows": len(rows),
        "avg_bytes": round(sum(len(x) for _, x in rows) / len(rows)),
        "add_many_s": round(dt, 2),
        "add_many_rows_per_s": round(len(rows) / dt),
        "add_rows_per_s": round(len(sample) / dt_single),
        "duplicates": sum(r is not None for r in res),
        "kept": len(idx),
    }


def bench_false_change() -> None:
    """Share of whitespace tokens redaction changes on ordinary text (the example KB, real traces)."""
    roots = [ROOT / "examples" / "lakehouse_kb"]
    real = ROOT.parent / "shared" / "data" / "real"
    roots += sorted(p for p in real.iterdir() if p.is_dir()) if real.is_dir() else []
    rows = []
    all_tokens = all_changed = 0
    for root in roots:
        t = time.perf_counter()
        tokens, changed, kinds = token_change(corpus_texts([root]))
        dt = time.perf_counter() - t
        all_tokens, all_changed = all_tokens + tokens, all_changed + changed
        top = ", ".join(f"{k} {n}" for k, n in kinds.most_common(4)) or "-"
        rows.append(f"| {root.name} | {tokens:,} | {changed:,} | {changed / max(tokens, 1):.3%} | {top} | {dt:.1f} |")
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    body = "\n".join([
        "`.venv/bin/python bench/redact.py --false-change`: every string of every record (dict keys included)",
        "of each corpus, split on whitespace; a token is changed when a found secret overlaps it. The example",
        "KB's only secrets are the generator's planted ones; the real traces hold a few real-looking test",
        "credentials (Django `SECRET_KEY='test-secret-key'`, `Password: theagentcompany`), counted as changes.",
        f"Machine: {machine()}, load average {load:.1f} (seconds are under that load).",
        "",
        "| corpus | tokens | changed | share | changed by kind | s |",
        "|---|---|---|---|---|---|",
        *rows,
        f"| **all** | {all_tokens:,} | {all_changed:,} | {all_changed / max(all_tokens, 1):.3%} | | |",
    ])
    write_section("Redaction on ordinary text", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dedup-rows", type=int, default=100000)
    ap.add_argument("--adversarial-bytes", type=int, default=1_000_000)
    ap.add_argument("--no-adversarial", action="store_true")
    ap.add_argument("--false-change", action="store_true", help="only the ordinary-text false-change table")
    args = ap.parse_args()
    if args.false_change:
        bench_false_change()
        return
    report: dict[str, object] = {"redact": bench_redact(make_rows(args.rows))}
    print("redact", report["redact"], flush=True)
    if not args.no_adversarial:
        report["adversarial_s_per_input"] = bench_adversarial(args.adversarial_bytes)
        print("adversarial", report["adversarial_s_per_input"], flush=True)
    report["dedup"] = bench_dedup(make_dedup_rows(args.dedup_rows))
    print("dedup", report["dedup"], flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
