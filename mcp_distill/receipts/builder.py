"""Receipts: every pipeline stage records what it read, wrote, counted and checked.

A receipt that only says "ran" is worthless, so a :class:`ReceiptBuilder` collects input and output
files with their sha256, record counts in and out, errors and warnings while the stage works, and
:meth:`ReceiptBuilder.finish` validates the result against the ``Receipt`` schema before storing it.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp_distill.models import FileDigest, Receipt, RecordCounts
from mcp_distill.receipts.repository import save_receipt
from mcp_distill.store import StoreBackend

_HASH_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | Path) -> FileDigest:
    p = Path(path)
    return FileDigest(path=str(p), sha256=sha256_file(p), bytes=p.stat().st_size)


@functools.lru_cache(maxsize=1)
def code_git_sha() -> str | None:
    """HEAD of the checkout mcp-distill runs from, or None when it is installed without git."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def now_utc() -> datetime:
    return datetime.now(UTC)


class ReceiptBuilder:
    """Collects a stage's facts as it runs; ``finish`` turns them into a stored Receipt."""

    def __init__(self, stage: str, command: str):
        self.stage = stage
        self.command = command
        self.started_at = now_utc()
        self._t0 = time.perf_counter()
        self.inputs: list[FileDigest] = []
        self.outputs: list[FileDigest] = []
        self.count_in = 0
        self.count_out = 0
        self.detail: dict[str, int] = {}
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.details: dict[str, Any] = {}

    def add_input(self, path: str | Path) -> None:
        self.inputs.append(file_digest(path))

    def add_output(self, path: str | Path) -> None:
        """A file the stage wrote. Never the live SQLite store: see ``Collector.collect``."""
        self.outputs.append(file_digest(path))

    def count(self, key: str, n: int = 1) -> None:
        self.detail[key] = self.detail.get(key, 0) + n

    def finish(self, store: StoreBackend | None, validation_pass: bool) -> Receipt:
        ended = now_utc()
        receipt = Receipt(
            receipt_id=f"{self.stage}-{ended.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}",
            stage=self.stage,
            command=self.command,
            git_sha=code_git_sha(),
            input_files=self.inputs,
            output_files=self.outputs,
            record_counts=RecordCounts(in_=self.count_in, out=self.count_out, detail=self.detail),
            validation_pass=validation_pass and not self.errors,
            errors=self.errors,
            warnings=self.warnings,
            details=self.details,
            duration_ms=round((time.perf_counter() - self._t0) * 1000, 3),
            started_at=self.started_at,
            ended_at=ended,
        )
        if store is not None:
            save_receipt(store, receipt)
        return receipt
