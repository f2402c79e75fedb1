"""Queries over one connection, as SQLAlchemy Core. Repositories never commit: the unit of work does.

Rows come back as the frozen values of storage/values.py; ORM objects are not used at run time
(the declarative models only describe the tables). Statements run on every inbound event are built
once, with bound parameters, per database dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Delete,
    Executable,
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import (
    AnswerRow,
    ApiKeyRow,
    ApiKeyUnitRow,
    ApologyRow,
    AuditRow,
    DossierEventRow,
    DossierRow,
    DraftRow,
    FeedbackRow,
    FieldRow,
    IdempotencyRow,
    IdentityRow,
    InboundEventRow,
    InboxRow,
    InvitationRow,
    JobRunRow,
    OutboxRow,
    PersonRow,
    PlatformTokenRow,
    UnitRow,
)
from storage.sqlite_driver import WRITE_LATER
from storage.values import (
    BULK,
    INTERACTIVE,
    Answer,
    ApiKey,
    ApiKeyListing,
    Apology,
    AuditEntry,
    Chat,
    ChatSurvey,
    Dossier,
    DossierEvent,
    Draft,
    Invitation,
    KeptUpdate,
    OutboxMessage,
    Person,
    PlatformToken,
    StoredResponse,
    Unit,
)

V = TypeVar("V")

UNITS = cast(Table, UnitRow.__table__)
PEOPLE = cast(Table, PersonRow.__table__)
CHATS = cast(Table, IdentityRow.__table__)
DOSSIERS = cast(Table, DossierRow.__table__)
EVENTS = cast(Table, DossierEventRow.__table__)
FIELDS = cast(Table, FieldRow.__table__)
API_KEYS = cast(Table, ApiKeyRow.__table__)
API_KEY_UNITS = cast(Table, ApiKeyUnitRow.__table__)
IDEMPOTENCY = cast(Table, IdempotencyRow.__table__)
INVITATIONS = cast(Table, InvitationRow.__table__)
ANSWERS = cast(Table, AnswerRow.__table__)
INBOUND = cast(Table, InboundEventRow.__table__)
INBOX = cast(Table, InboxRow.__table__)
OUTBOX = cast(Table, OutboxRow.__table__)
APOLOGIES = cast(Table, ApologyRow.__table__)
JOB_RUNS = cast(Table, JobRunRow.__table__)
AUDIT = cast(Table, AuditRow.__table__)
FEEDBACK = cast(Table, FeedbackRow.__table__)
TOKENS = cast(Table, PlatformTokenRow.__table__)
DRAFTS = cast(Table, DraftRow.__table__)

OPEN_INVITATION = ("sent", "started")
CLOSED_DOSSIER = ("returned", "cancelled")


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _names(kind: type[Any]) -> tuple[str, ...]:
    """The field names of a value class (looked up once per class)."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


def _value(kind: type[V], row: Row[Any]) -> V:
    """A frozen value from a row that has (at least) the value's fields as columns."""
    mapping = row._mapping
    return kind(**{name: mapping[name] for name in _names(kind)})


