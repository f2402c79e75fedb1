"""Leaders' outputs over one fixture month: the digest, the JSON report, the workbook and the public page agree."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.admin.invites import Roles
from handlers.intake.dossiers import DossierHandler
from handlers.leader.digest.digests import Digests
from handlers.leader.digest.figures import Targets
from handlers.leader.reporting import Period, render_text
from handlers.leader.reports import PeriodReports
from handlers.leader.workbook.book import SHEET_LATE
from handlers.leader.workbook.process import WorkbookBuilder
from tests.conftest import Backend, Clock
from tests.helpers import Person, sample_dossier, update_invitation
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
# only the first two answer the PA items: PA rests on fewer than five answers
for skipping in RATINGS[2:]:
    for code in FACTORS["PA"]:
        del skipping[code]
UNFINISHED = {code: "4" for code in FACTORS["TC"]}  # offered 25/11, stopped after TC
OFFERED_IN_OCTOBER = all_items("5")  # offered 30/10, answered and completed on 02/11
ANSWERED = [*RATINGS, UNFINISHED, OFFERED_IN_OCTOBER]  # every answer given in November is scored


def one_decimal(value: Fraction) -> float:
    """Half-up to one decimal, by hand with Decimal."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def hand_computed() -> tuple[dict[str, Fraction], dict[str, Fraction], dict[str, int]]:
    """docs/METHOD.md, the index method by hand: criterion = 4–5 ÷ 1–5 × 100; factor = mean; with each factor's n."""
    criteria: dict[str, Fraction] = {}
    n: dict[str, int] = {}
    for code in SERVICE_ITEMS:
        given = [int(r[code]) for r in ANSWERED if code in r]
        criteria[code] = Fraction(100 * sum(v >= 4 for v in given), len(given))
        n[code] = len(given)
    factors = {f: sum((criteria[c] for c in codes), Fraction(0)) / len(codes) for f, codes in FACTORS.items()}
    factor_n = {f: max(n[c] for c in codes) for f, codes in FACTORS.items()}
    return criteria, factors, factor_n


def local(month: int, day_: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day_, hour, tzinfo=HANOI)


@pytest.fixture
def clock() -> Clock:
    return Clock(local(12, 1, 7).astimezone(ZoneInfo("UTC")))  # Tuesday 01/12/2026, 07:00 in Hà Nội


async def offered_on(app: App, code: str, sent: datetime) -> None:
    """Move the invitation of dossier ``code`` to have been offered at ``sent``."""
    await update_invitation(app.services, code, sent_at=sent)


@pytest.fixture
async def leaders_app(backend: Backend, clock: Clock) -> App:
    app = App(load_settings(database_url=backend.url, public_url="https://sipas.example.vn"), clock=clock)
    await app.start()
    await app.units.add("P8", "Phường 8")
    await app.units.add("P8-K1", "Khu phố 1", parent="P8")  # a unit below: left out unless asked for
    for number, ratings in enumerate(RATINGS):
        await respondent(app.services, f"P8-{number}", "P8", "Hộ tịch", ratings, local(11, 10 + number))
    await respondent(app.services, "P8-U", "P8", "Hộ tịch", UNFINISHED, local(11, 25), completed=False)
    await respondent(app.services, "P8-OCT", "P8", "Hộ tịch", OFFERED_IN_OCTOBER, local(11, 2))
    await offered_on(app, "P8-OCT", local(10, 30))
    await respondent(app.services, "K1-0", "P8-K1", "Hộ tịch", all_items("1"), local(11, 12))
    dossiers = DossierHandler(app.services)
    # resolved late, never apologised for; and one still open past its date
    await dossiers.upsert(sample_dossier(code="P8-LATE", received_at=local(11, 2), due_at=local(11, 9)))
    await dossiers.add_event("P8-LATE", "result_ready", local(11, 12))
    await dossiers.upsert(sample_dossier(code="P8-OPEN", received_at=local(11, 3), due_at=local(11, 20)))
    # late in October, never apologised for: October's figure, and on the digest's running list
    await dossiers.upsert(sample_dossier(code="P8-OCTLATE", received_at=local(10, 1), due_at=local(10, 10)))
    await dossiers.add_event("P8-OCTLATE", "result_ready", local(10, 20))
    return app


