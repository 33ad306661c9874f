"""What the agent-trace adapters (``traces_*.py``) share.

The trace formats (SWE-agent, mini-swe-agent, OpenHands, Claude Code, Codex, aider, OpenTelemetry)
differ from the Lakehouse streams in three ways this module handles once:

* **Recognition by content of whole documents, lists included.** A trajectory may be a JSON list
  (OpenHands event streams, aider leaderboards). :meth:`TraceAdapter.can_handle` accepts the parsed
  document itself, a list, or ``{"$list": [...]}`` (the wrapper a collector can use so that
  ``Row``-typed adapters never see a bare list), and calls :meth:`TraceAdapter.recognise`.
* **Line streams whose run id is on one line only.** A Codex rollout names its session on line 1;
  aider analytics open a session with a ``launched`` event. Such adapters keep a little state;
  :meth:`TraceAdapter.begin_file` resets it (and may derive the run id from the file name, which
  is what keeps a resumed, incremental read joined to the right run).
* **Bookkeeping lines.** Progress ticks and UI echoes carry nothing worth a record: ``map`` returns
  an empty dict for them, meaning "skip this line" (not an error, not a record).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, ClassVar

import orjson

from mcp_distill.adapters.base import Adapter, Fields, Row, text_hash

#: Characters kept of a command's output (observations can be megabytes).
OUTPUT_CLIP = 2000
#: Characters kept of a command line or tool call description.
COMMAND_CLIP = 1000
#: Items looked at when recognising a list document (its first events are representative).
SAMPLE_ITEMS = 20

_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.MULTILINE)
_PLUS_FILE = re.compile(r"^\+\+\+ b/(\S+)", re.MULTILINE)
_APPLY_PATCH_FILE = re.compile(r"^\*\*\* (?:Update|Add|Delete) File: (.+)$", re.MULTILINE)
_EXIT_CODE = re.compile(r"exit code:? (-?\d+)", re.IGNORECASE)


class TraceAdapter(Adapter):
    """Base of the trace adapters: content recognition of any document shape, optional file state."""

    #: fnmatch patterns on the lower-cased file name that identify the format by name alone.
    name_patterns: ClassVar[tuple[str, ...]] = ()
    #: ``map_document`` accepts ``path=`` (run ids of some formats live only in the file name).
    takes_path: ClassVar[bool] = True
    priority = 30

    def matches_name(self, path: Path) -> bool:
        name = path.name.lower()
        return any(fnmatch(name, pattern) for pattern in self.name_patterns) or super().matches_name(path)

    def matches_content(self, sample: Row) -> bool:
        return self._recognise_safely(sample)

    def can_handle(self, path: Path, sample: Any) -> bool:
        if self.matches_name(path):
            return True
        return sample is not None and self._recognise_safely(sample)

    def _recognise_safely(self, sample: Any) -> bool:
        doc = unwrap_list(sample)
        try:
            return bool(self.recognise(doc))
        except (TypeError, AttributeError, KeyError, ValueError, IndexError):
            return False

    def recognise(self, doc: Any) -> bool:
        """Whether ``doc`` (a first line, or a whole parsed document, lists included) is of this format."""
        return False

    def begin_file(self, path: Path, offset: int = 0) -> None:
        """Called before the first line of a file is mapped; stateful line adapters reset here."""

    def check(self, row: Row) -> str | None:
        if not isinstance(row, Mapping):
            return f"{self.stream}: a line must be a JSON object"
        return None if self.recognise(row) else f"{self.stream}: not a line of this format"


def unwrap_list(sample: Any) -> Any:
    """``{"$list": [...]}`` (the collector's wrapper for list documents) becomes the list itself."""
    if isinstance(sample, Mapping) and set(sample) == {"$list"}:
        return sample["$list"]
    return sample


def dict_items(doc: Any, limit: int = SAMPLE_ITEMS) -> list[Mapping[str, Any]]:
    """The first ``limit`` items of a list document that are objects (empty for anything else)."""
    if not isinstance(doc, list):
        return []
    return [item for item in doc[:limit] if isinstance(item, Mapping)]


# --- field builders ----------------------------------------------------------------------------


def clip(text: Any, limit: int = OUTPUT_CLIP) -> str | None:
    """Text cut to ``limit`` characters (with a marker saying how much was cut)."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = orjson.dumps(text, default=str).decode()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more chars]"


def cmd(command: Any, kind: str = "shell", *, exit_code: int | None = None, ok: bool | None = None,
        output: Any = None) -> dict[str, Any]:
    """A CommandRun as a plain dict (``ok`` follows ``exit_code`` when only the code is known)."""
    if ok is None and exit_code is not None:
        ok = exit_code == 0
    text = command if isinstance(command, str) else orjson.dumps(command, default=str).decode()
    return compact({"command": clip(text.strip(), COMMAND_CLIP) or "(empty)", "kind": kind,
                    "exit_code": exit_code, "ok": ok, "output_excerpt": clip(output)})


def compact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None and empty values (0 and False stay): records stay small and ``exclude_none`` clean."""
    return {k: v for k, v in fields.items() if v is not None and v != "" and v != [] and v != {}}


def finish(fields: Mapping[str, Any]) -> Fields:
    """Compact the fields and add the input/output hashes the datasets deduplicate on."""
    out = compact(fields)
    if out.get("input_text") and "input_hash" not in out:
        out["input_hash"] = text_hash(out["input_text"])
    if out.get("output_text") and "output_hash" not in out:
        out["output_hash"] = text_hash(out["output_text"])
    for nested in ("signals", "extra"):
        if nested in out:
            out[nested] = compact(out[nested])
            if not out[nested]:
                del out[nested]
    return out


def text_of(content: Any) -> str | None:
    """Plain text of a message content: a string, or a list of parts (``text`` / ``content`` keys)."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        for key in ("text", "content"):
            if isinstance(content.get(key), str):
                return content[key]
        return None
    if isinstance(content, list):
        parts = [text_of(part) for part in content if not isinstance(part, Mapping)
                 or part.get("type") in (None, "text", "input_text", "output_text")]
        joined = "\n".join(p for p in parts if p)
        return joined or None
    return None


def json_maybe(value: Any) -> Any:
    """A JSON string decoded (objects and lists only); anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def patch_files(patch: str | None) -> list[str]:
    """Paths a unified diff (or a Codex ``apply_patch`` body) touches, in order, without repeats."""
    if not patch:
        return []
    found = [m.group(2) for m in _DIFF_FILE.finditer(patch)] or [m.group(1) for m in _PLUS_FILE.finditer(patch)]
    found += [m.group(1).strip() for m in _APPLY_PATCH_FILE.finditer(patch)]
    return list(dict.fromkeys(found))


def exit_code_in(text: Any) -> int | None:
    """An ``exit code: N`` stated in a tool's text output."""
    if not isinstance(text, str):
        return None
    match = _EXIT_CODE.search(text)
    return int(match.group(1)) if match else None


def wall_ms(start: datetime | None, end: datetime | None) -> float | None:
    """Milliseconds from ``start`` to ``end`` (None when either is missing or time runs backwards)."""
    if start is None or end is None:
        return None
    ms = (end - start).total_seconds() * 1000
    return round(ms, 3) if ms >= 0 else None


def offset_of(raw: bytes, needle: str, start: int = 0) -> int:
    """Byte offset of ``needle`` in ``raw`` at or after ``start`` (``start`` when it is absent)."""
    found = raw.find(needle.encode("utf-8"), start)
    return found if found >= 0 else start


def sum_or_none(values: Iterable[Any]) -> int | None:
    """Sum of the integer values present (None when there is none)."""
    nums = [int(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(nums) if nums else None


def normalise_exit(status: Any) -> tuple[str | None, str | None]:
    """(outcome word, failure marker) for an agent's exit status (SWE-agent, mini-swe-agent).

    ``submitted`` is no verdict (the patch may still fail the tests); limits and errors are failures.
    """
    if not isinstance(status, str) or not status.strip():
        return None, None
    raw = status.strip()
    low = raw.lower()
    if low.startswith("submitted"):
        # "submitted (exit_cost)": auto-submitted when a limit hit; a patch exists but the run was cut
        return "submitted", (f"exit_status: {raw}" if "(" in low else None)
    if "timeout" in low:
        return "timeout", f"exit_status: {raw}"
    if low in ("exit_cost", "exit_context", "limitsexceeded", "exit_total_execution_time") or "limit" in low:
        return "limits_exceeded", f"exit_status: {raw}"
    if low in ("completed", "finished", "success"):
        return "finished", None  # the agent's own word: it stopped normally, which is no verdict
    return "error", f"exit_status: {raw}"


class Lru(OrderedDict[str, Any]):
    """A small bounded mapping for per-stream state (tool calls awaiting their result...)."""

    def __init__(self, maxsize: int = 4096):
        super().__init__()
        self.maxsize = maxsize

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)
