"""`sipasbot run`: the web server, every configured channel, delivery and the scheduler, started in order."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from bot.channels.runtime import ChannelRuntime
from bot.channels.starting import ChannelStart
from bot.logs import remember_join_code
from bot.outbox import Outbox
from bot.service_channels import ServiceChannels
from bot.service_work import CONSOLE_PACE, LANES, LeadWork
from bot.web.api import setup_api
from bot.web.limits import setup_limits
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.messages import Inbound, Outcome

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0

__all__ = ["CONSOLE_PACE", "HEARTBEAT_SECONDS", "LANES", "Service"]


class Service:
    """Everything `sipasbot run` starts, stopped in reverse order."""

    def __init__(self, app: App, instance: str | None = None, role: str = "all") -> None:
        self.app = app
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.role = role  # "all": web, and delivery and scheduling when holding the lock; "web": web only
        self.leading = asyncio.Event()  # set while this instance delivers and schedules
        self.handle = app.metrics.counted(_masking_codes(app.citizens.handle))  # every channel's inbound, counted
        app.holding = self.leading.is_set
        self.started_at = app.services.clock()
        self.net = ServiceChannels(app, self.handle)
        self.work = LeadWork(app, self.instance, self.net, self.leading, self._beat)
        self.ready = asyncio.Event()
        self.port: int | None = None

    @property
    def channels(self) -> dict[str, ChannelRuntime]:
        """The configured channels, by name."""
        return self.net.channels

    @property
    def starts(self) -> dict[str, ChannelStart]:
        """The configured channels' starts, by name."""
        return self.net.starts

    @property
    def outbox(self) -> Outbox | None:
        """Delivery, while this instance leads."""
        return self.work.outbox

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: the web server always; delivery and scheduling while holding the lock.

        The web server (API, webhooks, public page) serves at once; each channel starts beside it, tried again
        with back-off while its platform cannot be reached (``bot.channels.starting``), and one whose token is
        refused stays stopped. Delivery and polling on a channel begin once it has started.
        """
        app, settings = self.app, self.app.settings
        await app.start()
        parts: list[Callable[[web.Application], None]] = [setup_limits, setup_api, setup_pages, *self.net.build()]
        runner = web.AppRunner(build_web_app(app, parts), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        starting: list[asyncio.Task[None]] = []
        try:
            await site.start()  # webhook mode registers our URL when its channel starts: the server is up first
            self.port = runner.addresses[0][1] if runner.addresses else settings.http_port
            starting = [
                asyncio.create_task(start.run(stop), name=f"start-{name}") for name, start in self.starts.items()
            ]
            log.info(
                "SIPAS Bot is running on %s:%s as %s (channels: %s)",
                settings.http_host,
                self.port,
                self.role,
                ", ".join(self.channels) or "none",
            )
            app.channel_states["delivery"] = lambda: (
                "web only" if self.role == "web" else "this instance" if self.leading.is_set() else "standby"
            )
            app.heartbeat_seconds = HEARTBEAT_SECONDS
            await self._beat()
            beating = asyncio.create_task(self._heartbeat(stop), name="heartbeat")
            working = asyncio.create_task(stop.wait() if self.role == "web" else self.work.lead(stop), name="work")
            try:
                # ready: every channel has had its first try (started, refused, or waiting to try again)
                tried = asyncio.create_task(self._tried(), name="first-tries")
                await asyncio.wait([tried, working], return_when=asyncio.FIRST_COMPLETED)
                tried.cancel()
                self.ready.set()
                await working
            finally:
                working.cancel()
                beating.cancel()
                await asyncio.gather(working, beating, return_exceptions=True)
                await self._gone()
        finally:
            for task in starting:
                task.cancel()  # a channel still trying to start: given up at once
            await asyncio.gather(*starting, return_exceptions=True)
            await runner.cleanup()  # no more webhooks
            await self.net.stop()
            await app.close()

    async def _tried(self) -> None:
        """Until every channel has had its first try (started, refused, or waiting to try again)."""
        for start in self.starts.values():
            await start.tried.wait()

    async def _beat(self) -> None:
        services = self.app.services
        try:
            async with services.uow() as uow:
                now = services.clock()
                await uow.instances.beat(self.instance, self.role, self.leading.is_set(), self.started_at, now)
                await uow.instances.forget_before(now - timedelta(days=1))
                await uow.commit()
        except (SQLAlchemyError, OSError) as error:  # the database is down: /healthz says so
            log.warning("heartbeat not recorded: %s", type(error).__name__)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.app.services.clock.wait(stop, HEARTBEAT_SECONDS)
            await self._beat()

    async def _gone(self) -> None:
        services = self.app.services
        try:
            async with services.uow() as uow:
                await uow.instances.gone(self.instance)
                await uow.commit()
        except (SQLAlchemyError, OSError):
            log.warning("could not record this instance's stop")


def _masking_codes(handle: Callable[[Inbound], Awaitable[Outcome]]) -> Callable[[Inbound], Awaitable[Outcome]]:
    """``handle``, after remembering the invite code a ``/join`` carries: no log line shows it."""

    async def handled(inbound: Inbound) -> Outcome:
        remember_join_code(inbound.text)
        return await handle(inbound)

    return handled
