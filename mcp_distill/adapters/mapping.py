"""Declarative mapping files: map any other JSONL stream to EvidenceRecord fields without code.

A mapping file is TOML (documented example: ``examples/mappings/example.toml``)::

    [stream]
    name = "eval_runs"                      # the stream name stored on every record
    files = ["eval_runs*.jsonl"]            # globs matched against the file name (or path, with a '/')
    required_keys = ["id", "result"]        # every row must have them (dotted paths reach nested keys)
    signature_keys = ["suite"]              # at least one must be present to recognise a file by content
    priority = 40                           # optional; lower is read first (streams with run ids: ~10)
    keep_extra = true                       # optional; unmapped source keys go to ``extra``

    [fields]                                # target field = source path, or a list of fallback paths
    run_id = "id"
    model_name = ["meta.model", "model"]
    "signals.verdict" = "result"

    [constants]                             # target field = a fixed value for every row
    "signals.verdict_source" = "grader"

    [values."signals.verdict"]              # translate source words for one target ("*" = any other)
    pass = "accept"

:func:`load_mappings` turns files into :class:`~mcp_distill.adapters.base.Adapter` instances that a
collector uses alongside the registry. A bad file raises :class:`~mcp_distill.errors.ConfigError`
naming the file and the key.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from mcp_distill.adapters.base import Adapter, Fields, Row, as_int, as_str_list, as_text, text_hash, try_ts
from mcp_distill.adapters.lakehouse import commands, confidence, count, non_negative, validations
from mcp_distill.config import read_toml
from mcp_distill.errors import ConfigError
from mcp_distill.models.common import CATEGORIES

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
_STREAM_KEYS = ("name", "files", "required_keys", "signature_keys", "priority", "keep_extra")
_TABLES = ("stream", "fields", "constants", "values")
#: Conversions that can fail on a bad value: :meth:`MappingAdapter.check` refuses such rows.
_STRICT = ("time", "int", "count", "num", "conf", "category")


def _lookup(row: Any, path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted path; a present null counts as absent."""
    value = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return value is not None, value


def _remove(row: dict[str, Any], path: str) -> None:
    """Delete a dotted path from a (copied) row, and any parent objects it leaves empty."""
    parts = path.split(".")
    chain = [row]
    for part in parts[:-1]:
        nxt = chain[-1].get(part)
        if not isinstance(nxt, dict):
            return
        chain.append(nxt)
    chain[-1].pop(parts[-1], None)
    for parent, part in zip(reversed(chain[:-1]), reversed(parts[:-1]), strict=True):
        if parent.get(part) == {}:
            del parent[part]


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
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


