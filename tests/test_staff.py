"""Staff end to end on Telegram: warned before dossiers run late, apologies in a few taps, complaints answered."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import pypdf

from scheduler.jobs import Jobs
from tests.conftest import Backend, Clock
from tests.emulators.telegram import BotMessage, Person, TelegramEmulator
from tests.telegram_service import TOKEN, RunningService, running_service

OFFICER = "Trần Thị Bình"
FRIDAY = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội; Tuesday 24/11 is Ngày Văn hóa Việt Nam
# ten unresolved dossiers received on Monday 16/11: due dates around the weekend and the holiday
DUE = {
    "P8-01": "2026-11-19",  # yesterday: overdue
    "P8-02": "2026-11-20",  # today
    "P8-03": "2026-11-21",  # Saturday
    "P8-04": "2026-11-22",  # Sunday
    "P8-05": "2026-11-23",  # Monday, the next working day
    "P8-06": "2026-11-24",  # Tuesday, a public holiday: still only Monday left to work
    "P8-07": "2026-11-25",  # Wednesday: two working days left
    "P8-08": "2026-11-26",
    "P8-09": "2026-11-30",
    "P8-10": "2026-11-27",
}
# warned on Friday: those whose last day to apologise in time has come or passed (P8-01 to P8-05), and those
# with two working days left to do it (P8-06 and P8-07: the last permitted day is Monday 23/11)
AT_RISK = ["P8-01", "P8-02", "P8-03", "P8-04", "P8-05", "P8-06", "P8-07"]
SETTINGS = {"survey_tick_seconds": 3600, "telegram_chat_interval": 0.05}


def emulator() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=40.0, global_rate=200.0)


def pdf_text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    return " ".join(unicodedata.normalize("NFC", text).split())


async def consent(person: Person, token: str) -> None:
    await person.send_command("/start", token)
    await person.wait_for(lambda p: "Đồng ý" in p.last.button_texts)
    await person.press("Đồng ý")
    await person.wait_for(lambda p: any("đã được liên kết" in t for t in p.texts))


async def join(person: Person, code: str) -> None:
    await person.send_command("/join", code)
    await person.wait_for(lambda p: any("đã được cấp quyền" in t for t in p.texts))


def warnings(officer: Person) -> dict[str, BotMessage]:
    """The latest warning about each dossier (a dossier is warned at most twice: see ``warned``)."""
    return {code: messages[-1] for code, messages in warned(officer).items()}


def warned(officer: Person) -> dict[str, list[BotMessage]]:
    found: dict[str, list[BotMessage]] = {}
    for message in officer.messages:
        if message.text.startswith("⚠️ Hồ sơ ") or message.text.startswith("⚠️ Hồ sơ "):
            found.setdefault(message.text.split()[3], []).append(message)
    return found


async def issue_in_chat(officer: Person, code: str, *, by_warning: bool, reason: str | None) -> BotMessage:
    """An officer's apology: reason, new date, preview, confirm — the first offered date, or one typed."""
    before = len(officer.messages)
    if by_warning:
        await officer.press("Lập phiếu xin lỗi", message_id=warnings(officer)[code].message_id)
    else:
        await officer.send_command("/xinloi", code)
    await officer.wait_for(lambda p: p.last.text.startswith("Phiếu xin lỗi cho hồ sơ " + code))
    if reason is None:
        await officer.press("Hồ sơ cần xác minh, làm rõ thêm")
    else:
        await officer.press("Lý do khác (nhập nội dung)")
        await officer.wait_for(lambda p: p.last.text.startswith("Xin nhập lý do"))
        await officer.send_text(reason)
    await officer.wait_for(lambda p: "Bước 2/3" in p.last.text)
    dates = [text for text in officer.last.button_texts]
    assert dates[0].startswith(("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu")), dates
    assert not any("24/11/2026" in d or "21/11/2026" in d or "22/11/2026" in d for d in dates), dates
    if reason is None:
        await officer.press(dates[0])
    else:
        await officer.send_text("26/11/2026")
    await officer.wait_for(lambda p: "Bước 3/3" in p.last.text)
    assert code in officer.last.text
    await officer.press("Xác nhận gửi")
    await officer.wait_for(lambda p: any(m.document for m in p.messages[before:]), timeout=20)
    issued = next(m for m in officer.messages[before:] if m.text.startswith("Đã lập phiếu xin lỗi số"))
    assert code in issued.text
    return issued


