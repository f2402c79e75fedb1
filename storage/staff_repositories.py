"""Queries for the staff side: roles and invites, drafts, alerts, feedback and apology slips. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import (
    AlertRow,
    FeedbackRow,
    FileRow,
    InstanceRow,
    InviteRow,
    RoleRow,
    SurveyCommentRow,
)
from storage.repositories import (
    APOLOGIES,
    CHATS,
    DOSSIERS,
    DRAFTS,
    INVITATIONS,
    UNITS,
    _insert,
    _Repository,
    _value,
)
from storage.values import (
    Apology,
    ApologyLine,
    Chat,
    Draft,
    Feedback,
    Invite,
    Role,
    RoleLine,
    StaffChat,
    StoredFile,
)

ROLES = cast(Table, RoleRow.__table__)
INVITES = cast(Table, InviteRow.__table__)
ALERTS = cast(Table, AlertRow.__table__)
FEEDBACK = cast(Table, FeedbackRow.__table__)
FILES = cast(Table, FileRow.__table__)
INSTANCES = cast(Table, InstanceRow.__table__)
SURVEY_COMMENTS = cast(Table, SurveyCommentRow.__table__)

UNRESOLVED = ("received", "supplement_requested")
OPEN_FEEDBACK = ("received", "answered")

SERIES_LOCK = 0x50584C  # "PXL": the advisory lock key of an apology number series (with the issuing unit's id)


class RoleRepository(_Repository):
    """Who holds which role where."""

    async def grant(
        self,
        identity_id: int,
        unit_id: int,
        role: str,
        officer_name: str | None,
        lead: bool,
        now: datetime,
        granted_by: str | None = None,
    ) -> None:
        """Give a chat a role in a unit (again, if it was revoked); the officer's name and lead flag updated."""
        values = {
            "officer_name": officer_name,
            "lead": lead,
            "granted_at": now,
            "revoked_at": None,
            "granted_by": granted_by,
            "revoked_by": None,
        }
        statement = (
            _insert(self.dialect, ROLES)
            .values(identity_id=identity_id, unit_id=unit_id, role=role, **values)
            .on_conflict_do_update(index_elements=["identity_id", "unit_id", "role"], set_=values)
        )
        await self._run(statement)

    async def lines(
        self,
        unit_ids: Sequence[int] | None,
        *,
        role_ids: Sequence[int] | None = None,
        identity_id: int | None = None,
        live: bool = True,
    ) -> list[RoleLine]:
        """Roles with their unit and chat, by unit code then grant: in ``unit_ids`` (None: all), live ones only.

        ``role_ids``, ``identity_id``: only those roles, only that chat's.
        """
        query = (
            select(
                ROLES,
                UNITS.c.code.label("unit_code"),
                UNITS.c.name.label("unit_name"),
                CHATS.c.channel,
                CHATS.c.external_id,
            )
            .join(UNITS, UNITS.c.id == ROLES.c.unit_id)
            .join(CHATS, CHATS.c.id == ROLES.c.identity_id)
        )
        if unit_ids is not None:
            query = query.where(ROLES.c.unit_id.in_(list(unit_ids)))
        if role_ids is not None:
            query = query.where(ROLES.c.id.in_(list(role_ids)))
        if identity_id is not None:
            query = query.where(ROLES.c.identity_id == identity_id)
        if live:
            query = query.where(ROLES.c.revoked_at.is_(None))
        return await self._all(RoleLine, query.order_by(UNITS.c.code, ROLES.c.granted_at, ROLES.c.id))

    async def revoke(self, role_id: int, by: str, now: datetime) -> bool:
        """Take a live role away; False when it was not live."""
        statement = (
            update(ROLES)
            .where(ROLES.c.id == role_id, ROLES.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=by)
        )
        return bool(await self._run(statement))

    async def of_chat(self, identity_id: int) -> list[Role]:
        """The live roles of a chat."""
        query = select(ROLES).where(ROLES.c.identity_id == identity_id, ROLES.c.revoked_at.is_(None))
        return await self._all(Role, query.order_by(ROLES.c.id))

    async def chats(self, unit_ids: Sequence[int], roles: Sequence[str]) -> list[StaffChat]:
        """Reachable chats holding one of ``roles`` in one of ``unit_ids``, oldest grant first."""
        query = (
            select(ROLES, CHATS.c.channel, CHATS.c.external_id, CHATS.c.person_id, CHATS.c.status, CHATS.c.locale)
            .add_columns(CHATS.c.pending, CHATS.c.consent_at, CHATS.c.id.label("chat_id"))
            .join(CHATS, CHATS.c.id == ROLES.c.identity_id)
            .where(
                ROLES.c.unit_id.in_(unit_ids),
                ROLES.c.role.in_(roles),
                ROLES.c.revoked_at.is_(None),
                CHATS.c.status == "active",
            )
            .order_by(ROLES.c.granted_at, ROLES.c.id)
        )
        result = []
        for row in await self.connection.execute(query):
            m = row._mapping
            chat = Chat(
                m["chat_id"],
                m["channel"],
                m["external_id"],
                m["person_id"],
                m["status"],
                m["locale"],
                m["pending"],
                m["consent_at"],
            )
            result.append(StaffChat(chat, _value(Role, row)))
        return result


