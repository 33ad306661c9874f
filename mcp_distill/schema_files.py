"""JSON Schema files in ``schemas/``, generated from the pydantic models (the source of truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from mcp_distill.errors import NotFoundError
from mcp_distill.models import SCHEMAS

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_for(name: str) -> dict[str, Any]:
    model = SCHEMAS.get(name)
    if model is None:
        raise NotFoundError(f"no schema {name!r}; known: {', '.join(SCHEMAS)}")
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://mcp-distill.dev/schemas/{name}.json"
    return schema


def render(name: str) -> bytes:
    return orjson.dumps(schema_for(name), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / f"{name}.json"
        path.write_bytes(render(name))
        written.append(path)
    return written


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names whose file is missing or differs from what the models generate now."""
    out = []
    for name in SCHEMAS:
        path = directory / f"{name}.json"
        if not path.exists() or path.read_bytes() != render(name):
            out.append(name)
    return out
