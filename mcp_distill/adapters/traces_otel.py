"""OpenTelemetry GenAI spans exported as OTLP JSON (``{"resourceSpans": [...]}``): one trace, one run.

Follows the GenAI semantic conventions (``gen_ai.*``, v1.37+ names with the older ones as fallback):

* the trace's root span (an ``invoke_agent`` span when there is one) gives the run: its
  ``gen_ai.conversation.id`` is the run id (else the trace id), its duration the latency, its
  ``gen_ai.input.messages`` / ``gen_ai.output.messages`` the task and the answer;
* inference spans (``chat`` / ``text_completion`` / ``generate_content``) give the model
  (``gen_ai.response.model``, else ``gen_ai.request.model``) and the tokens
  (``gen_ai.usage.input_tokens`` / ``output_tokens``, summed; the root's own usage only when no
  inference span has any, since agent spans usually repeat the total);
* ``execute_tool`` spans are the steps (``gen_ai.tool.name``, ``gen_ai.tool.call.arguments`` /
  ``.result``); a span with status ERROR is a failed step and a failure marker (``error.type``);
* ``gen_ai.evaluation.result`` events become validation results and the verdict (their
  ``gen_ai.evaluation.score.label``); a root span with status ERROR makes the outcome ``error``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mcp_distill.adapters.base import Fields, as_float, as_int, epoch_datetime, register
from mcp_distill.adapters.traces_common import TraceAdapter, clip, cmd, finish, json_maybe, offset_of, sum_or_none, text_of

_INFERENCE = {"chat", "text_completion", "generate_content", "completion"}
_STATUS_ERROR = (2, "STATUS_CODE_ERROR", "ERROR")
_PASS_LABELS = {"pass", "passed", "correct", "relevant", "good", "true", "yes", "success", "safe", "grounded"}
_FAIL_LABELS = {"fail", "failed", "incorrect", "not_relevant", "irrelevant", "bad", "false", "no", "failure",
                "unsafe", "ungrounded"}
#: Spans looked at to recognise a document (GenAI spans are usually among the first).
_SCAN_SPANS = 200


def _value(v: Any) -> Any:
    """An OTLP JSON AnyValue as a plain value (int64 arrives as a string)."""
    if not isinstance(v, Mapping):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return as_int(v["intValue"])
    if "doubleValue" in v:
        return as_float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_value(x) for x in (v["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in v:
        return _attrs((v["kvlistValue"] or {}).get("values"))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def _attrs(items: Any) -> dict[str, Any]:
    if isinstance(items, Mapping):  # some exporters write attributes as a plain object
        return dict(items)
    return {a["key"]: _value(a.get("value")) for a in items or [] if isinstance(a, Mapping) and "key" in a}


def _spans(doc: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], Mapping[str, Any]]]:
    """(resource attributes, span) for every span, ``instrumentationLibrarySpans`` (old OTLP) included."""
    for resource_spans in doc.get("resourceSpans") or []:
        if not isinstance(resource_spans, Mapping):
            continue
        resource = _attrs((resource_spans.get("resource") or {}).get("attributes"))
        for scope in (resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []):
            for span in (scope.get("spans") or []) if isinstance(scope, Mapping) else []:
                if isinstance(span, Mapping):
                    yield resource, span


def _nanos(value: Any) -> int | None:
    return as_int(value)


def _time(nanos: int | None) -> datetime | None:
    return epoch_datetime(nanos / 1e9, nanos) if nanos else None


def _failed(span: Mapping[str, Any]) -> bool:
    return (span.get("status") or {}).get("code") in _STATUS_ERROR


def _message_text(value: Any, role: str | None = None, last: bool = True) -> str | None:
    """Text of GenAI messages (``[{role, parts: [{type: text, content}]}]``), optionally of one role."""
    messages = json_maybe(value)
    if isinstance(messages, Mapping):
        messages = [messages]
    if not isinstance(messages, list):
        return messages if isinstance(messages, str) and messages.strip() else None
    texts = []
    for msg in messages:
        if not isinstance(msg, Mapping) or (role and msg.get("role") not in (role, None)):
            continue
        parts = msg.get("parts")
        text = text_of([p for p in parts if isinstance(p, Mapping) and p.get("type") == "text"]) if isinstance(
            parts, list) else text_of(msg.get("content"))
        if text:
            texts.append(text)
    if not texts:
        return None
    return texts[-1] if last else "\n\n".join(texts)


def _event_text(span: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """Content of pre-1.37 message events (``gen_ai.user.message``, ``gen_ai.choice``)."""
    for event in span.get("events") or []:
        if isinstance(event, Mapping) and event.get("name") in names:
            attrs = _attrs(event.get("attributes"))
            body = event.get("body")
            text = text_of(json_maybe(attrs.get("content"))) or text_of(
                (json_maybe(attrs.get("message")) or {}).get("content") if isinstance(
                    json_maybe(attrs.get("message")), Mapping) else None) or text_of(body)
            if text:
                return text
    return None


@register
class OtelGenAiAdapter(TraceAdapter):
    """OTLP JSON trace exports whose spans carry ``gen_ai.*`` attributes."""

    stream = "otel_genai"
    whole_file = True

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("resourceSpans"), list):
            return False
        for n, (_, span) in enumerate(_spans(doc)):
            if any(key.startswith("gen_ai.") for key in _attrs(span.get("attributes"))):
                return True
            if n >= _SCAN_SPANS:
                break
        return False

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not an OTLP JSON export with gen_ai.* span attributes")
        traces: dict[str, list[tuple[dict[str, Any], Mapping[str, Any], dict[str, Any]]]] = defaultdict(list)
        for resource, span in _spans(doc):
            traces[str(span.get("traceId") or "")].append((resource, span, _attrs(span.get("attributes"))))
        for trace_id, spans in traces.items():
            spans.sort(key=lambda item: _nanos(item[1].get("startTimeUnixNano")) or 0)
            if not any(key.startswith("gen_ai.") for _, _, attrs in spans for key in attrs):
                continue  # a trace of other instrumentation only (HTTP, DB...) in the same export
            fields, root_id = self._trace(trace_id, spans)
            fields["_source_row"] = {"traceId": trace_id, "spanIds": [s.get("spanId") for _, s, _ in spans]}
            yield offset_of(raw, f'"{root_id}"') if root_id else 0, fields

    def _trace(self, trace_id: str, spans: list[tuple[dict[str, Any], Mapping[str, Any], dict[str, Any]]]
               ) -> tuple[Fields, str | None]:
        ids = {s.get("spanId") for _, s, _ in spans}
        roots = [item for item in spans if not item[1].get("parentSpanId") or item[1].get("parentSpanId") not in ids]
        agents = [item for item in roots if item[2].get("gen_ai.operation.name") == "invoke_agent"]
        resource, root, root_attrs = (agents or roots or spans)[0]
        inference = [(s, a) for _, s, a in spans if a.get("gen_ai.operation.name") in _INFERENCE
                     or ("gen_ai.usage.input_tokens" in a and a.get("gen_ai.operation.name")
                         not in ("invoke_agent", "execute_tool", "create_agent"))]
        tools = [(s, a) for _, s, a in spans if a.get("gen_ai.operation.name") == "execute_tool"]

        models = Counter(a.get("gen_ai.response.model") or a.get("gen_ai.request.model") for _, a in inference)
        models.pop(None, None)
        model = models.most_common(1)[0][0] if models else root_attrs.get("gen_ai.request.model")
        usage_from = [a for _, a in inference] if any("gen_ai.usage.input_tokens" in a for _, a in inference) \
            else [root_attrs]
        tokens_in = sum_or_none(a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens"))
                                for a in usage_from)
        tokens_out = sum_or_none(a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens"))
                                 for a in usage_from)

        first_call = inference[0] if inference else (root, root_attrs)
        last_call = inference[-1] if inference else (root, root_attrs)
        input_text = (_message_text(root_attrs.get("gen_ai.input.messages"), "user")
                      or _message_text(first_call[1].get("gen_ai.input.messages"), "user")
                      or _event_text(first_call[0], ("gen_ai.user.message",)))
        output_text = (_message_text(root_attrs.get("gen_ai.output.messages"), "assistant")
                       or _message_text(last_call[1].get("gen_ai.output.messages"), "assistant")
                       or _event_text(last_call[0], ("gen_ai.choice",)))
        system = root_attrs.get("gen_ai.system_instructions") or first_call[1].get("gen_ai.system_instructions")

        commands, markers = [], []
        for span, attrs in tools:
            status = span.get("status") or {}
            args = json_maybe(attrs.get("gen_ai.tool.call.arguments"))
            name = attrs.get("gen_ai.tool.name") or span.get("name")
            command = args.get("command") if isinstance(args, Mapping) and isinstance(args.get("command"), str) \
                else f"{name} {clip(args, 300) or ''}".strip()
            kind = "shell" if isinstance(args, Mapping) and isinstance(args.get("command"), str) else "tool"
            commands.append(cmd(command, kind, ok=not _failed(span),
                                output=attrs.get("gen_ai.tool.call.result") or status.get("message")))
        for _, span, attrs in spans:
            if _failed(span):
                reason = attrs.get("error.type") or (span.get("status") or {}).get("message") or "error"
                markers.append(f"{span.get('name')}: {clip(reason, 200)}")

        validation, verdict, verdict_source = self._evaluations(spans)
        start, end = _nanos(root.get("startTimeUnixNano")), _nanos(root.get("endTimeUnixNano"))
        run_id = (root_attrs.get("gen_ai.conversation.id")
                  or next((a.get("gen_ai.conversation.id") for _, _, a in spans if a.get("gen_ai.conversation.id")),
                          None) or trace_id)
        provider = root_attrs.get("gen_ai.provider.name") or root_attrs.get("gen_ai.system") or next(
            (a.get("gen_ai.provider.name") or a.get("gen_ai.system") for _, a in inference
             if a.get("gen_ai.provider.name") or a.get("gen_ai.system")), None)
        finish_reasons = [r for _, a in inference for r in (a.get("gen_ai.response.finish_reasons") or [])]
        return finish({
            "run_id": run_id,
            "task_id": root_attrs.get("gen_ai.agent.name") and f"{root_attrs['gen_ai.agent.name']}:{run_id}",
            "task_type": "otel_genai_trace",
            "timestamp": _time(start),
            "model_name": model,
            "model_provider": provider,
            "model_role": "primary",
            "system_text": _message_text(system, None, last=False) if system else None,
            "input_text": input_text,
            "output_text": output_text,
            "commands_run": commands,
            "failure_markers": markers,
            "validation_results": validation,
            "signals": {"outcome": "error" if _failed(root) else None, "error_count": len(markers) or None,
                        "verdict": verdict, "verdict_source": verdict_source},
            "latency_ms": (end - start) / 1e6 if start and end and end >= start else None,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "tags": ["otel", *([root_attrs["gen_ai.agent.name"]] if root_attrs.get("gen_ai.agent.name") else [])],
            "extra": {"trace_id": trace_id, "root_span": root.get("name"), "spans": len(spans),
                      "llm_calls": len(inference) or None, "service_name": resource.get("service.name"),
                      "agent_id": root_attrs.get("gen_ai.agent.id"), "finish_reasons": finish_reasons or None},
        }), root.get("spanId")

    @staticmethod
    def _evaluations(spans: list[tuple[dict[str, Any], Mapping[str, Any], dict[str, Any]]]
                     ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        results: list[dict[str, Any]] = []
        verdict = source = None
        for _, span, _ in spans:
            for event in span.get("events") or []:
                if not isinstance(event, Mapping) or event.get("name") != "gen_ai.evaluation.result":
                    continue
                attrs = _attrs(event.get("attributes"))
                name = str(attrs.get("gen_ai.evaluation.name") or "evaluation")
                label = str(attrs.get("gen_ai.evaluation.score.label") or "").strip()
                if verdict is None and label:
                    verdict, source = label, f"otel_evaluation:{name}"
                if label.lower() in _PASS_LABELS | _FAIL_LABELS:
                    score = attrs.get("gen_ai.evaluation.score.value")
                    detail = " ".join(str(x) for x in (score, attrs.get("gen_ai.evaluation.explanation")) if x is not None)
                    results.append({"name": name, "passed": label.lower() in _PASS_LABELS, "detail": detail or None})
        return [{k: v for k, v in r.items() if v is not None} for r in results], verdict, source
