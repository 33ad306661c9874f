"""Mapping files, parsed: the TOML a user writes (or ``mcp-distill mapping suggest`` prints) as a MappingSpec.

The runtime that maps rows with a spec is :mod:`mcp_distill.adapters.mapping`; this module only reads and
checks the file, so a bad file fails before any line is read, with the file and the key named.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mcp_distill.collect import ROTATED
from mcp_distill.errors import ConfigError
from mcp_distill.models import CATEGORIES

#: Every target a mapping may fill, with the conversion applied to the source value.
TARGETS: dict[str, str] = {
    "run_id": "str", "task_id": "str", "task_type": "str", "timestamp": "time", "model_name": "str",
    "model_provider": "str", "model_role": "str", "system_text": "text", "input_text": "text",
    "output_text": "text", "text": "text", "file_path": "str", "source_files": "strlist", "pr_number": "int",
    "head_sha": "str", "commands_run": "commands", "retrieved_context": "strlist", "observer_notes": "text",
    "scratchpad_summary": "text", "success_markers": "strlist", "failure_markers": "strlist",
    "validation_results": "validations", "latency_ms": "num", "cost_usd": "num", "tokens_in": "int",
    "tokens_out": "int", "tags": "strlist",
    "signals.verdict": "str", "signals.verdict_source": "str", "signals.confidence": "conf",
    "signals.severity": "str", "signals.patches_applied": "int", "signals.applier_action": "str",
    "signals.votes_for": "int", "signals.votes_against": "int", "signals.attempts": "int",
    "signals.accepted_on_attempt": "int", "signals.error_count": "count", "signals.outcome": "str",
    "human_override.category": "category", "human_override.reason": "text",
    "human_override.reviewer": "str", "human_override.decided_at": "time",
}  # fmt: skip
#: Fields the collector or the adapter computes; a mapping may not set them.
COMPUTED = ("record_id", "stream", "provenance", "schema_version", "input_hash", "output_hash")
STREAM_KEYS = ("name", "files", "required_keys", "signature_keys", "priority", "keep_extra", "records")
TABLES = ("stream", "fields", "constants", "defaults", "values")
#: Conversions that can fail on a bad value: :meth:`MappingAdapter.check` refuses such rows.
STRICT = ("time", "int", "count", "num", "conf", "category")
#: Targets whose words the scorer votes on: values no table translates are reported by collect.
OUTCOME_TARGETS = ("signals.outcome", "signals.verdict")
#: Placeholders a template may use besides the row's own fields (dotted paths).
FILE_VARS = ("file_stem", "file_name", "parent")
KIND_WORDS = {"time": "a timestamp (ISO-8601 or epoch)", "int": "a non-negative integer",
              "count": "a count (integer or list)", "num": "a non-negative number",
              "conf": "a confidence in 0..1 (or a percentage)",
              "category": f"a category ({', '.join(CATEGORIES)})"}  # fmt: skip
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Template:
    """A source written as ``"{file_stem}:{task_id}"``: file variables and row fields put together.

    It gives a value only when every row field it names is present, so a list of sources can fall back
    to the next one for rows that lack a field."""

    text: str
    names: tuple[str, ...]

    def render(self, row: Any, file_vars: Mapping[str, str]) -> str | None:
        values: dict[str, str] = {}
        for name in self.names:
            if name in FILE_VARS:
                if name not in file_vars:
                    return None
                values[name] = file_vars[name]
                continue
            present, value = lookup(row, name)
            if not present or value in ("", [], {}):
                return None
            values[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return _PLACEHOLDER.sub(lambda m: values[m.group(1).strip()], self.text)


Source = str | Template


@dataclass
class MappingSpec:
    """A parsed mapping file."""

    path: Path
    name: str
    files: tuple[str, ...]
    required_keys: tuple[str, ...] = ()
    signature_keys: tuple[str, ...] = ()
    priority: int = 45
    keep_extra: bool = True
    #: Where the records are in a whole JSON/YAML document (a JSON Pointer or a dotted path); None: the root.
    records: str | None = None
    fields: dict[str, tuple[Source, ...]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    #: Values for targets a row leaves empty: for every file, and per file glob (first match wins).
    defaults: dict[str, Any] = field(default_factory=dict)
    file_defaults: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def defaults_for(self, path: Path | None) -> dict[str, Any]:
        """The defaults in force for one file: its glob's table over the plain ``[defaults]``."""
        merged = dict(self.defaults)
        if path is not None:
            for glob, table in self.file_defaults:
                if glob_matches(glob, path):
                    merged.update(table)
                    break
        return merged


