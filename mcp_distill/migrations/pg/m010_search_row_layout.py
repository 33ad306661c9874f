"""PostgreSQL: what the keyword leg reads per candidate stays small and close (m010).

The keyword leg reads the tsvector of every GIN match (ts_rank picks the BM25 pool) and, for the pool,
the query lexemes' term frequencies and each document's length in tokens.

- A row of a playbook-sized document (1.5 KB of text, 1.8 KB of tsvector) is over PostgreSQL's 2 KB
  toast threshold, so by default the tsvector was moved to the TOAST table: every match cost an index
  lookup and chunk reads there. ``toast_tuple_target`` 8160 leaves rows up to a page inline; ``fts`` is
  ``MAIN`` (compressed in place before ever moving out) for rows larger still. Measured at 100k
  documents (2 cores, load 8): ts_rank over the ~2,800 matches of a query 24.8 / 44.3 ms p50 / p95
  toasted, 13.3 / 20.2 ms inline. Rows written before this migration keep their layout until they are
  rewritten (an upsert of a changed document, or ``VACUUM FULL search_docs``): the migration itself
  does not rewrite a possibly large table.
- ``search_doc_tokens`` holds each document's length (BM25's dl), kept by migration 009's trigger
  (replaced here to maintain it too): counting positions means unnesting the whole tsvector, which
  cost the pool more than finding its query lexemes.
"""

from typing import Any

from mcp_distill.migrations.pg.m009_search_term_stats import _CHANGED, _ENTERING, _UPSERT

_FUNCTION = """
CREATE OR REPLACE FUNCTION distill_count_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN""" + _UPSERT.format(deltas=_ENTERING.format(sign=1, table="new_docs")) + """
    INSERT INTO search_doc_tokens(doc, tokens) SELECT id, distill_fts_tokens(fts) FROM new_docs
      ON CONFLICT (doc) DO UPDATE SET tokens = excluded.tokens;
    UPDATE search_totals SET docs = docs + s.n, tokens = tokens + s.t
      FROM (SELECT count(*) AS n, coalesce(sum(k.tokens), 0) AS t FROM new_docs n
            JOIN search_doc_tokens k ON k.doc = n.id) AS s;
  ELSIF TG_OP = 'DELETE' THEN""" + _UPSERT.format(deltas=_ENTERING.format(sign=-1, table="old_docs")) + """
    UPDATE search_totals SET docs = docs - s.n, tokens = tokens - s.t
      FROM (SELECT count(*) AS n, coalesce(sum(distill_fts_tokens(fts)), 0) AS t FROM old_docs) AS s;
    DELETE FROM search_doc_tokens WHERE doc IN (SELECT id FROM old_docs);
  ELSE  -- UPDATE: only rows whose text changed move the statistics""" + _UPSERT.format(
    deltas=f"SELECT l.term, 1 FROM {_CHANGED.format(side='n')} UNION ALL "
           f"SELECT l.term, -1 FROM {_CHANGED.format(side='o')}") + """
    UPDATE search_totals SET tokens = tokens + s.t
      FROM (SELECT coalesce(sum(distill_fts_tokens(n.fts) - distill_fts_tokens(o.fts)), 0) AS t
            FROM old_docs o JOIN new_docs n USING (id) WHERE o.fts IS DISTINCT FROM n.fts) AS s;
    INSERT INTO search_doc_tokens(doc, tokens)
      SELECT n.id, distill_fts_tokens(n.fts) FROM old_docs o JOIN new_docs n USING (id) WHERE o.fts IS DISTINCT FROM n.fts
      ON CONFLICT (doc) DO UPDATE SET tokens = excluded.tokens;
  END IF;
  RETURN NULL;
END $$;
"""


def migrate(conn: Any, *, store: str) -> None:
    conn.execute("ALTER TABLE search_docs SET (toast_tuple_target = 8160);"
                 "ALTER TABLE search_docs ALTER COLUMN fts SET STORAGE MAIN;"
                 "CREATE TABLE search_doc_tokens (doc BIGINT PRIMARY KEY, tokens BIGINT NOT NULL);"
                 "INSERT INTO search_doc_tokens(doc, tokens) SELECT id, distill_fts_tokens(fts) FROM search_docs;")
    conn.execute(_FUNCTION)
