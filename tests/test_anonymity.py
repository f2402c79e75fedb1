"""The survey is anonymous to the people it rates; a complaint is sent only by the citizen's explicit choice.

What each person reads, on Telegram (and a citizen on Zalo OA): the handling officer never gets a survey
comment, its dossier code or its writer; the unit's leaders and one-stop-shop lead get the day's comments
unlinked once five surveys of the unit closed that day, else in the next morning's digest; a citizen who
answers "Có" to "Gửi phản ánh tới cán bộ, kèm mã hồ sơ?" gets an answer from the officer.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from handlers.admin.invites import Roles
from handlers.admin.units import UnitHandler
from handlers.citizen.invitations import InvitationHandler
from handlers.citizen.ratings import Rating, RatingHandler
from handlers.context import Policy, Services
from handlers.leader.digest.digests import Digests
from scheduler.jobs import Jobs
from storage.models import FeedbackRow, OutboxRow
from tests.conftest import Backend, Clock
from tests.emulators.telegram import Person, TelegramEmulator
from tests.emulators.zalo_oa import Person as OAPerson
from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.helpers import Person as ChatPerson
from tests.helpers import add_unit, returned_dossier, sample_dossier
from tests.telegram_service import PACE, TOKEN, RunningService, running, running_service
from tests.test_zalo_oa import APP_ID, APP_SECRET, SECRET_KEY, link, now_iso, oa_settings

OFFICER = "Trần Thị Bình"
LEAD = "Lê Văn Cường"
FRIDAY = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
SETTINGS = {"survey_tick_seconds": 3600, "telegram_chat_interval": 0.05, "survey_form": "sipas-nhanh"}
STEP = "Gửi phản ánh tới cán bộ, kèm mã hồ sơ"
ANGRY = "Chờ cả tuần, gọi 0912 345 001 không ai nghe. Nguyễn Văn An"
TIME_OF_DAY = re.compile(r"\b\d{1,2}:\d{2}\b")


def emulator() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=40.0, global_rate=200.0)


async def join(person: Person, code: str) -> None:
    await person.send_command("/join", code)
    await person.wait_for(lambda p: any("đã được cấp quyền" in t for t in p.texts))


async def staff(service: RunningService, emu: TelegramEmulator) -> tuple[Person, Person, Person]:
    """The handling officer, the unit's leader and the one-stop-shop lead, each in their chat."""
    roles = service.app.roles
    officer = emu.person(user_id=100, first_name="Bình")
    await join(officer, await roles.invite("staff", "P8", officer_name=OFFICER))
    leader = emu.person(user_id=110, first_name="Chủ tịch")
    await join(leader, await roles.invite("leader", "P8"))
    lead = emu.person(user_id=120, first_name="Cường")
    await join(lead, await roles.invite("staff", "P8", officer_name=LEAD, lead=True))
    return officer, leader, lead


async def citizen_with_survey(
    service: RunningService, emu: TelegramEmulator, number: int, name: str, returned: str
) -> Person:
    """A citizen of dossier P8-<number> handled by the officer, linked on Telegram and asked the survey."""
    code = f"P8-{number}"
    body = await service.put_dossier(
        code,
        name,
        received="2026-11-16T08:00:00+07:00",
        due="2026-11-27",
        handler=OFFICER,
        phone=f"0912 345 {number:03d}",
    )
    citizen = emu.person(user_id=200 + number, first_name=name.split()[-1])
    await citizen.send_command("/start", body["optin"]["token"])
    await citizen.wait_for(lambda p: "Đồng ý" in p.last.button_texts)
    await citizen.press("Đồng ý")
    await citizen.wait_for(lambda p: any("đã được liên kết" in t for t in p.texts))
    await service.event(code, "result_ready", returned)
    await service.event(code, "returned", returned)
    await service.app.invitations.send_due()
    await citizen.wait_for(lambda p: p.last.text.startswith("Câu 1/7"))
    return citizen


async def answer_survey(citizen: Person, level: str, comment: str | None) -> str:
    """Six ratings at ``level`` and the comment (or skip it); the end of the survey as the citizen reads it."""
    for n in range(1, 7):
        await citizen.press(level)
        await citizen.wait_for(lambda p, n=n: p.last.text.startswith(f"Câu {n + 1}/7"))
    assert "không kèm tên, mã hồ sơ hay giờ gửi" in citizen.last.text  # the comment step says what happens
    if comment is None:
        await citizen.press("Bỏ qua")
    else:
        await citizen.send_text(comment)
    await citizen.wait_for(lambda p: any(STEP in t for t in p.texts))
    end = next(t for t in reversed(citizen.texts) if STEP in t)
    assert "Trân trọng cảm ơn" in end
    return end


