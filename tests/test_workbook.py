"""The monthly/quarterly Excel workbook, read back as a leader would see it."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest

from handlers.leader.workbook.book import (
    FIXED_STAMP,
    INSUFFICIENT,
    AnswerRow,
    LateRow,
    OfficerRow,
    WorkbookData,
    build_workbook,
)
from survey_forms.catalog import Catalog

SHEETS = [
    "Tổng hợp", "Tiêu chí", "Yếu tố", "Ưu tiên cải thiện", "Lĩnh vực", "Cán bộ", "Hồ sơ trễ hạn", "Dữ liệu khảo sát",
    "Câu hỏi",
]  # fmt: skip

QUESTIONS = [
    ("TC1", "TC", "Cơ quan cung cấp thông tin về thủ tục hành chính dễ tiếp cận, dễ hiểu."),
    ("TC2", "TC", "Trụ sở có biển hiệu, hướng dẫn rõ ràng, dễ thấy."),
    ("CC1", "CC", "Công chức có thái độ giao tiếp lịch sự."),
    ("UT1", "", "Mức độ mong muốn ưu tiên cải thiện: thông tin cho người dân."),
    ("YK", "", "Ý kiến khác của Ông/Bà."),
]


def make_report() -> dict[str, Any]:
    """A report in exactly the shape Reporter.satisfaction returns."""
    return {
        "unit": "P8",
        "unit_name": "Phường 8",
        "from": "2026-11-01",
        "to": "2026-11-30",
        "include_children": False,
        "form": "sipas-2022",
        "dossiers": {
            "received": 214,
            "resolved": 180,
            "on_time": 172,
            "late": 8,
            "on_time_rate": 95.56,
            "apologies": 6,
            "late_without_apology": 2,
            "overdue_open": 3,
        },
        "surveys": {"offered": 170, "delivered": 161, "started": 98, "completed": 86, "response_rate": 50.59},
        "satisfaction": {"index": 91.9, "n": 86, "ci95": [84.15, 96.01], "suppressed": False},
        "factors": [
            {"code": "TC", "name": "I. Tiếp cận dịch vụ", "index": 87.79, "n": 86, "ci95": [78.9, 93.3],
             "suppressed": False},
            {"code": "CC", "name": "III. Công chức trực tiếp giải quyết công việc", "index": None, "n": 4,
             "ci95": None, "suppressed": True},
        ],
        "criteria": [
            {"code": "TC1", "factor": "TC", "index": 91.86, "n": 86,
             "counts": {"1": 1, "2": 2, "3": 4, "4": 30, "5": 49}, "mean": 4.44, "alarm_rate": 3.49,
             "ci95": [84.15, 96.01], "suppressed": False},
            {"code": "TC2", "factor": "TC", "index": 83.72, "n": 86,
             "counts": {"1": 3, "2": 4, "3": 7, "4": 40, "5": 32}, "mean": 4.07, "alarm_rate": 8.14,
             "ci95": [74.5, 90.06], "suppressed": False},
            {"code": "CC1", "factor": "CC", "index": None, "n": 4,
             "counts": {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}, "mean": None, "alarm_rate": None,
             "ci95": None, "suppressed": True},
        ],
        "priorities": [{"code": "UT1", "index": 60.0, "n": 40, "suppressed": False}],
        "by_field": [
            {"field": "Hộ tịch", "index": 93.1, "n": 58, "suppressed": False},
            {"field": "Đất đai", "index": None, "n": 3, "suppressed": True},
        ],
    }  # fmt: skip


LATE = [
    LateRow(
        code="000.00.08.H29-261103-0007",
        procedure="Đăng ký khai sinh",
        field="Hộ tịch",
        handler="Trần Thị Bình",
        received=date(2026, 11, 3),
        due=date(2026, 11, 10),
        finished=date(2026, 11, 14),
        state="đã trả kết quả",
        apology_number="3/PXL",
        new_due=date(2026, 11, 14),
        reason="Cần xác minh thêm thông tin hộ tịch",
    ),
    LateRow(
        code="000.00.08.H29-261112-0031",
        procedure="Cấp giấy chứng nhận quyền sử dụng đất",
        field="Đất đai",
        handler=None,
        received=date(2026, 11, 12),
        due=date(2026, 11, 26),
        finished=None,
        state="đang xử lý",
        apology_number=None,
        new_due=None,
        reason=None,
    ),
]

ANSWERS = [
    AnswerRow("PK-000101", date(2026, 11, 4), "Hộ tịch", "telegram", {"TC1": "5", "TC2": "4", "CC1": "4"}),
    AnswerRow(
        "PK-000102",
        date(2026, 11, 5),
        "Đất đai",
        "zalo_oa",
        {"TC1": "2", "TC2": None, "UT1": "rat-nhieu", "YK": "Chờ lâu, gọi số 09** *** ***", "X9": "bỏ"},
    ),
    AnswerRow("PK-000103", date(2026, 11, 28), "Hộ tịch", "zns", {"CC1": "1", "YK": "Cán bộ nhiệt tình"}),
]

OFFICERS = [
    OfficerRow("Trần Thị Bình", resolved=40, on_time=38, late=2, apologies=2, satisfaction=92.5, n=40,
               suppressed=False),
    OfficerRow("Lê Văn Cường", resolved=0, on_time=0, late=0, apologies=0, satisfaction=None, n=2, suppressed=True),
]  # fmt: skip


def make_data(**changes: Any) -> WorkbookData:
    values: dict[str, Any] = {
        "title": "Báo cáo mức độ hài lòng tháng 11/2026",
        "unit_name": "UBND Phường 8",
        "report": make_report(),
        "questions": QUESTIONS,
        "late": LATE,
        "answers": ANSWERS,
        "officers": OFFICERS,
    }
    values.update(changes)
    return WorkbookData(**values)


def load(data: WorkbookData) -> Any:
    return openpyxl.load_workbook(io.BytesIO(build_workbook(data)))


def rows(ws: Any) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in ws.iter_rows()]


def summary_value(ws: Any, label: str, column: int = 2) -> Any:
    """The cell beside ``label`` in the summary's first column."""
    for row in ws.iter_rows():
        if row[0].value == label:
            return row[column - 1]
    raise AssertionError(f"no row {label!r}")


