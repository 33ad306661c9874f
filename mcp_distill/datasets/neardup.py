"""Exact and near-duplicate detection for dataset rows (MinHash + LSH, numpy only).

Why: a training set that repeats the same answer fifty times teaches the model that answer fifty
times over, and a RAG/eval split with near-copies leaks between train and test. Rows are checked in
the order they are exported; the first occurrence is kept and every later copy is reported.

How
---
1. **Normalise** (:func:`normalize`): NFKC, casefold, every non-alphanumeric character (punctuation,
   symbols, ``_``) becomes a space, whitespace collapses. So case, spacing and punctuation edits are
   not differences at all.
2. **Exact**: sha256 of the normalised text. Cheap, certain, checked first.
3. **Near**: MinHash over shingles of the normalised text, then LSH banding to find candidates, then
   the candidates' full signatures estimate the Jaccard similarity, which must reach
   :data:`NEAR_DUP_THRESHOLD` (0.85).

   * Shingles are word 5-grams (:data:`SHINGLE_WORDS`). A text of fewer than
     :data:`SHORT_TEXT_WORDS` words has too few word 5-grams for one changed word to leave a
     Jaccard above 0.85, so short texts use character 3-grams (:data:`SHINGLE_CHARS`) instead: one
     inserted or changed character touches only 3 of them, so a one-typo variant of a sentence of 40+
     characters stays above 0.85 (with 5-grams it would need 60+). A text shorter than 3 characters
     is one shingle. The two kinds are salted apart, so a short and a long text never match near
     (they can still match exactly).
   * What 0.85 means with word 5-grams: a text of N words with k consecutive words replaced keeps a
     Jaccard of about (N-k-8)/(N+k), so it is a near dup while N >= 12.3 k + 53: about one rewritten
     15-word sentence in 240 words, or one changed word in 66.
   * Signatures: :data:`NUM_PERM` = 128 hash functions ``h_i(x) = a_i x + b_i mod 2^32`` (a_i odd,
     so each is a permutation) over the top 32 bits of splitmix-mixed 64-bit shingle hashes. The
     inputs are already uniformly mixed, so these cheap affine permutations behave like independent
     min-wise hashes: measured bias < 0.006 and spread equal to the theoretical standard error
     sqrt(J (1 - J) / 128) (0.03 at J = 0.85) at J = 0.5, 0.85 and 0.95, the same as the 2-universal
     64-bit multiply-shift family at half the memory traffic (~30 % faster end to end).
   * Banding: :data:`BANDS` = 16 bands of :data:`ROWS` = 8 rows. Two texts of true Jaccard s become
     candidates with probability ``1 - (1 - s**8)**16`` (:func:`candidate_probability`), the S-curve:

     ====  =====  =====  =====  =====  =====  =====
     s     0.50   0.60   0.70   0.80   0.85   0.90
     P     0.06   0.24   0.61   0.95   0.994  0.9999
     ====  =====  =====  =====  =====  =====  =====

     Its midpoint (1/16)**(1/8) ~= 0.71 sits well below 0.85 on purpose: LSH only proposes, the
     signature comparison decides, so extra candidates cost a little time and missed ones cost
     recall. 16 x 8 misses ~0.6 % of pairs at exactly 0.85 and almost none above 0.9.

Determinism: every constant comes from splitmix64 over :data:`SEED` (not numpy's RNG, whose streams
may change between numpy versions, and not Python's ``hash``, which is salted per process), so the
same rows in the same order give the same answers in every run and on every machine.

Memory per kept row: the 128 x uint32 signature (512 B, in an array grown by doubling), 16
band-table entries (~1.2 KB of Python dict and int objects), the sha256 key and the row key: about
2.6 KB measured (tracemalloc, 90k kept rows), independent of the text length. Rows reported as
duplicates are not stored.

Throughput (``bench/redact.py``, 2-core dev machine, one core used): :meth:`DedupIndex.add_many`
hashes rows in vectorised batches, ~3.5-3.9 s for 100k rows of ~1.1 KB (~25-30k rows/s);
:meth:`DedupIndex.add` is the same code with a batch of one, where per-call numpy overhead dominates
(~11k rows/s). Feed exports through ``add_many``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

NEAR_DUP_THRESHOLD = 0.85
"""Estimated Jaccard similarity of shingle sets at or above which a row is a near duplicate."""
NUM_PERM = 128
BANDS = 16
ROWS = 8
SHINGLE_WORDS = 5
SHINGLE_CHARS = 3
SHORT_TEXT_WORDS = 30
"""Texts with fewer normalised words than this are shingled by characters (see module doc)."""
SEED = 0x6D63702D64697374  # "mcp-dist": fixed so results never depend on the run
BATCH_ROWS = 512
BATCH_CHARS = 2_000_000
"""A batch of :meth:`DedupIndex.add_many` closes at BATCH_ROWS rows or BATCH_CHARS characters,
whichever comes first, so a few huge rows cannot make the temporaries (~30 B per character) balloon."""

assert BANDS * ROWS == NUM_PERM

_MASK64 = (1 << 64) - 1
_BLOCK = 8192  # shingles per minhash block: 128 x 8192 x 4 B = 4 MB of temporaries


def _splitmix64(state: int) -> Iterator[int]:
    """A tiny, portable, seeded 64-bit generator for the hash constants."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        yield z ^ (z >> 31)


