"""Result shapes of the MCP tools (their outputSchema). Not part of the nine published schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FileCollected(BaseModel):
    path: str
    stream: str | None
    lines: int
    inserted: int
    duplicates: int
    quarantined: int
    restarted: str | None = None
    held_back: bool = False


class CollectSummary(BaseModel):
    files: int = Field(description="Source files read.")
    lines: int = Field(description="Lines (or document items) read in this run.")
    inserted: int = Field(description="New evidence records.")
    duplicates: int = Field(description="Records already in the store (same content): not added again.")
    quarantined: int = Field(description="Malformed lines kept in quarantine with file, offset and reason.")
    receipt_id: str | None
    redact_on_collect: bool = Field(False, description="Every string was redacted before it was stored "
                                                        "(--redact-on-collect / MCP_DISTILL_REDACT_ON_COLLECT).")
    redactions: dict[str, int] = Field(default_factory=dict, description="Secrets redacted before storing, by type.")
    per_file: list[FileCollected]


class ScoreSummary(BaseModel):
    scored: int
    by_category: dict[str, int]
    scorer_version: str
    receipt_id: str
    runs: list[dict[str, Any]] = Field(default_factory=list, description="The scored run when one was asked for.")


class RecordResult(BaseModel):
    record: dict[str, Any] | None = Field(description="record_id, run_key and provenance of the stored record.")
    inserted: int
    duplicates: int
    receipt_id: str | None
    run_key: str | None = None
    warnings: list[str] = Field(default_factory=list)
