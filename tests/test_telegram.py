"""Telegram end to end: the real service and python-telegram-bot over loopback HTTP to the emulator."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select
from telegram import Bot, Update

from bot.channels.telegram_wire import outcome_of, to_inbound
from storage.models import AnswerRow, InboundEventRow, OutboxRow
from tests.conftest import Backend
from tests.emulators.telegram import Person, TelegramEmulator
from tests.telegram_service import SECRET, TOKEN, RunningService, running_service

LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
CONTROLS = ("Bỏ qua", "Quay lại")
SURVEY = {"survey_tick_seconds": 0.2}


def emulator() -> TelegramEmulator:
    # the service paces itself at 150/s overall and 0.1 s per chat (tests/telegram_service.py)
    return TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=10.0, global_rate=160.0)


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def link(person: Person, token: str) -> None:
    """Open the receipt's link and agree to the notice."""
    await person.send_command("/start", token)
    await person.wait_for(lambda p: "Đồng ý" in p.last.button_texts)
    assert p_text(person).startswith("Kính gửi Ông/Bà,")
    await person.press("Đồng ý")
    await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))


def p_text(person: Person) -> str:
    return person.last.text


async def answer_everything(person: Person, index: int) -> dict[str, int]:
    """Press a button on each of the 33 questions (the comment is skipped); the rating levels pressed."""
    pressed: dict[str, int] = {}
    await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=30)
    for number in range(1, 34):
        question = person.last
        assert question.text.startswith(f"Câu {number}/33"), question.text
        choices = [text for text in question.button_texts if text not in CONTROLS]
        if choices:
            label = choices[(index + number) % len(choices)]
            if choices == LEVELS:
                pressed[f"{number}"] = LEVELS.index(label) + 1
        else:
            label = "Bỏ qua"
        query = await person.press(label)
        done = f"Câu {number + 1}/33" if number < 33 else "Trân trọng cảm ơn"
        await person.wait_for(lambda p, done=done: p.last.text.startswith(done), timeout=30)
        await person.wait_for(lambda p, query=query: p.callback_answer(query).answered)
        assert person.callback_answer(query).text == "Đã ghi nhận."
    return pressed


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_fifty_people_link_and_answer_every_question_by_pressing_buttons(backend: Backend, mode: str) -> None:
    async with emulator() as emu, running_service(backend.url, emu, mode, **SURVEY) as service:
        people: list[Person] = []
        for number in range(50):
            body = await service.put_dossier(
                f"P8-261118-{number:04d}",
                f"Người dân {number}",
                received=now_iso(-timedelta(days=3)),
                due=now_iso(timedelta(days=2)),
            )
            optin = body["optin"]
            assert optin["telegram_url"] == f"https://t.me/sipas_test_bot?start={optin['token']}"
            people.append(emu.person(user_id=200_000 + number, first_name=f"Dân {number}"))
            await link(people[-1], optin["token"])
        for number in range(50):
            await service.event(f"P8-261118-{number:04d}", "returned", now_iso(-timedelta(minutes=1)))
        results = await asyncio.gather(*(answer_everything(p, n) for n, p in enumerate(people)))

        report = await service.report(*_today())
        criteria = {c["code"]: c for c in report["criteria"]}
        codes = [c["code"] for c in report["criteria"]]
        for position, code in enumerate(codes, start=1):
            expected = Counter(result[str(position)] for result in results if str(position) in result)
            assert criteria[code]["counts"] == {str(level): expected.get(level, 0) for level in range(1, 6)}, code
            assert criteria[code]["n"] == 50
        assert report["surveys"]["completed"] == 50
        assert report["surveys"]["offered"] == 50
        for person in people:  # one invitation each: one intro
            assert sum(text.startswith("Phiếu khảo sát sự hài lòng") for text in person.texts) == 1
        assert emu.stats.too_many_requests == 0


def _today() -> tuple[datetime, datetime]:
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    return today - timedelta(days=1), today + timedelta(days=1)  # type: ignore[return-value]


async def _count(service: RunningService, column: object) -> int:
    async with service.app.services.uow(read_only=True) as uow:
        return int(await uow.connection.scalar(select(func.count(column))))  # type: ignore[arg-type]


