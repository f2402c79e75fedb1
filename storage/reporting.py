"""The aggregate queries behind every report: counts computed in SQL, never row by row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, not_, or_, select

from storage.answer_groups import sqlite_answer_counts
from storage.repositories import ANSWERS, APOLOGIES, DOSSIERS, FIELDS, INVITATIONS, PEOPLE, _Repository
from storage.staff_repositories import FEEDBACK
from storage.values import (
    AnswerCount,
    DayAnswerCount,
    DayResolved,
    DossierCounts,
    FeedbackLine,
    LateDossier,
    OfficerAnswerCount,
    OfficerCounts,
    RawAnswer,
    ReceiverAnswerCount,
    ReceiverCounts,
    SurveyCounts,
)

UNRESOLVED = ("received", "supplement_requested")


def _within(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class ReportRepository(_Repository):
    """Counts for one set of units over one period [start, end)."""

    async def answer_counts(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str
    ) -> list[AnswerCount]:
        """Answers per field, question and value (free texts are not counted here): one scan of answers.

        One unit on SQLite: the groups are counted from ``ix_answers_groups`` without a sort (storage/answer_groups.py).
        """
        if self.dialect == "sqlite" and len(unit_ids) == 1:
            return await sqlite_answer_counts(self.connection, unit_ids[0], start, end, form_id)
        grouped = (
            select(ANSWERS.c.field_id, ANSWERS.c.question_code, ANSWERS.c.value, func.count().label("n"))
            .where(
                ANSWERS.c.unit_id.in_(unit_ids),
                _within(ANSWERS.c.answered_at, start, end),
                ANSWERS.c.form_id == form_id,
                ANSWERS.c.value.is_not(None),
            )
            .group_by(ANSWERS.c.field_id, ANSWERS.c.question_code, ANSWERS.c.value)
            .subquery()
        )
        query = select(FIELDS.c.name, grouped.c.question_code, grouped.c.value, grouped.c.n).join_from(
            grouped, FIELDS, FIELDS.c.id == grouped.c.field_id
        )
        return [AnswerCount(f, q, v, int(c)) for f, q, v, c in await self.connection.execute(query)]

    async def answer_counts_by(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str, by: str
    ) -> list[AnswerCount]:
        """Answers per procedure (``by="procedure"``) or per channel (``by="channel"``), question and value."""
        key = DOSSIERS.c.procedure_name if by == "procedure" else func.coalesce(INVITATIONS.c.channel, "")
        joined = ANSWERS.join(INVITATIONS, INVITATIONS.c.id == ANSWERS.c.invitation_id)
        if by == "procedure":
            joined = joined.join(DOSSIERS, DOSSIERS.c.id == INVITATIONS.c.dossier_id)
        query = (
            select(key.label("key"), ANSWERS.c.question_code, ANSWERS.c.value, func.count())
            .select_from(joined)
            .where(
                ANSWERS.c.unit_id.in_(unit_ids),
                _within(ANSWERS.c.answered_at, start, end),
                ANSWERS.c.form_id == form_id,
                ANSWERS.c.value.is_not(None),
            )
            .group_by(key, ANSWERS.c.question_code, ANSWERS.c.value)
        )
        return [AnswerCount(k, q, v, int(c)) for k, q, v, c in await self.connection.execute(query)]

    async def dossier_counts(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, as_of: datetime
    ) -> DossierCounts:
        """Received, resolved, on time, late, apologies, late without apology and overdue dossiers.

        Resolved, on time and late count the dossiers resolved in the period; late without apology
        counts those whose due date fell in the period (see :func:`late_in`); overdue is the stock of
        unresolved dossiers past their date at ``as_of``. Apologies count the delay apologies issued
        in the period (the late ones among them apart), and the apologies for an error apart.
        """
        delay = APOLOGIES.c.kind == "delay"
        resolved = _within(DOSSIERS.c.finished_at, start, end)
        late_resolved = and_(resolved, DOSSIERS.c.on_time.is_(False))
        overdue = and_(DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < as_of)
        query = select(
            _count(_within(DOSSIERS.c.received_at, start, end)),
            _count(resolved),
            _count(and_(resolved, DOSSIERS.c.on_time.is_(True))),
            _count(late_resolved),
            _count(and_(late_in(start, end, as_of), not_(_apologised()))),
            _count(overdue),
        ).where(DOSSIERS.c.unit_id.in_(unit_ids))
        received, resolved_n, on_time, late, late_without, overdue_n = (await self.connection.execute(query)).one()
        apologies, apologies_late, apologies_error = (
            await self.connection.execute(
                select(
                    _count(delay),
                    _count(and_(delay, APOLOGIES.c.in_time.is_(False))),
                    _count(APOLOGIES.c.kind == "error"),
                )
                .select_from(APOLOGIES.join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id))
                .where(DOSSIERS.c.unit_id.in_(unit_ids), _within(APOLOGIES.c.issued_at, start, end))
            )
        ).one()
        return DossierCounts(
            received=int(received),
            resolved=int(resolved_n),
            on_time=int(on_time),
            late=int(late),
            apologies=int(apologies or 0),
            late_without_apology=int(late_without),
            overdue_open=int(overdue_n),
            apologies_late=int(apologies_late or 0),
            apologies_error=int(apologies_error or 0),
        )

    async def survey_counts(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str | None = None
    ) -> SurveyCounts:
        """The survey funnel over one cohort, the invitations offered (sent) in the period.

        How many were delivered, started and completed (whenever that happened). With ``form_id``, also the respondents:
        the surveys with at least one answer to that form's items in the period (the answers scored).
        """
        query = select(
            func.count(),
            _count(INVITATIONS.c.delivered_at.is_not(None)),
            _count(INVITATIONS.c.started_at.is_not(None)),
            _count(INVITATIONS.c.completed_at.is_not(None)),
        ).where(INVITATIONS.c.unit_id.in_(unit_ids), _within(INVITATIONS.c.sent_at, start, end))
        offered, delivered, started, completed = (await self.connection.execute(query)).one()
        respondents = 0
        if form_id is not None:
            respondents = int(
                await self.connection.scalar(
                    select(func.count(func.distinct(ANSWERS.c.invitation_id))).where(
                        ANSWERS.c.unit_id.in_(unit_ids),
                        _within(ANSWERS.c.answered_at, start, end),
                        ANSWERS.c.form_id == form_id,
                        ANSWERS.c.value.is_not(None),
                    )
                )
                or 0
            )
        return SurveyCounts(int(offered), int(delivered), int(started), int(completed), respondents)


def _apologised() -> Any:
    """The dossier has a delay apology (an apology for an error does not make a late dossier apologised)."""
    return select(APOLOGIES.c.id).where(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay").exists()


def late_in(start: datetime | None, end: datetime, as_of: datetime) -> Any:
    """Dossiers late for a due date in [start, end) (any date before ``end`` when ``start`` is None).

    Late: the due date had passed by ``as_of`` and the dossier was resolved after it (``on_time`` false)
    or is still unresolved. Each late dossier belongs to the one period its due date falls in.
    """
    due = DOSSIERS.c.due_at < end if start is None else _within(DOSSIERS.c.due_at, start, end)
    return and_(
        due,
        DOSSIERS.c.due_at < as_of,
        or_(DOSSIERS.c.on_time.is_(False), DOSSIERS.c.state.in_(UNRESOLVED)),
    )


def _local_day(column: Any, dialect: str, zone: ZoneInfo, at: datetime) -> Any:
    """The local calendar day of a UTC timestamp column, computed by the database."""
    if dialect == "postgresql":
        return func.date(func.timezone(zone.key, column))
    # SQLite knows no time zones: the zone's offset at the start of the period (Vietnam keeps no summer time)
    offset = at.astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return func.date(column, f"{minutes:+d} minutes")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class DigestRepository(_Repository):
    """What digests and workbooks add to the report: days, lists, officers, anonymised answers."""

    async def daily_answers(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str, zone: ZoneInfo
    ) -> list[DayAnswerCount]:
        """Answers per local day, question and value (free texts left out)."""
        day = _local_day(ANSWERS.c.answered_at, self.dialect, zone, start).label("day")
        query = (
            select(day, ANSWERS.c.question_code, ANSWERS.c.value, func.count())
            .where(
                ANSWERS.c.unit_id.in_(unit_ids),
                ANSWERS.c.form_id == form_id,
                _within(ANSWERS.c.answered_at, start, end),
                ANSWERS.c.value.is_not(None),
            )
            .group_by(day, ANSWERS.c.question_code, ANSWERS.c.value)
        )
        return [DayAnswerCount(_as_date(d), q, v, int(n)) for d, q, v, n in await self.connection.execute(query)]

    async def daily_resolved(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, zone: ZoneInfo
    ) -> list[DayResolved]:
        """Dossiers resolved per local day, and how many of them on time."""
        day = _local_day(DOSSIERS.c.finished_at, self.dialect, zone, start).label("day")
        query = (
            select(day, func.count(), _count(DOSSIERS.c.on_time.is_(True)))
            .where(DOSSIERS.c.unit_id.in_(unit_ids), _within(DOSSIERS.c.finished_at, start, end))
            .group_by(day)
        )
        return [DayResolved(_as_date(d), int(n), int(ok)) for d, n, ok in await self.connection.execute(query)]

    async def late_without_apology(
        self, unit_ids: Sequence[int], as_of: datetime, limit: int
    ) -> tuple[int, list[LateDossier]]:
        """Late without apology for every due date before ``as_of``: how many, and the oldest.

        The report's definition (:func:`late_in`) over all periods so far.
        """
        condition = and_(DOSSIERS.c.unit_id.in_(unit_ids), late_in(None, as_of, as_of), ~_apologised())
        total = int((await self.connection.execute(select(func.count()).where(condition))).scalar_one())
        query = (
            select(DOSSIERS.c.code, DOSSIERS.c.due_at, DOSSIERS.c.state)
            .where(condition)
            .order_by(DOSSIERS.c.due_at, DOSSIERS.c.id)
            .limit(limit)
        )
        rows = [LateDossier(c, d, st) for c, d, st in await self.connection.execute(query)]
        return total, rows

    async def overdue(self, unit_ids: Sequence[int], as_of: datetime, limit: int) -> tuple[int, list[LateDossier]]:
        """Unresolved dossiers past their due date (with or without an apology): how many, the oldest."""
        condition = and_(DOSSIERS.c.unit_id.in_(unit_ids), DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < as_of)
        total = int((await self.connection.execute(select(func.count()).where(condition))).scalar_one())
        query = (
            select(DOSSIERS.c.code, DOSSIERS.c.due_at, DOSSIERS.c.state)
            .where(condition)
            .order_by(DOSSIERS.c.due_at, DOSSIERS.c.id)
            .limit(limit)
        )
        return total, [LateDossier(c, d, st) for c, d, st in await self.connection.execute(query)]

    async def feedback_between(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, limit: int
    ) -> tuple[int, list[FeedbackLine]]:
        """Feedback received in [start, end): how many, and the first ``limit`` with their dossier's code."""
        condition = and_(FEEDBACK.c.unit_id.in_(unit_ids), _within(FEEDBACK.c.created_at, start, end))
        total = int((await self.connection.execute(select(func.count()).where(condition))).scalar_one())
        query = (
            select(FEEDBACK.c.id, DOSSIERS.c.code, FEEDBACK.c.text, FEEDBACK.c.status, PEOPLE.c.name)
            .select_from(
                FEEDBACK.outerjoin(DOSSIERS, DOSSIERS.c.id == FEEDBACK.c.dossier_id).outerjoin(
                    PEOPLE, PEOPLE.c.id == FEEDBACK.c.person_id
                )
            )
            .where(condition)
            .order_by(FEEDBACK.c.created_at, FEEDBACK.c.id)
            .limit(limit)
        )
        lines = [FeedbackLine(i, c, t, st, n) for i, c, t, st, n in await self.connection.execute(query)]
        return total, lines

    async def officers(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[OfficerCounts]:
        """Dossiers resolved in [start, end) per handling officer: resolved, on time, late, apologies issued."""
        resolved = _within(DOSSIERS.c.finished_at, start, end)
        apologised = (
            select(APOLOGIES.c.id).where(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay").exists()
        )
        handler = func.coalesce(DOSSIERS.c.handler, literal("")).label("handler")
        query = (
            select(
                handler,
                _count(resolved),
                _count(and_(resolved, DOSSIERS.c.on_time.is_(True))),
                _count(and_(resolved, DOSSIERS.c.on_time.is_(False))),
                _count(and_(resolved, apologised)),
            )
            .where(DOSSIERS.c.unit_id.in_(unit_ids), resolved)
            .group_by(handler)
            .order_by(handler)
        )
        return [
            OfficerCounts(h, int(r), int(o), int(la), int(a)) for h, r, o, la, a in await self.connection.execute(query)
        ]

    async def officer_answers(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str
    ) -> list[OfficerAnswerCount]:
        """Answers in [start, end) per handling officer of the dossier, question and value."""
        handler = func.coalesce(DOSSIERS.c.handler, literal("")).label("handler")
        rows = await self._answers_per(handler, unit_ids, start, end, form_id)
        return [OfficerAnswerCount(h, q, v, n) for h, q, v, n in rows]

    async def _answers_per(
        self, officer: Any, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str, *where: Any
    ) -> list[tuple[str, str, str, int]]:
        """Answers in [start, end) per ``officer`` (a column of the dossier), question and value."""
        query = (
            select(officer, ANSWERS.c.question_code, ANSWERS.c.value, func.count())
            .select_from(
                ANSWERS.join(INVITATIONS, INVITATIONS.c.id == ANSWERS.c.invitation_id).join(
                    DOSSIERS, DOSSIERS.c.id == INVITATIONS.c.dossier_id
                )
            )
            .where(
                ANSWERS.c.unit_id.in_(unit_ids),
                ANSWERS.c.form_id == form_id,
                _within(ANSWERS.c.answered_at, start, end),
                ANSWERS.c.value.is_not(None),
                *where,
            )
            .group_by(officer, ANSWERS.c.question_code, ANSWERS.c.value)
        )
        return [(k, q, v, int(n)) for k, q, v, n in await self.connection.execute(query)]

    async def receivers(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[ReceiverCounts]:
        """Dossiers received in [start, end) per receiving officer (dossiers without one are left out)."""
        query = (
            select(DOSSIERS.c.receiver, func.count())
            .where(
                DOSSIERS.c.unit_id.in_(unit_ids),
                _within(DOSSIERS.c.received_at, start, end),
                DOSSIERS.c.receiver.is_not(None),
            )
            .group_by(DOSSIERS.c.receiver)
            .order_by(DOSSIERS.c.receiver)
        )
        return [ReceiverCounts(r, int(n)) for r, n in await self.connection.execute(query)]

    async def receiver_answers(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str
    ) -> list[ReceiverAnswerCount]:
        """Answers in [start, end) per receiving officer of the dossier, question and value."""
        receiver = DOSSIERS.c.receiver
        rows = await self._answers_per(receiver, unit_ids, start, end, form_id, receiver.is_not(None))
        return [ReceiverAnswerCount(r, q, v, n) for r, q, v, n in rows]

    async def late_list(self, unit_ids: Sequence[int], start: datetime, end: datetime, as_of: datetime) -> list[Any]:
        """Dossiers late for a due date in [start, end) (:func:`late_in`), with their apology if any."""
        query = (
            select(
                DOSSIERS.c.code,
                DOSSIERS.c.procedure_name,
                DOSSIERS.c.field,
                DOSSIERS.c.handler,
                DOSSIERS.c.received_at,
                DOSSIERS.c.due_at,
                DOSSIERS.c.finished_at,
                DOSSIERS.c.state,
                APOLOGIES.c.number,
                APOLOGIES.c.new_due_at,
                APOLOGIES.c.reason,
            )
            .select_from(
                DOSSIERS.outerjoin(
                    APOLOGIES, and_(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay")
                )
            )
            .where(DOSSIERS.c.unit_id.in_(unit_ids), late_in(start, end, as_of))
            .order_by(DOSSIERS.c.due_at, DOSSIERS.c.id)
        )
        return list(await self.connection.execute(query))

    async def raw_answers(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, form_id: str
    ) -> list[RawAnswer]:
        """The answers given in [start, end) to the form, finished survey or not, by invitation.

        Those the report scores, and the comments given with them (no person, no dossier).
        """
        query = (
            select(
                INVITATIONS.c.id,
                INVITATIONS.c.completed_at,
                INVITATIONS.c.channel,
                FIELDS.c.name,
                ANSWERS.c.question_code,
                ANSWERS.c.value,
                ANSWERS.c.text,
            )
            .select_from(
                ANSWERS.join(INVITATIONS, INVITATIONS.c.id == ANSWERS.c.invitation_id).join(
                    FIELDS, FIELDS.c.id == ANSWERS.c.field_id
                )
            )
            .where(
                ANSWERS.c.unit_id.in_(unit_ids),
                ANSWERS.c.form_id == form_id,
                _within(ANSWERS.c.answered_at, start, end),
            )
            .order_by(INVITATIONS.c.id, ANSWERS.c.question_code)
        )
        return [RawAnswer(*row) for row in await self.connection.execute(query)]
