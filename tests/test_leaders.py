"""Leaders' outputs over one fixture month: the digest, the JSON report, the workbook and the public page agree."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.dossiers import DossierHandler
from handlers.leader import Digests, PeriodReports, Targets, percent
from handlers.reporting import Period
from tests.conftest import Backend, Clock
from tests.helpers import sample_dossier
from tests.test_reporting import SERVICE_ITEMS, all_items, respondent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
FACTORS = {"TC": SERVICE_ITEMS[0:4], "TT": SERVICE_ITEMS[4:8], "CC": SERVICE_ITEMS[8:13],
           "KQ": SERVICE_ITEMS[13:16], "PA": SERVICE_ITEMS[16:19]}  # fmt: skip
RATINGS = [
    all_items("5"),
    all_items("4"),
    all_items("4", TC1="2"),
    all_items("3"),
    all_items("5", CC1="1"),
    all_items("4"),
]


def hand_computed() -> tuple[dict[str, float], dict[str, float], float]:
    """DOMAIN.md §4 by hand: criterion = 4–5 ÷ 1–5 × 100; factor = mean; overall = mean of factors."""
    criteria = {c: 100 * sum(int(r[c]) >= 4 for r in RATINGS) / len(RATINGS) for c in SERVICE_ITEMS}
    factors = {f: sum(criteria[c] for c in codes) / len(codes) for f, codes in FACTORS.items()}
    return criteria, factors, sum(factors.values()) / len(factors)


def local(month: int, day_: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day_, hour, tzinfo=HANOI)


@pytest.fixture
def clock() -> Clock:
    return Clock(local(12, 1, 7).astimezone(ZoneInfo("UTC")))  # Tuesday 01/12/2026, 07:00 in Hà Nội


@pytest.fixture
async def leaders_app(backend: Backend, clock: Clock) -> App:
    app = App(load_settings(database_url=backend.url, public_url="https://sipas.example.vn"), clock=clock)
    await app.start()
    await app.units.add("P8", "Phường 8")
    for number, ratings in enumerate(RATINGS):
        await respondent(app.services, f"P8-{number}", "P8", "Hộ tịch", ratings, local(11, 10 + number))
    dossiers = DossierHandler(app.services)
    # resolved late, never apologised for; and one still open past its date
    await dossiers.upsert(sample_dossier(code="P8-LATE", received_at=local(11, 2), due_at=local(11, 9)))
    await dossiers.add_event("P8-LATE", "result_ready", local(11, 12))
    await dossiers.upsert(sample_dossier(code="P8-OPEN", received_at=local(11, 3), due_at=local(11, 20)))
    return app


async def test_the_digest_the_json_the_workbook_and_the_page_show_the_same_figures(
    leaders_app: App, aiohttp_client: object
) -> None:
    app = leaders_app
    criteria, factors, overall = hand_computed()
    report = await app.reporter.satisfaction("P8", NOVEMBER)
    assert report["satisfaction"]["index"] == round(overall, 2) == 81.83
    assert {f["code"]: f["index"] for f in report["factors"]} == {k: round(v, 2) for k, v in factors.items()}
    assert {c["code"]: c["index"] for c in report["criteria"]} == {k: round(v, 2) for k, v in criteria.items()}
    assert report["dossiers"]["resolved"] == 7
    assert report["dossiers"]["on_time"] == 6
    assert report["dossiers"]["on_time_rate"] == round(600 / 7, 2)

    broken_down = await app.reporter.satisfaction("P8", NOVEMBER, breakdowns=True)
    assert broken_down["by_procedure"] == [
        {"procedure": "Đăng ký khai sinh", "index": round(overall, 2), "n": 6, "suppressed": False}
    ]
    assert [c["index"] for c in broken_down["by_channel"]] == [round(overall, 2)]

    # the morning digest of 01/12: the month to date is November
    digest = await Digests(app.services, Targets()).build("P8", date(2026, 12, 1))
    text = digest.text
    assert "Từ đầu tháng (01/11–30/11/2026):" in text
    assert f"hài lòng {percent(overall, 6)} (n = 6;" in text
    assert "81,8%" in text
    assert f"tỷ lệ đúng hạn {percent(600 / 7, 7)}" in text
    assert "85,7%" in text
    assert "Hồ sơ quá hạn chưa giải quyết: 1" in text
    assert "Hồ sơ trễ hạn chưa có phiếu xin lỗi: 2" in text
    assert "P8-LATE (09/11/2026), P8-OPEN (20/11/2026)" in text
    weakest = text.split("Ba tiêu chí thấp nhất:")[1].split("\n\n")[0]
    assert weakest.strip().startswith("• CC1") or weakest.strip().startswith("• TC1")
    assert "66,7% (n = 6)" in weakest
    assert "0912 345 678" not in text

    # the workbook, read back
    content = await PeriodReports(app.services, Digests(app.services)).workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026")
    book = openpyxl.load_workbook(io.BytesIO(content))
    found_overall = _cell_right_of(book["Tổng hợp"], "Chỉ số hài lòng chung")
    assert found_overall == pytest.approx(overall / 100, abs=1e-4)
    factor_sheet = {row[0]: row for row in book["Yếu tố"].iter_rows(min_row=2, values_only=True) if row[0]}
    for code, value in factors.items():
        assert pytest.approx(value / 100, abs=1e-4) in factor_sheet[code]
    criteria_sheet = {row[0]: row for row in book["Tiêu chí"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert pytest.approx(criteria["TC1"] / 100, abs=1e-4) in criteria_sheet["TC1"]
    procedures = list(book["Thủ tục"].iter_rows(min_row=2, values_only=True))
    assert procedures[0][:2] == ("Đăng ký khai sinh", 6)
    assert procedures[0][2] == pytest.approx(overall / 100, abs=1e-4)
    answers = list(book["Dữ liệu khảo sát"].iter_rows(values_only=True))
    assert sum(1 for row in answers if row[0] and str(row[0]).startswith("PK-")) == 6
    assert not any("0912 345 678" in str(v) for row in answers for v in row if v)

    # the public page of the quarter (November is its only month with figures)
    client: TestClient = await aiohttp_client(build_web_app(app, [setup_api, setup_pages]))  # type: ignore[operator]
    async with client.get("/cong-khai/P8.json?quy=2026-Q4") as response:
        assert response.status == 200
        page = await response.json()
    assert page["satisfaction"]["index"] == round(overall, 1)
    assert page["satisfaction"]["text"] == percent(overall, 6)
    assert {f["code"]: f["index"] for f in page["factors"]} == {k: round(v, 1) for k, v in factors.items()}
    assert page["dossiers"]["on_time_rate"] == pytest.approx(600 / 7, abs=0.05)
    async with client.get("/cong-khai/P8?quy=2026-Q4") as response:
        html = await response.text()
    assert percent(overall, 6) in html
    assert "Nguyễn Văn An" not in html
    assert "0912" not in html


def _cell_right_of(sheet: openpyxl.worksheet.worksheet.Worksheet, label: str) -> object:
    for row in sheet.iter_rows(values_only=True):
        for position, value in enumerate(row):
            if isinstance(value, str) and value.startswith(label):
                return next(v for v in row[position + 1 :] if v is not None)
    raise AssertionError(f"no {label!r} on {sheet.title}")


async def test_small_numbers_are_insufficient_data_not_percentages(backend: Backend, clock: Clock) -> None:
    app = App(load_settings(database_url=backend.url), clock=clock)
    await app.start()
    await app.units.add("P9", "Phường 9")
    await respondent(app.services, "P9-1", "P9", "Hộ tịch", all_items("5"), local(11, 20))
    digest = await Digests(app.services).build("P9", date(2026, 12, 1))
    assert "hài lòng chưa đủ dữ liệu (n = 1;" in digest.text
    assert "tỷ lệ đúng hạn chưa đủ dữ liệu" in digest.text
    assert "hài lòng 100,0%" not in digest.text  # the on-time rate of a field is a count, shown at n = 1
    await app.close()


async def test_a_unit_with_children_gets_them_ranked(backend: Backend, clock: Clock) -> None:
    app = App(load_settings(database_url=backend.url), clock=clock)
    await app.start()
    await app.units.add("Q3", "Quận 3")
    for code, name, value in (("Q3-P1", "Phường 1", "3"), ("Q3-P2", "Phường 2", "5"), ("Q3-P3", "Phường 3", None)):
        await app.units.add(code, name, parent="Q3")
        if value is not None:
            for number in range(5):
                await respondent(app.services, f"{code}-{number}", code, "Hộ tịch", all_items(value), local(11, 5))
    digest = await Digests(app.services).build("Q3", date(2026, 12, 1))
    ranking = digest.text.split("Các đơn vị trực thuộc")[1]
    assert ranking.index("1. Phường 2 — hài lòng 100,0% (n = 5)") < ranking.index("2. Phường 1 — hài lòng 0,0% (n = 5)")
    assert "3. Phường 3 — hài lòng chưa đủ dữ liệu (n = 0)" in ranking
    await app.close()


def test_the_periods_compared() -> None:
    day, before = Digests.periods("day", date(2026, 12, 1))
    assert (day.start, day.end, before.start) == (date(2026, 11, 30), date(2026, 11, 30), date(2026, 11, 29))
    month, month_before = Digests.periods("month", date(2026, 12, 1))
    assert (month.start, month.end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (month_before.start, month_before.end) == (date(2026, 10, 1), date(2026, 10, 30))
    quarter, quarter_before = Digests.periods("quarter", date(2026, 11, 15))
    assert (quarter.start, quarter.end) == (date(2026, 10, 1), date(2026, 11, 14))
    assert (quarter_before.start, quarter_before.end) == (date(2026, 7, 1), date(2026, 8, 14))
    week, _ = Digests.periods("week", date(2026, 12, 1))
    assert week.start == date(2026, 11, 24)
    assert week.end - week.start == timedelta(days=6)


# -- receiving (one-stop-shop counter) officers ---------------------------------------------------------------


async def _received_by(app: App, code: str, when: datetime, receiver: str) -> None:
    """Record who took in the dossier a respondent answered about (as the one-stop-shop software sends it)."""
    data = sample_dossier(
        code=code,
        unit="P8",
        field="Hộ tịch",
        phone=None,
        received_at=when - timedelta(days=4),
        due_at=when + timedelta(days=3),
    )
    await DossierHandler(app.services).upsert(replace(data, receiver=receiver))


async def test_the_officers_sheet_shows_receiving_officers_beside_handling_ones_with_small_numbers_hidden(
    leaders_app: App, aiohttp_client: object
) -> None:
    app = leaders_app
    _criteria, _factors, overall = hand_computed()
    for number in range(len(RATINGS)):  # the six respondents of the fixture month were received by Lê Thị Hoa
        await _received_by(app, f"P8-{number}", local(11, 10 + number), "Lê Thị Hoa")
    for number in range(2):  # two more, received by Phạm Văn Dũng: too few answers to show a figure
        await respondent(app.services, f"P8-D{number}", "P8", "Hộ tịch", all_items("5"), local(11, 20 + number))
        await _received_by(app, f"P8-D{number}", local(11, 20 + number), "Phạm Văn Dũng")
    await DossierHandler(app.services).upsert(
        replace(sample_dossier(code="P8-D9", received_at=local(11, 25), due_at=local(11, 30)), receiver="Phạm Văn Dũng")
    )

    content = await PeriodReports(app.services, Digests(app.services)).workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026")

    sheet = list(openpyxl.load_workbook(io.BytesIO(content))["Cán bộ"].iter_rows(values_only=True))
    assert sheet[0][0] == "Cán bộ"  # the handling officers' table comes first, as before
    assert next(row[0] for row in sheet[1:] if row[0]) == "Trần Thị Bình"
    title = next(i for i, row in enumerate(sheet) if row[0] == "Cán bộ tiếp nhận hồ sơ (Bộ phận Một cửa)")
    assert all(value is None for value in sheet[title - 1])  # a blank row between the two tables
    assert sheet[title + 1][:4] == ("Cán bộ tiếp nhận", "Hồ sơ đã tiếp nhận", "Mức độ hài lòng", "Số câu trả lời (n)")
    hoa, dung = sheet[title + 2][:4], sheet[title + 3][:4]
    assert hoa[:2] == ("Lê Thị Hoa", 6)
    assert hoa[2] == pytest.approx(overall / 100, abs=1e-4)
    assert hoa[3] == 6
    assert dung == ("Phạm Văn Dũng", 3, "chưa đủ dữ liệu", 2)
    assert len(sheet) == title + 4

    # never on the public page
    client: TestClient = await aiohttp_client(build_web_app(app, [setup_api, setup_pages]))  # type: ignore[operator]
    for path in ("/cong-khai/P8.json?quy=2026-Q4", "/cong-khai/P8?quy=2026-Q4"):
        async with client.get(path) as response:
            assert response.status == 200
            page = await response.text()
        assert "Lê Thị Hoa" not in page
        assert "Phạm Văn Dũng" not in page
