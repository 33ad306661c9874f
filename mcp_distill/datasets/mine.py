"""Dataset Builder, part 2: what a run contributes to each dataset, and preference mining.

Everything here is pure: it reads a run's evidence records (the JSON of the ``evidence.data``
column, as dicts) and returns rows; :mod:`mcp_distill.datasets.build` streams runs through it, redacts,
dedups and writes. :mod:`mcp_distill.datasets.validate` re-derives task keys and splits with the
same functions, from the store, to check what was written.

Terms
-----
* **Task key** of a record: ``task:<task_id>``; else ``file:<task_type>|<file_path>``; else
  ``input:<sha256 of the normalised input_text>``. A run's task key is the key of its output
  record. Both sides of a preference pair always have the same task key, taken from the records
  themselves, so a wrong run join can never pair answers to different tasks.
* **Output record** of a run: among records with an ``output_text`` that are not auxiliary
  (classifier, overseer, extractor, verifier... roles; consensus rationales), the record of the
  accepted attempt when ``signals.accepted_on_attempt`` names one and a record carries that
  attempt number (``extra.attempt``); else the latest by timestamp (ties: record id).
* **Split**: ``validation`` when the first 8 bytes of sha256(task key) fall in the lowest
  :data:`VALIDATION_FRACTION` of the range, else ``train``: one task never lands in both.

Mining rules (preference pairs)
-------------------------------
1. ``attempts``, within one run: a run scored accepted or partially_accepted whose records say it
   was accepted on attempt N: the attempt-N output is chosen, each earlier attempt's output (same
   task key) is rejected.
2. ``attempts`` / ``override``, across runs: runs grouped by task key; accepted runs' outputs are
   chosen, rejected runs' outputs are rejected, paired round-robin (max(|accepted|, |rejected|)
   pairs, at most :data:`MAX_PAIRS_PER_TASK`). The source is ``override`` when either run carries
   a human override, else ``attempts``. The prompt is the chosen run's.
3. ``consensus``: an ``audit_discrepancies``-style record with a split vote (votes for and against
   both > 0): the majority's rationale (``output_text``) is chosen, the losing one
   (``extra.rejected``, else a dissenting vote's rationale) rejected. Skipped when the run has a
   human override (the person's decision supersedes the vote) or is needs_human_review.
Both sides must differ after normalisation (:func:`mcp_distill.datasets.neardup.normalize`), and be two
pieces of evidence (:func:`pair_problem`): never one source line on both sides, and within one run
only two different attempts of it. So a consensus candidate, whose two rationales are one record, is
counted and dropped (``pairs_dropped_one_source_line`` in the receipt), never written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp_distill.datasets.neardup import DedupIndex, exact_key, normalize

Split = Literal["train", "validation"]
Rec = dict[str, Any]

#: Share of tasks (not rows) that go to the validation split.
VALIDATION_FRACTION = 0.10
#: Cap on cross-run pairs per task, so one hot task cannot dominate the preference set.
MAX_PAIRS_PER_TASK = 8
#: RAG chunks are cut at paragraph, then line, then hard boundaries to at most this many characters.
CHUNK_CHARS = 1500
#: Texts shorter than this (after stripping) are not worth a RAG chunk.
MIN_CHUNK_CHARS = 20
#: Model roles whose output is about another model's answer, not the run's answer.
AUXILIARY_ROLES = frozenset({"classifier", "overseer", "extractor", "verifier", "categorizer", "embedder", "judge"})
#: Streams whose output_text is not the run's answer (consensus rationales are mined on their own).
NON_OUTPUT_STREAMS = frozenset({"audit_discrepancies", "classifications"})
#: Streams whose text is a fingerprint or a label, not knowledge worth retrieving.
RAG_SKIP_STREAMS = frozenset({"signatures", "classifications"})
#: Tool calls kept in one SFT row (the last ones before the answer), so one long trace stays one sane row.
MAX_TOOL_CALLS = 64
#: A function name tool-calling templates accept (models.datasets.TOOL_NAME).
TOOL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
#: CommandRun kinds, the function name of a call whose tool is not named.
COMMAND_KINDS = ("shell", "tool", "edit", "other")
#: What follows the first word of a recorded call when the call is code, not ``<tool> <input>``.
CODE_CONTINUATIONS = ("=", "(", ".", "[", "+=", ":")
#: Reasons of :func:`pair_problem`.
PAIR_PROBLEMS = ("one_source_line", "one_run_without_attempts")
#: Categories whose accepted attempt may be the chosen side of a within-run attempt pair.
ATTEMPT_CATEGORIES = frozenset({"accepted", "partially_accepted"})


def text_digest(text: str) -> bytes:
    """Identity of a text for memoised scans and dedup (blake2b-128 of its UTF-8)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def split_for(task_key: str) -> Split:
    """Deterministic split of a task: the same key always lands in the same split."""
    h = int.from_bytes(hashlib.sha256(task_key.encode("utf-8")).digest()[:8], "big")
    return "validation" if h < int(VALIDATION_FRACTION * 2**64) else "train"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def task_key(task_id: str | None, task_type: str | None, file_path: str | None, input_text: str | None) -> str | None:
    """The task key from a record's fields (see the module doc); None when nothing identifies it."""
    if task_id:
        return f"task:{task_id}"
    if file_path:
        return f"file:{task_type or ''}|{file_path}"
    if _text(input_text):
        return f"input:{exact_key(input_text)[:32]}"  # type: ignore[arg-type]
    return None


