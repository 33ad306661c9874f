"""Decoded views of a text, with a map back to the original offsets.

Why: a secret inside a serialized record is escaped (``{\\"password\\": \\"hunter2\\"}``), glued to a
literal ``\\n`` (``...\\nghp_...``: the ``n`` looks like part of a word, so the token's boundary rule
fails) or URL-encoded (``token%3Dghp_...``). The scanner runs its detectors on the decoded view too
and maps every span found there back to the original text, so the replacement happens in the text
as it is stored or exported (its escaping is kept; only the secret's characters become a placeholder).

Decoded: backslash escapes of JSON / Python / shell (``\\n \\t \\r \\" \\' \\\\ \\/ \\b \\f``,
``\\uXXXX``, ``\\xXX``) and URL percent-escapes (``%XX``). Up to :data:`MAX_DEPTH` layers, so a record
serialized twice (``\\\\\\"``) decodes too.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

MAX_DEPTH = 2
_ESCAPE = re.compile(r"""\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtbf"'\\/])|%[0-9A-Fa-f]{2}""")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def may_hold_escapes(text: str) -> bool:
    """Cheap test: only texts with a backslash or a percent sign have a decoded view."""
    return "\\" in text or "%" in text


@dataclass(frozen=True)
class DecodedView:
    """``text`` decoded; segment ``i`` starts at ``dstart[i]`` (decoded) / ``ostart[i]`` (original).

    A literal segment has the same length in both; an escape segment is one decoded character that
    stands for ``olen[i]`` original characters.
    """

    text: str
    dstart: list[int]
    ostart: list[int]
    olen: list[int]
    escape: list[bool]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``(start, end)`` of the decoded span ``[start, end)``."""
        i = bisect_right(self.dstart, start) - 1
        o_start = self.ostart[i] if self.escape[i] else self.ostart[i] + (start - self.dstart[i])
        j = bisect_right(self.dstart, end - 1) - 1
        o_end = (self.ostart[j] + self.olen[j] if self.escape[j]
                 else self.ostart[j] + (end - 1 - self.dstart[j]) + 1)
        return o_start, o_end


def _char(esc: str) -> str:
    if esc[0] == "%":
        return chr(int(esc[1:], 16))
    kind = esc[1]
    if kind in "ux":
        return chr(int(esc[2:], 16))
    return _SIMPLE.get(kind, kind)


def decode(text: str) -> DecodedView | None:
    """The decoded view of ``text``, or None when it holds no escape."""
    pieces: list[str] = []
    dstart: list[int] = []
    ostart: list[int] = []
    olen: list[int] = []
    escape: list[bool] = []
    last = 0
    dpos = 0
    for m in _ESCAPE.finditer(text):
        if m.start() > last:
            dstart.append(dpos)
            ostart.append(last)
            olen.append(m.start() - last)
            escape.append(False)
            pieces.append(text[last:m.start()])
            dpos += m.start() - last
        dstart.append(dpos)
        ostart.append(m.start())
        olen.append(m.end() - m.start())
        escape.append(True)
        pieces.append(_char(m.group()))
        dpos += 1
        last = m.end()
    if not escape:
        return None
    if last < len(text):
        dstart.append(dpos)
        ostart.append(last)
        olen.append(len(text) - last)
        escape.append(False)
        pieces.append(text[last:])
    return DecodedView("".join(pieces), dstart, ostart, olen, escape)
