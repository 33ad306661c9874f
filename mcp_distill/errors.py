"""Narrow, named exceptions of the core.

The faces translate them: the MCP server into ``ToolError``, the CLI into one clear line and a
non-zero exit. Every message says what to do next.
"""


class DistillError(Exception):
    """Base class of every expected failure in mcp-distill.

    The message names what to do next in MCP terms (tool arguments, resources). When the same step
    reads differently at the shell (a flag, a command), ``cli`` carries that version of the message:
    the CLI prints :meth:`for_cli`, so it never tells a person to "read distill://stats".
    """

    def __init__(self, message: str = "", *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = cli

    def for_cli(self) -> str:
        """The message as the CLI says it."""
        return self.cli_message or str(self)


class ConfigError(DistillError):
    """A setting, rules file or mapping file is invalid."""


class PathNotAllowedError(DistillError):
    """A path lies outside the configured roots."""


class StoreError(DistillError):
    """The SQLite store cannot be opened or used."""


class StoreVersionError(StoreError):
    """The store was written by a newer mcp-distill."""


class NotFoundError(DistillError):
    """A run, playbook, receipt or snapshot id does not exist."""


class InvalidInputError(DistillError):
    """Input given by a caller is malformed (bad record, binary text, too large)."""


class EmbedderError(DistillError):
    """The embedder cannot produce vectors (endpoint down, model missing, mismatch)."""


class ValidationFailedError(DistillError):
    """An export or record failed its validator."""


class DiskError(DistillError):
    """A file or the store cannot be written: the disk is full, read-only or failing."""
