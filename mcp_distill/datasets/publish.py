"""The redaction step of everything an export writes: its rows and ``receipt.json``.

Rows: the text a trainer reads (:data:`TEXT_FIELDS`) goes through the
exporter's scrubber (plain ``[REDACTED:<type>]``, :func:`scrub_text`); every other string of the row
(ids, keys, tags, titles, model names, metadata, provenance; new fields too) goes through a
:class:`mcp_distill.redact.aliases.Publisher` (:func:`publish_ids`): unchanged when it holds no
secret, else stable placeholders; ``provenance[].source_file`` becomes ``<root label>/<relative path>``.

The receipt stored in the store keeps absolute paths (a later check reads the files again); the copy
written into the export folder, which travels with the dataset, names inputs as
``<source_root label>/<relative path>`` and outputs relative to the export folder
(:mod:`mcp_distill.redact.paths`), and every string of it passes
:func:`mcp_distill.redact.edges.redact_tree` with the store's key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from mcp_distill.models import Receipt
from mcp_distill.redact import Publisher, redact_tree, redaction_key, relative_to, source_labels
from mcp_distill.store import Store

#: A string's place in a row: (container, key or index), and whether it is a source path.
_Ref = tuple[Any, Any, bool]


#: The fields of a row a trainer reads as text, per kind: redacted with plain placeholders. Every other
#: string of a row is an id or metadata, published with stable ones (mcp_distill.datasets.publish).
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "sft": ("messages",), "preference": ("prompt", "chosen", "rejected"), "rag": ("text",),
    "beir_queries": ("text",),  # BEIR's corpus lines are RAG rows, redacted as such before their reshaping
}

def scrub_text(kind: str, row: dict[str, Any], scrub: Callable[[str], str]) -> None:
    """In place: every string under the row's text fields through ``scrub``."""
    refs: list[_Ref] = []
    for name in TEXT_FIELDS[kind]:
        if name in row:
            _refs(row, name, refs)
    for container, key, _ in refs:
        container[key] = scrub(container[key])


def publish_ids(kind: str, rows: list[dict[str, Any]], ids: Publisher) -> None:
    """In place: every string of ``rows`` outside their text fields through ``ids``, in one batch."""
    refs: list[_Ref] = []
    for row in rows:
        for name in row:
            if name not in TEXT_FIELDS[kind]:
                _refs(row, name, refs)
    shown = ids.publish([c[k] for c, k, _ in refs], [is_path for _, _, is_path in refs])
    for (container, key, _), value in zip(refs, shown, strict=True):
        container[key] = value


def _refs(container: Any, key: Any, out: list[_Ref]) -> None:
    value = container[key]
    if isinstance(value, str):
        out.append((container, key, key == "source_file"))
    elif isinstance(value, dict):
        for k in value:
            _refs(value, k, out)
    elif isinstance(value, list):
        for i in range(len(value)):
            _refs(value, i, out)


def published_receipt(store: Store, receipt: Receipt, out_dir: Path, ids: Publisher | None = None) -> bytes:
    """The receipt as written into the export: relative paths, redacted.

    ``ids``: the publisher of the export's rows, so an input file reads exactly as in the rows'
    provenance (same label, same placeholders)."""
    data: dict[str, Any] = receipt.model_dump(mode="json", by_alias=True)
    details = data.get("details", {})
    if ids is None:
        labels = source_labels([f["path"] for f in data["input_files"]] + list(details.get("source_files", [])))
        ids = Publisher(redaction_key(store), labels)
    for digest in data["input_files"]:
        digest["path"] = ids.path(digest["path"])
    folder = str(out_dir.resolve())
    for digest in data["output_files"]:
        digest["path"] = relative_to(str(Path(digest["path"]).resolve()), folder)
    if "source_files" in details:
        details["source_files"] = ids.publish(details["source_files"], [True] * len(details["source_files"]))
    if "out_dir" in details:
        details["out_dir"] = out_dir.resolve().name
    redacted, _ = redact_tree(data, redaction_key(store))
    return orjson.dumps(redacted, option=orjson.OPT_INDENT_2)


__all__ = ["publish_ids", "published_receipt", "scrub_text"]
