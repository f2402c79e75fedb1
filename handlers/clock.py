"""Time as the service sees it: the wall clock, the clock that paces and backs off, and waiting on them.

Everything that waits (the outbox's pace and back-off, the scheduler, a channel's retry) asks the one
clock given to the services instead of ``time`` and ``asyncio`` directly, so a test moves that clock and
what was due runs at once, instead of the test sleeping until it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "as_clock", "utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@runtime_checkable
class Clock(Protocol):
    """What time it is (calling the clock: the wall time, UTC), the seconds that pace, and waiting for them."""

    def __call__(self) -> datetime:
        """Now: the wall time, timezone-aware UTC (what is stored and shown)."""
        ...

    def monotonic(self) -> float:
        """Seconds that only go forward: what pacing, back-off and leases count in."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock."""
        ...

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` of this clock passed; whether the event was set."""
        ...


class SystemClock:
    """The real clock: the wall time from ``now`` (the system's unless given), the system's monotonic seconds."""

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now

    def __call__(self) -> datetime:
        """Now, from the wall clock given."""
        return self._now()

    def monotonic(self) -> float:
        """The system's monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep in real time."""
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait for ``event`` at most ``seconds`` in real time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds)
        return event.is_set()


def as_clock(clock: Clock | Callable[[], datetime]) -> Clock:
    """``clock`` if it is a whole clock; a plain function giving the wall time paces in real time."""
    return clock if isinstance(clock, Clock) else SystemClock(clock)


class ManualClock(SystemClock):
    """A clock a test moves by hand: the wall time stands still until set or moved, the seconds run and jump.

    ``now`` is the wall time (a test may set it directly, which moves nothing else). The monotonic seconds run
    with the real ones, so short paces keep their meaning, and ``advance`` makes them jump too: whatever waited
    for a moment that has now come (a back-off, a pause, the next look at the outbox table) goes at once,
    instead of the test sleeping until it would.
    """

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now
        self._ahead = 0.0  # seconds moved by hand, beyond the real ones
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> datetime:
        """The wall time the test set or moved to."""
        return self.now

    def monotonic(self) -> float:
        """The real monotonic seconds, plus those the clock was moved by."""
        return time.monotonic() + self._ahead

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by ``timedelta(**delta)`` and wake what became due; the new wall time."""
        step = timedelta(**delta)
        self.now += step
        self._ahead += max(0.0, step.total_seconds())
        now = self.monotonic()
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, woken = heapq.heappop(self._sleepers)
            if not woken.done():
                woken.set_result(None)
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock: in real time, or less when the clock is moved past their end."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        if len(self._sleepers) > 4096:  # those that woke in real time: forgotten now and then
            self._sleepers = [entry for entry in self._sleepers if not entry[2].done()]
            heapq.heapify(self._sleepers)
        heapq.heappush(self._sleepers, (self.monotonic() + seconds, next(self._order), woken))
        timer = loop.call_later(seconds, lambda: None if woken.done() else woken.set_result(None))
        try:
            await woken
        finally:
            timer.cancel()

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait for ``event``, or ``seconds`` of this clock."""
        if event.is_set():
            return True
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.sleep(seconds))]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return event.is_set()
