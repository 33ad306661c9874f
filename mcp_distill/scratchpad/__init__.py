"""Scratchpad Normalizer: free-text agent notes into structured bearings."""
