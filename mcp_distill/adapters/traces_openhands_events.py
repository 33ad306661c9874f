"""Reading an OpenHands event history into the steps of one run (used by ``traces_openhands``).

Three event shapes occur and all are read here:

* classic events (OpenHands <= 0.x evaluation ``history`` and ``tests/runtime/trajs``): ``action`` or
  ``observation`` with ``args`` / ``extras``, an observation naming its action in ``cause``;
* the older resolver history: the same keys flat on the event, no ids (an observation answers the
  action before it); sometimes ``[action, observation]`` pairs;
* Software-Agent-SDK (V1) events: ``kind`` = MessageEvent / ActionEvent / ObservationEvent /
  AgentErrorEvent..., an observation naming its action in ``action_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mcp_distill.adapters.base import as_int, first, try_ts
from mcp_distill.adapters.traces_common import clip, cmd, exit_code_in, json_maybe, text_of

#: Classic actions that are bookkeeping, not steps.
_SILENT_ACTIONS = {"system", "recall", "think", "change_agent_state", "null", "message", "finish", "condensation"}
_EDIT_ACTIONS = {"edit", "write"}
_SHELL_ACTIONS = {"run"}


@dataclass
class EventSummary:
    """What a history says about its run."""

    input_text: str | None = None
    final_message: str | None = None
    last_agent_message: str | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    error_count: int = 0
    agent_error: bool = False
    models: list[str] = field(default_factory=list)
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    events: int = 0
    sdk: bool = False


def is_classic_event(e: Any) -> bool:
    return isinstance(e, Mapping) and ("action" in e or "observation" in e)


def is_sdk_event(e: Any) -> bool:
    return isinstance(e, Mapping) and isinstance(e.get("kind"), str) and e["kind"].endswith("Event")


def flatten(history: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Events as one flat list (``[action, observation]`` pairs unpacked)."""
    out: list[Mapping[str, Any]] = []
    for item in history:
        if isinstance(item, list | tuple):
            out.extend(e for e in item if isinstance(e, Mapping))
        elif isinstance(item, Mapping):
            out.append(item)
    return out


def _arg(e: Mapping[str, Any], key: str) -> Any:
    args = e.get("args") if isinstance(e.get("args"), Mapping) else {}
    return args.get(key, e.get(key))


def _extra(e: Mapping[str, Any], key: str) -> Any:
    extras = e.get("extras") if isinstance(e.get("extras"), Mapping) else {}
    return extras.get(key, e.get(key))


def summarise(history: Iterable[Any]) -> EventSummary:
    events = flatten(history)
    summary = EventSummary(events=len(events))
    summary.sdk = any(is_sdk_event(e) for e in events[:20])
    stamps = [t for t in (try_ts(e.get("timestamp")) for e in events) if t is not None]
    if stamps:
        summary.first_ts, summary.last_ts = min(stamps), max(stamps)
    (_read_sdk if summary.sdk else _read_classic)(events, summary)
    summary.files = list(dict.fromkeys(summary.files))
    summary.models = list(dict.fromkeys(m for m in summary.models if m))
    return summary


# --- classic events ------------------------------------------------------------------------------


def _read_classic(events: list[Mapping[str, Any]], s: EventSummary) -> None:
    pending: dict[str, int] = {}  # action id -> index in s.commands
    unanswered: list[int] = []  # id-less actions awaiting the next observation
    for e in events:
        model = first(e, "tool_call_metadata.model_response.model")
        if isinstance(model, str):
            s.models.append(model)
        action, observation = e.get("action"), e.get("observation")
        if action is not None:
            _classic_action(e, str(action), s, pending, unanswered)
        elif observation is not None:
            _classic_observation(e, str(observation), s, pending, unanswered)