class InviteRepository(_Repository):
    """One-time codes that give a role."""

    async def add(
        self,
        code_hash: str,
        role: str,
        unit_id: int,
        officer_name: str | None,
        lead: bool,
        now: datetime,
        until: datetime,
        created_by: str | None = None,
    ) -> None:
        """Keep a new code's hash and what it grants."""
        await self._run(
            insert(INVITES).values(
                code_hash=code_hash,
                role=role,
                unit_id=unit_id,
                officer_name=officer_name,
                lead=lead,
                created_at=now,
                expires_at=until,
                created_by=created_by,
            )
        )

    async def take(self, code_hash: str, identity_id: int, now: datetime) -> Invite | None:
        """Use the code (once, before it expires); what it grants, or None."""
        taken = await self._run(
            update(INVITES)
            .where(INVITES.c.code_hash == code_hash, INVITES.c.used_at.is_(None), INVITES.c.expires_at > now)
            .values(used_at=now, used_by=identity_id)
        )
        if not taken:
            return None
        return await self._first(Invite, select(INVITES).where(INVITES.c.code_hash == code_hash))


class DraftRepository(_Repository):
    """What a chat is in the middle of.

    The draft read with the chat (``ChatRepository.with_survey``) is handed to ``know``: ``get`` then answers
    from it instead of asking again, until this unit of work changes that chat's draft.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self._known: dict[int, Draft | None] = {}

    def know(self, identity_id: int, draft: Draft | None) -> None:
        """The chat's draft as read in this transaction (None: it has none)."""
        self._known[identity_id] = draft

    async def get(self, identity_id: int) -> Draft | None:
        """The chat's draft, if any."""
        if identity_id in self._known:
            return self._known[identity_id]
        return await self._first(Draft, select(DRAFTS).where(DRAFTS.c.identity_id == identity_id))

    async def put(self, identity_id: int, kind: str, data: dict[str, Any], now: datetime) -> None:
        """Start or change the chat's draft."""
        self._known.pop(identity_id, None)
        values = {"kind": kind, "data": data, "updated_at": now}
        statement = (
            _insert(self.dialect, DRAFTS)
            .values(identity_id=identity_id, **values)
            .on_conflict_do_update(index_elements=["identity_id"], set_=values)
        )
        await self._run(statement)

    async def drop(self, identity_id: int) -> None:
        """Forget the chat's draft."""
        self._known.pop(identity_id, None)
        await self._run(delete(DRAFTS).where(DRAFTS.c.identity_id == identity_id))