def record_task_key(rec: Rec) -> str | None:
    return task_key(rec.get("task_id"), rec.get("task_type"), rec.get("file_path"), rec.get("input_text"))


def provenance(rec: Rec) -> dict[str, Any]:
    return dict(rec["provenance"])


def differ(a: str, b: str) -> bool:
    """True when two texts still differ after normalisation (case, punctuation, whitespace)."""
    return normalize(a) != normalize(b)


def attempt_of(rec: Rec) -> int | None:
    value = (rec.get("extra") or {}).get("attempt")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _order(rec: Rec) -> tuple[float, str]:
    epoch = rec.get("_epoch")
    return (epoch if epoch is not None else float("-inf"), rec["record_id"])


def is_output_candidate(rec: Rec) -> bool:
    return (_text(rec.get("output_text")) is not None and rec.get("stream") not in NON_OUTPUT_STREAMS
            and str(rec.get("model_role") or "").lower() not in AUXILIARY_ROLES)


@dataclass
class RunView:
    """One scored run and the records the store joined under it (ordered by time, then id)."""

    run_key: str
    category: str
    scorer_version: str
    records: list[Rec]
    output: Rec | None = field(init=False, default=None)
    accepted_attempt: int | None = field(init=False, default=None)
    attempt_conflict: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        claimed = {r["signals"]["accepted_on_attempt"] for r in self.records
                   if isinstance((r.get("signals") or {}).get("accepted_on_attempt"), int)
                   and r["signals"]["accepted_on_attempt"] >= 1}
        if len(claimed) == 1:
            self.accepted_attempt = claimed.pop()
        self.attempt_conflict = len(claimed) > 1  # records disagree: trust no attempt number
        candidates = [r for r in self.records if is_output_candidate(r)]
        if self.accepted_attempt is not None:
            at = [r for r in candidates if attempt_of(r) == self.accepted_attempt]
            if at:
                self.output = max(at, key=_order)
                return
        self.output = max(candidates, key=_order) if candidates else None

    @property
    def overridden(self) -> bool:
        return any(r.get("human_override") for r in self.records)

    @property
    def task_key(self) -> str | None:
        return record_task_key(self.output) if self.output else None

    def input_record(self, of: Rec | None = None) -> Rec | None:
        """The record holding the input of ``of`` (default: the output record): itself when it has
        one, else the latest other record of the same task key; a prompt of another task never
        joins an answer, whatever the run join did."""
        of = of if of is not None else self.output
        if of is None:
            return None
        if _text(of.get("input_text")):
            return of
        key = record_task_key(of)
        found = [r for r in self.records if _text(r.get("input_text")) and r.get("stream") not in NON_OUTPUT_STREAMS
                 and str(r.get("model_role") or "").lower() not in AUXILIARY_ROLES and record_task_key(r) == key]
        return max(found, key=_order) if found else None


