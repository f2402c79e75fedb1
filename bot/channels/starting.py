"""Starting one channel whatever the network: tried in the background, again with back-off, never fatal.

`sipasbot run` serves the API, the webhooks and the public page at once; each configured channel is started
beside it by a ``ChannelStart``. A platform that cannot be reached (a name that does not resolve, a refused
connection, a timeout, a 5xx) is tried again after a wait that doubles from ``first`` up to ``cap`` seconds; a
token the platform refuses leaves the channel stopped, said in one log line that names the setting and never
the token. ``state`` is what ``/healthz`` shows for the channel meanwhile. Until a channel has started, what
is queued for it stays pending in the outbox; delivery and polling on it begin once ``started`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from bot.channels.runtime import Backoff
from bot.texts import say
from handlers.clock import Clock, SystemClock

log = logging.getLogger(__name__)

OK = "ok"
STARTING = "starting"
CONNECTING = "connecting"
TOKEN_REFUSED = "token refused"  # noqa: S105 - a state, not a secret
DESCRIPTION_LIMIT = 200  # characters of a failure's text in the log line


class CredentialsRefused(Exception):
    """The platform refused the channel's token at start: only a corrected setting helps.

    The message names the setting (never its value) and is the operator's line in the log.
    """


def describe(error: BaseException) -> str:
    """A failure in a few words for the log: its kind and its first line."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class ChannelStart:
    """Starts one channel (``start``) until it is up, the platform refuses its token, or the service stops."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[None]],
        backoff: Backoff | None = None,
        *,
        on_started: Callable[[], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self._start = start
        self.backoff = backoff or Backoff()
        self.on_started = on_started
        self.clock = clock or SystemClock()  # the retry's wait, and the seconds /healthz shows until it
        self.started = asyncio.Event()  # set once the channel is up: deliver and poll from then on
        self.tried = asyncio.Event()  # set once the first attempt is over, whatever its outcome
        self.refused = False
        self.failures = 0
        self._retry_at: float | None = None  # when the next attempt is due, while waiting for it

    @property
    def state(self) -> str:
        """What ``/healthz`` shows: ``ok``, ``starting``, ``connecting (retry in N s)`` or ``token refused``."""
        if self.started.is_set():
            return OK
        if self.refused:
            return TOKEN_REFUSED
        if self._retry_at is not None:
            return f"{CONNECTING} (retry in {max(0, math.ceil(self._retry_at - self.clock.monotonic()))} s)"
        return CONNECTING if self.failures else STARTING

    async def run(self, stop: asyncio.Event) -> None:
        """Try until started, refused, or ``stop``; each failure logged once, with the wait before the next try."""
        while not stop.is_set():
            try:
                await self._start()
            except CredentialsRefused as refused:
                self.refused = True
                log.error("%s %s", refused, say("cli.run.channel_stopped"))
                self.tried.set()
                return
            except Exception as error:  # noqa: BLE001 - whatever stops one channel must not stop the service
                self.failures += 1
                wait = self.backoff.wait(self.failures)
                self._retry_at = self.clock.monotonic() + wait
                log.warning(
                    "%s cannot start (%s); trying again in %s s, the rest of the service runs meanwhile",
                    self.name,
                    describe(error),
                    f"{wait:g}",
                )
                self.tried.set()
                await self.clock.wait(stop, wait)
                self._retry_at = None
                continue
            if self.failures:
                log.warning("%s started after %d failed attempts", self.name, self.failures)
            if self.on_started is not None:
                self.on_started()
            self.started.set()
            self.tried.set()
            return

    async def wait_started(self, stop: asyncio.Event) -> bool:
        """Wait until the channel is up (True) or ``stop`` is set first (False)."""
        if self.started.is_set():
            return True
        waiters = [asyncio.ensure_future(self.started.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self.started.is_set()
