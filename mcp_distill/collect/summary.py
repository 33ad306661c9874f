"""What a collect reports: one summary per file, the run's result, and the receipt written from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp_distill.collect.redacting import CollectRedactor
from mcp_distill.receipts import ReceiptBuilder
from mcp_distill.store import Store


@dataclass
class FileSummary:
    path: str
    stream: str | None
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    restarted: str | None = None
    held_back: bool = False
    #: What the file's adapter noticed (outcome values no mapping translates), for the summary and receipt.
    warnings: list[str] = field(default_factory=list)
    #: The mapping inferred for a file no adapter claimed (TOML text), when the generic adapter read it.
    inferred_mapping: str | None = None


@dataclass
class CollectResult:
    files: list[FileSummary] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    receipt_id: str | None = None
    #: Placeholders written by type when the collect redacted before storing (None: it stored raw lines).
    redactions: dict[str, int] | None = None

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "lines": self.total("lines"),
            "inserted": self.total("inserted"),
            "duplicates": self.total("duplicates"),
            "quarantined": self.total("quarantined"),
            "skipped_files": self.skipped_files,
            "warnings": [w for f in self.files for w in f.warnings],
            "receipt_id": self.receipt_id,
            "redact_on_collect": self.redactions is not None,
            "redactions": self.redactions or {},
            "per_file": [f.__dict__ for f in self.files],
        }


def finish_receipt(store: Store, result: CollectResult, receipt: ReceiptBuilder,
                   redactor: CollectRedactor | None) -> None:
    """Counts, warnings and details of a finished collect into its receipt, which is then stored."""
    receipt.count_in = result.total("lines")
    receipt.count_out = result.total("inserted")
    receipt.count("duplicates", result.total("duplicates"))
    receipt.count("quarantined", result.total("quarantined"))
    if redactor is not None:
        for f in result.files:  # what adapters wrote about a file quotes its lines (examples, values)
            f.warnings = [redactor.text(w) for w in f.warnings]
            f.inferred_mapping = f.inferred_mapping and redactor.text(f.inferred_mapping)
        result.redactions = dict(sorted(redactor.counts.items()))
        receipt.details["redact_on_collect"] = True
        receipt.details["redactions"] = result.redactions
        for kind, n in result.redactions.items():
            receipt.count(f"redacted_{kind}", n)
    for f in result.files:
        if f.stream is None:
            receipt.warnings.append(f"{f.path}: no adapter recognises it; its lines were quarantined")
        if f.restarted:
            receipt.warnings.append(f"{f.path}: {f.restarted}; read again from the start")
        if f.held_back:
            receipt.warnings.append(f"{f.path}: incomplete last line held back until it is finished")
        receipt.warnings.extend(f"{f.path}: {w}" for w in f.warnings)
    receipt.warnings.extend(result.skipped_files)
    receipt.details["files"] = [f.__dict__ for f in result.files]
    # The output is the store itself. It is never hashed from here: opening and closing a second
    # handle on a live SQLite file drops this process's POSIX locks, and another process could then
    # checkpoint and delete the WAL under us. The receipt names it and counts what was written.
    receipt.details["store"] = str(store.path)
    result.receipt_id = receipt.finish(store, validation_pass=True).receipt_id