# --- SFT ----------------------------------------------------------------------------------------


def user_turn(input_rec: Rec, output_rec: Rec | None = None) -> str:
    """The task input as one user message: file and retrieved context (unless the prompt has them), then the prompt."""
    prompt = input_rec["input_text"]
    parts: list[str] = []
    file_path = input_rec.get("file_path") or (output_rec or {}).get("file_path")
    if file_path and file_path not in prompt:
        parts.append(f"File: {file_path}")
    context = [c for c in input_rec.get("retrieved_context") or [] if _text(c) and c not in prompt]
    if context:
        parts.append("Context:\n" + "\n".join(f"- {c}" for c in context))
    parts.append(prompt)
    return "\n\n".join(parts)


def system_text(view: RunView, input_rec: Rec) -> str | None:
    for rec in (view.output, input_rec, *view.records):
        if rec is not None and _text(rec.get("system_text")):
            return rec["system_text"]
    return None


@dataclass
class Candidate:
    """A row before redaction, dedup and schema validation."""

    row: dict[str, Any]
    split: Split
    key: str
    #: Texts that identify the row for dedup, one per field (a row is a duplicate when every field is).
    texts: tuple[str, ...]


def sft_row(view: RunView) -> tuple[Candidate | None, str | None]:
    """The SFT row of an accepted run, or (None, reason it has none)."""
    if view.category != "accepted":
        return None, "not_accepted"
    out = view.output
    if out is None:
        return None, "no_output"
    input_rec = view.input_record()
    if input_rec is None:
        return None, "no_input"
    key = record_task_key(out)
    if key is None:
        return None, "no_task_key"
    user = user_turn(input_rec, out)
    messages = []
    system = system_text(view, input_rec)
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    turns, tools, tool_recs = tool_turns(view, out, key)
    messages += [*turns, {"role": "assistant", "content": out["output_text"]}]
    provs = [provenance(out)]
    if input_rec is not out:
        provs.append(provenance(input_rec))
    provs += [provenance(r) for r in tool_recs if r is not out and r is not input_rec]
    split = split_for(key)
    row: dict[str, Any] = {"messages": messages, **({"tools": tools} if tools else {}), "metadata": {
        "run_id": view.run_key, "task_type": out.get("task_type") or input_rec.get("task_type"),
        "model": out.get("model_name"), "category": "accepted", "scorer_version": view.scorer_version,
        "split": split, "provenance": provs}}
    return Candidate(row, split, view.run_key, (user, out["output_text"])), None


# --- tool calls (TRL's tool-calling SFT shape) ---------------------------------------------------


