"""The vector leg's binary codes held in process memory: hamming KNN whose cost does not grow with k.

sqlite-vec's KNN over ``bit[]`` codes selects its k nearest by repeated passes over each chunk, so its
cost is documents x k (about 1.2 ns per unit at 100k documents on 2 cores): 6.6 ms for the 50
candidates the leg took, 50 ms for the 400 that an overlap@10 of 0.98 with exact search needs
(docs/benchmarks.md "Search latency"). The same codes scanned by numpy (XOR and popcount over 48-byte
codes, one partial sort) cost ~1 ms at 100k documents whatever k is.

The codes stay in the one SQLite file (the vec0 table ``search_vec`` is their only copy on disk);
this is a read cache of them: ~60 bytes a document (48 MB of codes at 1M documents). Every write
to ``search_vec`` replaces a random token in ``meta`` in the same transaction (see
:func:`mcp_distill.search.repository.legs.put_code`), so a search in any process sees the token
change and reloads (about 0.3 s at 100k documents).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from mcp_distill.search.repository import legs as legs_db
from mcp_distill.store import Store


@dataclass(frozen=True)
class CodeMatrix:
    """Every code of ``search_vec`` with its partition and metadata columns, as numpy arrays."""

    token: str | None
    docs: np.ndarray  # int64, ascending
    codes: np.ndarray  # uint64, (documents, bits / 64)
    collection: np.ndarray  # int32 index into names["collection"]
    task_type: np.ndarray
    source: np.ndarray
    ts_epoch: np.ndarray  # float64
    names: dict[str, dict[str, int]]

    @classmethod
    def load(cls, store: Store, token: str | None) -> CodeMatrix:
        rows = legs_db.all_codes(store)
        rows.sort(key=lambda r: r[0])
        names: dict[str, dict[str, int]] = {"collection": {}, "task_type": {}, "source": {}}

        def encoded(column: str, position: int) -> np.ndarray:
            table = names[column]
            return np.fromiter((table.setdefault(r[position], len(table)) for r in rows), dtype=np.int32,
                               count=len(rows))

        width = len(rows[0][3]) if rows else 8
        blob = b"".join(r[3] for r in rows)
        pad = (-width) % 8  # uint64 words: pad each code with zero bytes (equal on both sides, no distance)
        codes = np.frombuffer(blob, dtype=np.uint8).reshape(len(rows), width)
        if pad:
            codes = np.pad(codes, ((0, 0), (0, pad)))
        return cls(token=token, docs=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                   codes=np.ascontiguousarray(codes).view(np.uint64), collection=encoded("collection", 1),
                   task_type=encoded("task_type", 2), source=encoded("source", 4),
                   ts_epoch=np.fromiter((r[5] for r in rows), dtype=np.float64, count=len(rows)), names=names)

    def query_code(self, code: bytes) -> np.ndarray:
        raw = np.frombuffer(code, dtype=np.uint8)
        pad = (-len(raw)) % 8
        return (np.pad(raw, (0, pad)) if pad else raw).view(np.uint64)

    def mask(self, where: dict[str, Any]) -> np.ndarray | None:
        """Rows passing ``where`` (column -> value, ``ts_epoch`` -> (low inclusive, high exclusive)),
        or None when every row passes; an unknown value passes none."""
        keep: np.ndarray | None = None
        for column in ("collection", "task_type", "source"):
            if column not in where:
                continue
            table = self.names[column]
            if len(table) == 1 and where[column] in table:
                continue  # one value in the whole store: the filter keeps everything
            code = table.get(where[column], -1)
            part = getattr(self, column) == code
            keep = part if keep is None else keep & part
        if "ts_epoch" in where:
            lo, hi = where["ts_epoch"]
            part = np.ones(len(self.docs), dtype=bool)
            if lo is not None:
                part &= self.ts_epoch >= lo
            if hi is not None:
                part &= self.ts_epoch < hi
            keep = part if keep is None else keep & part
        return keep

    def knn(self, code: bytes, where: dict[str, Any], k: int) -> list[int]:
        """The ``k`` documents passing ``where`` nearest to ``code`` by hamming distance (ties by doc id)."""
        keep = self.mask(where)
        rows = np.flatnonzero(keep) if keep is not None else None
        codes = self.codes if rows is None else self.codes[rows]
        if k <= 0 or not len(codes):
            return []
        distance = np.bitwise_count(codes ^ self.query_code(code)).sum(axis=1, dtype=np.int32)
        take = min(k, len(distance))
        best = np.argpartition(distance, take - 1)[:take] if take < len(distance) else np.arange(len(distance))
        positions = best if rows is None else rows[best]
        order = np.lexsort((self.docs[positions], distance[best]))
        return [int(d) for d in self.docs[positions[order]]]


_MATRICES: weakref.WeakKeyDictionary[Store, CodeMatrix] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def code_matrix(store: Store) -> CodeMatrix:
    """The store's codes, reloaded when ``search_vec`` changed (in this process or another)."""
    token = legs_db.codes_token(store)
    matrix = _MATRICES.get(store)
    if matrix is not None and matrix.token == token:
        return matrix
    with _LOCK:
        matrix = _MATRICES.get(store)
        if matrix is None or matrix.token != token:
            matrix = _MATRICES[store] = CodeMatrix.load(store, token)
        return matrix
