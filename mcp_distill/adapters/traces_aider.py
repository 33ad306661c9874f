"""aider: analytics event logs (JSONL) and the benchmark leaderboards (YAML).

* ``aider_analytics`` (lines ``{event, properties, user_id, time}``): a session runs from a
  ``launched`` event to its ``exit``; its run id is ``aider-<user>-<launch time>-<n>`` (n counts
  launches within the same second). ``message_send`` is one LLM call: model, tokens, cost, and the
  latency since its ``message_send_starting``. The ``exit`` reason gives the outcome: ``Control-C``
  -> ``aborted``, ``Unknown edit format`` and other failures -> ``error``, ``Completed ...`` ->
  ``finished`` (a normal end, no verdict); other reasons (``/exit``, ``GUI session ended``) give none. Settings echoes
  (``repo``, ``auto_commits``, ``model warning``...) are skipped (``map`` returns ``{}``).
* ``aider_leaderboard`` (a YAML list, one item per benchmark run): model, edit format, pass rates,
  cost, seconds per case. Aggregates with no per-exercise rows, so no outcome word: the pass rates
  are in ``extra`` for the model ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from mcp_distill.adapters.base import Fields, Row, as_float, as_int, parse_ts, register, try_ts
from mcp_distill.adapters.traces_common import TraceAdapter, cmd, dict_items, finish

#: Events that only echo settings: nothing about the run.
_QUIET_EVENTS = {"launched", "message_send_starting", "model warning", "repo", "no-repo", "auto_commits"}
_ABORT_REASONS = ("control-c", "interrupt")
_LEADERBOARD_STATS = ("pass_rate_1", "pass_rate_2", "pass_num_1", "pass_num_2", "test_cases", "total_tests",
                      "percent_cases_well_formed", "error_outputs", "num_malformed_responses",
                      "num_with_malformed_responses", "user_asks", "lazy_comments", "syntax_errors",
                      "indentation_errors", "exhausted_context_windows", "test_timeouts", "edit_format",
                      "editor_model", "editor_edit_format", "reasoning_effort", "thinking_tokens", "versions",
                      "commit_hash", "command", "released", "_released")


def exit_outcome(reason: Any) -> str | None:
    """Outcome word of an aider ``exit`` reason."""
    text = str(reason or "").strip().lower()
    if not text:
        return None
    if any(word in text for word in _ABORT_REASONS):
        return "aborted"
    if text.startswith("completed"):
        return "finished"  # aider's main loop ended normally: no verdict on the work
    if "unknown" in text or "error" in text or "exception" in text or "fail" in text:
        return "error"
    return None


@register
class AiderAnalyticsAdapter(TraceAdapter):
    """aider's analytics log (``--analytics-log``): one event per line."""

    stream = "aider_analytics"

    def __init__(self) -> None:
        self.begin_file(Path("."))

    def begin_file(self, path: Path, offset: int = 0) -> None:
        self._run: str | None = None
        self._launch: tuple[Any, int] | None = None  # (time, n-th launch in that second)
        self._starting: float | None = None

    def recognise(self, doc: Any) -> bool:
        return (isinstance(doc, Mapping) and isinstance(doc.get("event"), str)
                and isinstance(doc.get("properties"), Mapping) and isinstance(doc.get("time"), int | float))

    def map(self, row: Row) -> Fields:
        event, props, when = row["event"], row["properties"], row.get("time")
        if event == "launched":
            n = self._launch[1] + 1 if self._launch and self._launch[0] == when else 0
            self._launch = (when, n)
            self._run = f"aider-{str(row.get('user_id') or 'anon')[:8]}-{when}-{n}"
            self._starting = None
        if event == "message_send_starting":
            self._starting = as_float(when)
        if event in _QUIET_EVENTS:
            return {}
        base = {"run_id": self._run, "task_id": self._run, "task_type": "aider_session",
                "timestamp": parse_ts(when), "tags": ["aider"]}
        if event == "message_send":
            started, now = self._starting, as_float(when)
            self._starting = None
            model = props.get("main_model")
            return finish({
                **base,
                "model_name": model if model not in (None, "None") else None,
                "model_role": "primary",
                "tokens_in": as_int(props.get("prompt_tokens")),
                "tokens_out": as_int(props.get("completion_tokens")),
                "cost_usd": as_float(props.get("cost")),
                "latency_ms": (now - started) * 1000 if started is not None and now is not None and now >= started
                else None,
                "extra": {"edit_format": props.get("edit_format"), "weak_model": props.get("weak_model"),
                          "editor_model": props.get("editor_model"), "session_total_cost": props.get("total_cost")},
            })
        if self._run is None:
            return {}  # the tail of a session whose launch is not in this file
        if event == "exit":
            reason = props.get("reason")
            outcome = exit_outcome(reason)
            run_ended = finish({**base, "signals": {"outcome": outcome},
                                "failure_markers": [f"exit: {reason}"] if outcome in ("aborted", "error") else [],
                                "extra": {"exit_reason": reason}})
            self._run = None
            return run_ended
        if event in ("cli session", "gui session"):
            model = props.get("main_model")
            return finish({**base, "model_name": model if model not in (None, "None") else None,
                           "tags": ["aider", event.replace(" ", "_")],
                           "extra": {"edit_format": props.get("edit_format"), "weak_model": props.get("weak_model"),
                                     "editor_model": props.get("editor_model")}})
        if event.startswith("command_"):
            # the user's slash commands (/code, /ask, /run...): the shape of the session
            return finish({**base, "commands_run": [cmd("/" + event[len("command_"):], "other")]})
        if "exception" in event or "error" in event:
            return finish({**base, "failure_markers": [f"{event}: {props}"], "signals": {"error_count": 1}})
        return {}


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return try_ts(value)  # a leaderboard document: one odd date never loses the others


