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


#: A function name as tool-calling chat templates accept it.
TOOL_NAME = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$"


class ToolFunction(StrictModel):
    name: str = Field(pattern=TOOL_NAME)
    arguments: dict[str, Any] = Field(description="The call's arguments, as the trace recorded them.")


class ToolCall(StrictModel):
    """One call on an assistant message, TRL's / OpenAI's ``{"type": "function", "function": {...}}``."""

    type: Literal["function"] = "function"
    function: ToolFunction


class ToolSpec(StrictModel):
    """One entry of a row's ``tools`` list: ``{"type": "function", "function": {name, description, parameters}}``."""

    type: Literal["function"] = "function"
    function: dict[str, Any] = Field(description="name, description and a JSON Schema of its parameters.")

    @model_validator(mode="after")
    def _named(self) -> ToolSpec:
        if not isinstance(self.function.get("name"), str) or not isinstance(self.function.get("parameters"), dict):
            raise ValueError("a tool needs a function name and a parameters schema")
        return self


class Message(StrictModel):
    """A chat message; with tool calls as TRL's tool-calling SFT reads them: an assistant message may carry
    ``tool_calls`` (and then no content), a ``tool`` message answers with the function's ``name`` and result."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = Field(None, min_length=1)
    tool_calls: list[ToolCall] | None = Field(None, min_length=1)
    name: str | None = Field(None, pattern=TOOL_NAME, description="tool messages: the function that answered.")

    @model_validator(mode="after")
    def _shape(self) -> Message:
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant message carries tool_calls")
        if self.content is None and self.tool_calls is None:
            raise ValueError("a message needs content (or, from the assistant, tool_calls)")
        if (self.role == "tool") != (self.name is not None) or (self.role == "tool" and self.content is None):
            raise ValueError("a tool message, and only it, names its function and holds its result as content")
        return self


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
    tools: list[ToolSpec] | None = Field(None, min_length=1, description="The functions the tool calls use.")
    metadata: SftMetadata

    @model_validator(mode="after")
    def _ends_with_assistant(self) -> SftSample:
        last = self.messages[-1]
        if last.role != "assistant" or last.content is None or last.tool_calls is not None:
            raise ValueError("the last message of an SFT sample must be the assistant's answer")
        called = {c.function.name for m in self.messages for c in m.tool_calls or []}
        answered = {m.name for m in self.messages if m.role == "tool"}
        declared = {t.function["name"] for t in self.tools or []}
        if called != declared or not answered <= called:
            raise ValueError("tools must list exactly the functions the tool calls use, and each tool message "
                             "answer one of them")
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