async def outbox_to(service: RunningService, person: Person) -> int:
    async with service.app.services.uow(read_only=True) as uow:
        query = select(func.count()).where(OutboxRow.channel == "telegram", OutboxRow.recipient == str(person.user_id))
        return int((await uow.connection.execute(query)).scalar_one())


async def test_a_low_rating_comment_reaches_leaders_and_lead_unlinked_never_the_officer(backend: Backend) -> None:
    clock = Clock(FRIDAY)
    async with emulator() as emu, running_service(backend.url, emu, clock=clock, **SETTINGS) as service:
        officer, leader, lead = await staff(service, emu)
        seen_by = {p.user_id: len(p.messages) for p in (officer, leader, lead)}
        queued_to = {p.user_id: await outbox_to(service, p) for p in (officer, leader, lead)}

        first = await citizen_with_survey(service, emu, 1, "Nguyễn Văn An", "2026-11-20T08:00:00+07:00")
        end = await answer_survey(first, "Rất không hài lòng", ANGRY)
        assert "Chờ cả tuần" in end
        assert "P8-1" in end
        assert "Có" in first.last.button_texts
        assert "Không" in first.last.button_texts
        await first.press("Không")
        await first.wait_for(lambda p: p.last.text.startswith("Đã rõ; không có phản ánh nào được gửi đi"))

        # four more surveys of the unit close the same day; the batch goes out with the fifth, not before
        for number in (2, 3, 4):
            citizen = await citizen_with_survey(
                service, emu, number, f"Người dân {number}", "2026-11-20T08:30:00+07:00"
            )
            await answer_survey(citizen, "Hài lòng", None)
        for p in (officer, leader, lead):
            assert await outbox_to(service, p) == queued_to[p.user_id], f"{p.first_name} was sent something"
        fifth = await citizen_with_survey(service, emu, 5, "Người dân 5", "2026-11-20T09:00:00+07:00")
        await answer_survey(fifth, "Bình thường", "Phòng chờ nóng, thiếu ghế")

        for p in (leader, lead):
            await p.wait_for(lambda p: p.last.text.startswith("🗒 Ý kiến khảo sát của người dân — Phường 8"))
            batch = p.last.text
            assert "ngày 20/11/2026" in batch
            assert "2 ý kiến, trong 5 phiếu hoàn thành trong ngày" in batch
            assert "Chờ cả tuần, gọi 09*****001 không ai nghe." in batch  # the phone number masked
            assert "Phòng chờ nóng, thiếu ghế" in batch
            for linked in ("P8-", "0912 345 001", "Nguyễn Văn An", OFFICER):
                assert linked not in batch, linked
            assert not TIME_OF_DAY.search(batch), batch
        # a sixth survey the same day: its comment does not go out alone at the time it was written
        batches = {p.user_id: sum(t.startswith("🗒") for t in p.texts) for p in (leader, lead)}
        queued_to = {p.user_id: await outbox_to(service, p) for p in (leader, lead)}
        later = await citizen_with_survey(service, emu, 7, "Người dân 7", "2026-11-20T09:30:00+07:00")
        await answer_survey(later, "Hài lòng", "Cần thêm quầy tiếp nhận")
        for p in (leader, lead):
            assert await outbox_to(service, p) == queued_to[p.user_id], f"{p.first_name} was sent the comment alone"
            assert sum(t.startswith("🗒") for t in p.texts) == batches[p.user_id]
        # the handling officer read nothing of it, and /phananh lists nothing
        assert len(officer.messages) == seen_by[officer.user_id], officer.texts
        await officer.send_command("/phananh")
        await officer.wait_for(lambda p: p.last.text == "Không có phản ánh nào đang chờ xử lý.")
        assert not any("Chờ cả tuần" in t or "P8-1" in t for t in officer.texts)
        async with service.app.services.uow(read_only=True) as uow:
            assert (await uow.connection.execute(select(func.count()).select_from(FeedbackRow))).scalar_one() == 0

        # Saturday: one survey with a comment; too few that day, so it waits for Sunday's digest
        clock.advance(days=1)
        sixth = await citizen_with_survey(service, emu, 6, "Phạm Thị Dung", "2026-11-21T08:00:00+07:00")
        await answer_survey(sixth, "Không hài lòng", "Bãi xe chật, Phạm Thị Dung 0987654321")
        await sixth.press("Không")
        await sixth.wait_for(lambda p: p.last.text.startswith("Đã rõ"))
        jobs = Jobs(service.app.services, "test")
        await jobs.leaders()  # Saturday's digest (of Friday): the leader reads Friday's comments, the lead no repeat
        await leader.wait_for(lambda p: any(t.startswith("BẢN TIN NGÀY 21/11/2026") for t in p.texts), timeout=20)
        friday = next(t for t in leader.texts if t.startswith("BẢN TIN NGÀY 21/11/2026"))
        assert "Ý kiến khảo sát (không kèm tên, mã hồ sơ hay giờ gửi): 3" in friday
        assert "Cần thêm quầy tiếp nhận" in friday
        assert "Phòng chờ nóng, thiếu ghế" in friday
        assert "Bãi xe chật" not in friday
        assert not any("Bãi xe chật" in t for t in leader.texts + lead.texts)

        clock.advance(days=1)
        await jobs.leaders()  # Sunday's digest (of Saturday)
        await leader.wait_for(lambda p: any(t.startswith("BẢN TIN NGÀY 22/11/2026") for t in p.texts), timeout=20)
        saturday = next(t for t in leader.texts if t.startswith("BẢN TIN NGÀY 22/11/2026"))
        line = next(x for x in saturday.splitlines() if "Bãi xe chật" in x)
        assert "P8-6" not in saturday
        assert "Phạm Thị Dung" not in saturday
        assert "0987654321" not in saturday
        assert not TIME_OF_DAY.search(line), line
        await lead.wait_for(lambda p: any("Bãi xe chật" in t for t in p.texts), timeout=20)
        leftover = next(t for t in lead.texts if "Bãi xe chật" in t)
        assert "ngày 21/11/2026" in leftover
        assert "P8-6" not in leftover
        assert "Phạm Thị Dung" not in leftover
        # released once: each comment reached the lead once
        assert sum("Chờ cả tuần" in t for t in lead.texts) == 1
        assert sum("Cần thêm quầy tiếp nhận" in t for t in lead.texts) == 1  # given with Saturday's digest
        assert sum("Cần thêm quầy tiếp nhận" in t for t in leader.texts) == 1  # in the digest only
        assert sum("Bãi xe chật" in t for t in lead.texts) == 1
        assert len(officer.messages) == seen_by[officer.user_id] + 1  # only the answer to /phananh
        assert not any("Bãi xe chật" in t or "Chờ cả tuần" in t or "P8-" in t for t in officer.texts)


