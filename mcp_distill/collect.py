"""Evidence Collector: stream JSONL/JSON sources into the unified evidence table.

Guarantees, and how they are kept:
- Streaming: files are read line by line from a byte offset; memory does not grow with file size.
- Incremental: ``sources`` remembers each file's byte offset, size, inode and the sha256 of its
  head; a second run reads only appended bytes. A file that shrank, whose head changed or whose
  inode changed (truncated, rewritten, rotated) is read again from the start.
- Idempotent and crash-safe: rows of a batch and the new offset commit in one transaction; every
  record's id is derived from its dedup key (stream + run id + sha256 of the row's canonical JSON)
  and a record already stored is skipped: a killed run re-reads its last batch and adds nothing twice.
- Nothing lost: a bad line (invalid JSON, not an object, unknown shape, wrong types) goes to
  ``quarantine`` with file, offset, reason and an excerpt; the run continues.
- An incomplete last line (no newline, invalid JSON) is held back until its writer finishes it.
"""

from __future__ import annotations

import copy
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from .adapters import native as _native  # noqa: F401  (registers the native adapter)
from .adapters.base import Adapter, canonical_hash, find_adapter
from .config import Settings
from .errors import InvalidInputError
from .models import EvidenceRecord
from .receipts import ReceiptBuilder, now_utc
from .runs import RunAssigner
from .sources import discover, first_object, is_line_file, parse_json_line
from .store import Connection, Store

#: Rows per transaction: large enough to amortise commits, small enough to lose little on a crash.
BATCH_LINES = 5_000
#: Bytes hashed at a file's head to notice a rewrite or rotation.
HEAD_BYTES = 1_024
#: Whole documents (trajectories, reports) above this size are refused rather than parsed in memory.
DOCUMENT_MAX_BYTES = 256 * 1024 * 1024
EXCERPT_CHARS = 240
#: An incomplete last line (no newline, not valid JSON) unchanged for this long is a truncated file,
#: not a writer mid-line: it is quarantined instead of held back.
TAIL_GRACE_SECONDS = 120

Progress = Callable[[int, int, str], None]


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


@dataclass
class CollectResult:
    files: list[FileSummary] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    receipt_id: str | None = None

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
            "receipt_id": self.receipt_id,
            "per_file": [f.__dict__ for f in self.files],
        }


