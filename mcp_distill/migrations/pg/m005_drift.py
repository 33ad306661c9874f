"""PostgreSQL: PRD drift snapshots and their claims (m005)."""

from typing import Any


def migrate(conn: Any, *, store: str) -> None:
    conn.execute(
        """
        CREATE TABLE drift_snapshots (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,  -- SQLite's implicit rowid: ties in "latest"
            snapshot_id TEXT COLLATE "C" PRIMARY KEY,
            prd_sha256 TEXT COLLATE "C" NOT NULL,
            repo_sha TEXT COLLATE "C" NOT NULL,
            checker_version TEXT COLLATE "C" NOT NULL,
            prd_path TEXT COLLATE "C" NOT NULL,
            repo_path TEXT COLLATE "C" NOT NULL,
            rev TEXT COLLATE "C" NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            last_run_at TEXT COLLATE "C" NOT NULL,
            claim_count BIGINT NOT NULL,
            totals TEXT COLLATE "C" NOT NULL,
            header TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX drift_snapshots_state ON drift_snapshots(prd_sha256, repo_sha);
        CREATE INDEX drift_snapshots_last_run ON drift_snapshots(last_run_at);

        CREATE TABLE drift_claims (
            snapshot_id TEXT COLLATE "C" NOT NULL REFERENCES drift_snapshots(snapshot_id) ON DELETE CASCADE,
            claim_key TEXT COLLATE "C" NOT NULL,
            position BIGINT NOT NULL,
            doc TEXT COLLATE "C" NOT NULL,
            phase TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            asserted BIGINT NOT NULL,
            fake BIGINT NOT NULL,
            data TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (snapshot_id, claim_key)
        );
        CREATE INDEX drift_claims_key ON drift_claims(claim_key);
        CREATE INDEX drift_claims_status ON drift_claims(status, fake);
        """
    )
