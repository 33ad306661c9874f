"""Text embedders: the offline ONNX default, Ollama and OpenAI-compatible endpoints, and a cache.

Every embedder satisfies :class:`Embedder`: ``model_id`` (recorded in the store next to the
vectors, so vectors of two models are never mixed), ``dim`` and ``embed(texts)`` returning a
float32 array of shape ``(len(texts), dim)`` whose rows are L2-normalised (cosine similarity is
then a dot product).

- :class:`OnnxMiniLM` (default): all-MiniLM-L6-v2 with int8 weights on onnxruntime, fully
  offline. Pipeline of sentence-transformers: WordPiece, at most 256 tokens, mean pooling over
  the attention mask, L2 normalisation. Loads lazily on first use; prints nothing (stdout is the
  MCP stdio stream).
- :class:`OllamaEmbedder`, :class:`OpenAICompatEmbedder`: remote models over httpx, with
  timeouts and a small bounded retry; failures raise :class:`EmbedderError` saying what to do.
- :class:`CachingEmbedder`: wraps any embedder with the ``embed_cache`` table of a store,
  keyed by (sha256 of the text, model id).

One module per embedder (``onnx.py``, ``ollama.py``, ``openai.py``; the remote ones share
``remote.py``), the Protocol in ``base.py``, the cache in ``cache.py``, the choice in ``factory.py``.
Pick one with :func:`embedder_from_env` (``MCP_DISTILL_EMBEDDER`` = onnx | ollama | openai,
``MCP_DISTILL_EMBED_MODEL``, ``MCP_DISTILL_EMBED_URL``, ``MCP_DISTILL_EMBED_API_KEY``) or
:func:`make_embedder`.
"""

from mcp_distill.search.embed.base import (
    API_KEY_ENV,
    EMBEDDER_ENV,
    MODEL_ENV,
    URL_ENV,
    Embedder,
    content_hash,
    l2_normalise,
)
from mcp_distill.search.embed.cache import CachingEmbedder
from mcp_distill.search.embed.factory import embedder_from_env, make_embedder
from mcp_distill.search.embed.ollama import OLLAMA_DEFAULT_MODEL, OLLAMA_DEFAULT_URL, OllamaEmbedder
from mcp_distill.search.embed.onnx import (
    ONNX_BATCH,
    ONNX_DIM,
    ONNX_MAX_TOKENS,
    ONNX_MODEL_NAME,
    ONNX_THREADS,
    TOKENIZER_RELPATH,
    OnnxMiniLM,
)
from mcp_distill.search.embed.openai import OPENAI_DEFAULT_MODEL, OPENAI_DEFAULT_URL, OpenAICompatEmbedder
from mcp_distill.search.embed.remote import REMOTE_BACKOFF_S, REMOTE_BATCH, REMOTE_RETRIES, REMOTE_TIMEOUT, RemoteEmbedder

__all__ = [
    "API_KEY_ENV", "EMBEDDER_ENV", "MODEL_ENV", "OLLAMA_DEFAULT_MODEL", "OLLAMA_DEFAULT_URL", "ONNX_BATCH", "ONNX_DIM",
    "ONNX_MAX_TOKENS", "ONNX_MODEL_NAME", "ONNX_THREADS", "OPENAI_DEFAULT_MODEL", "OPENAI_DEFAULT_URL",
    "REMOTE_BACKOFF_S", "REMOTE_BATCH", "REMOTE_RETRIES", "REMOTE_TIMEOUT", "TOKENIZER_RELPATH", "URL_ENV",
    "CachingEmbedder", "Embedder", "OllamaEmbedder", "OnnxMiniLM", "OpenAICompatEmbedder", "RemoteEmbedder",
    "content_hash", "embedder_from_env", "l2_normalise", "make_embedder",
]
