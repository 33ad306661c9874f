"""mcp-distill: turn the JSONL exhaust of agent loops into evidence, playbooks, datasets and decisions."""

import os

# onnxruntime's Linux wheel records telemetry on import unless told not to; nothing here should phone home.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
