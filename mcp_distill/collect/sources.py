"""Which files a collect reads: discovery under the roots, and how each file is read.

- Only regular files are read (a FIFO, socket or broken link is skipped with a reason), and every
  file is checked against the roots *after* resolving symlinks, so a link inside a root cannot pull
  in a file from outside it.
- Folders that hold an mcp-distill export (a ``receipt.json`` beside ``sft/``, ``rag/`` or
  ``preference/``) are skipped: the tool's own output is not evidence.
- ``.jsonl``/``.ndjson`` files, their rotated copies (``x.jsonl.1``) and any file whose first line
  is a JSON object followed by more lines are read line by line; ``.json``/``.traj``/``.yaml`` files
  are whole documents.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

import orjson

from mcp_distill.config import Settings
from mcp_distill.errors import PathNotAllowedError

LINE_SUFFIXES = {".jsonl", ".ndjson"}
DOCUMENT_SUFFIXES = {".json", ".traj", ".yml", ".yaml"}
ROTATED = re.compile(r"\.(jsonl|ndjson)\.\d+$", re.IGNORECASE)
SKIP_DIRS = {"__pycache__", "node_modules"}
EXPORT_PARTS = {"sft", "rag", "preference"}
BOM = b"\xef\xbb\xbf"


def is_export_folder(folder: Path) -> bool:
    return (folder / "receipt.json").is_file() and any((folder / part).is_dir() for part in EXPORT_PARTS)


def wanted_name(name: str) -> bool:
    lower = name.lower()
    return Path(lower).suffix in LINE_SUFFIXES | DOCUMENT_SUFFIXES or bool(ROTATED.search(lower))


def _admit(path: Path, settings: Settings, skipped: list[str]) -> Path | None:
    """The resolved path when it is a regular file inside the roots; else None, with the reason noted."""
    try:
        resolved = settings.check_path(path)
    except PathNotAllowedError:
        skipped.append(f"{path}: links outside the allowed roots; not read")
        return None
    try:
        mode = resolved.stat().st_mode
    except OSError as exc:
        skipped.append(f"{path}: cannot be read ({exc.strerror or exc}); not read")
        return None
    if not stat.S_ISREG(mode):
        skipped.append(f"{path}: not a regular file; not read")
        return None
    return resolved


def discover(targets: Iterable[Path], settings: Settings) -> tuple[list[Path], list[str]]:
    """Files to collect under ``targets`` (sorted), and the ones skipped with why."""
    files: list[Path] = []
    skipped: list[str] = []
    seen: set[Path] = set()
    for target in targets:
        if not target.is_dir():
            admitted = _admit(target, settings, skipped)
            if admitted is not None and admitted not in seen:
                seen.add(admitted)
                files.append(admitted)
            continue
        for root, dirs, names in os.walk(target):
            here = Path(root)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                             and not is_export_folder(here / d))
            for name in sorted(names):
                if name.startswith(".") or not wanted_name(name):
                    continue
                admitted = _admit(here / name, settings, skipped)
                if admitted is not None and admitted not in seen:
                    seen.add(admitted)
                    files.append(admitted)
    return files, skipped


def is_line_file(path: Path) -> bool:
    """Read line by line (JSONL), rather than as one document?"""
    lower = path.name.lower()
    if path.suffix.lower() in LINE_SUFFIXES or ROTATED.search(lower):
        return True
    if path.suffix.lower() in {".yml", ".yaml", ".traj"}:
        return False
    return looks_like_jsonl(path)


def parse_json_line(raw: bytes) -> object:
    """One JSON value from a line; a UTF-8 byte-order mark in front is ignored."""
    text = raw.strip()
    if text.startswith(BOM):
        text = text[len(BOM):].strip()
    return orjson.loads(text)


class _DuplicateKey(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def duplicate_key(raw: bytes, canonical: bytes) -> str | None:
    """The first key written twice in one JSON object of ``raw`` (which orjson, like most parsers,
    resolves silently by keeping the last value), or None.

    ``canonical`` is the parsed value serialised again (the collector makes it anyway, for the dedup
    hash). Every key is written ``"name":``, and re-serialising keeps string contents, so ``raw`` holding
    more ``":`` than ``canonical`` means a key was dropped; only then the exact (slower) check runs. A
    duplicate written with white space before its colon slips past the screen.
    """
    if raw.count(b'":') <= canonical.count(b'":'):
        return None
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        return str(exc.args[0])
    except ValueError:
        return None
    return None


def looks_like_jsonl(path: Path) -> bool:
    """A file whose first line is a whole JSON object and which has a second line is JSONL."""
    with open(path, "rb") as handle:
        first_line = handle.readline()
        second = handle.readline()
    if not second.strip():
        return False
    try:
        return isinstance(parse_json_line(first_line), dict)
    except orjson.JSONDecodeError:
        return False


def first_object(path: Path) -> dict | None:
    """The first line of the file that parses as a JSON object (scanning at most 50 lines)."""
    with open(path, "rb") as handle:
        for _, raw in zip(range(50), handle, strict=False):
            try:
                value = parse_json_line(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None

