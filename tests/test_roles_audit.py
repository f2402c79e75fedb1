"""Roles taken away and the audit log, as an administrator and the officers use them.

The administrator runs `sipasbot` in a terminal (real subprocesses on the service's database); officers and
leaders chat on Zalo (the Zalo Bot emulator talking to the running service); a few edge cases go through the
console chat of tests.helpers.
"""

from __future__ import annotations

import asyncio
import getpass
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, insert, select, table

from bot.cli import main as cli_main
from handlers.admin.invites import Roles
from handlers.context import Services
from storage import migrate
from storage.db import Database
from storage.models import AuditRow, DossierRow, FieldRow, PersonRow, RoleRow
from tests.conftest import Backend
from tests.emulators.zalo_bot import Person, ZaloBotEmulator
from tests.helpers import Person as ConsolePerson
from tests.helpers import add_unit
from tests.telegram_service import RunningService, running

pytestmark = pytest.mark.slow

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
TOKEN = "1459232241454765289:secret-abc"
OFFICER = "Trần Thị Bình"
CITIZEN = "Nguyễn Văn An"
PHONE = "0912 345 678"
PHONE_SPELLINGS = ("0912 345 678", "0912345678", "912345678", "+84912345678", "84912345678", "345 678", "345678")
REFUSED = "Chức năng này chỉ dành cho cán bộ"
USER = f"cli:{getpass.getuser()}"


@asynccontextmanager
async def zalo_service(url: str) -> AsyncIterator[tuple[ZaloBotEmulator, RunningService]]:
    """`sipasbot run` with the Zalo Bot channel (polling the emulator), wards P8 and P9 under the province T1."""
    settings: dict[str, Any] = {
        "zalo_bot_token": TOKEN,
        "zalo_bot_mode": "polling",
        "zalo_bot_rate": 300.0,
        "zalo_chat_interval": 0.02,
        "survey_tick_seconds": 1.0,
        "default_poll_timeout": 1.0,
    }
    emu = ZaloBotEmulator(token=TOKEN)
    async with emu, running(url, zalo_bot_api_url=emu.api_url, **settings) as service:
        units = service.app.units
        await units.add("T1", "Tỉnh Một")
        await units.add("P9", "Phường 9", "T1")
        yield emu, service


@dataclass
class Done:
    """What a command printed, and its exit status."""

    returncode: int
    stdout: str
    stderr: str


def cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env["SIPAS_DATABASE_URL"] = url
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def cli(url: str, *args: str, ok: bool = True, subprocess_: bool = False) -> Done:
    """`sipasbot ARGS` as the administrator types it, on the service's database.

    In this process (``bot.cli.main`` in a thread, its output captured), or as a real subprocess.
    """
    if subprocess_:
        ran = await asyncio.to_thread(
            subprocess.run,
            [SIPASBOT, *args],
            capture_output=True,
            text=True,
            env=cli_env(url),
            timeout=300,
            check=False,
        )
        done = Done(ran.returncode, ran.stdout, ran.stderr)
    else:
        out, err = io.StringIO(), io.StringIO()

        def call() -> int:
            with redirect_stdout(out), redirect_stderr(err):
                return cli_main(list(args))

        saved = os.environ.get("SIPAS_DATABASE_URL")
        os.environ["SIPAS_DATABASE_URL"] = url
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level  # main() configures logging: put the test's back after
        try:
            code = await asyncio.to_thread(call)
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
            if saved is None:
                os.environ.pop("SIPAS_DATABASE_URL", None)
            else:
                os.environ["SIPAS_DATABASE_URL"] = saved
        done = Done(code, out.getvalue(), err.getvalue())
    if ok:
        assert done.returncode == 0, done.stderr
    return done


async def ask(person: Person, text: str, expect: str, wait: float = 15.0) -> str:
    """Type ``text``; wait for a reply holding ``expect``; every reply since, joined."""
    before = len(person.texts)
    await person.send_text(text)
    await person.wait_for(lambda p: any(expect in t for t in p.texts[before:]), wait)
    return "\n".join(person.texts[before:])


