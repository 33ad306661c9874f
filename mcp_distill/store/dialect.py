"""SQL fragments that differ between the two dialects, for the repositories that need them.

Each takes the store's ``dialect`` ("sqlite" or "postgresql") and returns SQL text. JSON columns hold
JSON as text in both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

POSTGRESQL = "postgresql"


def json_text(dialect: str, column: str, *keys: str) -> str:
    """The value at ``keys`` of the JSON text in ``column``, as SQL text (JSON null or absent: NULL).

    For string values (what the callers compare with text): SQLite's ``json_extract`` gives the string,
    PostgreSQL's ``#>>`` the same."""
    if dialect == POSTGRESQL:
        return f"({column}::jsonb #>> '{{{','.join(keys)}}}')"
    return f"json_extract({column}, '$.{'.'.join(keys)}')"


def json_value(dialect: str, column: str, *keys: str) -> str:
    """The value at ``keys`` as SQLite's ``json_extract`` hands it to Python: a number as a number, a
    string as a string, JSON null or absent as NULL. PostgreSQL: the ``jsonb`` value, which psycopg
    loads into the same Python value (true/false become True/False, equal to SQLite's 1/0)."""
    if dialect == POSTGRESQL:
        return f"nullif({column}::jsonb #> '{{{','.join(keys)}}}', 'null'::jsonb)"
    return f"json_extract({column}, '$.{'.'.join(keys)}')"


def json_number(dialect: str, column: str, *keys: str) -> str:
    """The value at ``keys`` as an SQL number for comparisons and arithmetic (true/false: 1/0); NULL
    when absent or not a number."""
    if dialect == POSTGRESQL:
        value = f"({column}::jsonb #> '{{{','.join(keys)}}}')"
        return (f"(CASE jsonb_typeof({value}) WHEN 'number' THEN ({value} #>> '{{}}')::double precision "
                f"WHEN 'boolean' THEN CASE WHEN {value} = 'true'::jsonb THEN 1 ELSE 0 END END)")
    return f"json_extract({column}, '$.{'.'.join(keys)}')"


def greatest(dialect: str, a: str, b: str) -> str:
    """The larger of two values (SQLite's two-argument ``max``). Only for values that are not NULL:
    SQLite's answers NULL when one is, PostgreSQL's ``GREATEST`` ignores it."""
    return f"GREATEST({a}, {b})" if dialect == POSTGRESQL else f"max({a}, {b})"


def least(dialect: str, a: str, b: str) -> str:
    """The smaller of two values (SQLite's two-argument ``min``); not NULL, as for :func:`greatest`."""
    return f"LEAST({a}, {b})" if dialect == POSTGRESQL else f"min({a}, {b})"


def in_list(dialect: str, column: str) -> str:
    """``column`` is one of a list given as ONE parameter (see :func:`list_param`): SQLite reads a JSON
    array with ``json_each``, PostgreSQL takes an array (``= ANY``); either way one statement serves
    a list of any length."""
    return f"{column} = ANY(?)" if dialect == POSTGRESQL else f"{column} IN (SELECT value FROM json_each(?))"


def list_param(dialect: str, values: Iterable[object]) -> object:
    """The parameter of an :func:`in_list` clause."""
    return list(values) if dialect == POSTGRESQL else json.dumps(list(values))


def json_array_has(dialect: str, column: str, key: str) -> str:
    """The JSON array at ``column``'s top-level ``key`` holds the string given as ONE parameter."""
    if dialect == POSTGRESQL:
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}::jsonb -> '{key}') AS e(value) WHERE value = ?)"
    return f"EXISTS (SELECT 1 FROM json_each({column}, '$.{key}') WHERE value = ?)"
