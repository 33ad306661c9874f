"""The SQL of the two search legs: the FTS5 keyword index (``search_fts``, its vocabulary, a temporary
tokenizer table) and the sqlite-vec ``search_vec`` table of binary codes, with the exact vectors in
``embed_cache``.

These run on the store's writer connection under its lock, as rows of tuples: the legs read many
rows per query, and the tokenizer's temporary FTS5 table lives on that one connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from mcp_distill.store import SqliteStore, in_list, list_param

VEC_TABLE = "search_vec"
#: meta key of a random token replaced by every write to search_vec (in the same transaction), so a
#: process holding the codes in memory (mcp_distill.search.codes) sees any change, its own or another's.
CODES_TOKEN = "search_vec_token"
#: The documents whose codes each write changed, in commit order (``seq``), so that a process holding the
#: codes in memory reads again only those rows; ``doc`` NULL: any row may have changed (a bulk write, a
#: drop), read everything again. Created with the first write that logs (a store from before it simply
#: reloads in full once); kept when search_vec is dropped, so ``seq`` never goes back (AUTOINCREMENT).
CODES_LOG = "search_vec_log"
#: Log entries kept; a process further behind than this reloads the codes in full.
LOG_KEEP = 50_000


def _rows(store: SqliteStore, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with store.lock:
        return store.conn.execute(sql, params).fetchall()


# ----------------------------------------------------------------------------- keyword leg (FTS5)


def _temp_tables(store: SqliteStore, ready: bool) -> None:
    """Once per connection (under the store's lock): a temporary FTS5 table with the index's tokenizer and
    its per-token view (tokenize), and a per-token view of the index itself (present_terms). Temporary, so a
    read-only reader can create them too. ``ready``: they were created on this store's connection before."""
    if ready:
        return
    conn = store.conn
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_qtok USING fts5(q, tokenize='porter unicode61')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_qtok_v USING fts5vocab(temp, search_qtok, 'instance')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_fts_inst USING fts5vocab(main, search_fts, 'instance')")


def tokenize(store: SqliteStore, texts: list[str], table_ready: bool) -> list[tuple[int, str]]:
    """(text index, term) of every term FTS5's porter/unicode61 tokenizer makes of ``texts``, in order."""
    conn = store.conn
    with store.lock:
        _temp_tables(store, table_ready)
        conn.executemany("INSERT INTO temp.search_qtok(rowid, q) VALUES (?, ?)", list(enumerate(texts)))
        try:
            return conn.execute("SELECT doc, term FROM temp.search_qtok_v ORDER BY doc, offset").fetchall()
        finally:
            conn.execute("DELETE FROM temp.search_qtok")


def present_terms(store: SqliteStore, doc_ids: Sequence[int], terms: Sequence[str],
                  table_ready: bool) -> list[tuple[int, str]]:
    """(doc, term) for each of ``terms`` a document of ``doc_ids`` holds in its title, text or tags, read
    from the index's own postings (an fts5vocab 'instance' view of search_fts)."""
    dialect = store.dialect
    with store.lock:
        _temp_tables(store, table_ready)
        return store.conn.execute(
            f"SELECT DISTINCT doc, term FROM temp.search_fts_inst WHERE {in_list(dialect, 'term')} "
            f"AND {in_list(dialect, 'doc')} AND col != 'facets'",
            (list_param(dialect, terms), list_param(dialect, doc_ids))).fetchall()


def docs_holding(store: SqliteStore, pairs: Sequence[tuple[int, str, str]]) -> list[tuple[int, str]]:
    """(doc, term) of each (doc, term, FTS5 string) pair whose string matches the document's title, text or
    tags. One statement; FTS5 answers each pair as a point query (MATCH with ``rowid = ``: it seeks to
    the document in the term's postings instead of walking them)."""
    if not pairs:
        return []
    return [(int(doc), term) for doc, term in _rows(
        store, "SELECT p.value ->> 0, p.value ->> 1 FROM json_each(?) AS p JOIN search_fts "
               "ON search_fts.rowid = p.value ->> 0 AND search_fts MATCH ('{title text tags} : ' || (p.value ->> 2))",
        (json.dumps([list(p) for p in pairs]),))]


def common_terms(store: SqliteStore, floor: int) -> dict[str, int]:
    """Document frequency of every indexed term in at least ``floor`` documents."""
    rows = store.query("SELECT term, doc FROM search_fts_vocab WHERE doc >= ?", (floor,))
    return {r["term"]: int(r["doc"]) for r in rows}


def collection_bounds(store: SqliteStore) -> tuple[str | None, str | None]:
    """The smallest and largest collection name of the documents."""
    # Two statements: SQLite answers a lone min() or max() from the index in O(log n), but scans for
    # both in one statement.
    lo = store.query_one("SELECT min(collection) AS v FROM search_docs")
    hi = store.query_one("SELECT max(collection) AS v FROM search_docs")
    return (lo["v"] if lo else None), (hi["v"] if hi else None)


def total_docs(store: SqliteStore) -> int:
    row = store.query_one("SELECT count(*) AS n FROM search_docs")
    return int(row["n"]) if row else 0


def bm25_matches(store: SqliteStore, weights: Sequence[float], match: str, time_clause: str,
                 time_params: Sequence[Any], depth: int) -> list[tuple[int, float]]:
    """(row id, BM25 score, lower is better) of the best ``depth`` documents matching ``match`` (and the
    time clause over search_docs ``d``)."""
    bm25 = f"bm25(search_fts, {weights[0]!r}, {weights[1]!r}, {weights[2]!r}, 0.0)"
    if time_clause:
        sql = (f"SELECT search_fts.rowid, {bm25} FROM search_fts JOIN search_docs d "
               f"ON d.id = search_fts.rowid WHERE search_fts MATCH ? AND {time_clause} ORDER BY 2 LIMIT ?")
        params: list[Any] = [match, *time_params, depth]
    else:
        sql = f"SELECT rowid, {bm25} FROM search_fts WHERE search_fts MATCH ? ORDER BY 2 LIMIT ?"
        params = [match, depth]
    return [(int(r[0]), float(r[1])) for r in _rows(store, sql, params)]


def highlighted(store: SqliteStore, match: str, doc_ids: Sequence[int],
                close: str = "") -> dict[int, tuple[str, str, str]]:
    """Title, text and tags of each document with each matched span opened by ``\\x01`` (and closed by
    ``close``; none by default).

    One point query per document (FTS5 opens every phrase's posting list per statement, and a
    ``rowid IN`` list re-runs the whole query per value, so batching does not help)."""
    marks = "char(1), " + ("''" if not close else f"char({ord(close)})")
    sql = (f"SELECT highlight(search_fts, 0, {marks}), highlight(search_fts, 1, {marks}), "
           f"highlight(search_fts, 2, {marks}) FROM search_fts WHERE search_fts MATCH ? AND rowid = ?")
    out: dict[int, tuple[str, str, str]] = {}
    with store.lock:
        for doc_id in doc_ids:
            row = store.conn.execute(sql, (match, doc_id)).fetchone()
            if row:
                out[doc_id] = row
    return out


def facet_filter_sql(match: str, time_clause: str, time_params: Sequence[Any],
                     limit: int | None) -> tuple[str, list[Any]]:
    """SELECT of the row ids whose facets match ``match`` (and the time clause), at most ``limit``."""
    if time_clause:
        sql = ("SELECT search_fts.rowid FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid "
               f"WHERE search_fts MATCH ? AND {time_clause}")
        params: list[Any] = [match, *time_params]
    else:
        sql, params = "SELECT rowid FROM search_fts WHERE search_fts MATCH ?", [match]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def ids_of(store: SqliteStore, select: tuple[str, list[Any]]) -> list[int]:
    """The ids a :func:`facet_filter_sql` select returns."""
    return [int(r[0]) for r in _rows(store, *select)]


def tag_docs(store: SqliteStore, tag: str) -> list[int]:
    """Every document carrying ``tag`` (one range of search_tags' primary key (tag, doc), ascending)."""
    return [int(r[0]) for r in _rows(store, "SELECT doc FROM search_tags WHERE tag = ?", (tag,))]


def tags_of(store: SqliteStore, docs: Sequence[int]) -> list[tuple[int, str]]:
    """(doc, tag) of every tag of these documents (search_tags' index by document)."""
    return [(int(r[0]), r[1]) for r in _rows(
        store, f"SELECT doc, tag FROM search_tags WHERE {in_list(store.dialect, 'doc')}", (list_param(store.dialect, docs),))]


# ----------------------------------------------------------------------------- vector leg (sqlite-vec)


def vec_table_exists(store: SqliteStore) -> bool:
    return store.query_one("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (VEC_TABLE,)) is not None


def create_vec_table(store: SqliteStore, bits: int) -> None:
    """The vec0 table of ``bits``-bit codes, partitioned by collection and task type (inside a write)."""
    store.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {VEC_TABLE} USING vec0("
        "doc INTEGER PRIMARY KEY, collection TEXT PARTITION KEY, task_type TEXT PARTITION KEY, "
        f"code BIT[{bits}], source TEXT, ts_epoch FLOAT)")


def drop_vec_table(store: SqliteStore) -> None:
    store.execute(f"DROP TABLE IF EXISTS {VEC_TABLE}")
    _codes_changed(store)


def _codes_changed(store: SqliteStore, docs: Sequence[int] | None = None) -> None:
    """A write to search_vec (inside its transaction): a new token, and the rows it touched logged
    (``docs``; None: any row may have changed, readers reload everything)."""
    store.execute("INSERT INTO meta(key, value) VALUES (?, lower(hex(randomblob(8)))) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (CODES_TOKEN,))
    store.execute(f"CREATE TABLE IF NOT EXISTS {CODES_LOG} (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc INTEGER)")
    store.executemany(f"INSERT INTO {CODES_LOG}(doc) VALUES (?)", [(d,) for d in docs] if docs is not None else [(None,)])
    store.execute(f"DELETE FROM {CODES_LOG} WHERE seq <= (SELECT max(seq) FROM {CODES_LOG}) - ?", (LOG_KEEP,))


def _log_exists(store: SqliteStore) -> bool:
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (CODES_LOG,)).fetchone() is not None


def codes_log_end(store: SqliteStore) -> int:
    """The last ``seq`` of the change log (0: empty or none yet). Read before the codes themselves: a
    write committed in between is then both in the codes read and after this position."""
    with store.lock:
        if not _log_exists(store):
            return 0
        return int(store.conn.execute(f"SELECT coalesce(max(seq), 0) FROM {CODES_LOG}").fetchone()[0])


def code_changes(store: SqliteStore, after: int) -> tuple[int, list[int] | None]:
    """(last seq, the documents whose codes changed after seq ``after``), or (last seq, None) when they
    cannot be told (entries pruned, a write that did not list its rows, no log): reload everything."""
    with store.lock:
        if not _log_exists(store):
            return 0, None
        lo, hi = store.conn.execute(f"SELECT min(seq), max(seq) FROM {CODES_LOG}").fetchone()
        if hi is None or hi < after or lo > after + 1:
            return int(hi or 0), None
        docs = [r[0] for r in store.conn.execute(f"SELECT doc FROM {CODES_LOG} WHERE seq > ?", (after,))]
    if any(d is None for d in docs):
        return hi, None
    return hi, list(dict.fromkeys(int(d) for d in docs))


def code_rows(store: SqliteStore, docs: Sequence[int]) -> list[tuple[Any, ...]]:
    """The search_vec rows (as :func:`iter_codes`) of those of ``docs`` that have one: one point query each
    (vec0 answers ``doc = ?`` from its rowid index, ~20 µs, while ``doc IN (...)`` scans the whole table)."""
    sql = f"SELECT doc, collection, task_type, code, source, ts_epoch FROM {VEC_TABLE} WHERE doc = ?"
    with store.lock:
        if not vec_table_exists(store):
            return []
        return [row for d in docs if (row := store.conn.execute(sql, (d,)).fetchone()) is not None]


def codes_token(store: SqliteStore) -> str | None:
    """The token of the codes' current state (None: written before tokens existed, or never)."""
    row = store.query_one("SELECT value FROM meta WHERE key = ?", (CODES_TOKEN,))
    return row["value"] if row else None


def iter_codes(store: SqliteStore, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every row of search_vec, (doc, collection, task_type, code, source, ts_epoch), ``batch`` rows at a
    time (under the store's lock throughout: one consistent read)."""
    with store.lock:
        if not vec_table_exists(store):
            return
        cursor = store.conn.execute(f"SELECT doc, collection, task_type, code, source, ts_epoch FROM {VEC_TABLE}")
        while rows := cursor.fetchmany(batch):
            yield rows


def put_code(store: SqliteStore, doc: int, collection: str, padded: bytes, task_type: str, source: str,
             ts_epoch: float) -> None:
    """One document's binary code (``padded``: its float32 vector, length a multiple of 8), replacing any."""
    store.execute(f"DELETE FROM {VEC_TABLE} WHERE doc = ?", (doc,))
    store.execute(
        f"INSERT INTO {VEC_TABLE}(doc, collection, task_type, code, source, ts_epoch) "
        "VALUES (?, ?, ?, vec_quantize_binary(?), ?, ?)", (doc, collection, task_type, padded, source, ts_epoch))
    _codes_changed(store, [doc])


def remove_codes(store: SqliteStore, docs: Sequence[int]) -> None:
    store.executemany(f"DELETE FROM {VEC_TABLE} WHERE doc = ?", [(d,) for d in docs])
    _codes_changed(store, docs)


def query_code(store: SqliteStore, padded_query: bytes) -> bytes:
    """sqlite-vec's own binary code of a (padded) float32 query, bit for bit as the stored codes."""
    return _rows(store, "SELECT vec_quantize_binary(?)", (padded_query,))[0][0]


def exact_vectors(store: SqliteStore, docs: Sequence[int]) -> list[tuple[int, bytes]]:
    """(row id, float32 vector bytes) of these documents (those that have a vector)."""
    return [(int(r[0]), r[1]) for r in _rows(
        store, "SELECT d.id, c.vector FROM search_docs d JOIN embed_cache c ON c.id = d.vector_id "
               f"WHERE {in_list(store.dialect, 'd.id')}", (list_param(store.dialect, docs),))]


def iter_vectors(store: SqliteStore, batch: int) -> Iterator[list[tuple[int, bytes]]]:
    """Every document's (row id, float32 vector bytes), ``batch`` rows at a time (holds the store's lock
    throughout, so the batches are one consistent read)."""
    with store.lock:
        cursor = store.conn.execute("SELECT d.id, c.vector FROM search_docs d JOIN embed_cache c ON c.id = d.vector_id")
        while rows := cursor.fetchmany(batch):
            yield [(int(r[0]), r[1]) for r in rows]


def cached_vector(store: SqliteStore, vector_id: int) -> bytes | None:
    """The float32 vector bytes of embed_cache row ``vector_id``."""
    row = store.query_one("SELECT vector FROM embed_cache WHERE id = ?", (vector_id,))
    return row["vector"] if row else None


def hamming(store: SqliteStore, padded_query: bytes, docs: Sequence[int]) -> list[int]:
    """sqlite-vec's hamming distance of each of ``docs``' codes to the query's, in order."""
    dist = dict(_rows(store, f"SELECT doc, vec_distance_hamming(code, vec_quantize_binary(?)) FROM {VEC_TABLE} "
                             f"WHERE {in_list(store.dialect, 'doc')}", (padded_query, list_param(store.dialect, docs))))
    return [int(dist[d]) for d in docs]


def knn(store: SqliteStore, padded_query: bytes, k: int, where: Sequence[tuple[str, Any]]) -> list[int]:
    """The ``k`` nearest codes to the query's by sqlite-vec's own KNN (``where``: (column clause, value)
    filters inside the KNN). The leg reads the codes from memory (mcp_distill.search.codes); this is
    the reference its tests compare with."""
    clauses = ["code MATCH vec_quantize_binary(?)", "k = ?", *(c for c, _ in where)]
    params = [padded_query, k, *(v for _, v in where)]
    sql = f"SELECT doc FROM {VEC_TABLE} WHERE {' AND '.join(clauses)} ORDER BY distance"
    return [int(r[0]) for r in _rows(store, sql, params)]
