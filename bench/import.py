"""Rows imported per second from a 5,000-row one-stop-shop export, against openpyxl merely reading the same file.

A workbook like a one-stop-shop export (a title row, 15 columns, statuses as codes and as text, dates as text
and as Excel cells, a returned dossier in three) is generated once, with a migrated SQLite database holding
unit P8. Then, alternately, several times: the bare read (openpyxl in read-only mode iterating every row and
doing nothing else) and the import through ``DossierImporter`` (upserts, events, invitations: new dossiers a
run of rows per statement, others in a savepoint per row) into a fresh copy of that database. Medians are
compared. The re-import of the same file (nothing changes) is timed too, for information.

    python -m bench.import [--rows 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl

from handlers.admin.units import UnitHandler
from handlers.context import Policy, Services
from handlers.intake.imports.importer import DossierImporter
from handlers.texts import Texts
from storage import migrate
from storage.db import Database
from survey_forms.catalog import Catalog

HEADERS = [
    "Mã hồ sơ", "Tên thủ tục", "Mã thủ tục", "Lĩnh vực", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày xử lý xong",
    "Ngày trả kết quả", "Trạng thái", "Chủ hồ sơ", "Số điện thoại", "Email", "Cán bộ xử lý", "Đơn vị",
    "Hình thức nộp",
]  # fmt: skip
PROCEDURES = [
    ("Đăng ký khai sinh", "1.001193", "Hộ tịch"),
    ("Chứng thực bản sao từ bản chính", "2.000815", "Chứng thực"),
    ("Đăng ký kết hôn", "1.000894", "Hộ tịch"),
    ("Cấp giấy phép xây dựng nhà ở riêng lẻ", "1.009994", "Xây dựng"),
    ("Đăng ký biến động đất đai", "1.004227", "Đất đai"),
]
CHANNELS = ["Trực tiếp", "Trực tuyến", "Bưu chính công ích"]
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def generate_export(path: Path, rows: int) -> None:
    """A workbook as one-stop-shop software exports it."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Danh sách hồ sơ"
    sheet.append(["DANH SÁCH HỒ SƠ TIẾP NHẬN — PHƯỜNG 8"])
    sheet.append(HEADERS)
    start = datetime(2026, 10, 1, 8, 0)
    for number in range(rows):
        procedure, procedure_code, field = PROCEDURES[number % len(PROCEDURES)]
        received = start + timedelta(minutes=number * 7)
        due = (received + timedelta(days=3 + number % 5)).date()
        finished = received + timedelta(days=2, hours=number % 6)
        returned = finished + timedelta(days=1)
        kind = number % 6
        if kind in (0, 1):
            status, finished_cell, returned_cell = 10, finished, returned
        elif kind == 2:
            status, finished_cell, returned_cell = "Đã trả kết quả", finished.strftime("%d/%m/%Y %H:%M"), returned
        elif kind == 3:
            status, finished_cell, returned_cell = "Đã xử lý xong", finished.strftime("%d/%m/%Y %H:%M"), None
        elif kind == 4:
            status, finished_cell, returned_cell = 4, None, None
        else:
            status, finished_cell, returned_cell = "Đang xử lý", None, None
        sheet.append(
            [
                f"P8-{received:%y%m%d}-{number:05d}",
                procedure,
                procedure_code,
                field,
                received if number % 2 else received.strftime("%d/%m/%Y %H:%M"),
                due.strftime("%d/%m/%Y") if number % 3 else due,
                finished_cell,
                returned_cell,
                status,
                f"Nguyễn Văn Dân {number % 4000}",
                f"09{number % 4000:08d}",
                f"dan{number % 4000}@example.vn" if number % 4 == 0 else None,
                ("Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung")[number % 3],
                "P8",
                CHANNELS[number % len(CHANNELS)],
            ]
        )
    workbook.save(path)


async def prepare_database(path: Path) -> None:
    """A migrated SQLite database with unit P8."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(database)
    services = Services(database, Catalog.load(), Texts.load(), Policy(), clock=lambda: NOW)
    await UnitHandler(services).add("P8", "Phường 8")
    await database.close()


def bare_read(path: Path) -> tuple[int, float]:
    """openpyxl in read-only mode iterating every row, nothing else: (rows, seconds)."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
        workbook.close()
    return count, time.perf_counter() - started


async def timed_import(export: Path, database_path: Path, times: int = 1) -> list[tuple[int, float, str]]:
    """Import ``export`` into ``database_path`` ``times`` times: (rows imported, seconds, summary line) each."""
    database = Database(f"sqlite+aiosqlite:///{database_path}")
    services = Services(database, Catalog.load(), Texts.load(), Policy(), clock=lambda: NOW)
    importer = DossierImporter(services)
    results = []
    try:
        for _ in range(times):
            started = time.perf_counter()
            report = await importer.run(export)
            seconds = time.perf_counter() - started
            results.append((report.imported, seconds, report.summary().splitlines()[0]))
    finally:
        await database.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        export, template = folder / "xuat-ho-so.xlsx", folder / "template.db"
        generate_export(export, args.rows)
        await prepare_database(template)
        bare_rates, import_rates, again_rates = [], [], []
        for round_ in range(args.rounds):
            count, seconds = bare_read(export)
            bare_rates.append(args.rows / seconds)
            fresh = folder / f"round-{round_}.db"
            shutil.copy(template, fresh)
            (imported, seconds, summary), (_, again_seconds, again_summary) = await timed_import(export, fresh, 2)
            assert imported == args.rows, summary
            import_rates.append(imported / seconds)
            again_rates.append(imported / again_seconds)
            print(
                f"round {round_ + 1}: bare {bare_rates[-1]:8.1f} rows/s ({count} rows read)   "
                f"import {import_rates[-1]:7.1f} rows/s   re-import {again_rates[-1]:7.1f} rows/s"
            )
            print(f"         {summary}\n         {again_summary}")
    bare, imported_rate, again = (statistics.median(r) for r in (bare_rates, import_rates, again_rates))
    print(f"bare read (median): {bare:.1f} rows/s; import (median): {imported_rate:.1f} rows/s")
    print(f"re-import of the same file, nothing to change (median): {again:.1f} rows/s, ratio {again / bare:.2f}")
    print(f"ratio import / bare = {imported_rate / bare:.2f}  (target >= 0.30)")


if __name__ == "__main__":
    asyncio.run(main())
