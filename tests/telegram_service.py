"""Running the real service in-process against the platform emulators, for integration tests."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.app import App
from bot.config import load_settings
from bot.service import Service
from scheduler.jobs import Jobs
from storage.models import InboundEventRow, OutboxRow
from tests.emulators.telegram import TelegramEmulator

TOKEN = "123456:TEST-token"
SECRET = "s3cr3t_Token-1"
PACE = {"telegram_rate": 150.0, "telegram_chat_interval": 0.1}  # the emulator enforces 10/s per chat, 160/s overall


# Ports handed to a process that binds them later (a `sipasbot run`, the service's web server): below the range the
# system hands out for port 0, so no emulator or client socket takes one meanwhile, and a range of its own for each
# test worker (pytest-xdist), so two tests running at once never get the same one.
_PORT_SPAN = 2500
_next_port = itertools.count()


def free_port() -> int:
    """A port free now, that no other test of this run will be given."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = 20000 + (int(worker) if worker.isdigit() else 0) % 4 * _PORT_SPAN
    for _ in range(_PORT_SPAN):
        port = base + next(_next_port) % _PORT_SPAN
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken (a process of an earlier test still holds it, or another program)
            return port
    raise RuntimeError("no free port in this worker's range")


class RunningService:
    """The service, its HTTP address, an API key, and helpers to call the REST API."""

    def __init__(self, service: Service, base_url: str, key: str, session: aiohttp.ClientSession) -> None:
        self.service = service
        self.app = service.app
        self.base_url = base_url
        self.key = key
        self.session = session

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, self.base_url + path, json=body, headers={"Authorization": f"Bearer {self.key}"}
        ) as response:
            return response.status, await response.json()

    async def put_dossier(
        self,
        code: str,
        name: str,
        received: str = "2026-11-10T09:00:00+07:00",
        due: str = "2026-11-20",
        field: str = "Hộ tịch",
        phone: str | None = None,
        zalo_optin: bool = False,
        handler: str | None = None,
    ) -> dict[str, Any]:
        applicant = {"name": name, **({"phone": phone} if phone else {})}
        status, body = await self.api(
            "PUT",
            f"/api/v1/dossiers/{code}",
            {
                "unit": "P8",
                "procedure": "Đăng ký khai sinh",
                "field": field,
                "applicant": applicant,
                "received_at": received,
                "due_at": due,
                "channel": "truc_tiep",
                "zalo_optin": zalo_optin,
                **({"handler": handler} if handler else {}),
            },
        )
        assert status in (200, 201), body
        return body  # type: ignore[no-any-return]

    async def event(self, code: str, type_: str, at: str) -> dict[str, Any]:
        status, body = await self.api("POST", f"/api/v1/dossiers/{code}/events", {"type": type_, "at": at})
        assert status == 202, body
        return body  # type: ignore[no-any-return]

    @property
    def jobs(self) -> Jobs:
        """The scheduler's jobs of this instance (it leads): a test runs one now, as the scheduler would."""
        jobs = self.service.work.jobs
        assert jobs is not None, "this instance does not lead: its scheduler does not run"
        return jobs

    async def settled(self, inbound: int = 0, seconds: float = 20.0) -> None:
        """Until every message due in the outbox has had its outcome (none pending now), and at least ``inbound``
        platform updates were handled: what the service had to do by now is done, however long it took."""
        services = self.app.services
        async with asyncio.timeout(seconds):
            while True:
                async with services.uow(read_only=True) as uow:
                    due = await uow.connection.scalar(
                        select(func.count(OutboxRow.id)).where(
                            OutboxRow.status == "pending", OutboxRow.not_before <= services.clock()
                        )
                    )
                    handled = await uow.connection.scalar(select(func.count(InboundEventRow.id)))
                if not due and (handled or 0) >= inbound:
                    return
                await asyncio.sleep(0.05)  # the database is another component: no event tells when it changed

    async def report(self, start: date, end: date, form: str | None = None) -> dict[str, Any]:
        query = f"unit=P8&from={start.isoformat()}&to={end.isoformat()}" + (f"&form={form}" if form else "")
        status, body = await self.api("GET", f"/api/v1/reports/satisfaction?{query}")
        assert status == 200, body
        return body  # type: ignore[no-any-return]


@asynccontextmanager
async def running(
    database_url: str, clock: Callable[[], datetime] | None = None, role: str = "all", **settings: Any
) -> AsyncIterator[RunningService]:
    """``sipasbot run`` in this process with ``settings`` (the channels they configure); stopped on exit."""
    port = free_port()
    values: dict[str, Any] = {
        "database_url": database_url,
        "http_port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "survey_delay_minutes": 0,
        "quiet_hours": "",
        **settings,
    }
    app = App(load_settings(**values), **({"clock": clock} if clock else {}))
    service = Service(app, instance=f"test-{port}", role=role)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    ready = asyncio.create_task(service.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # raises what stopped it
    if not await app.units.exists("P8"):
        await app.units.add("P8", "Phường 8")
    key = await app.api_keys.create("test", ["dossiers:write", "reports:read"], ["all"])
    async with aiohttp.ClientSession() as session:
        try:
            yield RunningService(service, f"http://127.0.0.1:{port}", key, session)
        finally:
            stop.set()
            await task


@asynccontextmanager
async def running_service(
    database_url: str,
    emulator: TelegramEmulator,
    mode: str = "polling",
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> AsyncIterator[RunningService]:
    """``sipasbot run`` in this process, talking to the Telegram ``emulator``; stopped on exit."""
    telegram: dict[str, Any] = {
        "telegram_token": TOKEN,
        "telegram_api_url": emulator.api_url,
        "telegram_mode": mode,
        "telegram_webhook_secret": SECRET,
        **PACE,
    }
    async with running(database_url, clock, **{**telegram, **settings}) as service:
        yield service
