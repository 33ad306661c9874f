"""Settings shared by the CLI and the MCP server, and the path guard for configured roots."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mcp_distill.errors import ConfigError, InvalidInputError, NotFoundError, PathNotAllowedError

DB_ENV = "MCP_DISTILL_DB"
ROOTS_ENV = "MCP_DISTILL_ROOTS"
RULES_ENV = "MCP_DISTILL_RULES"
TOKEN_ENV = "MCP_DISTILL_TOKEN"
REDACT_ON_COLLECT_ENV = "MCP_DISTILL_REDACT_ON_COLLECT"
_TRUE = ("1", "true", "yes", "on")
DEFAULT_DB = Path("store") / "distill.db"
#: The kernel's limits (Linux: 4096 bytes a path, 255 a name); asked once, POSIX defaults elsewhere.
PATH_MAX = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096
NAME_MAX = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255


def check_path_text(path: str | os.PathLike[str]) -> None:
    """Refuse a path no file system can hold (a NUL byte, too long) with a message naming what is wrong.

    Without this the OS answers with a bare ``ValueError``/``OSError`` whose text (or lack of it) names
    neither the path nor the fix.
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    shown = text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"
    if "\x00" in text:
        raise InvalidInputError(f"the path {shown!r} contains a NUL byte (\\x00) at character {text.index(chr(0))}; "
                                "no file name can hold one: pass the path without it")
    size = len(os.fsencode(text))
    if size >= PATH_MAX:
        raise InvalidInputError(f"the path {shown!r} is {size} bytes long, above the system limit of {PATH_MAX - 1}; "
                                "pass a shorter path (a relative one, or a folder closer to the root)")
    longest = max((len(os.fsencode(part)) for part in Path(text).parts), default=0)
    if longest > NAME_MAX:
        raise InvalidInputError(f"the path {shown!r} has a name of {longest} bytes, above the system limit of "
                                f"{NAME_MAX} per file or folder name; rename it shorter")


@dataclass
class Settings:
    """Where the store lives and which folders tools may read.

    ``roots`` guards every path a caller names (CLI or MCP): a path that resolves outside them is
    refused. The default root is the current folder; ``roots_configured`` says whether the roots were
    given (option or environment), so that a bare CLI ``collect`` reads only folders someone chose.
    """

    #: A SQLite file, or a ``postgresql://`` URL (kept as text: a Path would fold its ``//``).
    db_path: Path | str = field(default_factory=lambda: DEFAULT_DB)
    roots: list[Path] = field(default_factory=lambda: [Path.cwd()])
    rules_path: Path | None = None
    #: Redact every string before storing (docs/redaction.md); a store collected so stays so.
    redact_on_collect: bool = False
    roots_configured: bool = False

    def __post_init__(self) -> None:

        # Roots are compared with resolved paths, so they are resolved too (a root reached through a
        # symlink must still contain the files under it).
        self.roots = [Path(r).expanduser().resolve() for r in self.roots]
        if not _server_url(self.db_path):
            self.db_path = Path(self.db_path)

    @classmethod
    def from_env(
        cls,
        db: str | os.PathLike[str] | None = None,
        roots: list[str] | None = None,
        rules: str | os.PathLike[str] | None = None,
        redact_on_collect: bool | None = None,
    ) -> Settings:
        """Explicit arguments win over the environment, which wins over the defaults."""
        db_value = db or os.environ.get(DB_ENV) or DEFAULT_DB
        root_values: list[str] = list(roots or [])
        if not root_values and os.environ.get(ROOTS_ENV):
            root_values = [r for r in os.environ[ROOTS_ENV].split(os.pathsep) if r.strip()]
        root_paths = [Path(r).expanduser().resolve() for r in root_values] or [Path.cwd().resolve()]
        rules_value = rules or os.environ.get(RULES_ENV)
        env_redact = os.environ.get(REDACT_ON_COLLECT_ENV, "").strip().lower()
        if env_redact and env_redact not in (*_TRUE, "0", "false", "no", "off"):
            raise ConfigError(f"{REDACT_ON_COLLECT_ENV}={env_redact!r} is not a yes/no value; set it to 1 or 0")
        return cls(
            db_path=str(db_value) if _server_url(db_value) else Path(db_value).expanduser(),
            roots=root_paths,
            rules_path=Path(rules_value).expanduser() if rules_value else None,
            redact_on_collect=redact_on_collect if redact_on_collect is not None else env_redact in _TRUE,
            roots_configured=bool(root_values),
        )

    def _inside(self, resolved: Path) -> bool:
        return any(resolved == root or resolved.is_relative_to(root) for root in self.roots)

    def check_path(self, path: str | os.PathLike[str], must_exist: bool = False) -> Path:
        """Resolve ``path`` (symlinks included) and refuse it unless it lies inside a root.

        A relative path is tried from the current folder, then under every root in order (an MCP server's
        working folder is often not the user's); the first place that exists wins. When none exists the
        first allowed place is returned (a folder to write), or with ``must_exist`` an error lists every
        place tried.
        """
        check_path_text(path)
        given = Path(path).expanduser()
        candidates = [given.resolve()]
        if not given.is_absolute():
            candidates += [(root / given).resolve() for root in self.roots]
        inside = list(dict.fromkeys(c for c in candidates if self._inside(c)))
        for candidate in inside:
            if candidate.exists():
                return candidate
        if inside and not must_exist:
            return inside[0]
        allowed = ", ".join(str(r) for r in self.roots)
        if inside:
            raise NotFoundError(f"{path} does not exist; looked for it at {', '.join(map(str, inside))} "
                                f"(the roots are {allowed}); pass an existing file or folder")
        raise PathNotAllowedError(
            f"{path} is outside the allowed roots ({allowed}); add its folder with --root or "
            f"{ROOTS_ENV} (separate several with '{os.pathsep}')"
        )


def read_toml(path: str | os.PathLike[str], what: str, missing_hint: str) -> dict:
    """A user TOML file (rules, models, mappings) as a dict; a missing or broken file is a ConfigError."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} not found; {missing_hint}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}; fix the invalid TOML and re-run") from exc


def _server_url(location: object) -> bool:
    # Imported when needed: importing mcp_distill.store loads SQLite, sqlite-utils and the migrations, and
    # this module is imported by the adapters, so every collect worker process paid ~0.4 s of CPU at its
    # start for a store it never opens.
    from mcp_distill.store import is_server_url

    return is_server_url(location)
