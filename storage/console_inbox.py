"""The console's inbox: messages for `sipasbot shell` chats, kept in the outbox table until a shell shows them.

The shell and `sipasbot run` are separate processes sharing the database. The service cannot print to a
terminal, so it delivers a console message by keeping it, status ``unread`` (no longer ``pending``: nothing
waits for a platform, and no alert counts it); the shell shows what is unread — and, with no service
running, what is still pending — and marks each ``sent`` as it shows it. Marking is a claim: whoever
changes the row's status first has it, so a message is never shown twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from storage.repositories.base import Repository
from storage.tables.messaging import OUTBOX
from storage.tables.survey import INVITATIONS
from storage.values import OutboxMessage

CONSOLE = "console"
UNREAD = "unread"  # delivered to the console's inbox; no shell has shown it yet
TO_SHOW = ("pending", UNREAD)


class ConsoleInboxRepository(Repository):
    """Messages to console chats, as the shell shows them."""

    async def keep(self, message: OutboxMessage, now: datetime) -> bool:
        """The service delivered ``message`` to the console's inbox; False when a shell had shown it already."""
        kept = await self._run(
            update(OUTBOX)
            .where(OUTBOX.c.id == message.id, OUTBOX.c.status == "pending")
            .values(status=UNREAD, sent_at=now, attempts=OUTBOX.c.attempts + 1)
        )
        if kept:
            await self._delivered(message, now)
        return bool(kept)

    async def to_show(self, recipient: str, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        """What the console chat ``recipient`` has not been shown yet (and may be now), oldest first."""
        query = (
            select(OUTBOX)
            .where(
                OUTBOX.c.channel == CONSOLE,
                OUTBOX.c.recipient == recipient,
                OUTBOX.c.status.in_(TO_SHOW),
                OUTBOX.c.not_before <= now,
            )
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        return await self._all(OutboxMessage, query)

    async def last_shown(self, recipient: str, thread: str) -> OutboxMessage | None:
        """The latest message of ``thread`` the console chat ``recipient`` was shown (a survey's current question)."""
        query = (
            select(OUTBOX)
            .where(
                OUTBOX.c.channel == CONSOLE,
                OUTBOX.c.recipient == recipient,
                OUTBOX.c.thread == thread,
                OUTBOX.c.status == "sent",
            )
            .order_by(OUTBOX.c.id.desc())
            .limit(1)
        )
        return await self._first(OutboxMessage, query)

    async def claim(self, message: OutboxMessage, now: datetime) -> bool:
        """The shell takes ``message`` to show it (marked sent); False when another shell took it first."""
        claimed = await self._run(
            update(OUTBOX)
            .where(OUTBOX.c.id == message.id, OUTBOX.c.status.in_(TO_SHOW))
            .values(status="sent", sent_at=now, attempts=OUTBOX.c.attempts + 1)
        )
        if claimed:
            await self._delivered(message, now)
        return bool(claimed)

    async def _delivered(self, message: OutboxMessage, now: datetime) -> None:
        """The first message of an invitation that arrives marks the invitation delivered (as on every channel)."""
        if message.invitation_id is not None:
            await self._run(
                update(INVITATIONS)
                .where(INVITATIONS.c.id == message.invitation_id, INVITATIONS.c.delivered_at.is_(None))
                .values(delivered_at=now)
            )
