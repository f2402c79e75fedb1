"""No token, key, webhook secret or invite code in what `sipasbot run` prints, whatever happens.

The service runs as a real subprocess with every channel configured against the emulators (Telegram polling,
the Zalo Bot platform by webhook, the Zalo OA and ZNS), takes a `/join` with an invite code, API calls with a key,
webhooks with their secrets (and forged ones), a rotation of the Zalo OA token pair, then each platform refusing
our credentials; a second start with a bot token Telegram refuses says so in one line and serves the rest.
Everything it printed is searched for every secret.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.processes import local_service_env
from tests.telegram_service import free_port

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
TELEGRAM_TOKEN = "918273:TG-tokEn-secret-q8Zr"
TELEGRAM_SECRET = "tg-webhook-S3cret-77"
ZALO_BOT_TOKEN = "1459232241454765289:zb-secret-token-x1"
ZALO_BOT_SECRET = "zb-webhook-S3cret-55"
APP_ID, APP_SECRET, SECRET_KEY = "1234567890", "oa-app-S3cret-9k", "oa-secret-key-4Lm"
ACCESS, REFRESH = "AT-first-pair-x7", "RT-first-pair-x7"
TEMPLATE = "350001"

pytestmark = pytest.mark.slow


def environment(
    database: Path, port: int, tg: TelegramEmulator, zb: ZaloBotEmulator, oa: ZaloOAEmulator
) -> dict[str, str]:
    return local_service_env(
        f"sqlite+aiosqlite:///{database}",
        port,
        SIPAS_SURVEY_TICK_SECONDS="0.2",
        SIPAS_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
        SIPAS_TELEGRAM_API_URL=tg.api_url,
        SIPAS_TELEGRAM_MODE="polling",
        SIPAS_TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        SIPAS_TELEGRAM_CHAT_INTERVAL="0",
        SIPAS_ZALO_BOT_TOKEN=ZALO_BOT_TOKEN,
        SIPAS_ZALO_BOT_API_URL=zb.api_url,
        SIPAS_ZALO_BOT_MODE="webhook",
        SIPAS_ZALO_BOT_WEBHOOK_SECRET=ZALO_BOT_SECRET,
        SIPAS_ZALO_OA_APP_ID=APP_ID,
        SIPAS_ZALO_OA_APP_SECRET=APP_SECRET,
        SIPAS_ZALO_OA_SECRET_KEY=SECRET_KEY,
        SIPAS_ZALO_OA_ACCESS_TOKEN=ACCESS,
        SIPAS_ZALO_OA_REFRESH_TOKEN=REFRESH,
        SIPAS_ZALO_OA_API_URL=oa.api_url,
        SIPAS_ZALO_OA_OAUTH_URL=oa.oauth_url,
        SIPAS_ZNS_API_URL=oa.zns_url,
        SIPAS_ZNS_RATING_TEMPLATE_ID=TEMPLATE,
        SIPAS_ZALO_CHAT_INTERVAL="0",
        PTB_TIMEDELTA="true",
        PYTHONUNBUFFERED="1",
    )


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([SIPASBOT, *args], env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def logged(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen([SIPASBOT, "run"], env=env, stdout=sink, stderr=sink)


async def until(predicate: Callable[[], bool], log: Path, seconds: float = 30.0) -> None:
    """Wait until ``predicate`` holds (polled: the service and the emulators never stop to wait for us)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError("not seen in time; the service printed:\n" + logged(log)[-3000:]) from None


