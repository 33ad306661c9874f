"""Receipt: what a pipeline stage read, wrote, counted and checked (seed 7.9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from mcp_distill.models.common import StrictModel


class FileDigest(StrictModel):
    path: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int | None = Field(None, ge=0)


class RecordCounts(StrictModel):
    in_: int = Field(ge=0, alias="in")
    out: int = Field(ge=0)
    detail: dict[str, int] = Field(default_factory=dict)

    model_config = StrictModel.model_config | {"populate_by_name": True}


class Receipt(StrictModel):
    receipt_id: str = Field(min_length=8)
    stage: str = Field(min_length=1)
    command: str = Field(min_length=1)
    git_sha: str | None = Field(None, description="HEAD of the mcp-distill checkout, when it is one.")
    input_files: list[FileDigest]
    output_files: list[FileDigest] = Field(default_factory=list)
    record_counts: RecordCounts
    validation_pass: bool
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    duration_ms: float = Field(ge=0)
    started_at: datetime
    ended_at: datetime
