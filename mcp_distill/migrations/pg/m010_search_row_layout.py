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
- ``search_doc_tokens`` holds each document's length (BM25's dl), kept by statement triggers beside
  migration 009's: counting positions means unnesting the whole tsvector, which cost the pool more
  than finding its query lexemes.
"""

from typing import Any

_CHANGED = "FROM old_docs o JOIN new_docs n USING (id) WHERE o.fts IS DISTINCT FROM n.fts"

SCHEMA = """
ALTER TABLE search_docs SET (toast_tuple_target = 8160);
ALTER TABLE search_docs ALTER COLUMN fts SET STORAGE MAIN;

CREATE TABLE search_doc_tokens (doc BIGINT PRIMARY KEY, tokens BIGINT NOT NULL);
INSERT INTO search_doc_tokens(doc, tokens) SELECT id, distill_fts_tokens(fts) FROM search_docs;

CREATE FUNCTION distill_count_doc_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO search_doc_tokens(doc, tokens) SELECT id, distill_fts_tokens(fts) FROM new_docs
      ON CONFLICT (doc) DO UPDATE SET tokens = excluded.tokens;
  ELSIF TG_OP = 'DELETE' THEN
    DELETE FROM search_doc_tokens WHERE doc IN (SELECT id FROM old_docs);
  ELSE  -- UPDATE: only rows whose text changed
    INSERT INTO search_doc_tokens(doc, tokens) SELECT n.id, distill_fts_tokens(n.fts) """ + _CHANGED + """
      ON CONFLICT (doc) DO UPDATE SET tokens = excluded.tokens;
  END IF;
  RETURN NULL;
END $$;

""" + "".join(
    f"CREATE TRIGGER search_docs_tokens_{op.lower()} AFTER {op} ON search_docs REFERENCING {tables} "
    "FOR EACH STATEMENT EXECUTE FUNCTION distill_count_doc_tokens();\n"
    for op, tables in (("INSERT", "NEW TABLE AS new_docs"), ("UPDATE", "OLD TABLE AS old_docs NEW TABLE AS new_docs"),
                       ("DELETE", "OLD TABLE AS old_docs")))


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(SCHEMA)
