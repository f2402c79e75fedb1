"""`sipasbot shell` beside a running `sipasbot run`: what the service sends a console chat reaches the shell.

The shell and the service are two processes sharing the database. The service delivers console messages
to the console's inbox (nothing stays pending for the "outbox oldest" alert), and the shell shows them:
those that came while it was closed when it opens, the others as they arrive — without waiting for Enter,
whether its input is a pipe or a terminal.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from handlers.messages import Identity, Inbound
from storage.tables.messaging import OUTBOX
from tests.conftest import Backend
from tests.telegram_service import RunningService, running
from tests.test_terminal import Terminal

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
LINKED = "Cuộc trò chuyện này đã được liên kết với hồ sơ “Đăng ký khai sinh”"
SURVEY = "Hồ sơ: Đăng ký khai sinh — trả kết quả ngày"
TICK = {"survey_tick_seconds": 0.2}  # due invitations are looked for this often

pytestmark = pytest.mark.slow


def just_now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def shell_env(url: str, tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    environment.update(SIPAS_DATABASE_URL=url, SIPAS_FILES_DIR=str(tmp_path / "tep"), PYTHONUNBUFFERED="1")
    return environment


async def console_rows(service: RunningService, recipient: str) -> list[tuple[str, str]]:
    """(status, text) of every message to the console chat ``recipient``, in order."""
    async with service.app.services.uow(read_only=True) as uow:
        rows = await uow.connection.execute(
            select(OUTBOX.c.status, OUTBOX.c.payload)
            .where(OUTBOX.c.channel == "console", OUTBOX.c.recipient == recipient)
            .order_by(OUTBOX.c.id)
        )
        return [(status, payload.get("text", "")) for status, payload in rows]


async def settled(service: RunningService, recipient: str, seconds: float = 10.0) -> list[tuple[str, str]]:
    """The chat's messages once none is pending any more (the assertion says what stayed pending)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        rows = await console_rows(service, recipient)
        if rows and all(status != "pending" for status, _ in rows):
            return rows
        assert asyncio.get_running_loop().time() < deadline, f"still pending after {seconds} s: {rows}"
        await asyncio.sleep(0.05)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def linked_chat(service: RunningService, code: str, recipient: str) -> None:
    """The citizen of dossier ``code`` links the console chat ``recipient`` and consents (as the shell would)."""
    body = await service.put_dossier(code, "Nguyễn Văn An", phone="0912 345 678")
    chat = Identity("console", recipient)
    await service.service.handle(Inbound(chat, uuid.uuid4().hex, "text", text=f"/start {body['optin']['token']}"))
    await service.service.handle(Inbound(chat, uuid.uuid4().hex, "choice", value="c:yes"))


class Shell:
    """``sipasbot shell`` in a subprocess whose input is a pipe kept open; its output read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""

    async def expect(self, wanted: str, seconds: float = 15.0) -> None:
        assert self.process.stdout is not None
        deadline = asyncio.get_running_loop().time() + seconds
        while wanted not in self.output:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"{wanted!r} not printed within {seconds} s; the shell printed:\n{self.output}"
            try:
                chunk = await asyncio.wait_for(self.process.stdout.read(65536), timeout=left)
            except TimeoutError:
                continue
            assert chunk, f"the shell ended before printing {wanted!r}:\n{self.output}"
            self.output += chunk.decode("utf-8", "replace")

    async def close(self) -> tuple[int, str]:
        """End its input (Ctrl-D); its exit status and the rest of what it printed."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        rest = await asyncio.wait_for(self.process.stdout.read(), timeout=30)
        self.output += rest.decode("utf-8", "replace")
        return await asyncio.wait_for(self.process.wait(), timeout=30), self.output


