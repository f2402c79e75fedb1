"""The Zalo Bot platform end to end: the real service and our aiohttp client over loopback HTTP to the emulator."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.channels.zalo_bot import ZaloBotChannel, ZaloBotConfig, to_inbound
from handlers.chat.dispatcher import ChatDispatcher
from handlers.chat.inbox import Inbox
from handlers.context import Services
from handlers.messages import Inbound, Option, Outcome, Reply
from scheduler.jobs import Jobs
from storage.db import Database
from storage.models import InboundEventRow, InboxRow, OutboxRow
from storage.uow import UnitOfWork
from storage.values import KeptUpdate
from tests.conftest import Backend, Clock
from tests.emulators.zalo_bot import Person, ZaloBotEmulator
from tests.telegram_service import RunningService, running

TOKEN = "1459232241454765289:secret-abc"
SECRET = "mykey-abcxyz"
LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]


def bot_settings(emu: ZaloBotEmulator, mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "zalo_bot_token": TOKEN,
        "zalo_bot_api_url": emu.api_url,
        "zalo_bot_mode": mode,
        "zalo_bot_webhook_secret": SECRET,
        "zalo_bot_rate": 300.0,
        "zalo_chat_interval": 0.02,
        "survey_tick_seconds": 0.2,
        **extra,
    }


@asynccontextmanager
async def bot_service(url: str, mode: str, **emulator: Any) -> AsyncIterator[tuple[ZaloBotEmulator, RunningService]]:
    """The Zalo Bot emulator and the service talking to it."""
    async with ZaloBotEmulator(token=TOKEN, **emulator) as emu, running(url, **bot_settings(emu, mode)) as service:
        yield emu, service


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def today_window() -> tuple[Any, Any]:
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    return today - timedelta(days=1), today + timedelta(days=1)


def without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def typed(level: int, style: int) -> str:
    """One way of typing a rating level: its number, its label, without accents, in capitals."""
    label = LEVELS[level - 1]
    return [str(level), label, without_accents(label).lower(), label.upper()][style % 4]


async def link(person: Person, token: str) -> None:
    """Send the receipt's code, agree to the notice by typing."""
    await person.send_text(f"/start {token}")
    await person.wait_for(lambda p: "1. Đồng ý" in p.last.text)
    assert person.texts[-1].startswith("Kính gửi Ông/Bà,") or person.texts[-2].startswith("Kính gửi Ông/Bà,")
    await person.send_text("đồng ý")
    await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))


async def answer_everything(person: Person, index: int) -> dict[int, int]:
    """Type an answer to each of the 33 questions; the rating levels given."""
    given: dict[int, int] = {}
    await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=60)
    for number in range(1, 34):
        question = person.last.text
        assert question.startswith(f"Câu {number}/33"), question
        assert "  1. " in question or number == 33, question
        if "  5. Rất hài lòng" in question:
            level = (index + number) % 5 + 1
            given[number] = level
            await person.send_text(typed(level, index + number))
        elif number == 33:  # the comment
            await person.send_text("bỏ qua" if index % 2 else "0")
        else:
            await person.send_text("1")
        done = f"Câu {number + 1}/33" if number < 33 else "Trân trọng cảm ơn"
        await person.wait_for(lambda p, done=done: p.last.text.startswith(done), timeout=60)
    return given


