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
import logging
from collections.abc import Callable
from typing import Any

from bot.channels.base import Channel, Delivery
from bot.outbox_lanes import BATCH, Lane, Pace
from bot.outbox_outcomes import BACKOFF_SECONDS, GIVE_UP, REAUTH_HOLD_SECONDS
from bot.outbox_sends import DELIVERED_KEPT, Sender
from handlers.context import Services
from storage.values import OutboxMessage

log = logging.getLogger(__name__)

REFILL_SECONDS = 1.0
# commits arriving in a burst are read together: under load the table is read at most every 50 ms (each read
# costs the database as much as an answer does); a lone commit after a quiet spell is read at once
COALESCE_SECONDS = 0.05

__all__ = ["BACKOFF_SECONDS", "BATCH", "DELIVERED_KEPT", "GIVE_UP", "REAUTH_HOLD_SECONDS", "Outbox", "Pace"]


class Outbox:
    """Drains the outbox table through the configured channels (the pace and the waits: the services' clock)."""

    def __init__(
        self,
        services: Services,
        channels: dict[str, Channel],
        paces: dict[str, Pace] | None = None,
        wakeup: asyncio.Event | None = None,
        on_outcome: Callable[[str, Delivery], None] | None = None,
    ) -> None:
        self.services = services
        self.clock = services.clock
        self.channels = dict(channels)
        self.paces = paces or {}
        self.lanes = {name: self._lane(name, channel) for name, channel in channels.items()}
        self.wakeup = wakeup or asyncio.Event()  # set by commits that queued messages: read the table
        self.sender = Sender(services, on_outcome)
        self.outcomes = self.sender.outcomes

    @property
    def sent(self) -> int:
        """Messages delivered by this outbox."""
        return self.sender.sent

    def _lane(self, name: str, channel: Channel) -> Lane:
        return Lane(channel, self.paces.get(name, Pace()), self.clock)

    async def resume(self, channels: list[str]) -> None:
        """Credentials work again on ``channels``: what was held for them goes now (in order), not hours later."""
        now = self.services.clock()
        self.sender.restored.update(channels)
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
        self.lanes[name] = self._lane(name, channel)
        self.wake()

    def wake(self) -> None:
        """Look for new messages now (called after every commit that queued some)."""
        self.wakeup.set()

    # --- the long-running loop

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let the sends in flight finish."""
        refill_at = read_at = 0.0
        clock, progress = self.clock, self.sender.progress
        try:
            while not stop.is_set():
                full = clock.monotonic() >= refill_at
                woken = self.wakeup.is_set() and clock.monotonic() >= read_at + COALESCE_SECONDS
                if woken:
                    self.wakeup.clear()
                progress.clear()
                if woken or full:
                    read_at = clock.monotonic()
                    for name, lane in list(self.lanes.items()):  # a channel may join meanwhile (``add``)
                        await self._refill(name, lane, full=full)
                    if full:
                        refill_at = clock.monotonic() + REFILL_SECONDS
                for name, lane in self.lanes.items():
                    self._dispatch(name, lane)
                timeout = min(self._sleep_time(), max(0.001, refill_at - clock.monotonic()))
                if self.wakeup.is_set():  # a wake-up held back to coalesce: look again when its time comes
                    timeout = min(timeout, max(0.001, read_at + COALESCE_SECONDS - clock.monotonic()))
                await self._next_event(stop, timeout)
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

    async def _next_event(self, stop: asyncio.Event, seconds: float) -> None:
        """Until a wake-up, a send's answer, ``stop``, or ``seconds`` of the clock."""
        progress = self.sender.progress
        events = (progress, stop) if self.wakeup.is_set() else (self.wakeup, progress, stop)
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait()) for event in events]
        waiters.append(asyncio.ensure_future(self.clock.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _sleep_time(self) -> float:
        """Until the next send could start, or the next look at the table."""
        now = self.clock.monotonic()
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
        if self.clock.monotonic() < lane.paused_until:
            return
        for recipient, urgent in lane.due(self.clock.monotonic()):
            message = lane.pop(recipient)
            lane.busy.add(recipient)
            lane.started(asyncio.create_task(self._send(name, lane, message, urgent)), urgent=urgent)

    async def _send(self, name: str, lane: Lane, message: OutboxMessage, urgent: bool) -> None:
        try:
            await self.sender.deliver(name, lane.channel, message, lane, urgent=urgent)
        except Exception:  # a delivery must never kill the loop; the message stays pending
            log.exception("delivery of outbox message %s on %s failed", message.id, name)
            lane.settle([message.id])
            lane.settle(lane.forget(message.recipient))
        finally:
            lane.busy.discard(message.recipient)
            lane.ready_at[message.recipient] = self.clock.monotonic() + lane.pace.per_recipient_interval
            self.sender.progress.set()

    # --- one message, and for the terminal and tests: everything ready now, in order, without pacing

    async def deliver(
        self, name: str, channel: Channel, message: OutboxMessage, lane: Lane | None = None, *, urgent: bool = False
    ) -> Delivery:
        """Send one message and commit what became of it (``urgent``: it is, or stands before, a reply)."""
        return await self.sender.deliver(name, channel, message, lane, urgent=urgent)

    async def deliver_pending(self, channel: str, limit: int = 100, recipient: str | None = None) -> int:
        """Send what is ready on ``channel`` (to ``recipient`` only, if given), one by one; the number delivered."""
        return await self.sender.deliver_pending(channel, self.channels[channel], limit, recipient)
