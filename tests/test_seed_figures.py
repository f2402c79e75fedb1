"""What the seeds ask leaders to report (issue 14, points 15–18): on time and targets per field, dossiers received
online, repeated supplement requests, complaints handled, and the 6-month, 9-month and yearly periods.

One fixture month (November 2026, unit P8), computed by hand below, read back from every output a leader reads:
the digest printed by ``sipasbot digest``, the report JSON of ``sipasbot report``, the workbook read back with
openpyxl, and the public page's JSON and HTML.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.intake.dossiers import DossierHandler
from handlers.leader.reporting import Period
from tests.conftest import Backend, Clock
from tests.helpers import in_process_cli, sample_dossier, vietnam_today
from tests.test_reporting import all_items, respondent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
RATINGS = [all_items("5"), all_items("4"), all_items("4", TC1="2"), all_items("3"), all_items("5", CC1="1")]
RATINGS += [all_items("4")]
LAND = "Đất đai"
CIVIL = "Hộ tịch"

# by hand: 6 Hộ tịch dossiers received at the counter and resolved on time (with their surveys); 5 Đất đai dossiers
# received online, 4 resolved on time and 1 late; one asked for a supplement twice, one once; 4 complaints in
# November (1 still open, 1 answered, 2 closed) and 1 in October
RECEIVED, ONLINE = 11, 5
ONLINE_TEXT = "45,5%"  # 5 ÷ 11 = 45,4545…%
COMPLAINTS = {"received": 4, "answered": 1, "closed": 2}


def local(month: int, day_: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day_, hour, tzinfo=HANOI)


async def fixture_month(app: App) -> None:
    """The month above, in unit P8."""
    await app.units.add("P8", "Phường 8")
    for number, ratings in enumerate(RATINGS):
        await respondent(app.services, f"P8-HT-{number}", "P8", CIVIL, ratings, local(11, 10 + number))
    dossiers = DossierHandler(app.services)
    for number in range(5):
        code = f"P8-DD-{number}"
        data = dataclasses.replace(
            sample_dossier(code=code, field=LAND, phone=None, received_at=local(11, 2), due_at=local(11, 20)),
            channel="truc_tuyen",
        )
        await dossiers.upsert(data)
    # P8-DD-0: asked for a supplement twice; P8-DD-1: once
    for at, kind in ((3, "supplement_requested"), (4, "supplement_received"), (5, "supplement_requested")):
        await dossiers.add_event("P8-DD-0", kind, local(11, at))
    await dossiers.add_event("P8-DD-0", "supplement_received", local(11, 6))
    await dossiers.add_event("P8-DD-1", "supplement_requested", local(11, 3))
    await dossiers.add_event("P8-DD-1", "supplement_received", local(11, 4))
    for number in range(4):
        await dossiers.add_event(f"P8-DD-{number}", "result_ready", local(11, 18))
    await dossiers.add_event("P8-DD-4", "result_ready", local(11, 25))  # late: due on 20/11
    async with app.services.uow() as uow:
        unit = await uow.units.get_by_code("P8")
        assert unit is not None
        made = [
            await uow.feedback.add(local(11, 5 + n).astimezone(UTC), unit_id=unit.id, source="message", text="…")
            for n in range(4)
        ]
        await uow.feedback.answer(made[1].id, "Đã xử lý", "Trần Thị Bình", local(11, 12).astimezone(UTC))
        await uow.feedback.answer(made[2].id, "Đã xử lý", "Trần Thị Bình", local(11, 12).astimezone(UTC))
        await uow.feedback.close(made[2].id, local(11, 13).astimezone(UTC))
        await uow.feedback.close(made[3].id, local(11, 13).astimezone(UTC))
        await uow.feedback.add(local(10, 20).astimezone(UTC), unit_id=unit.id, source="message", text="…")
        await uow.commit()


@pytest.fixture
def clock() -> Clock:
    return Clock(local(12, 1, 7).astimezone(UTC))  # Tuesday 01/12/2026, 07:00 in Hà Nội


@pytest.fixture
def database_file(tmp_path: Path, clock: Clock) -> str:
    """A database file holding the fixture month."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"

    async def build() -> None:
        app = App(load_settings(database_url=url), clock=clock)
        await app.start()
        try:
            await fixture_month(app)
        finally:
            await app.close()

    asyncio.run(build())
    return url


