"""Redaction of secrets and e-mail addresses before anything leaves the store.

Why: agent-loop output is full of pasted env files, curl commands and config snippets. A key that
reaches a training set is published with every copy of the model or dataset, so every export runs
through :func:`redact` and every validator re-checks with :func:`find_secrets`.

Each secret becomes a typed placeholder ``[REDACTED:<type>]``; only the secret part is replaced, so
``password = "hunter2!x"`` becomes ``password = "[REDACTED:password]"`` and
``postgres://app:pw@db`` becomes ``postgres://app:[REDACTED:url_password]@db`` (the surrounding
code keeps its shape, which matters for training on it).

Types, most specific first (:data:`SECRET_TYPES`; a span claimed by an earlier type is never
re-typed by a later, more generic one, e.g. an OpenAI key assigned to ``api_key`` is ``openai_key``):

* ``private_key``: PEM blocks ``-----BEGIN ... PRIVATE KEY-----`` to the matching END line, across
  lines; a block without END is cut to the end of its base64 body.
* ``jwt``: ``eyJ<header>.eyJ<payload>.<signature>``.
* ``anthropic_key`` ``sk-ant-...``; ``openai_key`` ``sk-...``, ``sk-proj-...`` (must contain a digit,
  so ``sk-some-kebab-case-name`` is left alone); ``stripe_key`` ``sk_live_``/``rk_live_`` (and
  ``_test_``); ``github_token`` ``ghp_/gho_/ghu_/ghs_/ghr_``, ``github_pat_``; ``gitlab_token``
  ``glpat-``; ``slack_webhook`` ``https://hooks.slack.com/services/...``; ``slack_token``
  ``xox[abprs]-``; ``huggingface_token`` ``hf_``; ``npm_token`` ``npm_``; ``google_api_key``
  ``AIza`` + 35; ``aws_access_key_id`` ``AKIA``/``ASIA`` (and the other AWS id prefixes) + 16.
* ``aws_secret_key``: 40 base64 characters assigned to ``aws_secret_access_key``,
  ``SecretAccessKey`` and friends (a bare 40-character string is too common to flag alone).
* ``azure_key``: ``AccountKey=``/``SharedAccessKey=`` in connection strings, values of 20+ key
  characters assigned to ``azure...key/secret/password/token`` names, and Entra client secrets
  (``xxx8Q~...``).
* ``url_password``: ``scheme://user:PASSWORD@host``; user and host are kept.
* ``bearer_token`` ``Bearer <token>`` and ``basic_auth`` ``Authorization: Basic <b64>``.
* ``password`` / ``secret``: ``name = value`` assignments and "the password is x" (the
  assignment heuristics, in :mod:`mcp_distill.redact.patterns` with the code that applies them).
* ``email``: except ``git@host:`` remotes, ``name@2x.png``-style asset names and the user of
  ``scheme://user@host`` (a URL user is kept, as with ``url_password``).

Git SHAs, UUIDs and lockfile hashes are not flagged by themselves: only the keyed rules above look
at long random strings, and ``sha``, ``integrity``, ``hash``, ``checksum`` are not secret names.

Linear time: every pattern starts with a literal or a run-start look-behind and consumes runs
possessively (:mod:`mcp_distill.redact.patterns`), so the work per start position is bounded by a
constant. The keyed rule finds the secret word first and matches the value (or the prose "is x")
anchored after it; the PEM scanner searches each END marker at most once; overlaps are resolved
with a claimed-bytes map, not pairwise. 1 MB of each adversarial input (``password=password=...``, ``a@a@...``, repeated BEGIN
lines, ...) takes at most ~1 s and ordinary agent text runs at ~14 MB/s (``bench/redact.py``).

Idempotent: placeholders match no pattern, and :func:`redact` repeats until :func:`find_secrets`
finds nothing, so ``redact(redact(x)[0])[0] == redact(x)[0]`` and no secret survives.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator
from typing import Any, NamedTuple

from mcp_distill.redact.decode import MAX_DEPTH, decode, may_hold_escapes
from mcp_distill.redact.kinds import (
    ENTROPY_KIND,
    PASSPHRASE,
    PII_KINDS,
    TOKEN_KINDS,
    TOKEN_RULES,
    cards,
    entropy_tokens,
    ips,
    phones,
    plain_passphrase,
)
from mcp_distill.redact.patterns import (
    _EMAIL,
    _FILE_EXT_TLDS,
    _KEYED_VALUE,
    _KEYWORD,
    _NAME_MAX,
    _NAME_STRIP,
    _PASSWORD_NAME,
    _PEM_BEGIN,
    _PEM_BODY,
    _PEM_END,
    _PROSE_VALUE,
    _REDACTED_PREFIX,
    _RULES,
    _literal_word,
    _prose_span,
    is_secret_name,
    looks_like_secret_value,
)

PLACEHOLDER = "[REDACTED:{}]"
PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z_]+(?::[0-9a-f]{10})?\]")
"""Matches any placeholder, e.g. to count what an exported file had redacted."""

SECRET_TYPES = (
    "private_key",
    "jwt",
    "anthropic_key",
    "openai_key",
    "stripe_key",
    "github_token",
    "gitlab_token",
    "slack_webhook",
    "slack_token",
    "huggingface_token",
    "npm_token",
    "google_api_key",
    "aws_access_key_id",
    "aws_secret_key",
    "azure_key",
    "url_password",
    "bearer_token",
    "basic_auth",
    *TOKEN_KINDS,
    "password",
    "secret",
    "email",
    *PII_KINDS,
    ENTROPY_KIND,
)
"""Every placeholder type, in priority order (earlier wins an overlap)."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_PRIORITY = {name: i for i, name in enumerate(SECRET_TYPES)}
_MAX_PASSES = 4
_ALL_RULES = (*_RULES, *TOKEN_RULES)
_PHRASE = re.compile(r"[a-z]{2,20}(?:[ \t-][a-z]{2,20}){2,7}")  # a value that may be a plain-word passphrase


