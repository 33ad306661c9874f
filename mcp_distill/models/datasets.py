"""RagSample, SftSample, PreferenceSample: the exported dataset rows (seed 7.6-7.8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

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
    chosen_attempt: int | None = Field(None, ge=1, description="Within one run: the accepted attempt's number.")
    rejected_attempt: int | None = Field(None, ge=1, description="Within one run: the earlier attempt's number.")
    split: Literal["train", "validation"]
    scorer_version: str
    provenance: list[Provenance] = Field(min_length=2)

    @model_validator(mode="after")
    def _two_pieces_of_evidence(self) -> PreferenceMetadata:
        chosen, rejected = self.provenance[0], self.provenance[1]
        if (chosen.source_file, chosen.line_offset) == (rejected.source_file, rejected.line_offset):
            raise ValueError("chosen and rejected must come from different source lines (provenance[0] and [1])")
        if self.chosen_run_id == self.rejected_run_id and (
                self.chosen_attempt is None or self.rejected_attempt is None or self.chosen_attempt == self.rejected_attempt):
            raise ValueError("chosen and rejected of one run must be two different attempts of it "
                             "(chosen_attempt and rejected_attempt)")
        return self


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


# --- BEIR layout of the RAG export (``export --kind rag --format beir``) -------------------------------


class BeirDocMetadata(StrictModel):
    """What a RAG chunk carries beyond BEIR's ``_id``/``title``/``text`` (BEIR's loader ignores it)."""

    kind: Literal["evidence", "playbook"] = "evidence"
    tags: list[str] = Field(default_factory=list)
    task_type: str | None = None
    source_run_ids: list[str] = Field(min_length=1)
    detail: dict[str, Any] = Field(default_factory=dict, description="The chunk's RagSample metadata.")
    provenance: list[Provenance] = Field(min_length=1)


class BeirDoc(StrictModel):
    """One line of BEIR's ``corpus.jsonl``: a chunk of accepted evidence or of a playbook."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(alias="_id", min_length=8)
    title: str = ""
    text: str = Field(min_length=1)
    metadata: BeirDocMetadata


class BeirQueryMetadata(StrictModel):
    task_key: str = Field(description="The task the query is; its accepted runs' chunks are its relevant documents.")
    run_ids: list[str] = Field(min_length=1, description="The accepted runs of this task (their chunks are in qrels).")
    provenance: list[Provenance] = Field(min_length=1, description="The record whose input_text is the query.")


class BeirQuery(StrictModel):
    """One line of BEIR's ``queries.jsonl``: an accepted run's task text."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(alias="_id", min_length=8)
    text: str = Field(min_length=1)
    metadata: BeirQueryMetadata


class BeirQrel(StrictModel):
    """One row of BEIR's ``qrels/test.tsv`` (tab-separated under the header ``query-id corpus-id score``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    query_id: str = Field(alias="query-id", min_length=8)
    corpus_id: str = Field(alias="corpus-id", min_length=8)
    score: int = Field(ge=1, description="Graded relevance; 1: a chunk of an accepted run of the query's task.")
