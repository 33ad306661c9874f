"""Reading whole documents (JSON or YAML files rather than JSONL lines): the size limit and a safe YAML
loader. Shared by the collector and ``mapping suggest``; a leaf (it imports nothing of the package)."""

from __future__ import annotations

import yaml

#: Whole documents (trajectories, reports) above this size are refused rather than parsed in memory.
DOCUMENT_MAX_BYTES = 256 * 1024 * 1024


class NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a few bytes of nested ``*alias`` expand to gigabytes (a YAML bomb)."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not supported in evidence files",
                                              event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(raw: bytes) -> object:
    return yaml.load(raw, Loader=NoAliasLoader)  # a SafeLoader subclass: no arbitrary objects
