"""Prefix look-ups of the identifiers a client may type: run ids, playbook ids, task types, models, drift
snapshot ids, receipt ids, schema names. They feed MCP ``completion/complete``.

Each kind is one indexed range scan (``col >= prefix AND col < prefix || U+10FFFF``) rather than ``LIKE``,
so a prefix holding ``%`` or ``_`` means itself and the primary-key indexes are used.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_distill.errors import InvalidInputError
from mcp_distill.models import SCHEMAS
from mcp_distill.store import Store
from mcp_distill.store.dialect import json_text

#: The MCP spec caps one completion answer at 100 values.
MAX_VALUES = 100

# kind -> the distinct columns (or expressions) that hold its values: (table, column).
_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    # A run is named by its run_id when it has one (what people type), else by its run key.
    "run": (("runs", "coalesce(run_id, run_key)"),),
    "playbook": (("playbooks", "playbook_id"),),
    # The apply_playbook prompt's task: what earlier tasks were called (playbook titles).
    "playbook_title": (("playbooks", "$.title"),),
    "task_type": (("runs", "task_type"), ("ledger_entry", "task_type"), ("playbooks", "task_type")),
    "model": (("ledger_entry", "model_name"),),
    "drift": (("drift_snapshots", "snapshot_id"),),
    "receipt": (("receipts", "receipt_id"),),
    "scratchpad_run": (("scratchpads", "run_id"),),
}
KINDS = (*_SOURCES, "schema")


def _column(store: Store, col: str) -> str:
    """A column, or ("$.key") a key of the JSON ``data`` column in the store's dialect."""
    return json_text(store.dialect, "data", col[2:]) if col.startswith("$.") else col


@dataclass(frozen=True)
class Matches:
    values: list[str]
    total: int

    @property
    def has_more(self) -> bool:
        return self.total > len(self.values)


def complete(store: Store, kind: str, prefix: str = "", limit: int = MAX_VALUES) -> Matches:
    """Stored values of ``kind`` starting with ``prefix``, sorted, at most ``limit`` (and 100)."""
    limit = max(1, min(limit, MAX_VALUES))
    if kind == "schema":
        names = sorted(n for n in SCHEMAS if n.startswith(prefix))
        return Matches(names[:limit], len(names))
    sources = _SOURCES.get(kind)
    if sources is None:
        raise InvalidInputError(f"no completion for {kind!r}; known kinds: {', '.join(KINDS)}")
    # the range's upper end (prefix + U+10FFFF) is a parameter, so the SQL is the same in both dialects
    union = " UNION ".join(f"SELECT {_column(store, col)} AS v FROM {table} WHERE {_column(store, col)} >= ? "
                           f"AND {_column(store, col)} < ?" for table, col in sources)
    bounds = [prefix, prefix + "\U0010ffff"] * len(sources)
    rows = store.query(f"SELECT v FROM ({union}) AS u WHERE v IS NOT NULL AND v != '' ORDER BY v LIMIT ?",
                       (*bounds, limit))
    total = store.query_one(f"SELECT count(*) AS n FROM ({union}) AS u WHERE v IS NOT NULL AND v != ''", bounds)
    return Matches([r["v"] for r in rows], total["n"] if total else 0)
