"""The files an export writes: rows turned into JSONL lines, and every file kept aside until committed.

Atomic: each file is written to a temporary name in its own folder (so ``os.replace`` is a rename
within one file system) and fsynced on close; :class:`mcp_distill.datasets.build.Exporter` commits them all
only once all are written and validated, else aborts them, so an interrupted or invalid export
leaves the previous one as it was. :func:`unverified` compares the bytes on disk with the sha256
of the bytes the validator checked.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from mcp_distill.datasets import mine
from mcp_distill.datasets.validate import CONTENT_METADATA
from mcp_distill.receipts import sha256_file


class AtomicFile:
    """A file written under a temporary name in its own folder, moved into place by :meth:`commit`."""

    def __init__(self, final: Path, rel: str = ""):
        self.final = final
        self.rel = rel
        final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        self._handle = open(self.tmp, "wb")  # noqa: SIM115 (closed by close/abort)
        self.rows = 0

    def write(self, line: bytes) -> None:
        self._handle.write(line)
        self.rows += 1

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()

    def commit(self) -> None:
        self.close()
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    target = AtomicFile(path)
    try:
        target._handle.write(data)
        target.commit()
    except BaseException:
        target.abort()
        raise


class Sink:
    """Redact -> dedup (in batches) -> schema-validate -> write, for one dataset kind."""

    def __init__(self, kind: str, targets: dict[str, AtomicFile], scrub: Callable[[str], str], canon: mine.TextCanon,
                 stats: Counter[str], warnings: list[str], feed: Callable[[str, list[bytes]], None],
                 model: type[BaseModel], batch: int):
        self.kind = kind
        self.feed = feed
        self.model = model
        self.batch = batch  # rows buffered before dedup hashes them as one batch (export.SINK_BATCH)
        self.targets = targets
        self.scrub = scrub
        self.stats = stats
        self.warnings = warnings
        self.dedup = mine.RowDeduper(canon)
        self.buffer: list[mine.Candidate] = []

    def add(self, cand: mine.Candidate) -> None:
        self.stats[f"{self.kind}_candidates"] += 1
        self._redact(cand.row)
        if self.kind == "preference" and not mine.differ(cand.row["chosen"], cand.row["rejected"]):
            self.stats["preference_equal_after_redaction"] += 1
            return
        self.buffer.append(cand)
        if len(self.buffer) >= self.batch:
            self.flush()

    def _redact(self, row: dict[str, Any]) -> None:
        """Every string a trainer reads (export_validate.CONTENT_METADATA names the free-text metadata)."""
        scrub = self.scrub
        if self.kind == "sft":
            for msg in row["messages"]:
                msg["content"] = scrub(msg["content"])
            meta = row["metadata"]
        elif self.kind == "preference":
            for name in ("prompt", "chosen", "rejected"):
                row[name] = scrub(row[name])
            meta = row["metadata"]
        else:
            row["text"], row["title"] = scrub(row["text"]), scrub(row["title"])
            row["tags"] = [scrub(t) for t in row["tags"]]
            if isinstance(row.get("task_type"), str):
                row["task_type"] = scrub(row["task_type"])
            meta = row["metadata"]
        for name in CONTENT_METADATA[self.kind]:
            if isinstance(meta.get(name), str):
                meta[name] = scrub(meta[name])

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        verdicts = self.dedup.check([mine.row_texts(self.kind, c.row) for c in batch])
        written: dict[str, list[bytes]] = {}
        for cand, dup in zip(batch, verdicts, strict=True):
            if dup is not None:
                self.stats[f"{self.kind}_duplicates_{dup}"] += 1
                continue
            try:
                self.model.model_validate(cand.row)
            except ValidationError as exc:
                self.stats[f"{self.kind}_schema_rejected"] += 1
                if self.stats[f"{self.kind}_schema_rejected"] <= 5:
                    first = exc.errors()[0]
                    self.warnings.append(f"{self.kind} row {cand.key} dropped: "
                                         f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
                continue
            target = self.targets["train"] if self.kind == "rag" else self.targets[cand.split]
            # the row dict holds exactly the schema's fields in its order, so it is dumped as validated
            line = orjson.dumps(cand.row) + b"\n"
            target.write(line)
            written.setdefault(target.rel, []).append(line)
            self.stats[f"{self.kind}_rows"] += 1
        for rel, lines in written.items():  # the validator checks the very bytes written, as they come
            self.feed(rel, lines)


def unverified(targets: dict[str, AtomicFile], hashes: dict[str, str]) -> list[str]:
    """The files (sorted) whose bytes on disk are not the bytes whose sha256 the validator reported."""
    return [rel for rel, target in sorted(targets.items()) if hashes.get(rel) != sha256_file(target.tmp)]
