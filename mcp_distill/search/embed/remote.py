"""What the remote embedders share: batching, timeouts, bounded retries and clear errors over httpx.

A remote embedder is a :class:`RemoteEmbedder` subclass naming its endpoint (``_url``), its request
body (``_payload``) and how to read the vectors out of the answer (``_parse``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from mcp_distill.errors import ConfigError, EmbedderError
from mcp_distill.search.embed.base import MODEL_ENV, l2_normalise

#: Inputs per HTTP request to a remote embedder.
REMOTE_BATCH = 64
#: Extra attempts after a connection error, a timeout, HTTP 429 or 5xx; then EmbedderError.
REMOTE_RETRIES = 2
REMOTE_BACKOFF_S = 0.5
REMOTE_TIMEOUT = {"connect": 5.0, "read": 120.0, "write": 30.0, "pool": 5.0}




class RemoteEmbedder:
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
