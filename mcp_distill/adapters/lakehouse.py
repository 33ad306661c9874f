"""Shared base of the adapters for the Lakehouse ``data/_kb/*.jsonl`` streams (seed section 2.9).

The 22 stream adapters live in ``lakehouse_scrum`` (the scrum / observer / mode-runner loop),
``lakehouse_audit`` (the PR auditor and doc drift) and ``lakehouse_distilled`` (LLM Team distilled
streams and contract analyses). This module holds what they share:

* :class:`LakehouseAdapter` adds type checks to :meth:`Adapter.check`: each adapter declares
  ``field_kinds`` (``latency_ms`` must be a non-negative number, ``reviewed_at`` a timestamp...), so
  a row such as ``"latency_ms": "fast"`` is refused with a reason instead of silently mapping to None.
* :class:`Picker` reads a row and remembers which keys were mapped, so every other key lands in
  ``extra`` and nothing is lost.
* :func:`finish` drops empty values, adds ``input_hash`` / ``output_hash`` and ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from mcp_distill.adapters.base import (
    Adapter,
    Fields,
    Row,
    TimestampError,
    as_float,
    as_int,
    as_str_list,
    as_text,
    first,
    parse_ts,
    text_hash,
)

#: Kinds a field may be declared with in ``field_kinds``; each names its check below.
KINDS = ("num", "int", "conf", "time", "str", "list", "bool", "obj", "text")


def kinds(declared: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only ``field_kinds`` table, its kinds checked once at import."""
    for key, kind in declared.items():
        if kind not in KINDS:
            raise ValueError(f"field {key}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    return MappingProxyType(dict(declared))


def kind_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` is not of ``kind`` (None when it is). ``None`` values are checked by the caller."""
    if kind in ("num", "conf"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {type(value).__name__} {value!r:.40}"
        if value < 0:
            return f"must not be negative, got {value}"
        if kind == "conf" and value > 100:
            return f"must be a confidence in 0..1 (or a percentage), got {value}"
        return None
    if kind == "int":
        number = as_int(value)
        if number is None or isinstance(value, float | bool):
            return f"must be an integer, got {type(value).__name__} {value!r:.40}"
        return None if number >= 0 else f"must not be negative, got {number}"
    if kind == "time":
        try:
            return None if parse_ts(value) is not None else f"is not a timestamp (ISO-8601 or epoch): {value!r:.40}"
        except TimestampError as exc:
            return f"is not a timestamp: {exc}; fix or remove the value and collect again"
    if kind == "str":
        return None if isinstance(value, str) else f"must be a string, got {type(value).__name__}"
    if kind == "list":
        return None if isinstance(value, list) else f"must be a list, got {type(value).__name__}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r:.40}"
    if kind == "obj":
        return None if isinstance(value, Mapping) else f"must be an object, got {type(value).__name__}"
    if kind == "text":
        ok = isinstance(value, str | Mapping | list)
        return None if ok else f"must be text or a JSON object, got {type(value).__name__}"
    raise ValueError(f"unknown field kind {kind!r}; use one of {', '.join(KINDS)}")


#: Kinds decided by the value's type alone: the JSON types that always pass.
_TYPE_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,), "list": (list,), "bool": (bool,), "obj": (dict,), "text": (str, dict, list),
}


def _plainly_ok(kind: str, value: Any) -> bool:
    """True only when :func:`kind_problem` would find nothing: the common values, decided cheaply."""
    t = type(value)
    allowed = _TYPE_KINDS.get(kind)
    if allowed is not None:
        return t in allowed
    if kind == "num":
        return (t is int or t is float) and value >= 0
    if kind == "conf":
        return (t is int or t is float) and 0 <= value <= 100
    if kind == "int":
        return t is int and value >= 0
    return False


class Picker:
    """Reads a row through :func:`base.first` and records the top-level keys it consumed."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.used: set[str] = set()

    def __call__(self, *keys: str) -> Any:
        row, used = self.row, self.used
        if type(row) is dict:  # the collector's hot path: plain keys of a parsed JSON object
            for key in keys:
                if "." in key:
                    break
                used.add(key)
            else:
                for key in keys:
                    value = row.get(key)
                    if value or (value is not None and value != "" and value != [] and value != {}):
                        return value
                return None
        for key in keys:
            used.add(key.partition(".")[0])
        return first(row, *keys)

    def num(self, *keys: str) -> float | None:
        return as_float(self(*keys))

    def integer(self, *keys: str) -> int | None:
        return as_int(self(*keys))

    def text(self, *keys: str) -> str | None:
        value = self(*keys)
        return value if type(value) is str else as_text(value)

    def strs(self, *keys: str) -> list[str]:
        return as_str_list(self(*keys))

    def ts(self, *keys: str) -> Any:
        return parse_ts(self(*keys))

    def conf(self, *keys: str) -> float | None:
        return confidence(self(*keys))

    def rest(self) -> dict[str, Any]:
        used = self.used
        return {k: v for k, v in self.row.items() if k not in used}


class LakehouseAdapter(Adapter):
    """An adapter whose rows are also type-checked; subclasses implement :meth:`fields`."""

    #: Source key -> kind (see :data:`KINDS`); checked when the key is present and not null.
    field_kinds: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def check(self, row: Row) -> str | None:
        if type(row) is not dict and not isinstance(row, Mapping):
            return f"{self.stream}: a row must be a JSON object, got {type(row).__name__}"
        get = row.get
        # a required key that is null is as good as absent (a null run_id or file cannot join anything)
        for k in self.required_keys:
            if get(k) is None:
                missing = sorted(k for k in self.required_keys if get(k) is None)
                return f"{self.stream}: missing required field(s) {', '.join(missing)}"
        for key, kind in self.field_kinds.items():
            value = get(key)
            if value is None or _plainly_ok(kind, value):
                continue
            problem = kind_problem(kind, value)
            if problem:
                return f"{self.stream}: field {key} {problem}"
        return None

    def map(self, row: Row) -> Fields:
        pick = Picker(row)
        return finish(self.fields(pick), pick)

    def fields(self, pick: Picker) -> Fields:
        raise NotImplementedError


# --- value helpers ----------------------------------------------------------------------------


def confidence(value: Any) -> float | None:
    """A confidence in 0..1; percentages (1 < v <= 100) are scaled, other values give None."""
    number = as_float(value)
    if number is None or number < 0 or number > 100:
        return None
    return number / 100 if number > 1 else number


def non_negative(value: Any) -> float | None:
    number = as_float(value)
    return number if number is not None and number >= 0 else None


def count(value: Any) -> int | None:
    """A count: an int as it is, a list by its length (``errors: [...]`` counts the errors)."""
    if isinstance(value, list):
        return len(value)
    number = as_int(value)
    return number if number is not None and number >= 0 else None


def signals(**values: Any) -> dict[str, Any]:
    """The Signals fields that have a value (so absent signals stay absent, not zero)."""
    return {k: v for k, v in values.items() if v is not None}


def commands(value: Any) -> list[dict[str, Any]]:
    """CommandRun dicts from a list of command strings or objects {cmd|command, exit|exit_code, tail}."""
    result: list[dict[str, Any]] = []
    if not isinstance(value, list):
        return result
    for item in value:
        if isinstance(item, str) and item:
            result.append({"command": item})
        elif isinstance(item, Mapping):
            command = first(item, "command", "cmd")
            if not command:
                continue
            exit_code = as_int(first(item, "exit_code", "exit", "code"))
            ok = item.get("ok")
            result.append(
                {
                    "command": str(command),
                    "kind": item.get("kind") if item.get("kind") in ("shell", "tool", "edit", "other") else "shell",
                    "exit_code": exit_code,
                    "ok": ok if isinstance(ok, bool) else (exit_code == 0 if exit_code is not None else None),
                    "output_excerpt": as_text(first(item, "tail", "output", "stderr")),
                }
            )
    return result


def validations(value: Any) -> list[dict[str, Any]]:
    """ValidationResult dicts from ``{name: bool}`` / ``{name: {passed, detail}}`` or a list of objects."""
    result: list[dict[str, Any]] = []
    items: list[tuple[str, Any]]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(str(first(v, "name", "check", "gate") or i), v) for i, v in enumerate(value) if isinstance(v, Mapping)]
    else:
        return result
    for name, outcome in items:
        if isinstance(outcome, bool):
            result.append({"name": name, "passed": outcome})
        elif isinstance(outcome, Mapping):
            passed = first(outcome, "passed", "ok", "pass")
            if isinstance(passed, bool):
                detail = first(outcome, "detail", "summary", "reason")
                findings = outcome.get("findings")
                if detail is None and isinstance(findings, list) and findings:
                    detail = "; ".join(as_str_list(findings))
                result.append({"name": name, "passed": passed, "detail": as_text(detail)})
    return result


def joined(value: Any, sep: str = "\n") -> str | None:
    """A list of strings (or objects) as one text; a string as it is."""
    if isinstance(value, list):
        parts = [p for p in as_str_list(value) if p]
        return sep.join(parts) or None
    return as_text(value)


def finish(fields: Fields, pick: Picker) -> Fields:
    """Drop empty values, clean ``signals``, add the text hashes and ``extra`` (unmapped keys)."""
    out: Fields = {}
    for key, value in fields.items():
        if not value and (value is None or value == [] or value == {} or value == ""):  # 0 and False are kept
            continue
        if key == "signals":
            value = signals(**value)
            if not value:
                continue
        out[key] = value
    for text_key, hash_key in (("input_text", "input_hash"), ("output_text", "output_hash")):
        if out.get(text_key) and hash_key not in out:
            out[hash_key] = text_hash(out[text_key])
    extra = {**pick.rest(), **out.pop("extra", {})}
    if extra:
        out["extra"] = extra
    return out
