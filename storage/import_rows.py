"""The writes of an import of new dossiers, a batch of rows per statement (handlers/intake/imports/batches.py).

Each statement is built once per dialect and run with a list of parameter sets: an INSERT … RETURNING over
many rows goes out as a few multi-row INSERTs (SQLAlchemy's "insertmanyvalues"); the other statements are one
``executemany`` each. The ids come back in the order of the parameter sets: PostgreSQL's are sorted so by
SQLAlchemy; SQLite (which SQLAlchemy would make insert one row at a time for that) inserts the rows of a
multi-row INSERT in order, each with a rowid above every one before it, under the write lock the unit of work
holds: its ids in ascending order are those of the parameter sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Executable, bindparam, insert, select, update

from storage.repositories.base import Repository
from storage.tables.dossiers import DOSSIERS, EVENTS
from storage.tables.people import PEOPLE
from storage.tables.survey import INVITATIONS
from storage.values import Person


def _people_by_phone(dialect: str) -> Executable:
    return (
        select(PEOPLE)
        .where(PEOPLE.c.phone.in_(bindparam("phones", expanding=True)))
        .order_by(PEOPLE.c.phone, PEOPLE.c.id)
    )


def _add_people(dialect: str) -> Executable:
    return insert(PEOPLE).returning(PEOPLE.c.id, sort_by_parameter_order=dialect != "sqlite")


def _update_people(dialect: str) -> Executable:
    return update(PEOPLE).where(PEOPLE.c.id == bindparam("person_id"))


def _add_dossiers(dialect: str) -> Executable:
    return insert(DOSSIERS).returning(DOSSIERS.c.id, sort_by_parameter_order=dialect != "sqlite")


def _add_events(dialect: str) -> Executable:
    return insert(EVENTS)


def _add_invitations(dialect: str) -> Executable:
    return insert(INVITATIONS)


class ImportRowRepository(Repository):
    """People, dossiers, events and invitations written many at a time."""

    async def people_by_phone(self, phones: Iterable[str]) -> dict[str, Person]:
        """The oldest person with each of ``phones`` (as ``PersonRepository.find_by_phone`` finds them)."""
        wanted = sorted(set(phones))
        if not wanted:
            return {}
        found: dict[str, Person] = {}
        for person in await self._all(Person, self._prepared(_people_by_phone), {"phones": wanted}):
            assert person.phone is not None
            found.setdefault(person.phone, person)
        return found

    async def add_people(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Record people (each a dict of their columns); their ids, in order."""
        return await self._ids(self._prepared(_add_people), rows)

    async def update_people(self, rows: Sequence[dict[str, Any]]) -> None:
        """Change people: each a dict with ``person_id`` and the same columns to set."""
        if rows:
            await self.connection.execute(self._prepared(_update_people), list(rows))

    async def add_dossiers(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Record dossiers (each a dict of their columns); their ids, in order."""
        return await self._ids(self._prepared(_add_dossiers), rows)

    async def add_events(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record dossier events (each a dict of their columns)."""
        if rows:
            await self.connection.execute(self._prepared(_add_events), list(rows))

    async def add_invitations(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record invitations (each a dict of their columns)."""
        if rows:
            await self.connection.execute(self._prepared(_add_invitations), list(rows))

    async def _ids(self, statement: Executable, rows: Sequence[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        ids = [int(row[0]) for row in await self.connection.execute(statement, list(rows))]
        return sorted(ids) if self.dialect == "sqlite" else ids
