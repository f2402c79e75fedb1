"""Staff and leaders act by typing where there are no buttons: ``sipasbot shell`` and the Zalo Bot platform.

Every staff and leader action offered as a button is typeable, unambiguously when several are listed: each
complaint shows the commands that act on it (``/traloi <n> <nội dung>``, ``/dong <n>``, n its number); an
at-risk warning and the offer of an error apology show the ``/xinloi`` command that starts the apology; the
apology's steps and a leader's ``/thuhoi`` take the numbers shown. An officer reads what the bot shows, then
types it: the tests read the commands from what was shown, never from the code.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.cli import main
from bot.config import load_settings
from handlers.admin.invites import Roles
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.staff.alerts import Alerts
from tests.conftest import Backend
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.helpers import sample_dossier
from tests.telegram_service import running
from tests.test_staff_units import say
from tests.test_zalo_bot import TOKEN, bot_settings, link

FIRST = "Cán bộ hướng dẫn chưa rõ ràng, tôi phải đi lại ba lần"
SECOND = "Bộ phận một cửa không có chỗ ngồi chờ cho người cao tuổi"
ELSEWHERE = "Phường 9 trả kết quả chậm mà không báo trước"
ANSWER = "Ủy ban đã bố trí thêm ghế chờ tại bộ phận một cửa từ tuần này"
NOT_FOUND_COMPLAINT = "Không tìm thấy phản ánh #{id} trong đơn vị của Ông/Bà."
COMPLAINTS = (("P8-AN", FIRST), ("P8-BINH", SECOND), ("P9-HUONG", ELSEWHERE))  # each dossier's citizen complains


async def dossiers(services: Services, now: datetime) -> dict[str, str]:
    """P8: two citizens' dossiers, one running late, one returned; P9: a dossier of its own. Their tokens."""
    handler = DossierHandler(services)
    tokens = {}
    for code, unit, name, phone in (
        ("P8-AN", "P8", "Nguyễn Văn An", "0912 345 678"),
        ("P8-BINH", "P8", "Trần Thị Bình", "0912 000 222"),
        ("P9-HUONG", "P9", "Phạm Thị Hương", "0903 000 111"),
    ):
        made = await handler.upsert(
            sample_dossier(
                code=code,
                unit=unit,
                received_at=now - timedelta(days=3),
                due_at=now + timedelta(hours=20),
                name=name,
                phone=phone,
            )
        )
        tokens[code] = made.dossier.optin_token
    done = sample_dossier(
        code="P8-DONE",
        received_at=now - timedelta(days=9),
        due_at=now - timedelta(days=1),
        name="Đỗ Văn Em",
        phone=None,
    )
    await handler.upsert(done)
    await handler.add_event("P8-DONE", "result_ready", now - timedelta(days=3))
    await handler.add_event("P8-DONE", "returned", now - timedelta(days=2))
    return tokens


def card_of(shown: str, complaint: str, others: tuple[str, ...]) -> str:
    """The part of what was shown that is the card of ``complaint``: from its text to the next card's."""
    start = shown.index(complaint)
    ends = [shown.index(other) for other in others if other in shown and shown.index(other) > start]
    return shown[start : min(ends, default=len(shown))]


def shown_command(text: str, command: str) -> str:
    """The number a card shows with ``command`` (``/traloi 12 …`` → ``12``)."""
    found = re.search(rf"{re.escape(command)} #?(\d+)", text)
    assert found, f"no {command} shown in:\n{text}"
    return found[1]


class Shell:
    """``sipasbot shell`` on one SQLite file, typed into as a person at the terminal would."""

    def __init__(self, database: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.database = database
        self.url = f"sqlite+aiosqlite:///{database}"
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.tokens: dict[str, str] = {}  # each dossier's opt-in token

    def environment(self) -> None:
        for name in [n for n in os.environ if n.startswith("SIPAS_")]:
            self.monkeypatch.delenv(name)
        self.monkeypatch.setenv("SIPAS_DATABASE_URL", self.url)

    def __call__(self, *args: str, typed: tuple[str, ...] = ()) -> str:
        self.monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in typed)))
        assert main(["shell", *args]) == 0
        out: str = self.capsys.readouterr().out
        return out

    def staff(self, *typed: str) -> str:
        return self("--as", "staff", "--unit", "P8", "--name", "Lê Văn Cường", "--user", "staff-8", typed=typed)

    def citizen(self, user: str, *typed: str) -> str:
        return self("--as", "citizen", "--user", user, typed=typed)

    def query(self, sql: str, *values: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.database)) as connection:
            return connection.execute(sql, values).fetchall()

    def on_app(self, work: Any) -> Any:
        async def run() -> Any:
            app = App(load_settings(database_url=self.url))
            await app.start()
            try:
                return await work(app)
            finally:
                await app.close()

        return asyncio.run(run())


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Shell:
    made = Shell(tmp_path / "sipasbot.db", monkeypatch, capsys)

    async def build(app: App) -> dict[str, str]:
        await app.units.add("P8", "Phường 8")
        await app.units.add("P9", "Phường 9")
        return await dossiers(app.services, datetime.now(UTC))

    made.tokens = made.on_app(build)
    made.environment()
    return made


