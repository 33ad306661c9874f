"""The query embedding on its own, and how much of a search it still costs (bench/search.py --embedding).

Variants of the ONNX session run interleaved query by query (each variant its own session, all loaded
and warmed first), so load from elsewhere on the machine hits them alike:

- ``main``: the settings before this change (2 intra-op threads, no spinning, onnxruntime's default
  graph level) with each text at its real token count;
- ``padded to 256``: the same session, every text padded to the model's maximum, as a fixed-shape
  export would run it (what "bucketing to the real length" saves);
- ``1 thread`` and graph levels ``basic`` / ``extended`` / ``all``;
- ``LRU hit``: the in-process query-vector cache answering.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mcp_distill.search import index as search_index
from mcp_distill.search.embed import OnnxMiniLM
from mcp_distill.search.embed.query_cache import QUERY_VECTORS


def variants() -> dict[str, OnnxMiniLM]:
    return {
        "real length, 2 threads, level all (default)": OnnxMiniLM(),
        "padded to 256 tokens": OnnxMiniLM(pad_to=256),
        "real length, 1 thread": OnnxMiniLM(threads=1),
        "real length, level basic": OnnxMiniLM(graph_level="basic"),
        "real length, level extended": OnnxMiniLM(graph_level="extended"),
    }


def embedding_alone(queries: list[str], rounds: int, percentile: Any) -> dict[str, tuple[float, float]]:
    """Variant -> (p50, p95) ms of embedding one query, medians over rounds."""
    models = variants()
    for m in models.values():
        m.embed(queries[:5])
    per: dict[str, list[tuple[float, float]]] = {name: [] for name in [*models, "LRU hit"]}
    for q in queries[:5]:
        QUERY_VECTORS.put("bench", q, models["real length, 2 threads, level all (default)"].embed([q])[0])
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in per}
        for q in queries:
            QUERY_VECTORS.put("bench", q, np.zeros(384, np.float32))
            for name, model in models.items():
                started = time.perf_counter()
                model.embed([q])
                times[name].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            QUERY_VECTORS.get("bench", q)
            times["LRU hit"].append((time.perf_counter() - started) * 1000)
        for name, t in times.items():
            per[name].append((percentile(t, 50), percentile(t, 95)))
    QUERY_VECTORS.clear()
    return {name: (float(np.median([a for a, _ in v])), float(np.median([b for _, b in v]))) for name, v in per.items()}


def overlap_ab(index: Any, queries: list[str], k: int, rounds: int, percentile: Any
               ) -> dict[str, tuple[float, float]]:
    """Hybrid search with the embedding included: embedded first on the searching thread (before)
    vs on a worker thread while the keyword leg runs (now), interleaved; (p50, p95) ms medians."""
    per: dict[str, list[tuple[float, float]]] = {"embedded first": [], "embedded alongside the keyword leg": []}
    saved = search_index.EMBED_THREADS
    try:
        for _ in range(rounds):
            times: dict[str, list[float]] = {name: [] for name in per}
            for q in queries:
                for name, threads in (("embedded first", 0), ("embedded alongside the keyword leg", saved)):
                    search_index.EMBED_THREADS = threads
                    QUERY_VECTORS.clear()
                    started = time.perf_counter()
                    index.search(q, k=k, mode="hybrid")
                    times[name].append((time.perf_counter() - started) * 1000)
            for name, t in times.items():
                per[name].append((percentile(t, 50), percentile(t, 95)))
    finally:
        search_index.EMBED_THREADS = saved
        QUERY_VECTORS.clear()
    return {name: (float(np.median([a for a, _ in v])), float(np.median([b for _, b in v]))) for name, v in per.items()}


def embedding_lines(alone: dict[str, tuple[float, float]], ab: dict[str, tuple[float, float]] | None,
                    n: int | None, n_queries: int) -> list[str]:
    lines = [f"Query embedding alone ({n_queries} SciFact claims, one at a time, variants interleaved; p50 / p95 ms):",
             "", "| ONNX session | p50 | p95 |", "|---|---|---|"]
    lines += [f"| {name} | {a:.2f} | {b:.2f} |" for name, (a, b) in alone.items()]
    if ab:
        lines += ["", f"Hybrid search at {n:,} documents with the embedding included (LRU cleared before each "
                  "search), the two ways interleaved:", "", "| query embedding | p50 | p95 |", "|---|---|---|"]
        lines += [f"| {name} | {a:.1f} | {b:.1f} |" for name, (a, b) in ab.items()]
    return lines