def lookup(row: Any, path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted path; a present null counts as absent."""
    value = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return value is not None, value


def glob_matches(glob: str, path: Path) -> bool:
    """A glob with a '/' matches the path's tail, one without matches the file name."""
    if "/" in glob:
        return PurePosixPath(path.as_posix()).match(glob)
    return fnmatch.fnmatch(path.name, glob)


def file_vars(path: Path) -> dict[str, str]:
    """``{file_stem}``, ``{file_name}`` and ``{parent}`` of a file; a rotated log (x.jsonl.1) is x.jsonl."""
    name = path.name
    match = ROTATED.search(name)
    if match:
        name = name[:match.start()] + "." + match.group(1)
    return {"file_stem": Path(name).stem, "file_name": name, "parent": path.parent.name}


def select_records(doc: Any, selector: str | None) -> list[Any]:
    """The records of a whole document: the list at ``selector`` (a JSON Pointer ``/a/0/b`` or a dotted
    path ``a.b``), the document itself when it is a list, or the document as one record. An object of
    objects (``{"task-1": {...}}``) gives one record per member, its key as ``_key``."""
    if not selector or selector == "/":
        return list(doc) if isinstance(doc, list) else [doc]
    parts = ([p.replace("~1", "/").replace("~0", "~") for p in selector[1:].split("/")]
             if selector.startswith("/") else selector.split("."))
    node, walked = doc, ""
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            here = f"keys {', '.join(sorted(map(str, node))[:8])}" if isinstance(node, Mapping) else \
                f"a {type(node).__name__}"
            raise ValueError(f"records {selector!r}: no {part!r} at {walked or 'the top'} ({here}); point "
                             "[stream] records at the list of records")
        walked += "/" + part
    if isinstance(node, list):
        return node
    if isinstance(node, Mapping) and node and all(isinstance(v, Mapping) for v in node.values()):
        return [{"_key": key, **value} for key, value in node.items()]
    return [node]


def item_offset(raw: bytes, row: Any, start: int) -> int:
    """Where a document's item starts, roughly: its first key at or after ``start`` (JSON or YAML)."""
    if isinstance(row, Mapping) and row:
        key = str(next(iter(row)))
        for needle in (f'"{key}"', f"{key}:"):
            found = raw.find(needle.encode("utf-8", "surrogatepass"), start)
            if found >= 0:
                return found
    return start


# --- parsing -------------------------------------------------------------------------------------


def _fail(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"mapping file {path}: {where}: {problem}")


def _strings(path: Path, where: str, value: Any, allow_one: bool = True) -> tuple[str, ...]:
    if isinstance(value, str) and allow_one:
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, where, "must be a list of non-empty strings")
    return tuple(value)


def _template(path: Path, where: str, text: str, file_only: bool = False) -> Source:
    """A source string as is, or as a :class:`Template` when it holds ``{...}`` placeholders."""
    if "{" not in text and "}" not in text:
        return text
    names = tuple(n.strip() for n in _PLACEHOLDER.findall(text))
    if not names or any(not n for n in names) or _PLACEHOLDER.sub("", text).count("{") + \
            _PLACEHOLDER.sub("", text).count("}"):
        raise _fail(path, where, f"{text!r}: write placeholders as {{file_stem}} or {{field.path}}, braces paired")
    if file_only and (bad := [n for n in names if n not in FILE_VARS]):
        raise _fail(path, where, f"{{{bad[0]}}}: a default can only use {', '.join('{' + v + '}' for v in FILE_VARS)}"
                                 "; map row fields in [fields]")
    return Template(text, names)


def _check_target(path: Path, table: str, target: str) -> None:
    if target in COMPUTED:
        raise _fail(path, f"[{table}] {target}", "is computed by the collector; remove it")
    if target.startswith("extra.") and len(target) > len("extra."):
        return
    if target not in TARGETS:
        known = ", ".join(sorted(TARGETS))
        raise _fail(path, f"[{table}] {target}", f"unknown target field; use one of {known} or extra.<name>")