def test_in_the_shell_an_officer_answers_the_second_complaint_and_closes_the_first_by_typing(shell: Shell) -> None:
    for (code, complaint), user in zip(COMPLAINTS, ("an", "binh", "huong"), strict=True):
        said = shell.citizen(user, f"/start {shell.tokens[code]}", "1", complaint, "1")
        assert "đã được chuyển đến" in said, said

    listed = shell.staff("/phananh")
    assert FIRST in listed
    assert SECOND in listed
    assert ELSEWHERE not in listed  # P9's complaint is not P8's staff's
    first, second = card_of(listed, FIRST, (SECOND,)), card_of(listed, SECOND, (FIRST,))
    # each card says how to act on it by typing, with its own number; no bare "1. Trả lời / 2. Đóng" that
    # would be the same for every card
    assert "1. Trả lời" not in listed
    answer_second, close_first = shown_command(second, "/traloi"), shown_command(first, "/dong")
    assert answer_second != shown_command(first, "/traloi")
    (elsewhere,) = shell.query("SELECT id FROM feedback WHERE text = ?", ELSEWHERE)

    done = shell.staff(
        f"/traloi {answer_second} {ANSWER}",
        f"/dong {close_first}",
        f"/dong {elsewhere[0]}",  # another unit's complaint, its number guessed: not found, nothing changes
        f"/traloi {elsewhere[0]} {ANSWER}",
        "/dong",
    )
    assert f"Đã gửi câu trả lời cho người dân (phản ánh #{answer_second})." in done
    assert f"Đã đóng phản ánh #{close_first}." in done
    assert done.count(NOT_FOUND_COMPLAINT.format(id=elsewhere[0])) == 2
    assert "/dong <" in done  # the command typed without a number: how to type it
    assert "Traceback" not in done

    assert ANSWER in shell.citizen("binh")  # the citizen of the second complaint gets the answer
    assert ANSWER not in shell.citizen("an")  # the other does not
    assert ANSWER not in shell.citizen("huong")
    states = dict(shell.query("SELECT text, status FROM feedback"))
    assert states == {FIRST: "closed", SECOND: "answered", ELSEWHERE: "received"}

    # an officer's help says how, and a number typed with nothing open says what to type instead
    helped = shell.staff("/trogiup", "1")
    assert "/traloi <số> <nội dung>" in helped
    assert "/dong <số>" in helped
    assert "quét mã QR" not in helped  # not the citizen's answer
    assert "Xin gõ lệnh in dưới" in helped


def test_in_the_shell_the_apologies_offered_by_a_warning_and_by_a_refusal_complete_by_typing_alone(
    shell: Shell,
) -> None:
    shell.staff()  # the officer joins: the warnings find the chat
    warned = shell.on_app(lambda app: Alerts(app.services).scan_at_risk())
    assert warned >= 1
    shown = shell.staff()  # the warnings waiting are shown when the shell opens
    warning = card_of(shown, "⚠️ Hồ sơ P8-AN", ("⚠️ Hồ sơ P8-BINH",))
    started = re.search(r"/xinloi P8-AN\b", warning)
    assert started, warning
    issued = shell.staff(started[0], "1", "1", "1")
    assert "Đã lập phiếu xin lỗi số 01/PXL cho hồ sơ P8-AN" in issued

    refused = shell.staff("/xinloi P8-DONE")  # returned: no delay apology, an error apology offered instead
    offered = re.search(r"/xinloi P8-DONE saisot", refused.split("> /xinloi P8-DONE", 1)[1])
    assert offered, refused
    assert "1. Lập phiếu xin lỗi do sai sót" not in refused
    issued = shell.staff(offered[0], "1", "1")
    assert "Đã lập phiếu xin lỗi do sai sót số 02/PXL cho hồ sơ P8-DONE" in issued
    kinds = shell.query("SELECT d.code, a.kind FROM apologies a JOIN dossiers d ON d.id = a.dossier_id ORDER BY a.id")
    assert kinds == [("P8-AN", "delay"), ("P8-DONE", "error")]


