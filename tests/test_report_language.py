"""``sipasbot report`` (and ``digest``) read in the run's language: English with ``SIPAS_LANG=en`` or ``--lang en``,
Vietnamese as before without it.

The unit and its field have names without Vietnamese letters, so an English run may print none at all: every word
it prints is the catalogs' English or the form's.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.cli import main
from bot.texts import choose_locale
from handlers.context import Services
from tests.helpers import build_database, without_sipas_settings
from tests.test_house_rules import VIETNAMESE
from tests.test_reporting import all_items, respondent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = ("--unit", "W8", "--from", "2026-11-01", "--to", "2026-11-30")
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """``sipasbot …`` in this process on a database holding W8's November: (exit status, stdout, stderr).

    ``lang`` sets SIPAS_LANG for the run; without it the run has no SIPAS_LANG at all.
    """
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"

    async def november(services: Services) -> None:
        for number in range(7):
            ratings = all_items("5" if number % 3 else "4", TC1="2" if number == 4 else "5")
            when = datetime(2026, 11, 3 + number, 9, tzinfo=HANOI)
            await respondent(services, f"W8-{number}", "W8", "Civil status", ratings, when)

    build_database(url, ("W8", "Ward 8"), november)
    without_sipas_settings(monkeypatch, url)

    def run(*args: str, lang: str | None = None) -> tuple[int, str, str]:
        if lang is None:
            monkeypatch.delenv("SIPAS_LANG", raising=False)
        else:
            monkeypatch.setenv("SIPAS_LANG", lang)
        status = main(list(args))  # the language is chosen anew by each run
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    yield run
    choose_locale(["--lang", "vi"])  # what a later test in this process reads without a run of its own


def test_the_text_report_is_english_with_sipas_lang_en(cli: Run) -> None:
    status, out, err = cli("report", *NOVEMBER, lang="en")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "SATISFACTION REPORT — Ward 8 (W8) — 01/11/2026 to 30/11/2026"
    assert lines[1] == "Scope: Ward 8 (units below not included)"
    assert lines[2].startswith("Form: Survey of citizens' and organisations' satisfaction")
    for heading in ("By factor:", "By criterion (answers per level 1–5):", "By field:"):
        assert heading in lines, heading
    assert any(line.startswith("Overall satisfaction: ") for line in lines)
    assert any(line.startswith("  I. Access to the service: ") for line in lines)  # the form's factor, in English
    assert any(line.startswith("  Civil status: ") for line in lines)
    assert lines[-1] == "How each figure is computed: docs/FIGURES.md"
    assert not VIETNAMESE.search(out), [line for line in lines if VIETNAMESE.search(line)]
    # --lang en says the same; the period asked by its kind as well
    assert cli("--lang", "en", "report", *NOVEMBER)[1] == out
    status, by_kind, err = cli("report", "--unit", "W8", "--period", "thang", "--date", "2026-11-30", lang="en")
    assert status == 0, err
    assert by_kind == out


def test_the_text_report_is_vietnamese_without_sipas_lang(cli: Run) -> None:
    status, out, err = cli("report", *NOVEMBER)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "BÁO CÁO MỨC ĐỘ HÀI LÒNG — Ward 8 (W8) — từ 01/11/2026 đến 30/11/2026"
    assert lines[1] == "Phạm vi: Ward 8 (không gồm đơn vị trực thuộc)"
    assert "Theo yếu tố:" in lines
    assert any(line.startswith("  I. Tiếp cận dịch vụ: ") for line in lines)
    assert lines[-1] == "Cách tính các số liệu: docs/FIGURES.md"
    for english in ("SATISFACTION REPORT", "Scope:", "By factor", "Access to the service", "not enough data"):
        assert english not in out, english
    assert cli("report", *NOVEMBER, lang="vi")[1] == out


def test_the_digest_printed_is_english_with_sipas_lang_en(cli: Run) -> None:
    status, out, err = cli("digest", "--unit", "W8", "--date", "2026-11-20", "--period", "thang", lang="en")
    assert status == 0, err
    assert out.startswith("MONTHLY REPORT (to 20/11/2026) — Ward 8\n")
    assert "The three weakest criteria:" in out
    assert not VIETNAMESE.search(out), [line for line in out.splitlines() if VIETNAMESE.search(line)]
    status, vi, err = cli("digest", "--unit", "W8", "--date", "2026-11-20", "--period", "thang")
    assert status == 0, err
    assert vi.startswith("BÁO CÁO THÁNG")


def test_the_workbook_title_is_in_the_run_language(cli: Run, tmp_path: Path) -> None:
    titles = {}
    for lang in ("en", None):
        path = tmp_path / f"{lang}.xlsx"
        args = ("report", "--unit", "W8", "--period", "6thang", "--date", "2026-11-30", "--format", "xlsx")
        status, _, err = cli(*args, "--out", str(path), lang=lang)
        assert status == 0, err
        titles[lang] = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).properties.title
    assert titles == {
        "en": "Satisfaction report for the first 6 months of 2026",
        None: "Báo cáo mức độ hài lòng 6 tháng đầu năm 2026",
    }


def test_the_workbooks_channels_are_named_in_the_run_language(cli: Run, tmp_path: Path) -> None:
    # the respondents here answered on no channel recorded: "Unknown" in English, "Chưa rõ" in Vietnamese
    for lang, sheet, unknown in (("en", "Survey data", "Unknown"), (None, "Dữ liệu khảo sát", "Chưa rõ")):
        path = tmp_path / f"channels-{lang}.xlsx"
        status, _, err = cli("report", *NOVEMBER, "--format", "xlsx", "--out", str(path), lang=lang)
        assert status == 0, err
        answers = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))[sheet]
        header = [cell.value for cell in answers[1]]
        column = header.index("Channel" if lang == "en" else "Kênh")
        channels = {row[column] for row in answers.iter_rows(min_row=2, values_only=True)}
        assert channels == {unknown}, channels
