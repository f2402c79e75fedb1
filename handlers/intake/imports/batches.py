"""New dossiers of an import written a run of rows at a time, storing what the lifecycle stores row by row.

An import (applying.py) hands over the rows of a batch whose dossier codes are not in the database
yet, in file order. Every check the dossier handler makes is made first, row by row, with the handler's own
functions (the same messages): a refused row is left out alone, before anything is written. The rows that
pass are then applied in memory in file order, as ``DossierHandler.upsert_in`` and ``add_event_in`` would
apply them one after the other (a phone number is one person: the oldest with it, or the one an earlier row
recorded, renamed by each later row), and written with one statement per table: the people recorded or
changed, the dossiers with the state their events lead to, the events, the invitations of the dossiers
returned. The database ends as the row-by-row path would leave it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.context import Services
from handlers.errors import HandlerError
from handlers.intake.dossiers import TRANSITIONS, DossierHandler, contact
from handlers.intake.imports.report import ImportWords
from handlers.intake.imports.rows import Plan, RowFault
from storage.import_rows import ImportRowRepository
from storage.uow import UnitOfWork
from storage.values import Dossier, Person, Unit

# how far along a dossier is on the usual road; a cancelled dossier is off it
_PROGRESS = {"received": 0, "supplement_requested": 1, "result_ready": 2, "returned": 3}
# an event -> the national status code that names it (``import.status.<code>`` in the catalogs)
EVENT_STATUS = {"supplement_requested": 5, "result_ready": 9, "returned": 10}


def last_step_at(dossier: Dossier) -> datetime | None:
    """When the dossier took its latest step on the usual road (resolved, returned), if it did."""
    return dossier.returned_at or dossier.finished_at


def step(state: str, last_at: datetime | None, type_: str, at: datetime) -> str:
    """What to do with an event for a dossier in ``state``: apply, resume (supplement first), skip or conflict.

    The export is a snapshot that may be older than what the dossier went through since (over the API, or a
    newer export): an event that would take the dossier back, or one dated before its latest step, is skipped.
    Only a cancelled dossier that the export says was resolved or is waiting for a supplement is a conflict.
    """
    sources, target = TRANSITIONS[type_]
    if state in sources:
        if type_ in ("supplement_requested", "cancelled") and last_at is not None and at < last_at:
            return "skip"  # older news than the result we know of
        return "apply"
    if state == "supplement_requested" and type_ in ("result_ready", "returned"):
        return "resume"  # the export says it was resolved: the supplement came in meanwhile
    if state == target or (state in _PROGRESS and target in _PROGRESS and _PROGRESS[state] >= _PROGRESS[target]):
        return "skip"
    return "conflict"


def moves(dossier: Dossier, events: Sequence[tuple[str, datetime]]) -> bool:
    """Whether applying ``events`` to ``dossier`` may change anything (read before any write)."""
    state, last_at = dossier.state, last_step_at(dossier)
    return any(step(state, last_at, type_, at) != "skip" for type_, at in events)


def conflict(type_: str, say: ImportWords) -> RowFault:
    """The fault of a row whose event contradicts a cancelled dossier."""
    return RowFault(say("row.cancelled", status=say.status(EVENT_STATUS[type_])))


@dataclass
class _Someone:
    """A person as the rows applied so far leave them; ``id`` None until recorded."""

    id: int | None
    name: str
    phone: str | None
    email: str | None
    zalo_user_id: str | None
    invitable: bool  # neither opted out nor erased
    stored: tuple[str | None, str | None, str | None] | None = None  # name, e-mail, Zalo id in the database

    @classmethod
    def of(cls, person: Person) -> _Someone:
        name = person.name or ""
        invitable = person.opted_out_at is None and person.erased_at is None
        stored = (person.name, person.email, person.zalo_user_id)
        return cls(person.id, name, person.phone, person.email, person.zalo_user_id, invitable, stored)

    def columns(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "zalo_user_id": self.zalo_user_id}


@dataclass
class _NewDossier:
    """One accepted row: its dossier's columns, events and invitation, before they are written."""

    row: int
    unit: Unit
    columns: dict[str, Any]
    events: list[tuple[str, datetime]]
    applicant: tuple[str, str | None, str | None, str | None]  # name, phone, e-mail, Zalo id (checked)
    invitation: dict[str, Any] | None = None
    person: _Someone | None = field(default=None)


@dataclass
class NewRows:
    """What writing a run of new rows did: rows created, rows refused (row, message), people changed."""

    created: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    people_changed: set[int] = field(default_factory=set)


