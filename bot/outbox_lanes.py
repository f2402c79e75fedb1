"""Replies before bulk: one channel's queue in the delivering process, and which send goes next.

A reply to what a person just did (an answer, a command, a staff reply to their complaint: *interactive*
messages, ``OutboxMessage.interactive``) must not wait behind the morning's thousands of invitations,
reminders and digests (the *bulk*), which the channel's cap stretches over minutes. Within the channel's
caps, which stay exactly as they are (overall per second, per chat, the pause after a 429):

1. Reading: the pending replies are looked at on every wake-up, whatever the bulk held in memory
   (``BATCH``), with every earlier pending message of their recipients, so each recipient's messages still
   leave in id order: a reply never overtakes that recipient's earlier invitation.
2. Dispatch: recipients with a reply queued are served first; what they have queued before the reply goes
   with the same urgency (it stands in the reply's way).
3. In flight: urgent sends have ``Pace.reply_in_flight`` places of their own, beside the bulk's ``in_flight``:
   bulk sends waiting for the rate never take a reply's place, nor replies the bulk's (whose share, rule 4,
   needs sends waiting for it).
4. Rate: a slot that frees goes to a waiting urgent send before any bulk one, except that the bulk always
   keeps ``BULK_SHARE`` of the cap within any one-second window (a quarter: 7 of Telegram's 30/s). However
   many people answer at once, the bulk goes on at a quarter of the cap or more; when nobody does, it has it all.

See docs/CHANNELS.md, "Replies before bulk".
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from bot.channels.base import Channel
from handlers.clock import Clock, SystemClock
from storage.uow import UnitOfWork
from storage.values import OutboxMessage

BATCH = 1000  # bulk messages held in memory per channel (the replies come on top, up to as many)
BULK_SHARE = 0.25  # of each one-second window's slots, kept for the bulk while replies wait


@dataclass(frozen=True)
class Pace:
    """How fast a channel may send: overall per second, and seconds between two messages to one chat."""

    per_second: float = 30.0
    per_recipient_interval: float = 1.0
    in_flight: int = 16
    # seconds added to the one-second window: the window already runs from each send's *completion*, which
    # is after the platform received it, so only float rounding needs absorbing; more would waste capacity
    window_margin: float = 0.002
    reply_in_flight: int = 8  # places for urgent sends beside the bulk's ``in_flight`` (bot/outbox_lanes.py)


@dataclass
class Lane:
    """One channel's queue: per-recipient FIFOs and the pacer's state (in the seconds of ``clock``)."""

    channel: Channel
    pace: Pace
    clock: Clock = field(default_factory=SystemClock)
    queues: dict[str, deque[OutboxMessage]] = field(default_factory=dict)
    known: set[int] = field(default_factory=set)
    # messages that left the queue (sent, dropped, held back) by the sequence number of that event:
    # a refill whose read began before that event may still see them pending and must skip them
    settled: dict[int, int] = field(default_factory=dict)
    sequence: int = 0
    high_water: int = 0  # the highest id the bulk read ever read: a wake-up only needs what came after it
    threads: dict[tuple[str, str], str] = field(default_factory=dict)  # (recipient, thread) -> last message id
    busy: set[str] = field(default_factory=set)
    ready_at: dict[str, float] = field(default_factory=dict)
    completions: deque[float] = field(default_factory=deque)  # when recent sends completed (the rate window)
    sending: int = 0  # sends that have taken a slot and not completed
    last_start: float = 0.0
    slot_freed: asyncio.Event = field(default_factory=asyncio.Event)  # also set when a pause is lifted
    waiting: set[asyncio.Task[object]] = field(default_factory=set)  # sends waiting for a slot: none sent yet
    paused_until: float = 0.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    urgent: dict[str, None] = field(default_factory=dict)  # recipients with a reply queued, in arrival order
    urgent_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    recording: set[asyncio.Task[object]] = field(default_factory=set)  # answered sends whose outcome commits
    urgent_waiting: int = 0  # urgent sends waiting for a rate slot
    bulk_starts: deque[float] = field(default_factory=deque)  # when bulk sends took a slot (the last window)

    # --- what is held

    async def read_replies(self, uow: UnitOfWork, name: str, now: datetime) -> None:
        """Take the replies ready on the channel that this process does not hold yet, with what is before them.

        Every pending reply is looked at (a few, by their own index, whatever their id), and with a new one
        every earlier pending message of its recipient.
        """
        replies = await uow.outbox.pending_replies(name, now, BATCH)
        fresh = {recipient for id_, recipient in replies if id_ not in self.known and id_ not in self.settled}
        if fresh:
            self.take(await uow.outbox.pending_of(name, now, fresh, 2 * BATCH))

    def take(self, messages: Iterable[OutboxMessage]) -> None:
        """Hold ``messages`` (those neither held nor settled already), each recipient's in id order."""
        unordered: set[str] = set()
        for message in messages:
            if message.id in self.known or message.id in self.settled:
                continue
            self.known.add(message.id)
            queue = self.queues.setdefault(message.recipient, deque())
            if queue and queue[-1].id > message.id:
                unordered.add(message.recipient)
            queue.append(message)
            if message.interactive:
                self.urgent[message.recipient] = None
        for recipient in unordered:
            self.queues[recipient] = deque(sorted(self.queues[recipient], key=lambda m: m.id))

    def reorder(self) -> None:
        """Keep every queue in id order (a retried message may sit before newer ones of its recipient)."""
        for recipient, queue in self.queues.items():
            self.queues[recipient] = deque(sorted(queue, key=lambda m: m.id))

    def settle(self, ids: list[int]) -> None:
        """These messages left the queue (sent, dropped, held back): a refill that began before must skip them."""
        self.sequence += 1
        for message_id in ids:
            self.known.discard(message_id)
            self.settled[message_id] = self.sequence

    def forget(self, recipient: str) -> list[int]:
        """Drop the recipient's queued messages from memory; their ids."""
        self.urgent.pop(recipient, None)
        return [queued.id for queued in self.queues.pop(recipient, deque())]

    # --- who goes next

    def _urgent_room(self) -> bool:
        return len(self.urgent_tasks) < self.pace.reply_in_flight

    def _bulk_room(self) -> bool:
        return len(self.tasks) - len(self.urgent_tasks) < self.pace.in_flight

    def due(self, now: float) -> Iterator[tuple[str, bool]]:
        """The recipients whose next message may start now, those with a reply queued first: (recipient, urgent).

        The in-flight places are counted anew at each step (the caller starts each send before the next).
        """
        for recipient in list(self.urgent):
            if not self._urgent_room():
                break
            if recipient not in self.busy and self.ready_at.get(recipient, 0.0) <= now:
                yield recipient, True
        for recipient in list(self.queues):
            if not self._bulk_room():
                return
            if recipient not in self.urgent and recipient not in self.busy and self.ready_at.get(recipient, 0.0) <= now:
                yield recipient, False

    def next_start(self) -> float | None:
        """When the earliest recipient that has room in flight may have its next message (None: none may)."""
        # with no room in flight, nothing can start before a send finishes, and that wakes the loop anyway
        bulk = [r for r in self.queues if r not in self.urgent] if self._bulk_room() else []
        urgent = list(self.urgent) if self._urgent_room() else []
        ready = [self.ready_at.get(r, 0.0) for r in (*urgent, *bulk) if r not in self.busy]
        return max(self.paused_until, min(ready)) if ready else None

    def pop(self, recipient: str) -> OutboxMessage:
        """The recipient's next message, taken from its queue."""
        queue = self.queues[recipient]
        message = queue.popleft()
        if not queue:
            del self.queues[recipient]
        if recipient in self.urgent and not any(m.interactive for m in queue):
            del self.urgent[recipient]
        return message

    def started(self, task: asyncio.Task[None], *, urgent: bool) -> None:
        """Count a send that began (its place in flight is given back once the platform answered it)."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if urgent:
            self.urgent_tasks.add(task)
            task.add_done_callback(self.urgent_tasks.discard)

    def answered(self, task: asyncio.Task[object] | None) -> None:
        """The platform answered ``task``'s send: its place in flight is free for the next send.

        Its outcome is still being committed: its recipient stays busy (nothing more goes to that chat before
        the commit), and stopping still waits for it (``recording``).
        """
        if task is not None and task in self.tasks:
            self.tasks.discard(task)
            self.urgent_tasks.discard(task)
            self.recording.add(task)
            task.add_done_callback(self.recording.discard)

    # --- the rate

    async def slot(self, *, urgent: bool) -> None:
        """Wait until a send cannot make the platform see more than its cap within any one second.

        A request reaches the platform somewhere between its start and its completion. So a send may
        start when the sends that completed within the last second, plus those still under way, are
        fewer than the cap: however the network delays or bunches requests, no one-second window
        at the platform can then hold more. Starts are also never closer than half the pace. Of the
        sends waiting, urgent ones take a slot first, but for the bulk's share (the module's rule 4).
        """
        pace = self.pace
        limit = max(1, int(pace.per_second))
        window = limit / pace.per_second + pace.window_margin
        share = max(1, int(limit * BULK_SHARE))
        task = asyncio.current_task()
        if task is not None:
            self.waiting.add(task)
        self.urgent_waiting += urgent
        try:
            while True:
                now = self.clock.monotonic()
                while self.completions and self.completions[0] <= now - window:
                    self.completions.popleft()
                while self.bulk_starts and self.bulk_starts[0] <= now - window:
                    self.bulk_starts.popleft()
                start = max(now, self.last_start + 0.5 / pace.per_second, self.paused_until)
                free = len(self.completions) + self.sending < limit
                held_back = not urgent and self.urgent_waiting > 0 and len(self.bulk_starts) >= share
                if free and not held_back:
                    if start <= now:
                        self.sending += 1  # taken before any await: slots never overlap
                        self.last_start = now
                        if not urgent:
                            self.bulk_starts.append(now)
                        return
                    wake = start - now  # the pace, or a pause that a resume may lift before its end
                elif free:  # a reply waits: until the bulk's share frees, or no reply waits (the event)
                    wake = max(start - now, self.bulk_starts[0] + window - now)
                else:
                    wake = self.completions[0] + window - now if self.completions else 1.0
                self.slot_freed.clear()
                await self.clock.wait(self.slot_freed, max(0.001, wake))
        finally:
            if task is not None:
                self.waiting.discard(task)
            if urgent:
                self.urgent_waiting -= 1
                if not self.urgent_waiting:
                    self.slot_freed.set()  # bulk sends held back for the replies may go

    def slot_done(self) -> None:
        """A send that held a slot completed."""
        self.sending -= 1
        self.completions.append(self.clock.monotonic())
        self.slot_freed.set()
