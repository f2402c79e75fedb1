"""`sipasbot run`: the web server, every configured channel, delivery and the scheduler, started in order."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

from aiohttp import web

from bot.app import App
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.outbox import Outbox, Pace
from bot.web.api import setup_api
from bot.web.server import build_web_app
from scheduler.jobs import Jobs, build_scheduler

log = logging.getLogger(__name__)


class Service:
    """Everything `sipasbot run` starts, stopped in reverse order."""

    def __init__(self, app: App, instance: str | None = None) -> None:
        self.app = app
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.telegram: TelegramChannel | None = None
        self.outbox: Outbox | None = None
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
        return TelegramChannel(config, self.app.citizens.handle)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set."""
        app, settings = self.app, self.app.settings
        await app.start()
        channels: dict[str, Channel] = {}
        paces: dict[str, Pace] = {}
        parts: list[Callable[[web.Application], None]] = [setup_api]
        self.telegram = self._telegram()
        if self.telegram is not None:
            paces["telegram"] = Pace(settings.telegram_rate, settings.telegram_chat_interval)
            channels["telegram"] = self.telegram
            parts.append(self.telegram.setup_webhook)
        self.outbox = Outbox(app.services, channels, paces, wakeup=app.wakeup)
        runner = web.AppRunner(build_web_app(app, parts), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        tasks: list[asyncio.Task[None]] = []
        scheduler = build_scheduler(Jobs(app.services, self.instance), settings.zone, settings.survey_tick_seconds)
        try:
            await site.start()
            self.port = runner.addresses[0][1] if runner.addresses else settings.http_port
            if self.telegram is not None:
                await self.telegram.start()  # webhook mode registers our URL: the server must be up first
                app.bot_username = self.telegram.username
                if settings.telegram_mode == "polling":
                    tasks.append(asyncio.create_task(self.telegram.poll(stop), name="telegram-poll"))
            tasks.append(asyncio.create_task(self.outbox.run(stop), name="outbox"))
            scheduler.start()
            log.info(
                "SIPAS Bot is running on %s:%s (channels: %s)",
                settings.http_host,
                self.port,
                ", ".join(channels) or "none",
            )
            self.ready.set()
            await stop.wait()
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await runner.cleanup()  # no more webhooks
            for task in tasks:
                if task.get_name() == "telegram-poll":
                    task.cancel()  # a long poll holds no state: the offset was not confirmed
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.telegram is not None:
                await self.telegram.stop()
            await app.close()