def assert_percent(cell: Any, value: float) -> None:
    # a number (100% is stored as 1 and reads back as an int), never the text of one
    assert isinstance(cell.value, int | float)
    assert not isinstance(cell.value, bool)
    assert cell.value == pytest.approx(value / 100)
    assert cell.number_format == "0.0%"


def assert_day(cell: Any, value: date) -> None:
    assert cell.is_date
    assert cell.value == datetime(value.year, value.month, value.day)
    assert cell.number_format == "dd/mm/yyyy"


# --- sheets and headers


def test_sheets_come_in_order_with_vietnamese_names() -> None:
    assert load(make_data()).sheetnames == SHEETS


def test_the_officers_sheet_is_left_out_when_there_are_no_officers() -> None:
    wb = load(make_data(officers=None))
    assert wb.sheetnames == [name for name in SHEETS if name != "Cán bộ"]


def test_an_empty_officer_list_still_gets_its_sheet() -> None:
    wb = load(make_data(officers=[]))
    assert rows(wb["Cán bộ"]) == [
        [
            "Cán bộ",
            "Hồ sơ đã giải quyết",
            "Đúng hạn",
            "Trễ hạn",
            "Tỷ lệ đúng hạn",
            "Phiếu xin lỗi",
            "Mức độ hài lòng",
            "Số câu trả lời (n)",
            "Xin lỗi không đúng hạn",
            "Phiếu xin lỗi do sai sót",
        ]
    ]


