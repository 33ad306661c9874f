"""The main job, ``mcp-distill run``: every stage in order, each writing its own receipt.

Stages: collect -> score -> playbooks (extract + index) -> ledger -> exports.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.datasets import export_dataset
from mcp_distill.errors import NotFoundError
from mcp_distill.ledger import refresh_ledger
from mcp_distill.progress import Progress
from mcp_distill.score import ScoringRules, score_runs
from mcp_distill.search import Embedder, extract_playbooks, index_playbooks
from mcp_distill.stats import store_stats
from mcp_distill.store import Store


def run_pipeline(store: Store, settings: Settings, rules: ScoringRules, embedder: Embedder,
                 paths: list[str] | None = None, progress: Progress | None = None,
                 out_dir: str | Path = "exports", roots_by_default: bool = True) -> dict[str, Any]:
    """Every stage in order. Raises NotFoundError, before anything is exported, when the store holds no
    evidence even after the collect (an empty folder, a typo'd path): nothing to score or export."""
    t0 = time.perf_counter()
    collected = collect_paths(store, settings, paths, progress=progress, command="run:collect",
                              roots_by_default=roots_by_default).as_dict()
    if not collected["inserted"] and not store_stats(store)["evidence"]:
        where = ", ".join(map(str, paths or settings.roots))
        raise NotFoundError(
            f"no evidence to work on: nothing collectable under {where} and the store is empty; pass folders of "
            "JSONL/JSON agent logs (docs/streams.md lists the formats read)",
            cli=f"no evidence to work on: nothing collectable under {where} and the store is empty; run "
                "`mcp-distill run PATH...` with folders of JSONL/JSON agent logs (docs/streams.md lists the "
                "formats; `mcp-distill collect PATH --mapping FILE.toml` maps others)")
    scored = score_runs(store, rules, progress=progress, command="run:score")
    books = extract_playbooks(store, progress=progress, command="run:playbooks")
    indexed = index_playbooks(store, embedder, progress=progress)
    ledger = refresh_ledger(store, progress=progress, command="run:ledger")
    # The exports folder is the caller's choice: the CLI lets a person write anywhere; the MCP face
    # checks its out_dir against the roots before it calls anything.
    exported = export_dataset(store, kind="all", out_dir=out_dir, progress=progress, command="run:export")
    stats = store_stats(store)
    summary: dict[str, Any] = {
        "store": str(store.path),
        "records collected": collected["inserted"],
        "duplicates skipped": collected["duplicates"],
        "lines quarantined": collected["quarantined"],
        "runs": stats["runs"],
        "runs scored now": scored["scored"],
        "playbooks": books["playbooks"],
        "playbooks embedded": indexed["embedded"],
        "ledger entries": ledger.get("entries_total", 0),
        "exported rows": exported["rows_written"],
        "exports": exported["out_dir"],
    }
    summary.update({f"runs {k}": v for k, v in sorted(stats["by_category"].items())})
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return {"collect": collected, "score": {k: v for k, v in scored.items() if k != "runs"}, "summary": summary,
            "playbooks": books, "index": indexed, "ledger": ledger, "export": exported,
            "receipts": [collected["receipt_id"], scored["receipt_id"], books["receipt_id"], exported["receipt_id"]]}
