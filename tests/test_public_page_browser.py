"""The public page served by the real app, opened in headless Chromium: it renders, prints, shows the JSON's figures,
and at a phone's width (390 px) and a desktop's (1280 px) nothing is cut and only a wide table scrolls, in its own box.

Needs Debian's ``chromium`` (``apt-get install -y chromium``). Without it the test is skipped, unless
``CI`` or ``SIPAS_REQUIRE_BROWSER`` is set: then it fails, so a CI machine without a browser cannot pass.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import shutil
import signal
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --- the page at a phone's width and a desktop's, measured in the browser (over the DevTools protocol)

PHONE, DESKTOP = (390, 844), (1280, 900)
COMPARISON = "Chỉ số hài lòng và tỷ lệ đúng hạn qua các quý"  # the widest table's caption
MEASURE = """
(() => {
  const width = document.documentElement.clientWidth;
  const clipBox = (element) => {  // the nearest box that clips it sideways: a scroll box, else the viewport
    for (let up = element.parentElement; up; up = up.parentElement) {
      if (up === document.body || up === document.documentElement) break;
      if (getComputedStyle(up).overflowX !== "visible") return up;
    }
    return null;
  };
  const describe = (element) => `${element.tagName.toLowerCase()} “${element.textContent.trim().slice(0, 50)}”`;
  const clipped = [];
  for (const element of document.querySelectorAll("h1, h2, caption, p, nav, header, footer, section")) {
    const rect = element.getBoundingClientRect();
    const box = clipBox(element);
    const limit = box ? box.getBoundingClientRect() : {left: 0, right: width};
    const left = Math.max(0, limit.left), right = Math.min(width, limit.right);
    if (rect.left < left - 0.5 || rect.right > right + 0.5) {
      const where = `${rect.left.toFixed(0)}–${rect.right.toFixed(0)} px`;
      clipped.push(`${describe(element)}: ${where}, seen ${left.toFixed(0)}–${right.toFixed(0)} px`);
    }
  }
  const overflowing = [], scrolling = [];
  for (const element of document.body.querySelectorAll("*")) {
    if (element.scrollWidth <= element.clientWidth + 1 || element.clientWidth === 0) continue;
    const style = getComputedStyle(element);
    const scrolls = style.overflowX === "auto" || style.overflowX === "scroll";
    if (scrolls && element.classList.contains("scroll")) {  // a table's own box: scroll it to its last column
      const caption = element.querySelector("table > caption");
      element.scrollLeft = element.scrollWidth;
      const box = element.getBoundingClientRect(), seen = caption.getBoundingClientRect();
      const moved = element.scrollLeft > 0, captionSeen = seen.left >= box.left - 0.5 && seen.right <= box.right + 0.5;
      scrolling.push({caption: caption.textContent.trim(), moved, captionSeen});
      element.scrollLeft = 0;
    } else {
      overflowing.push(`${describe(element)}: ${element.scrollWidth} px in ${element.clientWidth} px`);
    }
  }
  return {
    width,
    pageWidth: document.scrollingElement.scrollWidth,
    clipped,
    overflowing,
    scrolling,
  };
})()
"""


class DevTools:
    """One tab of a headless chromium, driven over the DevTools protocol's websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.last_id = 0
        self.events: list[str] = []

    async def call(self, method: str, **params: object) -> dict[str, object]:
        self.last_id += 1
        await self.socket.send_json({"id": self.last_id, "method": method, "params": params})
        while True:
            message = await self.socket.receive_json()
            if message.get("id") == self.last_id:
                assert "error" not in message, (method, message["error"])
                result: dict[str, object] = message["result"]
                return result
            if "method" in message:
                self.events.append(message["method"])

    async def wait_for(self, event: str) -> None:
        while event not in self.events:
            message = await self.socket.receive_json()
            if "method" in message:
                self.events.append(message["method"])

    async def open(self, url: str, width: int, height: int) -> None:
        """Load ``url`` in a viewport of ``width`` × ``height`` CSS pixels (a phone's when narrow)."""
        await self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=width < 600
        )
        await self.call("Page.enable")
        self.events.clear()
        await self.call("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in answer, answer
        return answer["result"]["value"]  # type: ignore[index]

    async def screenshot(self) -> bytes:
        """The whole page as PNG, however long."""
        metrics = await self.call("Page.getLayoutMetrics")
        size: dict[str, float] = metrics["cssContentSize"]  # type: ignore[assignment]
        whole = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        answer = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=whole)
        return base64.b64decode(str(answer["data"]))


async def listening(log: asyncio.StreamReader) -> int:
    """The port chromium says it listens on for the DevTools protocol (it was asked for any free one)."""
    while line := await log.readline():
        if found := re.search(rb"DevTools listening on ws://[^/]*:([0-9]+)/", line):
            return int(found[1])
    pytest.fail("chromium ended without listening for the DevTools protocol")


@asynccontextmanager
async def devtools(path: str, profile: Path) -> AsyncIterator[DevTools]:
    """A headless chromium listening for the DevTools protocol on a free loopback port; its first tab."""
    process = await asyncio.create_subprocess_exec(
        path,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(TIMEOUT):
            port = await listening(process.stderr)
            drain = asyncio.create_task(process.stderr.read())  # the rest of its log, so it never blocks on it
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    tabs = await answer.json()
                url = next(tab["webSocketDebuggerUrl"] for tab in tabs if tab["type"] == "page")
                async with session.ws_connect(url, max_msg_size=0) as socket:
                    yield DevTools(socket)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if drain is not None:
            await drain


@pytest.mark.slow
async def test_on_a_phone_and_a_desktop_nothing_is_cut_and_only_wide_tables_scroll(
    browser: str, served: Served, tmp_path: Path
) -> None:
    page = f"{served.base}/cong-khai/P8?quy=2026-Q4"
    ARTIFACTS.mkdir(exist_ok=True)
    async with devtools(browser, tmp_path / "profile") as tab:
        for width, height in (PHONE, DESKTOP):
            await tab.open(page, width, height)
            seen = await tab.evaluate(MEASURE)
            (ARTIFACTS / f"cong-khai-P8-2026-Q4-{width}px-{served.backend}.png").write_bytes(await tab.screenshot())
            assert seen["width"] == width
            assert seen["pageWidth"] <= width, seen  # the page itself never scrolls sideways
            assert seen["clipped"] == [], seen  # every heading, caption and paragraph is seen whole
            assert seen["overflowing"] == [], seen  # nothing sticks out of its box but a table in its scroll box
            scrolled = {box["caption"]: (box["moved"], box["captionSeen"]) for box in seen["scrolling"]}
            if width == PHONE[0]:  # the comparison's later columns scroll inside its own box, its caption stays put
                assert COMPARISON in scrolled, seen
                assert set(scrolled.values()) == {(True, True)}, seen
            else:
                assert scrolled == {}, seen  # on a desktop every table fits