@pytest.mark.parametrize(
    ("sheet", "headers"),
    [
        (
            "Tiêu chí",
            [
                "Mã tiêu chí",
                "Yếu tố",
                "Nội dung tiêu chí",
                "Số câu trả lời (n)",
                "Mức 1",
                "Mức 2",
                "Mức 3",
                "Mức 4",
                "Mức 5",
                "Chỉ số hài lòng",
                "Điểm trung bình",
                "Tỷ lệ không hài lòng (mức 1–2)",
                "KTC 95% – cận dưới",
                "KTC 95% – cận trên",
            ],
        ),
        (
            "Yếu tố",
            ["Mã yếu tố", "Tên yếu tố", "Số câu trả lời (n)", "Chỉ số hài lòng", "KTC 95% – cận dưới",
             "KTC 95% – cận trên"],
        ),
        ("Lĩnh vực", ["Lĩnh vực", "Số câu trả lời (n)", "Chỉ số hài lòng"]),
        (
            "Cán bộ",
            ["Cán bộ", "Hồ sơ đã giải quyết", "Đúng hạn", "Trễ hạn", "Tỷ lệ đúng hạn", "Phiếu xin lỗi",
             "Mức độ hài lòng", "Số câu trả lời (n)", "Xin lỗi không đúng hạn", "Phiếu xin lỗi do sai sót"],
        ),
        (
            "Hồ sơ trễ hạn",
            ["Mã hồ sơ", "Thủ tục", "Lĩnh vực", "Cán bộ xử lý", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày hoàn thành",
             "Trạng thái", "Số phiếu xin lỗi", "Ngày hẹn mới", "Lý do trễ hạn"],
        ),
    ],
)  # fmt: skip
def test_data_sheets_have_a_bold_frozen_filtered_header_row(sheet: str, headers: list[str]) -> None:
    ws = load(make_data())[sheet]
    header = ws[1]
    assert [cell.value for cell in header] == headers
    assert all(cell.font.b for cell in header)
    assert ws.freeze_panes == "B2"
    last = ws.max_row
    assert ws.auto_filter.ref == f"A1:{header[-1].column_letter}{last}"
    for letter in (cell.column_letter for cell in header):
        assert 8 <= ws.column_dimensions[letter].width <= 60


# --- summary


def test_the_summary_shows_the_unit_the_period_and_the_form() -> None:
    ws = load(make_data())["Tổng hợp"]
    assert ws["A1"].value == "UBND PHƯỜNG 8"  # the header block: the unit, the title in capitals
    assert ws["A4"].value == "BÁO CÁO MỨC ĐỘ HÀI LÒNG THÁNG 11/2026"
    assert ws["A4"].font.b
    assert ws.freeze_panes is None
    assert summary_value(ws, "Đơn vị").value == "UBND Phường 8"
    assert summary_value(ws, "Mã đơn vị").value == "P8"
    assert_day(summary_value(ws, "Từ ngày"), date(2026, 11, 1))
    assert_day(summary_value(ws, "Đến ngày"), date(2026, 11, 30))
    assert summary_value(ws, "Phiếu khảo sát").value == "sipas-2022"
    assert summary_value(ws, "Phạm vi").value == "UBND Phường 8 (không gồm đơn vị trực thuộc)"


def test_the_summary_counts_stand_beside_their_rates() -> None:
    report = make_report()
    ws = load(make_data(report=report))["Tổng hợp"]
    dossiers, surveys = report["dossiers"], report["surveys"]
    for label, key in [
        ("Tiếp nhận", "received"),
        ("Đã giải quyết", "resolved"),
        ("Đúng hạn", "on_time"),
        ("Trễ hạn", "late"),
        ("Phiếu xin lỗi", "apologies"),
        ("Trễ hạn chưa xin lỗi", "late_without_apology"),
        ("Trễ hạn chưa giải quyết", "overdue_open"),
    ]:
        cell = summary_value(ws, label)
        assert type(cell.value) is int
        assert cell.value == dossiers[key]
    assert_percent(summary_value(ws, "Tỷ lệ đúng hạn"), dossiers["on_time_rate"])
    for label, key in [("Đã gửi", "offered"), ("Đã nhận", "delivered"), ("Đã bắt đầu", "started")]:
        assert summary_value(ws, label).value == surveys[key]
    assert summary_value(ws, "Đã hoàn thành").value == 86
    assert_percent(summary_value(ws, "Tỷ lệ phản hồi"), surveys["response_rate"])


