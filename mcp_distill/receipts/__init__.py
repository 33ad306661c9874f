"""Receipts: every pipeline stage records what it read, wrote, counted and checked.

:class:`ReceiptBuilder` (``builder.py``) collects a stage's inputs, outputs and counts;
``repository.py`` owns the ``receipts`` table.
"""

from mcp_distill.receipts.builder import ReceiptBuilder, code_git_sha, file_digest, now_utc, sha256_file
from mcp_distill.receipts.repository import (
    count_receipts,
    get_receipt,
    list_receipts,
    receipt_json,
    recent_receipts,
    save_receipt,
)

__all__ = [
    "ReceiptBuilder", "code_git_sha", "count_receipts", "file_digest", "get_receipt", "list_receipts", "now_utc",
    "receipt_json", "recent_receipts", "save_receipt", "sha256_file",
]
