"""Any embedder behind a store's ``embed_cache`` table: a text is embedded once per model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mcp_distill.search.embed.base import Embedder, content_hash
from mcp_distill.search.repository import cache_vectors, cached_ids, cached_vectors

if TYPE_CHECKING:
    from mcp_distill.store import Store


class CachingEmbedder:
    """Any embedder behind the ``embed_cache`` table of ``store``: a text is embedded once per model.

    Misses are embedded in one call (deduplicated), then written in one transaction. The cache
    lives in the store it is given, so a benchmark may keep its own cache file.
    """

    def __init__(self, store: Store, inner: Embedder):
        self.store = store
        self.inner = inner
        self.model_id = inner.model_id
        self.hits = 0
        self.misses = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def lookup(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of these content hashes for this model."""
        return {h: np.frombuffer(blob, dtype=np.float32)
                for h, blob in cached_vectors(self.store, self.model_id, hashes).items()}

    def ids(self, hashes: Sequence[str]) -> dict[str, int]:
        """embed_cache row ids of these content hashes for this model (the ones cached)."""
        return cached_ids(self.store, self.model_id, hashes)

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        hashes = [content_hash(t) for t in texts]
        found = self.lookup(hashes)
        missing: dict[str, str] = {}
        for text, h in zip(texts, hashes, strict=True):
            if h not in found and h not in missing:
                missing[h] = text
        self.hits += len(texts) - len(missing)  # served without calling the inner embedder
        if missing:
            self.misses += len(missing)
            vectors = self.inner.embed(list(missing.values()))
            rows = [(h, self.model_id, np.asarray(v, dtype=np.float32).tobytes())
                    for h, v in zip(missing, vectors, strict=True)]
            cache_vectors(self.store, rows)
            for (h, _), v in zip(missing.items(), vectors, strict=True):
                found[h] = np.asarray(v, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[h] for h in hashes]).astype(np.float32, copy=False)
