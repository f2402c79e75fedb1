"""A reception point's apology slip is issued by its ward: named, dated, numbered and signed as the ward's.

Set up at the command line as an operator would (``units add … --issues-documents no``, ``units set … --signer``),
the slips issued by officers typing in ``sipasbot shell``, each PDF read back from the file the shell saved.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from sqlalchemy import insert, select, text

from handlers.staff import slip
from storage import migrate
from storage.db import Database
from storage.models import ApologyRow, DossierRow, FieldRow, UnitRow
from storage.uow import UnitOfWork
from tests.helpers import vietnam_today

SAVED = re.compile(r"^📎 Đã lưu tệp đính kèm: (.+)$", re.MULTILINE)
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MM = 72 / 25.4  # points in a millimetre
FONT_DIR = slip.FONT_DIR  # the serif shipped with the package (handlers/fonts/)
Cli = Callable[..., tuple[int, str, str]]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def late_dossier(cli: Cli, tmp_path: Path, code: str, unit: str) -> None:
    """A dossier of ``unit`` due tomorrow, imported from the one-stop-shop's export."""
    today = vietnam_today()
    export = tmp_path / f"{code}.csv"
    export.write_text(
        "Mã hồ sơ,Thủ tục,Lĩnh vực,Ngày tiếp nhận,Ngày hẹn trả,Chủ hồ sơ\n"
        f"{code},Cấp giấy phép xây dựng,Xây dựng,{today - timedelta(days=3):%d/%m/%Y},"
        f"{today + timedelta(days=1):%d/%m/%Y},Nguyễn Thị Hoà\n",
        encoding="utf-8",
    )
    status, _, err = cli("dossiers", "import", str(export), "--unit", unit)
    assert status == 0, err


