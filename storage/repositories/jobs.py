"""Claims on periodic job runs, so that no period runs twice. Never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.service import JOB_RUNS


class JobRunRepository(Repository):
    """Claims on periodic job runs."""

    async def claim(self, job: str, period: str, scope: str, claimed_by: str, now: datetime) -> bool:
        """Claim the run of ``job`` for ``period`` and ``scope``; False when it is running or done elsewhere.

        A run that failed may be claimed again.
        """
        statement = (
            dialect_insert(self.dialect, JOB_RUNS)
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
