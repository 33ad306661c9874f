"""OpenAI-compatible embedding endpoints (OpenAI itself, vLLM, LiteLLM, llama.cpp's server ...)."""

from __future__ import annotations

from typing import Any

from mcp_distill.search.embed.base import API_KEY_ENV, EMBEDDER_ENV, MODEL_ENV, URL_ENV
from mcp_distill.search.embed.remote import RemoteEmbedder

OPENAI_DEFAULT_URL = "https://api.openai.com"
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"


class OpenAICompatEmbedder(RemoteEmbedder):
    """``POST {base}/v1/embeddings {"model", "input"}`` -> ``{"data": [{"embedding", "index"}]}``.

    ``base_url`` may or may not end in ``/v1`` (both spellings are common in settings).
    """

    kind = "openai"

    def __init__(self, model: str = OPENAI_DEFAULT_MODEL, base_url: str = OPENAI_DEFAULT_URL, **kwargs: Any):
        super().__init__(model, base_url, **kwargs)
        self.hint = (
            f"check {URL_ENV}, the model name ({MODEL_ENV}) and the key ({API_KEY_ENV}), or use the offline "
            f"default with {EMBEDDER_ENV}=onnx"
        )

    def _url(self) -> str:
        base = self.base_url
        return f"{base}/embeddings" if base.endswith("/v1") else f"{base}/v1/embeddings"

    def _parse(self, body: Any, n: int) -> list[list[float]]:
        items = sorted(body["data"], key=lambda item: int(item["index"]))
        if [int(item["index"]) for item in items] != list(range(n)):
            raise ValueError("indexes of the returned embeddings do not cover the inputs")
        return [item["embedding"] for item in items]
