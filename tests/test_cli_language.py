"""The command line as an officer reads it: Vietnamese first (help, argparse's own words, every line, every
refusal), English with ``--lang en`` or ``SIPAS_LANG=en``; and ``units import`` that checks the whole file."""

from __future__ import annotations

import argparse
import io
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import _parser, main
from bot.texts import choose_locale
from tests.helpers import without_sipas_settings, write_export_with_a_bad_row

# English a Vietnamese run must never print (argparse's words and the command lines' old wording)
ENGLISH = re.compile(
    r"\b(usage:|error:|positional arguments|options:|show this help|the following arguments|invalid choice|"
    r"wrote|added|revoked|backed up|stored|keep it|is at revision|parent:|form:|no unit|already exists|"
    r"required|see:|default|row \d+)\b",
    re.IGNORECASE,
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``sipasbot …`` run in this process on a fresh database: (exit status, stdout, stderr)."""
    without_sipas_settings(monkeypatch, f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}")
    monkeypatch.setenv("SIPAS_HOLIDAYS_FILE", str(tmp_path / "holidays.yaml"))
    monkeypatch.setenv("COLUMNS", "2000")  # help lines unwrapped, to be compared whole

    def run(*args: str) -> tuple[int, str, str]:
        try:
            status = main(list(args))
        except SystemExit as done:  # --help
            status = int(done.code or 0)
        captured = capsys.readouterr()
        for text in (captured.out, captured.err):
            assert unicodedata.is_normalized("NFC", text)
        return status, captured.out, captured.err

    return run


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and subcommand of the parser, with its own parser."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _english_parser() -> argparse.ArgumentParser:
    choose_locale(["--lang", "en"])
    try:
        return _parser()
    finally:
        choose_locale(["--lang", "vi"])


def test_every_help_is_vietnamese_and_english_with_lang_en(cli: Any) -> None:
    commands = list(_commands(_english_parser()))
    assert len(commands) >= 20  # every command and subcommand, those added later included
    for path, english in commands:
        status, vi, _ = cli(*path, "--help")
        assert status == 0
        assert vi.startswith(f"cách dùng: sipasbot {' '.join(path)}".rstrip()), vi
        assert "tùy chọn:" in vi, vi
        assert "hiện hướng dẫn này rồi thoát" in vi, vi
        assert not ENGLISH.search(vi), (path, ENGLISH.search(vi), vi)
        status, en, _ = cli("--lang", "en", *path, "--help")
        assert status == 0
        assert en.startswith("usage: sipasbot"), en
        assert "show this help message and exit" in en, en
        # every description and argument help is the catalog's: the English one is shown in English only
        helps = [english.description or ""] + [
            a.help for a in english._actions if a.help and a.help != argparse.SUPPRESS and a.dest != "help"
        ]
        for help_ in helps:
            if help_:
                assert help_ in en, (path, help_)
                assert help_ not in vi, (path, help_)
    # the language also comes from SIPAS_LANG; --lang wins
    os.environ["SIPAS_LANG"] = "en"
    try:
        assert cli("units", "--help")[1].startswith("usage: sipasbot units")
        assert cli("--lang", "vi", "units", "--help")[1].startswith("cách dùng: sipasbot units")
    finally:
        del os.environ["SIPAS_LANG"]


def test_every_command_says_what_it_did_in_vietnamese_then_in_english(cli: Any, tmp_path: Path) -> None:
    tree = tmp_path / "don-vi.csv"
    tree.write_text("Mã;Tên;Mã cấp trên\nQ3;Quận 3;\nP8;Phường 8;Q3\n", encoding="utf-8")
    export = tmp_path / "xuat.csv"
    write_export_with_a_bad_row(export)
    said = {
        ("db", "upgrade"): "đang ở phiên bản",
        ("units", "import", str(tree)): "Đã thêm 2 đơn vị; 0 đơn vị đã có từ trước được giữ nguyên.",
        ("units", "add", "P9", "Phường 9", "--parent", "Q3"): "Đã thêm đơn vị P9: Phường 9",
        ("units", "list"): "P8\tPhường 8\t(cấp trên: Q3; mẫu phiếu: sipas-2022)",
        ("targets", "set", "--unit", "P8", "--on-time", "97"): "Cả đơn vị: hài lòng",
        ("holidays", "list", "--year", "2026"): "Ngày nghỉ lễ, Tết năm 2026 (ngoài các ngày thứ Bảy, Chủ nhật):",
        ("invite", "--role", "staff", "--unit", "P8"): "(gửi /join ",
        ("dossiers", "import", str(export), "--unit", "P8", "--progress"): "dòng 3: thiếu “Mã hồ sơ”",
        ("apikey", "create", "phan-mem", "--scopes", "reports:read", "--units", "P8"): "(Xin lưu khóa ngay",
        ("apikey", "revoke", "phan-mem"): "đã thu hồi 1 khóa tên “phan-mem”",
        ("zalo-oa", "tokens", "--access-token", "a", "--refresh-token", "r"): "Đã lưu mã Zalo OA",
        ("report", "--unit", "P8", "--format", "xlsx", "--out", str(tmp_path / "p8.xlsx")): "đã ghi ",
        ("db", "backup", str(tmp_path / "copy.db")): "đã sao lưu ",
    }
    for args, words in said.items():
        status, out, err = cli(*args)
        assert status == (3 if args[0] == "dossiers" else 0), (args, err)  # 3: a row of the import refused
        assert words in out + err, (args, out, err)
        assert not ENGLISH.search(out + err), (args, out, err)
    english = {
        ("units", "add", "P10", "Phường 10"): "Added unit P10: Phường 10",
        ("units", "list"): "P8\tPhường 8\t(parent: Q3; form: sipas-2022)",
        ("db", "upgrade"): "is at revision",
        ("targets", "list", "--unit", "P8"): "Targets of Phường 8 (P8):",
        ("holidays", "list", "--year", "2026"): "Public holidays of 2026 (besides Saturdays and Sundays):",
        ("invite", "--role", "staff", "--unit", "P8"): "(send /join ",
        ("apikey", "create", "khac", "--scopes", "reports:read", "--units", "P8"): "(Keep it now",
        ("apikey", "revoke", "khac"): "revoked 1 key(s) named 'khac'",
        ("report", "--unit", "P8", "--format", "xlsx", "--out", str(tmp_path / "p8.xlsx")): "wrote ",
    }
    for args, words in english.items():
        status, out, err = cli("--lang", "en", *args)
        assert status == 0, (args, err)
        assert words in out + err, (args, out, err)


@pytest.mark.parametrize(
    ("args", "vi", "en"),
    [
        (
            ("report", "--unit", "P8", "--format", "pdf"),
            "sipasbot: lỗi: đối số --format: lựa chọn không hợp lệ: 'pdf' (chọn một trong: 'text', 'json', 'xlsx')"
            " (xem: sipasbot report --help)",
            "sipasbot: error: argument --format: invalid choice: 'pdf' (choose from 'text', 'json', 'xlsx')"
            " (see: sipasbot report --help)",
        ),
        (
            ("units", "add"),
            "sipasbot: lỗi: thiếu đối số bắt buộc: MÃ, TÊN (xem: sipasbot units add --help)",
            "sipasbot: error: the following arguments are required: CODE, NAME (see: sipasbot units add --help)",
        ),
        (("report", "--unit", "NOPE"), "sipasbot: lỗi: không có đơn vị “NOPE”", "sipasbot: error: no unit 'NOPE'"),
        (
            ("units", "add", "P8", "Phường 8"),
            "sipasbot: lỗi: đơn vị P8 đã có",
            "sipasbot: error: unit P8 already exists",
        ),
        (
            ("targets", "set", "--unit", "P8", "--satisfaction", "120"),
            "sipasbot: lỗi: satisfaction: cần một tỷ lệ phần trăm từ 0 đến 100",
            "sipasbot: error: satisfaction: a percentage between 0 and 100",
        ),
        (
            ("apikey", "revoke", "khong-co"),
            "sipasbot: lỗi: không có khóa API nào còn hiệu lực tên “khong-co”",
            "sipasbot: error: no live API key named 'khong-co'",
        ),
        (
            ("report", "--unit", "P8", "--period", "thang", "--from", "2026-12-01"),
            "sipasbot: lỗi: --period không dùng cùng --from hoặc --to",
            "sipasbot: error: --period cannot be used with --from or --to",
        ),
        (
            ("report", "--unit", "P8", "--from", "31/02/2026"),
            "sipasbot: lỗi: đối số --from: không phải ngày: '31/02/2026' (viết YYYY-MM-DD hoặc dd/mm/yyyy)"
            " (xem: sipasbot report --help)",
            "sipasbot: error: argument --from: not a date: '31/02/2026' (use YYYY-MM-DD or dd/mm/yyyy)"
            " (see: sipasbot report --help)",
        ),
        (
            ("shell", "--as", "staff"),
            "sipasbot: lỗi: --as staff cần --unit MÃ",
            "sipasbot: error: --as staff needs --unit CODE",
        ),
    ],
)
def test_a_usage_or_handler_error_is_one_line_in_the_runs_language(
    cli: Any, args: tuple[str, ...], vi: str, en: str
) -> None:
    assert cli("units", "add", "P8", "Phường 8")[0] == 0
    status, out, err = cli(*args)
    assert (status, out, err) == (2, "", vi + "\n")
    status, out, err = cli("--lang", "en", *args)
    assert (status, out, err) == (2, "", en + "\n")


def test_a_unit_file_with_five_bad_rows_lists_all_five_and_imports_nothing(cli: Any, tmp_path: Path) -> None:
    assert cli("units", "add", "Q3", "Quận 3")[0] == 0
    before = cli("units", "list")[1]
    bad = tmp_path / "don-vi.csv"
    bad.write_text(
        "Mã;Tên;Mã cấp trên\n"
        "P1;Phường 1;Q3\n"  # row 2: good
        ";Phường không mã;Q3\n"  # row 3: empty code
        "P 2;Phường 2;Q3\n"  # row 4: a space in the code
        "P1;Phường 1 lần nữa;Q3\n"  # row 5: the code of row 2 again
        "P4;Phường 4;Q9\n"  # row 6: a parent neither in the file nor in the system
        "P5;Phường 5\n"  # row 7: a column short
        "P6;Phường 6;P1\n",  # row 8: good (its parent is in the file)
        encoding="utf-8",
    )
    status, out, err = cli("units", "import", str(bad))
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"sipasbot: lỗi: tệp {bad} có 5 lỗi, chưa nhập đơn vị nào:",
        "  dòng 3, cột mã: trống — cần mã đơn vị",
        "  dòng 4, cột mã: “P 2” có ký tự không hợp lệ — cần chữ cái không dấu, chữ số, “.”, “_” hoặc “-”, "
        "bắt đầu bằng chữ cái hoặc chữ số",
        "  dòng 5, cột mã: mã “P1” đã có ở dòng 2 — mỗi mã chỉ một dòng",
        "  dòng 6, cột mã cấp trên: “Q9” không có trong tệp và chưa có trong hệ thống — cần mã của một đơn vị đã có "
        "hoặc có trong tệp",
        "  dòng 7, số cột: có 2 cột — cần 3 cột như dòng tiêu đề",
    ]
    assert cli("units", "list")[1] == before  # nothing imported, not even the good rows
    status, _, err = cli("--lang", "en", "units", "import", str(bad))
    assert status == 2
    assert err.splitlines()[0] == f"sipasbot: error: {bad} has 5 error(s); no unit was imported:"
    assert "  row 6, column parent: “Q9” is neither in the file nor in the system" in err
    assert cli("units", "list")[1] == before


def test_a_unit_file_is_checked_for_names_loops_and_its_header(cli: Any, tmp_path: Path) -> None:
    assert cli("units", "add", "Q3", "Quận 3")[0] == 0
    before = cli("units", "list")[1]
    bad = tmp_path / "vong.csv"
    long_name = "Phường " + "x" * 200
    bad.write_text(
        f"code,name,parent\nA,Phường A,B\nB,Phường B,C\nC,Phường C,A\nD,,Q3\nE,{long_name},Q3\nF,Phường F,F\n"
        "Q3,Quận 3,\n",  # a unit already there: kept, not an error
        encoding="utf-8",
    )
    status, _, err = cli("units", "import", str(bad))
    assert status == 2
    assert err.splitlines()[1:] == [
        "  dòng 2, cột mã cấp trên: vòng lặp cấp trên: A → B → C → A — cấp trên phải dẫn lên tới một đơn vị gốc",
        "  dòng 5, cột tên: trống — cần tên đơn vị",
        "  dòng 6, cột tên: dài 207 ký tự — tối đa 200",
        "  dòng 7, cột mã cấp trên: “F” là chính đơn vị này — đơn vị không thể trực thuộc chính nó",
    ]
    assert cli("units", "list")[1] == before
    header = tmp_path / "tieu-de.csv"
    header.write_text("Đơn vị;Ghi chú\nP1;Phường 1\n", encoding="utf-8")
    status, _, err = cli("units", "import", str(header))
    assert status == 2
    assert "  dòng 1, dòng tiêu đề: thiếu cột mã hoặc cột tên" in err
    good = tmp_path / "tot.csv"
    good.write_text("Mã;Tên;Mã cấp trên\nP2;Phường 2;P1\nP1;Phường 1;Q3\nQ3;Quận 3;\n", encoding="utf-8")
    status, out, err = cli("units", "import", str(good))
    assert (status, err) == (0, "")
    assert out == "Đã thêm 2 đơn vị; 1 đơn vị đã có từ trước được giữ nguyên.\n"
    assert "P2\tPhường 2\t(cấp trên: P1;" in cli("units", "list")[1]


def test_settings_database_and_calendar_refusals_are_in_the_runs_language(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", "mysql+aiomysql://x/y")
    assert cli("db", "upgrade") == (
        2,
        "",
        "sipasbot: lỗi: không hỗ trợ cơ sở dữ liệu 'mysql': dùng SQLite hoặc PostgreSQL\n",
    )
    assert cli("--lang", "en", "db", "upgrade")[2] == (
        "sipasbot: error: unsupported database 'mysql': use SQLite or PostgreSQL\n"
    )
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}")
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text('days_off: {"2026-12-31": "Nghỉ"}\nworking_days: ["2026-12-31"]\n', encoding="utf-8")
    assert cli("holidays", "list")[2] == (
        f"sipasbot: lỗi: {holidays}: 2026-12-31 vừa là ngày nghỉ vừa là ngày làm việc\n"
    )
    holidays.unlink()
    monkeypatch.setenv("SIPAS_QUIET_HOURS", "tối")
    status, _, err = cli("db", "upgrade")
    assert status == 2
    assert err.startswith("sipasbot: lỗi: cấu hình không dùng được (biến môi trường hoặc tệp .env): SIPAS_QUIET_HOURS")


def test_the_shells_own_lines_follow_the_runs_language(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("units", "add", "P8", "Phường 8")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, out, _ = cli("shell", "--as", "staff", "--unit", "P8")
    assert status == 0
    assert out.startswith("Đang trò chuyện với SIPAS Bot với tư cách cán bộ của đơn vị P8")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, out, _ = cli("--lang", "en", "shell", "--as", "staff", "--unit", "P8")
    assert status == 0
    assert out.startswith("Talking to SIPAS Bot as staff member of unit P8")
