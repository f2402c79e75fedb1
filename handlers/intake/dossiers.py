"""The dossier lifecycle (docs/METHOD.md): upserts and events, idempotent (the survey invitation: invitations.py)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.contacts import normalize_phone
from handlers.context import Services
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.intake.invitations import SurveyInvitation
from handlers.messages import nfc
from storage.uow import UnitOfWork
from storage.values import Apology, Dossier, DossierEvent, Invitation, Unit

SUBMISSION_CHANNELS = ("truc_tiep", "truc_tuyen", "buu_chinh")
APPLICANT_KINDS = ("person", "organisation")  # an organisation is addressed by its name on the apology slip
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,49}$")
# how far ahead of the service's clock a reception or an event may be dated (the sender's clock may run a little
# fast); anything later is in the future and refused
CLOCK_SKEW = timedelta(minutes=5)

# event type -> (states it may follow, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "supplement_requested": (frozenset({"received", "result_ready", "returned"}), "supplement_requested"),
    "supplement_received": (frozenset({"supplement_requested"}), "received"),
    "result_ready": (frozenset({"received"}), "result_ready"),
    "returned": (frozenset({"received", "result_ready"}), "returned"),
    "cancelled": (frozenset({"received", "supplement_requested", "result_ready", "returned"}), "cancelled"),
}
EVENT_TYPES = tuple(TRANSITIONS)
STATE_WORDS = {
    "received": "being processed",
    "supplement_requested": "waiting for a supplement",
    "result_ready": "resolved, waiting to be returned",
    "returned": "already returned",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class ContactInput:
    """A person as the one-stop-shop software describes them."""

    name: str
    phone: str | None = None
    email: str | None = None
    zalo_user_id: str | None = None
    kind: str | None = None  # the applicant: "person" or "organisation"; None: not said


@dataclass(frozen=True)
class DossierInput:
    """A dossier as the one-stop-shop software (or an import) describes it."""

    code: str
    unit: str
    procedure: str
    field: str
    applicant: ContactInput
    received_at: datetime
    due_at: datetime | None  # None: counted from ``processing_days``
    channel: str = "truc_tiep"
    procedure_code: str | None = None
    representative: ContactInput | None = None
    handler: str | None = None
    zalo_optin: bool = False
    processing_days: int | None = None  # the procedure's time limit in working days, when no due date is given
    receiver: str | None = None  # the receiving (one-stop-shop counter) officer; shown to leaders only


@dataclass(frozen=True)
class UpsertResult:
    """The dossier after an upsert, and whether it was new."""

    dossier: Dossier
    created: bool


@dataclass(frozen=True)
class EventResult:
    """The dossier after an event; ``changed`` is False for an event seen before."""

    dossier: Dossier
    changed: bool


@dataclass(frozen=True)
class DossierView:
    """A dossier as the one-stop-shop software reads it back: where it stands, its timeline, survey and apology."""

    dossier: Dossier
    unit_code: str
    events: tuple[DossierEvent, ...]
    invitation: Invitation | None
    apology: Apology | None  # the delay apology
    error_apology: Apology | None = None  # the apology for an error in its handling

    @property
    def new_due_at(self) -> datetime | None:
        """The new appointment an apology promised, if there is one."""
        return self.apology.new_due_at if self.apology is not None else None


END_OF_DAY = time(23, 59, 59)


def local_moment(value: datetime | date, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """A timezone-aware moment from what the one-stop-shop software sent.

    A date-time with an offset is kept; a naive one is local time in ``zone``; a date alone is the
    start of that local day, or its end (23:59:59) with ``end_of_day`` (an appointment date means
    "by the end of that day").
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, END_OF_DAY if end_of_day else time(0), tzinfo=zone)


def _clean(text: str | None, what: str, limit: int, required: bool = True) -> str | None:
    value = nfc(text or "").strip()
    if not value:
        if required:
            raise InvalidInput(f"{what} is required")
        return None
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    return value


def contact(person: ContactInput, role: str) -> tuple[str, str | None, str | None, str | None]:
    """A person's name, phone (normalised), e-mail and Zalo id as stored, or InvalidInput."""
    name = _clean(person.name, f"{role}.name", 200)
    assert name is not None
    phone = None
    if person.phone and person.phone.strip():
        try:
            phone = normalize_phone(person.phone)
        except ValueError as exc:
            raise InvalidInput(f"{role}.phone: {exc}") from None
    email = _clean(person.email, f"{role}.email", 200, required=False)
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidInput(f"{role}.email is not an e-mail address")
    zalo = _clean(person.zalo_user_id, f"{role}.zalo_user_id", 64, required=False)
    return name, phone, email, zalo


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} must carry a timezone")
    return moment


