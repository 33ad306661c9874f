"""OpenHands runs: evaluation ``output.jsonl``, recorded event streams, OpenAgentSafety grader results.

* ``openhands_output`` (lines): each line of an evaluation ``output.jsonl`` is a whole instance
  (``instance_id``, ``instruction``, ``history``, ``metrics``, ``error``, ``test_result``) and so a
  whole run; the issue resolver's output (``issue``, ``git_patch``, ``success``) too. Both the
  classic event history and the Software-Agent-SDK one are read (``traces_openhands_events``).
  Earlier OpenHands / OpenDevin outputs are read too: the run named by ``id`` instead of
  ``instance_id``, ``history`` as ``[action, observation]`` pairs, the model in
  ``metadata.model_name``, ``git_patch`` / ``swe_instance`` at the top, and the verdict in
  ``test_result`` (``result`` as a boolean, a 0..1 correctness or a word; ``success``, ``correct``,
  ``resolved``, ``score``; ``report.resolved``).
* ``openhands_events`` (documents): a JSON list of events (``tests/runtime/trajs/*.json``, the SDK's
  ``traj_<task>.json``); the run id is the file's task name (``traj_`` stripped).
* ``openhands_eval`` (documents): OpenAgentSafety ``eval_<task>.json`` grader results and
  ``error_<task>.json`` infrastructure failures. The graders return 1 when the agent DID the unsafe
  thing: ``result`` 1 is the outcome ``unsafe`` (a failure), 0 is ``safe``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mcp_distill.adapters.base import Fields, Row, as_float, as_int, first, register
from mcp_distill.adapters.traces_common import (
    TraceAdapter,
    clip,
    dict_items,
    finish,
    patch_files,
    sum_or_none,
    wall_ms,
)
from mcp_distill.adapters.traces_openhands_events import (
    EventSummary,
    flatten,
    is_classic_event,
    is_sdk_event,
    safety_grade,
    summarise,
)


def _task_from_path(path: Path | None, *prefixes: str) -> str | None:
    """``traj_safety-encrypt.json`` -> ``safety-encrypt`` (the prefix names the file's role)."""
    if path is None:
        return None
    stem = path.name[:-5] if path.name.lower().endswith(".json") else path.stem
    for prefix in prefixes:
        if stem.startswith(prefix):
            return stem[len(prefix):] or None
    return stem or None


#: Words of ``test_result`` verdicts, as the scorer's outcome words.
_RESULT_WORDS = {"true": "success", "yes": "success", "correct": "success", "pass": "success", "passed": "success",
                 "success": "success", "resolved": "success", "solved": "success", "false": "failure",
                 "no": "failure", "incorrect": "failure", "wrong": "failure", "fail": "failure",
                 "failed": "failure", "failure": "failure", "unresolved": "failure"}
#: ``test_result`` keys that hold a verdict in one benchmark or another, most specific first.
_RESULT_KEYS = ("result", "resolved", "success", "correct", "passed", "score")


def outcome_of_test_result(test_result: Any, depth: int = 0) -> str | None:
    """The outcome an OpenHands/OpenDevin ``test_result`` states, or None when it states none.

    A boolean is success / failure; a number is a correctness in 0..1 (1 success, 0 failure, between:
    partial; other numbers are not a verdict); a word is translated when it is a yes/no word and kept
    as written otherwise (the scorer's rules decide); an object is searched for the keys above.
    """
    if isinstance(test_result, bool):
        return "success" if test_result else "failure"
    if isinstance(test_result, int | float):
        return "success" if test_result == 1 else "failure" if test_result == 0 else \
            "partial" if 0 < test_result < 1 else None
    if isinstance(test_result, str):
        word = test_result.strip().lower()
        if not word or len(word) > 40 or " " in word:
            return None  # an answer or a message, not a verdict word
        return _RESULT_WORDS.get(word, word)
    if not isinstance(test_result, Mapping) or depth > 2:
        return None
    report = test_result.get("report")
    if isinstance(report, Mapping) and isinstance(report.get("resolved"), bool):
        return "success" if report["resolved"] else "failure"
    for key in _RESULT_KEYS:
        if key in test_result and test_result[key] is not None:
            found = outcome_of_test_result(test_result[key], depth + 1)
            if found is not None:
                return found
    return None


def _classic_history(history: list[Any]) -> bool:
    """Whether a history's first items are classic OpenHands events, or ``[action, observation]`` pairs."""
    items = history[:5]
    return bool(items) and all(is_classic_event(item) or (
        isinstance(item, list | tuple) and item and all(is_classic_event(e) for e in item)) for item in items)


def _error_outcome(error: Any) -> str | None:
    if not error:
        return None
    return "max_iterations" if "maximum iteration" in str(error).lower() else "error"


def _metrics_fields(metrics: Any) -> dict[str, Any]:
    """Tokens, cost and model-call latency of an OpenHands ``metrics`` object (None: not recorded)."""
    if not isinstance(metrics, Mapping):
        return {}
    usage = metrics.get("accumulated_token_usage") if isinstance(metrics.get("accumulated_token_usage"),
                                                                  Mapping) else {}
    per_call = [u for u in metrics.get("token_usages") or [] if isinstance(u, Mapping)]
    latencies = [as_float(r.get("latency")) for r in metrics.get("response_latencies") or [] if isinstance(r, Mapping)]
    costs = [c for c in metrics.get("costs") or [] if c is not None]
    cost = as_float(metrics.get("accumulated_cost"))
    return {
        "tokens_in": as_int(usage.get("prompt_tokens")) or sum_or_none(u.get("prompt_tokens") for u in per_call),
        "tokens_out": as_int(usage.get("completion_tokens")) or sum_or_none(
            u.get("completion_tokens") for u in per_call),
        # 0.0 with no per-call costs means "not priced" (a proxy model), not "free"
        "cost_usd": cost if cost and (cost > 0 or costs) else None,
        "llm_calls": len(per_call) or len(latencies) or None,
        "llm_latency_s": round(sum(x for x in latencies if x is not None), 3) if latencies else None,
        "cache_read_tokens": as_int(usage.get("cache_read_tokens")) or None,
    }


def _run_fields(summary: EventSummary, *, run_id: str | None, task_type: str, model: str | None,
                input_text: Any, output_text: Any, outcome: str | None, markers: list[str],
                validation: list[dict[str, Any]], metrics: dict[str, Any], extra: dict[str, Any],
                tags: list[str], notes: str | None = None) -> Fields:
    patch = output_text if isinstance(output_text, str) and output_text.strip() else None
    return finish({
        "run_id": run_id,
        "task_id": run_id,
        "task_type": task_type,
        "timestamp": summary.first_ts,
        "model_name": model or (summary.models[0] if summary.models else None),
        "model_role": "primary",
        "input_text": input_text if isinstance(input_text, str) else None,
        "output_text": patch or summary.final_message or summary.last_agent_message,
        "commands_run": summary.commands,
        # the patch names files repo-relative; edit events name them under the sandbox workspace
        "source_files": patch_files(patch) or summary.files,
        "failure_markers": [*markers, *summary.failures],
        "validation_results": validation,
        "observer_notes": notes,
        "signals": {"outcome": outcome, "error_count": summary.error_count or None},
        "latency_ms": wall_ms(summary.first_ts, summary.last_ts),
        "tokens_in": metrics.get("tokens_in"),
        "tokens_out": metrics.get("tokens_out"),
        "cost_usd": metrics.get("cost_usd"),
        "tags": ["openhands", *(["openhands-sdk"] if summary.sdk else []), *tags],
        "extra": {k: v for k, v in {**extra, "events": summary.events, "llm_calls": metrics.get("llm_calls"),
                                    "llm_latency_s": metrics.get("llm_latency_s"),
                                    "cache_read_tokens": metrics.get("cache_read_tokens"),
                                    "response_models": summary.models[:5] or None}.items() if v is not None},
    })


@register
class OpenHandsOutputAdapter(TraceAdapter):
    """One line of an OpenHands evaluation or resolver ``output.jsonl``: a whole run."""

    stream = "openhands_output"

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("history"), list):
            return False
        if "instance_id" in doc:
            return "test_result" in doc or "instruction" in doc or "metadata" in doc
        if "id" in doc:  # earlier outputs: "id" is common, so the history must look like OpenHands events too
            agent = isinstance(doc.get("metadata"), Mapping) and "agent_class" in doc["metadata"]
            return ("test_result" in doc or "instruction" in doc) and (agent or _classic_history(doc["history"]))
        return isinstance(doc.get("issue"), Mapping) and ("git_patch" in doc or "success" in doc)

    def check(self, row: Row) -> str | None:
        if self.recognise(row):
            return None
        return (f"{self.stream}: an OpenHands output line needs history and instance_id (or id, or "
                "issue + git_patch)")

    def map(self, row: Row) -> Fields:
        summary = summarise(row.get("history") or [])
        metadata = row.get("metadata") if isinstance(row.get("metadata"), Mapping) else {}
        test_result = row.get("test_result") if isinstance(row.get("test_result"), Mapping) else {}
        instance = row.get("instance") if isinstance(row.get("instance"), Mapping) else {}
        issue = row.get("issue") if isinstance(row.get("issue"), Mapping) else None
        markers: list[str] = []
        validation: list[dict[str, Any]] = []
        if issue is not None:
            run_id = f"{issue.get('owner')}/{issue.get('repo')}#{issue.get('number')}"
            task_type, patch = "issue_resolver", row.get("git_patch")
        else:
            run_id = str(row["instance_id"] if "instance_id" in row else row["id"])
            instance = instance or (row.get("swe_instance") if isinstance(row.get("swe_instance"), Mapping) else {})
            patch = test_result.get("git_patch") or row.get("git_patch")
            task_type = "swe_bench" if instance.get("repo") or patch else "openhands_task"
        outcome = _error_outcome(row.get("error"))
        if row.get("error"):
            markers.append(f"error: {clip(row['error'], 300)}")
        if "final_score" in test_result or ("error" in test_result and not patch):
            task_type = "openagentsafety"
            graded, validation, grade_markers = safety_grade(test_result)
            outcome = graded or outcome
            markers += grade_markers
        elif isinstance(row.get("success"), bool):
            outcome = "success" if row["success"] else (outcome or "failure")
        elif (tested := outcome_of_test_result(test_result)) is not None:
            outcome = tested  # the benchmark's own verdict; an error stays a failure marker
        elif outcome is None and isinstance(patch, str) and patch.strip():
            outcome = "submitted"  # a patch, no test verdict (multi-SWE-bench runs are judged elsewhere)
        if summary.agent_error and outcome is None:
            outcome = "error"
        model = first(metadata, "llm_config.model", "llm.model", "model_name")
        final = row.get("final_message") or test_result.get("final_message")
        return _run_fields(
            summary, run_id=run_id, task_type=task_type, model=model,
            input_text=row.get("instruction") or instance.get("problem_statement") or summary.input_text,
            output_text=patch or (final if isinstance(final, str) else None), outcome=outcome, markers=markers,
            validation=validation,
            metrics=_metrics_fields(row.get("metrics")),
            extra={"agent_class": metadata.get("agent_class"), "max_iterations": metadata.get("max_iterations"),
                   "dataset": metadata.get("dataset"), "issue_type": row.get("issue_type"),
                   "comment_success": row.get("comment_success"),
                   "start_time": metadata.get("start_time")},
            tags=[task_type], notes=row.get("result_explanation"),
        )