class Collector:
    """One collect run over a store; construct it, then call :meth:`collect`."""

    def __init__(self, store: Store, extra_adapters: Iterable[Adapter] = (), progress: Progress | None = None):
        self.store = store
        self.extra_adapters = list(extra_adapters)
        self.progress = progress
        self._window_files: set[str] | None = None  # files that have file-window runs (loaded lazily)
        self._adopt_checked: set[tuple[str, str]] = set()

    # -- planning -----------------------------------------------------------------------------

    def _pick_adapter(self, path: Path, sample: dict[str, Any] | None, whole_file: bool) -> Adapter | None:
        for adapter in self.extra_adapters:
            if adapter.whole_file == whole_file and adapter.can_handle(path, sample):
                return adapter
        return find_adapter(path, sample, whole_file=whole_file)

    def _plan(self, files: list[Path]) -> list[tuple[Path, Adapter | None, bool]]:
        planned = []
        for path in files:
            is_lines = is_line_file(path)
            sample = first_object(path) if is_lines else None
            adapter = self._pick_adapter(path, sample, whole_file=not is_lines)
            planned.append((path, adapter, not is_lines))
        # streams carrying run ids first, so file-window rows find their run
        planned.sort(key=lambda item: (item[1].priority if item[1] else 99, str(item[0])))
        return planned

    # -- running ------------------------------------------------------------------------------

    def collect(self, files: list[Path], command: str = "collect", skipped: Iterable[str] = ()) -> CollectResult:
        receipt = ReceiptBuilder("collect", command)
        result = CollectResult(skipped_files=list(skipped))
        readable = []
        for path in files:
            try:
                readable.append((path, path.stat().st_size))
            except OSError as exc:
                result.skipped_files.append(f"{path}: cannot be read ({exc.strerror or exc})")
        plan = []
        for path, _ in readable:
            try:
                plan.extend(self._plan([path]))
            except OSError as exc:
                result.skipped_files.append(f"{path}: cannot be read ({exc.strerror or exc})")
        plan.sort(key=lambda item: (item[1].priority if item[1] else 99, str(item[0])))
        total_bytes = sum(size for _, size in readable) or 1
        done_bytes = 0
        for path, adapter, whole_file in plan:
            if self.progress:
                self.progress(done_bytes, total_bytes, path.name)
            try:
                receipt.add_input(path)
                summary = self._collect_document(path, adapter) if whole_file else self._collect_lines(path, adapter)
            except (OSError, InvalidInputError) as exc:  # one unreadable file never stops the others
                result.skipped_files.append(f"{path}: {exc}")
                continue
            result.files.append(summary)
            done_bytes += dict(readable).get(path, 0)
        if self.progress:
            self.progress(total_bytes, total_bytes, "done")
        receipt.count_in = result.total("lines")
        receipt.count_out = result.total("inserted")
        receipt.count("duplicates", result.total("duplicates"))
        receipt.count("quarantined", result.total("quarantined"))
        for f in result.files:
            if f.stream is None:
                receipt.warnings.append(f"{f.path}: no adapter recognises it; its lines were quarantined")
            if f.restarted:
                receipt.warnings.append(f"{f.path}: {f.restarted}; read again from the start")
            if f.held_back:
                receipt.warnings.append(f"{f.path}: incomplete last line held back until it is finished")
        receipt.warnings.extend(result.skipped_files)
        receipt.details["files"] = [f.__dict__ for f in result.files]
        # The output is the store itself. It is never hashed from here: opening and closing a second
        # handle on a live SQLite file drops this process's POSIX locks, and another process could then
        # checkpoint and delete the WAL under us. The receipt names it and counts what was written.
        receipt.details["store"] = str(self.store.path)
        result.receipt_id = receipt.finish(self.store, validation_pass=True).receipt_id
        return result

    def _collect_lines(self, path: Path, adapter: Adapter | None) -> FileSummary:
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        start, summary.restarted = self._resume_offset(path)
        stat = path.stat()
        if adapter is not None and hasattr(adapter, "begin_file"):
            # Stateful line adapters (session ids carried across lines) get their own copy per file,
            # so two collects at once never share state.
            adapter = copy.copy(adapter)
            adapter.begin_file(path, start)
        with open(path, "rb") as handle:
            handle.seek(start)
            offset = start
            batch: list[tuple[int, bytes, str | None]] = []
            for raw in handle:
                if not raw.endswith(b"\n") and not _complete_json(raw):
                    if time.time() - stat.st_mtime < TAIL_GRACE_SECONDS:
                        summary.held_back = True  # a writer may be finishing this line
                        break
                    # unchanged for a while: truncated for good, so it is quarantined and the offset moves on
                    batch.append((offset, raw, f"truncated last line: no newline and not valid JSON, unchanged "
                                               f"for over {TAIL_GRACE_SECONDS} s"))
                    offset += len(raw)
                    continue
                batch.append((offset, raw, None))
                offset += len(raw)
                if len(batch) >= BATCH_LINES:
                    self._commit_batch(path, adapter, batch, offset, stat, summary)
                    batch = []
            self._commit_batch(path, adapter, batch, offset, stat, summary)
        return summary

    def _resume_offset(self, path: Path) -> tuple[int, str | None]:
        row = self.store.query_one("SELECT * FROM sources WHERE path = ?", (str(path),))
        if row is None:
            return 0, None
        stat = path.stat()
        if stat.st_size < row["byte_offset"]:
            return 0, "file shrank (truncated)"
        if row["inode"] is not None and row["inode"] != stat.st_ino:
            return 0, "file was replaced (rotated)"
        if row["head_sha256"] and _head_hash(path, min(HEAD_BYTES, row["byte_offset"])) != row["head_sha256"]:
            return 0, "file head changed (rewritten)"
        return row["byte_offset"], None

    def _commit_batch(self, path: Path, adapter: Adapter | None, batch: list[tuple[int, bytes, str | None]],
                      end_offset: int, stat: os.stat_result, summary: FileSummary) -> None:
        prepared = [self._prepare_line(path, adapter, off, raw, reason) for off, raw, reason in batch]
        head = _head_hash(path, min(HEAD_BYTES, end_offset))
        with self.store.write() as db:
            conn = db.conn
            self._store_items(conn, path, [p for p in prepared if p is not None], summary)
            conn.execute(
                """INSERT INTO sources(path, stream, byte_offset, size, head_sha256, inode, mtime_ns, lines_read, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET stream = excluded.stream,
                     byte_offset = CASE WHEN excluded.inode != sources.inode OR excluded.byte_offset < sources.byte_offset
                                    AND excluded.head_sha256 != sources.head_sha256 THEN excluded.byte_offset
                                    ELSE max(sources.byte_offset, excluded.byte_offset) END,
                     size = excluded.size, head_sha256 = excluded.head_sha256, inode = excluded.inode,
                     mtime_ns = excluded.mtime_ns, lines_read = sources.lines_read + ?, updated_at = excluded.updated_at""",
                (str(path), summary.stream, end_offset, stat.st_size, head, stat.st_ino, stat.st_mtime_ns,
                 len(batch), now_utc().isoformat(), len(batch)),
            )

    def _prepare_line(self, path: Path, adapter: Adapter | None, offset: int, raw: bytes,
                      reason: str | None = None) -> tuple | None:
        """Parse and map one line outside the write lock: ('record', ...), ('quarantine', ...) or None."""
        if reason is not None:
            return ("quarantine", offset, raw, reason)
        if not raw.strip():
            return None
        try:
            row = parse_json_line(raw)
        except orjson.JSONDecodeError as exc:
            return ("quarantine", offset, raw, f"invalid JSON: {exc}")
        if not isinstance(row, dict):
            return ("quarantine", offset, raw, f"not a JSON object but {type(row).__name__}")
        if adapter is None:
            return ("quarantine", offset, raw,
                    "unknown shape: no adapter recognises this stream; add a mapping file (docs/streams.md)")
        try:
            return self._build(path, adapter, offset, raw, row)
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError) as exc:
            # e.g. JSON nested deeper than can be hashed: the line is kept in quarantine, the run goes on
            return ("quarantine", offset, raw, f"could not process the line: {type(exc).__name__}: {exc}"[:400])

    def _build(self, path: Path, adapter: Adapter, offset: int, raw: bytes, row: Any,
               fields: dict[str, Any] | None = None) -> tuple | None:
        if fields is None:
            reason = adapter.check(row)
            if reason:
                return ("quarantine", offset, raw, f"unknown shape: {reason}")
            try:
                fields = dict(adapter.map(row))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                return ("quarantine", offset, raw, f"mapping failed in {adapter.stream}: {exc!r}")
            if not fields:
                return None  # a bookkeeping line of its format (progress tick, snapshot): nothing to record
        stream = fields.pop("stream", None) or adapter.stream
        content_hash = canonical_hash(row)
        own_sig = row.get("sig_hash") if isinstance(row, dict) else None
        sig_hash = own_sig if isinstance(own_sig, str) and len(own_sig) >= 8 else content_hash
        # The run id is part of the key: some formats name the run only in the file name, and two
        # identical lines of two sessions are two events, not one.
        dedup_key = f"{stream}:{fields.get('run_id') or ''}:{content_hash}"
        fields["record_id"] = hashlib.sha256(dedup_key.encode()).hexdigest()[:24]
        fields["stream"] = stream
        fields["provenance"] = {"source_file": str(path), "line_offset": offset, "sig_hash": sig_hash}
        try:
            record = EvidenceRecord.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
            )
            return ("quarantine", offset, raw, f"wrong types: {problems}")
        return ("record", offset, record)

    def _store_items(self, conn: Connection, path: Path, items: list[tuple], summary: FileSummary) -> None:
        """Store one batch inside the caller's transaction: quarantine, dedup, run keys, evidence rows."""
        now = now_utc().isoformat()
        keys = [item[2].record_id for item in items if item[0] == "record"]
        existing: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            existing.update(r[0] for r in conn.execute(f"SELECT record_id FROM evidence WHERE record_id IN ({marks})", chunk))
        rows: list[tuple] = []

        def insert_rows() -> None:  # before an adoption moves rows between runs, and at the end
            conn.executemany(
                "INSERT INTO evidence(record_id, stream, run_key, run_id, task_id, task_type, model_name, "
                "file_path, pr_number, head_sha, ts, ts_epoch, source_file, line_offset, sig_hash, data, ingested_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows.clear()

        assigner = RunAssigner(conn, self._window_files, self._adopt_checked, before_adopt=insert_rows)
        self._window_files = assigner.window_files
        touched: set[str] = set()
        for item in items:
            summary.lines += 1
            if item[0] == "quarantine":
                _, offset, raw, reason = item
                cur = conn.execute(
                    "INSERT OR IGNORE INTO quarantine(source_file, line_offset, line_sha256, stream, reason, excerpt, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (str(path), offset, hashlib.sha256(raw).hexdigest(), summary.stream, reason,
                     raw[:EXCERPT_CHARS * 4].rstrip(b"\r\n").decode("utf-8", "replace")[:EXCERPT_CHARS], now),
                )
                summary.quarantined += 1 if cur.rowcount else 0
                continue
            record = item[2]
            if record.record_id in existing:
                summary.duplicates += 1
                continue
            existing.add(record.record_id)
            epoch = record.timestamp.timestamp() if record.timestamp else None
            run_key = assigner.assign(record, epoch)
            touched.add(run_key)
            rows.append(
                (record.record_id, record.stream, run_key, record.run_id, record.task_id, record.task_type,
                 record.model_name, record.file_path, record.pr_number, record.head_sha,
                 record.timestamp.isoformat() if record.timestamp else None, epoch, str(path), record.provenance.line_offset,
                 record.provenance.sig_hash, record.model_dump_json(exclude_none=True, exclude_unset=True), now))
            summary.inserted += 1
        insert_rows()
        assigner.flush()
        # new evidence invalidates the score of every run it joined
        conn.executemany("DELETE FROM scores WHERE run_key = ?", [(k,) for k in touched])

    def _collect_document(self, path: Path, adapter: Adapter | None) -> FileSummary:
        summary = FileSummary(str(path), adapter.stream if adapter else None)
        stat = path.stat()
        if stat.st_size > DOCUMENT_MAX_BYTES:
            raise InvalidInputError(f"{path} is {stat.st_size} bytes, above the {DOCUMENT_MAX_BYTES}-byte limit "
                                    "for whole documents; split it or convert it to JSONL")
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        row = self.store.query_one("SELECT head_sha256 FROM sources WHERE path = ?", (str(path),))
        if row and row["head_sha256"] == digest:
            return summary  # unchanged since the last run
        items: list[tuple] = []
        try:
            doc = _load_yaml(raw) if path.suffix.lower() in {".yml", ".yaml"} else orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            items.append(("quarantine", 0, raw[:4096], f"invalid or truncated document: {exc}"))
            doc = None
        if doc is not None:
            if adapter is None:
                sample = doc if isinstance(doc, dict) else {"$list": doc} if isinstance(doc, list) else None
                adapter = self._pick_adapter(path, sample, whole_file=True)
                summary.stream = adapter.stream if adapter else None
            if adapter is None:
                items.append(("quarantine", 0, raw[:4096],
                              "unknown shape: no adapter recognises this document; add an adapter or mapping"))
            else:
                try:
                    mapped = (adapter.map_document(doc, raw, path=path) if getattr(adapter, "takes_path", False)
                              else adapter.map_document(doc, raw))
                    for offset, fields in mapped:
                        # Dedup key: the raw item when the adapter names it (unchanged items of a changed
                        # document then add nothing), else the document's content and the item's offset
                        # (two documents that map alike are never merged by mistake).
                        item_row = fields.pop("_source_row", None) or {"_document_sha256": digest, "_offset": offset}
                        built = self._build(path, adapter, offset, raw[offset:offset + 4096], item_row, fields=fields)
                        if built is not None:
                            items.append(built)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    items.append(("quarantine", 0, raw[:4096], f"mapping failed in {adapter.stream}: {exc!r}"))
        with self.store.write() as db:
            self._store_items(db.conn, path, items, summary)
            db.conn.execute(
                "INSERT INTO sources(path, stream, byte_offset, size, head_sha256, inode, mtime_ns, lines_read, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "stream = excluded.stream, byte_offset = excluded.byte_offset, size = excluded.size, "
                "head_sha256 = excluded.head_sha256, inode = excluded.inode, mtime_ns = excluded.mtime_ns, "
                "lines_read = sources.lines_read + excluded.lines_read, updated_at = excluded.updated_at",
                (str(path), summary.stream, stat.st_size, stat.st_size, digest, stat.st_ino, stat.st_mtime_ns,
                 len(items), now_utc().isoformat()),
            )
        return summary


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a few bytes of nested ``*alias`` expand to gigabytes (a YAML bomb)."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not supported in evidence files",
                                              event.start_mark)
        return super().compose_node(parent, index)


def _load_yaml(raw: bytes) -> object:
    return yaml.load(raw, Loader=_NoAliasLoader)  # a SafeLoader subclass: no arbitrary objects


def _head_hash(path: Path, n: int) -> str | None:
    if n <= 0:
        return None
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(n)).hexdigest()


def _complete_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def collect_paths(store: Store, settings: Settings, paths: list[str] | None = None,
                  mapping_files: list[str] | None = None, progress: Progress | None = None,
                  command: str = "collect") -> CollectResult:
    """Collect every source file under ``paths`` (default: the configured roots), each checked against the roots."""
    targets = [settings.check_path(p) for p in paths] if paths else list(settings.roots)
    for target in targets:
        if not target.exists():
            raise InvalidInputError(f"{target} does not exist; pass a file or folder of JSONL/JSON sources")
    extra: list[Adapter] = []
    if mapping_files:
        from .adapters.mapping import load_mappings

        extra = load_mappings([settings.check_path(m) for m in mapping_files])
    files, skipped = discover(targets, settings)
    collector = Collector(store, extra_adapters=extra, progress=progress)
    return collector.collect(files, command=command, skipped=skipped)
