"""SWE-agent ``.traj`` and mini-swe-agent ``.traj.json`` trajectories: one file, one run.

Both are whole documents. A trajectory becomes one record: the task (issue text) as ``input_text``,
the submitted patch as ``output_text``, every step as a :class:`CommandRun`, the exit status as the
outcome word (``submitted`` is no verdict: the SWE-bench ``report.json`` adapter in
``traces_swebench`` adds ``resolved`` / ``unresolved`` under the same run id, the instance id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from mcp_distill.adapters.base import Fields, as_float, as_int, first, register, try_ts
from mcp_distill.adapters.traces_common import (
    TraceAdapter,
    clip,
    cmd,
    finish,
    json_maybe,
    normalise_exit,
    patch_files,
    sum_or_none,
    text_of,
    wall_ms,
)

#: SWE-agent run folders: ``{model}__{data}__{config}__t-..__p-..__c-..__install-N``.
_RUN_FOLDER = re.compile(r"^(?P<model>[^_][^/]*?)__.*__install-\d+$")
#: SWE-agent interface commands that edit files, and those that only look around.
_EDIT_COMMANDS = {"edit", "create", "insert", "append", "str_replace_editor", "write", "replace"}
_TOOL_COMMANDS = {"open", "goto", "scroll_up", "scroll_down", "find_file", "search_file", "search_dir",
                  "submit", "filemap", "exit_forfeit", "decompile", "disassemble", "debug_start", "connect_start"}
_DEMO_MODELS = {"human", "human_thought", "replay", "demo"}
_BASH_BLOCK = re.compile(r"```(?:bash|sh)?\s*\n(.*?)\n```", re.DOTALL)


def _instance_from_path(path: Path | None, suffix: str) -> str | None:
    if path is None or not path.name.lower().endswith(suffix):
        return None
    return path.name[: -len(suffix)] or None


def _fallback_id(prefix: str, *parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"


def _swe_agent_kind(action: str) -> str:
    word = action.strip().split(maxsplit=1)[0] if action.strip() else ""
    if word in _EDIT_COMMANDS:
        return "edit"
    return "tool" if word in _TOOL_COMMANDS or word.startswith("search") else "shell"


@register
class SweAgentTrajAdapter(TraceAdapter):
    """SWE-agent ``.traj``: ``trajectory`` steps, chat ``history``, ``info`` (exit status, patch, costs)."""

    stream = "swe_agent_traj"
    whole_file = True
    name_patterns: ClassVar[tuple[str, ...]] = ("*.traj",)

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping) or "trajectory_format" in doc or "messages" in doc:
            return False
        history = doc.get("history")
        if not isinstance(history, list) or not history or not isinstance(history[0], Mapping):
            return False
        if isinstance(doc.get("trajectory"), list) and isinstance(doc.get("info"), Mapping):
            return True
        # older/demo files keep only the history: SWE-agent marks each message with agent/message_type
        return "role" in history[0] and ("agent" in history[0] or "message_type" in history[0])

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not a SWE-agent trajectory (needs history, trajectory, info)")
        yield 0, self._map(doc, path)

    def _map(self, doc: Mapping[str, Any], path: Path | None) -> Fields:
        info = doc.get("info") if isinstance(doc.get("info"), Mapping) else {}
        stats = info.get("model_stats") if isinstance(info.get("model_stats"), Mapping) else {}
        replay = json_maybe(doc.get("replay_config"))
        replay = replay if isinstance(replay, Mapping) else {}
        problem = replay.get("problem_statement") if isinstance(replay.get("problem_statement"), Mapping) else {}
        history = [m for m in doc.get("history") or [] if isinstance(m, Mapping)]

        system_text = next((text_of(m.get("content")) for m in history if m.get("role") == "system"), None)
        task = problem.get("text") or next(
            (text_of(m.get("content")) for m in history
             if m.get("role") == "user" and not m.get("is_demo")
             and not str(text_of(m.get("content")) or "").startswith("Here is a demonstration")), None)
        instance = (_instance_from_path(path, ".traj") or problem.get("id")
                    or _fallback_id("swe-agent", task, info.get("submission")))

        folder = path.parent.name if path is not None else ""
        match = _RUN_FOLDER.match(folder)
        model = first(replay, "agent.model.name") or (match.group("model") if match else None)
        demo = (model in _DEMO_MODELS) or (path is not None and "demonstrations" in path.parts)

        commands = self._steps(doc, history)
        submission = info.get("submission") if isinstance(info.get("submission"), str) else None
        outcome, marker = normalise_exit(info.get("exit_status"))
        api_calls = as_int(stats.get("api_calls")) or 0
        cost = as_float(stats.get("instance_cost"))
        return finish({
            "run_id": instance,
            "task_id": instance,
            "task_type": "ctf" if system_text and "CTF" in system_text else "swe_bench",
            "model_name": model,
            "model_role": "primary",
            "system_text": system_text,
            "input_text": task,
            "output_text": submission if submission and submission.strip() else None,
            "commands_run": commands,
            "source_files": patch_files(submission),
            "failure_markers": [marker] if marker else [],
            "signals": {"outcome": outcome},
            "cost_usd": cost if cost and api_calls else None,
            "tokens_in": as_int(stats.get("tokens_sent")) or None,
            "tokens_out": as_int(stats.get("tokens_received")) or None,
            "tags": ["swe-agent", *(["demonstration"] if demo else [])],
            "extra": {"exit_status": info.get("exit_status"), "api_calls": api_calls, "steps": len(commands),
                      "environment": doc.get("environment"), "run_folder": folder or None},
        })

    @staticmethod
    def _steps(doc: Mapping[str, Any], history: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        steps = [s for s in doc.get("trajectory") or [] if isinstance(s, Mapping)]
        if steps:
            return [cmd(str(s.get("action") or ""), _swe_agent_kind(str(s.get("action") or "")),
                        output=s.get("observation")) for s in steps if str(s.get("action") or "").strip()]
        # history-only files: each assistant action is answered by the next tool/user observation
        out: list[dict[str, Any]] = []
        for i, msg in enumerate(history):
            action = msg.get("action")
            if msg.get("role") != "assistant" or not isinstance(action, str) or not action.strip():
                continue
            reply = history[i + 1] if i + 1 < len(history) else {}
            observation = text_of(reply.get("content")) if reply.get("role") in ("tool", "user") else None
            out.append(cmd(action, _swe_agent_kind(action), output=observation))
        return out


@register
class MiniSweAgentTrajAdapter(TraceAdapter):
    """mini-swe-agent ``.traj.json``: ``messages`` (with per-call usage/cost in ``extra``) and ``info``."""

    stream = "mini_swe_agent_traj"
    whole_file = True
    name_patterns: ClassVar[tuple[str, ...]] = ("*.traj.json",)

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("messages"), list):
            return False
        fmt = doc.get("trajectory_format")
        if isinstance(fmt, str):
            return fmt.startswith("mini-swe-agent")
        return isinstance(doc.get("info"), Mapping) and "exit_status" in doc["info"]

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not a mini-swe-agent trajectory (needs messages, info, "
                             "trajectory_format)")
        yield 0, self._map(doc, path)

    def _map(self, doc: Mapping[str, Any], path: Path | None) -> Fields:
        info = doc.get("info") if isinstance(doc.get("info"), Mapping) else {}
        stats = info.get("model_stats") if isinstance(info.get("model_stats"), Mapping) else {}
        config = info.get("config") if isinstance(info.get("config"), Mapping) else {}
        messages = [m for m in doc["messages"] if isinstance(m, Mapping)]
        extras = [m.get("extra") if isinstance(m.get("extra"), Mapping) else {} for m in messages]
        responses = [e.get("response") for e in extras if isinstance(e.get("response"), Mapping)]
        usages = [r.get("usage") for r in responses if isinstance(r.get("usage"), Mapping)]

        model = (config.get("model") or {}).get("model_name") if isinstance(config.get("model"), Mapping) else None
        model = model or next((r.get("model") for r in responses if r.get("model")), None)
        task = next((text_of(m.get("content")) for m in messages if m.get("role") == "user"), None)
        instance = (doc.get("instance_id") or _instance_from_path(path, ".traj.json")
                    or _fallback_id("mini-swe-agent", task))
        exit_msg = next((m for m in reversed(messages) if m.get("role") == "exit"), {})
        exit_extra = exit_msg.get("extra") if isinstance(exit_msg.get("extra"), Mapping) else {}
        status = info.get("exit_status") or exit_extra.get("exit_status")
        submission = info.get("submission") or exit_extra.get("submission")
        outcome, marker = normalise_exit(status)
        exception = info.get("exception_str") or exit_extra.get("exception_str")
        stamps = [try_ts(e.get("timestamp")) for e in extras if e.get("timestamp") is not None]
        stamps = [s for s in stamps if s is not None]
        api_calls = as_int(stats.get("api_calls"))
        return finish({
            "run_id": instance,
            "task_id": instance,
            "task_type": "swe_bench",
            "timestamp": stamps[0] if stamps else None,
            "model_name": model,
            "model_provider": model.split("/", 1)[0] if isinstance(model, str) and "/" in model else None,
            "model_role": "primary",
            "system_text": next((text_of(m.get("content")) for m in messages if m.get("role") == "system"), None),
            "input_text": task,
            "output_text": submission if isinstance(submission, str) and submission.strip() else None,
            "commands_run": self._commands(messages),
            "source_files": patch_files(submission if isinstance(submission, str) else None),
            "failure_markers": [x for x in (marker, f"exception: {clip(exception, 300)}" if exception else None)
                                if x],
            "signals": {"outcome": outcome},
            "latency_ms": wall_ms(stamps[0], stamps[-1]) if len(stamps) > 1 else None,
            "cost_usd": as_float(stats.get("instance_cost")) if api_calls else None,
            "tokens_in": sum_or_none(u.get("prompt_tokens") for u in usages),
            "tokens_out": sum_or_none(u.get("completion_tokens") for u in usages),
            "tags": ["mini-swe-agent"],
            "extra": {"exit_status": status, "api_calls": api_calls, "mini_version": info.get("mini_version"),
                      "trajectory_format": doc.get("trajectory_format"),
                      "cached_tokens": sum_or_none((u.get("prompt_tokens_details") or {}).get("cached_tokens")
                                                   for u in usages)},
        })

    @staticmethod
    def _commands(messages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each action joined to its observation (by tool_call_id, else the next tool/user message)."""
        results: dict[str, Mapping[str, Any]] = {}
        for msg in messages:
            if msg.get("role") == "tool" and msg.get("tool_call_id"):
                results[str(msg["tool_call_id"])] = msg
        out: list[dict[str, Any]] = []
        for i, msg in enumerate(messages):
            if msg.get("role") != "assistant":
                continue
            extra = msg.get("extra") if isinstance(msg.get("extra"), Mapping) else {}
            actions = [a for a in extra.get("actions") or [] if isinstance(a, Mapping) and a.get("command")]
            if not actions:  # v1 trajectories: the command is a fenced bash block in the reply
                actions = [{"command": c} for c in _BASH_BLOCK.findall(text_of(msg.get("content")) or "")]
            for action in actions:
                reply = results.get(str(action.get("tool_call_id"))) if action.get("tool_call_id") else None
                if reply is None and i + 1 < len(messages) and messages[i + 1].get("role") in ("tool", "user"):
                    reply = messages[i + 1]
                reply_extra = reply.get("extra") if reply and isinstance(reply.get("extra"), Mapping) else {}
                code = as_int(reply_extra.get("returncode"))
                output = reply_extra.get("raw_output") if "raw_output" in reply_extra else (
                    text_of(reply.get("content")) if reply else None)
                out.append(cmd(str(action["command"]), "shell", exit_code=code, output=output))
        return out