class AlertRepository(_Repository):
    """Warnings sent about dossiers, once per dossier and kind."""

    async def claim(self, dossier_id: int, kind: str, now: datetime) -> bool:
        """Record the warning; False when it was sent before."""
        statement = (
            _insert(self.dialect, ALERTS)
            .values(dossier_id=dossier_id, kind=kind, sent_at=now)
            .on_conflict_do_nothing(index_elements=["dossier_id", "kind"])
            .returning(ALERTS.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def at_risk(self, due_before: datetime, limit: int, kinds: Sequence[str] = ("at_risk",)) -> list[int]:
        """Unresolved dossiers without a delay apology or a warning of ``kinds``, due before ``due_before``: ids."""
        warned = (
            select(ALERTS.c.id).where(ALERTS.c.dossier_id == DOSSIERS.c.id, ALERTS.c.kind.in_(list(kinds))).exists()
        )
        apologised = (
            select(APOLOGIES.c.id).where(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay").exists()
        )
        query = (
            select(DOSSIERS.c.id)
            .where(DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < due_before, ~warned, ~apologised)
            .order_by(DOSSIERS.c.due_at, DOSSIERS.c.id)
            .limit(limit)
        )
        return list((await self.connection.execute(query)).scalars())

    async def promises_missed(self, now: datetime, limit: int) -> list[int]:
        """Unresolved dossiers whose apology's new date has passed, not yet reported: their ids."""
        reported = (
            select(ALERTS.c.id).where(ALERTS.c.dossier_id == DOSSIERS.c.id, ALERTS.c.kind == "promise_missed").exists()
        )
        query = (
            select(DOSSIERS.c.id)
            .join(APOLOGIES, and_(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay"))
            .where(DOSSIERS.c.state.in_(UNRESOLVED), APOLOGIES.c.new_due_at < now, ~reported)
            .order_by(APOLOGIES.c.new_due_at, DOSSIERS.c.id)
            .limit(limit)
        )
        return list((await self.connection.execute(query)).scalars())


class FeedbackRepository(_Repository):
    """Complaints and comments for units."""

    async def add(self, now: datetime, **values: Any) -> Feedback:
        """Record a new feedback (status received)."""
        statement = insert(FEEDBACK).values(status="received", created_at=now, **values).returning(*FEEDBACK.c)
        feedback = await self._first(Feedback, statement)
        assert feedback is not None
        return feedback

    async def get(self, feedback_id: int) -> Feedback | None:
        """The feedback with id ``feedback_id``."""
        return await self._first(Feedback, select(FEEDBACK).where(FEEDBACK.c.id == feedback_id))

    async def open_for(self, unit_ids: Sequence[int], limit: int) -> list[Feedback]:
        """Feedback not closed in ``unit_ids``, oldest first."""
        query = (
            select(FEEDBACK)
            .where(FEEDBACK.c.unit_id.in_(unit_ids), FEEDBACK.c.status.in_(OPEN_FEEDBACK))
            .order_by(FEEDBACK.c.created_at, FEEDBACK.c.id)
            .limit(limit)
        )
        return await self._all(Feedback, query)

    async def answer(self, feedback_id: int, answer: str, by: str, now: datetime) -> bool:
        """Record the answer (received → answered); False when it was closed meanwhile."""
        return bool(
            await self._run(
                update(FEEDBACK)
                .where(FEEDBACK.c.id == feedback_id, FEEDBACK.c.status.in_(OPEN_FEEDBACK))
                .values(status="answered", answer=answer, answered_by=by, answered_at=now)
            )
        )

    async def close(self, feedback_id: int, now: datetime) -> bool:
        """Close it; False when it was closed already."""
        return bool(
            await self._run(
                update(FEEDBACK)
                .where(FEEDBACK.c.id == feedback_id, FEEDBACK.c.status.in_(OPEN_FEEDBACK))
                .values(status="closed", closed_at=now)
            )
        )

    async def counts(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> dict[str, int]:
        """Feedback received in [start, end) by its status now."""
        query = (
            select(FEEDBACK.c.status, func.count())
            .where(FEEDBACK.c.unit_id.in_(unit_ids), FEEDBACK.c.created_at >= start, FEEDBACK.c.created_at < end)
            .group_by(FEEDBACK.c.status)
        )
        return {status: int(n) for status, n in await self.connection.execute(query)}

    async def backlog(self, unit_ids: Sequence[int], as_of: datetime) -> tuple[int, datetime | None]:
        """Feedback received before ``as_of`` and neither answered nor closed by then: how many, the oldest's time.

        Read from the times it was answered and closed, so a past period's end gives the backlog as it stood then.
        """
        query = select(func.count(), func.min(FEEDBACK.c.created_at)).where(
            FEEDBACK.c.unit_id.in_(unit_ids),
            FEEDBACK.c.created_at < as_of,
            or_(FEEDBACK.c.answered_at.is_(None), FEEDBACK.c.answered_at >= as_of),
            or_(FEEDBACK.c.closed_at.is_(None), FEEDBACK.c.closed_at >= as_of),
        )
        count, oldest = (await self.connection.execute(query)).one()
        return int(count), oldest

    async def forget_texts_of_person(self, person_id: int) -> None:
        """Blank what a person wrote and unlink them (their data is erased)."""
        await self._run(
            update(FEEDBACK).where(FEEDBACK.c.person_id == person_id).values(text=None, answer=None, person_id=None)
        )


class SurveyCommentRepository(_Repository):
    """Survey comments kept by unit and day only, and the surveys closed that day."""

    async def add(self, unit_id: int, day: date, text: str) -> None:
        """Keep a comment, not yet released."""
        await self._run(insert(SURVEY_COMMENTS).values(unit_id=unit_id, day=day, text=text))

    async def release(self, unit_id: int, day: date, now: datetime) -> list[str]:
        """Mark the day's comments not yet released as released, and return them (each is returned once)."""
        statement = (
            update(SURVEY_COMMENTS)
            .where(
                SURVEY_COMMENTS.c.unit_id == unit_id,
                SURVEY_COMMENTS.c.day == day,
                SURVEY_COMMENTS.c.released_at.is_(None),
            )
            .values(released_at=now)
            .returning(SURVEY_COMMENTS.c.text)
        )
        return sorted(str(text) for text in (await self.connection.execute(statement)).scalars())

    async def between(self, unit_ids: Sequence[int], first: date, last: date, limit: int) -> tuple[int, list[str]]:
        """The comments of the days ``first``..``last``: how many, and the first ``limit`` in text order."""
        condition = and_(
            SURVEY_COMMENTS.c.unit_id.in_(unit_ids), SURVEY_COMMENTS.c.day >= first, SURVEY_COMMENTS.c.day <= last
        )
        total = int((await self.connection.execute(select(func.count()).where(condition))).scalar_one())
        query = select(SURVEY_COMMENTS.c.text).where(condition).order_by(SURVEY_COMMENTS.c.text).limit(limit)
        return total, [str(text) for text in (await self.connection.execute(query)).scalars()]

    async def surveys_closed(self, unit_id: int, start: datetime, end: datetime) -> int:
        """Surveys of the unit completed in [start, end)."""
        query = select(func.count()).where(
            INVITATIONS.c.unit_id == unit_id,
            INVITATIONS.c.status == "completed",
            INVITATIONS.c.completed_at >= start,
            INVITATIONS.c.completed_at < end,
        )
        return int((await self.connection.execute(query)).scalar_one())


class ApologyRepository(_Repository):
    """Apology slips."""

    async def add(self, now: datetime, **values: Any) -> Apology | None:
        """Record the dossier's apology; None when the dossier has one of that kind already (one per kind, ever)."""
        statement = (
            _insert(self.dialect, APOLOGIES)
            .values(issued_at=now, **values)
            .on_conflict_do_nothing(index_elements=["dossier_id", "kind"])
            .returning(*APOLOGIES.c)
        )
        return await self._first(Apology, statement)

    async def next_seq(self, unit_id: int, year: int) -> int:
        """The next slip number of the unit in ``year``.

        On PostgreSQL two transactions numbering in one series (a ward's and its reception points') take turns:
        a transaction advisory lock on the series, held until commit, so none reads the same last number.
        """
        if self.dialect == "postgresql":
            await self._run(
                text("SELECT pg_advisory_xact_lock(:series, :unit)"), {"series": SERIES_LOCK, "unit": unit_id % 2**31}
            )
        query = select(func.coalesce(func.max(APOLOGIES.c.seq), 0)).where(
            APOLOGIES.c.unit_id == unit_id, APOLOGIES.c.year == year
        )
        return int((await self.connection.execute(query)).scalar_one()) + 1

    async def get(self, apology_id: int) -> Apology | None:
        """The apology with id ``apology_id`` (without its PDF)."""
        columns = [c for c in APOLOGIES.c if c.name != "pdf"]
        return await self._first(Apology, select(*columns).where(APOLOGIES.c.id == apology_id))

    async def by_token(self, token: str) -> Apology | None:
        """The apology whose slip is published under ``token``."""
        columns = [c for c in APOLOGIES.c if c.name != "pdf"]
        return await self._first(Apology, select(*columns).where(APOLOGIES.c.token == token))

    async def set_pdf(self, apology_id: int, pdf: bytes) -> None:
        """Keep the printable slip."""
        await self._run(update(APOLOGIES).where(APOLOGIES.c.id == apology_id).values(pdf=pdf))

    async def pdf(self, *, apology_id: int | None = None, token: str | None = None) -> bytes | None:
        """The printable slip, by id or by its public token."""
        condition = APOLOGIES.c.id == apology_id if apology_id is not None else APOLOGIES.c.token == token
        return (await self.connection.execute(select(APOLOGIES.c.pdf).where(condition))).scalar()

    async def for_units(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[Apology]:
        """The apologies issued in [start, end) for dossiers of ``unit_ids``, oldest first."""
        query = (
            select(*[c for c in APOLOGIES.c if c.name != "pdf"])
            .join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id)
            .where(
                DOSSIERS.c.unit_id.in_(unit_ids),
                and_(APOLOGIES.c.issued_at >= start, APOLOGIES.c.issued_at < end),
            )
            .order_by(APOLOGIES.c.issued_at)
        )
        return await self._all(Apology, query)

    async def issued_between(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[ApologyLine]:
        """Every apology (of either kind) issued in [start, end) for dossiers of ``unit_ids``, oldest first."""
        query = (
            select(
                DOSSIERS.c.code,
                DOSSIERS.c.handler,
                APOLOGIES.c.issued_by,
                APOLOGIES.c.issued_at,
                DOSSIERS.c.due_at,
                APOLOGIES.c.new_due_at,
                APOLOGIES.c.reason,
                APOLOGIES.c.kind,
                APOLOGIES.c.in_time,
                APOLOGIES.c.number,
                APOLOGIES.c.issued_key,
            )
            .select_from(APOLOGIES.join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id))
            .where(DOSSIERS.c.unit_id.in_(unit_ids), APOLOGIES.c.issued_at >= start, APOLOGIES.c.issued_at < end)
            .order_by(APOLOGIES.c.issued_at, APOLOGIES.c.id)
        )
        return await self._all(ApologyLine, query)


class FileRepository(_Repository):
    """Files the product made and keeps."""

    async def add(
        self,
        kind: str,
        unit_id: int | None,
        period: str,
        name: str,
        media_type: str,
        token: str,
        content: bytes,
        now: datetime,
    ) -> StoredFile:
        """Keep a file."""
        statement = (
            insert(FILES)
            .values(
                kind=kind,
                unit_id=unit_id,
                period=period,
                name=name,
                media_type=media_type,
                token=token,
                content=content,
                created_at=now,
            )
            .returning(*[c for c in FILES.c if c.name != "content"])
        )
        stored = await self._first(StoredFile, statement)
        assert stored is not None
        return stored

    async def content(self, *, file_id: int | None = None, token: str | None = None) -> tuple[StoredFile, bytes] | None:
        """A kept file and its bytes, by id or by token."""
        condition = FILES.c.id == file_id if file_id is not None else FILES.c.token == token
        row = (await self.connection.execute(select(FILES).where(condition))).first()
        if row is None:
            return None
        return _value(StoredFile, row), bytes(row.content)

    async def latest(self, unit_id: int, kind: str, period: str) -> StoredFile | None:
        """The newest kept file of a kind for a unit and period."""
        query = (
            select(*[c for c in FILES.c if c.name != "content"])
            .where(FILES.c.unit_id == unit_id, FILES.c.kind == kind, FILES.c.period == period)
            .order_by(FILES.c.id.desc())
            .limit(1)
        )
        return await self._first(StoredFile, query)


class InstanceRepository(_Repository):
    """Running instances and their heartbeats."""

    async def beat(self, name: str, role: str, holding: bool, started_at: datetime, now: datetime) -> None:
        """Record that ``name`` is alive (and whether it holds delivery)."""
        values = {"role": role, "holding": holding, "started_at": started_at, "heartbeat_at": now}
        statement = (
            _insert(self.dialect, INSTANCES)
            .values(name=name, **values)
            .on_conflict_do_update(index_elements=["name"], set_=values)
        )
        await self._run(statement)

    async def gone(self, name: str) -> None:
        """The instance stopped cleanly."""
        await self._run(delete(INSTANCES).where(INSTANCES.c.name == name))

    async def holder_seen(self) -> datetime | None:
        """The latest heartbeat of an instance that holds delivery, if any."""
        seen: datetime | None = (
            await self.connection.execute(select(func.max(INSTANCES.c.heartbeat_at)).where(INSTANCES.c.holding))
        ).scalar()
        return seen

    async def forget_before(self, moment: datetime) -> None:
        """Drop instances silent since before ``moment``."""
        await self._run(delete(INSTANCES).where(INSTANCES.c.heartbeat_at < moment))
