"""Playbooks and hybrid retrieval: extraction, the FTS5 + sqlite-vec index, embedders."""