async def test_a_complaint_the_citizen_chooses_to_send_carries_the_code_and_gets_an_answer(backend: Backend) -> None:
    clock = Clock(FRIDAY)
    async with emulator() as emu, running_service(backend.url, emu, clock=clock, **SETTINGS) as service:
        officer, _leader, _lead = await staff(service, emu)
        citizen = await citizen_with_survey(service, emu, 1, "Nguyễn Văn An", "2026-11-20T08:00:00+07:00")
        await answer_survey(citizen, "Rất không hài lòng", ANGRY)
        await citizen.press("Có")
        await citizen.wait_for(lambda p: p.last.text.startswith("Cảm ơn Ông/Bà. Phản ánh (mã hồ sơ P8-1)"))

        await officer.wait_for(lambda p: p.last.text.startswith("📩 Phản ánh mới"), timeout=20)
        notice = officer.last.text
        assert "P8-1" in notice
        assert "Chờ cả tuần" in notice
        assert "0912 345 001" not in notice
        assert "Nguyễn Văn An" not in notice
        await officer.press("Trả lời")
        await officer.wait_for(lambda p: p.last.text.startswith("Xin nhập nội dung trả lời"))
        await officer.send_text("Chúng tôi xin lỗi Ông/Bà; cán bộ sẽ gọi lại trong hôm nay.")
        await officer.wait_for(lambda p: p.last.text.startswith("Đã gửi câu trả lời"))
        await citizen.wait_for(lambda p: "cán bộ sẽ gọi lại trong hôm nay" in p.last.text)
        assert citizen.last.text.startswith("Phường 8 trả lời ý kiến của Ông/Bà")

        # a message that is not an answer is offered the same step, and filed only on "Có"
        await citizen.send_text("Cho tôi hỏi lệ phí bản sao là bao nhiêu?")
        await citizen.wait_for(lambda p: STEP in p.last.text)
        assert "Cho tôi hỏi lệ phí" in citizen.last.text
        await citizen.press("Không")
        await citizen.wait_for(lambda p: p.last.text.startswith("Đã rõ; không có phản ánh nào được gửi đi"))
        await citizen.send_text("Tôi muốn hỏi lệ phí bản sao")
        await citizen.wait_for(lambda p: STEP in p.last.text and "Tôi muốn hỏi" in p.last.text)
        await citizen.send_text("có")  # typed, as on a channel without buttons
        await citizen.wait_for(lambda p: p.last.text.startswith("Cảm ơn Ông/Bà. Phản ánh (mã hồ sơ P8-1)"))
        await officer.wait_for(lambda p: "Tôi muốn hỏi lệ phí bản sao" in p.last.text, timeout=20)
        assert not any("Cho tôi hỏi lệ phí" in t for t in officer.texts)
        async with service.app.services.uow(read_only=True) as uow:
            texts = (await uow.connection.execute(select(FeedbackRow.text).order_by(FeedbackRow.id))).scalars().all()
        assert list(texts) == [ANGRY, "Tôi muốn hỏi lệ phí bản sao"]


