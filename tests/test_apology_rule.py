"""The apology rule in chat (docs/METHOD.md): warned twice in time, late apologies flagged, apologies for an error.

Staff and citizens talk through the real handlers and outbox on the console channel; the scheduler's at-risk
scan runs on the injected clock; the slip is read back with pypdf and the workbook with openpyxl.
"""

from __future__ import annotations

import dataclasses
import io
import unicodedata
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pypdf
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from handlers.admin.invites import Roles
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.leader.digest.digests import Digests
from handlers.leader.reporting import Period, Reporter, render_text
from handlers.leader.reports import PeriodReports
from handlers.staff.apologies import Apologies
from scheduler.jobs import Jobs
from storage import migrate
from tests.conftest import Clock
from tests.helpers import Person, add_unit, returned_dossier, sample_dossier

OFFICER = "Trần Thị Bình"
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """Local time in Hà Nội on a day of November 2026, as UTC."""
    return datetime(2026, 11, day, hour - 7, minute, tzinfo=UTC)


def due(day: int) -> datetime:
    return datetime(2026, 11, day, 16, 59, 59, tzinfo=UTC)  # 23:59:59 local


async def officer(services: Services) -> Person:
    person = Person(services, "officer")
    await person.type(f"/join {await Roles(services).invite('staff', 'P8', OFFICER)}")
    return person


def warnings(person: Person) -> list[str]:
    return [r.text for r in person.seen if r.text.startswith("⚠️ Hồ sơ ")]


def pdf_text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    return " ".join(unicodedata.normalize("NFC", text).split())


# --- point 4: two warnings, the first while there is still time for the chairman's signature


