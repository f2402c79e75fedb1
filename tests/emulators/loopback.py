"""What every emulator shares: an HTTP server on 127.0.0.1, its webhook client, and waiting on a changed state.

The Telegram, Zalo Bot and Zalo OA (with ZNS) emulators differ in the platform they play, not in how they listen,
push or let a test wait; that plumbing lives here once, so a fix to it reaches all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, Self, TypeVar

import aiohttp
from aiohttp import web

M = TypeVar("M")
RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def wait_on(
    condition: asyncio.Condition,
    check: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109 - a deadline for a condition, not for an I/O call
    describe: Callable[[], str],
) -> None:
    """Wait until ``check()`` holds, re-checked whenever ``condition`` is notified.

    A check raising LookupError counts as "not yet"; TimeoutError (with ``describe()``) when ``timeout`` runs out.
    """

    def holds() -> bool:
        try:
            return check()
        except LookupError:
            return False

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with condition:
        while not holds():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s; {describe()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(condition.wait(), remaining)


async def notify_all(condition: asyncio.Condition) -> None:
    """Wake every waiter on ``condition``."""
    async with condition:
        condition.notify_all()


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``127.0.0.1:port`` (0: a free one): its runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    await web.SockSite(runner, sock).start()
    return runner, int(sock.getsockname()[1])


class WebhookReceiver:
    """Our server's stand-in in an emulator's own tests: ``PATH`` on 127.0.0.1, answered by ``_hook``."""

    PATH = "/webhook"

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post(self.PATH, self._hook)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}{self.PATH}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


class Push:
    """One webhook push and how our server answered it (subclasses are dataclasses with these fields)."""

    status: int | None  # the HTTP status our server answered; None on a connection error or timeout
    error: str | None
    at: float  # time.monotonic()

    @property
    def ok(self) -> bool:
        """Whether our server answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


class Watched(Generic[M]):
    """Someone on the platform's side (a person, a phone) who receives messages ``M`` and whom a test waits on.

    The emulator appends to ``_messages`` and calls ``_notify`` whenever that view changes; ``_who`` names this one
    and ``_line`` shows one message, for the errors of ``last`` and of a wait that times out.
    """

    def __init__(self) -> None:
        self._messages: list[M] = []
        self._changed = asyncio.Condition()

    @property
    def messages(self) -> list[M]:
        """The messages received, oldest first."""
        return list(self._messages)

    @property
    def last(self) -> M:
        """The latest message; LookupError when there is none (``wait_for`` treats that as "not yet")."""
        shown = self.messages
        if not shown:
            raise LookupError(f"nothing was sent to {self._who()}")
        return shown[-1]

    async def wait_for(
        self,
        predicate: Callable[[Self], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the documented test API
    ) -> None:
        """Wait until ``predicate(self)`` holds, re-checked after every call that changes what this one sees.

        A predicate raising LookupError (``.last`` before any message, an IndexError) counts as "not yet".
        Raises TimeoutError describing what was seen when ``timeout`` seconds pass first.
        """
        await wait_on(self._changed, lambda: predicate(self), timeout, self._describe)

    def _who(self) -> str:
        raise NotImplementedError

    def _line(self, message: M) -> str:
        raise NotImplementedError

    def _describe(self) -> str:
        shown = self.messages
        return "\n".join([f"{self._who()}: {len(shown)} message(s)", *(f"  {self._line(m)}" for m in shown[-5:])])

    async def _notify(self) -> None:
        await notify_all(self._changed)


class LoopbackServer:
    """An emulator's HTTP side on ``127.0.0.1:<port>`` (0: a free one), with a client session for its pushes.

    A subclass names its routes in ``_served`` (``MAX_BODY``: the largest request body it takes), may release
    waiters in ``_stopping``, and says what its state is in ``_summary`` (for a ``wait_for`` that times out).
    """

    PUSH_REFUSED = "our server answered {status} {reason}"  # a webhook push answered non-2xx
    PUSH_FAILED = "connection failed: {kind}: {error}"  # a webhook push that got no answer
    webhook_timeout: float = 5.0
    waiting_polls: int = 0  # long polls waiting for an update right now

    def __init__(self, port: int = 0) -> None:
        self._wanted_port = port
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._state_changed = asyncio.Condition()

    MAX_BODY = 1024**2  # aiohttp's default

    def _served(self) -> list[tuple[str, RequestHandler]]:
        """The (path, handler) pairs served, for every HTTP method."""
        raise NotImplementedError

    async def _stopping(self) -> None:
        """Called first by ``stop``: release what waits on the emulator."""

    def _summary(self) -> str:
        raise NotImplementedError

    async def start(self) -> Self:
        """Listen on 127.0.0.1 (the port given, or a free one); returns self."""
        self._closing = False
        app = web.Application(client_max_size=self.MAX_BODY)
        for path, handler in self._served():
            app.router.add_route("*", path, handler)
        self._runner, self._port = await serve(app, self._wanted_port)
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        """Stop serving (after ``_stopping``) and close the push client."""
        self._closing = True
        await self._stopping()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port (after ``start``)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    async def wait_for(
        self,
        predicate: Callable[[Self], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the documented test API
    ) -> None:
        """Wait until ``predicate(emulator)`` holds, re-checked after every API call, update and push."""
        await wait_on(self._state_changed, lambda: predicate(self), timeout, self._summary)

    @contextlib.asynccontextmanager
    async def _long_poll(self, changed: asyncio.Condition) -> AsyncIterator[Callable[[float], Awaitable[None]]]:
        """Hold ``changed`` for one long poll; the step it gives waits up to ``remaining`` seconds for a change.

        While the poll waits it counts in ``waiting_polls`` (the first wait also wakes ``wait_for``).
        """
        waiting = False

        async def step(remaining: float) -> None:
            nonlocal waiting
            if not waiting:
                waiting = True
                self.waiting_polls += 1
                await self._notify_state()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

        async with changed:
            try:
                yield step
            finally:
                if waiting:
                    self.waiting_polls -= 1

    async def _notify_state(self) -> None:
        await notify_all(self._state_changed)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """Push ``body`` to our server: the HTTP status (None: no answer) and why it failed (None: a 2xx)."""
        if self._session is None:
            return None, "the emulator is stopped"
        try:
            timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
            async with self._session.post(url, data=body, headers=headers, timeout=timeout) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return response.status, self.PUSH_REFUSED.format(status=response.status, reason=response.reason)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, self.PUSH_FAILED.format(kind=type(exc).__name__, error=exc)
