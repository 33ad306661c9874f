"""Earlier OpenHands / OpenDevin evaluation outputs: ``id``, ``[action, observation]`` pair histories,
``metadata.model_name``, verdicts in ``test_result``; fixtures written here in those shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from mcp_distill.adapters.traces_openhands import OpenHandsOutputAdapter, outcome_of_test_result
from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.score import load_rules, score_runs


def pair_history(command: str, exit_code: int) -> list[Any]:
    """The OpenDevin 0.x history: a list of [action, observation] pairs, no event ids."""
    return [
        [{"action": "message", "args": {"content": "Solve the task.", "wait_for_response": False}, "source": "user"},
         {"message": "No observation", "observation": "null", "content": "", "extras": {}}],
        [{"action": "run", "args": {"command": command, "background": False}, "source": "agent"},
         {"observation": "run", "content": "ok" if exit_code == 0 else "Traceback", "extras":
          {"command_id": -1, "command": command, "exit_code": exit_code}}],
        [{"action": "finish", "args": {"outputs": {}, "thought": "done"}, "source": "agent"},
         {"observation": "null", "content": "", "extras": {}}],
    ]


def opendevin_line(run_id: str, result: Any, model: str = "gpt-4-turbo-2024-04-09", **extra: Any) -> dict[str, Any]:
    return {"id": run_id, "instance": {"question": f"question {run_id}"}, "instruction": f"Answer {run_id}",
            "metadata": {"agent_class": "CodeActAgent", "model_name": model, "max_iterations": 10,
                         "eval_output_dir": "evaluation/outputs/x", "start_time": "2024-05-02 10:00:00"},
            "history": pair_history("python3 solve.py", 0 if result else 1), "error": None,
            "final_message": f"The answer for {run_id}", "test_result": {"result": result}, **extra}


def test_test_result_shapes_give_the_outcome_they_state():
    assert outcome_of_test_result({"result": True}) == "success"
    assert outcome_of_test_result({"result": False}) == "failure"
    assert outcome_of_test_result({"result": 1}) == "success" and outcome_of_test_result({"result": 0.0}) == "failure"
    assert outcome_of_test_result({"result": 0.5}) == "partial"
    assert outcome_of_test_result({"result": "Correct"}) == "success"
    assert outcome_of_test_result({"result": {"correct": False, "answer": "7"}}) == "failure"
    assert outcome_of_test_result({"success": True, "final_message": "x"}) == "success"
    assert outcome_of_test_result({"score": False, "model_answer": "x", "ground_truth": "y"}) == "failure"
    assert outcome_of_test_result({"report": {"resolved": True}}) == "success"
    # no verdict: a patch alone, an answer text, a count
    assert outcome_of_test_result({"git_patch": "diff --git a/x b/x"}) is None
    assert outcome_of_test_result({"result": "the answer is 42"}) is None
    assert outcome_of_test_result({"result": 7}) is None


def test_earlier_outputs_are_recognised_and_mapped():
    adapter = OpenHandsOutputAdapter()
    row = opendevin_line("logic-17", True)
    assert adapter.recognise(row) and adapter.check(row) is None
    fields = adapter.map(row)
    assert fields["run_id"] == "logic-17" and fields["model_name"] == "gpt-4-turbo-2024-04-09"
    assert fields["signals"]["outcome"] == "success"
    assert fields["commands_run"][0]["command"] == "python3 solve.py" and fields["commands_run"][0]["ok"] is True
    assert fields["input_text"] == "Answer logic-17" and fields["output_text"] == "The answer for logic-17"
    # an "id" with a history that is not OpenHands events is not claimed
    assert not adapter.recognise({"id": "x", "history": [{"role": "user", "content": "hi"}], "test_result": {}})


@pytest.fixture
def collected(store, tmp_path: Path):
    lines = [
        opendevin_line("logic-1", True),
        opendevin_line("logic-2", False),
        opendevin_line("logic-3", 1.0, model="claude-3-opus"),
        opendevin_line("gaia-4", None, test_result={"score": False, "model_answer": "3", "ground_truth": "4"}),
        {"instance_id": "django__django-11099", "swe_instance": {"repo": "django/django",
                                                                "problem_statement": "UsernameValidator ..."},
         "instruction": "Fix the issue", "git_patch": "diff --git a/django/x.py b/django/x.py\n+fix\n",
         "metadata": {"agent_class": "CodeActAgent", "model_name": "gpt-4o"},
         "history": pair_history("pytest", 1), "error": None,
         "test_result": {"report": {"resolved": False}}},
    ]
    (tmp_path / "output.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    result = collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[tmp_path]), [str(tmp_path)])
    return store, result


def test_earlier_outputs_are_collected_and_scored_from_their_own_result(collected):
    store, result = collected
    assert result.total("inserted") == 5 and result.total("quarantined") == 0
    assert {f.stream for f in result.files} == {"openhands_output"}
    score_runs(store, load_rules())
    categories = {r["run_key"]: r["category"] for r in store.query("SELECT run_key, category FROM scores")}
    assert categories == {"run:logic-1": "accepted", "run:logic-2": "rejected", "run:logic-3": "accepted",
                          "run:gaia-4": "rejected", "run:django__django-11099": "rejected"}
    models = {r["run_id"]: r["model_name"] for r in store.query("SELECT run_id, model_name FROM evidence")}
    assert models["logic-3"] == "claude-3-opus" and models["django__django-11099"] == "gpt-4o"
