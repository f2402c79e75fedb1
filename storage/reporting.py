"""The aggregate queries behind every report: counts computed in SQL, never row by row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select

from storage.repositories import ANSWERS, APOLOGIES, DOSSIERS, FIELDS, INVITATIONS, _Repository
from storage.values import AnswerCount, DossierCounts, SurveyCounts

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
        """Answers per field, question and value (free texts are not counted here): one scan of answers."""
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

    async def dossier_counts(
        self, unit_ids: Sequence[int], start: datetime, end: datetime, as_of: datetime
    ) -> DossierCounts:
        """Received, resolved, on time, late, apologies and overdue dossiers."""
        has_apology = select(APOLOGIES.c.id).where(APOLOGIES.c.dossier_id == DOSSIERS.c.id).exists()
        resolved = _within(DOSSIERS.c.finished_at, start, end)
        late_resolved = and_(resolved, DOSSIERS.c.on_time.is_(False))
        overdue = and_(DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < as_of)
        query = select(
            _count(_within(DOSSIERS.c.received_at, start, end)),
            _count(resolved),
            _count(and_(resolved, DOSSIERS.c.on_time.is_(True))),
            _count(late_resolved),
            _count(and_(or_(late_resolved, overdue), not_(has_apology))),
            _count(overdue),
        ).where(DOSSIERS.c.unit_id.in_(unit_ids))
        received, resolved_n, on_time, late, late_without, overdue_n = (await self.connection.execute(query)).one()
        apologies = await self.connection.scalar(
            select(func.count())
            .select_from(APOLOGIES.join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id))
            .where(DOSSIERS.c.unit_id.in_(unit_ids), _within(APOLOGIES.c.issued_at, start, end))
        )
        return DossierCounts(
            received=int(received),
            resolved=int(resolved_n),
            on_time=int(on_time),
            late=int(late),
            apologies=int(apologies or 0),
            late_without_apology=int(late_without),
            overdue_open=int(overdue_n),
        )

    async def survey_counts(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> SurveyCounts:
        """The survey funnel: offered, delivered, started, completed within the period."""
        query = select(
            _count(_within(INVITATIONS.c.sent_at, start, end)),
            _count(_within(INVITATIONS.c.delivered_at, start, end)),
            _count(_within(INVITATIONS.c.started_at, start, end)),
            _count(_within(INVITATIONS.c.completed_at, start, end)),
        ).where(INVITATIONS.c.unit_id.in_(unit_ids))
        offered, delivered, started, completed = (await self.connection.execute(query)).one()
        return SurveyCounts(int(offered), int(delivered), int(started), int(completed))
