"""Source adapters. Importing this package registers every adapter module below in ``base.REGISTRY``.

Keep this a plain list of imports: one line per adapter module.
"""

from mcp_distill.adapters import (  # noqa: F401
    lakehouse_audit,
    lakehouse_distilled,
    lakehouse_scrum,
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
