"""ScoredRun: the scorer's verdict on one run (seed section 7.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from mcp_distill.models.common import Category, StrictModel

Vote = Literal["positive", "negative", "partial", "neutral"]


class SignalVote(StrictModel):
    """How one signal voted, and why."""

    signal: str
    vote: Vote
    detail: str
    record_id: str | None = None


class ScoredRun(StrictModel):
    evidence_run_id: str = Field(min_length=1, description="The run key the evidence was joined under.")
    category: Category
    reasons: list[str] = Field(min_length=1, description="Each signal used, in words.")
    votes: list[SignalVote] = Field(default_factory=list)
    scored_at: datetime
    scorer_version: str = Field(min_length=1)
