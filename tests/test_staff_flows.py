"""Staff and leaders in a chat forgive mistakes: /huy at any step, a step says what it expects, help fits the role.

Each officer chats through the real handlers and outbox (tests.helpers.Person, the console channel); what is
issued, kept or sent is read back from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from handlers.admin.invites import Roles
from handlers.context import Services
from handlers.errors import InvalidInput
from handlers.intake.dossiers import ContactInput, DossierHandler
from handlers.messages import Reply
from storage.models import ApologyRow, DraftRow, FeedbackRow, InviteRow, OutboxRow
from tests.conftest import Clock
from tests.helpers import Person, add_unit, sample_dossier

CITIZEN = "Nguyễn Văn An"
OPTED_OUT = "không nhận phiếu khảo sát nữa"  # the citizen's /huy: never what an officer mid-flow reads


async def count(services: Services, column: object) -> int:
    async with services.uow(read_only=True) as uow:
        return int(await uow.connection.scalar(select(func.count(column))))  # type: ignore[arg-type]


async def draft_step(services: Services) -> str | None:
    async with services.uow(read_only=True) as uow:
        data = await uow.connection.scalar(select(DraftRow.data))
    return None if data is None else str(data.get("step", "reply"))


def text_of(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


@pytest.fixture
async def officer(services: Services, clock: Clock) -> Person:
    """A staff member of P8; P8-2 is due tomorrow morning and may still be apologised for in time."""
    await add_unit(services)
    due, received = clock.now + timedelta(hours=20), clock.now - timedelta(days=3)
    late = sample_dossier(code="P8-2", due_at=due, received_at=received)
    citizen = Person(services, "citizen-2")
    await citizen.link((await DossierHandler(services).upsert(late)).dossier.optin_token)
    officer = Person(services, "officer-1")
    await officer.type(f"/join {await Roles(services).invite('staff', 'P8', 'Trần Thị Bình')}")
    return officer


async def to_step(officer: Person, step: str) -> None:
    """Start an apology for P8-2 and walk it to ``step`` (reason, reason_text, date, confirm)."""
    await officer.type("/xinloi P8-2")
    if step == "reason_text":
        await officer.type("5")
    if step in ("date", "confirm"):
        await officer.type("1")
    if step == "confirm":
        await officer.type("1")


async def test_a_number_not_offered_at_the_reason_step_is_not_taken_as_the_reason(
    services: Services, officer: Person
) -> None:
    await officer.type("/xinloi P8-2")
    for typed in ("9", "0", "12", "ok", "?!", "abc"):
        replies = await officer.type(typed)
        said = text_of(replies)
        assert "từ 1 đến 5" in said, (typed, said)
        assert "Bước 2/3" not in said
        assert len(replies[-1].options) == 5  # the reasons offered again
        assert await draft_step(services) == "reason"
    (chosen,) = await officer.type("5")  # "Lý do khác": the reason is typed, and must be words too
    assert chosen.text.startswith("Xin nhập lý do")
    said = text_of(await officer.type("9"))
    assert "bằng chữ" in said
    assert await draft_step(services) == "reason_text"
    (dated,) = await officer.type("Chờ kết quả xác minh của Công an huyện")
    assert "Bước 2/3" in dated.text
    assert "Lý do: Chờ kết quả xác minh của Công an huyện" in dated.text
    assert await count(services, ApologyRow.id) == 0


@pytest.mark.parametrize("step", ["reason", "reason_text", "date", "confirm"])
@pytest.mark.parametrize("typed", ["/huy", "/cancel", "huỷ"])
async def test_huy_at_any_step_of_an_apology_cancels_it_and_nothing_is_issued(
    services: Services, officer: Person, step: str, typed: str
) -> None:
    await to_step(officer, step)
    assert await draft_step(services) == step
    sent_before = await count(services, OutboxRow.id)
    (reply,) = await officer.type(typed)
    assert reply.text == "Đã huỷ phiếu xin lỗi đang lập cho hồ sơ P8-2; chưa gửi gì cho người dân."
    assert OPTED_OUT not in reply.text
    assert await draft_step(services) is None
    assert await count(services, ApologyRow.id) == 0
    assert await count(services, OutboxRow.id) == sent_before + 1  # only the officer's own reply
    (after,) = await officer.type("1")  # the step is gone: "1" starts nothing
    assert "Bước" not in after.text
    assert await count(services, ApologyRow.id) == 0


@pytest.mark.parametrize("step", ["reason", "date", "confirm"])
async def test_a_citizen_command_in_the_middle_of_an_apology_is_answered_with_what_the_step_expects(
    services: Services, officer: Person, step: str
) -> None:
    await to_step(officer, step)
    for command in ("/khaosat", "/xoadulieu", "/start abc", "/foo"):
        said = text_of(await officer.type(command))
        assert "/huy" in said, (command, said)
        assert "Hồ sơ P8-2" in said or "hồ sơ P8-2" in said, said
        assert OPTED_OUT not in said
        assert "xoá dữ liệu cá nhân" not in said
        assert await draft_step(services) == step
    if step == "date":
        said = text_of(await officer.type("9"))  # five dates offered
        assert "từ 1 đến 5" in said
        assert await draft_step(services) == "date"
    if step == "confirm":
        replies = await officer.type("có lẽ")
        assert "Gõ 1 để gửi, 2 để huỷ" in text_of(replies)
        assert [o.label for o in replies[-1].options] == ["Xác nhận gửi", "Huỷ"]
        assert await draft_step(services) == "confirm"
    assert await count(services, ApologyRow.id) == 0


async def test_an_answer_to_a_complaint_can_be_cancelled_and_must_be_words(
    services: Services, officer: Person, clock: Clock
) -> None:
    writer = Person(services, "citizen-3")
    other = await DossierHandler(services).upsert(sample_dossier(code="P8-3", phone="0977 111 222", name="Đỗ Văn Em"))
    await writer.link(other.dossier.optin_token)
    await writer.type("Cán bộ hướng dẫn chưa rõ ràng")
    await writer.press_label("Có")
    await officer.receive()
    await officer.press_label("Trả lời")
    assert await draft_step(services) == "reply"
    for typed in ("1", "ok", "/khaosat"):
        said = text_of(await officer.type(typed))
        assert "Xin gõ nội dung trả lời phản ánh" in said, (typed, said)
        assert await draft_step(services) == "reply"
    said = text_of(await officer.type("Đ" * 2001))
    assert "dài quá 2000 ký tự" in said
    (cancelled,) = await officer.type("/huy")
    assert cancelled.text.startswith("Đã huỷ câu trả lời phản ánh #")
    assert await draft_step(services) is None
    async with services.uow(read_only=True) as uow:
        assert await uow.connection.scalar(select(FeedbackRow.status)) == "received"
    assert not any("trả lời ý kiến" in r.text for r in await writer.receive())


async def test_huy_with_nothing_in_progress_is_an_officers_answer(services: Services, officer: Person) -> None:
    (reply,) = await officer.type("/huy")
    assert reply.text == "Không có thao tác nào đang làm dở để huỷ."


# ------------------------------------------------------------------------------ point 9: the name on the slip


async def test_the_officer_issuing_an_apology_sees_the_name_the_slip_carries_and_other_views_stay_masked(
    services: Services, officer: Person
) -> None:
    await to_step(officer, "confirm")
    preview = officer.last.text
    assert "Bước 3/3" in preview
    assert f"Kính gửi Ông/Bà {CITIZEN}," in preview
    assert f"Phiếu in (PDF) ghi tên: {CITIZEN}" in preview
    assert "N. V. A." not in preview
    await officer.type("2")
    (summary,) = await officer.type("/hoso P8-2")
    assert "N. V. A." in summary.text
    assert CITIZEN not in summary.text


async def test_the_preview_of_an_apology_to_an_organisation_names_the_organisation_on_the_slip(
    services: Services, officer: Person, clock: Clock
) -> None:
    company = sample_dossier(
        code="P8-4",
        name="Công ty TNHH Hoà Bình",
        received_at=clock.now - timedelta(days=3),
        due_at=clock.now + timedelta(hours=20),
        representative=ContactInput(name="Lê Thị Hoa", phone="0988 000 111"),
    )
    await DossierHandler(services).upsert(company)
    await officer.type("/xinloi P8-4")
    await officer.type("1")
    await officer.type("1")
    preview = officer.last.text
    assert "Phiếu in (PDF) ghi tên: Công ty TNHH Hoà Bình" in preview
    assert "C. T. T. H. B." not in preview


# ------------------------------------------------------------------------------ point 10: help, and --lead


async def test_help_for_staff_and_leaders_starts_with_their_own_commands(services: Services, clock: Clock) -> None:
    await add_unit(services)
    roles = Roles(services)
    staff, leader, admin, citizen = (Person(services, f"{who}-1") for who in ("staff", "leader", "admin", "citizen"))
    await staff.type(f"/join {await roles.invite('staff', 'P8', 'Trần Thị Bình')}")
    await leader.type(f"/join {await roles.invite('leader', 'P8')}")
    await admin.type(f"/join {await roles.invite('admin', 'P8')}")

    (own,) = await staff.type("/trogiup")
    assert own.text.startswith("Lệnh dành cho cán bộ:")
    assert "/xinloi" in own.text
    assert "/huy — huỷ" in own.text
    assert "/baocao" not in own.text
    assert "SIPAS Bot giúp Ông/Bà đánh giá" not in own.text  # the citizen's help is not what an officer reads

    (own,) = await leader.type("/help")
    assert own.text.startswith("Lệnh dành cho lãnh đạo:")
    assert "/baocao" in own.text
    assert "6 tháng, 9 tháng, năm" in own.text
    assert "trực thuộc" in own.text
    assert "/xinloi" not in own.text

    (own,) = await admin.type("/trogiup")
    assert own.text.startswith("Lệnh dành cho cán bộ:")
    assert own.text.index("/xinloi") < own.text.index("/baocao")

    (help_,) = await citizen.type("/trogiup")
    assert help_.text.startswith("SIPAS Bot giúp Ông/Bà đánh giá")


async def test_lead_is_for_staff_only(services: Services) -> None:
    await add_unit(services)
    roles = Roles(services)
    for role in ("leader", "admin"):
        with pytest.raises(InvalidInput, match="--lead"):
            await roles.invite(role, "P8", lead=True)
    assert await count(services, InviteRow.id) == 0
    assert await roles.invite("staff", "P8", "Trần Thị Bình", lead=True)
    assert await count(services, InviteRow.id) == 1


def test_the_cli_refuses_lead_for_a_leader_in_one_line(cli: Callable[..., tuple[int, str, str]]) -> None:
    assert cli("units", "add", "P8", "Phường 8")[0] == 0
    for role in ("leader", "admin"):
        status, out, err = cli("invite", "--role", role, "--unit", "P8", "--lead")
        assert status == 2
        assert out == ""
        lead = "--lead chỉ dùng cho cán bộ (--role staff): cán bộ đầu mối của Bộ phận Một cửa."
        assert err.strip() == f"sipasbot: lỗi: {lead}"
    status, out, err = cli("--lang", "en", "invite", "--role", "leader", "--unit", "P8", "--lead")
    assert status == 2
    assert err.strip() == "sipasbot: error: --lead is for staff only (--role staff): the one-stop-shop lead."
    status, out, _ = cli("invite", "--role", "staff", "--unit", "P8", "--lead")
    assert status == 0
    assert len(out.strip()) == 9


async def test_the_apology_for_an_error_forgives_the_same_mistakes(
    services: Services, officer: Person, clock: Clock
) -> None:
    done = sample_dossier(code="P8-5", phone=None, received_at=clock.now - timedelta(days=9))
    await DossierHandler(services).upsert(done)
    await DossierHandler(services).add_event("P8-5", "returned", clock.now - timedelta(days=1))
    (prompt,) = await officer.type("/xinloi P8-5 saisot")
    assert prompt.text.startswith("Phiếu xin lỗi do sai sót cho hồ sơ P8-5")
    said = text_of(await officer.type("9"))
    assert "từ 1 đến 5" in said
    assert await draft_step(services) == "reason"
    (preview,) = await officer.type("1")
    assert "Bước 2/2" in preview.text
    assert f"Phiếu in (PDF) ghi tên: {CITIZEN}" in preview.text
    (cancelled,) = await officer.type("/huy")
    assert cancelled.text == "Đã huỷ phiếu xin lỗi đang lập cho hồ sơ P8-5; chưa gửi gì cho người dân."
    assert await draft_step(services) is None
    assert await count(services, ApologyRow.id) == 0