class SecretSpan(NamedTuple):
    """One secret found in a text: its type and the ``(start, end)`` span to replace."""

    type: str
    span: tuple[int, int]


# --------------------------------------------------------------------------------------------------
# Scanner (the patterns and value heuristics it applies are in redact_patterns)


def _private_keys(text: str) -> Iterator[SecretSpan]:
    """PEM private key blocks; each END marker is searched once, so the scan stays linear."""
    pos = 0
    no_end_after = len(text) + 1  # once an END search fails, every later BEGIN would fail too
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = None if begin.end() >= no_end_after else _PEM_END.search(text, begin.end())
        if end is not None:
            stop = end.end()
        else:
            no_end_after = min(no_end_after, begin.end())
            stop = _PEM_BODY.match(text, begin.end()).end()  # type: ignore[union-attr]
        yield SecretSpan("private_key", (begin.start(), stop))
        pos = stop


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_.-"


def _keyed(text: str, lowered: str) -> Iterator[SecretSpan]:
    for hit in _KEYWORD.finditer(lowered):
        start = hit.start()
        floor = max(0, start - _NAME_MAX)
        while start > floor and _is_name_char(text[start - 1]):
            start -= 1
        if start > 0 and _is_name_char(text[start - 1]):
            continue  # the name is longer than _NAME_MAX: not a variable name worth trusting
        if text.endswith(_REDACTED_PREFIX, 0, start):
            continue  # the type inside a placeholder ("[REDACTED:secret]") is not a name
        name = text[start : hit.end()]
        if not is_secret_name(name):
            continue
        kind = "password" if _PASSWORD_NAME.search(name) else "secret"
        span = _keyed_span(text, start, name, kind, hit.end())
        if span is None and kind == "password" and (pp := PASSPHRASE.match(text, hit.end())) is not None:
            span = pp.span("v") if plain_passphrase(pp.group("v")) else None  # "password: correct horse battery"
        if span is not None:
            yield SecretSpan(kind, span)


def _keyed_span(text: str, start: int, name: str, kind: str, after: int) -> tuple[int, int] | None:
    m = _KEYED_VALUE.match(text, after)
    if m is not None and m.group("q"):
        return m.span("qv") if looks_like_secret_value(m.group("qv"), True, name=name) else None
    if m is not None:
        bare = m.group("bv")
        literal = kind == "password" and bare.isalpha() and _literal_word(text, start, name, m)
        return m.span("bv") if looks_like_secret_value(bare, False, name=name, literal_word=literal) else None
    if kind == "password" and (p := _PROSE_VALUE.match(text, after)) is not None:
        return _prose_span(text, p)
    return None


def _emails(text: str) -> Iterator[SecretSpan]:
    for m in _EMAIL.finditer(text):
        local, domain = m.group().split("@", 1)
        if local == "git" or domain.rsplit(".", 1)[1].lower() in _FILE_EXT_TLDS:
            continue  # git@github.com remotes and icon@2x.png assets are not addresses
        if text.endswith("://", 0, m.start()):
            continue  # scheme://user@host: a URL user name, kept like the user of url_password
        yield SecretSpan("email", m.span())


def _candidates(text: str) -> Iterator[SecretSpan]:
    if "PRIVATE KEY" in text:
        yield from _private_keys(text)
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters lowercase to two code points
        lowered = text.translate(_ASCII_LOWER)
    for rule in _ALL_RULES:
        if rule.hints and not any(h in (lowered if rule.fold else text) for h in rule.hints):
            continue
        for m in rule.pattern.finditer(text):
            if rule.check is None or rule.check(m):
                yield SecretSpan(rule.type, m.span(rule.group))
    yield from _keyed(text, lowered)
    if "@" in text:
        yield from _emails(text)
    for finder in (cards, phones, ips, entropy_tokens):
        for kind, span in finder(text):
            yield SecretSpan(kind, span)


