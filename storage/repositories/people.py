"""Citizens' contact data. Never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from storage.repositories.base import Repository
from storage.tables.dossiers import CLOSED_DOSSIER, DOSSIERS
from storage.tables.people import PEOPLE
from storage.values import Person


class PersonRepository(Repository):
    """Citizens' contact data."""

    async def get(self, person_id: int) -> Person:
        """The person with id ``person_id``."""
        person = await self._first(Person, select(PEOPLE).where(PEOPLE.c.id == person_id))
        if person is None:
            raise LookupError(f"no person {person_id}")
        return person

    async def add(
        self, name: str | None, phone: str | None, email: str | None, zalo_user_id: str | None, now: datetime
    ) -> Person:
        """Record a person."""
        statement = insert(PEOPLE).values(
            name=name, phone=phone, email=email, zalo_user_id=zalo_user_id, locale="vi", created_at=now
        )
        person = await self._first(Person, statement.returning(*PEOPLE.c))
        assert person is not None
        return person

    async def by_ids(self, ids: Iterable[int]) -> list[Person]:
        """The people with these ids, in one query."""
        wanted = sorted(set(ids))
        return await self._all(Person, select(PEOPLE).where(PEOPLE.c.id.in_(wanted))) if wanted else []

    async def find_by_phone(self, phone: str) -> Person | None:
        """The (oldest) person with ``phone``."""
        return await self._first(Person, select(PEOPLE).where(PEOPLE.c.phone == phone).order_by(PEOPLE.c.id).limit(1))

    async def update(self, person_id: int, **values: Any) -> None:
        """Change some of a person's fields."""
        await self._run(update(PEOPLE).where(PEOPLE.c.id == person_id).values(**values))

    async def expired(self, cutoff: datetime, limit: int) -> list[int]:
        """People not erased whose every dossier closed (returned or cancelled) before ``cutoff``."""
        closed_at = func.coalesce(DOSSIERS.c.returned_at, DOSSIERS.c.cancelled_at)
        theirs = or_(DOSSIERS.c.applicant_id == PEOPLE.c.id, DOSSIERS.c.representative_id == PEOPLE.c.id)
        recent = (
            select(DOSSIERS.c.id)
            .where(theirs, or_(DOSSIERS.c.state.not_in(CLOSED_DOSSIER), closed_at.is_(None), closed_at >= cutoff))
            .exists()
        )
        any_dossier = select(DOSSIERS.c.id).where(theirs).exists()
        query = (
            select(PEOPLE.c.id)
            .where(PEOPLE.c.erased_at.is_(None), any_dossier, ~recent)
            .order_by(PEOPLE.c.id)
            .limit(limit)
        )
        return list((await self.connection.execute(query)).scalars())

    async def erase(self, person_id: int, now: datetime) -> None:
        """Forget every contact field of a person; the row stays so that statistics keep their counts."""
        await self.update(person_id, name=None, phone=None, email=None, zalo_user_id=None, erased_at=now)
