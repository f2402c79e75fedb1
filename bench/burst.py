"""A citizen's press answered while a burst of invitations drains, on Telegram or Zalo OA.

``--invitations`` invitations are queued at once to as many chats (on Telegram two messages a chat:
the form's intro, then its first question) and the real outbox delivers them at the channel's pace
from the settings' defaults (Telegram 30 msg/s and 1 s between two messages to a chat; Zalo OA
``zalo_oa_rate`` and ``zalo_chat_interval``) to the emulator, which runs in its own process and
enforces the platform's limits (Telegram 30 msg/s overall and 1 msg/s per chat, 429 beyond; the OA
emulator's ``rate_per_second`` at the same rate, -32 beyond; its reply windows open). ``--presses``
other people were invited just before (their invitations queued first, so their intro and first
question leave first); delivery begins once all are queued. From 10 s after those people have their
question, they press an answer button, one every ``--spacing`` seconds (Telegram: a callback query,
fetched by the product's getUpdates poller; Zalo OA: the signed webhook event pushed to the channel's
route), handled by the real ChatDispatcher. The latency runs from the press to the next question
arriving at the emulator (the emulator's own record of arrival times).

The bulk need not drain: the run stops once every press was answered, or ``--max-wait`` seconds after
the last press (an unanswered press is then printed as "> N s", N its wait so far), and not before 60 s.
The bulk rate is measured over that window, from 10 s before the first press to the stop (or to the
bulk's last message, if it drained sooner), counting messages to the invited chats only.

    python -m bench.burst [--channel telegram|zalo_oa] [--invitations 10000] [--presses 50] [--spacing 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.telegram_outbound import queue_invitations, seed_people
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.channels.zalo_oa import ZaloApi, ZaloOAChannel, ZaloOAConfig
from bot.config import Settings
from bot.outbox import Outbox, Pace
from handlers.chat.dispatcher import ChatDispatcher
from handlers.citizen.invitations import InvitationHandler
from handlers.context import Policy, Services
from handlers.texts import Texts
from storage.db import Database
from survey_forms.catalog import Catalog
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo_oa import QUERY_BUTTONS, ZaloOAEmulator
from tests.telegram_service import free_port

TOKEN = "123456:BENCH-token"
APP_ID, APP_SECRET, SECRET_KEY = "1234567890", "app-secret", "oa-secret-key"
FIRST_CHAT = 1_000_000  # Telegram chat ids; the first ``--presses`` are the people who press
FIRST_ZALO = 5_000_000_000_000_000_000  # Zalo user ids (19 digits), likewise
START_SECONDS = 10.0  # the first press, after the burst is queued
MIN_WINDOW = 60.0  # the bulk is measured over at least this long


def setting(name: str) -> float:
    default = Settings.model_fields[name].default
    assert isinstance(default, int | float)
    return float(default)


PACES = {
    "telegram": Pace(setting("telegram_rate"), setting("telegram_chat_interval")),
    "zalo_oa": Pace(setting("zalo_oa_rate"), setting("zalo_chat_interval")),
}


def chat_id(channel: str, number: int) -> str:
    return str((FIRST_CHAT if channel == "telegram" else FIRST_ZALO) + number)


# --- the emulator's process: the people on the other side


class Side:
    """What the bench needs from one emulator: people, their presses, and the record of what arrived."""

    def __init__(self, channel: str, webhook_url: str | None) -> None:
        self.channel = channel
        self.telegram: TelegramEmulator | None = None
        self.zalo: ZaloOAEmulator | None = None
        if channel == "telegram":
            self.telegram = TelegramEmulator(token=TOKEN, per_chat=1.0, global_rate=PACES[channel].per_second)
        else:
            self.zalo = ZaloOAEmulator(
                app_id=APP_ID,
                app_secret=APP_SECRET,
                oa_secret_key=SECRET_KEY,
                reply_window=None,
                replies_per_window=None,
                interaction_window=None,
                rate_per_second=PACES[channel].per_second,
                webhook_url=webhook_url,
            )

    def urls(self) -> dict[str, str]:
        if self.telegram is not None:
            return {"api_url": self.telegram.api_url}
        assert self.zalo is not None
        return {
            "api_url": self.zalo.api_url,
            "oauth_url": self.zalo.oauth_url,
            "access_token": self.zalo.access_token,
            "refresh_token": self.zalo.refresh_token,
        }

    def person(self, number: int) -> Any:
        if self.telegram is not None:
            user = int(chat_id("telegram", number))
            return self.telegram.person(user_id=user, first_name=f"Dân {number}", started=True)
        assert self.zalo is not None
        return self.zalo.person(chat_id("zalo_oa", number), display_name=f"Dân {number}", interacted=True)

    @staticmethod
    def choices(person: Any) -> list[str]:
        """What the person's latest message offers to press (Telegram: callback data; Zalo: query buttons' titles)."""
        try:
            last = person.last
        except LookupError:
            return []
        if isinstance(person.user_id, int):
            return [data for row in last.buttons for _, data in row if data]
        return [title for title, kind, _ in last.buttons if kind in QUERY_BUTTONS]

    async def press(self, person: Any) -> tuple[float, tuple[int, str]]:
        """Press the first answer shown; the press's time, and what the chat showed before it."""
        seen = len(person.messages), person.last.text
        choice = self.choices(person)[0]
        pressed = time.monotonic()
        if self.telegram is not None:
            await person.press_data(choice)
        else:
            await person.press(choice)
        return pressed, seen

    def deliveries(self) -> list[tuple[float, str, str]]:
        """Every text that took effect: (arrival, chat, text); Telegram's edits included."""
        if self.telegram is not None:
            return [
                (c.at, str(c.params.get("chat_id")), str(c.params.get("text")))
                for c in self.telegram.calls
                if c.method in ("sendMessage", "editMessageText") and c.status == 200
            ]
        assert self.zalo is not None
        return [
            (c.at, str(c.body["recipient"]["user_id"]), str(c.body["message"].get("text")))
            for c in self.zalo.calls
            if c.path.endswith("/message/cs") and c.answer is not None and c.answer.get("error") == 0
        ]

    def refused(self) -> int:
        """The platform's "too many": Telegram's 429s, the OA's -32s."""
        if self.telegram is not None:
            return self.telegram.stats.too_many_requests
        assert self.zalo is not None
        return self.zalo.stats.rate_limited


