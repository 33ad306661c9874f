"""Ollama's embedding endpoint (``ollama serve``; local by default)."""

from __future__ import annotations

from typing import Any

from mcp_distill.search.embed.base import EMBEDDER_ENV, URL_ENV
from mcp_distill.search.embed.remote import RemoteEmbedder

OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"
OLLAMA_DEFAULT_MODEL = "nomic-embed-text"


class OllamaEmbedder(RemoteEmbedder):
    """Ollama's ``POST {base}/api/embed {"model", "input": [...]}`` -> ``{"embeddings": [[...]]}``."""

    kind = "ollama"

    def __init__(self, model: str = OLLAMA_DEFAULT_MODEL, base_url: str = OLLAMA_DEFAULT_URL, **kwargs: Any):
        super().__init__(model, base_url, **kwargs)
        self.hint = (
            f"start Ollama (`ollama serve`) and pull the model (`ollama pull {self.model}`), set {URL_ENV} to "
            f"its address, or use the offline default with {EMBEDDER_ENV}=onnx"
        )

    def _url(self) -> str:
        return f"{self.base_url}/api/embed"

    def _parse(self, body: Any, n: int) -> list[list[float]]:
        return list(body["embeddings"])
