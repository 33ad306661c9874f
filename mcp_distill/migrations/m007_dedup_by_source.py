"""Record ids name their source file from here on (identical lines of two files are two records).

Records stored before keep the ids they had, made from stream + run id + content alone. This
migration notes the last evidence row of that kind (``meta.dedup_legacy_max_id``; 0 in a new store),
so that a file read again from its start (rewritten, rotated) still recognises its own earlier
records by their old id, and only stores whose evidence predates the change pay for that lookup.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    last = db.execute("SELECT coalesce(max(id), 0) FROM evidence").fetchone()[0]
    db.execute("INSERT INTO meta(key, value) VALUES ('dedup_legacy_max_id', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [str(last)])
