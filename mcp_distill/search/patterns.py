"""Which runs share a playbook: each scored run's pattern key (task type + subject) and the playbook id
it gives. Pure."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mcp_distill.models import EvidenceRecord

#: Content words that name a pattern when nothing structural does.
PATTERN_WORDS = 3
_WORD = re.compile(r"[a-z][a-z0-9_]{2,}")
_STOP = frozenset(
    "the and for with that this from are was were has have not but all any can its into out our you your "
    "they them then than there their will would should could been being also only more most such when where "
    "which while what who how why use used using run runs ran file files code line lines fix fixed issue "
    "error errors test tests make made new one two get set add added none null true false".split()
)


@dataclass
class RunView:
    run_key: str
    category: str
    reasons: list[str]
    votes: list[dict[str, Any]]
    records: list[EvidenceRecord] = field(default_factory=list)

    @property
    def task_type(self) -> str:
        for r in self.records:
            if r.task_type:
                return r.task_type
        return self.records[0].stream if self.records else "unknown"

    def first(self, attr: str) -> Any:
        for r in self.records:
            value = getattr(r, attr)
            if value:
                return value
        return None

    @property
    def last_seen(self) -> datetime | None:
        stamps = [r.timestamp for r in self.records if r.timestamp]
        return max(stamps) if stamps else None


def task_text(run: RunView) -> str:
    """The run's task as the agent was given it: its longest prompt (a classifier's or a router's
    copy is often only the first lines), else its longest text."""
    prompts = [r.input_text for r in run.records if r.input_text]
    if prompts:
        return max(prompts, key=len)
    texts = [r.text for r in run.records if r.text]
    return max(texts, key=len) if texts else ""


#: A prompt line repeated verbatim in the task texts of this many different patterns is the harness's
#: template (its instructions, its output format), not the task: three kinds of task that share a line
#: share it because one loop wrapped them all. Lines of fewer than TEMPLATE_MIN_WORDS words are never
#: template lines (a heading or a code fence says nothing either way).
TEMPLATE_MIN_PATTERNS = 3
TEMPLATE_MIN_WORDS = 3


def _line_key(line: str) -> str:
    return " ".join(line.lower().split())


def template_lines(groups: dict[str, list[RunView]], min_patterns: int = TEMPLATE_MIN_PATTERNS) -> frozenset[str]:
    """The normalised lines that recur in the task texts of at least ``min_patterns`` patterns."""
    seen: dict[str, set[str]] = {}
    for key, runs in groups.items():
        for run in runs:
            for line in {_line_key(line) for line in task_text(run).splitlines()}:
                if len(line.split()) >= TEMPLATE_MIN_WORDS:
                    seen.setdefault(line, set()).add(key)
    return frozenset(line for line, keys in seen.items() if len(keys) >= min_patterns)


#: A word in the template-free task texts of more than this share of the patterns (when there are at
#: least TEMPLATE_MIN_PATTERNS of them) names no pattern: a harness's tag (``<task>``, too short to be a
#: template line) or the loop's whole domain. A playbook's keywords leave such words out.
SHARED_WORD_SHARE = 0.5


def shared_words(groups: dict[str, list[RunView]], template: frozenset[str]) -> frozenset[str]:
    """The words that the task texts (template lines left out) of most patterns have in common."""
    if len(groups) < TEMPLATE_MIN_PATTERNS:
        return frozenset()
    patterns_with: Counter[str] = Counter()
    for runs in groups.values():
        patterns_with.update({w for run in runs for w in words(strip_template(task_text(run), template))})
    return frozenset(w for w, n in patterns_with.items() if n > SHARED_WORD_SHARE * len(groups))


@dataclass(frozen=True)
class Harness:
    """What the loops wrap every task in: template lines (left out of searches and of a playbook's
    keywords) and the words most patterns' tasks share (left out of the keywords)."""

    lines: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()


#: No harness known (a store extracted before they were kept, an ablation).
NO_HARNESS = Harness()


def harness_of(groups: dict[str, list[RunView]]) -> Harness:
    lines = template_lines(groups)
    return Harness(lines, shared_words(groups, lines))