def _insert(dialect: str, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT on both backends (PostgreSQL's dialect is loaded for PostgreSQL only)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


@cache
def _statement(dialect: str, build: Callable[[str], Executable]) -> Executable:
    """A statement built once per dialect (bound parameters carry the values)."""
    return build(dialect)


class _Repository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    async def _first(self, kind: type[V], statement: Executable, parameters: dict[str, Any] | None = None) -> V | None:
        row = (await self.connection.execute(statement, parameters)).first()
        return _value(kind, row) if row is not None else None

    async def _all(self, kind: type[V], statement: Executable, parameters: dict[str, Any] | None = None) -> list[V]:
        return [_value(kind, row) for row in await self.connection.execute(statement, parameters)]

    async def _run(self, statement: Executable, parameters: dict[str, Any] | None = None) -> int:
        """Execute and return the number of rows changed."""
        result = await self.connection.execute(statement, parameters)
        return int(result.rowcount)

    def _prepared(self, build: Callable[[str], Executable]) -> Executable:
        return _statement(self.dialect, build)


class UnitRepository(_Repository):
    """Units and their tree."""

    async def get_by_code(self, code: str) -> Unit | None:
        """The unit with ``code``."""
        return await self._first(Unit, select(UNITS).where(UNITS.c.code == code))

    async def get(self, unit_id: int) -> Unit:
        """The unit with id ``unit_id``."""
        unit = await self._first(Unit, select(UNITS).where(UNITS.c.id == unit_id))
        if unit is None:
            raise LookupError(f"no unit {unit_id}")
        return unit

    async def add(self, code: str, name: str, parent_id: int | None, now: datetime, **values: Any) -> Unit:
        """Create a unit (``values``: more of its columns, such as ``issues_documents`` or ``place``)."""
        statement = insert(UNITS).values(code=code, name=name, parent_id=parent_id, created_at=now, **values)
        unit = await self._first(Unit, statement.returning(*UNITS.c))
        assert unit is not None
        return unit

    async def update(self, unit_id: int, **values: Any) -> Unit:
        """Change some of a unit's columns; the unit as it is now."""
        if values:
            await self._run(update(UNITS).where(UNITS.c.id == unit_id).values(**values))
        return await self.get(unit_id)

    async def set_form(self, unit_id: int, form_id: str | None) -> None:
        """Give a unit its own survey form (None: the default)."""
        await self._run(update(UNITS).where(UNITS.c.id == unit_id).values(form_id=form_id))

    async def all(self) -> list[Unit]:
        """Every unit, by code."""
        return await self._all(Unit, select(UNITS).order_by(UNITS.c.code))

    async def subtree_ids(self, unit_id: int) -> list[int]:
        """``unit_id`` and every unit below it (a recursive query down the parent index)."""
        tree = select(UNITS.c.id).where(UNITS.c.id == unit_id).cte("tree", recursive=True)
        tree = tree.union_all(select(UNITS.c.id).join(tree, UNITS.c.parent_id == tree.c.id))
        return sorted(int(i) for i in (await self.connection.execute(select(tree.c.id))).scalars())

    async def children(self, unit_id: int) -> list[Unit]:
        """The units right below ``unit_id``, by code."""
        return await self._all(Unit, select(UNITS).where(UNITS.c.parent_id == unit_id).order_by(UNITS.c.code))


class PersonRepository(_Repository):
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


def _chat_survey(dialect: str) -> Select[Any]:
    """A chat with its current survey, that dossier's field and the chat's draft.

    The chat's current survey is one being asked in a chat (it has a current question): one asked on this chat's
    channel first, a started one first, then the oldest. An open rating on another channel (a ZNS template, which
    has no question here) is never it.
    """
    invitation = INVITATIONS.alias("invitation")
    current = (
        select(invitation.c.id)
        .where(
            invitation.c.person_id == CHATS.c.person_id,
            invitation.c.status.in_(OPEN_INVITATION),
            invitation.c.cursor.is_not(None),
        )
        .order_by(
            case((invitation.c.channel == bindparam("channel"), 0), else_=1),  # the chat's own channel
            case((invitation.c.status == "started", 0), else_=1),
            invitation.c.scheduled_at,
            invitation.c.id,
        )
        .limit(1)
        .scalar_subquery()
    )
    survey_columns = [c.label(f"survey_{c.name}") for c in INVITATIONS.c]
    draft_columns = [DRAFTS.c.kind.label("draft_kind"), DRAFTS.c.data.label("draft_data")]
    return (
        select(CHATS, *survey_columns, DOSSIERS.c.field_id.label("survey_field_id"), *draft_columns)
        .select_from(
            CHATS.outerjoin(INVITATIONS, INVITATIONS.c.id == current)
            .outerjoin(DOSSIERS, DOSSIERS.c.id == INVITATIONS.c.dossier_id)
            .outerjoin(DRAFTS, DRAFTS.c.identity_id == CHATS.c.id)
        )
        .where(CHATS.c.channel == bindparam("channel"), CHATS.c.external_id == bindparam("external_id"))
    )


class ChatRepository(_Repository):
    """Chats (channel identities)."""

    async def get(self, channel: str, external_id: str) -> Chat | None:
        """The chat ``external_id`` on ``channel``."""
        return await self._first(
            Chat, select(CHATS).where(CHATS.c.channel == channel, CHATS.c.external_id == external_id)
        )

    async def with_survey(self, channel: str, external_id: str) -> ChatSurvey | None:
        """The chat, its person's current survey, that dossier's field and the chat's draft, in one query."""
        row = (
            await self.connection.execute(
                self._prepared(_chat_survey), {"channel": channel, "external_id": external_id}
            )
        ).first()
        if row is None:
            return None
        mapping = row._mapping
        invitation = None
        if mapping["survey_id"] is not None:
            invitation = Invitation(**{name: mapping[f"survey_{name}"] for name in _names(Invitation)})
        chat = _value(Chat, row)
        draft = None
        if mapping["draft_kind"] is not None:
            draft = Draft(chat.id, mapping["draft_kind"], mapping["draft_data"])
        return ChatSurvey(chat, invitation, mapping["survey_field_id"], draft)

    async def get_by_id(self, chat_id: int) -> Chat:
        """The chat with id ``chat_id``."""
        chat = await self._first(Chat, select(CHATS).where(CHATS.c.id == chat_id))
        if chat is None:
            raise LookupError(f"no chat {chat_id}")
        return chat

    async def add(self, channel: str, external_id: str, locale: str, now: datetime) -> Chat:
        """Record a chat, not yet linked to anyone."""
        statement = insert(CHATS).values(
            channel=channel,
            external_id=external_id,
            status="pending_consent",
            locale=locale,
            created_at=now,
            updated_at=now,
        )
        chat = await self._first(Chat, statement.returning(*CHATS.c))
        assert chat is not None
        return chat

    async def update(self, chat_id: int, now: datetime, **values: Any) -> None:
        """Change some of a chat's fields."""
        await self._run(update(CHATS).where(CHATS.c.id == chat_id).values(updated_at=now, **values))

    async def for_person(self, person_id: int) -> list[Chat]:
        """Every chat linked to ``person_id``, oldest first."""
        return await self._all(Chat, select(CHATS).where(CHATS.c.person_id == person_id).order_by(CHATS.c.id))

    async def delete(self, chat_id: int) -> None:
        """Forget a chat."""
        await self._run(delete(CHATS).where(CHATS.c.id == chat_id))


class FieldRepository(_Repository):
    """Fields of procedures (lĩnh vực)."""

    async def ensure(self, name: str) -> int:
        """The id of the field called ``name``, recorded on first use."""
        statement = _insert(self.dialect, FIELDS).values(name=name).on_conflict_do_nothing(index_elements=["name"])
        await self._run(statement)
        return int((await self.connection.execute(select(FIELDS.c.id).where(FIELDS.c.name == name))).scalar_one())


class DossierRepository(_Repository):
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
            _insert(self.dialect, EVENTS)
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


class InvitationRepository(_Repository):
    """Surveys and where each conversation stands."""

    async def get(self, invitation_id: int) -> Invitation | None:
        """The invitation with id ``invitation_id``."""
        return await self._first(Invitation, select(INVITATIONS).where(INVITATIONS.c.id == invitation_id))

    async def for_dossier(self, dossier_id: int) -> Invitation | None:
        """The dossier's invitation, if one was created."""
        return await self._first(Invitation, select(INVITATIONS).where(INVITATIONS.c.dossier_id == dossier_id))

    async def add(self, now: datetime, **values: Any) -> Invitation | None:
        """Create the dossier's invitation; None when it already has one (one survey per dossier, ever)."""
        statement = (
            _insert(self.dialect, INVITATIONS)
            .values(created_at=now, **values)
            .on_conflict_do_nothing(index_elements=["dossier_id"])
            .returning(*INVITATIONS.c)
        )
        return await self._first(Invitation, statement)

    async def update(self, invitation_id: int, **values: Any) -> None:
        """Change some of an invitation's fields."""
        await self._run(update(INVITATIONS).where(INVITATIONS.c.id == invitation_id).values(**values))

    async def advance(self, invitation_id: int, cursor: str | None, now: datetime, *, next_turn: bool = False) -> int:
        """Move the conversation to ``cursor`` and mark the survey started if it was only offered.

        ``next_turn``: the message asking ``cursor`` takes the invitation's next turn in the same statement (as
        ``take_turn`` without ``expected``); the new turn is returned (0 otherwise).
        """
        parameters = {"invitation_id": invitation_id, "cursor": cursor, "now": now}
        if not next_turn:
            await self.connection.execute(self._prepared(_advance), parameters, execution_options=WRITE_LATER)
            return 0
        turn = (await self.connection.execute(self._prepared(_advance_turn), parameters)).scalar()
        return int(turn) if turn is not None else 0

    async def take_turn(self, invitation_id: int, expected: int | None = None) -> int | None:
        """Move the invitation to its next turn (a new survey message is sent); the new turn.

        ``expected``: only if the turn is still that one (the press came from the newest message); None when it
        is not — another press or message took it first, and this press is stale. Atomic: two presses on the
        same message can never both take it.
        """
        statement = update(INVITATIONS).where(INVITATIONS.c.id == invitation_id)
        if expected is not None:
            statement = statement.where(INVITATIONS.c.turn == expected)
        result = await self.connection.execute(
            statement.values(turn=INVITATIONS.c.turn + 1).returning(INVITATIONS.c.turn)
        )
        turn = result.scalar()
        return int(turn) if turn is not None else None

    async def for_person(self, person_id: int, statuses: Sequence[str]) -> list[Invitation]:
        """The person's invitations in ``statuses``, oldest first."""
        query = (
            select(INVITATIONS)
            .where(INVITATIONS.c.person_id == person_id, INVITATIONS.c.status.in_(statuses))
            .order_by(INVITATIONS.c.scheduled_at, INVITATIONS.c.id)
        )
        return await self._all(Invitation, query)

    async def due(self, now: datetime, limit: int, *, by_phone: bool = False) -> list[Invitation]:
        """Pending invitations whose time has come and whose person has a chat to reach.

        ``by_phone``: also those whose dossier's applicant agreed to Zalo notices and has a phone number
        (ZNS reaches a phone without any chat).
        """
        reachable: ColumnElement[bool] = (
            select(CHATS.c.id).where(CHATS.c.person_id == INVITATIONS.c.person_id, CHATS.c.status == "active").exists()
        )
        if by_phone:
            phone = (
                select(DOSSIERS.c.id)
                .join(PEOPLE, PEOPLE.c.id == INVITATIONS.c.person_id)
                .where(DOSSIERS.c.id == INVITATIONS.c.dossier_id, DOSSIERS.c.zalo_optin, PEOPLE.c.phone.is_not(None))
                .exists()
            )
            reachable = or_(reachable, phone)
        query = (
            select(INVITATIONS)
            .where(INVITATIONS.c.status == "pending", INVITATIONS.c.scheduled_at <= now, reachable)
            .order_by(INVITATIONS.c.scheduled_at, INVITATIONS.c.id)
            .limit(limit)
        )
        return await self._all(Invitation, query)

    async def undeliverable(self, invitation_id: int, channel: str, now: datetime) -> None:
        """Its first message could not reach the person on ``channel``: offer it again on the next channel.

        An invitation already answered stays where it is (the person comes back by writing); one that
        failed on ZNS, the last resort, is closed as undeliverable.
        """
        if channel == "zns":
            values: dict[str, Any] = {"status": "undeliverable", "closed_at": now}
        else:
            values = {"status": "pending", "channel": None, "cursor": None, "sent_at": None, "scheduled_at": now}
        await self._run(
            update(INVITATIONS)
            .where(INVITATIONS.c.id == invitation_id, INVITATIONS.c.status == "sent", INVITATIONS.c.channel == channel)
            .values(**values)
        )

    async def to_remind(self, sent_before: datetime, limit: int) -> list[Invitation]:
        """Open invitations, never reminded, sent before ``sent_before``."""
        query = (
            select(INVITATIONS)
            .where(
                INVITATIONS.c.status.in_(OPEN_INVITATION),
                INVITATIONS.c.reminded_at.is_(None),
                INVITATIONS.c.sent_at <= sent_before,
            )
            .order_by(INVITATIONS.c.id)
            .limit(limit)
        )
        return await self._all(Invitation, query)

    async def expire(self, now: datetime) -> int:
        """Close every unfinished invitation past its expiry; the number closed."""
        return await self._run(
            update(INVITATIONS)
            .where(INVITATIONS.c.status.in_(("pending", *OPEN_INVITATION)), INVITATIONS.c.expires_at <= now)
            .values(status="expired", closed_at=now, cursor=None)
        )

    async def detach_person(self, person_id: int) -> None:
        """Unlink a person's invitations from them (their answers stay, anonymous)."""
        await self._run(update(INVITATIONS).where(INVITATIONS.c.person_id == person_id).values(person_id=None))


def _advance(dialect: str) -> Update:
    started = INVITATIONS.c.status == "sent"
    return (
        update(INVITATIONS)
        .where(INVITATIONS.c.id == bindparam("invitation_id"))
        .values(
            cursor=bindparam("cursor"),
            status=case((started, literal_column("'started'")), else_=INVITATIONS.c.status),
            started_at=func.coalesce(INVITATIONS.c.started_at, bindparam("now")),
        )
    )


def _advance_turn(dialect: str) -> Any:
    return _advance(dialect).values(turn=INVITATIONS.c.turn + 1).returning(INVITATIONS.c.turn)


def _upsert_answer(dialect: str) -> Insert:
    statement = _insert(dialect, ANSWERS).values(
        invitation_id=bindparam("invitation_id"),
        question_code=bindparam("question_code"),
        value=bindparam("value"),
        text=bindparam("text"),
        form_id=bindparam("form_id"),
        form_version=bindparam("form_version"),
        unit_id=bindparam("unit_id"),
        field_id=bindparam("field_id"),
        answered_at=bindparam("answered_at"),
    )
    return cast(
        Insert,
        statement.on_conflict_do_update(
            index_elements=["invitation_id", "question_code"],
            set_={
                "value": statement.excluded.value,
                "text": statement.excluded.text,
                "answered_at": statement.excluded.answered_at,
            },
        ),
    )


def _delete_answer(dialect: str) -> Delete:
    return delete(ANSWERS).where(
        ANSWERS.c.invitation_id == bindparam("invitation_id"), ANSWERS.c.question_code == bindparam("question_code")
    )


class AnswerRepository(_Repository):
    """Answers to survey questions."""

    async def for_invitation(self, invitation_id: int) -> dict[str, Answer]:
        """The invitation's answers by question code."""
        rows = await self.connection.execute(select(ANSWERS).where(ANSWERS.c.invitation_id == invitation_id))
        return {row.question_code: _value(Answer, row) for row in rows}

    async def upsert(
        self, invitation: Invitation, field_id: int, code: str, value: str | None, text: str | None, now: datetime
    ) -> None:
        """Record an answer; an earlier answer to the same question is replaced."""
        await self.connection.execute(
            self._prepared(_upsert_answer),
            {
                "invitation_id": invitation.id,
                "question_code": code,
                "value": value,
                "text": text,
                "form_id": invitation.form_id,
                "form_version": invitation.form_version,
                "unit_id": invitation.unit_id,
                "field_id": field_id,
                "answered_at": now,
            },
            execution_options=WRITE_LATER,
        )

    async def delete(self, invitation_id: int, codes: Iterable[str]) -> None:
        """Remove the answers to ``codes``."""
        for code in codes:
            await self._run(self._prepared(_delete_answer), {"invitation_id": invitation_id, "question_code": code})

    async def clear_texts_of_person(self, person_id: int) -> None:
        """Blank the free texts a person wrote (they may hold personal data); ratings stay."""
        invitations = select(INVITATIONS.c.id).where(INVITATIONS.c.person_id == person_id)
        await self._run(
            update(ANSWERS)
            .where(ANSWERS.c.invitation_id.in_(invitations), ANSWERS.c.text.is_not(None))
            .values(text=None)
        )


def _first_seen(dialect: str) -> Insert:
    return cast(
        Insert,
        _insert(dialect, INBOUND)
        .values(channel=bindparam("channel"), event_id=bindparam("event_id"), received_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(INBOUND.c.id),
    )


def _mark_sent(_: str) -> Executable:
    return (
        update(OUTBOX)
        .where(OUTBOX.c.id == bindparam("message"))  # not a column's name: an UPDATE would SET that column
        .values(
            status="sent",
            sent_at=bindparam("now"),
            platform_message_id=bindparam("platform_id"),
            attempts=OUTBOX.c.attempts + 1,
        )
    )


def _mark_delivered(_: str) -> Executable:
    return (
        update(INVITATIONS)
        .where(INVITATIONS.c.id == bindparam("invitation"), INVITATIONS.c.delivered_at.is_(None))
        .values(delivered_at=bindparam("now"))
    )


def _pending_replies(_: str) -> Executable:
    """(id, recipient) of a channel's ready replies, oldest first, by their own index (``ix_outbox_priority``)."""
    return (
        select(OUTBOX.c.id, OUTBOX.c.recipient)
        .where(
            OUTBOX.c.status == "pending",
            OUTBOX.c.channel == bindparam("channel"),
            OUTBOX.c.priority == INTERACTIVE,
            OUTBOX.c.not_before <= bindparam("now"),
        )
        .order_by(OUTBOX.c.id)
        .limit(bindparam("limit"))
    )


class InboundRepository(_Repository):
    """Inbound events already handled."""

    async def first_seen(self, channel: str, event_id: str, now: datetime) -> bool:
        """Record the event; False when it was recorded before (a re-delivery)."""
        result = await self.connection.execute(
            self._prepared(_first_seen), {"channel": channel, "event_id": event_id, "now": now}
        )
        return result.first() is not None


def _keep(dialect: str) -> Insert:
    return cast(
        Insert,
        _insert(dialect, INBOX)
        .values(
            channel=bindparam("channel"),
            update_id=bindparam("update_id"),
            chat_id=bindparam("chat_id"),
            payload=bindparam("payload", type_=INBOX.c.payload.type),
            received_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(INBOX.c.id),
    )


class InboxRepository(_Repository):
    """Platform updates kept as they were read, until handled (docs/CHANNELS.md: persist before processing)."""

    async def keep(
        self, channel: str, update_id: str, chat_id: str, payload: dict[str, Any], now: datetime
    ) -> int | None:
        """Keep an update; its row id, or None when one was kept before under the same id (it stays)."""
        result = await self.connection.execute(
            self._prepared(_keep),
            {"channel": channel, "update_id": update_id, "chat_id": chat_id, "payload": payload, "now": now},
        )
        return result.scalar()

    async def pending(self, channel: str, limit: int) -> list[KeptUpdate]:
        """The oldest updates kept and not handled (nor failed), in the order they were read."""
        return await self._all(
            KeptUpdate,
            select(INBOX.c.id, INBOX.c.update_id, INBOX.c.payload)
            .where(INBOX.c.channel == channel, INBOX.c.failed_at.is_(None))
            .order_by(INBOX.c.id)
            .limit(limit),
        )

    async def done(self, kept_id: int) -> None:
        """Forget a handled update (it holds a chat id and what the person wrote)."""
        await self._run(delete(INBOX).where(INBOX.c.id == kept_id))

    async def failed(self, kept_id: int, error: str, now: datetime) -> None:
        """Set aside an update whose handling failed (not tried again); purged after a few days."""
        await self._run(update(INBOX).where(INBOX.c.id == kept_id).values(failed_at=now, error=error[:500]))

    async def forget_chat(self, channel: str, chat_id: str) -> None:
        """Delete every update kept from a chat (erasure)."""
        await self._run(delete(INBOX).where(INBOX.c.channel == channel, INBOX.c.chat_id == chat_id))

    async def purge_failed(self, before: datetime) -> int:
        """Delete the updates set aside as failed before ``before``; how many."""
        return await self._run(delete(INBOX).where(INBOX.c.failed_at.is_not(None), INBOX.c.failed_at < before))


def _queue(dialect: str) -> Insert:
    return insert(OUTBOX).values(
        channel=bindparam("channel"),
        recipient=bindparam("recipient"),
        identity_id=bindparam("identity_id"),
        invitation_id=bindparam("invitation_id"),
        payload=bindparam("payload", type_=OUTBOX.c.payload.type),
        status="pending",
        attempts=0,
        dedupe_key=bindparam("dedupe_key"),
        thread=bindparam("thread"),
        not_before=bindparam("not_before"),
        created_at=bindparam("now"),
        priority=bindparam("priority"),
    )


OUTBOX_CHANNEL = "sipas_outbox"


def _notify(dialect: str) -> Executable:
    return select(func.pg_notify(OUTBOX_CHANNEL, ""))


class OutboxRepository(_Repository):
    """Messages waiting to be delivered."""

    async def add(
        self,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        now: datetime,
        *,
        identity_id: int | None = None,
        invitation_id: int | None = None,
        dedupe_key: str | None = None,
        not_before: datetime | None = None,
        interactive: bool = False,
    ) -> bool:
        """Queue a message; False when a message with the same ``dedupe_key`` was queued before.

        ``interactive``: a reply to the recipient's own action (an answer, a command, a staff reply to their
        complaint), delivered before the bulk; anything unsolicited is not (docs/CHANNELS.md).
        """
        parameters = {
            "channel": channel,
            "recipient": recipient,
            "identity_id": identity_id,
            "invitation_id": invitation_id,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "thread": payload.get("thread"),
            "not_before": not_before or now,
            "now": now,
            "priority": INTERACTIVE if interactive else BULK,
        }
        self.queued = True  # the unit of work wakes this process's outbox at its commit (storage/uow.py)
        if self.dialect == "postgresql":  # and NOTIFY (transactional too) the delivering instance, if another
            await self.connection.execute(self._prepared(_notify))
        if dedupe_key is None:
            await self.connection.execute(self._prepared(_queue), parameters, execution_options=WRITE_LATER)
            return True
        del parameters["now"]
        parameters.update(status="pending", attempts=0, created_at=now)
        statement = (
            _insert(self.dialect, OUTBOX)
            .values(**parameters)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OUTBOX.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def to_chat(
        self,
        chat: Chat,
        payload: dict[str, Any],
        now: datetime,
        *,
        invitation_id: int | None = None,
        dedupe_key: str | None = None,
        interactive: bool = False,
    ) -> bool:
        """Queue a message to a known chat (see ``add``)."""
        return await self.add(
            chat.channel,
            chat.external_id,
            payload,
            now,
            identity_id=chat.id,
            invitation_id=invitation_id,
            dedupe_key=dedupe_key,
            interactive=interactive,
        )

    async def pending(
        self,
        channel: str,
        now: datetime,
        limit: int,
        recipient: str | None = None,
        after_id: int = 0,
        bulk_only: bool = False,
    ) -> list[OutboxMessage]:
        """Messages ready to send on ``channel`` (to ``recipient`` only, if given), oldest first.

        With ``after_id``: the messages above it, and every earlier pending message of their recipients —
        PostgreSQL hands out ids at insert, so a transaction may commit its lower ids after a higher id of
        another was read; its recipient's earlier messages must still come first. ``bulk_only``: of the
        messages above it, only the bulk's bring their recipients in (the replies are read on their own).
        """
        ready = (OUTBOX.c.status == "pending", OUTBOX.c.channel == channel, OUTBOX.c.not_before <= now)
        query = select(OUTBOX).where(*ready)
        if after_id:  # two plain queries: as one, a fresh table's missing statistics can make it a nested loop
            fresh = select(OUTBOX.c.recipient).where(*ready, OUTBOX.c.id > after_id)
            if bulk_only:
                fresh = fresh.where(OUTBOX.c.priority == BULK)
            fresh = fresh.distinct().limit(limit)
            recipients = list((await self.connection.execute(fresh)).scalars())
            if not recipients:
                return []
            query = query.where(OUTBOX.c.recipient.in_(recipients))
        if recipient is not None:
            query = query.where(OUTBOX.c.recipient == recipient)
        return await self._not_held(channel, now, query.order_by(OUTBOX.c.id).limit(limit))

    async def pending_replies(self, channel: str, now: datetime, limit: int) -> list[tuple[int, str]]:
        """(id, recipient) of the interactive messages ready on ``channel``, oldest first (by their own index)."""
        rows = await self.connection.execute(
            self._prepared(_pending_replies), {"channel": channel, "now": now, "limit": limit}
        )
        return [(id_, recipient) for id_, recipient in rows]

    async def pending_of(self, channel: str, now: datetime, chats: Iterable[str], limit: int) -> list[OutboxMessage]:
        """The messages ready to send on ``channel`` to any of ``chats`` (recipients), oldest first."""
        ready = (OUTBOX.c.status == "pending", OUTBOX.c.channel == channel, OUTBOX.c.not_before <= now)
        query = select(OUTBOX).where(*ready, OUTBOX.c.recipient.in_(list(chats)))
        return await self._not_held(channel, now, query.order_by(OUTBOX.c.id).limit(limit))

    async def _not_held(self, channel: str, now: datetime, query: Select[Any]) -> list[OutboxMessage]:
        """The messages ``query`` reads, but none at or after its recipient's first held message."""
        messages = await self._all(OutboxMessage, query)
        held = await self._first_held(channel, now, {m.recipient for m in messages})
        return [m for m in messages if m.id < held.get(m.recipient, m.id + 1)]

    async def pending_ids(self, channel: str, now: datetime, limit: int) -> list[int]:
        """The ids of the messages ready to send on ``channel``, oldest first (no payloads read)."""
        query = (
            select(OUTBOX.c.id, OUTBOX.c.recipient)
            .where(OUTBOX.c.status == "pending", OUTBOX.c.channel == channel, OUTBOX.c.not_before <= now)
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        rows = (await self.connection.execute(query)).all()
        held = await self._first_held(channel, now, {recipient for _, recipient in rows})
        return [id_ for id_, recipient in rows if id_ < held.get(recipient, id_ + 1)]

    async def _first_held(self, channel: str, now: datetime, recipients: set[str]) -> dict[str, int]:
        """Per recipient, the first message that failed and waits for its retry; nothing later may pass it.

        A message queued after its recipient's earlier one was held (``hold_recipient`` moves only the
        messages already queued) must still go after it: the next question edits the message of the one
        before, and a reply must never arrive above the message it follows. A message merely scheduled for
        later (an apology kept out of the quiet hours: never tried, so no error) holds nothing back.
        Read apart from the ready rows, by recipient: one correlated query would leave PostgreSQL's planner,
        before the table's first statistics, to a nested loop over the whole queue.
        """
        held: dict[str, int] = {}
        ordered = list(recipients)
        for start in range(0, len(ordered), 500):
            query = (
                select(OUTBOX.c.recipient, func.min(OUTBOX.c.id))
                .where(
                    OUTBOX.c.channel == channel,
                    OUTBOX.c.recipient.in_(ordered[start : start + 500]),
                    OUTBOX.c.status == "pending",
                    OUTBOX.c.not_before > now,
                    OUTBOX.c.last_error.is_not(None),
                )
                .group_by(OUTBOX.c.recipient)
            )
            held.update({recipient: first for recipient, first in await self.connection.execute(query)})
        return held

    async def by_ids(self, ids: Sequence[int]) -> list[OutboxMessage]:
        """The messages with ``ids``, oldest first."""
        return await self._all(OutboxMessage, select(OUTBOX).where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id))

    async def mark_sent(
        self, message: OutboxMessage, now: datetime, platform_message_id: str | None = None, *, first: bool = True
    ) -> None:
        """The platform accepted the message; the first message of an invitation marks it delivered.

        ``first=False``: the caller knows an earlier message of the same invitation was delivered already.
        """
        sent = {"message": message.id, "now": now, "platform_id": platform_message_id}
        await self._run(self._prepared(_mark_sent), sent)
        if message.invitation_id is not None and first:
            await self._run(self._prepared(_mark_delivered), {"invitation": message.invitation_id, "now": now})

    async def invitation_of(self, channel: str, platform_message_id: str) -> int | None:
        """The invitation a delivered message on ``channel`` belonged to."""
        query = select(OUTBOX.c.invitation_id).where(
            OUTBOX.c.channel == channel, OUTBOX.c.platform_message_id == platform_message_id
        )
        return (await self.connection.execute(query.limit(1))).scalar()

    async def last_in_thread(self, channel: str, recipient: str, thread: str, before_id: int) -> str | None:
        """The platform id of the latest delivered message of ``thread`` to ``recipient`` (to edit it in place)."""
        query = (
            select(OUTBOX.c.platform_message_id)
            .where(
                OUTBOX.c.channel == channel,
                OUTBOX.c.recipient == recipient,
                OUTBOX.c.thread == thread,
                OUTBOX.c.status == "sent",
                OUTBOX.c.id < before_id,
            )
            .order_by(OUTBOX.c.id.desc())
            .limit(1)
        )
        return (await self.connection.execute(query)).scalar()

    async def hold_recipient(
        self, message: OutboxMessage, error: str | None, retry_at: datetime, *, failed: bool = True
    ) -> None:
        """The message must wait until ``retry_at``; the recipient's later messages wait behind it (order kept).

        ``failed=False``: the platform asked us to slow down (a 429): that is not a failed try of this
        message, and it does not lengthen the message's backoff.
        """
        await self.mark(message.id, "pending", error, retry_at, failed=failed)
        await self._run(
            update(OUTBOX)
            .where(
                OUTBOX.c.channel == message.channel,
                OUTBOX.c.recipient == message.recipient,
                OUTBOX.c.status == "pending",
                OUTBOX.c.id > message.id,
                OUTBOX.c.not_before < retry_at,
            )
            .values(not_before=retry_at)
        )

    async def mark(
        self, message_id: int, status: str, error: str | None, retry_at: datetime | None = None, *, failed: bool = True
    ) -> None:
        """Record an attempt that did not deliver: to retry at ``retry_at`` (status pending), or given up.

        ``attempts`` counts the failed tries (it sets the backoff); ``failed=False`` leaves it as it is.
        """
        values: dict[str, Any] = {"status": status, "last_error": (error or "")[:500]}
        if failed:
            values["attempts"] = OUTBOX.c.attempts + 1
        if retry_at is not None:
            values["not_before"] = retry_at
        await self._run(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))

    async def release(self, channel: str, now: datetime) -> int:
        """Everything held back on ``channel`` may go now; how many messages."""
        return await self._run(
            update(OUTBOX)
            .where(OUTBOX.c.channel == channel, OUTBOX.c.status == "pending", OUTBOX.c.not_before > now)
            .values(not_before=now)
        )

    async def cancel_for_recipient(self, channel: str, recipient: str) -> None:
        """Drop every pending message to a chat that can no longer be reached."""
        await self._run(
            update(OUTBOX)
            .where(OUTBOX.c.channel == channel, OUTBOX.c.recipient == recipient, OUTBOX.c.status == "pending")
            .values(status="cancelled")
        )


class JobRunRepository(_Repository):
    """Claims on periodic job runs."""

    async def claim(self, job: str, period: str, scope: str, claimed_by: str, now: datetime) -> bool:
        """Claim the run of ``job`` for ``period`` and ``scope``; False when it is running or done elsewhere.

        A run that failed may be claimed again.
        """
        statement = (
            _insert(self.dialect, JOB_RUNS)
            .values(job=job, period=period, scope=scope, status="running", claimed_by=claimed_by, claimed_at=now)
            .on_conflict_do_nothing(index_elements=["job", "period", "scope"])
            .returning(JOB_RUNS.c.id)
        )
        if (await self.connection.execute(statement)).first() is not None:
            return True
        retry = (
            update(JOB_RUNS)
            .where(
                JOB_RUNS.c.job == job,
                JOB_RUNS.c.period == period,
                JOB_RUNS.c.scope == scope,
                JOB_RUNS.c.status == "failed",
            )
            .values(status="running", claimed_by=claimed_by, claimed_at=now, finished_at=None)
        )
        return bool(await self._run(retry))

    async def finish(self, job: str, period: str, scope: str, status: str, detail: str | None, now: datetime) -> None:
        """Record how a claimed run ended."""
        await self._run(
            update(JOB_RUNS)
            .where(and_(JOB_RUNS.c.job == job, JOB_RUNS.c.period == period, JOB_RUNS.c.scope == scope))
            .values(status=status, detail=(detail or "")[:500] or None, finished_at=now)
        )


class ApiKeyRepository(_Repository):
    """API keys of the one-stop-shop software; only hashes are kept."""

    async def add(
        self,
        name: str,
        prefix: str,
        key_hash: str,
        scopes: Iterable[str],
        now: datetime,
        unit_ids: Iterable[int] = (),
        all_units: bool = False,
    ) -> int:
        """Store a new key's hash and its units; its id."""
        statement = insert(API_KEYS).values(
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=",".join(sorted(scopes)),
            created_at=now,
            all_units=all_units,
        )
        key_id = int((await self.connection.execute(statement.returning(API_KEYS.c.id))).scalar_one())
        rows = [{"api_key_id": key_id, "unit_id": unit_id} for unit_id in sorted(set(unit_ids))]
        if rows:
            await self.connection.execute(insert(API_KEY_UNITS), rows)
        return key_id

    async def find(self, key_hash: str) -> ApiKey | None:
        """The live (not revoked) key with ``key_hash``, with the units it covers (its units and those below)."""
        row = (
            await self.connection.execute(
                select(API_KEYS).where(API_KEYS.c.key_hash == key_hash, API_KEYS.c.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        tree = select(API_KEY_UNITS.c.unit_id.label("id")).where(API_KEY_UNITS.c.api_key_id == row.id)
        tree_cte = tree.cte("covered", recursive=True)
        tree_cte = tree_cte.union_all(select(UNITS.c.id).join(tree_cte, UNITS.c.parent_id == tree_cte.c.id))
        covered = frozenset(int(i) for i in (await self.connection.execute(select(tree_cte.c.id))).scalars())
        scopes = frozenset(filter(None, row.scopes.split(",")))
        return ApiKey(row.id, row.name, row.prefix, scopes, all_units=bool(row.all_units), covered=covered)

    async def listing(self) -> list[ApiKeyListing]:
        """Every key, live or revoked, by name then creation: what it may do, never the key."""
        keys = (await self.connection.execute(select(API_KEYS).order_by(API_KEYS.c.name, API_KEYS.c.id))).all()
        pairs = await self.connection.execute(
            select(API_KEY_UNITS.c.api_key_id, UNITS.c.code)
            .join(UNITS, UNITS.c.id == API_KEY_UNITS.c.unit_id)
            .order_by(UNITS.c.code)
        )
        codes: dict[int, list[str]] = {}
        for key_id, code in pairs:
            codes.setdefault(int(key_id), []).append(str(code))
        return [
            ApiKeyListing(
                name=row.name,
                prefix=row.prefix,
                scopes=tuple(filter(None, row.scopes.split(","))),
                all_units=bool(row.all_units),
                units=tuple(codes.get(row.id, ())),
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                revoked_at=row.revoked_at,
            )
            for row in keys
        ]

    async def touch(self, key_id: int, now: datetime) -> None:
        """Remember when the key was last used."""
        await self._run(update(API_KEYS).where(API_KEYS.c.id == key_id).values(last_used_at=now))

    async def revoke(self, name: str, now: datetime) -> int:
        """Revoke every live key called ``name``; how many."""
        return await self._run(
            update(API_KEYS).where(API_KEYS.c.name == name, API_KEYS.c.revoked_at.is_(None)).values(revoked_at=now)
        )


class IdempotencyRepository(_Repository):
    """Answers to requests sent with an ``Idempotency-Key``."""

    async def get(self, scope: str, key: str) -> StoredResponse | None:
        """The stored answer for (scope, key), if any."""
        row = (
            await self.connection.execute(
                select(IDEMPOTENCY).where(IDEMPOTENCY.c.scope == scope, IDEMPOTENCY.c.key == key)
            )
        ).first()
        return StoredResponse(row.request_hash, row.status_code, row.response) if row else None

    async def put(
        self, scope: str, key: str, request_hash: str, status_code: int, response: dict[str, Any], now: datetime
    ) -> bool:
        """Store an answer; False when another request stored one for the same key first."""
        statement = (
            _insert(self.dialect, IDEMPOTENCY)
            .values(
                scope=scope,
                key=key,
                request_hash=request_hash,
                status_code=status_code,
                response=response,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IDEMPOTENCY.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None


class TokenRepository(_Repository):
    """Platform credentials that rotate (the Zalo OA token pair)."""

    async def get(self, channel: str, *, for_update: bool = False) -> PlatformToken | None:
        """The current pair.

        ``for_update`` locks it until the transaction ends (PostgreSQL; SQLite writers hold the database's
        write lock anyway), so two instances never spend one refresh token.
        """
        query = select(TOKENS).where(TOKENS.c.channel == channel)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        return await self._first(PlatformToken, query)

    async def seed(
        self, channel: str, access_token: str, refresh_token: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Store the first pair (from the settings) unless one is stored; False when one was."""
        statement = (
            _insert(self.dialect, TOKENS)
            .values(
                channel=channel,
                access_token=access_token,
                refresh_token=refresh_token,
                expires_at=expires_at,
                status="active",
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel"])
            .returning(TOKENS.c.channel)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def replace(
        self, channel: str, access_token: str, refresh_token: str, expires_at: datetime, now: datetime
    ) -> None:
        """Keep a new pair (after a refresh, or a new grant by the OA's administrator)."""
        values = {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_at": expires_at,
            "status": "active",
            "last_error": None,
            "refreshed_at": now,
            "updated_at": now,
        }
        if not await self._run(update(TOKENS).where(TOKENS.c.channel == channel).values(**values)):
            await self._run(insert(TOKENS).values(channel=channel, **values))

    async def mark(self, channel: str, status: str, error: str | None, now: datetime) -> None:
        """Record that the pair no longer works (``reauthorise``: the administrator must grant again)."""
        await self._run(
            update(TOKENS)
            .where(TOKENS.c.channel == channel)
            .values(status=status, last_error=(error or "")[:500] or None, updated_at=now)
        )


class AuditRepository(_Repository):
    """The audit log."""

    async def add(
        self,
        actor: str,
        action: str,
        subject: str | None,
        detail: dict[str, Any] | None,
        now: datetime,
        *,
        unit_id: int | None = None,
    ) -> None:
        """Record who did what; the unit it concerns is ``unit_id``, else the one its subject names."""
        unit = unit_id if unit_id is not None else _unit_of_subject(subject)
        await self._run(
            insert(AUDIT).values(at=now, actor=actor, action=action, subject=subject, detail=detail, unit_id=unit)
        )

    async def entries(self, unit_ids: Sequence[int] | None, since: datetime | None, limit: int) -> list[AuditEntry]:
        """The newest ``limit`` entries, oldest first: of ``unit_ids`` (None: every unit, and acts tied to none)."""
        query = select(*AUDIT.c, UNITS.c.code.label("unit_code")).select_from(
            AUDIT.outerjoin(UNITS, UNITS.c.id == AUDIT.c.unit_id)
        )
        if unit_ids is not None:
            query = query.where(AUDIT.c.unit_id.in_(list(unit_ids)))
        if since is not None:
            query = query.where(AUDIT.c.at >= since)
        newest = await self._all(AuditEntry, query.order_by(AUDIT.c.at.desc(), AUDIT.c.id.desc()).limit(limit))
        return newest[::-1]


def _unit_of_subject(subject: str | None) -> Any:
    """The unit a subject names, as a subquery: ``unit:CODE``, ``dossier:CODE``, ``feedback:ID``, ``person:ID``.

    A person is attributed to the unit of their latest dossier; any other subject to no unit.
    """
    kind, _, key = (subject or "").partition(":")
    if kind == "unit":
        return select(UNITS.c.id).where(UNITS.c.code == key).scalar_subquery()
    if kind == "dossier":
        return select(DOSSIERS.c.unit_id).where(DOSSIERS.c.code == key).scalar_subquery()
    if not key.isascii() or not key.isdigit() or len(key) > 18:
        return None
    if kind == "feedback":
        return select(FEEDBACK.c.unit_id).where(FEEDBACK.c.id == int(key)).scalar_subquery()
    if kind == "person":
        person = int(key)
        return (
            select(DOSSIERS.c.unit_id)
            .where(or_(DOSSIERS.c.applicant_id == person, DOSSIERS.c.representative_id == person))
            .order_by(DOSSIERS.c.received_at.desc(), DOSSIERS.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
    return None