def _parse_stream(path: Path, stream: Mapping[str, Any]) -> MappingSpec:
    for key in stream:
        if key not in STREAM_KEYS:
            raise _fail(path, f"[stream] {key}", f"unknown key; use {', '.join(STREAM_KEYS)}")
    name = stream.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, "[stream] name", "must be a non-empty string (the stream name of the records)")
    if "files" not in stream:
        raise _fail(path, "[stream] files", "missing; give the file globs this mapping reads, e.g. [\"x*.jsonl\"]")
    priority = stream.get("priority", 45)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _fail(path, "[stream] priority", "must be an integer")
    keep_extra = stream.get("keep_extra", True)
    if not isinstance(keep_extra, bool):
        raise _fail(path, "[stream] keep_extra", "must be true or false")
    records = stream.get("records")
    if records is not None and not isinstance(records, str):
        raise _fail(path, "[stream] records", "must be a JSON Pointer (\"/trials\") or a dotted path (\"trials\")")
    return MappingSpec(
        path=path, name=name.strip(), files=_strings(path, "[stream] files", stream["files"]),
        required_keys=_strings(path, "[stream] required_keys", stream.get("required_keys", []), False),
        signature_keys=_strings(path, "[stream] signature_keys", stream.get("signature_keys", []), False),
        priority=priority, keep_extra=keep_extra, records=records,
    )  # fmt: skip


def _default_value(path: Path, where: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        raise _fail(path, where, "must be a string, number, boolean or list")
    return _template(path, where, value, file_only=True) if isinstance(value, str) else value


def _parse_defaults(path: Path, spec: MappingSpec, table: Mapping[str, Any]) -> None:
    """``target = value`` for every file, ``["glob"] target = value`` for the files a glob matches."""
    for key, value in table.items():
        if isinstance(value, Mapping):  # [defaults."strategy_a*.jsonl"]
            per_file = {}
            for target, item in value.items():
                _check_target(path, f"defaults.\"{key}\"", target)
                per_file[target] = _default_value(path, f"[defaults.\"{key}\"] {target}", item)
            spec.file_defaults.append((key, per_file))
            continue
        _check_target(path, "defaults", key)
        spec.defaults[key] = _default_value(path, f"[defaults] {key}", value)
    for target in [*spec.defaults, *(t for _, table in spec.file_defaults for t in table)]:
        if target in spec.constants:
            raise _fail(path, f"[defaults] {target}", "is also in [constants] (which always wins); keep one")


def _parse_values(path: Path, spec: MappingSpec, tables: Mapping[str, Any]) -> None:
    for target, table in tables.items():
        known = target in spec.fields or target in spec.constants or target in spec.defaults or any(
            target in t for _, t in spec.file_defaults)
        if not known:
            raise _fail(path, f"[values.\"{target}\"]", "translates a field that is not in [fields] or [constants]")
        if not isinstance(table, Mapping) or any(isinstance(v, Mapping | list) for v in table.values()):
            raise _fail(path, f"[values.\"{target}\"]", "must be a table of source word = target value")
        if TARGETS.get(target) == "category":
            bad = [f"{k} = {v!r}" for k, v in table.items() if v not in CATEGORIES]
            if bad:
                raise _fail(path, f"[values.\"{target}\"]", f"{', '.join(bad)}: not one of {', '.join(CATEGORIES)}")
        spec.values[target] = dict(table)


def parse_mapping(path: Path, data: Mapping[str, Any]) -> MappingSpec:
    """Validate one parsed TOML document into a :class:`MappingSpec` (ConfigError on any problem)."""
    for table in data:
        if table not in TABLES:
            raise _fail(path, f"[{table}]", f"unknown table; use {', '.join('[' + t + ']' for t in TABLES)}")
    for table in TABLES:
        if table in data and not isinstance(data[table], Mapping):
            raise _fail(path, table, f"must be a table ([{table}])")
    stream = data.get("stream")
    if not stream:
        raise _fail(path, "[stream]", "missing; a mapping needs [stream] with at least name and files")
    spec = _parse_stream(path, stream)
    fields = data.get("fields", {})
    if not fields:
        raise _fail(path, "[fields]", "missing or empty; map at least one target field to a source key")
    for target, source in fields.items():
        _check_target(path, "fields", target)
        where = f"[fields] {target}"
        spec.fields[target] = tuple(_template(path, where, s) for s in _strings(path, where, source))
    for target, value in data.get("constants", {}).items():
        _check_target(path, "constants", target)
        if target in spec.fields:
            raise _fail(path, f"[constants] {target}", "is also in [fields]; keep one")
        if isinstance(value, Mapping):
            raise _fail(path, f"[constants] {target}", "must be a string, number, boolean or list")
        spec.constants[target] = value
    _parse_defaults(path, spec, data.get("defaults", {}))
    _parse_values(path, spec, data.get("values", {}))
    return spec
