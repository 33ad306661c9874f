"""The search documents' row layout on the server (m010): nothing to change on SQLite.

PostgreSQL's version (``pg/m010_search_row_layout.py``) keeps each document's tsvector inside its
row, where the keyword leg reads it for every match; SQLite's FTS5 keeps its postings in its own
tables, so there is no row layout to choose here. The number exists on both backends because both
share one migration list.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """Nothing to do on SQLite (see the module docstring)."""
    del db
