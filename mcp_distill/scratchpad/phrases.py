"""Phrasings people use in notes for a decision, the next command, a test-run result and an exit code.

Pure functions over one line of prose (outside fenced code), used by :mod:`mcp_distill.scratchpad.parse`:

* :func:`decisions_in` -- every decision stated in the line. A decision starts at a deciding phrase
  (``decided to/against/on``, ``we'll go with``, ``going/went with``, ``chose``, ``picked``,
  ``opted for``, ``settled on``, ``agreed (with ...) to``, ``we'll switch to``, ``stick with``,
  ``use/using X instead of Y``), optionally after its subject (``we``, ``I``, ``the team``, with
  ``'ll``/``will``/``have``), and only where a clause starts (line start, after ``. ; : !``, after
  ``, and``): "the request went with a header" is prose. It runs to the end of its sentence or the
  next deciding phrase. A clause holding a question mark is a question, not a decision; a negated
  one (``haven't decided``) never matches, since the phrase then does not start a clause.
* :func:`next_command_in` -- the command of a ``Next:`` / ``Next step:`` / ``Next up:`` / ``Then run:``
  line (also after a sentence: "All green. Next: git push"), when what follows is a command (a
  known executable or an executable path, optionally in backticks). Such a line is the next command,
  not a pending step; a ``Next:`` line that is prose stays a pending step.
* :data:`LABELLED_SUMMARY` -- a test summary after a label ("Ran the suite: 42 passed",
  "Run B (after fixing x.py): 14 passed", "faster here. After the change: 57 passed, 0 failed");
  "request 3 failed" has no label and stays prose.
* :data:`CHECK_RUN` -- which exit codes count as check results (a test, lint, build or CI run).
* :func:`runner_result` -- runner summaries of rspec (``48 examples, 3 failures``), gradle (``3 tests
  completed, 1 failed``, ``BUILD FAILED``), node's test runner (``# pass 9`` / ``# fail 0``), ``dotnet
  test`` (``Passed!  - Failed: 0, Passed: 23``) and npm (``npm ERR! Test failed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SUBJECT = r"(?P<subject>(?<![\w'])(?:we|i|the[ \t]+team)(?:'ll|[ \t]+will|[ \t]+have|[ \t]+had)?[ \t]+)?"
_VERBS = (
    r"decided[ \t]+(?:to|against|on|that)\b",
    r"(?:go|going|went)[ \t]+with\b",
    r"cho(?:se|ose)\b",
    r"picked\b",
    r"opted[ \t]+(?:for|to|against)\b",
    r"settled[ \t]+on\b",
    r"agreed\b(?:[ \t]+with[ \t]+[^.;,:?]{1,40}?)?[ \t]+to\b",
    r"stick[ \t]+with\b",
    r"(?:use|using)\b[^.;?]{1,80}?\binstead[ \t]+of\b",
)
_DECIDING = re.compile(_SUBJECT + "(?:" + "|".join(_VERBS) + ")", re.I)
#: "we'll switch to X" decides; a bare "switched to branch main" is a log line.
_SWITCH = re.compile(r"(?P<subject>(?<![\w'])(?:we|i)(?:'ll|[ \t]+will)[ \t]+)switch[ \t]+to\b", re.I)
_CLAUSE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)[.!](?=[ \t]|$)")
_TRAILING_JOIN = re.compile(r"(?:[,;:]?[ \t]+(?:and|but|so)|[,;:])[ \t]*$", re.I)
_CLAUSE_START = (".", ";", ":", "!", "—", "–", "-", "(")


_CLOCK = re.compile(r"^\[?\d{1,2}:\d{2}(?::\d{2})?\]?$")  # "09:40 we decided ...": a log's time stamp


def _starts_clause(prefix: str) -> bool:
    prefix = prefix.rstrip(" \t*_")
    if not prefix or _CLOCK.match(prefix):
        return True
    if prefix.endswith(_CLAUSE_START):
        return True
    lower = prefix.lower()
    return lower.endswith((", and", " and", ",", ", so", " so", ", but", " but"))


def decisions_in(content: str) -> list[str]:
    """The decisions a line of prose states, each as the text of its clause (see the module doc)."""
    starts = sorted(  # with its subject ("I picked ...") a phrase decides anywhere; without, at a clause start
        m.start() for pattern in (_DECIDING, _SWITCH) for m in pattern.finditer(content)
        if m.group("subject") or _starts_clause(content[:m.start()])
    )
    found: list[str] = []
    covered = -1  # a phrase inside the previous decision's sentence belongs to it
    for i, start in enumerate(starts):
        if start < covered:
            continue
        limit = starts[i + 1] if i + 1 < len(starts) else len(content)
        end_match = _CLAUSE_END.search(content, start, limit)
        covered = end = end_match.start() if end_match else limit
        text = _TRAILING_JOIN.sub("", content[start:end].strip(" \t*_")).strip()
        if text and "?" not in text and len(text.split()) >= 2:
            found.append(text)
    return found


_NEXT_LINE = re.compile(
    r"(?:^|(?<=[.!;][ \t]))(?:\*\*|__)?(?:next(?:[ \t]+(?:step|up|command))?|then[ \t]+run)(?:\*\*|__)?[ \t]*:"
    r"(?:\*\*|__)?[ \t]*(\S.*)$", re.I)


def next_command_in(content: str, is_command: Callable[[str], bool]) -> str | None:
    """The command a ``Next:``-like line names, or None (prose, or no such line)."""
    match = _NEXT_LINE.search(content)
    if not match:
        return None
    text = match.group(1).strip()
    if text.startswith("`") and text.rstrip(".").endswith("`") and text.count("`") == 2:
        text = text.rstrip(".").strip("`").strip()
    elif "`" in text:
        return None  # "Next: run `x` then `y`": the inline-code rule reads those
    return text if is_command(text) else None


LABELLED_SUMMARY = re.compile(
    r"^(?P<label>.{0,120}?(?:[:>)]|[.!]))[ \t]+(?:tests?[ \t]*:?[ \t]*)?(?P<tail>\d{1,7}[ \t]+(?:tests?[ \t]+)?"
    r"(?:passed|passing|failed|failing|errors?)\b.*)$", re.I)
RSPEC = re.compile(r"^(\d{1,7}) (?:examples?|tests? completed), (\d{1,7}) (?:failures?|failed)\b")  # + gradle
NODE_TAP = re.compile(r"^#[ \t]+(pass|fail)[ \t]+(\d{1,7})$")
DOTNET = re.compile(r"(?:^|:[ \t]+)(?:Passed|Failed)![ \t]+-[ \t]+Failed:[ \t]*(\d{1,7}),[ \t]+Passed:[ \t]*(\d{1,7})\b")
NPM_TEST_FAILED = re.compile(r"^npm ERR! Test failed\b")
BUILD = re.compile(r"^BUILD (SUCCESSFUL|FAILED)\b")
#: An exit code is a check result only for a run that checks something: a test runner or linter, or a
#: command naming a test / check / lint / build / CI step ("make integration", "./ci/check.sh").
CHECK_RUN = re.compile(
    r"\b(?:tests?|check|checks|lint|build|ci|verify|spec|specs|integration|e2e|clippy|vet)\b|"
    r"^(?:\S*/)?(?:pytest|tox|nox|jest|vitest|mocha|rspec|prove|ctest|ruff|mypy|pyright|eslint|tsc|flake8|pylint)\b",
    re.I)


def runner_result(line: str) -> tuple[str, int | None, int | None] | None:
    """(kind, passed, failed) of an rspec / gradle / node / dotnet / npm summary line, or None."""
    if m := RSPEC.match(line):
        total, failures = int(m.group(1)), int(m.group(2))
        return "rspec", max(total - failures, 0), failures
    if m := NODE_TAP.match(line):
        count = int(m.group(2))
        return ("generic", count, None) if m.group(1) == "pass" else ("generic", None, count)
    if m := DOTNET.search(line):
        return "dotnet", int(m.group(2)), int(m.group(1))
    if m := BUILD.match(line):
        return ("build", 1, None) if m.group(1) == "SUCCESSFUL" else ("build", None, 1)
    if NPM_TEST_FAILED.match(line):
        return "npm", None, 1
    return None