async def count(service: RunningService, column: Any) -> int:
    async with service.app.services.uow(read_only=True) as uow:
        return int(await uow.connection.scalar(select(func.count(column))))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_fifty_people_answer_by_typing_numbers_and_labels(backend: Backend, mode: str) -> None:
    async with bot_service(backend.url, mode, default_poll_timeout=1.0) as (emu, service):
        people: list[Person] = []
        for number in range(50):
            body = await service.put_dossier(
                f"P8-261118-{number:04d}",
                f"Người dân {number}",
                received=now_iso(-timedelta(days=3)),
                due=now_iso(timedelta(days=2)),
            )
            people.append(emu.person(f"6ede9afa66b88fe6{number:04x}", display_name=f"Dân {number}"))
            await link(people[-1], body["optin"]["token"])
        for number in range(50):
            await service.event(f"P8-261118-{number:04d}", "returned", now_iso(-timedelta(minutes=1)))
        results = await asyncio.gather(*(answer_everything(p, n) for n, p in enumerate(people)))

        report = await service.report(*today_window())
        for position, criterion in enumerate(report["criteria"], start=1):
            expected = Counter(result[position] for result in results if position in result)
            assert criterion["counts"] == {str(level): expected.get(level, 0) for level in range(1, 6)}
            assert criterion["n"] == 50
        assert report["surveys"]["completed"] == 50
        assert report["surveys"]["offered"] == 50
        for person in people:
            assert sum(text.startswith("Phiếu khảo sát sự hài lòng") for text in person.texts) == 1
            assert all(len(text) <= 2000 for text in person.texts)
        assert emu.stats.errors_given == 0
        if mode == "webhook":
            assert emu.webhook is not None
            assert emu.webhook.url == service.base_url + "/webhooks/zalo-bot"


async def test_webhook_needs_the_secret_takes_both_envelopes_and_a_redelivery_changes_nothing(
    backend: Backend,
) -> None:
    async with ZaloBotEmulator(token=TOKEN) as emu, running(backend.url, **bot_settings(emu, "webhook")) as service:
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        message = {
            "from": {"id": "6ede9afa66b88fe6d6a9", "display_name": "Ted", "is_bot": False},
            "chat": {"id": "6ede9afa66b88fe6d6a9", "chat_type": "PRIVATE"},
            "text": f"/start {body['optin']['token']}",
            "message_id": "2d758cb5e222177a4e35",
            "date": 1750316131602,
        }
        flat = {"event_name": "message.text.received", "message": message}
        url = service.base_url + "/webhooks/zalo-bot"
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"X-Bot-Api-Secret-Token": "wrong-secret"}):
                async with session.post(url, json=flat, headers=headers) as response:
                    assert response.status == 403
                    assert (await response.json())["error"]["code"] == "forbidden"
            assert await count(service, InboundEventRow.id) == 0
            good = {"X-Bot-Api-Secret-Token": SECRET}
            for update in (flat, {"ok": True, "result": flat}, flat):
                async with session.post(url, json=update, headers=good) as response:
                    assert response.status == 200
            async with session.post(url, data=b"{not json", headers=good) as response:
                assert response.status == 400
        assert await count(service, InboundEventRow.id) == 1
        assert await count(service, OutboxRow.id) == 1  # one consent notice


async def test_a_long_reply_is_cut_into_parts_of_at_most_2000_characters() -> None:
    async with ZaloBotEmulator(token=TOKEN) as emu:
        person = emu.person("6ede9afa66b88fe6d6a9", display_name="An")
        await person.send_text("xin chào")  # the platform lets a bot write only to someone who wrote first
        channel = ZaloBotChannel(ZaloBotConfig(token=TOKEN, api_url=emu.api_url), on_inbound=_unused)
        paragraphs = [f"Đoạn {n}: " + "Cán bộ hướng dẫn tận tình, chu đáo. " * 12 for n in range(10)]
        text = "\n\n".join(p.strip() for p in paragraphs)  # 4,500 characters
        reply = Reply(text, options=(Option("a:1", "Hài lòng", 1), Option("a:2", "Rất hài lòng", 2)))
        try:
            delivery = await channel.send(person.chat_id, reply)
        finally:
            await channel.stop()
        assert delivery.status == "delivered"
        parts = person.texts
        assert len(parts) == 3
        assert all(len(part) <= 2000 for part in parts)
        assert parts[0].startswith("Đoạn 0:")
        assert parts[-1].endswith("2. Rất hài lòng")
        assert " ".join(" ".join(parts).split()).startswith(" ".join(text.split()))
        assert emu.stats.errors_given == 0


async def _unused(inbound: Inbound) -> Outcome:
    raise AssertionError("nothing comes in here")


