"""PostgreSQL: each document's binary code under each of its facet tokens, in one covering index (m012).

A filtered set too small for HNSW's post-filtering (pgvector 0.6: at most 1,000 candidates) was scored
exactly: every passing row of ``search_vec`` read for its 1.5 KB vector (~1.5 us a row; 13k-21k rows, 25-35 ms
at 1M documents, measured). ``search_vec_tokens`` holds one row per (facet token, document): the document's
time, ``sig`` (a 64-bit signature of all its tokens: two bits per token) and ``code`` (its vector's sign bits).
Its index on (token, ts_epoch) INCLUDE (doc, sig, code) gives one contiguous range per token (and per token and
time range), read by an index-only scan: the leg takes the filter's rarest token's range, keeps the rows
whose signature holds every other filter token, ranks them by hamming distance and rescores the best pool
exactly from ``search_vec`` (where every filter is checked again, so a signature's false positive is only
a wasted candidate).

Kept in step by statement-level triggers on ``search_vec`` (transition tables: a bulk COPY pays once per
statement): an insert adds the new rows' tokens, an update replaces them, a delete removes them; so every
write path (the leg's upserts, the bulk load, a store copy's later embedding) fills it. A store without
vectors yet has no ``search_vec``: the vector leg creates the table and its triggers with it.

The codes and signatures are computed by the server (``distill_vec_code``, ``distill_facet_sig``): the
triggers and the queries use one definition.
"""

from typing import Any

FUNCTIONS = """
CREATE OR REPLACE FUNCTION distill_vec_code(v vector) RETURNS BIT VARYING LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '' ORDER BY i)::varbit
      FROM unnest(v::real[]) WITH ORDINALITY AS u(x, i) $$;
CREATE OR REPLACE FUNCTION distill_facet_sig(tokens TEXT[]) RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(bit_or((1::bigint << (h & 63)::int) | (1::bigint << ((h >> 6) & 63)::int)), 0)
      FROM (SELECT hashtextextended(t, 0) AS h FROM unnest(tokens) AS t) AS s $$;
CREATE OR REPLACE FUNCTION distill_vec_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM search_vec_tokens t USING old_vec o WHERE t.doc = o.doc;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    -- OFFSET 0: the code is computed once per document, not once per token
    INSERT INTO search_vec_tokens(token, ts_epoch, doc, sig, code)
      SELECT f.token, n.ts_epoch, n.doc, n.sig, n.code
      FROM (SELECT doc, ts_epoch, facets, distill_facet_sig(facets) AS sig, distill_vec_code(embedding) AS code
            FROM new_vec OFFSET 0) AS n, unnest(n.facets) AS f(token);
  END IF;
  RETURN NULL;
END $$;
"""

TABLE = """
CREATE TABLE search_vec_tokens (token TEXT COLLATE "C" NOT NULL, ts_epoch DOUBLE PRECISION, doc BIGINT NOT NULL,
                                sig BIGINT NOT NULL, code BIT VARYING NOT NULL);
CREATE TRIGGER search_vec_tokens_insert AFTER INSERT ON search_vec REFERENCING NEW TABLE AS new_vec
  FOR EACH STATEMENT EXECUTE FUNCTION distill_vec_tokens();
CREATE TRIGGER search_vec_tokens_update AFTER UPDATE ON search_vec REFERENCING OLD TABLE AS old_vec NEW TABLE AS new_vec
  FOR EACH STATEMENT EXECUTE FUNCTION distill_vec_tokens();
CREATE TRIGGER search_vec_tokens_delete AFTER DELETE ON search_vec REFERENCING OLD TABLE AS old_vec
  FOR EACH STATEMENT EXECUTE FUNCTION distill_vec_tokens();
"""

BACKFILL = """
INSERT INTO search_vec_tokens(token, ts_epoch, doc, sig, code)
  SELECT f.token, n.ts_epoch, n.doc, n.sig, n.code
  FROM (SELECT doc, ts_epoch, facets, distill_facet_sig(facets) AS sig, distill_vec_code(embedding) AS code
        FROM search_vec OFFSET 0) AS n, unnest(n.facets) AS f(token);
CREATE INDEX search_vec_tokens_key ON search_vec_tokens (token, ts_epoch) INCLUDE (doc, sig, code);
CREATE INDEX search_vec_tokens_doc ON search_vec_tokens (doc);
ANALYZE search_vec_tokens;
"""


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(FUNCTIONS)
    if not conn.execute("SELECT to_regclass('search_vec') IS NOT NULL").fetchone()[0]:
        return
    conn.execute(TABLE)
    conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
    conn.execute(BACKFILL)
