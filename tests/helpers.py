"""Test helpers: sample dossiers, and a person who chats through the real handlers and outbox."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, select

from bot.app import App
from bot.channels.base import Delivery
from bot.outbox import Outbox
from handlers.admin.units import UnitHandler
from handlers.chat.dispatcher import ChatDispatcher
from handlers.clock import ManualClock
from handlers.context import Services
from handlers.intake.dossiers import ContactInput, DossierHandler, DossierInput
from handlers.messages import Identity, Inbound, Outcome, Reply

_event_ids = itertools.count(1)


class RecordingChannel:
    """A channel that keeps what it was asked to send, per recipient (a fake transport, not a mock)."""

    def __init__(self, name: str = "console") -> None:
        self.name = name
        self.sent: dict[str, list[Reply]] = {}

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        self.sent.setdefault(recipient, []).append(reply)
        return Delivery("delivered", platform_message_id=str(len(self.sent[recipient])))


def vietnam_today() -> date:
    """Today where the units are: the shell and the CLI use the deployment's time zone, not the machine's."""
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


def sample_dossier(
    code: str = "P8-261118-0001",
    unit: str = "P8",
    received_at: datetime | None = None,
    due_at: datetime | None = None,
    phone: str | None = "0912 345 678",
    name: str = "Nguyễn Văn An",
    representative: ContactInput | None = None,
    field: str = "Hộ tịch",
) -> DossierInput:
    received = received_at or datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    return DossierInput(
        code=code,
        unit=unit,
        procedure="Đăng ký khai sinh",
        procedure_code="1.001193",
        field=field,
        applicant=ContactInput(name=name, phone=phone),
        representative=representative,
        received_at=received,
        due_at=due_at or received + timedelta(days=5),
        channel="truc_tiep",
        handler="Trần Thị Bình",
    )


async def add_unit(services: Services, code: str = "P8", name: str = "Phường 8", parent: str | None = None) -> None:
    await UnitHandler(services).add(code, name, parent)


async def returned_dossier(services: Services, data: DossierInput, returned_at: datetime) -> str:
    """A dossier resolved and returned at ``returned_at``; its opt-in token."""
    handler = DossierHandler(services)
    result = await handler.upsert(data)
    await handler.add_event(data.code, "result_ready", returned_at - timedelta(hours=1))
    await handler.add_event(data.code, "returned", returned_at)
    return result.dossier.optin_token


class Person:
    """Someone in a chat: types, presses what they were shown, and sees what the outbox delivers."""

    def __init__(self, services: Services, external_id: str, channel: str = "console") -> None:
        self.services = services
        self.identity = Identity(channel, external_id)
        self.handler = ChatDispatcher(services)
        self.channel = RecordingChannel(channel)
        self.outbox = Outbox(services, {channel: self.channel})
        self.last_outcome: Outcome | None = None

    @property
    def seen(self) -> list[Reply]:
        return self.channel.sent.get(self.identity.external_id, [])

    async def _act(self, inbound: Inbound) -> list[Reply]:
        before = len(self.seen)
        self.last_outcome = await self.handler.handle(inbound)
        await self.receive()
        return self.seen[before:]

    async def receive(self) -> list[Reply]:
        before = len(self.seen)
        while await self.outbox.deliver_pending(self.identity.channel, recipient=self.identity.external_id):
            pass
        return self.seen[before:]

    async def type(self, text: str, event_id: str | None = None) -> list[Reply]:
        return await self._act(Inbound(self.identity, event_id or f"e{next(_event_ids)}", "text", text=text))

    async def press(self, value: str, event_id: str | None = None) -> list[Reply]:
        return await self._act(Inbound(self.identity, event_id or f"e{next(_event_ids)}", "choice", value=value))

    async def press_label(self, label: str) -> list[Reply]:
        """Press the button labelled ``label`` on the latest message that has buttons."""
        for reply in reversed(self.seen):
            if reply.options:
                for option in reply.options:
                    if option.label == label:
                        return await self.press(option.value)
                raise AssertionError(f"no button {label!r} on {[o.label for o in reply.options]}")
        raise AssertionError("no message with buttons")

    async def share_contact(self, phone: str) -> list[Reply]:
        return await self._act(Inbound(self.identity, f"e{next(_event_ids)}", "contact", phone=phone))

    async def link(self, token: str) -> list[Reply]:
        """Open the receipt's link and agree to the notice."""
        await self.type(f"/start {token}")
        return await self.press_label("Đồng ý")

    @property
    def last(self) -> Reply:
        return self.seen[-1]