def test_the_summary_shows_overall_satisfaction_with_n_and_interval() -> None:
    ws = load(make_data())["Tổng hợp"]
    assert_percent(summary_value(ws, "Chỉ số hài lòng chung"), 91.9)
    assert summary_value(ws, "Số câu trả lời (n)").value == 86
    assert_percent(summary_value(ws, "Khoảng tin cậy 95% – cận dưới"), 84.15)
    assert_percent(summary_value(ws, "Khoảng tin cậy 95% – cận trên"), 96.01)


def targets_table(ws: Any) -> dict[str, list[Any]]:
    """The summary's targets: label -> [target, result, verdict] cells."""
    table = list(ws.iter_rows())
    start = next(i for i, row in enumerate(table) if row[0].value == "Chỉ tiêu")
    assert [c.value for c in table[start]] == ["Chỉ tiêu", "Mục tiêu", "Kết quả", "Đánh giá"]
    end = next(i for i, row in enumerate(table) if i > start and row[0].value is None)
    return {row[0].value: list(row[1:4]) for row in table[start + 1 : end]}


def test_targets_are_met_or_not() -> None:
    targets = targets_table(load(make_data())["Tổng hợp"])
    assert list(targets) == ["Chỉ số hài lòng chung", "Tỷ lệ giải quyết đúng hạn"]
    target, result, verdict = targets["Chỉ số hài lòng chung"]
    assert_percent(target, 95.0)
    assert_percent(result, 91.9)
    assert verdict.value == "Chưa đạt"
    target, result, verdict = targets["Tỷ lệ giải quyết đúng hạn"]
    assert_percent(target, 95.0)
    assert_percent(result, 95.56)
    assert verdict.value == "Đạt"


def test_targets_come_from_configuration() -> None:
    targets = targets_table(load(make_data(targets={"satisfaction": 90.0, "on_time": 98.0}))["Tổng hợp"])
    assert {label: cells[2].value for label, cells in targets.items()} == {
        "Chỉ số hài lòng chung": "Đạt",
        "Tỷ lệ giải quyết đúng hạn": "Chưa đạt",
    }
    assert_percent(targets["Tỷ lệ giải quyết đúng hạn"][0], 98.0)


def test_a_target_reached_exactly_is_met() -> None:
    targets = targets_table(load(make_data(targets={"satisfaction": 91.9}))["Tổng hợp"])
    assert {label: cells[2].value for label, cells in targets.items()} == {"Chỉ số hài lòng chung": "Đạt"}


def test_an_on_time_rate_on_fewer_than_five_dossiers_is_shown_and_judged() -> None:
    """Dossiers are counted, not sampled: an on-time rate is never suppressed (docs/FIGURES.md)."""
    report = make_report()
    report["dossiers"].update(resolved=3, on_time=3, late=0, on_time_rate=100.0)
    ws = load(make_data(report=report))["Tổng hợp"]
    assert_percent(summary_value(ws, "Tỷ lệ đúng hạn"), 100.0)
    _target, result, verdict = targets_table(ws)["Tỷ lệ giải quyết đúng hạn"]
    assert_percent(result, 100.0)
    assert verdict.value == "Đạt"


def test_the_summary_cites_how_figures_are_computed_and_its_scope() -> None:
    ws = load(make_data())["Tổng hợp"]
    assert "Cách tính các số liệu: docs/FIGURES.md" in [row[0] for row in rows(ws)]
    assert summary_value(ws, "Phạm vi").value.endswith("(không gồm đơn vị trực thuộc)")


def test_no_targets_leave_the_targets_table_out() -> None:
    assert "Chỉ tiêu" not in [row[0] for row in rows(load(make_data(targets={}))["Tổng hợp"])]


