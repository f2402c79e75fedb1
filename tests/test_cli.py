"""The `sipasbot` command as a newcomer and an operator use it: real subprocesses on a real database file."""

from __future__ import annotations

import json
import queue
import signal
import sqlite3
import subprocess
import threading
import time
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from storage import migrate
from tests.processes import SIPASBOT, cli_env
from tests.processes import run_cli as run

SERVICE_ITEMS = [
    "TC1", "TC2", "TC3", "TC4", "TT1", "TT2", "TT3", "TT4", "CC1", "CC2", "CC3", "CC4", "CC5",
    "KQ1", "KQ2", "KQ3", "PA1", "PA2", "PA3",
]  # fmt: skip
FACTORS = {"TC": SERVICE_ITEMS[0:4], "TT": SERVICE_ITEMS[4:8], "CC": SERVICE_ITEMS[8:13],
           "KQ": SERVICE_ITEMS[13:16], "PA": SERVICE_ITEMS[16:19]}  # fmt: skip
AFTER_SERVICE_ITEMS = 14  # 8 priorities, 5 profile questions, the comment

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def one_decimal(value: Fraction) -> float:
    """Half-up to one decimal, by hand with Decimal (docs/FIGURES.md: rounded once)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def demo_input(ratings: list[int]) -> str:
    assert len(ratings) == 19
    return "".join(f"{r}\n" for r in ratings) + "0\n" * AFTER_SERVICE_ITEMS + "lines left over are ignored\n"


def test_five_demo_runs_give_the_figures_of_the_index_method(env: dict[str, str]) -> None:
    runs = [
        [5] * 19,
        [4, 4, 4, 3, 5, 5, 2, 1, 4, 4, 4, 4, 4, 3, 3, 3, 5, 4, 3],
        [3, 2, 1, 5, 4, 4, 4, 4, 2, 2, 2, 2, 2, 5, 4, 3, 1, 1, 1],
        [4, 5, 4, 4, 3, 3, 3, 3, 5, 5, 5, 4, 4, 4, 4, 4, 2, 5, 4],
        [1, 4, 2, 3, 5, 4, 3, 2, 1, 4, 5, 3, 4, 5, 5, 2, 4, 4, 5],
    ]
    for ratings in runs:
        result = run(env, "demo", stdin=demo_input(ratings))
        assert result.returncode == 0, result.stderr
        assert "Trân trọng cảm ơn Ông/Bà" in result.stdout
        assert "BÁO CÁO MỨC ĐỘ HÀI LÒNG" in result.stdout
        assert "lines left over" not in result.stdout
        assert result.stderr == ""
    report = run(env, "report", "--unit", "DEMO", "--format", "json")
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)

    # the index method of docs/METHOD.md, the index method, computed here by hand
    expected_criteria = {}
    for position, code in enumerate(SERVICE_ITEMS):
        answers = [ratings[position] for ratings in runs]
        expected_criteria[code] = {
            "counts": {str(level): answers.count(level) for level in range(1, 6)},
            "index": one_decimal(Fraction(100 * sum(1 for a in answers if a >= 4), len(answers))),
        }
    exact_criteria = {
        code: Fraction(100 * sum(1 for ratings in runs if ratings[SERVICE_ITEMS.index(code)] >= 4), len(runs))
        for code in SERVICE_ITEMS
    }
    expected_factors = {
        f: sum((exact_criteria[c] for c in codes), Fraction(0)) / len(codes) for f, codes in FACTORS.items()
    }
    expected_overall = sum(expected_factors.values()) / len(expected_factors)

    criteria = {c["code"]: c for c in figures["criteria"]}
    assert set(criteria) == set(SERVICE_ITEMS)
    for code, expected in expected_criteria.items():
        assert criteria[code]["n"] == 5
        assert criteria[code]["counts"] == expected["counts"], code
        assert criteria[code]["index"] == expected["index"], code
    factors = {f["code"]: f for f in figures["factors"]}
    for code, value in expected_factors.items():
        assert factors[code]["index"] == one_decimal(value), code
    assert figures["satisfaction"]["index"] == one_decimal(expected_overall)
    assert figures["satisfaction"]["n"] == 5
    assert figures["surveys"]["completed"] == 5
    assert figures["dossiers"]["received"] == 5


PRIORITY_LEAD_IN = (
    "Xin Ông/Bà cho biết mức độ Ông/Bà mong muốn cơ quan nhà nước tập trung ưu tiên nguồn lực để cải thiện "
    "chất lượng các vấn đề dưới đây?"
)
# what five citizens answered to UT1–UT8: 1 Rất nhiều, 2 Nhiều, 3 Ít, 0 skipped
PRIORITY_RUNS = [
    [1, 3, 2, 3, 1, 1, 2, 0],
    [1, 3, 2, 3, 2, 0, 3, 0],
    [2, 3, 2, 3, 3, 3, 1, 0],
    [3, 2, 2, 3, 1, 3, 3, 0],
    [1, 3, 2, 3, 2, 2, 3, 1],
]


def test_the_priority_index_is_in_the_text_report_and_the_workbook_and_asked_as_the_form_words_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    for number, priorities in enumerate(PRIORITY_RUNS):
        answers = [5] * 19 + priorities + [0] * 6  # the service items, the priorities, the profile and the comment
        result = run(env, "demo", stdin="".join(f"{a}\n" for a in answers))
        assert result.returncode == 0, result.stderr
        if number == 0:  # the official lead-in, then the item alone
            assert (
                "Câu 20/33\n\n"
                + PRIORITY_LEAD_IN
                + "\n\nNâng cao hơn nữa chất lượng cung cấp thông tin cho người dân\n"
                in (result.stdout)
            )
            assert "Câu 21/33\n\n" + PRIORITY_LEAD_IN + "\n\nNâng cao hơn nữa chất lượng trụ sở" in result.stdout

    text = run(env, "report", "--unit", "DEMO").stdout
    section = text.split("Mức độ mong muốn ưu tiên cải thiện (tỷ lệ chọn “Rất nhiều” hoặc “Nhiều”):\n")[1]
    assert section.splitlines()[:8] == [
        "  UT1 Nâng cao hơn nữa chất lượng cung cấp thông tin cho người dân: 80,0% (n = 5)",
        "  UT2 Nâng cao hơn nữa chất lượng trụ sở, trang thiết bị phục vụ giải quyết công việc cho người dân: "
        "20,0% (n = 5)",
        "  UT3 Nâng cao hơn nữa năng lực của cán bộ, công chức, viên chức trong giải quyết công việc cho người dân: "
        "100,0% (n = 5)",
        "  UT4 Nâng cao hơn nữa thái độ phục vụ của cán bộ, công chức, viên chức đối với người dân: 0,0% (n = 5)",
        "  UT5 Tăng cường ứng dụng công nghệ thông tin, chuyển đổi số trong giải quyết công việc cho người dân: "
        "80,0% (n = 5)",
        "  UT6 Nâng cao hơn nữa sự quan tâm của cơ quan nhà nước đối với nhu cầu, mong đợi của người dân: "
        "chưa đủ dữ liệu (n = 4)",
        "  UT7 Nâng cao hơn nữa chất lượng tiếp nhận, giải quyết ý kiến góp ý, phản ánh, kiến nghị của người dân: "
        "40,0% (n = 5)",
        "  UT8 Nâng cao hơn nữa chất lượng dịch vụ hành chính công (việc giải quyết thủ tục hành chính): "
        "chưa đủ dữ liệu (n = 1)",
    ]

    out = tmp_path / "bao-cao.xlsx"
    assert run(env, "report", "--unit", "DEMO", "--format", "xlsx", "--out", str(out)).returncode == 0
    sheet = list(openpyxl.load_workbook(out)["Ưu tiên cải thiện"].iter_rows(values_only=True))
    assert sheet[0] == ("Mã", "Nội dung", "Số câu trả lời (n)", "Tỷ lệ “Rất nhiều” + “Nhiều”")
    assert [row[0] for row in sheet[1:]] == [f"UT{i}" for i in range(1, 9)]
    assert sheet[1][1:] == ("Nâng cao hơn nữa chất lượng cung cấp thông tin cho người dân", 5, 0.8)
    assert sheet[4][2:] == (5, 0)
    assert sheet[6][2:] == (4, "chưa đủ dữ liệu")
    assert sheet[8][2:] == (1, "chưa đủ dữ liệu")


class Terminal:
    """A running `sipasbot` process typed into line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [SIPASBOT, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.transcript: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.transcript.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} never appeared; saw:\n{''.join(self.transcript[-20:])}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def user(self) -> str:
        intro = next(line for line in self.transcript if "cuộc trò chuyện “" in line)
        return intro.split("cuộc trò chuyện “")[1].split("”")[0]


