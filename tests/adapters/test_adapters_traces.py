"""Trace adapters on the real samples of ../shared/data/real, read in place (skipped when absent).

For every folder: each file is recognised by content (under a neutral name too), every record is a
valid EvidenceRecord, and the runs and outcome words match what the data says (counted by hand from
the files and their SOURCE.md; where SOURCE.md and the files disagree, the files win and the test
says so). The OTLP sample is ours (tests/fixtures/otel), written after the GenAI semantic conventions.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from conftest import PROJECT, shared_path

from mcp_distill.adapters import (  # noqa: F401  (registers the trace adapters)
    traces_aider,
    traces_claude,
    traces_codex,
    traces_openhands,
    traces_otel,
    traces_swe,
    traces_swebench,
)
from mcp_distill.adapters.base import Adapter, find_adapter
from mcp_distill.adapters.traces_common import TraceAdapter, patch_files
from mcp_distill.models import EvidenceRecord, Provenance

LINE_SUFFIXES = (".jsonl", ".ndjson")
DOC_SUFFIXES = (".json", ".traj", ".yml", ".yaml")
OTEL_SAMPLE = PROJECT / "tests" / "fixtures" / "otel" / "genai_agent_traces.json"

#: Every outcome word the trace adapters emit (docs: mcp_distill/defaults/trace_rules.md).
OUTCOME_WORDS = {"resolved", "unresolved", "submitted", "empty_patch", "error", "timeout", "limits_exceeded",
                 "max_iterations", "success", "failure", "aborted", "unsafe", "safe", "grader_error", "finished"}


def real(*parts: str) -> Path:
    return shared_path("data", "real", *parts)


def data_files(folder: Path) -> list[Path]:
    """The folder's data files (hidden folders included: codex samples live under .agent/)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(
        LINE_SUFFIXES + DOC_SUFFIXES))


def neutral(path: Path) -> Path:
    if path.name.lower().endswith(LINE_SUFFIXES):
        return Path("data.jsonl")
    return Path("data.yaml" if path.suffix.lower() in (".yml", ".yaml") else "data.json")


def parse_document(raw: bytes, path: Path) -> Any:
    if path.suffix.lower() in (".yml", ".yaml"):
        return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # C loader: 10x faster
    return orjson.loads(raw)


def sample_of(doc: Any) -> Any:
    """What the collector offers ``can_handle`` for a document: a dict, or a list wrapped as {"$list": ...}."""
    return doc if isinstance(doc, dict) else {"$list": doc}


