"""Invitations to many chats through the outbox and python-telegram-bot, against the emulator's limits.

10,000 returned dossiers whose citizens have linked Telegram chats are due at once; the survey job
queues each invitation (the form's intro, then its first question: two messages per chat) and the
outbox delivers them to the emulator, which enforces 30 messages/s overall and 1 message/s per chat
and answers 429 beyond. The emulator runs in its own process, as Telegram runs elsewhere. Printed:
the rate against the 30 msg/s cap (over the whole run, and sustained between the 1st and 99th
percentile of sends), the 429s given, duplicates.

    python -m bench.telegram_outbound [--invitations 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.outbox import Outbox, Pace
from handlers.citizen.invitations import InvitationHandler
from handlers.context import Policy, Services
from handlers.messages import Outcome
from handlers.texts import Texts
from storage import migrate
from storage.db import Database
from storage.tables.dossiers import DOSSIERS
from storage.tables.people import CHATS, PEOPLE
from storage.tables.survey import INVITATIONS
from storage.tables.units import FIELDS, UNITS
from survey_forms.catalog import Catalog
from tests.emulators.telegram import TelegramEmulator

TOKEN = "123456:BENCH-token"
CAP = 30.0
FIRST_CHAT = 1_000_000


async def prepare(database: Database, count: int) -> None:
    """Linked, consented chats and due invitations, written in bulk (the setup is not what is measured)."""
    await seed_people(database, "telegram", [str(FIRST_CHAT + n) for n in range(count)])
    await queue_invitations(database, range(count))


async def seed_people(database: Database, channel: str, chats: list[str]) -> None:
    """A migrated database with one unit, and per chat a person, their linked chat and a returned dossier."""
    await migrate.upgrade(database)
    now = datetime.now(UTC)
    count = len(chats)
    async with database.engine.begin() as connection:
        await connection.execute(insert(UNITS).values(id=1, code="P8", name="Phường 8", created_at=now))
        await connection.execute(insert(FIELDS).values(id=1, name="Hộ tịch"))
        await connection.execute(
            insert(PEOPLE),
            [{"id": n + 1, "name": f"Người dân {n}", "locale": "vi", "created_at": now} for n in range(count)],
        )
        await connection.execute(
            insert(CHATS),
            [
                {
                    "channel": channel,
                    "external_id": chat,
                    "person_id": n + 1,
                    "status": "active",
                    "locale": "vi",
                    "consent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, chat in enumerate(chats)
            ],
        )
        await connection.execute(
            insert(DOSSIERS),
            [
                {
                    "id": n + 1,
                    "code": f"P8-{n:06d}",
                    "unit_id": 1,
                    "procedure_name": "Đăng ký khai sinh",
                    "field": "Hộ tịch",
                    "field_id": 1,
                    "channel": "truc_tiep",
                    "applicant_id": n + 1,
                    "state": "returned",
                    "received_at": now - timedelta(days=3),
                    "due_at": now + timedelta(days=2),
                    "finished_at": now,
                    "returned_at": now,
                    "on_time": True,
                    "zalo_optin": False,
                    "optin_token": f"t{n:08d}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count)
            ],
        )


async def queue_invitations(database: Database, people: range) -> None:
    """Due invitations for ``people`` (numbered from 0 as ``seed_people`` made them)."""
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(INVITATIONS),
            [
                {
                    "dossier_id": n + 1,
                    "person_id": n + 1,
                    "unit_id": 1,
                    "form_id": "sipas-2022",
                    "form_version": 1,
                    "status": "pending",
                    "scheduled_at": now - timedelta(minutes=1),
                    "expires_at": now + timedelta(days=7),
                    "created_at": now,
                }
                for n in people
            ],
        )


def serve_emulator(count: int) -> None:
    """The emulator's own process: prints its URL, serves until SIGTERM, then prints what it saw as JSON."""
    gc.disable()  # test infrastructure, short-lived: no collector pauses bunching requests on its side

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with TelegramEmulator(token=TOKEN, per_chat=1.0, global_rate=CAP) as emulator:
            for number in range(count):
                emulator.person(user_id=FIRST_CHAT + number, first_name=f"Dân {number}", started=True)
            print(emulator.api_url, flush=True)
            await stop.wait()
            sends = [
                (c.at, int(c.params["chat_id"]))
                for c in emulator.calls
                if c.method == "sendMessage" and c.status == 200
            ]
            print(json.dumps({"sends": sends, "too_many_requests": emulator.stats.too_many_requests}), flush=True)

    asyncio.run(serve())


async def main(count: int) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    emulator = subprocess.Popen(
        [sys.executable, "-m", "bench.telegram_outbound", "--emulator", str(count)], stdout=subprocess.PIPE, text=True
    )
    assert emulator.stdout is not None
    api_url = (await asyncio.to_thread(emulator.stdout.readline)).strip()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        database = Database(f"sqlite+aiosqlite:///{directory}/outbound.db")
        await prepare(database, count)
        services = Services(database, Catalog.load(), Texts.load(), Policy(quiet_hours=None))

        async def ignore(_: object) -> Outcome:
            return Outcome()

        channel = TelegramChannel(TelegramConfig(token=TOKEN, api_url=api_url), ignore)
        await channel.start()
        outbox = Outbox(services, {"telegram": channel}, {"telegram": Pace(CAP, 1.0)})
        services.on_commit = outbox.wake
        stop = asyncio.Event()
        delivering = asyncio.create_task(outbox.run(stop))
        queued_at = time.monotonic()
        offered = await InvitationHandler(services).send_due()
        print(f"{offered} invitations queued ({2 * offered} messages) in {time.monotonic() - queued_at:.1f} s")
        while outbox.sent < 2 * offered:
            await asyncio.sleep(1)
        stop.set()
        await delivering
        await channel.stop()
        await database.close()
    emulator.send_signal(signal.SIGTERM)
    seen = json.loads(await asyncio.to_thread(emulator.stdout.readline))
    await asyncio.to_thread(emulator.wait, 30)
    times = sorted(at for at, _ in seen["sends"])
    per_chat = Counter(chat for _, chat in seen["sends"])
    rate = (len(times) - 1) / (times[-1] - times[0])
    low, high = times[len(times) // 100], times[len(times) * 99 // 100]
    steady = (len(times) * 98 // 100) / (high - low)
    print(f"delivered {len(times)} messages to {len(per_chat)} chats in {times[-1] - times[0]:.1f} s")
    print(
        f"rate over the whole run {rate:.2f} msg/s = {rate / CAP:.3f} x the 30 msg/s cap; "
        f"sustained (1st to 99th percentile of sends) {steady:.2f} msg/s = {steady / CAP:.3f} x  (target >= 0.95)"
    )
    duplicates = sum(n - 2 for n in per_chat.values() if n > 2)
    missing = sum(1 for n in per_chat.values() if n < 2) + count - len(per_chat)
    print(f"429 answers: {seen['too_many_requests']}; duplicates: {duplicates}; chats missing a message: {missing}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invitations", type=int, default=10_000)
    parser.add_argument("--emulator", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.emulator is not None:
        serve_emulator(arguments.emulator)
    else:
        asyncio.run(main(arguments.invitations))
