"""Evidence pushed live by agents (MCP ``record_evidence`` / ``record_override``).

A pushed record is first appended as one line to ``<store file>.live/evidence.jsonl`` and then
collected from there like any other source, so it gets the same provenance (file, byte offset,
sig_hash), dedup and run joining as evidence read from files: nothing is stored that cannot be
traced back to a line.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import orjson
from pydantic import ValidationError

from mcp_distill.adapters import find_adapter
from mcp_distill.collect.collector import Collector
from mcp_distill.collect.repository import evidence_at, evidence_by_id, run_exists, run_row
from mcp_distill.collect.runs import get_run, resolve_run_key
from mcp_distill.collect.workers import prepare_line
from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models import Category, EvidenceRecord, Provenance
from mcp_distill.score import ScoringRules, score_runs
from mcp_distill.store import Store

CATEGORIES: tuple[str, ...] = get_args(Category)
LIVE_FILE = "evidence.jsonl"
#: A pushed record larger than this is refused: it is evidence, not a file upload.
MAX_RECORD_BYTES = 1_000_000


def live_path(store: Store) -> Path:
    """The store's own live log: one per store file, so two stores in one folder never share pushes.

    A PostgreSQL store has no file to sit beside: each machine keeps its log in
    ``store/<server URL, made a file name>.live/<host name>/`` under the current folder (like the
    default SQLite store), so two machines' logs are two sources of the shared store, never one."""
    if isinstance(store.path, Path):
        return store.path.with_name(store.path.name + ".live") / LIVE_FILE
    name = re.sub(r"[^A-Za-z0-9_.@-]+", "_", str(store.path).split("://", 1)[-1]).strip("_")
    return Path("store").resolve() / f"{name}.live" / socket.gethostname() / LIVE_FILE


_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]{1,64}$")
#: run_id / task_id longer than this are refused: ids, not documents.
MAX_ID_CHARS = 512


def _validate(fields: dict[str, Any]) -> None:
    """Fail before anything is written when the record would not become a valid EvidenceRecord."""
    stream = fields.get("stream")
    if not isinstance(stream, str) or not _NAME.match(stream) or ".." in stream:
        raise InvalidInputError("'stream' must be a short name of letters, digits and _.:@/- (e.g. 'scrum_reviews')")
    for key in ("run_id", "task_id"):
        value = fields.get(key)
        if isinstance(value, str) and (len(value) > MAX_ID_CHARS or any(ord(c) < 32 for c in value)):
            raise InvalidInputError(f"'{key}' must be at most {MAX_ID_CHARS} characters without control characters")
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
        offset = os.lseek(fd, 0, os.SEEK_END)  # where this record's line starts
        os.write(fd, line)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    result = Collector(store).collect([path], command="record_evidence")
    mine = evidence_at(store, str(path), offset)
    if mine is None:  # the same content was pushed before: the earlier record stands
        mine = evidence_by_id(store, _record_id_of(store, path, offset))
    return {"record": mine, "run_key": mine["run_key"] if mine else None,
            "inserted": int(mine is not None and mine["line_offset"] == offset),
            "duplicates": int(mine is not None and mine["line_offset"] != offset), "receipt_id": result.receipt_id}


def _record_id_of(store: Store, path: Path, offset: int) -> str | None:
    """The record id the collector gives the line at ``offset`` (the same content gets the same id)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        raw = handle.readline()
    item = prepare_line(str(path), find_adapter(path, None), offset, raw)
    return item[2].record_id if item and item[0] == "record" else None


def record_evidence(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(record, dict) or not record:
        raise InvalidInputError("record must be a non-empty JSON object of EvidenceRecord fields")
    return append_and_collect(store, dict(record))


def record_override(store: Store, run: str, category: str, reason: str, reviewer: str | None = None) -> dict[str, Any]:
    """A human decision on a run, stored as evidence so the scorer applies it (overrides always win)."""
    warnings: list[str] = []
    try:
        key = resolve_run_key(store, run)
    except NotFoundError:
        if run.startswith(("file:", "pr:", "rec:")):
            raise
        key = f"run:{run}"  # an override may arrive before the run's other evidence
        warnings.append(f"no run {run!r} has evidence yet: the override is stored and will apply to evidence that "
                        "arrives with this run_id; check the id for a typo (`mcp-distill runs list`)")
    fields: dict[str, Any] = {
        "stream": "human_overrides",
        "human_override": {"category": category, "reason": reason, "reviewer": reviewer,
                           "decided_at": datetime.now(UTC).isoformat()},
    }
    if key.startswith("run:"):
        fields["run_id"] = key[4:]
    else:
        view = run_row(store, key)
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
    out["warnings"] = warnings
    if run_exists(store, key):
        out["run"] = {k: v for k, v in get_run(store, key).items() if k in ("run_key", "streams")}
    return out


def decide_run(store: Store, rules: ScoringRules, run: str, category: str, reason: str,
               reviewer: str | None = None, command: str = "review") -> dict[str, Any]:
    """A reviewer's decision: recorded exactly as ``record_override`` records it, then the run rescored."""
    if category not in CATEGORIES:
        raise InvalidInputError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    if not reason or not reason.strip():
        raise InvalidInputError("write a note saying why: the decision's reason is kept with the run")
    out = record_override(store, run, category, reason.strip(), reviewer)
    scored = score_runs(store, rules, run=out["run_key"], command=command)
    out["category"] = scored["runs"][0]["category"] if scored["runs"] else None
    out["score_receipt_id"] = scored["receipt_id"]
    return out
