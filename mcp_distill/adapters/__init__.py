"""Source adapters. Importing this package registers every adapter module below in ``base.REGISTRY``.

Keep this a plain list of imports: one line per adapter module.
"""

from . import lakehouse_audit, lakehouse_distilled, lakehouse_scrum, native  # noqa: F401
