"""What the exports hold, for people browsing the store: each export's counts, splits, checks and
redactions (from its receipt), and the exported rows a given run produced (from the files)."""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import orjson

from mcp_distill.models import Receipt
from mcp_distill.receipts import recent_receipts
from mcp_distill.store import Store

EXPORT_STAGE = "export"


def _splits(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """{kind: {split: rows}} from the per-file counts (``sft/train.jsonl`` -> sft / train)."""
    out: dict[str, dict[str, int]] = {}
    for name, n in counts.items():
        if name.endswith(".jsonl") and "/" in name:
            kind, file = name.split("/", 1)
            out.setdefault(kind, {})[file.removesuffix(".jsonl")] = n
    return out


def export_summary(receipt: Receipt) -> dict[str, Any]:
    """One export as a person reads it: rows per kind and split, validation, redactions, duplicates."""
    detail = receipt.record_counts.detail
    validation = receipt.details.get("validation") or {}
    return {
        "receipt_id": receipt.receipt_id, "started_at": receipt.started_at, "command": receipt.command,
        "out_dir": receipt.details.get("out_dir"), "kinds": receipt.details.get("kinds", []),
        "rows_in": receipt.record_counts.in_, "rows_out": receipt.record_counts.out,
        "splits": _splits(detail), "validation_pass": receipt.validation_pass,
        "validation_errors": list(validation.get("errors", []))[:20] + receipt.errors[:20],
        "warnings": receipt.warnings[:20], "redactions": receipt.details.get("redactions", {}),
        "duplicates": receipt.details.get("duplicates", {}),
        "counts": {k: v for k, v in sorted(detail.items()) if not k.endswith(".jsonl")},
        "scorer_version": receipt.details.get("scorer_version"), "duration_ms": receipt.duration_ms,
    }


def export_summaries(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    return [export_summary(r) for r in recent_receipts(store, EXPORT_STAGE, limit)]


def _lines_holding(path: Path, needle: bytes, limit: int) -> list[bytes]:
    """Whole lines of ``path`` that contain ``needle``, found by a C-speed search over a memory map."""
    found: list[bytes] = []
    with open(path, "rb") as handle:
        if path.stat().st_size == 0:
            return found
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            at = data.find(needle)
            while at != -1 and len(found) < limit:
                start = data.rfind(b"\n", 0, at) + 1
                end = data.find(b"\n", at)
                end = len(data) if end == -1 else end
                found.append(data[start:end])
                at = data.find(needle, end)
    return found


def _mentions(row: dict[str, Any], run_key: str) -> bool:
    meta = row.get("metadata") or {}
    return run_key in (meta.get("run_id"), meta.get("chosen_run_id"), meta.get("rejected_run_id")) \
        or run_key in (row.get("source_run_ids") or meta.get("source_run_ids") or [])


def export_rows_for_run(store: Store, run_key: str, limit: int = 10) -> dict[str, Any]:
    """The rows of the latest export that came from ``run_key``: per file, up to ``limit`` rows."""
    receipts = recent_receipts(store, EXPORT_STAGE, 1)
    if not receipts:
        return {"receipt_id": None, "files": [], "note": "nothing exported yet (`mcp-distill export`)"}
    receipt = receipts[0]
    needle = orjson.dumps(run_key)  # the key as it appears inside a JSON row
    files: list[dict[str, Any]] = []
    for digest in receipt.output_files:
        path = Path(digest.path)
        if not path.is_file():
            files.append({"path": digest.path, "rows": [], "note": "file no longer exists"})
            continue
        changed = digest.bytes is not None and path.stat().st_size != digest.bytes
        rows = [row for row in (orjson.loads(line) for line in _lines_holding(path, needle, limit))
                if _mentions(row, run_key)]
        if rows:
            files.append({"path": digest.path, "rows": rows,
                          "note": "changed since this export" if changed else None})
    return {"receipt_id": receipt.receipt_id, "files": files, "note": None}
