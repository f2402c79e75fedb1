"""Dossiers and their events. Never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, or_, select, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.dossiers import CLOSED_DOSSIER, DOSSIERS, EVENTS
from storage.tables.people import PEOPLE
from storage.tables.staff import APOLOGIES
from storage.tables.survey import INVITATIONS, OPEN_INVITATION
from storage.values import Apology, Dossier, DossierEvent


class DossierRepository(Repository):
    """Dossiers and their events."""

    async def get_by_code(self, code: str) -> Dossier | None:
        """The dossier with ``code``."""
        return await self._first(Dossier, select(DOSSIERS).where(DOSSIERS.c.code == code))

    async def count_for_unit(self, unit_id: int) -> int:
        """How many dossiers the unit has."""
        query = select(func.count()).select_from(DOSSIERS).where(DOSSIERS.c.unit_id == unit_id)
        return int((await self.connection.execute(query)).scalar_one())

    async def get(self, dossier_id: int) -> Dossier:
        """The dossier with id ``dossier_id``."""
        dossier = await self._first(Dossier, select(DOSSIERS).where(DOSSIERS.c.id == dossier_id))
        if dossier is None:
            raise LookupError(f"no dossier {dossier_id}")
        return dossier

    async def get_by_token(self, token: str) -> Dossier | None:
        """The dossier whose opt-in token is ``token``."""
        return await self._first(Dossier, select(DOSSIERS).where(DOSSIERS.c.optin_token == token))

    async def add(self, now: datetime, **values: Any) -> Dossier:
        """Record a dossier."""
        statement = insert(DOSSIERS).values(created_at=now, updated_at=now, **values).returning(*DOSSIERS.c)
        dossier = await self._first(Dossier, statement)
        assert dossier is not None
        return dossier

    async def update(self, dossier_id: int, now: datetime, **values: Any) -> None:
        """Change some of a dossier's fields."""
        await self._run(update(DOSSIERS).where(DOSSIERS.c.id == dossier_id).values(updated_at=now, **values))

    async def add_event(self, dossier_id: int, type_: str, at: datetime, note: str | None, now: datetime) -> bool:
        """Store an event; False when the same event (type and time) was stored before."""
        statement = (
            dialect_insert(self.dialect, EVENTS)
            .values(dossier_id=dossier_id, type=type_, at=at, note=note, created_at=now)
            .on_conflict_do_nothing(index_elements=["dossier_id", "type", "at"])
            .returning(EVENTS.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def has_event(self, dossier_id: int, type_: str, at: datetime) -> bool:
        """Whether exactly this event was stored."""
        query = select(exists().where(EVENTS.c.dossier_id == dossier_id, EVENTS.c.type == type_, EVENTS.c.at == at))
        return bool((await self.connection.execute(query)).scalar())

    async def open_for_phone(self, phone: str) -> list[Dossier]:
        """Dossiers with ``phone`` on them that are still being handled or whose survey is still open."""
        people = select(PEOPLE.c.id).where(PEOPLE.c.phone == phone)
        survey_open = (
            select(INVITATIONS.c.id)
            .where(
                INVITATIONS.c.dossier_id == DOSSIERS.c.id,
                INVITATIONS.c.status.in_(("pending", *OPEN_INVITATION)),
            )
            .exists()
        )
        query = (
            select(DOSSIERS)
            .where(
                or_(DOSSIERS.c.state.not_in(CLOSED_DOSSIER), survey_open),
                or_(DOSSIERS.c.applicant_id.in_(people), DOSSIERS.c.representative_id.in_(people)),
            )
            .order_by(DOSSIERS.c.id)
        )
        return await self._all(Dossier, query)

    async def by_codes(self, codes: Iterable[str]) -> list[Dossier]:
        """The dossiers with these codes, in one query (an import reads a batch at once)."""
        wanted = sorted(set(codes))
        return await self._all(Dossier, select(DOSSIERS).where(DOSSIERS.c.code.in_(wanted))) if wanted else []

    async def latest_for_person(self, person_id: int) -> Dossier | None:
        """The person's most recently received dossier (as applicant or representative)."""
        query = (
            select(DOSSIERS)
            .where(or_(DOSSIERS.c.applicant_id == person_id, DOSSIERS.c.representative_id == person_id))
            .order_by(DOSSIERS.c.received_at.desc(), DOSSIERS.c.id.desc())
            .limit(1)
        )
        return await self._first(Dossier, query)

    async def events(self, dossier_id: int) -> list[DossierEvent]:
        """The dossier's events in the order they happened (then in the order they were stored)."""
        query = select(EVENTS).where(EVENTS.c.dossier_id == dossier_id).order_by(EVENTS.c.at, EVENTS.c.id)
        return await self._all(DossierEvent, query)

    async def apology(self, dossier_id: int, kind: str = "delay") -> Apology | None:
        """The dossier's apology of ``kind`` ("delay", or "error" in its handling), if it has one."""
        columns = [c for c in APOLOGIES.c if c.name != "pdf"]  # the slip itself is read only when sent
        query = select(*columns).where(APOLOGIES.c.dossier_id == dossier_id, APOLOGIES.c.kind == kind)
        return await self._first(Apology, query)
