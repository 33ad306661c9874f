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
import re
import shutil
import stat
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from mcp_distill.datasets import dedup, mine
from mcp_distill.datasets.publish import publish_ids, scrub_text
from mcp_distill.errors import PathNotAllowedError
from mcp_distill.faults import pid_alive
from mcp_distill.receipts import sha256_file
from mcp_distill.redact import Publisher

#: A temporary export file: ``.<name>.<pid>-<8 hex>.tmp`` (older versions wrote no pid).
TEMP_FILE = re.compile(r"^\..+\.(?:(\d+)-)?[0-9a-f]{8}\.tmp$")
#: The scratch folder of an export: ``.export-<pid>-<random>`` (older versions wrote no pid).
TEMP_DIR = re.compile(r"^\.export-(?:(\d+)-)?[^/]+$")
TEMP_DIR_PREFIX = ".export-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def open_dir_under(base: Path, folder: Path) -> int:
    """A descriptor of ``folder`` (created when missing), reached from ``base`` without following a symlink.

    Every file of an export is then created and renamed relative to this descriptor, so a symlinked
    ``sft/`` (or one swapped in while the export runs) can never send a write outside ``base``.
    """
    fd = os.open(base, _DIR_FLAGS)
    try:
        for part in folder.relative_to(base).parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if stat.S_ISLNK(os.lstat(part, dir_fd=fd).st_mode):
                    raise PathNotAllowedError(
                        f"{base / part} is a symbolic link (to {os.readlink(part, dir_fd=fd)}); an export writes "
                        f"only into real folders under {base}, so a link cannot send its files elsewhere: remove "
                        "the link, or export straight into the folder it points to") from exc
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


class AtomicFile:
    """A file written under a temporary name in its own folder, moved into place by :meth:`commit`.

    ``base`` is the folder the caller checked (the export's ``out_dir``): the folders between it and
    the file are walked without following symlinks (:func:`open_dir_under`). A symlink in the file's
    own place is replaced by the file, never written through.
    """

    def __init__(self, final: Path, rel: str = "", base: Path | None = None):
        self.final = final
        self.rel = rel
        if base is None:
            final.parent.mkdir(parents=True, exist_ok=True)
        self._dir = open_dir_under(base if base is not None else final.parent, final.parent)
        self._tmp_name = f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self.tmp = final.parent / self._tmp_name
        try:
            fd = os.open(self._tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o644, dir_fd=self._dir)
        except BaseException:
            os.close(self._dir)
            raise
        self._handle = os.fdopen(fd, "wb")
        self.rows = 0

    def write(self, line: bytes) -> None:
        self._handle.write(line)
        self.rows += 1

    def write_header(self, line: bytes) -> None:
        """A line that is not a row (a TSV header): written, not counted."""
        self._handle.write(line)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()

    def commit(self) -> None:
        self.close()
        os.replace(self._tmp_name, self.final.name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
        self._close_dir()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.close()
        if self._dir >= 0:  # not committed or aborted before
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp_name, dir_fd=self._dir)
        self._close_dir()

    def discard(self) -> None:
        """Write nothing and remove what an earlier export left at this name, so no stale file stays beside
        the new export (an empty split file is never written: datasets.load_dataset refuses one)."""
        if self._dir >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.final.name, dir_fd=self._dir)
        self.abort()

    def _close_dir(self) -> None:
        if self._dir >= 0:
            os.close(self._dir)
            self._dir = -1


def remove_stale_temps(out: Path, folders: Iterable[str]) -> list[str]:
    """Remove what killed exports left in ``out`` and its ``folders``: temporary files and scratch folders
    whose process is gone (or that name none: older versions). Live exports' files are kept. Symlinks are
    never followed. The names removed, relative to ``out``."""
    removed: list[str] = []
    for folder in sorted({"", *folders}):
        place = out / folder
        try:
            entries = list(os.scandir(place)) if not place.is_symlink() else []
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            match = TEMP_FILE.match(entry.name) or (TEMP_DIR.match(entry.name) if folder == "" else None)
            if match is None or (match.group(1) and pid_alive(int(match.group(1)))):
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(str(Path(folder) / entry.name))
    return removed


