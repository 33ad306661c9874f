"""PostgreSQL: term statistics of the keyword index, kept current by triggers (m009).

BM25 needs each lexeme's document frequency, the document count and the mean document length
(tokens). The GIN index keeps none of them, and reading them from the documents (``ts_stat``, a
count, an average over every tsvector) is a scan of the whole index: seconds at 100k documents,
minutes at 1M. So ``search_terms`` (lexeme -> documents holding it) and the one-row ``search_totals``
(documents, tokens) are maintained by statement-level triggers on ``search_docs``: each INSERT,
UPDATE (of the text) or DELETE statement adds the change of its rows in one aggregated upsert
(transition tables), so a bulk COPY pays once per statement, not once per row.

A lexeme whose last document went away keeps its row with 0 (the same as absent to BM25); deleting
it would need a scan or an index on the count, which would cost every update its HOT path.
Writers are serialised by the store's advisory lock; the upsert also takes its rows in lexeme order,
so two writers that do not take the lock cannot deadlock on it either.
"""

from typing import Any

#: Adds the summed (lexeme, +1/-1) rows of ``{deltas}`` to search_terms, in lexeme order.
_UPSERT = """
    INSERT INTO search_terms(term, ndoc)
    SELECT d.term, sum(d.sign) FROM ({deltas}) AS d(term, sign) GROUP BY d.term HAVING sum(d.sign) <> 0
    ORDER BY d.term ON CONFLICT (term) DO UPDATE SET ndoc = search_terms.ndoc + excluded.ndoc;"""
_ENTERING = "SELECT l.term, {sign} FROM {table} AS x, unnest(tsvector_to_array(x.fts)) AS l(term)"
_CHANGED = "old_docs o JOIN new_docs n USING (id), unnest(tsvector_to_array({side}.fts)) AS l(term) " \
           "WHERE o.fts IS DISTINCT FROM n.fts"

SCHEMA = """
CREATE TABLE search_terms (term TEXT COLLATE "C" PRIMARY KEY, ndoc BIGINT NOT NULL);
CREATE TABLE search_totals (id INTEGER PRIMARY KEY CHECK (id = 1), docs BIGINT NOT NULL, tokens BIGINT NOT NULL);

-- tokens of a document: every position of every lexeme (a lexeme stored without positions counts once)
CREATE FUNCTION distill_fts_tokens(v tsvector) RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(sum(coalesce(array_length(x.positions, 1), 1)), 0)::bigint FROM unnest(v) AS x $$;

CREATE FUNCTION distill_count_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN""" + _UPSERT.format(deltas=_ENTERING.format(sign=1, table="new_docs")) + """
    UPDATE search_totals SET docs = docs + s.n, tokens = tokens + s.t
      FROM (SELECT count(*) AS n, coalesce(sum(distill_fts_tokens(fts)), 0) AS t FROM new_docs) AS s;
  ELSIF TG_OP = 'DELETE' THEN""" + _UPSERT.format(deltas=_ENTERING.format(sign=-1, table="old_docs")) + """
    UPDATE search_totals SET docs = docs - s.n, tokens = tokens - s.t
      FROM (SELECT count(*) AS n, coalesce(sum(distill_fts_tokens(fts)), 0) AS t FROM old_docs) AS s;
  ELSE  -- UPDATE: only rows whose text changed move the statistics""" + _UPSERT.format(
    deltas=f"SELECT l.term, 1 FROM {_CHANGED.format(side='n')} UNION ALL "
           f"SELECT l.term, -1 FROM {_CHANGED.format(side='o')}") + """
    UPDATE search_totals SET tokens = tokens + s.t
      FROM (SELECT coalesce(sum(distill_fts_tokens(n.fts) - distill_fts_tokens(o.fts)), 0) AS t
            FROM old_docs o JOIN new_docs n USING (id) WHERE o.fts IS DISTINCT FROM n.fts) AS s;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER search_docs_terms_insert AFTER INSERT ON search_docs REFERENCING NEW TABLE AS new_docs
  FOR EACH STATEMENT EXECUTE FUNCTION distill_count_terms();
CREATE TRIGGER search_docs_terms_update AFTER UPDATE ON search_docs
  REFERENCING OLD TABLE AS old_docs NEW TABLE AS new_docs FOR EACH STATEMENT EXECUTE FUNCTION distill_count_terms();
CREATE TRIGGER search_docs_terms_delete AFTER DELETE ON search_docs REFERENCING OLD TABLE AS old_docs
  FOR EACH STATEMENT EXECUTE FUNCTION distill_count_terms();
"""

#: The statistics of the documents already stored (one scan, once).
BACKFILL = """
INSERT INTO search_terms(term, ndoc) SELECT word, ndoc FROM ts_stat('SELECT fts FROM search_docs');
INSERT INTO search_totals(id, docs, tokens)
  SELECT 1, count(*), coalesce(sum(distill_fts_tokens(fts)), 0) FROM search_docs;
"""


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(SCHEMA)
    conn.execute(BACKFILL)