def test_a_suppressed_summary_shows_insufficient_data_never_a_number() -> None:
    report = make_report()
    report["satisfaction"] = {"index": None, "n": 3, "ci95": None, "suppressed": True}
    report["dossiers"]["on_time_rate"] = None
    report["surveys"]["response_rate"] = None
    ws = load(make_data(report=report))["Tổng hợp"]
    for label in ("Tỷ lệ đúng hạn", "Tỷ lệ phản hồi", "Khoảng tin cậy 95% – cận dưới", "Khoảng tin cậy 95% – cận trên"):
        assert summary_value(ws, label).value == INSUFFICIENT
    assert summary_value(ws, "Số câu trả lời (n)").value == 3
    targets = targets_table(ws)
    assert {label: (cells[1].value, cells[2].value) for label, cells in targets.items()} == {
        "Chỉ số hài lòng chung": (INSUFFICIENT, INSUFFICIENT),
        "Tỷ lệ giải quyết đúng hạn": (INSUFFICIENT, INSUFFICIENT),
    }
    numbers = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, float)]
    assert numbers == [pytest.approx(0.95), pytest.approx(0.95)]  # only the targets themselves


def test_a_suppressed_overall_index_is_not_shown_even_if_the_json_carried_one() -> None:
    report = make_report()
    report["satisfaction"] = {"index": 80.0, "n": 4, "ci95": [40.0, 97.0], "suppressed": True}
    ws = load(make_data(report=report))["Tổng hợp"]
    assert summary_value(ws, "Chỉ số hài lòng chung").value == INSUFFICIENT
    assert summary_value(ws, "Khoảng tin cậy 95% – cận dưới").value == INSUFFICIENT


def test_the_generation_time_is_shown_only_when_given() -> None:
    assert "Thời điểm lập báo cáo" not in [row[0] for row in rows(load(make_data())["Tổng hợp"])]
    wb = load(make_data(generated_at=datetime(2026, 12, 3, 8, 15)))
    cell = summary_value(wb["Tổng hợp"], "Thời điểm lập báo cáo")
    assert cell.value == datetime(2026, 12, 3, 8, 15)
    assert cell.number_format == "dd/mm/yyyy hh:mm"
    # a naive local time names no zone, so the document's own dates stay the fixed ones
    assert wb.properties.created == FIXED_STAMP


# --- criteria, factors, fields


def test_each_criterion_row_carries_the_report_figures() -> None:
    report = make_report()
    ws = load(make_data(report=report))["Tiêu chí"]
    body = list(ws.iter_rows(min_row=2))
    assert len(body) == len(report["criteria"])
    texts = {code: text for code, _factor, text in QUESTIONS}
    for row, criterion in zip(body, report["criteria"], strict=True):
        assert row[0].value == criterion["code"]
        assert row[1].value == criterion["factor"]
        assert row[2].value == texts[criterion["code"]]
        assert row[3].value == criterion["n"]
        assert [c.value for c in row[4:9]] == [criterion["counts"][level] for level in "12345"]
        assert all(type(c.value) is int for c in row[3:9])
    tc1 = body[0]
    assert_percent(tc1[9], 91.86)
    assert tc1[10].value == pytest.approx(4.44)
    assert tc1[10].number_format == "0.00"
    assert_percent(tc1[11], 3.49)
    assert_percent(tc1[12], 84.15)
    assert_percent(tc1[13], 96.01)


def test_a_suppressed_criterion_keeps_its_counts_but_shows_no_figure() -> None:
    ws = load(make_data())["Tiêu chí"]
    cc1 = next(row for row in ws.iter_rows(min_row=2) if row[0].value == "CC1")
    assert cc1[3].value == 4
    assert [c.value for c in cc1[4:9]] == [0, 1, 0, 2, 1]
    assert [c.value for c in cc1[9:]] == [INSUFFICIENT] * 5


def test_factors_show_name_n_index_and_interval() -> None:
    ws = load(make_data())["Yếu tố"]
    tc, cc = list(ws.iter_rows(min_row=2))
    assert [c.value for c in tc[:3]] == ["TC", "I. Tiếp cận dịch vụ", 86]
    assert_percent(tc[3], 87.79)
    assert_percent(tc[4], 78.9)
    assert_percent(tc[5], 93.3)
    assert [c.value for c in cc] == ["CC", "III. Công chức trực tiếp giải quyết công việc", 4] + [INSUFFICIENT] * 3


