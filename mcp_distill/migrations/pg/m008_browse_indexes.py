"""PostgreSQL: indexes for browsing runs on large stores (m008)."""

from typing import Any


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(
        """
        CREATE INDEX IF NOT EXISTS runs_first_epoch ON runs(first_epoch);
        CREATE INDEX IF NOT EXISTS runs_task_type ON runs(task_type, first_epoch);
        CREATE INDEX IF NOT EXISTS evidence_model_run ON evidence(model_name, run_key);
        CREATE INDEX IF NOT EXISTS evidence_stream_run ON evidence(stream, run_key);
        DROP INDEX IF EXISTS evidence_stream;
        """
    )
