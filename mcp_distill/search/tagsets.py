"""Tag sets over the rows of the in-memory codes (:mod:`mcp_distill.search.codes`): one boolean mask per
tag, so a tag-filtered vector search finds its documents without reading anything from SQLite.

Reading a tag's documents per query cost most of a tag-filtered vector leg at 1M documents: 19 of its
26 ms for two tags (their ids from the FTS5 facet postings). A mask is read once from ``search_tags``
(its primary key is (tag, doc): one range scan, ~0.2 s for a tag on 535,000 of 1M documents) and then
costs ~0.1 ms to AND with the other filters.

Memory: one byte a row per cached tag (1 MB per tag at 1M documents), at most TAG_MASK_BYTES in all
(32 tags at 1M, 320 at 100k); the least recently used tag is dropped past it and read again when asked.
The masks follow the codes: a refresh of the codes (a write to ``search_vec``, which every document
write that changes tags makes, :func:`mcp_distill.search.writes`) carries them over with the rewritten
rows' tags read again; a full reload of the codes starts with none.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

#: Bytes of tag masks one copy of the codes keeps (a mask is one byte per row).
TAG_MASK_BYTES = 32 << 20


class TagMasks:
    """tag -> boolean mask over the rows of one :class:`~mcp_distill.search.codes.CodeMatrix`, LRU-bounded."""

    def __init__(self, masks: dict[str, np.ndarray] | None = None, budget: int = TAG_MASK_BYTES):
        self._masks: OrderedDict[str, np.ndarray] = OrderedDict(masks or {})
        self._lock = threading.Lock()
        self.budget = budget

    def tags(self) -> list[str]:
        with self._lock:
            return list(self._masks)

    def get(self, tag: str, build: Callable[[], np.ndarray]) -> np.ndarray:
        """The mask of ``tag`` (read only: callers combine it into new arrays), built by ``build`` when not held."""
        with self._lock:
            mask = self._masks.get(tag)
            if mask is not None:
                self._masks.move_to_end(tag)
                return mask
        mask = build()  # outside the lock: other tags' searches need not wait for this read
        with self._lock:
            self._masks[tag] = mask
            self._masks.move_to_end(tag)
            while len(self._masks) > 1 and sum(m.nbytes for m in self._masks.values()) > self.budget:
                self._masks.popitem(last=False)
        return mask

    def carried(self, size: int, rows: np.ndarray, tags_of_rows: Sequence[tuple[int, str]]) -> TagMasks:
        """The masks for a refreshed copy of ``size`` rows in which ``rows`` were rewritten (appended or
        overwritten), ``tags_of_rows`` each (row, tag) those rows now carry. New arrays: the old copy may
        still be searched by another thread."""
        with self._lock:
            held = list(self._masks.items())
        out: dict[str, np.ndarray] = {}
        for tag, old in held:
            mask = np.zeros(size, dtype=bool)
            keep = min(size, len(old))
            mask[:keep] = old[:keep]
            mask[rows] = False
            out[tag] = mask
        for row, tag in tags_of_rows:
            if tag in out:
                out[tag][row] = True
        return TagMasks(out, self.budget)
