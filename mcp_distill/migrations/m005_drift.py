"""PRD drift snapshots (one per PRD content x repo commit x checker version) and their claims."""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE drift_snapshots (
            snapshot_id TEXT PRIMARY KEY,
            prd_sha256 TEXT NOT NULL,
            repo_sha TEXT NOT NULL,
            checker_version TEXT NOT NULL,
            prd_path TEXT NOT NULL,
            repo_path TEXT NOT NULL,
            rev TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_run_at TEXT NOT NULL,
            claim_count INTEGER NOT NULL,
            totals TEXT NOT NULL,
            header TEXT NOT NULL
        );
        CREATE INDEX drift_snapshots_state ON drift_snapshots(prd_sha256, repo_sha);
        CREATE INDEX drift_snapshots_last_run ON drift_snapshots(last_run_at);

        CREATE TABLE drift_claims (
            snapshot_id TEXT NOT NULL REFERENCES drift_snapshots(snapshot_id) ON DELETE CASCADE,
            claim_key TEXT NOT NULL,
            position INTEGER NOT NULL,
            doc TEXT NOT NULL,
            phase TEXT NOT NULL,
            status TEXT NOT NULL,
            asserted INTEGER NOT NULL,
            fake INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, claim_key)
        );
        CREATE INDEX drift_claims_key ON drift_claims(claim_key);
        CREATE INDEX drift_claims_status ON drift_claims(status, fake);
        """
    )