def _tool_call(command: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(function name, arguments) of a recorded CommandRun. Adapters record a call as text: a shell
    command as it ran (-> ``shell`` with ``command``), any other call as ``<tool name> <its input>``
    (-> that name with ``input``; a first word that is no function name -> the call's kind)."""
    text, kind = command.get("command") or "", command.get("kind") or "other"
    if kind == "shell":
        return "shell", {"command": text}
    name, _, rest = text.partition(" ")
    name = name.lstrip("/")  # aider's /run, /test...
    # a code cell (``x = ...``, ``open_file(...)``) is recorded as its code: its first word names no tool
    if not TOOL_NAME_RE.match(name) or rest.lstrip().startswith(CODE_CONTINUATIONS):
        return kind, {"input": text}
    return name, {"input": rest.strip()}


def _tool_result(command: dict[str, Any]) -> str:
    """What the call returned as the trace kept it, else its status."""
    if _text(command.get("output_excerpt")):
        return command["output_excerpt"]
    if command.get("exit_code") is not None:
        return f"exit code {command['exit_code']}"
    return {True: "ok", False: "failed"}.get(command.get("ok"), "(no output recorded)")


def _tool_spec(name: str, argument: str) -> dict[str, Any]:
    what = ("Run a shell command" if name == "shell" else
            f"An unnamed {name} call, its input as the trace recorded it" if name in COMMAND_KINDS else
            f"The {name} tool, its input as the agent's trace recorded it")
    return {"type": "function", "function": {"name": name, "description": what, "parameters": {
        "type": "object", "properties": {argument: {"type": "string"}}, "required": [argument]}}}


def tool_turns(view: RunView, out: Rec, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Rec]]:
    """The run's tool calls before its answer, as TRL tool-calling messages: per call an assistant message
    with ``tool_calls`` and a ``tool`` message with the result; the ``tools`` they use; the records they came
    from. Only records of the answer's task, no auxiliary roles, no attempt the run rejected; at most
    :data:`MAX_TOOL_CALLS` calls (the last ones, nearest the answer)."""
    turns: list[dict[str, Any]] = []
    specs: dict[str, dict[str, Any]] = {}
    recs: list[Rec] = []
    for rec in sorted(view.records, key=_order):
        if _order(rec) > _order(out):
            break
        attempt = attempt_of(rec)
        if (not rec.get("commands_run") or record_task_key(rec) != key
                or str(rec.get("model_role") or "").lower() in AUXILIARY_ROLES
                or (attempt is not None and view.accepted_attempt is not None and attempt < view.accepted_attempt)):
            continue
        recs.append(rec)
        for command in rec["commands_run"]:
            name, args = _tool_call(command)
            specs.setdefault(name, _tool_spec(name, next(iter(args))))
            turns.append({"role": "assistant", "tool_calls": [{"type": "function", "function": {
                "name": name, "arguments": args}}]})
            turns.append({"role": "tool", "name": name, "content": _tool_result(command)})
    turns = turns[-2 * MAX_TOOL_CALLS:]
    used = {t["name"] for t in turns if t["role"] == "tool"}
    return turns, [specs[n] for n in sorted(used)], recs


# --- preference ---------------------------------------------------------------------------------


def pref_row(prompt: str, chosen: Rec, rejected: Rec, source: str, key: str, chosen_run: str,
             rejected_run: str, scorer_version: str, chosen_text: str | None = None,
             rejected_text: str | None = None, extra_prov: list[dict[str, Any]] | None = None,
             attempts: tuple[int, int] | None = None) -> Candidate:
    """A preference row; provenance[0] is the chosen side's record, provenance[1] the rejected side's;
    ``attempts``: (chosen, rejected) attempt numbers of a pair inside one run."""
    c_text = chosen_text if chosen_text is not None else chosen["output_text"]
    r_text = rejected_text if rejected_text is not None else rejected["output_text"]
    split = split_for(key)
    provs = [provenance(chosen), provenance(rejected), *(extra_prov or [])]
    row = {"prompt": prompt, "chosen": c_text, "rejected": r_text, "metadata": {
        "task_key": key, "source": source, "chosen_run_id": chosen_run, "rejected_run_id": rejected_run,
        "chosen_attempt": attempts[0] if attempts else None, "rejected_attempt": attempts[1] if attempts else None,
        "split": split, "scorer_version": scorer_version, "provenance": provs}}
    return Candidate(row, split, f"{chosen['record_id']}>{rejected['record_id']}", (prompt, c_text, r_text))


def attempt_pairs(view: RunView) -> Iterator[Candidate]:
    """Rule 1: the accepted attempt against each earlier attempt of the same run and task."""
    if view.category not in ATTEMPT_CATEGORIES or view.accepted_attempt is None or view.attempt_conflict:
        return
    chosen = view.output
    if chosen is None or attempt_of(chosen) != view.accepted_attempt:
        return
    key = record_task_key(chosen)
    input_rec = view.input_record(chosen)
    if key is None or input_rec is None:
        return
    prompt = user_turn(input_rec, chosen)
    earlier = sorted((r for r in view.records if is_output_candidate(r) and (attempt_of(r) or 0) >= 1
                      and attempt_of(r) < view.accepted_attempt),  # type: ignore[operator]
                     key=lambda r: (attempt_of(r), _order(r)))
    for rejected in earlier:
        if record_task_key(rejected) != key or not differ(chosen["output_text"], rejected["output_text"]):
            continue
        extra = [provenance(input_rec)] if input_rec is not chosen else None
        yield pref_row(prompt, chosen, rejected, "attempts", key, view.run_key, view.run_key,
                       view.scorer_version, extra_prov=extra, attempts=(view.accepted_attempt, attempt_of(rejected)))


def pair_problem(row: dict[str, Any]) -> str | None:
    """Why a candidate pair is not two pieces of evidence (None when it is): ``one_source_line`` when chosen
    and rejected trace to the same line, ``one_run_without_attempts`` when they are of one run but not two
    different attempts of it."""
    meta = row["metadata"]
    chosen, rejected = meta["provenance"][0], meta["provenance"][1]
    if (chosen["source_file"], chosen["line_offset"]) == (rejected["source_file"], rejected["line_offset"]):
        return "one_source_line"
    attempts = (meta.get("chosen_attempt"), meta.get("rejected_attempt"))
    if meta["chosen_run_id"] == meta["rejected_run_id"] and (None in attempts or attempts[0] == attempts[1]):
        return "one_run_without_attempts"
    return None


def _losing_rationale(rec: Rec, chosen: str) -> str | None:
    extra = rec.get("extra") or {}
    if _text(extra.get("rejected")) and differ(extra["rejected"], chosen):
        return extra["rejected"]
    verdict = str((rec.get("signals") or {}).get("verdict") or "").lower()
    for vote in extra.get("votes") or []:
        if not isinstance(vote, dict):
            continue
        why = vote.get("rationale") or vote.get("reason")
        if _text(why) and str(vote.get("verdict") or "").lower() != verdict and differ(why, chosen):
            return why
    return None


def consensus_pairs(view: RunView) -> Iterator[tuple[Candidate | None, str | None]]:
    """Rule 3: split votes; yields (row, None) or (None, reason skipped)."""
    for rec in view.records:
        signals = rec.get("signals") or {}
        votes_for, votes_against = signals.get("votes_for"), signals.get("votes_against")
        if not votes_for or not votes_against:
            continue
        if view.overridden or view.category == "needs_human_review":
            yield None, "consensus_superseded"
            continue
        chosen, claim = _text(rec.get("output_text")), _text(rec.get("input_text"))
        key = record_task_key(rec)
        losing = _losing_rationale(rec, chosen) if chosen else None
        if not chosen or not claim or not losing or key is None:
            yield None, "consensus_incomplete"
            continue
        pr = rec.get("pr_number")
        head = f" @ {rec['head_sha'][:12]}" if rec.get("head_sha") else ""
        prompt = f"PR #{pr}{head} claims: {claim}" if pr is not None else claim
        yield pref_row(prompt, rec, rec, "consensus", key, view.run_key, view.run_key, view.scorer_version,
                       chosen_text=chosen, rejected_text=losing), None


def cross_run_pairs(accepted: list[str], rejected: list[str]) -> list[tuple[str, str]]:
    """Rule 2's pairing: round-robin over sorted run keys, max(|a|, |r|) pairs, capped."""
    if not accepted or not rejected:
        return []
    n = min(max(len(accepted), len(rejected)), MAX_PAIRS_PER_TASK)
    return [(accepted[i % len(accepted)], rejected[i % len(rejected)]) for i in range(n)]


# --- RAG ----------------------------------------------------------------------------------------


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Cut at paragraph boundaries, then lines, then hard; pieces are packed up to ``limit`` chars."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    for para in text.split("\n\n"):
        if len(para) <= limit:
            pieces.append(para)
            continue
        for line in para.split("\n"):
            pieces.extend(line[i:i + limit] for i in range(0, len(line), limit)) if len(line) > limit \
                else pieces.append(line)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}\n\n{piece}" if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            if current.strip():
                chunks.append(current.strip())
            current = piece
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _rag_row(chunk_id: str, text: str, title: str, tags: list[str], task_type: str | None, kind: str,
             runs: list[str], metadata: dict[str, Any], provs: list[dict[str, Any]]) -> Candidate:
    row = {"id": chunk_id, "text": text, "title": title, "tags": tags, "task_type": task_type, "kind": kind,
           "source_run_ids": runs, "metadata": {k: v for k, v in metadata.items() if v is not None},
           "provenance": provs}
    return Candidate(row, "train", chunk_id, (text,))