def test_priorities_show_each_item_with_its_text_n_and_share_of_very_much_and_much() -> None:
    report = make_report()
    report["priorities"] = [
        {"code": "UT1", "index": 60.0, "n": 40, "suppressed": False},
        {"code": "UT2", "index": None, "n": 3, "suppressed": True},
    ]
    ws = load(make_data(report=report))["Ưu tiên cải thiện"]
    header, ut1, ut2 = list(ws.iter_rows())
    assert [c.value for c in header] == ["Mã", "Nội dung", "Số câu trả lời (n)", "Tỷ lệ “Rất nhiều” + “Nhiều”"]
    assert [c.value for c in ut1[:3]] == ["UT1", "Mức độ mong muốn ưu tiên cải thiện: thông tin cho người dân.", 40]
    assert_percent(ut1[3], 60.0)
    assert [c.value for c in ut2] == ["UT2", None, 3, INSUFFICIENT]


def test_a_form_without_priority_items_has_no_priorities_sheet() -> None:
    report = make_report()
    report["priorities"] = []
    assert "Ưu tiên cải thiện" not in load(make_data(report=report)).sheetnames


def test_fields_show_n_and_index_or_insufficient_data() -> None:
    ws = load(make_data())["Lĩnh vực"]
    land, land_registry = list(ws.iter_rows(min_row=2))  # Vietnamese order: "Đ" after "D", before "H"
    assert [land_registry[0].value, land_registry[1].value] == ["Hộ tịch", 58]
    assert_percent(land_registry[2], 93.1)
    assert [c.value for c in land] == ["Đất đai", 3, INSUFFICIENT]


# --- officers and late dossiers


def test_officers_show_their_counts_on_time_rate_and_satisfaction() -> None:
    ws = load(make_data())["Cán bộ"]
    cuong, binh = list(ws.iter_rows(min_row=2))  # by name in Vietnamese order
    assert [c.value for c in binh[:4]] == ["Trần Thị Bình", 40, 38, 2]
    assert_percent(binh[4], 95.0)
    assert binh[5].value == 2
    assert_percent(binh[6], 92.5)
    assert binh[7].value == 40
    assert [c.value for c in cuong] == ["Lê Văn Cường", 0, 0, 0, INSUFFICIENT, 0, INSUFFICIENT, 2, 0, 0]


def test_a_suppressed_officer_satisfaction_is_never_a_number() -> None:
    officer = OfficerRow("Phạm Dũng", 10, 9, 1, 1, satisfaction=100.0, n=3, suppressed=True)
    ws = load(make_data(officers=[officer]))["Cán bộ"]
    assert ws["G2"].value == INSUFFICIENT


def test_late_dossiers_have_real_dates_and_their_apology() -> None:
    ws = load(make_data())["Hồ sơ trễ hạn"]
    first, second = list(ws.iter_rows(min_row=2))
    assert [c.value for c in first[:4]] == [
        "000.00.08.H29-261103-0007",
        "Đăng ký khai sinh",
        "Hộ tịch",
        "Trần Thị Bình",
    ]
    assert_day(first[4], date(2026, 11, 3))
    assert_day(first[5], date(2026, 11, 10))
    assert_day(first[6], date(2026, 11, 14))
    assert [first[7].value, first[8].value] == ["đã trả kết quả", "3/PXL"]
    assert_day(first[9], date(2026, 11, 14))
    assert first[10].value == "Cần xác minh thêm thông tin hộ tịch"
    assert second[3].value is None
    assert_day(second[5], date(2026, 11, 26))
    assert [second[6].value, second[7].value, second[8].value, second[9].value, second[10].value] == [
        None,
        "đang xử lý",
        None,
        None,
        None,
    ]


# --- raw answers


