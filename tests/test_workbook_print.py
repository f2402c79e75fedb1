"""Issue 16, point 8: the leaders' workbook prints and files.

The fixture month of tests/test_figures_month.py (Phường 8 and Khu phố 1 below it, November 2026), with one
respondent's priorities and profile answered too, is built through the product's own paths once; its workbook
is read back with openpyxl as a leader's spreadsheet program reads it: A4, one page wide, titles repeated, one
serif font, rows as tall as their wrapped text, labels instead of codes, Vietnamese order, the header and
signature blocks, the complaints and the units below. Then it is printed to PDF with LibreOffice and its pages
counted. Without LibreOffice that last test is skipped, unless ``CI`` or ``SIPAS_REQUIRE_LIBREOFFICE`` is set
(as .ci/run does): then it fails.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl.utils import column_index_from_string, get_column_letter

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.context import Services
from handlers.leader.workbook.book import build_workbook
from survey_forms.catalog import Catalog
from tests.conftest import Clock
from tests.test_figures_month import COMPLAINTS, END, NONE, NOVEMBER, build_month, by_hand, local, pct
from tests.test_workbook import make_data

FONT = "Times New Roman"
SHEETS = [
    "Tổng hợp", "Tiêu chí", "Yếu tố", "Ưu tiên cải thiện", "Chỉ tiêu lĩnh vực", "Lĩnh vực", "Thủ tục", "Kênh",
    "Đơn vị trực thuộc", "Phản ánh, kiến nghị", "Cán bộ", "Hồ sơ trễ hạn", "Phiếu xin lỗi", "Dữ liệu khảo sát",
    "Câu hỏi",
]  # fmt: skip
# S1's respondent also answered two priorities and the profile: choices, stored as the options' values
CHOSEN = {"UT1": "rat-nhieu", "UT2": "nhieu", "GT": "nu", "DT": "tren-60", "HV": "trung-cap", "NN": "tu-do"}
LABELS = {"UT1": "Rất nhiều", "UT2": "Nhiều", "GT": "Nữ", "DT": "Trên 60", "HV": "Trung cấp/Cao đẳng/Dạy nghề",
          "NN": "Làm công việc tự do"}  # fmt: skip
LINE_POINTS = 12.6  # a line of 11-point Times New Roman (or Liberation Serif), in points
CHARACTERS_PER_WIDTH = 1.15  # about how many letters of 11-point Times fit in one unit of column width
MAX_PAGES = 24  # the fixture month printed to PDF: fifteen sheets, a few of them two pages tall
TIMEOUT = 240  # seconds LibreOffice may take to print it


@dataclass(frozen=True)
class Printed:
    content: bytes
    book: Any


async def _answer_choices(app: App) -> None:
    """S1's respondent answers the priorities and the profile as well (the same time as its ratings)."""
    async with app.services.uow() as uow:
        dossier = await uow.dossiers.get_by_code("S1")
        assert dossier is not None
        invitation = await uow.invitations.for_dossier(dossier.id)
        assert invitation is not None
        for code, value in CHOSEN.items():
            await uow.answers.upsert(invitation, dossier.field_id, code, value, None, local(11, 10))
        await uow.commit()


async def _print_month(folder: Path) -> bytes:
    clock = Clock(local(12, 1, 7).astimezone(UTC))
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{folder / 'month.db'}", public_url="https://x.vn")
    app = App(settings, clock=clock)
    await app.start()
    try:
        async with TestClient(TestServer(build_web_app(app, [setup_api, setup_pages]))) as client:
            await build_month(app, clock, client)
        await _answer_choices(app)
        title = app.period_reports.title("monthly_report", NOVEMBER)
        return await app.period_reports.workbook("P8", NOVEMBER, title)
    finally:
        await app.close()


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Printed:
    """The fixture month's workbook, built once for the module (its own event loop: a sync, module-wide fixture)."""
    content = asyncio.run(_print_month(tmp_path_factory.mktemp("printed")))
    return Printed(content, openpyxl.load_workbook(io.BytesIO(content)))


def widths(ws: Any) -> list[float]:
    return [ws.column_dimensions[get_column_letter(i)].width or 13.0 for i in range(1, ws.max_column + 1)]


def strings(book: Any) -> list[str]:
    return [
        *book.sheetnames,
        *(c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)),
    ]


# --- print settings


