"""RagSample, SftSample, PreferenceSample: the exported dataset rows (seed 7.6-7.8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mcp_distill.models.common import Provenance, StrictModel


class RagSample(StrictModel):
    id: str = Field(min_length=8)
    text: str = Field(min_length=1)
    title: str = ""
    tags: list[str] = Field(default_factory=list)
    task_type: str | None = None
    kind: Literal["evidence", "playbook"] = "evidence"
    source_run_ids: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    provenance: list[Provenance] = Field(min_length=1)


class Message(StrictModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class SftMetadata(StrictModel):
    run_id: str
    task_type: str | None = None
    model: str | None = None
    category: Literal["accepted"] = Field(description="Only accepted runs are ever exported for SFT.")
    scorer_version: str
    split: Literal["train", "validation"]
    provenance: list[Provenance] = Field(min_length=1)


class SftSample(StrictModel):
    """TRL conversational form, which OpenAI chat fine-tuning also reads."""

    messages: list[Message] = Field(min_length=2)
    metadata: SftMetadata

    @model_validator(mode="after")
    def _ends_with_assistant(self) -> SftSample:
        if self.messages[-1].role != "assistant":
            raise ValueError("the last message of an SFT sample must be the assistant's")
        return self


class PreferenceMetadata(StrictModel):
    task_key: str
    source: Literal["attempts", "consensus", "override"]
    chosen_run_id: str
    rejected_run_id: str
    split: Literal["train", "validation"]
    scorer_version: str
    provenance: list[Provenance] = Field(min_length=2)


class PreferenceSample(StrictModel):
    """TRL preference form: prompt, chosen, rejected."""

    prompt: str = Field(min_length=1)
    chosen: str = Field(min_length=1)
    rejected: str = Field(min_length=1)
    metadata: PreferenceMetadata

    @model_validator(mode="after")
    def _sides_differ(self) -> PreferenceSample:
        if " ".join(self.chosen.split()).lower() == " ".join(self.rejected.split()).lower():
            raise ValueError("chosen and rejected must differ after normalisation")
        return self
