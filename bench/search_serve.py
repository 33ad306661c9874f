"""Memory of a process that only serves searches (bench/search.py's server-side RSS).

The benchmark process itself also holds the corpus, the pool of embeddings, the query list and, while
building, the synthetic documents, so its own RSS bounds a server's from above but does not measure it.
This runs a fresh interpreter that does what ``mcp-distill serve`` does for a search: open the store,
load the ONNX model, answer searches (every mode and filter, so the in-memory codes, the int8 vectors
and SQLite's page cache are all in use); it reports its resident memory after opening, after the
searches and at its peak (Linux /proc).

    .venv/bin/python bench/search_serve.py bench/.cache/search_1000000_v4_s7.db < queries.json
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _status_mb() -> dict[str, float]:
    lines = Path("/proc/self/status").read_text().splitlines()
    status = dict(line.split(":", 1) for line in lines if ":" in line)
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM") if key in status}


def serve(path: Path, queries: list[str], filters: list[dict[str, Any]], k: int) -> dict[str, float]:
    """Open the store at ``path``, answer every query in every mode under every filter; memory in MB."""
    from mcp_distill.search.embed import OnnxMiniLM
    from mcp_distill.search.index import Index
    from mcp_distill.store import open_store

    with open_store(path) as store:
        index = Index(store, OnnxMiniLM(), "playbooks")
        index.search(queries[0], k=k, mode="keyword")  # the model and the store opened, no vector leg yet
        opened = _status_mb()["VmRSS"]
        index.search(queries[0], k=k, mode="semantic")  # the in-memory codes loaded
        loaded = _status_mb()
        for f in filters:
            for q in queries:
                for mode in ("keyword", "semantic", "hybrid"):
                    index.search(q, k=k, mode=mode, **f)  # type: ignore[arg-type]
        mb = _status_mb()
    return {"opened": opened, "loaded": loaded["VmRSS"], "loaded_peak": loaded["VmHWM"], "rss": mb["VmRSS"],
            "peak": mb["VmHWM"], "searches": 3.0 * len(filters) * len(queries)}


def server_rss(path: Path, queries: list[str], filters: list[dict[str, Any]], k: int) -> dict[str, float]:
    """:func:`serve` in a fresh interpreter (nothing of the caller's memory counted)."""
    done = subprocess.run([sys.executable, __file__, str(path), "--k", str(k)], check=True, capture_output=True,
                          text=True, input=json.dumps({"queries": queries, "filters": filters}))
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_line(n: int, got: dict[str, float]) -> str:
    return (f"Server-side memory at {n:,} documents (bench/search_serve.py: a fresh process opening the store and "
            f"answering {got['searches']:.0f} searches, every mode and filter): RSS {got['opened']:.0f} MB with the "
            f"store and model open, {got['loaded']:.0f} MB with the codes loaded (peak {got['loaded_peak']:.0f} MB by then), "
            f"{got['rss']:.0f} MB after the searches, peak {got['peak']:.0f} MB "
            f"(target < 1 GB: {_met(got['rss'])} after the searches, {_met(got['peak'])} at the peak).")


def _met(mb: float) -> str:
    return "met" if mb < 1024 else "not met"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    given = json.loads(sys.stdin.read())
    print(json.dumps(serve(args.store, given["queries"], given["filters"], args.k)))
