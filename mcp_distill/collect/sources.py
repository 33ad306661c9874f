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


#: A key written with blanks before its colon (``"k" : 1``): the plain ``":`` count misses it.
_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')
#: 19 digits in a row: maybe an integer beyond SQLite's signed 64 bits (orjson turns those into floats).
#: Found by mapping every digit to "0" and looking for 19 of them: one C pass over the line, where the
#: regular expression ``\d{19}`` tried a match at every digit (the costliest step of preparing a long line).
_DIGITS_TO_ZERO = bytes(48 if 48 <= b <= 57 else b for b in range(256))
_LONG_DIGITS = b"0" * 19
INT64 = (-(2**63), 2**63 - 1)


class _LineProblem(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _LineProblem(f"duplicate key {key[:60]!r} in one JSON object: which value is meant is unknown "
                               "(readers disagree; RFC 8259 section 4); write each key once and collect again")
        seen.add(key)
    return dict(pairs)


def _checked_int(text: str) -> int:
    number = int(text)
    if not INT64[0] <= number <= INT64[1]:
        raise _LineProblem(f"out-of-range number: integer {text[:40]} does not fit signed 64 bits (SQLite's "
                           "range; it would be stored as a rounded float); write it as a string and collect again")
    return number


def _key_ends(data: bytes) -> int:
    # the pattern starts with a literal quote, so its search is one fast scan: cheaper than first asking
    # whether any quote is followed by a blank (four scans of the line)
    return data.count(b'":') + len(_SPACED_KEY_END.findall(data))


def has_long_digit_run(raw: bytes) -> bool:
    """Whether ``raw`` holds 19 ASCII digits in a row (``re.search(rb"\\d{19}", raw)``, in one C pass)."""
    return _LONG_DIGITS in raw.translate(_DIGITS_TO_ZERO)


def json_line_problem(raw: bytes, canonical: bytes) -> str | None:
    """Why a line that parsed is still not taken as written (a key twice in one object, an integer beyond
    signed 64 bits), or None.

    orjson, like most parsers, keeps the last of duplicate keys and turns huge integers into floats,
    silently; both change the evidence, so such a line is quarantined with this reason. ``canonical`` is
    the parsed value serialised again (the collector makes it anyway, for the dedup hash): every key ends
    ``"name":`` there, and re-serialising keeps string contents, so ``raw`` holding more key ends than
    ``canonical`` means a key was dropped. Only then, or when ``raw`` holds a 19-digit run, the exact
    (slower) check by the standard library runs.
    """
    if _key_ends(raw) <= canonical.count(b'":') and not has_long_digit_run(raw):
        return None
    text = raw.strip()
    if text.startswith(BOM):
        text = text[len(BOM):]
    try:
        json.loads(text, object_pairs_hook=_refuse_duplicates, parse_int=_checked_int)
    except _LineProblem as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None  # orjson read it; what the standard library refuses here is not this check's concern
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

