"""How much ordinary text redaction changes: the false-change rate of bench/redact.py and its test.

A token (a whitespace-separated word) counts as changed when a found secret overlaps it. On a corpus
without secrets every changed token is a false positive; on one with a few planted secrets the
rate is an upper bound of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from mcp_distill.redact.scrub import find_secrets

TEXT_SUFFIXES = (".jsonl", ".json", ".traj", ".md", ".txt", ".log")


def strings(value: Any) -> Iterator[str]:
    """Every string of a JSON value, dict keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def corpus_texts(paths: Iterable[Path]) -> Iterator[str]:
    """The strings of every JSON/JSONL record (or the whole text of other files) under ``paths``."""
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            if f.suffix not in TEXT_SUFFIXES:
                continue
            raw = f.read_bytes()
            if f.suffix == ".jsonl":
                for line in raw.splitlines():
                    try:
                        yield from strings(orjson.loads(line))
                    except orjson.JSONDecodeError:
                        yield line.decode("utf-8", "replace")
            elif f.suffix in (".json", ".traj"):
                try:
                    yield from strings(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    yield raw.decode("utf-8", "replace")
            else:
                yield raw.decode("utf-8", "replace")


def token_change(texts: Iterable[str]) -> tuple[int, int, Counter[str]]:
    """(tokens, changed tokens, changed tokens by secret type) over ``texts``."""
    total = changed = 0
    kinds: Counter[str] = Counter()
    for text in texts:
        words = text.split()
        total += len(words)
        spans = find_secrets(text)
        if not spans:
            continue
        pos = 0
        for word in words:
            start = text.index(word, pos)
            pos = start + len(word)
            hit = next((s for s in spans if s.span[0] < pos and s.span[1] > start), None)
            if hit is not None:
                changed += 1
                kinds[hit.type] += 1
    return total, changed, kinds


__all__ = ["corpus_texts", "strings", "token_change"]