async def oa_survey(service: RunningService, person: OAPerson, number: int, comment: str) -> None:
    """Dossier P8-<number> returned, its survey answered on the OA with the lowest level and ``comment``."""
    await service.event(f"P8-{number}", "returned", now_iso(-timedelta(minutes=1)))
    await person.wait_for(lambda p: p.last.text.startswith("Câu 1/7"), timeout=30)
    for n in range(1, 7):
        await person.press("Rất không hài lòng")
        await person.wait_for(lambda p, n=n: p.last.text.startswith(f"Câu {n + 1}/7"), timeout=30)
    assert "không kèm tên, mã hồ sơ hay giờ gửi" in person.last.text
    await person.send_text(comment)
    await person.wait_for(lambda p: STEP in p.last.text, timeout=30)
    assert shows_buttons(person, ["Có", "Không"])


def shows_buttons(person: OAPerson, titles: list[str]) -> bool:
    return all(title in person.last.button_titles for title in titles)


async def test_on_the_zalo_oa_only_the_complaint_the_citizen_chose_reaches_the_officer(backend: Backend) -> None:
    telegram = emulator()
    async with ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY) as emu, telegram:
        settings = {
            **oa_settings(emu),
            "telegram_token": TOKEN,
            "telegram_api_url": telegram.api_url,
            **PACE,
            "survey_form": "sipas-nhanh",
        }
        async with running(backend.url, **settings) as service:
            emu.webhook_url = service.base_url + "/webhooks/zalo-oa"
            officer = telegram.person(user_id=100, first_name="Bình")
            await join(officer, await service.app.roles.invite("staff", "P8", officer_name=OFFICER))
            people = {}
            for number in (1, 2):
                body = await service.put_dossier(
                    f"P8-{number}",
                    f"Người dân {number}",
                    received=now_iso(-timedelta(days=3)),
                    due=now_iso(timedelta(days=2)),
                    handler=OFFICER,
                    phone=f"0912 345 00{number}",
                )
                people[number] = emu.person(f"24684588352961{number:05d}", display_name=f"Dân {number}")
                await link(people[number], body["optin"]["token"])

            # the first keeps the comment a survey comment: the officer reads nothing of it
            await oa_survey(service, people[1], 1, "Chờ lâu quá, không ai giải thích")
            await people[1].press("Không")
            await people[1].wait_for(lambda p: p.last.text.startswith("Đã rõ; không có phản ánh"), timeout=30)
            # the second sends it as a complaint: the officer gets it with the code and answers
            await oa_survey(service, people[2], 2, "Hẹn ba lần vẫn chưa có kết quả")
            await people[2].press("Có")
            await people[2].wait_for(lambda p: p.last.text.startswith("Cảm ơn Ông/Bà. Phản ánh (mã hồ sơ P8-2)"))
            await officer.wait_for(lambda p: p.last.text.startswith("📩 Phản ánh mới"), timeout=30)
            assert "P8-2" in officer.last.text
            assert "Hẹn ba lần vẫn chưa có kết quả" in officer.last.text
            await officer.press("Trả lời")
            await officer.wait_for(lambda p: p.last.text.startswith("Xin nhập nội dung trả lời"))
            await officer.send_text("Hồ sơ đã có kết quả, mời Ông/Bà đến nhận trong hôm nay.")
            await officer.wait_for(lambda p: p.last.text.startswith("Đã gửi câu trả lời"))
            await people[2].wait_for(lambda p: "mời Ông/Bà đến nhận trong hôm nay" in p.last.text, timeout=30)
            assert people[2].last.text.startswith("Phường 8 trả lời ý kiến của Ông/Bà")
            await officer.send_command("/phananh")
            await officer.wait_for(lambda p: p.last.text.startswith("#") and "đã trả lời" in p.last.text)
            assert not any("P8-1" in t or "Chờ lâu quá" in t for t in officer.texts)


