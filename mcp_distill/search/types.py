"""Data types of the search index: the document written, the hit and result returned.

Pydantic models, so the MCP tools can take a :class:`Doc` as input and return
``SearchResult.model_dump()`` as is. Re-exported by :mod:`mcp_distill.search.index`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mcp_distill.search.query import parse_time

Mode = Literal["hybrid", "keyword", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "keyword", "semantic")


class Doc(BaseModel):
    """One document to index. ``id`` is unique within its collection; ``ts`` is ISO-8601 (or a
    datetime); ``tags`` match case-insensitively, all must match when filtering."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=512)
    title: str = ""
    text: str = ""
    tags: list[str] = Field(default_factory=list)
    task_type: str | None = None
    source: str | None = None
    ts: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ts", mode="before")
    @classmethod
    def _iso_ts(cls, value: Any) -> str | None:
        parsed = parse_time(value, "ts")
        return parsed[0] if parsed else None

    @field_validator("task_type", "source", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value

    def embed_text(self) -> str:
        """What the embedder sees: title and text (the model truncates at 256 word pieces)."""
        return embed_text(self.title, self.text)


def embed_text(title: str, text: str) -> str:
    """Title, newline, text — the string whose vector represents a document."""
    return f"{title.strip()}\n{text.strip()}".strip()


class Hit(BaseModel):
    """One search result. ``score`` is the fused RRF score (see ``rrf_fuse``); the per-leg ranks
    and scores say why the document is here. ``keyword_score`` is BM25 (higher is better);
    ``vector_similarity`` is the exact cosine, ``vector_distance`` = 1 - cosine. ``matched_fields``
    lists where the keyword leg's terms occur (title/text/tags), for hits that leg returned.
    ``strength``/``match`` say whether it is a real match at all (see mcp_distill.search.strength)."""

    id: str
    collection: str
    title: str
    snippet: str
    score: float
    keyword_rank: int | None = None
    keyword_score: float | None = None
    vector_rank: int | None = None
    vector_similarity: float | None = None
    vector_distance: float | None = None
    matched_fields: list[str] = Field(default_factory=list)
    strength: float = Field(0.0, description="Match strength 0..1, comparable across queries and collections "
                            "(mcp_distill.search.strength).")
    match: Literal["strong", "weak", "none"] = Field("none", description="strength as a label: strong, weak, "
                                                     "or none (no real match).")
    vector_z: float | None = Field(None, description="Cosine to the query above the document's similarity "
                                   "to unrelated reference text, in standard deviations.")
    keyword_coverage: float | None = Field(None, description="Share of the query's informative terms (idf "
                                           "weighted) this document contains.")
    tags: list[str] = Field(default_factory=list)
    task_type: str | None = None
    source: str | None = None
    ts: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchResult(BaseModel):
    """Hits plus what the caller should know: the mode asked, whether the semantic leg ran,
    the keyword terms actually used, warnings (e.g. embedder down, documents pending vectors)."""

    query: str
    collection: str
    mode: Mode
    hits: list[Hit]
    semantic_available: bool = True
    keyword_terms: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    took_ms: float = 0.0


class UpsertReport(BaseModel):
    """Counts of one upsert: ``pending`` documents were written without vectors (embedder
    down); they are keyword-searchable now and get vectors from ``embed_pending``/``reindex``."""

    collection: str
    received: int = 0
    written: int = 0
    unchanged: int = 0
    embedded: int = 0
    pending: int = 0
    warnings: list[str] = Field(default_factory=list)
