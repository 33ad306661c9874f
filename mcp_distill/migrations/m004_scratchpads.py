"""Scratchpad summaries, one row per (run_id, source text): re-normalising the same text adds no row."""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE scratchpads (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            source_scratchpad_hash TEXT NOT NULL,
            method TEXT NOT NULL,
            needs_human_review INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, source_scratchpad_hash)
        );
        CREATE INDEX scratchpads_run ON scratchpads(run_id, id);
        """
    )