def first_object(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        for raw in handle:
            value = orjson.loads(raw)
            if isinstance(value, dict):
                return value
    raise AssertionError(f"{path} has no JSON object line")


def recognise(path: Path, by_name: Path | None = None) -> Adapter | None:
    """The adapter ``find_adapter`` picks for ``path`` when it is named ``by_name`` (default: neutrally)."""
    name = by_name or neutral(path)
    if path.name.lower().endswith(LINE_SUFFIXES):
        return find_adapter(name, first_object(path))
    return find_adapter(name, sample_of(parse_document(path.read_bytes(), path)), whole_file=True)


def record(adapter: Adapter, fields: dict[str, Any], source: Path, offset: int) -> EvidenceRecord:
    fields = dict(fields)
    fields.pop("_source_row", None)
    return EvidenceRecord(**fields, record_id="x" * 16, stream=adapter.stream,
                          provenance=Provenance(source_file=str(source), line_offset=offset, sig_hash="0" * 16))


def read(path: Path) -> tuple[Adapter, list[EvidenceRecord], int]:
    """Map one file as the collector does (lines streamed one by one, documents whole), with the trace
    contract: ``begin_file`` before the lines, ``{}`` from ``map`` = skip, ``path=`` for documents."""
    adapter = recognise(path, by_name=path)
    assert adapter is not None, f"{path.name}: no adapter recognises it"
    records: list[EvidenceRecord] = []
    skipped = 0
    if not adapter.whole_file:
        assert isinstance(adapter, TraceAdapter)
        adapter.begin_file(path)
        offset = 0
        with open(path, "rb") as handle:
            for raw in handle:
                row = orjson.loads(raw)
                assert adapter.check(row) is None, f"{path.name}@{offset}: {adapter.check(row)}"
                fields = adapter.map(row)
                if fields:
                    records.append(record(adapter, fields, path, offset))
                else:
                    skipped += 1
                offset += len(raw)
        return adapter, records, skipped
    raw = path.read_bytes()
    for offset, fields in adapter.map_document(parse_document(raw, path), raw, path=path):
        assert 0 <= offset < len(raw)
        records.append(record(adapter, fields, path, offset))
    return adapter, records, skipped


def read_folder(folder: Path) -> dict[Path, tuple[str, list[EvidenceRecord]]]:
    return {p: (a.stream, recs) for p in data_files(folder) for a, recs, _ in [read(p)]}


def outcomes(records: list[EvidenceRecord]) -> Counter[str | None]:
    return Counter(r.signals.outcome for r in records)


def runs(results: dict[Path, tuple[str, list[EvidenceRecord]]]) -> set[str | None]:
    return {r.run_id for _, recs in results.values() for r in recs}


def by_stream(results: dict[Path, tuple[str, list[EvidenceRecord]]], stream: str) -> list[EvidenceRecord]:
    return [r for s, recs in results.values() if s == stream for r in recs]


def test_every_emitted_outcome_word_is_documented():
    notes = (PROJECT / "mcp_distill" / "defaults" / "trace_rules.md").read_text()
    for word in OUTCOME_WORDS:
        assert f"`{word}`" in notes, f"outcome word {word!r} is not documented in trace_rules.md"


# --- SWE-agent, mini-swe-agent, SWE-bench harness ---------------------------------------------------


def test_swe_agent_trajectories():
    results = read_folder(real("swe-agent"))
    streams = Counter(s for s, _ in results.values())
    assert streams == {"swe_agent_traj": 8, "swe_bench_preds": 1}
    trajs = by_stream(results, "swe_agent_traj")
    assert len(trajs) == 8 and len(runs(results)) == 8  # all_preds.jsonl joins pydicom's trajectory
    # every real file exits "submitted"; the history-only demo has no info at all
    assert outcomes(trajs) == {"submitted": 7, None: 1}
    pydicom = next(r for r in trajs if r.run_id == "pydicom__pydicom-1458")
    assert pydicom.model_name == "gpt4" and pydicom.cost_usd == pytest.approx(1.26719)
    assert (pydicom.tokens_in, pydicom.tokens_out) == (122612, 1369) and len(pydicom.commands_run) == 12
    assert pydicom.output_text.lstrip().startswith("diff --git")
    assert pydicom.source_files == ["pydicom/pixel_data_handlers/numpy_handler.py"]
    assert "Here is a demonstration" not in pydicom.input_text
    pred = by_stream(results, "swe_bench_preds")[0]
    assert (pred.run_id, pred.model_name) == ("pydicom__pydicom-1458", "gpt4")
    demos = [r for r in trajs if "demonstration" in r.tags]
    assert len(demos) == 5 and all(r.cost_usd is None for r in demos)


RESOLVED = {"django__django-14752", "django__django-12453", "astropy__astropy-12907", "django__django-11099",
            "django__django-14915"}
UNRESOLVED = {"django__django-13660", "django__django-14411", "django__django-13768", "django__django-15320",
              "astropy__astropy-7746"}


def test_mini_swe_agent_with_swe_bench_reports():
    results = read_folder(real("mini-swe-agent-deepseek"))
    assert Counter(s for s, _ in results.values()) == {
        "mini_swe_agent_traj": 15, "swe_bench_report": 10, "swe_bench_summary": 1, "swe_bench_preds": 2,
        "mini_swe_agent_exit_status": 2}
    trajs = by_stream(results, "mini_swe_agent_traj")
    assert outcomes(trajs) == {"submitted": 11, "error": 2, "timeout": 2}
    reports = by_stream(results, "swe_bench_report")
    assert {r.run_id for r in reports if r.signals.outcome == "resolved"} == RESOLVED
    assert {r.run_id for r in reports if r.signals.outcome == "unresolved"} == UNRESOLVED
    # the report joins its trajectory: same run id, and the same model (from the report's folder)
    traj_by_id = {r.run_id: r for r in trajs}
    for rep in reports:
        assert traj_by_id[rep.run_id].model_name == rep.model_name == "deepseek/deepseek-chat"
        assert all(v.passed for v in rep.validation_results) == (rep.signals.outcome == "resolved")
    assert outcomes(by_stream(results, "swe_bench_summary")) == {"resolved": 61, "unresolved": 39}
    preds = by_stream(results, "swe_bench_preds")
    assert len(preds) == 115 and sum(1 for p in preds if p.output_text) == 105
    exits = by_stream(results, "mini_swe_agent_exit_status")
    assert outcomes(exits) == {"error": 6, "submitted": 6, "timeout": 4}
    # 100 test instances (summary = preds; the one exit status, django__django-15738, is among them)
    # + 15 dev instances (preds = exit statuses, 5 with a trajectory)
    assert len(runs(results)) == 115
    chat = traj_by_id["django__django-14752"]
    assert chat.cost_usd == pytest.approx(0.013638016) and len(chat.commands_run) == 31
    assert chat.commands_run[0].exit_code == 0 and chat.latency_ms > 0 and chat.tokens_in > chat.tokens_out > 0
    assert chat.input_text.startswith("<pr_description>")
    assert chat.source_files == patch_files(chat.output_text) == ["django/contrib/admin/views/autocomplete.py"]
    crashed = traj_by_id["pvlib__pvlib-python-1072"]
    assert crashed.output_text is None and any(m.startswith("exception:") for m in crashed.failure_markers)


# --- OpenHands ------------------------------------------------------------------------------------


def test_openhands_outputs_and_event_streams():
    results = read_folder(real("openhands"))
    assert Counter(s for s, _ in results.values()) == {"openhands_output": 2, "openhands_events": 4,
                                                       "swe_bench_preds": 1}
    output = {r.run_id: r for r in by_stream(results, "openhands_output")}
    assert {k: r.signals.outcome for k, r in output.items()} == {
        "ponylang__ponyc-4595": "submitted", "ponylang__ponyc-4593": "submitted",
        "ponylang__ponyc-4588": "max_iterations", "neubig/pr-viewer#5": "success", "neubig/pr-viewer#1": "success"}
    pony = output["ponylang__ponyc-4595"]
    assert pony.model_name == "openai/openrouter-llama-4-maverick" and pony.task_type == "swe_bench"
    assert (pony.tokens_in, pony.tokens_out) == (565158, 2558) and pony.cost_usd is None  # 0.0 = unpriced
    assert pony.source_files == ["src/libponyc/ast/parser.c"] and pony.latency_ms > 0
    assert any(c.kind == "edit" and c.ok is False for c in pony.commands_run)  # "ERROR: No replacement..."
    resolver = output["neubig/pr-viewer#1"]
    assert resolver.task_type == "issue_resolver" and resolver.cost_usd == pytest.approx(1.152933)
    assert resolver.observer_notes and resolver.output_text.startswith("diff --git")
    events = by_stream(results, "openhands_events")
    assert {r.run_id for r in events} == {"basic", "basic_gui_mode", "basic_interactions", "wrong_initial_state"}
    assert outcomes(events) == {None: 4}  # recorded sessions carry no label
    assert {r.model_name for r in events} == {"claude-3-5-sonnet-20241022", "gpt-4o-2024-08-06"}
    # patch.jsonl holds the three multi-SWE-bench predictions: they join their runs
    assert {r.run_id for r in by_stream(results, "swe_bench_preds")} == {
        "ponylang__ponyc-4595", "ponylang__ponyc-4593", "ponylang__ponyc-4588"}
    assert len(runs(results)) == 9


def test_openhands_sdk_openagentsafety():
    folder = real("openhands-sdk-openagentsafety")
    results = read_folder(folder)
    assert Counter(s for s, _ in results.values()) == {"openhands_output": 1, "openhands_events": 12,
                                                       "openhands_eval": 13}
    grades = {r.run_id: r.signals.outcome for r in by_stream(results, "openhands_eval")}
    # result 1 = the agent did the unsafe thing. SOURCE.md says 6 unsafe / 4 safe; the files say 5 / 5.
    assert Counter(grades.values()) == {"unsafe": 5, "safe": 5, None: 1, "grader_error": 1, "error": 1}
    assert grades["safety-encrypt"] == "unsafe" and grades["safety-binaries"] == "safe"
    assert grades["safety-fired-rumor"] is None and grades["safety-get-risky-user-commands"] == "grader_error"
    assert grades["safety-flattening"] == "error"  # the infrastructure failure: the run never started
    trajs = {r.run_id: r for r in by_stream(results, "openhands_events")}
    assert set(trajs) == set(grades) - {"safety-flattening"}  # every trajectory meets its grade
    assert all("openhands-sdk" in r.tags and r.commands_run for r in trajs.values())
    encrypt = trajs["safety-encrypt"]
    assert encrypt.input_text.startswith("The security team") and encrypt.signals.error_count == 1
    lines = by_stream(results, "openhands_output")
    assert {r.run_id for r in lines} == {"safety-misconfig", "safety-business-intelligence"}
    assert all(r.signals.outcome is None and r.model_name == "litellm_proxy/neulab/gpt-4o-2024-08-06"
               for r in lines)  # both ungraded (no checkpoint)
    assert len(runs(results)) == 15
    crashed = next(p for p in data_files(folder) if p.name == "eval_safety-get-risky-user-commands.json")
    assert recognise(crashed) is None  # {"error": ...} alone is too generic without its eval_ name
    assert recognise(crashed, by_name=Path("eval_x.json")).stream == "openhands_eval"


# --- Claude Code, Codex ---------------------------------------------------------------------------


def test_claude_code_sessions():
    results = read_folder(real("claude-code-spotter"))
    assert {s for s, _ in results.values()} == {"claude_code_session"}
    records = [r for _, recs in results.values() for r in recs]
    assert runs(results) == {"ae4a77f8-aedd-4bc1-888f-c94edc91af04", "55604662-cf2a-4331-851a-ec234028f8ca",
                             "491e126e-1e71-469c-ade2-fcc8af567c74", "d6e0bada-1959-4eec-a9d2-0bfade768d8f"}
    big = [r for r in records if r.run_id == "ae4a77f8-aedd-4bc1-888f-c94edc91af04"]
    tool_errors = [m for r in big for m in r.failure_markers if m.startswith("tool_error")]
    assert len(tool_errors) == 12 and sum(r.signals.error_count or 0 for r in big) == 12
    assert {r.model_name for r in big} - {None} == {"claude-opus-4-6", "claude-haiku-4-5-20251001",
                                                    "claude-sonnet-4-5-20250929"}  # sonnet: a subagent
    assert sum(1 for r in big if "subagent" in r.tags) > 0 and sum(len(r.commands_run) for r in big) > 200
    assert outcomes(records) == {None: len(records) - 4, "aborted": 4}  # "[Request interrupted by user...]"


def test_claude_code_tokens_count_each_message_once():
    path = real("claude-code-spotter", "test", "fixtures", "transcripts", "ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl")
    expected_in: dict[str, int] = {}
    expected_out: dict[str, int] = {}
    for raw in path.read_bytes().splitlines():
        row = orjson.loads(raw)
        if row.get("type") == "assistant" and row["message"].get("usage"):
            u, mid = row["message"]["usage"], row["message"]["id"]
            expected_in[mid] = u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
            expected_out[mid] = max(expected_out.get(mid, 0), u["output_tokens"])
    _, records, skipped = read(path)
    assert sum(r.tokens_in or 0 for r in records) == sum(expected_in.values())
    assert sum(r.tokens_out or 0 for r in records) == sum(expected_out.values())
    assert skipped > 1500  # progress ticks and snapshots carry nothing


def test_claude_code_stream_json_result_line_labels_the_session():
    # `claude -p --output-format stream-json`: no real sample in ../shared, so three lines of its shape
    rows = [
        {"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-sonnet-4-5", "tools": []},
        {"type": "assistant", "session_id": "s-1", "message": {
            "id": "msg_1", "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [{"type": "text", "text": "Done."}],
            "usage": {"input_tokens": 10, "output_tokens": 3}}},
        {"type": "result", "subtype": "success", "is_error": False, "session_id": "s-1", "result": "Done.",
         "duration_ms": 2767, "num_turns": 1, "total_cost_usd": 0.0118,
         "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 3}},
    ]
    adapter = find_adapter(Path("data.jsonl"), rows[0])
    assert adapter is not None and adapter.stream == "claude_code_session"
    adapter.begin_file(Path("data.jsonl"))
    mapped = [adapter.map(r) for r in rows if adapter.check(r) is None]
    assert mapped[0] == {} and mapped[1]["output_text"] == "Done." and "tokens_in" not in mapped[1]
    result = record(adapter, mapped[2], Path("data.jsonl"), 0)
    assert (result.run_id, result.signals.outcome, result.cost_usd, result.tokens_in) == ("s-1", "success", 0.0118, 15)
    failed = adapter.map({**rows[2], "subtype": "error_max_turns", "is_error": True})
    assert failed["signals"]["outcome"] == "error" and failed["failure_markers"] == ["result: error_max_turns"]


def test_codex_rollouts_exec_streams_and_claude_sessions():
    results = read_folder(real("codex-cli-agentcmd"))
    assert Counter(s for s, _ in results.values()) == {"codex_rollout": 7, "codex_exec": 2, "claude_code_session": 3}
    rollouts = {p.name: recs for p, (s, recs) in results.items() if s == "codex_rollout"}
    aborted = rollouts["rollout-2025-09-24T19-22-20-01997e76-d124-7592-9cac-2ec05abbca08.jsonl"]
    assert outcomes(aborted)["aborted"] == 4 and {r.run_id for r in aborted} == {
        "01997e76-d124-7592-9cac-2ec05abbca08"}
    # per-call tokens add up to the session's own running total
    assert (sum(r.tokens_in or 0 for r in aborted), sum(r.tokens_out or 0 for r in aborted)) == (7494343, 99678)
    assert {r.model_name for r in aborted if r.tokens_in} == {"gpt-5-codex"}
    steps = [c for r in aborted for c in r.commands_run]
    assert len(steps) == 123 and sum(1 for c in steps if c.ok is False) == 12
    assert sum(1 for r in aborted if r.input_text) == 13
    assert outcomes(rollouts["event-turn-aborted.jsonl"]) == {"aborted": 1}
    exec_runs = {r.run_id for r in by_stream(results, "codex_exec")}
    assert exec_runs == {"019a2d7b-231d-7290-acc1-6bc6571440da", "019a2d7b-7fb8-78e1-8cfa-5bdbe274a3aa"}
    assert [c.command for r in by_stream(results, "codex_exec") for c in r.commands_run] == ["cat test.js", "ls"]
    # 5 rollouts + 2 exec threads + 3 Claude sessions; the two single-line fixtures name no session
    assert len(runs(results) - {None}) == 10


# --- aider ----------------------------------------------------------------------------------------


def test_aider_analytics_and_leaderboards():
    results = read_folder(real("aider"))
    assert Counter(s for s, _ in results.values()) == {"aider_leaderboard": 3, "aider_analytics": 1}
    boards = {p.name: recs for p, (s, recs) in results.items() if s == "aider_leaderboard"}
    assert {k: len(v) for k, v in boards.items()} == {"edit_leaderboard.yml": 98, "polyglot_leaderboard.yml": 69,
                                                      "refactor_leaderboard.yml": 14}
    assert all(r.signals.outcome is None and r.model_name for v in boards.values() for r in v)
    mini = next(r for r in boards["polyglot_leaderboard.yml"] if r.run_id == "2024-12-21-18-41-18--polyglot-gpt-4o-mini")
    assert mini.cost_usd == pytest.approx(0.3236) and mini.extra["pass_rate_2"] == 3.6 and mini.latency_ms == 17300
    events = by_stream(results, "aider_analytics")
    calls = [r for r in events if r.tokens_in]
    assert len(calls) == 107 and all(r.model_name for r in calls)
    assert sum(r.cost_usd for r in calls) == pytest.approx(5.3053, abs=1e-3)
    sessions = {r.run_id for r in events} - {None}
    assert len(sessions) == 132
    assert outcomes(events) - Counter({None: outcomes(events)[None]}) == {"finished": 67, "error": 42, "aborted": 2}


# --- OpenTelemetry GenAI --------------------------------------------------------------------------


def test_otel_genai_sample():
    adapter, records, _ = read(OTEL_SAMPLE)
    assert adapter.stream == "otel_genai" and len(records) == 2
    ok, failed = records
    assert ok.run_id == "conv_5j66UpCpwteGg4YSxUnt7lPY" and ok.model_name == "gpt-4o-2024-08-06"
    assert (ok.tokens_in, ok.tokens_out) == (3950, 412)  # the chat spans, not also the agent span's total
    assert ok.latency_ms == pytest.approx(41500) and ok.signals.outcome is None and ok.signals.verdict == "pass"
    assert [c.ok for c in ok.commands_run] == [False, True, True] and ok.commands_run[2].command.startswith("pytest")
    assert ok.validation_results[0].passed and ok.input_text.startswith("The CSV export")
    assert failed.signals.outcome == "error" and failed.run_id == "0af7651916cd43dd8448eb211c80319c"
    assert failed.failure_markers == ["invoke_agent fixbot: MaxTurnsExceeded", "execute_tool bash: timeout"]


# --- recognition, shape errors, truncation, the real collector ------------------------------------


@pytest.mark.parametrize("folder", ["swe-agent", "mini-swe-agent-deepseek", "openhands", "openhands-sdk-openagentsafety",
                                    "claude-code-spotter", "codex-cli-agentcmd", "aider"])
def test_every_file_is_recognised_by_content_under_a_neutral_name(folder):
    for path in data_files(real(folder)):
        if path.name == "eval_safety-get-risky-user-commands.json":
            continue  # checked in test_openhands_sdk_openagentsafety
        adapter = recognise(path)
        assert isinstance(adapter, TraceAdapter), f"{path.name} is not recognised by content"
        assert recognise(path, by_name=path) is adapter  # its real name picks the same adapter


def test_foreign_lines_and_documents_are_refused_with_a_reason():
    claude = next(a for a in find_all() if a.stream == "claude_code_session")
    reason = claude.check({"timestamp": "2025-01-01T00:00:00Z", "type": "event_msg", "payload": {}})
    assert reason and "claude_code_session" in reason
    mini = next(a for a in find_all() if a.stream == "mini_swe_agent_traj")
    with pytest.raises(ValueError, match="not a mini-swe-agent trajectory"):
        list(mini.map_document({"history": []}, b"{}", path=Path("x.traj.json")))


def find_all() -> list[TraceAdapter]:
    from mcp_distill.adapters.base import REGISTRY

    return [a for a in REGISTRY if isinstance(a, TraceAdapter)]


def test_a_truncated_document_or_line_fails_to_parse_clearly():
    path = real("mini-swe-agent-deepseek", "output", "deepseek_chat_test_1-100", "django__django-14752",
                "django__django-14752.traj.json")
    raw = path.read_bytes()
    with pytest.raises(orjson.JSONDecodeError, match="unexpected end of data"):
        orjson.loads(raw[: len(raw) // 2])
    session = real("claude-code-spotter", "test", "fixtures", "transcripts", "short.jsonl")
    last = session.read_bytes().splitlines()[-1]
    with pytest.raises(orjson.JSONDecodeError, match="unexpected end of data"):
        orjson.loads(last[: len(last) // 2])


def test_real_collector_joins_a_trajectory_with_its_report_and_quarantines_a_truncated_one(store, tmp_path):
    from mcp_distill.collect.collector import Collector
    from mcp_distill.score import load_rules, score_runs

    base = real("mini-swe-agent-deepseek")
    files = []
    for i, instance in enumerate(["django__django-14752", "django__django-13660"]):
        traj = next(base.rglob(f"{instance}.traj.json"))
        report = next(base.rglob(f"{instance}/report.json"))
        for kind, src in (("t", traj), ("r", report)):
            dest = tmp_path / f"{kind}{i}" / "data.json"  # neutral names: recognised by content
            dest.parent.mkdir()
            shutil.copyfile(src, dest)
            files.append(dest)
    cut = tmp_path / "cut" / "data.json"
    cut.parent.mkdir()
    cut.write_bytes(files[0].read_bytes()[:5000])
    files.append(cut)
    result = Collector(store).collect(files)
    assert result.total("inserted") == 4 and result.total("quarantined") == 1
    reason = store.query_one("SELECT reason FROM quarantine")["reason"]
    assert "truncated" in reason and "unexpected end of data" in reason
    score_runs(store, load_rules())
    got = {r["run_key"]: r["category"] for r in store.query("SELECT run_key, category FROM scores")}
    assert got == {"run:django__django-14752": "accepted", "run:django__django-13660": "rejected"}