@pytest.fixture
def cli(database_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``sipasbot …`` run in this process on the fixture's database: (exit status, stdout, stderr)."""
    return in_process_cli(monkeypatch, capsys, database_file)


def report_json(cli: Any, *args: str) -> dict[str, Any]:
    status, out, err = cli("report", "--unit", "P8", "--format", "json", *args)
    assert status == 0, err
    parsed: dict[str, Any] = json.loads(out)
    return parsed


# --- point 16: dossiers received online, supplements asked for more than once


def test_the_report_json_counts_online_dossiers_and_repeated_supplements(cli: Any) -> None:
    report = report_json(cli, "--from", "2026-11-01", "--to", "2026-11-30")
    dossiers = report["dossiers"]
    assert dossiers["received"] == RECEIVED
    assert dossiers["received_online"] == ONLINE
    assert dossiers["online_rate"] == round(100 * ONLINE / RECEIVED + 1e-9, 1)  # 45.45… → 45.5, once, half-up
    assert dossiers["supplement_repeated"] == 1
    # the second request fell on 05/11: a report of 01–04/11 has none repeated, one of 05/11 alone has it
    assert report_json(cli, "--from", "2026-11-01", "--to", "2026-11-04")["dossiers"]["supplement_repeated"] == 0
    assert report_json(cli, "--from", "2026-11-05", "--to", "2026-11-05")["dossiers"]["supplement_repeated"] == 1


# --- point 17: complaints handled


def test_the_report_json_counts_complaints_received_answered_and_closed(cli: Any) -> None:
    report = report_json(cli, "--from", "2026-11-01", "--to", "2026-11-30")
    assert report["complaints"] == {**COMPLAINTS, "handled_rate": 75.0}
    october = report_json(cli, "--from", "2026-10-01", "--to", "2026-10-31")
    assert october["complaints"] == {"received": 1, "answered": 0, "closed": 0, "handled_rate": 0.0}
    empty = report_json(cli, "--from", "2026-09-01", "--to", "2026-09-30")
    assert empty["complaints"] == {"received": 0, "answered": 0, "closed": 0, "handled_rate": None}


async def test_the_same_figures_on_each_database(backend: Backend, clock: Clock) -> None:
    # the counts are SQL: on PostgreSQL too when SIPAS_TEST_POSTGRES_URL is set
    app = App(load_settings(database_url=backend.url), clock=clock)
    await app.start()
    try:
        await fixture_month(app)
        report = await app.reporter.satisfaction("P8", NOVEMBER)
    finally:
        await app.close()
    assert (report["dossiers"]["received"], report["dossiers"]["received_online"]) == (RECEIVED, ONLINE)
    assert report["dossiers"]["supplement_repeated"] == 1
    assert report["complaints"] == {**COMPLAINTS, "handled_rate": 75.0}
    fields = [(f["field"], f["resolved"], f["on_time"]) for f in report["on_time_by_field"]]
    assert fields == [(CIVIL, 6, 6), (LAND, 5, 4)]


# --- point 15: on time per field, targets per field


def test_the_report_json_gives_the_on_time_rate_per_field(cli: Any) -> None:
    report = report_json(cli, "--from", "2026-11-01", "--to", "2026-11-30")
    assert report["on_time_by_field"] == [
        {"field": CIVIL, "resolved": 6, "on_time": 6, "late": 0, "on_time_rate": 100.0},
        {"field": LAND, "resolved": 5, "on_time": 4, "late": 1, "on_time_rate": 80.0},
    ]


def test_targets_are_set_for_a_unit_and_a_field_and_listed(cli: Any) -> None:
    status, out, err = cli("targets", "set", "--unit", "P8", "--on-time", "98", "--satisfaction", "91")
    assert status == 0, err
    status, out, err = cli("targets", "set", "--unit", "P8", "--field", "dat dai", "--on-time", "96")
    assert status == 0, err
    status, out, err = cli("targets", "list", "--unit", "P8")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "Chỉ tiêu của Phường 8 (P8):"
    assert "  Cả đơn vị: hài lòng 91,0% · đúng hạn 98,0%" in lines
    # the field is named as dossiers name it, whatever the accents typed; what it does not set is the unit's
    assert "  Lĩnh vực Đất đai: hài lòng 91,0% (của đơn vị) · đúng hạn 96,0%" in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--on-time", "101"), "on-time: cần một tỷ lệ phần trăm từ 0 đến 100"),
        ((), "hãy cho --satisfaction, --on-time hoặc cả hai"),
        (("--unit", "X9", "--on-time", "90"), "không có đơn vị “X9”"),
        (("--on-time", "chín mươi"), "đối số --on-time"),
    ],
)
def test_a_bad_target_is_one_line_not_a_traceback(cli: Any, args: tuple[str, ...], message: str) -> None:
    unit = () if "--unit" in args else ("--unit", "P8")
    status, _out, err = cli("targets", "set", *unit, *args)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_the_digest_shows_each_field_against_its_targets_online_supplements_and_complaints(cli: Any) -> None:
    assert cli("targets", "set", "--unit", "P8", "--on-time", "98")[0] == 0
    assert cli("targets", "set", "--unit", "P8", "--field", "Đất đai", "--on-time", "96")[0] == 0
    status, out, err = cli("digest", "--unit", "P8", "--date", "2026-12-01", "--period", "thang")
    assert status == 0, err
    fields = out.split("Theo lĩnh vực (01/11–30/11/2026):\n")[1].split("\n\n")[0].splitlines()
    assert fields == [  # in Vietnamese order; nobody answered about Đất đai: no data, rather than too little
        "• Đất đai — đúng hạn 80,0% (4/5 hồ sơ; mục tiêu 96,0%: chưa đạt) · hài lòng chưa có dữ liệu (n = 0; "
        "mục tiêu 95,0%: chưa có dữ liệu)",
        "• Hộ tịch — đúng hạn 100,0% (6/6 hồ sơ; mục tiêu 98,0%: đạt) · hài lòng 81,8% (n = 6; "
        "mục tiêu 95,0%: chưa đạt)",
    ]
    assert f"• Hồ sơ tiếp nhận trực tuyến: {ONLINE}/{RECEIVED} ({ONLINE_TEXT})" in out
    assert "• Hồ sơ bị yêu cầu bổ sung từ lần thứ hai trở lên: 1" in out
    assert "Phản ánh mới: 4 (đã trả lời 1, đã đóng 2)" in out
    assert "Phản ánh đã xử lý (đã trả lời hoặc đã đóng): 75,0% (3/4; mục tiêu 100,0%: chưa đạt)" in out


