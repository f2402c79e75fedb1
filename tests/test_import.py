"""`sipasbot dossiers import`: one-stop-shop exports (.xlsx, .csv) through the dossier lifecycle, idempotent."""

from __future__ import annotations

import subprocess
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import text

from handlers.context import Services
from handlers.errors import HandlerError
from handlers.intake.dossiers import ContactInput, DossierHandler
from handlers.intake.imports.cells import parse_moment, parse_status
from handlers.intake.imports.header_aliases import fold_header
from handlers.intake.imports.importer import DossierImporter
from handlers.intake.imports.report import ImportFileError, ImportReport, RowError
from tests.conftest import Clock
from tests.helpers import add_unit, sample_dossier
from tests.processes import SIPASBOT, cli_env

HEADERS = [
    "Mã hồ sơ", "Tên thủ tục", "Mã thủ tục", "Lĩnh vực", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày xử lý xong",
    "Ngày trả kết quả", "Trạng thái", "Chủ hồ sơ", "Số điện thoại", "Email", "Cán bộ xử lý", "Đơn vị",
    "Hình thức nộp",
]  # fmt: skip
TABLES = ("dossiers", "dossier_events", "invitations", "people", "fields")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def export_row(
    code: str | None,
    *,
    received: Any = "10/11/2026 08:30",
    due: Any = "14/11/2026",
    finished: Any = None,
    returned: Any = None,
    status: Any = None,
    name: str = "Nguyễn Văn An",
    phone: Any = "0912 345 678",
    email: str | None = None,
    unit: str | None = "P8",
    channel: str | None = "Trực tiếp",
    handler: str | None = "Trần Thị Bình",
    field: str = "Hộ tịch",
) -> list[Any]:
    """One data row in the order of HEADERS."""
    return [
        code, "Đăng ký khai sinh", "1.001193", field, received, due, finished, returned, status, name, phone,
        email, handler, unit, channel,
    ]  # fmt: skip


def write_xlsx(
    path: Path, rows: Sequence[Sequence[Any]], headers: Sequence[str] = HEADERS, titles: Sequence[str] = ()
) -> Path:
    """An export as one-stop-shop software writes it: title rows, a header row, then the dossiers."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Danh sách hồ sơ"
    for title in titles:
        sheet.append([title])
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


async def table_counts(services: Services) -> dict[str, int]:
    async with services.uow(read_only=True) as uow:
        return {
            table: int((await uow.connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
            for table in TABLES
        }


async def snapshot(services: Services) -> list[tuple[Any, ...]]:
    """Every dossier and person as stored, to see that nothing was touched."""
    async with services.uow(read_only=True) as uow:
        dossiers = await uow.connection.execute(text("SELECT * FROM dossiers ORDER BY id"))
        people = await uow.connection.execute(text("SELECT * FROM people ORDER BY id"))
        return [tuple(row) for row in dossiers] + [tuple(row) for row in people]


async def event_types(services: Services, code: str) -> list[str]:
    view = await DossierHandler(services).view(code)
    return [event.type for event in view.events]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A local (Hồ Chí Minh) time as stored: UTC."""
    return datetime(year, month, day, hour, minute, second, tzinfo=HCM).astimezone(UTC)


# -- a large export with bad rows ----------------------------------------------------------------------------

FAULTS = (
    ("missing code", "thiếu “Mã hồ sơ”"),
    ("bad date", "“Ngày tiếp nhận” không phải là ngày: '32/13/2026'"),
    ("due before received", "“Ngày hẹn trả” trước “Ngày tiếp nhận”"),
    ("unknown unit", "không có đơn vị 'P99'"),
    ("bad phone", "“Số điện thoại” không phải số điện thoại Việt Nam"),
    ("unknown status", "“Trạng thái” không rõ: 'Đang bay'"),
    ("returned without its date", "trạng thái “Đã trả kết quả” cần “Ngày trả kết quả”"),
)


def large_export(size: int, bad_every: int, first_bad: int) -> tuple[list[list[Any]], dict[int, str]]:
    """``size`` rows of varied statuses and date formats; every ``bad_every``-th row has one of FAULTS.

    Rows are numbered as the sheet shows them: a title row, the header row, then data from row 3.
    """
    rows: list[list[Any]] = []
    bad: dict[int, str] = {}
    for index in range(size):
        day = 1 + index % 20
        received = datetime(2026, 10, day, 8, index % 60) if index % 2 else f"{day:02d}/10/2026 08:{index % 60:02d}"
        common: dict[str, Any] = {
            "received": received,
            "due": f"{day + 5:02d}/10/2026",
            "name": f"Người dân {index % 3000}",  # one person per phone number, as in a real export
            "phone": f"09{index % 3000:08d}",
            "field": ("Hộ tịch", "Chứng thực", "Đất đai")[index % 3],
        }
        kind = index % 5
        if kind == 0:
            row = export_row(
                f"P8-{index:06d}",
                status=10,
                finished=f"{day + 3:02d}-10-2026",
                returned=f"2026-10-{day + 4:02d} 15:00",
                **common,
            )
        elif kind == 1:
            row = export_row(
                f"P8-{index:06d}", status="Đã trả kết quả", returned=datetime(2026, 10, day + 4, 9), **common
            )
        elif kind == 2:
            row = export_row(f"P8-{index:06d}", status=4, **common)
        elif kind == 3:
            row = export_row(
                f"P8-{index:06d}", status="Đã xử lý xong", finished=f"2026-10-{day + 2:02d}T10:00", **common
            )
        else:
            row = export_row(f"P8-{index:06d}", status=None, returned=f"{day + 1:02d}/10/2026", **common)
        if index >= first_bad and (index - first_bad) % bad_every == 0 and len(bad) < 50:
            fault, message = FAULTS[len(bad) % len(FAULTS)]
            if fault == "missing code":
                row[0] = None
            elif fault == "bad date":
                row[4] = "32/13/2026"
            elif fault == "due before received":
                row[4], row[5] = "20/10/2026 08:00", "19/10/2026"
            elif fault == "unknown unit":
                row[13] = "P99"
            elif fault == "bad phone":
                row[10] = "12345"
            elif fault == "unknown status":
                row[8] = "Đang bay"
            else:
                row[8], row[7] = 10, None
            bad[index + 3] = message
        rows.append(row)
    return rows, bad


