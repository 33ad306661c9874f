"""Agent logs of formats mcp-distill has no adapter for, written here: each writer returns what the log
itself states about every run (run key -> "accepted" / "rejected"), so tests compare scores with the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson


def write_jsonl(path: Path, rows: list[Any], junk: list[bytes] = ()) -> Path:
    """Rows one per line; ``junk`` lines (not JSON objects) spread through the file."""
    lines = [orjson.dumps(r) + b"\n" for r in rows]
    for i, bad in enumerate(junk):
        lines.insert(min(len(lines), 3 + i * 7), bad + b"\n")
    path.write_bytes(b"".join(lines))
    return path


def research_agent(path: Path, tasks: int = 12, solved: set[int] | None = None) -> dict[str, str]:
    """A research agent's per-task JSONL: step lines (thought, tool call), then a final line with is_solved.
    Two lines are not JSON objects (a log header and a truncated write)."""
    solved = {i for i in range(tasks) if i % 3 != 1} if solved is None else solved
    rows: list[dict[str, Any]] = []
    for i in range(tasks):
        task = f"web-{i:03d}"
        for step in range(2):
            rows.append({"taskId": task, "step": step, "loggedAt": f"2026-02-0{1 + i % 9}T10:{i:02d}:{step:02d}Z",
                         "thought": f"I should search for the answer to question {i}, step {step}: " + "x" * 60,
                         "tool": {"name": "search", "args": {"q": f"question {i}"}}})
        rows.append({"taskId": task, "step": 2, "loggedAt": f"2026-02-0{1 + i % 9}T10:{i:02d}:59Z",
                     "isSolved": i in solved, "finalAnswer": f"The answer to question {i} is {i * 7}.",
                     "llm": "qwen2.5-72b-instruct", "usage": {"prompt_tokens": 900 + i, "completion_tokens": 80}})
    write_jsonl(path, rows, junk=[b"# research-agent log v3", b'{"taskId": "web-099", "step": 0, "thou'])
    stem = path.stem
    return {f"run:{stem}:web-{i:03d}": "accepted" if i in solved else "rejected" for i in range(tasks)}


def eval_harness(path: Path, cases: int = 10) -> dict[str, str]:
    """An evaluation harness's output: one line per case with the model's answer, the target and correct."""
    rows = [{"idx": i, "question_id": f"gsm8k/{i}", "question": f"A shop sells {i} apples a day. " * 4,
             "answer": str(i * 3 if i % 4 else i), "target": str(i * 3), "correct": bool(i % 4),
             "model": "llama-3.1-8b", "latency_ms": 812.5 + i, "created": 1767225600 + i * 60}
            for i in range(cases)]
    write_jsonl(path, rows)
    return {f"run:{path.stem}:gsm8k/{i}": "accepted" if i % 4 else "rejected" for i in range(cases)}


def trials_document(path: Path, trials: int = 8) -> dict[str, str]:
    """A JSON document holding a list of trials (a run summary around it), status as an outcome word."""
    statuses = ["passed", "failed", "passed", "error"]
    doc = {"benchmark": "tau-retail", "config": {"agent": "tool-calling", "temperature": 0},
           "trials": [{"trial_id": f"tr-{k}", "task_name": f"retail-{k // 2}", "status": statuses[k % 4],
                       "agent_model": "gpt-4.1", "cost_usd": 0.02 * k, "response": "Order refunded. " * 8}
                      for k in range(trials)]}
    path.write_text(json.dumps(doc, indent=2))
    return {f"run:tr-{k}": "accepted" if statuses[k % 4] == "passed" else "rejected" for k in range(trials)}


def strategy_runs(folder: Path, tasks: int = 5) -> dict[str, str]:
    """Two strategies tried on one benchmark: the same task ids in react.jsonl and reflexion.jsonl."""
    expected: dict[str, str] = {}
    for name, wins in (("react", {0, 1}), ("reflexion", {0, 2, 3})):
        rows = [{"task_id": f"hotpot-{t}", "prompt": f"Question {t}: who wrote it? " * 5, "success": t in wins,
                 "final": f"answer {t}"} for t in range(tasks)]
        write_jsonl(folder / f"{name}.jsonl", rows)
        expected.update({f"run:{name}:hotpot-{t}": "accepted" if t in wins else "rejected" for t in range(tasks)})
    return expected
