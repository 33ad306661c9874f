"""SFT rows: an accepted run's prompt, its tool calls in TRL's tool-calling shape, and its answer.

The run's records come as a :class:`mcp_distill.datasets.mine.RunView`; the row is a
:class:`~mcp_distill.datasets.mine.Candidate` the exporter then redacts, dedups and validates.
"""

from __future__ import annotations

import re
from typing import Any

from mcp_distill.datasets.mine import (
    AUXILIARY_ROLES,
    Candidate,
    Rec,
    RunView,
    attempt_of,
    nonblank,
    provenance,
    record_order,
    record_task_key,
    split_for,
    system_text,
    user_turn,
)

#: Tool calls kept in one SFT row (the last ones before the answer), so one long trace stays one sane row.
MAX_TOOL_CALLS = 64
#: A function name tool-calling templates accept (models.datasets.TOOL_NAME).
TOOL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
#: CommandRun kinds, the function name of a call whose tool is not named.
COMMAND_KINDS = ("shell", "tool", "edit", "other")
#: What follows the first word of a recorded call when the call is code, not ``<tool> <input>``.
CODE_CONTINUATIONS = ("=", "(", ".", "[", "+=", ":")


def sft_row(view: RunView) -> tuple[Candidate | None, str | None]:
    """The SFT row of an accepted run, or (None, reason it has none)."""
    if view.category != "accepted":
        return None, "not_accepted"
    out = view.output
    if out is None:
        return None, "no_output"
    input_rec = view.input_record()
    if input_rec is None:
        return None, "no_input"
    key = record_task_key(out)
    if key is None:
        return None, "no_task_key"
    user = user_turn(input_rec, out)
    messages = []
    system = system_text(view, input_rec)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    turns, tools, tool_recs = tool_turns(view, out, key)
    messages += [*turns, {"role": "assistant", "content": out["output_text"]}]
    provs = [provenance(out)]
    if input_rec is not out:
        provs.append(provenance(input_rec))
    provs += [provenance(r) for r in tool_recs if r is not out and r is not input_rec]
    split = split_for(key)
    row: dict[str, Any] = {"messages": messages, **({"tools": tools} if tools else {}), "metadata": {
        "run_id": view.run_key, "task_type": out.get("task_type") or input_rec.get("task_type"),
        "model": out.get("model_name"), "category": "accepted", "scorer_version": view.scorer_version,
        "split": split, "provenance": provs}}
    return Candidate(row, split, view.run_key, (user, out["output_text"])), None



def _tool_call(command: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(function name, arguments) of a recorded CommandRun. Adapters record a call as text: a shell
    command as it ran (-> ``shell`` with ``command``), any other call as ``<tool name> <its input>``
    (-> that name with ``input``; a first word that is no function name -> the call's kind)."""
    text, kind = command.get("command") or "", command.get("kind") or "other"
    if kind == "shell":
        return "shell", {"command": text}
    name, _, rest = text.partition(" ")
    name = name.lstrip("/")  # aider's /run, /test...
    # a code cell (``x = ...``, ``open_file(...)``) is recorded as its code: its first word names no tool
    if not TOOL_NAME_RE.match(name) or rest.lstrip().startswith(CODE_CONTINUATIONS):
        return kind, {"input": text}
    return name, {"input": rest.strip()}


def _tool_result(command: dict[str, Any]) -> str:
    """What the call returned as the trace kept it, else its status."""
    if nonblank(command.get("output_excerpt")):
        return command["output_excerpt"]
    if command.get("exit_code") is not None:
        return f"exit code {command['exit_code']}"
    return {True: "ok", False: "failed"}.get(command.get("ok"), "(no output recorded)")


def _tool_spec(name: str, argument: str) -> dict[str, Any]:
    what = ("Run a shell command" if name == "shell" else
            f"An unnamed {name} call, its input as the trace recorded it" if name in COMMAND_KINDS else
            f"The {name} tool, its input as the agent's trace recorded it")
    return {"type": "function", "function": {"name": name, "description": what, "parameters": {
        "type": "object", "properties": {argument: {"type": "string"}}, "required": [argument]}}}


def tool_turns(view: RunView, out: Rec, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Rec]]:
    """The run's tool calls before its answer, as TRL tool-calling messages: per call an assistant message
    with ``tool_calls`` and a ``tool`` message with the result; the ``tools`` they use; the records they came
    from. Only records of the answer's task, no auxiliary roles, no attempt the run rejected; at most
    :data:`MAX_TOOL_CALLS` calls (the last ones, nearest the answer)."""
    turns: list[dict[str, Any]] = []
    specs: dict[str, dict[str, Any]] = {}
    recs: list[Rec] = []
    for rec in sorted(view.records, key=record_order):
        if record_order(rec) > record_order(out):
            break
        attempt = attempt_of(rec)
        if (not rec.get("commands_run") or record_task_key(rec) != key
                or str(rec.get("model_role") or "").lower() in AUXILIARY_ROLES
                or (attempt is not None and view.accepted_attempt is not None and attempt < view.accepted_attempt)):
            continue
        recs.append(rec)
        for command in rec["commands_run"]:
            name, args = _tool_call(command)
            specs.setdefault(name, _tool_spec(name, next(iter(args))))
            turns.append({"role": "assistant", "tool_calls": [{"type": "function", "function": {
                "name": name, "arguments": args}}]})
            turns.append({"role": "tool", "name": name, "content": _tool_result(command)})
    turns = turns[-2 * MAX_TOOL_CALLS:]
    used = {t["name"] for t in turns if t["role"] == "tool"}
    return turns, [specs[n] for n in sorted(used)], recs
