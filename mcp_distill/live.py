"""Evidence pushed live by agents (MCP ``record_evidence`` / ``record_override``).

A pushed record is first appended as one line to ``<store folder>/live/evidence.jsonl`` and then
collected from there like any other source, so it gets the same provenance (file, byte offset,
sig_hash), dedup and run joining as evidence read from files: nothing is stored that cannot be
traced back to a line.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from .collect import Collector
from .errors import InvalidInputError, NotFoundError
from .models import EvidenceRecord, Provenance
from .runs import get_run, resolve_run_key
from .store import Store

LIVE_FILE = "evidence.jsonl"
#: A pushed record larger than this is refused: it is evidence, not a file upload.
MAX_RECORD_BYTES = 1_000_000


def live_path(store: Store) -> Path:
    return store.path.parent / "live" / LIVE_FILE


def _validate(fields: dict[str, Any]) -> None:
    """Fail before anything is written when the record would not become a valid EvidenceRecord."""
    try:
        EvidenceRecord(
            **{k: v for k, v in fields.items() if k not in {"schema"}},
            record_id="validation-only",
            provenance=Provenance(source_file="-", line_offset=0, sig_hash="validation"),
        )
    except (ValidationError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        else:
            detail = str(exc)
        raise InvalidInputError(
            f"the record is not a valid EvidenceRecord ({detail}); see distill://schemas/EvidenceRecord"
        ) from exc


def append_and_collect(store: Store, fields: dict[str, Any]) -> dict[str, Any]:
    fields.setdefault("stream", "evidence")
    fields.setdefault("timestamp", datetime.now(UTC).isoformat())
    for forbidden in ("record_id", "provenance"):
        if forbidden in fields:
            raise InvalidInputError(f"'{forbidden}' is set by mcp-distill; leave it out of the record")
    _validate(fields)
    line = orjson.dumps(fields) + b"\n"
    if len(line) > MAX_RECORD_BYTES:
        raise InvalidInputError(f"the record is {len(line)} bytes, above {MAX_RECORD_BYTES}; send less text")
    path = live_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one line per write, never interleaved
        os.write(fd, line)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    result = Collector(store).collect([path], command="record_evidence")
    row = store.query_one(
        "SELECT record_id, run_key, source_file, line_offset FROM evidence WHERE source_file = ? "
        "ORDER BY line_offset DESC LIMIT 1", (str(path),))
    return {"record": row, "inserted": result.total("inserted"), "duplicates": result.total("duplicates"),
            "receipt_id": result.receipt_id}


def record_evidence(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(record, dict) or not record:
        raise InvalidInputError("record must be a non-empty JSON object of EvidenceRecord fields")
    return append_and_collect(store, dict(record))


def record_override(store: Store, run: str, category: str, reason: str, reviewer: str | None = None) -> dict[str, Any]:
    """A human decision on a run, stored as evidence so the scorer applies it (overrides always win)."""
    try:
        key = resolve_run_key(store, run)
    except NotFoundError:
        if run.startswith(("file:", "pr:", "rec:")):
            raise
        key = f"run:{run}"  # an override may arrive before the run's other evidence
    fields: dict[str, Any] = {
        "stream": "human_overrides",
        "human_override": {"category": category, "reason": reason, "reviewer": reviewer,
                           "decided_at": datetime.now(UTC).isoformat()},
    }
    if key.startswith("run:"):
        fields["run_id"] = key[4:]
    else:
        view = store.query_one("SELECT * FROM runs WHERE run_key = ?", (key,))
        assert view is not None
        if view["join_method"] == "file_window":
            fields["file_path"] = view["file_path"]
            fields["timestamp"] = datetime.fromtimestamp(view["first_epoch"], UTC).isoformat()
        elif view["join_method"] == "pr_head":
            fields["pr_number"], fields["head_sha"] = view["pr_number"], view["head_sha"]
        else:
            raise InvalidInputError(f"run {key} has no run_id, file or PR to attach an override to")
    out = append_and_collect(store, fields)
    out["run_key"] = key
    if store.query_one("SELECT 1 FROM runs WHERE run_key = ?", (key,)):
        out["run"] = {k: v for k, v in get_run(store, key).items() if k in ("run_key", "streams")}
    return out
