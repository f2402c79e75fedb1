"""Delivery: sends what handlers queued, after their commit — paced, in order per recipient, retried.

Per channel a pacer spaces the starts of sends so that no one-second window holds more than the
channel's overall rate; per recipient one message is in flight at a time and the next starts only
``interval`` seconds after the previous one *completed* (completion comes after the platform received
it, so jitter cannot squeeze two arrivals closer than that). A 429 pauses the whole channel for the
time the platform asks; 5xx and timeouts back off per message; a recipient that cannot be reached
is marked so and its queue dropped. Every outcome is committed right after its send, before the send
counts as done (sends that complete while a commit is under way share the next one: ``GroupCommit``),
so a crash repeats at most the messages that were in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.channels.base import Channel, Delivery
from bot.channels.console import ConsoleInbox
from bot.logs import scrub
from bot.outbox_commits import GroupCommit
from bot.outbox_lanes import BATCH, Lane, Pace
from handlers.context import Services
from handlers.messages import Reply
from storage.uow import UnitOfWork
from storage.values import OutboxMessage

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (2, 10, 30, 60)  # then every minute: an outage over, nobody waits long (the pace limits the load)
REFILL_SECONDS = 1.0
REAUTH_HOLD_SECONDS = 300  # credentials refused: try again after this (a refresh or a new grant may come)
# commits arriving in a burst are read together: under load the table is read at most every 50 ms (each read
# costs the database as much as an answer does); a lone commit after a quiet spell is read at once
COALESCE_SECONDS = 0.05
DELIVERED_KEPT = 50_000  # invitations remembered as delivered (then forgotten: the table's condition still holds)

__all__ = ["BATCH", "Outbox", "Pace"]


class Outbox:
    """Drains the outbox table through the configured channels."""

    def __init__(
        self,
        services: Services,
        channels: dict[str, Channel],
        paces: dict[str, Pace] | None = None,
        wakeup: asyncio.Event | None = None,
        on_outcome: Callable[[str, Delivery], None] | None = None,
    ) -> None:
        self.services = services
        self.on_outcome = on_outcome  # metrics
        self.channels = dict(channels)
        self.paces = paces or {}
        self.lanes = {name: Lane(channel, self.paces.get(name, Pace())) for name, channel in channels.items()}
        self.wakeup = wakeup or asyncio.Event()  # set by commits that queued messages: read the table
        self._progress = asyncio.Event()  # set when a send finished: only dispatch again
        self.sent = 0
        self.outcomes = GroupCommit(services)
        self._delivered_invitations: set[int] = set()  # invitations this process marked delivered (a cache)
        self._restored: Counter[str] = Counter()  # resumes per channel: a refusal older than the last is stale

    async def resume(self, channels: list[str]) -> None:
        """Credentials work again on ``channels``: what was held for them goes now (in order), not hours later."""
        now = self.services.clock()
        self._restored.update(channels)
        async with self.services.uow() as uow:
            for name in channels:
                await uow.outbox.release(name, now)
            await uow.commit()
        for name in channels:
            lane = self.lanes.get(name)
            if lane is not None:
                lane.paused_until = 0.0
                lane.slot_freed.set()  # sends that were waiting out the pause look again
        self.wake()

    def add(self, name: str, channel: Channel) -> None:
        """Deliver on ``name`` too from now on (a channel that started after delivery began): what waits goes now."""
        if name in self.lanes:
            return
        self.channels[name] = channel
        self.lanes[name] = Lane(channel, self.paces.get(name, Pace()))
        self.wake()

    def wake(self) -> None:
        """Look for new messages now (called after every commit that queued some)."""
        self.wakeup.set()

    # --- the long-running loop

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let the sends in flight finish."""
        refill_at = read_at = 0.0
        try:
            while not stop.is_set():
                full = time.monotonic() >= refill_at
                woken = self.wakeup.is_set() and time.monotonic() >= read_at + COALESCE_SECONDS
                if woken:
                    self.wakeup.clear()
                self._progress.clear()
                if woken or full:
                    read_at = time.monotonic()
                    for name, lane in list(self.lanes.items()):  # a channel may join meanwhile (``add``)
                        await self._refill(name, lane, full=full)
                    if full:
                        refill_at = time.monotonic() + REFILL_SECONDS
                for name, lane in self.lanes.items():
                    self._dispatch(name, lane)
                timeout = min(self._sleep_time(), max(0.001, refill_at - time.monotonic()))
                if self.wakeup.is_set():  # a wake-up held back to coalesce: look again when its time comes
                    timeout = min(timeout, max(0.001, read_at + COALESCE_SECONDS - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._next_event(stop), timeout=timeout)
        finally:
            await self.drain()

    async def drain(self) -> None:
        """Wait for the sends in flight; those still waiting for a slot (a pause: minutes) are given up."""
        for lane in self.lanes.values():
            for task in lane.waiting:
                task.cancel()  # nothing was sent: the message stays pending for the next instance
        pending = [task for lane in self.lanes.values() for task in (*lane.tasks, *lane.recording)]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _next_event(self, stop: asyncio.Event) -> None:
        events = (self._progress, stop) if self.wakeup.is_set() else (self.wakeup, self._progress, stop)
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _sleep_time(self) -> float:
        """Until the next send could start, or the next look at the table."""
        now = time.monotonic()
        soonest = REFILL_SECONDS
        for lane in self.lanes.values():
            start = lane.next_start()
            if start is not None:
                soonest = min(soonest, max(0.0, start - now))
        return max(0.001, soonest)

    async def _refill(self, name: str, lane: Lane, *, full: bool) -> None:
        """Add pending messages this process does not hold yet: the replies always, the bulk in id order.

        After a wake-up only bulk rows newer than any read before are fetched; the periodic ``full`` pass
        also finds older rows whose retry time has come (reading ids first, payloads only for new ones).
        The replies are read whatever bulk is held (bot/outbox_lanes.py).
        """
        room = BATCH - len(lane.known)
        began = lane.sequence
        now = self.services.clock()
        batch: list[OutboxMessage] = []
        async with self.services.uow(read_only=True) as uow:
            await lane.read_replies(uow, name, now)
            if room > 0 and full:
                ids = await uow.outbox.pending_ids(name, now, BATCH)
                fresh = [i for i in ids if i not in lane.known and i not in lane.settled][:room]
                batch = await uow.outbox.by_ids(fresh) if fresh else []
            elif room > 0:
                batch = await uow.outbox.pending(name, now, room, after_id=lane.high_water, bulk_only=True)
        for message in batch:
            lane.high_water = max(lane.high_water, message.id)
        lane.take(batch)
        if full:
            lane.reorder()
        # what settled before this read began cannot have been seen pending by it, nor by any later read
        lane.settled = {key: seq for key, seq in lane.settled.items() if seq > began}

    def _dispatch(self, name: str, lane: Lane) -> None:
        """Start a send for every recipient that may have its next message now, replies first (the rate: ``slot``)."""
        if time.monotonic() < lane.paused_until:
            return
        for recipient, urgent in lane.due(time.monotonic()):
            message = lane.pop(recipient)
            lane.busy.add(recipient)
            lane.started(asyncio.create_task(self._send(name, lane, message, urgent)), urgent=urgent)

    async def _send(self, name: str, lane: Lane, message: OutboxMessage, urgent: bool) -> None:
        try:
            await self.deliver(name, lane.channel, message, lane, urgent=urgent)
        except Exception:  # a delivery must never kill the loop; the message stays pending
            log.exception("delivery of outbox message %s on %s failed", message.id, name)
            self._settle(lane, [message.id])
            self._forget(lane, message.recipient)
        finally:
            lane.busy.discard(message.recipient)
            lane.ready_at[message.recipient] = time.monotonic() + lane.pace.per_recipient_interval
            self._progress.set()

    # --- one message

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
        restored = self._restored[name]
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
        if outcome.status == "reauth" and self._restored[name] != restored:
            # refused with the credentials held when it left; new ones were stored meanwhile: again, now
            outcome = Delivery("retry_later", retry_after=0.0, error=outcome.error)
        if lane is not None:  # the platform answered: the pause it asks for holds at once, and the place is free
            if outcome.retry_after is not None:
                lane.paused_until = max(lane.paused_until, time.monotonic() + outcome.retry_after)
            if outcome.status == "reauth":
                lane.paused_until = time.monotonic() + REAUTH_HOLD_SECONDS
            lane.answered(asyncio.current_task())
            self._progress.set()
        inbox = isinstance(channel, ConsoleInbox)  # kept unread for the shell, not sent (nor forgotten) yet

        now = services.clock()

        async def record(uow: UnitOfWork) -> None:
            if outcome.status == "delivered" and inbox:
                await uow.console_inbox.keep(message, now)
            elif outcome.status == "delivered":
                first = message.invitation_id not in self._delivered_invitations
                await uow.outbox.mark_sent(message, now, outcome.platform_message_id, first=first)
            elif outcome.status == "retry_later":
                retry_at = now + timedelta(seconds=self._backoff(message, outcome))
                # the platform's "slow down" (retry_after) is pacing, not a failure: the backoff stays short
                await uow.outbox.hold_recipient(message, outcome.error, retry_at, failed=outcome.retry_after is None)
            elif outcome.status == "reauth":  # our credentials, not the message: it waits, never lost
                retry_at = now + timedelta(seconds=REAUTH_HOLD_SECONDS)
                await uow.outbox.hold_recipient(message, outcome.error, retry_at, failed=False)
            elif outcome.status == "failed":
                await uow.outbox.mark(message.id, "failed", outcome.error)
            else:
                await self._give_up(uow, name, message, outcome, now)
            if reply.forget and outcome.status not in ("retry_later", "reauth") and not inbox:
                await uow.erasure.forget_message(message.id)  # the last word to an erased chat: nothing kept

        await self.outcomes.commit(record)
        # only now, with the outcome committed, may this process forget what it held
        if self.on_outcome is not None:
            self.on_outcome(name, outcome)
        if outcome.status == "delivered":
            self.sent += 1
            if message.invitation_id is not None:  # its later questions need not mark it delivered again
                if len(self._delivered_invitations) >= DELIVERED_KEPT:
                    self._delivered_invitations.clear()
                self._delivered_invitations.add(message.invitation_id)
        elif outcome.status == "failed":
            log.error("outbox message %s on %s refused by the platform: %s", message.id, name, outcome.error)
        elif outcome.status == "reauth":
            log.error("%s refused our credentials; delivery paused: %s", name, outcome.error)
        if lane is not None:
            self._settle(lane, [message.id])
            if outcome.status == "delivered" and reply.thread and outcome.platform_message_id:
                lane.threads[(message.recipient, reply.thread)] = outcome.platform_message_id
            if outcome.status not in ("delivered", "failed"):
                self._forget(lane, message.recipient)  # its later messages wait (retry) or were dropped
        return outcome

    @staticmethod
    def _backoff(message: OutboxMessage, outcome: Delivery) -> float:
        if outcome.retry_after is not None:
            return outcome.retry_after
        return BACKOFF_SECONDS[min(message.attempts, len(BACKOFF_SECONDS) - 1)]

    @staticmethod
    def _settle(lane: Lane, ids: list[int]) -> None:
        lane.sequence += 1
        for message_id in ids:
            lane.known.discard(message_id)
            lane.settled[message_id] = lane.sequence

    def _forget(self, lane: Lane, recipient: str) -> None:
        """Drop the recipient's queued messages from memory (the table says when they go, if ever)."""
        self._settle(lane, lane.forget(recipient))

    @staticmethod
    async def _give_up(uow: UnitOfWork, name: str, message: OutboxMessage, outcome: Delivery, now: datetime) -> None:
        await uow.outbox.mark(message.id, outcome.status, outcome.error)
        if outcome.status in ("unreachable", "window_closed"):
            chat = await uow.chats.get(name, message.recipient)
            if chat is not None:
                await uow.chats.update(chat.id, now, status=outcome.status)
                log.warning("chat %s on %s is %s", chat.id, name, outcome.status)
            await uow.outbox.cancel_for_recipient(name, message.recipient)
            if message.invitation_id is not None:  # offered on the next channel, if the person has one
                await uow.invitations.undeliverable(message.invitation_id, name, now)

    # --- for the terminal and tests: everything ready now, in order, without pacing

    async def deliver_pending(self, channel: str, limit: int = 100, recipient: str | None = None) -> int:
        """Send what is ready on ``channel`` (to ``recipient`` only, if given), one by one; the number delivered."""
        services, adapter = self.services, self.channels[channel]
        async with services.uow(read_only=True) as uow:
            batch = await uow.outbox.pending(channel, services.clock(), limit, recipient)
        delivered, held = 0, set()
        for message in batch:
            if message.recipient in held:
                continue
            outcome = await self.deliver(channel, adapter, message)
            if outcome.status == "delivered":
                delivered += 1
            elif outcome.status == "reauth":
                break  # the channel's credentials were refused: nothing more goes with them
            else:
                held.add(message.recipient)
        return delivered
