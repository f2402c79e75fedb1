"""The linking page (/lien-ket/<token>) served by the real app, opened in headless Chromium at a phone's width (390 px).

Nothing sticks out sideways, every text is readable, the code is large and the buttons are big enough to tap, Zalo
first; the copy button copies the code. Needs Debian's ``chromium``: skipped without it, unless ``CI`` or
``SIPAS_REQUIRE_BROWSER`` is set (then it fails), as the public page's browser test.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.server import build_web_app
from tests.conftest import Backend, Clock
from tests.test_public_page_browser import ARTIFACTS, DevTools, browser, devtools

__all__ = ["browser"]  # the fixture, used by name

PHONE = (390, 844)
OA_LINK = "https://zalo.me/579745863508352884"
MEASURE = """
(() => {
  const width = document.documentElement.clientWidth;
  const describe = (element) => `${element.tagName.toLowerCase()} “${element.textContent.trim().slice(0, 40)}”`;
  const outside = [], overflowing = [], small = [];
  for (const element of document.body.querySelectorAll("*")) {
    if (element.tagName === "SCRIPT") continue;
    const rect = element.getBoundingClientRect();
    if (rect.width === 0) continue;
    if (rect.left < -0.5 || rect.right > width + 0.5) outside.push(`${describe(element)}: ${rect.left}–${rect.right}`);
    if (element.scrollWidth > element.clientWidth + 1 && element.clientWidth > 0) {
      overflowing.push(`${describe(element)}: ${element.scrollWidth} px in ${element.clientWidth} px`);
    }
    const own = [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim());
    const size = parseFloat(getComputedStyle(element).fontSize);
    if (own && size < 14) small.push(`${describe(element)}: ${size} px`);
  }
  const box = (selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const rect = element.getBoundingClientRect();
    return {top: rect.top, height: rect.height, width: rect.width, size: parseFloat(getComputedStyle(element).fontSize),
      text: element.textContent.trim()};
  };
  const buttons = [...document.querySelectorAll("a.button, button.button")].map((element) => {
    const rect = element.getBoundingClientRect();
    return {text: element.textContent.trim(), top: rect.top, height: rect.height, width: rect.width};
  });
  return {width, pageWidth: document.scrollingElement.scrollWidth, outside, overflowing, small, buttons,
    code: box("#ma"), copy: box("#sao-chep")};
})()
"""


async def tap(tab: DevTools, selector: str) -> None:
    """A finger's tap on the element (a real gesture, as the clipboard wants)."""
    rect = await tab.evaluate(
        f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
        " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        await tab.call("Input.dispatchMouseEvent", type=kind, x=rect["x"], y=rect["y"], button="left", clickCount=1)


@pytest.fixture
async def served(backend: Backend, clock: Clock) -> AsyncIterator[tuple[str, dict[str, str], str]]:
    """The real app on a free loopback port with a dossier: its base URL, the dossier's opt-in, the backend."""
    settings = load_settings(database_url=backend.url, public_url="http://127.0.0.1:1", zalo_oa_link=OA_LINK)
    app = App(settings, clock=clock)
    await app.start()
    await app.units.add("P8", "Phường 8")
    app.bot_username = "sipas_test_bot"
    key = await app.api_keys.create("one-stop-shop", ["dossiers:write"], ["all"])
    runner = web.AppRunner(build_web_app(app, [setup_api]), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    body = {
        "unit": "P8",
        "procedure": "Đăng ký khai sinh",
        "field": "Hộ tịch",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0912 345 678"},
        "received_at": "2026-11-10T09:00:00+07:00",
        "due_at": "2026-11-20",
        "channel": "truc_tiep",
    }
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.put(
                f"{base}/api/v1/dossiers/P8-261110-0001", json=body, headers={"Authorization": f"Bearer {key}"}
            ) as response,
        ):
            assert response.status == 201, await response.text()
            optin = (await response.json())["optin"]
        yield base, optin, backend.name
    finally:
        await runner.cleanup()
        await app.close()


@pytest.mark.slow
async def test_the_linking_page_on_a_phone(
    browser: str, served: tuple[str, dict[str, str], str], tmp_path: Path
) -> None:
    base, optin, backend = served
    page = base + optin["link_url"].removeprefix("http://127.0.0.1:1")
    ARTIFACTS.mkdir(exist_ok=True)
    async with devtools(browser, tmp_path / "profile") as tab:
        await tab.call("Emulation.setFocusEmulationEnabled", enabled=True)
        await tab.open(page, *PHONE)
        seen = await tab.evaluate(MEASURE)
        (ARTIFACTS / f"lien-ket-390px-{backend}.png").write_bytes(await tab.screenshot())
        assert seen["width"] == PHONE[0]
        assert seen["pageWidth"] <= PHONE[0], seen  # the page never scrolls sideways
        assert seen["outside"] == [], seen  # nothing is cut at the screen's edges
        assert seen["overflowing"] == [], seen  # nothing sticks out of its box
        assert seen["small"] == [], seen  # every text at least 14 px
        assert [button["text"] for button in seen["buttons"]] == ["Mở Zalo", "Mở Telegram", "Sao chép mã"]
        zalo = seen["buttons"][0]
        assert zalo["top"] + zalo["height"] <= PHONE[1], seen  # "Mở Zalo" seen without scrolling
        for button in seen["buttons"]:
            assert button["height"] >= 44, button  # big enough for a finger
            assert button["width"] >= 300, button
        code = seen["code"]
        assert re.fullmatch(r"[0-9]{3} [0-9]{3}", code["text"]), code
        assert code["size"] >= 40, code  # shown large

        await tab.call("Browser.grantPermissions", permissions=["clipboardReadWrite", "clipboardSanitizedWrite"])
        await tap(tab, "#sao-chep")
        label = ""
        for _ in range(100):  # the clipboard's promise settles after the tap: wait for the button to say so
            label = await tab.evaluate("document.querySelector('#sao-chep').textContent")
            if label != "Sao chép mã":
                break
            await asyncio.sleep(0.05)
        assert label == "Đã sao chép mã"
        read = await tab.call("Runtime.evaluate", expression="navigator.clipboard.readText()", awaitPromise=True)
        assert read["result"]["value"] == code["text"].replace(" ", "")  # the digits alone, ready to paste

        # an unknown link: the polite page, at the same width
        await tab.open(base + "/lien-ket/AAAAAAAAAAAAAAAAAAAAAA", *PHONE)
        seen = await tab.evaluate(MEASURE)
        assert seen["pageWidth"] <= PHONE[0], seen
        assert seen["outside"] == [], seen
        assert seen["small"] == [], seen
        heading = await tab.evaluate("document.querySelector('h1').textContent")
        assert heading == "Đường liên kết không đúng hoặc đã hết hiệu lực"
