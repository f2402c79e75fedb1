"""Staff and leaders stay inside their unit in chat: a staff member and a leader of P9 try every staff and leader
command on P8's dossiers and complaint — nothing of P8 is read or changed.

First on Zalo (the real service polling the Zalo Bot emulator over loopback HTTP), with a staff member of P8
beside them as the control (the same commands work for P8's own staff); then in the console, where a chat
can press buttons it was never offered (a P8 complaint's "Trả lời" and "Đóng", a P8 dossier's apology), and in
``sipasbot shell --as staff|leader --unit P9`` as an officer at the terminal types.
"""

from __future__ import annotations

import asyncio
import io
import os
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
from handlers.privacy import mask_name, mask_phone
from handlers.staff.alerts import Alerts
from storage.models import AnswerRow, ApologyRow, DossierRow, DraftRow, FeedbackRow, InvitationRow, PersonRow
from tests.conftest import Backend, Clock
from tests.emulators.zalo_bot import Person as ZaloPerson
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.helpers import Person, add_unit, sample_dossier
from tests.helpers import snapshot as rows_of
from tests.telegram_service import running
from tests.test_zalo_bot import TOKEN, bot_settings, link

CITIZEN = "Nguyễn Văn An"
PHONE = "0912 345 678"
COMPLAINT = "Cán bộ hướng dẫn chưa rõ ràng, tôi phải đi lại ba lần"
NOT_FOUND = "Không tìm thấy hồ sơ {code} trong đơn vị của Ông/Bà."
OTHER = "Đỗ Văn Em"
REFUSED = "Chức năng này chỉ dành cho cán bộ đã được cấp quyền."
P8_WORDS = (
    CITIZEN,
    mask_name(CITIZEN),
    mask_phone(PHONE),
    "Phường 8",
    "P8-",
    "chưa rõ ràng",
    OTHER,
    mask_name(OTHER),
)
STATE = (DossierRow, ApologyRow, FeedbackRow, DraftRow, AnswerRow, InvitationRow, PersonRow)