class DossierHandler:
    """Upserts dossiers and applies their events, one transaction each."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.survey = SurveyInvitation(services)

    async def upsert(self, data: DossierInput) -> UpsertResult:
        """Create or update a dossier."""
        async with self.services.uow() as uow:
            result = await self.upsert_in(uow, data)
            await uow.commit()
        return result

    async def add_event(self, code: str, type_: str, at: datetime, note: str | None = None) -> EventResult:
        """Apply one lifecycle event; the same event twice changes nothing the second time."""
        async with self.services.uow() as uow:
            result = await self.add_event_in(uow, code, type_, at, note)
            await uow.commit()
        return result

    async def view(self, code: str) -> DossierView:
        """The dossier ``code`` with its timeline, survey and apology; NotFound when there is none."""
        async with self.services.uow(read_only=True) as uow:
            dossier = await uow.dossiers.get_by_code(code)
            if dossier is None:
                raise NotFound(f"no dossier {code!r}")
            unit = await uow.units.get(dossier.unit_id)
            return DossierView(
                dossier=dossier,
                unit_code=unit.code,
                events=tuple(await uow.dossiers.events(dossier.id)),
                invitation=await uow.invitations.for_dossier(dossier.id),
                apology=await uow.dossiers.apology(dossier.id),
                error_apology=await uow.dossiers.apology(dossier.id, "error"),
            )

    async def upsert_in(self, uow: UnitOfWork, data: DossierInput) -> UpsertResult:
        """``upsert`` inside a caller's unit of work."""
        now = self.services.clock()
        code = nfc(data.code).strip()
        if not CODE_RE.fullmatch(code):
            raise InvalidInput("code must be 1–50 letters, digits or . _ / - and start with a letter or digit")
        columns = self.checked(data, await uow.units.get_by_code(data.unit), now)
        existing = await uow.dossiers.get_by_code(code)
        fields = {
            **columns,
            "field_id": await uow.fields.ensure(columns["field"]),
            # not said (an import): what an earlier message said stays
            "applicant_kind": data.applicant.kind or (existing.applicant_kind if existing else None),
            "applicant_id": await self._person(
                uow, data.applicant, "applicant", now, existing.applicant_id if existing else None
            ),
            "representative_id": (
                await self._person(
                    uow, data.representative, "representative", now, existing.representative_id if existing else None
                )
                if data.representative
                else None
            ),
        }
        if existing is None:
            dossier = await uow.dossiers.add(
                now, code=code, state="received", optin_token=secrets.token_urlsafe(16), **fields
            )
            return UpsertResult(dossier, created=True)
        if existing.finished_at is not None:
            fields["on_time"] = self._on_time(existing.finished_at, fields["due_at"])
        await uow.dossiers.update(existing.id, now, **fields)
        return UpsertResult(await uow.dossiers.get(existing.id), created=False)

    def checked(self, data: DossierInput, unit: Unit | None, now: datetime) -> dict[str, Any]:
        """The dossier's own columns from ``data`` (``unit``: None if unknown), checked as upserts are; InvalidInput."""
        if unit is None:
            raise InvalidInput(f"unknown unit {data.unit!r}", code="unknown_unit")
        if data.channel not in SUBMISSION_CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(SUBMISSION_CHANNELS)}")
        if data.applicant.kind is not None and data.applicant.kind not in APPLICANT_KINDS:
            raise InvalidInput(f"applicant.kind must be one of {', '.join(APPLICANT_KINDS)}")
        if data.representative is not None and data.representative.kind not in (None, "person"):
            raise InvalidInput("representative.kind: an authorised representative is a person")
        received_at = _aware(data.received_at, "received_at")
        self._not_future(received_at, "received_at", now)
        due_at = _aware(self._due(received_at, data), "due_at")
        if due_at < received_at:
            raise InvalidInput("due_at is before received_at")
        field = _clean(data.field, "field", 100)
        return {
            "unit_id": unit.id,
            "procedure_name": _clean(data.procedure, "procedure", 300),
            "procedure_code": _clean(data.procedure_code, "procedure_code", 32, required=False),
            "field": field,
            "channel": data.channel,
            "handler": _clean(data.handler, "handler", 100, required=False),
            "receiver": _clean(data.receiver, "receiver", 100, required=False),
            "received_at": received_at,
            "due_at": due_at,
            "zalo_optin": data.zalo_optin,
        }

    async def add_event_in(self, uow: UnitOfWork, code: str, type_: str, at: datetime, note: str | None) -> EventResult:
        """``add_event`` inside a caller's unit of work."""
        now = self.services.clock()
        at = self.checked_event(type_, at, now)
        note = _clean(note, "note", 2000, required=False)
        dossier = await uow.dossiers.get_by_code(code)
        if dossier is None:
            raise NotFound(f"no dossier {code!r}")
        if await uow.dossiers.has_event(dossier.id, type_, at):
            return EventResult(dossier, changed=False)
        changes = self.event_changes(dossier.state, dossier.received_at, dossier.due_at, dossier.finished_at, type_, at)
        await uow.dossiers.add_event(dossier.id, type_, at, note, now)
        if type_ in ("supplement_requested", "cancelled"):
            await self.survey.cancel(uow, dossier, now)
        await uow.dossiers.update(dossier.id, now, **changes)
        dossier = await uow.dossiers.get(dossier.id)
        if type_ == "returned":
            await self.survey.invite(uow, dossier, at, now)
        return EventResult(dossier, changed=True)

    def checked_event(self, type_: str, at: datetime, now: datetime) -> datetime:
        """An event's type and time checked as for any dossier (its moment, timezone-aware), or InvalidInput."""
        if type_ not in TRANSITIONS:
            raise InvalidInput(f"type must be one of {', '.join(EVENT_TYPES)}")
        at = _aware(at, "at")
        self._not_future(at, "at", now)
        return at

    def event_changes(
        self, state: str, received: datetime, due_at: datetime, finished_at: datetime | None, type_: str, at: datetime
    ) -> dict[str, Any]:
        """What a new event ``type_`` at ``at`` changes in a dossier as described; Conflict or InvalidInput."""
        sources, target = TRANSITIONS[type_]
        if state not in sources:
            raise Conflict(
                f"cannot apply {type_} to a dossier that is {STATE_WORDS[state]}",
                code="invalid_transition",
            )
        if at < received:
            raise InvalidInput("at is before the dossier was received")
        changes: dict[str, Any] = {"state": target}
        if type_ == "result_ready":
            changes.update(finished_at=at, on_time=self._on_time(at, due_at))
        elif type_ == "returned":
            changes["returned_at"] = at
            if finished_at is None:
                changes.update(finished_at=at, on_time=self._on_time(at, due_at))
        elif type_ in ("supplement_requested", "cancelled"):
            changes.update(finished_at=None, returned_at=None, on_time=None)
            if type_ == "cancelled":
                changes["cancelled_at"] = at
        return changes

    def _not_future(self, moment: datetime, what: str, now: datetime) -> None:
        """Refuse a reception or an event dated after now (a due date in the future is of course fine)."""
        if moment > now + CLOCK_SKEW:
            show = self.services.policy.show
            raise InvalidInput(f"{what}: {show(moment)} is in the future (now {show(now)}, local time)")

    def _due(self, received_at: datetime, data: DossierInput) -> datetime:
        """The due date given, or the end of the day ``processing_days`` working days after reception."""
        if data.due_at is not None:
            return data.due_at
        if data.processing_days is None or not 0 < data.processing_days <= 365:
            raise InvalidInput("due_at is required (or processing_days, 1 to 365 working days)")
        policy = self.services.policy
        day = self.services.calendar.add_working_days(policy.local_date(received_at), data.processing_days)
        return datetime.combine(day, END_OF_DAY, tzinfo=policy.timezone)

    def _on_time(self, finished_at: datetime, due_at: datetime) -> bool:
        """On time when processing finished on or before the due date (local calendar days)."""
        policy = self.services.policy
        return policy.local_date(finished_at) <= policy.local_date(due_at)

    async def _person(
        self, uow: UnitOfWork, person: ContactInput, role: str, now: datetime, current_id: int | None = None
    ) -> int:
        """The person ``person`` describes: the dossier's ``current_id`` again, one known by phone, or a new one."""
        name, phone, email, zalo = contact(person, role)
        if current_id is not None:
            # a dossier sent again keeps its person (and the chats linked to them), unless the phone changed
            current = await uow.people.get(current_id)
            if current.erased_at is None and (phone is None or phone == current.phone):
                await uow.people.update(
                    current.id, name=name, email=email or current.email, zalo_user_id=zalo or current.zalo_user_id
                )
                return current.id
        if phone is not None:
            known = await uow.people.find_by_phone(phone)
            if known is not None:
                await uow.people.update(
                    known.id, name=name, email=email or known.email, zalo_user_id=zalo or known.zalo_user_id
                )
                return known.id
        return (await uow.people.add(name, phone, email, zalo, now)).id