def _all_candidates(text: str, depth: int = 0) -> Iterator[SecretSpan]:
    """Candidates in ``text`` and in its decoded views (escapes, URL encoding), in original offsets."""
    yield from _candidates(text)
    if depth < MAX_DEPTH and may_hold_escapes(text) and (view := decode(text)) is not None:
        for cand in _all_candidates(view.text, depth + 1):
            yield SecretSpan(cand.type, view.span(*cand.span))


def find_secrets(text: str) -> list[SecretSpan]:
    """Every secret in ``text`` as ``(type, (start, end))``, sorted by position, non-overlapping.

    Overlaps are resolved by :data:`SECRET_TYPES` order, so the most specific type claims a span.
    Validators call this on exported text and fail when it returns anything.
    """
    found = sorted(_all_candidates(text), key=lambda s: (_PRIORITY[s.type], s.span[0]))
    if len(found) < 2:
        return [s for s in found if s.span[0] < s.span[1]]
    # One byte per character marks claimed text: checking and marking cost the span's length, and
    # one rule's matches never overlap each other, so the total stays linear in the text.
    claimed = bytearray(len(text))
    kept: list[SecretSpan] = []
    for cand in found:
        start, end = cand.span
        if start >= end or claimed.find(1, start, end) != -1:
            continue
        claimed[start:end] = b"\x01" * (end - start)
        kept.append(cand)
    return sorted(kept, key=lambda s: s.span)


def _replace(text: str, spans: list[SecretSpan]) -> str:
    out: list[str] = []
    last = 0
    for kind, (start, end) in spans:
        out.append(text[last:start])
        out.append(PLACEHOLDER.format(kind))
        last = end
    out.append(text[last:])
    return "".join(out)


def redact(text: str) -> tuple[str, Counter[str]]:
    """Replace every secret with ``[REDACTED:<type>]``; returns the text and counts by type.

    Repeats until nothing is found (normally one pass; a second one only when a replacement exposes
    a shorter secret that an overlapping, more specific match had hidden).
    """
    counts: Counter[str] = Counter()
    for _ in range(_MAX_PASSES):
        spans = find_secrets(text)
        if not spans:
            break
        counts.update(s.type for s in spans)
        text = _replace(text, spans)
    return text, counts


def redact_value(obj: Any) -> tuple[Any, Counter[str]]:
    """Redact every string inside dicts, lists and tuples (a new object; the input is untouched).

    A dict entry whose key is a secret name (``{"password": "hunter2!x"}``) is judged by the same
    value heuristics as a quoted assignment, because the key/value context is lost once the value
    is looked at alone. Dict keys themselves are left as they are: they are schema, not content.
    """
    counts: Counter[str] = Counter()
    return _redact_obj(obj, counts, None), counts


def _keyed_kind(key: str | None, value: str, quoted: bool = True) -> str | None:
    """The placeholder type for a whole dict value under a secret-named key, else None."""
    if key is None or not is_secret_name(key):
        return None
    if not looks_like_secret_value(value, quoted, name=key) and not (
            _PASSWORD_NAME.search(key.strip(_NAME_STRIP)) and _PHRASE.fullmatch(value) and plain_passphrase(value)):
        return None
    if find_secrets(value):  # a typed secret inside (sk-..., a URL password) wins over the name rule
        return None
    return "password" if _PASSWORD_NAME.search(key.strip(_NAME_STRIP)) else "secret"


def _redact_obj(obj: Any, counts: Counter[str], key: str | None) -> Any:
    if isinstance(obj, str | int) and not isinstance(obj, bool):
        # an int under a secret key ({"pin_password": 123456}) is judged like a bare JSON number
        kind = _keyed_kind(key, obj) if isinstance(obj, str) else _keyed_kind(key, str(obj), quoted=False)
        if kind is not None:
            counts[kind] += 1
            return PLACEHOLDER.format(kind)
        if isinstance(obj, int):
            return obj
        text, found = redact(obj)
        counts.update(found)
        return text
    if isinstance(obj, dict):
        return {k: _redact_obj(v, counts, k if isinstance(k, str) else None) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_obj(v, counts, None) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact_obj(v, counts, None) for v in obj)
    return obj


class Redactor:
    """Redacts many texts and values, accumulating counts by type for the stage's receipt."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        """Redacted text; the counts of this call are added to :attr:`counts`."""
        out, found = redact(text)
        self.counts.update(found)
        return out

    def redact_value(self, obj: Any) -> Any:
        """Redacted copy of a JSON-like value; counts accumulate in :attr:`counts`."""
        out, found = redact_value(obj)
        self.counts.update(found)
        return out

    @property
    def total(self) -> int:
        """Number of secrets redacted so far, all types together."""
        return sum(self.counts.values())


__all__ = ["PLACEHOLDER", "PLACEHOLDER_RE", "SECRET_TYPES", "Redactor", "SecretSpan", "find_secrets",
           "is_secret_name", "looks_like_secret_value", "redact", "redact_value"]
