"""PostgreSQL: the vector table carries its documents' filter tokens as one GIN-indexed array (m011).

A tag filter on the vector leg was an EXISTS on ``search_tags`` per candidate: at 1M documents the
planner hash-joined both tags' postings (535k x 104k rows for a common tag with a rarer one) and then
probed ``search_vec`` 52k times (400 ms). ``search_vec.facets`` holds the tokens of ``search_docs.facets``
(collection, task type, source and each tag, the tokens SQLite's FTS5 ``facets`` column holds) as a
``text[]`` with a GIN index: ``facets @> ARRAY[tokens]`` is one bitmap of the rows that carry every
token, read from the scored table itself; the planner's estimate of it comes from ANALYZE's most
common elements.

``distill_doc_facets(doc)`` is the one definition of the array: the vector leg's writes call it, so
the array is the document row's own tokens (written just before, in the same transaction).

Backfill: the column is filled by rewriting the table (``ALTER COLUMN ... TYPE ... USING``), which
rebuilds its indexes once, the HNSW graph with them; an ``UPDATE`` would have inserted every row into
the HNSW graph one by one. The graph build gets the memory the bulk load's build gets. A store
without vectors yet has no ``search_vec``: the vector leg creates it with the column.
"""

from typing import Any

FUNCTION = """
CREATE OR REPLACE FUNCTION distill_doc_facets(row_id BIGINT) RETURNS TEXT[] LANGUAGE sql STABLE
AS $$ SELECT string_to_array(d.facets, ' ') FROM search_docs d WHERE d.id = row_id $$;
"""


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(FUNCTION)
    if not conn.execute("SELECT to_regclass('search_vec') IS NOT NULL").fetchone()[0]:
        return
    # the bulk load's HNSW build memory (3 KB a row, at least 256 MB), for this transaction only; the
    # migration keeps its own figures (a landed migration never changes with the search code's)
    conn.execute("SELECT set_config('maintenance_work_mem', greatest(256, count(*) * 3 / 1024) || 'MB', true) "
                 "FROM search_vec")
    conn.execute('ALTER TABLE search_vec ADD COLUMN facets TEXT[] COLLATE "C"')
    conn.execute('ALTER TABLE search_vec ALTER COLUMN facets TYPE TEXT[] COLLATE "C" USING distill_doc_facets(doc)')
    conn.execute("CREATE INDEX search_vec_facets ON search_vec USING gin (facets)")
    conn.execute("ANALYZE search_vec")
