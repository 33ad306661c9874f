"""The in-memory codes' scans (mcp_distill.search.scan) against plain numpy references: blocked hamming
distances, the int8 scores, and the per-thread work buffers they reuse from call to call."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mcp_distill.search import scan


def _reference_hamming(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(np.ascontiguousarray(codes ^ query).view(np.uint8), axis=1)
    return bits.sum(axis=1).astype(np.int32)


@pytest.fixture
def codes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    matrix = np.asfortranarray(rng.integers(0, 2**63, size=(1000, 6), dtype=np.uint64))
    return matrix, rng.integers(0, 2**63, size=6, dtype=np.uint64)


def test_hamming_over_several_blocks_matches_reference(codes: tuple[np.ndarray, np.ndarray],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    matrix, query = codes
    monkeypatch.setattr(scan, "HAMMING_BLOCK", 64)  # 1000 rows: 16 blocks, the last one partial
    want = _reference_hamming(matrix, query)
    assert np.array_equal(scan.hamming(matrix, query), want)
    rows = np.array([3, 999, 0, 500, 64, 63, 65, 128], dtype=np.int64)
    assert np.array_equal(scan.hamming(matrix, query, rows), want[rows])
    out = np.full(len(matrix), 12345, dtype=np.int32)  # stale contents of a reused buffer are cleared
    assert scan.hamming(matrix, query, out=out) is out
    assert np.array_equal(out, want)


def test_scores_do_not_depend_on_the_buffers_earlier_calls_left(codes: tuple[np.ndarray, np.ndarray]) -> None:
    rng = np.random.default_rng(3)
    q8 = rng.integers(-127, 128, size=(500, 24), dtype=np.int8)
    scale = rng.random(500).astype(np.float32)
    query = rng.standard_normal(24).astype(np.float32)
    want = (q8.astype(np.float64) @ query.astype(np.float64)) * scale
    big = np.arange(500)
    small = np.array([499, 7, 7, 250])
    for rows, chunk in ((big, 64), (small, 3), (big, 1000), (small, 64)):
        got = scan.int8_scores(q8, scale, rows, query, chunk)
        assert got.dtype == np.float32
        assert np.allclose(got, want[rows], rtol=1e-5, atol=1e-4)


def test_scratch_is_reused_per_name_and_thread() -> None:
    first = scan.scratch("test.a", 10, np.float32)
    again = scan.scratch("test.a", 8, np.float32)
    assert np.shares_memory(first, again)  # the same buffer, not a new one
    assert scan.scratch("test.a", 8, np.int32).dtype == np.int32  # another dtype: another buffer
    assert scan.scratch("test.b", 4, np.int8, 3).shape == (4, 3)
    seen: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: seen.append(scan.scratch("test.a", 8, np.float32)))
    thread.start()
    thread.join()
    assert not np.shares_memory(seen[0], scan.scratch("test.a", 8, np.float32))
