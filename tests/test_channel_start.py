"""`sipasbot run` starts whatever the network: every channel on its own, the web at once, one deliverer per file.

A platform that cannot be reached (a closed port, a name that does not resolve) is tried again in the background
while the API, the webhooks and the public page serve, and `/healthz` says 503 and which channel cannot send; a
token the platform refuses stops that channel alone, in one log line without the token; a platform that comes up
later gets what waited for it; a second `sipasbot run` on the same SQLite file stands by instead of delivering too,
and takes over when the first dies.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handlers.messages import Identity, Inbound
from storage import migrate
from storage.db import Database
from tests.conftest import Backend
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.processes import local_service_env
from tests.telegram_service import free_port, running

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
TELEGRAM_TOKEN = "918273:TG-start-tokEn-q8Zr"
ZALO_BOT_TOKEN = "1459232241454765289:zb-start-token-x1"
APP_ID, APP_SECRET, SECRET_KEY = "1234567890", "oa-app-S3cret-9k", "oa-secret-key-4Lm"
ACCESS, REFRESH = "AT-start-pair-x7", "RT-start-pair-x7"
HELP = "/trogiup"


def closed_port() -> int:
    """A local port nothing listens on: a connection to it is refused at once."""
    return free_port()


async def health(base_url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(base_url + "/healthz") as response:
        return response.status, await response.json()


async def health_until(
    base_url: str, predicate: Callable[[int, dict[str, Any]], bool], alive: Callable[[], str | None] = lambda: None
) -> tuple[int, dict[str, Any]]:
    """/healthz once ``predicate(status, body)`` holds (polled; ``alive`` says why the service is gone, if it is)."""
    last: tuple[int, dict[str, Any]] | None = None
    try:
        async with asyncio.timeout(30):
            while True:
                gone = alive()
                assert gone is None, gone
                try:
                    last = await health(base_url)
                    if predicate(*last):
                        return last
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"/healthz never showed it; last: {last}") from None


def base_env(database: Path, port: int) -> dict[str, str]:
    return local_service_env(f"sqlite+aiosqlite:///{database}", port, PTB_TIMEDELTA="true", PYTHONUNBUFFERED="1")


class Process:
    """`sipasbot run` in a subprocess, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.base_url = f"http://127.0.0.1:{env['SIPAS_HTTP_PORT']}"
        with log.open("ab") as sink:
            self.process = subprocess.Popen([SIPASBOT, "run"], env=env, stdout=sink, stderr=sink)

    def printed(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def gone(self) -> str | None:
        """None while it runs; else why it stopped (its output)."""
        code = self.process.poll()
        return None if code is None else f"`sipasbot run` stopped ({code}):\n{self.printed()[-3000:]}"

    async def terminate(self) -> float:
        """SIGTERM, as systemd stops it; the seconds it took to exit."""
        began = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self.process.wait, 30)
        return time.monotonic() - began


