"""Row dedup across an export: exact and near (MinHash) look-alikes, field by field."""

from __future__ import annotations

import hashlib
from typing import Any

from mcp_distill.datasets.mine import text_digest
from mcp_distill.datasets.neardup import DedupIndex, normalize


class TextCanon:
    """Each text -> the id of its first kept look-alike (exact or near, MinHash J >= 0.85), for all kinds.

    Exact repeats (same normalised text) are answered from a digest map, so each distinct text is
    MinHashed once whichever dataset meets it first.
    """

    def __init__(self) -> None:
        self.index = DedupIndex()
        self.ids: dict[bytes, tuple[int, bool]] = {}  # digest of normalised text -> (canonical id, near)
        self._norm: dict[bytes, bytes] = {}  # digest of the raw text -> digest of its normalised form

    def _digest(self, text: str) -> bytes:
        raw = text_digest(text)
        norm = self._norm.get(raw)
        if norm is None:  # normalising costs more than hashing: do it once per distinct text
            norm = self._norm[raw] = hashlib.sha256(normalize(text).encode("utf-8")).digest()[:16]
        return norm

    def resolve(self, texts: list[str]) -> list[tuple[int, bool, bytes]]:
        digests = [self._digest(t) for t in texts]
        new: dict[bytes, str] = {}
        for digest, text in zip(digests, texts, strict=True):
            if digest not in self.ids and digest not in new:
                new[digest] = text
        if new:
            start = len(self.ids)
            results = self.index.add_many((str(start + i), text) for i, text in enumerate(new.values()))
            for i, (digest, res) in enumerate(zip(new, results, strict=True)):
                self.ids[digest] = (start + i, False) if res is None else (int(res.duplicate_of), True)
        return [(*self.ids[d], d) for d in digests]


class RowDeduper:
    """A row is an exact duplicate when all its texts repeat a kept row's exactly, a near duplicate
    when each maps to the same first look-alike; so a long shared prompt cannot make two different
    answers look alike. First wins; dropped rows add nothing."""

    def __init__(self, canon: TextCanon):
        self.canon = canon
        self.exact: set[bytes] = set()
        self.near: set[tuple[int, ...]] = set()

    def check(self, texts: list[tuple[str, ...]]) -> list[str | None]:
        """For each row: None (kept), ``exact`` or ``near`` (dropped)."""
        width = len(texts[0])
        resolved = self.canon.resolve([t for row in texts for t in row])
        out: list[str | None] = []
        for i in range(len(texts)):
            fields = resolved[i * width:(i + 1) * width]
            exact = hashlib.sha256(b"".join(f[2] for f in fields)).digest()[:16]
            signature = tuple(f[0] for f in fields)
            if exact in self.exact:
                out.append("exact")
            elif signature in self.near:
                out.append("near")
            else:
                self.exact.add(exact)
                self.near.add(signature)
                out.append(None)
        return out


def row_texts(kind: str, row: dict[str, Any]) -> tuple[str, ...]:
    if kind == "sft":
        msgs = row["messages"]
        user = next(m["content"] for m in reversed(msgs) if m["role"] == "user")
        return user, msgs[-1]["content"]
    if kind == "preference":
        return row["prompt"], row["chosen"], row["rejected"]
    return (row["text"],)