def stored(env: dict[str, str]) -> tuple[dict[str, str], str | None]:
    path = env["SIPAS_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as connection:
        answers = dict(connection.execute("SELECT question_code, value FROM answers").fetchall())
        (cursor,) = connection.execute("SELECT cursor FROM invitations").fetchone()
    return answers, cursor


def test_a_killed_survey_resumes_at_the_next_unanswered_question(env: dict[str, str]) -> None:
    terminal = Terminal(env, "demo")
    terminal.wait_for("Câu 1/33")
    typed = ["5", "4", "3", "hài lòng", "rat hai long", "2", "1"]
    for number, answer in enumerate(typed, start=2):
        terminal.type(answer)
        terminal.wait_for(f"Câu {number}/33")
    user = terminal.user()
    terminal.kill()

    answers, cursor = stored(env)
    assert answers == {"TC1": "5", "TC2": "4", "TC3": "3", "TC4": "4", "TT1": "5", "TT2": "2", "TT3": "1"}
    assert cursor == "TT4"

    resumed = run(env, "shell", "--as", "citizen", "--user", user, stdin="/khaosat\n4\n")
    assert resumed.returncode == 0, resumed.stderr
    assert "Câu 8/33 · II. Thủ tục hành chính" in resumed.stdout
    assert "Thời hạn giải quyết thủ tục hành chính cho người dân là đúng quy định." in resumed.stdout
    assert "Câu 9/33" in resumed.stdout
    answers, cursor = stored(env)
    assert len(answers) == 8
    assert answers["TT4"] == "4"
    assert cursor == "CC1"


def test_a_kill_in_the_middle_of_an_answer_leaves_a_consistent_survey(env: dict[str, str]) -> None:
    terminal = Terminal(env, "demo")
    terminal.wait_for("Câu 1/33")
    for number in range(2, 6):
        terminal.type("4")
        terminal.wait_for(f"Câu {number}/33")
    user = terminal.user()
    terminal.type("5")  # killed before its reply is seen: committed whole or not at all
    terminal.kill()
    answers, cursor = stored(env)
    assert len(answers) in (4, 5)
    assert cursor == SERVICE_ITEMS[len(answers)]
    resumed = run(env, "shell", "--as", "citizen", "--user", user, stdin="/khaosat\n")
    assert f"Câu {len(answers) + 1}/33" in resumed.stdout


def test_a_demo_whose_input_ends_early_says_how_to_continue(env: dict[str, str]) -> None:
    result = run(env, "demo", stdin="5\n4\n")
    assert result.returncode == 0, result.stderr
    assert "sipasbot shell --as citizen --user demo-1-" in result.stdout
    assert "Câu 3/33" in result.stdout
    assert "chạy sipasbot demo thêm vài lần để thấy số liệu" in result.stdout
    assert "đã bắt đầu 1" in result.stdout


def test_the_default_database_is_sipasbot_db_in_the_working_directory(env: dict[str, str], tmp_path: Path) -> None:
    del env["SIPAS_DATABASE_URL"]
    result = run(env, "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"sqlite+aiosqlite:///sipasbot.db đang ở phiên bản {migrate.head_revision()}" in result.stdout
    assert (tmp_path / "sipasbot.db").exists()


def test_units_and_reports(env: dict[str, str]) -> None:
    assert run(env, "units", "add", "Q3", "Quận 3").returncode == 0
    added = run(env, "units", "add", "P8", "Phường 8", "--parent", "Q3")
    assert added.stdout.strip() == "Đã thêm đơn vị P8: Phường 8"
    listed = run(env, "units", "list")
    assert "P8\tPhường 8\t(cấp trên: Q3; mẫu phiếu: sipas-2022)" in listed.stdout
    report = run(
        env,
        "report",
        "--unit",
        "Q3",
        "--include-children",
        "--from",
        "01/11/2026",
        "--to",
        "2026-11-30",
        "--format",
        "json",
    )
    figures = json.loads(report.stdout)
    assert (figures["from"], figures["to"], figures["include_children"]) == ("2026-11-01", "2026-11-30", True)
    assert figures["satisfaction"] == {"index": None, "n": 0, "ci95": None, "suppressed": True}
    # one children choice, the same default and the scope printed on every output (docs/FIGURES.md)
    alone = run(env, "report", "--unit", "Q3")
    assert "Phạm vi: Quận 3 (không gồm đơn vị trực thuộc)" in alone.stdout
    assert "Cách tính các số liệu: docs/FIGURES.md" in alone.stdout
    whole = run(env, "report", "--unit", "Q3", "--children")
    assert "Phạm vi: Quận 3 (gồm các đơn vị trực thuộc)" in whole.stdout
    digest = run(env, "digest", "--unit", "Q3", "--date", "2026-12-01")
    assert "Phạm vi: Quận 3 (không gồm đơn vị trực thuộc)" in digest.stdout, digest.stderr
    digest = run(env, "digest", "--unit", "Q3", "--date", "2026-12-01", "--children")
    assert "Phạm vi: Quận 3 (gồm các đơn vị trực thuộc)" in digest.stdout, digest.stderr


def test_a_report_can_be_written_to_a_file(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "units", "add", "P8", "Phường 8")
    out = tmp_path / "bao-cao.txt"
    result = run(env, "report", "--unit", "P8", "--out", str(out))
    assert result.returncode == 0
    assert result.stdout == ""
    assert "BÁO CÁO MỨC ĐỘ HÀI LÒNG — Phường 8 (P8)" in out.read_text(encoding="utf-8")


def _broken_forms(tmp_path: Path) -> Path:
    directory = tmp_path / "forms"
    directory.mkdir()
    (directory / "hong.v1.yaml").write_text(
        "id: hong\nversion: 1\ntitle: {vi: Hỏng}\nintro: {vi: Hỏng}\noutro: {vi: Hỏng}\n"
        "questions:\n  - {code: Q1, type: choice, text: {vi: Chọn đi}}\n",
        encoding="utf-8",
    )
    return directory


@pytest.mark.parametrize(
    ("args", "settings", "message"),
    [
        (["report", "--unit", "NOPE"], {}, "sipasbot: lỗi: không có đơn vị “NOPE”"),
        (["report", "--unit", "DEMO", "--from", "2026-13-01"], {}, "không phải ngày: '2026-13-01'"),
        (["report", "--unit", "DEMO", "--format", "pdf"], {}, "lựa chọn không hợp lệ: 'pdf'"),
        ([], {}, "thiếu đối số bắt buộc: LỆNH"),
        (["units", "add", "P8", "Phường 8", "--parent", "NOPE"], {}, "không có đơn vị cấp trên “NOPE”"),
        (["units", "add", "mã sai", "Phường"], {}, "mã đơn vị gồm 1–32 ký tự"),
        (["db", "upgrade"], {"SIPAS_QUIET_HOURS": "tối"}, "SIPAS_QUIET_HOURS: expected HH:MM-HH:MM"),
        (["db", "upgrade"], {"SIPAS_TIMEZONE": "Mars/Olympus"}, "SIPAS_TIMEZONE: unknown time zone"),
        (["db", "upgrade"], {"SIPAS_SURVEY_FORM": "khong-co"}, "SIPAS_SURVEY_FORM: unknown form 'khong-co'"),
        (["db", "upgrade"], {"SIPAS_DATABASE_URL": "mysql+aiomysql://x/y"}, "không hỗ trợ cơ sở dữ liệu 'mysql'"),
        (
            ["db", "upgrade"],
            {"SIPAS_DATABASE_URL": "sqlite+aiosqlite:////no/such/dir/x.db"},
            "không mở được tệp cơ sở dữ liệu",
        ),
        (
            ["db", "upgrade"],
            {"SIPAS_TELEGRAM_TOKEN": "1:x", "SIPAS_TELEGRAM_MODE": "webhook"},
            "SIPAS_TELEGRAM_WEBHOOK_SECRET is required",
        ),
        (["db", "upgrade"], {"SIPAS_FORMS_DIR": "BROKEN"}, "hong.v1.yaml: question Q1: empty option list"),
        (["db", "upgrade"], {"SIPAS_FORMS_DIR": "UNPARSEABLE"}, "hong.v1.yaml: cannot read: expected ',' or '}'"),
    ],
)
def test_user_errors_are_one_line_without_a_traceback(
    env: dict[str, str], tmp_path: Path, args: list[str], settings: dict[str, str], message: str
) -> None:
    if settings.get("SIPAS_FORMS_DIR") == "BROKEN":
        settings = {"SIPAS_FORMS_DIR": str(_broken_forms(tmp_path))}
    elif settings.get("SIPAS_FORMS_DIR") == "UNPARSEABLE":
        directory = _broken_forms(tmp_path)
        (directory / "hong.v1.yaml").write_text("title: {vi: Chọn?}\n", encoding="utf-8")
        settings = {"SIPAS_FORMS_DIR": str(directory)}
    result = run({**env, **settings}, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sipasbot: lỗi: ")
    assert message in lines[0]


def test_a_unit_code_is_added_once(env: dict[str, str]) -> None:
    assert run(env, "units", "add", "P8", "Phường 8").returncode == 0
    again = run(env, "units", "add", "P8", "Phường 8")
    assert again.returncode == 2
    assert again.stderr.strip() == "sipasbot: lỗi: đơn vị P8 đã có"


def test_a_unit_can_have_its_own_form(env: dict[str, str]) -> None:
    added = run(env, "units", "add", "P8", "Phường 8", "--form", "sipas-nhanh")
    assert added.stdout.strip() == "Đã thêm đơn vị P8: Phường 8 (mẫu phiếu sipas-nhanh)"
    assert "P8\tPhường 8\t(cấp trên: -; mẫu phiếu: sipas-nhanh)" in run(env, "units", "list").stdout
    refused = run(env, "units", "add", "P9", "Phường 9", "--form", "khong-co")
    assert refused.returncode == 2
    assert "không có mẫu phiếu “khong-co”" in refused.stderr


def test_an_invite_code_gives_a_role_once(env: dict[str, str]) -> None:
    assert run(env, "units", "add", "P8", "Phường 8").returncode == 0
    invite = run(env, "invite", "--role", "staff", "--unit", "P8", "--name", "Trần Thị Bình")
    assert invite.returncode == 0, invite.stderr
    code = invite.stdout.strip()
    assert len(code) == 9
    assert f"gửi /join {code}" in invite.stderr
    first = run(env, "shell", "--as", "citizen", "--user", "binh", stdin=f"/join {code}\n/phananh\n")
    assert "Ông/Bà đã được cấp quyền cán bộ của Phường 8" in first.stdout
    assert "Không có phản ánh nào đang chờ xử lý." in first.stdout
    second = run(env, "shell", "--as", "citizen", "--user", "other", stdin=f"/join {code}\n/phananh\n")
    assert "Mã này không đúng, đã được dùng hoặc đã hết hạn" in second.stdout
    assert "Chức năng này chỉ dành cho cán bộ" in second.stdout
    staff = run(env, "shell", "--as", "staff", "--unit", "P8", "--user", "lead", stdin="/hoso P8-1\n")
    assert "đã được cấp quyền cán bộ" in staff.stdout
    assert "Không tìm thấy hồ sơ P8-1" in staff.stdout
    refused = run(env, "invite", "--role", "staff", "--unit", "XX")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "sipasbot: lỗi: không có đơn vị “XX”"


def test_the_holidays_of_a_year_with_the_override_file(env: dict[str, str], tmp_path: Path) -> None:
    overrides = tmp_path / "holidays.yaml"
    overrides.write_text('days_off:\n  "2026-12-31": "Nghỉ theo Quyết định số 01"\nworking_days: ["2026-12-26"]\n')
    listed = run({**env, "SIPAS_HOLIDAYS_FILE": str(overrides)}, "holidays", "list", "--year", "2026")
    assert listed.returncode == 0, listed.stderr
    assert "24/11/2026  Thứ Ba    Ngày Văn hóa Việt Nam" in listed.stdout
    assert "31/12/2026  Thứ Năm   Nghỉ theo Quyết định số 01 (tệp bổ sung)" in listed.stdout
    assert "  26/12/2026  Thứ Bảy   ngày làm việc (tệp bổ sung)" in listed.stdout
    overrides.write_text("days_off: [1]\n")
    broken = run({**env, "SIPAS_HOLIDAYS_FILE": str(overrides)}, "holidays", "list")
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1
    assert "days_off là bảng ngày" in broken.stderr


def test_the_holidays_list_shows_the_make_up_saturdays_as_working_days(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "SIPAS_HOLIDAYS_FILE": str(tmp_path / "holidays.yaml")}
    listed = {year: run(env, "holidays", "list", "--year", str(year)) for year in (2025, 2026, 2027)}
    assert all(result.returncode == 0 for result in listed.values()), listed
    lines = {year: [line.rstrip() for line in result.stdout.splitlines()] for year, result in listed.items()}
    assert lines[2025] == [
        "Ngày nghỉ lễ, Tết năm 2025 (ngoài các ngày thứ Bảy, Chủ nhật):",
        "  01/01/2025  Thứ Tư    Tết Dương lịch",
        "  27/01/2025  Thứ Hai   29 Tết",
        "  28/01/2025  Thứ Ba    Giao thừa Tết Nguyên đán",
        "  29/01/2025  Thứ Tư    Tết Nguyên đán",
        "  30/01/2025  Thứ Năm   Mùng hai Tết Nguyên đán",
        "  31/01/2025  Thứ Sáu   Mùng ba Tết Nguyên đán",
        "  01/02/2025  Thứ Bảy   Mùng bốn Tết Nguyên đán",
        "  07/04/2025  Thứ Hai   Ngày Giỗ Tổ Hùng Vương",
        "  30/04/2025  Thứ Tư    Ngày Chiến thắng",
        "  01/05/2025  Thứ Năm   Ngày Quốc tế Lao động",
        "  02/05/2025  Thứ Sáu   Ngày nghỉ hoán đổi (làm bù vào thứ Bảy 26/04/2025)",
        "  01/09/2025  Thứ Hai   Quốc khánh",
        "  02/09/2025  Thứ Ba    Quốc khánh",
        "Ngày làm việc bù vào thứ Bảy, Chủ nhật:",
        "  26/04/2025  Thứ Bảy   làm việc bù cho ngày nghỉ 02/05/2025",
        f"Tệp bổ sung: {tmp_path / 'holidays.yaml'} (chưa có)",
    ]
    assert "  22/08/2026  Thứ Bảy   làm việc bù cho ngày nghỉ 31/08/2026" in lines[2026]
    assert "  31/08/2026  Thứ Hai   Ngày nghỉ hoán đổi (làm bù vào thứ Bảy 22/08/2026)" in lines[2026]
    assert "  06/02/2027  Thứ Bảy   Tết Nguyên đán" in lines[2027]
    assert "  03/05/2027  Thứ Hai   Ngày Quốc tế Lao động (nghỉ bù)" in lines[2027]
    assert not any("làm việc bù" in line for line in lines[2027])  # no swap decided for 2027 yet
    for result in listed.values():
        assert unicodedata.is_normalized("NFC", result.stdout)


def test_units_are_imported_from_a_file_or_from_the_national_list(env: dict[str, str], tmp_path: Path) -> None:
    tree = tmp_path / "don-vi.csv"
    tree.write_text("Mã;Tên;Mã cấp trên\nQ3;Quận 3;\nQ3-P1;Phường 1;Q3\nQ3-P2;Phường 2;Q3\n", encoding="utf-8")
    first = run(env, "units", "import", str(tree))
    assert first.returncode == 0, first.stderr
    assert "Đã thêm 3 đơn vị" in first.stdout
    assert "Đã thêm 0 đơn vị; 3 đơn vị" in run(env, "units", "import", str(tree)).stdout  # again: nothing new
    hanoi = run(env, "units", "import", "--province", "01")
    assert hanoi.returncode == 0, hanoi.stderr
    assert "Đã thêm 127 đơn vị" in hanoi.stdout  # Thành phố Hà Nội and its 126 communes and wards since 07/2025
    listed = run(env, "units", "list").stdout
    assert "01\tThành phố Hà Nội" in listed
    assert "Phường Hoàn Kiếm\t(cấp trên: 01;" in listed
    orphan = tmp_path / "orphan.csv"
    orphan.write_text("code,name,parent\nX1,Xã Một,NOWHERE\n", encoding="utf-8")
    refused = run(env, "units", "import", str(orphan))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"sipasbot: lỗi: tệp {orphan} có 1 lỗi, chưa nhập đơn vị nào:",
        "  dòng 2, cột mã cấp trên: “NOWHERE” không có trong tệp và chưa có trong hệ thống — cần mã của một đơn vị"
        " đã có hoặc có trong tệp",
    ]