class MappingAdapter(Adapter):
    """An adapter driven by a :class:`MappingSpec`; :func:`load_mappings` makes one subclass per file."""

    spec: ClassVar[MappingSpec]

    def matches_name(self, path: Path) -> bool:
        posix = PurePosixPath(path.as_posix())
        for glob in self.spec.files:
            if "/" in glob:
                if posix.match(glob):
                    return True
            elif fnmatch.fnmatch(path.name, glob):
                return True
        return False

    def matches_content(self, sample: Row) -> bool:
        if not self.spec.required_keys and not self.spec.signature_keys:
            return False  # a mapping with no keys would claim every file
        if not all(_lookup(sample, k)[0] for k in self.spec.required_keys):
            return False
        return not self.spec.signature_keys or any(_lookup(sample, k)[0] for k in self.spec.signature_keys)

    def check(self, row: Row) -> str | None:
        if not isinstance(row, Mapping):
            return f"{self.stream}: a row must be a JSON object"
        missing = [k for k in self.spec.required_keys if not _lookup(row, k)[0]]
        if missing:
            return f"{self.stream}: missing required field(s) {', '.join(missing)}"
        for target, sources in self.spec.fields.items():
            kind = TARGETS.get(target, "str")
            if kind not in _STRICT:
                continue
            source, value = self._source(row, sources)
            if source is None:
                continue
            value = self._translate(target, value)
            if self._convert(kind, value) is None:
                hint = f"; add it to [values.\"{target}\"]" if kind == "category" else ""
                return (f"{self.stream}: field {target} (from '{source}') cannot use {value!r:.60} as "
                        f"{_KIND_WORDS[kind]}{hint}")  # fmt: skip
        return None

    def map(self, row: Row) -> Fields:
        out: dict[str, Any] = {}
        consumed: list[str] = []
        resolved: dict[str, tuple[str, Any, Any]] = {}
        for target, sources in self.spec.fields.items():
            source, raw = self._source(row, sources)
            if source is not None:
                consumed.append(source)
                resolved[target] = (source, raw, self._translate(target, raw))
        for target, value in self.spec.constants.items():
            resolved[target] = (target, value, self._translate(target, value))
        override: dict[str, Any] = {}
        for target, (source, raw, value) in resolved.items():
            kind = TARGETS.get(target, "str")
            if kind == "validations" and isinstance(value, bool):
                converted: Any = [{"name": source, "passed": value}]  # a bare boolean names its source key
            else:
                converted = self._convert(kind, value)
            if converted is None or converted == []:
                continue
            if target.startswith("signals."):
                out.setdefault("signals", {})[target.split(".", 1)[1]] = converted
            elif target.startswith("human_override."):
                override[target.split(".", 1)[1]] = converted
                if target == "human_override.category":
                    override.setdefault("_raw", raw)
            elif target.startswith("extra."):
                out.setdefault("extra", {})[target.split(".", 1)[1]] = raw
            else:
                out[target] = converted
        if "category" in override:
            raw_word = override.pop("_raw")
            override.setdefault("reason", f"{self.stream}: human decision {raw_word!r}")
            out["human_override"] = override
        for text_key, hash_key in (("input_text", "input_hash"), ("output_text", "output_hash")):
            if out.get(text_key):
                out[hash_key] = text_hash(out[text_key])
        if self.spec.keep_extra:
            leftover = copy.deepcopy(dict(row))
            for source in consumed:
                _remove(leftover, source)
            if leftover:
                out["extra"] = {**leftover, **out.get("extra", {})}
        return out

    @staticmethod
    def _source(row: Row, sources: tuple[str, ...]) -> tuple[str | None, Any]:
        for source in sources:
            present, value = _lookup(row, source)
            if present and value not in ("", [], {}):
                return source, value
        return None, None

    def _translate(self, target: str, value: Any) -> Any:
        table = self.spec.values.get(target)
        if not table or isinstance(value, Mapping | list):
            return value
        key = str(value).lower() if isinstance(value, bool) else str(value)
        if key in table:
            return table[key]
        lowered = {k.lower(): v for k, v in table.items()}
        return lowered.get(key.lower(), table.get("*", value))

    @staticmethod
    def _convert(kind: str, value: Any) -> Any:
        if kind == "str":
            return value if isinstance(value, str) else as_text(value)
        if kind == "text":
            return as_text(value)
        if kind == "time":
            return try_ts(value)  # None for no time: check() then names the field and value
        if kind == "int":
            number = as_int(value)
            return number if number is not None and number >= 0 and not isinstance(value, bool) else None
        if kind == "count":
            return count(value)
        if kind == "num":
            return non_negative(value) if not isinstance(value, bool) else None
        if kind == "conf":
            return confidence(value)
        if kind == "strlist":
            return as_str_list(value)
        if kind == "commands":
            return commands(value if isinstance(value, list) else [value])
        if kind == "validations":
            return [{"name": "check", "passed": value}] if isinstance(value, bool) else validations(value)
        if kind == "category":
            return value if value in CATEGORIES else None
        raise ValueError(f"unknown target kind {kind!r}")


_KIND_WORDS = {"time": "a timestamp (ISO-8601 or epoch)", "int": "a non-negative integer",
               "count": "a count (integer or list)", "num": "a non-negative number",
               "conf": "a confidence in 0..1 (or a percentage)",
               "category": f"a category ({', '.join(CATEGORIES)})"}  # fmt: skip


# --- loading -------------------------------------------------------------------------------------


def _fail(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"mapping file {path}: {where}: {problem}")


def _strings(path: Path, where: str, value: Any, allow_one: bool = True) -> tuple[str, ...]:
    if isinstance(value, str) and allow_one:
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, where, "must be a list of non-empty strings")
    return tuple(value)


