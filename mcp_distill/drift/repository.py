"""The drift package's tables (``drift_snapshots``, ``drift_claims``): every SQL statement about them."""

from __future__ import annotations

from typing import Any

import orjson

from mcp_distill.models import DriftSnapshot
from mcp_distill.store import StoreBackend


def save_snapshot(store: StoreBackend, snap: DriftSnapshot, now: str) -> None:
    """Store a snapshot and its claims; a snapshot a concurrent run stored first is kept as it is."""
    header = snap.model_dump(mode="json", exclude={"claims"})
    with store.atomic():
        inserted = store.execute(
            "INSERT INTO drift_snapshots(snapshot_id, prd_sha256, repo_sha, checker_version, prd_path, "
            "repo_path, rev, created_at, last_run_at, claim_count, totals, header) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (snap.snapshot_id, snap.prd_sha256, snap.repo_sha, snap.checker_version, snap.prd_path, snap.repo_path,
             snap.rev, snap.created_at.isoformat(), now, len(snap.claims), orjson.dumps(snap.totals).decode(),
             orjson.dumps(header).decode()),
        )
        if inserted == 0:
            return
        store.executemany(
            "INSERT INTO drift_claims(snapshot_id, claim_key, position, doc, phase, status, asserted, fake, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(snap.snapshot_id, r.claim.claim_key, i, r.claim.doc, r.claim.phase, r.status, int(r.claim.asserted),
              int(r.fake), r.model_dump_json()) for i, r in enumerate(snap.claims)],
        )


def snapshot_exists(store: StoreBackend, snapshot_id: str) -> bool:
    return store.query_one("SELECT 1 AS x FROM drift_snapshots WHERE snapshot_id = ?", (snapshot_id,)) is not None


def touch_snapshot(store: StoreBackend, snapshot_id: str, now: str) -> None:
    """Record that a run asked for this snapshot again (``latest`` is the most recently asked)."""
    store.execute("UPDATE drift_snapshots SET last_run_at = ? WHERE snapshot_id = ?", (now, snapshot_id))


def find_snapshot(store: StoreBackend, snapshot_id: str) -> DriftSnapshot | None:
    row = store.query_one("SELECT header FROM drift_snapshots WHERE snapshot_id = ?", (snapshot_id,))
    if row is None:
        return None
    claims = store.query("SELECT data FROM drift_claims WHERE snapshot_id = ? ORDER BY position", (snapshot_id,))
    data = orjson.loads(row["header"])
    data["claims"] = [orjson.loads(c["data"]) for c in claims]
    return DriftSnapshot.model_validate(data)


def latest_snapshot_id(store: StoreBackend) -> str | None:
    row = store.query_one("SELECT snapshot_id FROM drift_snapshots ORDER BY last_run_at DESC, rowid DESC LIMIT 1")
    return row["snapshot_id"] if row else None


def list_snapshots(store: StoreBackend, limit: int = 20) -> list[dict[str, Any]]:
    """The newest snapshots' headers (most recently run first), totals decoded."""
    rows = store.query(
        "SELECT snapshot_id, prd_path, repo_path, rev, repo_sha, created_at, last_run_at, claim_count, totals "
        "FROM drift_snapshots ORDER BY last_run_at DESC, rowid DESC LIMIT ?",
        (limit,),
    )
    for row in rows:
        row["totals"] = orjson.loads(row["totals"])
    return rows


#: Completion sources (``lookup.complete``): kind -> (table, column) holding its values.
COMPLETIONS = {"drift": (("drift_snapshots", "snapshot_id"),)}

__all__ = ["COMPLETIONS", "find_snapshot", "latest_snapshot_id", "list_snapshots", "save_snapshot",
           "snapshot_exists", "touch_snapshot"]
