"""What an import remembers while it runs, so that the dossier handler's look-ups need not ask the database again.

The importer gives its unit of work repositories (the classes below) that consult this memory first; the rules
of what is remembered, and for how long, are in ``ImportMemory``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from storage.repositories.dossiers import DossierRepository
from storage.repositories.invitations import InvitationRepository
from storage.repositories.people import PersonRepository
from storage.repositories.units import FieldRepository, UnitRepository
from storage.uow import UnitOfWork
from storage.values import Dossier, Invitation, Person, Unit


class ImportMemory:
    """What this import has read or written, so that the handlers' look-ups need not ask the database again.

    Units are remembered for the whole import (an import adds none); field ids once the row that recorded
    them was kept. The dossiers of a batch, and their applicants, are read at once when the batch starts: a
    dossier is handed to the first row with its code (later rows ask again), a person is forgotten as soon as
    anyone changes them. Everything else only for the row being applied: it is forgotten when the next row
    starts, so a row rolled back to its savepoint never leaves anything behind. A dossier created by this row
    is known to have no events and no invitation but those this row adds.
    """

    def __init__(self, units: dict[str, Unit]) -> None:
        self.units = dict(units)
        self.unit_ids = {u.id: u for u in units.values()}
        self.fields: dict[str, int] = {}
        self.batch_dossiers: dict[str, Dossier | None] = {}
        self.batch_people: dict[int, Person] = {}
        self.start_row()

    async def start_batch(self, uow: UnitOfWork, codes: Sequence[str]) -> None:
        """Attach to the batch's unit of work and read the batch's dossiers and their applicants at once."""
        self.attach(uow)
        found = await uow.dossiers.by_codes(codes)
        self.batch_dossiers = {code: None for code in codes} | {d.code: d for d in found}
        applicants = {d.applicant_id for d in found if d.applicant_id is not None}
        self.batch_people = {p.id: p for p in await uow.people.by_ids(applicants)}

    def start_row(self) -> None:
        """Forget what the previous row saw."""
        self.new_fields: dict[str, int] = {}
        self.dossiers: dict[str, Dossier | None] = {}
        self.dossier_ids: dict[int, Dossier] = {}
        self.fresh: dict[int, set[tuple[str, datetime]]] = {}  # created by this row: its events
        self.invited: set[int] = set()
        self.people: dict[int, Person] = {}

    def keep_row(self) -> None:
        """The row was applied: the fields it recorded exist."""
        self.fields.update(self.new_fields)

    def remember(self, dossier: Dossier) -> Dossier:
        """Note ``dossier`` as it now is."""
        self.dossiers[dossier.code] = self.dossier_ids[dossier.id] = dossier
        return dossier

    def attach(self, uow: UnitOfWork) -> None:
        """Give ``uow`` repositories that consult this memory first."""
        connection = uow.connection
        uow.units = self._bind(_Units(connection))
        uow.fields = self._bind(_Fields(connection))
        uow.dossiers = self._bind(_Dossiers(connection))
        uow.people = self._bind(_People(connection))
        uow.invitations = self._bind(_Invitations(connection))

    def _bind(self, repository: _R) -> _R:
        repository.memory = self
        return repository


class _Remembering:
    """A repository that consults an import's memory before the database."""

    memory: ImportMemory


_R = TypeVar("_R", bound=_Remembering)


def _changed(value: Any, changes: dict[str, Any]) -> Any | None:
    """``value`` (a frozen dataclass) with plain ``changes`` applied as the database stores them; None if unsure."""
    names = {f.name for f in fields(value)}
    applied: dict[str, Any] = {}
    for name, new in changes.items():
        if name not in names:
            continue  # updated_at and the like: not part of the value
        if isinstance(new, datetime):
            new = new.astimezone(UTC)  # read back as UTC
        elif new is not None and not isinstance(new, str | int | float | bool):
            return None  # an SQL expression: only the database knows the outcome
        applied[name] = new
    return replace(value, **applied)


class _Units(_Remembering, UnitRepository):
    """Units, remembered for the whole import."""

    async def get_by_code(self, code: str) -> Unit | None:
        """The unit with ``code`` (remembered)."""
        if code in self.memory.units:
            return self.memory.units[code]
        return await super().get_by_code(code)

    async def get(self, unit_id: int) -> Unit:
        """The unit with id ``unit_id`` (remembered)."""
        if unit_id in self.memory.unit_ids:
            return self.memory.unit_ids[unit_id]
        return await super().get(unit_id)


