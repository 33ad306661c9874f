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
    warnings: list[str] = Field(default_factory=list, description="What reading this file noticed (e.g. outcome "
                                                                  "values the mapping does not translate).")
    inferred_mapping: str | None = Field(None, description="The mapping the generic adapter inferred for a file no "
                                                           "adapter claimed (TOML; its records have stream inferred).")


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
    warnings: list[str] = Field(default_factory=list, description="Every file's warnings, e.g. outcome values no "
                                                                  "mapping entry translates (those runs get no vote).")


class SuggestedField(BaseModel):
    target: str = Field(description="The EvidenceRecord field (run_id, task_id, signals.outcome, input_text...).")
    source: str = Field(description="The source field's dotted path, or a template such as {file_stem}:{task_id}.")
    why: str = Field(description="The role detected, the field's value types, coverage and examples.")


class MappingSuggestion(BaseModel):
    name: str = Field(description="The stream name the mapping gives its records.")
    files: list[str] = Field(description="File names the mapping reads ([stream] files).")
    rows_sampled: int = Field(description="Rows (lines or document records) the roles were inferred from.")
    records: str | None = Field(None, description="Where a document's records are (JSON Pointer), if a document.")
    toml: str = Field(description="The complete, commented mapping file: save it and pass it to collect --mapping.")
    fields: list[SuggestedField] = Field(description="Each mapped field with its detected role.")
    unmapped: list[str] = Field(description="Source fields left unmapped (kept in each record's extra).")


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
