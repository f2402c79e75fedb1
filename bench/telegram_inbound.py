"""Button presses per second through the webhook path, each answer committed, against a bare PTB application.

The emulator (in this process) pushes every press to a webhook with up to ``--connections``
deliveries in flight (Telegram's default for a webhook is 40 connections). First the real service,
`sipasbot run` in webhook mode in its own process on SQLite, receives them: secret check, the update
handled and the answer committed, the callback answered; its outbox meanwhile edits each question in
place (paced at 30 msg/s). Then a bare python-telegram-bot Application, also in its own process
behind an aiohttp route, only answers the callback queries. Same emulator, same people, same number
of presses, in the same run.

    python -m bench.telegram_inbound [--people 100] [--presses 19] [--connections 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bench.zalo_fair import start_webhook
from storage.db import Database
from storage.models import AnswerRow, DossierRow, InvitationRow
from storage.uow import UnitOfWork
from survey_forms.catalog import Catalog
from tests.emulators.telegram import Person, TelegramEmulator
from tests.telegram_service import SECRET, TOKEN, free_port

CODES = [q.code for q in Catalog.load().get("sipas-2022").rating_questions()]
SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
P = TypeVar("P")  # an emulator's person


async def press_through(people: list[tuple[Person, list[str]]]) -> tuple[int, float]:
    """Everyone presses their buttons one after the other (each once the previous was answered)."""

    async def one(person: Person, data: list[str]) -> None:
        for value in data:
            query = await person.press_data(value)
            await person.wait_for(lambda p, q=query: p.callback_answer(q).answered, timeout=120)

    started = time.perf_counter()
    await asyncio.gather(*(one(person, data) for person, data in people))
    return sum(len(data) for _, data in people), time.perf_counter() - started


async def healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} stopped with {process.returncode}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def run(env: dict[str, str], *args: str) -> str:
    return subprocess.run([SIPASBOT, *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


def webhook_bench_arguments(description: str | None, per_person: str, in_flight: str) -> argparse.ArgumentParser:
    """The options a webhook bench shares: how many people, how many ``per_person`` each, deliveries in flight
    (``in_flight`` says what they are), and the database."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument(per_person, type=int, default=19)
    parser.add_argument("--connections", type=int, default=40, help=in_flight)
    parser.add_argument("--database-url", help="an empty, migrated or new database (default: a new SQLite file)")
    return parser