def test_answers_have_one_row_each_with_values_under_their_question_codes() -> None:
    options = {"UT1": {"rat-nhieu": "Rất nhiều", "nhieu": "Nhiều", "it": "Ít"}}
    wb = load(make_data(options=options))
    ws = wb["Dữ liệu khảo sát"]
    table = rows(ws)
    assert table[0] == ["Mã người trả lời", "Ngày hoàn thành", "Lĩnh vực", "Kênh", "TC1", "TC2", "CC1", "UT1", "YK"]
    assert all(cell.font.b for cell in ws[1] if cell.value)
    assert ws.freeze_panes == "E2"
    assert ws.auto_filter.ref == "A1:I4"
    # the questions' wording, and their answers, on a sheet of their own
    questions = rows(wb["Câu hỏi"])
    assert [row[:3] for row in questions[1:]] == [[code, factor or None, text] for code, factor, text in QUESTIONS]
    assert questions[4][3] == "Rất nhiều; Nhiều; Ít"
    body = table[1:]
    assert len(body) == len(ANSWERS)
    # the channel by the name people know it by, not its id (zalo_oa, zns)
    assert body[0][:1] + body[0][2:] == ["PK-000101", "Hộ tịch", "Telegram", 5, 4, 4, None, None]
    # the code X9 is not in the form's questions: it is left out, not given a column
    assert body[1][:1] + body[1][2:] == [
        "PK-000102",
        "Đất đai",
        "Zalo OA",
        2,
        None,
        None,
        "Rất nhiều",  # a choice by its label, never its code
        "Chờ lâu, gọi số 09** *** ***",
    ]
    assert body[2][:1] + body[2][2:] == [
        "PK-000103",
        "Hộ tịch",
        "Tin nhắn Zalo (ZNS)",
        None,
        None,
        1,
        None,
        "Cán bộ nhiệt tình",
    ]
    for row, answer in zip(ws.iter_rows(min_row=2), ANSWERS, strict=True):
        assert_day(row[1], answer.completed)


def test_ratings_are_numbers_and_other_answers_stay_text() -> None:
    answers = [AnswerRow("PK-1", date(2026, 11, 4), "Hộ tịch", "console", {"TC1": "3", "UT1": "2", "YK": "5"})]
    ws = load(make_data(answers=answers))["Dữ liệu khảo sát"]
    assert [c.value for c in ws[2][4:]] == [3, None, None, "2", "5"]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    answers = [
        AnswerRow("PK-1", date(2026, 11, 4), "Hộ tịch", "telegram", {"YK": '=HYPERLINK("http://x","y")', "UT1": "#N/A"})
    ]
    late = [LateRow("H1", "=1+1", "Hộ tịch", None, date(2026, 11, 1), date(2026, 11, 2), None, "x", None, None, "=A1")]
    wb = load(make_data(answers=answers, late=late))
    row = wb["Dữ liệu khảo sát"][2]
    assert (row[8].value, row[8].data_type) == ('=HYPERLINK("http://x","y")', "s")
    assert (row[7].value, row[7].data_type) == ("#N/A", "s")
    late_row = wb["Hồ sơ trễ hạn"][2]
    assert (late_row[1].value, late_row[1].data_type) == ("=1+1", "s")
    assert (late_row[10].value, late_row[10].data_type) == ("=A1", "s")
    xml = zipfile.ZipFile(io.BytesIO(build_workbook(make_data(answers=answers, late=late)))).read(
        "xl/worksheets/sheet7.xml"
    )
    assert b"<f>" not in xml


def test_text_is_nfc_and_loses_control_characters() -> None:
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" typed with combining marks
    answers = [AnswerRow("PK-1", date(2026, 11, 4), "Hộ tịch", "telegram", {"YK": f"{decomposed}\x07 ok\x0b"})]
    ws = load(make_data(answers=answers))["Dữ liệu khảo sát"]
    assert ws["I2"].value == "Nguyễn ok"


def test_no_answers_give_the_header_row_only() -> None:
    ws = load(make_data(answers=[]))["Dữ liệu khảo sát"]
    assert ws.max_row == 1
    assert ws.auto_filter.ref == "A1:I1"


# --- the file


