"""Linking in one step on Zalo (issue 16): the real service, the Zalo OA and Zalo Bot emulators over loopback HTTP.

A person holding the receipt types only its code (and, asked for it, the last 4 digits of the phone on the dossier),
or opens the receipt's QR page and types the page's code; after "Đồng ý" the survey reaches them there.
"""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp

from tests.conftest import Backend
from tests.test_zalo_bot import bot_service
from tests.test_zalo_oa import now_iso, oa_service

OA_LINK = "https://zalo.me/579745863508352884"
CONFIRM = "4 chữ số cuối của số điện thoại"
LINKED = "đã được liên kết"
SURVEY = "Phiếu khảo sát sự hài lòng"


def printed_code(receipt_text: str) -> str:
    """The code as the receipt prints it (in groups of four digits)."""
    found = re.search(r"^Mã liên kết: ([0-9 ]+)$", receipt_text, re.MULTILINE)
    assert found, receipt_text
    return found[1]


async def page_code(link_url: str) -> tuple[str, str]:
    """Open the linking page as a phone's browser would: its code, and the address its "Mở Zalo" button opens."""
    async with aiohttp.ClientSession() as session, session.get(link_url) as response:
        assert response.status == 200
        page = await response.text()
    code = re.search(r'data-code="([0-9]{6})"', page)
    zalo = re.search(r'class="button zalo" data-channel="zalo_oa" href="([^"]+)"', page)
    assert code, page
    assert zalo, page
    return code[1], zalo[1]


async def test_on_the_zalo_oa_a_person_types_only_the_receipts_code_and_is_linked(backend: Backend) -> None:
    async with oa_service(backend.url, settings={"zalo_oa_link": OA_LINK}) as (emu, service):
        received, due = now_iso(-timedelta(days=3)), now_iso(timedelta(days=2))
        optin = (await service.put_dossier("P8-LK-0001", "Nguyễn Văn An", received, due, phone="0912 345 678"))["optin"]
        assert optin["zalo_url"] == OA_LINK

        person = emu.person("2468458835296117001", display_name="An")
        await person.follow()
        await person.send_text(printed_code(optin["receipt_text"]))  # typed as printed: "1234 5678"
        await person.wait_for(lambda p: CONFIRM in p.last.text)
        await person.send_text("5678")
        await person.wait_for(lambda p: "Đồng ý" in p.last.button_titles)
        assert person.last.text.startswith("Kính gửi Ông/Bà,")
        await person.press("Đồng ý")
        await person.wait_for(lambda p: any(LINKED in text for text in p.texts))

        # the QR code's page: the button opens the OA, and its code, typed alone, links a second person
        body = await service.put_dossier("P8-LK-0002", "Trần Thị Bình", received, due, phone="0987 654 321")
        code, zalo = await page_code(body["optin"]["link_url"])
        assert zalo == OA_LINK
        other = emu.person("2468458835296117002", display_name="Bình")
        await other.follow()
        await other.send_text(code)
        await other.wait_for(lambda p: "Đồng ý" in p.last.button_titles)
        await other.press("Đồng ý")
        await other.wait_for(lambda p: any(LINKED in text for text in p.texts))

        # linked: later messages reach them on the OA
        for dossier in ("P8-LK-0001", "P8-LK-0002"):
            await service.event(dossier, "returned", now_iso(-timedelta(minutes=1)))
        for someone in (person, other):
            await someone.wait_for(lambda p: any(text.startswith(SURVEY) for text in p.texts), timeout=30)
        assert not emu.stats.errors, emu.stats


async def test_on_the_zalo_bot_a_person_types_only_the_receipts_code_and_is_linked(backend: Backend) -> None:
    async with bot_service(backend.url, "polling") as (emu, service):
        received, due = now_iso(-timedelta(days=3)), now_iso(timedelta(days=2))
        optin = (await service.put_dossier("P8-LK-0001", "Nguyễn Văn An", received, due, phone="0912 345 678"))["optin"]
        person = emu.person(display_name="An")
        await person.send_text(printed_code(optin["receipt_text"]).replace(" ", ""))
        await person.wait_for(lambda p: CONFIRM in p.last.text)
        await person.send_text("5678")
        await person.wait_for(lambda p: "1. Đồng ý" in p.last.text)
        await person.send_text("1")
        await person.wait_for(lambda p: any(LINKED in text for text in p.texts))

        # no phone on the dossier: the receipt's longer code, typed alone after /start
        body = await service.put_dossier("P8-LK-0002", "Trần Thị Bình", received, due)
        assert len(body["optin"]["code"]) == 12
        other = emu.person(display_name="Bình")
        await other.send_text("/start " + printed_code(body["optin"]["receipt_text"]))
        await other.wait_for(lambda p: "1. Đồng ý" in p.last.text)
        await other.send_text("đồng ý")
        await other.wait_for(lambda p: any(LINKED in text for text in p.texts))

        for dossier in ("P8-LK-0001", "P8-LK-0002"):
            await service.event(dossier, "returned", now_iso(-timedelta(minutes=1)))
        for someone in (person, other):
            await someone.wait_for(lambda p: any(text.startswith(SURVEY) for text in p.texts), timeout=30)
