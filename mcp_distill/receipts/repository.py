"""The ``receipts`` table: every SQL statement about receipts (the builder and the collect's trail call these)."""

from __future__ import annotations

from typing import Any

import orjson

from mcp_distill.errors import NotFoundError
from mcp_distill.models import Receipt
from mcp_distill.store import StoreBackend, json_text, placeholders


def receipt_json(receipt: Receipt) -> bytes:
    return orjson.dumps(receipt.model_dump(mode="json", by_alias=True), option=orjson.OPT_INDENT_2)


def save_receipt(store: StoreBackend, receipt: Receipt) -> None:
    store.execute(
        "INSERT INTO receipts(receipt_id, stage, started_at, validation_pass, data) VALUES (?, ?, ?, ?, ?)",
        (receipt.receipt_id, receipt.stage, receipt.started_at.isoformat(), int(receipt.validation_pass),
         receipt_json(receipt).decode()),
    )


def replace_receipt(store: StoreBackend, receipt: Receipt) -> None:
    """Store ``receipt`` over the stored one of the same id (a collect's trail updates its own)."""
    store.execute("UPDATE receipts SET data = ? WHERE receipt_id = ?",
                  (receipt_json(receipt).decode(), receipt.receipt_id))


def delete_receipt(store: StoreBackend, receipt_id: str) -> None:
    store.execute("DELETE FROM receipts WHERE receipt_id = ?", (receipt_id,))


def find_receipt(store: StoreBackend, receipt_id: str) -> Receipt | None:
    row = store.query_one("SELECT data FROM receipts WHERE receipt_id = ?", (receipt_id,))
    return None if row is None else Receipt.model_validate_json(row["data"])


def get_receipt(store: StoreBackend, receipt_id: str) -> Receipt:
    receipt = find_receipt(store, receipt_id)
    if receipt is None:
        raise NotFoundError(f"no receipt {receipt_id!r}; receipt ids complete from distill://receipts/{{receipt_id}}",
                            cli=f"no receipt {receipt_id!r}; list them with `mcp-distill receipts list`")
    return receipt


def list_receipts(store: StoreBackend, stage: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Newest first: id, stage, start and whether it validated."""
    sql = "SELECT receipt_id, stage, started_at, validation_pass FROM receipts"
    params: tuple[Any, ...] = ()
    if stage:
        sql += " WHERE stage = ?"
        params = (stage,)
    sql += " ORDER BY started_at DESC LIMIT ?"
    return store.query(sql, (*params, limit))


def recent_receipts(store: StoreBackend, stage: str | None = None, limit: int = 10) -> list[Receipt]:
    """The latest receipts in full (newest first), optionally of one stage."""
    sql = "SELECT data FROM receipts" + (" WHERE stage = ?" if stage else "") + " ORDER BY started_at DESC LIMIT ?"
    params: tuple[Any, ...] = (stage, limit) if stage else (limit,)
    return [Receipt.model_validate_json(r["data"]) for r in store.query(sql, params)]


def unresumed_collects(store: StoreBackend, statuses: tuple[str, ...]) -> list[Receipt]:
    """Collect receipts whose ``details.status`` is one of ``statuses`` and that no later collect resumed."""
    status, resumed = (json_text(store.dialect, "data", "details", key) for key in ("status", "resumed_by"))
    rows = store.query(f"SELECT data FROM receipts WHERE stage = 'collect' AND {status} IN ({placeholders(len(statuses))}) "
                       f"AND {resumed} IS NULL", statuses)
    return [Receipt.model_validate_json(r["data"]) for r in rows]


def count_receipts(store: StoreBackend) -> int:
    row = store.query_one("SELECT count(*) AS n FROM receipts")
    return int(row["n"]) if row else 0


#: Receipt-id completion (``lookup.complete``): the table and column that hold the values.
COMPLETIONS = {"receipt": (("receipts", "receipt_id"),)}

__all__ = [
    "COMPLETIONS",
    "count_receipts", "delete_receipt", "find_receipt", "get_receipt", "list_receipts",
    "receipt_json", "recent_receipts", "replace_receipt", "save_receipt", "unresumed_collects",
]
