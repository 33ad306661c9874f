"""Evidence Collector: stream source files through the adapters into evidence, join records into runs.

The names below are what the adapters and the export checks read: which files are line files and how a
line parses (``sources``). This package stays that light because the adapters import it and every collect
worker imports the adapters: a worker starts without the store (tests/collect/test_collect_worker_start.py).
The rest is imported from its module, each for a reason tests/test_layout.py checks: ``runs`` (runs and
their records, paged and filtered) reads the store; ``collector`` (``collect_paths``) imports the adapters,
and ``live`` (recording evidence and overrides, which re-scores the run) imports the scorer, which reads
``runs``. ``repository`` owns the evidence, runs and scores tables, which other packages read through it.
"""

from mcp_distill.collect.sources import DOCUMENT_SUFFIXES, ROTATED, is_line_file, parse_json_line

__all__ = ["DOCUMENT_SUFFIXES", "ROTATED", "is_line_file", "parse_json_line"]
