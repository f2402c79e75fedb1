"""`sipasbot shell` and `sipasbot demo` as an officer at a terminal uses them: real subprocesses (and a pty)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
SAVED = re.compile(r"^📎 Đã lưu tệp đính kèm: (.+)$", re.MULTILINE)

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    environment["SIPAS_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def run(env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIPASBOT, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, cwd=cwd, check=False
    )


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
    assert run(env, "units", "add", "P8", "Phường 8").returncode == 0
    today = date.today()
    export = tmp_path / "hoso.csv"
    export.write_text(
        "Mã hồ sơ,Thủ tục,Lĩnh vực,Ngày tiếp nhận,Ngày hẹn trả,Chủ hồ sơ\n"
        f"P8-1,Đăng ký khai sinh,Hộ tịch,{today - timedelta(days=3):%d/%m/%Y},{today + timedelta(days=1):%d/%m/%Y},"
        "Trần Văn Ba\n",
        encoding="utf-8",
    )
    imported = run(env, "dossiers", "import", str(export), "--unit", "P8")
    assert imported.returncode == 0, imported.stderr
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
