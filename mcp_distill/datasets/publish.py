"""The redaction step of what an export writes besides its rows: ``receipt.json``.

The receipt stored in the store keeps absolute paths (a later check reads the files again); the copy
written into the export folder, which travels with the dataset, names inputs as
``<source_root label>/<relative path>`` and outputs relative to the export folder
(:mod:`mcp_distill.redact.paths`), and every string of it passes
:func:`mcp_distill.redact.edges.redact_tree` with the store's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from mcp_distill.models import Receipt
from mcp_distill.redact.edges import redact_tree, redaction_key
from mcp_distill.redact.paths import relative_to, source_labels
from mcp_distill.store import Store


def published_receipt(store: Store, receipt: Receipt, out_dir: Path) -> bytes:
    """The receipt as written into the export: relative paths, redacted."""
    data: dict[str, Any] = receipt.model_dump(mode="json", by_alias=True)
    details = data.get("details", {})
    labels = source_labels([f["path"] for f in data["input_files"]] + list(details.get("source_files", [])))
    for digest in data["input_files"]:
        digest["path"] = labels.get(digest["path"], digest["path"])
    folder = str(out_dir.resolve())
    for digest in data["output_files"]:
        digest["path"] = relative_to(str(Path(digest["path"]).resolve()), folder)
    if "source_files" in details:
        details["source_files"] = [labels.get(p, p) for p in details["source_files"]]
    if "out_dir" in details:
        details["out_dir"] = out_dir.resolve().name
    redacted, _ = redact_tree(data, redaction_key(store))
    return orjson.dumps(redacted, option=orjson.OPT_INDENT_2)


__all__ = ["published_receipt"]
