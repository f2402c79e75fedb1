"""Recording what became of an outbox message: sent, held back, to retry or given up. Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, select, update

from storage.repositories.base import Repository
from storage.tables.messaging import OUTBOX
from storage.tables.survey import INVITATIONS
from storage.values import OutboxMessage


def _mark_sent(_: str) -> Executable:
    return (
        update(OUTBOX)
        .where(OUTBOX.c.id == bindparam("message"))  # not a column's name: an UPDATE would SET that column
        .values(
            status="sent",
            sent_at=bindparam("now"),
            platform_message_id=bindparam("platform_id"),
            attempts=OUTBOX.c.attempts + 1,
        )
    )


def _mark_delivered(_: str) -> Executable:
    return (
        update(INVITATIONS)
        .where(INVITATIONS.c.id == bindparam("invitation"), INVITATIONS.c.delivered_at.is_(None))
        .values(delivered_at=bindparam("now"))
    )


class OutboxOutcomes(Repository):
    """What became of a message: sent (and the invitation delivered), held back, to retry, given up or cancelled."""

    async def mark_sent(
        self, message: OutboxMessage, now: datetime, platform_message_id: str | None = None, *, first: bool = True
    ) -> None:
        """The platform accepted the message; the first message of an invitation marks it delivered.

        ``first=False``: the caller knows an earlier message of the same invitation was delivered already.
        """
        sent = {"message": message.id, "now": now, "platform_id": platform_message_id}
        await self._run(self._prepared(_mark_sent), sent)
        if message.invitation_id is not None and first:
            await self._run(self._prepared(_mark_delivered), {"invitation": message.invitation_id, "now": now})

    async def invitation_of(self, channel: str, platform_message_id: str) -> int | None:
        """The invitation a delivered message on ``channel`` belonged to."""
        query = select(OUTBOX.c.invitation_id).where(
            OUTBOX.c.channel == channel, OUTBOX.c.platform_message_id == platform_message_id
        )
        return (await self.connection.execute(query.limit(1))).scalar()

    async def last_in_thread(self, channel: str, recipient: str, thread: str, before_id: int) -> str | None:
        """The platform id of the latest delivered message of ``thread`` to ``recipient`` (to edit it in place)."""
        query = (
            select(OUTBOX.c.platform_message_id)
            .where(
                OUTBOX.c.channel == channel,
                OUTBOX.c.recipient == recipient,
                OUTBOX.c.thread == thread,
                OUTBOX.c.status == "sent",
                OUTBOX.c.id < before_id,
            )
            .order_by(OUTBOX.c.id.desc())
            .limit(1)
        )
        return (await self.connection.execute(query)).scalar()

    async def hold_recipient(
        self, message: OutboxMessage, error: str | None, retry_at: datetime, *, failed: bool = True
    ) -> None:
        """The message must wait until ``retry_at``; the recipient's later messages wait behind it (order kept).

        ``failed=False``: the platform asked us to slow down (a 429): that is not a failed try of this
        message, and it does not lengthen the message's backoff.
        """
        await self.mark(message.id, "pending", error, retry_at, failed=failed)
        await self._run(
            update(OUTBOX)
            .where(
                OUTBOX.c.channel == message.channel,
                OUTBOX.c.recipient == message.recipient,
                OUTBOX.c.status == "pending",
                OUTBOX.c.id > message.id,
                OUTBOX.c.not_before < retry_at,
            )
            .values(not_before=retry_at)
        )

    async def mark(
        self, message_id: int, status: str, error: str | None, retry_at: datetime | None = None, *, failed: bool = True
    ) -> None:
        """Record an attempt that did not deliver: to retry at ``retry_at`` (status pending), or given up.

        ``attempts`` counts the failed tries (it sets the backoff); ``failed=False`` leaves it as it is.
        """
        values: dict[str, Any] = {"status": status, "last_error": (error or "")[:500]}
        if failed:
            values["attempts"] = OUTBOX.c.attempts + 1
        if retry_at is not None:
            values["not_before"] = retry_at
        await self._run(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))

    async def release(self, channel: str, now: datetime) -> int:
        """Everything held back on ``channel`` may go now; how many messages."""
        return await self._run(
            update(OUTBOX)
            .where(OUTBOX.c.channel == channel, OUTBOX.c.status == "pending", OUTBOX.c.not_before > now)
            .values(not_before=now)
        )

    async def cancel_for_recipient(self, channel: str, recipient: str) -> None:
        """Drop every pending message to a chat that can no longer be reached."""
        await self._run(
            update(OUTBOX)
            .where(OUTBOX.c.channel == channel, OUTBOX.c.recipient == recipient, OUTBOX.c.status == "pending")
            .values(status="cancelled")
        )
