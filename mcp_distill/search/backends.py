"""The retrieval legs for a store's dialect: FTS5 + sqlite-vec on SQLite, tsvector + pgvector on PostgreSQL."""

from __future__ import annotations

from typing import Any

from mcp_distill.search.legs import KeywordLeg
from mcp_distill.search.repository.pg_legs import PgKeywordLeg
from mcp_distill.search.repository.pg_vector import PgVectorLeg
from mcp_distill.search.vector import VectorLeg
from mcp_distill.store import Store


def keyword_leg(store: Store, **knobs: Any) -> KeywordLeg:
    """The keyword leg of ``store``'s backend (``knobs``: see :class:`KeywordLeg`)."""
    return (PgKeywordLeg if store.dialect == "postgresql" else KeywordLeg)(store, **knobs)


def vector_leg(store: Store, model_id: str | None, **knobs: Any) -> VectorLeg:
    """The vector leg of ``store``'s backend (``knobs``: see :class:`VectorLeg`)."""
    return (PgVectorLeg if store.dialect == "postgresql" else VectorLeg)(store, model_id, **knobs)
