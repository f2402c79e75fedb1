"""A production install's traps, as docs/OPERATIONS.md describes them, driven through the real `sipasbot` command.

- `sipasbot run` logs one line when SIPAS_PUBLIC_URL names this machine on another port than SIPAS_HTTP_PORT,
  and one per unknown `SIPAS_…` variable of the environment or of `.env` ("did you mean …"); left unset, the
  public address follows the port;
- the channels reach the platforms through an HTTP(S) proxy given in the environment (`HTTPS_PROXY`,
  `HTTP_PROXY`): the Zalo Bot's and the Zalo OA's clients (aiohttp) and Telegram's (httpx) — here through a proxy on
  loopback that records what it forwards, the platforms being the in-repo emulators over plain HTTP;
- `sipasbot dossiers import` exits with status 3 when rows were refused, the good rows imported;
- `sipasbot demo` keeps its own database file and refuses one that holds real units.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo_bot import ZaloBotEmulator
from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.helpers import write_export_with_a_bad_row
from tests.telegram_service import free_port

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

pytestmark = pytest.mark.slow


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any SIPAS_ or proxy variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_") and k.lower() not in PROXY_VARIABLES}
    env.update(PYTHONUNBUFFERED="1", PTB_TIMEDELTA="true", **values)
    return env


def logged(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


async def until(predicate: Callable[[], bool], log: Path, seconds: float = 60.0) -> None:
    """Wait until ``predicate`` holds; on timeout, fail with what the service printed."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError("not seen in time; the service printed:\n" + logged(log)[-3000:]) from None


def start(cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen([SIPASBOT, "run"], cwd=cwd, env=env, stdout=sink, stderr=sink)


@asynccontextmanager
async def sipasbot_run(cwd: Path, env: dict[str, str], port: int) -> AsyncIterator[Path]:
    """`sipasbot run` in ``cwd``, until /healthz answers; stopped with SIGTERM afterwards. Yields its log file."""
    log = cwd / "service.log"
    process = start(cwd, env, log)
    try:
        async with aiohttp.ClientSession() as session:

            async def answers() -> bool:
                assert process.poll() is None, logged(log)[-3000:]
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status in (200, 503)
                except aiohttp.ClientError:
                    return False

            async with asyncio.timeout(60):
                while True:
                    if await answers():
                        break
                    await asyncio.sleep(0.1)
        yield log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 30)


# --- start-up warnings


async def test_run_warns_once_about_a_public_url_on_another_port_and_about_unknown_settings(tmp_path: Path) -> None:
    port = free_port()
    assert port != 8080
    (tmp_path / ".env").write_text("SIPAS_TELEGRAM_TOKN=123:abc\nSIPAS_QUIET_HOURS=21:00-07:00\n", encoding="utf-8")
    env = clean_env(
        SIPAS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}",
        SIPAS_HTTP_PORT=str(port),
        SIPAS_PUBLIC_URL="http://localhost:8080",
        SIPAS_HTTP_PROT="9000",
        SIPAS_WHATEVER_ELSE="1",
        SIPAS_LANG="vi",
    )
    async with sipasbot_run(tmp_path, env, port) as log:
        await until(lambda: "SIPAS_WHATEVER_ELSE" in logged(log), log)
    lines = logged(log).splitlines()
    public = [line for line in lines if "SIPAS_PUBLIC_URL=http://localhost:8080" in line]
    assert len(public) == 1, lines
    assert f"cổng {port}" in public[0], public
    assert f"SIPAS_PUBLIC_URL=http://localhost:{port}" in public[0], public
    typo = [line for line in lines if "SIPAS_HTTP_PROT " in line]
    assert len(typo) == 1, lines
    assert "có phải ý bạn là SIPAS_HTTP_PORT?" in typo[0], typo
    in_file = [line for line in lines if "SIPAS_TELEGRAM_TOKN" in line]
    assert len(in_file) == 1, lines
    assert "tệp .env" in in_file[0], in_file
    assert "SIPAS_TELEGRAM_TOKEN?" in in_file[0], in_file
    assert "123:abc" not in logged(log)  # the mistyped variable's value (a token) is never printed
    other = [line for line in lines if "SIPAS_WHATEVER_ELSE" in line]
    assert len(other) == 1, lines
    assert "README.md" in other[0], other
    assert not [line for line in lines if "SIPAS_LANG" in line or "SIPAS_QUIET_HOURS" in line], lines