def _constants() -> dict[str, np.ndarray | int]:
    gen = _splitmix64(SEED)
    poly = next(gen) | 1  # odd, so invertible mod 2^64
    return {
        "poly": poly,
        "poly_inv": pow(poly, -1, 1 << 64),
        "word_mult": np.array([next(gen) | 1 for _ in range(SHINGLE_WORDS)], dtype=np.uint64),
        "char_salt": next(gen),
        "a": np.array([(next(gen) | 1) & 0xFFFFFFFF for _ in range(NUM_PERM)], dtype=np.uint32)[:, None],
        "b": np.array([next(gen) & 0xFFFFFFFF for _ in range(NUM_PERM)], dtype=np.uint32)[:, None],
        "band_mult": np.array([next(gen) | 1 for _ in range(ROWS)], dtype=np.uint64),
    }


_C = _constants()
_POLY: int = _C["poly"]  # type: ignore[assignment]
_POLY_INV: int = _C["poly_inv"]  # type: ignore[assignment]
_WORD_MULT: np.ndarray = _C["word_mult"]  # type: ignore[assignment]
_CHAR_SALT = np.uint64(_C["char_salt"])
_A: np.ndarray = _C["a"]  # type: ignore[assignment]
_B: np.ndarray = _C["b"]  # type: ignore[assignment]
_BAND_MULT: np.ndarray = _C["band_mult"]  # type: ignore[assignment]

_ASCII_TABLE = str.maketrans({chr(i): (chr(i).lower() if chr(i).isalnum() else " ") for i in range(128)})
_NON_ALNUM = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lowercase, punctuation/symbols to spaces, whitespace collapsed: what "the same text" means.

    ASCII text takes a single ``str.translate`` (several times faster than a regex); anything else
    is NFKC-normalised first so full-width letters, ligatures and composed accents compare equal.
    """
    if not text.isascii():
        return " ".join(_NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())
    return " ".join(text.translate(_ASCII_TABLE).split())


def exact_key(text: str) -> str:
    """Hex sha256 of the normalised text: equal keys mean exact duplicates."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def candidate_probability(similarity: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The LSH S-curve: chance that two texts of this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a uint64 array: spreads every input bit over the output."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


class _Powers:
    """Cached P^i and P^-i mod 2^64 for substring hashes; grows by doubling, never shrinks."""

    def __init__(self) -> None:
        self.pow = np.ones(1, dtype=np.uint64)
        self.inv = np.ones(1, dtype=np.uint64)

    def ensure(self, n: int) -> None:
        if n <= len(self.pow):
            return
        size = max(n, 2 * len(self.pow), 1 << 16)
        # Integer cumprod wraps modulo 2^64, which is exactly the arithmetic wanted here.
        self.pow = np.empty(size, dtype=np.uint64)
        self.inv = np.empty(size, dtype=np.uint64)
        self.pow[0] = self.inv[0] = 1
        np.cumprod(np.full(size - 1, _POLY, dtype=np.uint64), out=self.pow[1:])
        np.cumprod(np.full(size - 1, _POLY_INV, dtype=np.uint64), out=self.inv[1:])


_POWERS = _Powers()


