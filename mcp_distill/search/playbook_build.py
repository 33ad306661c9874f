"""Building one playbook from the scored runs of one pattern: what worked, what failed, the routing,
the recovery, the acceptance criteria. Pure."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from mcp_distill.models import Playbook
from mcp_distill.search.patterns import NO_HARNESS, Harness, RunView, playbook_id, strip_template, words

#: Most items kept per list field: playbooks are read mid-task, so they stay short.
MAX_ITEMS = 8
def _top(counter: Counter[str], n: int = MAX_ITEMS) -> list[str]:
    return [item for item, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n] if item]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Accepted runs quoted in a playbook's examples, and how long a quote may be.
MAX_EXAMPLES = 3
EXAMPLE_CHARS = 280


def example_of(run: RunView) -> str | None:
    """How the run solved it, in a few words: a distilled procedure, else a finding, else its output."""
    texts = [r.text for r in run.records if r.text and "procedure" in r.stream]
    texts += [r.text for r in run.records if r.text and len(r.text) > 40]
    texts += [r.output_text for r in run.records if r.output_text]
    return _short(texts[0], EXAMPLE_CHARS) if texts else None


def build_playbook(key: str, runs: list[RunView], created_at: datetime,
                   harness: Harness = NO_HARNESS) -> Playbook | None:
    """One group's playbook, or None when no run of the group was accepted. Pure.

    ``harness`` is what the loops wrap every task in (patterns.harness_of): the problem pattern's
    keywords come from the task without it, or a harness's instructions ("command", "step") and tags
    ("task") would name every playbook alike and the keyword leg could not tell them apart."""
    runs = sorted(runs, key=lambda r: r.run_key)
    accepted = [r for r in runs if r.category == "accepted"]
    if not accepted:
        return None
    rejected = [r for r in runs if r.category == "rejected"]
    scored = [r for r in runs if r.category in ("accepted", "partially_accepted", "rejected")]
    task_type, subj = key.split("|", 1)

    worked, failed = _commands(runs)
    context = Counter(_short(c, 120) for r in accepted for rec in r.records for c in rec.retrieved_context)
    files = Counter(f for r in accepted for rec in r.records for f in [rec.file_path, *rec.source_files] if f)
    checks = Counter(v.name for r in accepted for rec in r.records for v in rec.validation_results if v.passed)
    criteria = Counter(_short(v["detail"]) for r in accepted for v in r.votes if v.get("vote") == "positive")
    failures = _failures(rejected)
    best_path, late_attempts = _routing(accepted)
    recovery, threshold = _recovery(late_attempts, best_path, len(accepted), bool(rejected), failures)

    # each text without the template on its own: joined first, a prompt's last line and a note's first
    # would be one line that no template line equals
    text_words = Counter(w for r in accepted for rec in r.records
                         for w in words(" ".join(strip_template(t, harness.lines)
                                                 for t in (rec.input_text, rec.text) if t)[:4000])
                         if w not in harness.words)
    keywords = _top(text_words, 5)
    problem = f"{task_type} on {subj}" + (f": {', '.join(keywords)}" if keywords else "")
    last_seen = max((r.last_seen for r in runs if r.last_seen), default=None)
    tags = sorted({task_type, subj, *best_path} - {""})
    return Playbook(
        playbook_id=playbook_id(key),
        task_type=task_type,
        problem_pattern=problem,
        title=f"{task_type}: {subj}",
        useful_context=_top(context),
        model_routing_path=best_path,
        commands_worked=_top(worked),
        commands_failed=_top(failed),
        validation_steps=_top(checks),
        repo_files_touched=_top(files),
        recovery_strategy=recovery,
        known_failure_modes=_top(failures),
        escalation_threshold=threshold,
        acceptance_criteria=_top(criteria),
        examples=list(dict.fromkeys(e for e in map(example_of, accepted) if e))[:MAX_EXAMPLES],
        source_run_ids=[r.run_key for r in accepted],
        tags=tags,
        success_count=len(accepted),
        attempt_count=len(scored),
        success_rate=round(len(accepted) / len(scored), 4) if scored else 0.0,
        last_seen=last_seen,
        created_at=created_at,
    )


def _commands(runs: list[RunView]) -> tuple[Counter[str], Counter[str]]:
    """Commands that worked in accepted runs, and commands that failed in any run."""
    worked: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for run in runs:
        for rec in run.records:
            for cmd in rec.commands_run:
                bad = cmd.ok is False or (cmd.exit_code not in (None, 0))
                if bad:
                    failed[_short(cmd.command, 160)] += 1
                elif run.category == "accepted":
                    worked[_short(cmd.command, 160)] += 1
    return worked, failed


def _failures(rejected: list[RunView]) -> Counter[str]:
    """Why runs were rejected: negative votes and failure markers."""
    failures: Counter[str] = Counter()
    for run in rejected:
        for v in run.votes:
            if v.get("vote") == "negative":
                failures[_short(v["detail"])] += 1
        for rec in run.records:
            failures.update(_short(m) for m in rec.failure_markers)
    return failures


def _routing(accepted: list[RunView]) -> tuple[list[str], list[int]]:
    """The most common order of models in accepted runs, and the attempts they were accepted on."""
    routing: Counter[tuple[str, ...]] = Counter()
    late_attempts: list[int] = []
    for run in accepted:
        ordered = sorted((r for r in run.records if r.model_name), key=lambda r: (r.timestamp is None, r.timestamp))
        path: list[str] = []
        for rec in ordered:
            if rec.model_name not in path:
                path.append(rec.model_name)
            if rec.signals.accepted_on_attempt:
                late_attempts.append(rec.signals.accepted_on_attempt)
        if path:
            routing[tuple(path)] += 1
    best_path = list(sorted(routing.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]) if routing else []
    return best_path, late_attempts


def _recovery(late_attempts: list[int], best_path: list[str], n_accepted: int, any_rejected: bool,
              failures: Counter[str]) -> tuple[str | None, str | None]:
    """The recovery strategy and the escalation threshold the attempts and the routing suggest."""
    recovery = None
    if late_attempts and max(late_attempts) > 1:
        recovery = (f"Accepted on attempt {min(a for a in late_attempts if a > 1)}-{max(late_attempts)} in "
                    f"{sum(a > 1 for a in late_attempts)} of {n_accepted} accepted run(s): retry with the "
                    "reviewer's findings" + (f", escalating {' -> '.join(best_path)}" if len(best_path) > 1 else ""))
    elif len(best_path) > 1:
        recovery = f"Escalate models in order: {' -> '.join(best_path)}"
    threshold = None
    if late_attempts:
        threshold = f"escalate after {max(late_attempts) - 1 if max(late_attempts) > 1 else 1} failed attempt(s)"
    elif any_rejected:
        threshold = f"needs a human after a rejection like: {_top(failures, 1)[0]}" if failures else None
    return recovery, threshold