@pytest.mark.parametrize(
    "message",
    [
        {"chat": {"id": {"nested": 1}}, "message_id": "m1"},
        {"chat": {"id": "c 1"}, "message_id": "m1"},
        {"chat": {"id": "c1"}, "message_id": None},
    ],
)
def test_an_update_whose_chat_or_ids_are_not_what_they_should_be_is_not_acted_on(message: dict[str, Any]) -> None:
    # a chat that is a string, a sender that is a list: AttributeError before, a 500 on the webhook
    assert to_inbound({"event_name": "message.text.received", "message": message}) is None


@pytest.mark.parametrize(
    ("message", "chat_id"),
    [
        (
            {"chat": "6ede9afa66b88fe6d6a9", "from": {"id": "6ede9afa66b88fe6d6a9"}, "message_id": "m1"},
            "6ede9afa66b88fe6d6a9",
        ),
        ({"chat": {"id": "c1"}, "from": ["not", "an", "object"], "message_id": "m1"}, "c1"),
    ],
)
def test_a_chat_or_sender_that_is_not_an_object_is_read_as_absent(message: dict[str, Any], chat_id: str) -> None:
    # AttributeError before (a 500 on the webhook): now the other one of the two says who wrote
    inbound = to_inbound({"event_name": "message.text.received", "message": message})
    assert inbound is not None
    assert inbound.identity.external_id == chat_id


def test_a_text_that_is_not_a_string_reads_as_empty_and_nul_characters_are_dropped() -> None:
    base = {"chat": {"id": "c1"}, "from": {"id": "c1"}, "message_id": "m1"}
    listed = to_inbound({"event_name": "message.text.received", "message": {**base, "text": ["1"]}})
    assert listed is not None
    assert listed.text == ""
    nul = to_inbound(
        {"ok": True, "result": {"event_name": "message.text.received", "message": {**base, "text": "a\x00b"}}}
    )
    assert nul is not None
    assert nul.text == "ab"


async def kept_count(url: str, chat_id: str | None = None) -> int:
    database = Database(url)
    try:
        async with UnitOfWork(database, read_only=True) as uow:
            query = select(func.count(InboxRow.id))
            if chat_id is not None:
                query = query.where(InboxRow.chat_id == chat_id)
            return int(await uow.connection.scalar(query))
    finally:
        await database.close()


async def keep(url: str, update: dict[str, Any], *, failed: bool = False, at: datetime | None = None) -> None:
    """Put an update in the inbox as the poller does when it reads one (``failed``: set aside)."""
    message = update["message"]
    database = Database(url)
    try:
        async with UnitOfWork(database) as uow:
            now = at or datetime.now(UTC)
            kept_id = await uow.inbox.keep("zalo_bot", message["message_id"], message["chat"]["id"], update, now)
            assert kept_id is not None
            if failed:
                await uow.inbox.failed(kept_id, "RuntimeError: a defect", now)
            await uow.commit()
    finally:
        await database.close()


async def test_updates_kept_but_not_handled_are_handled_first_at_start_and_a_handled_one_changes_nothing(
    backend: Backend,
) -> None:
    async with ZaloBotEmulator(token=TOKEN, default_poll_timeout=1.0) as emu:
        person = emu.person("6ede9afa66b88fe6d6a9", display_name="An")
        async with running(backend.url, **bot_settings(emu, "polling")) as service:
            body = await service.put_dossier("P8-1", "Nguyễn Văn An")
            await person.send_text(f"/start {body['optin']['token']}")
            await person.wait_for(lambda p: "1. Đồng ý" in p.last.text)
            consent = await person.send_text("đồng ý")
            await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))
        assert await kept_count(backend.url) == 0  # a handled update is not kept
        # a stop left in the inbox: the consent, handled already (kept again), and a help request never handled
        help_request = copy.deepcopy(consent)
        help_request["message"].update(message_id="8f1c0a2b3d4e5f607182", text="/trogiup")
        await keep(backend.url, consent)
        await keep(backend.url, help_request)
        seen = len(person.texts)
        async with running(backend.url, **bot_settings(emu, "polling")):
            await person.wait_for(lambda p: len(p.texts) > seen, timeout=30)
            assert "/khaosat" in person.last.text  # the help text, though the platform never gave it again
        assert len(person.texts) == seen + 1  # the consent was not taken twice
        assert sum("đã được liên kết" in text for text in person.texts) == 1
        assert await kept_count(backend.url) == 0