def test_every_sheet_prints_on_a4_one_page_wide_its_titles_repeated(printed: Printed) -> None:
    book = printed.book
    assert book.sheetnames == SHEETS
    for ws in book:
        setup = ws.page_setup
        assert (int(setup.paperSize), int(setup.fitToWidth), int(setup.fitToHeight)) == (9, 1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows, ws.title
        assert ws.print_title_cols == "$A:$A", ws.title
        # landscape where the columns are wider than a portrait page holds without shrinking much
        assert setup.orientation == ("landscape" if sum(widths(ws)) > 100 else "portrait"), ws.title
        assert ws.page_margins.left > ws.page_margins.right  # room to bind on the left
        assert printed.book.properties.title in ws.oddHeader.center.text
        assert ws.oddFooter.right.text == "Trang &P/&N"
    # the data sheets repeat their header row; the summary its title
    assert {ws.print_title_rows for ws in book if ws.title != "Tổng hợp"} == {"$1:$1"}
    assert book["Tiêu chí"].page_setup.orientation == "landscape"


def test_one_serif_font_throughout(printed: Printed) -> None:
    with zipfile.ZipFile(io.BytesIO(printed.content)) as archive:
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    ns = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    fonts = styles.findall("s:fonts/s:font", ns)
    assert {f.find("s:name", ns).get("val") for f in fonts} == {FONT}  # type: ignore[union-attr]
    assert not any(f.find("s:scheme", ns) is not None for f in fonts)  # never the theme's font
    for ws in printed.book:
        assert {c.font.name for row in ws.iter_rows() for c in row if c.value is not None} == {FONT}, ws.title
        assert FONT in ws.oddHeader.center.font


def merged_width(ws: Any, cell: Any) -> float:
    """The width a cell's text has: its column's, or its merged range's."""
    for merged in ws.merged_cells.ranges:
        if cell.coordinate in merged:
            columns = range(merged.min_col, merged.max_col + 1)
            return sum(ws.column_dimensions[get_column_letter(i)].width or 13.0 for i in columns)
    return ws.column_dimensions[cell.column_letter].width or 13.0


def test_rows_are_as_tall_as_their_wrapped_text(printed: Printed) -> None:
    wrapped = 0
    for ws in printed.book:
        for row in ws.iter_rows():
            for cell in row:
                if not isinstance(cell.value, str):
                    continue
                size = cell.font.sz or 11
                lines = math.ceil(len(cell.value) * size / 11 / (merged_width(ws, cell) * CHARACTERS_PER_WIDTH))
                if lines <= 1:
                    continue
                wrapped += 1
                assert cell.alignment.wrap_text, (ws.title, cell.coordinate, cell.value)
                height = ws.row_dimensions[cell.row].height
                assert height is not None, (ws.title, cell.coordinate, cell.value)
                assert height >= lines * LINE_POINTS * size / 11, (ws.title, cell.coordinate, cell.value, height)
    assert wrapped >= 19  # every criterion's wording wraps, at least


# --- what the sheets say


def test_answers_and_channels_are_shown_by_their_labels(printed: Printed) -> None:
    book = printed.book
    answers = book["Dữ liệu khảo sát"]
    header = [c.value for c in answers[1]]
    catalog = Catalog.load()
    forms = [catalog.get(form_id) for form_id in catalog.ids()]
    codes = {o.value for form in forms for q in form.questions for o in form.options_of(q) if not o.value.isdigit()}
    body = [[c.value for c in row] for row in answers.iter_rows(min_row=2)]
    assert not [v for row in body for v in row if isinstance(v, str) and v in codes]
    chosen = [row for row in body if row[header.index("GT")] is not None]
    assert [{code: row[header.index(code)] for code in CHOSEN} for row in chosen] == [LABELS]
    assert {row[header.index("Kênh")] for row in body} == {"Telegram"}
    assert [r[0] for r in book["Kênh"].iter_rows(min_row=2, values_only=True)] == ["Telegram"]
    # the questions' sheet: each code's wording and answers, a rating's levels by number
    questions = {r[0]: r for r in book["Câu hỏi"].iter_rows(min_row=2, values_only=True)}
    assert questions["GT"][2:] == ("Giới tính của Ông/Bà?", "Nam; Nữ")
    assert questions["TC1"][3].startswith("1 = Rất không hài lòng; 2 = Không hài lòng")


def test_fields_and_procedures_come_in_vietnamese_order(printed: Printed) -> None:
    for sheet in ("Lĩnh vực", "Chỉ tiêu lĩnh vực"):
        rows = printed.book[sheet].iter_rows(min_row=2, values_only=True)
        assert [r[0] for r in rows] == ["Chứng thực", "Đất đai", "Hộ tịch"], sheet  # Đ after D, before H
    report = {**make_data().report} | {
        "by_procedure": [
            {"procedure": name, "n": 6, "index": 90.0, "suppressed": False}
            for name in ("Chứng thực bản sao", "Đăng ký khai sinh", "Cấp bản sao trích lục", "Dừng cấp", "Ân giảm")
        ]
    }
    book = openpyxl.load_workbook(io.BytesIO(build(report)))
    assert [r[0] for r in book["Thủ tục"].iter_rows(min_row=2, values_only=True)] == [
        "Ân giảm", "Cấp bản sao trích lục", "Chứng thực bản sao", "Dừng cấp", "Đăng ký khai sinh",
    ]  # fmt: skip


def build(report: Mapping[str, Any]) -> bytes:
    return build_workbook(make_data(report=report))


def column(ws: Any, letter: str) -> list[Any]:
    return [ws.cell(row=r, column=column_index_from_string(letter)).value for r in range(1, ws.max_row + 1)]


def test_the_summary_opens_with_the_header_block_and_closes_with_the_signatures(printed: Printed) -> None:
    ws = printed.book["Tổng hợp"]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows()]
    assert rows[0][:2] == ("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    assert rows[1][:2] == ("PHƯỜNG 8", "Độc lập - Tự do - Hạnh phúc")
    title = next(i for i, row in enumerate(rows, 1) if row[0] == "BÁO CÁO MỨC ĐỘ HÀI LÒNG THÁNG 11/2026")
    assert ws.print_title_rows == f"${title}:${title}"
    assert rows[title][0] == "Kỳ báo cáo: từ 01/11/2026 đến 30/11/2026"
    assert rows[title + 1][0] == "Ngày lập báo cáo: 01/12/2026"
    assert {"B1:D1", "B2:D2", f"A{title}:D{title}"} <= {str(r) for r in ws.merged_cells.ranges}
    filled = [row for row in rows if any(v is not None for v in row)]
    assert filled[-3:] == [
        (None, "Phường 8, ngày 01 tháng 12 năm 2026", None, None),
        ("NGƯỜI LẬP BIỂU", "THỦ TRƯỞNG ĐƠN VỊ", None, None),
        ("(Ký, ghi rõ họ tên)", "(Ký, ghi rõ họ tên, đóng dấu)", None, None),
    ]
    # room to sign below the signers' hints
    last = rows.index(filled[-1]) + 1
    room = [ws.row_dimensions[r].height for r in range(last + 1, last + 5)]
    assert all(room)
    assert sum(room) >= 60


def open_at(at: datetime) -> list[tuple[str, str, datetime, datetime | None, datetime | None]]:
    """Phường 8's complaints received before ``at`` and neither answered nor closed by then (any period)."""
    return [
        c for c in COMPLAINTS
        if c[0] == "P8" and c[2] < at and (c[3] is None or c[3] >= at) and (c[4] is None or c[4] >= at)
    ]  # fmt: skip


def test_the_complaints_sheet_counts_them_by_state_with_the_oldest_open(printed: Printed) -> None:
    hand = by_hand({"P8"}, NOVEMBER, END)["complaints"]
    table = {r[0]: r[1:] for r in printed.book["Phản ánh, kiến nghị"].iter_rows(min_row=2, values_only=True) if r[0]}
    received, answered, closed = hand["received"], hand["answered"], hand["closed"]
    assert table["Đã tiếp nhận"][0] == received
    assert table["Chưa xử lý (chưa trả lời, chưa đóng)"][0] == received - answered - closed
    assert (table["Đã trả lời"][0], table["Đã đóng"][0]) == (answered, closed)
    rate, target, verdict = table["Tỷ lệ đã xử lý (đã trả lời hoặc đã đóng)"][:3]
    assert rate == pytest.approx(float(hand["handled_rate"]) / 100)
    assert (target, verdict) == (1, "Chưa đạt")
    waiting = open_at(END)
    oldest = min(c[2] for c in waiting)
    assert table["Số phản ánh chưa xử lý (chưa trả lời, chưa đóng)"][0] == len(waiting) == 1
    assert table["Ngày tiếp nhận phản ánh chưa xử lý lâu nhất"][0] == datetime(oldest.year, oldest.month, oldest.day)
    assert table["Số ngày phản ánh đó đã chờ"][0] == (END.date() - oldest.date()).days == 26
    assert "Phản ánh chưa xử lý đến hết ngày 30/11/2026 (tiếp nhận ở mọi kỳ)" in table
    # counts only: no complaint's text, no officer's answer, no citizen
    texts = " ".join(strings(printed.book))
    assert "Chờ lâu quá" not in texts
    assert "Đơn vị đã xử lý" not in texts
    assert "Nguyễn Văn An" not in texts


def test_the_units_below_have_a_sheet_with_their_own_figures(printed: Printed) -> None:
    hand = by_hand({"KP1"}, NOVEMBER, END)
    d, c = hand["dossiers"], hand["complaints"]
    overall, n = hand["score"]["overall"]
    rows = list(printed.book["Đơn vị trực thuộc"].iter_rows(values_only=True))
    assert rows[0][:3] == ("Đơn vị", "Mã đơn vị", "Hồ sơ tiếp nhận")
    assert rows[1:] == [
        (
            "Khu phố 1", "KP1", d["received"], d["resolved"], d["on_time"], d["late"],
            pytest.approx(float(pct(d["on_time"], d["resolved"]) or 0) / 100), d["late_without_apology"],
            d["overdue_open"], n, NONE if overall is None else pytest.approx(float(overall) / 100), c["received"],
            pytest.approx(float(c["handled_rate"] or 0) / 100),
        )
    ]  # fmt: skip


def test_late_is_trễ_hạn_everywhere(printed: Printed) -> None:
    texts = [t.lower() for t in strings(printed.book)]
    assert not [t for t in texts if "quá hạn" in t or "trễ hẹn" in t]
    assert not [t for t in texts if re.search(r"trễ(?! hạn)", t)]
    assert "Hồ sơ trễ hạn" in printed.book.sheetnames


async def test_the_complaints_waiting_are_counted_as_they_stood_at_a_time(services: Services) -> None:
    """The backlog query on each backend: received before the time, neither answered nor closed by then."""
    now = local(12, 5).astimezone(UTC)
    async with services.uow() as uow:
        p8 = await uow.units.add("P8", "Phường 8", None, now)
        p9 = await uow.units.add("P9", "Phường 9", None, now)

        async def complaint(unit_id: int, day: int, month: int = 11) -> int:
            made = await uow.feedback.add(
                local(month, day).astimezone(UTC), unit_id=unit_id, source="message", text="…"
            )
            return made.id

        await complaint(p8.id, 5)  # still waiting
        answered_late = await complaint(p8.id, 6)
        closed = await complaint(p8.id, 7)
        await complaint(p8.id, 2, 12)  # after the end of November
        await complaint(p9.id, 1)  # another unit's
        await uow.feedback.answer(answered_late, "Đã xử lý", "Trần Thị Bình", local(12, 3).astimezone(UTC))
        await uow.feedback.close(closed, local(11, 8).astimezone(UTC))
        await uow.commit()
    async with services.uow(read_only=True) as uow:
        at_end = await uow.feedback.backlog([p8.id], local(12, 1, 0).astimezone(UTC))
        on_the_7th = await uow.feedback.backlog([p8.id], local(11, 7, 12).astimezone(UTC))
        now_open = await uow.feedback.backlog([p8.id], local(12, 4).astimezone(UTC))
    assert at_end == (2, local(11, 5).astimezone(UTC))
    assert on_the_7th == (3, local(11, 5).astimezone(UTC))
    assert now_open == (2, local(11, 5).astimezone(UTC))  # the one answered on 03/12 no more; the one of 02/12


# --- printed to PDF


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_soffice() -> str:
    path = soffice()
    if path is not None:
        return path
    if os.environ.get("CI") or os.environ.get("SIPAS_REQUIRE_LIBREOFFICE"):
        pytest.fail("LibreOffice is not installed, and CI or SIPAS_REQUIRE_LIBREOFFICE requires the PDF test to run")
    pytest.skip(
        "LibreOffice is not installed (apt-get install libreoffice-calc-nogui); set SIPAS_REQUIRE_LIBREOFFICE=1"
    )


def test_the_fixture_month_prints_on_a_few_a4_pages(printed: Printed, tmp_path: Path) -> None:
    from pypdf import PdfReader

    program = require_soffice()
    source = tmp_path / "bao-cao-P8-2026-11.xlsx"
    source.write_bytes(printed.content)
    profile = (tmp_path / "profile").as_uri()  # its own profile: never one another run holds
    command = [program, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir",
               str(tmp_path), str(source)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    pdf = source.with_suffix(".pdf")
    assert pdf.exists(), done.stderr.decode(errors="replace")
    pages = PdfReader(pdf).pages
    print(f"\nthe fixture month's workbook printed to PDF: {len(pages)} pages")
    sizes = {tuple(sorted(round(float(v)) for v in (page.mediabox.width, page.mediabox.height))) for page in pages}
    assert sizes == {(595, 842)}  # A4, portrait or landscape
    assert len(SHEETS) <= len(pages) <= MAX_PAGES
    # printed in Times New Roman or its metric twin, Vietnamese letters and all (no glyph from another font)
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for page in pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert fonts
    assert all(re.match(r"/?(LiberationSerif|TimesNewRoman)", name) for name in fonts), (
        f"{fonts}: is fonts-liberation2 (Liberation Serif with Vietnamese letters) installed?"
    )
    assert "NGƯỜI LẬP BIỂU" in " ".join(page.extract_text() for page in pages[:3])


def test_without_the_time_it_was_made_the_date_is_left_to_write_in() -> None:
    book = openpyxl.load_workbook(io.BytesIO(build(make_data().report)))
    assert "UBND Phường 8, ngày … tháng … năm …" in column(book["Tổng hợp"], "B")
