"""Ad-hoc SQL against a store file, with sqlite-vec loaded: ``mcp-distill sql`` and ``mcp-distill datasette``.

Read-only by default: the connection is opened ``mode=ro`` with ``PRAGMA query_only``, so a stray
``DELETE`` fails instead of changing the store. ``write=True`` runs the one statement inside a
``BEGIN IMMEDIATE`` transaction that is committed only when it succeeds.

Other tools (sqlite-utils, Datasette) need the sqlite-vec extension loaded to read the vector tables
(``search_vec``); :func:`vec_path` is the file to give them, and :func:`datasette_command` starts
Datasette on a SQLite build that can load it (the stdlib ``sqlite3`` of many Pythons cannot).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlean
import sqlite_vec

from mcp_distill.errors import ConfigError, InvalidInputError, NotFoundError
from mcp_distill.store.pg_sql import is_server_url, shown_url
from mcp_distill.store.sqlite import connect, connect_reader

#: Rows returned when the caller sets no limit: a table of more is not read at a terminal.
SQL_ROW_LIMIT = 1000


@dataclass
class SqlResult:
    """What one statement gave: column names, rows (blobs summarised), and whether more rows were cut."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    changes: int | None = None  # rows changed, for a statement run with write=True
    notes: list[str] = field(default_factory=list)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def vec_path() -> str:
    """The sqlite-vec loadable extension file (for ``--load-extension`` of sqlite-utils or Datasette)."""
    base = Path(sqlite_vec.loadable_path())
    for candidate in (base, *(base.with_suffix(s) for s in (".so", ".dylib", ".dll"))):
        if candidate.is_file():
            return str(candidate)
    return str(base)


def _cell(value: Any) -> Any:
    """A value fit to print: a blob (a vector, a hash) as its size; use hex() or vec_to_json() to see it."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<blob: {len(value)} bytes>"
    return value


def _existing(db_path: str | Path) -> Path:
    if is_server_url(str(db_path)):
        raise InvalidInputError(f"{shown_url(str(db_path))} is a PostgreSQL store: this opens SQLite files only; "
                                "use psql or any PostgreSQL client there (pgvector is loaded server-side)")
    db_path = Path(db_path)
    if not db_path.is_file():
        raise NotFoundError(f"no store at {db_path}; create one with `mcp-distill run PATH` or point --db at it")
    return db_path


def run_sql(db_path: str | Path, sql: str, params: tuple[Any, ...] = (), *, write: bool = False,
            limit: int = SQL_ROW_LIMIT) -> SqlResult:
    """Run one SQL statement on the store at ``db_path``; read-only unless ``write``.

    Raises NotFoundError when there is no store file, InvalidInputError for an empty text, several
    statements, a SQL error, or a write attempted without ``write``.
    """
    if not sql.strip():
        raise InvalidInputError("no SQL given; pass one statement, e.g. \"SELECT count(*) FROM evidence\"",
                                cli="no SQL given: `mcp-distill sql \"SELECT count(*) FROM evidence\"` (or --vec-path)")
    if limit < 1:
        raise InvalidInputError(f"limit must be at least 1 (got {limit})", cli=f"--limit must be at least 1 (got {limit})")
    path = _existing(db_path)
    conn = connect(path) if write else connect_reader(path)
    try:
        if not write:
            conn.execute("PRAGMA query_only = ON")  # belt and braces: mode=ro already refuses writes
            return _fetch(conn.execute(sql, params), limit)
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(sql, params)
            result = _fetch(cursor, limit)
            result.changes = conn.total_changes
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk, an interrupt)
                conn.execute("ROLLBACK")
            raise
        return result
    except (sqlean.ProgrammingError, sqlean.Warning) as exc:  # several statements, wrong parameter count
        raise InvalidInputError(f"cannot run this SQL: {exc}; pass exactly one statement") from exc
    except sqlean.OperationalError as exc:
        message = str(exc)
        if not write and ("readonly" in message or "read-only" in message):
            raise InvalidInputError(
                f"the store is opened read-only ({message}); pass write=True to change it",
                cli=f"the store is opened read-only ({message}); add --write to change it (one transaction)") from exc
        raise InvalidInputError(f"SQL error: {message}; the tables are listed by "
                                "\"SELECT name FROM sqlite_master WHERE type = 'table'\"") from exc
    except sqlean.DatabaseError as exc:
        raise InvalidInputError(f"SQL error: {exc}") from exc
    finally:
        conn.close()


def _fetch(cursor: Any, limit: int) -> SqlResult:
    columns = [d[0] for d in cursor.description or ()]
    if not columns:
        return SqlResult(columns=[], rows=[])
    rows = cursor.fetchmany(limit + 1)
    truncated = len(rows) > limit
    result = SqlResult(columns=columns, rows=[[_cell(v) for v in row] for row in rows[:limit]], truncated=truncated)
    if truncated:
        result.notes.append(f"only the first {limit} rows are shown")
    return result


#: Run in Datasette's process before it imports SQLite: Datasette prefers ``pysqlite3`` over the
#: stdlib module, and sqlean.py is a drop-in build of the same API that can load extensions.
_DATASETTE_SHIM = (
    "import sys, sqlean, sqlean.dbapi2; "
    "sys.modules['pysqlite3'] = sqlean; sys.modules['pysqlite3.dbapi2'] = sqlean.dbapi2; "
    "from datasette.cli import cli; sys.argv[0] = 'datasette'; cli()"
)


def datasette_command(db_path: str | Path, extra: list[str] | None = None) -> list[str]:
    """The command that serves the store in Datasette with sqlite-vec loaded.

    Raises ConfigError when Datasette is not installed, NotFoundError when there is no store file.
    """
    if importlib.util.find_spec("datasette") is None:
        raise ConfigError("Datasette is not installed in this environment; `pip install datasette` and run it again")
    path = _existing(db_path)
    return [sys.executable, "-c", _DATASETTE_SHIM, "serve", str(path), "--load-extension", vec_path(), *(extra or [])]
