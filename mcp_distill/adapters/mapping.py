"""Declarative mapping files: map any other JSONL stream (or JSON/YAML document) to EvidenceRecord fields.

A mapping file is TOML (documented example: ``examples/mappings/example.toml``; ``mcp-distill mapping
suggest FILE`` writes one from a sample of a file)::

    [stream]
    name = "eval_runs"                      # the stream name stored on every record
    files = ["eval_runs*.jsonl"]            # globs matched against the file name (or path, with a '/')
    required_keys = ["id", "result"]        # every row must have them (dotted paths reach nested keys)
    signature_keys = ["suite"]              # at least one must be present to recognise a file by content
    priority = 40                           # optional; lower is read first (streams with run ids: ~10)
    keep_extra = true                       # optional; unmapped source keys go to ``extra``
    records = "/trials"                     # optional, documents: where the list of records is

    [fields]                                # target field = source path, a template, or a list of fallbacks
    run_id = "{file_stem}:{id}"             # placeholders: {file_stem} {file_name} {parent} and row fields
    model_name = ["meta.model", "model"]
    "signals.outcome" = "passed"

    [constants]                             # target field = a fixed value for every row
    "signals.verdict_source" = "grader"

    [defaults]                              # target = value when a row has none (templates: file variables)
    task_type = "{parent}"
    [defaults."react_*.jsonl"]              # ...and per file glob (first match wins)
    model_name = "gpt-4o"

    [values."signals.outcome"]              # translate source words for one target ("*" = any other)
    true = "success"                        # true/false also match 1/0, "yes"/"no", "y"/"n"
    false = "failure"

Outcome and verdict fields holding plain yes/no values are read as success/failure (accept/reject) even
without a table; any other value that no table entry translates and the scoring rules do not know is
counted, and collect warns about it in its summary and receipt (:meth:`MappingAdapter.file_notes`).
:func:`load_mappings` turns files into adapters that a collector uses alongside the registry. A bad file
raises :class:`~mcp_distill.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import copy
import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from mcp_distill.adapters.base import (
    Adapter,
    Fields,
    Row,
    TimestampError,
    as_int,
    as_str_list,
    as_text,
    text_hash,
    try_ts,
)
from mcp_distill.adapters.lakehouse import commands, confidence, count, non_negative, validations
from mcp_distill.adapters.mapping_spec import (
    KIND_WORDS,
    OUTCOME_TARGETS,
    STRICT,
    TARGETS,
    MappingSpec,
    Source,
    Template,
    file_vars,
    glob_matches,
    item_offset,
    lookup,
    parse_mapping,
    select_records,
)
from mcp_distill.config import read_toml
from mcp_distill.errors import ConfigError
from mcp_distill.models import CATEGORIES

_TRUE = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "0.0"})
#: What a yes/no value means for an outcome target when no table translates it.
_YES_NO = {"signals.outcome": {"true": "success", "false": "failure"},
           "signals.verdict": {"true": "accept", "false": "reject"}}
_MISSING = object()


def bool_word(value: Any) -> str | None:
    """``"true"`` / ``"false"`` for a yes/no value (true, 1, "yes", "Y", "0", ...), else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and value in (0, 1):
        return "true" if value == 1 else "false"
    if isinstance(value, str):
        word = value.strip().lower()
        return "true" if word in _TRUE else "false" if word in _FALSE else None
    return None


@functools.cache
def scorer_words(target: str) -> frozenset[str]:
    """The words the shipped scoring rules vote on for an outcome target (lower case)."""
    from mcp_distill.score import load_rules  # the scorer sits above the adapters

    rules = load_rules(None)
    votes = rules.outcome if target == "signals.outcome" else rules.verdict
    return frozenset(w.lower() for kind in ("positive", "negative", "partial") for w in getattr(votes, kind))


class _Table:
    """One ``[values."target"]`` table, looked up exactly, then case-insensitively, then as yes/no, then ``*``."""

    def __init__(self, table: Mapping[str, Any]):
        self.exact = dict(table)
        self.lowered = {k.lower(): v for k, v in table.items()}
        self.yes_no = {w: v for k, v in table.items() if (w := bool_word(k)) is not None}

    def get(self, value: Any) -> Any:
        key = str(value).lower() if isinstance(value, bool) else str(value)
        for found in (self.exact.get(key, _MISSING), self.lowered.get(key.lower(), _MISSING)):
            if found is not _MISSING:
                return found
        word = bool_word(value)
        if word is not None and word in self.yes_no:
            return self.yes_no[word]
        return self.exact.get("*", _MISSING)


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


