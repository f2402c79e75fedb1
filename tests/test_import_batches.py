"""An import writes its new dossiers a batch at a time and stores exactly what the dossier API stores one by one."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from handlers.context import Services
from handlers.intake.dossiers import ContactInput, DossierHandler, DossierInput
from handlers.intake.imports.importer import DossierImporter
from handlers.intake.imports.report import ImportFileError, RowError
from storage.db import Database
from storage.tables.dossiers import DOSSIERS, EVENTS
from storage.tables.people import PEOPLE
from storage.tables.survey import INVITATIONS
from storage.tables.units import FIELDS
from tests.helpers import add_unit
from tests.test_import import export_row, write_xlsx

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def local(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment of November 2026 in Hồ Chí Minh time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=HCM)


def dossier(code: str, name: str, phone: str | None, email: str | None = None, field: str = "Hộ tịch") -> DossierInput:
    """What the import makes of ``export_row`` with these values (received 10/11 08:30, due 14/11)."""
    return DossierInput(
        code=code,
        unit="P8",
        procedure="Đăng ký khai sinh",
        procedure_code="1.001193",
        field=field,
        applicant=ContactInput(name=name, phone=phone, email=email),
        received_at=local(10, 8, 30),
        due_at=datetime.combine(date(2026, 11, 14), time(23, 59, 59), tzinfo=HCM),
        channel="truc_tiep",
        handler="Trần Thị Bình",
    )


async def existing_people(services: Services) -> None:
    """Two dossiers sent over the API before the import: one applicant who later opted out of surveys."""
    await add_unit(services)
    handler = DossierHandler(services)
    await handler.upsert(dossier("P8-OLD", "Tên cũ", "0987 000 001", "cu@example.vn"))
    opted = await handler.upsert(dossier("P8-OPT", "Người từ chối", "0987 000 002"))
    async with services.uow() as uow:
        assert opted.dossier.applicant_id is not None
        await uow.people.update(opted.dossier.applicant_id, opted_out_at=services.clock())
        await uow.commit()


ROWS = [
    export_row("P8-N1", status=10, finished="12/11/2026 09:00", returned="13/11/2026 10:00", phone="0912 000 001"),
    export_row("P8-N2", status="Đang xử lý", name="Lê Thị Hoa", phone="0912 000 002", email="hoa@example.vn"),
    export_row("P8-N3", status=10, returned="13/11/2026 15:00", name="Tên mới", phone="0987 000 001"),
    export_row("P8-N4", status="Đã trả kết quả", returned="13/11/2026", name="Người từ chối", phone="0987 000 002"),
    export_row("P8-N5", field="Lĩnh vực chưa có", handler="x" * 101, phone="0912 000 005"),
    export_row("P8-OLD", status=9, finished="12/11/2026 16:00", name="Tên mới", phone="0987 000 001"),
    export_row("P8-N6", status=9, finished="11/11/2026 11:00", phone="0912 000 001", email="an@example.vn"),
    export_row("P8-N7", status="Dừng xử lý", returned="12/11/2026", name="Phạm Văn Khánh", phone=None),
    export_row("P8-N8", status=5, finished="11/11/2026", name="Phạm Văn Khánh", phone=None, field="Đất đai"),
]


async def send_one_by_one(services: Services) -> None:
    """The rows of ROWS that are accepted, sent over the dossier API one call at a time, in the file's order."""
    handler = DossierHandler(services)
    calls: list[tuple[DossierInput, Sequence[tuple[str, datetime]]]] = [
        (
            dossier("P8-N1", "Nguyễn Văn An", "0912 000 001"),
            (("result_ready", local(12, 9)), ("returned", local(13, 10))),
        ),
        (dossier("P8-N2", "Lê Thị Hoa", "0912 000 002", "hoa@example.vn"), ()),
        (dossier("P8-N3", "Tên mới", "0987 000 001"), (("returned", local(13, 15)),)),
        (dossier("P8-N4", "Người từ chối", "0987 000 002"), (("returned", local(13)),)),
        (dossier("P8-OLD", "Tên mới", "0987 000 001"), (("result_ready", local(12, 16)),)),
        (dossier("P8-N6", "Nguyễn Văn An", "0912 000 001", "an@example.vn"), (("result_ready", local(11, 11)),)),
        (dossier("P8-N7", "Phạm Văn Khánh", None), (("cancelled", local(12)),)),
        (dossier("P8-N8", "Phạm Văn Khánh", None, field="Đất đai"), (("supplement_requested", local(11)),)),
    ]
    for data, events in calls:
        await handler.upsert(data)
        for type_, at in events:
            await handler.add_event(data.code, type_, at)


