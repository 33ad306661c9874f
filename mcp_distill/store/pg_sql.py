"""SQL text and values between the repositories (written with SQLite's ``?``) and psycopg.

The repositories write one statement for both backends wherever the SQL is the same, with ``?``
placeholders; psycopg wants ``%s`` and reads every other ``%`` as the start of a placeholder. A
statement is rewritten once (cached): ``?`` outside string literals and quoted names becomes
``%s``, every ``%`` becomes ``%%``. A statement run without parameters is sent as written.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit, urlunsplit

#: String literals, quoted identifiers, dollar-quoted bodies, comments: no placeholder inside them.
_TOKENS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|\$\$.*?\$\$|--[^\n]*|/\*.*?\*/)|(\?)|(%)""", re.S)

SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(location: object) -> bool:
    """True when ``location`` names a PostgreSQL server (``postgresql://...``), not a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(SERVER_SCHEMES)


def shown_url(url: str) -> str:
    """The URL without its password, for messages, receipts and ``stats``."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in user:
        return url
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}@{host}"))


@functools.lru_cache(maxsize=4096)
def to_psycopg(sql: str) -> str:
    """``sql`` with ``?`` placeholders turned into ``%s`` and literal ``%`` escaped for psycopg."""

    def swap(match: re.Match[str]) -> str:
        quoted, question, percent = match.groups()
        if quoted is not None:
            return quoted.replace("%", "%%")
        if question is not None:
            return "%s"
        return "%%" if percent else match.group(0)

    return _TOKENS.sub(swap, sql)
