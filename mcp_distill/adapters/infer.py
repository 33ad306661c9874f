"""Field roles inferred from a sample of rows: which source field is the run, the task, the time, the model,
the tokens, the cost, the outcome, the prompt and the answer.

Two things decide a role, and both must agree: the field's name (``is_solved``, ``task_id``,
``completion_tokens``; compared after splitting camelCase and separators) and the shape of its values in
the sample (yes/no values for a boolean outcome, a handful of outcome words for an enumerated one,
non-negative integers for tokens, parseable times for a timestamp, long text for a prompt). A field whose
name fits but whose values do not is left in ``extra`` (a ``time`` of 3.2 seconds is no timestamp). Long
text fields no name claims become the input and output text.

The result, :class:`Inference`, is a mapping file's content (:meth:`Inference.mapping_data`): the generic
adapter (:mod:`mcp_distill.adapters.generic`) collects with it, and ``mcp-distill mapping suggest``
prints it as commented TOML (:mod:`mcp_distill.adapters.suggest`).
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_distill.adapters.base import try_ts
from mcp_distill.adapters.mapping import bool_word

#: Rows of a file the roles are inferred from: the first ones, so a file that grows keeps its mapping.
SAMPLE_ROWS = 200
#: How deep nested objects are walked for fields (``usage.prompt_tokens`` is depth 2).
MAX_DEPTH = 3
#: A string field averaging at least this many characters is long text (a prompt, an answer).
LONG_TEXT = 80

RUN = ("run_id", "run", "session_id", "session", "trajectory_id", "traj_id", "trial_id", "episode_id",
       "rollout_id", "attempt_id", "conversation_id", "thread_id", "trace_id", "job_id", "execution_id")
TASK = ("task_id", "instance_id", "problem_id", "question_id", "example_id", "sample_id", "case_id", "item_id",
        "puzzle_id", "challenge_id", "test_id", "prompt_id", "task_name", "task", "instance", "problem", "id",
        "uid", "qid", "uuid", "key", "idx", "index")
ATTEMPT = ("attempt", "attempt_idx", "attempt_index", "trial", "trial_idx", "seed", "sample_idx", "sample_index",
           "repeat", "rep", "try", "run_index", "run_idx")
TIME = ("timestamp", "ts", "time", "datetime", "created_at", "created", "started_at", "start_time", "started",
        "start", "date", "logged_at", "event_time", "ended_at", "end_time", "ended", "finished_at", "finished",
        "completed_at", "submitted_at", "updated_at")
#: Name parts of other time fields (``run_started``, ``eval_date``): strings that parse as times only.
_TIME_TOKENS = frozenset({"at", "time", "timestamp", "ts", "date", "datetime", "started", "created", "finished"})
MODEL = ("model_name", "model", "model_id", "llm", "engine", "agent_model", "model_version", "backbone")
PROVIDER = ("model_provider", "provider", "vendor")
TOKENS_IN = ("tokens_in", "input_tokens", "prompt_tokens", "n_input_tokens", "num_input_tokens",
             "prompt_token_count", "in_tokens")
TOKENS_OUT = ("tokens_out", "output_tokens", "completion_tokens", "n_output_tokens", "num_output_tokens",
              "completion_token_count", "out_tokens", "generated_tokens")
COST = ("cost_usd", "cost", "total_cost", "total_cost_usd", "usd", "price", "cost_in_usd", "dollars")
LATENCY_MS = ("latency_ms", "duration_ms", "elapsed_ms", "time_ms", "runtime_ms", "wall_ms", "wall_time_ms",
              "response_time_ms")
INPUT = ("input_text", "prompt", "question", "instruction", "instructions", "problem_statement", "input", "query",
         "task_description", "request", "user_input", "goal", "objective", "messages")
OUTPUT = ("output_text", "response", "answer", "final_answer", "model_answer", "model_output", "output",
          "completion", "prediction", "generation", "reply", "solution", "final_message", "patch")
TASK_TYPE = ("task_type", "category", "type", "kind", "subset", "split", "benchmark", "dataset", "suite", "domain",
             "level", "difficulty", "track", "family", "env", "environment")
TAGS = ("tags", "labels")
ERRORS = ("error", "error_message", "exception", "traceback", "failure_reason", "err")
#: Outcome names: a yes/no value under one of these says whether the run succeeded...
OUTCOME_YES = ("is_solved", "solved", "resolved", "is_resolved", "success", "is_success", "succeeded",
               "successful", "correct", "is_correct", "passed", "pass", "is_pass", "accepted", "won", "win", "ok",
               "exact_match", "em")
#: ...under one of these whether it failed (true = failure)...
OUTCOME_NO = ("failed", "is_failed", "failure", "unresolved", "unsolved", "incorrect", "is_incorrect", "wrong",
              "timed_out", "timeout", "crashed", "errored", "is_error")
#: ...and these hold an outcome word or a yes/no value.
OUTCOME_WORD = ("outcome", "status", "result", "verdict", "grade", "final_status", "judgement", "judgment",
                "evaluation", "eval_result", "score", "reward")
_YES_TOKENS = frozenset({"solved", "resolved", "success", "succeeded", "successful", "correct", "passed", "accepted"})
_NO_TOKENS = frozenset({"failed", "unresolved", "unsolved", "incorrect", "wrong"})
#: Roles that make a stream worth reading without a mapping: without one of them it stays quarantined.
KEY_ROLES = ("run_id", "task_id", "signals.outcome", "input_text", "output_text")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ADDRESSABLE = re.compile(r"^[^.{}]+$")


def normalise(name: str) -> str:
    """``isSolved`` / ``Is-Solved`` / ``is solved`` -> ``is_solved``."""
    return re.sub(r"[^a-z0-9@]+", "_", _CAMEL.sub("_", name).lower()).strip("_")


@dataclass
class FieldStats:
    """What the sample shows of one field (a dotted path)."""

    path: str
    present: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    examples: list[Any] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)
    text_chars: int = 0
    yes_no: int = 0
    times: int = 0
    counts: int = 0
    amounts: int = 0
    words: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return normalise(self.path.rsplit(".", 1)[-1])

    def share(self, n: int) -> float:
        return n / self.present if self.present else 0.0

    def add(self, value: Any) -> None:
        kind = _kind(value)
        self.kinds[kind] += 1
        if kind == "null":
            return
        self.present += 1
        shown = repr(value)[:300]
        if len(self.distinct) < 1000:
            self.distinct.add(shown)
        if len(self.examples) < 3 and value not in self.examples:
            self.examples.append(value)
        if bool_word(value) is not None:
            self.yes_no += 1
        if kind in ("int", "float") and value >= 0:
            self.amounts += 1
            self.counts += kind == "int"
        if kind == "str":
            self.text_chars += len(value)
            if len(value) <= 40 and len(self.words) < 50:
                self.words[value] += 1
        if kind == "str" or (kind in ("int", "float") and 631152000 <= (value / 1000 if value > 1e11 else value)
                             <= 4102444800):  # epochs of 1990..2100 only: 3.2 seconds is no time
            self.times += try_ts(value) is not None

    def only(self, *kinds: str) -> bool:
        return self.present > 0 and all(k in kinds for k in self.kinds if k != "null")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "object"}.get(type(value), "other")


def profile(rows: Iterable[Mapping[str, Any]]) -> tuple[int, dict[str, FieldStats]]:
    """Every addressable field of the rows (nested objects walked to :data:`MAX_DEPTH`), in first-seen order."""
    stats: dict[str, FieldStats] = {}
    n = 0

    def walk(obj: Mapping[str, Any], prefix: str, depth: int) -> None:
        for key, value in obj.items():
            if not isinstance(key, str) or not _ADDRESSABLE.match(key):
                continue  # a key with a dot or a brace cannot be named by a path: it stays in extra
            path = prefix + key
            if isinstance(value, Mapping) and value and depth < MAX_DEPTH:
                walk(value, path + ".", depth + 1)
                continue
            stats.setdefault(path, FieldStats(path)).add(value)

    for row in rows:
        n += 1
        walk(row, "", 1)
    return n, stats


@dataclass
class Role:
    """One inferred role: the target field, the source path, why, and a translation table for outcomes."""

    target: str
    path: str
    why: str
    values: dict[str, str] = field(default_factory=dict)
    untranslated: list[str] = field(default_factory=list)


@dataclass
class Inference:
    """Roles inferred from a sample, as a mapping."""

    rows: int
    fields: dict[str, FieldStats]
    roles: list[Role]
    #: The run id source (a path or a ``{file_stem}:{...}`` template) and why it was chosen.
    run_id: str | None = None
    run_why: str = ""
    records: str | None = None
    required: list[str] = field(default_factory=list)

    @property
    def has_key_role(self) -> bool:
        return self.run_id is not None or any(r.target in KEY_ROLES for r in self.roles)

    def role_of(self, path: str) -> Role | None:
        return next((r for r in self.roles if r.path == path), None)

    def used(self, path: str) -> bool:
        """Whether ``path`` is mapped, or named in the run id template."""
        return self.role_of(path) is not None or (self.run_id is not None and (
            self.run_id == path or "{" + path + "}" in self.run_id))

    def mapping_data(self, name: str, files: list[str], required: bool = True) -> dict[str, Any]:
        """The mapping file's content (what :func:`~mcp_distill.adapters.mapping.parse_mapping` reads).
        ``required=False`` leaves out ``required_keys``: the generic adapter keeps rows that lack them."""
        stream: dict[str, Any] = {"name": name, "files": files}
        if self.required and required:
            stream["required_keys"] = self.required
        if self.records:
            stream["records"] = self.records
        stream["keep_extra"] = True
        fields: dict[str, Any] = {}
        if self.run_id is not None:
            fields["run_id"] = self.run_id
        fields.update((r.target, r.path) for r in self.roles)
        data: dict[str, Any] = {"stream": stream, "fields": fields}
        values = {r.target: dict(r.values) for r in self.roles if r.values}
        if values:
            data["values"] = values
        return data


def infer(rows: list[Mapping[str, Any]], records: str | None = None) -> Inference:
    """The roles of the sampled ``rows`` (objects of one format)."""
    n, stats = profile(rows)
    roles: list[Role] = []
    taken: set[str] = set()

    def pick(target: str, names: tuple[str, ...], fits: Any, why: str) -> Role | None:
        best = _best(stats, names, taken, fits)
        if best is None:
            return None
        role = Role(target, best.path, f"{why}; {_describe(best, n)}")
        roles.append(role)
        taken.add(best.path)
        return role

    outcome = _outcome(stats, n)
    if outcome is not None:
        roles.append(outcome)
        taken.add(outcome.path)
    run = _best(stats, RUN, taken, lambda s: _id_like(s, n))
    if run is not None:
        taken.add(run.path)
    task = pick("task_id", TASK, lambda s: _id_like(s, n), "task id (name)")
    if pick("timestamp", TIME, lambda s: s.share(s.times) >= 0.95, "time (name; ISO-8601 or epoch)") is None:
        other = [s for s in stats.values() if s.path not in taken and set(s.name.split("_")) & _TIME_TOKENS
                 and s.only("str") and s.share(s.times) >= 0.95]
        if other:
            roles.append(Role("timestamp", other[0].path, f"time (name; ISO-8601 strings); {_describe(other[0], n)}"))
            taken.add(other[0].path)
    pick("model_name", MODEL, lambda s: s.only("str") and s.text_chars <= 100 * s.present, "model (name)")
    pick("model_provider", PROVIDER, lambda s: s.only("str"), "model provider (name)")
    pick("tokens_in", TOKENS_IN, lambda s: s.only("int") and s.counts == s.present, "input tokens (name; counts)")
    pick("tokens_out", TOKENS_OUT, lambda s: s.only("int") and s.counts == s.present, "output tokens (name; counts)")
    pick("cost_usd", COST, lambda s: s.only("int", "float") and s.amounts == s.present, "cost in USD (name)")
    pick("latency_ms", LATENCY_MS, lambda s: s.only("int", "float") and s.amounts == s.present,
         "latency in ms (name)")
    pick("input_text", INPUT, lambda s: s.only("str", "list"), "input (name)")
    pick("output_text", OUTPUT, lambda s: s.only("str"), "output (name)")
    pick("task_type", TASK_TYPE, lambda s: s.only("str") and len(s.distinct) <= max(10, n // 2)
         and s.text_chars <= 60 * s.present, "task type (name; few distinct values)")
    pick("tags", TAGS, lambda s: s.only("list"), "tags (name)")
    pick("failure_markers", ERRORS, lambda s: s.only("str"), "error text (name)")
    _long_text(stats, n, roles, taken)
    inference = Inference(n, stats, roles, records=records)
    _run_id(inference, stats, run, task, taken)
    key_paths = [p for p in (run.path if run else None, task.path if task else None,
                             outcome.path if outcome else None) if p]
    inference.required = [p for p in key_paths if stats[p].present == n and "." not in p]
    return inference


def _best(stats: Mapping[str, FieldStats], names: tuple[str, ...], taken: set[str], fits: Any) -> FieldStats | None:
    """The field whose name comes first in ``names`` and whose values fit; nearer the top level first."""
    ranked = [(names.index(s.name), s.path.count("."), s) for s in stats.values()
              if s.name in names and s.path not in taken and s.present]
    for *_, s in sorted(ranked, key=lambda t: (t[0], t[1])):
        if fits(s):
            return s
    return None


def _id_like(s: FieldStats, n: int) -> bool:
    """Scalar ids (strings up to 200 characters, integers) in most rows."""
    return s.only("str", "int") and s.text_chars <= 200 * s.present and s.present >= n / 2


def _describe(s: FieldStats, n: int) -> str:
    kinds = "/".join(k for k in s.kinds if k != "null")
    shown = ", ".join(_short(v) for v in s.examples)
    return f"{kinds} in {round(100 * s.present / n) if n else 0}% of rows, {len(s.distinct)} distinct, e.g. {shown}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else '"' + value.replace("\n", " ")[:40] + '"'
    return text if len(text) <= 44 else text[:41] + "..."


@functools.cache
def _outcome_kinds() -> tuple[Any, Any]:
    from mcp_distill.score import load_rules  # the scorer sits above the adapters

    rules = load_rules(None)
    return rules.outcome, rules.verdict


def outcome_word(word: str) -> str | None:
    """The scorer's outcome word for a log's word: itself when the rules know it, success/failure/partial for
    verdict words (pass, correct, wrong...) and yes/no values, else None."""
    outcome_rules, verdict_rules = _outcome_kinds()
    if outcome_rules.vote(word):
        return word
    kind = verdict_rules.vote(word)
    if kind is None and (yes_no := bool_word(word)) is not None:
        kind = "positive" if yes_no == "true" else "negative"
    return {"positive": "success", "negative": "failure", "partial": "partial"}.get(kind or "")


def _outcome(stats: Mapping[str, FieldStats], n: int) -> Role | None:
    """The field stating whether the run succeeded: a yes/no field with an outcome name, else an outcome
    word field (few distinct short values, at least one of them an outcome word)."""
    candidates: list[tuple[int, int, FieldStats, bool]] = []
    for s in stats.values():
        tokens = set(s.name.split("_"))
        yes_no = s.present and s.share(s.yes_no) >= 0.95 and s.only("bool", "int", "float", "str")
        if s.name in OUTCOME_YES or (tokens & _YES_TOKENS and not tokens & _NO_TOKENS):
            rank, inverted = (0 if s.name in OUTCOME_YES else 2), False
        elif s.name in OUTCOME_NO or tokens & _NO_TOKENS:
            rank, inverted = (1 if s.name in OUTCOME_NO else 3), True
        elif s.name in OUTCOME_WORD:
            rank, inverted = 4, False
        else:
            continue
        if yes_no or (rank == 4 and _word_field(s)):
            candidates.append((rank, s.path.count("."), s, inverted))
    if not candidates:
        return None
    _, _, s, inverted = min(candidates, key=lambda c: (c[0], c[1]))
    role = Role("signals.outcome", s.path, "")
    if s.share(s.yes_no) >= 0.95:
        # true/false also match 1/0, "yes"/"no", "y"/"n" (mapping.bool_word): one pair covers every spelling
        role.values = {"true": "failure" if inverted else "success", "false": "success" if inverted else "failure"}
        role.why = (f"outcome (yes/no values{'; the name says failure, so true = failure' if inverted else ''}); "
                    f"{_describe(s, n)}")
        return role
    for key in sorted(s.words):
        word = outcome_word(key)
        if word is None:
            role.untranslated.append(key)
        else:
            role.values[key] = word
    role.why = f"outcome (outcome words); {_describe(s, n)}"
    return role


def _word_field(s: FieldStats) -> bool:
    return (s.only("str") and 0 < len(s.words) <= 12 and sum(s.words.values()) == s.present
            and any(outcome_word(w) for w in s.words))


def _long_text(stats: Mapping[str, FieldStats], n: int, roles: list[Role], taken: set[str]) -> None:
    """Long text fields no name claimed: the first becomes the input, the next the output (one alone: output)."""
    have = {r.target for r in roles}
    long = [s for s in stats.values() if s.path not in taken and s.only("str") and s.present >= n * 0.3
            and s.text_chars / s.present >= LONG_TEXT]
    wanted = [t for t in ("input_text", "output_text") if t not in have]
    if len(long) == 1 and wanted == ["input_text", "output_text"]:
        wanted = ["output_text"]
    for target, s in zip(wanted, long, strict=False):
        roles.append(Role(target, s.path, f"{target.split('_')[0]} (long text); {_describe(s, n)}"))
        taken.add(s.path)


def _run_id(inference: Inference, stats: Mapping[str, FieldStats], run: FieldStats | None,
            task: Role | None, taken: set[str]) -> None:
    """A run id field named so is the run id; a numeric one, or a task id, is one only within its file."""
    if run is not None and run.only("str") and not all(w.isdigit() for w in run.words):
        inference.run_id, inference.run_why = run.path, f"run id (name); {_describe(run, inference.rows)}"
        return
    if run is not None:
        inference.run_id = "{file_stem}:{" + run.path + "}"
        inference.run_why = (f"run id (name), numbered within its file, so the file's stem is part of it; "
                             f"{_describe(run, inference.rows)}")
        return
    if task is None:
        inference.run_why = "no run or task id found: each record is a run of its own"
        return
    attempt = _best(stats, ATTEMPT, taken | {task.path}, lambda s: _id_like(s, inference.rows))
    suffix = ":{" + attempt.path + "}" if attempt is not None else ""
    inference.run_id = "{file_stem}:{" + task.path + "}" + suffix
    inference.run_why = ("one run per task" + (f" and {attempt.path}" if attempt else "") + " in each file: the "
                         "same task id in two files (two strategies on one benchmark) is two runs")
