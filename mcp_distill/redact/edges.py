"""The one redaction step every output passes: MCP results, resources, prompts, CLI views, receipts.

The store keeps raw evidence (provenance must stay verifiable against the source line); what leaves
it goes through :func:`redact_tree`, which redacts *every* string of a JSON-like value: dict keys,
ids, paths, tags, metadata, provenance and free text alike.

Stable ids: a string without whitespace (a run id, task key, file path, tag, model name) is an
identifier that other rows join on. A secret inside one becomes ``[REDACTED:<type>:<h>]`` where
``<h>`` is the first 10 hex digits of HMAC-SHA256(store key, secret): the same secret gives the same
placeholder in every row, file and result, so joins between rows survive, and two different
secrets stay different. The key is random per store (:func:`redaction_key`, kept in the store's
meta table), because a plain hash of a short password could be looked up in a dictionary. Free
text (with whitespace) keeps the plain ``[REDACTED:<type>]``: a model trained on it should not learn
to emit random hex.

A string that holds a JSON object or array (a resource body, a tool's text content) is parsed,
redacted as a tree and serialized again, so its ids get the same placeholders as in the
structured result.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets
from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from mcp_distill.redact.scrub import _MAX_PASSES, PLACEHOLDER, _keyed_kind, find_secrets, redact

if TYPE_CHECKING:
    from mcp_distill.store import Store

KEY_META = "redaction_key"
#: An identifier longer than this is text, not an id.
ATOM_MAX = 1024


def redaction_key(store: Store) -> bytes:
    """The store's random HMAC key for stable placeholders, created on first use."""
    value = store.get_meta(KEY_META)
    if not value:
        value = _secrets.token_hex(32)
        store.set_meta(KEY_META, value)
    return bytes.fromhex(value)


def stable_placeholder(kind: str, secret: str, key: bytes) -> str:
    digest = hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:10]
    return f"[REDACTED:{kind}:{digest}]"


def is_atom(text: str) -> bool:
    """An identifier-like string: no whitespace, not too long."""
    return len(text) <= ATOM_MAX and not any(ch.isspace() for ch in text)


def redact_atom(text: str, key: bytes, counts: Counter[str]) -> str:
    """An id with each secret replaced by its stable placeholder (see module doc).

    Repeats until nothing is found, as :func:`mcp_distill.redact.scrub.redact` does, so the result
    holds no secret (a replacement can expose a shorter secret an overlapping match had hidden).
    """
    for _ in range(_MAX_PASSES):
        spans = find_secrets(text)
        if not spans:
            break
        out: list[str] = []
        last = 0
        for kind, (start, end) in spans:
            out.append(text[last:start])
            out.append(stable_placeholder(kind, text[start:end], key))
            counts[kind] += 1
            last = end
        out.append(text[last:])
        text = "".join(out)
    return text


def redact_string(text: str, key: bytes, counts: Counter[str]) -> str:
    """One string: an atom, an embedded JSON document, or free text."""
    if text.lstrip()[:1] in ("{", "[") and find_secrets(text):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict | list):
            return orjson.dumps(_tree(parsed, key, counts, None)).decode()
    if is_atom(text):
        return redact_atom(text, key, counts)
    out, found = redact(text)
    counts.update(found)
    return out


def _tree(obj: Any, key: bytes, counts: Counter[str], name: str | None) -> Any:
    if isinstance(obj, str):
        kind = _keyed_kind(name, obj)
        if kind is not None:  # {"password": "hunter2"}: the key says what the value is
            counts[kind] += 1
            return stable_placeholder(kind, obj, key) if is_atom(obj) else PLACEHOLDER.format(kind)
        return redact_string(obj, key, counts)
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            name = k if isinstance(k, str) else None
            out[redact_string(k, key, counts) if name is not None else k] = _tree(v, key, counts, name)
        return out
    if isinstance(obj, list | tuple):
        return [_tree(v, key, counts, None) for v in obj]
    return obj


def redact_tree(obj: Any, key: bytes) -> tuple[Any, Counter[str]]:
    """A copy of the JSON-like ``obj`` with every string redacted (keys included); counts by type."""
    counts: Counter[str] = Counter()
    return _tree(obj, key, counts, None), counts


__all__ = ["KEY_META", "is_atom", "redact_atom", "redact_string", "redact_tree", "redaction_key",
           "stable_placeholder"]
