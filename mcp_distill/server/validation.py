"""One clear sentence for a tool call whose arguments fail validation, instead of pydantic's dump.

The sentence names each bad argument and what it accepts, read from the tool's input schema (bounds,
choices, type), so a model or person can correct the call without reading the schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

_TYPE_WORDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "array": "a list", "object": "an object", "null": "null"}


def accepts(schema: dict[str, Any]) -> str:
    """What a JSON-schema property accepts, in words: 'an integer from 1 to 50', 'one of: a, b'."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        words = [accepts(o) for o in options if o.get("type") != "null"]
        nullable = any(o.get("type") == "null" for o in options)
        return " or ".join(words) + (" (or omitted)" if nullable else "")
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return f"exactly {schema['const']!r}"
    word = _TYPE_WORDS.get(schema.get("type", ""), "a value")
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        return f"{word} from {low} to {high}"
    if low is not None:
        return f"{word} of at least {low}" if "minimum" in schema else f"{word} above {low}"
    if high is not None:
        return f"{word} of at most {high}" if "maximum" in schema else f"{word} below {high}"
    if schema.get("minLength"):
        return f"{word} of at least {schema['minLength']} character(s)"
    return word


def argument_sentence(tool: str, exc: ValidationError, input_schema: dict[str, Any]) -> str:
    """'Invalid argument for search_playbooks: k must be an integer from 1 to 50 (got 500).'"""
    properties = input_schema.get("properties", {})
    parts: list[str] = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "arguments"
        if error["type"] == "missing":
            parts.append(f"{name} is required ({accepts(properties.get(name, {}))})")
            continue
        if name not in properties:
            parts.append(f"{name} is not an argument of {tool} (known: {', '.join(properties) or 'none'})")
            continue
        got = error.get("input")
        shown = f" (got {got!r})" if isinstance(got, int | float | bool) or (isinstance(got, str) and len(got) < 40) \
            else ""
        parts.append(f"{name} must be {accepts(properties[name])}{shown}")
    unique = list(dict.fromkeys(parts))
    return f"Invalid argument for {tool}: {'; '.join(unique)}. Fix the call and retry."