class MappingAdapter(Adapter):
    """An adapter driven by a :class:`MappingSpec`; :func:`load_mappings` makes one subclass per file.

    It reads line files and, through :meth:`map_document`, whole JSON/YAML documents. The collector gives
    each file its own copy (:meth:`begin_file`): file variables, per-file defaults and the count of
    untranslated outcome values belong to that file."""

    spec: ClassVar[MappingSpec]
    tables: ClassVar[dict[str, _Table]]
    takes_path: ClassVar[bool] = True
    #: The collector may hand this line adapter whole documents too.
    reads_documents: ClassVar[bool] = True

    def __init__(self) -> None:
        self._vars: dict[str, str] = {}
        self._defaults: dict[str, Any] = self.spec.defaults_for(None)
        self._untranslated: dict[tuple[str, str], Counter[str]] = {}

    def begin_file(self, path: Path, offset: int = 0) -> None:
        self._vars = file_vars(path)
        self._defaults = self.spec.defaults_for(path)
        self._untranslated = {}

    def file_notes(self) -> list[str]:
        """Warnings about the file read since :meth:`begin_file`: outcome values nothing translates."""
        notes = []
        for (target, source), values in sorted(self._untranslated.items()):
            shown = ", ".join(f"{v} ({n} line{'s' if n > 1 else ''})" for v, n in values.most_common(5))
            more = f" and {len(values) - 5} more" if len(values) > 5 else ""
            notes.append(f"{self.stream}: {target} from '{source}' has values that no [values.\"{target}\"] entry "
                         f"translates and the scoring rules do not know: {shown}{more}; those lines cast no "
                         "outcome vote: add the values to the table")  # fmt: skip
        return notes

    def matches_name(self, path: Path) -> bool:
        return any(glob_matches(glob, path) for glob in self.spec.files)

    def matches_content(self, sample: Row) -> bool:
        if not self.spec.required_keys and not self.spec.signature_keys:
            return False  # a mapping with no keys would claim every file
        if not all(lookup(sample, k)[0] for k in self.spec.required_keys):
            return False
        return not self.spec.signature_keys or any(lookup(sample, k)[0] for k in self.spec.signature_keys)

    def check(self, row: Row) -> str | None:
        if not isinstance(row, Mapping):
            return f"{self.stream}: a row must be a JSON object"
        missing = [k for k in self.spec.required_keys if not lookup(row, k)[0]]
        if missing:
            return f"{self.stream}: missing required field(s) {', '.join(missing)}"
        for target, sources in self.spec.fields.items():
            kind = TARGETS.get(target, "str")
            if kind not in STRICT:
                continue
            source, value = self._source(row, sources)
            if source is None:
                continue
            value = self._translate(target, value)
            if self._convert(kind, value) is None:
                hint = f"; add it to [values.\"{target}\"]" if kind == "category" else ""
                return (f"{self.stream}: field {target} (from '{source}') cannot use {value!r:.60} as "
                        f"{KIND_WORDS[kind]}{hint}")  # fmt: skip
        return None

    def _resolve(self, row: Row) -> tuple[dict[str, tuple[str, Any, Any]], list[str]]:
        """target -> (where it came from, raw value, translated value); and the row paths consumed."""
        consumed: list[str] = []
        resolved: dict[str, tuple[str, Any, Any]] = {}
        for target, sources in self.spec.fields.items():
            source, raw = self._source(row, sources)
            if source is not None:
                if "{" not in source:  # a template's fields stay in extra
                    consumed.append(source)
                resolved[target] = (source, raw, self._translate(target, raw))
                if target in OUTCOME_TARGETS:
                    self._note_outcome(target, source, raw, resolved[target][2])
        for target, value in self.spec.constants.items():
            resolved[target] = (target, value, self._translate(target, value))
        for target, value in self._defaults.items():
            if target not in resolved:
                if isinstance(value, Template):
                    value = value.render({}, self._vars)
                if value is not None:
                    resolved[target] = ("default", value, self._translate(target, value))
        return resolved, consumed

    def map(self, row: Row) -> Fields:
        out: dict[str, Any] = {}
        resolved, consumed = self._resolve(row)
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

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        """The records of a whole document (``[stream] records``), each mapped like a line. A record that is
        not of the mapping's shape yields ``{"_problem": reason}``: the collector quarantines that item."""
        if path is not None:
            self.begin_file(path)
        cursor = 0
        for index, row in enumerate(select_records(doc, self.spec.records)):
            cursor = item_offset(raw, row, cursor)
            at, cursor = cursor, cursor + 1
            problem = (f"not a JSON object but {type(row).__name__}" if not isinstance(row, Mapping)
                       else self.check(row))
            if problem:
                yield at, {"_problem": f"unknown shape: {problem} (item {index})"}
                continue
            try:
                fields = self.map(row)
            except TimestampError as exc:
                yield at, {"_problem": f"bad timestamp: {exc} (item {index})"}
                continue
            # the item and its place are its dedup key: an unchanged item of a grown document adds nothing
            fields["_source_row"] = {"_index": index, "_item": row}
            yield at, fields

    def _note_outcome(self, target: str, source: str, raw: Any, value: Any) -> None:
        if isinstance(value, str) and value.strip().lower() in scorer_words(target):
            return
        shown = repr(raw) if not isinstance(raw, str) else repr(raw[:40])
        self._untranslated.setdefault((target, source), Counter())[shown] += 1

    def _source(self, row: Row, sources: tuple[Source, ...]) -> tuple[str | None, Any]:
        for source in sources:
            if isinstance(source, Template):
                rendered = source.render(row, self._vars)
                if rendered is not None:
                    return source.text, rendered
                continue
            present, value = lookup(row, source)
            if present and value not in ("", [], {}):
                return source, value
        return None, None

    def _translate(self, target: str, value: Any) -> Any:
        table = self.tables.get(target)
        if table is not None and not isinstance(value, Mapping | list):
            found = table.get(value)
            if found is not _MISSING:
                return found
        if target in _YES_NO and (word := bool_word(value)) is not None:
            return _YES_NO[target][word]
        return value

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


# --- loading -------------------------------------------------------------------------------------


def adapter_for(spec: MappingSpec) -> MappingAdapter:
    """An adapter instance for a parsed spec (a mapping file's, or one inferred from a sample)."""
    cls = type(
        f"Mapping_{spec.name}",
        (MappingAdapter,),
        {"stream": spec.name, "file_names": (), "required_keys": frozenset(spec.required_keys),
         "signature_keys": frozenset(spec.signature_keys), "priority": spec.priority, "spec": spec,
         "tables": {target: _Table(table) for target, table in spec.values.items()}},
    )  # fmt: skip
    return cls()


def load_mapping(path: str | Path) -> MappingAdapter:
    """One mapping file as an adapter instance."""
    path = Path(path)
    data = read_toml(path, "mapping file", "see examples/mappings/example.toml")
    return adapter_for(parse_mapping(path, data))


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
