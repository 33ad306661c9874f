"""OpenAI Codex CLI: session rollouts (``rollout-<time>-<uuid>.jsonl``) and ``codex exec --json`` streams.

Both are line streams where only one line names the session (``session_meta`` / ``thread.started``),
so both adapters keep that id as state; :meth:`begin_file` takes it from a rollout's file name, so
a resumed (incremental) read joins the right run too. Every mapped line carries ``run_id`` = the
session id and the collector joins them into one run.

Rollout lines: ``event_msg`` ``user_message`` -> ``input_text``, ``agent_message`` -> ``output_text``,
``token_count`` -> tokens of the last model call (with the model of the current ``turn_context``),
``turn_aborted`` -> outcome ``aborted``; a ``function_call_output`` -> one :class:`CommandRun` joined
to its ``function_call`` (exit code from the output's ``metadata.exit_code`` or an ``exit code: N``
text; sandbox failures, rejected patches and execution errors are failure markers). The
``response_item`` messages echo what ``event_msg`` already says and are skipped, as are reasoning
and turn contexts (``map`` returns ``{}``: skip the line). Codex writes no cost and no task label.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from mcp_distill.adapters.base import Fields, Row, as_float, as_int, parse_ts, register
from mcp_distill.adapters.traces_common import Lru, TraceAdapter, clip, cmd, exit_code_in, finish, json_maybe, patch_files

_ROLLOUT_TYPES = {"session_meta", "response_item", "event_msg", "turn_context", "compacted"}
_ROLLOUT_NAME = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$")
_EXEC_TYPES = {"thread.started", "turn.started", "turn.completed", "turn.failed", "item.started",
               "item.updated", "item.completed", "error"}
_SHELL_CALLS = {"shell", "exec_command", "local_shell", "container.exec", "shell_command"}
#: Plain-text tool outputs that mean the call itself failed (not merely a non-zero exit).
_TOOL_FAILURES = ("failed in sandbox", "execution error", "patch rejected", "error:", "aborted")


def _shell_text(command: Any) -> str:
    """``["bash", "-lc", "rg x"]`` -> ``rg x``; other argument vectors joined as a shell line."""
    if isinstance(command, str):
        try:
            split = shlex.split(command)
        except ValueError:
            return command
        return split[2] if len(split) == 3 and split[1] in ("-lc", "-c") else command
    if isinstance(command, list):
        parts = [str(p) for p in command]
        if len(parts) == 3 and parts[1] in ("-lc", "-c"):
            return parts[2]
        return shlex.join(parts)
    return str(command or "")


@register
class CodexRolloutAdapter(TraceAdapter):
    """Codex CLI session rollouts: ``{timestamp, type, payload}`` lines."""

    stream = "codex_rollout"
    name_patterns: ClassVar[tuple[str, ...]] = ("rollout-*.jsonl",)

    def __init__(self) -> None:
        self._session: str | None = None
        self._model: str | None = None
        self._calls: Lru = Lru(4096)  # call_id -> (name, arguments)

    def begin_file(self, path: Path, offset: int = 0) -> None:
        match = _ROLLOUT_NAME.search(path.name)
        self._session = match.group(1) if match else None
        self._model = None
        if offset == 0:
            self._calls.clear()

    def recognise(self, doc: Any) -> bool:
        return (isinstance(doc, Mapping) and doc.get("type") in _ROLLOUT_TYPES
                and isinstance(doc.get("payload"), Mapping) and "timestamp" in doc)

    def check(self, row: Row) -> str | None:
        # a rollout line of a type this adapter does not know yet is skipped by map, not quarantined
        if isinstance(row, Mapping) and isinstance(row.get("type"), str) and isinstance(row.get("payload"), Mapping):
            return None
        return f"{self.stream}: a Codex rollout line needs type and payload"

    def map(self, row: Row) -> Fields:
        kind, payload = row.get("type"), row["payload"]
        sub = payload.get("type")
        if kind == "session_meta":
            self._session = str(payload.get("id") or self._session or "") or None
        if kind == "turn_context" and payload.get("model"):
            self._model = str(payload["model"])
        base = {"run_id": self._session, "task_id": self._session, "task_type": "codex_session",
                "timestamp": parse_ts(row.get("timestamp")), "tags": ["codex"]}
        if kind == "session_meta":
            git = payload.get("git") if isinstance(payload.get("git"), Mapping) else {}
            return finish({**base, "head_sha": git.get("commit_hash"), "system_text": payload.get("instructions"),
                           "model_provider": payload.get("model_provider"),
                           "extra": {"cwd": payload.get("cwd"), "cli_version": payload.get("cli_version"),
                                     "originator": payload.get("originator"), "git_branch": git.get("branch"),
                                     "repository_url": git.get("repository_url")}})
        if kind == "response_item" and sub in ("function_call", "custom_tool_call", "local_shell_call"):
            call_id = payload.get("call_id") or payload.get("id")
            args = json_maybe(payload.get("arguments")) if "arguments" in payload else (
                payload.get("input") if "input" in payload else payload.get("action"))
            if call_id:
                self._calls.put(str(call_id), (str(payload.get("name") or sub), args))
            return {}
        if kind == "response_item" and sub in ("function_call_output", "custom_tool_call_output"):
            return self._call_output(payload, base)
        if kind == "event_msg":
            return self._event(sub, payload, base)
        return {}  # turn_context, reasoning, echoed messages, compaction markers

    def _event(self, sub: Any, payload: Mapping[str, Any], base: dict[str, Any]) -> Fields:
        if sub == "user_message" and str(payload.get("message") or "").strip():
            return finish({**base, "input_text": payload["message"]})
        if sub == "agent_message" and str(payload.get("message") or "").strip():
            return finish({**base, "output_text": payload["message"], "model_name": self._model})
        if sub == "token_count" and isinstance(payload.get("info"), Mapping):
            last = payload["info"].get("last_token_usage")
            if not isinstance(last, Mapping):
                return {}
            return finish({**base, "model_name": self._model, "model_provider": "openai" if self._model else None,
                           "tokens_in": as_int(last.get("input_tokens")),
                           "tokens_out": as_int(last.get("output_tokens")),
                           "extra": {"cached_input_tokens": as_int(last.get("cached_input_tokens")),
                                     "reasoning_output_tokens": as_int(last.get("reasoning_output_tokens"))}})
        if sub == "turn_aborted":
            return finish({**base, "failure_markers": [f"turn_aborted: {payload.get('reason') or 'unknown'}"],
                           "signals": {"outcome": "aborted"}})
        if sub in ("error", "stream_error"):
            return finish({**base, "failure_markers": [f"{sub}: {clip(payload.get('message'), 300)}"],
                           "signals": {"error_count": 1}})
        return {}

    def _call_output(self, payload: Mapping[str, Any], base: dict[str, Any]) -> Fields:
        name, args = self._calls.pop(str(payload.get("call_id")), (None, None))
        raw = payload.get("output")
        parsed = json_maybe(raw)
        code = duration = None
        if isinstance(parsed, Mapping):
            meta = parsed.get("metadata") if isinstance(parsed.get("metadata"), Mapping) else {}
            code, duration = as_int(meta.get("exit_code")), as_float(meta.get("duration_seconds"))
            text = parsed.get("output")
        else:
            text = raw if isinstance(raw, str) else clip(raw)
            code = exit_code_in(text)
        tool_failed = isinstance(text, str) and text.strip().lower().startswith(_TOOL_FAILURES)
        command, kind, files = self._describe(name, args)
        ok = False if tool_failed else (None if code is None else code == 0)
        if ok is None and name == "update_plan":
            ok = True
        markers = [f"tool_error: {name or 'tool'}: {clip(text, 200)}"] if tool_failed else []
        return finish({
            **base,
            "commands_run": [cmd(command, kind, exit_code=code, ok=ok, output=text)],
            "source_files": files if ok is not False else [],
            "failure_markers": markers,
            "signals": {"error_count": len(markers) or None},
            "extra": {"call_id": payload.get("call_id"), "duration_s": duration},
        })

    @staticmethod
    def _describe(name: str | None, args: Any) -> tuple[str, str, list[str]]:
        if name is None:
            return "(tool call read in an earlier pass)", "tool", []
        if isinstance(args, Mapping) and name in _SHELL_CALLS:
            argv = args.get("command") or args.get("cmd")
            if isinstance(argv, list) and argv and argv[0] == "apply_patch":
                body = argv[1] if len(argv) > 1 else ""
                return f"apply_patch {' '.join(patch_files(body))}".strip(), "edit", patch_files(body)
            return _shell_text(argv), "shell", []
        if name == "apply_patch":
            body = args if isinstance(args, str) else (args or {}).get("input", "") if isinstance(args, Mapping) else ""
            return f"apply_patch {' '.join(patch_files(body))}".strip(), "edit", patch_files(body)
        return f"{name} {clip(args, 300) or ''}".strip(), "tool", []


@register
class CodexExecAdapter(TraceAdapter):
    """``codex exec --json`` event streams: ``thread.started``, ``item.*``, ``turn.completed``..."""

    stream = "codex_exec"

    def __init__(self) -> None:
        self._thread: str | None = None

    def begin_file(self, path: Path, offset: int = 0) -> None:
        self._thread = None

    def recognise(self, doc: Any) -> bool:
        # a bare {"type": "error"} is too generic to name the format on its own
        return isinstance(doc, Mapping) and doc.get("type") in _EXEC_TYPES - {"error"}

    def check(self, row: Row) -> str | None:
        if isinstance(row, Mapping) and row.get("type") in _EXEC_TYPES:
            return None
        return f"{self.stream}: a codex exec event needs a type among {', '.join(sorted(_EXEC_TYPES))}"

    def map(self, row: Row) -> Fields:
        kind = row.get("type")
        if kind == "thread.started":
            self._thread = str(row.get("thread_id") or "") or None
            return {}
        base = {"run_id": self._thread, "task_id": self._thread, "task_type": "codex_session",
                "tags": ["codex", "codex-exec"]}
        if kind == "turn.completed" and isinstance(row.get("usage"), Mapping):
            usage = row["usage"]
            return finish({**base, "model_provider": "openai", "tokens_in": as_int(usage.get("input_tokens")),
                           "tokens_out": as_int(usage.get("output_tokens")),
                           "extra": {"cached_input_tokens": as_int(usage.get("cached_input_tokens"))}})
        if kind == "turn.failed":
            error = row.get("error") if isinstance(row.get("error"), Mapping) else {}
            return finish({**base, "failure_markers": [f"turn_failed: {clip(error.get('message'), 300)}"],
                           "signals": {"outcome": "error", "error_count": 1}})
        if kind == "error":
            return finish({**base, "failure_markers": [f"error: {clip(row.get('message'), 300)}"],
                           "signals": {"error_count": 1}})
        if kind == "item.completed" and isinstance(row.get("item"), Mapping):
            return self._item(row["item"], base)
        return {}  # turn.started, item.started / item.updated (the completed item says it all)

    @staticmethod
    def _item(item: Mapping[str, Any], base: dict[str, Any]) -> Fields:
        kind = item.get("type")
        done = item.get("status") in (None, "completed")
        if kind == "agent_message" and str(item.get("text") or "").strip():
            return finish({**base, "output_text": item["text"]})
        if kind == "command_execution":
            code = as_int(item.get("exit_code"))
            return finish({**base, "commands_run": [cmd(_shell_text(item.get("command")), "shell", exit_code=code,
                                                         ok=done and code == 0, output=item.get("aggregated_output"))]})
        if kind == "file_change":
            paths = [c.get("path") for c in item.get("changes") or [] if isinstance(c, Mapping) and c.get("path")]
            return finish({**base, "commands_run": [cmd(f"apply_patch {' '.join(paths)}", "edit", ok=done)],
                           "source_files": paths if done else []})
        if kind in ("mcp_tool_call", "web_search"):
            what = f"{item.get('server')}.{item.get('tool')}" if kind == "mcp_tool_call" else \
                f"web_search {item.get('query') or ''}"
            return finish({**base, "commands_run": [cmd(what.strip(), "tool", ok=done)]})
        if kind == "error":
            return finish({**base, "failure_markers": [f"error: {clip(item.get('message'), 300)}"],
                           "signals": {"error_count": 1}})
        return {}  # reasoning, todo lists