def test_two_builds_of_the_same_data_are_the_same_bytes() -> None:
    data = make_data()
    first = build_workbook(data)
    assert build_workbook(data) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    props = openpyxl.load_workbook(io.BytesIO(first)).properties
    assert props.created == FIXED_STAMP
    assert props.modified == FIXED_STAMP
    assert props.title == "Báo cáo mức độ hài lòng tháng 11/2026"


def test_an_aware_generation_time_dates_the_document_in_utc() -> None:
    at = datetime(2026, 12, 3, 8, 15, tzinfo=timezone(timedelta(hours=7)))
    wb = load(make_data(generated_at=at))
    assert wb.properties.created == datetime(2026, 12, 3, 1, 15)
    assert summary_value(wb["Tổng hợp"], "Thời điểm lập báo cáo").value == datetime(2026, 12, 3, 8, 15)


def test_a_big_quarter_builds_in_reasonable_time() -> None:
    form = Catalog.load().get("sipas-2022")
    questions = [(q.code, q.factor or "", q.text.vi) for q in form.questions]
    rated = [q.code for q in form.questions if q.type == "rating"]
    report = make_report()
    report["criteria"] = [
        {"code": code, "factor": "", "index": 90.0, "n": 20000, "counts": {"1": 0, "2": 0, "3": 2000, "4": 9000,
         "5": 9000}, "mean": 4.35, "alarm_rate": 0.0, "ci95": [89.6, 90.4], "suppressed": False}
        for code in rated
    ]  # fmt: skip
    options = {q.code: [o.value for o in form.scales.get(q.scale or "", q.options)] for q in form.questions}
    fields = ["Hộ tịch", "Đất đai", "Chứng thực", "Xây dựng"]
    channels = ["telegram", "zalo_oa", "zalo_bot", "zns"]
    answers = []
    for i in range(20_000):
        values: dict[str, str | None] = {}
        for j, (code, _factor, _text) in enumerate(questions):
            choices = options[code]
            values[code] = choices[(i + j) % len(choices)] if choices else ("Cảm ơn cán bộ" if i % 7 == 0 else None)
        answers.append(
            AnswerRow(f"PK-{i:06d}", date(2026, 10, 1) + timedelta(days=i % 92), fields[i % 4], channels[i % 4], values)
        )
    started = time.perf_counter()
    content = build_workbook(make_data(title="Báo cáo mức độ hài lòng quý IV/2026", questions=questions,
                                       report=report, answers=answers))  # fmt: skip
    elapsed = time.perf_counter() - started
    print(f"\n20,000 answers x {len(questions)} questions: {elapsed:.1f} s, {len(content) / 1e6:.1f} MB")
    assert elapsed < 120

    # the first answer rows through openpyxl (formats included), the rest straight from the sheet's XML:
    # reading 20,000 rows back with openpyxl would take longer than writing them
    wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    index = wb.sheetnames.index("Dữ liệu khảo sát")
    first = next(wb.worksheets[index].iter_rows(min_row=2, max_row=2))
    wb.close()
    assert first[0].value == "PK-000000"
    assert_day(first[1], answers[0].completed)
    assert first[4].value == int(answers[0].values[questions[0][0]] or 0)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = archive.read(f"xl/worksheets/sheet{index + 1}.xml")
    assert xml.count(b"<row ") == 1 + 20_000
    second = ElementTree.fromstring(xml[xml.find(b'<row r="2"') : xml.find(b"</row>", xml.find(b'<row r="2"')) + 6])
    last = ElementTree.fromstring(xml[xml.rfind(b"<row ") : xml.rfind(b"</row>") + 6])
    cells = {cell.get("r"): cell for cell in last}
    assert last.get("r") == "20001"
    assert "".join(cells["A20001"].itertext()) == "PK-019999"
    # the last answer's date has the style (dd/mm/yyyy) that openpyxl read on the first
    assert cells["B20001"].get("s") == second[1].get("s")
    assert second[1].get("r") == "B2"
    assert cells["E20001"].findtext("v") == answers[-1].values[questions[0][0]]
