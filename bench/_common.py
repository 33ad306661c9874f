"""Shared helpers of the benchmarks: BEIR loading, IR metrics, the embedding cache, the report file.

The embedding cache is an ordinary mcp-distill store under bench/.cache/ (gitignored): its
``embed_cache`` table maps (sha256 of text, model id) to a vector, so a corpus is embedded once
per machine and every later run (and every tuning pass) reuses it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "bench" / ".cache"
BENCH_DOC = ROOT / "docs" / "benchmarks.md"

sys.path.insert(0, str(ROOT))

from mcp_distill.search.embed import CachingEmbedder, Embedder, OnnxMiniLM  # noqa: E402
from mcp_distill.store import Store, open_store  # noqa: E402


def log(*parts: object) -> None:
    """Progress goes to stderr; stdout carries the figures (and the final JSON line)."""
    print(*parts, file=sys.stderr, flush=True)


def cache_store() -> Store:
    return open_store(CACHE_DIR / "embeddings.db")


def cached_embedder(inner: Embedder | None = None) -> CachingEmbedder:
    """The default ONNX embedder behind the benchmark cache (bench/.cache/embeddings.db)."""
    return CachingEmbedder(cache_store(), inner or OnnxMiniLM())


# ----------------------------------------------------------------------------- BEIR


def load_corpus(folder: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    return out


def load_queries(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[str(row["_id"])] = row["text"]
    return out


def load_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    """query id -> {doc id: relevance}; header row skipped, relevance 0 rows ignored."""
    out: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue
            if int(row[2]) > 0:
                out.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    return out


# ----------------------------------------------------------------------------- metrics


def ndcg_at(ranked: Sequence[str], rel: dict[str, int], k: int = 10) -> float:
    """nDCG@k with linear gain (trec_eval's definition): sum rel / log2(rank + 1)."""
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], rel: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, g in rel.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# ----------------------------------------------------------------------------- report


def machine() -> str:
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} "
            f"{platform.machine()}")


def write_section(heading: str, body: str) -> None:
    """Replace (or append) the ``## heading`` section of docs/benchmarks.md, leaving others alone."""
    title = f"## {heading}"
    text = BENCH_DOC.read_text(encoding="utf-8") if BENCH_DOC.exists() else (
        "# Benchmarks\n\nEach section is written by the benchmark named in it; rerun the command shown to "
        "reproduce it.\n"
    )
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == title), None)
    block = [title, "", *body.strip("\n").splitlines(), ""]
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", *block]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = block
    BENCH_DOC.parent.mkdir(parents=True, exist_ok=True)
    BENCH_DOC.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
