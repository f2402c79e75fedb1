"""The channels `sipasbot run` serves: each built from the settings, with its pace, its start and its health line."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.app import App
from bot.channels.runtime import Backoff, ChannelRuntime
from bot.channels.starting import ChannelStart
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.channels.zalo_api import ZaloApi, ZaloOAConfig
from bot.channels.zalo_bot import HOLD_ENV, ZaloBotChannel, ZaloBotConfig
from bot.channels.zalo_oa import ZaloOAChannel
from bot.channels.zns import ZnsChannel, ZnsEvents
from bot.outbox import Pace
from handlers.chat.inbox import Inbox
from handlers.messages import Inbound, Outcome


class ServiceChannels:
    """The configured channels (Telegram, Zalo OA with ZNS, Zalo Bot), by name, with their paces and starts."""

    def __init__(self, app: App, handle: Callable[[Inbound], Awaitable[Outcome]]) -> None:
        self.app = app
        self.handle = handle  # every channel's inbound
        self.channels: dict[str, ChannelRuntime] = {}
        self.starts: dict[str, ChannelStart] = {}  # the configured channels' starts, by name
        self.paces: dict[str, Pace] = {}
        self.telegram: TelegramChannel | None = None
        self.zalo_oa: ZaloOAChannel | None = None
        self.zns: ZnsChannel | None = None
        self.zalo_bot: ZaloBotChannel | None = None

    def build(self) -> list[Callable[[web.Application], None]]:
        """Build every configured channel and its start; the webhook routes they add to the web server."""
        app, settings = self.app, self.app.settings
        parts: list[Callable[[web.Application], None]] = []
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
        return parts

    async def stop(self) -> None:
        """Stop every channel: release its HTTP clients."""
        for channel in self.channels.values():
            await channel.stop()

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
        return TelegramChannel(config, self.handle, self.app.load_attachment, clock=self.app.services.clock)

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
        return ZaloBotChannel(config, self.handle, Inbox(self.app.services, "zalo_bot"), clock=self.app.services.clock)

    def _starts(self) -> None:
        """One ``ChannelStart`` per configured channel; ``/healthz`` shows each one's state."""
        settings, app = self.app.settings, self.app
        backoff = Backoff(settings.channel_retry_seconds, settings.channel_retry_max_seconds)
        clock = app.services.clock
        if self.telegram is not None:
            telegram = self.telegram

            def known() -> None:
                app.bot_username = telegram.username  # the receipts' deep link

            self.starts["telegram"] = ChannelStart("telegram", telegram.start, backoff, on_started=known, clock=clock)
        if self.zalo_oa is not None:
            self.starts["zalo_oa"] = ChannelStart("zalo_oa", self.zalo_oa.start, backoff, clock=clock)
        if self.zalo_bot is not None:
            self.starts["zalo_bot"] = ChannelStart("zalo_bot", self.zalo_bot.start, backoff, clock=clock)
        for name, start in self.starts.items():
            app.channel_states[name] = _state_of(start, self.channels[name])


def _state_of(start: ChannelStart, channel: ChannelRuntime) -> Callable[[], str]:
    """What ``/healthz`` shows of a channel: its start's state until it has started, then the channel's health."""

    def state() -> str:
        return channel.health() if start.started.is_set() else start.state

    return state
