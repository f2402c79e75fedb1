"""Survey comments kept by unit and day only. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, func, insert, select, update

from storage.repositories.base import Repository
from storage.tables.survey import INVITATIONS, SURVEY_COMMENTS


class SurveyCommentRepository(Repository):
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
