"""Redaction of secrets and personal data before anything leaves the store.

Other packages and the faces use the names below: ``scrub`` finds and replaces secrets in text
(``patterns``, ``kinds`` and ``decode`` behind it), ``edges`` applies it to stored values and JSON trees
with a keyed, stable placeholder, ``aliases`` publishes consistent aliases across an export, ``paths``
turns source paths into labels.
"""

from mcp_distill.redact.aliases import Publisher, has_placeholder, suspects
from mcp_distill.redact.edges import KEY_META, redact_atom, redact_string, redact_tree, redaction_key
from mcp_distill.redact.paths import relative_to, source_labels
from mcp_distill.redact.scrub import PLACEHOLDER_RE, find_secrets, redact

__all__ = [
    "KEY_META", "PLACEHOLDER_RE", "Publisher", "find_secrets", "has_placeholder", "redact", "redact_atom",
    "redact_string", "redact_tree", "redaction_key", "relative_to", "source_labels", "suspects",
]