def evidence_chunks(view: RunView) -> Iterator[Candidate]:
    """Accepted evidence: the run's output and every record's free text, chunked, with stable ids."""
    if view.category != "accepted":
        return
    for rec in view.records:
        if rec.get("stream") in RAG_SKIP_STREAMS:
            continue
        attempt = attempt_of(rec)
        if attempt is not None and view.accepted_attempt is not None and attempt < view.accepted_attempt:
            continue  # an attempt the run itself rejected
        fields = [("output_text", rec.get("output_text"))] if rec is view.output else []
        fields += [("text", rec.get("text")), ("observer_notes", rec.get("observer_notes"))]
        for name, value in fields:
            if not _text(value) or len(value.strip()) < MIN_CHUNK_CHARS:
                continue
            chunks = chunk_text(value)
            where = rec.get("file_path") or rec.get("task_id") or rec.get("task_type") or view.run_key
            for i, chunk in enumerate(chunks):
                yield _rag_row(
                    f"ev:{rec['record_id']}:{name}:{i}", chunk, f"{rec['stream']}: {where}",
                    sorted({*(rec.get("tags") or []), f"stream:{rec['stream']}"}), rec.get("task_type"),
                    "evidence", [view.run_key],
                    {"stream": rec["stream"], "field": name, "chunk": i, "chunks": len(chunks),
                     "record_id": rec["record_id"], "model": rec.get("model_name"), "file_path": rec.get("file_path"),
                     "task_id": rec.get("task_id"), "timestamp": rec.get("timestamp"),
                     "scorer_version": view.scorer_version},
                    [provenance(rec)])


