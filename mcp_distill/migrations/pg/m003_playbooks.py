"""PostgreSQL: playbooks distilled from accepted runs (m003)."""

from typing import Any


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(
        """
        CREATE TABLE playbooks (
            playbook_id TEXT COLLATE "C" PRIMARY KEY,
            task_type TEXT COLLATE "C" NOT NULL,
            pattern_key TEXT COLLATE "C" NOT NULL UNIQUE,
            data TEXT COLLATE "C" NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            updated_at TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX playbooks_task_type ON playbooks(task_type);
        """
    )
