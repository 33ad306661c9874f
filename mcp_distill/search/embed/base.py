"""What every embedder is: the :class:`Embedder` Protocol, the settings' names, and the helpers the
embedders share (the cache key of a text, L2 normalisation)."""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

import numpy as np

EMBEDDER_ENV = "MCP_DISTILL_EMBEDDER"
MODEL_ENV = "MCP_DISTILL_EMBED_MODEL"
URL_ENV = "MCP_DISTILL_EMBED_URL"
API_KEY_ENV = "MCP_DISTILL_EMBED_API_KEY"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of one fixed model and dimension."""

    model_id: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


def content_hash(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero instead of becoming NaN)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)
