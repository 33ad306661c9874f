"""The ``scores`` table: a run's score is part of the run view (``score.py`` computes it, this module
stores and reads it; a run whose evidence changes loses it in the same transaction)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from mcp_distill.collect.repository.lists import in_lists
from mcp_distill.models import ScoredRun
from mcp_distill.store import Connection, StoreBackend, placeholders


def save_scores(store: StoreBackend, scored: Iterable[tuple[ScoredRun, int]]) -> None:
    """Insert or replace the score of each run (with the number of evidence records it was made from)."""
    rows = [(s.evidence_run_id, s.category, orjson.dumps(s.reasons).decode(),
             orjson.dumps([v.model_dump() for v in s.votes]).decode(), s.scorer_version, s.scored_at.isoformat(), n)
            for s, n in scored]
    with store.atomic():
        store.executemany(
            "INSERT INTO scores(run_key, category, reasons, votes, scorer_version, scored_at, evidence_count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_key) DO UPDATE SET category = excluded.category, "
            "reasons = excluded.reasons, votes = excluded.votes, scorer_version = excluded.scorer_version, "
            "scored_at = excluded.scored_at, evidence_count = excluded.evidence_count", rows)


def run_keys_scored_by(store: StoreBackend, scorer_version: str) -> set[str]:
    """Runs whose stored score was made by ``scorer_version`` (the rest need scoring)."""
    return {r["run_key"] for r in store.query("SELECT run_key FROM scores WHERE scorer_version = ?",
                                              (scorer_version,))}


def get_score(store: StoreBackend, run_key: str) -> dict[str, Any] | None:
    """The stored score row of one run (JSON columns as text), or None when it is unscored."""
    return store.query_one("SELECT * FROM scores WHERE run_key = ?", (run_key,))


def delete_scores(store: StoreBackend | Connection, run_keys: list[str]) -> None:
    """Forget the scores of these runs (their evidence changed: they are scored again). ``store`` may be
    the collector's writer connection, inside the transaction that changed the evidence."""
    for marks, chunk in in_lists(run_keys):
        store.execute(f"DELETE FROM scores WHERE run_key IN ({marks})", chunk)


def score_counts(store: StoreBackend) -> dict[str, Any]:
    """How many runs are scored, and how many per category."""
    by_category = {r["category"]: r["n"] for r in store.query(
        "SELECT category, count(*) AS n FROM scores GROUP BY category ORDER BY category")}
    return {"scored_runs": sum(by_category.values()), "by_category": by_category}


def scores_of(store: StoreBackend, keys: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """run key -> (category, reasons JSON, votes JSON) of the scored runs among ``keys``."""
    return {r["run_key"]: (r["category"], r["reasons"], r["votes"]) for r in store.query(
        f"SELECT run_key, category, reasons, votes FROM scores WHERE run_key IN ({placeholders(len(keys))})", keys)}


def scored_run_records(store: StoreBackend) -> Iterator[tuple[str, str, str, str, str]]:
    """(run key, category, reasons JSON, votes JSON, record JSON) of every record of every scored run, by
    run key then time: streamed from one read snapshot, so memory stays bound by what the caller keeps."""
    with store.reading() as conn:
        yield from conn.execute(
            "SELECT s.run_key, s.category, s.reasons, s.votes, e.data FROM scores s "
            "JOIN evidence e ON e.run_key = s.run_key ORDER BY s.run_key, e.ts_epoch, e.id")


def count_scored(store: StoreBackend, categories: Sequence[str]) -> int:
    row = store.query_one(f"SELECT count(*) AS n FROM scores WHERE category IN ({placeholders(len(categories))})",
                          tuple(categories))
    return int(row["n"]) if row else 0


def scored_page(store: StoreBackend, categories: Sequence[str], after: str, limit: int) -> list[dict[str, Any]]:
    """The next ``limit`` scored runs of these categories after run key ``after``: key, category, scorer version."""
    # SQLite's "+category": walk the primary key in order instead of sorting the category index per page
    # (PostgreSQL's planner chooses for itself, and has no unary + on text)
    category = "category" if store.dialect == "postgresql" else "+category"
    return store.query(
        f"SELECT run_key, category, scorer_version FROM scores WHERE {category} IN ({placeholders(len(categories))}) "
        "AND run_key > ? ORDER BY run_key LIMIT ?", (*categories, after, limit))


def category_of(store: StoreBackend, run_key: str) -> str | None:
    row = store.query_one("SELECT category FROM scores WHERE run_key = ?", (run_key,))
    return row["category"] if row else None


def categories_of(store: StoreBackend, keys: Sequence[str]) -> dict[str, str]:
    """run key -> category of the scored runs among ``keys``."""
    return {r["run_key"]: r["category"] for r in store.query(
        f"SELECT run_key, category FROM scores WHERE run_key IN ({placeholders(len(keys))})", tuple(keys))}


def scored_run_keys_matching(store: StoreBackend, parts: Sequence[str]) -> list[str]:
    """Scored run keys made of ``parts`` in this order with any text between them (such as the text of a
    published id around its placeholders).

    The keys starting with ``parts[0]`` come from one range scan of the primary key, the same SQL on
    both backends (SQLite's BINARY and the column's PostgreSQL "C" collation both order by code point);
    the rest of the pattern is matched here, so no dialect's pattern syntax (GLOB, LIKE) is needed."""
    prefix = parts[0] if parts else ""
    rows = store.query("SELECT run_key FROM scores WHERE run_key >= ? AND run_key < ? ORDER BY run_key",
                       (prefix, prefix + "\U0010ffff"))
    pattern = re.compile(".*".join(re.escape(part) for part in parts), re.DOTALL)
    return [r["run_key"] for r in rows if pattern.fullmatch(r["run_key"])]


def unscored_count(store: StoreBackend) -> int:
    row = store.query_one(
        "SELECT count(*) AS n FROM runs r LEFT JOIN scores s ON s.run_key = r.run_key WHERE s.run_key IS NULL")
    return int(row["n"]) if row else 0
