"""The citizen conversation through the real handlers, outbox and database: what a person sees."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from handlers.admin.invites import Roles
from handlers.admin.units import UnitHandler
from handlers.chat.dispatcher import ChatDispatcher
from handlers.citizen.erasure import Retention
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.messages import Identity, Inbound
from storage.models import AnswerRow, AuditRow, FeedbackRow, IdentityRow, InvitationRow, OutboxRow, PersonRow
from tests.conftest import Clock
from tests.helpers import Person, add_unit, returned_dossier, sample_dossier

LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]


@pytest.fixture
async def token(services: Services, clock: Clock) -> str:
    await add_unit(services)
    return await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=2))


async def answers(services: Services) -> dict[str, tuple[str | None, str | None]]:
    async with services.uow(read_only=True) as uow:
        rows = await uow.connection.execute(select(AnswerRow.question_code, AnswerRow.value, AnswerRow.text))
        return {code: (value, text) for code, value, text in rows}


async def invitation_state(services: Services) -> tuple[str, str | None]:
    async with services.uow(read_only=True) as uow:
        row = (await uow.connection.execute(select(InvitationRow.status, InvitationRow.cursor))).one()
        return row[0], row[1]


async def started(services: Services, token: str, who: str = "an") -> Person:
    person = Person(services, who)
    await person.link(token)
    await person.press_label("Bắt đầu khảo sát")
    return person


async def test_linking_asks_for_consent_first(services: Services, token: str) -> None:
    person = Person(services, "an")
    (notice,) = await person.type(f"/start {token}")
    assert notice.text.startswith("Kính gửi Ông/Bà,\nPhường 8 dùng SIPAS Bot")
    assert "365 ngày" in notice.text
    assert "/xoadulieu" in notice.text
    assert [(o.label, o.number) for o in notice.options] == [("Đồng ý", 1), ("Không đồng ý", 2)]
    linked, waiting = await person.press_label("Đồng ý")
    assert linked.text.startswith("Cảm ơn Ông/Bà. Cuộc trò chuyện này đã được liên kết với hồ sơ “Đăng ký khai sinh”")
    assert "tiếp nhận ngày 10/11/2026" in linked.text
    assert "phiếu khảo sát" in waiting.text
    assert [o.label for o in waiting.options] == ["Bắt đầu khảo sát"]
    async with services.uow(read_only=True) as uow:
        audit = (await uow.connection.execute(select(AuditRow.action))).scalars().all()
    assert audit == ["consent"]


async def test_declining_keeps_nothing(services: Services, token: str) -> None:
    person = Person(services, "an")
    await person.type(f"/start {token}")
    (declined,) = await person.type("2")
    assert "không đồng ý" in declined.text
    async with services.uow(read_only=True) as uow:
        assert await uow.connection.scalar(select(func.count()).select_from(IdentityRow)) == 0


async def test_consent_is_asked_again_until_answered(services: Services, token: str) -> None:
    person = Person(services, "an")
    await person.type(f"/start {token}")
    (again,) = await person.type("có lẽ")
    assert "gõ 1 (Đồng ý) hoặc 2 (Không đồng ý)" in again.text
    replies = await person.type("đồng ý")
    assert "đã được liên kết" in replies[0].text


@pytest.mark.parametrize("token_text", ["khong-co-that", "x" * 65, "có dấu", "a:b"])
async def test_a_wrong_token_is_refused_politely(services: Services, token: str, token_text: str) -> None:
    person = Person(services, "an")
    (reply,) = await person.type(f"/start {token_text}")
    assert "không đúng hoặc đã hết hiệu lực" in reply.text


async def test_a_stranger_is_told_how_to_begin_and_nothing_is_kept(services: Services, token: str) -> None:
    person = Person(services, "stranger")
    (reply,) = await person.type("Xin chào")
    assert "quét mã QR" in reply.text
    async with services.uow(read_only=True) as uow:
        assert await uow.connection.scalar(select(func.count()).select_from(IdentityRow)) == 0


async def test_a_whole_survey_with_buttons(services: Services, token: str) -> None:
    person = await started(services, token)
    intro, first = person.seen[-2:]
    assert intro.text.startswith("Phiếu khảo sát sự hài lòng")
    assert intro.thread is None
    assert first.text.startswith("Câu 1/33 · I. Tiếp cận dịch vụ")
    assert first.heading
    assert [o.label for o in first.options][:5] == LEVELS
    for index in range(19):
        (question,) = await person.press_label(LEVELS[index % 5])
        assert person.last_outcome is not None
        assert person.last_outcome.ack == "Đã ghi nhận."
        assert question.thread is not None
    assert person.last.text.startswith("Câu 20/33")
    for _ in range(13):
        await person.press_label("Bỏ qua")
    assert "Câu 33/33" in person.last.text
    assert "Ý kiến khác" in person.last.text
    (thanks,) = await person.type("Cán bộ hướng dẫn rất tận tình.")
    assert thanks.text.startswith("Trân trọng cảm ơn Ông/Bà")
    assert "công khai hằng quý" in thanks.text
    recorded = await answers(services)
    assert len(recorded) == 20
    assert recorded["TC1"] == ("1", None)
    assert recorded["TC2"] == ("2", None)
    assert recorded["PA3"] == ("4", None)
    assert recorded["YK"] == (None, "Cán bộ hướng dẫn rất tận tình.")
    assert await invitation_state(services) == ("completed", None)
    async with services.uow(read_only=True) as uow:
        versions = set(await uow.connection.execute(select(AnswerRow.form_id, AnswerRow.form_version)))
    assert versions == {("sipas-2022", 3)}  # the current version, recorded with each answer


async def test_a_survey_offered_on_the_first_version_keeps_its_wording_and_the_current_one_has_the_official_lead_in(
    services: Services, token: str
) -> None:
    async with services.uow() as uow:  # offered before version 2 of the form was published
        await uow.connection.execute(update(InvitationRow).values(form_version=1))
        await uow.commit()
    person = await started(services, token)
    for _ in range(19):
        await person.press_label("Hài lòng")
    assert person.last.text == (
        "Câu 20/33\n\nXin Ông/Bà cho biết mức độ Ông/Bà mong muốn cơ quan nhà nước tập trung ưu tiên nguồn lực để "
        "cải thiện: Nâng cao hơn nữa chất lượng cung cấp thông tin cho người dân."
    )
    await person.press_label("Rất nhiều")
    async with services.uow(read_only=True) as uow:
        versions = set(await uow.connection.execute(select(AnswerRow.form_id, AnswerRow.form_version)))
    assert versions == {("sipas-2022", 1)}

    other = await returned_dossier(services, sample_dossier("P8-261118-0002", phone="0912 000 002"), services.clock())
    fresh = await started(services, other, who="binh")
    for _ in range(19):
        await fresh.press_label("Hài lòng")
    assert fresh.last.text == (
        "Câu 20/33\n\nXin Ông/Bà cho biết mức độ Ông/Bà mong muốn cơ quan nhà nước tập trung ưu tiên nguồn lực để "
        "cải thiện chất lượng các vấn đề dưới đây?\n\nNâng cao hơn nữa chất lượng cung cấp thông tin cho người dân"
    )


async def test_typed_answers_by_number_or_label_with_or_without_accents(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("5")
    await person.type("hai long")
    await person.type("Bình thường")
    await person.type("RAT KHONG HAI LONG")
    recorded = await answers(services)
    assert [recorded[c][0] for c in ("TC1", "TC2", "TC3", "TC4")] == ["5", "4", "3", "1"]
    assert "Câu 5/33 · II. Thủ tục hành chính" in person.last.text


async def test_an_empty_line_is_ignored(services: Services, token: str) -> None:
    person = await started(services, token)
    assert await person.type("   ") == []
    assert await invitation_state(services) == ("sent", "TC1")


async def test_something_that_is_not_an_answer_is_explained_and_nothing_is_recorded(
    services: Services, token: str
) -> None:
    person = await started(services, token)
    sorry, question = await person.type("tuyệt vời")
    assert sorry.text.startswith("Xin lỗi, chúng tôi chưa hiểu câu trả lời “tuyệt vời”")
    assert "Câu 1/33" in question.text
    assert await answers(services) == {}


async def test_back_shows_the_previous_answer_and_lets_it_be_changed(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("5")
    await person.type("4")
    (previous,) = await person.type("quay lại")
    assert "Câu 2/33" in previous.text
    assert "Câu trả lời hiện tại: Hài lòng" in previous.text
    await person.type("2")
    assert (await answers(services))["TC2"] == ("2", None)
    assert "Câu 3/33" in person.last.text
    await person.press_label("Quay lại")
    await person.press_label("Quay lại")
    assert "Câu 1/33" in person.last.text
    assert "Quay lại" not in [o.label for o in person.last.options]
    first, again = await person.type("quay lại")
    assert first.text == "Đây là câu hỏi đầu tiên."
    assert "Câu 1/33" in again.text


async def test_skipping_an_answered_question_removes_its_answer(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("5")
    await person.type("quay lai")
    await person.type("0")
    assert "TC1" not in await answers(services)
    assert "Câu 2/33" in person.last.text


async def test_a_required_question_cannot_be_skipped_and_show_if_follows_answers(
    services: Services, clock: Clock
) -> None:
    await UnitHandler(services).add("P8", "Phường 8", form="danh-gia-ho-so")
    token = await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=2))
    person = await started(services, token)
    assert "Câu 1/2" in person.last.text
    assert "Bỏ qua" not in [o.label for o in person.last.options]
    required, _ = await person.type("bỏ qua")
    assert required.text == "Câu hỏi này cần có câu trả lời; xin Ông/Bà chọn một lựa chọn."
    await person.press_label("Không hài lòng")
    assert "Câu 2/3" in person.last.text
    assert "lý do chưa hài lòng" in person.last.text
    await person.type("Phải đi lại nhiều lần.")
    await person.type("quay lại")
    await person.type("quay lại")
    await person.type("3")  # Rất hài lòng: the reason is no longer asked
    assert "Câu 2/2" in person.last.text
    await person.type("0")
    recorded = await answers(services)
    assert recorded == {"HL": ("5", None)}
    assert (await invitation_state(services))[0] == "completed"


async def test_a_redelivered_event_changes_nothing(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("5", event_id="update-77")
    replies = await person.type("5", event_id="update-77")
    assert replies == []
    assert person.last_outcome is not None
    assert person.last_outcome.duplicate
    assert await invitation_state(services) == ("started", "TC2")
    assert await answers(services) == {"TC1": ("5", None)}


async def test_stale_forged_and_foreign_buttons_change_nothing(services: Services, token: str, clock: Clock) -> None:
    person = await started(services, token)
    first_question = person.last
    await person.press_label("Rất hài lòng")
    stale = next(o.value for o in first_question.options if o.label == "Bình thường")
    notice = "Nút này không còn hiệu lực; xin Ông/Bà trả lời câu hỏi hiện tại."
    # a channel that shows no answer to a press (only Telegram does) gets the notice as a message
    assert [r.text for r in await person.press(stale)] == [notice]
    assert person.last_outcome is not None
    assert person.last_outcome.ack == notice
    forgeries = ("a:999:TC2:5", "a:1:TC2:9", "a:1:TC2", "zzz", "a:x:TC2:5", "k:nope", "c:yes", "e:yes", "a:1.x:TC2:5")
    for forged in forgeries:
        assert [r.text for r in await person.press(forged)] == [notice]
    other_token = await returned_dossier(
        services, sample_dossier(code="HS-2", phone="0987000111", name="Phạm Văn Dũng"), clock.now
    )
    other = await started(services, other_token, who="dung")
    own_button = next(o.value for o in other.last.options if o.label == "Hài lòng")
    assert [r.text for r in await person.press(own_button)] == [notice]
    assert await answers(services) == {"TC1": ("5", None)}


async def test_replies_are_queued_in_the_same_transaction_as_the_answer(services: Services, token: str) -> None:
    person = await started(services, token)
    handler = ChatDispatcher(services)
    outcome = await handler.handle(Inbound(Identity("console", "an"), "direct-1", "text", text="4"))
    async with services.uow(read_only=True) as uow:
        queued = await uow.outbox.pending("console", services.clock(), 10, recipient="an")
    assert [m.payload["text"] for m in queued] == [r.text for r in outcome.replies]
    assert len(queued) == 1
    await person.receive()
    assert "Câu 2/33" in person.last.text


async def test_a_survey_resumes_where_it_stopped(services: Services, token: str) -> None:
    person = await started(services, token)
    for answer in ("5", "4", "3"):
        await person.type(answer)
    later = Person(services, "an")  # a new handler, as after a restart
    (resumed,) = await later.type("/khaosat")
    assert "Câu 4/33" in resumed.text
    # a new message at the bottom of the chat (not an edit of one further up), the one the next press edits
    assert (resumed.fresh, resumed.thread) == (True, "survey:1")
    assert len(await answers(services)) == 3


async def test_opting_out_stops_the_survey(services: Services, token: str) -> None:
    person = await started(services, token)
    (done,) = await person.type("/huy")
    assert "không nhận phiếu khảo sát nữa" in done.text
    assert (await invitation_state(services))[0] == "cancelled"
    (none,) = await person.type("/khaosat")
    assert none.text.startswith("Hiện Ông/Bà không có phiếu khảo sát nào")


async def test_erasing_my_data_keeps_only_anonymous_ratings(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("5")
    await person.type("quay lại")
    await person.type("4")
    (confirm,) = await person.type("/xoadulieu")
    assert [o.label for o in confirm.options] == ["Xoá dữ liệu của tôi", "Giữ lại"]
    (done,) = await person.press_label("Xoá dữ liệu của tôi")
    assert "đã được xoá" in done.text
    async with services.uow(read_only=True) as uow:
        assert await uow.connection.scalar(select(func.count()).select_from(IdentityRow)) == 0
        invitation = (await uow.connection.execute(select(InvitationRow.person_id, InvitationRow.status))).one()
        person_row = (await uow.connection.execute(select(PersonRow.name, PersonRow.phone, PersonRow.erased_at))).one()
        pending = await uow.connection.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")
        )
        audit = (await uow.connection.execute(select(AuditRow.action))).scalars().all()
    assert tuple(invitation) == (None, "cancelled")
    assert person_row[:2] == (None, None)
    assert person_row[2] is not None
    assert pending == 0
    assert audit == ["consent", "erase"]
    assert await answers(services) == {"TC1": ("4", None)}
    (after,) = await person.type("/khaosat")
    assert "quét mã QR" in after.text


async def test_erasing_blanks_the_comments_i_wrote(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("5")
    for _ in range(31):
        await person.type("0")
    await person.type("Số điện thoại của tôi là 0912345678")
    await person.type("/xoadulieu")
    await person.type("1")
    assert await answers(services) == {"TC1": ("5", None), "YK": (None, None)}


async def test_keeping_my_data_changes_nothing(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type("/xoadulieu")
    (kept,) = await person.type("2")
    assert kept.text == "Dữ liệu của Ông/Bà được giữ nguyên."
    (resumed,) = await person.type("/khaosat")
    assert "Câu 1/33" in resumed.text


async def test_english_on_request(services: Services, token: str) -> None:
    person = await started(services, token)
    (done,) = await person.type("/lang en")
    assert done.text == "Language set to English."
    (question,) = await person.type("/survey")
    assert "Question 1/33 · I. Access to the service" in question.text
    assert [o.label for o in question.options][:5] == [
        "Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"
    ]  # fmt: skip
    await person.type("very satisfied")
    assert (await answers(services))["TC1"] == ("5", None)
    (usage,) = await person.type("/lang fr")
    assert usage.text.startswith("Type /lang vi")


async def test_decomposed_vietnamese_is_understood_and_stored_composed(services: Services, token: str) -> None:
    person = await started(services, token)
    await person.type(unicodedata.normalize("NFD", "Rất hài lòng"))
    for _ in range(31):
        await person.type("0")
    await person.type(unicodedata.normalize("NFD", "Nhân viên chu đáo"))
    recorded = await answers(services)
    assert recorded["TC1"] == ("5", None)
    assert recorded["YK"] == (None, "Nhân viên chu đáo")
    assert unicodedata.is_normalized("NFC", recorded["YK"][1] or "")
    # after the survey, a message that is not an answer is offered as a complaint; sent as one, it is kept composed
    (offer,) = await person.type(unicodedata.normalize("NFD", "Cán bộ cần hướng dẫn rõ hơn về lệ phí"))
    assert "Gửi phản ánh tới cán bộ, kèm mã hồ sơ" in offer.text
    assert await feedback_texts(services) == []
    await person.type("1")
    assert await feedback_texts(services) == ["Cán bộ cần hướng dẫn rõ hơn về lệ phí"]


async def feedback_texts(services: Services) -> list[str]:
    async with services.uow(read_only=True) as uow:
        return list((await uow.connection.execute(select(FeedbackRow.text).order_by(FeedbackRow.id))).scalars())


async def test_what_no_database_can_store_is_dropped_from_typed_text(services: Services, token: str) -> None:
    # a NUL character (PostgreSQL refuses it) and a lone surrogate (no UTF-8 for it) made the turn fail
    person = Person(services, "an")
    await person.link(token)
    await person.type("Cán bộ\x00 tận tình \ud800")
    await person.type("có")  # sent as a complaint
    assert await feedback_texts(services) == ["Cán bộ tận tình \ufffd"]


@pytest.mark.parametrize(
    "spelt",
    [
        lambda i: "0" + i,
        lambda i: "".join(chr(0x660 + int(d)) for d in i),  # Arabic-Indic digits: str.isdigit() and int() take them
        lambda i: "".join(chr(0xFF10 + int(d)) for d in i),  # full-width digits
        lambda i: "²",  # str.isdigit(), but int() raised ValueError
        lambda i: "9" * 25,  # past a database integer: OverflowError on SQLite, an error on PostgreSQL
    ],
)
async def test_a_button_whose_id_is_spelt_otherwise_is_stale(
    services: Services, token: str, spelt: Callable[[str], str]
) -> None:
    person = await started(services, token)
    value = next(o.value for o in person.last.options if o.value.startswith("a:"))
    kind, ref, rest = value.split(":", 2)
    invitation, turn = ref.split(".")  # the invitation and the message's turn
    for forged in (f"{spelt(invitation)}.{turn}", f"{invitation}.{spelt(turn)}"):
        await person.press(f"{kind}:{forged}:{rest}")
        assert person.last_outcome is not None
        assert person.last_outcome.ack == "Nút này không còn hiệu lực; xin Ông/Bà trả lời câu hỏi hiện tại."
    assert await answers(services) == {}
    await person.press(value)  # the button as it was offered still works
    assert len(await answers(services)) == 1


@pytest.mark.parametrize("spelt", ["0{id}", "٣", "9999999999999999999999", "²", "{id} "])
async def test_a_staff_button_whose_id_is_spelt_otherwise_is_stale(
    services: Services, clock: Clock, spelt: str
) -> None:
    await add_unit(services)
    await DossierHandler(services).upsert(sample_dossier(code="P8-2", due_at=clock.now + timedelta(hours=20)))
    officer = Person(services, "officer")
    await officer.type(f"/join {await Roles(services).invite('staff', 'P8', 'Trần Thị Bình')}")
    await officer.type("/xinloi P8-2")
    reason = next(o.value for o in officer.last.options if o.value.endswith(":r:1"))
    dossier_id = reason.split(":")[1]
    for value in (f"x:{spelt.format(id=dossier_id)}:r:1", f"f:{spelt.format(id=dossier_id)}:c"):
        await officer.press(value)
        assert officer.last_outcome is not None
        assert officer.last_outcome.ack in ("Thao tác này không còn hiệu lực.", "Phản ánh này đã được đóng."), value
    await officer.press(reason)
    assert "Bước 2/3" in officer.last.text


async def test_sharing_a_phone_number_links_the_dossiers_with_that_number(
    services: Services, token: str, clock: Clock
) -> None:
    await returned_dossier(services, sample_dossier(code="HS-9", phone="0977 111 222", name="Đỗ Văn Em"), clock.now)
    person = Person(services, "em")
    await person.link(token)
    linked, waiting = await person.share_contact("+84977111222")
    assert "Đã liên kết 1 hồ sơ" in linked.text
    assert "phiếu khảo sát" in waiting.text
    (unknown,) = await person.share_contact("0900000000")
    assert "không tìm thấy" in unknown.text


async def test_help_and_unknown_commands(services: Services, token: str) -> None:
    person = Person(services, "an")
    (help_text,) = await person.type("/trogiup")
    assert "/khaosat" in help_text.text
    assert "/xoadulieu" in help_text.text
    (unknown,) = await person.type("/lamgi")
    assert unknown.text.startswith("Xin lỗi, chúng tôi chưa hiểu")


async def test_a_completed_survey_takes_no_more_answers(services: Services, clock: Clock) -> None:
    await UnitHandler(services).add("P8", "Phường 8", form="danh-gia-ho-so")
    token = await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=2))
    person = await started(services, token)
    question = person.last
    await person.type("3")
    await person.type("0")
    assert (await invitation_state(services))[0] == "completed"
    (notice,) = await person.press(question.options[0].value)
    assert notice.text == "Nút này không còn hiệu lực; xin Ông/Bà trả lời câu hỏi hiện tại."
    (declined,) = await person.type("2")  # "Không" to the complaint step the end of the survey offers
    assert declined.text.startswith("Đã rõ; không có phản ánh nào được gửi đi")
    (reply,) = await person.type("1")
    assert reply.text.startswith("Hiện Ông/Bà không có phiếu khảo sát nào")
    assert await answers(services) == {"HL": ("5", None)}


async def test_contact_data_of_dossiers_closed_past_the_retention_period_is_erased(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(code="OLD-1", phone="0912 000 001"), clock.now)
    await Person(services, "old").link(token)
    recent = sample_dossier(code="NEW-1", phone="0912 000 002", name="Trần Văn Mới")
    clock.advance(days=300)  # returned 300 days later (a return is never dated in the future)
    await returned_dossier(services, recent, clock.now)
    clock.advance(days=66)
    assert await Retention(services).purge() == 1
    assert await Retention(services).purge() == 0
    async with services.uow(read_only=True) as uow:
        people = {r.phone: r.name for r in await uow.connection.execute(select(PersonRow.phone, PersonRow.name))}
        chats = await uow.connection.scalar(select(func.count(IdentityRow.id)))
        audit = (await uow.connection.execute(select(AuditRow.actor, AuditRow.action))).all()
    assert people == {None: None, "84912000002": "Trần Văn Mới"}  # the old one erased, the recent one kept
    assert chats == 0
    assert ("retention", "erase") in [tuple(a) for a in audit]