@pytest.fixture
def policy() -> Policy:
    return Policy(zns_rating_template="350001")


async def test_a_zns_rating_note_is_a_survey_comment_for_the_digest_not_a_complaint(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    data = dataclasses.replace(
        sample_dossier(code="P8-261118-0001", phone="0912345678", name="Nguyễn Văn An"), zalo_optin=True
    )
    await returned_dossier(services, data, clock.now)
    officer = ChatPerson(services, "officer")
    await officer.type("/join " + await Roles(services).invite("staff", "P8", officer_name=OFFICER))
    clock.advance(minutes=60)
    assert await InvitationHandler(services).send_due() == 1
    note = "Hồ sơ P8-261118-0001 trễ, gọi 0912345678 không ai nghe"
    assert await RatingHandler(services).record("zns", Rating("m1", "sipas-1", 1, note=note)) == "recorded"
    await officer.receive()
    assert not any("trễ" in reply.text for reply in officer.seen)
    (listed,) = await officer.type("/phananh")
    assert listed.text == "Không có phản ánh nào đang chờ xử lý."
    async with services.uow(read_only=True) as uow:
        assert (await uow.connection.execute(select(func.count()).select_from(FeedbackRow))).scalar_one() == 0
    today = services.policy.local_date(clock.now)
    digest = await Digests(services).build("P8", today + timedelta(days=1), with_chart=False)
    line = next(x for x in digest.text.splitlines() if "không ai nghe" in x)
    assert line == "• “Hồ sơ … trễ, gọi 09*****678 không ai nghe”"  # the code and the phone masked
    assert "0912345678" not in line
    assert not TIME_OF_DAY.search(line)


async def test_after_a_survey_without_comment_the_citizen_may_ask_to_complain_and_change_their_mind(
    services: Services, clock: Clock
) -> None:
    await UnitHandler(services).add("P8", "Phường 8", form="danh-gia-ho-so")
    token = await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=2))
    officer = ChatPerson(services, "officer")
    await officer.type("/join " + await Roles(services).invite("staff", "P8", officer_name=OFFICER))
    citizen = ChatPerson(services, "an")
    await citizen.link(token)
    await citizen.press_label("Bắt đầu khảo sát")
    await citizen.type("3")
    (end,) = await citizen.type("0")  # no comment
    assert end.text.startswith("Trân trọng cảm ơn")
    assert "Gửi phản ánh tới cán bộ, kèm mã hồ sơ P8-261118-0001?" in end.text
    assert [(o.label, o.number) for o in end.options] == [("Có", 1), ("Không", 2)]
    (prompt,) = await citizen.press_label("Có")
    assert prompt.text.startswith("Xin Ông/Bà nhập nội dung phản ánh")
    (changed_mind,) = await citizen.type("không")
    assert changed_mind.text.startswith("Đã rõ; không có phản ánh nào được gửi đi")
    (offer,) = await citizen.type("Lệ phí bản sao thu không đúng")  # not an answer: offered the step
    assert "Gửi phản ánh tới cán bộ, kèm mã hồ sơ P8-261118-0001?" in offer.text
    assert await officer.receive() == []
    (filed,) = await citizen.press_label("Có")
    assert filed.text.startswith("Cảm ơn Ông/Bà. Phản ánh (mã hồ sơ P8-261118-0001) đã được chuyển đến Phường 8")
    (notice,) = await officer.receive()
    assert notice.text.startswith("📩 Phản ánh mới")
    assert "P8-261118-0001" in notice.text
    assert "Lệ phí bản sao thu không đúng" in notice.text
