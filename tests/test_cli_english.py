"""``SIPAS_LANG=en sipasbot …``: the officer's commands print English, apart from the data (a unit's own name).

The lists (units, holidays, roles, audit, targets) and the demo; the report and the digest are
tests/test_report_language.py's. The units here have names without Vietnamese letters, so a line with one is a
sentence still written in Vietnamese. The same commands without SIPAS_LANG print Vietnamese as before.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from bot.app import App
from bot.cli import main
from bot.config import load_settings
from bot.texts import choose_locale
from handlers.messages import Identity, Inbound
from tests.test_house_rules import VIETNAMESE


class Run(Protocol):
    def __call__(self, *args: str, lang: str | None = None, stdin: str = "") -> tuple[int, str, str]: ...


def vietnamese_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if VIETNAMESE.search(line)]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """``sipasbot …`` in this process: (exit status, stdout, stderr); ``lang`` sets SIPAS_LANG, ``stdin`` the input."""
    for name in [n for n in os.environ if n.startswith("SIPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}")
    monkeypatch.setenv("SIPAS_HOLIDAYS_FILE", str(tmp_path / "holidays.yaml"))

    def run(*args: str, lang: str | None = None, stdin: str = "") -> tuple[int, str, str]:
        if lang is None:
            monkeypatch.delenv("SIPAS_LANG", raising=False)
        else:
            monkeypatch.setenv("SIPAS_LANG", lang)
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    yield run
    choose_locale(["--lang", "vi"])  # what a later test in this process reads without a run of its own


@pytest.fixture
def office(cli: Run, tmp_path: Path) -> Run:
    """Ward 8 under District 1, a leader of the district holding a role in a console chat, a target of its own."""
    assert cli("units", "add", "D1", "District 1")[0] == 0
    assert cli("units", "add", "W8", "Ward 8", "--parent", "D1")[0] == 0
    assert cli("targets", "set", "--unit", "W8", "--satisfaction", "90")[0] == 0
    status, code, err = cli("invite", "--role", "leader", "--unit", "D1")
    assert status == 0, err

    async def join() -> None:
        url = os.environ["SIPAS_DATABASE_URL"]
        app = App(load_settings(database_url=url))
        await app.start()
        try:
            joined = Inbound(Identity("console", "leader-1"), event_id="e1", kind="text", text=f"/join {code.strip()}")
            await app.citizens.handle(joined)
        finally:
            await app.close()

    asyncio.run(join())
    return cli


def test_the_lists_are_english_with_sipas_lang_en(office: Run) -> None:
    status, units, err = office("units", "list", lang="en")
    assert status == 0, err
    assert units.splitlines()[1].startswith("W8\tWard 8\t(parent: D1; form: sipas-2022)")
    status, roles, err = office("roles", "list", lang="en")
    assert status == 0, err
    assert roles.startswith("1 role(s) (number · unit · role · officer · channel and chat · since · granted by):")
    assert "Test chat (terminal)" in roles  # the channel by its English name
    status, audit, err = office("audit", "list", lang="en")
    assert status == 0, err
    assert "invite code created [invite.create]" in audit
    status, targets, err = office("targets", "list", "--unit", "W8", lang="en")
    assert status == 0, err
    assert targets.startswith("Targets of Ward 8 (W8):\n  Whole unit: satisfaction 90,0%")
    for out in (units, roles, audit, targets):
        assert vietnamese_lines(out) == []
    # without SIPAS_LANG, the same lists in Vietnamese, the channel by its Vietnamese name
    status, roles, err = office("roles", "list")
    assert status == 0, err
    assert "Thử nghiệm trên máy tính" in roles
    assert office("targets", "list", "--unit", "W8")[1].startswith("Chỉ tiêu của Ward 8 (W8):")


def test_the_holidays_are_named_in_english_with_sipas_lang_en(cli: Run) -> None:
    status, out, err = cli("holidays", "list", "--year", "2025", lang="en")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "Public holidays of 2025 (besides Saturdays and Sundays):"
    assert "  29/01/2025  Wednesday  Lunar New Year" in lines
    assert "  07/04/2025  Monday     Hung Kings' Commemoration Day" in lines
    assert "  02/05/2025  Friday     Swapped day off (worked instead on Saturday 26/04/2025)" in lines
    assert "  26/04/2025  Saturday   working in exchange for the day off 02/05/2025" in lines
    assert vietnamese_lines(out) == []
    # the override file's day off without a name is a "Day off"; the name it gives is its own, as written
    Path(os.environ["SIPAS_HOLIDAYS_FILE"]).write_text('days_off:\n  "2025-12-31":\n  "2025-12-30": "Year end"\n')
    out = cli("holidays", "list", "--year", "2025", lang="en")[1]
    assert "  31/12/2025  Wednesday  Day off (override file)" in out.splitlines()
    assert "  30/12/2025  Tuesday    Year end (override file)" in out.splitlines()
    vi = cli("holidays", "list", "--year", "2025")[1].splitlines()
    assert "  31/12/2025  Thứ Tư    Ngày nghỉ (tệp bổ sung)" in vi
    assert "  02/05/2025  Thứ Sáu   Ngày nghỉ hoán đổi (làm bù vào thứ Bảy 26/04/2025)" in vi
    assert "  29/01/2025  Thứ Tư    Tết Nguyên đán" in vi


def test_the_demo_is_english_with_sipas_lang_en(cli: Run) -> None:
    answers = "5\n" * 19 + "0\n" * 14
    status, out, err = cli("demo", lang="en", stdin=answers)
    assert status == 0, err
    assert out.startswith("SIPAS Bot demo: sample dossier DEMO-")
    assert "of Sample Ward (demo unit) has just been returned to the sample citizen “Sample citizen 1”" in out
    assert "> /survey\n" in out
    assert "Dossier: Certifying copies of papers and documents from their originals" in out  # the chat, in English
    assert "SATISFACTION REPORT — Sample Ward (demo unit) (DEMO)" in out
    assert "  Certification: " in out  # the sample field, in the report
    assert vietnamese_lines(out) == []
    # a second run, without SIPAS_LANG: the unit keeps the name it was made with, the rest is Vietnamese
    status, out, err = cli("demo", stdin=answers)
    assert status == 0, err
    assert "cho người dân mẫu “Người dân mẫu 2”" in out
    assert "> /khaosat\n" in out
    assert "BÁO CÁO MỨC ĐỘ HÀI LÒNG — Sample Ward (demo unit) (DEMO)" in out
