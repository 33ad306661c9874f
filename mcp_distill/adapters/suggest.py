"""Mapping suggestions: sample files, infer their field roles (:mod:`.infer`), write a commented TOML mapping.

``mcp-distill mapping suggest FILE...`` and the ``suggest_mapping`` MCP tool print what
:func:`suggest_mapping` returns; the generic adapter stores the same text (stream ``inferred``) in each
collect receipt, so what it did can be read, saved and edited into a mapping file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

from mcp_distill.adapters.documents import DOCUMENT_MAX_BYTES, load_yaml
from mcp_distill.adapters.infer import SAMPLE_ROWS, Inference, infer
from mcp_distill.adapters.mapping import select_records
from mcp_distill.adapters.mapping_spec import file_vars
from mcp_distill.collect import DOCUMENT_SUFFIXES, is_line_file, parse_json_line
from mcp_distill.config import Settings
from mcp_distill.errors import InvalidInputError
from mcp_distill.models import MappingSuggestion, SuggestedField

#: Lines scanned for :data:`SAMPLE_ROWS` objects (a file may start with a header or blank lines).
SCAN_LINES = 5_000
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def sample_lines(path: Path, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """The first ``limit`` JSON-object lines of a line file (lines that are not objects are skipped)."""
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as handle:
        for _, raw in zip(range(SCAN_LINES), handle, strict=False):
            try:
                value = parse_json_line(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                rows.append(value)
                if len(rows) >= limit:
                    break
    return rows


def find_records(doc: Any) -> tuple[str | None, list[Any]]:
    """Where the records of a whole document are: the document itself when it is a list, else its longest
    list of objects (or object of objects) up to two levels down, as a JSON Pointer; else the document."""
    if isinstance(doc, list):
        return None, doc
    best: tuple[int, str] | None = None
    if isinstance(doc, Mapping):
        for pointer, node in _members(doc, "", 2):
            size = (sum(isinstance(x, Mapping) for x in node) if isinstance(node, list)
                    else len(node) if len(node) >= 2 and all(isinstance(v, Mapping) for v in node.values()) else 0)
            if size and (best is None or size > best[0]):
                best = (size, pointer)
    if best is None:
        return None, [doc]
    return best[1], select_records(doc, best[1])


def _members(obj: Mapping[str, Any], prefix: str, depth: int) -> list[tuple[str, Any]]:
    found = []
    for key, value in obj.items():
        pointer = f"{prefix}/{str(key).replace('~', '~0').replace('/', '~1')}"
        if isinstance(value, list | Mapping) and value:
            found.append((pointer, value))
        if isinstance(value, Mapping) and depth > 1:
            found.extend(_members(value, pointer, depth - 1))
    return found


def load_document(path: Path) -> Any:
    """A whole JSON or YAML document, parsed (InvalidInputError when it is too big or not parseable)."""
    size = path.stat().st_size
    if size > DOCUMENT_MAX_BYTES:
        raise InvalidInputError(f"{path} is {size} bytes, above {DOCUMENT_MAX_BYTES} for a document; convert it to JSONL")
    raw = path.read_bytes()
    try:
        return load_yaml(raw) if path.suffix.lower() in {".yml", ".yaml"} else orjson.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{path} is not a parseable JSON/YAML document ({exc}); fix it or convert it to "
                                "JSONL") from None


def sample_file(path: Path) -> tuple[str | None, list[dict[str, Any]]]:
    """(records selector, sampled rows) of one file: lines of a JSONL file, records of a document."""
    if is_line_file(path) or path.suffix.lower() not in DOCUMENT_SUFFIXES:
        return None, sample_lines(path)
    selector, records = find_records(load_document(path))
    return selector, [r for r in records[:SAMPLE_ROWS] if isinstance(r, dict)]


def stream_name(path: Path) -> str:
    """A stream name from a file name: ``Research Log.v2.jsonl`` -> ``research_log_v2``."""
    stem = file_vars(path)["file_stem"]
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "custom"


def suggest_mapping(paths: list[Path], name: str | None = None) -> MappingSuggestion:
    """A complete, commented mapping for ``paths`` (files of one format), inferred from their first rows."""
    if not paths:
        raise InvalidInputError("give at least one file to suggest a mapping for")
    rows: list[dict[str, Any]] = []
    selector: str | None = None
    for path in paths:
        if not path.is_file():
            raise InvalidInputError(f"{path} is not a file; give JSONL, JSON or YAML files of one format")
        found, sampled = sample_file(path)
        selector = selector or found
        rows.extend(sampled)
    files = list(dict.fromkeys(p.name for p in paths))
    if not rows:
        raise InvalidInputError(f"no JSON object found in {', '.join(files)}: a mapping maps objects (one per line, "
                                "or a document's list of objects)")
    inference = infer(rows, records=selector)
    if not inference.has_key_role:
        seen = ", ".join(list(inference.fields)[:12]) or "none"
        raise InvalidInputError(f"no run or task id, outcome, prompt or answer recognised among the fields of "
                                f"{', '.join(files)} ({seen}); write a mapping by hand from "
                                "examples/mappings/example.toml")
    stream = name or stream_name(paths[0])
    toml = render_toml(inference, stream, files)
    fields = [SuggestedField(target=r.target, source=r.path, why=r.why) for r in inference.roles]
    if inference.run_id is not None:
        fields.insert(0, SuggestedField(target="run_id", source=inference.run_id, why=inference.run_why))
    return MappingSuggestion(name=stream, files=files, rows_sampled=inference.rows, records=selector, toml=toml,
                             fields=fields, unmapped=[p for p in inference.fields if not inference.used(p)])


def suggest_for_paths(settings: Settings, paths: list[str], name: str | None = None) -> MappingSuggestion:
    """:func:`suggest_mapping` for paths given by a user or a client, each checked against the roots."""
    if not paths:
        raise InvalidInputError("give at least one file to suggest a mapping for")
    return suggest_mapping([settings.check_path(p, must_exist=True) for p in paths], name=name)


# --- TOML -----------------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007F")  # JSON strings are TOML strings


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_value(key)


def _comment(text: str) -> str:
    return "# " + _CONTROL.sub("?", text)


def render_toml(inference: Inference, name: str, files: list[str], required: bool = True,
                by: str = "`mcp-distill mapping suggest`") -> str:
    """The inferred mapping as TOML, each entry under a comment naming its role, the source field's types,
    coverage and example values; the fields left unmapped listed at the end."""
    data = inference.mapping_data(name, files, required=required)
    stream = data["stream"]
    out = [_comment(f"mcp-distill mapping for {', '.join(files)}, inferred from the first {inference.rows} "
                    f"row(s) by {by}."),
           "# Each entry says the role detected, the source field's types, how many rows hold it and example",
           "# values. Edit what you like (examples/mappings/example.toml explains every table), then collect:",
           _comment(f"  mcp-distill collect {' '.join(files)} --mapping {name}.toml"),
           "", "[stream]", f"name = {toml_value(name)}", f"files = {toml_value(files)}"]
    if "required_keys" in stream:
        out.append(f"required_keys = {toml_value(stream['required_keys'])}  "
                   "# in every sampled row: rows without them are quarantined; files holding them are recognised")
    if "records" in stream:
        out.append(f"records = {toml_value(stream['records'])}  # where the list of records is in the document")
    out += ["keep_extra = true  # every source field not mapped below is kept in each record's extra", "",
            "[fields]"]
    if inference.run_id is not None:
        out += [_comment(f"run: {inference.run_why}"), f"run_id = {toml_value(inference.run_id)}"]
    else:
        out.append(_comment(f"run: {inference.run_why}"))
    for role in inference.roles:
        out += [_comment(f"{role.why}"), f"{toml_key(role.target)} = {toml_value(role.path)}"]
    for role in inference.roles:
        if not role.values and not role.untranslated:
            continue
        out += ["", f"[values.{toml_key(role.target)}]",
                "# the log's values -> the scorer's outcome words (mcp_distill/defaults/scoring.toml [outcome]);",
                "# true/false also match 1/0, \"yes\"/\"no\"; collect warns about values no entry translates"]
        out += [f"{toml_key(key)} = {toml_value(word)}" for key, word in role.values.items()]
        out += [_comment(f"{toml_key(key)} = \"\"  # not an outcome word the scorer knows: translate it")
                for key in role.untranslated]
    unmapped = [s for p, s in inference.fields.items() if not inference.used(p)]
    if unmapped:
        out += ["", "# Not mapped (kept in extra; map one by adding `target = \"source.path\"` under [fields]):"]
        out += [_comment(f"  {s.path}: {_kinds(s)} in {_pct(s.present, inference.rows)} of rows, e.g. "
                         f"{', '.join(_example(v) for v in s.examples)}") for s in unmapped]
    return "\n".join(out) + "\n"


def _kinds(stats: Any) -> str:
    return "/".join(k for k in stats.kinds if k != "null") or "null"


def _pct(n: int, total: int) -> str:
    return f"{round(100 * n / total) if total else 0}%"


def _example(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