def _section(title: str, items: list[str] | str | None) -> str | None:
    if not items:
        return None
    if isinstance(items, str):
        return f"{title}: {items}"
    return f"{title}:\n" + "\n".join(f"- {i}" for i in items)


def playbook_text(pb: dict[str, Any]) -> str:
    parts = [pb.get("title") or pb["problem_pattern"], f"Task type: {pb['task_type']}",
             f"Problem: {pb['problem_pattern']}",
             _section("Useful context", pb.get("useful_context")),
             _section("Model routing", pb.get("model_routing_path")),
             _section("Commands that worked", pb.get("commands_worked")),
             _section("Commands that failed", pb.get("commands_failed")),
             _section("Validation steps", pb.get("validation_steps")),
             _section("Files touched", pb.get("repo_files_touched")),
             _section("Recovery strategy", pb.get("recovery_strategy")),
             _section("Known failure modes", pb.get("known_failure_modes")),
             _section("Escalation threshold", pb.get("escalation_threshold")),
             _section("Acceptance criteria", pb.get("acceptance_criteria")),
             _section("Examples", pb.get("examples")),
             f"Success: {pb.get('success_count', 0)} of {pb.get('attempt_count', 0)} attempts"]
    return "\n\n".join(p for p in parts if p)


def playbook_chunks(pb: dict[str, Any], runs: list[str], provs: list[dict[str, Any]]) -> Iterator[Candidate]:
    """A playbook's chunks; ``runs`` are its accepted source runs, ``provs`` their records' provenance."""
    chunks = chunk_text(playbook_text(pb))
    for i, chunk in enumerate(chunks):
        yield _rag_row(
            f"pb:{pb['playbook_id']}:{i}", chunk, pb.get("title") or pb["problem_pattern"],
            sorted({*(pb.get("tags") or []), "kind:playbook"}), pb.get("task_type"), "playbook", runs,
            {"playbook_id": pb["playbook_id"], "chunk": i, "chunks": len(chunks),
             "success_rate": pb.get("success_rate"), "last_seen": pb.get("last_seen")},
            provs)


