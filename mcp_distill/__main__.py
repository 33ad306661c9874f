import sys

from mcp_distill.cli import main

sys.exit(main())