async def press_once(side: Side, person: Any, at: float, deadline: float) -> tuple[str, float]:
    """At ``at``, press; wait until the reply arrived (or ``deadline``); the chat and the press's time."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    pressed, (messages, text) = await side.press(person)

    def answered(shown: Any) -> bool:
        return bool(len(shown.messages) > messages or shown.last.text != text)

    with contextlib.suppress(TimeoutError):
        await person.wait_for(answered, timeout=max(0.001, deadline - time.monotonic()))
    return str(person.user_id), pressed


def serve_emulator(channel: str, count: int, presses: int, spacing: float, max_wait: float, webhook: str) -> None:
    """The emulator's own process; commands on stdin ("ready", "go", "report"), answers on stdout."""
    gc.disable()  # test infrastructure, short-lived: no collector pauses bunching requests on its side

    async def serve() -> None:
        side = Side(channel, webhook or None)
        emulator = side.telegram or side.zalo
        assert emulator is not None
        async with emulator:
            people = [side.person(number) for number in range(presses + count)]
            pressers = people[:presses]
            print(json.dumps(side.urls()), flush=True)
            lines = asyncio.Queue[str]()
            loop = asyncio.get_running_loop()
            loop.add_reader(sys.stdin.fileno(), lambda: lines.put_nowait(sys.stdin.readline().strip()))
            record: list[tuple[str, float]] = []
            started = 0.0
            while (command := await lines.get()) != "report":
                if command == "ready":  # every presser has a question to answer
                    for person in pressers:
                        await person.wait_for(lambda p: bool(side.choices(p)), timeout=120)
                    print("ready", flush=True)
                elif command == "go":  # the burst is queued
                    started = time.monotonic()
                    deadline = started + START_SECONDS + spacing * (presses - 1) + max_wait
                    at = started + START_SECONDS
                    record += await asyncio.gather(
                        *(press_once(side, p, at + spacing * n, deadline) for n, p in enumerate(pressers))
                    )
                    await asyncio.sleep(max(0.0, started + MIN_WINDOW - time.monotonic()))
                    print("done", flush=True)
            seen = {
                "started": started,
                "stopped": time.monotonic(),
                "presses": record,
                "deliveries": side.deliveries(),
                "refused": side.refused(),
            }
            print(json.dumps(seen), flush=True)

    asyncio.run(serve())


# --- the product's side


class Emulator:
    """The emulator's process, driven line by line."""

    def __init__(self, arguments: argparse.Namespace, webhook: str) -> None:
        command = [sys.executable, "-m", "bench.burst", "--emulator", "--channel", arguments.channel]
        command += ["--invitations", str(arguments.invitations), "--presses", str(arguments.presses)]
        command += ["--spacing", str(arguments.spacing), "--max-wait", str(arguments.max_wait), "--webhook", webhook]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    async def line(self) -> str:
        assert self.process.stdout is not None
        answer = await asyncio.to_thread(self.process.stdout.readline)
        if not answer:
            raise RuntimeError(f"the emulator stopped ({self.process.wait()})")
        return answer.strip()

    async def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return await self.line()


