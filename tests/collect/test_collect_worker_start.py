"""What a collect worker process imports when it starts: the adapters and line preparation, never the store."""

from __future__ import annotations

import json
import subprocess
import sys

#: A worker starts with a fresh interpreter (spawn), imports workers and, on its first task, the adapters.
WORKER_IMPORTS = """
import json, sys
from mcp_distill.collect import workers
workers._warm_up()
heavy = ("mcp_distill.store", "mcp_distill.migrations", "sqlite_utils", "sqlite_vec", "sqlean")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_a_worker_prepares_lines_without_importing_the_store():
    # every worker paid ~0.3 s of CPU at its start for a store it never opens (config imported it), which on
    # a 50,000-line collect is the time the collector prepares batches alone while it waits for the pool
    out = subprocess.run([sys.executable, "-c", WORKER_IMPORTS], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
