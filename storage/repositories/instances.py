"""Running instances and their heartbeats. Never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from storage.repositories.base import Repository
from storage.tables.service import INSTANCES


class InstanceRepository(Repository):
    """Running instances and their heartbeats."""

    async def beat(self, name: str, role: str, holding: bool, started_at: datetime, now: datetime) -> None:
        """Record that ``name`` is alive (and whether it holds delivery)."""
        values = {"role": role, "holding": holding, "started_at": started_at, "heartbeat_at": now}
        await self._upsert(INSTANCES, {"name": name}, values)

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