async def product(arguments: argparse.Namespace) -> dict[str, Any]:
    """The real channel, ChatDispatcher and outbox against the emulator; what the emulator saw."""
    name, count, presses = arguments.channel, arguments.invitations, arguments.presses
    port = free_port()
    emulator = Emulator(arguments, f"http://127.0.0.1:{port}/webhooks/zalo-oa" if name == "zalo_oa" else "")
    urls = json.loads(await emulator.line())
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        database = Database(f"sqlite+aiosqlite:///{directory}/burst.db")
        await seed_people(database, name, [chat_id(name, n) for n in range(presses + count)])
        services = Services(database, Catalog.load(), Texts.load(), Policy(quiet_hours=None))
        citizens = ChatDispatcher(services)
        stop = asyncio.Event()
        runner: web.AppRunner | None = None
        channel: Channel
        if name == "telegram":
            telegram = channel = TelegramChannel(TelegramConfig(token=TOKEN, api_url=urls["api_url"]), citizens.handle)
        else:
            config = ZaloOAConfig(
                app_id=APP_ID,
                app_secret=APP_SECRET,
                secret_key=SECRET_KEY,
                access_token=urls["access_token"],
                refresh_token=urls["refresh_token"],
                api_url=urls["api_url"],
                oauth_url=urls["oauth_url"],
            )
            zalo = channel = ZaloOAChannel(ZaloApi(config, services), citizens.handle)
            server = web.Application()
            zalo.setup_webhook(server)
            runner = web.AppRunner(server, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
        await channel.start()
        # the invitations are queued before delivery begins (the survey job's burst), the people who will
        # press first: their intro and first question leave first, then the burst drains behind them
        await queue_invitations(database, range(presses))
        await InvitationHandler(services).send_due()
        await queue_invitations(database, range(presses, presses + count))
        queued_at = time.monotonic()
        offered = await InvitationHandler(services).send_due()
        print(f"{offered} invitations queued on {name} in {time.monotonic() - queued_at:.1f} s; {presses} presses")
        outbox = Outbox(services, {name: channel}, {name: PACES[name]})
        services.on_commit = outbox.wake
        tasks = [asyncio.create_task(outbox.run(stop))]
        if name == "telegram":
            tasks.append(asyncio.create_task(telegram.poll(stop)))
        assert await emulator.ask("ready") == "ready"
        assert await emulator.ask("go") == "done"
        stop.set()
        await asyncio.gather(*tasks)
        await channel.stop()
        if runner is not None:
            await runner.cleanup()
        await database.close()
    seen: dict[str, Any] = json.loads(await emulator.ask("report"))
    await asyncio.to_thread(emulator.process.wait, 30)
    return seen


def quantile(latencies: list[tuple[float, bool]], q: float) -> str:
    """The nearest-rank quantile; "> N" when it falls on a press still unanswered after N seconds."""
    ordered = sorted(latencies, key=lambda item: (not item[1], item[0]))  # the unanswered last
    value, answered = ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    return f"{value:.2f}" if answered else f"> {value:.0f}"


def summarise(seen: dict[str, Any], arguments: argparse.Namespace) -> None:
    cap = PACES[arguments.channel].per_second
    deliveries = sorted((at, chat, text) for at, chat, text in seen["deliveries"])
    pressers = {chat_id(arguments.channel, n) for n in range(arguments.presses)}
    latencies: list[tuple[float, bool]] = []
    for chat, pressed in seen["presses"]:
        reply = next((at for at, to, _ in deliveries if to == chat and at > pressed), None)
        latencies.append((reply - pressed, True) if reply is not None else (seen["stopped"] - pressed, False))
    answered = sum(1 for _, done in latencies if done)
    started = seen["started"]
    bulk = [at for at, chat, _ in deliveries if chat not in pressers and at >= started]
    end = min(seen["stopped"], bulk[-1]) if bulk else seen["stopped"]
    rate = (len(bulk) - 1) / (end - bulk[0]) if len(bulk) > 1 else 0.0
    everything = [at for at, _, _ in deliveries if started <= at <= end]
    duplicates = sum(n - 1 for n in Counter((chat, text) for _, chat, text in deliveries).values() if n > 1)
    p50, p95, worst = (quantile(latencies, q) for q in (0.5, 0.95, 1.0))
    print(f"presses answered: {answered} of {len(latencies)} (each waited for at most until the run stopped)")
    print(
        f"bulk: {len(bulk)} messages in {end - started:.1f} s = {rate:.2f} msg/s = {rate / cap:.3f} x the "
        f"{cap:g} msg/s cap; all messages {len(everything) / max(1e-9, end - started):.2f} msg/s"
    )
    print("(target p95 <= 1.5 s, max <= 3 s, bulk >= 0.95 x cap, 0 429s, 0 duplicates)")
    print(
        f"burst: p50 {p50} s, p95 {p95} s, max {worst} s, bulk {rate / cap:.3f} × cap, "
        f"429s {seen['refused']}, duplicates {duplicates}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channel", choices=("telegram", "zalo_oa"), default="telegram")
    parser.add_argument("--invitations", type=int, default=10_000)
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--spacing", type=float, default=1.5, help="seconds between two presses")
    parser.add_argument("--max-wait", type=float, default=60.0, help="seconds waited after the last press")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--webhook", default="", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    if arguments.emulator:
        serve_emulator(
            arguments.channel,
            arguments.invitations,
            arguments.presses,
            arguments.spacing,
            arguments.max_wait,
            arguments.webhook,
        )
    else:
        summarise(asyncio.run(product(arguments)), arguments)
