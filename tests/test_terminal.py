"""`sipasbot shell` and `sipasbot demo` as an officer at a terminal uses them: real subprocesses (and a pty)."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.helpers import vietnam_today
from tests.processes import SIPASBOT, cli_env
from tests.processes import run_cli as run

SAVED = re.compile(r"^📎 Đã lưu tệp đính kèm: (.+)$", re.MULTILINE)

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


class Terminal:
    """A command in a pseudo-terminal of its own (its controlling terminal: Ctrl-C there is its SIGINT)."""

    def __init__(self, env: dict[str, str], *args: str, cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the command at once
            os.chdir(cwd)
            os.execve(SIPASBOT, [SIPASBOT, *args], env)
        self.pid, self.fd = pid, fd
        self.output = b""
        self.seen = 0  # what ``expect`` consumed

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def expect(self, wanted: str, seconds: float = 10.0) -> None:
        """Wait until ``wanted`` is printed after what earlier calls consumed."""
        token = wanted.encode()
        deadline = time.monotonic() + seconds
        while (found := self.output.find(token, self.seen)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"{wanted!r} not printed within {seconds} s; the terminal shows:\n{self.text[-2000:]}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if ready:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the command ended and closed its terminal
                    time.sleep(0.1)
        self.seen = found + len(token)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_status(self, seconds: float = 30.0) -> int:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.output += os.read(self.fd, 65536)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError("the command did not end; the terminal shows:\n" + self.text[-2000:])

    def close(self) -> None:
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            if os.waitpid(self.pid, os.WNOHANG)[0] == 0:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
        os.close(self.fd)


def import_a_late_dossier(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "units", "add", "P8", "Phường 8").returncode == 0
    today = vietnam_today()
    export = tmp_path / "hoso.csv"
    export.write_text(
        "Mã hồ sơ,Thủ tục,Lĩnh vực,Ngày tiếp nhận,Ngày hẹn trả,Chủ hồ sơ\n"
        f"P8-1,Đăng ký khai sinh,Hộ tịch,{today - timedelta(days=3):%d/%m/%Y},{today + timedelta(days=1):%d/%m/%Y},"
        "Trần Văn Ba\n",
        encoding="utf-8",
    )
    imported = run(env, "dossiers", "import", str(export), "--unit", "P8")
    assert imported.returncode == 0, imported.stderr


def test_a_leaders_chart_in_the_shell_is_a_png_file_whose_path_is_printed(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "units", "add", "P8", "Phường 8").returncode == 0
    folder = tmp_path / "tệp của tôi"
    shell = run(env, "shell", "--as", "leader", "--unit", "P8", "--files", str(folder), stdin="/baocao\n/baocao\n")
    assert shell.returncode == 0, shell.stderr
    paths = [Path(found) for found in SAVED.findall(shell.stdout)]
    assert len(paths) == 2, shell.stdout  # asked twice: two files, the first one kept
    assert len(set(paths)) == 2
    for path in paths:
        assert path.parent == folder.resolve()
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "/tep/" not in shell.stdout  # no link to a web service that is not running


def test_an_officers_apology_slip_in_the_shell_is_a_pdf_in_the_default_folder(
    env: dict[str, str], tmp_path: Path
) -> None:
    import_a_late_dossier(env, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    shell = run(env, "shell", "--as", "staff", "--unit", "P8", stdin="/xinloi P8-1\n1\n1\n1\n", cwd=work)
    assert shell.returncode == 0, shell.stderr
    assert "Đã lập phiếu xin lỗi số 01/PXL" in shell.stdout, shell.stdout
    [saved] = SAVED.findall(shell.stdout)
    path = Path(saved)
    assert path == (work / "sipasbot-tep" / "phieu-xin-loi-01-PXL.pdf").resolve()
    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    assert "01/PXL" in text
    assert "/phieu/" not in shell.stdout


def test_ctrl_c_in_the_shell_ends_the_apology_in_progress_and_a_second_one_leaves(
    env: dict[str, str], tmp_path: Path
) -> None:
    import_a_late_dossier(env, tmp_path)
    terminal = Terminal(env, "shell", "--as", "staff", "--unit", "P8", cwd=tmp_path)
    try:
        terminal.expect("đã được cấp quyền cán bộ", seconds=120)
        terminal.expect("> ")
        terminal.type(b"/xinloi P8-1\r")
        terminal.expect("Gõ số của lý do")
        terminal.expect("> ")
        terminal.type(b"ch")  # typing a reason, then changing one's mind: no Enter
        terminal.type(b"\x03")
        terminal.expect("(Ctrl-C) Đã dừng việc đang làm dở; không có gì được gửi đi.")
        terminal.expect("> ")
        terminal.type(b"1\r")  # no longer the reason of an apology
        terminal.expect("> ")
        terminal.type(b"\x03")
        terminal.expect("(Ctrl-C) Đã dừng. Gõ tiếp để trò chuyện, hoặc nhấn Ctrl-C lần nữa để thoát.")
        terminal.type(b"\x03")
        terminal.expect("(Ctrl-C) Đã thoát.")
        assert terminal.exit_status() == 130
    finally:
        terminal.close()
    assert "Lý do:" not in terminal.text
    assert "Đã lập phiếu" not in terminal.text
    assert "Traceback" not in terminal.text
    listed = run(env, "shell", "--as", "staff", "--unit", "P8", "--user", "other", stdin="/hoso P8-1\n")
    assert "Trạng thái: đang xử lý" in listed.stdout
    assert "Phiếu xin lỗi số" not in listed.stdout  # no apology was issued


def test_ctrl_c_in_the_demo_ends_the_survey_and_shows_the_report(env: dict[str, str], tmp_path: Path) -> None:
    terminal = Terminal(env, "demo", cwd=tmp_path)
    try:
        terminal.expect("Câu 1/", seconds=120)
        terminal.expect("> ")
        terminal.type(b"5\r")
        terminal.expect("Câu 2/")
        terminal.expect("> ")
        terminal.type(b"\x03")
        terminal.expect("(Ctrl-C) Đã dừng phiếu khảo sát; các câu đã trả lời được lưu")
        terminal.expect("BÁO CÁO MỨC ĐỘ HÀI LÒNG")
        assert terminal.exit_status() == 0
    finally:
        terminal.close()
    assert "Traceback" not in terminal.text
