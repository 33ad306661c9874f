"""EvidenceRecord: one source row mapped into the unified shape (seed section 7.1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from mcp_distill.models.common import Category, Provenance, StrictModel


class CommandRun(StrictModel):
    """A shell command or tool call an agent made, with its outcome where known."""

    command: str
    kind: Literal["shell", "tool", "edit", "other"] = "shell"
    exit_code: int | None = None
    ok: bool | None = None
    output_excerpt: str | None = None


class ValidationResult(StrictModel):
    """A test, check or gate and whether it passed."""

    name: str
    passed: bool
    detail: str | None = None


class HumanOverride(StrictModel):
    """A person's decision on a run. The scorer lets it win over every other signal."""

    category: Category
    reason: str = Field(min_length=1)
    reviewer: str | None = None
    decided_at: datetime | None = None


class Signals(StrictModel):
    """Raw outcome signals as the source states them; the scorer's rules interpret them."""

    verdict: str | None = Field(None, description="Verdict word as written by the source.")
    verdict_source: str | None = Field(
        None, description="Who gave the verdict: observer, auditor, scrum, overseer, grader..."
    )
    confidence: float | None = Field(None, ge=0, le=1)
    severity: str | None = Field(None, description="Auditor severity: block / warn / info.")
    patches_applied: int | None = Field(None, ge=0)
    applier_action: str | None = None
    votes_for: int | None = Field(None, ge=0)
    votes_against: int | None = Field(None, ge=0)
    attempts: int | None = Field(None, ge=0)
    accepted_on_attempt: int | None = Field(None, ge=0)
    error_count: int | None = Field(None, ge=0)
    outcome: str | None = Field(
        None, description="Outcome word of a trace: resolved, unresolved, success, error, aborted, unsafe..."
    )


class EvidenceRecord(StrictModel):
    """One unit of evidence about an agent run, with provenance back to its source line."""

    schema_version: Literal[1] = 1
    record_id: str = Field(min_length=8, description="Stable id: derived from stream and dedup key.")
    stream: str = Field(min_length=1, description="Source stream, e.g. scrum_reviews, swe_agent_traj.")
    run_id: str | None = None
    task_id: str | None = None
    task_type: str | None = None
    timestamp: datetime | None = None
    model_name: str | None = None
    model_provider: str | None = None
    model_role: str | None = Field(None, description="primary, escalation, fallback, verifier, extractor...")
    input_hash: str | None = None
    output_hash: str | None = None
    system_text: str | None = None
    input_text: str | None = Field(None, description="The task as given to the model (prompt, diff, issue).")
    output_text: str | None = Field(None, description="What the model produced (review, patch, answer).")
    text: str | None = Field(None, description="Free text content: a fact, lesson, analysis, finding.")
    file_path: str | None = None
    source_files: list[str] = Field(default_factory=list)
    pr_number: int | None = None
    head_sha: str | None = None
    commands_run: list[CommandRun] = Field(default_factory=list)
    retrieved_context: list[str] = Field(default_factory=list)
    observer_notes: str | None = None
    scratchpad_summary: str | None = None
    success_markers: list[str] = Field(default_factory=list)
    failure_markers: list[str] = Field(default_factory=list)
    validation_results: list[ValidationResult] = Field(default_factory=list)
    human_override: HumanOverride | None = None
    signals: Signals = Field(default_factory=Signals)
    latency_ms: float | None = Field(None, ge=0)
    cost_usd: float | None = Field(None, ge=0)
    tokens_in: int | None = Field(None, ge=0)
    tokens_out: int | None = Field(None, ge=0)
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="Source fields not mapped above.")
    provenance: Provenance
