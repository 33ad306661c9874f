"""Playbooks and hybrid retrieval: extraction, the FTS5 + sqlite-vec index, embedders.

Other packages and the faces use the names below: ``playbooks`` extracts, indexes and searches
playbooks; ``index`` is the hybrid index (``legs``, ``vector``, ``query``, ``strength``, ``backends``
behind it); ``embed`` holds one module per embedder; ``repository`` owns the index and playbook tables.
"""

from mcp_distill.search.embed import Embedder, embedder_from_env
from mcp_distill.search.index import reindex
from mcp_distill.search.playbooks import (
    PlaybookSearch,
    extract_playbooks,
    get_playbook,
    index_playbooks,
    list_playbooks,
    playbook_task_types,
    playbooks_for_run,
    render_for_prompt,
    search_playbooks,
)
from mcp_distill.search.query import parse_time
from mcp_distill.search.strength import Strength
from mcp_distill.search.types import Mode

__all__ = [
    "Embedder", "Mode", "PlaybookSearch", "Strength", "embedder_from_env", "extract_playbooks", "get_playbook",
    "index_playbooks", "list_playbooks", "parse_time", "playbook_task_types", "playbooks_for_run", "reindex",
    "render_for_prompt", "search_playbooks",
]
