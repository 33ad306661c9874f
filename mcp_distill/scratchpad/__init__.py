"""Scratchpad Normalizer: free-text agent notes into structured bearings.

The faces use the names below (``normalize``); behind them ``parse``, ``rules``, ``phrases`` and
``testlog`` read the notes, ``llm`` is the optional model pass, ``repository`` owns the ``scratchpads`` table.
"""

from mcp_distill.scratchpad.normalize import get_scratchpad, normalize

__all__ = ["get_scratchpad", "normalize"]