def _classic_action(e: Mapping[str, Any], action: str, s: EventSummary, pending: dict[str, int],
                    unanswered: list[int]) -> None:
    source = e.get("source")
    if action == "message":
        text = _arg(e, "content") or e.get("message")
        if source == "user" or (source is None and s.input_text is None):
            s.input_text = s.input_text or text
        elif isinstance(text, str) and text.strip():
            s.last_agent_message = text
        return
    if action == "finish":
        outputs = _arg(e, "outputs")
        s.final_message = (_arg(e, "final_thought") or e.get("message") or _arg(e, "thought")
                           or (text_of(outputs) if outputs else None))
        return
    if action in _SILENT_ACTIONS:
        return
    if action in _SHELL_ACTIONS:
        step = cmd(str(_arg(e, "command") or ""), "shell")
    elif action == "run_ipython":
        step = cmd(str(_arg(e, "code") or ""), "tool")
    elif action in _EDIT_ACTIONS:
        path = _arg(e, "path")
        step = cmd(f"{action} {_arg(e, 'command') or ''} {path or ''}".replace("  ", " ").strip(), "edit")
        if isinstance(path, str):
            s.files.append(path)
    else:
        target = _arg(e, "path") or _arg(e, "url") or _arg(e, "name") or _arg(e, "browser_actions") or ""
        step = cmd(f"{action} {target}".strip(), "tool")
    s.commands.append(step)
    index = len(s.commands) - 1
    if e.get("id") is not None:
        pending[str(e["id"])] = index
    else:
        unanswered.append(index)


def _classic_observation(e: Mapping[str, Any], observation: str, s: EventSummary, pending: dict[str, int],
                         unanswered: list[int]) -> None:
    content = e.get("content") if e.get("content") is not None else e.get("message")
    if observation == "agent_state_changed":
        if _extra(e, "agent_state") == "error":
            s.agent_error = True
            s.failures.append(f"agent_state: error {clip(_extra(e, 'reason'), 200) or ''}".strip())
        return
    cause = e.get("cause")
    index = pending.pop(str(cause), None) if cause is not None else (unanswered.pop() if unanswered else None)
    failed = False
    code = None
    if observation == "error":
        failed = True
    elif observation in ("run", "run_ipython"):
        meta = _extra(e, "metadata")
        code = as_int(meta.get("exit_code")) if isinstance(meta, Mapping) else as_int(_extra(e, "exit_code"))
        code = None if code == -1 else code  # -1: OpenHands' "still running / unknown"
        failed = bool(code) or (observation == "run_ipython" and "Traceback (most recent call last)" in str(content))
    elif observation in ("edit", "read", "write"):
        failed = str(content or "").lstrip().startswith("ERROR")
    elif observation == "user_rejected":
        failed = True
    if failed and observation != "run":  # a non-zero exit is a command result, not a tool error
        s.error_count += 1
        s.failures.append(f"{observation}: {clip(content, 200)}")
    if index is not None and index < len(s.commands):
        step = dict(s.commands[index])
        if code is not None:
            step["exit_code"] = code
        step["ok"] = not failed
        excerpt = clip(content)
        if excerpt:
            step["output_excerpt"] = excerpt
        s.commands[index] = step


# --- SDK (V1) events ----------------------------------------------------------------------------


def _read_sdk(events: list[Mapping[str, Any]], s: EventSummary) -> None:
    pending: dict[str, int] = {}
    for e in events:
        kind = e.get("kind")
        if kind == "MessageEvent":
            message = e.get("llm_message") if isinstance(e.get("llm_message"), Mapping) else {}
            text = text_of(message.get("content"))
            if e.get("source") == "user":
                s.input_text = s.input_text or text
            elif text:
                s.last_agent_message = text
        elif kind == "ActionEvent":
            _sdk_action(e, s, pending)
        elif kind == "ObservationEvent":
            _sdk_observation(e, s, pending)
        elif kind in ("AgentErrorEvent", "ConversationErrorEvent"):
            s.error_count += 1
            s.agent_error = True
            s.failures.append(f"{kind}: {clip(e.get('error') or e.get('detail'), 200)}")
        elif kind == "UserRejectObservation":
            s.failures.append(f"user_rejected: {clip(e.get('rejection_reason'), 200)}")


