"""Optional LLM refinement of a deterministic scratchpad summary (OpenAI-compatible endpoint).

Never required and never on by default: it runs when the caller passes an :class:`LLMConfig` (or
``llm=True`` with the environment set), or when both ``MCP_DISTILL_LLM_URL`` and
``MCP_DISTILL_LLM_MODEL`` are set and the caller did not pass ``llm=False``.

The request is ``POST {base}/v1/chat/completions`` (a trailing ``/v1`` in the base is accepted) with
``temperature 0`` and ``response_format json_object``. The answer's message content must be one JSON
object whose keys are summary fields; it is laid over the deterministic summary and the result must
validate against :class:`ScratchpadSummary`. The hash, run id, method and review fields are ours, never
the model's. A timeout, an unreachable endpoint, an HTTP error, a non-JSON or schema-invalid answer
all return the deterministic summary unchanged except ``needs_human_review=True`` and ``review_reason``
naming the cause.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from mcp_distill.errors import ConfigError
from mcp_distill.models import ScratchpadSummary

LLM_URL_ENV = "MCP_DISTILL_LLM_URL"
LLM_MODEL_ENV = "MCP_DISTILL_LLM_MODEL"
LLM_API_KEY_ENV = "MCP_DISTILL_LLM_API_KEY"
LLM_TIMEOUT_ENV = "MCP_DISTILL_LLM_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
#: The scratchpad excerpt sent to the model: head and tail of longer texts (the summary covers the rest).
MAX_PROMPT_CHARS = 48_000
#: Fields the model may refine; everything else in the summary is set by mcp-distill.
REFINABLE = ("current_objective", "completed_steps", "failed_steps", "pending_steps", "important_paths",
             "decisions", "unresolved_questions", "validation_status", "next_command")

_SYSTEM = (
    "You refine a machine-extracted summary of an AI coding agent's scratchpad (notes, checklists, chat or logs). "
    "Answer with exactly one JSON object and nothing else. Its keys are: " + ", ".join(REFINABLE) + ". "
    "current_objective and next_command are strings or null; the *_steps, important_paths, decisions and "
    "unresolved_questions are arrays of strings, ordered as in the scratchpad, without duplicates; "
    "validation_status is {\"status\": \"passing\"|\"failing\"|\"mixed\"|\"unknown\", \"passed\": int, "
    "\"failed\": int, \"checks\": [lines]}. Correct mistakes of the draft, keep what is right, and never invent "
    "paths, commands or results that the scratchpad does not contain."
)


@dataclass(frozen=True)
class LLMConfig:
    """Where the OpenAI-compatible endpoint is and which model answers."""

    base_url: str
    model: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    api_key: str | None = None

    @classmethod
    def from_env(cls) -> LLMConfig | None:
        """The config from the environment, or None unless both URL and model are set."""
        url, model = os.environ.get(LLM_URL_ENV, "").strip(), os.environ.get(LLM_MODEL_ENV, "").strip()
        if not url or not model:
            return None
        raw_timeout = os.environ.get(LLM_TIMEOUT_ENV, "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_S
        except ValueError as exc:
            raise ConfigError(f"{LLM_TIMEOUT_ENV}={raw_timeout!r} is not a number of seconds; fix or unset it") from exc
        return cls(base_url=url, model=model, timeout_s=timeout, api_key=os.environ.get(LLM_API_KEY_ENV) or None)

    @property
    def endpoint(self) -> str:
        base = self.base_url.rstrip("/")
        base = base.removesuffix("/v1")
        return f"{base}/v1/chat/completions"


def resolve_llm(llm: LLMConfig | bool | None) -> LLMConfig | None:
    """``False``: off. A config: on. ``True``: on from the environment (an error when unset). ``None``: env decides."""
    if llm is False:
        return None
    if isinstance(llm, LLMConfig):
        return llm
    config = LLMConfig.from_env()
    if llm is True and config is None:
        raise ConfigError(f"LLM refinement was asked for but {LLM_URL_ENV} and {LLM_MODEL_ENV} are not both set; "
                          "set them or pass an LLMConfig")
    return config


def _excerpt(text: str) -> str:
    if len(text) <= MAX_PROMPT_CHARS:
        return text
    half = MAX_PROMPT_CHARS // 2
    return f"{text[:half]}\n\n[... {len(text) - 2 * half} characters omitted ...]\n\n{text[-half:]}"


def _messages(draft: ScratchpadSummary, text: str) -> list[dict[str, str]]:
    draft_json = json.dumps(draft.model_dump(include=set(REFINABLE)), ensure_ascii=False, indent=1)
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": f"DRAFT SUMMARY:\n{draft_json}\n\nSCRATCHPAD:\n{_excerpt(text)}"},
    ]


class _Refusal(Exception):
    """Why the answer cannot be used (becomes the review_reason)."""


def _strip_fences(content: str) -> str:
    content = content.strip()
    if content.startswith("```"):
        content = content.split("\n", 1)[1] if "\n" in content else ""
        content = content.rsplit("```", 1)[0]
    return content.strip()


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise _Refusal(f"HTTP {response.status_code} from the endpoint")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Refusal(f"the response is not an OpenAI chat completion ({type(exc).__name__})") from exc
    if not isinstance(content, str):
        raise _Refusal("the completion has no text content")
    try:
        answer = json.loads(_strip_fences(content))
    except ValueError as exc:
        raise _Refusal(f"the answer is not valid JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(answer, dict):
        raise _Refusal(f"the answer is a JSON {type(answer).__name__}, not an object")
    return answer


def _merge(draft: ScratchpadSummary, answer: dict[str, Any]) -> ScratchpadSummary:
    ours = {"run_id", "source_scratchpad_hash", "method", "needs_human_review", "review_reason"}
    unknown = sorted(set(answer) - set(REFINABLE) - ours)
    if unknown:
        raise _Refusal(f"the answer has fields outside the schema: {', '.join(unknown)}")
    merged = draft.model_dump()
    merged.update({key: value for key, value in answer.items() if key in REFINABLE})
    merged.update(method="llm_refined", needs_human_review=False, review_reason=None)
    try:
        return ScratchpadSummary.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _Refusal(f"the answer does not validate against ScratchpadSummary ({where}: {first['msg']})") from exc


def refine(draft: ScratchpadSummary, text: str, config: LLMConfig) -> ScratchpadSummary:
    """The refined summary, or ``draft`` flagged for human review with the reason the refinement failed."""
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    payload = {"model": config.model, "temperature": 0, "response_format": {"type": "json_object"},
               "messages": _messages(draft, text)}
    try:
        with httpx.Client(timeout=config.timeout_s) as client:
            response = client.post(config.endpoint, json=payload, headers=headers)
        return _merge(draft, _answer(response))
    except httpx.TimeoutException:
        cause = f"timed out after {config.timeout_s:g}s"
    except httpx.HTTPError as exc:
        cause = f"endpoint unreachable ({type(exc).__name__}: {exc})"
    except _Refusal as exc:
        cause = str(exc)
    reason = (f"LLM refinement failed: {cause} ({config.endpoint}, model {config.model}); "
              "the deterministic summary is kept, check it by hand or retry when the endpoint works")
    return draft.model_copy(update={"needs_human_review": True, "review_reason": reason})