async def test_a_5000_row_export_with_50_bad_rows_imports_the_rest_and_names_each_bad_row(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    rows, bad = large_export(5000, bad_every=97, first_bad=37)
    assert len(bad) == 50
    path = write_xlsx(tmp_path / "xuat-ho-so.xlsx", rows, titles=["DANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 10/2026"])
    progress: list[tuple[int, int | None]] = []

    report = await DossierImporter(services).run(path, on_progress=lambda done, total: progress.append((done, total)))

    assert (report.rows, report.created, report.updated, report.unchanged) == (5000, 4950, 0, 0)
    assert {error.row: error.message for error in report.errors} == bad
    assert [error.row for error in report.errors] == sorted(bad)
    assert progress == [(1000, 5000), (2000, 5000), (3000, 5000), (4000, 5000), (5000, 5000)]
    counts = await table_counts(services)
    assert counts["dossiers"] == 4950
    assert counts["people"] == len({row[10] for index, row in enumerate(rows) if index + 3 not in bad})
    returned = sum(1 for index in range(5000) if index % 5 in (0, 1, 4) and index + 3 not in bad)
    assert counts["invitations"] == returned
    assert await event_types(services, "P8-000000") == ["result_ready", "returned"]
    assert await event_types(services, "P8-000001") == ["returned"]
    assert await event_types(services, "P8-000002") == []
    assert await event_types(services, "P8-000003") == ["result_ready"]
    assert await event_types(services, "P8-000004") == ["returned"]

    before, stored = await table_counts(services), await snapshot(services)
    again = await DossierImporter(services).run(path)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 4950)
    assert [error.row for error in again.errors] == sorted(bad)
    assert await table_counts(services) == before
    assert await snapshot(services) == stored


# -- headers ------------------------------------------------------------------------------------------------


