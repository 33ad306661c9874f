"""Hybrid search index: documents, FTS5 keyword index, float vectors, tag sets, embedding cache.

The sqlite-vec ``vec0`` table (``search_vec``) is not created here: its column type depends on
the embedder's dimension, so :mod:`mcp_distill.search_legs` creates it when the first vectors
are written, and :mod:`mcp_distill.search` records the embedder's model id and dimension in
``meta``.

- ``search_docs`` holds every document of every collection (``collection`` + ``doc_id`` unique).
  ``facets`` is derived: one opaque token per filter value (collection, task_type, source, each
  tag), so the FTS5 keyword leg applies filters inside its MATCH instead of after it.
- ``search_fts`` is an external-content FTS5 table over ``search_docs`` kept in sync by
  triggers; tokenizer ``porter unicode61`` (measured best on SciFact, see docs/benchmarks.md).
- ``embed_cache`` maps (sha256 of text, model id) to a float32 vector, so no text is embedded
  twice; it is also where the index reads exact vectors (``search_docs.content_hash`` joins it)
  to rescore the quantised KNN candidates and to scan small filtered sets, so each vector is
  stored once.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        -- A rowid table on purpose: WITHOUT ROWID stores 1.5 kB vectors in the key b-tree with
        -- overflow pages (measured 3x the size and 6x slower lookups at 100k vectors).
        CREATE TABLE embed_cache (
            content_hash TEXT NOT NULL,
            model_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (content_hash, model_id)
        );

        CREATE TABLE search_docs (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            doc_id TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',
            facets TEXT NOT NULL DEFAULT '',
            task_type TEXT,
            source TEXT,
            ts TEXT,
            ts_epoch REAL,
            metadata TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL,
            row_hash TEXT NOT NULL,
            embedded INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            UNIQUE (collection, doc_id)
        );
        CREATE INDEX search_docs_task ON search_docs(collection, task_type, ts_epoch);
        CREATE INDEX search_docs_source ON search_docs(collection, source, ts_epoch);
        CREATE INDEX search_docs_ts ON search_docs(collection, ts_epoch);
        CREATE INDEX search_docs_pending ON search_docs(collection) WHERE embedded = 0;

        CREATE TABLE search_tags (
            tag TEXT NOT NULL,
            doc INTEGER NOT NULL REFERENCES search_docs(id) ON DELETE CASCADE,
            PRIMARY KEY (tag, doc)
        ) WITHOUT ROWID;
        CREATE INDEX search_tags_doc ON search_tags(doc);

        CREATE VIRTUAL TABLE search_fts USING fts5(
            title, text, tags, facets,
            content='search_docs', content_rowid='id',
            tokenize='porter unicode61'
        );
        CREATE VIRTUAL TABLE search_fts_vocab USING fts5vocab(search_fts, 'row');

        CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
            INSERT INTO search_fts(rowid, title, text, tags, facets)
            VALUES (new.id, new.title, new.text, new.tags, new.facets);
        END;
        CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
            INSERT INTO search_fts(search_fts, rowid, title, text, tags, facets)
            VALUES ('delete', old.id, old.title, old.text, old.tags, old.facets);
        END;
        CREATE TRIGGER search_docs_au AFTER UPDATE OF title, text, tags, facets ON search_docs BEGIN
            INSERT INTO search_fts(search_fts, rowid, title, text, tags, facets)
            VALUES ('delete', old.id, old.title, old.text, old.tags, old.facets);
            INSERT INTO search_fts(rowid, title, text, tags, facets)
            VALUES (new.id, new.title, new.text, new.tags, new.facets);
        END;
        """
    )
