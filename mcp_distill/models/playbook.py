"""Playbook: how a kind of task was solved before, distilled from accepted runs (seed 7.3)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from mcp_distill.models.common import StrictModel


class Playbook(StrictModel):
    playbook_id: str = Field(min_length=4)
    task_type: str = Field(min_length=1)
    problem_pattern: str = Field(min_length=1)
    title: str = ""
    useful_context: list[str] = Field(default_factory=list)
    model_routing_path: list[str] = Field(default_factory=list)
    commands_worked: list[str] = Field(default_factory=list)
    commands_failed: list[str] = Field(default_factory=list)
    validation_steps: list[str] = Field(default_factory=list)
    repo_files_touched: list[str] = Field(default_factory=list)
    recovery_strategy: str | None = None
    known_failure_modes: list[str] = Field(default_factory=list)
    escalation_threshold: str | None = None
    acceptance_criteria: list[str] = Field(default_factory=list)
    examples: list[str] = Field(
        default_factory=list, description="Short excerpts of how accepted runs solved it (procedures, findings).")
    source_run_ids: list[str] = Field(min_length=1, description="Accepted runs this playbook was built from.")
    tags: list[str] = Field(default_factory=list)
    success_count: int = Field(ge=0)
    attempt_count: int = Field(ge=0)
    success_rate: float = Field(ge=0, le=1)
    last_seen: datetime | None = None
    created_at: datetime
