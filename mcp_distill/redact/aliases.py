"""Identifiers as they leave the store in export rows: stable placeholders, and the way back.

Every string of an export row that is not text a trainer reads (run ids, task keys, chunk ids,
tags, titles, model names, task types, file paths, provenance) passes :meth:`Publisher.publish`:

* an id **without** a secret stays exactly as it is, so ordinary exports keep readable ids;
* a secret **inside** an id becomes its stable placeholder ``[REDACTED:<type>:<h>]``
  (:func:`mcp_distill.redact.edges.stable_placeholder`, HMAC with the store's key) whatever the id
  looks like (with or without spaces), so the same id reads the same in every row, file and receipt
  and joins between rows survive;
* a source path first becomes ``<root label>/<relative path>`` (:mod:`mcp_distill.redact.paths`).

The way back: :attr:`Publisher.aliases` maps each published form that differs from its raw value
to the raw value. It lives in memory during an export and is handed to the validator, which checks
provenance and categories against the raw store; it is never written out.

Speed: ids are many and short, and a scan has a fixed cost per call, so :func:`suspects` scans a
whole batch joined by newlines once and only the values a found span touches are redacted one by one
(their result is the authoritative one). A newline is a boundary to every detector (each pattern's
run-start look-behinds and end look-aheads accept it, the entropy rule splits on whitespace, the
passphrase rule stops at it), so a secret inside a value is still found in the joined text; a match
that crosses a separator only makes its values suspects, never hides one
(``tests/redact/test_redact_export_ids.py`` checks every planted kind this way).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence

from mcp_distill.redact.edges import redact_atom
from mcp_distill.redact.scrub import find_secrets

#: Distinct values remembered (a memo only: forgetting costs a re-scan, never a different answer).
MEMO_LIMIT = 200_000
PLACEHOLDER_MARK = "[REDACTED:"


def suspects(values: Sequence[str]) -> set[int]:
    """Indexes of the ``values`` that may hold a secret, from one scan of them joined by newlines."""
    if not values:
        return set()
    starts: list[int] = []
    pos = 0
    for v in values:
        starts.append(pos)
        pos += len(v) + 1
    found: set[int] = set()
    for _, (start, end) in find_secrets("\n".join(values)):
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, max(start, end - 1)) - 1
        found.update(range(first, last + 1))
    return found


class Publisher:
    """Publishes ids and paths (see module doc); ``counts`` holds the placeholders by type written."""

    def __init__(self, key: bytes, labels: dict[str, str] | None = None,
                 on_new: Callable[[str], None] | None = None):
        self.key = key
        self.labels = labels or {}
        self.on_new = on_new  # told each distinct published value once (the exporter marks it scanned clean)
        self.aliases: dict[str, str] = {}
        self.fresh: dict[str, str] = {}  # aliases not yet handed to a background validator
        self.counts: Counter[str] = Counter()
        self._memo: dict[str, tuple[str, Counter[str] | None]] = {}

    def publish(self, values: Sequence[str], paths: Sequence[bool] | None = None) -> list[str]:
        """Each value as it may leave the store; ``paths[i]`` marks a source path (labelled first)."""
        shown = [self.labels.get(v, v) if paths is not None and paths[i] else v for i, v in enumerate(values)]
        new = sorted({v for v in shown if v not in self._memo})
        if new:
            if len(self._memo) + len(new) > MEMO_LIMIT:  # forget all, then this batch needs all its values
                self._memo.clear()
                new = sorted(set(shown))
            hits = suspects(new)
            for i, value in enumerate(new):
                found: Counter[str] = Counter()
                out = redact_atom(value, self.key, found) if i in hits else value
                self._memo[value] = (out, found or None)
                if self.on_new is not None:
                    self.on_new(out)
        result: list[str] = []
        for raw, value in zip(values, shown, strict=True):
            out, found = self._memo[value]
            if found:
                self.counts.update(found)
            if out != raw and self.aliases.get(out) != raw:
                self.aliases[out] = self.fresh[out] = raw
            result.append(out)
        return result

    def id(self, value: str) -> str:
        return self.publish([value])[0]

    def path(self, value: str) -> str:
        return self.publish([value], [True])[0]

    def take_fresh(self) -> dict[str, str]:
        fresh, self.fresh = self.fresh, {}
        return fresh


def has_placeholder(value: str) -> bool:
    return PLACEHOLDER_MARK in value


__all__ = ["MEMO_LIMIT", "Publisher", "has_placeholder", "suspects"]
