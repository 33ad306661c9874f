"""The scans of the in-memory codes (:mod:`mcp_distill.search.codes`): hamming distances and the k smallest.

Their work arrays are per-thread buffers reused from search to search (:func:`scratch`): a fresh array for each
search cost more than the arithmetic on it. The int8 ranking's float copy of its 1,600 candidates (2.4 MB) took
0.8 ms a search at 100k documents, 0.1 ms into a reused buffer (on the main thread the copy was also a fresh
mapping, page-faulted and zeroed each time: the codes' load fixes glibc's mmap threshold at 1 MB, see
mcp_distill.search.codes._release_freed_heap). The vector leg went from 3.2 to 2.1 ms p50 (docs/benchmarks.md).
"""

from __future__ import annotations

import threading

import numpy as np

#: Rows of the codes a hamming scan XORs and counts at a time: its word and count buffers stay small (1.1 MB)
#: and in cache while every word column of the block is added up.
HAMMING_BLOCK = 131_072
_LOCAL = threading.local()


def scratch(name: str, rows: int, dtype: type | np.dtype, width: int = 0) -> np.ndarray:
    """A work array of ``rows`` (x ``width``) for this thread, reused by the next call with the same ``name``:
    valid only until then, so it must never be returned to a caller who keeps it. Grown by half when short."""
    buffers: dict[str, np.ndarray] = _LOCAL.__dict__.setdefault("buffers", {})
    shape = (rows, width) if width else (rows,)
    have = buffers.get(name)
    if have is None or have.shape[0] < rows or have.shape[1:] != shape[1:] or have.dtype != np.dtype(dtype):
        have = buffers[name] = np.empty((rows + rows // 2, *shape[1:]), dtype=dtype)
    return have[:rows]


def hamming(codes: np.ndarray, query: np.ndarray, rows: np.ndarray | None = None,
            out: np.ndarray | None = None) -> np.ndarray:
    """Hamming distance of each row of ``codes`` (uint64 words; only ``rows`` of them when given) to ``query``,
    into ``out`` (int32, one per row scanned) when given.

    One word column of a block of HAMMING_BLOCK rows at a time through two reused buffers: ``codes`` is
    column-major, so each column is one contiguous run, and nothing of the size of ``codes`` is allocated.
    XOR-ing the whole (rows, words) matrix at once made two temporaries of its size (96 MB at 1M documents)
    and took 42 ms at 1M rows where this takes 6 ms (2 cores)."""
    n = len(codes) if rows is None else len(rows)
    distance = np.empty(n, dtype=np.int32) if out is None else out
    distance[:] = 0
    for lo in range(0, n, HAMMING_BLOCK):
        hi = min(n, lo + HAMMING_BLOCK)
        word = scratch("hamming.word", hi - lo, np.uint64)
        count = scratch("hamming.count", hi - lo, np.uint8)
        block = distance[lo:hi]
        for j in range(codes.shape[1]):
            if rows is None:
                np.bitwise_xor(codes[lo:hi, j], query[j], out=word)
            else:
                np.take(codes[:, j], rows[lo:hi], out=word)
                np.bitwise_xor(word, query[j], out=word)
            np.bitwise_count(word, out=count)
            block += count
    return distance


def nearest(distance: np.ndarray, k: int, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(positions, distances) of the ``k`` smallest hamming distances (ties at the cut: lowest index).

    Distances are small integers, so the cut comes from their histogram: 0.15 ms at 100k rows,
    where argpartition took 1-9 ms (it degrades on the many equal values of a clustered collection)."""
    take = min(k, len(distance))
    if take <= 0:
        return np.zeros(0, dtype=np.int64), distance[:0]
    cut = int(np.searchsorted(np.cumsum(np.bincount(distance)), take))
    best = np.flatnonzero(distance <= cut)
    if len(best) > take:
        best = best[np.lexsort((best, distance[best]))[:take]]
    return (best if positions is None else positions[best]), distance[best]


def smallest(values: np.ndarray, k: int, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) of the ``k`` smallest ``values`` (``positions``: what each value's index stands for)."""
    take = min(k, len(values))
    best = np.argpartition(values, take - 1)[:take] if take < len(values) else np.arange(len(values))
    return (best if positions is None else positions[best]), values[best]


def int8_scores(q8: np.ndarray, scale: np.ndarray, rows: np.ndarray, query: np.ndarray, chunk: int) -> np.ndarray:
    """Dot product of ``query`` (float32) with the int8 rows ``rows`` of ``q8``, times their ``scale``: their
    cosine estimate, float32. ``chunk`` rows are gathered and widened to float32 at a time, in reused buffers."""
    sims = np.empty(len(rows), dtype=np.float32)
    width = q8.shape[1]
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        narrow = scratch("int8.rows", len(part), np.int8, width)
        wide = scratch("int8.wide", len(part), np.float32, width)
        np.take(q8, part, axis=0, out=narrow)
        np.copyto(wide, narrow, casting="unsafe")
        # einsum, not `@`: BLAS's gemv starts threads above ~1000 rows, and on a busy 2-core machine that took
        # 18 ms where this takes 0.1 ms
        np.einsum("ij,j->i", wide, query, out=sims[start:start + len(part)])
    sims *= scale[rows]
    return sims