def apologise(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, folder: Path, unit: str, officer: str, code: str
) -> tuple[str, bytes]:
    """An officer of ``unit`` issues ``code``'s apology in the shell (the first reason, the first date offered)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(f"/xinloi {code}\n1\n1\n1\n"))
    status, out, err = cli(
        "shell", "--as", "staff", "--unit", unit, "--name", officer, "--user", f"officer-{unit}", "--files", str(folder)
    )
    assert status == 0, err
    [saved] = SAVED.findall(out)
    return out, Path(saved).read_bytes()


def lines_of(pdf: bytes) -> list[str]:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return [" ".join(line.split()) for line in nfc(text).splitlines() if line.strip()]


def drawn(pdf: bytes) -> list[tuple[str, str, float, float, float]]:
    """Each piece of text on the first page: text, font name, size, x and y (points; y from the foot)."""
    found: list[tuple[str, str, float, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            name = str(font.get("/BaseFont", "")) if font else ""
            found.append((nfc(text.strip()), name, size * tm[0], tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def width(text: str, font: str, size: float) -> float:
    """How wide ``text`` is, in points, in the shipped serif ``font`` ("/ABCDEF+LiberationSerifBold") at ``size``."""
    style = font.partition("+")[2].removeprefix("LiberationSerif") or "Regular"
    with TTFont(FONT_DIR / f"LiberationSerif-{style}.ttf") as shipped:
        glyphs, advances = shipped.getBestCmap(), shipped["hmtx"]
        units = sum(advances[glyphs[ord(char)]][0] for char in text)
        return float(units * size / shipped["head"].unitsPerEm)


def dated(place: str, day: date) -> str:
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"


def test_a_reception_points_slip_is_the_wards_named_dated_numbered_and_signed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("units", "add", "HK", "Phường Hoàn Kiếm")[0] == 0
    point = ("Điểm tiếp nhận Hàng Bạc", "--parent", "HK", "--issues-documents", "no")
    status, out, err = cli("units", "add", "HB", *point)
    assert status == 0, err
    assert "phiếu xin lỗi do HK (Phường Hoàn Kiếm) lập, địa danh Hoàn Kiếm" in out
    status, out, err = cli("units", "set", "HK", "--signer", "Nguyễn Văn Minh")
    assert status == 0, err
    assert out.strip() == (
        "Đã cập nhật đơn vị HK (Phường Hoàn Kiếm): phát hành văn bản; địa danh: Hoàn Kiếm; người ký: Nguyễn Văn Minh"
    )
    listed = cli("units", "list")[1].splitlines()
    assert listed == [
        "HB\tĐiểm tiếp nhận Hàng Bạc\t(cấp trên: HK; mẫu phiếu: sipas-2022)\t"
        "không phát hành văn bản: phiếu xin lỗi do HK (Phường Hoàn Kiếm) lập, địa danh Hoàn Kiếm",
        "HK\tPhường Hoàn Kiếm\t(cấp trên: -; mẫu phiếu: sipas-2022)\t"
        "phát hành văn bản; địa danh: Hoàn Kiếm; người ký: Nguyễn Văn Minh",
    ]
    late_dossier(cli, tmp_path, "HK-1", "HK")
    late_dossier(cli, tmp_path, "HB-1", "HB")

    # the ward's own slip first, then the reception point's: one series, the ward's
    out, ward_pdf = apologise(cli, monkeypatch, tmp_path / "phuong", "HK", "Lê Văn Cường", "HK-1")
    assert "Đã lập phiếu xin lỗi số 01/PXL cho hồ sơ HK-1" in out
    out, pdf = apologise(cli, monkeypatch, tmp_path / "diem", "HB", "Trần Thị Bình", "HB-1")
    assert "Đã lập phiếu xin lỗi số 02/PXL cho hồ sơ HB-1" in out
    today = datetime.now(HANOI).date()

    lines = lines_of(pdf)
    assert lines[:4] == [
        "ỦY BAN NHÂN DÂN",
        "PHƯỜNG HOÀN KIẾM",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    pieces = [piece for piece, *_ in drawn(pdf)]
    assert "Số: 02/PXL" in pieces
    assert dated("Hoàn Kiếm", today) in pieces
    text = " ".join(lines)
    assert "Phường Hoàn Kiếm tiếp nhận hồ sơ tại Điểm tiếp nhận Hàng Bạc đề nghị giải quyết" in text
    assert "Phường Hoàn Kiếm xin lỗi Ông/Bà" in text
    assert "ĐIỂM TIẾP NHẬN" not in text  # the point is no authority
    signature = lines[lines.index("TM. ỦY BAN NHÂN DÂN") :]
    assert signature[:2] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    assert "Nguyễn Văn Minh" in signature  # the ward's signer
    assert "Người lập phiếu: Trần Thị Bình" in lines  # the officer at the point who issued it
    assert "Người lập phiếu: Lê Văn Cường" in lines_of(ward_pdf)
    assert "Số: 01/PXL" in [piece for piece, *_ in drawn(ward_pdf)]

    # every piece of text is set in the serif shipped with the package, embedded
    fonts = {font for _, font, *_ in drawn(pdf)}
    assert fonts
    assert all(font.partition("+")[2].startswith("LiberationSerif") for font in fonts), fonts
    reader = PdfReader(io.BytesIO(pdf))
    resources = reader.pages[0]["/Resources"]["/Font"]
    for ref in resources.values():
        descendant = ref.get_object()["/DescendantFonts"][0].get_object()
        assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded, not left to the printer

    # the header's two blocks: the authority on the left, the national motto on the right, apart
    head = [piece for piece in drawn(pdf) if piece[0] in lines[:4]]
    left = [x + width(text, font, size) for text, font, size, x, _ in head if text in lines[:2]]
    right = [x for text, _, _, x, _ in head if text in lines[2:4]]
    assert len(left) == 2
    assert len(right) == 2
    assert min(right) - max(left) >= 3 * MM


def test_the_point_set_back_to_issuing_starts_its_own_series_and_a_root_must_issue(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("units", "add", "HK", "Phường Hoàn Kiếm", "--place", "Hoàn Kiếm")[0] == 0
    assert cli("units", "add", "HB", "Điểm tiếp nhận Hàng Bạc", "--parent", "HK", "--issues-documents", "no")[0] == 0
    status, _, err = cli("units", "set", "HK", "--issues-documents", "no")
    assert status == 2
    assert err.strip() == (
        "sipasbot: lỗi: đơn vị HK không có đơn vị cấp trên nên phải tự phát hành văn bản (phiếu xin lỗi của một "
        "điểm tiếp nhận do đơn vị cấp trên gần nhất có phát hành văn bản ký, đóng dấu)"
    )
    status, _, err = cli("units", "set", "HB")
    assert status == 2
    assert err.startswith("sipasbot: lỗi: chưa nói thay đổi gì cho đơn vị HB")
    status, _, err = cli("--lang", "en", "units", "set", "HB", "--issues-documents", "perhaps")
    assert status == 2
    assert err.strip() == (
        "sipasbot: error: argument --issues-documents: 'perhaps': yes or no (see: sipasbot units set --help)"
    )

    late_dossier(cli, tmp_path, "HB-1", "HB")
    out, pdf = apologise(cli, monkeypatch, tmp_path / "mot", "HB", "Trần Thị Bình", "HB-1")
    assert "Đã lập phiếu xin lỗi số 01/PXL" in out
    assert lines_of(pdf)[:2] == ["ỦY BAN NHÂN DÂN", "PHƯỜNG HOÀN KIẾM"]

    status, out, err = cli("units", "set", "HB", "--issues-documents", "yes", "--place", "Hàng Bạc")
    assert status == 0, err
    assert out.strip() == "Đã cập nhật đơn vị HB (Điểm tiếp nhận Hàng Bạc): phát hành văn bản; địa danh: Hàng Bạc"
    late_dossier(cli, tmp_path, "HB-2", "HB")
    out, pdf = apologise(cli, monkeypatch, tmp_path / "hai", "HB", "Trần Thị Bình", "HB-2")
    assert "Đã lập phiếu xin lỗi số 01/PXL" in out  # its own series now, from 01
    lines = lines_of(pdf)
    assert lines[:2] == ["ỦY BAN NHÂN DÂN", "ĐIỂM TIẾP NHẬN HÀNG BẠC"]
    assert dated("Hàng Bạc", datetime.now(HANOI).date()) in [piece for piece, *_ in drawn(pdf)]
    audit = cli("audit", "list", "--unit", "HB")[1]
    assert "thay đổi thiết lập đơn vị [unit.set]  unit:HB  issues_documents=true place=Hàng Bạc" in audit


def test_a_province_imported_issues_documents_at_its_communes_place_names(cli: Cli) -> None:
    assert cli("units", "import", "--province", "01")[0] == 0
    listed = cli("units", "list")[1]
    assert "01\tThành phố Hà Nội\t(cấp trên: -; mẫu phiếu: sipas-2022)\tphát hành văn bản; địa danh: Hà Nội" in listed
    assert "\tPhường Hoàn Kiếm\t(cấp trên: 01; mẫu phiếu: sipas-2022)\tphát hành văn bản; địa danh: Hoàn Kiếm" in listed
    assert "không phát hành văn bản" not in listed


async def test_migration_0018_keeps_every_slips_number_in_its_units_series(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate.upgrade(database, "0016")
        now = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
        async with database.engine.begin() as connection:
            for unit_id, code, parent in ((1, "HK", None), (2, "HB", 1)):  # the columns units had then
                await connection.execute(
                    text("INSERT INTO units (id, code, name, parent_id, created_at) VALUES (:id, :c, :c, :p, :at)"),
                    {"id": unit_id, "c": code, "p": parent, "at": now.replace(tzinfo=None)},
                )
            await connection.execute(insert(FieldRow).values(id=1, name="Hộ tịch"))
            for dossier_id, unit_id in ((1, 1), (2, 2), (3, 2)):
                await connection.execute(
                    insert(DossierRow.__table__).values(
                        id=dossier_id, code=f"D{dossier_id}", unit_id=unit_id, procedure_name="p", field="Hộ tịch",
                        field_id=1, channel="truc_tiep", state="received", received_at=now, due_at=now,
                        optin_token=f"t{dossier_id}", zalo_optin=False, created_at=now, updated_at=now,
                    )
                )  # fmt: skip
            apologies = [  # the ward's slip 01, the point's own 01 and an old one recorded without a unit
                {"id": 1, "dossier_id": 1, "number": "01/PXL", "unit_id": 1, "year": 2026, "seq": 1},
                {"id": 2, "dossier_id": 2, "number": "01/PXL", "unit_id": 2, "year": 2026, "seq": 1},
                {"id": 3, "dossier_id": 3, "number": "07/PXL", "unit_id": None, "year": None, "seq": None},
            ]
            for values in apologies:
                await connection.execute(
                    insert(ApologyRow.__table__).values(
                        kind="delay", reason="r", issued_by="x", issued_at=now, **values
                    )
                )
        await migrate.upgrade(database)
        async with database.engine.connect() as connection:
            units = (await connection.execute(select(UnitRow.code, UnitRow.issues_documents))).all()
            rows = (
                await connection.execute(
                    select(
                        ApologyRow.id, ApologyRow.number, ApologyRow.unit_id, ApologyRow.year, ApologyRow.seq
                    ).order_by(ApologyRow.id)
                )
            ).all()
        assert sorted(tuple(u) for u in units) == [("HB", True), ("HK", True)]  # every unit issued its own so far
        assert [tuple(r) for r in rows] == [
            (1, "01/PXL", 1, 2026, 1),
            (2, "01/PXL", 2, 2026, 1),
            (3, "07/PXL", 2, 2026, 7),  # put in its dossier's unit's series, its number kept
        ]
        async with UnitOfWork(database, read_only=True) as uow:
            assert await uow.apologies.next_seq(2, 2026) == 8  # the point's series goes on after its old slip
            assert await uow.apologies.next_seq(1, 2026) == 2
    finally:
        await database.close()


def test_the_workbook_of_a_reception_point_is_signed_at_its_wards_place(cli: Cli, tmp_path: Path) -> None:
    """The leaders' workbook closes with the place name of the unit that issues the unit's documents."""
    from openpyxl import load_workbook

    assert cli("units", "add", "HK", "Phường Hoàn Kiếm")[0] == 0
    assert cli("units", "add", "HB", "Điểm tiếp nhận Hàng Bạc", "--parent", "HK", "--issues-documents", "no")[0] == 0
    for unit in ("HK", "HB"):
        out = tmp_path / f"{unit}.xlsx"
        status, _, err = cli("report", "--unit", unit, "--format", "xlsx", "--out", str(out))
        assert status == 0, err
        cells = [str(c) for row in load_workbook(out)["Tổng hợp"].iter_rows(values_only=True) for c in row if c]
        assert next(c for c in cells if ", ngày " in c).startswith("Hoàn Kiếm, ngày "), unit
