"""Term statistics of the keyword index (m009): nothing to add on SQLite.

BM25 needs each term's document frequency, the document count and the mean document length. SQLite's
FTS5 index keeps them itself (``fts5vocab``, the index's own totals), so this migration has nothing to
create here. PostgreSQL's GIN index holds none of them: its version of this migration
(``pg/m009_search_term_stats.py``) adds tables a trigger keeps current. The number exists on both
backends because both share one migration list (a store records which numbers it has applied).
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """FTS5 already maintains the statistics (see the module docstring)."""
    del db
