"""The vector table's filter tokens as one indexed array (m011): nothing to change on SQLite.

PostgreSQL's version (``pg/m011_search_vec_facets.py``) gives ``search_vec`` a ``facets`` array with a
GIN index, so a tag-filtered vector search reads one bitmap of the scored table instead of joining
``search_tags``. SQLite's vector leg filters by masks over its in-memory codes instead (task type, source
and time from the codes' columns, tags read once from ``search_tags``: :mod:`mcp_distill.search.tagsets`).
The number exists on both backends because both share one migration list.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """Nothing to do on SQLite (see the module docstring)."""
    del db
