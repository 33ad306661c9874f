"""The vector leg's token-keyed codes (m012): nothing to change on SQLite.

PostgreSQL's version (``pg/m012_search_vec_tokens.py``) adds ``search_vec_tokens``: one row per (facet token,
document) with the document's time, a signature of all its tokens and its binary code, in one covering
index, so a small filtered set is ranked from one contiguous index range instead of reading every passing
row of ``search_vec``. SQLite's vector leg already ranks filtered sets over its in-memory codes
(:mod:`mcp_distill.search.codes`). The number exists on both backends because both share one migration list.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """Nothing to do on SQLite (see the module docstring)."""
    del db
