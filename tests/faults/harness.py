"""Processes, a load balancer and a fixture population for the fault suite (tests/faults/)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert, select

from storage.db import Database
from storage.models import OutboxRow
from storage.tables.dossiers import DOSSIERS
from storage.tables.people import CHATS, PEOPLE
from storage.tables.survey import INVITATIONS
from storage.tables.units import FIELDS, UNITS
from tests.telegram_service import free_port

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")


@dataclass
class Process:
    """One `sipasbot run` that can be SIGKILLed and started again on the same port."""

    name: str
    role: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**self.env, "SIPAS_HTTP_PORT": str(self.port)}
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen([SIPASBOT, "run", "--role", self.role], env=env, stdout=sink, stderr=sink)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(self.process.wait, 30)
            self.kills += 1

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                await self.kill()

    async def ready(self, seconds: float = 60.0) -> None:
        """Wait until the process answers /healthz (with any status: it may not deliver itself)."""
        async with aiohttp.ClientSession() as session, asyncio.timeout(seconds):
            while True:
                if not self.alive:
                    raise RuntimeError(f"{self.name} stopped: see {self.log}")
                try:
                    async with session.get(self.url + "/healthz") as response:
                        await response.read()
                        return
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)


def environment(database_url: str, telegram_api: str, public_url: str, token: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=database_url,
        SIPAS_PUBLIC_URL=public_url,
        SIPAS_TELEGRAM_TOKEN=token,
        SIPAS_TELEGRAM_API_URL=telegram_api,
        SIPAS_TELEGRAM_MODE="webhook",
        SIPAS_TELEGRAM_WEBHOOK_SECRET=secret,
        SIPAS_TELEGRAM_RATE="250",
        SIPAS_TELEGRAM_CHAT_INTERVAL="0.1",
        SIPAS_TELEGRAM_WEBHOOK_CONNECTIONS="40",
        SIPAS_SURVEY_DELAY_MINUTES="0",
        SIPAS_SURVEY_TICK_SECONDS="1",
        SIPAS_QUIET_HOURS="",
        SIPAS_LOCK_RETRY_SECONDS="1",
        PTB_TIMEDELTA="true",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Balancer:
    """The load balancer in front of the web instances: round robin, the next one when one is down."""

    targets: list[Process]
    port: int = field(default_factory=free_port)
    forwarded: int = 0
    refused: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._turn = itertools.cycle(range(len(self.targets)))
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        first = next(self._turn)
        for offset in range(len(self.targets)):
            target = self.targets[(first + offset) % len(self.targets)]
            try:
                async with self._session.request(
                    request.method,
                    target.url + request.path_qs,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as response:
                    content = await response.read()
                    self.forwarded += 1
                    return web.Response(body=content, status=response.status, content_type=response.content_type)
            except (aiohttp.ClientError, TimeoutError):
                continue  # that instance is down (or died mid-request): the next one
        self.refused += 1
        return web.Response(status=502, text="no web instance answered")


async def populate(database_url: str, people: int, first_user: int, form: str = "sipas-nhanh") -> list[int]:
    """A unit whose ``people`` citizens linked their Telegram chats and got their results a minute ago.

    Written in bulk: the setup is not what is tested. Each has a pending invitation that is due now; the
    chat ids are ``first_user + n``.
    """
    now = datetime.now(UTC)
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.execute(insert(UNITS).values(id=1, code="P8", name="Phường 8", form_id=form, created_at=now))
        await connection.execute(insert(FIELDS).values(id=1, name="Hộ tịch"))
        rows: dict[str, list[dict[str, Any]]] = {"people": [], "chats": [], "dossiers": [], "invitations": []}
        for n in range(people):
            rows["people"].append({"id": n + 1, "name": f"Người dân {n}", "locale": "vi", "created_at": now})
            rows["chats"].append(
                {
                    "id": n + 1,
                    "channel": "telegram",
                    "external_id": str(first_user + n),
                    "person_id": n + 1,
                    "status": "active",
                    "locale": "vi",
                    "consent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rows["dossiers"].append(
                {
                    "id": n + 1,
                    "code": f"P8-{n:05d}",
                    "unit_id": 1,
                    "procedure_name": "Đăng ký khai sinh",
                    "field": "Hộ tịch",
                    "field_id": 1,
                    "channel": "truc_tiep",
                    "applicant_id": n + 1,
                    "state": "returned",
                    "received_at": now - timedelta(days=3),
                    "due_at": now + timedelta(days=1),
                    "finished_at": now - timedelta(minutes=2),
                    "returned_at": now - timedelta(minutes=1),
                    "on_time": True,
                    "zalo_optin": False,
                    "optin_token": f"fault-{n:06d}",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rows["invitations"].append(
                {
                    "id": n + 1,
                    "dossier_id": n + 1,
                    "person_id": n + 1,
                    "unit_id": 1,
                    "form_id": form,
                    "form_version": 1,
                    "status": "pending",
                    "scheduled_at": now - timedelta(seconds=30),
                    "expires_at": now + timedelta(days=7),
                    "created_at": now,
                }
            )
        await connection.execute(insert(PEOPLE), rows["people"])
        await connection.execute(insert(CHATS), rows["chats"])
        await connection.execute(insert(DOSSIERS), rows["dossiers"])
        await connection.execute(insert(INVITATIONS), rows["invitations"])
        if database.dialect == "postgresql":
            from sqlalchemy import text

            for table in ("units", "fields", "people", "channel_identities", "dossiers", "invitations"):
                await connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    await database.close()
    return [first_user + n for n in range(people)]


async def outbox_of(database_url: str, recipient: str) -> str:
    """What the outbox holds for one chat, one line per message (to explain a person left waiting)."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                select(
                    OutboxRow.id,
                    OutboxRow.status,
                    OutboxRow.attempts,
                    OutboxRow.not_before,
                    OutboxRow.sent_at,
                    OutboxRow.last_error,
                    OutboxRow.payload,
                )
                .where(OutboxRow.recipient == recipient)
                .order_by(OutboxRow.id)
            )
            lines = []
            for id_, status, attempts, not_before, sent_at, error, payload in rows:
                when = f"sent {sent_at:%H:%M:%S}" if sent_at else f"not before {not_before:%H:%M:%S}, error {error!r}"
                text = str(payload.get("text"))[:24]
                lines.append(f"  outbox {id_} {status}, {attempts} failed tries, {when}: {text!r}")
            return "\n".join(lines)
    finally:
        await database.close()