async def test_with_no_platform_reachable_the_service_serves_and_health_names_each_channel(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = {
        "telegram_token": TELEGRAM_TOKEN,
        "telegram_api_url": f"http://127.0.0.1:{closed_port()}/bot",  # refused
        "zalo_bot_token": ZALO_BOT_TOKEN,
        "zalo_bot_api_url": "http://bot-api.sipas.invalid/bot",  # no such name
        "zalo_oa_app_id": APP_ID,
        "zalo_oa_app_secret": APP_SECRET,
        "zalo_oa_secret_key": SECRET_KEY,
        "zalo_oa_access_token": ACCESS,
        "zalo_oa_refresh_token": REFRESH,
        "zalo_oa_api_url": "http://openapi.sipas.invalid",
        "zalo_oa_oauth_url": "http://oauth.sipas.invalid",
        "channel_retry_seconds": 60.0,  # the state holds still while the test looks
    }
    async with running(backend.url, **settings) as service:
        status, body = await health_until(
            service.base_url,
            lambda _s, b: all(
                str(b.get("channels", {}).get(name, "")).startswith("connecting (retry in ")
                for name in ("telegram", "zalo_bot", "zalo_oa")
            ),
        )
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["database"] == "ok"
        assert sorted(body["cannot_send"]) == ["telegram", "zalo_bot", "zalo_oa"]
        assert body["channels"]["delivery"] == "this instance"
        # the API and the public page serve all the same
        await service.put_dossier("P8-001", "Nguyễn Văn An")
        async with service.session.get(f"{service.base_url}/cong-khai/P8") as response:
            assert response.status == 200
            assert "Phường 8" in await response.text()
        began = time.monotonic()  # stopped (SIGTERM) while every channel waits to try again: at once
    assert time.monotonic() - began < 5
    lines = [r.getMessage() for r in caplog.records if r.name.split(".")[0] == "bot"]
    for name in ("telegram", "zalo_bot", "zalo_oa"):
        assert sum(line.startswith(f"{name} cannot start") for line in lines) == 1, lines
    for secret in (TELEGRAM_TOKEN, ZALO_BOT_TOKEN, APP_SECRET, ACCESS, REFRESH):
        assert all(secret not in line for line in lines)


async def test_a_refused_token_stops_that_channel_alone_in_one_log_line(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        TelegramEmulator(token="918273:the-right-token") as tg,
        ZaloBotEmulator(token="1459232241454765289:the-right-one") as zb,
        ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY, access_token=ACCESS,
                       refresh_token=REFRESH) as oa,
    ):  # fmt: skip
        settings = {
            "telegram_token": TELEGRAM_TOKEN,  # not the bot's: getMe answers 401
            "telegram_api_url": tg.api_url,
            "zalo_bot_token": ZALO_BOT_TOKEN,
            "zalo_bot_api_url": zb.api_url,
            "zalo_oa_app_id": APP_ID,
            "zalo_oa_app_secret": APP_SECRET,
            "zalo_oa_secret_key": SECRET_KEY,
            "zalo_oa_access_token": ACCESS,
            "zalo_oa_refresh_token": REFRESH,
            "zalo_oa_api_url": oa.api_url,
            "zalo_oa_oauth_url": oa.oauth_url,
            "zalo_chat_interval": 0.0,
            "channel_retry_seconds": 0.05,
        }
        async with running(backend.url, **settings) as service:
            oa.webhook_url = service.base_url + "/webhooks/zalo-oa"
            status, body = await health_until(
                service.base_url, lambda _s, b: b.get("channels", {}).get("zalo_oa") == "ok"
            )
            assert status == 503
            assert body["channels"]["telegram"] == "token refused"
            assert body["channels"]["zalo_bot"] == "token refused"
            assert body["cannot_send"] == ["telegram", "zalo_bot"]
            # the Zalo OA, the API and the public page work
            follower = oa.person("2468458835296117922", display_name="Nguyễn Văn An")
            await follower.follow()
            await follower.send_text(HELP)
            await follower.wait_for(lambda p: HELP in p.last.text, timeout=30)
            await service.put_dossier("P8-1", "Trần Thị Bình")
            async with service.session.get(service.base_url + "/cong-khai/P8") as response:
                assert response.status == 200
            # never tried again: a refused token needs a new setting
            assert tg.stats.errors == {401: 1}
            assert [c.method for c in zb.calls] == ["getMe"]
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("bot", "handlers", "storage", "scheduler")]
    lines = [r.getMessage() for r in ours]
    telegram = [line for line in lines if "SIPAS_TELEGRAM_TOKEN" in line]
    zalo_bot = [line for line in lines if "SIPAS_ZALO_BOT_TOKEN" in line]
    assert telegram == [
        "SIPAS_TELEGRAM_TOKEN: Telegram từ chối mã (token) của bot; hãy kiểm tra lại giá trị này. "
        "Kênh này dừng lại; API, trang công khai và các kênh khác vẫn chạy. "
        "Sửa giá trị này rồi khởi động lại dịch vụ (systemctl restart sipasbot)."
    ]
    assert len(zalo_bot) == 1
    assert zalo_bot[0].startswith("SIPAS_ZALO_BOT_TOKEN: nền tảng Zalo Bot từ chối mã (token) của bot")
    assert [r.levelname for r in ours if "SIPAS_" in r.getMessage()] == ["ERROR", "ERROR"]
    for line in lines:
        assert TELEGRAM_TOKEN not in line
        assert ZALO_BOT_TOKEN not in line


