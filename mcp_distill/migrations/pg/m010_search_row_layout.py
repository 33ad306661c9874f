"""PostgreSQL: each document's tsvector stays inside its row (m010).

The keyword leg reads the tsvector of every GIN match (ts_rank picks the BM25 pool) and unnests those
of the pool. A row of a playbook-sized document (1.5 KB of text, 1.8 KB of tsvector) is over
PostgreSQL's 2 KB toast threshold, so by default the tsvector was moved to the TOAST table: every
match cost an index lookup and chunk reads there. Measured at 100k documents (2 cores, load 8):
ts_rank over the ~2,800 matches of a query 24.8 / 44.3 ms p50 / p95 toasted, 13.3 / 20.2 ms inline.

``toast_tuple_target`` 8160 leaves rows up to a page inline; ``fts`` is ``MAIN`` (compressed in place
before ever moving out) for rows larger still. Rows written before this migration keep their layout
until they are rewritten (an upsert of a changed document, or ``VACUUM FULL search_docs``): the
migration itself does not rewrite a possibly large table.
"""

from typing import Any


def migrate(conn: Any, *, store: str) -> None:
    conn.execute("ALTER TABLE search_docs SET (toast_tuple_target = 8160);"
                 "ALTER TABLE search_docs ALTER COLUMN fts SET STORAGE MAIN")
