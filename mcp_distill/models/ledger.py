"""ModelLedgerEntry: how one model fares on one task type (seed 7.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from mcp_distill.models.common import StrictModel


class ModelLedgerEntry(StrictModel):
    model_name: str = Field(min_length=1)
    model_provider: str | None = None
    task_type: str = Field(min_length=1)
    sample_count: int = Field(ge=0, description="Scored runs this model took part in for this task type.")
    success_count: int = Field(0, ge=0)
    success_rate: float | None = Field(None, ge=0, le=1)
    success_lower_bound: float | None = Field(
        None, ge=0, le=1, description="95% Wilson lower bound of success_rate: small samples rank low."
    )
    failure_modes: list[str] = Field(default_factory=list)
    best_partner_model: str | None = None
    escalation_role: Literal["primary", "escalation", "fallback", "unknown"] = "unknown"
    cost_mean: float | None = Field(None, ge=0)
    cost_total: float | None = Field(None, ge=0)
    latency_p50: float | None = Field(None, ge=0)
    latency_p95: float | None = Field(None, ge=0)
    context_window: int | None = Field(None, ge=0)
    last_updated: datetime
