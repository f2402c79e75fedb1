"""Test helpers: sample dossiers, and a person who chats through the real handlers and outbox."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.channels.base import Delivery
from bot.outbox import Outbox
from handlers.admin.units import UnitHandler
from handlers.chat.dispatcher import ChatDispatcher
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