async def test_a_platform_that_comes_up_later_gets_what_waited_and_its_polling_starts(backend: Backend) -> None:
    tg_port, zb_port = free_port(), free_port()
    settings = {
        "telegram_token": TELEGRAM_TOKEN,
        "telegram_api_url": f"http://127.0.0.1:{tg_port}/bot",  # nothing listens there yet
        "telegram_chat_interval": 0.0,
        "zalo_bot_token": ZALO_BOT_TOKEN,
        "zalo_bot_api_url": f"http://127.0.0.1:{zb_port}/bot",
        "zalo_chat_interval": 0.0,
        "channel_retry_seconds": 0.1,
        "channel_retry_max_seconds": 0.2,
    }
    async with running(backend.url, **settings) as service:
        await service.service.leading.wait()
        status, body = await health(service.base_url)
        assert status == 503
        assert body["channels"]["telegram"].startswith("connecting")
        assert body["channels"]["zalo_bot"].startswith("connecting")
        # replies queued for both channels while neither can be reached (as a webhook or another instance would)
        handle = service.service.handle
        await handle(Inbound(Identity("telegram", "700001"), "tg-1", "text", text=HELP))
        await handle(Inbound(Identity("zalo_bot", "zb-user-1"), "zb-1", "text", text=HELP))
        async with service.session.get(service.base_url + "/metrics") as response:
            metrics = await response.text()
        assert 'sipas_outbox_pending{channel="telegram"} 1.0' in metrics  # kept, not lost
        assert 'sipas_outbox_pending{channel="zalo_bot"} 1.0' in metrics
        async with (
            TelegramEmulator(token=TELEGRAM_TOKEN, port=tg_port) as tg,
            ZaloBotEmulator(token=ZALO_BOT_TOKEN, port=zb_port) as zb,
        ):
            waited_tg = tg.person(700001, started=True)
            waited_zb = zb.person("zb-user-1", has_written=True)
            await waited_tg.wait_for(lambda p: HELP in p.last.text, timeout=30)
            await waited_zb.wait_for(lambda p: HELP in p.last.text, timeout=30)
            # both channels poll now: people who write get their answer
            writer_tg = tg.person(700002)
            await writer_tg.send_text(HELP)
            await writer_tg.wait_for(lambda p: HELP in p.last.text, timeout=30)
            writer_zb = zb.person("zb-user-2")
            await writer_zb.send_text(HELP)
            await writer_zb.wait_for(lambda p: HELP in p.last.text, timeout=30)
            status, body = await health(service.base_url)
            assert (status, body["channels"]) == (
                200,
                {"telegram": "ok", "zalo_bot": "ok", "delivery": "this instance"},
            )
            assert "cannot_send" not in body
            assert len(waited_tg.texts) == len(waited_zb.texts) == 1  # each waiting reply once


@pytest.mark.slow
async def test_a_second_run_on_one_sqlite_file_stands_by_and_takes_over_when_the_first_dies(tmp_path: Path) -> None:
    async with TelegramEmulator(token=TELEGRAM_TOKEN, per_chat=None, global_rate=None) as tg:

        def env_for(port: int) -> dict[str, str]:
            env = base_env(tmp_path / "sipasbot.db", port)
            env.update(
                SIPAS_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
                SIPAS_TELEGRAM_API_URL=tg.api_url,
                SIPAS_TELEGRAM_CHAT_INTERVAL="0",
                SIPAS_LOCK_RETRY_SECONDS="0.5",
                SIPAS_SURVEY_TICK_SECONDS="0.2",
            )
            return env

        first_env = env_for(free_port())
        database = Database(first_env["SIPAS_DATABASE_URL"])
        await migrate.upgrade(database)
        await database.close()
        first = Process(first_env, tmp_path / "first.log")
        second: Process | None = None
        try:
            await health_until(first.base_url, lambda s, b: s == 200, first.gone)
            second = Process(env_for(free_port()), tmp_path / "second.log")
            status, body = await health_until(
                second.base_url, lambda _s, b: b.get("channels", {}).get("telegram") == "ok", second.gone
            )
            assert body["channels"]["delivery"] == "standby"  # the first one delivers and schedules
            assert (status, body["delivery"]) == (200, "ok")
            assert "another instance delivers and schedules" in second.printed()
            person = tg.person(700003)
            await person.send_text(HELP)
            await person.wait_for(lambda p: HELP in p.last.text, timeout=30)
            # never two instances polling at once (after a kill, the dead one's long poll may still conflict once)
            assert [c for c in tg.calls if c.method == "getUpdates" and c.status == 409] == []
            # the first dies without a word: the second takes over
            first.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.process.wait, 10)
            await health_until(
                second.base_url, lambda _s, b: b.get("channels", {}).get("delivery") == "this instance", second.gone
            )
            await person.send_text(HELP)
            await person.wait_for(lambda p: len(p.texts) == 2, timeout=30)
        finally:
            await first.terminate()
            if second is not None:
                await second.terminate()
    assert second is not None
    assert "now delivers and schedules" in first.printed()
    assert second.printed().count("now delivers and schedules") == 1  # only after the first died
    assert all(HELP in text for text in person.texts)
    assert tg.stats.too_many_requests == 0
