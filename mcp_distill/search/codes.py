"""The vector leg's binary codes held in process memory: hamming KNN whose cost does not grow with k.

sqlite-vec's KNN over ``bit[]`` codes selects its k nearest by repeated passes over each chunk, so its cost is
documents x k (about 1.2 ns per unit at 100k documents on 2 cores): 6.6 ms for the 50 candidates the leg took,
50 ms for the 400 that an overlap@10 of 0.98 with exact search needs (docs/benchmarks.md "Search latency").
The same codes scanned by numpy (XOR and popcount, one partial sort) cost ~1 ms at 100k whatever k is.

The codes stay in the one SQLite file (the vec0 table ``search_vec`` is their only copy on disk); this is a read cache of
them: ~60 bytes a document (48 MB at 1M documents), plus each float vector of embed_cache as int8 (384 bytes a document)
for a second ranking of the hamming candidates. Every write to ``search_vec`` replaces a random token in ``meta`` in the
same transaction and logs the documents it touched (see :func:`mcp_distill.search.repository.legs.put_code`), so a search
in any process sees the token change and reads again only those documents' rows (~20 µs each, plus their vectors): a full
reload took 3-15 s at 100k documents under load. Rows of new documents go to spare capacity at the end (the arrays grow by
half when full, so a stream of writes does not copy them each time), a changed document's row is overwritten in place, a
removed one is only marked dead (its distance set past every real one, so it is never returned). A write that does not
list its rows (a bulk load, a drop), a log pruned past this copy's position, or more changed or dead rows than
REFRESH_SHARE of the documents, reload everything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import weakref
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from mcp_distill.search.repository import legs as legs_db
from mcp_distill.search.scan import hamming, int8_scores, nearest, scratch, smallest
from mcp_distill.search.tagsets import TagMasks
from mcp_distill.store import Store

#: A refresh touching more rows than this share of the documents (changed now plus dead before) reloads
#: everything instead (which also drops the dead rows).
REFRESH_SHARE = 0.25
#: Spare capacity added when the arrays are full: this share of the rows (amortises the copy over many writes).
GROWTH = 0.5
#: glibc mallopt's M_MMAP_THRESHOLD parameter, and the block size from which allocations are mapped on their
#: own (so freeing them returns the memory): see _release_freed_heap.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
#: :meth:`CodeMatrix.rank` and the int8 ranking of a KNN widen this many int8 rows to float32 at a time (3 MB of
#: 384-d rows, a reused buffer), so scoring a 50,000-document subset never holds a float copy of it (77 MB).
RANK_CHUNK = 2048
#: vec0 metadata columns cannot hold NULL: documents without a time carry this sentinel, and
#: time filters exclude it (as SQL's NULL comparisons do in the exact path).
MISSING_TS = -1.0e18
_COLUMNS = ("docs", "codes", "collection", "task_type", "source", "ts_epoch", "q8", "q8_scale")


def where_of(collection: str, task_type: str | None = None, source: str | None = None, since: float | None = None,
             until: float | None = None) -> dict[str, Any]:
    """A filter as the columns of :meth:`CodeMatrix.mask` (None: not filtered on)."""
    where: dict[str, Any] = {"collection": collection}
    if task_type is not None:
        where["task_type"] = task_type
    if source is not None:
        where["source"] = source
    if since is not None or until is not None:
        # a time filter excludes the documents without a time (MISSING_TS), as SQL's NULL does
        where["ts_epoch"] = (since if since is not None else float(np.nextafter(MISSING_TS, 0.0)), until)
    return where


@dataclass(frozen=True)
class CodeMatrix:
    """Every code of ``search_vec`` with its partition and metadata columns, as numpy arrays."""

    token: str | None
    docs: np.ndarray  # int64 (ascending after a full load; refreshed new rows are appended)
    codes: np.ndarray  # uint64, (documents, bits / 64), column-major (Fortran order): see mcp_distill.search.scan.hamming
    collection: np.ndarray  # int32 index into names["collection"]
    task_type: np.ndarray
    source: np.ndarray
    ts_epoch: np.ndarray  # float64
    names: dict[str, dict[str, int]]
    q8: np.ndarray  # int8 (documents, dim): each float vector scaled to its largest component = 127
    q8_scale: np.ndarray  # float32: the factor back to the float vector's scale, per document
    seq: int = 0  # the position in search_vec's change log this copy reflects
    dead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows of removed documents
    spare: dict[str, np.ndarray] | None = None  # full-capacity arrays whose first rows the columns above are
    tagsets: TagMasks = field(default_factory=TagMasks, compare=False)  # tag -> row mask, read on first use

    @classmethod
    def load(cls, store: Store, token: str | None, batch: int = 50_000) -> CodeMatrix:
        """Read ``search_vec`` ``batch`` rows at a time (a million rows as Python tuples would take
        ~0.5 GB at once), then the int8 vectors."""
        seq = legs_db.codes_log_end(store)  # before the rows: a write in between is then read again later
        names: dict[str, dict[str, int]] = {"collection": {}, "task_type": {}, "source": {}}
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("docs", "codes", "collection", "task_type", "source", "ts")}
        for rows in legs_db.iter_codes(store, batch):
            columns = _columns(rows, names)
            for key, column in zip(parts, columns, strict=True):
                parts[key].append(column)
        if not parts["docs"]:
            empty = np.zeros(0, dtype=np.int32)
            return cls(token=token, docs=np.zeros(0, dtype=np.int64), codes=np.zeros((0, 1), dtype=np.uint64),
                       collection=empty, task_type=empty, source=empty, ts_epoch=np.zeros(0), names=names,
                       q8=np.zeros((0, 8), dtype=np.int8), q8_scale=np.zeros(0, dtype=np.float32), seq=seq)
        docs = np.concatenate(parts.pop("docs"))
        order = np.argsort(docs, kind="stable")  # vec0 scans partition by partition
        joined = {"docs": docs[order]}
        del docs
        # one column at a time, each batch list freed once joined, the codes put in column order by the take
        # itself: the batches, their concatenation and a sorted copy of all columns at once (and a Fortran
        # copy of the codes) were ~150 MB above the final arrays at 1M documents, still held while the int8
        # vectors (384 MB) were read: the server's peak RSS
        for key in ("codes", "collection", "task_type", "source", "ts"):
            whole = np.concatenate(parts.pop(key))
            out = np.empty(whole.shape, dtype=whole.dtype, order="F" if key == "codes" else "C")
            joined[key] = np.take(whole, order, axis=0, out=out)
            del whole
        del order
        _release_freed_heap()
        q8, scale = _int8_vectors(store, joined["docs"])
        _release_freed_heap()
        return cls(token=token, docs=joined["docs"], codes=joined["codes"],
                   collection=joined["collection"], task_type=joined["task_type"], source=joined["source"],
                   ts_epoch=joined["ts"], names=names, q8=q8, q8_scale=scale, seq=seq)

    def refreshed(self, store: Store, token: str | None) -> CodeMatrix:
        """This copy brought up to date with the change log: the changed documents' rows read again
        (appended when new, overwritten in place when known, marked dead when gone), or everything
        reloaded when the log cannot tell or the change is large (see the module docstring)."""
        seq, changed = legs_db.code_changes(store, self.seq)
        if changed is None or not len(self.docs) or len(changed) + len(self.dead) > REFRESH_SHARE * len(self.docs):
            return CodeMatrix.load(store, token)
        rows = legs_db.code_rows(store, changed)
        names = {column: dict(table) for column, table in self.names.items()}
        found = np.asarray([r[0] for r in rows], dtype=np.int64)
        gone = self._positions(np.setdiff1d(np.asarray(changed, dtype=np.int64), found))
        dead = np.union1d(self.dead, gone[gone >= 0])
        if not rows:
            carried = self.tagsets.carried(len(self.docs), np.zeros(0, dtype=np.int64), [])
            return replace(self, token=token, seq=seq, dead=dead, names=names, tagsets=carried)
        docs, codes, collection, task_type, source, ts = _columns(rows, names)
        if codes.shape[1] != self.codes.shape[1]:
            return CodeMatrix.load(store, token)  # another code width: a new vector space
        vectors = dict(legs_db.exact_vectors(store, docs.tolist()))
        width = self.q8.shape[1]
        if any(len(blob) != 4 * width for blob in vectors.values()):
            return CodeMatrix.load(store, token)  # vectors of another dimension than those held
        matrix = np.zeros((len(docs), width), dtype=np.float32)
        for i, doc in enumerate(docs.tolist()):
            if doc in vectors:
                matrix[i] = np.frombuffer(vectors[doc], dtype=np.float32)
        q8, scale = _quantise(matrix)
        where = self._positions(docs)
        new = where < 0
        n = len(self.docs)
        where[new] = n + np.arange(int(new.sum()))
        spare = self._room(n + int(new.sum()))
        values = dict(zip(_COLUMNS, (docs, codes, collection, task_type, source, ts, q8, scale), strict=True))
        for column in _COLUMNS:
            spare[column][where] = values[column]
        size = n + int(new.sum())
        row_of = dict(zip(docs.tolist(), where.tolist(), strict=True))
        tagged = [(row_of[doc], tag) for doc, tag in legs_db.tags_of(store, docs.tolist())] if self.tagsets.tags() else []
        return CodeMatrix(token=token, names=names, seq=seq, dead=np.setdiff1d(dead, where), spare=spare,
                          tagsets=self.tagsets.carried(size, where, tagged),
                          **{column: spare[column][:size] for column in _COLUMNS})

    @cached_property
    def _order(self) -> np.ndarray | None:
        """The rows in document order, None when they already are (after a full load): computed once per
        copy, since a search of a tag's subset looks its documents up (an argsort of 1M rows: ~80 ms)."""
        if bool(np.all(self.docs[1:] >= self.docs[:-1])):
            return None
        return np.argsort(self.docs, kind="stable")

    @cached_property
    def _value_counts(self) -> dict[str, np.ndarray]:
        return {column: np.bincount(getattr(self, column)) for column in ("task_type", "source")}

    def value_count(self, column: str, value: str) -> int:
        """Rows whose ``column`` (task_type or source) is ``value``, dead ones included (an estimate)."""
        code, counts = self.names[column].get(value, -1), self._value_counts[column]
        return int(counts[code]) if 0 <= code < len(counts) else 0

    @cached_property
    def _sorted_ts(self) -> np.ndarray:
        return np.sort(self.ts_epoch)  # once per copy: ~80 ms at 1M documents

    def time_share(self, span: tuple[float | None, float | None]) -> float:
        """The share of the rows whose time is in ``span`` (low inclusive, high exclusive; dead ones included)."""
        ts = self._sorted_ts
        lo = 0 if span[0] is None else int(np.searchsorted(ts, span[0], side="left"))
        hi = len(ts) if span[1] is None else int(np.searchsorted(ts, span[1], side="left"))
        return max(hi - lo, 0) / max(len(ts), 1)

    def rows_of(self, docs: np.ndarray) -> np.ndarray:
        """The live row of each of ``docs`` (document ids), -1 where it has none (no vector, removed)."""
        rows = self._positions(np.asarray(docs, dtype=np.int64))
        if len(self.dead) and len(rows):
            rows[np.isin(rows, self.dead)] = -1
        return rows

    def _positions(self, wanted: np.ndarray) -> np.ndarray:
        """The row of each of ``wanted`` (document ids), -1 where it has none."""
        if not len(wanted) or not len(self.docs):
            return np.full(len(wanted), -1, dtype=np.int64)
        order = self._order
        ordered = self.docs if order is None else self.docs[order]
        at = np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)
        rows = at if order is None else order[at]
        return np.where(ordered[at] == wanted, rows, -1).astype(np.int64)

    def _room(self, rows: int) -> dict[str, np.ndarray]:
        """Arrays with room for ``rows`` rows, holding this copy's rows first: the spare ones when they are
        large enough (another copy may still read their first rows: those are only overwritten in place by
        a newer state of the same document), else new ones with GROWTH spare rows."""
        if self.spare is not None and len(self.spare["docs"]) >= rows:
            return self.spare
        capacity = rows + int(rows * GROWTH) + 16
        out = {}
        for column in _COLUMNS:
            current = getattr(self, column)
            grown = np.zeros((capacity, *current.shape[1:]), dtype=current.dtype, order="F" if column == "codes" else "C")
            grown[: len(current)] = current
            out[column] = grown
        return out

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

    def tag_mask(self, store: Store, tags: tuple[str, ...] | list[str]) -> np.ndarray | None:
        """Rows carrying every one of ``tags`` (a new array; None: no tags given), each tag's mask read from
        ``search_tags`` once and kept with this copy (mcp_distill.search.tagsets)."""
        out: np.ndarray | None = None
        for tag in tags:
            mask = self.tagsets.get(tag, lambda tag=tag: self._tag_rows(store, tag))
            out = mask.copy() if out is None else np.logical_and(out, mask, out=out)
        return out

    def _tag_rows(self, store: Store, tag: str) -> np.ndarray:
        rows = self._positions(np.asarray(legs_db.tag_docs(store, tag), dtype=np.int64))
        mask = np.zeros(len(self.docs), dtype=bool)
        mask[rows[rows >= 0]] = True
        return mask

    def passing(self, where: dict[str, Any], extra: np.ndarray | None = None) -> np.ndarray | None:
        """The live rows (ascending) passing ``where`` (:meth:`mask`) and the row mask ``extra`` (e.g.
        :meth:`tag_mask`), or None when every row passes (no filter, no dead row)."""
        keep = self.mask(where)
        if extra is not None:
            keep = extra if keep is None else np.logical_and(keep, extra, out=keep)
        if keep is None:
            if not len(self.dead):
                return None
            keep = np.ones(len(self.docs), dtype=bool)
        elif keep is extra:
            keep = keep.copy()  # not the caller's array
        keep[self.dead] = False
        return np.flatnonzero(keep)

    def knn(self, code: bytes, where: dict[str, Any], k: int, qvec: np.ndarray | None = None, pool: int = 0,
            rows: np.ndarray | None = None) -> list[int]:
        """The ``k`` documents passing ``where`` nearest to the query, best first (ties by doc id); ``rows``:
        the passing rows already known (:meth:`passing`: ``where`` is then not applied again).

        By hamming distance to ``code``; with ``qvec`` and ``pool`` > k, the ``pool`` nearest by
        hamming distance are ranked again by their int8 vectors' dot product with ``qvec`` (a far
        better proxy of cosine: ~0.5 µs a candidate) and the best ``k`` of those returned."""
        unfiltered = False
        if rows is None:
            keep = self.mask(where)
            if keep is not None and len(self.dead):
                keep[self.dead] = False  # mask() built it for this call
            rows = np.flatnonzero(keep) if keep is not None else None
            unfiltered = rows is None and len(self.dead) > 0
        if k <= 0 or not (len(self.codes) if rows is None else len(rows)):
            return []
        # a reused buffer (mcp_distill.search.scan.scratch): nearest() below copies what it keeps out of it
        distance = hamming(self.codes, self.query_code(code), rows,
                           out=scratch("knn.distance", len(self.codes) if rows is None else len(rows), np.int32))
        unreachable = self.codes.shape[1] * 64 + 1  # beyond any real distance
        if unfiltered:  # a scan of every row (no take of 1M rows): the dead ones put out of reach
            distance[self.dead] = unreachable
        first = max(k, pool) if qvec is not None else k
        positions, score = nearest(distance, first, rows)
        if unfiltered:
            positions, score = positions[score < unreachable], score[score < unreachable]
        if first > k and len(positions) > k:
            q = np.asarray(qvec, dtype=np.float32)[: self.q8.shape[1]]
            positions, score = smallest(-int8_scores(self.q8, self.q8_scale, positions, q, RANK_CHUNK), k, positions)
        order = np.lexsort((self.docs[positions], score))
        return [int(d) for d in self.docs[positions[order]]]

    def rank(self, rows: np.ndarray, qvec: np.ndarray, k: int) -> list[int]:
        """The ``k`` documents of ``rows`` (live rows, e.g. from :meth:`passing`) whose int8 vectors score
        highest against ``qvec``, best first (ties by doc id).

        Every one of them is scored (~0.3 µs a document), so a tag's subset of 13,000 documents at 1M costs
        ~4 ms here where reading their float vectors from SQLite took ~110 ms; the caller rescores the few
        returned by their float vectors."""
        if k <= 0 or not len(rows):
            return []
        q = np.asarray(qvec, dtype=np.float32)[: self.q8.shape[1]]
        positions, score = smallest(-int8_scores(self.q8, self.q8_scale, rows, q, RANK_CHUNK), k, rows)
        order = np.lexsort((self.docs[positions], score))
        return [int(d) for d in self.docs[positions[order]]]


