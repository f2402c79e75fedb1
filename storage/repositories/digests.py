"""What digests and workbooks add to the report: days and lists. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select

from storage.repositories.officers import OfficerFigures
from storage.repositories.reports import apologised, count_where, late_in, within
from storage.tables.dossiers import DOSSIERS, UNRESOLVED
from storage.tables.people import PEOPLE
from storage.tables.staff import APOLOGIES, FEEDBACK
from storage.tables.survey import ANSWERS, INVITATIONS
from storage.tables.units import FIELDS
from storage.values import DayAnswerCount, DayResolved, FeedbackLine, LateDossier, RawAnswer


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


class DigestRepository(OfficerFigures):
    """What digests and workbooks add to the report: days, lists, officers (``OfficerFigures``), anonymised answers."""

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
                within(ANSWERS.c.answered_at, start, end),
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
            select(day, func.count(), count_where(DOSSIERS.c.on_time.is_(True)))
            .where(DOSSIERS.c.unit_id.in_(unit_ids), within(DOSSIERS.c.finished_at, start, end))
            .group_by(day)
        )
        return [DayResolved(_as_date(d), int(n), int(ok)) for d, n, ok in await self.connection.execute(query)]

    async def late_without_apology(
        self, unit_ids: Sequence[int], as_of: datetime, limit: int
    ) -> tuple[int, list[LateDossier]]:
        """Late without apology for every due date before ``as_of``: how many, and the oldest.

        The report's definition (:func:`late_in`) over all periods so far.
        """
        condition = and_(DOSSIERS.c.unit_id.in_(unit_ids), late_in(None, as_of, as_of), ~apologised())
        return await self._count_and_oldest(condition, limit)

    async def overdue(self, unit_ids: Sequence[int], as_of: datetime, limit: int) -> tuple[int, list[LateDossier]]:
        """Unresolved dossiers past their due date (with or without an apology): how many, the oldest."""
        condition = and_(DOSSIERS.c.unit_id.in_(unit_ids), DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < as_of)
        return await self._count_and_oldest(condition, limit)

    async def _count_and_oldest(self, condition: ColumnElement[bool], limit: int) -> tuple[int, list[LateDossier]]:
        """How many dossiers meet ``condition``, and the ``limit`` oldest of them by due date."""
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
        condition = and_(FEEDBACK.c.unit_id.in_(unit_ids), within(FEEDBACK.c.created_at, start, end))
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
                within(ANSWERS.c.answered_at, start, end),
            )
            .order_by(INVITATIONS.c.id, ANSWERS.c.question_code)
        )
        return [RawAnswer(*row) for row in await self.connection.execute(query)]