async def test_webhook_deliveries_without_the_secret_are_refused_and_a_replay_changes_nothing(
    backend: Backend,
) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "webhook", **SURVEY) as service:
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        update = {
            "update_id": 900000001,
            "message": {
                "message_id": 1,
                "from": {"id": 4242, "is_bot": False, "first_name": "An"},
                "chat": {"id": 4242, "first_name": "An", "type": "private"},
                "date": 1760000000,
                "text": f"/start {body['optin']['token']}",
                "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
            },
        }
        url = service.base_url + "/webhooks/telegram"
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with session.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
                    assert (await response.json())["error"]["code"] == "forbidden"
            assert await _count(service, InboundEventRow.id) == 0
            assert await _count(service, OutboxRow.id) == 0
            for _ in range(3):
                async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                    assert r.status == 200
            async with session.post(url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                assert r.status == 400
        assert await _count(service, InboundEventRow.id) == 1
        assert await _count(service, OutboxRow.id) == 1  # one consent notice, however often it came


async def test_a_person_who_blocked_the_bot_is_tried_once_and_never_again(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        person = emu.person(user_id=5151, first_name="An")
        await link(person, body["optin"]["token"])
        person.blocked = True  # blocked, and Telegram never told us (no my_chat_member update)
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await emu.wait_for(lambda e: e.stats.errors[403] >= 1)
        async with service.app.services.uow() as uow:
            await uow.connection.execute(OutboxRow.__table__.update().values(not_before=datetime.now(UTC)))
            await uow.commit()
        second = await service.put_dossier("P8-2", "Nguyễn Văn An")
        await service.event("P8-2", "returned", now_iso(-timedelta(minutes=1)))
        await service.jobs.surveys()  # the survey job runs again, now
        await service.settled()  # and all it queued has had its outcome: nothing more may have been tried
        assert emu.stats.errors[403] == 1
        assert second["optin"]["token"]


async def test_a_blocked_update_stops_delivery_and_an_unblock_resumes_it(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        person = emu.person(user_id=6161, first_name="An")
        await link(person, body["optin"]["token"])
        handled = await _count(service, InboundEventRow.id)
        await person.block()
        await service.settled(inbound=handled + 1)  # the block was read
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await service.jobs.surveys()  # the survey job runs, now
        await service.settled()
        assert emu.stats.errors[403] == 0  # we knew: nothing was tried
        await person.unblock()
        await person.send_command("/khaosat")
        await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"))


async def test_everything_a_person_typed_comes_back_escaped(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        person = emu.person(user_id=7171, first_name="An")
        await link(person, body["optin"]["token"])
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"))
        await person.send_text("<b>tuyệt</b> & <i>vời")
        await person.wait_for(lambda p: any("“<b>tuyệt</b> & <i>vời”" in text for text in p.texts))
        assert emu.stats.errors[400] == 0


async def test_sharing_my_own_phone_links_my_dossiers_and_someone_elses_does_not(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        status, _ = await service.api(
            "PUT",
            "/api/v1/dossiers/P8-2",
            {
                "unit": "P8",
                "procedure": "Chứng thực",
                "field": "Chứng thực",
                "applicant": {"name": "Nguyễn Văn An", "phone": "0912 345 678"},
                "received_at": now_iso(-timedelta(days=1)),
                "due_at": now_iso(timedelta(days=2)),
                "channel": "truc_tiep",
            },
        )
        assert status == 201
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        person = emu.person(user_id=8181, first_name="An")
        await link(person, body["optin"]["token"])
        assert person.contact_requested
        await person.share_contact("+84987000111", own=False)
        await person.share_contact("+84912345678")
        await person.wait_for(lambda p: any("Đã liên kết 1 hồ sơ" in text for text in p.texts))
        assert sum("Đã liên kết" in text for text in person.texts) == 1


async def test_presses_on_stale_and_forged_buttons_are_answered_and_change_nothing(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        person = emu.person(user_id=9191, first_name="An")
        await link(person, body["optin"]["token"])
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"))
        first_question = person.last
        stale = dict((text, data) for row in first_question.buttons for text, data in row)["Hài lòng"]
        await person.press("Rất hài lòng")
        await person.wait_for(lambda p: p.last.text.startswith("Câu 2/33"))
        for data in (stale, "a:99999:TC2:5", "xyz", "a:1:TC2:9"):
            assert data is not None
            query = await person.press_data(data)
            await emu.wait_for(lambda e, q=query: person.callback_answer(q).answered)
            assert (
                person.callback_answer(query).text == "Nút này không còn hiệu lực; xin Ông/Bà trả lời câu hỏi hiện tại."
            )
        async with service.app.services.uow(read_only=True) as uow:
            answers = dict((await uow.connection.execute(select(AnswerRow.question_code, AnswerRow.value))).all())
        assert answers == {"TC1": "5"}
        assert json.dumps(answers)


async def _invited(emu: TelegramEmulator, service: RunningService, user_id: int) -> Person:
    body = await service.put_dossier("P8-1", "Nguyễn Văn An")
    person = emu.person(user_id=user_id, first_name="An")
    await link(person, body["optin"]["token"])
    return person


async def test_after_a_429_nothing_is_sent_until_retry_after_has_passed(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        person = await _invited(emu, service, 1111)
        emu.flood(retry_after=1)
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await emu.wait_for(lambda e: e.stats.too_many_requests >= 1)
        flooded_at = asyncio.get_running_loop().time()
        await asyncio.sleep(0.6)
        assert emu.stats.too_many_requests == 1  # nothing else was tried during the wait
        emu.clear_flood()
        await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"))
        assert asyncio.get_running_loop().time() - flooded_at >= 1.0
        assert sum(text.startswith("Phiếu khảo sát") for text in person.texts) == 1


async def test_a_server_error_is_retried_later_and_the_message_arrives_once(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, "polling", **SURVEY) as service:
        person = await _invited(emu, service, 2222)
        emu.fail_next(1, status=502)
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=20)
        assert emu.stats.faults_injected == 1
        assert sum(text.startswith("Phiếu khảo sát") for text in person.texts) == 1


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "my_chat_member": {"chat": None, "from": {"id": 1, "is_bot": False, "first_name": "A"},
         "date": 1, "old_chat_member": None, "new_chat_member": None}},
        {"update_id": 2, "message": {"message_id": 1, "date": 1, "chat": None, "text": "hi",
         "from": {"id": 1, "is_bot": False, "first_name": "A"}}},
        {"update_id": 3, "callback_query": {"id": "q", "from": None, "chat_instance": "c", "data": "a:1:TC1:5"}},
        {"update_id": 4, "message": {"message_id": 1, "date": 1, "chat": {"id": [1], "type": "private"}, "text": "hi",
         "from": {"id": 1, "is_bot": False, "first_name": "A"}}},
        {"update_id": [4], "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"},
         "from": {"id": 1, "is_bot": False, "first_name": "A"}}},
    ],
)  # fmt: skip
def test_an_update_with_a_part_null_or_mistyped_is_not_acted_on(update: dict[str, Any]) -> None:
    # PTB builds these without checking types; reading them raised AttributeError, a 500 on the webhook
    assert to_inbound(Update.de_json(update, Bot(TOKEN))) is None


def test_a_language_code_or_text_that_is_not_a_string_is_ignored() -> None:
    user = {"id": 7, "is_bot": False, "first_name": "A", "language_code": ["vi"]}
    query = {"update_id": 5, "callback_query": {"id": "q", "from": user, "chat_instance": "c", "data": 12}}
    inbound = to_inbound(Update.de_json(query, Bot(TOKEN)))
    assert inbound is not None
    assert (inbound.kind, inbound.value, inbound.locale_hint) == ("choice", "", None)
    message = {"message_id": 1, "date": 1, "chat": {"id": 7, "type": "private"}, "from": user, "text": {"a": 1}}
    typed = to_inbound(Update.de_json({"update_id": 6, "message": message}, Bot(TOKEN)))
    assert typed is not None
    assert typed.text == ""


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # a deployment's default filters
@pytest.mark.parametrize("opted_in", [True, False], ids=["PTB_TIMEDELTA", "as_deployed"])
def test_a_429_asks_the_outbox_to_wait_the_seconds_telegram_named(
    opted_in: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the channel no longer writes PTB_TIMEDELTA into the environment: without it PTB gives whole seconds
    if not opted_in:
        monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    from telegram.error import RetryAfter

    delivery = outcome_of(RetryAfter(7))
    assert (delivery.status, delivery.retry_after) == ("retry_later", 7.0)