async def update_invitation(services: Services, code: str, **values: Any) -> None:
    """Change some fields of the invitation of dossier ``code`` (its channel, when it was sent...)."""
    async with services.uow() as uow:
        dossier = await uow.dossiers.get_by_code(code)
        assert dossier is not None
        invitation = await uow.invitations.for_dossier(dossier.id)
        assert invitation is not None
        await uow.invitations.update(invitation.id, **values)
        await uow.commit()


def without_sipas_settings(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Forget the developer's ``SIPAS_`` settings for this test; commands use the database at ``database_url``."""
    for name in [n for n in os.environ if n.startswith("SIPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIPAS_DATABASE_URL", database_url)


def in_process_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str
) -> Callable[..., tuple[int, str, str]]:
    """``sipasbot …`` run in this process on ``database_url``: a function giving (exit status, stdout, stderr)."""
    from bot.cli import main

    without_sipas_settings(monkeypatch, database_url)

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def build_database(url: str, unit: tuple[str, str], fill: Callable[[Services], Awaitable[None]]) -> None:
    """Make the database at ``url`` as it stands on 1 December 2026: ``unit`` (code, name), then what ``fill`` adds."""
    from bot.app import App
    from bot.config import load_settings
    from tests.conftest import Clock

    async def build() -> None:
        app = App(load_settings(database_url=url), clock=Clock(datetime(2026, 12, 1, 0, tzinfo=UTC)))
        await app.start()
        try:
            await app.units.add(*unit)
            await fill(app.services)
        finally:
            await app.close()

    asyncio.run(build())


async def snapshot(services: Services, models: Iterable[type[Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables of ``models``, by table name: what an action must leave unchanged, to compare."""
    async with services.uow(read_only=True) as uow:
        taken = {}
        for model in models:
            table: Table = model.__table__
            rows = await uow.connection.execute(select(table).order_by(*table.primary_key.columns))
            taken[table.name] = [tuple(row) for row in rows]
    return taken


@asynccontextmanager
async def started_app(
    database_url: str,
    clock: ManualClock,
    public_url: str = "https://sipas.example.vn",
    units: Iterable[tuple[str, ...]] = (("P8", "Phường 8"),),
) -> AsyncIterator[App]:
    """The whole service (no channel) on ``database_url`` with ``units`` (code, name[, parent]), closed at the end."""
    from bot.config import load_settings

    app = App(load_settings(database_url=database_url, public_url=public_url), clock=clock)
    await app.start()  # the database is migrated already: this must be harmless
    for unit in units:
        await app.units.add(*unit)
    yield app
    await app.close()


def write_export_with_a_bad_row(path: Path) -> None:
    """A one-stop shop's CSV export of two dossiers for P8, the second without its code (a refused row)."""
    path.write_text(
        "Mã hồ sơ,Thủ tục,Lĩnh vực,Ngày tiếp nhận,Ngày hẹn trả,Chủ hồ sơ\n"
        "P8-1,Khai sinh,Hộ tịch,10/11/2026 08:30,14/11/2026,Nguyễn Văn An\n"
        ",Khai sinh,Hộ tịch,10/11/2026 08:30,14/11/2026,Nguyễn Văn Ba\n",
        encoding="utf-8",
    )
