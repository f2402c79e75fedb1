"""The Zalo OA token chain across a kill: `sipasbot run` as a real subprocess, SIGKILLed mid-refresh."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.telegram_service import free_port

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
APP_ID, APP_SECRET, SECRET_KEY = "1234567890", "app-secret", "oa-secret-key"

pytestmark = pytest.mark.slow


def environment(emu: ZaloOAEmulator, database: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        {
            "SIPAS_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "SIPAS_HTTP_PORT": str(port),
            "SIPAS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SIPAS_ZALO_OA_APP_ID": APP_ID,
            "SIPAS_ZALO_OA_APP_SECRET": APP_SECRET,
            "SIPAS_ZALO_OA_SECRET_KEY": SECRET_KEY,
            "SIPAS_ZALO_OA_ACCESS_TOKEN": "AT-1",
            "SIPAS_ZALO_OA_REFRESH_TOKEN": "RT-1",
            "SIPAS_ZALO_OA_API_URL": emu.api_url,
            "SIPAS_ZALO_OA_OAUTH_URL": emu.oauth_url,
            "SIPAS_ZALO_CHAT_INTERVAL": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Service:
    """`sipasbot run` in a subprocess; its stderr kept."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen([SIPASBOT, "run"], env=env, stdout=sink, stderr=sink)
        self.port = int(env["SIPAS_HTTP_PORT"])

    async def health(self, timeout: float = 30.0, until: str | None = None) -> dict[str, Any]:  # noqa: ASYNC109
        """/healthz once the service answers it with its Zalo OA state (``until``: once that state is shown)."""
        async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        body: dict[str, Any] = await response.json()
                        state = body.get("channels", {}).get("zalo_oa")
                        if state is not None and until in (None, state):
                            return body
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    async def stop(self) -> str:
        """Stop it as an operator would (SIGTERM); what it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self.process.wait, 30)  # the emulators keep answering meanwhile
        return self.log.read_text(encoding="utf-8")


def stored_pair(database: Path) -> tuple[str, str, str]:
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT access_token, refresh_token, status FROM platform_tokens").fetchone()
    return row[0], row[1], row[2]


async def test_a_kill_between_the_refresh_answer_and_its_commit_is_reported_never_silent(tmp_path: Path) -> None:
    database = tmp_path / "sipasbot.db"
    async with ZaloOAEmulator(
        app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY, access_token="AT-1", refresh_token="RT-1"
    ) as emu:
        env = environment(emu, database, free_port())
        emu.webhook_url = f"{env['SIPAS_PUBLIC_URL']}/webhooks/zalo-oa"
        first = Service(env, tmp_path / "first.log")
        killed = asyncio.Event()

        def kill(_record: object) -> None:  # the OAuth answer is written: the pair rotated, the old one is spent
            first.process.send_signal(signal.SIGKILL)
            killed.set()

        emu.on_refresh = kill
        await asyncio.wait_for(killed.wait(), timeout=60)  # the first start refreshes the pair of the settings
        await asyncio.to_thread(first.process.wait, 30)
        emu.on_refresh = None
        assert emu.spent_refresh_tokens == ["RT-1"]
        rotated = stored_pair(database)[1] != "RT-1"  # the new pair reached the database before the kill

        second = Service(env, tmp_path / "second.log")
        try:
            health = await second.health()
            person = emu.person("2468458835296117922", display_name="An")
            await person.follow()
            await person.send_text("/trogiup")
            await person.wait_for(lambda p: bool(p.messages), timeout=30)  # the access token in hand still works
            assert "/khaosat" in person.last.text
            if rotated:
                assert health["channels"]["zalo_oa"] == "ok"
                return
            # the spent refresh token is tried once the instance leads delivery, which may come after /healthz
            # first answers (a slow machine): the refusal must then show, within seconds, and stay shown
            await second.health(until="reauthorise")
            assert len(emu.calls_to("/v4/oa/access_token")) == 2  # refused once, not tried again and again
        finally:
            log = await second.stop()
        assert "Zalo OA must be re-authorised by its administrator" in log
        assert "sipasbot zalo-oa tokens" in log
        assert stored_pair(database)[2] == "reauthorise"

        # the administrator grants access again and stores the new pair
        access, refresh = emu.grant()
        env_cli = {**env, "SIPAS_ZALO_OA_ACCESS_TOKEN": "", "SIPAS_ZALO_OA_REFRESH_TOKEN": ""}
        stored = await asyncio.to_thread(
            subprocess.run,
            [SIPASBOT, "zalo-oa", "tokens", "--access-token", access, "--refresh-token", refresh],
            env=env_cli,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert stored.returncode == 0, stored.stderr
        emu.expire_access_token("AT-1")  # the old access token ran out meanwhile
        third = Service(env, tmp_path / "third.log")
        try:
            assert (await third.health())["channels"]["zalo_oa"] == "ok"
            await person.send_text("/trogiup")
            await person.wait_for(lambda p: len(p.messages) == 2, timeout=30)
        finally:
            await third.stop()
        assert stored_pair(database) == (access, refresh, "active")
        assert emu.calls_to("/v3.0/oa/message/cs")[-1].headers["access_token"] == access