def _check_target(path: Path, table: str, target: str) -> None:
    if target in COMPUTED:
        raise _fail(path, f"[{table}] {target}", "is computed by the collector; remove it")
    if target.startswith("extra.") and len(target) > len("extra."):
        return
    if target not in TARGETS:
        known = ", ".join(sorted(TARGETS))
        raise _fail(path, f"[{table}] {target}", f"unknown target field; use one of {known} or extra.<name>")


def parse_mapping(path: Path, data: Mapping[str, Any]) -> MappingSpec:
    """Validate one parsed TOML document into a :class:`MappingSpec` (ConfigError on any problem)."""
    for table in data:
        if table not in _TABLES:
            raise _fail(path, f"[{table}]", f"unknown table; use {', '.join('[' + t + ']' for t in _TABLES)}")
    for table in _TABLES:
        if table in data and not isinstance(data[table], Mapping):
            raise _fail(path, table, f"must be a table ([{table}])")
    stream = data.get("stream")
    if not stream:
        raise _fail(path, "[stream]", "missing; a mapping needs [stream] with at least name and files")
    for key in stream:
        if key not in _STREAM_KEYS:
            raise _fail(path, f"[stream] {key}", f"unknown key; use {', '.join(_STREAM_KEYS)}")
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
    spec = MappingSpec(
        path=path, name=name.strip(), files=_strings(path, "[stream] files", stream["files"]),
        required_keys=_strings(path, "[stream] required_keys", stream.get("required_keys", []), False),
        signature_keys=_strings(path, "[stream] signature_keys", stream.get("signature_keys", []), False),
        priority=priority, keep_extra=keep_extra,
    )  # fmt: skip
    fields = data.get("fields", {})
    if not fields:
        raise _fail(path, "[fields]", "missing or empty; map at least one target field to a source key")
    for target, source in fields.items():
        _check_target(path, "fields", target)
        spec.fields[target] = _strings(path, f"[fields] {target}", source)
    for target, value in data.get("constants", {}).items():
        _check_target(path, "constants", target)
        if target in spec.fields:
            raise _fail(path, f"[constants] {target}", "is also in [fields]; keep one")
        if isinstance(value, Mapping):
            raise _fail(path, f"[constants] {target}", "must be a string, number, boolean or list")
        spec.constants[target] = value
    for target, table in data.get("values", {}).items():
        if target not in spec.fields and target not in spec.constants:
            raise _fail(path, f"[values.\"{target}\"]", "translates a field that is not in [fields] or [constants]")
        if not isinstance(table, Mapping) or any(isinstance(v, Mapping | list) for v in table.values()):
            raise _fail(path, f"[values.\"{target}\"]", "must be a table of source word = target value")
        if TARGETS.get(target) == "category":
            bad = [f"{k} = {v!r}" for k, v in table.items() if v not in CATEGORIES]
            if bad:
                raise _fail(path, f"[values.\"{target}\"]", f"{', '.join(bad)}: not one of {', '.join(CATEGORIES)}")
        spec.values[target] = dict(table)
    return spec


def load_mapping(path: str | Path) -> MappingAdapter:
    """One mapping file as an adapter instance."""
    path = Path(path)
    data = read_toml(path, "mapping file", "see examples/mappings/example.toml")
    spec = parse_mapping(path, data)
    cls = type(
        f"Mapping_{spec.name}",
        (MappingAdapter,),
        {"stream": spec.name, "file_names": (), "required_keys": frozenset(spec.required_keys),
         "signature_keys": frozenset(spec.signature_keys), "priority": spec.priority, "spec": spec},
    )  # fmt: skip
    return cls()


def load_mappings(paths: Iterable[str | Path]) -> list[Adapter]:
    """Mapping files (or folders of ``*.toml``) as adapters, sorted by priority then stream name."""
    adapters: list[MappingAdapter] = []
    for item in paths:
        p = Path(item)
        files = sorted(p.glob("*.toml")) if p.is_dir() else [p]
        adapters.extend(load_mapping(f) for f in files)
    names: dict[str, Path] = {}
    for adapter in adapters:
        if adapter.stream in names:
            raise ConfigError(f"mapping files {names[adapter.stream]} and {adapter.spec.path} both define stream "
                              f"{adapter.stream!r}; rename one")  # fmt: skip
        names[adapter.stream] = adapter.spec.path
    adapters.sort(key=lambda a: (a.priority, a.stream))
    return list(adapters)
