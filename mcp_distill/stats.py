"""What is in the store, in numbers: the summary table of the CLI and ``distill://stats``.

Each package counts its own tables; this module only puts the figures together.
"""

from __future__ import annotations

from typing import Any

from mcp_distill.collect.repository import collect_counts, quarantine_rows, score_counts
from mcp_distill.receipts import count_receipts, list_receipts
from mcp_distill.search.repository import playbook_count
from mcp_distill.store import StoreBackend


def store_stats(store: StoreBackend) -> dict[str, Any]:
    collected = collect_counts(store)
    scored = score_counts(store)
    stats: dict[str, Any] = {
        "db_path": str(store.path),
        "evidence": collected["evidence"],
        "runs": collected["runs"],
        "scored_runs": scored["scored_runs"],
        "quarantined": collected["quarantined"],
        "sources": collected["sources"],
        "receipts": count_receipts(store),
        "by_stream": collected["by_stream"],
        "by_category": scored["by_category"],
        "quarantine_by_reason": collected["quarantine_by_reason"],
        "last_receipts": list_receipts(store, limit=5),
    }
    playbooks = playbook_count(store)
    if playbooks is not None:
        stats["playbooks"] = playbooks
    return stats


__all__ = ["quarantine_rows", "store_stats"]