def _plain(value: Any) -> Any:
    """YAML dates as ISO strings, so ``extra`` stays JSON."""
    return value.isoformat() if isinstance(value, date) else value


@register
class AiderLeaderboardAdapter(TraceAdapter):
    """aider's ``*_leaderboard.yml``: one benchmark run (model x edit format) per item."""

    stream = "aider_leaderboard"
    whole_file = True
    name_patterns: ClassVar[tuple[str, ...]] = ("*leaderboard*.yml", "*leaderboard*.yaml")

    def recognise(self, doc: Any) -> bool:
        items = dict_items(doc)
        return bool(items) and all("dirname" in i and "model" in i and ("pass_rate_1" in i or "pass_rate_2" in i)
                                   for i in items)

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not an aider leaderboard (a list of runs with dirname, model, "
                             "pass_rate_1/2)")
        board = path.stem if path is not None else None
        cursor = 0
        for item in doc:
            if not isinstance(item, Mapping):
                continue
            found = raw.find(f"dirname: {item.get('dirname')}".encode(), cursor)
            offset = raw.rfind(b"\n", 0, found) + 1 if found >= 0 else cursor
            cursor = max(cursor, found + 1 if found >= 0 else cursor)
            seconds = as_float(item.get("seconds_per_case"))
            fields = finish({
                "run_id": str(item.get("dirname")),
                "task_id": board,
                "task_type": "aider_benchmark",
                "timestamp": _as_datetime(item.get("date")),
                "model_name": str(item.get("model")) if item.get("model") is not None else None,
                "model_role": "primary",
                "cost_usd": as_float(item.get("total_cost")),
                # per test case, so runs with different case counts compare
                "latency_ms": seconds * 1000 if seconds is not None and seconds >= 0 else None,
                "tokens_in": as_int(item.get("prompt_tokens")),
                "tokens_out": as_int(item.get("completion_tokens")),
                "tags": ["aider", "benchmark", *([board] if board else [])],
                "extra": {**{k: _plain(item[k]) for k in _LEADERBOARD_STATS if k in item},
                          "latency_is_per_case": seconds is not None},
            })
            fields["_source_row"] = {k: _plain(v) for k, v in item.items()}
            yield offset, fields
