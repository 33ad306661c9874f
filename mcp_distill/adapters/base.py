"""Source adapters: recognise a stream, map its rows to EvidenceRecord fields.

An adapter is small: ``can_handle`` says whether a file is of its stream (by name or by the keys of
its first row), ``check`` says why one row is not of its shape, and ``map`` turns one row into the
fields of an :class:`~mcp_distill.models.EvidenceRecord` (without ``record_id``, ``stream`` and
``provenance``, which the collector adds). Adapters register themselves in ``REGISTRY``.

Line adapters see one JSON object per line. Whole-file adapters (``whole_file = True``) see the
parsed document (JSON or YAML) and may yield several records, each with its byte offset.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

Row = Mapping[str, Any]
_ROTATION = re.compile(r"\.\d+$")
Fields = dict[str, Any]


class Adapter:
    """Base class. Subclasses set the class attributes and implement :meth:`map`."""

    #: The stream name stored on every record.
    stream: ClassVar[str]
    #: File stems recognised by name (``scrum_reviews`` matches ``scrum_reviews.jsonl``, ``x.scrum_reviews.jsonl``).
    file_names: ClassVar[tuple[str, ...]] = ()
    #: Keys every row must have; also used to recognise a file by content.
    required_keys: ClassVar[frozenset[str]] = frozenset()
    #: Keys of which at least one must be present for content recognition (empty: not used).
    signature_keys: ClassVar[frozenset[str]] = frozenset()
    #: Streams that carry run ids are read first so file-window joins find their run.
    priority: ClassVar[int] = 50
    whole_file: ClassVar[bool] = False

    def matches_name(self, path: Path) -> bool:
        name = _ROTATION.sub("", path.name.lower())  # a rotated log (x.jsonl.1) keeps its stream
        for stem in self.file_names:
            for suffix in (".jsonl", ".ndjson", ".json"):
                if name == stem + suffix or name.endswith("." + stem + suffix) or name.endswith("_" + stem + suffix):
                    return True
        return False

    def matches_content(self, sample: Row) -> bool:
        keys = set(sample)
        if not self.required_keys or not self.required_keys <= keys:
            return False
        return not self.signature_keys or bool(self.signature_keys & keys)

    def can_handle(self, path: Path, sample: Row | None) -> bool:
        if self.matches_name(path):
            return True
        return sample is not None and self.matches_content(sample)

    def check(self, row: Row) -> str | None:
        """Why ``row`` is not of this stream's shape, or None when it is."""
        missing = sorted(k for k in self.required_keys if k not in row)
        if missing:
            return f"{self.stream}: missing required field(s) {', '.join(missing)}"
        return None

    def map(self, row: Row) -> Fields:
        raise NotImplementedError

    def map_document(self, doc: Any, raw: bytes) -> Iterator[tuple[int, Fields]]:
        """Whole-file adapters: yield (byte offset, fields) for each record of the document."""
        raise NotImplementedError


REGISTRY: list[Adapter] = []


def register(cls: type[Adapter]) -> type[Adapter]:
    REGISTRY.append(cls())
    return cls


def find_adapter(path: Path, sample: Row | None, whole_file: bool = False) -> Adapter | None:
    """Name matches win over content matches; within each, lower priority first."""
    candidates = [a for a in REGISTRY if a.whole_file == whole_file]
    candidates.sort(key=lambda a: a.priority)
    for adapter in candidates:
        if adapter.matches_name(path):
            return adapter
    if sample is None:
        return None
    for adapter in candidates:
        if adapter.can_handle(path, sample):
            return adapter
    return None


# --- helpers shared by adapters -------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The value's canonical JSON (sorted keys): equal content, equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def canonical_hash(value: Any) -> str:
    """sha256 of the value's canonical JSON: equal content, equal hash."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def text_hash(text: str | None) -> str | None:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() if text else None


def first(row: Row, *keys: str) -> Any:
    """The first present, non-empty value among ``keys`` (dotted keys reach into nested objects)."""
    for key in keys:
        if "." not in key:  # the common case, on the collector's hot path
            value: Any = row.get(key) if type(row) is dict or isinstance(row, Mapping) else None
        else:
            value = row
            for part in key.split("."):
                value = value.get(part) if type(value) is dict or isinstance(value, Mapping) else None
        if value is not None and value != "" and value != [] and value != {}:
            return value
    return None


#: The last string parsed by :func:`parse_ts` and its result: an adapter's check and its map read the
#: same timestamp of a row one after the other. Keyed by identity (strings are immutable).
_last_ts: tuple[Any, datetime | None] = (None, None)


class TimestampError(ValueError):
    """A timestamp field holds a value that is no time: the collector quarantines that one line."""


def parse_ts(value: Any) -> datetime | None:
    """ISO-8601 strings (``Z`` included) and epoch seconds or milliseconds, as an aware UTC datetime.

    Empty values are None. A value that is present but no time (``"yesterday"``, ``1e20``, NaN, a
    13th month) raises :class:`TimestampError`: storing the record without its time would silently move
    it in its run's order and in time-window joins, so the collector quarantines the line with the reason
    instead. Whole-document adapters that only gather stamps use :func:`try_ts`.
    """
    global _last_ts
    last = _last_ts
    if value is last[0] and value is not None:
        return last[1]
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return epoch_datetime(seconds, value)
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return parse_ts(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise TimestampError(f"{value[:60]!r} is not ISO-8601 or epoch ({exc})") from None
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        _last_ts = (value, parsed)
        return parsed
    return None


def epoch_datetime(seconds: float, stated: Any = None) -> datetime:
    """Epoch seconds as an aware UTC datetime; a value outside years 1-9999 raises TimestampError (the
    platform raises OverflowError or OSError EOVERFLOW there, which would read as an unreadable file)."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise TimestampError(f"timestamp {stated if stated is not None else seconds!r} is out of range "
                             "(epoch seconds or milliseconds of the years 1-9999)") from None


def try_ts(value: Any) -> datetime | None:
    """:func:`parse_ts`, with None for a value that is no time (for checks and optional stamps)."""
    try:
        return parse_ts(value)
    except TimestampError:
        return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(v) if not isinstance(v, Mapping) else orjson.dumps(v).decode() for v in value if v is not None]
    return [str(value)]


def as_text(value: Any) -> str | None:
    """Strings as they are; objects and lists as compact JSON; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def rest(row: Row, used: Iterable[str]) -> dict[str, Any]:
    """The row's fields not named in ``used``: kept in ``extra`` so nothing is lost."""
    used_set = set(used)
    return {k: v for k, v in row.items() if k not in used_set}
