"""What is in the store, in numbers: the summary table of the CLI and ``distill://stats``."""

from __future__ import annotations

from typing import Any

from mcp_distill.store import Store


def store_stats(store: Store) -> dict[str, Any]:
    def count(sql: str) -> int:
        row = store.query_one(sql)
        return int(next(iter(row.values()))) if row else 0

    tables = set(store.table_names())
    # the reason's kind: the text before its first ':'
    kind = ("split_part(reason, ':', 1)" if store.dialect == "postgresql"
            else "substr(reason, 1, instr(reason || ':', ':') - 1)")
    stats: dict[str, Any] = {
        "db_path": str(store.path),
        "evidence": count("SELECT count(*) FROM evidence"),
        "runs": count("SELECT count(*) FROM runs"),
        "scored_runs": count("SELECT count(*) FROM scores"),
        "quarantined": count("SELECT count(*) FROM quarantine"),
        "sources": count("SELECT count(*) FROM sources"),
        "receipts": count("SELECT count(*) FROM receipts"),
        "by_stream": {r["stream"]: r["n"] for r in store.query(
            "SELECT stream, count(*) AS n FROM evidence GROUP BY stream ORDER BY stream")},
        "by_category": {r["category"]: r["n"] for r in store.query(
            "SELECT category, count(*) AS n FROM scores GROUP BY category ORDER BY category")},
        "quarantine_by_reason": {r["reason"]: r["n"] for r in store.query(
            f"SELECT {kind} AS reason, count(*) AS n FROM quarantine GROUP BY 1 ORDER BY 2 DESC")},
        "last_receipts": store.query(
            "SELECT receipt_id, stage, started_at, validation_pass FROM receipts ORDER BY started_at DESC LIMIT 5"),
    }
    if "playbooks" in tables:
        stats["playbooks"] = count("SELECT count(*) FROM playbooks")
    return stats


def quarantine_rows(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    return store.query(
        "SELECT source_file, line_offset, stream, reason, excerpt FROM quarantine ORDER BY source_file, line_offset "
        "LIMIT ?", (limit,))