async def snapshot(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of what a staff command could change: dossiers, apologies, complaints, drafts, surveys, people."""
    return await rows_of(services, STATE)


def leaks(texts: list[str], asked: tuple[str, ...] = ()) -> list[str]:
    """The messages that show anything of P8 (a refusal may repeat the code the officer typed, nothing more)."""
    found = []
    for text in texts:
        bare = text
        for code in asked:
            bare = bare.replace(NOT_FOUND.format(code=code), "")
        if any(word in bare for word in P8_WORDS):
            found.append(text)
    return found


async def p8_and_p9(services: Services, now: datetime) -> dict[str, Any]:
    """P8: a dossier running late, a returned one, a citizen who complains; P9: a dossier of its own."""
    dossiers = DossierHandler(services)
    late = await dossiers.upsert(
        sample_dossier(
            code="P8-LATE", received_at=now - timedelta(days=3), due_at=now + timedelta(hours=20), name=CITIZEN
        )
    )
    done = sample_dossier(
        code="P8-DONE", received_at=now - timedelta(days=9), due_at=now - timedelta(days=1), name=OTHER, phone=None
    )
    await dossiers.upsert(done)
    await dossiers.add_event("P8-DONE", "result_ready", now - timedelta(days=3))
    await dossiers.add_event("P8-DONE", "returned", now - timedelta(days=2))
    own = sample_dossier(
        code="P9-1",
        unit="P9",
        received_at=now - timedelta(days=3),
        due_at=now + timedelta(hours=20),
        name="Phạm Thị Hương",
        phone="0903 000 111",
    )
    await dossiers.upsert(own)
    return {"token": late.dossier.optin_token, "late_id": late.dossier.id}


async def say(person: ZaloPerson, text: str, done: Any = None) -> list[str]:
    """Type ``text`` and wait for the answer (until ``done(texts)`` holds, when given); the texts that came."""
    before = len(person.messages)
    await person.send_text(text)
    until = done or (lambda texts: bool(texts))
    await person.wait_for(lambda p: until([m.text for m in p.messages[before:]]), timeout=30)
    return [m.text for m in person.messages[before:]]


async def test_a_staff_member_and_a_leader_of_p9_on_zalo_reach_nothing_of_p8(backend: Backend) -> None:
    async with (
        ZaloBotEmulator(token=TOKEN, account_name="bot.SipasTest") as emu,
        running(backend.url, **bot_settings(emu, "polling")) as service,
    ):
        app, services = service.app, service.app.services
        await app.units.add("P9", "Phường 9")
        now = datetime.now(UTC)
        made = await p8_and_p9(services, now)
        roles = Roles(services)
        p8_staff = emu.person("a8000000000000000001", "Cán bộ P8")
        p9_staff = emu.person("a9000000000000000001", "Cán bộ P9")
        p9_leader = emu.person("a9000000000000000002", "Lãnh đạo P9")
        for person, role, unit, name in (
            (p8_staff, "staff", "P8", "Trần Thị Bình"),
            (p9_staff, "staff", "P9", "Lê Văn Cường"),
            (p9_leader, "leader", "P9", None),
        ):
            joined = await say(person, f"/join {await roles.invite(role, unit, name)}")
            assert "đã được cấp quyền" in joined[-1]

        # P8's citizen links their chat and sends a complaint: P8's staff are told, P9's are not
        citizen = emu.person("c8000000000000000001", "Người dân")
        await link(citizen, made["token"])
        offer = await say(citizen, COMPLAINT)
        assert "Gửi phản ánh tới cán bộ" in offer[-1]
        await say(citizen, "1")
        await p8_staff.wait_for(lambda p: any("Phản ánh mới" in t for t in p.texts), timeout=30)

        before = await snapshot(services)
        asked = ("P8-LATE", "P8-DONE")
        for command, expected in (
            ("/hoso P8-LATE", NOT_FOUND.format(code="P8-LATE")),
            ("/xinloi P8-LATE", NOT_FOUND.format(code="P8-LATE")),
            ("/xinloi P8-DONE saisot", NOT_FOUND.format(code="P8-DONE")),
            ("/hoso P8-DONE", NOT_FOUND.format(code="P8-DONE")),
            ("/phananh", "Không có phản ánh nào đang chờ xử lý."),
            ("1", None),  # no step is open: a "1" answers nothing of P8's
        ):
            replies = await say(p9_staff, command)
            if expected is not None:
                assert replies == [expected], (command, replies)
        own = await say(p9_staff, "/hoso P9-1")  # the unit's own dossier: shown, its applicant masked
        assert own[0].startswith("Hồ sơ P9-1")
        assert "P. T. H." in own[0]

        for command in ("/hoso P8-LATE", "/xinloi P8-LATE", "/phananh"):
            (refused,) = await say(p9_leader, command)  # a leader is not staff: refused before any lookup
            assert refused.startswith(REFUSED), (command, refused)
        for command in ("/baocao", "/baocao tháng trực thuộc", "/baocao năm"):
            digest = await say(p9_leader, command, lambda texts: any("Tải tệp:" in t for t in texts))
            assert "Phường 9" in digest[0]
        # the scheduled side: the at-risk scan and the morning digests go to each unit's own people only
        await Alerts(services).scan_at_risk()
        for unit in ("P8", "P9"):
            await app.digests.queue(await app.digests.build(unit, now.date()), datetime.now(UTC), repeat=True)
        await p8_staff.wait_for(lambda p: any(t.startswith("⚠️ Hồ sơ P8-LATE") for t in p.texts), timeout=30)
        await p9_staff.wait_for(lambda p: any(t.startswith("⚠️ Hồ sơ P9-1") for t in p.texts), timeout=30)
        await p9_leader.wait_for(lambda p: any(t.startswith("BẢN TIN NGÀY") for t in p.texts), timeout=30)

        assert await snapshot(services) == before  # nothing of P8 (or of anyone) changed
        assert leaks(p9_staff.texts, asked) == []
        assert leaks(p9_leader.texts) == []
        # the control: P8's own staff member reads and acts on P8's dossier with the very same commands
        (shown,) = await say(p8_staff, "/hoso P8-LATE")
        assert shown.startswith("Hồ sơ P8-LATE")
        assert "N. V. A." in shown
        started = await say(p8_staff, "/xinloi P8-LATE")
        assert started[0].startswith("Phiếu xin lỗi cho hồ sơ P8-LATE")
        listed = await say(p8_staff, "/phananh", lambda texts: any(COMPLAINT in t for t in texts))
        assert any(COMPLAINT in t for t in listed)


async def test_buttons_of_p8_pressed_in_a_p9_chat_read_and_change_nothing(services: Services, clock: Clock) -> None:
    """In the console a chat can press any button value: P8's complaint and dossier buttons, from a P9 officer."""
    await add_unit(services)
    await add_unit(services, "P9", "Phường 9")
    made = await p8_and_p9(services, clock.now)
    citizen = Person(services, "citizen-8")
    await citizen.link(made["token"])
    await citizen.type(COMPLAINT)
    await citizen.press_label("Có")
    roles = Roles(services)
    p8_staff, p9_staff, p9_leader = Person(services, "staff-8"), Person(services, "staff-9"), Person(services, "lead-9")
    await p8_staff.type(f"/join {await roles.invite('staff', 'P8', 'Trần Thị Bình')}")
    await p9_staff.type(f"/join {await roles.invite('staff', 'P9', 'Lê Văn Cường')}")
    await p9_leader.type(f"/join {await roles.invite('leader', 'P9')}")
    await p8_staff.type("/phananh")
    offered = [o.value for r in p8_staff.seen for o in r.options if o.value.startswith("f:")]
    assert offered  # P8's own staff were offered "Trả lời" and "Đóng" on the complaint
    late_id = made["late_id"]
    forged = [*offered, f"x:{late_id}:s", f"x:{late_id}:e", f"x:{late_id}:r:1", f"x:{late_id}:ok"]

    before = await snapshot(services)
    for officer in (p9_staff, p9_leader):
        for value in forged:
            replies = await officer.press(value)
            assert officer.last_outcome is not None
            assert officer.last_outcome.ack in ("Thao tác này không còn hiệu lực.", "Phản ánh này đã được đóng."), value
            assert leaks([r.text for r in replies]) == [], value
        # typing after a forged "Trả lời" answers no complaint: there is no step open
        await officer.type("Chúng tôi đã xử lý xong phản ánh của Ông/Bà")
        for command in ("/hoso P8-LATE", "/xinloi P8-LATE", "/xinloi P8-DONE saisot", "/phananh", "/baocao"):
            replies = await officer.type(command)
            assert leaks([r.text for r in replies], ("P8-LATE", "P8-DONE")) == [], (command, replies)
    assert await snapshot(services) == before
    assert not any("trả lời ý kiến" in r.text for r in await citizen.receive())


def test_the_console_shell_of_a_p9_officer_and_leader_shows_nothing_of_p8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sipasbot shell --as staff|leader --unit P9``, as an officer at the terminal types, on P8's dossiers."""
    database = tmp_path / "sipasbot.db"
    url = f"sqlite+aiosqlite:///{database}"

    async def build() -> dict[str, Any]:
        app = App(load_settings(database_url=url))
        await app.start()
        try:
            await app.units.add("P8", "Phường 8")
            await app.units.add("P9", "Phường 9")
            return await p8_and_p9(app.services, datetime.now(UTC))
        finally:
            await app.close()

    made = asyncio.run(build())
    for name in [n for n in os.environ if n.startswith("SIPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)

    def shell(*args: str, typed: list[str]) -> str:
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in typed)))
        assert main(["shell", *args]) == 0
        out: str = capsys.readouterr().out
        return out

    # P8's citizen complains from the terminal: agrees to the notice, writes, sends it as a complaint
    said = shell("--as", "citizen", "--user", "citizen-8", typed=[f"/start {made['token']}", "1", COMPLAINT, "1"])
    assert "Phản ánh (mã hồ sơ P8-LATE) đã được chuyển đến Phường 8" in said

    def rows() -> dict[str, list[tuple[Any, ...]]]:
        with closing(sqlite3.connect(database)) as connection:
            return {
                model.__tablename__: connection.execute(f"SELECT * FROM {model.__tablename__} ORDER BY 1").fetchall()
                for model in STATE
            }

    before = rows()
    commands = ["/hoso P8-LATE", "/xinloi P8-LATE", "1", "/xinloi P8-DONE saisot", "/phananh", "/baocao", "/huy"]
    staff = shell("--as", "staff", "--unit", "P9", "--name", "Lê Văn Cường", "--user", "staff-9", typed=commands)
    leader = shell("--as", "leader", "--unit", "P9", "--user", "lead-9", typed=commands)
    assert rows() == before
    assert staff.count(NOT_FOUND.format(code="P8-LATE")) == 2
    assert NOT_FOUND.format(code="P8-DONE") in staff
    assert "Không có phản ánh nào đang chờ xử lý." in staff
    assert leader.count(REFUSED) == 4
    assert "BẢN TIN NGÀY" in leader
    for out in (staff, leader):
        shown = [line for line in out.splitlines() if not line.startswith("> ")]  # the lines typed, echoed
        assert leaks(shown, ("P8-LATE", "P8-DONE")) == []
