"""The public page served by the real app, opened in headless Chromium: it renders, prints, shows the JSON's figures.

Needs Debian's ``chromium`` (``apt-get install -y chromium``). Without it the test is skipped, unless
``CI`` or ``SIPAS_REQUIRE_BROWSER`` is set: then it fails, so a CI machine without a browser cannot pass.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pypdf import PdfReader

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from tests.conftest import Backend, Clock
from tests.test_public_page import (
    PUBLIC_URL,
    assert_nothing_personal,
    build_quarters,
    figures_from_json,
    figures_of,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT = 60.0
WIDTH, HEIGHT = 1200, 1600
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
]


def chromium() -> str | None:
    """Debian's chromium, wherever PATH finds it."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture
def browser() -> str:
    path = chromium()
    if path is not None:
        return path
    if os.environ.get("CI") or os.environ.get("SIPAS_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed, and CI or SIPAS_REQUIRE_BROWSER requires the browser test to run")
    pytest.skip("chromium is not installed (apt-get install -y chromium); set SIPAS_REQUIRE_BROWSER=1 to fail instead")


async def run_chromium(path: str, profile: Path, *arguments: str) -> bytes:
    """Run chromium once with our flags; its standard output. Killed (its whole group) after TIMEOUT seconds."""
    process = await asyncio.create_subprocess_exec(
        path,
        *FLAGS,
        f"--user-data-dir={profile}",
        *arguments,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its zygote and renderers share our child's process group
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        pytest.fail(f"chromium did not finish within {TIMEOUT:.0f} s: {' '.join(arguments)}")
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@dataclass
class Served:
    """The app listening on loopback: its base URL, the paths it was asked for, and its database."""

    base: str
    requested: list[str]
    backend: str


@pytest.fixture
async def served(backend: Backend, clock: Clock) -> AsyncIterator[Served]:
    """The real app on a free loopback port, with the fixture quarters."""
    app = App(load_settings(database_url=backend.url, public_url=PUBLIC_URL), clock=clock)
    await app.start()
    await build_quarters(app, clock)
    requested: list[str] = []

    def record(web_app: web.Application) -> None:
        async def on_prepare(request: web.Request, _response: web.StreamResponse) -> None:
            requested.append(request.path_qs)

        web_app.on_response_prepare.append(on_prepare)

    runner = web.AppRunner(build_web_app(app, [setup_api, setup_pages, record]), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Served(f"http://{host}:{port}", requested, backend.name)
    finally:
        await runner.cleanup()
        await app.close()


@pytest.mark.slow
async def test_the_page_renders_in_chromium_with_the_jsons_figures(
    browser: str, served: Served, tmp_path: Path
) -> None:
    base, requested = served.base, served.requested
    page = f"{base}/cong-khai/P8?quy=2026-Q4"
    async with aiohttp.ClientSession() as session, session.get(f"{base}/cong-khai/P8.json?quy=2026-Q4") as answer:
        assert answer.status == 200
        body = await answer.json()
    requested.clear()

    screenshot = tmp_path / "page.png"
    await run_chromium(
        browser, tmp_path / "profile-1", f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={screenshot}", page
    )
    assert requested == ["/cong-khai/P8?quy=2026-Q4"]  # no font, script, image or favicon fetched
    data = screenshot.read_bytes()
    assert len(data) > 30_000, len(data)  # a page of tables and text, not a blank sheet
    assert png_size(data) == (WIDTH, HEIGHT)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / f"cong-khai-P8-2026-Q4-{served.backend}.png")

    dom = (await run_chromium(browser, tmp_path / "profile-2", "--dump-dom", page)).decode()
    assert dom.startswith('<!DOCTYPE html>\n<html lang="vi">')
    shown = figures_of(dom)
    assert shown == figures_from_json(body)
    assert shown["factor-PA"] == "chưa đủ dữ liệu"
    assert shown["overall"] == "chưa đủ dữ liệu"  # hidden with PA: else PA = 5 × overall − the other four
    assert_nothing_personal(dom)

    pdf = tmp_path / "page.pdf"
    await run_chromium(browser, tmp_path / "profile-3", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page)
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    first = reader.pages[0]
    width_mm, height_mm = (round(float(x) / 72 * 25.4) for x in (first.mediabox.width, first.mediabox.height))
    assert (width_mm, height_mm) == (210, 297)  # A4, from the page's @media print
    assert len(reader.pages) <= 3  # with the fields' targets and the complaints handled, at most three A4 pages
    printed = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "Quý IV/2026 — Phường 8" in printed
    assert "Chỉ số hài lòng chung" in printed
    assert "chưa đủ dữ liệu" in printed
    assert "Số liệu dạng JSON" not in printed  # the navigation is not printed
