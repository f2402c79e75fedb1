"""Platform updates kept as they were read, until handled. Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, bindparam, delete, select, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.messaging import INBOX
from storage.values import KeptUpdate


def _keep(dialect: str) -> Insert:
    return cast(
        Insert,
        dialect_insert(dialect, INBOX)
        .values(
            channel=bindparam("channel"),
            update_id=bindparam("update_id"),
            chat_id=bindparam("chat_id"),
            payload=bindparam("payload", type_=INBOX.c.payload.type),
            received_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(INBOX.c.id),
    )


class InboxRepository(Repository):
    """Platform updates kept as they were read, until handled (docs/CHANNELS.md: persist before processing)."""

    async def keep(
        self, channel: str, update_id: str, chat_id: str, payload: dict[str, Any], now: datetime
    ) -> int | None:
        """Keep an update; its row id, or None when one was kept before under the same id (it stays)."""
        result = await self.connection.execute(
            self._prepared(_keep),
            {"channel": channel, "update_id": update_id, "chat_id": chat_id, "payload": payload, "now": now},
        )
        return result.scalar()

    async def pending(self, channel: str, limit: int) -> list[KeptUpdate]:
        """The oldest updates kept and not handled (nor failed), in the order they were read."""
        return await self._all(
            KeptUpdate,
            select(INBOX.c.id, INBOX.c.update_id, INBOX.c.payload)
            .where(INBOX.c.channel == channel, INBOX.c.failed_at.is_(None))
            .order_by(INBOX.c.id)
            .limit(limit),
        )

    async def done(self, kept_id: int) -> None:
        """Forget a handled update (it holds a chat id and what the person wrote)."""
        await self._run(delete(INBOX).where(INBOX.c.id == kept_id))

    async def failed(self, kept_id: int, error: str, now: datetime) -> None:
        """Set aside an update whose handling failed (not tried again); purged after a few days."""
        await self._run(update(INBOX).where(INBOX.c.id == kept_id).values(failed_at=now, error=error[:500]))

    async def forget_chat(self, channel: str, chat_id: str) -> None:
        """Delete every update kept from a chat (erasure)."""
        await self._run(delete(INBOX).where(INBOX.c.channel == channel, INBOX.c.chat_id == chat_id))

    async def purge_failed(self, before: datetime) -> int:
        """Delete the updates set aside as failed before ``before``; how many."""
        return await self._run(delete(INBOX).where(INBOX.c.failed_at.is_not(None), INBOX.c.failed_at < before))