def remove_files(base: Path, rels: Iterable[str]) -> None:
    """Remove the files ``rels`` under ``base`` that exist (an earlier export's other layout), never through a
    symlinked folder; folders that do not exist are not created."""
    for rel in rels:
        path = base / rel
        if not path.parent.is_dir():
            continue
        fd = open_dir_under(base, path.parent)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path.name, dir_fd=fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    target = AtomicFile(path)
    try:
        target._handle.write(data)
        target.commit()
    except BaseException:
        target.abort()
        raise


class Sink:
    """Redact text -> dedup (in batches) -> publish ids -> schema-validate -> write, for one dataset kind.

    ``scrub`` redacts the text a trainer reads, ``ids`` every other string (:mod:`mcp_distill.datasets.publish`).
    """

    def __init__(self, kind: str, targets: dict[str, AtomicFile], scrub: Callable[[str], str], canon: dedup.TextCanon,
                 stats: Counter[str], warnings: list[str], feed: Callable[[str, list[bytes]], None],
                 model: type[BaseModel], batch: int, ids: Publisher,
                 reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 on_row: Callable[[dict[str, Any], list[str]], None] | None = None):
        self.kind = kind
        self.reshape = reshape  # the row as written, when its file's layout is not the kind's (BEIR's corpus)
        self.on_row = on_row  # told of every row written, with its raw (unpublished) source runs
        self.ids = ids
        self.feed = feed
        self.model = model
        self.batch = batch  # rows buffered before dedup hashes them as one batch (build.SINK_BATCH)
        self.targets = targets
        self.scrub = scrub
        self.stats = stats
        self.warnings = warnings
        self.dedup = dedup.RowDeduper(canon)
        self.buffer: list[mine.Candidate] = []

    def add(self, cand: mine.Candidate) -> None:
        self.stats[f"{self.kind}_candidates"] += 1
        scrub_text(self.kind, cand.row, self.scrub)
        if self.kind == "preference" and not mine.differ(cand.row["chosen"], cand.row["rejected"]):
            self.stats["preference_equal_after_redaction"] += 1
            return
        self.buffer.append(cand)
        if len(self.buffer) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        verdicts = self.dedup.check([dedup.row_texts(self.kind, c.row) for c in batch])
        kept: list[mine.Candidate] = []
        for cand, dup in zip(batch, verdicts, strict=True):
            if dup is not None:
                self.stats[f"{self.kind}_duplicates_{dup}"] += 1
            else:
                kept.append(cand)
        raw_runs = [list(c.row.get("source_run_ids") or []) for c in kept]  # before publishing, for on_row
        publish_ids(self.kind, [c.row for c in kept], self.ids)  # one scan for the batch's ids
        written: dict[str, list[bytes]] = {}
        for cand, runs in zip(kept, raw_runs, strict=True):
            row = self.reshape(cand.row) if self.reshape else cand.row
            try:
                self.model.model_validate(row)
            except ValidationError as exc:
                self.stats[f"{self.kind}_schema_rejected"] += 1
                if self.stats[f"{self.kind}_schema_rejected"] <= 5:
                    first = exc.errors()[0]
                    self.warnings.append(f"{self.kind} row {cand.key} dropped: "
                                         f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
                continue
            target = self.targets["train"] if self.kind == "rag" else self.targets[cand.split]
            # the row dict holds exactly the schema's fields in its order, so it is dumped as validated
            line = orjson.dumps(row) + b"\n"
            target.write(line)
            if self.on_row:
                self.on_row(row, runs)
            written.setdefault(target.rel, []).append(line)
            self.stats[f"{self.kind}_rows"] += 1
        for rel, lines in written.items():  # the validator checks the very bytes written, as they come
            self.feed(rel, lines)


def unverified(targets: dict[str, AtomicFile], hashes: dict[str, str]) -> list[str]:
    """The files (sorted) whose bytes on disk are not the bytes whose sha256 the validator reported."""
    return [rel for rel, target in sorted(targets.items()) if hashes.get(rel) != sha256_file(target.tmp)]
