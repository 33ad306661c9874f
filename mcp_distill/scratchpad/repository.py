"""The scratchpad package's table (``scratchpads``): every SQL statement about it."""

from __future__ import annotations

from mcp_distill.models import ScratchpadSummary
from mcp_distill.store import StoreBackend


def save_summary(store: StoreBackend, summary: ScratchpadSummary, created_at: str) -> None:
    """Store a summary; one already stored for the same run and source text stays."""
    store.execute(
        "INSERT INTO scratchpads(run_id, source_scratchpad_hash, method, needs_human_review, summary, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, source_scratchpad_hash) DO NOTHING",
        (summary.run_id, summary.source_scratchpad_hash, summary.method, int(summary.needs_human_review),
         summary.model_dump_json(), created_at),
    )


def stored_summary(store: StoreBackend, run_id: str, source_hash: str | None = None) -> ScratchpadSummary | None:
    """The summary of ``run_id`` for that source text, or (no ``source_hash``) its latest one."""
    if source_hash is not None:
        row = store.query_one("SELECT summary FROM scratchpads WHERE run_id = ? AND source_scratchpad_hash = ?",
                              (run_id, source_hash))
    else:
        row = store.query_one("SELECT summary FROM scratchpads WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,))
    return ScratchpadSummary.model_validate_json(row["summary"]) if row else None


def list_scratchpad_runs(store: StoreBackend) -> list[str]:
    """The run ids that have a stored scratchpad, sorted."""
    return [row["run_id"] for row in store.query("SELECT DISTINCT run_id FROM scratchpads ORDER BY run_id")]


#: Completion sources (``lookup.complete``): kind -> (table, column) holding its values.
COMPLETIONS = {"scratchpad_run": (("scratchpads", "run_id"),)}

__all__ = ["COMPLETIONS", "list_scratchpad_runs", "save_summary", "stored_summary"]
