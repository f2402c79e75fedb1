"""The work one instance does for all while it holds the delivery lock: delivery, the scheduler and the pollers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.app import App
from bot.channels.console import ConsoleInbox
from bot.outbox import Outbox, Pace
from bot.service_channels import ServiceChannels
from scheduler.jobs import Jobs, build_scheduler
from storage.locks import Leadership
from storage.notify import OutboxListener

log = logging.getLogger("bot.service")

# the outbox lanes of each channel that must start first (ZNS sends with the Zalo OA's tokens)
LANES = {"telegram": ("telegram",), "zalo_oa": ("zalo_oa", "zns"), "zalo_bot": ("zalo_bot",)}
CONSOLE_PACE = Pace(per_second=1000.0, per_recipient_interval=0.0)  # a row in our own database: no platform's limit


class LeadWork:
    """Takes the delivery lock when it is free, and while holding it delivers, schedules and polls."""

    def __init__(
        self, app: App, instance: str, net: ServiceChannels, leading: asyncio.Event, beat: Callable[[], Awaitable[None]]
    ) -> None:
        self.app = app
        self.instance = instance
        self.net = net
        self.leading = leading  # set while this instance delivers and schedules
        self.beat = beat  # the heartbeat, recorded at once when leading starts or stops
        self.leadership: Leadership | None = None
        self.outbox: Outbox | None = None
        self.jobs: Jobs | None = None  # the scheduler's jobs while leading: what a test runs now instead of waiting

    async def lead(self, stop: asyncio.Event) -> None:
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
                    await self.app.services.clock.wait(stop, retry)
        finally:
            await lock.release()

    async def _work(self, stop: asyncio.Event, lock: Leadership) -> None:
        """Delivery, the scheduler and the pollers, while the lock is held (checked every few seconds).

        A channel that has not started yet gets its delivery and its poller when it starts: until then what is
        queued for it stays pending.
        """
        app, settings, net = self.app, self.app.settings, self.net
        step_down = asyncio.Event()
        waiting = {lane for lanes in LANES.values() for lane in lanes}  # they join once their channel has started
        outbox = self.outbox = Outbox(
            app.services,
            {
                **{name: channel for name, channel in net.channels.items() if name not in waiting},
                "console": ConsoleInbox(),
            },
            {**net.paces, "console": CONSOLE_PACE},  # `sipasbot shell` chats: to the inbox the shell reads
            wakeup=app.wakeup,
            on_outcome=lambda channel, d: app.metrics.delivered(channel, d.status, d.retry_after),
        )
        listener = OutboxListener(app.services.database, app.wakeup.set)  # other instances' replies wake us too
        await listener.start()
        tasks = [asyncio.create_task(outbox.run(step_down), name="outbox")]
        polls: list[asyncio.Task[None]] = []
        telegram, zalo_bot, zalo_oa = net.telegram, net.zalo_bot, net.zalo_oa
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
        jobs = self.jobs = Jobs(app.services, self.instance, app.digests.defaults, app.workbooks)
        scheduler = build_scheduler(jobs, settings.zone, settings.survey_tick_seconds)
        scheduler.start()
        self.leading.set()
        await self.beat()  # /healthz everywhere: someone delivers
        try:
            while not stop.is_set():
                await app.services.clock.wait(stop, min(5.0, settings.lock_retry_seconds))
                if not await lock.alive():
                    break
        finally:
            self.leading.clear()
            await self.beat()
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
            if not await self.net.starts[name].wait_started(step_down):
                return
            for lane in LANES[name]:
                if lane in self.net.channels:
                    outbox.add(lane, self.net.channels[lane])
            if then is not None:
                await then(step_down)

        return asyncio.create_task(when_started(), name=f"{name}-work")
