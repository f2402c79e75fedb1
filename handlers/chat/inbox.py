"""The inbox: platform updates kept as they are read, before they are handled.

A platform that hands an update out only once (the Zalo Bot platform's getUpdates, docs/CHANNELS.md) would
lose it to a crash between the read and the handling's commit. So each update is committed here first, then
handled and forgotten in one transaction (``Inbound.kept_id``); what a restart finds here is handled before
anything new is read. Handling twice changes nothing (the handler records each event id with its effects).
An update whose handling failed is set aside (not tried again) and purged after ``FAILED_KEPT_DAYS``;
erasure deletes a chat's updates (they hold its id and words).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from handlers.context import Services
from storage.values import KeptUpdate

log = logging.getLogger(__name__)

FAILED_KEPT_DAYS = 7
BATCH = 100


class Inbox:
    """The kept updates of one channel."""

    def __init__(self, services: Services, channel: str) -> None:
        self.services = services
        self.channel = channel

    async def keep(self, update_id: str, chat_id: str, update: dict[str, Any]) -> KeptUpdate | None:
        """Commit an update as read; None when one was kept before under the same id (it stays as it was)."""
        services = self.services
        async with services.uow() as uow:
            kept_id = await uow.inbox.keep(self.channel, update_id, chat_id, update, services.clock())
            await uow.commit()
        return KeptUpdate(kept_id, update_id, update) if kept_id is not None else None

    async def pending(self) -> list[KeptUpdate]:
        """The oldest updates kept and not handled yet, in the order they were read."""
        async with self.services.uow(read_only=True) as uow:
            return await uow.inbox.pending(self.channel, BATCH)

    async def done(self, kept: KeptUpdate) -> None:
        """Forget an update (the citizen handler forgets those it handles itself, in their transaction)."""
        async with self.services.uow() as uow:
            await uow.inbox.done(kept.id)
            await uow.commit()

    async def failed(self, kept: KeptUpdate, error: str) -> None:
        """Set aside an update whose handling failed."""
        services = self.services
        async with services.uow() as uow:
            await uow.inbox.failed(kept.id, error, services.clock())
            await uow.commit()


async def purge_failed(services: Services, now: datetime | None = None) -> int:
    """Delete the updates set aside as failed more than ``FAILED_KEPT_DAYS`` ago; how many."""
    now = now or services.clock()
    async with services.uow() as uow:
        purged = await uow.inbox.purge_failed(now - timedelta(days=FAILED_KEPT_DAYS))
        await uow.commit()
    if purged:
        log.info("inbox: %d failed update(s) purged", purged)
    return purged
