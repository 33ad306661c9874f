"""Playbooks distilled from accepted runs; the search index (m002) holds their text and vectors."""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE playbooks (
            playbook_id TEXT PRIMARY KEY,
            task_type TEXT NOT NULL,
            pattern_key TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX playbooks_task_type ON playbooks(task_type);
        """
    )
