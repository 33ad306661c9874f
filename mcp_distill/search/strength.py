"""Match strength: one scale, for every query and collection, of how far a hit is a real match.

Fused RRF scores only order the hits of one query: an unrelated query ("the cat sat on the mat")
gets the same fused score at rank 1 as a perfect match, and a raw cosine does not separate them
either (the embedder gives every text some similarity to every other; a stop word alone reached
0.50 on one collection while real queries started at 0.33). What does separate them is how much
closer the query is to the document than *unrelated text* is:

- **vector evidence** ``z``: the hit's cosine to the query measured against the document's own
  background, the cosines between that document and a fixed set of neutral reference sentences
  (package data ``data/reference_texts.txt``: everyday sentences on no technical subject)::

      z = (cos(q, d) - mu_d) / max(sigma_d, SIGMA_MIN),   mu_d = d . m,   sigma_d^2 = d^T S d - mu_d^2

  where ``m`` and ``S`` are the mean and second-moment matrix of the reference vectors (embedded
  once per process and model). A document that is close to everything (a "hub") has a high mu_d
  and gains nothing from it; a query that is no closer to the document than small talk is has
  z ~ 0..4, whatever the collection. Cheap: two products per hit, no scan of the collection.
- **keyword evidence** ``c``: the share of the query's informative terms (stemmed, boilerplate
  excluded, idf-weighted, terms absent from the collection included) that the hit contains. It
  lifts short paraphrases whose words the playbook shares ("warehouse worker shift assignment":
  z 4.4, c 0.70).

``e = z + C_WEIGHT * c`` and ``strength = clip((e - E_ZERO) / (E_FULL - E_ZERO), 0, 1)``; without
a vector (keyword mode with no embedder) ``strength = clip(c, 0, 1)``, weaker evidence. The label
is ``strong`` from STRONG_AT (e >= 7), ``weak`` from WEAK_AT (e >= 5), else ``none``. The constants
were chosen on the train halves of the playbook leave-one-out queries and of the junk-query set
(bench/playbooks.py ``--tune``: right playbooks had z >= 5.3, junk at most 4.3) and are reported
on the held-out halves in docs/benchmarks.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mcp_distill.errors import EmbedderError
from mcp_distill.search.embed import Embedder

Strength = Literal["strong", "weak", "none"]
STRENGTHS: tuple[str, ...] = ("strong", "weak", "none")

#: Weight of the keyword coverage (0..1) added to the vector z-score.
C_WEIGHT = 2.0
#: Evidence e at and below which the strength is 0, and from which it is 1.
E_ZERO = 3.0
E_FULL = 8.0
#: Strength from which a hit is labelled strong / weak (below WEAK_AT: none): e >= 7 / e >= 5.
STRONG_AT = 0.8
WEAK_AT = 0.4
#: A floor under sigma_d, so that a document with an unusually narrow background cannot turn a
#: small cosine difference into many sigma.
SIGMA_MIN = 0.03


@dataclass(frozen=True)
class Background:
    """Mean vector and second-moment matrix of a set of vectors (the reference sentences)."""

    mean: np.ndarray
    second: np.ndarray
    documents: int

    @classmethod
    def of(cls, vectors: np.ndarray) -> Background | None:
        if vectors.ndim != 2 or vectors.shape[0] == 0:
            return None
        x = vectors.astype(np.float64)
        return cls(mean=x.mean(axis=0), second=(x.T @ x) / x.shape[0], documents=int(x.shape[0]))

    def moments(self, vector: np.ndarray) -> tuple[float, float]:
        """(mu, sigma): mean and spread of the cosine between ``vector`` and the set."""
        q = np.asarray(vector, dtype=np.float64)
        if q.shape[0] != self.mean.shape[0]:
            return 0.0, 1.0
        mu = float(q @ self.mean)
        var = float(q @ self.second @ q) - mu * mu
        return mu, max(float(np.sqrt(max(var, 0.0))), SIGMA_MIN)


def vector_z(similarity: float | None, mu: float, sigma: float) -> float | None:
    """How many sigma the hit's cosine stands above the document's background."""
    if similarity is None:
        return None
    return (float(similarity) - mu) / sigma


def coverage(weights: Mapping[str, float], doc_terms: Iterable[str]) -> float:
    """Share of the query's informative-term weight found among ``doc_terms`` (0 when none)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    present = set(doc_terms)
    return sum(w for term, w in weights.items() if term in present) / total


def strength(z: float | None, cov: float | None) -> tuple[float, Strength]:
    """(strength in 0..1, label) from the vector z-score, or the keyword coverage when there is no
    vector evidence (see the module docstring)."""
    cov = cov or 0.0
    evidence = (z + C_WEIGHT * cov - E_ZERO) / (E_FULL - E_ZERO) if z is not None else cov
    value = float(min(max(evidence, 0.0), 1.0))
    label: Strength = "strong" if value >= STRONG_AT else "weak" if value >= WEAK_AT else "none"
    return round(value, 4), label


def passes(label: Strength, min_strength: Strength) -> bool:
    """True when ``label`` is at least ``min_strength`` (none < weak < strong)."""
    order = {"none": 0, "weak": 1, "strong": 2}
    return order[label] >= order[min_strength]


REFERENCE_FILE = Path(__file__).resolve().parent / "data" / "reference_texts.txt"
_REFERENCE: dict[str, Background | None] = {}
_REFERENCE_LOCK = threading.Lock()


def reference_texts() -> list[str]:
    """The neutral reference sentences (package data), comments and blanks left out."""
    lines = REFERENCE_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def reference_background(embedder: Embedder) -> Background | None:
    """Moments of the reference sentences' vectors under ``embedder``, embedded once per process
    and model (about 0.3 s with the default ONNX model). None when the embedder fails."""
    with _REFERENCE_LOCK:
        if embedder.model_id not in _REFERENCE:
            try:
                _REFERENCE[embedder.model_id] = Background.of(np.asarray(embedder.embed(reference_texts())))
            except EmbedderError:  # an outage only costs the strength its vector evidence
                return None
        return _REFERENCE[embedder.model_id]
