"""The export's redaction pass: each distinct text scanned once, placeholders counted by type."""

from __future__ import annotations

from collections import Counter, OrderedDict

from mcp_distill.datasets.mine import text_digest
from mcp_distill.redact import find_secrets, redact

#: Redacted texts remembered (texts with a secret are rare; clean ones are remembered by digest only).
REDACTED_MEMO = 10_000


class Scrubber:
    """Redaction that scans each distinct text once: prompts and answers recur across the datasets.

    ``clean`` holds digests of texts in which find_secrets found nothing; the validator run by the
    export skips re-scanning exactly those texts (the same deterministic check, memoised).
    Placeholders are counted by type per occurrence written into a candidate row.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.clean: set[bytes] = set()
        self.fresh: list[bytes] = []  # clean digests not yet sent to a background validator
        self._redacted: OrderedDict[bytes, tuple[str, Counter[str]]] = OrderedDict()

    def __call__(self, text: str) -> str:
        key = text_digest(text)
        if key in self.clean:
            return text
        hit = self._redacted.get(key)
        if hit is None:
            if not find_secrets(text):
                self.clean.add(key)
                self.fresh.append(key)
                return text
            hit = self._redacted[key] = redact(text)
            if len(self._redacted) > REDACTED_MEMO:
                self._redacted.popitem(last=False)
        self.counts.update(hit[1])
        return hit[0]

    def mark_clean(self, text: str) -> None:
        """``text`` holds no secret (an id the publisher scanned): the validator need not scan it again."""
        key = text_digest(text)
        if key not in self.clean:
            self.clean.add(key)
            self.fresh.append(key)