@register
class OpenHandsEventsAdapter(TraceAdapter):
    """A JSON list of OpenHands events (classic or SDK): one recorded session, one run."""

    stream = "openhands_events"
    whole_file = True

    def recognise(self, doc: Any) -> bool:
        items = dict_items(doc)
        if not items:
            return False
        if all(is_sdk_event(e) for e in items):
            return True
        return all(is_classic_event(e) for e in items) and any("source" in e or "id" in e for e in items)

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not an OpenHands event list (events need action/observation or kind)")
        events = flatten(doc)
        summary = summarise(events)
        run_id = _task_from_path(path, "traj_") or "openhands-" + hashlib.sha256(
            f"{events[0].get('id')}|{events[0].get('timestamp')}|{summary.input_text}".encode()).hexdigest()[:16]
        yield 0, _run_fields(
            summary, run_id=run_id, task_type="openagentsafety" if run_id.startswith("safety-") else
            "openhands_session", model=None, input_text=summary.input_text, output_text=None,
            outcome="error" if summary.agent_error else None, markers=[], validation=[], metrics={},
            extra={}, tags=[],
        )


@register
class OpenHandsEvalAdapter(TraceAdapter):
    """OpenAgentSafety grader results ``eval_<task>.json`` and ``error_<task>.json`` run failures."""

    stream = "openhands_eval"
    whole_file = True

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping):
            return False
        if isinstance(doc.get("final_score"), Mapping) and isinstance(doc.get("checkpoints"), list):
            return True
        return set(doc) == {"instance_id", "error", "traceback"}

    def can_handle(self, path: Path, sample: Any) -> bool:
        if super().can_handle(path, sample):
            return True
        # a grader that crashed leaves only {"error": ...}: too generic to claim without the eval_ name
        return (path.name.lower().startswith("eval_") and isinstance(sample, Mapping)
                and set(sample) == {"error"})

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not isinstance(doc, Mapping) or not (self.recognise(doc) or set(doc) == {"error"}):
            raise ValueError(f"{self.stream}: not an OpenAgentSafety result (needs final_score + checkpoints, "
                             "or instance_id + error + traceback)")
        run_id = doc.get("instance_id") or _task_from_path(path, "eval_", "error_")
        if "traceback" in doc:  # the run never started: infrastructure failure
            outcome, validation, markers = "error", [], [f"infra_error: {clip(doc.get('error'), 300)}"]
            tags = ["infra_error"]
        else:
            outcome, validation, markers = safety_grade(doc)
            tags = ["grader"]
        yield 0, finish({
            "run_id": run_id,
            "task_id": run_id,
            "task_type": "openagentsafety",
            "validation_results": validation,
            "failure_markers": markers,
            "signals": {"outcome": outcome},
            "tags": ["openhands", *tags],
            "extra": {"final_score": doc.get("final_score"), "traceback": clip(doc.get("traceback"), 2000)},
        })
