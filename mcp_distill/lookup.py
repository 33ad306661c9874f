"""Prefix look-ups of the identifiers a client may type: run ids, playbook ids, task types, models, drift
snapshot ids, receipt ids, schema names. They feed MCP ``completion/complete``.

Each package names the columns of its tables that hold such values (its repository's ``COMPLETIONS``);
``store.prefix_values`` scans them, one indexed range scan per column.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_distill.collect import repository as collect_repo
from mcp_distill.drift import repository as drift_repo
from mcp_distill.errors import InvalidInputError
from mcp_distill.ledger import repository as ledger_repo
from mcp_distill.models import SCHEMAS
from mcp_distill.receipts import repository as receipts_repo
from mcp_distill.scratchpad import repository as scratchpad_repo
from mcp_distill.search import repository as search_repo
from mcp_distill.store import Store, prefix_values

#: The MCP spec caps one completion answer at 100 values.
MAX_VALUES = 100
#: The order kinds are listed in (help texts, errors); a kind a package adds comes after these.
_ORDER = ("run", "playbook", "playbook_title", "task_type", "model", "drift", "receipt", "scratchpad_run")


def _sources() -> dict[str, tuple[tuple[str, str], ...]]:
    """kind -> the (table, column) pairs that hold its values, as each owning package declares them."""
    merged: dict[str, tuple[tuple[str, str], ...]] = {}
    for declared in (collect_repo.COMPLETIONS, search_repo.COMPLETIONS, ledger_repo.COMPLETIONS,
                     drift_repo.COMPLETIONS, receipts_repo.COMPLETIONS, scratchpad_repo.COMPLETIONS):
        for kind, pairs in declared.items():
            merged[kind] = merged.get(kind, ()) + pairs
    return {kind: merged[kind] for kind in (*_ORDER, *sorted(set(merged) - set(_ORDER)))}


_SOURCES = _sources()
KINDS = (*_SOURCES, "schema")


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
    values, total = prefix_values(store, sources, prefix, limit)
    return Matches(values, total)
