"""Reports name things as people know them: each criterion by its wording, the form by its title, the channels
by their names (Telegram, Zalo, …; never "console" or "zalo_bot"), in the text report, the digest, the workbook
and the staff's chat.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from string import Formatter
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from handlers.admin.invites import Roles
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.texts import TEXTS_DIR
from survey_forms.yaml_text import load_shipped
from tests.conftest import Clock
from tests.helpers import Person, add_unit, build_database, in_process_cli, sample_dossier, update_invitation
from tests.test_house_rules import VIETNAMESE
from tests.test_reporting import SERVICE_ITEMS, all_items, respondent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TITLE = "Phiếu khảo sát sự hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành chính nhà nước"
# the channel each respondent answered on, and the name a person reads for it
CHANNELS = ["telegram"] * 5 + ["zalo_bot"] * 5 + ["console"] * 2 + ["zns"]
NAMES = {
    "telegram": "Telegram",
    "zalo_bot": "Zalo",
    "console": "Thử nghiệm trên máy tính",
    "zns": "Tin nhắn Zalo (ZNS)",
}
IDS = ("console", "zalo_bot", "zalo_oa", "sipas-2022")  # what no person should have to read


async def answered_on_channels(services: Services) -> None:
    """Thirteen citizens of P8 answered in November, each on the channel of ``CHANNELS``."""
    for number, channel in enumerate(CHANNELS):
        code = f"P8-{number}"
        ratings = all_items("5" if number % 3 else "4", TC1="2" if number == 4 else "5")
        await respondent(services, code, "P8", "Hộ tịch", ratings, datetime(2026, 11, 3 + number, 9, tzinfo=HANOI))
        await update_invitation(services, code, channel=channel)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., object]:
    """``sipasbot …`` in this process on a database file holding P8's November: (exit status, stdout, stderr)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"
    build_database(url, ("P8", "Phường 8"), answered_on_channels)
    return in_process_cli(monkeypatch, capsys, url)


NOVEMBER = ("--unit", "P8", "--from", "2026-11-01", "--to", "2026-11-30")


