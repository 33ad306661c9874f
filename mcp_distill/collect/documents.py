"""Whole JSON/YAML documents: read at once (up to DOCUMENT_MAX_BYTES), mapped item by item, stored in one
transaction; an unchanged document (same sha256) is not read again."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

from mcp_distill.adapters import DOCUMENT_MAX_BYTES, Adapter, load_yaml
from mcp_distill.collect import repository as repo
from mcp_distill.collect.storing import BatchWriter
from mcp_distill.collect.summary import FileSummary
from mcp_distill.collect.workers import Item, build, quarantined
from mcp_distill.errors import InvalidInputError

#: Picks the adapter of a document no adapter was chosen for by its name: (path, sample) -> adapter or None.
Picker = Callable[[Path, dict[str, Any] | None], Adapter | None]


def collect_document(writer: BatchWriter, path: Path, adapter: Adapter | None, pick: Picker) -> FileSummary:
    """Collect one whole document with ``adapter`` (or the one ``pick`` finds from its content)."""
    summary = FileSummary(str(path), adapter.stream if adapter else None)
    stat = path.stat()
    if stat.st_size > DOCUMENT_MAX_BYTES:
        raise InvalidInputError(f"{path} is {stat.st_size} bytes, above the {DOCUMENT_MAX_BYTES}-byte limit "
                                "for whole documents; split it or convert it to JSONL")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    row = repo.source_row(writer.store, str(path))
    if row and row["head_sha256"] == digest:
        return summary  # unchanged since the last run
    items: list[Item] = []
    try:
        doc = load_yaml(raw) if path.suffix.lower() in {".yml", ".yaml"} else orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        items.append(quarantined(0, raw[:4096], f"invalid or truncated document: {exc}"))
        doc = None
    if doc is not None:
        if adapter is None:
            sample = doc if isinstance(doc, dict) else {"$list": doc} if isinstance(doc, list) else None
            adapter = pick(path, sample)
            summary.stream = adapter.stream if adapter else None
        if adapter is None:
            items.append(quarantined(0, raw[:4096], "unknown shape: no adapter recognises this document; add "
                                     "a mapping (`mcp-distill mapping suggest FILE` writes one)"))
        else:
            if hasattr(adapter, "file_notes"):
                adapter = copy.copy(adapter)  # its notes are this document's
            items.extend(_document_items(path, adapter, doc, raw, digest))
            take_notes(adapter, summary)
    writer.commit_document(path, stat, digest, summary, items)
    return summary


def _document_items(path: Path, adapter: Adapter, doc: Any, raw: bytes, digest: str) -> list[Item]:
    """The document's items mapped by ``adapter``: records, or quarantine tuples for items not of its shape."""
    items: list[Item] = []
    try:
        mapped = (adapter.map_document(doc, raw, path=path) if getattr(adapter, "takes_path", False)
                  else adapter.map_document(doc, raw))
        for offset, fields in mapped:
            if "_problem" in fields:  # one item not of the adapter's shape: only it is quarantined
                items.append(quarantined(offset, raw[offset:offset + 4096], fields["_problem"]))
                continue
            # Dedup key: the raw item when the adapter names it (unchanged items of a changed
            # document then add nothing), else the document's content and the item's offset
            # (two documents that map alike are never merged by mistake).
            item_row = fields.pop("_source_row", None) or {"_document_sha256": digest, "_offset": offset}
            built = build(str(path), adapter, offset, raw[offset:offset + 4096], item_row, fields=fields)
            if built is not None:
                items.append(built)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        items.append(quarantined(0, raw[:4096], f"mapping failed in {adapter.stream}: {exc!r}"))
    return items


def take_notes(adapter: Adapter | None, summary: FileSummary) -> None:
    """What a per-file adapter noticed while reading the file (mapping and inferring adapters)."""
    if adapter is not None and hasattr(adapter, "file_notes"):
        summary.warnings.extend(adapter.file_notes())
        summary.inferred_mapping = getattr(adapter, "inferred_toml", None)
