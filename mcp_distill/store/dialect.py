"""SQL fragments that differ between the two dialects, for the repositories that need them.

Each takes the store's ``dialect`` ("sqlite" or "postgresql") and returns SQL text. JSON columns hold
JSON as text in both backends.
"""

from __future__ import annotations

POSTGRESQL = "postgresql"


def json_text(dialect: str, column: str, *keys: str) -> str:
    """The value at ``keys`` of the JSON text in ``column``, as SQL text (JSON null or absent: NULL).

    For string values (what the callers compare with text): SQLite's ``json_extract`` gives the string,
    PostgreSQL's ``#>>`` the same."""
    if dialect == POSTGRESQL:
        return f"({column}::jsonb #>> '{{{','.join(keys)}}}')"
    return f"json_extract({column}, '$.{'.'.join(keys)}')"


def greatest(dialect: str, a: str, b: str) -> str:
    """The larger of two values (SQLite's two-argument ``max``). Only for values that are not NULL:
    SQLite's answers NULL when one is, PostgreSQL's ``GREATEST`` ignores it."""
    return f"GREATEST({a}, {b})" if dialect == POSTGRESQL else f"max({a}, {b})"


def least(dialect: str, a: str, b: str) -> str:
    """The smaller of two values (SQLite's two-argument ``min``); not NULL, as for :func:`greatest`."""
    return f"LEAST({a}, {b})" if dialect == POSTGRESQL else f"min({a}, {b})"
