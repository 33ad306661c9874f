"""Numbered schema migrations, applied in order through sqlite-utils ``Migrations``.

Each ``mNNN_name.py`` module in this package defines ``migrate(db)``. They are discovered and
registered in numeric order, so a capability adds its tables by dropping in the next number; a
migration is never edited once it has landed.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from mcp_distill.errors import StoreVersionError

__all__ = ["KNOWN", "MIGRATIONS", "MIGRATION_SET", "TABLE", "applied_names", "apply", "build_migrations", "check_known"]

MIGRATION_SET = "mcp_distill"
#: Where sqlite-utils records the applied migrations.
TABLE = Migrations.migrations_table


def _discover() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name[:1] == "m" and m.name[1:4].isdigit()]
    return sorted(names)


def build_migrations() -> Migrations:
    migrations = Migrations(MIGRATION_SET)
    for module_name in _discover():
        module = importlib.import_module(f"{__name__}.{module_name}")
        migrations(name=module_name)(module.migrate)
    return migrations


MIGRATIONS = build_migrations()
KNOWN = [m.name for m in MIGRATIONS._migrations]


def apply(db: Database, stop_before: str | None = None) -> None:
    MIGRATIONS.apply(db, stop_before=stop_before)


def applied_names(db: Database) -> list[str]:
    return [m.name for m in MIGRATIONS.applied(db)]


def check_known(applied: list[str], store: object) -> None:
    """Refuse a store that holds migrations this build does not know (written by a newer version)."""
    unknown = [name for name in applied if name not in KNOWN]
    if unknown:
        raise StoreVersionError(
            f"{store} was written by a newer mcp-distill (migrations {', '.join(unknown)} "
            "are unknown here); upgrade mcp-distill or point --db at another store"
        )
