"""SWE-bench harness outputs that label or complete the runs of ``traces_swe`` (joined by instance id).

* ``report.json`` (``logs/run_evaluation/<run>/<model>/<id>/report.json``): per instance ``resolved``
  and the FAIL_TO_PASS / PASS_TO_PASS test lists -> outcome ``resolved`` / ``unresolved`` and one
  :class:`ValidationResult` per test.
* the harness summary (``<model>.<run>.json``: ``resolved_ids`` / ``unresolved_ids`` / ``error_ids``
  / ``empty_patch_ids``) -> one outcome record per instance that was evaluated.
* predictions: ``preds.json`` (id -> prediction), ``all_preds.jsonl`` and Multi-SWE-bench
  ``patch.jsonl`` lines -> the submitted patch and model per instance, no verdict.
* mini-swe-agent ``exit_statuses_*.yaml`` -> the exit status word per instance.

Every record's run id is the instance id, the run id the trajectory adapters use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from mcp_distill.adapters.base import Fields, Row, register
from mcp_distill.adapters.traces_common import TraceAdapter, dict_items, finish, normalise_exit, offset_of, patch_files
from mcp_distill.adapters.traces_swe import _RUN_FOLDER

#: Test groups of a report that decide resolution (FAIL_TO_FAIL / PASS_TO_FAIL are informational).
_DECIDING_GROUPS = ("FAIL_TO_PASS", "PASS_TO_PASS")
#: Summary id lists and the outcome word each gives, first match wins.
_SUMMARY_LISTS = (("resolved_ids", "resolved"), ("unresolved_ids", "unresolved"), ("error_ids", "error"),
                  ("empty_patch_ids", "empty_patch"))


def _model_from_dir(name: str) -> str | None:
    """The harness writes a model ``org/name`` as the folder or file prefix ``org__name``."""
    return name.replace("__", "/", 1) if name and "__" in name else name or None


def _pred_model(value: Any) -> str | None:
    """``model_name_or_path``: a model id, or a SWE-agent run folder whose first segment is the model."""
    if not isinstance(value, str) or not value:
        return None
    match = _RUN_FOLDER.match(value)
    return match.group("model") if match else value


@register
class SweBenchReportAdapter(TraceAdapter):
    """SWE-bench harness ``report.json``: ``{instance_id: {resolved, tests_status, patch_*}}``."""

    stream = "swe_bench_report"
    whole_file = True

    def recognise(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping) or not doc:
            return False
        values = list(doc.values())[:5]
        return all(isinstance(v, Mapping) and isinstance(v.get("resolved"), bool)
                   and ("tests_status" in v or "patch_successfully_applied" in v) for v in values)

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not a SWE-bench report (needs {{instance_id: {{resolved, "
                             "tests_status}}}})")
        # logs/run_evaluation/<run>/<model>/<instance>/report.json
        model = run_name = None
        if path is not None and len(path.parents) >= 3 and path.parent.name in doc:
            model, run_name = _model_from_dir(path.parents[1].name), path.parents[2].name
        for instance, item in doc.items():
            tests = item.get("tests_status") if isinstance(item.get("tests_status"), Mapping) else {}
            results = []
            for group in _DECIDING_GROUPS:
                status = tests.get(group) if isinstance(tests.get(group), Mapping) else {}
                results += [{"name": f"{group}: {t}", "passed": True} for t in status.get("success") or []]
                results += [{"name": f"{group}: {t}", "passed": False} for t in status.get("failure") or []]
            markers = []
            if item.get("patch_is_None") or item.get("patch_exists") is False:
                markers.append("empty_patch")
            elif item.get("patch_successfully_applied") is False:
                markers.append("patch_did_not_apply")
            fields = finish({
                "run_id": instance,
                "task_id": instance,
                "task_type": "swe_bench",
                "model_name": model,
                "validation_results": results,
                "failure_markers": markers,
                "signals": {"outcome": "resolved" if item["resolved"] else "unresolved"},
                "tags": ["swe-bench-report"],
                "extra": {"eval_run": run_name, **{k: v for k, v in item.items() if k != "tests_status"}},
            })
            fields["_source_row"] = {instance: dict(item)}
            yield offset_of(raw, f'"{instance}"'), fields


@register
class SweBenchSummaryAdapter(TraceAdapter):
    """The harness summary ``<model>.<run>.json``: id lists per result (schema_version 2)."""

    stream = "swe_bench_summary"
    whole_file = True

    def recognise(self, doc: Any) -> bool:
        return (isinstance(doc, Mapping) and isinstance(doc.get("resolved_ids"), list)
                and isinstance(doc.get("unresolved_ids"), list))

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not a SWE-bench summary (needs resolved_ids, unresolved_ids)")
        model = run_name = None
        if path is not None and path.name.count(".") >= 2:
            prefix, run_name = path.name.split(".")[0], path.name.split(".", 1)[1].rsplit(".", 1)[0]
            model = _model_from_dir(prefix)
        seen: set[str] = set()
        for key, outcome in _SUMMARY_LISTS:
            list_at = offset_of(raw, f'"{key}"')
            for instance in doc.get(key) or []:
                if not isinstance(instance, str) or instance in seen:
                    continue
                seen.add(instance)
                fields = finish({
                    "run_id": instance,
                    "task_id": instance,
                    "task_type": "swe_bench",
                    "model_name": model,
                    "signals": {"outcome": outcome},
                    "tags": ["swe-bench-summary"],
                    "extra": {"eval_run": run_name, "listed_in": key},
                })
                fields["_source_row"] = {"summary": run_name, key: instance}
                yield offset_of(raw, f'"{instance}"', list_at), fields


def _pred_fields(row: Mapping[str, Any]) -> Fields:
    """One prediction: SWE-bench ``{instance_id, model_patch, model_name_or_path}`` or Multi-SWE-bench
    ``{org, repo, number, fix_patch}`` (whose instance id is ``org__repo-number``)."""
    if "fix_patch" in row:
        instance = f"{row.get('org')}__{row.get('repo')}-{row.get('number')}"
        patch, model = row.get("fix_patch"), None
    else:
        instance, patch, model = row.get("instance_id"), row.get("model_patch"), row.get("model_name_or_path")
    patch = patch if isinstance(patch, str) and patch.strip() else None
    return finish({
        "run_id": instance,
        "task_id": instance,
        "task_type": "swe_bench",
        "model_name": _pred_model(model),
        "output_text": patch,
        "source_files": patch_files(patch),
        "tags": ["swe-bench-prediction", *([] if patch else ["empty_patch"])],
        "extra": {"model_name_or_path": model} if model and model != _pred_model(model) else {},
    })


def _is_pred(row: Any) -> bool:
    if not isinstance(row, Mapping):
        return False
    if "instance_id" in row and "model_patch" in row:
        return True
    return {"org", "repo", "number", "fix_patch"} <= set(row)


@register
class SweBenchPredsLineAdapter(TraceAdapter):
    """Prediction lines: ``all_preds.jsonl`` (SWE-agent), Multi-SWE-bench ``patch.jsonl``."""

    stream = "swe_bench_preds"
    file_names: ClassVar[tuple[str, ...]] = ("all_preds", "preds")

    def recognise(self, doc: Any) -> bool:
        return _is_pred(doc)

    def map(self, row: Row) -> Fields:
        return _pred_fields(row)


@register
class SweBenchPredsDocAdapter(TraceAdapter):
    """``preds.json`` (``{instance_id: prediction}``) or a JSON list of predictions."""

    stream = "swe_bench_preds"
    whole_file = True
    file_names: ClassVar[tuple[str, ...]] = ("preds", "all_preds")

    def recognise(self, doc: Any) -> bool:
        if isinstance(doc, list):
            items = dict_items(doc)
            return bool(items) and all(_is_pred(i) for i in items)
        if not isinstance(doc, Mapping) or not doc:
            return False
        return all(_is_pred(v) for v in list(doc.values())[:5])

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not SWE-bench predictions (needs instance_id, model_patch)")
        items = doc if isinstance(doc, list) else list(doc.values())
        cursor = 0
        for item in items:
            if not _is_pred(item):
                continue
            fields = _pred_fields(item)
            cursor = offset_of(raw, f'"{fields.get("run_id")}"', cursor)
            fields["_source_row"] = dict(item)
            yield cursor, fields


@register
class MiniSweExitStatusAdapter(TraceAdapter):
    """mini-swe-agent ``exit_statuses_*.yaml``: ``instances_by_exit_status: {status: [ids]}``."""

    stream = "mini_swe_agent_exit_status"
    whole_file = True
    name_patterns: ClassVar[tuple[str, ...]] = ("exit_statuses_*.yaml", "exit_statuses_*.yml")

    def recognise(self, doc: Any) -> bool:
        groups = doc.get("instances_by_exit_status") if isinstance(doc, Mapping) else None
        return isinstance(groups, Mapping) and all(isinstance(v, list) for v in groups.values())

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        if not self.recognise(doc):
            raise ValueError(f"{self.stream}: not a mini-swe-agent exit status file "
                             "(needs instances_by_exit_status)")
        for status, instances in doc["instances_by_exit_status"].items():
            outcome, marker = normalise_exit(str(status))
            group_at = offset_of(raw, f"{status}:")
            for instance in instances:
                if not isinstance(instance, str):
                    continue
                fields = finish({
                    "run_id": instance,
                    "task_id": instance,
                    "task_type": "swe_bench",
                    "failure_markers": [marker] if marker else [],
                    "signals": {"outcome": outcome},
                    "tags": ["mini-swe-agent"],
                    "extra": {"exit_status": status},
                })
                fields["_source_row"] = {"exit_status": status, "instance_id": instance}
                yield offset_of(raw, instance, group_at), fields
