"""Evidence, source offsets, quarantine, runs, scores, receipts and store metadata."""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            record_id TEXT NOT NULL UNIQUE,  -- sha256(stream:content hash)[:24]: the dedup key
            stream TEXT NOT NULL,
            run_key TEXT NOT NULL,
            run_id TEXT,
            task_id TEXT,
            task_type TEXT,
            model_name TEXT,
            file_path TEXT,
            pr_number INTEGER,
            head_sha TEXT,
            ts TEXT,
            ts_epoch REAL,
            source_file TEXT NOT NULL,
            line_offset INTEGER NOT NULL,
            sig_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX evidence_run_key ON evidence(run_key);
        CREATE INDEX evidence_stream ON evidence(stream);
        CREATE INDEX evidence_source ON evidence(source_file, line_offset);

        CREATE TABLE sources (
            path TEXT PRIMARY KEY,
            stream TEXT,
            byte_offset INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0,
            head_sha256 TEXT,
            inode INTEGER,
            mtime_ns INTEGER,
            lines_read INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            source_file TEXT NOT NULL,
            line_offset INTEGER NOT NULL,
            line_sha256 TEXT NOT NULL,
            stream TEXT,
            reason TEXT NOT NULL,
            excerpt TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (source_file, line_offset, line_sha256)
        );

        CREATE TABLE runs (
            run_key TEXT PRIMARY KEY,
            run_id TEXT,
            join_method TEXT NOT NULL,
            file_path TEXT,
            pr_number INTEGER,
            head_sha TEXT,
            task_type TEXT,
            first_epoch REAL,
            last_epoch REAL,
            record_count INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX runs_file ON runs(file_path, first_epoch);
        CREATE INDEX runs_pr ON runs(pr_number, head_sha);

        CREATE TABLE scores (
            run_key TEXT PRIMARY KEY,
            category TEXT NOT NULL,
            reasons TEXT NOT NULL,
            votes TEXT NOT NULL,
            scorer_version TEXT NOT NULL,
            scored_at TEXT NOT NULL,
            evidence_count INTEGER NOT NULL
        );
        CREATE INDEX scores_category ON scores(category);

        CREATE TABLE receipts (
            receipt_id TEXT PRIMARY KEY,
            stage TEXT NOT NULL,
            started_at TEXT NOT NULL,
            validation_pass INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX receipts_stage ON receipts(stage, started_at);

        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )
