"""Source adapters. Importing this package registers every adapter module below in ``base.REGISTRY``.

Keep this a plain list of imports: one line per adapter module. ``generic`` (any JSON object stream, with
inferred field roles) comes last: it only reads files no other adapter claims.
"""

from mcp_distill.adapters import (  # noqa: F401
    lakehouse_audit,
    lakehouse_distilled,
    lakehouse_scrum,
    lakehouse_scrum_outcomes,
    native,
    traces_aider,
    traces_claude,
    traces_codex,
    traces_openhands,
    traces_openhands_events,
    traces_otel,
    traces_swe,
    traces_swebench,
)

# isort: split
# Last, so it registers after every other adapter: the fallback for files nothing else claims.
from mcp_distill.adapters import generic  # noqa: F401