async def test_erasure_deletes_what_the_inbox_kept_from_the_chat(backend: Backend) -> None:
    async with (
        ZaloBotEmulator(token=TOKEN, default_poll_timeout=1.0) as emu,
        running(backend.url, **bot_settings(emu, "polling")) as service,
    ):
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        an = emu.person("6ede9afa66b88fe6d6a9", display_name="An")
        await link(an, body["optin"]["token"])
        words = await an.send_text("Cán bộ Nguyễn Thị Bình hướng dẫn tận tình")
        await an.wait_for(lambda p: len(p.texts) >= 3)
        other = copy.deepcopy(words)
        other["message"].update(message_id="9a9a9a9a9a9a9a9a9a9a", chat={"id": "1111aaaa2222bbbb3333"})
        for update, message_id in ((words, "7b7b7b7b7b7b7b7b7b7b"), (other, "9a9a9a9a9a9a9a9a9a9a")):
            update["message"]["message_id"] = message_id
            await keep(backend.url, update, failed=True)  # set aside: a defect stopped its handling
        await an.send_text("/xoadulieu")
        await an.wait_for(lambda p: p.last.text.startswith("Ông/Bà muốn xoá dữ liệu cá nhân?"))
        await an.send_text("1")
        await an.wait_for(lambda p: p.last.text.startswith("Dữ liệu cá nhân của Ông/Bà đã được xoá"))
        assert await kept_count(backend.url, an.chat_id) == 0
        assert await kept_count(backend.url) == 1  # another chat's stays


async def test_failed_kept_updates_are_purged_by_housekeeping_after_seven_days(
    backend: Backend, services: Services, clock: Clock
) -> None:
    def update(message_id: str) -> dict[str, Any]:
        chat = {"id": "6ede9afa66b88fe6d6a9", "chat_type": "PRIVATE"}
        message = {"chat": chat, "from": chat, "text": "1", "message_id": message_id, "date": 1750316131602}
        return {"event_name": "message.text.received", "message": message}

    await keep(backend.url, update("old-failed"), failed=True, at=clock() - timedelta(days=8))
    await keep(backend.url, update("new-failed"), failed=True, at=clock() - timedelta(days=6))
    await keep(backend.url, update("old-pending"), at=clock() - timedelta(days=8))
    assert await Jobs(services, "instance-a").housekeeping()
    async with services.uow(read_only=True) as uow:
        left = set((await uow.connection.execute(select(InboxRow.update_id))).scalars())
    assert left == {"new-failed", "old-pending"}  # never-handled updates are not purged: they are handled first


async def test_in_webhook_mode_what_polling_left_in_the_inbox_is_handled_at_start(backend: Backend) -> None:
    async with ZaloBotEmulator(token=TOKEN) as emu:
        person = emu.person("6ede9afa66b88fe6d6a9", display_name="An", has_written=True)
        chat = {"id": person.chat_id, "chat_type": "PRIVATE"}
        sender = {"id": person.chat_id, "display_name": "An", "is_bot": False}
        message = {"from": sender, "chat": chat, "text": "/trogiup", "message_id": "5c5c5c5c5c5c5c5c5c5c", "date": 1}
        await keep(backend.url, {"event_name": "message.text.received", "message": message})
        async with running(backend.url, **bot_settings(emu, "webhook")):
            await person.wait_for(lambda p: bool(p.texts), timeout=30)
            assert "/khaosat" in person.last.text
        assert await kept_count(backend.url) == 0