def xlsx_report(cli: Any, out_file: Path, *period: str) -> Any:
    """``sipasbot report --unit P8 *period --format xlsx`` into ``out_file``, which must succeed; the workbook."""
    status, _out, err = cli("report", "--unit", "P8", *period, "--format", "xlsx", "--out", f"{out_file}")
    assert status == 0, err
    return openpyxl.load_workbook(io.BytesIO(out_file.read_bytes()))


def test_the_workbook_has_the_fields_against_their_targets_online_supplements_and_complaints(
    cli: Any, tmp_path: Path
) -> None:
    assert cli("targets", "set", "--unit", "P8", "--field", "Đất đai", "--on-time", "96")[0] == 0
    book = xlsx_report(cli, tmp_path / "p8.xlsx", "--from", "2026-11-01", "--to", "2026-11-30")
    rows = list(book["Chỉ tiêu lĩnh vực"].iter_rows(values_only=True))
    assert rows[0] == (
        "Lĩnh vực",
        "Hồ sơ đã giải quyết",
        "Đúng hạn",
        "Tỷ lệ đúng hạn",
        "Mục tiêu đúng hạn",
        "Đánh giá đúng hạn",
        "Số câu trả lời (n)",
        "Chỉ số hài lòng",
        "Mục tiêu hài lòng",
        "Đánh giá hài lòng",
    )
    land, civil = rows[1], rows[2]  # Vietnamese order: "Đất đai" before "Hộ tịch"
    assert land[:3] == (LAND, 5, 4)
    assert land[3:6] == (pytest.approx(0.8), pytest.approx(0.96), "Chưa đạt")
    assert land[6:] == (0, "chưa đủ dữ liệu", pytest.approx(0.95), "chưa đủ dữ liệu")
    assert civil[:3] == (CIVIL, 6, 6)
    assert civil[3:6] == (pytest.approx(1.0), pytest.approx(0.95), "Đạt")
    assert civil[6:] == (6, pytest.approx(0.818), pytest.approx(0.95), "Chưa đạt")  # 81,8% shown and judged

    summary = {row[0]: row[1:] for row in book["Tổng hợp"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Hồ sơ tiếp nhận trực tuyến"][0] == ONLINE
    assert summary["Tỷ lệ hồ sơ tiếp nhận trực tuyến"][0] == pytest.approx(0.455)
    assert summary["Hồ sơ bị yêu cầu bổ sung từ lần thứ hai trở lên"][0] == 1
    assert summary["Phản ánh tiếp nhận"][0] == 4
    assert summary["Phản ánh đã trả lời"][0] == 1
    assert summary["Phản ánh đã đóng"][0] == 2
    handled = summary["Tỷ lệ phản ánh đã xử lý"]
    assert handled[:3] == (pytest.approx(0.75), pytest.approx(1.0), "Chưa đạt")


async def test_the_public_page_shows_complaint_counts_and_fields_against_targets(
    clock: Clock, tmp_path: Path, aiohttp_client: Any
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'page.db'}"
    app = App(load_settings(database_url=url, public_url="https://sipas.example.vn"), clock=clock)
    await app.start()
    await fixture_month(app)
    await app.targets.set("P8", "Đất đai", None, 96)
    client: TestClient = await aiohttp_client(build_web_app(app, [setup_api, setup_pages]))
    async with client.get("/cong-khai/P8.json?quy=2026-Q4") as response:
        assert response.status == 200
        page = await response.json()
    # the quarter to date (01/10–01/12) holds October's open complaint too: 3 handled of 5
    assert page["complaints"] == {
        "received": 5, "answered": 1, "closed": 2, "handled_rate": 60.0, "handled_text": "60,0%"
    }  # fmt: skip
    assert page["fields"] == [  # in Vietnamese order: Đ after D, before H
        {
            "field": LAND,
            "resolved": 5,
            "on_time": 4,
            "on_time_rate": 80.0,
            "on_time_text": "80,0%",
            "on_time_target": 96.0,
            "on_time_met": False,
            "satisfaction": {"index": None, "text": "chưa có dữ liệu", "n": 0, "suppressed": True},
            "satisfaction_target": 95.0,
            "satisfaction_met": None,
        },
        {
            "field": CIVIL,
            "resolved": 6,
            "on_time": 6,
            "on_time_rate": 100.0,
            "on_time_text": "100,0%",
            "on_time_target": 95.0,
            "on_time_met": True,
            "satisfaction": {"index": 81.8, "text": "81,8%", "n": 6, "suppressed": False},
            "satisfaction_target": 95.0,
            "satisfaction_met": False,
        },
    ]
    async with client.get("/cong-khai/P8?quy=2026-Q4") as response:
        html = await response.text()
    assert 'data-figure="complaints-received">5<' in html
    assert 'data-figure="complaints-handled_rate">60,0%<' in html
    assert 'data-figure="complaints-verdict">Chưa đạt<' in html
    assert 'data-figure="field-target-1-on_time-verdict">Chưa đạt<' in html  # Đất đai
    assert "Đã xử lý" not in html  # counts only: no complaint's text or answer
    await app.close()


# --- point 18: 6 months, 9 months, the year


@pytest.mark.parametrize(
    ("period", "when", "start", "end"),
    [
        ("6thang", "2026-11-15", "2026-01-01", "2026-06-30"),
        ("6 tháng", "2026-03-10", "2026-01-01", "2026-03-10"),
        ("9thang", "2026-11-15", "2026-01-01", "2026-09-30"),
        ("9 THÁNG", "2026-08-31", "2026-01-01", "2026-08-31"),
        ("nam", "2025-12-31", "2025-01-01", "2025-12-31"),
        ("năm", "2026-11-15", "2026-01-01", "2026-11-15"),
        ("quý", "2026-11-15", "2026-10-01", "2026-11-15"),
        ("thang", "2026-10-31", "2026-10-01", "2026-10-31"),
        ("tuần", "2026-11-18", "2026-11-16", "2026-11-18"),
        ("ngay", "2026-11-05", "2026-11-05", "2026-11-05"),
    ],
)
def test_the_report_covers_the_period_asked_for(cli: Any, period: str, when: str, start: str, end: str) -> None:
    # --date is the day the report is made on (default today): the period holding it, to that day while it runs
    report = report_json(cli, "--period", period, "--date", when)
    assert (report["from"], report["to"]) == (start, end)


def test_the_year_report_holds_the_fixture_month(cli: Any) -> None:
    report = report_json(cli, "--period", "nam", "--date", "2026-11-30")
    assert report["dossiers"]["received"] == RECEIVED
    assert report["complaints"]["received"] == 5


def test_a_bad_period_is_one_line(cli: Any) -> None:
    status, _out, err = cli("report", "--unit", "P8", "--period", "7thang")
    assert status == 2
    assert "7thang" in err
    assert "6thang" in err
    status, _out, err = cli("report", "--unit", "P8", "--period", "nam", "--from", "2026-01-01")
    assert status == 2
    assert "--period" in err


@pytest.mark.parametrize(
    ("period", "title", "label"),
    [
        ("6thang", "BÁO CÁO 6 THÁNG (đến 30/11/2026) — Phường 8", "6 tháng đầu năm (01/01–30/06/2026):"),
        ("9 tháng", "BÁO CÁO 9 THÁNG (đến 30/11/2026) — Phường 8", "9 tháng đầu năm (01/01–30/09/2026):"),
        ("nam", "BÁO CÁO NĂM (đến 30/11/2026) — Phường 8", "Từ đầu năm (01/01–29/11/2026):"),
    ],
)
def test_the_digest_covers_six_months_nine_months_and_the_year(cli: Any, period: str, title: str, label: str) -> None:
    status, out, err = cli("digest", "--unit", "P8", "--date", "2026-11-30", "--period", period)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == title
    assert label in lines


def test_the_digest_periods_of_the_year() -> None:
    from handlers.leader.digest.digests import Digests

    half, before = Digests.periods("half_year", date(2026, 3, 11))
    assert (half.start, half.end) == (date(2026, 1, 1), date(2026, 3, 10))
    assert (before.start, before.end) == (date(2025, 1, 1), date(2025, 3, 10))
    nine, before = Digests.periods("nine_months", date(2026, 12, 1))
    assert (nine.start, nine.end) == (date(2026, 1, 1), date(2026, 9, 30))
    assert (before.start, before.end) == (date(2025, 1, 1), date(2025, 9, 30))
    year, before = Digests.periods("year", date(2026, 1, 1))  # the day after the year: the whole of it
    assert (year.start, year.end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert (before.start, before.end) == (date(2024, 1, 1), date(2024, 12, 31))
    leap, before = Digests.periods("year", date(2025, 3, 1))  # to 28/02/2025, against to 28/02/2024 (not 29/02)
    assert (before.start, before.end) == (date(2024, 1, 1), date(2024, 2, 28))
    assert leap.end - leap.start == timedelta(days=58)


def test_the_workbook_of_six_months_is_titled_so(cli: Any, tmp_path: Path) -> None:
    book = xlsx_report(cli, tmp_path / "6thang.xlsx", "--period", "6thang", "--date", "2026-06-30")
    assert book.properties.title == "Báo cáo mức độ hài lòng 6 tháng đầu năm 2026"
    assert "BÁO CÁO MỨC ĐỘ HÀI LÒNG 6 THÁNG ĐẦU NĂM 2026" in [c.value for c in book["Tổng hợp"]["A"]]


def test_baocao_in_the_leader_shell_takes_six_months_nine_months_and_the_year(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("/baocao 6 tháng\n/baocao 9thang\n/baocao năm\n/baocao 7 tháng\n"))
    status, out, err = cli("shell", "--as", "leader", "--unit", "P8")
    assert status == 0, err
    yesterday = vietnam_today() - timedelta(days=1)  # the shell runs on the real clock
    year = yesterday.year
    half_end = min(yesterday, date(year, 6, 30))
    nine_end = min(yesterday, date(year, 9, 30))
    assert f"BÁO CÁO 6 THÁNG (đến {vietnam_today():%d/%m/%Y}) — Phường 8" in out
    assert f"6 tháng đầu năm (01/01–{half_end:%d/%m/%Y}):" in out
    assert f"9 tháng đầu năm (01/01–{nine_end:%d/%m/%Y}):" in out
    assert f"Từ đầu năm (01/01–{yesterday:%d/%m/%Y}):" in out
    assert (
        "Gõ /baocao, /baocao tuần, /baocao tháng, /baocao quý, /baocao 6 tháng, /baocao 9 tháng hoặc /baocao năm; "
        "thêm “trực thuộc” để gồm cả các đơn vị trực thuộc (ví dụ: /baocao tháng trực thuộc)." in out
    )


def test_the_6_month_9_month_and_yearly_workbooks_are_due_after_june_september_and_december() -> None:
    from handlers.leader.reports import PeriodReports

    def yearly(today: date) -> list[tuple[str, Period, str]]:
        return [d for d in PeriodReports.due(today) if d[0] not in ("monthly_report", "quarterly_report")]

    assert yearly(date(2026, 7, 1)) == [("half_year_report", Period(date(2026, 1, 1), date(2026, 6, 30)), "2026-6T")]
    assert yearly(date(2026, 10, 20)) == [
        ("nine_months_report", Period(date(2026, 1, 1), date(2026, 9, 30)), "2026-9T")
    ]
    assert yearly(date(2027, 1, 1)) == [("year_report", Period(date(2026, 1, 1), date(2026, 12, 31)), "2026")]
    assert yearly(date(2026, 5, 1)) == []


async def test_the_yearly_workbook_is_kept_with_its_title(clock: Clock, tmp_path: Path) -> None:
    from sqlalchemy import select

    from storage.tables.staff import FILES

    app = App(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'y.db'}"), clock=clock)
    await app.start()
    try:
        await fixture_month(app)
        async with app.services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code("P8")
        assert unit is not None
        year = Period(date(2026, 1, 1), date(2026, 12, 31))
        assert await app.period_reports.send(unit, "year_report", year, clock())
        async with app.services.uow(read_only=True) as uow:
            kind, period, name, content = (
                await uow.connection.execute(select(FILES.c.kind, FILES.c.period, FILES.c.name, FILES.c.content))
            ).one()
    finally:
        await app.close()
    assert (kind, period, name) == ("year_report", "2026", "bao-cao-P8-2026.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.properties.title == "Báo cáo mức độ hài lòng năm 2026"
    assert "BÁO CÁO MỨC ĐỘ HÀI LÒNG NĂM 2026" in [c.value for c in book["Tổng hợp"]["A"]]
