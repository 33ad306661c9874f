"""Dataset Builder: SFT, preference and RAG exports, mining, near-duplicates, validation."""
