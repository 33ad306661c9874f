"""ScratchpadSummary: a free-text agent scratchpad, normalised (seed 7.4)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mcp_distill.models.common import StrictModel


class ValidationStatus(StrictModel):
    status: Literal["passing", "failing", "mixed", "unknown"] = "unknown"
    passed: int = Field(0, ge=0)
    failed: int = Field(0, ge=0)
    checks: list[str] = Field(default_factory=list, description="The lines the counts were read from.")


class ChecklistCounts(StrictModel):
    """Every checkbox item as written (``- [x]``, ``* [X]``, ``1. [ ]``), duplicates included, fenced code
    left out: the plain tally, beside the de-duplicated step lists."""

    checked: int = Field(0, ge=0)
    unchecked: int = Field(0, ge=0)


class ScratchpadSummary(StrictModel):
    run_id: str | None = None
    current_objective: str | None = None
    completed_steps: list[str] = Field(default_factory=list)
    failed_steps: list[str] = Field(default_factory=list)
    pending_steps: list[str] = Field(default_factory=list)
    important_paths: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    unresolved_questions: list[str] = Field(default_factory=list)
    validation_status: ValidationStatus = Field(default_factory=ValidationStatus)
    checklist: ChecklistCounts = Field(default_factory=ChecklistCounts)
    next_command: str | None = None
    source_scratchpad_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the input text.")
    method: Literal["deterministic", "llm_refined"] = "deterministic"
    needs_human_review: bool = False
    review_reason: str | None = None
