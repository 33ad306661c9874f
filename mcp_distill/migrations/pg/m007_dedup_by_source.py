"""PostgreSQL: record ids name their source file from here on (m007); see the SQLite module's docstring."""

from typing import Any


def migrate(conn: Any, *, store: str) -> None:
    last = conn.execute("SELECT coalesce(max(id), 0) FROM evidence").fetchone()[0]
    conn.execute("INSERT INTO meta(key, value) VALUES ('dedup_legacy_max_id', ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(last),))
