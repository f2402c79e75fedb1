"""Inbound events already handled, so that a re-delivery changes nothing. Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Insert, bindparam

from storage.repositories.base import Repository, dialect_insert
from storage.tables.messaging import INBOUND


def _first_seen(dialect: str) -> Insert:
    return cast(
        Insert,
        dialect_insert(dialect, INBOUND)
        .values(channel=bindparam("channel"), event_id=bindparam("event_id"), received_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(INBOUND.c.id),
    )


class InboundRepository(Repository):
    """Inbound events already handled."""

    async def first_seen(self, channel: str, event_id: str, now: datetime) -> bool:
        """Record the event; False when it was recorded before (a re-delivery)."""
        result = await self.connection.execute(
            self._prepared(_first_seen), {"channel": channel, "event_id": event_id, "now": now}
        )
        return result.first() is not None