async def test_left_unset_the_public_url_follows_the_port_and_nothing_is_warned(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(SIPAS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}", SIPAS_HTTP_PORT=str(port))
    async with sipasbot_run(tmp_path, env, port) as log, aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/api/v1/openapi.json") as response:
            document = await response.json()
        assert document["servers"] == [{"url": f"http://127.0.0.1:{port}"}]
    assert "SIPAS_PUBLIC_URL" not in logged(log)
    assert "SIPAS_" not in logged(log).replace("SIPAS_HTTP_PORT", ""), logged(log)


# --- an outbound proxy


class RecordingProxy:
    """A forward HTTP proxy on loopback: pipes each connection to the host its first request names, and
    records that request line (``GET http://127.0.0.1:PORT/bot…/getMe HTTP/1.1``)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RecordingProxy:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readline()
            line = first.decode("latin-1").strip()
            self.requests.append(line)
            target = line.split(" ")[1]
            authority = target.split("://", 1)[1].split("/", 1)[0]
            host, _, port = authority.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            upstream_writer.write(first)

            async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
                try:
                    while data := await source.read(65536):
                        sink.write(data)
                        await sink.drain()
                finally:
                    sink.close()

            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)
        except (OSError, IndexError, ValueError):
            writer.close()


async def test_the_channels_reach_the_platforms_through_the_proxy_the_environment_names(tmp_path: Path) -> None:
    telegram_token, zalo_token = "123456:TEST-token", "1459232241454765289:proxy-secret"
    async with (
        TelegramEmulator(token=telegram_token) as telegram,
        ZaloBotEmulator(token=zalo_token) as zalo,
        ZaloOAEmulator(app_id="1234567890", app_secret="app-secret", oa_secret_key="oa-secret-key") as oa,
        RecordingProxy() as proxy,
    ):
        port = free_port()
        env = clean_env(
            SIPAS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}",
            SIPAS_HTTP_PORT=str(port),
            SIPAS_TELEGRAM_TOKEN=telegram_token,
            SIPAS_TELEGRAM_API_URL=telegram.api_url,
            SIPAS_ZALO_BOT_TOKEN=zalo_token,
            SIPAS_ZALO_BOT_API_URL=zalo.api_url,
            SIPAS_ZALO_OA_APP_ID="1234567890",
            SIPAS_ZALO_OA_APP_SECRET="app-secret",
            SIPAS_ZALO_OA_SECRET_KEY="oa-secret-key",
            SIPAS_ZALO_OA_ACCESS_TOKEN=oa.access_token,
            SIPAS_ZALO_OA_REFRESH_TOKEN=oa.refresh_token,
            SIPAS_ZALO_OA_API_URL=oa.api_url,
            SIPAS_ZALO_OA_OAUTH_URL=oa.oauth_url,
            HTTP_PROXY=proxy.url,
            HTTPS_PROXY=proxy.url,
        )
        async with sipasbot_run(tmp_path, env, port) as log:
            await until(
                lambda: (
                    any(f"{telegram.api_url}{telegram_token}/" in r for r in proxy.requests)
                    and any(f"{zalo.api_url}{zalo_token}/" in r for r in proxy.requests)
                    # the OA's first pair has no known expiry: its start refreshes it, through the proxy
                    and any(f"{oa.oauth_url.rstrip('/')}/v4/oa/access_token " in r for r in proxy.requests)
                ),
                log,
            )
    assert all(r.split(" ")[1].startswith("http://127.0.0.1:") for r in proxy.requests), proxy.requests


# --- dossiers import and the demo (the command in this process: the `cli` fixture of conftest)

Cli = Callable[..., tuple[int, str, str]]


def test_an_import_with_refused_rows_exits_3_and_keeps_the_good_rows(tmp_path: Path, cli: Cli) -> None:
    assert cli("units", "add", "P8", "Phường 8")[0] == 0
    export = tmp_path / "xuat.csv"
    write_export_with_a_bad_row(export)
    status, out, err = cli("dossiers", "import", str(export), "--unit", "P8")
    assert status == 3, (out, err)
    assert out.startswith("Đã nhập 1 hồ sơ (mới 1,"), out
    assert "dòng 3: thiếu “Mã hồ sơ”" in out
    assert err.strip().splitlines() == [
        "sipasbot: lỗi: 1 dòng không nhập được (xem danh sách ở trên); các dòng khác đã được nhập. Mã thoát 3."
    ]
    good = tmp_path / "tot.csv"
    good.write_text("\n".join(export.read_text(encoding="utf-8").splitlines()[:2]) + "\n", encoding="utf-8")
    status, out, err = cli("dossiers", "import", str(good), "--unit", "P8")
    assert status == 0, err
    assert out.startswith("Đã nhập 1 hồ sơ (mới 0, cập nhật 0, không đổi 1)"), out


def test_the_demo_keeps_its_own_database_and_refuses_one_with_real_units(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIPAS_DATABASE_URL")
    monkeypatch.setattr(sys, "stdin", io.StringIO("5\n" * 19))
    status, out, err = cli("demo")
    assert status == 0, err
    assert "Trân trọng cảm ơn" in out or "DEMO" in out
    assert (tmp_path / "sipasbot-demo.db").exists()
    assert not (tmp_path / "sipasbot.db").exists()  # the deployment's default file is never made by the demo

    assert cli("units", "add", "P8", "Phường 8")[0] == 0  # a real unit, in ./sipasbot.db
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    status, out, _ = cli("demo")
    assert status == 0  # the demo's own file holds only DEMO
    # the survey left waiting is continued in the demo's own file, which the shell is told to open
    assert "tiếp tục bằng: SIPAS_DATABASE_URL=sqlite+aiosqlite:///sipasbot-demo.db sipasbot shell --as citizen" in out

    monkeypatch.setenv("SIPAS_DATABASE_URL", "sqlite+aiosqlite:///sipasbot.db")
    monkeypatch.setattr(sys, "stdin", io.StringIO("5\n"))
    status, out, err = cli("demo")
    assert status == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "sipasbot: lỗi: cơ sở dữ liệu sqlite+aiosqlite:///sipasbot.db đã có đơn vị thật (P8): bản trình diễn không "
        "ghi dữ liệu mẫu vào đó. Chạy sipasbot demo ở thư mục khác (mặc định dùng tệp riêng ./sipasbot-demo.db) "
        "hoặc bỏ SIPAS_DATABASE_URL."
    ]
    status, out, _ = cli("units", "list")
    assert "DEMO" not in out
    assert "P8" in out