def _substring_hashes(prefix: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Polynomial hashes of codes[s:e] for many (s, e) at once, position-independent, then mixed."""
    h = (prefix[ends] - prefix[starts]) * _POWERS.inv[starts]
    h ^= (ends - starts).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return _mix(h)


def _shingle_hashes(norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit shingle hashes of every non-empty normalised text, grouped contiguously by row.

    Returns ``(hashes, row_of_hash)``. All rows are concatenated (space-separated) into one array of
    code points so that word splitting, word hashing and shingle hashing are a handful of vectorised
    numpy operations for the whole batch rather than Python loops per word.
    """
    joined = " ".join(norms)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes)
    lengths = np.fromiter((len(s) for s in norms), dtype=np.int64, count=len(norms))
    offsets = np.zeros(len(norms), dtype=np.int64)
    if len(norms) > 1:
        offsets[1:] = np.cumsum(lengths[:-1] + 1)
    _POWERS.ensure(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(codes * _POWERS.pow[:n], out=prefix[1:])

    # Words: maximal runs of non-space code points (the separator is a space too).
    is_word = codes != 32
    edges = np.diff(np.concatenate(([False], is_word, [False])).astype(np.int8))
    w_start = np.flatnonzero(edges == 1)
    w_end = np.flatnonzero(edges == -1)
    w_row = np.searchsorted(offsets, w_start, side="right") - 1
    words_per_row = np.bincount(w_row, minlength=len(norms))
    word_mode = words_per_row >= SHORT_TEXT_WORDS

    parts: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    if word_mode.any() and len(w_start) >= SHINGLE_WORDS:
        w_hash = _substring_hashes(prefix, w_start, w_end)
        span = len(w_hash) - SHINGLE_WORDS + 1
        sh = w_hash[:span] * _WORD_MULT[0]
        for j in range(1, SHINGLE_WORDS):
            sh += w_hash[j : j + span] * _WORD_MULT[j]
        first_row = w_row[:span]
        keep = (first_row == w_row[SHINGLE_WORDS - 1 :]) & word_mode[first_row]
        parts.append(_mix(sh[keep]))
        rows.append(first_row[keep])

    char_rows = np.flatnonzero(~word_mode & (lengths > 0))
    if len(char_rows):
        lens = lengths[char_rows]
        counts = np.maximum(lens - SHINGLE_CHARS + 1, 1)
        row_ids = np.repeat(char_rows, counts)
        first = np.cumsum(counts) - counts
        starts = offsets[row_ids] + (np.arange(counts.sum()) - np.repeat(first, counts))
        ends = np.minimum(starts + SHINGLE_CHARS, np.repeat(offsets[char_rows] + lens, counts))
        parts.append(_mix(_substring_hashes(prefix, starts, ends) ^ _CHAR_SALT))
        rows.append(row_ids)

    if not parts:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    return np.concatenate(parts), np.concatenate(rows)


def minhash_signatures(norms: list[str]) -> np.ndarray:
    """MinHash signatures (len(norms) x NUM_PERM, uint32) of normalised texts; empty text -> zeros.

    The (NUM_PERM x shingles) matrix is built block by block so temporaries stay cache-sized
    whatever the text length; a row's shingles may straddle blocks, hence the running minimum.
    """
    hashes64, row_of = _shingle_hashes(norms)
    hashes = (hashes64 >> np.uint64(32)).astype(np.uint32)
    sig = np.full((len(norms), NUM_PERM), np.iinfo(np.uint32).max, dtype=np.uint32)
    for lo in range(0, len(hashes), _BLOCK):
        x = hashes[lo : lo + _BLOCK]
        r = row_of[lo : lo + _BLOCK]
        seg = np.concatenate(([0], np.flatnonzero(r[1:] != r[:-1]) + 1))
        v = _A * x[None, :]
        v += _B
        mins = np.minimum.reduceat(v, seg, axis=1).T
        seg_rows = r[seg]
        sig[seg_rows] = np.minimum(sig[seg_rows], mins)
    sig[np.fromiter((not s for s in norms), dtype=bool, count=len(norms))] = 0
    return sig


def _band_hashes(sigs: np.ndarray) -> np.ndarray:
    """One 64-bit hash per (row, band): the band's 8 signature values combined and mixed."""
    bands = sigs.reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    return _mix((bands * _BAND_MULT).sum(axis=2, dtype=np.uint64))


def estimate_similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of MinHash positions where two signatures agree."""
    return float(np.count_nonzero(sig_a == sig_b)) / NUM_PERM


@dataclass(frozen=True, slots=True)
class DupResult:
    """Why a row was rejected: which kept row it repeats, how, and how closely (1.0 for exact)."""

    kind: Literal["exact", "near"]
    duplicate_of: str
    similarity: float


class DedupIndex:
    """A streaming, first-wins index of kept rows.

    ``add`` either remembers the row (returns None) or reports the earlier kept row it duplicates.
    Near duplicates name the most similar kept candidate (ties go to the earliest). Duplicates are
    not stored, so a chain A, A', A'' is judged against A each time and never drifts. Keys are the
    caller's row ids and are only echoed back; they need not be unique.
    """

    def __init__(self, threshold: float = NEAR_DUP_THRESHOLD) -> None:
        # The banding is tuned for 0.85; a threshold far below ~0.75 would miss many candidates.
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}: use e.g. 0.85")
        self.threshold = threshold
        self._keys: list[str] = []
        self._exact: dict[bytes, int] = {}
        self._bands: list[dict[int, int | list[int]]] = [{} for _ in range(BANDS)]
        self._sigs = np.zeros((1024, NUM_PERM), dtype=np.uint32)

    def __len__(self) -> int:
        """Number of kept (non-duplicate) rows."""
        return len(self._keys)

    def add(self, key: str, text: str) -> DupResult | None:
        """Check one row against everything kept so far; remember it when it is new."""
        return self.add_many([(key, text)])[0]

    def add_many(self, items: Iterable[tuple[str, str]]) -> list[DupResult | None]:
        """``add`` for many rows, in order, hashing them in vectorised batches (much faster).

        Results are identical to calling ``add`` row by row: rows within one batch are checked
        against each other sequentially too.
        """
        out: list[DupResult | None] = []
        batch: list[tuple[str, str]] = []
        chars = 0
        for item in items:
            batch.append(item)
            chars += len(item[1])
            if len(batch) >= BATCH_ROWS or chars >= BATCH_CHARS:
                out.extend(self._add_batch(batch))
                batch, chars = [], 0
        if batch:
            out.extend(self._add_batch(batch))
        return out

    def _add_batch(self, batch: list[tuple[str, str]]) -> list[DupResult | None]:
        norms = [normalize(text) for _, text in batch]
        digests = [hashlib.sha256(s.encode("utf-8")).digest() for s in norms]
        sigs = minhash_signatures(norms)
        band_keys = _band_hashes(sigs).tolist()
        results: list[DupResult | None] = []
        for i, (key, _) in enumerate(batch):
            seen = self._exact.get(digests[i])
            if seen is not None:
                results.append(DupResult("exact", self._keys[seen], 1.0))
                continue
            if norms[i]:
                near = self._near(sigs[i], band_keys[i])
                if near is not None:
                    results.append(near)
                    continue
            self._keep(key, digests[i], sigs[i], band_keys[i] if norms[i] else None)
            results.append(None)
        return results

    def _near(self, sig: np.ndarray, bands: list[int]) -> DupResult | None:
        found: set[int] = set()
        for table, bkey in zip(self._bands, bands, strict=True):
            hit = table.get(bkey)
            if hit is None:
                continue
            if isinstance(hit, int):
                found.add(hit)
            else:
                found.update(hit)
        if not found:
            return None
        cands = np.array(sorted(found), dtype=np.int64)
        sims = np.count_nonzero(self._sigs[cands] == sig, axis=1) / NUM_PERM
        best = int(np.argmax(sims))  # argmax returns the first maximum: the earliest row wins ties
        if sims[best] < self.threshold:
            return None
        return DupResult("near", self._keys[int(cands[best])], float(sims[best]))

    def _keep(self, key: str, digest: bytes, sig: np.ndarray, bands: list[int] | None) -> None:
        idx = len(self._keys)
        self._keys.append(key)
        self._exact[digest] = idx
        if idx >= len(self._sigs):
            grown = np.zeros((2 * len(self._sigs), NUM_PERM), dtype=np.uint32)
            grown[: len(self._sigs)] = self._sigs
            self._sigs = grown
        self._sigs[idx] = sig
        if bands is None:  # empty text: exact matching only, there is nothing to shingle
            return
        for table, bkey in zip(self._bands, bands, strict=True):
            hit = table.get(bkey)
            if hit is None:
                table[bkey] = idx
            elif isinstance(hit, int):
                table[bkey] = [hit, idx]
            else:
                hit.append(idx)