async def put_dossiers(service: RunningService, emu: TelegramEmulator) -> dict[str, Person]:
    citizens = {}
    for number, (code, due) in enumerate(DUE.items()):
        body = await service.put_dossier(
            code, f"Người dân {number}", received="2026-11-16T08:00:00+07:00", due=due, handler=OFFICER
        )
        if number < 7:  # seven of the ten citizens linked their chat from the receipt
            citizens[code] = emu.person(user_id=300_000 + number, first_name=f"Dân {number}")
            await consent(citizens[code], body["optin"]["token"])
    return citizens


async def post_apology(service: RunningService, key: str, code: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with service.session.post(
        f"{service.base_url}/api/v1/dossiers/{code}/apology", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        return response.status, await response.json()


async def test_warned_in_time_apologies_in_chat_and_by_api_at_most_one_each(backend: Backend) -> None:
    clock = Clock(FRIDAY)
    async with emulator() as emu:
        async with running_service(backend.url, emu, clock=clock, **SETTINGS) as service:
            app = service.app
            officer = emu.person(user_id=100, first_name="Bình")
            leader = emu.person(user_id=101, first_name="Lãnh đạo")
            await join(officer, await app.roles.invite("staff", "P8", officer_name=OFFICER))
            await join(leader, await app.roles.invite("leader", "P8"))
            citizens = await put_dossiers(service, emu)
            jobs = Jobs(app.services, "a")
            clock.advance(minutes=15)
            assert await jobs.at_risk()
            await officer.wait_for(lambda p: len(warnings(p)) == len(AT_RISK), timeout=20)
            clock.advance(minutes=15)
            assert await jobs.at_risk()  # a second run: nothing more
        async with running_service(backend.url, emu, clock=clock, **SETTINGS) as service:  # a restart
            app = service.app
            clock.advance(minutes=15)
            assert await Jobs(app.services, "b").at_risk()
            await officer.send_command("/trogiup")
            await officer.wait_for(lambda p: "Lệnh dành cho cán bộ" in p.last.text)
            assert sorted(warnings(officer)) == AT_RISK  # once each so far
            assert all(len(messages) == 1 for messages in warned(officer).values())
            assert "hôm nay (20/11/2026) là ngày cuối để xin lỗi đúng hạn" in warnings(officer)["P8-05"].text
            assert "chậm nhất ngày 23/11/2026" in warnings(officer)["P8-07"].text
            assert "Trần Thị Bình" in warnings(officer)["P8-01"].text
            assert "Người dân 0" not in warnings(officer)["P8-01"].text  # the citizen's name is masked

            reasons = {"P8-03": "Chờ kết quả đo đạc thửa đất của Văn phòng đăng ký đất đai"}
            numbers = []
            for code in ["P8-01", "P8-02", "P8-03", "P8-04"]:
                issued = await issue_in_chat(officer, code, by_warning=True, reason=reasons.get(code))
                numbers.append(issued.text.split(" số ")[1].split()[0])
            await issue_in_chat(officer, "P8-05", by_warning=False, reason=None)
            assert numbers == ["01/PXL", "02/PXL", "03/PXL", "04/PXL"]
            staff_slip = next(m for m in reversed(officer.messages) if m.document)
            assert staff_slip.document is not None
            assert staff_slip.document.data is not None
            slip_text = pdf_text(staff_slip.document.data)
            assert "P8-05" in slip_text
            assert slip_text.startswith("ỦY BAN NHÂN DÂN PHƯỜNG 8 CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
            assert "Số: 05/PXL Phường 8, ngày 20 tháng 11 năm 2026" in slip_text
            assert "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH (Ký, ghi rõ họ tên và đóng dấu)" in slip_text

            key = await app.api_keys.create("one-stop-shop", ["apologies:write"], ["all"])
            for code, new_due in (("P8-06", "2026-11-27"), ("P8-07", "2026-12-02")):
                status, body = await post_apology(
                    service,
                    key,
                    code,
                    {"reason": "Chờ ý kiến của Sở Tư pháp", "new_due_at": new_due, "issued_by": OFFICER},
                )
                assert status == 201, body
                assert body["apology"]["number"] in ("06/PXL", "07/PXL")
                assert body["sent_on"] == ["telegram"]

            expected_dates = {
                "P8-01": "23/11/2026",
                "P8-02": "23/11/2026",
                "P8-03": "26/11/2026",
                "P8-04": "23/11/2026",
                "P8-05": "25/11/2026",
                "P8-06": "27/11/2026",
                "P8-07": "02/12/2026",
            }
            for code, citizen in citizens.items():
                await citizen.wait_for(lambda p: any(m.document for m in p.messages), timeout=20)
                apology = next(m for m in citizen.messages if "thành thật xin lỗi" in m.text)
                assert code in apology.text
                assert f"Ngày hẹn trả kết quả mới: {expected_dates[code]}" in apology.text
                [slip] = [m.document for m in citizen.messages if m.document]
                assert slip.data is not None
                text = pdf_text(slip.data)
                assert code in text
                assert expected_dates[code] in text
                reason = reasons.get(code, "Chờ ý kiến của Sở Tư pháp" if code in ("P8-06", "P8-07") else None)
                assert (reason or "Hồ sơ cần xác minh, làm rõ thêm") in text

            # a second apology, on every path: refused, nothing sent
            sent_before = {code: len(c.messages) for code, c in citizens.items()}
            await officer.send_command("/xinloi", "P8-01")
            await officer.wait_for(lambda p: "đã có phiếu xin lỗi số 01/PXL" in p.last.text)
            await officer.press("Lập phiếu xin lỗi", message_id=warnings(officer)["P8-02"].message_id)
            await officer.wait_for(lambda p: "đã có phiếu xin lỗi số 02/PXL" in p.last.text)
            status, body = await post_apology(
                service, key, "P8-06", {"reason": "Lần hai", "new_due_at": "2026-12-03", "issued_by": OFFICER}
            )
            assert status == 409
            assert body["error"]["code"] == "apology_exists"
            status, body = await post_apology(
                service, key, "P8-08", {"reason": "Ngày nghỉ", "new_due_at": "2026-11-24", "issued_by": OFFICER}
            )
            assert status == 422  # a public holiday is not a working day
            assert {code: len(c.messages) for code, c in citizens.items()} == sent_before

            # the promised dates pass: the leaders are told at once; the late ones without apology are reported
            clock.now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
            assert await Jobs(app.services, "b").at_risk()
            await leader.wait_for(lambda p: sum(t.startswith("🔴 Hồ sơ") for t in p.texts) == 6, timeout=20)
            report = await service.report(date(2026, 11, 1), date(2026, 11, 30))
            assert report["dossiers"]["apologies"] == 7
            assert report["dossiers"]["apologies_late"] == 2  # P8-01 and P8-02: after their last permitted day
            assert report["dossiers"]["late_without_apology"] == 3
            assert report["dossiers"]["overdue_open"] == 10


async def test_staff_commands_refuse_anyone_without_the_role(backend: Backend) -> None:
    async with emulator() as emu, running_service(backend.url, emu, **SETTINGS) as service:
        stranger = emu.person(user_id=999, first_name="Lạ")
        for command in ("/xinloi P8-1", "/hoso P8-1", "/phananh"):
            name, _, payload = command.partition(" ")
            await stranger.send_command(name, payload or None)
            await stranger.wait_for(lambda p: p.last.text.startswith("Chức năng này chỉ dành cho cán bộ"))
        query = await stranger.press_data("x:1:s")
        await stranger.wait_for(lambda p: p.callback_answer(query).answered)
        assert stranger.callback_answer(query).text == "Thao tác này không còn hiệu lực."
        code = await service.app.roles.invite("staff", "P8")
        await stranger.send_command("/join", "WRONG-CODE")
        await stranger.wait_for(lambda p: "không đúng, đã được dùng hoặc đã hết hạn" in p.last.text)
        await join(stranger, code.lower().replace("-", ""))  # typed without the dash, in small letters
        other = emu.person(user_id=998, first_name="Khác")
        await other.send_command("/join", code)  # single use
        await other.wait_for(lambda p: "không đúng, đã được dùng hoặc đã hết hạn" in p.last.text)
        async with aiohttp.ClientSession() as session, session.get(f"{service.base_url}/phieu/nope.pdf") as response:
            assert response.status == 404