def role_numbers(listing: str, officer: str) -> list[int]:
    """The numbers `roles list` gives the lines naming ``officer``."""
    return [int(m[1]) for m in re.finditer(r"^#(\d+) .*$", listing, re.M) if officer in m[0]]


async def put_returned(service: RunningService, code: str, phone: str | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = await service.put_dossier(
        code,
        CITIZEN,
        received=(now - timedelta(days=3)).isoformat(),
        due=(now + timedelta(days=2)).isoformat(),
        phone=phone,
        handler=OFFICER,
    )
    await service.event(code, "returned", (now - timedelta(minutes=1)).isoformat())
    return body


async def test_a_role_revoked_at_the_command_line_stops_working_at_once(backend: Backend) -> None:
    async with zalo_service(backend.url) as (emu, service):
        await service.put_dossier("P8-1", CITIZEN)
        invite = await cli(backend.url, "invite", "--role", "staff", "--unit", "P8", "--name", OFFICER)
        officer = emu.person("6ede9afa66b88fe6d6a9", display_name="Bình")
        await ask(officer, f"/join {invite.stdout.strip()}", "đã được cấp quyền cán bộ của Phường 8")
        assert "P8-1" in await ask(officer, "/hoso P8-1", "P8-1")

        listing = (await cli(backend.url, "roles", "list", "--unit", "P8")).stdout
        line = next(x for x in listing.splitlines() if OFFICER in x)
        assert "P8  cán bộ" in line
        assert "Zalo ••••d6a9" in line  # the chat masked
        assert officer.user_id not in listing
        assert f"cấp bởi {USER}" in line
        assert re.search(r"từ \d\d/\d\d/\d{4} \d\d:\d\d", line), line
        assert (await cli(backend.url, "roles", "list", "--unit", "P9")).stdout.strip() == "Không có quyền nào."
        [number] = role_numbers(listing, OFFICER)

        revoked = await cli(backend.url, "roles", "revoke", str(number), subprocess_=True)
        assert f"Đã thu hồi quyền #{number}: cán bộ {OFFICER} tại P8" in revoked.stdout
        await officer.wait_for(lambda p: "Quyền cán bộ của Ông/Bà tại Phường 8 đã được thu hồi" in p.last.text)
        refused = await ask(officer, "/hoso P8-1", REFUSED)
        assert "Nguyễn" not in refused
        assert "P8-1 —" not in refused

        again = await cli(backend.url, "roles", "revoke", str(number), ok=False)
        assert again.returncode == 2
        assert again.stderr.startswith("sipasbot: lỗi: không có quyền đang hiệu lực mang số")
        assert "Traceback" not in again.stderr
        for wrong in (["roles", "revoke", "abc"], ["roles", "list", "--unit", "XX"], ["audit", "list", "--unit", "XX"]):
            refused_cli = await cli(backend.url, *wrong, ok=False)
            assert refused_cli.returncode == 2, wrong
            said = [line for line in refused_cli.stderr.splitlines() if not line.startswith("WARNING apscheduler")]
            assert len(said) == 1, refused_cli.stderr  # one line, never a traceback
            assert said[0].startswith("sipasbot: lỗi: ")
        history = (await cli(backend.url, "roles", "list", "--unit", "P8", "--all")).stdout
        assert "đã thu hồi lúc" in history
        assert f"bởi {USER}" in history

        audit = (await cli(backend.url, "audit", "list", "--unit", "P8")).stdout
        assert re.search(rf"P8  {re.escape(USER)}  tạo mã cấp quyền \[invite\.create\]", audit), audit
        assert re.search(rf"P8  {re.escape(USER)}  cấp quyền \[role\.grant\]  unit:P8  .*chat:\d+", audit), audit
        assert re.search(rf"P8  {re.escape(USER)}  thu hồi quyền \[role\.revoke\]  unit:P8  role_id={number}", audit)


async def test_a_leader_revokes_in_chat_only_within_the_units_they_lead(backend: Backend) -> None:
    async with zalo_service(backend.url) as (emu, service):
        await service.put_dossier("P8-1", CITIZEN)
        roles = service.app.roles
        officer = emu.person("0a0a0a0a0a0a0a0a1111", display_name="Bình")
        await ask(officer, f"/join {await roles.invite('staff', 'P8', OFFICER)}", "đã được cấp quyền")
        p9_leader = emu.person("0b0b0b0b0b0b0b0b2222", display_name="Lãnh đạo P9")
        await ask(p9_leader, f"/join {await roles.invite('leader', 'P9')}", "đã được cấp quyền lãnh đạo")
        p8_leader = emu.person("0c0c0c0c0c0c0c0c3333", display_name="Lãnh đạo P8")
        await ask(p8_leader, f"/join {await roles.invite('leader', 'P8')}", "đã được cấp quyền lãnh đạo")

        # P9's leader sees nothing of P8 and cannot pick it by number
        nothing = await ask(p9_leader, "/thuhoi", "không có quyền nào Ông/Bà có thể thu hồi")
        assert OFFICER not in nothing
        assert "Phường 8" not in nothing
        assert OFFICER not in "\n".join(p9_leader.texts)
        # staff may not revoke at all
        assert REFUSED not in await ask(officer, "/thuhoi", "chỉ dành cho lãnh đạo")

        listing = await ask(p8_leader, "/thuhoi", "Xin chọn quyền cần thu hồi")
        assert f"1. cán bộ {OFFICER} — Phường 8 — Zalo ••••1111 — từ " in listing
        assert "Lãnh đạo P8" not in listing
        assert "••••3333" not in listing
        assert "••••2222" not in listing  # nor another ward's
        assert "Gõ số thứ tự" in listing
        assert "Xin gõ một số từ 1 đến 1" in await ask(p8_leader, "9", "Xin gõ một số")
        confirm = await ask(p8_leader, "1", "Thu hồi quyền:")
        assert OFFICER in confirm
        assert "1. Xác nhận thu hồi" in confirm
        done = await ask(p8_leader, "1", "Đã thu hồi quyền")
        assert OFFICER in done
        await officer.wait_for(lambda p: any("đã được thu hồi" in t for t in p.texts))
        assert REFUSED in await ask(officer, "/hoso P8-1", REFUSED)
        # the leader's own role still works
        assert "không có quyền nào" in await ask(p8_leader, "/thuhoi", "không có quyền nào")

        async with service.app.services.uow(read_only=True) as uow:
            chat = await uow.chats.get("zalo_bot", p8_leader.user_id)
            assert chat is not None
            rows = (await uow.connection.execute(select(AuditRow).where(AuditRow.action == "role.revoke"))).all()
        assert [(r.actor, r.subject) for r in rows] == [(f"chat:{chat.id}", "unit:P8")]


async def test_a_leader_can_cancel_and_a_forged_choice_of_another_ward_changes_nothing(services: Services) -> None:
    await add_unit(services, "P8", "Phường 8")
    await add_unit(services, "P9", "Phường 9")
    roles = Roles(services)
    officer = ConsolePerson(services, "binh")
    await officer.type(f"/join {await roles.invite('staff', 'P8', OFFICER)}")
    p9_leader = ConsolePerson(services, "leader9")
    await p9_leader.type(f"/join {await roles.invite('leader', 'P9')}")
    p8_leader = ConsolePerson(services, "leader8")
    await p8_leader.type(f"/join {await roles.invite('leader', 'P8')}")

    assert any("/thuhoi — thu hồi quyền" in r.text for r in await p8_leader.type("/trogiup"))
    listing = await p8_leader.type("/thuhoi")
    [option] = listing[-1].options
    assert option.value.startswith("q:")
    assert OFFICER in option.label
    # the P9 leader presses the P8 leader's button (a forged or copied value): nothing happens
    await p9_leader.type("/thuhoi")
    stale = await p9_leader.press(option.value)
    assert any("không còn trong phạm vi" in r.text for r in stale)
    stale = await p9_leader.press(option.value + ":ok")
    assert any("không còn trong phạm vi" in r.text for r in stale)
    # the P8 leader picks, then cancels with /huy: nothing is revoked, and the citizen side never hears it
    confirm = await p8_leader.press(option.value)
    assert confirm[-1].text.startswith("Thu hồi quyền:")
    cancelled = await p8_leader.type("/huy")
    assert [r.text for r in cancelled] == ["Đã hủy việc thu hồi quyền; không quyền nào bị thu hồi."]
    assert not any(REFUSED in r.text for r in await officer.type("/phananh"))
    async with services.uow(read_only=True) as uow:
        live = (await uow.connection.execute(select(RoleRow.id).where(RoleRow.revoked_at.is_(None)))).all()
    assert len(live) == 3

    # picked again and confirmed with its button
    await p8_leader.type("/thuhoi")
    await p8_leader.press(option.value)
    done = await p8_leader.press(option.value + ":ok")
    assert done[-1].text.startswith("Đã thu hồi quyền: cán bộ " + OFFICER)
    assert any(REFUSED in r.text for r in await officer.type("/phananh"))
    # an old button of the finished flow does nothing more
    assert any("không còn trong phạm vi" in r.text for r in await p8_leader.press(option.value + ":ok"))

    # an admin role is out of a leader's reach, not of an admin's; a revoked leader's /baocao is refused at once
    admin = ConsolePerson(services, "admin8")
    await admin.type(f"/join {await roles.invite('admin', 'P8')}")
    assert "••••" not in "".join(r.text for r in await p8_leader.type("/thuhoi"))  # nothing left for the leader
    listing = (await admin.type("/thuhoi"))[-1]
    assert [o.label.split(" — ")[0] for o in listing.options] == ["lãnh đạo (chưa ghi tên)"]
    assert "Xin gõ 1 để xác nhận" in (await admin.type("1"))[-1].hint
    assert (await admin.type("1"))[-1].text.startswith("Đã thu hồi quyền: lãnh đạo")
    assert (await p8_leader.type("/baocao"))[-1].text.startswith("Chức năng này chỉ dành cho lãnh đạo đơn vị")


async def test_an_officer_moved_to_another_ward_loses_the_old_one_at_once(backend: Backend) -> None:
    async with zalo_service(backend.url) as (emu, service):
        await service.put_dossier("P8-1", CITIZEN)
        roles = service.app.roles
        officer = emu.person("0d0d0d0d0d0d0d0d4444", display_name="Bình")
        await ask(officer, f"/join {await roles.invite('staff', 'P8', OFFICER)}", "đã được cấp quyền cán bộ")
        assert "P8-1" in await ask(officer, "/hoso P8-1", "P8-1")
        admin = emu.person("0e0e0e0e0e0e0e0e5555", display_name="Quản trị")
        await ask(admin, f"/join {await roles.invite('admin', 'P8')}", "đã được cấp quyền quản trị")

        moved = await ask(officer, f"/join {await roles.invite('staff', 'P9', OFFICER)}", "đã chấm dứt")
        assert "Ông/Bà đã được cấp quyền cán bộ của Phường 9" in moved
        assert "Quyền cán bộ của Ông/Bà tại Phường 8 đã chấm dứt" in moved
        assert "Không tìm thấy hồ sơ P8-1" in await ask(officer, "/hoso P8-1", "P8-1")
        # an admin may span units: a staff code of P9 does not take P8's admin role away
        await ask(admin, f"/join {await roles.invite('staff', 'P9')}", "Phường 9")
        assert "P8-1" in await ask(admin, "/hoso P8-1", "P8-1")
        assert "Không tìm thấy" not in admin.last.text

        listing = (await cli(backend.url, "roles", "list")).stdout
        assert re.search(rf"P9  cán bộ  {OFFICER}  Zalo ••••4444", listing), listing
        assert not re.search(rf"P8  cán bộ  {OFFICER}", listing), listing
        assert re.search(r"P8  quản trị  —  Zalo ••••5555", listing), listing
        audit = (await cli(backend.url, "audit", "list", "--unit", "P8")).stdout
        assert re.search(r"thu hồi quyền \[role\.revoke\]  unit:P8  .*reason=moved:P9", audit), audit
        assert (await cli(backend.url, "audit", "list", "--unit", "P9")).stdout.count("[role.revoke]") == 0


async def test_the_audit_log_names_who_did_every_privileged_act_and_never_a_phone(
    backend: Backend, tmp_path: Path
) -> None:
    async with zalo_service(backend.url) as (emu, service):
        url = backend.url
        made = await cli(url, "apikey", "create", "mot-cua-p8", "--scopes", "apologies:write", "--units", "P8")
        key = made.stdout.strip()
        citizen = emu.person("0f0f0f0f0f0f0f0f6666", display_name="Dân")
        first = await put_returned(service, "P8-1", phone=PHONE)
        await put_returned(service, "P8-2", phone=PHONE)
        await service.put_dossier("P9-1", "Lê Thị Cúc")  # another ward's dossier (PUT into P8 by the test key)
        await ask(citizen, f"/start {first['optin']['token']}", "Đồng ý")
        await ask(citizen, "1", "đã được liên kết")

        invite = (await cli(url, "invite", "--role", "staff", "--unit", "P8", "--name", OFFICER)).stdout.strip()
        officer = emu.person("1a1a1a1a1a1a1a1a7777", display_name="Bình")
        await ask(officer, f"/join {invite}", "đã được cấp quyền")
        await ask(officer, "/xinloi P8-1 saisot", "Bước 1/2")
        await ask(officer, "1", "Bước 2/2")
        await ask(officer, "1", "Đã lập phiếu xin lỗi")
        async with service.session.post(
            f"{service.base_url}/api/v1/dossiers/P8-2/apology",
            json={"kind": "error", "reason": "Sai sót khi nhập tên", "issued_by": "Lê Văn Cường"},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            assert response.status == 201, await response.text()

        await ask(citizen, "/xoadulieu", "xoá dữ liệu")
        await ask(citizen, "1", "đã được xoá")
        out = tmp_path / "p8.json"
        await cli(url, "report", "--unit", "P8", "--format", "json", "--out", str(out))
        listing = (await cli(url, "roles", "list", "--unit", "P8")).stdout
        await cli(url, "roles", "revoke", *map(str, role_numbers(listing, OFFICER)))
        await cli(url, "apikey", "revoke", "mot-cua-p8")

        async with service.app.services.uow(read_only=True) as uow:
            officer_chat = await uow.chats.get("zalo_bot", officer.user_id)
            assert officer_chat is not None
        chat = f"chat:{officer_chat.id}"
        everything = await cli(url, "audit", "list")
        lines = everything.stdout.splitlines()
        assert lines[0].startswith("Nhật ký kiểm tra, ")

        def entry(action: str) -> str:
            found = [line for line in lines if f"[{action}]" in line]
            assert found, (action, everything.stdout)
            return found[-1]

        at = r"\d\d/\d\d/\d{4} \d\d:\d\d"
        assert re.match(rf"{at}  —  {re.escape(USER)}  tạo khóa API \[apikey\.create\]", entry("apikey.create"))
        assert re.match(rf"{at}  —  {re.escape(USER)}  thu hồi khóa API \[apikey\.revoke\]", entry("apikey.revoke"))
        assert re.match(rf"{at}  P8  {re.escape(USER)}  tạo mã cấp quyền", entry("invite.create"))
        assert re.match(rf"{at}  P8  {re.escape(USER)}  cấp quyền \[role\.grant\].*chat={chat}", entry("role.grant"))
        assert re.match(rf"{at}  P8  {re.escape(USER)}  thu hồi quyền \[role\.revoke\]", entry("role.revoke"))
        issued = [line for line in lines if "[apology.issue]" in line]
        assert len(issued) == 2
        assert re.match(rf"{at}  P8  {chat}  lập phiếu xin lỗi .*dossier:P8-1  issued_by={OFFICER}", issued[0])
        assert re.match(rf"{at}  P8  apikey:mot-cua-p8  lập phiếu xin lỗi .*dossier:P8-2", issued[1])
        assert re.match(rf"{at}  P8  person:\d+  xóa dữ liệu cá nhân \[erase\]  person:\d+", entry("erase"))
        assert re.match(
            rf"{at}  P8  {re.escape(USER)}  ghi tệp báo cáo .*file={re.escape(str(out))}", entry("export.write")
        )
        assert re.match(rf"{at}  P8  chat:\d+  người dân đồng ý liên kết \[consent\]", entry("consent"))
        for spelling in PHONE_SPELLINGS:
            assert spelling not in everything.stdout
        assert CITIZEN not in everything.stdout

        by_unit = (await cli(url, "audit", "list", "--unit", "P8")).stdout
        assert "[apikey.create]" not in by_unit
        assert "[role.grant]" in by_unit
        assert "[erase]" in by_unit
        assert (await cli(url, "audit", "list", "--unit", "P9")).stdout.strip().startswith("Nhật ký kiểm tra chưa có")
        tomorrow = (date.today() + timedelta(days=2)).isoformat()
        assert "chưa có mục nào" in (await cli(url, "audit", "list", "--since", tomorrow)).stdout
        english = await cli(url, "--lang", "en", "audit", "list", "--unit", "P8")
        assert "role revoked [role.revoke]" in english.stdout
        assert english.stdout.startswith("Audit log, ")


async def test_migration_0016_attributes_earlier_audit_rows_to_their_units(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate.upgrade(database, "0014")
        now = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
        async with database.engine.begin() as connection:
            units = table("units", column("id"), column("code"), column("name"), column("created_at"))  # as at 0014
            await connection.execute(insert(units).values(id=1, code="P8", name="Phường 8", created_at=now))
            await connection.execute(insert(FieldRow).values(id=1, name="Hộ tịch"))
            await connection.execute(insert(PersonRow).values(id=5, name="X", locale="vi", created_at=now))
            await connection.execute(
                insert(DossierRow).values(
                    id=1, code="P8-1", unit_id=1, procedure_name="p", field="Hộ tịch", field_id=1, channel="truc_tiep",
                    applicant_id=5, state="received", received_at=now, due_at=now, optin_token="t", zalo_optin=False,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
            for subject in ("unit:P8", "dossier:P8-1", "person:5", "apikey:1", None):
                await connection.execute(
                    insert(AuditRow.__table__).values(at=now, actor="cli", action="x", subject=subject, detail=None)
                )
        await migrate.upgrade(database)
        async with database.engine.connect() as connection:
            rows = (await connection.execute(select(AuditRow.subject, AuditRow.unit_id).order_by(AuditRow.id))).all()
        assert [tuple(r) for r in rows] == [
            ("unit:P8", 1), ("dossier:P8-1", 1), ("person:5", 1), ("apikey:1", None), (None, None)
        ]  # fmt: skip
    finally:
        await database.close()


def test_the_cli_in_process_records_the_operating_system_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert cli_main(["units", "add", "P8", "Phường 8"]) == 0
    assert cli_main(["invite", "--role", "leader", "--unit", "P8"]) == 0
    capsys.readouterr()
    assert cli_main(["audit", "list", "--unit", "P8"]) == 0
    out = capsys.readouterr().out
    assert f"P8  {USER}  tạo mã cấp quyền [invite.create]  unit:P8  role=leader lead=false" in out
    assert cli_main(["roles", "list"]) == 0
    assert capsys.readouterr().out.strip() == "Không có quyền nào."
    assert cli_main(["zalo-oa", "tokens", "--access-token", "AT-secret-1", "--refresh-token", "RT-secret-2"]) == 0
    capsys.readouterr()
    assert cli_main(["audit", "list"]) == 0
    out = capsys.readouterr().out
    assert f"—  {USER}  lưu cặp mã truy cập Zalo OA [zalo_oa.tokens]  channel:zalo_oa  expires_in=90000" in out
    assert "secret" not in out
