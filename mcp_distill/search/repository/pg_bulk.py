"""The SQL of the PostgreSQL bulk load (:mod:`mcp_distill.search.bulk`): ``COPY`` into the index's
own tables, with the two search indexes dropped while the rows stream in and built once afterwards
(a GIN or HNSW index built over all rows at once is several times cheaper than one maintained row
by row, and the HNSW graph comes out the same kind of graph)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mcp_distill.search.repository import DOC_COLUMNS
from mcp_distill.store import Store

#: The search indexes (migration 002's GIN, the vector leg's HNSW): same names and definitions.
GIN_INDEX = ("search_docs_fts", "CREATE INDEX IF NOT EXISTS search_docs_fts ON search_docs USING gin (fts)")
HNSW_INDEX = ("search_vec_hnsw",
              "CREATE INDEX IF NOT EXISTS search_vec_hnsw ON search_vec USING hnsw (embedding vector_cosine_ops)")
#: The vector table's facet tokens (migration 011): the filters' one bitmap of search_vec.
FACETS_INDEX = ("search_vec_facets", "CREATE INDEX IF NOT EXISTS search_vec_facets ON search_vec USING gin (facets)")
#: The token-keyed codes (migration 012): the table, the triggers on search_vec that keep it in step (their
#: function is the migration's) and its two indexes (the covering one the vector leg reads, one by document
#: for the triggers' deletes).
TOKENS_TABLE = (
    'CREATE TABLE IF NOT EXISTS search_vec_tokens (token TEXT COLLATE "C" NOT NULL, ts_epoch DOUBLE PRECISION, '
    "doc BIGINT NOT NULL, sig BIGINT NOT NULL, code BIT VARYING NOT NULL)",
    "CREATE OR REPLACE TRIGGER search_vec_tokens_insert AFTER INSERT ON search_vec REFERENCING NEW TABLE AS new_vec "
    "FOR EACH STATEMENT EXECUTE FUNCTION distill_vec_tokens()",
    "CREATE OR REPLACE TRIGGER search_vec_tokens_update AFTER UPDATE ON search_vec REFERENCING OLD TABLE AS old_vec "
    "NEW TABLE AS new_vec FOR EACH STATEMENT EXECUTE FUNCTION distill_vec_tokens()",
    "CREATE OR REPLACE TRIGGER search_vec_tokens_delete AFTER DELETE ON search_vec REFERENCING OLD TABLE AS old_vec "
    "FOR EACH STATEMENT EXECUTE FUNCTION distill_vec_tokens()")
TOKENS_INDEX = ("search_vec_tokens_key", "CREATE INDEX IF NOT EXISTS search_vec_tokens_key ON search_vec_tokens "
                "(token, ts_epoch) INCLUDE (doc, sig, code)")
TOKENS_DOC_INDEX = ("search_vec_tokens_doc",
                    "CREATE INDEX IF NOT EXISTS search_vec_tokens_doc ON search_vec_tokens (doc)")
#: Memory for building them (maintenance_work_mem of the load's session only), per vector row: an HNSW
#: graph that does not fit is built several times slower (pgvector then inserts the rest one by one into
#: the on-disk graph). pgvector 0.6 keeps a 384-d vector and its neighbour lists in about 2.2 KB, so 3 KB
#: a row with a floor for small loads; the server only takes what the build uses.
BUILD_MEMORY_PER_ROW_KB = 3
BUILD_MEMORY_MIN_MB = 256

DOC_COPY_COLUMNS = ("id", "collection", "doc_id", *DOC_COLUMNS)


def index_is_empty(store: Store) -> bool:
    """True when the store holds no search document at all (of any collection)."""
    row = store.query_one("SELECT NOT EXISTS (SELECT 1 FROM search_docs) AS empty")
    return bool(row and row["empty"])


def reserve_ids(conn: Any, table: str, n: int) -> list[int]:
    """``n`` fresh ids of ``table``'s identity column (taken from its sequence, so later writes never
    collide with them)."""
    rows = conn.execute("SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)",
                        (table, n)).fetchall()
    return [int(r[0]) for r in rows]


def cached_vector_ids(conn: Any, model_id: str, hashes: Sequence[str]) -> dict[str, int]:
    """embed_cache ids of the content hashes already cached for this model (one statement)."""
    rows = conn.execute("SELECT content_hash, id FROM embed_cache WHERE model_id = ? AND content_hash = ANY(?)",
                        (model_id, list(hashes))).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def copy_cache(conn: Any, rows: Iterable[tuple[int, str, str, bytes]]) -> int:
    return int(conn.copy_rows("embed_cache", ("id", "content_hash", "model_id", "vector"), rows,
                              binary_types=("int8", "text", "text", "bytea")))


def copy_docs(conn: Any, rows: Iterable[Sequence[Any]]) -> int:
    return int(conn.copy_rows("search_docs", DOC_COPY_COLUMNS, rows))


def copy_tags(conn: Any, rows: Iterable[tuple[str, int]]) -> int:
    return int(conn.copy_rows("search_tags", ("tag", "doc"), rows))


def copy_vectors(conn: Any, rows: Iterable[tuple[int, str, str | None, str | None, float | None, Any, list[str]]]
                 ) -> int:
    """COPY vector rows (the last value: the document's facet tokens, as ``search_docs.facets`` holds them)."""
    return int(conn.copy_rows("search_vec", ("doc", "collection", "task_type", "source", "ts_epoch", "embedding", "facets"),
                              rows, binary_types=("int8", "text", "text", "text", "float8", "vector", "text[]")))


def drop_search_indexes(conn: Any) -> None:
    conn.execute(f"DROP INDEX IF EXISTS {GIN_INDEX[0]}")
    conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX[0]}")
    conn.execute(f"DROP INDEX IF EXISTS {FACETS_INDEX[0]}")
    conn.execute(f"DROP INDEX IF EXISTS {TOKENS_INDEX[0]}")
    conn.execute(f"DROP INDEX IF EXISTS {TOKENS_DOC_INDEX[0]}")


