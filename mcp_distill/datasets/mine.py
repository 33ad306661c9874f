"""What the datasets are mined from: a scored run's records, its output and input, task keys and splits.

Everything in the mining modules (this one, :mod:`~mcp_distill.datasets.sft`,
:mod:`~mcp_distill.datasets.preference`, :mod:`~mcp_distill.datasets.rag`) is pure: it reads a run's
evidence records (the JSON of the ``evidence.data`` column, as dicts) and returns rows;
:mod:`mcp_distill.datasets.build` streams runs through it, redacts, dedups
(:mod:`~mcp_distill.datasets.dedup`) and writes. :mod:`mcp_distill.datasets.validate` re-derives task
keys and splits with the same functions, from the store, to check what was written.

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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp_distill.datasets.neardup import exact_key, normalize

Split = Literal["train", "validation"]
Rec = dict[str, Any]

#: Share of tasks (not rows) that go to the validation split.
VALIDATION_FRACTION = 0.10
#: Model roles whose output is about another model's answer, not the run's answer.
AUXILIARY_ROLES = frozenset({"classifier", "overseer", "extractor", "verifier", "categorizer", "embedder", "judge"})
#: Streams whose output_text is not the run's answer (consensus rationales are mined on their own).
NON_OUTPUT_STREAMS = frozenset({"audit_discrepancies", "classifications"})


def text_digest(text: str) -> bytes:
    """Identity of a text for memoised scans and dedup (blake2b-128 of its UTF-8)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def split_for(task_key: str) -> Split:
    """Deterministic split of a task: the same key always lands in the same split."""
    h = int.from_bytes(hashlib.sha256(task_key.encode("utf-8")).digest()[:8], "big")
    return "validation" if h < int(VALIDATION_FRACTION * 2**64) else "train"


def nonblank(value: Any) -> str | None:
    """``value`` when it is a string with more than whitespace, else None."""
    return value if isinstance(value, str) and value.strip() else None


def task_key(task_id: str | None, task_type: str | None, file_path: str | None, input_text: str | None) -> str | None:
    """The task key from a record's fields (see the module doc); None when nothing identifies it."""
    if task_id:
        return f"task:{task_id}"
    if file_path:
        return f"file:{task_type or ''}|{file_path}"
    if nonblank(input_text):
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


def record_order(rec: Rec) -> tuple[float, str]:
    """Records in time order (no timestamp first), ties by record id."""
    epoch = rec.get("_epoch")
    return (epoch if epoch is not None else float("-inf"), rec["record_id"])


def is_output_candidate(rec: Rec) -> bool:
    return (nonblank(rec.get("output_text")) is not None and rec.get("stream") not in NON_OUTPUT_STREAMS
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
                self.output = max(at, key=record_order)
                return
        self.output = max(candidates, key=record_order) if candidates else None

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
        if nonblank(of.get("input_text")):
            return of
        key = record_task_key(of)
        found = [r for r in self.records if nonblank(r.get("input_text")) and r.get("stream") not in NON_OUTPUT_STREAMS
                 and str(r.get("model_role") or "").lower() not in AUXILIARY_ROLES and record_task_key(r) == key]
        return max(found, key=record_order) if found else None


def user_turn(input_rec: Rec, output_rec: Rec | None = None) -> str:
    """The task input as one user message: file and retrieved context (unless the prompt has them), then the prompt."""
    prompt = input_rec["input_text"]
    parts: list[str] = []
    file_path = input_rec.get("file_path") or (output_rec or {}).get("file_path")
    if file_path and file_path not in prompt:
        parts.append(f"File: {file_path}")
    context = [c for c in input_rec.get("retrieved_context") or [] if nonblank(c) and c not in prompt]
    if context:
        parts.append("Context:\n" + "\n".join(f"- {c}" for c in context))
    parts.append(prompt)
    return "\n\n".join(parts)


def system_text(view: RunView, input_rec: Rec) -> str | None:
    for rec in (view.output, input_rec, *view.records):
        if rec is not None and nonblank(rec.get("system_text")):
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
