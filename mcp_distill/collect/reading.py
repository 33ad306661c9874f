"""Reading line files for the collector: where to resume, and the file cut into batches at line ends.

A file is read from the byte offset ``sources`` remembers, unless it shrank, its inode changed or the
sha256 of its head differs (truncated, rotated, rewritten): then from the start. Batches are blocks of
whole lines (at most :data:`BATCH_LINES` lines and about :data:`BATCH_BYTES` bytes), never split into
lines here: the workers (or :func:`mcp_distill.collect.workers.chunk_lines`) do that. An incomplete last
line (no newline, not valid JSON) is held back until its writer finishes it, or quarantined once it
has been unchanged for :data:`TAIL_GRACE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mcp_distill.collect import repository as repo
from mcp_distill.collect import workers
from mcp_distill.collect.summary import FileSummary
from mcp_distill.collect.workers import Chunk
from mcp_distill.store import Store

#: Rows per transaction: large enough to amortise commits, small enough to lose little on a crash.
BATCH_LINES = 5_000
#: ...and at most this many bytes of lines, so memory stays flat when lines are long.
BATCH_BYTES = 4 * 1024 * 1024
#: Bytes hashed at a file's head to notice a rewrite or rotation.
HEAD_BYTES = 1_024
#: An incomplete last line (no newline, not valid JSON) unchanged for this long is a truncated file,
#: not a writer mid-line: it is quarantined instead of held back.
TAIL_GRACE_SECONDS = 120

#: One batch as the collector stores it: (chunk, its line count, the offset after it, the head's hash).
Batch = tuple[Chunk, int, int, str | None]


def resume_offset(store: Store, path: Path) -> tuple[int, str | None]:
    """Where to read ``path`` from, and why it is read again from the start (None: it is not)."""
    row = repo.source_row(store, str(path))
    if row is None:
        return 0, None
    stat = path.stat()
    if stat.st_size < row["byte_offset"]:
        return 0, "file shrank (truncated)"
    if row["inode"] is not None and row["inode"] != stat.st_ino:
        return 0, "file was replaced (rotated)"
    if row["head_sha256"] and head_hash_of(path, min(HEAD_BYTES, row["byte_offset"])) != row["head_sha256"]:
        return 0, "file head changed (rewritten)"
    return row["byte_offset"], None


def line_batches(path: Path, start: int, stat: os.stat_result, summary: FileSummary) -> Iterator[Batch]:
    """The file from ``start`` in batches: (chunk, its line count, the offset after it, the hash of the
    file's head read through the same handle). The last batch may be empty; it holds a last line
    without newline when that line is complete JSON or, unchanged for TAIL_GRACE_SECONDS, truncated for good."""
    with open(path, "rb") as handle:
        handle.seek(start)
        offset, buf, eof = start, b"", False
        while True:
            cut = workers.batch_cut(buf, BATCH_LINES, BATCH_BYTES)
            if not cut and not eof:
                more = handle.read(BATCH_BYTES)
                eof = not more
                buf += more
                continue
            if cut:
                block, buf = buf[:cut], buf[cut:]
                offset += cut
                yield (offset - cut, block, None), block.count(b"\n"), offset, \
                    head_hash(handle, min(HEAD_BYTES, offset))
                continue
            yield _last_batch(handle, offset, buf, stat, summary)
            return


def _last_batch(handle: Any, offset: int, buf: bytes, stat: os.stat_result, summary: FileSummary) -> Batch:
    """The end of the file: its whole lines, then maybe a last line without newline."""
    end = buf.rfind(b"\n") + 1
    block, last = buf[:end], buf[end:]
    tail: tuple[int, bytes, str | None] | None = None
    if last and _complete_json(last):
        tail = (offset + end, last, None)
    elif last and time.time() - stat.st_mtime >= TAIL_GRACE_SECONDS:
        # unchanged for a while: truncated for good, so it is quarantined and the offset moves on
        tail = (offset + end, last, f"truncated last line: no newline and not valid JSON, unchanged "
                                    f"for over {TAIL_GRACE_SECONDS} s")
    elif last:
        summary.held_back = True  # a writer may be finishing this line
    stop = offset + end + (len(last) if tail else 0)
    return (offset, block, tail), block.count(b"\n") + (tail is not None), stop, \
        head_hash(handle, min(HEAD_BYTES, stop))


def head_hash(handle: Any, n: int) -> str | None:
    """sha256 of the first ``n`` bytes of an open file (read at offset 0, the handle's position kept)."""
    if n <= 0:
        return None
    return hashlib.sha256(os.pread(handle.fileno(), n, 0)).hexdigest()


def head_hash_of(path: Path, n: int) -> str | None:
    with open(path, "rb") as handle:
        return head_hash(handle, n)


def _complete_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True