class NewDossierWriter:
    """Writes runs of new dossiers (see the module's description)."""

    def __init__(self, services: Services, dossiers: DossierHandler, say: ImportWords) -> None:
        self.services = services
        self.dossiers = dossiers
        self.say = say

    async def write(self, uow: UnitOfWork, plans: Sequence[Plan], units: dict[str, Unit]) -> NewRows:
        """Apply ``plans`` (rows of dossiers not in the database) in ``uow``; ``units`` by code."""
        now = self.services.clock()
        outcome = NewRows()
        accepted: list[_NewDossier] = []
        for plan in plans:
            try:
                accepted.append(self._checked(plan, units, now))
            except (RowFault, HandlerError) as exc:
                outcome.refused.append((plan.row, str(exc)))
        if not accepted:
            return outcome
        repository = ImportRowRepository(uow.connection)
        stored = await repository.people_by_phone(new.applicant[1] for new in accepted if new.applicant[1])
        known = {phone: _Someone.of(person) for phone, person in stored.items()}
        recorded: list[_Someone] = []
        for new in accepted:
            name, phone, email, zalo = new.applicant
            someone = known.get(phone) if phone is not None else None
            if someone is None:
                someone = _Someone(None, name, phone, email, zalo, invitable=True)
                recorded.append(someone)
                if phone is not None:
                    known[phone] = someone
            else:  # as the handler updates the person it finds by phone
                someone.name, someone.email = name, email or someone.email
                someone.zalo_user_id = zalo or someone.zalo_user_id
            new.person = someone
            new.columns["field_id"] = await uow.fields.ensure(new.columns["field"])
        ids = await repository.add_people(
            [{**someone.columns(), "phone": someone.phone, "locale": "vi", "created_at": now} for someone in recorded]
        )
        for someone, id_ in zip(recorded, ids, strict=True):
            someone.id = id_
        changed = [
            someone
            for someone in known.values()
            if someone.stored is not None and someone.stored != (someone.name, someone.email, someone.zalo_user_id)
        ]
        await repository.update_people([{"person_id": someone.id, **someone.columns()} for someone in changed])
        outcome.people_changed = {someone.id for someone in changed if someone.id is not None}
        for new in accepted:
            assert new.person is not None
            new.columns["applicant_id"] = new.person.id
        dossier_ids = await repository.add_dossiers([new.columns for new in accepted])
        events, invitations = [], []
        for new, dossier_id in zip(accepted, dossier_ids, strict=True):
            events += [
                {"dossier_id": dossier_id, "type": type_, "at": at, "note": None, "created_at": now}
                for type_, at in new.events
            ]
            assert new.person is not None
            if new.invitation is not None and new.person.invitable:
                invitations.append({**new.invitation, "dossier_id": dossier_id, "person_id": new.person.id})
        await repository.add_events(events)
        await repository.add_invitations(invitations)
        outcome.created = len(accepted)
        return outcome

    def _checked(self, plan: Plan, units: dict[str, Unit], now: datetime) -> _NewDossier:
        """A row checked as the handler checks an upsert and then each event, with its events applied."""
        data = plan.data  # its code was checked as the handler checks it (handlers/intake/imports/rows.py)
        unit = units.get(data.unit)
        columns = self.dossiers.checked(data, unit, now)
        assert unit is not None
        applicant = contact(data.applicant, "applicant")
        columns.update(
            code=data.code,
            state="received",
            optin_token=secrets.token_urlsafe(16),
            applicant_kind=data.applicant.kind,
            representative_id=None,
            finished_at=None,
            returned_at=None,
            cancelled_at=None,
            on_time=None,
            created_at=now,
            updated_at=now,
        )
        new = _NewDossier(plan.row, unit, columns, [], applicant)
        for type_, at in plan.events:
            what = step(columns["state"], columns["returned_at"] or columns["finished_at"], type_, at)
            if what == "skip":
                continue
            if what == "conflict":
                if (type_, at) in new.events:
                    continue  # it happened before the dossier was cancelled
                raise conflict(type_, self.say)
            if what == "resume":
                self._event(new, "supplement_received", at, now)
            self._event(new, type_, at, now)
        return new

    def _event(self, new: _NewDossier, type_: str, at: datetime, now: datetime) -> None:
        """Apply one event to a dossier being made, as ``DossierHandler.add_event_in`` does."""
        at = self.dossiers.checked_event(type_, at, now)
        if (type_, at) in new.events:
            return  # seen before: nothing changes
        columns = new.columns
        changes = self.dossiers.event_changes(
            columns["state"], columns["received_at"], columns["due_at"], columns["finished_at"], type_, at
        )
        new.events.append((type_, at))
        columns.update(changes)
        invitation = new.invitation
        if type_ in ("supplement_requested", "cancelled") and invitation is not None:
            if invitation["status"] in ("pending", "sent", "started"):
                invitation.update(status="cancelled", cursor=None, closed_at=now)
        elif type_ == "returned":
            if invitation is None:
                new.invitation = {
                    **self.dossiers.survey.columns(new.unit, at),
                    "cursor": None,
                    "closed_at": None,
                    "created_at": now,
                }
            elif invitation["status"] == "cancelled":  # never sent: it is offered again
                again = self.dossiers.survey.columns(new.unit, at)
                invitation.update(
                    status="pending", closed_at=None, **{key: again[key] for key in ("scheduled_at", "expires_at")}
                )