async def test_headers_are_found_with_or_without_accents_in_any_case_below_title_rows(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    accented = write_xlsx(
        tmp_path / "co-dau.xlsx",
        [["1", "P8-A1", "Chứng thực bản sao", "  CHỨNG THỰC ", "18/11/2026 08:30", "18/11/2026", "Lê Văn Cường", "x"]],
        headers=[
            "STT", "  MÃ  HỒ SƠ ", "tên   thủ tục", "LĨNH VỰC", "Ngày tiếp nhận (*)", "Ngày hẹn trả kết quả",
            "Người nộp", "Ghi chú",
        ],
        titles=["ỦY BAN NHÂN DÂN PHƯỜNG 8", "DANH SÁCH HỒ SƠ"],
    )  # fmt: skip
    plain = write_xlsx(
        tmp_path / "khong-dau.xlsx",
        [
            [
                "P8-B1",
                "Dang ky ket hon",
                "Ho tich",
                "2026-11-18 09:00",
                "2026-11-20",
                "Pham Thi Dung",
                "truc tuyen",
                "P8",
            ]
        ],
        headers=["Ma ho so", "Thu tuc", "Linh vuc", "Ngay tiep nhan", "Ngay hen tra", "Chu ho so", "Kenh", "Ma don vi"],
        titles=["Bao cao", "", "Xuat ngay 19/11/2026"],
    )

    first = await DossierImporter(services).run(accented, unit="P8")
    second = await DossierImporter(services).run(plain)

    assert (first.created, first.errors) == (1, ())
    assert (second.created, second.errors) == (1, ())
    a1, b1 = [await DossierHandler(services).view(code) for code in ("P8-A1", "P8-B1")]
    assert (a1.dossier.procedure_name, a1.dossier.field, a1.dossier.channel) == (
        "Chứng thực bản sao",
        "CHỨNG THỰC",
        "truc_tiep",
    )
    assert (b1.dossier.procedure_name, b1.dossier.channel, b1.unit_code) == ("Dang ky ket hon", "truc_tuyen", "P8")


async def test_the_row_of_column_numbers_under_the_headers_is_not_a_dossier(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    numbers = [f"({n})" for n in range(1, len(HEADERS) + 1)]
    path = write_xlsx(tmp_path / "so-cot.xlsx", [numbers, export_row("P8-N1")], titles=["BIỂU MẪU SỐ 01"])

    report = await DossierImporter(services).run(path)

    assert (report.rows, report.created, report.errors) == (2, 1, ())


def test_headers_fold_to_one_form() -> None:
    assert fold_header("  Ngày   Xử Lý XONG (dd/mm/yyyy) ") == "ngay xu ly xong"
    assert fold_header("ĐƠN VỊ*") == "don vi"
    assert fold_header("Mã hồ sơ:") == "ma ho so"


async def test_a_file_without_the_required_headers_names_them(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    path = write_xlsx(tmp_path / "thieu.xlsx", [["P8-1", "Khai sinh", "x"]], headers=["Mã hồ sơ", "Thủ tục", "Ghi chú"])

    with pytest.raises(ImportFileError) as refused:
        await DossierImporter(services).run(path, unit="P8")

    assert str(refused.value) == (
        "tệp thiếu cột bắt buộc “Lĩnh vực”, “Ngày tiếp nhận”, “Ngày hẹn trả”, “Chủ hồ sơ” (tìm trong dòng 1)"
    )


async def test_a_unit_may_be_named_by_its_name(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    await add_unit(services, "P9", "Phường 9")
    path = write_xlsx(
        tmp_path / "ten-don-vi.xlsx", [export_row("P8-U1", unit="phuong 9"), export_row("P8-U2", unit="p8")]
    )

    report = await DossierImporter(services).run(path)

    assert report.errors == ()
    assert [(await DossierHandler(services).view(code)).unit_code for code in ("P8-U1", "P8-U2")] == ["P9", "P8"]


async def test_a_file_without_a_unit_column_needs_the_unit_named(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    headers = [h for h in HEADERS if h != "Đơn vị"]
    row = export_row("P8-1")
    del row[13]
    path = write_xlsx(tmp_path / "khong-don-vi.xlsx", [row], headers=headers)

    with pytest.raises(ImportFileError, match="không có cột “Đơn vị”"):
        await DossierImporter(services).run(path)
    with pytest.raises(ImportFileError, match="không có đơn vị 'P9'"):
        await DossierImporter(services).run(path, unit="P9")
    report = await DossierImporter(services).run(path, unit="P8")
    assert (report.created, report.errors) == (1, ())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("khong-co.xlsx", None, "không có tệp"),
        ("cu.xls", b"\xd0\xcf\x11\xe0", "không đọc được tệp .xls cũ cu.xls: hãy lưu lại thành .xlsx hoặc .csv"),
        ("ghi-chu.txt", b"x", "không nhận dạng được loại tệp ghi-chu.txt: cần .xlsx hoặc .csv"),
        ("hong.xlsx", b"not a zip file", "không đọc được tệp hong.xlsx: "),
        ("latin.csv", b"M\xe3 h\xf4 s\xf4;L\xecnh v\xf1c\n", "không đọc được tệp latin.csv: cần mã hóa UTF-8"),
    ],
)
async def test_an_unusable_file_is_refused_with_one_line(
    services: Services, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ImportFileError) as refused:
        await DossierImporter(services).run(path, unit="P8")

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert isinstance(refused.value, HandlerError)


async def test_a_named_sheet_is_read_instead_of_the_first(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    path = write_xlsx(tmp_path / "hai-trang.xlsx", [export_row("P8-S1")])
    workbook = openpyxl.load_workbook(path)
    other = workbook.create_sheet("Tháng 11", 0)
    other.append(HEADERS)
    other.append(export_row("P8-S2"))
    workbook.save(path)

    assert (await DossierImporter(services).run(path)).created == 1
    assert (await DossierImporter(services).run(path, sheet="Danh sách hồ sơ")).created == 1
    with pytest.raises(ImportFileError, match="không có trang tính 'Tháng 12' \\(có: Tháng 11, Danh sách hồ sơ\\)"):
        await DossierImporter(services).run(path, sheet="Tháng 12")
    assert [(await DossierHandler(services).view(code)).unit_code for code in ("P8-S1", "P8-S2")] == ["P8", "P8"]


# -- dates --------------------------------------------------------------------------------------------------


async def test_dates_in_every_accepted_format_are_local_time(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    received_forms: list[tuple[Any, datetime]] = [
        ("18/11/2026 08:30", utc(2026, 11, 18, 8, 30)),
        ("18/11/2026 08:30:15", utc(2026, 11, 18, 8, 30, 15)),
        ("18-11-2026", utc(2026, 11, 18)),
        ("18/11/2026", utc(2026, 11, 18)),
        ("2026-11-18", utc(2026, 11, 18)),
        ("2026-11-18 08:30", utc(2026, 11, 18, 8, 30)),
        ("2026-11-18T08:30:00", utc(2026, 11, 18, 8, 30)),
        ("2026-11-18T08:30:00+07:00", utc(2026, 11, 18, 8, 30)),
        ("2026-11-18T01:30:00Z", utc(2026, 11, 18, 8, 30)),
        ("08:30 18/11/2026", utc(2026, 11, 18, 8, 30)),
        (datetime(2026, 11, 18, 8, 30), utc(2026, 11, 18, 8, 30)),  # an Excel datetime cell
        (datetime(2026, 11, 18, 8, 29, 59, 999_600), utc(2026, 11, 18, 8, 30)),  # Excel's fraction of a day
        (datetime(2026, 11, 18), utc(2026, 11, 18)),  # an Excel date cell
    ]
    rows = [export_row(f"P8-D{n}", received=value, due="20/11/2026") for n, (value, _) in enumerate(received_forms)]
    due_forms: list[tuple[Any, datetime]] = [
        ("20/11/2026", utc(2026, 11, 20, 23, 59, 59)),  # a date alone: by the end of that day
        (datetime(2026, 11, 20), utc(2026, 11, 20, 23, 59, 59)),
        ("2026-11-20", utc(2026, 11, 20, 23, 59, 59)),
        ("20/11/2026 17:00", utc(2026, 11, 20, 17)),
        (datetime(2026, 11, 20, 17, 0), utc(2026, 11, 20, 17)),
    ]
    rows += [export_row(f"P8-H{n}", due=value) for n, (value, _) in enumerate(due_forms)]
    path = write_xlsx(tmp_path / "ngay.xlsx", rows)

    report = await DossierImporter(services).run(path)

    assert report.errors == ()
    handler = DossierHandler(services)
    for n, (value, expected) in enumerate(received_forms):
        assert (await handler.view(f"P8-D{n}")).dossier.received_at == expected, value
    for n, (value, expected) in enumerate(due_forms):
        assert (await handler.view(f"P8-H{n}")).dossier.due_at == expected, value


async def test_result_and_return_dates_alone_follow_the_earlier_step_on_the_same_day(
    services: Services, tmp_path: Path, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 18, 17, 0, tzinfo=HCM)  # the end of that day: no date is in the future
    await add_unit(services)
    rows = [
        export_row("P8-C1", received="18/11/2026 08:30", due="18/11/2026", returned="18/11/2026", status=10),
        export_row(
            "P8-C2", received="18/11/2026 08:30", due="19/11/2026", finished="18/11/2026 15:00", returned="18/11/2026"
        ),
        export_row("P8-C3", received="18/11/2026 08:30", due="19/11/2026", returned="17/11/2026"),
        export_row(
            "P8-C4", received="18/11/2026 08:30", due="19/11/2026", finished="19/11/2026", returned="18/11/2026"
        ),
    ]
    path = write_xlsx(tmp_path / "cung-ngay.xlsx", rows)

    report = await DossierImporter(services).run(path)

    assert report.errors == (
        RowError(4, "“Ngày trả kết quả” trước “Ngày tiếp nhận”"),
        RowError(5, "“Ngày trả kết quả” trước “Ngày xử lý xong”"),
    )
    handler = DossierHandler(services)
    c1 = (await handler.view("P8-C1")).dossier
    assert (c1.state, c1.returned_at, c1.on_time) == ("returned", utc(2026, 11, 18, 8, 30), True)
    c2 = (await handler.view("P8-C2")).dossier
    assert (c2.finished_at, c2.returned_at) == (utc(2026, 11, 18, 15), utc(2026, 11, 18, 15))


async def test_dates_are_read_in_the_configured_time_zone(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    services.policy = replace(services.policy, timezone=ZoneInfo("Europe/Paris"))
    path = write_xlsx(tmp_path / "paris.xlsx", [export_row("P8-Z1", received="17/11/2026 08:30", due="20/11/2026")])

    await DossierImporter(services).run(path)

    dossier = (await DossierHandler(services).view("P8-Z1")).dossier
    assert dossier.received_at == datetime(2026, 11, 17, 7, 30, tzinfo=UTC)
    assert dossier.due_at == datetime(2026, 11, 20, 22, 59, 59, tzinfo=UTC)


def test_unreadable_dates_are_refused() -> None:
    for value in ("31/02/2026", "18/11/26", "hôm qua", "2026-W47", "18/11/2026 25:00"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is the value itself
            parse_moment(value)
    assert parse_moment(None) is None
    assert parse_moment("  ") is None


# -- statuses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, 1), ("Mới đăng ký", 1), (2, 2), ("Được tiếp nhận", 2), ("3", 3), ("Không được tiếp nhận", 3),
        (4.0, 4), ("Đang xử lý", 4), ("dang xu ly", 4), (5, 5), ("Yêu cầu bổ sung giấy tờ", 5),
        ("YEU CAU BO SUNG", 5), (6, 6), ("Yêu cầu thực hiện nghĩa vụ tài chính", 6), (7, 7),
        ("Công dân yêu cầu rút hồ sơ", 7), (8, 8), ("Dừng xử lý", 8), (9, 9), ("Đã xử lý xong", 9),
        ("Chờ trả kết quả", 9), (10, 10), ("Đã trả kết quả", 10), ("10 - Đã trả kết quả", 10),
        ("da tra ket qua", 10),
    ],
)  # fmt: skip
def test_statuses_are_read_as_national_codes_or_as_text(value: object, code: int) -> None:
    assert parse_status(value) == code


@pytest.mark.parametrize("value", [0, 11, 4.5, "11", "Đang bay", ""])
def test_unknown_statuses_are_refused(value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the value itself
        parse_status(value)


async def test_each_status_leads_to_its_lifecycle_state(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    fin, ret = "12/11/2026 10:00", "13/11/2026 09:00"
    cases: list[tuple[str, dict[str, Any], str, list[str]]] = [
        ("S01", {"status": 1}, "received", []),
        ("S02", {"status": "2"}, "received", []),
        ("S03", {"status": "Đang xử lý", "finished": fin}, "received", []),
        ("S04", {"status": 6.0}, "received", []),
        ("S05", {"status": 5}, "supplement_requested", ["supplement_requested"]),
        ("S06", {"status": "yeu cau bo sung giay to"}, "supplement_requested", ["supplement_requested"]),
        ("S07", {"status": 9, "finished": fin}, "result_ready", ["result_ready"]),
        ("S08", {"status": "Đã xử lý xong", "returned": ret}, "result_ready", ["result_ready"]),
        ("S09", {"status": "CHỜ TRẢ KẾT QUẢ", "finished": fin}, "result_ready", ["result_ready"]),
        ("S10", {"status": 10, "finished": fin, "returned": ret}, "returned", ["result_ready", "returned"]),
        ("S11", {"status": "10 - Đã trả kết quả", "returned": ret}, "returned", ["returned"]),
        (
            "S12",
            {"status": "da tra ket qua", "finished": fin, "returned": ret},
            "returned",
            ["result_ready", "returned"],
        ),
        ("S13", {"status": 3}, "cancelled", ["cancelled"]),
        ("S14", {"status": "Công dân yêu cầu rút hồ sơ"}, "cancelled", ["cancelled"]),
        ("S15", {"status": "Dừng xử lý"}, "cancelled", ["cancelled"]),
        ("S16", {"status": 8, "finished": fin}, "cancelled", ["cancelled"]),
        ("S17", {"returned": ret}, "returned", ["returned"]),
        ("S18", {"finished": fin, "returned": ret}, "returned", ["result_ready", "returned"]),
        ("S19", {"finished": fin}, "result_ready", ["result_ready"]),
        ("S20", {}, "received", []),
    ]
    bad = [
        ("B1", {"status": 11}, "“Trạng thái” không rõ: '11'"),
        ("B2", {"status": "Đã trả kết quả", "finished": fin}, "trạng thái “Đã trả kết quả” cần “Ngày trả kết quả”"),
        ("B3", {"status": 9}, "trạng thái “Đã xử lý xong” cần “Ngày xử lý xong” (hoặc “Ngày trả kết quả”)"),
    ]
    rows = [export_row(f"P8-{code}", **values) for code, values, _, _ in cases]
    rows += [export_row(f"P8-{code}", **values) for code, values, _ in bad]
    path = write_xlsx(tmp_path / "trang-thai.xlsx", rows)

    report = await DossierImporter(services).run(path)

    assert report.errors == tuple(RowError(len(cases) + 2 + n, message) for n, (_, _, message) in enumerate(bad))
    handler = DossierHandler(services)
    for code, _, state, events in cases:
        view = await handler.view(f"P8-{code}")
        assert (view.dossier.state, [e.type for e in view.events]) == (state, events), code
    s08 = (await handler.view("P8-S08")).dossier
    assert s08.finished_at == utc(2026, 11, 13, 9)  # resolved at the return date when that is all there is
    s16 = (await handler.view("P8-S16")).events
    assert s16[0].at == utc(2026, 11, 12, 10)  # a withdrawal is dated at the latest date the row gives


# -- importing again ----------------------------------------------------------------------------------------


async def test_a_reimport_that_advances_dossiers_applies_only_the_new_events(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    fin, ret = "12/11/2026 10:00", "13/11/2026 09:00"
    first = write_xlsx(
        tmp_path / "lan-1.xlsx",
        [
            export_row("P8-R1", status=4, phone="0912 000 001"),
            export_row("P8-R2", status=9, finished=fin, phone="0912 000 002"),
            export_row("P8-R3", status=5, phone="0912 000 003"),
            export_row("P8-R4", status=4, phone="0912 000 004"),
        ],
    )
    second = write_xlsx(
        tmp_path / "lan-2.xlsx",
        [
            export_row("P8-R1", status=10, finished=fin, returned=ret, phone="0912 000 001"),
            export_row("P8-R2", status=10, finished=fin, returned=ret, phone="0912 000 002"),
            export_row("P8-R3", status=10, finished=fin, returned=ret, phone="0912 000 003"),
            export_row("P8-R4", status=4, phone="0912 000 004"),
        ],
    )
    importer = DossierImporter(services)
    assert (await importer.run(first)).created == 4
    before = await table_counts(services)

    advanced = await importer.run(second)

    assert (advanced.created, advanced.updated, advanced.unchanged, advanced.errors) == (0, 3, 1, ())
    assert await event_types(services, "P8-R1") == ["result_ready", "returned"]
    assert await event_types(services, "P8-R2") == ["result_ready", "returned"]
    # the export says resolved: the supplement came in, at the latest when processing finished
    assert await event_types(services, "P8-R3") == [
        "supplement_requested", "supplement_received", "result_ready", "returned",
    ]  # fmt: skip
    assert await event_types(services, "P8-R4") == []
    after = await table_counts(services)
    assert after["dossier_events"] == before["dossier_events"] + 2 + 1 + 3
    assert after["invitations"] == before["invitations"] + 3
    assert (after["dossiers"], after["people"]) == (before["dossiers"], before["people"])

    stored = await snapshot(services)
    older = await importer.run(first)  # the first export again: older than what we know now

    assert (older.created, older.updated, older.unchanged, older.errors) == (0, 0, 4, ())
    assert await table_counts(services) == after
    assert await snapshot(services) == stored


async def test_a_code_repeated_in_one_file_is_one_row_error_and_only_its_first_row_is_imported(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    path = write_xlsx(
        tmp_path / "trung.xlsx",
        [
            export_row("P8-D1", handler="Trần Thị Bình", phone="0912 000 001"),
            export_row("P8-D2", phone="0912 000 002"),
            export_row("P8-D1", handler="Lê Văn Cường", phone="0912 000 001"),
            export_row("P8-D1", handler="Trần Thị Bình", phone="0912 000 001"),
        ],
    )
    importer = DossierImporter(services)

    report = await importer.run(path)

    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert report.errors == (
        RowError(4, "“Mã hồ sơ” 'P8-D1' đã có ở dòng 2: chỉ dòng 2 được nhập"),
        RowError(5, "“Mã hồ sơ” 'P8-D1' đã có ở dòng 2: chỉ dòng 2 được nhập"),
    )
    assert (await DossierHandler(services).view("P8-D1")).dossier.handler == "Trần Thị Bình"
    stored = await snapshot(services)

    again = await importer.run(path)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert [error.row for error in again.errors] == [4, 5]
    assert await snapshot(services) == stored


async def test_two_dossiers_of_one_phone_number_under_two_names_reimport_as_unchanged(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    path = write_xlsx(
        tmp_path / "mot-so-dien-thoai.xlsx",
        [
            export_row("P8-H1", name="Nguyễn Văn An", phone="0912 000 001"),
            export_row("P8-H2", name="Nguyễn Thị Bé", phone="0912 000 001", email="be@example.vn"),
            export_row("P8-H3", name="Trần Văn Cường", phone="0912 000 003"),
        ],
    )
    importer = DossierImporter(services)

    first = await importer.run(path)
    stored = await snapshot(services)
    again = await importer.run(path)

    assert (first.created, first.errors) == (3, ())
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, ())
    assert await snapshot(services) == stored
    # one phone number is one person: the first row that gives it names them, a later row adds what it lacks
    h1, h2 = (
        (await DossierHandler(services).view("P8-H1")).dossier,
        (await DossierHandler(services).view("P8-H2")).dossier,
    )
    assert h1.applicant_id == h2.applicant_id is not None
    async with services.uow(read_only=True) as uow:
        person = await uow.people.get(h1.applicant_id)
    assert (person.name, person.email) == ("Nguyễn Văn An", "be@example.vn")


async def test_a_real_contradiction_is_a_row_error_and_an_older_state_is_not(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    handler = DossierHandler(services)
    received = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
    for code in ("P8-K1", "P8-K2"):
        await handler.upsert(sample_dossier(code, received_at=received, due_at=received + timedelta(days=4)))
    await handler.add_event("P8-K1", "cancelled", received + timedelta(days=1))
    await handler.add_event("P8-K2", "returned", received + timedelta(days=2))
    path = write_xlsx(
        tmp_path / "mau-thuan.xlsx",
        [
            export_row("P8-K1", status=10, returned="13/11/2026 09:00"),
            export_row("P8-K2", status=2),
        ],
    )
    older = write_xlsx(tmp_path / "cu-hon.xlsx", [export_row("P8-K2", status=5), export_row("P8-K1", status=7)])

    report = await DossierImporter(services).run(path)
    older_report = await DossierImporter(services).run(older)

    assert report.errors == (RowError(2, "hồ sơ đã bị hủy hoặc dừng xử lý, tệp lại ghi “Đã trả kết quả”"),)
    assert older_report.errors == ()
    assert await event_types(services, "P8-K1") == ["cancelled"]
    assert await event_types(services, "P8-K2") == ["returned"]
    assert (await handler.view("P8-K1")).dossier.state == "cancelled"


async def test_an_import_keeps_what_the_export_does_not_carry(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    handler = DossierHandler(services)
    received = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
    data = sample_dossier(
        "P8-G1",
        received_at=received,
        due_at=received + timedelta(days=4),
        representative=ContactInput("Trần Văn Bảo", "0987 654 321"),
    )
    await handler.upsert(replace(data, zalo_optin=True))
    path = write_xlsx(tmp_path / "giu.xlsx", [export_row("P8-G1", handler="Lê Thị Hoa")])

    report = await DossierImporter(services).run(path)

    assert report.updated == 1
    dossier = (await handler.view("P8-G1")).dossier
    assert (dossier.handler, dossier.zalo_optin, dossier.representative_id is not None) == ("Lê Thị Hoa", True, True)
    async with services.uow(read_only=True) as uow:
        assert dossier.representative_id is not None
        representative = await uow.people.get(dossier.representative_id)
    assert (representative.name, representative.phone) == ("Trần Văn Bảo", "84987654321")


async def test_optional_columns_missing_from_the_file_keep_what_is_stored(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    handler = DossierHandler(services)
    received = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
    data = sample_dossier("P8-M1", received_at=received, due_at=received + timedelta(days=4))
    await handler.upsert(replace(data, channel="truc_tuyen"))
    headers = ["Mã hồ sơ", "Thủ tục", "Lĩnh vực", "Ngày tiếp nhận", "Ngày hẹn trả", "Chủ hồ sơ", "Đơn vị"]
    row = ["P8-M1", "Đăng ký khai sinh", "Hộ tịch", "10/11/2026 08:30", "14/11/2026 08:30", "Nguyễn Văn An", "P8"]
    path = write_xlsx(tmp_path / "it-cot.xlsx", [row], headers=headers)

    report = await DossierImporter(services).run(path)

    assert (report.updated, report.unchanged, report.errors) == (0, 1, ())
    dossier = (await handler.view("P8-M1")).dossier
    assert (dossier.channel, dossier.handler, dossier.procedure_code) == ("truc_tuyen", "Trần Thị Bình", "1.001193")


@pytest.mark.parametrize("header", ["Cán bộ tiếp nhận", "CAN BO TIEP NHAN", "Người tiếp nhận hồ sơ", "Cán bộ một cửa"])
async def test_the_receiving_officer_is_read_from_its_column_and_kept_when_a_file_lacks_it(
    services: Services, tmp_path: Path, header: str
) -> None:
    await add_unit(services)
    with_receiver = write_xlsx(
        tmp_path / "tiep-nhan.xlsx",
        [[*export_row("P8-T1"), "Lê Thị Hoa"], [*export_row("P8-T2", phone="0912 000 002"), None]],
        headers=[*HEADERS, header],
    )
    importer, handler = DossierImporter(services), DossierHandler(services)

    first = await importer.run(with_receiver)
    again = await importer.run(with_receiver)
    without_column = await importer.run(write_xlsx(tmp_path / "khong-cot.xlsx", [export_row("P8-T1")]))

    assert (first.created, first.errors) == (2, ())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (without_column.updated, without_column.unchanged) == (0, 1)
    t1, t2 = (await handler.view("P8-T1")).dossier, (await handler.view("P8-T2")).dossier
    assert (t1.receiver, t1.handler) == ("Lê Thị Hoa", "Trần Thị Bình")
    assert t2.receiver is None


async def test_a_person_who_was_forgotten_is_not_brought_back_by_an_old_export(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    path = write_xlsx(tmp_path / "xoa.xlsx", [export_row("P8-E1", status=10, returned="13/11/2026 09:00")])
    importer = DossierImporter(services)
    await importer.run(path)
    dossier = (await DossierHandler(services).view("P8-E1")).dossier
    assert dossier.applicant_id is not None
    async with services.uow() as uow:
        await uow.people.erase(dossier.applicant_id, services.clock())
        await uow.commit()
    before = await table_counts(services)

    report = await importer.run(path)

    assert report.unchanged == 1
    assert await table_counts(services) == before
    async with services.uow(read_only=True) as uow:
        assert (await uow.people.get(dossier.applicant_id)).name is None


async def test_a_row_that_fails_halfway_leaves_nothing_behind(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    rows = [
        export_row("P8-F1", field="Lĩnh vực mới"),
        export_row("P8-F2", field="Lĩnh vực khác", handler="x" * 101),  # refused by the handler after the field
        export_row("P8-F3", field="Lĩnh vực khác"),
    ]
    path = write_xlsx(tmp_path / "nua-chung.xlsx", rows)

    report = await DossierImporter(services).run(path)

    assert [error.row for error in report.errors] == [3]
    assert "handler is longer than 100 characters" in report.errors[0].message
    assert report.created == 2
    async with services.uow(read_only=True) as uow:
        fields = await uow.connection.execute(text("SELECT name FROM fields ORDER BY name"))
        assert [row[0] for row in fields] == ["Lĩnh vực khác", "Lĩnh vực mới"]


# -- csv ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ","])
async def test_a_csv_export_imports_like_a_workbook(
    services: Services, tmp_path: Path, delimiter: str, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 20, 10, 0, tzinfo=HCM)  # after the return the file records
    await add_unit(services)
    lines = [
        "Danh sách hồ sơ",
        delimiter.join(["Ma ho so", "Ten thu tuc", "Linh vuc", "Ngay tiep nhan", "Ngay hen tra", "Ngay tra ket qua",
                        "Trang thai", "Chu ho so", "So dien thoai", "Don vi"]),
        delimiter.join(["P8-V1", '"Cấp bản sao; trích lục, hộ tịch"', "Hộ tịch", "18/11/2026 08:30", "20/11/2026",
                        "19/11/2026 15:00", "Đã trả kết quả", "Võ Thị Em", "0912345678", "P8"]),
        delimiter.join(["P8-V2", "Chứng thực", "Chứng thực", "18/11/2026", "18/11/2026", "", "2", "Đỗ Văn Phúc",
                        "", "P8"]),
        delimiter.join(["P8-V3", "Chứng thực", "Chứng thực", "hôm nay", "18/11/2026", "", "2", "Đỗ Văn Phúc",
                        "", "P8"]),
    ]  # fmt: skip
    path = tmp_path / "xuat.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")

    report = await DossierImporter(services).run(path)

    assert (report.created, report.errors) == (2, (RowError(5, "“Ngày tiếp nhận” không phải là ngày: 'hôm nay'"),))
    v1 = (await DossierHandler(services).view("P8-V1")).dossier
    assert (v1.procedure_name, v1.state) == ("Cấp bản sao; trích lục, hộ tịch", "returned")


async def test_a_nul_character_in_a_csv_cell_is_dropped_not_a_database_error(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    lines = [
        "Mã hồ sơ,Thủ tục,Lĩnh vực,Ngày tiếp nhận,Ngày hẹn trả,Chủ hồ sơ,Cán bộ xử lý",
        "P8-N1,Đăng ký\x00 khai sinh,Hộ\x00 tịch,10/11/2026,20/11/2026,Lê\x00 Thị Hoà,Trần Thị\x00 Bình",
    ]
    path = tmp_path / "nul.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = await DossierImporter(services).run(path, unit="P8")

    assert (report.created, report.errors) == (1, ())
    dossier = (await DossierHandler(services).view("P8-N1")).dossier
    assert (dossier.procedure_name, dossier.field, dossier.handler) == ("Đăng ký khai sinh", "Hộ tịch", "Trần Thị Bình")


@pytest.mark.parametrize(
    ("received", "due", "column"),
    [
        ("01/01/0001", "20/11/2026", "Ngày tiếp nhận"),
        ("0001-01-01T00:00:00+14:00", "20/11/2026", "Ngày tiếp nhận"),
        ("10/11/2026", "31/12/9999 23:59", "Ngày hẹn trả"),
        ("10/11/2026", "01/01/3000", "Ngày hẹn trả"),
        ("31/12/1899", "20/11/2026", "Ngày tiếp nhận"),
    ],
)
async def test_a_year_outside_1900_to_2999_is_a_row_error_not_a_crash(
    services: Services, tmp_path: Path, received: str, due: str, column: str
) -> None:
    await add_unit(services)
    path = write_xlsx(tmp_path / "nam.xlsx", [export_row("P8-Y1", received=received, due=due), export_row("P8-Y2")])

    report = await DossierImporter(services).run(path)

    assert report.created == 1
    assert [error.row for error in report.errors] == [2]
    assert report.errors[0].message.startswith(f"“{column}” không phải là ngày")


# -- the summary --------------------------------------------------------------------------------------------


def test_the_summary_lists_at_most_200_row_errors() -> None:
    errors = tuple(RowError(n, "thiếu “Mã hồ sơ”") for n in range(3, 253))
    summary = ImportReport(rows=400, created=100, updated=30, unchanged=20, errors=errors).summary()

    lines = summary.splitlines()
    assert lines[0] == "Đã nhập 150 hồ sơ (mới 100, cập nhật 30, không đổi 20); 250 dòng lỗi:"
    assert lines[1] == "dòng 3: thiếu “Mã hồ sơ”"
    assert len(lines) == 1 + 200 + 1
    assert lines[-1] == "… và 50 dòng lỗi khác"
    assert unicodedata.is_normalized("NFC", summary)
    clean = ImportReport(rows=2, created=2, updated=0, unchanged=0, errors=()).summary()
    assert clean == "Đã nhập 2 hồ sơ (mới 2, cập nhật 0, không đổi 0); không có dòng lỗi."


async def test_an_import_run_in_english_says_everything_in_english(services: Services, tmp_path: Path) -> None:
    await add_unit(services)
    rows = [export_row("P8-E1"), export_row(None), export_row("P8-E1")]
    report = await DossierImporter(services, "en").run(write_xlsx(tmp_path / "en.xlsx", rows))

    assert report.summary().splitlines() == [
        "Imported 1 dossiers (new 1, updated 0, unchanged 0); 2 rows with errors:",
        "row 3: “Dossier code” is missing",
        "row 4: “Dossier code” 'P8-E1' is already in row 2: only row 2 is imported",
    ]
    with pytest.raises(ImportFileError) as refused:
        await DossierImporter(services, "en").run(tmp_path / "nowhere.xlsx")
    assert str(refused.value) == f"there is no file {tmp_path / 'nowhere.xlsx'}"


# -- the command line (real subprocesses) --------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def sipasbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SIPASBOT, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.slow
def test_the_command_imports_an_export_and_lists_the_bad_rows(env: dict[str, str], tmp_path: Path) -> None:
    assert sipasbot(env, "units", "add", "P8", "Phường 8").returncode == 0
    path = write_xlsx(
        tmp_path / "xuat.xlsx",
        [
            export_row("P8-0001", status=10, finished="12/11/2026 10:00", returned="13/11/2026 09:00"),
            export_row("P8-0002", status="Đang xử lý"),
            export_row(None),
            export_row("P8-0004", due="01/11/2026"),
            export_row("P8-0005", phone="0912 000 005", status="Yêu cầu bổ sung giấy tờ"),
        ],
        titles=["DANH SÁCH HỒ SƠ"],
    )

    result = sipasbot(env, "dossiers", "import", str(path), "--progress")

    assert result.returncode == 3, result.stderr  # rows were refused: the good ones are imported all the same
    assert result.stdout.splitlines() == [
        "Đã nhập 3 hồ sơ (mới 3, cập nhật 0, không đổi 0); 2 dòng lỗi:",
        "dòng 5: thiếu “Mã hồ sơ”",
        "dòng 6: “Ngày hẹn trả” trước “Ngày tiếp nhận”",
    ]
    refused = "sipasbot: lỗi: 2 dòng không nhập được (xem danh sách ở trên); các dòng khác đã được nhập. Mã thoát 3."
    assert result.stderr.splitlines() == ["… 5/5 dòng", refused]
    again = sipasbot(env, "dossiers", "import", str(path))
    assert again.returncode == 3, again.stderr
    assert again.stdout.splitlines()[0] == "Đã nhập 3 hồ sơ (mới 0, cập nhật 0, không đổi 3); 2 dòng lỗi:"
    assert again.stderr.splitlines() == [refused]  # no progress lines when stderr is not a terminal


@pytest.mark.slow
def test_the_command_names_a_repeated_code_and_reports_an_unchanged_reimport_as_unchanged(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert sipasbot(env, "units", "add", "P8", "Phường 8").returncode == 0
    path = tmp_path / "trung.csv"
    path.write_text(
        "\n".join(
            [
                "Ma ho so,Ten thu tuc,Linh vuc,Ngay tiep nhan,Ngay hen tra,Chu ho so,Don vi,Can bo xu ly",
                "P8-1,Khai sinh,Hộ tịch,10/11/2026 08:30,14/11/2026,Nguyễn Văn An,P8,Trần Thị Bình",
                "P8-1,Khai sinh,Hộ tịch,10/11/2026 08:30,14/11/2026,Nguyễn Văn An,P8,Lê Văn Cường",
                "P8-2,Khai tử,Hộ tịch,10/11/2026 08:30,14/11/2026,Nguyễn Văn Ba,P8,Trần Thị Bình",
            ]
        ),
        encoding="utf-8",
    )

    first = sipasbot(env, "dossiers", "import", str(path))
    again = sipasbot(env, "dossiers", "import", str(path))

    assert first.returncode == 3, first.stderr  # a row refused (the repeated code)
    assert first.stdout.splitlines() == [
        "Đã nhập 2 hồ sơ (mới 2, cập nhật 0, không đổi 0); 1 dòng lỗi:",
        "dòng 3: “Mã hồ sơ” 'P8-1' đã có ở dòng 2: chỉ dòng 2 được nhập",
    ]
    assert again.returncode == 3, again.stderr
    assert again.stdout.splitlines() == [
        "Đã nhập 2 hồ sơ (mới 0, cập nhật 0, không đổi 2); 1 dòng lỗi:",
        "dòng 3: “Mã hồ sơ” 'P8-1' đã có ở dòng 2: chỉ dòng 2 được nhập",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("khong-co.xlsx", "sipasbot: lỗi: không có tệp "),
        ("thieu.xlsx", "sipasbot: lỗi: tệp thiếu cột bắt buộc “Lĩnh vực”, “Ngày tiếp nhận”"),
        ("ghi-chu.txt", "sipasbot: lỗi: không nhận dạng được loại tệp ghi-chu.txt"),
    ],
)
def test_the_command_refuses_an_unusable_file_with_one_line(
    env: dict[str, str], tmp_path: Path, name: str, message: str
) -> None:
    path = tmp_path / name
    if name == "thieu.xlsx":
        write_xlsx(path, [["P8-1", "Khai sinh"]], headers=["Mã hồ sơ", "Thủ tục"])
    elif name.endswith(".txt"):
        path.write_text("Mã hồ sơ\n", encoding="utf-8")

    result = sipasbot(env, "dossiers", "import", str(path), "--unit", "P8")

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)


@pytest.mark.slow
def test_the_command_help_tells_the_exit_statuses(env: dict[str, str]) -> None:
    result = sipasbot(env, "dossiers", "import", "--help")

    assert result.returncode == 0
    text_ = " ".join(result.stdout.split())
    assert "Mã thoát 0 khi đã đọc được tệp, kể cả khi có dòng bị từ chối" in text_
    assert "2 khi không có tệp, không đọc được, sai loại tệp hoặc thiếu cột bắt buộc" in text_
    assert "--unit" in result.stdout
    assert "--sheet" in result.stdout


async def test_an_applicant_kind_column_says_which_applicants_are_organisations(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    headers = [*HEADERS, "Loại chủ hồ sơ"]
    rows = [
        [*export_row("P8-K1", name="Công ty TNHH Minh Phát", phone="0283 456 7890"), "Tổ chức"],
        [*export_row("P8-K2", name="Nguyễn Văn An"), "Cá nhân"],
        [*export_row("P8-K3", name="HTX Phú La", phone="0283 456 7891"), None],  # not said: the name will tell
        [*export_row("P8-K4", name="Trần Văn Bảo", phone="0987 654 321"), "hộ gia đình?"],
    ]
    report = await DossierImporter(services).run(write_xlsx(tmp_path / "loai.xlsx", rows, headers))

    assert [str(error) for error in report.errors] == [
        "dòng 5: “Loại chủ hồ sơ” không rõ: 'hộ gia đình?' (cá nhân hoặc tổ chức)"
    ]
    handler = DossierHandler(services)
    kinds = [(await handler.view(code)).dossier.applicant_kind for code in ("P8-K1", "P8-K2", "P8-K3")]
    assert kinds == ["organisation", "person", None]

    rows[1][-1] = "Doanh nghiệp"  # the export corrects itself: an update
    again = await DossierImporter(services).run(write_xlsx(tmp_path / "loai-2.xlsx", rows[:3], headers))
    assert (again.updated, again.unchanged) == (1, 2)
    assert (await handler.view("P8-K2")).dossier.applicant_kind == "organisation"