async def test_a_dossier_at_risk_is_warned_two_working_days_ahead_and_again_on_the_last_permitted_day(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    dossiers = DossierHandler(services)
    # Tuesday 24/11/2026 is a public holiday: due Wednesday 25/11, the last permitted day is Monday 23/11
    await dossiers.upsert(sample_dossier(code="P8-25", received_at=at(16), due_at=due(25)))
    await dossiers.upsert(sample_dossier(code="P8-26", received_at=at(16), due_at=due(26)))
    staff = await officer(services)
    jobs = Jobs(services, "a")
    seen: list[str] = []

    async def scan(now: datetime) -> list[str]:
        clock.now = now
        assert await jobs.at_risk()  # each quarter hour is claimed once
        await staff.receive()
        new = warnings(staff)[len(seen) :]
        seen.extend(new)
        return new

    assert await scan(at(19)) == []  # Thursday: three working days left for P8-25 (19, 20, 23)
    [first] = await scan(at(20))  # Friday: two left (20 and 23)
    assert first.startswith("⚠️ Hồ sơ P8-25 sắp đến hạn trả kết quả")
    assert "còn 2 ngày làm việc để xin lỗi đúng hạn (chậm nhất ngày 23/11/2026)" in first
    assert "Hẹn trả: 25/11/2026" in first
    assert await scan(at(20, 10, 15)) == []  # once
    assert await scan(at(21)) == []  # Saturday: nothing new
    last, first_26 = await scan(at(23))  # Monday
    assert last.startswith("⚠️ Hồ sơ P8-25 — hôm nay (23/11/2026) là ngày cuối để xin lỗi đúng hạn")
    assert first_26.startswith("⚠️ Hồ sơ P8-26 sắp đến hạn")
    assert "chậm nhất ngày 25/11/2026" in first_26
    assert await scan(at(23, 10, 15)) == []
    assert await scan(at(24)) == []  # the holiday
    [last_26] = await scan(at(25))  # Wednesday: P8-25 is due today, but was warned on its last day already
    assert last_26.startswith("⚠️ Hồ sơ P8-26 — hôm nay (25/11/2026) là ngày cuối")
    assert await scan(at(26)) == []
    assert all(any(o.label == "Lập phiếu xin lỗi" for o in r.options) for r in staff.seen if r.text in seen)


async def test_the_first_warning_comes_as_many_working_days_ahead_as_configured(
    services: Services, clock: Clock
) -> None:
    services = dataclasses.replace(services, policy=dataclasses.replace(services.policy, apology_warn_working_days=1))
    await add_unit(services)
    await DossierHandler(services).upsert(sample_dossier(code="P8-25", received_at=at(16), due_at=due(25)))
    staff = await officer(services)
    jobs = Jobs(services, "a")
    for day in (19, 20):
        clock.now = at(day)
        await jobs.at_risk()
    await staff.receive()
    assert warnings(staff) == []
    clock.now = at(23)
    await jobs.at_risk()
    await staff.receive()
    [only] = warnings(staff)
    assert "hôm nay (23/11/2026) là ngày cuối" in only


async def test_a_dossier_found_after_its_last_permitted_day_is_warned_once_that_an_apology_now_is_late(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    await DossierHandler(services).upsert(sample_dossier(code="P8-18", received_at=at(10), due_at=due(18)))
    staff = await officer(services)
    jobs = Jobs(services, "a")
    await jobs.at_risk()  # Wednesday 18/11, 10:00: due today, the last permitted day was yesterday
    clock.advance(minutes=15)
    await jobs.at_risk()
    await staff.receive()
    [warning] = warnings(staff)
    assert warning.startswith("⚠️ Hồ sơ P8-18 đến hạn trả kết quả mà chưa có phiếu xin lỗi")
    assert "đã qua ngày cuối để xin lỗi đúng hạn (17/11/2026)" in warning


# --- point 3: a late apology is issued, but staff are told before they confirm, and it is reported apart


async def issue_in_chat(staff: Person, code: str) -> tuple[str, str]:
    """``/xinloi``, the first reason, the first offered date: the preview and the answer to the confirmation."""
    await staff.type(f"/xinloi {code}")
    await staff.press_label("Hồ sơ cần xác minh, làm rõ thêm")
    await staff.press(next(o.value for o in staff.last.options if ":d:" in o.value))
    preview = staff.last.text
    assert "Bước 3/3" in preview
    replies = await staff.press_label("Xác nhận gửi")
    return preview, replies[0].text


async def test_staff_are_told_before_they_confirm_that_an_apology_is_late_and_it_is_still_sent(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    dossiers = DossierHandler(services)
    late = await dossiers.upsert(sample_dossier(code="P8-LATE", received_at=at(10), due_at=due(18)))
    await dossiers.upsert(sample_dossier(code="P8-OK", received_at=at(10), due_at=due(19), phone="0913 000 111"))
    citizen = Person(services, "citizen")
    await citizen.link(late.dossier.optin_token)
    staff = await officer(services)

    preview, issued = await issue_in_chat(staff, "P8-LATE")  # due today: the last permitted day was 17/11
    assert preview.startswith("⚠️ Phiếu xin lỗi này KHÔNG ĐÚNG HẠN: theo quy định phải gửi chậm nhất ngày 17/11/2026")
    assert issued.startswith("Đã lập phiếu xin lỗi số 01/PXL cho hồ sơ P8-LATE")
    assert "Phiếu được ghi nhận là xin lỗi không đúng hạn." in issued
    await citizen.receive()
    assert any("thành thật xin lỗi" in r.text and "P8-LATE" in r.text for r in citizen.seen)

    preview, issued = await issue_in_chat(staff, "P8-OK")  # due tomorrow: today is the last permitted day
    assert "KHÔNG ĐÚNG HẠN" not in preview
    assert "không đúng hạn" not in issued

    await staff.type("/hoso P8-LATE")
    assert "Phiếu xin lỗi số 01/PXL" in staff.last.text
    assert "(xin lỗi không đúng hạn)" in staff.last.text
    await staff.type("/hoso P8-OK")
    assert "không đúng hạn" not in staff.last.text

    report = await Reporter(services).satisfaction("P8", NOVEMBER)
    assert (report["dossiers"]["apologies"], report["dossiers"]["apologies_late"]) == (2, 1)
    text = render_text(report, services)
    assert "xin lỗi không đúng hạn 1" in text
    clock.now = at(19, 8)
    digest = await Digests(services).build("P8", date(2026, 11, 19), with_chart=False)
    line = "• Phiếu xin lỗi trễ hạn: 2 — trong đó xin lỗi không đúng hạn: 1 · phiếu xin lỗi do sai sót: 0"
    assert line in digest.text


# --- point 5: an apology for an error in handling, apart from the delay one


async def test_a_returned_dossier_gets_an_apology_for_an_error_worded_for_the_error_without_a_new_date(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(code="P8-R"), clock.now - timedelta(hours=2))
    await DossierHandler(services).upsert(sample_dossier(code="P8-OPEN", phone="0913 000 111", due_at=due(27)))
    citizen = Person(services, "citizen")
    await citizen.link(token)
    staff = await officer(services)

    await staff.type("/xinloi P8-R")  # returned: no delay apology, but an error one is offered
    assert staff.last.text.startswith("Hồ sơ P8-R đã trả kết quả: không cần phiếu xin lỗi.")
    assert "/xinloi P8-R saisot" in staff.last.text
    await staff.press_label("Lập phiếu xin lỗi do sai sót")
    assert staff.last.text.startswith("Phiếu xin lỗi do sai sót cho hồ sơ P8-R")
    assert "Bước 1/2" in staff.last.text
    await staff.press_label("Kết quả giải quyết ghi sai thông tin")
    preview = staff.last.text
    assert preview.startswith("Bước 2/2")
    assert "đã để xảy ra sai sót" in preview
    assert "Nội dung sai sót: Kết quả giải quyết ghi sai thông tin" in preview
    assert "hẹn trả kết quả mới" not in preview.lower()
    issued, slip = await staff.press_label("Xác nhận gửi")
    assert issued.text.startswith("Đã lập phiếu xin lỗi do sai sót số 01/PXL cho hồ sơ P8-R.")
    assert slip.text == "Phiếu xin lỗi do sai sót số 01/PXL"

    got = await citizen.receive()
    message = next(r.text for r in got if "thành thật xin lỗi" in r.text)
    assert "trong quá trình giải quyết hồ sơ “Đăng ký khai sinh”" in message
    assert "Nội dung sai sót: Kết quả giải quyết ghi sai thông tin" in message
    assert "hẹn" not in message
    assert any(r.attachments and r.attachments[0]["kind"] == "apology_slip" for r in got)

    await staff.type("/xinloi P8-R saisot")
    assert staff.last.text == (
        "Hồ sơ P8-R đã có phiếu xin lỗi do sai sót số 01/PXL. Mỗi hồ sơ chỉ lập một phiếu xin lỗi do sai sót."
    )
    await staff.type("/xinloi P8-OPEN saisot")
    assert staff.last.text.startswith("Hồ sơ P8-OPEN đang xử lý: phiếu xin lỗi do sai sót chỉ lập cho hồ sơ đã")
    await staff.type("/hoso P8-R")
    assert "Phiếu xin lỗi do sai sót số 01/PXL (sai sót: Kết quả giải quyết ghi sai thông tin)." in staff.last.text

    apology_id = int(slip.attachments[0]["apology_id"])
    pdf = await Apologies(services).slip_pdf(apology_id)
    assert pdf is not None
    text = pdf_text(pdf)
    assert "PHIẾU XIN LỖI VỀ SAI SÓT TRONG GIẢI QUYẾT HỒ SƠ" in text
    assert "Nội dung sai sót: Kết quả giải quyết ghi sai thông tin" in text
    assert "thành thật xin lỗi Ông/Bà" in text
    assert "xin hẹn trả kết quả" not in text

    report = await Reporter(services).satisfaction("P8", NOVEMBER)
    assert (report["dossiers"]["apologies"], report["dossiers"]["apologies_error"]) == (0, 1)
    assert "xin lỗi do sai sót 1" in render_text(report, services)


# --- point 21: the workbook counts the apologies an officer's dossiers got, and lists each apology


async def test_the_workbook_lists_each_apology_and_counts_them_for_the_officer(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    dossiers = DossierHandler(services)
    token = await returned_dossier(services, sample_dossier(code="P8-R"), clock.now - timedelta(hours=2))
    await dossiers.upsert(sample_dossier(code="P8-LATE", received_at=at(10), due_at=due(18), phone="0913 000 111"))
    await dossiers.upsert(sample_dossier(code="P8-OK", received_at=at(10), due_at=due(20), phone="0913 000 222"))
    assert token
    apologies = Apologies(services)
    async with services.uow() as uow:
        for code, kind, day in (("P8-LATE", "delay", date(2026, 11, 25)), ("P8-OK", "delay", date(2026, 11, 26))):
            dossier = await uow.dossiers.get_by_code(code)
            assert dossier is not None
            await apologies.issue(uow, dossier, "Chờ xác minh", day, "Lê Văn Cường", clock.now, kind)
        returned = await uow.dossiers.get_by_code("P8-R")
        assert returned is not None
        await apologies.issue(uow, returned, "Ghi sai ngày sinh", None, OFFICER, clock.now, "error")
        await uow.commit()
    content = await PeriodReports(services, Digests(services)).workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026")
    book = openpyxl.load_workbook(io.BytesIO(content))

    officers = [[c.value for c in row] for row in book["Cán bộ"].iter_rows()]
    header = officers[0]
    [bình] = [dict(zip(header, row, strict=True)) for row in officers[1:] if row[0] == OFFICER]
    # two delay apologies for dossiers not yet resolved (one late), one for an error in a returned dossier
    assert (bình["Phiếu xin lỗi"], bình["Xin lỗi không đúng hạn"], bình["Phiếu xin lỗi do sai sót"]) == (2, 1, 1)
    assert bình["Hồ sơ đã giải quyết"] == 1

    sheet = book["Phiếu xin lỗi"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == [
        "Mã hồ sơ",
        "Số phiếu",
        "Loại",
        "Cán bộ xử lý",
        "Người lập phiếu",
        "Thời điểm lập",
        "Ngày hẹn trả",
        "Ngày hẹn mới",
        "Lý do",
        "Đúng hạn",
    ]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["P8-LATE"] == [
        "P8-LATE",
        "01/PXL",
        "Trễ hạn",
        OFFICER,
        "Lê Văn Cường",
        datetime(2026, 11, 18, 10, 0),
        datetime(2026, 11, 18),
        datetime(2026, 11, 25),
        "Chờ xác minh",
        "Không đúng hạn",
    ]
    assert by_code["P8-OK"][2] == "Trễ hạn"
    assert by_code["P8-OK"][-1] == "Đúng hạn"
    assert by_code["P8-R"][2] == "Sai sót"
    assert by_code["P8-R"][7] is None  # no new date
    assert by_code["P8-R"][-1] == "—"
    assert sheet["F2"].number_format == "dd/mm/yyyy hh:mm"

    summary = {row[0].value: row[1].value for row in book["Tổng hợp"].iter_rows() if row[0].value}
    assert (summary["Phiếu xin lỗi"], summary["Xin lỗi không đúng hạn"], summary["Phiếu xin lỗi do sai sót"]) == (
        2,
        1,
        1,
    )


# --- the migration: apologies issued before it are judged by their dates


def _downgrade(connection: Connection, revision: str) -> None:
    config = migrate.alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_the_migration_judges_whether_the_apologies_issued_before_it_were_in_time(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    dossiers = DossierHandler(services)
    await dossiers.upsert(sample_dossier(code="P8-LATE", received_at=at(10), due_at=due(18)))
    await dossiers.upsert(sample_dossier(code="P8-OK", received_at=at(10), due_at=due(19), phone="0913 000 111"))
    async with services.uow() as uow:
        for code in ("P8-LATE", "P8-OK"):
            dossier = await uow.dossiers.get_by_code(code)
            assert dossier is not None
            await Apologies(services).issue(uow, dossier, "Chờ xác minh", date(2026, 11, 25), OFFICER, clock.now)
        await uow.commit()
    before = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0013").down_revision
    assert isinstance(before, str)
    async with services.database.engine.begin() as connection:
        await connection.run_sync(_downgrade, before)  # the column is gone, as before this revision
    await migrate.upgrade(services.database)
    async with services.uow(read_only=True) as uow:
        judged = {}
        for code in ("P8-LATE", "P8-OK"):
            dossier = await uow.dossiers.get_by_code(code)
            assert dossier is not None
            apology = await uow.dossiers.apology(dossier.id)
            assert apology is not None
            judged[code] = (apology.kind, apology.in_time)
    assert judged == {"P8-LATE": ("delay", False), "P8-OK": ("delay", True)}