async def stored(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, by id (a dossier's random opt-in token left out).

    Fields are named rather than numbered: PostgreSQL spends a sequence number on every ``ON CONFLICT DO
    NOTHING`` that finds the field recorded, so their ids depend on how often a field was looked up.
    """
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with database.engine.connect() as connection:
        fields = {row.id: row.name for row in await connection.execute(select(FIELDS))}
        tables["fields"] = sorted((name,) for name in fields.values())
        for table in (PEOPLE, DOSSIERS, EVENTS, INVITATIONS):
            columns = [column for column in table.c if column.name != "optin_token"]
            rows = await connection.execute(select(*columns).order_by(table.c.id))
            named = [column.name == "field_id" for column in columns]
            tables[table.name] = [
                tuple(fields[v] if field else v for field, v in zip(named, row, strict=True)) for row in rows
            ]
    return tables


async def test_new_dossiers_are_stored_as_the_dossier_api_stores_them_one_by_one(
    services: Services, sqlite_template: Path, tmp_path: Path
) -> None:
    await existing_people(services)
    path = write_xlsx(tmp_path / "xuat.xlsx", ROWS)

    report = await DossierImporter(services).run(path)

    assert (report.created, report.updated, report.unchanged) == (7, 1, 0)
    assert report.errors == (RowError(6, "handler is longer than 100 characters"),)
    shutil.copy(sqlite_template, tmp_path / "one-by-one.db")
    one_by_one = Database(f"sqlite+aiosqlite:///{tmp_path / 'one-by-one.db'}")
    reference = Services(one_by_one, services.catalog, services.texts, services.policy, clock=services.clock)
    try:
        await existing_people(reference)
        await send_one_by_one(reference)
        assert await stored(services.database) == await stored(one_by_one)
    finally:
        await one_by_one.close()
    imported = await stored(services.database)
    # what the comparison covers: the people found by phone renamed, the opted-out one not invited
    assert [(row[1], row[2], row[3]) for row in imported["people"]] == [
        ("Tên mới", "84987000001", "cu@example.vn"),
        ("Người từ chối", "84987000002", None),
        ("Nguyễn Văn An", "84912000001", "an@example.vn"),
        ("Lê Thị Hoa", "84912000002", "hoa@example.vn"),
        ("Phạm Văn Khánh", None, None),
        ("Phạm Văn Khánh", None, None),
    ]
    assert len(imported["invitations"]) == 2  # P8-N1 and P8-N3; P8-N4's applicant opted out
    assert imported["fields"] == [("Hộ tịch",), ("Đất đai",)]  # not the refused row's new field


async def test_a_batch_of_new_dossiers_is_written_with_a_few_statements_not_several_per_row(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    rows = [
        export_row(
            f"P8-B{index:03d}",
            status=(10, 9, 4, 5, 8)[index % 5],
            finished="12/11/2026 09:00",
            returned="13/11/2026 10:00",
            phone=f"0913 {index:06d}",
        )
        for index in range(200)
    ]
    path = write_xlsx(tmp_path / "lo.xlsx", rows)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append(statement)

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        report = await DossierImporter(services).run(path)
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert (report.created, report.errors) == (200, ())
    assert len(statements) <= 20, statements
    async with services.uow(read_only=True) as uow:
        assert [e.type for e in await uow.dossiers.events((await uow.dossiers.get_by_code("P8-B000")).id)] == [
            "result_ready",
            "returned",
        ]
        assert (await uow.invitations.for_dossier((await uow.dossiers.get_by_code("P8-B005")).id)) is not None
        assert (await uow.dossiers.get_by_code("P8-B004")).state == "cancelled"


async def test_a_csv_file_read_row_by_row_is_still_refused_whole_when_a_late_line_is_not_utf8(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    header = "Mã hồ sơ;Thủ tục;Lĩnh vực;Ngày tiếp nhận;Ngày hẹn trả;Chủ hồ sơ\n"
    rows = "".join(f"P8-C{index:05d};Khai sinh;Hộ tịch;10/11/2026;20/11/2026;Lê Thị Hoà\n" for index in range(3000))
    latin = b"P8-X;Khai sinh;H\xf4 t\xecch;10/11/2026;20/11/2026;L\xea Hoa\n"  # far past the first 64 KiB
    path = tmp_path / "latin-cuoi.csv"
    path.write_bytes((header + rows).encode("utf-8") + latin)

    with pytest.raises(ImportFileError) as refused:
        await DossierImporter(services).run(path, unit="P8")

    assert str(refused.value) == "không đọc được tệp latin-cuoi.csv: cần mã hóa UTF-8"
    async with services.uow(read_only=True) as uow:
        assert await uow.dossiers.by_codes(["P8-C00000", "P8-C02999"]) == []


async def test_a_csv_file_of_several_batches_reports_its_progress_against_its_row_count(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    header = "Mã hồ sơ,Thủ tục,Lĩnh vực,Ngày tiếp nhận,Ngày hẹn trả,Chủ hồ sơ\n"
    row = '"Đăng ký khai sinh, bản sao",Hộ tịch,10/11/2026,20/11/2026,"Lê Thị Hoà\n(mẹ)"\n'
    path = tmp_path / "lon.csv"
    path.write_text(header + "".join(f"P8-D{index:05d},{row}" for index in range(2500)), encoding="utf-8-sig")
    progress: list[tuple[int, int | None]] = []

    report = await DossierImporter(services).run(
        path, unit="P8", on_progress=lambda done, total: progress.append((done, total))
    )

    assert (report.created, report.errors) == (2500, ())
    assert progress == [(1000, 2500), (2000, 2500), (2500, 2500)]  # rows, not lines: a name spans two
    async with services.uow(read_only=True) as uow:
        last = await uow.dossiers.get_by_code("P8-D02499")
        assert last is not None
        assert (last.procedure_name, (await uow.people.get(last.applicant_id or 0)).name) == (
            "Đăng ký khai sinh, bản sao",
            "Lê Thị Hoà\n(mẹ)",
        )
