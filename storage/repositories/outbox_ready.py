"""Reading the outbox: the messages ready to send, in each recipient's order. Never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Select, bindparam, func, select

from storage.repositories.base import Repository
from storage.tables.messaging import OUTBOX
from storage.values import BULK, INTERACTIVE, OutboxMessage


def _pending_replies(_: str) -> Executable:
    """(id, recipient) of a channel's ready replies, oldest first, by their own index (``ix_outbox_priority``)."""
    return (
        select(OUTBOX.c.id, OUTBOX.c.recipient)
        .where(
            OUTBOX.c.status == "pending",
            OUTBOX.c.channel == bindparam("channel"),
            OUTBOX.c.priority == INTERACTIVE,
            OUTBOX.c.not_before <= bindparam("now"),
        )
        .order_by(OUTBOX.c.id)
        .limit(bindparam("limit"))
    )


class OutboxReading(Repository):
    """The messages ready to send: none passes an earlier message of its recipient that waits for a retry."""

    async def pending(
        self,
        channel: str,
        now: datetime,
        limit: int,
        recipient: str | None = None,
        after_id: int = 0,
        bulk_only: bool = False,
    ) -> list[OutboxMessage]:
        """Messages ready to send on ``channel`` (to ``recipient`` only, if given), oldest first.

        With ``after_id``: the messages above it, and every earlier pending message of their recipients —
        PostgreSQL hands out ids at insert, so a transaction may commit its lower ids after a higher id of
        another was read; its recipient's earlier messages must still come first. ``bulk_only``: of the
        messages above it, only the bulk's bring their recipients in (the replies are read on their own).
        """
        ready = (OUTBOX.c.status == "pending", OUTBOX.c.channel == channel, OUTBOX.c.not_before <= now)
        query = select(OUTBOX).where(*ready)
        if after_id:  # two plain queries: as one, a fresh table's missing statistics can make it a nested loop
            fresh = select(OUTBOX.c.recipient).where(*ready, OUTBOX.c.id > after_id)
            if bulk_only:
                fresh = fresh.where(OUTBOX.c.priority == BULK)
            fresh = fresh.distinct().limit(limit)
            recipients = list((await self.connection.execute(fresh)).scalars())
            if not recipients:
                return []
            query = query.where(OUTBOX.c.recipient.in_(recipients))
        if recipient is not None:
            query = query.where(OUTBOX.c.recipient == recipient)
        return await self._not_held(channel, now, query.order_by(OUTBOX.c.id).limit(limit))

    async def pending_replies(self, channel: str, now: datetime, limit: int) -> list[tuple[int, str]]:
        """(id, recipient) of the interactive messages ready on ``channel``, oldest first (by their own index)."""
        rows = await self.connection.execute(
            self._prepared(_pending_replies), {"channel": channel, "now": now, "limit": limit}
        )
        return [(id_, recipient) for id_, recipient in rows]

    async def pending_of(self, channel: str, now: datetime, chats: Iterable[str], limit: int) -> list[OutboxMessage]:
        """The messages ready to send on ``channel`` to any of ``chats`` (recipients), oldest first."""
        ready = (OUTBOX.c.status == "pending", OUTBOX.c.channel == channel, OUTBOX.c.not_before <= now)
        query = select(OUTBOX).where(*ready, OUTBOX.c.recipient.in_(list(chats)))
        return await self._not_held(channel, now, query.order_by(OUTBOX.c.id).limit(limit))

    async def _not_held(self, channel: str, now: datetime, query: Select[Any]) -> list[OutboxMessage]:
        """The messages ``query`` reads, but none at or after its recipient's first held message."""
        messages = await self._all(OutboxMessage, query)
        held = await self._first_held(channel, now, {m.recipient for m in messages})
        return [m for m in messages if m.id < held.get(m.recipient, m.id + 1)]

    async def pending_ids(self, channel: str, now: datetime, limit: int) -> list[int]:
        """The ids of the messages ready to send on ``channel``, oldest first (no payloads read)."""
        query = (
            select(OUTBOX.c.id, OUTBOX.c.recipient)
            .where(OUTBOX.c.status == "pending", OUTBOX.c.channel == channel, OUTBOX.c.not_before <= now)
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        rows = (await self.connection.execute(query)).all()
        held = await self._first_held(channel, now, {recipient for _, recipient in rows})
        return [id_ for id_, recipient in rows if id_ < held.get(recipient, id_ + 1)]

    async def _first_held(self, channel: str, now: datetime, recipients: set[str]) -> dict[str, int]:
        """Per recipient, the first message that failed and waits for its retry; nothing later may pass it.

        A message queued after its recipient's earlier one was held (``hold_recipient`` moves only the
        messages already queued) must still go after it: the next question edits the message of the one
        before, and a reply must never arrive above the message it follows. A message merely scheduled for
        later (an apology kept out of the quiet hours: never tried, so no error) holds nothing back.
        Read apart from the ready rows, by recipient: one correlated query would leave PostgreSQL's planner,
        before the table's first statistics, to a nested loop over the whole queue.
        """
        held: dict[str, int] = {}
        ordered = list(recipients)
        for start in range(0, len(ordered), 500):
            query = (
                select(OUTBOX.c.recipient, func.min(OUTBOX.c.id))
                .where(
                    OUTBOX.c.channel == channel,
                    OUTBOX.c.recipient.in_(ordered[start : start + 500]),
                    OUTBOX.c.status == "pending",
                    OUTBOX.c.not_before > now,
                    OUTBOX.c.last_error.is_not(None),
                )
                .group_by(OUTBOX.c.recipient)
            )
            held.update({recipient: first for recipient, first in await self.connection.execute(query)})
        return held

    async def by_ids(self, ids: Sequence[int]) -> list[OutboxMessage]:
        """The messages with ``ids``, oldest first."""
        return await self._all(OutboxMessage, select(OUTBOX).where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id))
