"""Whether a database's schema is at the newest migration, found without loading Alembic.

Alembic (with Mako and Pygments under it) takes longer to import than a short command takes to run; a
database already at the newest revision has nothing to migrate, so :func:`is_current` lets the caller skip
it. The newest revision is read from the migration files' ``revision`` and ``down_revision`` lines; when
they do not name exactly one head (a merge migration, a line written another way), the answer is "not
known to be current" and Alembic decides, as it always did.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storage.db import READ_ONLY, Database

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"""^revision(?:\s*:\s*str)?\s*=\s*["']([\w-]+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision(?:\s*:\s*str\s*\|\s*None)?\s*=\s*(?:None|["']([\w-]+)["'])\s*$""", re.M)


@cache
def newest_revision() -> str | None:
    """The revision no other migration revises; None when the files do not say it plainly."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            revised.add(down[0])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 and revised <= revisions else None


async def is_current(database: Database) -> bool:
    """Whether the database is at the newest revision (False for a new database, or whenever in doubt).

    A database that cannot be reached fails here as it would in the migration.
    """
    head = newest_revision()
    if head is None:
        return False
    async with database.engine.connect() as connection:
        connection = await connection.execution_options(**{READ_ONLY: True})
        try:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        except SQLAlchemyError:  # no version table: never migrated
            return False
    return list(versions) == [head]


async def bring_up_to_date(database: Database) -> None:
    """Migrate the schema to the newest revision; Alembic is loaded only when there is something to migrate."""
    if await is_current(database):
        return
    from storage import migrate

    await migrate.upgrade(database)
