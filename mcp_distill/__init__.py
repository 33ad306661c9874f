"""mcp-distill: turn the JSONL exhaust of agent loops into evidence, playbooks, datasets and decisions."""

__version__ = "0.1.0"