@asynccontextmanager
async def shell(url: str, tmp_path: Path, *args: str) -> AsyncIterator[Shell]:
    process = await asyncio.create_subprocess_exec(
        SIPASBOT,
        "shell",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=shell_env(url, tmp_path),
    )
    try:
        yield Shell(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_console_messages_are_delivered_to_the_inbox_and_the_shell_opened_later_shows_them(
    backend: Backend, tmp_path: Path
) -> None:
    async with running(backend.url) as service:
        await service.service.leading.wait()
        await linked_chat(service, "P8-1", "an")
        rows = await settled(service, "an")  # delivered to the console's inbox: nothing waits for a platform
        assert [status for status, _ in rows] == ["unread", "unread"], rows
        status, metrics = await get(service.base_url + "/metrics")
        assert status == 200
        assert 'sipas_outbox_pending{channel="console"}' not in metrics
        assert 'sipas_outbox_oldest_seconds{channel="console"}' not in metrics
        assert 'sipas_deliveries_total{channel="console",outcome="delivered"} 2.0' in metrics
        status, health = await get(service.base_url + "/healthz")
        assert status == 200, health

        async with shell(backend.url, tmp_path, "--as", "citizen", "--user", "an") as opened:
            await opened.expect("Ông/Bà có đồng ý không?")  # what came while the shell was closed
            await opened.expect(LINKED)
            exit_status, output = await opened.close()
        assert exit_status == 0, output
        assert output.count(LINKED) == 1  # shown once
        assert [status for status, _ in await console_rows(service, "an")] == ["sent", "sent"]

        async with shell(backend.url, tmp_path, "--as", "citizen", "--user", "an") as reopened:
            exit_status, output = await reopened.close()
        assert exit_status == 0, output
        assert LINKED not in output  # already shown: not again


async def test_an_open_shell_prints_what_the_service_sends_without_any_enter(backend: Backend, tmp_path: Path) -> None:
    async with running(backend.url, **TICK) as service:
        await service.service.leading.wait()
        await linked_chat(service, "P8-2", "binh")
        async with shell(backend.url, tmp_path, "--as", "citizen", "--user", "binh") as opened:
            await opened.expect(LINKED)
            # the dossier is returned at the desk: the service invites the citizen, the shell waits for nothing
            await service.event("P8-2", "returned", just_now())
            await opened.expect(SURVEY)
            await settled(service, "binh")
            exit_status, output = await opened.close()
        assert exit_status == 0, output
        assert output.count(SURVEY) == 1
        assert "> " not in output  # nothing was typed


async def test_at_a_terminal_the_shell_prints_what_arrives_while_the_prompt_waits(
    backend: Backend, tmp_path: Path
) -> None:
    async with running(backend.url, **TICK) as service:
        await service.service.leading.wait()
        await linked_chat(service, "P8-3", "chi")
        terminal = Terminal(shell_env(backend.url, tmp_path), "shell", "--as", "citizen", "--user", "chi", cwd=tmp_path)
        try:
            await asyncio.to_thread(terminal.expect, LINKED, 30)
            await asyncio.to_thread(terminal.expect, "> ")
            await service.event("P8-3", "returned", just_now())
            await asyncio.to_thread(terminal.expect, SURVEY, 15)
            await asyncio.to_thread(terminal.expect, "> ")  # the prompt again, under what arrived
            terminal.type(b"\x04")  # Ctrl-D
            assert await asyncio.to_thread(terminal.exit_status) == 0
        finally:
            terminal.close()


def run_shell(env: dict[str, str], *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIPASBOT, "shell", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize("role", ["staff", "leader"])
def test_the_citizen_shell_and_an_officers_shell_without_user_are_different_chats(tmp_path: Path, role: str) -> None:
    env = shell_env(f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}", tmp_path)
    added = subprocess.run([SIPASBOT, "units", "add", "P8", "Phường 8"], env=env, capture_output=True, check=False)
    assert added.returncode == 0, added.stderr
    officer = run_shell(env, "--as", role, "--unit", "P8", stdin="/trogiup\n")
    assert officer.returncode == 0, officer.stderr
    assert "đã được cấp quyền" in officer.stdout, officer.stdout
    assert f"(cuộc trò chuyện “console-{role}”)" in officer.stdout

    citizen = run_shell(env, "--as", "citizen", stdin="/trogiup\n")  # trying the officer's shell changed nothing
    assert citizen.returncode == 0, citizen.stderr
    assert "với tư cách người dân (cuộc trò chuyện “console”)" in citizen.stdout
    assert "/khaosat — làm (hoặc tiếp tục) phiếu khảo sát" in citizen.stdout, citizen.stdout
    assert "Lệnh dành cho" not in citizen.stdout

    again = run_shell(env, "--as", role, "--unit", "P8", stdin="/trogiup\n")  # the officer's chat is still theirs
    assert again.returncode == 0, again.stderr
    assert "Lệnh dành cho" in again.stdout, again.stdout


def test_a_shell_reopened_in_the_middle_of_a_survey_shows_the_question_that_waits(tmp_path: Path) -> None:
    env = shell_env(f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}", tmp_path)
    demo = subprocess.run([SIPASBOT, "demo"], input="5\n4\n", capture_output=True, text=True, env=env, check=False)
    assert demo.returncode == 0, demo.stderr
    assert "Câu 3/33" in demo.stdout
    user = re.findall(r"sipasbot shell --as citizen --user (\S+)", demo.stdout)[-1]

    reopened = run_shell(env, "--as", "citizen", "--user", user, stdin="")
    assert reopened.returncode == 0, reopened.stderr
    assert "Câu 3/33" in reopened.stdout  # asked before the demo ended: shown again, nothing typed
    assert "Câu 2/33" not in reopened.stdout
    answered = run_shell(env, "--as", "citizen", "--user", user, stdin="3\n")
    assert "Câu 3/33" in answered.stdout.split("> 3", 1)[0]
    assert "Câu 4/33" in answered.stdout.split("> 3", 1)[1]
