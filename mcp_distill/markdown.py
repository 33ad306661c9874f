"""One markdown line scanner for the readers of notes and docs (drift's PRD parser, the scratchpad normalizer).

It knows fenced code blocks, headings, list items and checkboxes, line by line, and nothing about what
the lines mean: each reader decides that. Fences: a fence opens with three or more backticks or tildes
(at any indentation: a fence inside a nested list item is still a fence) and closes on a line of the
same character, at least as long, with nothing after it. Lines inside a fence are code, never headings
or list items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

#: Longer lines are cut before the regexes see them (a minified blob cannot stall them).
MAX_LINE_CHARS = 4000

FENCE_RE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*(.*)$")
HEADING_RE = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
LIST_RE = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+]|\d{1,9}[.)])\s+(?P<rest>.*)$")
#: Box characters: space = open; x/X/✓/✔ = checked; ~ / - = in progress. Readers accept the subset they know.
CHECKBOX_RE = re.compile(r"^\[(?P<box>[ xX✓✔~/-])\]\s*(?P<text>.*)$")

LineKind = Literal["text", "fence_open", "fence_close", "code"]


@dataclass(frozen=True, slots=True)
class Line:
    """One scanned line: its 0-based number, text (cut to MAX_LINE_CHARS), kind and a fence's info word."""

    number: int
    text: str
    kind: LineKind
    info: str = ""  # the first word of an opening fence's info string ("python", "bash"), lowercased

    @property
    def in_code(self) -> bool:
        return self.kind != "text"


def split_lines(text: str) -> list[str]:
    """The lines of ``text``; ``\\r\\n`` and lone ``\\r`` end lines too."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def scan(lines: Iterable[str]) -> Iterator[Line]:
    """Every line, tagged text / fence_open / code / fence_close."""
    fence: str | None = None
    for number, raw in enumerate(lines):
        line = raw[:MAX_LINE_CHARS]
        match = FENCE_RE.match(line)
        if fence is not None:
            if match and match.group(2)[0] == fence[0] and len(match.group(2)) >= len(fence) and not match.group(3).strip():
                fence = None
                yield Line(number, line, "fence_close")
            else:
                yield Line(number, line, "code")
        elif match:
            fence = match.group(2)
            info = match.group(3).strip().split(None, 1)
            yield Line(number, line, "fence_open", info[0].lower() if info else "")
        else:
            yield Line(number, line, "text")


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading (``## Title ##``), or None; the title may be empty."""
    match = HEADING_RE.match(line)
    return (len(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True, slots=True)
class ListItem:
    indent: int
    marker: str
    rest: str  # the item's text after its marker


def list_item(line: str) -> ListItem | None:
    """A bullet (``-``, ``*``, ``+``) or numbered (``1.``, ``2)``) list item, or None."""
    match = LIST_RE.match(line)
    if not match:
        return None
    return ListItem(len(match.group("indent")), match.group("marker"), match.group("rest"))


def checkbox(rest: str) -> tuple[str, str] | None:
    """(box character, text) when a list item's text starts with a checkbox (``[x] done``), or None."""
    match = CHECKBOX_RE.match(rest)
    return (match.group("box"), match.group("text")) if match else None
