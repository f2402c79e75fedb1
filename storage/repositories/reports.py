"""The aggregate queries behind every report: counts computed in SQL, never row by row. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select

from storage.answer_groups import sqlite_answer_counts
from storage.repositories.base import Repository
from storage.tables.dossiers import DOSSIERS, UNRESOLVED
from storage.tables.staff import APOLOGIES
from storage.tables.survey import ANSWERS, INVITATIONS
from storage.tables.units import FIELDS
from storage.values import AnswerCount, DossierCounts, SurveyCounts


def within(column: Any, start: datetime, end: datetime) -> Any:
    """The column's moment falls in [start, end)."""
    return and_(column >= start, column < end)


def count_where(condition: Any) -> Any:
    """How many rows meet ``condition``, as an aggregate (0 when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class ReportRepository(Repository):
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
                within(ANSWERS.c.answered_at, start, end),
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
                within(ANSWERS.c.answered_at, start, end),
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
        resolved = within(DOSSIERS.c.finished_at, start, end)
        late_resolved = and_(resolved, DOSSIERS.c.on_time.is_(False))
        overdue = and_(DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < as_of)
        query = select(
            count_where(within(DOSSIERS.c.received_at, start, end)),
            count_where(resolved),
            count_where(and_(resolved, DOSSIERS.c.on_time.is_(True))),
            count_where(late_resolved),
            count_where(and_(late_in(start, end, as_of), not_(apologised()))),
            count_where(overdue),
        ).where(DOSSIERS.c.unit_id.in_(unit_ids))
        received, resolved_n, on_time, late, late_without, overdue_n = (await self.connection.execute(query)).one()
        apologies, apologies_late, apologies_error = (
            await self.connection.execute(
                select(
                    count_where(delay),
                    count_where(and_(delay, APOLOGIES.c.in_time.is_(False))),
                    count_where(APOLOGIES.c.kind == "error"),
                )
                .select_from(APOLOGIES.join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id))
                .where(DOSSIERS.c.unit_id.in_(unit_ids), within(APOLOGIES.c.issued_at, start, end))
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
            count_where(INVITATIONS.c.delivered_at.is_not(None)),
            count_where(INVITATIONS.c.started_at.is_not(None)),
            count_where(INVITATIONS.c.completed_at.is_not(None)),
        ).where(INVITATIONS.c.unit_id.in_(unit_ids), within(INVITATIONS.c.sent_at, start, end))
        offered, delivered, started, completed = (await self.connection.execute(query)).one()
        respondents = 0
        if form_id is not None:
            respondents = int(
                await self.connection.scalar(
                    select(func.count(func.distinct(ANSWERS.c.invitation_id))).where(
                        ANSWERS.c.unit_id.in_(unit_ids),
                        within(ANSWERS.c.answered_at, start, end),
                        ANSWERS.c.form_id == form_id,
                        ANSWERS.c.value.is_not(None),
                    )
                )
                or 0
            )
        return SurveyCounts(int(offered), int(delivered), int(started), int(completed), respondents)


def apologised() -> Any:
    """The dossier has a delay apology (an apology for an error does not make a late dossier apologised)."""
    return select(APOLOGIES.c.id).where(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay").exists()


def late_in(start: datetime | None, end: datetime, as_of: datetime) -> Any:
    """Dossiers late for a due date in [start, end) (any date before ``end`` when ``start`` is None).

    Late: the due date had passed by ``as_of`` and the dossier was resolved after it (``on_time`` false)
    or is still unresolved. Each late dossier belongs to the one period its due date falls in.
    """
    due = DOSSIERS.c.due_at < end if start is None else within(DOSSIERS.c.due_at, start, end)
    return and_(
        due,
        DOSSIERS.c.due_at < as_of,
        or_(DOSSIERS.c.on_time.is_(False), DOSSIERS.c.state.in_(UNRESOLVED)),
    )