def test_the_text_report_names_each_criterion_the_form_and_the_channels(
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    status, out, err = cli("report", *NOVEMBER)
    assert status == 0, err
    assert f"Phiếu khảo sát: {TITLE}" in out
    lines = out.splitlines()
    for code in SERVICE_ITEMS:
        (line,) = [x for x in lines if x.startswith(f"  {code} ")]
        wording = line[len(code) + 3 :].split(": ")[0]
        assert len(wording.split()) >= 3, line  # the criterion's wording, not its code alone
        assert len(wording) <= 70, line  # on one line, shortened
    (tc1,) = [x for x in lines if x.startswith("  TC1 ")]
    assert tc1.startswith("  TC1 Cơ quan cung cấp thông tin về việc giải quyết thủ tục hành chính")
    assert tc1.split(": ")[0].endswith("…")
    start = lines.index("Theo kênh trả lời khảo sát:")
    shown = dict(line.strip().split(": ", 1) for line in lines[start + 1 : start + 5])
    assert set(shown) == set(NAMES.values())
    assert shown["Zalo"].endswith("(n = 5)")
    for raw in IDS:
        assert raw not in out, raw


def test_the_workbook_names_the_channels_and_the_form(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    path = tmp_path / "p8.xlsx"
    status, _, err = cli("report", *NOVEMBER, "--format", "xlsx", "--out", str(path))
    assert status == 0, err
    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    summary = {row[0]: row[1] for row in book["Tổng hợp"].iter_rows(values_only=True) if row and len(row) > 1}
    assert summary["Phiếu khảo sát"] == TITLE
    channels = [row[0] for row in book["Kênh"].iter_rows(min_row=2, values_only=True)]
    assert sorted(channels) == sorted(NAMES.values())
    answers = [row[3] for row in book["Dữ liệu khảo sát"].iter_rows(min_row=2, values_only=True)]
    assert sorted(answers) == sorted(NAMES[c] for c in CHANNELS)
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and value in ("console", "zalo_bot", "zns", "telegram")), sheet


async def test_the_digest_and_the_staff_chat_name_the_channels(services: Services, clock: Clock) -> None:
    await add_unit(services)
    await answered_on_channels(services)
    leader = Person(services, "leader-1")
    await leader.type(f"/join {await Roles(services).invite('leader', 'P8')}")
    (digest, *_) = await leader.type("/baocao tháng")
    (line,) = [x for x in digest.text.splitlines() if x.startswith("• Khảo sát theo kênh")]
    assert "Telegram 5" in line
    assert "Zalo 5" in line
    assert "Thử nghiệm trên máy tính 2" in line
    for raw in IDS:
        assert raw not in digest.text, raw

    # an apology reaches a citizen on Zalo and one in the terminal: the officer reads where, by name
    officer = Person(services, "officer-1")
    await officer.type(f"/join {await Roles(services).invite('staff', 'P8', 'Trần Thị Bình')}")
    late = sample_dossier(
        code="P8-L", due_at=clock.now + timedelta(hours=20), received_at=clock.now - timedelta(days=3)
    )
    token = (await DossierHandler(services).upsert(late)).dossier.optin_token
    for citizen in (Person(services, "zalo-1", channel="zalo_bot"), Person(services, "console-1")):
        await citizen.link(token)
    for typed in ("/xinloi P8-L", "1", "1", "1"):
        await officer.type(typed)
    (issued,) = [r for r in officer.seen if r.text.startswith("Đã lập phiếu xin lỗi số")]
    assert "Đã gửi cho người dân qua: Zalo, Thử nghiệm trên máy tính." in issued.text


def test_the_json_keeps_the_ids_and_adds_the_names(cli: Callable[..., tuple[int, str, str]]) -> None:
    status, out, err = cli("report", *NOVEMBER, "--format", "json")
    assert status == 0, err
    report = json.loads(out)
    assert report["form"] == "sipas-2022"
    assert report["form_title"] == TITLE
    assert {row["channel"]: row["name"] for row in report["by_channel"]} == NAMES


def vietnamese_wording() -> list[str]:
    """The fixed parts of the workbook's Vietnamese sentences (its catalog): what an English workbook never shows."""
    catalog = load_shipped((TEXTS_DIR / "workbook.vi.yaml").read_text(encoding="utf-8"))
    return [
        part.strip()
        for template in catalog.values()
        for part, *_ in Formatter().parse(template)
        if " " in part.strip() and VIETNAMESE.search(part)
    ]


def test_the_workbook_is_in_english_when_the_run_is(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_LANG", "en")
    path = tmp_path / "p8-en.xlsx"
    status, _, err = cli("report", *NOVEMBER, "--format", "xlsx", "--out", str(path))
    assert status == 0, err
    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    assert book.sheetnames == [
        "Summary", "Criteria", "Factors", "Improvement priorities", "Field targets", "Fields", "Procedures", "Channels",
        "Complaints", "Officers", "Late dossiers", "Apology slips", "Survey data", "Questions",
    ]  # fmt: skip
    headers = {sheet.title: [c.value for c in next(sheet.iter_rows(max_row=1))] for sheet in book.worksheets[1:]}
    assert headers["Criteria"][:5] == ["Criterion code", "Factor", "Criterion", "Answers (n)", "Level 1"]
    assert headers["Officers"][:3] == ["Officer", "Dossiers resolved", "On time"]
    assert headers["Survey data"][:4] == ["Respondent code", "Completed on", "Field", "Channel"]
    summary = [row for row in book["Summary"].iter_rows(values_only=True)]
    labels = [row[0] for row in summary if row and isinstance(row[0], str)]
    assert summary[0][1] == "SOCIALIST REPUBLIC OF VIET NAM"
    assert {"Unit", "Survey form", "Overall satisfaction index", "Resolved on time"} <= set(labels)
    assert ("Dossiers", "Count", None, None) in summary
    assert any(isinstance(v, str) and v.startswith("Reporting period: from 01/11/2026 to 30/11/2026") for v in labels)
    assert ("PREPARED BY", "HEAD OF THE UNIT", None, None) in summary
    assert book["Summary"].oddFooter.right.text == "Page &P of &N"
    shown = [
        value for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for value in row
        if isinstance(value, str)
    ]  # fmt: skip
    wording = vietnamese_wording()
    assert len(wording) > 100
    for value in shown:  # the workbook's own words, whole or inside a longer line (data, such as a form's, aside)
        found = [w for w in wording if value.strip() == w or (len(w.split()) >= 3 and w in value)]
        assert not found, value
    # and in Vietnamese (the default), the same path gives the Vietnamese workbook
    monkeypatch.delenv("SIPAS_LANG")
    status, _, err = cli("report", *NOVEMBER, "--format", "xlsx", "--out", str(path))
    assert status == 0, err
    assert openpyxl.load_workbook(io.BytesIO(path.read_bytes())).sheetnames[0] == "Tổng hợp"
