"""Complaints and comments for units (phản ánh). Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from storage.repositories.base import Repository
from storage.tables.staff import FEEDBACK
from storage.values import Feedback

OPEN_FEEDBACK = ("received", "answered")


class FeedbackRepository(Repository):
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
