"""An in-process LRU of query vectors keyed by (model id, query text).

Agents repeat themselves: the same task text is searched again on retries, by the prompt and by the
tool, and by every tool call of a loop that re-asks its question. Embedding a query costs ~4-6 ms
on 2 cores (the largest part of a hybrid search at 10k documents); a hit costs a dictionary look-up.
The key holds the model id, so vectors of two models are never mixed; the cache lives in the
process only (query texts are not written anywhere), bounded by entry count (384 float32 values,
~1.6 KB each: 4096 entries are ~7 MB).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

#: Query vectors kept per process.
QUERY_CACHE_SIZE = 4096


class QueryVectorCache:
    """Least-recently-used cache of query vectors; thread-safe (the MCP server searches from
    worker threads). Stored vectors are read-only, so a caller cannot change a cached entry."""

    def __init__(self, size: int = QUERY_CACHE_SIZE):
        self.size = max(0, int(size))
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str, text: str) -> np.ndarray | None:
        key = (model_id, text)
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, model_id: str, text: str, vector: np.ndarray) -> np.ndarray:
        """Keep ``vector`` for (model, text); returns the stored read-only copy."""
        stored = np.array(vector, dtype=np.float32, copy=True)
        stored.flags.writeable = False
        if self.size == 0:
            return stored
        with self._lock:
            self._items[(model_id, text)] = stored
            self._items.move_to_end((model_id, text))
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return stored

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


#: The process's cache, shared by every Index (an MCP server builds one Index per request).
QUERY_VECTORS = QueryVectorCache()
