"""Evidence Collector: stream source files through the adapters into evidence, join records into runs."""
