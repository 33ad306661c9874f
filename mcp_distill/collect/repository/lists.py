"""``IN (...)`` lists of the collector's per-batch statements, padded to a few fixed lengths.

SQLite's driver keeps prepared statements in a small LRU cache keyed by the SQL text. A list of any
length gives every call a new text: a batch that checks run adoption record by record (one statement per
distinct list length) evicted the collector's own insert and upsert statements, which were then parsed
and prepared again on every call (~10% of a collect's CPU). Padded to a power of two (by repeating the
last value, which changes no ``IN``), a statement has at most ten texts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mcp_distill.store import placeholders

#: The longest list in one statement (SQLite's default limit on parameters is far above it).
CHUNK = 512


def padded(values: Sequence[Any]) -> list[Any]:
    """``values`` (at least one) repeated at the end up to the next power of two."""
    size = 1
    while size < len(values):
        size *= 2
    return [*values, *[values[-1]] * (size - len(values))]


def in_lists(values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """(placeholders, padded values) for ``values`` in chunks of at most :data:`CHUNK`; none when empty."""
    for i in range(0, len(values), CHUNK):
        chunk = padded(values[i:i + CHUNK])
        yield placeholders(len(chunk)), chunk
