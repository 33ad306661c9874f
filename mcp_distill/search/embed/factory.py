"""Choosing an embedder: by kind (:func:`make_embedder`) or from the environment (:func:`embedder_from_env`).

A new embedder is a module of this package with a class satisfying :class:`~mcp_distill.search.embed.base.Embedder`
and a branch here naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mcp_distill.errors import ConfigError
from mcp_distill.search.embed.base import API_KEY_ENV, EMBEDDER_ENV, MODEL_ENV, URL_ENV, Embedder
from mcp_distill.search.embed.ollama import OLLAMA_DEFAULT_MODEL, OLLAMA_DEFAULT_URL, OllamaEmbedder
from mcp_distill.search.embed.onnx import ONNX_MODEL_NAME, OnnxMiniLM
from mcp_distill.search.embed.openai import OPENAI_DEFAULT_MODEL, OPENAI_DEFAULT_URL, OpenAICompatEmbedder


def make_embedder(kind: str = "onnx", model: str | None = None, base_url: str | None = None,
                  api_key: str | None = None) -> Embedder:
    """An embedder by kind: ``onnx`` (offline default), ``ollama`` or ``openai`` (compatible API)."""
    kind = (kind or "onnx").strip().lower()
    if kind == "onnx":
        if model and model not in (ONNX_MODEL_NAME, "all-MiniLM-L6-v2"):
            raise ConfigError(
                f"the onnx embedder ships only {ONNX_MODEL_NAME} (got {MODEL_ENV}={model!r}); unset "
                f"{MODEL_ENV}, or use {EMBEDDER_ENV}=ollama|openai for other models"
            )
        return OnnxMiniLM()
    if kind == "ollama":
        return OllamaEmbedder(model or OLLAMA_DEFAULT_MODEL, base_url or OLLAMA_DEFAULT_URL, api_key=api_key)
    if kind in ("openai", "openai-compat", "openai_compat"):
        return OpenAICompatEmbedder(model or OPENAI_DEFAULT_MODEL, base_url or OPENAI_DEFAULT_URL, api_key=api_key)
    raise ConfigError(f"unknown embedder {kind!r} in {EMBEDDER_ENV}; use onnx, ollama or openai")


def embedder_from_env(env: Mapping[str, str] | None = None) -> Embedder:
    """The embedder chosen by ``MCP_DISTILL_EMBEDDER`` / ``_EMBED_MODEL`` / ``_EMBED_URL`` / ``_EMBED_API_KEY``."""
    env = os.environ if env is None else env
    return make_embedder(
        env.get(EMBEDDER_ENV) or "onnx",
        model=env.get(MODEL_ENV) or None,
        base_url=env.get(URL_ENV) or None,
        api_key=env.get(API_KEY_ENV) or None,
    )
