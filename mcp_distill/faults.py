"""Disk faults (full, read-only, failing) named in one line that says what to do, instead of a traceback.

The OS and SQLite report them as ``OSError`` errnos or SQLite result texts; these helpers turn the
ones a user can act on into :class:`mcp_distill.errors.DiskError`, and leave every other error as it is.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import sqlean

from mcp_distill.errors import DiskError

_ERRNO_WORDS = {
    errno.ENOSPC: "no space is left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission is denied",
    errno.EPERM: "the operation is not permitted",
    errno.EIO: "the disk reported an I/O error",
}
#: SQLite result texts (sqlite3_errstr) a user can act on, and what each means.
_SQLITE_WORDS = {
    "database or disk is full": "no space is left on the device",
    "attempt to write a readonly database": "the store file or its folder is read-only",
    "disk i/o error": "the disk reported an I/O error (often a full or failing disk)",
}


def file_fault(exc: BaseException, where: str | Path, doing: str, after: str) -> DiskError | None:
    """A DiskError for an OSError a user can act on (full, read-only, denied), else None."""
    if not isinstance(exc, OSError) or exc.errno not in _ERRNO_WORDS:
        return None
    name = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(where) else ""
    return DiskError(f"cannot {doing} under {where}{name}: {_ERRNO_WORDS[exc.errno]}; {after}")


def store_fault(exc: BaseException, what: str, after: str) -> DiskError | None:
    """A DiskError for a SQLite error caused by the disk under a database file (full, read-only, I/O), else None.

    ``what`` names the file for the user ("the store store/distill.db").
    """
    if not isinstance(exc, sqlean.DatabaseError | sqlite3.DatabaseError):
        return None
    text = str(exc).lower()
    for needle, words in _SQLITE_WORDS.items():
        if needle in text:
            return DiskError(f"cannot write {what}: {words}; {after}")
    return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this host) still runs: what a killed writer left is told apart by it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


__all__ = ["file_fault", "pid_alive", "store_fault"]