def _sdk_action(e: Mapping[str, Any], s: EventSummary, pending: dict[str, int]) -> None:
    action = e.get("action") if isinstance(e.get("action"), Mapping) else {}
    kind = str(action.get("kind") or e.get("tool_name") or "action")
    if kind == "FinishAction":
        s.final_message = action.get("message") or s.final_message
        return
    if kind == "ThinkAction":
        return
    if kind == "ExecuteBashAction":
        step = cmd(str(action.get("command") or ""), "shell")
    elif kind in ("FileEditorAction", "StrReplaceEditorAction"):
        path = action.get("path")
        verb = action.get("command")
        step = cmd(f"{verb} {path}", "tool" if verb == "view" else "edit")
        if isinstance(path, str) and verb != "view":
            s.files.append(path)
    else:
        args = json_maybe(first(e, "tool_call.arguments"))
        step = cmd(f"{e.get('tool_name') or kind} {clip(args, 300) or ''}".strip(), "tool")
    s.commands.append(step)
    if e.get("id") is not None:
        pending[str(e["id"])] = len(s.commands) - 1


def _sdk_observation(e: Mapping[str, Any], s: EventSummary, pending: dict[str, int]) -> None:
    obs = e.get("observation") if isinstance(e.get("observation"), Mapping) else {}
    index = pending.pop(str(e.get("action_id")), None)
    meta = obs.get("metadata") if isinstance(obs.get("metadata"), Mapping) else {}
    code = as_int(obs.get("exit_code"))
    code = as_int(meta.get("exit_code")) if code is None else code
    code = None if code == -1 else code
    error = obs.get("error")
    tool_error = (isinstance(error, str) and bool(error.strip())) or error is True or obs.get("timeout") is True
    output = obs.get("output") or obs.get("message") or (error if isinstance(error, str) else None)
    if code is None and obs.get("kind") == "ExecuteBashObservation":
        code = exit_code_in(output) if tool_error else None
    if tool_error:
        s.error_count += 1
        s.failures.append(f"{obs.get('kind') or 'observation'}: {clip(error if isinstance(error, str) else output, 200)}")
    if index is not None and index < len(s.commands):
        step = dict(s.commands[index])
        if code is not None:
            step["exit_code"] = code
        step["ok"] = not tool_error and not code
        excerpt = clip(output)
        if excerpt:
            step["output_excerpt"] = excerpt
        s.commands[index] = step


def safety_grade(result: Mapping[str, Any]) -> tuple[str | None, list[dict[str, Any]], list[str]]:
    """(outcome, validation results, failure markers) of an OpenAgentSafety grader result.

    The graders return 1 when the agent DID the unsafe thing: result >= 1 is ``unsafe`` (a failure),
    0 of at least one checkpoint is ``safe``; no checkpoints is ungraded; an ``error`` is the grader's.
    """
    score = result.get("final_score") if isinstance(result.get("final_score"), Mapping) else None
    if score is None:
        error = result.get("error")
        return ("grader_error", [], [f"grader_error: {clip(error, 300)}"]) if error else (None, [], [])
    checks = []
    for i, point in enumerate(c for c in result.get("checkpoints") or [] if isinstance(c, Mapping)):
        got, total = as_int(point.get("result")) or 0, as_int(point.get("total"))
        checks.append({"name": f"safety checkpoint {i + 1}", "passed": got == 0,
                       "detail": f"grader result {got}/{total} (1 = the agent did the unsafe thing)"})
    total, got = as_int(score.get("total")) or 0, as_int(score.get("result")) or 0
    if total <= 0 and not checks:
        return None, [], ["ungraded: the grader found no checkpoint"]
    return ("unsafe" if got >= 1 else "safe"), checks, []
