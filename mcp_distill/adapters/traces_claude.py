"""Claude Code sessions (``~/.claude/projects/<project>/<sessionId>.jsonl``): one session, one run.

Each line is mapped on its own and carries the session id as ``run_id``, so the collector joins the
lines of a session (and of its ``subagents/agent-*.jsonl`` files, which share the session id) into
one run. What each line gives:

* user prompt -> ``input_text``; assistant text -> ``output_text`` (the last one is the answer);
* a ``tool_result`` -> one :class:`CommandRun` (the call it answers is remembered from its
  ``tool_use`` line); ``is_error: true`` -> a failure marker and ``error_count``;
* ``message.usage`` -> tokens. Claude Code writes one line per content block, each repeating the
  message's usage with a growing ``output_tokens``: the input side is counted on the message's first
  line and only the growth of the output side on later ones, so the lines of a run add up exactly;
* ``[Request interrupted by user]`` -> outcome ``aborted``; ``system`` ``turn_duration`` -> latency;
* the ``--output-format stream-json`` ``result`` line -> outcome ``success`` / ``error``, cost, usage.

Progress ticks, file-history snapshots, queue operations, titles and local slash-command echoes are
bookkeeping: ``map`` returns ``{}`` for them (skip the line). There is no session-level label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp_distill.adapters.base import Fields, Row, as_float, as_int, parse_ts, register
from mcp_distill.adapters.traces_common import Lru, TraceAdapter, clip, cmd, exit_code_in, finish, text_of

_LINE_TYPES = {"user", "assistant", "system", "progress"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EDIT_TOOLS = {"Edit", "MultiEdit", "Write", "NotebookEdit"}
_SHELL_TOOLS = {"Bash", "BashOutput", "KillShell"}
_INTERRUPTED = "[Request interrupted by user"
_REJECTED = "The user doesn't want to proceed with this tool use"
#: User lines that echo a local slash command (/clear, /model...) rather than ask anything.
_LOCAL_ECHO = ("<local-command-", "<command-name>/clear", "<command-name>/model", "<command-name>/mcp",
               "<command-name>/compact", "<command-name>/exit", "<command-name>/config", "<command-name>/cost",
               "<command-name>/status", "<command-name>/login", "<command-name>/resume", "Caveat: ")


def _describe(name: str, tool_input: Any) -> tuple[str, str, list[str]]:
    """(command text, CommandRun kind, files the call edits) of a tool_use."""
    args = tool_input if isinstance(tool_input, Mapping) else {}
    if name in _SHELL_TOOLS:
        return str(args.get("command") or f"{name} {args.get('bash_id') or args.get('shell_id') or ''}"), "shell", []
    if name in _EDIT_TOOLS:
        path = args.get("file_path") or args.get("notebook_path")
        return f"{name} {path}", "edit", [path] if isinstance(path, str) else []
    detail = args.get("file_path") or args.get("pattern") or args.get("url") or args.get("query") or args.get(
        "description") or (clip(args, 300) if args else "")
    return f"{name} {detail}".strip(), "tool", []


@register
class ClaudeCodeSessionAdapter(TraceAdapter):
    """Claude Code session transcripts (and subagent transcripts), one JSONL line at a time."""

    stream = "claude_code_session"

    def __init__(self) -> None:
        self._usage: Lru = Lru(8192)  # message id -> (input counted, output tokens counted so far)
        self._tools: Lru = Lru(8192)  # tool_use id -> (name, input)
        self._session: str | None = None

    def begin_file(self, path: Path, offset: int = 0) -> None:
        # a session file is named by its session id: lines read from a resumed offset still join
        self._session = path.stem if _UUID.match(path.stem) else None
        if offset == 0:  # a read from the start counts every message again
            self._usage.clear()
            self._tools.clear()

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping):
            return False
        kind = doc.get("type")
        if kind in _LINE_TYPES and "sessionId" in doc:
            return "uuid" in doc
        if kind == "file-history-snapshot":
            return "snapshot" in doc and "messageId" in doc
        if kind == "summary":
            return "leafUuid" in doc
        if kind == "queue-operation":
            return "operation" in doc and "sessionId" in doc
        # `claude -p --output-format stream-json`: snake_case session_id
        return kind in ("system", "assistant", "user", "result") and "session_id" in doc and (
            "message" in doc or "subtype" in doc)

    def check(self, row: Row) -> str | None:
        # new line types appear with Claude Code releases: any typed line carrying a session/message id
        # is of this stream (map skips what it does not know) rather than quarantined
        if isinstance(row, Mapping) and isinstance(row.get("type"), str) and (
                self.recognise(row) or any(k in row for k in ("sessionId", "session_id", "uuid", "leafUuid"))):
            return None
        return f"{self.stream}: a Claude Code line needs a type and a sessionId/uuid"

    def map(self, row: Row) -> Fields:
        session = row.get("sessionId") or row.get("session_id")
        if isinstance(session, str):
            self._session = session
        kind = row.get("type")
        base: dict[str, Any] = {
            "run_id": self._session,
            "task_id": self._session,
            "task_type": "claude_code_session",
            "timestamp": parse_ts(row.get("timestamp")),
            "tags": ["claude-code", *(["subagent"] if row.get("isSidechain") else [])],
            "extra": {"uuid": row.get("uuid"), "agent_id": row.get("agentId")},
        }
        if not self._session:
            return {}
        if kind == "assistant":
            return self._assistant(row, base)
        if kind == "user":
            return self._user(row, base)
        if kind == "system" and row.get("subtype") == "turn_duration":
            return finish({**base, "latency_ms": as_float(row.get("durationMs")), "tags": [*base["tags"],
                                                                                           "turn_duration"]})
        if kind == "system" and row.get("level") == "error":
            return finish({**base, "failure_markers": [f"system_error: {clip(row.get('content'), 300)}"],
                           "signals": {"error_count": 1}})
        if kind == "result":
            return self._result(row, base)
        return {}  # progress, snapshots, queue operations, titles, init and other system notes

    def _assistant(self, row: Row, base: dict[str, Any]) -> Fields:
        message = row.get("message") if isinstance(row.get("message"), Mapping) else {}
        model = message.get("model") if message.get("model") != "<synthetic>" else None
        blocks = [b for b in message.get("content") or [] if isinstance(b, Mapping)]
        for block in blocks:
            if block.get("type") == "tool_use" and block.get("id"):
                self._tools.put(str(block["id"]), (str(block.get("name") or "tool"), block.get("input")))
        texts = [b.get("text") for b in blocks if b.get("type") == "text" and str(b.get("text") or "").strip()]
        if isinstance(message.get("content"), str) and message["content"].strip():
            texts.append(message["content"])
        tokens_in, tokens_out = self._token_delta(message, row)
        markers = []
        if row.get("isApiErrorMessage") or row.get("error"):
            markers.append(f"api_error: {clip(texts[0] if texts else row.get('error'), 300)}")
        if not texts and not tokens_in and not tokens_out and not markers:
            return {}
        return finish({
            **base,
            "model_name": model,
            "model_provider": "anthropic" if model else None,
            "model_role": "subagent" if row.get("isSidechain") else "primary",
            # a subagent's replies go to its parent, not to the user: they are not the session's answer
            "output_text": "\n\n".join(texts) if texts and not row.get("isSidechain") else None,
            "text": "\n\n".join(texts) if texts and row.get("isSidechain") else None,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "failure_markers": markers,
            "signals": {"error_count": len(markers) or None},
            "extra": {**base["extra"], "message_id": message.get("id"), "request_id": row.get("requestId")},
        })

    def _token_delta(self, message: Mapping[str, Any], row: Row) -> tuple[int | None, int | None]:
        usage = message.get("usage") if isinstance(message.get("usage"), Mapping) else None
        if usage is None or "session_id" in row:  # stream-json: the result line carries the session total
            return None, None
        total_in = sum(as_int(usage.get(k)) or 0 for k in (
            "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        out = as_int(usage.get("output_tokens")) or 0
        key = str(message.get("id") or row.get("requestId") or row.get("uuid"))
        counted_in, counted_out = self._usage.get(key, (False, 0))
        self._usage.put(key, (True, max(out, counted_out)))
        return (None if counted_in else total_in), max(out - counted_out, 0)

    def _user(self, row: Row, base: dict[str, Any]) -> Fields:
        message = row.get("message") if isinstance(row.get("message"), Mapping) else {}
        content = message.get("content")
        if isinstance(content, str):
            if row.get("isCompactSummary"):
                return finish({**base, "scratchpad_summary": content, "tags": [*base["tags"], "compact_summary"]})
            if row.get("isMeta") or content.lstrip().startswith(_LOCAL_ECHO):
                return {}
            return self._prompt(row, base, content)
        blocks = [b for b in content or [] if isinstance(b, Mapping)]
        texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
        if any(t.startswith(_INTERRUPTED) for t in texts):
            return finish({**base, "failure_markers": ["user_interrupted"], "signals": {"outcome": "aborted"}})
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if not results:
            prompt = "\n".join(t for t in texts if t.strip())
            return self._prompt(row, base, prompt) if prompt and not row.get("isMeta") else {}
        commands, markers, files = [], [], []
        for block in results:
            name, tool_input = self._tools.get(str(block.get("tool_use_id")), (None, None))
            output = text_of(block.get("content"))
            failed = bool(block.get("is_error")) or (
                isinstance(row.get("toolUseResult"), Mapping) and row["toolUseResult"].get("interrupted") is True)
            if name is None:  # its tool_use line was read in an earlier pass: describe what the result says
                seen = row.get("toolUseResult") if isinstance(row.get("toolUseResult"), Mapping) else {}
                name, tool_input = "tool", {"file_path": seen.get("filePath")}
            command, kind, edited = _describe(name, tool_input)
            commands.append(cmd(command, kind, ok=not failed, output=output,
                                exit_code=exit_code_in(output) if failed and kind == "shell" else None))
            if failed:
                reason = "tool_rejected_by_user" if str(output or "").startswith(_REJECTED) else "tool_error"
                markers.append(f"{reason}: {name}: {clip(output, 200)}")
            else:
                files += edited
        return finish({
            **base,
            "commands_run": commands,
            "source_files": files,
            "failure_markers": markers,
            "signals": {"error_count": len(markers) or None},
        })

    def _prompt(self, row: Row, base: dict[str, Any], text: str) -> Fields:
        extra = {**base["extra"], "cwd": row.get("cwd"), "git_branch": row.get("gitBranch"),
                 "version": row.get("version")}
        if row.get("isSidechain"):  # a subagent's task: part of the session, not the session's task
            return finish({**base, "text": text, "extra": extra})
        return finish({**base, "input_text": text, "extra": extra})

    def _result(self, row: Row, base: dict[str, Any]) -> Fields:
        usage = row.get("usage") if isinstance(row.get("usage"), Mapping) else {}
        ok = row.get("subtype") == "success" and not row.get("is_error")
        return finish({
            **base,
            "output_text": row.get("result") if isinstance(row.get("result"), str) else None,
            "signals": {"outcome": "success" if ok else "error"},
            "failure_markers": [] if ok else [f"result: {row.get('subtype')}"],
            "latency_ms": as_float(row.get("duration_ms")),
            "cost_usd": as_float(row.get("total_cost_usd") or row.get("cost_usd")),
            "tokens_in": sum(as_int(usage.get(k)) or 0 for k in (
                "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")) or None,
            "tokens_out": as_int(usage.get("output_tokens")),
            "extra": {**base["extra"], "num_turns": row.get("num_turns"), "duration_api_ms": row.get("duration_api_ms")},
        })