def _columns(rows: list[tuple[Any, ...]], names: dict[str, dict[str, int]]) -> tuple[np.ndarray, ...]:
    """(docs, codes as uint64 words, collection, task_type, source, ts_epoch) of search_vec rows, each new
    collection / task type / source value numbered in ``names``."""
    n = len(rows)
    docs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    width = len(rows[0][3])
    codes = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.uint8).reshape(n, width)
    codes = np.ascontiguousarray(np.pad(codes, ((0, 0), (0, (-width) % 8)))).view(np.uint64)  # zeros add no distance
    numbered = []
    for column, position in (("collection", 1), ("task_type", 2), ("source", 4)):
        table = names[column]
        numbered.append(np.fromiter((table.setdefault(r[position], len(table)) for r in rows), dtype=np.int32, count=n))
    return docs, codes, *numbered, np.fromiter((r[5] for r in rows), dtype=np.float64, count=n)


def _quantise(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float vectors as int8 rows (each scaled to its largest component = 127) and the per-row factors back."""
    peak = np.maximum(np.abs(matrix).max(axis=1), 1e-12)
    return np.round(matrix * (127.0 / peak)[:, None]).astype(np.int8), (peak / 127.0).astype(np.float32)


def _int8_vectors(store: Store, docs: np.ndarray, batch: int = 5_000) -> tuple[np.ndarray, np.ndarray]:
    """The float vectors of ``docs`` (ascending) as int8 rows and per-row scales, read in batches
    (a million 384-d float vectors would be 1.5 GB at once; as int8 they are 384 MB). Small batches: each
    row's bytes object is a malloc chunk of the heap, and 50,000 of them (77 MB) left that much freed but
    resident heap behind after the load (server RSS 1,108 MB at 1M documents)."""
    q8: np.ndarray | None = None
    scale = np.zeros(len(docs), dtype=np.float32)
    if not len(docs):
        return np.zeros((0, 8), dtype=np.int8), scale
    for rows in legs_db.iter_vectors(store, batch):
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        where = np.searchsorted(docs, ids)
        found = (where < len(docs)) & (docs[np.minimum(where, len(docs) - 1)] == ids)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)[found]
        if q8 is None:
            q8 = np.zeros((len(docs), matrix.shape[1]), dtype=np.int8)
        q8[where[found]], scale[where[found]] = _quantise(matrix)
    return (q8 if q8 is not None else np.zeros((len(docs), 8), dtype=np.int8)), scale


def _release_freed_heap() -> None:
    """Give the heap freed by a full load back to the system (glibc's malloc_trim; elsewhere nothing).

    The load's temporaries (rows as Python objects, concatenations, the quantisation) are freed when it
    ends, but glibc keeps freed heap pages mapped unless they sit at its top: at 1M documents ~200 MB of
    the server's RSS was such freed heap (bench/search_serve.py). The mmap threshold is also fixed at
    MMAP_THRESHOLD: glibc raises it (up to 32 MB) after a large block is freed, and then each search's
    scan buffers (1-8 MB at 1M documents) came from the heap and stayed resident (+250 MB over 360 searches)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim, mallopt = (libc.malloc_trim, libc.mallopt) if libc is not None else (None, None)
    except (OSError, AttributeError):  # not glibc: no such calls, nothing to do
        trim = mallopt = None
    if trim is not None and mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        trim(0)


_MATRICES: weakref.WeakKeyDictionary[Store, CodeMatrix] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def loaded_code_matrix(store: Store) -> CodeMatrix | None:
    """:func:`code_matrix` if this process holds the store's codes already, else None (none loaded for it)."""
    return code_matrix(store) if store in _MATRICES else None


def code_matrix(store: Store) -> CodeMatrix:
    """The store's codes, brought up to date when ``search_vec`` changed (in this process or another)."""
    token = legs_db.codes_token(store)
    matrix = _MATRICES.get(store)
    if matrix is not None and matrix.token == token:
        return matrix
    with _LOCK:
        matrix = _MATRICES.get(store)
        if matrix is None:
            matrix = _MATRICES[store] = CodeMatrix.load(store, token)
        elif matrix.token != token:
            matrix = _MATRICES[store] = matrix.refreshed(store, token)
        return matrix