async def test_an_update_whose_handling_fails_is_set_aside_and_the_next_ones_are_handled(
    backend: Backend, services: Services
) -> None:
    citizens = ChatDispatcher(services)

    async def handle(inbound: Inbound) -> Outcome:
        if inbound.text == "lỗi":
            raise RuntimeError("a defect")
        return await citizens.handle(inbound)

    async with ZaloBotEmulator(token=TOKEN, default_poll_timeout=0.5) as emu:
        person = emu.person("6ede9afa66b88fe6d6a9", display_name="An")
        config = ZaloBotConfig(token=TOKEN, api_url=emu.api_url, poll_timeout_seconds=0.5)
        channel = ZaloBotChannel(config, handle, Inbox(services, "zalo_bot"))
        stop = asyncio.Event()
        polling = asyncio.create_task(channel.poll(stop))
        try:
            await person.send_text("lỗi")
            await person.send_text("/trogiup")
            # one update per call, each handled before the next call: the third call comes after both
            await emu.wait_for(lambda e: not e.pending_updates and e.stats.requests["getUpdates"] >= 3)
        finally:
            stop.set()
            await polling
            await channel.stop()
    async with services.uow(read_only=True) as uow:
        kept = (await uow.connection.execute(select(InboxRow.payload, InboxRow.error, InboxRow.failed_at))).all()
        replies = list((await uow.connection.execute(select(OutboxRow.payload))).scalars())
    assert [(row.payload["message"]["text"], row.error) for row in kept] == [("lỗi", "RuntimeError: a defect")]
    assert kept[0].failed_at is not None
    assert len(replies) == 1
    assert "/khaosat" in replies[0]["text"]  # the help asked for after the failed one


class Outage(Inbox):
    """The inbox, on a database that cannot be opened until ``back`` is set."""

    def __init__(self, services: Services, broken: Services) -> None:
        super().__init__(services, "zalo_bot")
        self.broken = Inbox(broken, "zalo_bot")
        self.back = asyncio.Event()
        self.refusals = 0
        self.refused = asyncio.Event()

    async def keep(self, update_id: str, chat_id: str, update: dict[str, Any]) -> KeptUpdate | None:
        if self.back.is_set():
            return await super().keep(update_id, chat_id, update)
        self.refusals += 1
        self.refused.set()
        return await self.broken.keep(update_id, chat_id, update)  # raises: the database file cannot be opened


async def test_an_update_read_while_the_database_is_down_is_kept_once_it_is_back_and_nothing_more_is_read(
    backend: Backend, services: Services, tmp_path: Path
) -> None:
    (tmp_path / "gone").mkdir()
    broken = dataclasses.replace(services, database=Database(f"sqlite+aiosqlite:///{tmp_path}/gone/sipasbot.db"))
    (tmp_path / "gone").rmdir()  # the database file can no longer be opened
    inbox = Outage(services, broken)
    async with ZaloBotEmulator(token=TOKEN, default_poll_timeout=0.5) as emu:
        person = emu.person("6ede9afa66b88fe6d6a9", display_name="An")
        config = ZaloBotConfig(token=TOKEN, api_url=emu.api_url, poll_timeout_seconds=0.5)
        channel = ZaloBotChannel(config, ChatDispatcher(services).handle, inbox)
        stop = asyncio.Event()
        polling = asyncio.create_task(channel.poll(stop))
        try:
            await person.send_text("/trogiup")
            await asyncio.wait_for(inbox.refused.wait(), timeout=10)
            await person.send_text("xin chào")  # not read while the one in hand cannot be kept
            reads = emu.stats.updates_delivered
            inbox.back.set()
            await emu.wait_for(lambda e: not e.pending_updates and e.stats.requests["getUpdates"] >= 3, timeout=20)
        finally:
            stop.set()
            await polling
            await channel.stop()
            await broken.database.close()
    assert reads == 1
    async with services.uow(read_only=True) as uow:
        replies = list((await uow.connection.execute(select(OutboxRow.payload).order_by(OutboxRow.id))).scalars())
        kept = await uow.connection.scalar(select(func.count(InboxRow.id)))
    assert "/khaosat" in replies[0]["text"]  # the help asked for during the outage
    assert len(replies) == 2
    assert kept == 0