async def start_service(database_url: str, port: int, **settings: str) -> tuple[str, subprocess.Popen[bytes]]:
    """``sipasbot run`` on ``port`` with unit P8 and an API key for it: the key, and the running service.

    Only the bench's settings reach it (none of the caller's SIPAS_ ones); surveys go out as soon as a dossier
    is returned, at any hour.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=database_url,
        SIPAS_HTTP_PORT=str(port),
        SIPAS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SIPAS_SURVEY_DELAY_MINUTES="0",
        SIPAS_QUIET_HOURS="",
        SIPAS_SURVEY_TICK_SECONDS="1",
        **settings,
    )
    await asyncio.to_thread(run, env, "units", "add", "P8", "Phường 8")
    key = await asyncio.to_thread(run, env, "apikey", "create", "bench", "--scopes", "dossiers:write", "--units", "all")
    service = subprocess.Popen([SIPASBOT, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, service


async def enrol_all(port: int, key: str, people: Sequence[P], consent: Callable[[P, str], Awaitable[None]]) -> None:
    """For each person, dossier P8-<number> put through the API with ``key``, the person's consent given with its
    opt-in token (``consent``), then the dossier returned.

    The return invites the person to the survey (no delay: the benches set SIPAS_SURVEY_DELAY_MINUTES=0).
    """
    now = datetime.now(UTC)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        for number, person in enumerate(people):
            dossier = f"http://127.0.0.1:{port}/api/v1/dossiers/P8-{number:05d}"
            async with session.put(
                dossier,
                json={
                    "unit": "P8",
                    "procedure": "Đăng ký khai sinh",
                    "field": "Hộ tịch",
                    "applicant": {"name": f"Người dân {number}"},
                    "channel": "truc_tiep",
                    "received_at": (now - timedelta(days=2)).isoformat(),
                    "due_at": (now + timedelta(days=2)).isoformat(),
                },
            ) as response:
                token = (await response.json())["optin"]["token"]
            await consent(person, token)
            async with session.post(f"{dossier}/events", json={"type": "returned", "at": now.isoformat()}) as response:
                assert response.status == 202


async def ours(
    emulator: TelegramEmulator, database_url: str, count: int, presses: int, connections: int
) -> tuple[list[Person], float]:
    port = free_port()
    key, service = await start_service(
        database_url,
        port,
        SIPAS_TELEGRAM_TOKEN=TOKEN,
        SIPAS_TELEGRAM_API_URL=emulator.api_url,
        SIPAS_TELEGRAM_MODE="webhook",
        SIPAS_TELEGRAM_WEBHOOK_SECRET=SECRET,
        SIPAS_TELEGRAM_WEBHOOK_CONNECTIONS=str(connections),
        PTB_TIMEDELTA="true",
    )
    people = [emulator.person(user_id=2_000_000 + n, first_name=f"Dân {n}", started=True) for n in range(count)]
    try:
        await healthy(f"http://127.0.0.1:{port}/healthz", service)

        async def consent(person: Person, token: str) -> None:
            await person.send_command("/start", token)
            await person.wait_for(lambda p: "Đồng ý" in p.last.button_texts, timeout=60)
            await person.press("Đồng ý")

        await enrol_all(port, key, people, consent)
        for person in people:  # the invitation (intro and first question) delivered by the service
            await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=300)
        database = Database(database_url)
        async with UnitOfWork(database, read_only=True) as uow:
            rows = await uow.connection.execute(
                select(DossierRow.code, InvitationRow.id).join(InvitationRow, InvitationRow.dossier_id == DossierRow.id)
            )
            invitation = {int(code.split("-")[1]): inv for code, inv in rows}
        # the first question went at turn 1, and each press takes the turn of the message it is on
        plan = [(p, [f"a:{invitation[n]}.{k + 1}:{CODES[k]}:4" for k in range(presses)]) for n, p in enumerate(people)]
        done, seconds = await press_through(plan)
        async with UnitOfWork(database, read_only=True) as uow:
            stored = await uow.connection.scalar(select(func.count(AnswerRow.id)))
        await database.close()
    finally:
        service.send_signal(signal.SIGTERM)
        await asyncio.to_thread(service.wait, 60)
    assert stored == done, f"{stored} answers stored for {done} presses"
    print(f"service: {done} presses in {seconds:.2f} s = {done / seconds:.1f} presses/s (all {stored} committed)")
    return people, done / seconds


def bare_server(api_url: str, port: int) -> None:
    """The bare bot, run in its own process: answers callback queries, nothing else."""

    async def answer(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("Đã ghi nhận.")

    async def serve() -> None:
        application = ApplicationBuilder().token(TOKEN).base_url(api_url).updater(None).concurrent_updates(True).build()
        application.add_handler(CallbackQueryHandler(answer))

        async def webhook(request: web.Request) -> web.Response:
            if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
                return web.Response(status=403)
            await application.process_update(Update.de_json(await request.json(), application.bot))
            return web.Response()

        await start_webhook(port, webhook, "/webhook")
        async with application:
            await application.bot.set_webhook(f"http://127.0.0.1:{port}/webhook", secret_token=SECRET)
            await asyncio.Event().wait()

    asyncio.run(serve())


async def bare(emulator: TelegramEmulator, people: list[Person], presses: int) -> float:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.telegram_inbound", "--bare-server", emulator.api_url, str(port)],
        env={**os.environ, "PTB_TIMEDELTA": "true"},
    )
    try:
        await healthy(f"http://127.0.0.1:{port}/healthz", process)
        await emulator.wait_for(lambda e: e.webhook is not None and str(port) in str(e.webhook), timeout=30)
        plan: list[tuple[Person, list[str]]] = [
            (p, [f"bare:{n}:{k}" for k in range(presses)]) for n, p in enumerate(people)
        ]
        done, seconds = await press_through(plan)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
    print(f"bare PTB application: {done} presses in {seconds:.2f} s = {done / seconds:.1f} presses/s")
    return done / seconds


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{directory}/inbound.db"
        print(
            f"database: {url.split('://')[0]}; {args.people} people x {args.presses} presses; "
            f"{args.connections} webhook connections"
        )
        async with TelegramEmulator(
            token=TOKEN, enforce_limits=False, callback_max_age=None, webhook_concurrency=args.connections
        ) as emulator:
            people, service_rate = await ours(emulator, url, args.people, args.presses, args.connections)
            bare_rate = await bare(emulator, people, args.presses)
    print(f"ratio service / bare = {service_rate / bare_rate:.2f}  (target >= 0.50)")


if __name__ == "__main__":
    parser = webhook_bench_arguments(__doc__, "--presses", "webhook deliveries in flight")
    parser.add_argument("--bare-server", nargs=2, metavar=("API_URL", "PORT"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.bare_server:
        bare_server(arguments.bare_server[0], int(arguments.bare_server[1]))
    else:
        asyncio.run(main(arguments))