async def test_the_digest_the_json_the_workbook_and_the_page_show_the_same_figures(
    leaders_app: App, aiohttp_client: object
) -> None:
    app = leaders_app
    criteria, factors, factor_n = hand_computed()
    assert factor_n == {"TC": 8, "TT": 7, "CC": 7, "KQ": 7, "PA": 3}
    shown = {f: one_decimal(v) for f, v in factors.items() if factor_n[f] >= 5}
    report = await app.reporter.satisfaction("P8", NOVEMBER)
    # PA rests on 3 answers: hidden, and the overall with it (else PA = 5 × overall − the other four)
    assert report["satisfaction"] == {"index": None, "n": 8, "ci95": None, "suppressed": True}
    assert {f["code"]: f["index"] for f in report["factors"]} == {**shown, "PA": None}
    assert {c["code"]: c["index"] for c in report["criteria"]} == {
        code: None if code in FACTORS["PA"] else one_decimal(value) for code, value in criteria.items()
    }
    assert report["by_field"] == [{"field": "Hộ tịch", "index": None, "n": 8, "suppressed": True}]
    # surveys: the cohort offered in November (7: six finished, one not); everyone who answered (8) is scored
    assert report["surveys"] == {
        "offered": 7, "delivered": 7, "started": 7, "completed": 6, "response_rate": 85.7, "respondents": 8
    }  # fmt: skip
    assert report["dossiers"]["resolved"] == 9  # the eight surveyed dossiers and P8-LATE
    assert report["dossiers"]["on_time"] == 8
    assert report["dossiers"]["on_time_rate"] == one_decimal(Fraction(800, 9)) == 88.9
    assert report["dossiers"]["late_without_apology"] == 2  # due in November: P8-LATE and P8-OPEN
    assert report["include_children"] is False

    broken_down = await app.reporter.satisfaction("P8", NOVEMBER, breakdowns=True)
    assert broken_down["by_procedure"] == [
        {"procedure": "Đăng ký khai sinh", "index": None, "n": 8, "suppressed": True}
    ]

    text = render_text(report, app.services)
    assert "Phạm vi: Phường 8 (không gồm đơn vị trực thuộc)" in text
    assert "Chỉ số hài lòng chung: chưa đủ dữ liệu (n = 8)" in text
    assert "đã hoàn thành 6 · tỷ lệ phản hồi 85,7%" in text
    assert "Số người đã trả lời (có ít nhất một câu trả lời trong kỳ, đều được tính vào chỉ số): 8" in text
    assert "trễ hạn chưa xin lỗi 2" in text
    assert "Cách tính các số liệu: docs/FIGURES.md" in text

    # the morning digest of 01/12: the month to date is November
    digest = await Digests(app.services, Targets()).build("P8", date(2026, 12, 1))
    text = digest.text
    assert "Phạm vi: Phường 8 (không gồm đơn vị trực thuộc)" in text
    month = text.split("Từ đầu tháng (01/11–30/11/2026):")[1].split("\n\n")[0]
    assert "tỷ lệ đúng hạn 88,9%" in month
    assert "• Trễ hạn chưa có phiếu xin lỗi (hạn trả trong kỳ): 2" in month
    assert "hoàn thành 6/7 — hài lòng chưa đủ dữ liệu (n = 8;" in month
    assert "• Phiếu gửi trong kỳ: 7 · hoàn thành 6 · tỷ lệ phản hồi 85,7% · số người đã trả lời 8" in month
    # the running list: the same definition over every period so far, labelled as such
    assert "Hồ sơ trễ hạn chưa có phiếu xin lỗi, mọi kỳ (hạn trả đến hết 30/11/2026): 3" in text
    assert "P8-OCTLATE (hạn 10/10), P8-LATE (hạn 09/11), P8-OPEN (hạn 20/11)" in text  # each date labelled
    assert "Hồ sơ trễ hạn chưa giải quyết: 1" in text
    weakest = text.split("Ba tiêu chí thấp nhất:")[1].split("\n\n")[0]
    assert "• TC1 " in weakest
    assert f"{one_decimal(criteria['TC1'])}".replace(".", ",") + "% (n = 8)" in weakest
    assert "Cách tính các số liệu: docs/FIGURES.md" in text
    assert "0912 345 678" not in text

    # the workbook, read back
    content = await PeriodReports(app.services, Digests(app.services)).workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026")
    big = WorkbookBuilder(process_rows=0)  # built in the worker process, as a workbook of 2,000 answers or more is
    try:
        reports = PeriodReports(app.services, Digests(app.services), big)
        assert await reports.workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026") == content
        # the locale travels to the worker process with the data
        english = await reports.workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026", locale="en")
        assert openpyxl.load_workbook(io.BytesIO(english)).sheetnames[:3] == ["Summary", "Criteria", "Factors"]
    finally:
        big.close()
    book = openpyxl.load_workbook(io.BytesIO(content))
    summary = book["Tổng hợp"]
    assert _cell_right_of(summary, "Chỉ số hài lòng chung") == "chưa đủ dữ liệu"
    assert _cell_right_of(summary, "Phạm vi") == "Phường 8 (không gồm đơn vị trực thuộc)"
    assert _cell_right_of(summary, "Đã gửi") == 7
    assert _cell_right_of(summary, "Đã hoàn thành") == 6
    assert _cell_right_of(summary, "Tỷ lệ phản hồi") == pytest.approx(0.857)
    assert _cell_right_of(summary, "Số người đã trả lời") == 8
    assert _cell_right_of(summary, "Trễ hạn chưa xin lỗi") == 2
    assert _cell_right_of(summary, "Tỷ lệ đúng hạn") == pytest.approx(0.889)
    assert any(row[0] == "Cách tính các số liệu: docs/FIGURES.md" for row in summary.iter_rows(values_only=True))
    factor_sheet = {row[0]: row for row in book["Yếu tố"].iter_rows(min_row=2, values_only=True) if row[0]}
    for code, value in shown.items():
        assert factor_sheet[code][3] == pytest.approx(value / 100)
    assert factor_sheet["PA"][3] == "chưa đủ dữ liệu"
    criteria_sheet = {row[0]: row for row in book["Tiêu chí"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert criteria_sheet["TC1"][3] == 8
    assert criteria_sheet["TC1"][9] == pytest.approx(one_decimal(criteria["TC1"]) / 100)
    procedures = list(book["Thủ tục"].iter_rows(min_row=2, values_only=True))
    assert procedures[0] == ("Đăng ký khai sinh", 8, "chưa đủ dữ liệu")
    late = [row for row in book[SHEET_LATE].iter_rows(min_row=2, values_only=True) if row[0]]
    assert sorted(row[0] for row in late if not row[8]) == ["P8-LATE", "P8-OPEN"]
    # the answers sheet holds exactly the answers scored: one row per respondent, their answers counted
    answers = [row for row in book["Dữ liệu khảo sát"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert len(answers) == 8
    header = next(book["Dữ liệu khảo sát"].iter_rows(max_row=1, values_only=True))
    for code in SERVICE_ITEMS:
        column = header.index(code)
        assert sum(1 for row in answers if row[column] is not None) == sum(1 for r in ANSWERED if code in r)
    assert sum(1 for row in answers if row[1] is None) == 1  # the unfinished one has no completion date
    assert not any("0912 345 678" in str(v) for row in answers for v in row if v)

    # the public page of the quarter (November is its only month with figures)
    client: TestClient = await aiohttp_client(build_web_app(app, [setup_api, setup_pages]))  # type: ignore[operator]
    async with client.get("/cong-khai/P8.json?quy=2026-Q4") as response:
        assert response.status == 200
        page = await response.json()
    assert page["satisfaction"]["index"] is None
    assert page["satisfaction"]["suppressed"] is True
    assert page["satisfaction"]["text"] == "chưa đủ dữ liệu"
    assert {f["code"]: f["index"] for f in page["factors"]} == {**shown, "PA": None}
    # the quarter adds October: P8-OCTLATE resolved late, P8-OCT offered
    assert page["dossiers"]["on_time_rate"] == one_decimal(Fraction(800, 10)) == 80.0
    assert page["surveys"] == {"offered": 8, "completed": 7, "response_rate": 87.5, "respondents": 8}
    assert page["scope"] == "Phường 8 (không gồm đơn vị trực thuộc)"
    assert page["method_doc"] == "docs/FIGURES.md"
    async with client.get("/cong-khai/P8?quy=2026-Q4") as response:
        html = await response.text()
    assert "Phạm vi: Phường 8 (không gồm đơn vị trực thuộc)" in html
    assert "Cách tính: docs/FIGURES.md" in html
    assert "Nguyễn Văn An" not in html
    assert "0912" not in html


async def test_children_are_one_choice_with_one_default_on_every_output(
    leaders_app: App, aiohttp_client: object
) -> None:
    app = leaders_app
    alone = await app.reporter.satisfaction("P8", NOVEMBER)
    whole = await app.reporter.satisfaction("P8", NOVEMBER, include_children=True)
    assert (alone["dossiers"]["resolved"], whole["dossiers"]["resolved"]) == (9, 10)
    assert (alone["surveys"]["respondents"], whole["surveys"]["respondents"]) == (8, 9)
    assert "Phạm vi: Phường 8 (gồm các đơn vị trực thuộc)" in render_text(whole, app.services)

    digests = Digests(app.services)
    default = (await digests.build("P8", date(2026, 12, 1), with_chart=False)).text
    assert "số người đã trả lời 8" in default
    children = (await digests.build("P8", date(2026, 12, 1), with_chart=False, include_children=True)).text
    assert "Phạm vi: Phường 8 (gồm các đơn vị trực thuộc)" in children
    assert "số người đã trả lời 9" in children

    reports = PeriodReports(app.services, digests)
    for flag, rows, scope in ((False, 8, "không gồm đơn vị trực thuộc"), (True, 9, "gồm các đơn vị trực thuộc")):
        book = openpyxl.load_workbook(io.BytesIO(await reports.workbook("P8", NOVEMBER, "T", include_children=flag)))
        assert _cell_right_of(book["Tổng hợp"], "Phạm vi") == f"Phường 8 ({scope})"
        assert _cell_right_of(book["Tổng hợp"], "Đã giải quyết") == 9 + flag
        answers = [r for r in book["Dữ liệu khảo sát"].iter_rows(min_row=2, values_only=True) if r[0]]
        assert len(answers) == rows

    client: TestClient = await aiohttp_client(build_web_app(app, [setup_api, setup_pages]))  # type: ignore[operator]
    async with client.get("/cong-khai/P8.json?quy=2026-Q4") as response:
        page = await response.json()
    assert (page["include_children"], page["dossiers"]["resolved"]) == (False, 10)  # the quarter: with October
    async with client.get("/cong-khai/P8.json?quy=2026-Q4&include_children=true") as response:
        page = await response.json()
    assert (page["include_children"], page["dossiers"]["resolved"]) == (True, 11)
    assert page["scope"] == "Phường 8 (gồm các đơn vị trực thuộc)"
    async with client.get("/cong-khai/P8.json?quy=2026-Q4&include_children=perhaps") as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_input"


async def test_the_printed_figure_is_the_one_judged(backend: Backend, clock: Clock) -> None:
    """84.952…% prints as 85,0% and meets an 85% target (rounded once, half-up, from the exact value)."""
    app = App(load_settings(database_url=backend.url), clock=clock)
    await app.start()
    await app.units.add("P7", "Phường 7")
    # TC and TT all satisfied; CC 32/35, KQ 18/21 and PA 10/21 satisfied: overall 1784/21 = 84.952…
    for number in range(7):
        ratings = all_items("5")
        if number < 3:
            ratings.update(CC1="3", KQ1="3")
        ratings["PA1"] = "3"
        if number < 4:
            ratings["PA2"] = "3"
        await respondent(app.services, f"P7-{number}", "P7", "Hộ tịch", ratings, local(11, 10))
    report = await app.reporter.satisfaction("P7", NOVEMBER)
    assert report["satisfaction"]["index"] == one_decimal(Fraction(1784, 21)) == 85.0
    digest = await Digests(app.services, Targets(satisfaction=85.0)).build("P7", date(2026, 12, 1), with_chart=False)
    month = digest.text.split("Từ đầu tháng")[1]
    assert "hài lòng 85,0% (n = 7; kỳ trước chưa có dữ liệu; mục tiêu 85,0%: đạt)" in month  # October: none
    await app.close()


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
    # one resolved dossier: a count, not a sample, so its rate is shown and judged like the report's
    month = digest.text.split("Từ đầu tháng")[1]
    assert "tỷ lệ đúng hạn 100,0% (kỳ trước chưa có dữ liệu; mục tiêu 95,0%: đạt)" in month
    report = await app.reporter.satisfaction("P9", NOVEMBER)
    assert report["dossiers"]["on_time_rate"] == 100.0
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
    assert "3. Phường 3 — hài lòng chưa có dữ liệu (n = 0)" in ranking  # nobody answered: no data
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
    # her six respondents answered PA only twice: the overall is hidden with it (else PA could be worked out)
    assert hoa == ("Lê Thị Hoa", 6, "chưa đủ dữ liệu", 6)
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


async def test_baocao_in_chat_gives_the_unit_alone_or_with_the_units_below_when_asked(
    backend: Backend, clock: Clock
) -> None:
    app = App(load_settings(database_url=backend.url), clock=clock)
    await app.start()
    await app.units.add("Q3", "Quận 3")
    await app.units.add("Q3-P1", "Phường 1", parent="Q3")
    for number in range(5):
        await respondent(app.services, f"P1-{number}", "Q3-P1", "Hộ tịch", all_items("5"), local(11, 5))
    leader = Person(app.services, "leader-q3")
    await leader.type(f"/join {await Roles(app.services).invite('leader', 'Q3')}")

    (alone, *_) = await leader.type("/baocao tháng")
    assert "Phạm vi: Quận 3 (không gồm đơn vị trực thuộc)" in alone.text
    assert "hài lòng chưa có dữ liệu (n = 0;" in alone.text

    (with_children, *_) = await leader.type("/baocao tháng trực thuộc")
    assert "Phạm vi: Quận 3 (gồm các đơn vị trực thuộc)" in with_children.text
    assert "hài lòng 100,0% (n = 5;" in with_children.text
    (usage,) = await leader.type("/baocao tháng con cháu")
    assert usage.text.startswith("Gõ /baocao")
    await app.close()
