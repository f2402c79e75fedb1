"""One outbox message: sent through its channel within the channel's pace, and what became of it committed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable

from bot.channels.base import Channel, Delivery
from bot.channels.console import ConsoleInbox
from bot.logs import scrub
from bot.outbox_commits import GroupCommit
from bot.outbox_lanes import Lane
from bot.outbox_outcomes import REAUTH_HOLD_SECONDS, keeps_queue, record
from handlers.context import Services
from handlers.messages import Reply
from storage.uow import UnitOfWork
from storage.values import OutboxMessage

log = logging.getLogger("bot.outbox")

DELIVERED_KEPT = 50_000  # invitations remembered as delivered (then forgotten: the table's condition still holds)


class Sender:
    """Sends one message at a time for the outbox, and commits each outcome before the send counts as done."""

    def __init__(self, services: Services, on_outcome: Callable[[str, Delivery], None] | None = None) -> None:
        self.services = services
        self.on_outcome = on_outcome  # metrics
        self.outcomes = GroupCommit(services)
        self.progress = asyncio.Event()  # set when a platform answered: the outbox may dispatch again
        self.sent = 0
        self.delivered_invitations: set[int] = set()  # invitations this process marked delivered (a cache)
        self.restored: Counter[str] = Counter()  # resumes per channel: a refusal older than the last is stale

    async def deliver(
        self, name: str, channel: Channel, message: OutboxMessage, lane: Lane | None = None, *, urgent: bool = False
    ) -> Delivery:
        """Send one message and commit what became of it (``urgent``: it is, or stands before, a reply)."""
        services = self.services
        reply = Reply.from_payload(message.payload)
        replace = None
        if reply.thread and not reply.fresh:  # a fresh message is new, and the one the next edits
            replace = lane.threads.get((message.recipient, reply.thread)) if lane is not None else None
            if replace is None:  # not sent by this process: the table knows
                async with services.uow(read_only=True) as uow:
                    replace = await uow.outbox.last_in_thread(name, message.recipient, reply.thread, message.id)
        restored = self.restored[name]
        if lane is not None:
            await lane.slot(urgent=urgent)
            try:
                outcome = await channel.send(message.recipient, reply, replace=replace)
            finally:
                lane.slot_done()
        else:
            outcome = await channel.send(message.recipient, reply, replace=replace)
        if outcome.error:  # kept in the outbox row and logged: never with a token a library quoted
            outcome = dataclasses.replace(outcome, error=scrub(outcome.error))
        if outcome.status == "reauth" and self.restored[name] != restored:
            # refused with the credentials held when it left; new ones were stored meanwhile: again, now
            outcome = Delivery("retry_later", retry_after=0.0, error=outcome.error)
        if lane is not None:  # the platform answered: the pause it asks for holds at once, and the place is free
            clock = services.clock
            if outcome.retry_after is not None:
                lane.paused_until = max(lane.paused_until, clock.monotonic() + outcome.retry_after)
            if outcome.status == "reauth":
                lane.paused_until = clock.monotonic() + REAUTH_HOLD_SECONDS
            lane.answered(asyncio.current_task())
            self.progress.set()
        await self._record(name, message, reply, outcome, inbox=isinstance(channel, ConsoleInbox))
        # only now, with the outcome committed, may this process forget what it held
        self._tell(name, message, outcome)
        if lane is not None:
            lane.settle([message.id])
            if outcome.status == "delivered" and reply.thread and outcome.platform_message_id:
                lane.threads[(message.recipient, reply.thread)] = outcome.platform_message_id
            if not keeps_queue(outcome):
                lane.settle(lane.forget(message.recipient))  # its later messages wait (retry) or were dropped
        return outcome

    async def _record(self, name: str, message: OutboxMessage, reply: Reply, outcome: Delivery, *, inbox: bool) -> None:
        """Commit the outcome (``inbox``: kept unread for the shell, not sent, nor forgotten, yet)."""
        now = self.services.clock()

        async def write(uow: UnitOfWork) -> None:
            if outcome.status == "delivered" and inbox:
                await uow.console_inbox.keep(message, now)
            else:
                first = message.invitation_id not in self.delivered_invitations
                await record(uow, name, message, outcome, now, first=first)
            if reply.forget and outcome.status not in ("retry_later", "reauth") and not inbox:
                await uow.erasure.forget_message(message.id)  # the last word to an erased chat: nothing kept

        await self.outcomes.commit(write)

    def _tell(self, name: str, message: OutboxMessage, outcome: Delivery) -> None:
        """Count and log the outcome, once committed."""
        if self.on_outcome is not None:
            self.on_outcome(name, outcome)
        if outcome.status == "delivered":
            self.sent += 1
            if message.invitation_id is not None:  # its later questions need not mark it delivered again
                if len(self.delivered_invitations) >= DELIVERED_KEPT:
                    self.delivered_invitations.clear()
                self.delivered_invitations.add(message.invitation_id)
        elif outcome.status == "failed":
            log.error("outbox message %s on %s refused by the platform: %s", message.id, name, outcome.error)
        elif outcome.status == "reauth":
            log.error("%s refused our credentials; delivery paused: %s", name, outcome.error)

    async def deliver_pending(self, name: str, channel: Channel, limit: int = 100, recipient: str | None = None) -> int:
        """Send what is ready on ``name`` (to ``recipient`` only, if given), one by one; the number delivered."""
        services = self.services
        async with services.uow(read_only=True) as uow:
            batch = await uow.outbox.pending(name, services.clock(), limit, recipient)
        delivered, held = 0, set()
        for message in batch:
            if message.recipient in held:
                continue
            outcome = await self.deliver(name, channel, message)
            if outcome.status == "delivered":
                delivered += 1
            elif outcome.status == "reauth":
                break  # the channel's credentials were refused: nothing more goes with them
            else:
                held.add(message.recipient)
        return delivered
