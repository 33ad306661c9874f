"""The datasets package's own table: the scratch file of cross-run preference candidates.

An export sorts accepted and rejected runs of the same task through a private SQLite file in its
temporary folder (memory grows only with one task's runs); the store's tables it reads come from
:mod:`mcp_distill.collect.repository` and :mod:`mcp_distill.search.repository`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

#: A candidate row: (task key, category, run key, overridden, output record id, input record id, scorer version).
Candidate = tuple[str, str, str, int, str, str | None, str]


class PairScratch:
    """Cross-run candidates on disk, read back a task at a time."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE cand (task_key TEXT, category TEXT, run_key TEXT, overridden INT, "
                          "out_rid TEXT, in_rid TEXT, scorer_version TEXT)")

    def add(self, rows: Sequence[Candidate]) -> None:
        self.conn.executemany("INSERT INTO cand VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def by_task(self) -> Iterator[tuple[Any, ...]]:
        """Every candidate, ordered by task key then run key (indexed first: one sort, no temp B-tree)."""
        self.conn.execute("CREATE INDEX cand_task ON cand(task_key, run_key)")
        yield from self.conn.execute("SELECT * FROM cand ORDER BY task_key, run_key")

    def close(self) -> None:
        self.conn.close()


__all__ = ["Candidate", "PairScratch"]