def test_in_the_shell_a_leader_takes_a_role_away_by_typing_the_number_shown(shell: Shell) -> None:
    shell.staff()
    shell("--as", "staff", "--unit", "P9", "--name", "Đinh Thị Nga", "--user", "staff-9")
    leader = ("--as", "leader", "--unit", "P8", "--user", "lead-8")
    listed = shell(*leader, typed=("/thuhoi",))
    lines = [line for line in listed.splitlines() if "Lê Văn Cường" in line]
    assert len(lines) == 1, listed  # each role listed once, with its number
    assert "Đinh Thị Nga" not in listed  # P9's officer is not P8's leader's to take away
    number = re.match(r"\s*(\d+)\.", lines[0])
    assert number, lines[0]
    done = shell(*leader, typed=("/thuhoi", number[1], "1"))
    assert "Đã thu hồi quyền: cán bộ Lê Văn Cường" in done
    assert shell.query("SELECT count(*) FROM roles WHERE officer_name = ? AND revoked_at IS NULL", "Lê Văn Cường") == [
        (0,)
    ]


async def test_on_the_zalo_bot_an_officer_answers_and_closes_by_typing_and_apologises_from_a_warning(
    backend: Backend,
) -> None:
    async with (
        ZaloBotEmulator(token=TOKEN, account_name="bot.SipasTest") as emu,
        running(backend.url, **bot_settings(emu, "polling")) as service,
    ):
        app, services = service.app, service.app.services
        await app.units.add("P9", "Phường 9")
        tokens = await dossiers(services, datetime.now(UTC))
        officer = emu.person("a8000000000000000001", "Cán bộ P8")
        joined = await say(officer, f"/join {await Roles(services).invite('staff', 'P8', 'Lê Văn Cường')}")
        assert "đã được cấp quyền" in joined[-1]
        an = emu.person("c8000000000000000001", "An")
        binh = emu.person("c8000000000000000002", "Bình")
        huong = emu.person("c9000000000000000001", "Hương")
        for citizen, (code, complaint) in zip((an, binh, huong), COMPLAINTS, strict=True):
            await link(citizen, tokens[code])
            await say(citizen, complaint)
            await say(citizen, "1", lambda texts: any("đã được chuyển đến" in t for t in texts))
        # the notice of each new complaint already says how to answer it by typing
        await officer.wait_for(lambda p: sum("Phản ánh mới" in t for t in p.texts) == 2, timeout=30)
        notice = next(t for t in officer.texts if "Phản ánh mới" in t and SECOND in t)
        assert "/traloi" in notice

        listed = "\n".join(await say(officer, "/phananh", lambda texts: any(SECOND in t for t in texts)))
        first, second = card_of(listed, FIRST, (SECOND,)), card_of(listed, SECOND, (FIRST,))
        number = shown_command(second, "/traloi")
        prompt = await say(officer, f"/traloi {number}")  # the answer in a message of its own, as after the button
        assert f"phản ánh #{number}" in prompt[0]
        sent = await say(officer, ANSWER)
        assert sent == [f"Đã gửi câu trả lời cho người dân (phản ánh #{number})."]
        await binh.wait_for(lambda p: any(ANSWER in t for t in p.texts), timeout=30)
        closing_ = shown_command(first, "/dong")
        assert await say(officer, f"/dong {closing_}") == [f"Đã đóng phản ánh #{closing_}."]
        async with services.uow(read_only=True) as uow:
            p9 = await uow.units.get_by_code("P9")
            assert p9 is not None
            (elsewhere,) = await uow.feedback.open_for([p9.id], 10)
        assert await say(officer, f"/dong {elsewhere.id}") == [NOT_FOUND_COMPLAINT.format(id=elsewhere.id)]

        await Alerts(services).scan_at_risk()
        await officer.wait_for(lambda p: any(t.startswith("⚠️ Hồ sơ P8-BINH") for t in p.texts), timeout=30)
        warning = next(t for t in officer.texts if t.startswith("⚠️ Hồ sơ P8-BINH"))
        started = re.search(r"/xinloi P8-BINH\b", warning)
        assert started, warning
        await say(officer, started[0])
        await say(officer, "1")
        await say(officer, "1")
        issued = await say(officer, "1", lambda texts: any("Đã lập phiếu xin lỗi" in t for t in texts))
        assert any("Đã lập phiếu xin lỗi số 01/PXL cho hồ sơ P8-BINH" in t for t in issued)
        await binh.wait_for(lambda p: any("P8-BINH" in t and "xin lỗi" in t.lower() for t in p.texts), timeout=30)
        assert not any(ANSWER in t for t in an.texts + huong.texts)
        assert not any("xin lỗi" in t.lower() for t in an.texts + huong.texts)
