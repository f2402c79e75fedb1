"""`sipasbot run`: the web server, every configured channel, delivery and the scheduler, started in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from bot.channels.base import Channel
from bot.channels.console import ConsoleInbox
from bot.channels.starting import Backoff, ChannelStart
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.channels.zalo_bot import HOLD_ENV, ZaloBotChannel, ZaloBotConfig
from bot.channels.zalo_oa import ZaloApi, ZaloOAChannel, ZaloOAConfig, ZaloTokens
from bot.channels.zns import ZnsChannel, ZnsEvents
from bot.logs import remember_join_code
from bot.outbox import Outbox, Pace
from bot.web.api import setup_api
from bot.web.limits import setup_limits
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.chat.inbox import Inbox
from handlers.messages import Inbound, Outcome
from scheduler.jobs import Jobs, build_scheduler
from storage.locks import Leadership
from storage.notify import OutboxListener

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
# the outbox lanes of each channel that must start first (ZNS sends with the Zalo OA's tokens)
LANES = {"telegram": ("telegram",), "zalo_oa": ("zalo_oa", "zns"), "zalo_bot": ("zalo_bot",)}
CONSOLE_PACE = Pace(per_second=1000.0, per_recipient_interval=0.0)  # a row in our own database: no platform's limit


class Service:
    """Everything `sipasbot run` starts, stopped in reverse order."""

    def __init__(self, app: App, instance: str | None = None, role: str = "all") -> None:
        self.app = app
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.role = role  # "all": web, and delivery and scheduling when holding the lock; "web": web only
        self.channels: dict[str, Channel] = {}
        self.starts: dict[str, ChannelStart] = {}  # the configured channels' starts, by name
        self.paces: dict[str, Pace] = {}
        self.leadership: Leadership | None = None
        self.leading = asyncio.Event()  # set while this instance delivers and schedules
        self.handle = app.metrics.counted(_masking_codes(app.citizens.handle))  # every channel's inbound, counted
        app.holding = self.leading.is_set
        self.started_at = app.services.clock()
        self.telegram: TelegramChannel | None = None
        self.outbox: Outbox | None = None
        self.zalo_oa: ZaloOAChannel | None = None
        self.zns: ZnsChannel | None = None
        self.zalo_bot: ZaloBotChannel | None = None
        self.ready = asyncio.Event()
        self.port: int | None = None

    def _telegram(self) -> TelegramChannel | None:
        settings = self.app.settings
        if settings.telegram_token is None:
            return None
        secret = settings.telegram_webhook_secret
        config = TelegramConfig(
            token=settings.telegram_token.get_secret_value(),
            api_url=settings.telegram_api_url,
            mode=settings.telegram_mode,
            webhook_secret=secret.get_secret_value() if secret else None,
            public_url=settings.public_url,
            webhook_connections=settings.telegram_webhook_connections,
        )
        return TelegramChannel(config, self.handle, self.app.load_attachment)

    def _zalo(self) -> None:
        """The Zalo OA and ZNS channels (one app, one token pair), when the app is configured."""
        settings = self.app.settings
        app_id, app_secret, secret_key = (
            settings.zalo_oa_app_id,
            settings.zalo_oa_app_secret,
            settings.zalo_oa_secret_key,
        )
        if not (app_id and app_secret and secret_key):
            return
        config = ZaloOAConfig(
            app_id=app_id,
            app_secret=app_secret.get_secret_value(),
            secret_key=secret_key.get_secret_value(),
            access_token=settings.zalo_oa_access_token.get_secret_value() if settings.zalo_oa_access_token else None,
            refresh_token=settings.zalo_oa_refresh_token.get_secret_value() if settings.zalo_oa_refresh_token else None,
            api_url=settings.zalo_oa_api_url,
            oauth_url=settings.zalo_oa_oauth_url,
            webhook_max_age=settings.zalo_oa_webhook_max_age,
        )
        api = ZaloApi(config, self.app.services)
        self.zalo_oa = ZaloOAChannel(api, self.handle, ZnsEvents(self.app.ratings))
        if settings.zns_rating_template_id or settings.zns_apology_template_id:
            self.zns = ZnsChannel(api, settings.zone, settings.zns_api_url)

    def _zalo_bot(self) -> ZaloBotChannel | None:
        settings = self.app.settings
        if settings.zalo_bot_token is None:
            return None
        secret = settings.zalo_bot_webhook_secret
        config = ZaloBotConfig(
            token=settings.zalo_bot_token.get_secret_value(),
            api_url=settings.zalo_bot_api_url,
            mode=settings.zalo_bot_mode,
            webhook_secret=secret.get_secret_value() if secret else None,
            public_url=settings.public_url,
            hold_text=os.environ.get(HOLD_ENV) or None,
        )
        return ZaloBotChannel(config, self.handle, Inbox(self.app.services, "zalo_bot"))

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: the web server always; delivery and scheduling while holding the lock.

        The web server (API, webhooks, public page) serves at once; each channel starts beside it, tried again
        with back-off while its platform cannot be reached (``bot.channels.starting``), and one whose token is
        refused stays stopped. Delivery and polling on a channel begin once it has started.
        """
        app, settings = self.app, self.app.settings
        await app.start()
        parts: list[Callable[[web.Application], None]] = [setup_limits, setup_api, setup_pages]
        self.telegram = self._telegram()
        if self.telegram is not None:
            self.paces["telegram"] = Pace(settings.telegram_rate, settings.telegram_chat_interval)
            self.channels["telegram"] = self.telegram
            parts.append(self.telegram.setup_webhook)
        self._zalo()
        if self.zalo_oa is not None:
            self.paces["zalo_oa"] = Pace(settings.zalo_oa_rate, settings.zalo_chat_interval)
            self.channels["zalo_oa"] = self.zalo_oa
            parts.append(self.zalo_oa.setup_webhook)
        if self.zns is not None:
            self.paces["zns"] = Pace(settings.zns_rate, 0.0)
            self.channels["zns"] = self.zns
        self.zalo_bot = self._zalo_bot()
        if self.zalo_bot is not None:
            self.paces["zalo_bot"] = Pace(settings.zalo_bot_rate, settings.zalo_chat_interval)
            self.channels["zalo_bot"] = self.zalo_bot
            parts.append(self.zalo_bot.setup_webhook)
        for name, channel in self.channels.items():
            if hasattr(channel, "refused"):
                channel.refused = lambda name=name: app.metrics.inbound.labels(name, "refused").inc()
        self._starts()
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
            working = asyncio.create_task(stop.wait() if self.role == "web" else self._lead(stop), name="work")
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
            if self.telegram is not None:
                await self.telegram.stop()
            if self.zalo_oa is not None:
                await self.zalo_oa.stop()
            if self.zalo_bot is not None:
                await self.zalo_bot.stop()
            await app.close()

    async def _tried(self) -> None:
        """Until every channel has had its first try (started, refused, or waiting to try again)."""
        for start in self.starts.values():
            await start.tried.wait()

    def _starts(self) -> None:
        """One ``ChannelStart`` per configured channel; ``/healthz`` shows each one's state."""
        settings, app = self.app.settings, self.app
        backoff = Backoff(settings.channel_retry_seconds, settings.channel_retry_max_seconds)
        if self.telegram is not None:
            telegram = self.telegram

            def known() -> None:
                app.bot_username = telegram.username  # the receipts' deep link

            self.starts["telegram"] = ChannelStart("telegram", telegram.start, backoff, on_started=known)
        if self.zalo_oa is not None:
            self.starts["zalo_oa"] = ChannelStart("zalo_oa", self.zalo_oa.start, backoff)
        if self.zalo_bot is not None:
            self.starts["zalo_bot"] = ChannelStart("zalo_bot", self.zalo_bot.start, backoff)
        tokens = self.zalo_oa.api.tokens if self.zalo_oa is not None else None
        for name, start in self.starts.items():
            app.channel_states[name] = _state_of(start, tokens if name == "zalo_oa" else None)

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
            await _pause(stop, HEARTBEAT_SECONDS)
            await self._beat()

    async def _gone(self) -> None:
        services = self.app.services
        try:
            async with services.uow() as uow:
                await uow.instances.gone(self.instance)
                await uow.commit()
        except (SQLAlchemyError, OSError):
            log.warning("could not record this instance's stop")

    async def _lead(self, stop: asyncio.Event) -> None:
        """Take the delivery lock when it is free and do the work that must run once, until ``stop``."""
        lock = self.leadership = Leadership(self.app.services.database)
        retry = self.app.settings.lock_retry_seconds
        said = False
        try:
            while not stop.is_set():
                if await lock.acquire():
                    log.info("this instance (%s) now delivers and schedules", self.instance)
                    await self._work(stop, lock)
                    said = False
                elif not said:
                    said = True
                    log.info(
                        "another instance delivers and schedules on this database; this one (%s) serves the web "
                        "and takes over if that one stops (tried every %s s)",
                        self.instance,
                        f"{retry:g}",
                    )
                if not stop.is_set():
                    await _pause(stop, retry)
        finally:
            await lock.release()

    async def _work(self, stop: asyncio.Event, lock: Leadership) -> None:
        """Delivery, the scheduler and the pollers, while the lock is held (checked every few seconds).

        A channel that has not started yet gets its delivery and its poller when it starts: until then what is
        queued for it stays pending.
        """
        app, settings = self.app, self.app.settings
        step_down = asyncio.Event()
        waiting = {lane for lanes in LANES.values() for lane in lanes}  # they join once their channel has started
        outbox = self.outbox = Outbox(
            app.services,
            {
                **{name: channel for name, channel in self.channels.items() if name not in waiting},
                "console": ConsoleInbox(),
            },
            {**self.paces, "console": CONSOLE_PACE},  # `sipasbot shell` chats: to the inbox the shell reads
            wakeup=app.wakeup,
            on_outcome=lambda channel, d: app.metrics.delivered(channel, d.status, d.retry_after),
        )
        listener = OutboxListener(app.services.database, app.wakeup.set)  # other instances' replies wake us too
        await listener.start()
        tasks = [asyncio.create_task(outbox.run(step_down), name="outbox")]
        polls: list[asyncio.Task[None]] = []
        telegram, zalo_bot, zalo_oa = self.telegram, self.zalo_bot, self.zalo_oa
        if telegram is not None:
            poll = telegram.poll if settings.telegram_mode == "polling" else None
            polls.append(self._once_started(outbox, "telegram", step_down, poll))
        if zalo_bot is not None:
            # webhook mode: what polling left in the inbox is handled all the same
            poll = zalo_bot.poll if settings.zalo_bot_mode == "polling" else zalo_bot.settle
            polls.append(self._once_started(outbox, "zalo_bot", step_down, poll))
        if zalo_oa is not None:

            async def keep_fresh(stop: asyncio.Event) -> None:
                await zalo_oa.api.tokens.keep_fresh(
                    stop,
                    every=settings.zalo_oa_token_check_seconds,
                    on_restored=lambda: outbox.resume(["zalo_oa", "zns"]),
                )

            tasks.append(self._once_started(outbox, "zalo_oa", step_down, keep_fresh))
        jobs = Jobs(app.services, self.instance, app.digests.defaults, app.workbooks)
        scheduler = build_scheduler(jobs, settings.zone, settings.survey_tick_seconds)
        scheduler.start()
        self.leading.set()
        await self._beat()  # /healthz everywhere: someone delivers
        try:
            while not stop.is_set():
                await _pause(stop, min(5.0, settings.lock_retry_seconds))
                if not await lock.alive():
                    break
        finally:
            self.leading.clear()
            await self._beat()
            step_down.set()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            for task in polls:
                task.cancel()  # a long poll holds no state: the offset was not confirmed
            await asyncio.gather(*tasks, *polls, return_exceptions=True)
            await listener.stop()

    def _once_started(
        self,
        outbox: Outbox,
        name: str,
        step_down: asyncio.Event,
        then: Callable[[asyncio.Event], Awaitable[None]] | None,
    ) -> asyncio.Task[None]:
        """Once channel ``name`` has started: its lanes join delivery, then ``then`` runs (its poller)."""

        async def when_started() -> None:
            if not await self.starts[name].wait_started(step_down):
                return
            for lane in LANES[name]:
                if lane in self.channels:
                    outbox.add(lane, self.channels[lane])
            if then is not None:
                await then(step_down)

        return asyncio.create_task(when_started(), name=f"{name}-work")


def _state_of(start: ChannelStart, tokens: ZaloTokens | None = None) -> Callable[[], str]:
    """What ``/healthz`` shows of a channel: its start's state; once the Zalo OA has started, its token pair's."""

    def state() -> str:
        if tokens is None or not start.started.is_set():
            return start.state
        return "reauthorise" if tokens.broken else "no_tokens" if tokens.current is None else "ok"

    return state


def _masking_codes(handle: Callable[[Inbound], Awaitable[Outcome]]) -> Callable[[Inbound], Awaitable[Outcome]]:
    """``handle``, after remembering the invite code a ``/join`` carries: no log line shows it."""

    async def handled(inbound: Inbound) -> Outcome:
        remember_join_code(inbound.text)
        return await handle(inbound)

    return handled


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
