"""Types shared by several schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["accepted", "partially_accepted", "rejected", "needs_human_review"]
CATEGORIES: tuple[str, ...] = ("accepted", "partially_accepted", "rejected", "needs_human_review")


class StrictModel(BaseModel):
    """Unknown fields are an error: a typo in a producer must not pass silently."""

    model_config = ConfigDict(extra="forbid")


class Provenance(StrictModel):
    """Where a record came from: enough to find its exact source line again."""

    source_file: str = Field(min_length=1, description="Path of the source file as collected.")
    line_offset: int = Field(ge=0, description="Byte offset of the line's first byte in source_file.")
    sig_hash: str = Field(
        min_length=8,
        description="The source row's own sig_hash where it has one, else sha256 of its canonical JSON.",
    )
