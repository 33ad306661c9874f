"""Hybrid search index: documents, FTS5 keyword index, float vectors, tag sets, embedding cache.

The sqlite-vec ``vec0`` table (``search_vec``) is not created here: its column type depends on
the embedder's dimension, so :mod:`mcp_distill.search.legs` creates it when the first vectors
are written, and :mod:`mcp_distill.search.index` records the embedder's model id and dimension in
``meta``.

- ``search_docs`` holds every document of every collection (``collection`` + ``doc_id`` unique).
  ``facets`` is derived: one opaque token per filter value (collection, task_type, source, each
  tag), so the FTS5 keyword leg applies filters inside its MATCH instead of after it.
- ``search_fts`` is an external-content FTS5 table over ``search_docs`` kept in sync by
  triggers; tokenizer ``porter unicode61`` (measured best on SciFact, see docs/benchmarks.md).
- ``embed_cache`` maps (sha256 of text, model id) to a float32 vector, so no text is embedded
  twice; it is also where the index reads exact vectors (``search_docs.vector_id`` points at
  them) to rescore the quantised KNN candidates and to scan small filtered sets, so each vector
  is stored once.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        -- Keyed by (content_hash, model_id); the integer id lets search_docs point at its vector
        -- directly (an integer lookup is 3x cheaper than the 100-byte text key, which matters
        -- when a filtered set of 2,000 documents is scored exactly). Not WITHOUT ROWID: that
        -- stores 1.5 kB vectors in the key b-tree with overflow pages (measured 3x the size).
        CREATE TABLE embed_cache (
            id INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL,
            model_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            UNIQUE (content_hash, model_id)
        );

        -- Small, fixed-size columns first: SQLite reads a row's columns in order, so a column
        -- stored after a long text spills into overflow pages and costs a chain walk to reach
        -- (the vector leg reads vector_id for every candidate). vector_id is the embed_cache row
        -- of this text under the store's embedder, NULL while the document waits for a vector.
        CREATE TABLE search_docs (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            doc_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            vector_id INTEGER REFERENCES embed_cache(id),
            task_type TEXT,
            source TEXT,
            ts TEXT,
            ts_epoch REAL,
            row_hash TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',
            facets TEXT NOT NULL DEFAULT '',
            metadata TEXT NOT NULL DEFAULT '{}',
            text TEXT NOT NULL DEFAULT '',
            UNIQUE (collection, doc_id)
        );
        -- Filters are answered by the FTS5 facet postings and vec0 partitions, not by b-tree
        -- indexes here; UNIQUE (collection, doc_id) serves lookups by id and by collection.
        CREATE INDEX search_docs_pending ON search_docs(collection) WHERE vector_id IS NULL;

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