def strip_template(text: str, template: frozenset[str]) -> str:
    """``text`` without its template lines; the text itself when nothing else would remain."""
    if not template:
        return text
    kept = [line for line in text.splitlines() if _line_key(line) not in template]
    rest = "\n".join(kept)
    return rest if rest.strip() else text


#: The vector leg embeds a prompt without its template only when the template is more than this share
#: of the prompt's words. Below it, the template is the loop's framing of the task (its role, its mode),
#: which tells task types apart (the generated KBs, whose templates are 24-50% of a prompt, lose top-1 when
#: it is dropped); above it, the template drowns the task in the averaged embedding (the real SWE-bench
#: prompts, 66-83% instructions). The keyword leg always searches without the template: its words are in
#: no playbook's own text, only in other prompts.
TEMPLATE_DOMINANT_SHARE = 0.5


@dataclass(frozen=True)
class PromptParts:
    """A task prompt as each leg of a playbook search reads it."""

    keyword_text: str
    vector_text: str
    words: int
    template_words: int


def split_prompt(text: str, template: frozenset[str]) -> PromptParts:
    """What the keyword and the vector leg search for, given the harness's template lines (pure)."""
    stripped = strip_template(text, template)
    total, kept = len(text.split()), len(stripped.split())
    dominant = total > 0 and total - kept > TEMPLATE_DOMINANT_SHARE * total
    return PromptParts(keyword_text=stripped, vector_text=stripped if dominant else text, words=total,
                       template_words=total - kept)


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


#: Folders that only say where an agent's sandbox or a user's home is, never which component:
#: left out of a path's component (``/workspace/app/x.py`` -> ``app``).
SANDBOX_DIRS = frozenset({"workspace", "testbed", "repo", "tmp", "mnt", "code", "project"})
_ID_SPLIT = re.compile(r"[-_/#:.@\s]+")


def component(path: str) -> str | None:
    """The component a file belongs to: its top two folders (``crates/gateway``) or its folder,
    with sandbox roots and home folders (``/home/USER``, ``/Users/name``) left out; None when
    nothing but a bare file name in a sandbox remains (no component to speak of)."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p and p != "."]
    sandboxed = False
    if len(parts) > 2 and parts[0].lower() in ("home", "users"):
        parts, sandboxed = parts[2:], True
    while parts and parts[0].lower() in SANDBOX_DIRS:
        parts, sandboxed = parts[1:], True
    if not parts or (sandboxed and len(parts) == 1):
        return None
    return "/".join(parts[:2]) if len(parts) > 2 else "/".join(parts[:-1]) or parts[-1]


def task_family(task_id: str) -> str | None:
    """What a task id says about the *kind* of task, without its instance number: the leading
    non-numeric parts when a number follows (``django__django-11099`` -> ``django``,
    ``HumanEval/0`` -> ``HumanEval``, ``mbpp_234_volume_cube`` -> ``mbpp``, ``CHI-BLD-1581469`` ->
    ``CHI-BLD``), else its first part (``safety-exfiltration`` -> ``safety``); None for an opaque
    id (a UUID, a hash)."""
    tokens = [t for t in _ID_SPLIT.split(str(task_id)) if t]
    head: list[str] = []
    for token in tokens:
        if any(c.isdigit() for c in token):
            break
        if not head or head[-1].casefold() != token.casefold():
            head.append(token)
    if not head:
        return None
    numbered = len(head) < len(tokens)
    return "-".join(head[:3]) if numbered else head[0]


def subject(run: RunView) -> str:
    """The structural subject of a run (see module docstring): the component of the file it
    worked on, else the family of its task id, else its three most frequent content words."""
    file_path = run.first("file_path") or next((f for r in run.records for f in r.source_files), None)
    if file_path and (part := component(str(file_path))):
        return part
    task_id = run.first("task_id")
    if task_id and (family := task_family(str(task_id))):
        return family
    text = " ".join(filter(None, (run.first("input_text"), run.first("text"), run.first("output_text"))))
    top = [w for w, _ in sorted(Counter(words(text)).items(), key=lambda kv: (-kv[1], kv[0]))[:PATTERN_WORDS]]
    return " ".join(sorted(top)) or "general"


def pattern_key(run: RunView) -> str:
    return f"{run.task_type}|{subject(run)}"


def playbook_id(key: str) -> str:
    return "pb-" + hashlib.sha256(key.encode()).hexdigest()[:12]
