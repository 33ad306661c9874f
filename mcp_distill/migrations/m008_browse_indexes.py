"""Indexes for browsing runs (the dashboard's runs page and review queue) on large stores.

Runs are listed newest first and filtered by task type, by a model that took part, or by a stream
that fed them; without these, every filtered page and its total would scan the whole evidence table.
``evidence(stream, run_key)`` replaces ``evidence(stream)``: it serves every lookup the old one did.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS runs_first_epoch ON runs(first_epoch);
        CREATE INDEX IF NOT EXISTS runs_task_type ON runs(task_type, first_epoch);
        CREATE INDEX IF NOT EXISTS evidence_model_run ON evidence(model_name, run_key);
        CREATE INDEX IF NOT EXISTS evidence_stream_run ON evidence(stream, run_key);
        DROP INDEX IF EXISTS evidence_stream;
        """
    )
