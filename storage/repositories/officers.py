"""The figures per officer that digests and workbooks add to the report: handling and receiving officers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, select

from storage.repositories.base import Repository
from storage.repositories.reports import apologised, count_where, within
from storage.tables.dossiers import DOSSIERS
from storage.tables.survey import ANSWERS, INVITATIONS
from storage.values import OfficerAnswerCount, OfficerCounts, ReceiverAnswerCount, ReceiverCounts


class OfficerFigures(Repository):
    """Dossiers and answers per handling officer and per receiving (counter) officer."""

    async def officers(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[OfficerCounts]:
        """Dossiers resolved in [start, end) per handling officer: resolved, on time, late, apologies issued."""
        resolved = within(DOSSIERS.c.finished_at, start, end)
        handler = func.coalesce(DOSSIERS.c.handler, literal("")).label("handler")
        query = (
            select(
                handler,
                count_where(resolved),
                count_where(and_(resolved, DOSSIERS.c.on_time.is_(True))),
                count_where(and_(resolved, DOSSIERS.c.on_time.is_(False))),
                count_where(and_(resolved, apologised())),
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
                within(ANSWERS.c.answered_at, start, end),
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
                within(DOSSIERS.c.received_at, start, end),
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