def set_build_memory(conn: Any) -> None:
    """maintenance_work_mem of this transaction sized for an HNSW build over search_vec's rows."""
    rows = int(conn.execute("SELECT count(*) FROM search_vec").fetchone()[0])
    memory_mb = max(BUILD_MEMORY_MIN_MB, rows * BUILD_MEMORY_PER_ROW_KB // 1024)
    conn.execute(f"SET LOCAL maintenance_work_mem = '{memory_mb}MB'")


def build_search_indexes(conn: Any, workers: int) -> None:
    """Build the GIN, HNSW and token indexes over every row (``workers``: parallel maintenance workers, 0 for
    none), then refresh the planner's statistics of the loaded tables."""
    set_build_memory(conn)
    conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {int(workers)}")
    conn.execute(GIN_INDEX[1])
    conn.execute(HNSW_INDEX[1])
    conn.execute(FACETS_INDEX[1])
    conn.execute(TOKENS_INDEX[1])
    conn.execute(TOKENS_DOC_INDEX[1])
    for table in ("embed_cache", "search_docs", "search_tags", "search_vec", "search_terms", "search_vec_tokens"):
        conn.execute(f"ANALYZE {table}")


def stored_doc_ids(conn: Any, collection: str, doc_ids: Sequence[str]) -> set[str]:
    """Which of ``doc_ids`` the collection already holds (a resumed load skips them)."""
    rows = conn.execute("SELECT doc_id FROM search_docs WHERE collection = ? AND doc_id = ANY(?)",
                        (collection, list(doc_ids))).fetchall()
    return {r[0] for r in rows}


def delete_meta(conn: Any, key: str) -> None:
    conn.execute("DELETE FROM meta WHERE key = ?", (key,))