# --- dedup --------------------------------------------------------------------------------------


class TextCanon:
    """Each text -> the id of its first kept look-alike (exact or near, MinHash J >= 0.85), for all kinds.

    Exact repeats (same normalised text) are answered from a digest map, so each distinct text is
    MinHashed once whichever dataset meets it first.
    """

    def __init__(self) -> None:
        self.index = DedupIndex()
        self.ids: dict[bytes, tuple[int, bool]] = {}  # digest of normalised text -> (canonical id, near)
        self._norm: dict[bytes, bytes] = {}  # digest of the raw text -> digest of its normalised form

    def _digest(self, text: str) -> bytes:
        raw = text_digest(text)
        norm = self._norm.get(raw)
        if norm is None:  # normalising costs more than hashing: do it once per distinct text
            norm = self._norm[raw] = hashlib.sha256(normalize(text).encode("utf-8")).digest()[:16]
        return norm

    def resolve(self, texts: list[str]) -> list[tuple[int, bool, bytes]]:
        digests = [self._digest(t) for t in texts]
        new: dict[bytes, str] = {}
        for digest, text in zip(digests, texts, strict=True):
            if digest not in self.ids and digest not in new:
                new[digest] = text
        if new:
            start = len(self.ids)
            results = self.index.add_many((str(start + i), text) for i, text in enumerate(new.values()))
            for i, (digest, res) in enumerate(zip(new, results, strict=True)):
                self.ids[digest] = (start + i, False) if res is None else (int(res.duplicate_of), True)
        return [(*self.ids[d], d) for d in digests]


class RowDeduper:
    """A row is an exact duplicate when all its texts repeat a kept row's exactly, a near duplicate
    when each maps to the same first look-alike; so a long shared prompt cannot make two different
    answers look alike. First wins; dropped rows add nothing."""

    def __init__(self, canon: TextCanon):
        self.canon = canon
        self.exact: set[bytes] = set()
        self.near: set[tuple[int, ...]] = set()

    def check(self, texts: list[tuple[str, ...]]) -> list[str | None]:
        """For each row: None (kept), ``exact`` or ``near`` (dropped)."""
        width = len(texts[0])
        resolved = self.canon.resolve([t for row in texts for t in row])
        out: list[str | None] = []
        for i in range(len(texts)):
            fields = resolved[i * width:(i + 1) * width]
            exact = hashlib.sha256(b"".join(f[2] for f in fields)).digest()[:16]
            signature = tuple(f[0] for f in fields)
            if exact in self.exact:
                out.append("exact")
            elif signature in self.near:
                out.append("near")
            else:
                self.exact.add(exact)
                self.near.add(signature)
                out.append(None)
        return out


def row_texts(kind: str, row: dict[str, Any]) -> tuple[str, ...]:
    if kind == "sft":
        msgs = row["messages"]
        user = next(m["content"] for m in reversed(msgs) if m["role"] == "user")
        return user, msgs[-1]["content"]
    if kind == "preference":
        return row["prompt"], row["chosen"], row["rejected"]
    return (row["text"],)
