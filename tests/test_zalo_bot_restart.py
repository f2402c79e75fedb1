"""The Zalo Bot platform forgets an update once getUpdates hands it out: a kill must not lose the answer in it.

`sipasbot run` as a real subprocess is SIGKILLed after it read a person's answer and before it handled it;
the next start handles the answer kept in its inbox, once.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.channels.zalo_bot import HOLD_ENV
from storage.db import Database
from storage.models import AnswerRow, InboxRow
from storage.uow import UnitOfWork
from tests.conftest import Backend
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.processes import SIPASBOT, local_service_env, service_process
from tests.telegram_service import free_port

TOKEN = "1459232241454765289:secret-abc"
HELD = "test hook: a Zalo Bot update held before handling"

pytestmark = pytest.mark.slow


def service_env(backend: Backend, emulator: ZaloBotEmulator, port: int) -> dict[str, str]:
    return local_service_env(
        backend.url,
        port,
        SIPAS_SURVEY_TICK_SECONDS="0.2",
        SIPAS_ZALO_BOT_TOKEN=TOKEN,
        SIPAS_ZALO_BOT_API_URL=emulator.api_url,
        SIPAS_ZALO_BOT_MODE="polling",
        SIPAS_ZALO_CHAT_INTERVAL="0",
        PYTHONUNBUFFERED="1",
    )


def logged(log: Path) -> str:
    with log.open(encoding="utf-8", errors="replace") as text:
        return text.read()


def tail(log: Path) -> str:
    return logged(log)[-3000:]


async def until_logged(text: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60.0) -> None:
    """Wait until the process wrote ``text`` to its log (polled; the process never stops to wait for us)."""
    async with asyncio.timeout(seconds):
        while text not in logged(log):
            assert process.poll() is None, tail(log)
            await asyncio.sleep(0.05)


async def until_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(60):
        while True:
            assert process.poll() is None, tail(log)
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)


async def cli(env: dict[str, str], *args: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run, [SIPASBOT, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_an_answer_read_just_before_a_kill_is_handled_after_the_restart_once(
    backend: Backend, tmp_path: Path
) -> None:
    log = tmp_path / "service.log"
    async with ZaloBotEmulator(token=TOKEN, default_poll_timeout=1.0) as emu:
        port = free_port()
        env = service_env(backend, emu, port)
        await cli(env, "units", "add", "P8", "Phường 8")
        key = (await cli(env, "apikey", "create", "test", "--scopes", "dossiers:write", "--units", "all")).strip()
        person = emu.person("6ede9afa66b88fe6d6a9", display_name="Nguyễn Văn An")
        now = datetime.now(UTC)
        api = f"http://127.0.0.1:{port}/api/v1/dossiers/P8-001"
        with service_process({**env, HOLD_ENV: "1"}, log) as first:
            await until_healthy(port, first, log)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
                dossier = {
                    "unit": "P8",
                    "procedure": "Đăng ký khai sinh",
                    "field": "Hộ tịch",
                    "applicant": {"name": "Nguyễn Văn An"},
                    "received_at": (now - timedelta(days=2)).isoformat(),
                    "due_at": (now + timedelta(days=2)).isoformat(),
                    "channel": "truc_tiep",
                }
                async with session.put(api, json=dossier) as response:
                    assert response.status == 201, await response.text()
                    token = (await response.json())["optin"]["token"]
                await person.send_text(f"/start {token}")
                await person.wait_for(lambda p: "1. Đồng ý" in p.last.text, timeout=60)
                await person.send_text("đồng ý")
                await person.wait_for(lambda p: any("đã được liên kết" in t for t in p.texts), timeout=60)
                async with session.post(api + "/events", json={"type": "returned", "at": now.isoformat()}) as answer:
                    assert answer.status == 202, await answer.text()
            await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=60)
            await person.send_text("1")  # the answer to question 1, read by the service and held unhandled
            await until_logged(HELD, first, log)
            assert emu.pending_updates == []  # the platform has handed it out: it will never give it again
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert not person.last.text.startswith("Câu 2/33")

        with service_process(env, log) as second:
            await until_healthy(port, second, log)
            await person.wait_for(lambda p: p.last.text.startswith("Câu 2/33"), timeout=60)
            await person.send_text("1")
            await person.wait_for(lambda p: p.last.text.startswith("Câu 3/33"), timeout=60)
        assert sum(text.startswith("Câu 2/33") for text in person.texts) == 1
        assert sum(text.startswith("Câu 1/33") for text in person.texts) == 1

    database = Database(backend.url)
    try:
        async with UnitOfWork(database, read_only=True) as uow:
            answers = await uow.connection.scalar(select(func.count(AnswerRow.id)))
            kept = await uow.connection.scalar(select(func.count(InboxRow.id)))
    finally:
        await database.close()
    assert answers == 2
    assert kept == 0  # a handled update is not kept: it holds the person's chat id and words
