"""The live survey question: the newest survey message is the one a press edits, and older ones are stale.

And the chat's current survey is the one being asked in that chat: an open ZNS rating for another dossier never
blocks it. Everything is checked by what the person sees at the bottom of the chat, through the real service and
the Telegram, Zalo OA and ZNS emulators over loopback HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from storage.models import AnswerRow, FeedbackRow, InvitationRow
from tests.conftest import Backend, Clock
from tests.emulators import telegram as tg
from tests.emulators import zalo_oa as oa
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.helpers import Person as ConsolePerson
from tests.helpers import add_unit, returned_dossier, sample_dossier
from tests.telegram_service import PACE, SECRET, TOKEN, RunningService, running
from tests.test_zalo_oa import APP_ID, APP_SECRET, SECRET_KEY, oa_settings

RATING_TEMPLATE = "350001"
RATING_PARAMS = [("ho_ten", 30), ("ma_ho_so", 50), ("thu_tuc", 100), ("ngay_tra", 20)]
STALE = "Nút này không còn hiệu lực; xin Ông/Bà trả lời câu hỏi hiện tại."
START = "Bắt đầu khảo sát"
COMPLAINT = "Ý kiến của Ông/Bà đã được chuyển đến"
PHONE = "0912345678"


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def telegram_emulator() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=10.0, global_rate=160.0)


def telegram_settings(emu: TelegramEmulator) -> dict[str, Any]:
    return {
        "telegram_token": TOKEN,
        "telegram_api_url": emu.api_url,
        "telegram_mode": "polling",
        "telegram_webhook_secret": SECRET,
        "survey_tick_seconds": 0.2,
        **PACE,
    }


def oa_emulator() -> ZaloOAEmulator:
    return ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY)


@asynccontextmanager
async def oa_running(url: str, emu: ZaloOAEmulator, **extra: Any) -> AsyncIterator[RunningService]:
    """The service on the OA emulator, its webhook registered there (again after a restart)."""
    async with running(url, **oa_settings(emu, **extra)) as service:
        emu.webhook_url = service.base_url + "/webhooks/zalo-oa"
        yield service


async def answers(service: RunningService) -> dict[str, str | None]:
    async with service.app.services.uow(read_only=True) as uow:
        return dict((await uow.connection.execute(select(AnswerRow.question_code, AnswerRow.value))).all())


async def complaints(service: RunningService) -> int:
    async with service.app.services.uow(read_only=True) as uow:
        return int(await uow.connection.scalar(select(func.count(FeedbackRow.id))))


def header(text: str) -> str:
    """The question's number as the person reads it ("Câu 3/33"), or the message's first line."""
    return text.split("\n", 1)[0].split(" · ")[0]


def question_at(number: int) -> str:
    return f"Câu {number}/33"


# --- Telegram


async def tg_link(person: tg.Person, token: str) -> None:
    await person.send_command("/start", token)
    await person.wait_for(lambda p: "Đồng ý" in p.last.button_texts)
    await person.press("Đồng ý")
    await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))


async def tg_stale(person: tg.Person, label: str, message_id: int) -> None:
    """Press ``label`` on an older message: the press is answered "no longer valid"."""
    query = await person.press(label, message_id=message_id)
    await person.wait_for(lambda p: p.callback_answer(query).answered)
    assert person.callback_answer(query).text == STALE


async def tg_recorded(person: tg.Person, label: str, message_id: int, shows: str) -> None:
    """Press ``label`` on ``message_id``: it is recorded and that message becomes the question ``shows``."""
    query = await person.press(label, message_id=message_id)
    await person.wait_for(lambda p: p.callback_answer(query).answered)
    assert person.callback_answer(query).text == "Đã ghi nhận."
    await person.wait_for(lambda p: header(p.message(message_id).text) == shows)


def tg_questions(person: tg.Person) -> dict[int, str]:
    """The survey questions shown in the chat now, by message id."""
    return {m.message_id: header(m.text) for m in person.messages if m.text.startswith("Câu ")}


async def test_telegram_a_press_edits_the_question_at_the_bottom_after_a_typed_answer_khaosat_and_a_restart(
    backend: Backend,
) -> None:
    async with telegram_emulator() as emu:
        async with running(backend.url, **telegram_settings(emu)) as service:
            body = await service.put_dossier("P8-1", "Nguyễn Văn An")
            person = emu.person(user_id=7101, first_name="An")
            await tg_link(person, body["optin"]["token"])
            await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
            await person.wait_for(lambda p: p.last.text.startswith(question_at(1)))
            first = person.last.message_id
            await tg_recorded(person, "Hài lòng", first, question_at(2))  # a press edits its own message

            await person.send_text("5")  # a typed answer: the next question is a new message at the bottom
            await person.wait_for(lambda p: p.last.text.startswith(question_at(3)))
            typed = person.last.message_id
            assert typed != first
            await tg_recorded(person, "Hài lòng", typed, question_at(4))
            assert tg_questions(person) == {first: question_at(2), typed: question_at(4)}
            await tg_stale(person, "Rất hài lòng", first)

            await person.send_command("/khaosat")  # the same question again, as a new message
            await person.wait_for(lambda p: p.last.message_id != typed and p.last.text.startswith(question_at(4)))
            asked = person.last.message_id
            await tg_stale(person, "Rất hài lòng", typed)  # the same question further up: no longer valid
            await tg_recorded(person, "Bình thường", asked, question_at(5))
            assert tg_questions(person) == {first: question_at(2), typed: question_at(4), asked: question_at(5)}
            assert await answers(service) == {"TC1": "4", "TC2": "5", "TC3": "4", "TC4": "3"}

        async with running(backend.url, **telegram_settings(emu)) as service:  # a restart
            await tg_recorded(person, "Hài lòng", asked, question_at(6))
            await tg_stale(person, "Hài lòng", typed)
            await person.send_command("/start")  # the person comes back: the waiting survey is offered
            await person.wait_for(lambda p: START in p.last.button_texts)
            await person.press(START)
            await person.wait_for(lambda p: p.last.text.startswith(question_at(6)) and p.last.message_id > asked)
            resumed = person.last.message_id
            await tg_stale(person, "Hài lòng", asked)
            await tg_recorded(person, "Rất hài lòng", resumed, question_at(7))
            assert tg_questions(person) == {
                first: question_at(2),
                typed: question_at(4),
                asked: question_at(6),
                resumed: question_at(7),
            }
            assert await answers(service) == {"TC1": "4", "TC2": "5", "TC3": "4", "TC4": "3", "TT1": "4", "TT2": "5"}


# --- Zalo OA (it cannot edit: every question is a new message, and only the newest one's buttons work)


async def oa_link(person: oa.Person, token: str) -> None:
    await person.follow()
    await person.send_text(f"/start {token}")
    await person.wait_for(lambda p: "Đồng ý" in p.last.button_titles)
    await person.press("Đồng ý")
    await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))


async def oa_stale(person: oa.Person, label: str, message_id: str) -> None:
    """Press ``label`` on an older message: the answer at the bottom says it is no longer valid."""
    before = len(person.messages)
    await person.press(label, message_id=message_id)
    await person.wait_for(lambda p: len(p.messages) > before)
    assert person.last.text == STALE
    assert len(person.messages) == before + 1


async def oa_next(person: oa.Person, before: int, shows: str) -> str:
    """Wait for the question ``shows`` as the newest message; its id."""
    await person.wait_for(lambda p: len(p.messages) > before and header(p.last.text) == shows)
    return person.last.message_id


async def test_zalo_oa_only_the_newest_question_takes_a_press_after_a_typed_answer_khaosat_and_a_restart(
    backend: Backend,
) -> None:
    async with oa_emulator() as emu:
        async with oa_running(backend.url, emu) as service:
            body = await service.put_dossier("P8-1", "Nguyễn Văn An")
            person = emu.person("2468458835296117922", display_name="An")
            await oa_link(person, body["optin"]["token"])
            await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
            first = await oa_next(person, 0, question_at(1))
            await person.send_text("4")  # typed
            typed = await oa_next(person, len(person.messages), question_at(2))
            await oa_stale(person, "Hài lòng", first)
            await person.send_text("/khaosat")  # the same question again, as a new message
            asked = await oa_next(person, len(person.messages), question_at(2))
            await oa_stale(person, "Rất hài lòng", typed)  # the same question further up: no longer valid
            count = len(person.messages)
            await person.press("Bình thường", message_id=asked)
            pressed = await oa_next(person, count, question_at(3))
            assert await answers(service) == {"TC1": "4", "TC2": "3"}

        async with oa_running(backend.url, emu) as service:  # a restart
            await oa_stale(person, "Bình thường", asked)
            await person.send_text("/start")
            await person.wait_for(lambda p: START in p.last.button_titles)
            await person.press(START)
            resumed = await oa_next(person, len(person.messages), question_at(3))
            await oa_stale(person, "Hài lòng", pressed)
            count = len(person.messages)
            await person.press("Rất hài lòng", message_id=resumed)
            await oa_next(person, count, question_at(4))
            assert await answers(service) == {"TC1": "4", "TC2": "3", "TC3": "5"}


# --- 2b: an open ZNS rating for one dossier never blocks the chat survey of another


async def rated_by_zns_then_second_dossier(service: RunningService, emu: ZaloOAEmulator) -> str:
    """Dossier P8-1 gets a ZNS rating, left unanswered; P8-2 (no Zalo notices) waits for a chat; its token."""
    await service.put_dossier("P8-1", "Nguyễn Văn An", phone=PHONE, zalo_optin=True)
    await service.event("P8-1", "returned", now_iso(-timedelta(minutes=2)))
    phone = emu.zns.recipient("84" + PHONE[1:])
    await phone.wait_for(lambda r: bool(r.messages), timeout=20)
    body = await service.put_dossier("P8-2", "Nguyễn Văn An", phone=PHONE, field="Chứng thực")
    await service.event("P8-2", "returned", now_iso(-timedelta(minutes=1)))
    return str(body["optin"]["token"])


async def invitation_states(service: RunningService) -> list[tuple[str, str | None]]:
    async with service.app.services.uow(read_only=True) as uow:
        rows = await uow.connection.execute(
            select(InvitationRow.status, InvitationRow.channel).order_by(InvitationRow.id)
        )
        return [(status, channel) for status, channel in rows]


async def test_an_open_zns_rating_does_not_block_the_survey_asked_on_the_zalo_oa(backend: Backend) -> None:
    async with oa_emulator() as emu:
        emu.zns.add_template(RATING_TEMPLATE, params=RATING_PARAMS, rating=True)
        async with oa_running(backend.url, emu, zns_rating_template_id=RATING_TEMPLATE) as service:
            token = await rated_by_zns_then_second_dossier(service, emu)
            person = emu.person("2468458835296117922", display_name="An")
            await oa_link(person, token)
            await person.wait_for(lambda p: header(p.last.text) == question_at(1), timeout=20)
            offer = next(m for m in person.messages if START in m.button_titles)  # offered on linking
            assert await invitation_states(service) == [("sent", "zns"), ("sent", "zalo_oa")]

            count = len(person.messages)
            await person.send_text("bỏ qua")  # typed at question 1: skips it
            await oa_next(person, count, question_at(2))
            await person.send_text("/khaosat")
            await oa_next(person, count + 1, question_at(2))
            await person.press(START, message_id=offer.message_id)
            await oa_next(person, count + 2, question_at(2))
            await person.send_text("quay lại")
            await oa_next(person, count + 3, question_at(1))
            await person.send_text("5")
            await oa_next(person, count + 4, question_at(2))
            assert not any(COMPLAINT in text or "không có phiếu" in text for text in person.texts)
            assert await complaints(service) == 0
            assert await answers(service) == {"TC1": "5"}
            assert await invitation_states(service) == [("sent", "zns"), ("started", "zalo_oa")]


async def test_an_open_zns_rating_does_not_block_the_survey_asked_on_telegram(backend: Backend) -> None:
    async with oa_emulator() as emu, telegram_emulator() as telegram:
        emu.zns.add_template(RATING_TEMPLATE, params=RATING_PARAMS, rating=True)
        settings = {**telegram_settings(telegram), "zns_rating_template_id": RATING_TEMPLATE}
        async with oa_running(backend.url, emu, **settings) as service:
            token = await rated_by_zns_then_second_dossier(service, emu)
            person = telegram.person(user_id=7202, first_name="An")
            await tg_link(person, token)
            await person.wait_for(lambda p: header(p.last.text) == question_at(1), timeout=20)
            offer = next(m for m in person.messages if START in m.button_texts)  # offered on linking
            assert await invitation_states(service) == [("sent", "zns"), ("sent", "telegram")]

            await person.send_text("bỏ qua")
            await person.wait_for(lambda p: header(p.last.text) == question_at(2))
            typed = person.last.message_id
            await person.send_command("/khaosat")
            await person.wait_for(lambda p: p.last.message_id != typed and p.last.text.startswith(question_at(2)))
            asked = person.last.message_id
            await person.press(START, message_id=offer.message_id)
            await person.wait_for(lambda p: p.last.message_id != asked and p.last.text.startswith(question_at(2)))
            await tg_recorded(person, "Rất hài lòng", person.last.message_id, question_at(3))
            assert not any(COMPLAINT in text or "không có phiếu" in text for text in person.texts)
            assert await complaints(service) == 0
            assert await answers(service) == {"TC2": "5"}
            assert await invitation_states(service) == [("sent", "zns"), ("started", "telegram")]


# --- survey words typed while no question is asked in the chat: told so, never filed as a complaint


async def test_survey_words_typed_with_no_question_asked_are_never_a_complaint(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    handler = DossierHandler(services)
    token = (await handler.upsert(sample_dossier())).dossier.optin_token  # not returned yet: no survey
    person = ConsolePerson(services, "an")
    await person.link(token)
    none = "Hiện Ông/Bà không có phiếu khảo sát nào đang chờ. Cảm ơn Ông/Bà."
    for typed in ("bỏ qua", "Quay lại", "5", "10", "Rất hài lòng", "hai long"):
        assert [r.text for r in await person.type(typed)] == [none], typed
    await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=2))
    (offer,) = await person.type("bo qua")  # a survey waits: it is offered, not started and not skipped
    assert offer.text.startswith("Ông/Bà có một phiếu khảo sát về hồ sơ “Đăng ký khai sinh” đang chờ.")
    assert [o.label for o in offer.options] == [START]
    async with services.uow(read_only=True) as uow:
        assert await uow.connection.scalar(select(func.count(FeedbackRow.id))) == 0
        assert list(await uow.connection.scalars(select(InvitationRow.status))) == ["pending"]