class _Fields(_Remembering, FieldRepository):
    """Fields, remembered once the row that recorded them was kept."""

    async def ensure(self, name: str) -> int:
        """The id of the field ``name`` (remembered once its row was kept)."""
        known = self.memory.fields.get(name) or self.memory.new_fields.get(name)
        if known is None:
            known = self.memory.new_fields[name] = await super().ensure(name)
        return known


class _Dossiers(_Remembering, DossierRepository):
    """Dossiers and their events, remembered for the row or read with the batch."""

    async def get_by_code(self, code: str) -> Dossier | None:
        """The dossier with ``code`` (remembered for the row, or read with its batch)."""
        if code in self.memory.dossiers:
            return self.memory.dossiers[code]
        if code in self.memory.batch_dossiers:
            dossier = self.memory.batch_dossiers.pop(code)
        else:
            dossier = await super().get_by_code(code)
        if dossier is None:
            self.memory.dossiers[code] = None
            return None
        return self.memory.remember(dossier)

    async def get(self, dossier_id: int) -> Dossier:
        """The dossier with id ``dossier_id`` (remembered for the row)."""
        known = self.memory.dossier_ids.get(dossier_id)
        return known if known is not None else self.memory.remember(await super().get(dossier_id))

    async def add(self, now: datetime, **values: Any) -> Dossier:
        """Record a dossier; it has no events yet."""
        dossier = self.memory.remember(await super().add(now, **values))
        self.memory.fresh[dossier.id] = set()
        return dossier

    async def update(self, dossier_id: int, now: datetime, **values: Any) -> None:
        """Change a dossier, and what is remembered of it."""
        await super().update(dossier_id, now, **values)
        known = self.memory.dossier_ids.pop(dossier_id, None)
        if known is not None:
            self.memory.dossiers.pop(known.code, None)
            changed = _changed(known, values)
            if changed is not None:
                self.memory.remember(changed)

    async def has_event(self, dossier_id: int, type_: str, at: datetime) -> bool:
        """Whether exactly this event was stored (known without asking for a dossier this row created)."""
        events = self.memory.fresh.get(dossier_id)
        if events is not None:
            return (type_, at) in events
        return await super().has_event(dossier_id, type_, at)

    async def add_event(self, dossier_id: int, type_: str, at: datetime, note: str | None, now: datetime) -> bool:
        """Store an event."""
        added = await super().add_event(dossier_id, type_, at, note, now)
        events = self.memory.fresh.get(dossier_id)
        if events is not None:
            events.add((type_, at))
        return added


class _People(_Remembering, PersonRepository):
    """People, remembered for the row or read with the batch."""

    async def get(self, person_id: int) -> Person:
        """The person with id ``person_id`` (remembered for the row, or read with the batch)."""
        known = self.memory.people.get(person_id) or self.memory.batch_people.get(person_id)
        if known is None:
            known = self.memory.people[person_id] = await super().get(person_id)
        return known

    async def add(
        self, name: str | None, phone: str | None, email: str | None, zalo_user_id: str | None, now: datetime
    ) -> Person:
        """Record a person."""
        person = await super().add(name, phone, email, zalo_user_id, now)
        self.memory.people[person.id] = person
        return person

    async def update(self, person_id: int, **values: Any) -> None:
        """Change a person, and what is remembered of them."""
        await super().update(person_id, **values)
        self.memory.batch_people.pop(person_id, None)
        known = self.memory.people.pop(person_id, None)
        if known is not None:
            changed = _changed(known, values)
            if changed is not None:
                self.memory.people[person_id] = changed


class _Invitations(_Remembering, InvitationRepository):
    """Invitations, known to be none for a dossier this row created."""

    async def for_dossier(self, dossier_id: int) -> Invitation | None:
        """The dossier's invitation (known to be none for a dossier this row created and has not invited)."""
        if dossier_id in self.memory.fresh and dossier_id not in self.memory.invited:
            return None
        return await super().for_dossier(dossier_id)

    async def add(self, now: datetime, **values: Any) -> Invitation | None:
        """Create the dossier's invitation."""
        self.memory.invited.add(int(values["dossier_id"]))
        return await super().add(now, **values)
