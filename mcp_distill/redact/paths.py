"""Paths as they may leave the machine: ``<source_root label>/<relative path>``, never absolute.

Why: an absolute path names the exporter's user, home folder and machine layout, and a folder name
can hold anything a user typed. An exported receipt names its inputs relative to the folder they
share (its name is the label: ``lakehouse_kb/audits.jsonl``), its outputs relative to the export
folder (``sft/train.jsonl``). The store keeps the absolute paths: provenance is checked against them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import PurePath


def source_labels(paths: Iterable[str]) -> dict[str, str]:
    """Each absolute path -> ``<label>/<relative>``, the label being the name of their common folder."""
    absolute = sorted({p for p in paths if os.path.isabs(p)})
    if not absolute:
        return {}
    if len(absolute) == 1:
        root = str(PurePath(absolute[0]).parent)
    else:
        root = os.path.commonpath(absolute)
        if root in absolute:  # one input is a prefix of the others only when it is their folder
            root = str(PurePath(root).parent)
    label = PurePath(root).name or "source"
    return {p: f"{label}/{PurePath(os.path.relpath(p, root)).as_posix()}" for p in absolute}


def relative_to(path: str, folder: str) -> str:
    """``path`` relative to ``folder`` (posix form) when inside it, else its last two parts."""
    try:
        rel = os.path.relpath(path, folder)
    except ValueError:
        rel = path
    if rel.startswith("..") or os.path.isabs(rel):
        rel = "/".join(PurePath(path).parts[-2:])
    return PurePath(rel).as_posix()


__all__ = ["relative_to", "source_labels"]
