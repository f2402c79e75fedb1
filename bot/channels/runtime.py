"""What the service and the outbox hold of a channel, and the one retry loop every channel's waits go through.

Every channel (Telegram, Zalo OA, ZNS, the Zalo Bot platform, the console) is a ``ChannelRuntime``: started,
stopped, asked to send, asked how it is. A channel's own loops (a poller, the token keeper, the inbox drain)
wait between failures with a ``Retry``: a wait that doubles from ``first`` up to ``cap`` seconds, on the
injected clock, so a test moves the clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from bot.channels.base import Channel
from handlers.clock import Clock, SystemClock

OK = "ok"  # what ``health`` says of a channel that has nothing to report


class ChannelRuntime(Channel, Protocol):
    """A channel as the service runs it: start, stop, send (``Channel.send``) and health."""

    async def start(self) -> None:
        """Connect to the platform (check the token, register the webhook); raises while it cannot be reached."""
        ...

    async def stop(self) -> None:
        """Release what the channel holds (its HTTP clients)."""
        ...

    def health(self) -> str:
        """What ``/healthz`` shows of the channel once it has started: ``ok``, or what is wrong."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Seconds between two tries: ``first``, doubling after each failure, at most ``cap``."""

    first: float = 5.0
    cap: float = 300.0

    def wait(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1, 2, …)."""
        return float(min(self.cap, self.first * 2 ** min(max(0, failures - 1), 32)))


POLLING = Backoff(1.0, 30.0)  # a poller's or a drain's wait after a failure: 1, 2, 4 … 30 s


class Retry:
    """The failures in a row of one loop, and its wait after each on ``clock`` (cut short by ``stop``)."""

    def __init__(self, clock: Clock | None = None, backoff: Backoff = POLLING) -> None:
        self.clock = clock or SystemClock()
        self.backoff = backoff
        self.failures = 0

    def succeeded(self) -> None:
        """The loop went well: the next failure waits ``first`` again."""
        self.failures = 0

    def failed(self) -> float:
        """Count one more failure; the seconds to wait before the next try."""
        self.failures += 1
        return self.backoff.wait(self.failures)

    async def pause(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait ``seconds`` of the clock, or less if ``stop`` is set meanwhile."""
        await self.clock.wait(stop, seconds)

    async def after_failure(self, stop: asyncio.Event) -> None:
        """Count a failure and wait the back-off it earns."""
        await self.pause(stop, self.failed())