async def test_no_secret_reaches_the_logs_or_an_error_message(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    async with (
        TelegramEmulator(token=TELEGRAM_TOKEN) as tg,
        ZaloBotEmulator(token=ZALO_BOT_TOKEN) as zb,
        ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY, access_token=ACCESS,
                       refresh_token=REFRESH) as oa,
    ):  # fmt: skip
        oa.zns.add_template(TEMPLATE, params=[("ho_ten", 30), ("ma_ho_so", 50), ("ngay_tra", 20)], rating=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = environment(tmp_path / "sipasbot.db", port, tg, zb, oa)
        await asyncio.to_thread(cli, env, "units", "add", "P8", "Phường 8")
        making = ("apikey", "create", "one-stop", "--scopes", "dossiers:write", "--units", "all")
        key = await asyncio.to_thread(cli, env, *making)
        code = await asyncio.to_thread(cli, env, "invite", "--role", "staff", "--unit", "P8")
        secrets = [TELEGRAM_TOKEN, TELEGRAM_SECRET, ZALO_BOT_TOKEN, ZALO_BOT_SECRET, APP_SECRET, SECRET_KEY]
        secrets += [ACCESS, REFRESH, key, code]

        service = start(env, log)
        try:
            async with aiohttp.ClientSession() as session:
                oa.webhook_url = base + "/webhooks/zalo-oa"

                async def healthy() -> None:
                    async with asyncio.timeout(60):
                        while True:
                            assert service.poll() is None, logged(log)
                            try:
                                async with session.get(base + "/healthz") as answer:
                                    if answer.status == 200:
                                        return
                            except aiohttp.ClientError:
                                pass
                            await asyncio.sleep(0.1)

                await healthy()
                # Telegram: an officer joins with the invite code
                officer = tg.person(user_id=700_001, first_name="Bình")
                await officer.send_command("/join", code)
                await officer.wait_for(lambda p: "cấp quyền cán bộ" in p.last.text, timeout=30)
                # the API with the key (a dossier whose citizen gets ZNS), and with a wrong key
                now = datetime.now(UTC)
                headers = {"Authorization": f"Bearer {key}"}
                dossier = {
                    "unit": "P8",
                    "procedure": "Đăng ký khai sinh",
                    "field": "Hộ tịch",
                    "applicant": {"name": "Trần Văn Ba", "phone": "0912345678"},
                    "received_at": (now - timedelta(days=2)).isoformat(),
                    "due_at": (now + timedelta(days=2)).isoformat(),
                    "channel": "truc_tiep",
                    "zalo_optin": True,
                }
                async with session.put(base + "/api/v1/dossiers/P8-1", json=dossier, headers=headers) as answer:
                    assert answer.status == 201, await answer.text()
                event = {"type": "returned", "at": now.isoformat()}
                async with session.post(base + "/api/v1/dossiers/P8-1/events", json=event, headers=headers) as answer:
                    assert answer.status == 202, await answer.text()
                wrong = {"Authorization": f"Bearer {key[:-4]}XXXX"}
                async with session.get(base + "/api/v1/dossiers/P8-1", headers=wrong) as answer:
                    assert answer.status == 401
                await until(lambda: bool(oa.zns.sent), log)
                # webhooks: forged ones, and the real ones with their secrets
                for path, header in (
                    ("/webhooks/telegram", "X-Telegram-Bot-Api-Secret-Token"),
                    ("/webhooks/zalo-bot", "X-Bot-Api-Secret-Token"),
                ):
                    async with session.post(base + path, json={}, headers={header: "forged-secret"}) as answer:
                        assert answer.status == 403
                async with session.post(
                    base + "/webhooks/telegram",
                    data=b"not json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
                ) as answer:
                    assert answer.status < 500
                citizen = zb.person("6ede9afa66b88fe6d6a9", display_name="Lê Thị Cúc")
                await citizen.send_text(f"/join {code}")  # a spent code, through the Zalo Bot webhook
                await citizen.wait_for(lambda p: bool(p.messages), timeout=30)
                follower = oa.person("2468458835296117922", display_name="Nguyễn Văn An")
                await follower.follow()
                await follower.send_text("/trogiup")
                await follower.wait_for(lambda p: bool(p.messages), timeout=30)
                # the Zalo OA pair rotates
                oa.expire_access_token()
                await follower.send_text("/trogiup")
                await follower.wait_for(lambda p: len(p.messages) >= 2, timeout=30)
                assert oa.refreshes >= 1
                secrets += [t for record in oa.refresh_log for t in (record.access_token, record.refresh_token)]
                # then every platform refuses our credentials
                tg.token = "918273:another-token"
                zb.token = "1459232241454765289:another-token"
                oa.expire_access_token()
                oa.expire_refresh_token()
                await officer.send_text("/trogiup")
                await citizen.send_text("/trogiup")
                await follower.send_text("/trogiup")
                await until(lambda: "Telegram refused the bot token" in logged(log), log)
                await until(lambda: "zalo_bot refused our credentials" in logged(log), log)
                await until(lambda: "must be re-authorised" in logged(log), log)
        finally:
            if service.poll() is None:
                service.send_signal(signal.SIGTERM)
                await asyncio.to_thread(service.wait, 30)

        # a start with a bot token Telegram refuses: one error line, without the token; the rest keeps serving
        refused = "918273:refused-at-start-token"
        refused_log = tmp_path / "refused.log"
        second = start({**env, "SIPAS_TELEGRAM_TOKEN": refused}, refused_log)
        try:
            await until(lambda: "SIPAS_TELEGRAM_TOKEN" in logged(refused_log), refused_log)
            async with aiohttp.ClientSession() as session, session.get(base + "/healthz") as answer:
                assert answer.status == 503
                assert (await answer.json())["channels"]["telegram"] == "token refused"
        finally:
            if second.poll() is None:
                second.send_signal(signal.SIGTERM)
                await asyncio.to_thread(second.wait, 30)
        secrets.append(refused)

    with sqlite3.connect(tmp_path / "sipasbot.db") as database:  # the errors kept with undelivered messages too
        kept = [str(row[0]) for row in database.execute("SELECT last_error FROM outbox WHERE last_error IS NOT NULL")]
    assert kept  # the refused credentials were recorded
    printed_refused = logged(refused_log)
    printed = logged(log) + printed_refused + "\n".join(kept)
    assert "SIPAS Bot is running" in printed
    leaked = [secret for secret in secrets if secret in printed]
    assert leaked == [], printed
    assert second.returncode == 0, printed_refused
    refusals = [line for line in printed_refused.splitlines() if "SIPAS_TELEGRAM_TOKEN" in line]
    assert len(refusals) == 1, printed_refused
    assert refusals[0].endswith(
        "SIPAS_TELEGRAM_TOKEN: Telegram từ chối mã (token) của bot; hãy kiểm tra lại giá trị này. "
        "Kênh này dừng lại; API, trang công khai và các kênh khác vẫn chạy. "
        "Sửa giá trị này rồi khởi động lại dịch vụ (systemctl restart sipasbot)."
    )
    assert "HTTP Request:" not in printed  # the HTTP client's request lines (the token in their URL) are quiet
