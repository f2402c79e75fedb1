"""Linking a chat in one step (issue 16): the receipt's QR opens /lien-ket/<token>, and short codes of digits.

The API gives the printable code, the linking page's address and the receipt's lines; the QR code holds the page;
the page offers Zalo first and a fresh 6-digit code; a person types a code alone (or after /start) in any chat.
Guessing is slowed by the chat's guard and logged masked; an expired code is refused politely.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import App
from bot.web.api import PREFIX, setup_api
from bot.web.routes.documents import qr_png
from bot.web.server import build_web_app
from handlers.messages import Reply
from tests.conftest import Clock
from tests.helpers import Person

PUBLIC_URL = "https://sipas.example.vn"
OA_LINK = "https://zalo.me/579745863508352884"
BOT_LINK = "https://zalo.me/s/bot-sipas-p8"
NAME, PHONE, CODE = "Nguyễn Văn An", "0912 345 678", "P8-261110-0001"

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def key(sipas: App) -> str:
    return await sipas.api_keys.create("one-stop-shop", ["dossiers:write"], ["all"])


@pytest.fixture
async def client(sipas: App, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(build_web_app(sipas, [setup_api]))


def configure(app: App, **settings: Any) -> None:
    app.settings = app.settings.model_copy(update=settings)


async def put(client: Client, key: str, code: str = CODE, phone: str | None = PHONE, **changes: Any) -> dict[str, Any]:
    applicant = {"name": NAME, **({"phone": phone} if phone else {})}
    body = {
        "unit": "P8",
        "procedure": "Đăng ký khai sinh",
        "field": "Hộ tịch",
        "applicant": applicant,
        "received_at": "2026-11-10T09:00:00+07:00",
        "due_at": "2026-11-20",
        "channel": "truc_tiep",
        "handler": "Trần Thị Bình",
        **changes,
    }
    headers = {"Authorization": f"Bearer {key}"}
    async with client.put(f"{PREFIX}/dossiers/{code}", json=body, headers=headers) as response:
        assert response.status in (200, 201), await response.text()
        answer: dict[str, Any] = await response.json()
    return answer["optin"]


async def open_page(client: Client, optin: dict[str, Any], query: str = "") -> tuple[int, str, dict[str, str]]:
    async with client.get(optin["link_url"].removeprefix(PUBLIC_URL) + query) as response:
        return response.status, await response.text(), dict(response.headers)


def page_code(page: str) -> str:
    found = re.search(r'data-code="([0-9]+)"', page)
    assert found, page
    return found[1]


def said(replies: list[Reply]) -> str:
    return "\n".join(reply.text for reply in replies)


CONSENT = "Kính gửi Ông/Bà,"
CONFIRM = "4 chữ số cuối của số điện thoại"
INVALID = "Mã liên kết hoặc số điện thoại không đúng"
LINKED = "đã được liên kết"


# ------------------------------------------------------------------------------------------------ the API


async def test_the_api_gives_the_printable_code_the_linking_page_and_the_receipts_lines(
    client: Client, key: str, sipas: App
) -> None:
    configure(sipas, zalo_oa_link=OA_LINK)
    sipas.bot_username = "sipas_test_bot"
    optin = await put(client, key)
    token, code = optin["token"], optin["code"]
    assert re.fullmatch(r"[1-9][0-9]{7}", code), code  # a phone on the dossier: 8 digits, confirmed by the phone
    assert optin["link_url"] == f"{PUBLIC_URL}/lien-ket/{token}"
    lines = optin["receipt_text"].split("\n")
    assert lines[0] == "NHẬN THÔNG BÁO VÀ ĐÁNH GIÁ SỰ HÀI LÒNG QUA ZALO HOẶC TELEGRAM"
    assert f"Mã liên kết: {code[:4]} {code[4:]}" in lines
    text = optin["receipt_text"]
    assert unicodedata.is_normalized("NFC", text)
    assert optin["link_url"] in text
    assert "4 chữ số cuối của số điện thoại" in text
    assert text.index(f"Zalo {OA_LINK}") < text.index("Telegram @sipas_test_bot")  # Zalo first
    rest = text.replace(f"{code[:4]} {code[4:]}", "").replace(optin["link_url"], "")  # random digits may be alike
    for personal in (NAME, "0912", "345 678", "345678", "5678", CODE, "Trần Thị Bình"):
        assert personal not in rest, personal
    assert await put(client, key) == optin  # the same code and lines every time the dossier is sent

    alone = await put(client, key, code="P8-261110-0002", phone=None)
    assert re.fullmatch(r"[1-9][0-9]{11}", alone["code"])  # no phone to confirm with: 12 digits, sent alone
    assert f"Mã liên kết: {alone['code'][:4]} {alone['code'][4:8]} {alone['code'][8:]}" in alone["receipt_text"]
    assert "chữ số cuối" not in alone["receipt_text"]


async def test_the_openapi_document_describes_the_three_fields(client: Client) -> None:
    async with client.get(f"{PREFIX}/openapi.json") as response:
        document = await response.json()
    optin = document["components"]["schemas"]["OptinOut"]
    assert {"code", "link_url", "receipt_text"} <= set(optin["required"])
    assert "lien-ket" in optin["properties"]["link_url"]["description"]
    assert "link_url" in optin["properties"]["qr_url"]["description"]


@pytest.mark.parametrize(
    "settings",
    [{}, {"zalo_oa_link": OA_LINK}, {"telegram": True}, {"zalo_oa_link": OA_LINK, "telegram": True}],
    ids=["no-chat", "zalo", "telegram", "both"],
)
async def test_the_qr_code_opens_the_linking_page_whatever_is_configured(
    client: Client, key: str, sipas: App, settings: dict[str, Any]
) -> None:
    if settings.pop("telegram", False):
        sipas.bot_username = "sipas_test_bot"
    configure(sipas, **settings)
    optin = await put(client, key)
    async with client.get(optin["qr_url"].removeprefix(PUBLIC_URL)) as response:
        assert response.status == 200
        image = await response.read()
    assert image == qr_png(f"{PUBLIC_URL}/lien-ket/{optin['token']}")


# ------------------------------------------------------------------------------------------------ the page


async def test_the_linking_page_offers_zalo_first_and_a_short_code(client: Client, key: str, sipas: App) -> None:
    configure(sipas, zalo_oa_link=OA_LINK, zalo_bot_link=BOT_LINK)
    sipas.bot_username = "sipas_test_bot"
    optin = await put(client, key)
    status, page, headers = await open_page(client, optin)
    assert status == 200
    assert page.startswith('<!DOCTYPE html>\n<html lang="vi">')
    assert unicodedata.is_normalized("NFC", page)
    buttons = re.findall(r'<a class="button [a-z]+" data-channel="([a-z_]+)" href="([^"]+)"[^>]*>([^<]+)</a>', page)
    assert [(kind, html.unescape(url), label) for kind, url, label in buttons] == [
        ("zalo_oa", OA_LINK, "Mở Zalo"),
        ("zalo_bot", BOT_LINK, "Mở Zalo (Zalo Bot)"),
        ("telegram", f"https://t.me/sipas_test_bot?start={optin['token']}", "Mở Telegram"),
    ]
    code = page_code(page)
    assert re.fullmatch(r"[1-9][0-9]{5}", code)
    assert f"{code[:3]} {code[3:]}</p>" in page  # shown large, in two groups
    assert 'id="sao-chep"' in page
    assert "Sao chép mã" in page
    assert "Phường 8" in page
    rest = page.replace(code, "").replace(f"{code[:3]} {code[3:]}", "").replace(optin["token"], "")
    for personal in (NAME, "0912", "345 678", "5678", CODE, "Đăng ký khai sinh", "Trần Thị Bình", optin["code"]):
        assert personal not in rest, personal
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"  # the token in the address never leaves in a Referer
    assert "noindex" in headers["X-Robots-Tag"]

    status, english, _ = await open_page(client, optin, "?lang=en")
    assert status == 200
    assert english.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "Open Zalo" in english
    assert "Copy the code" in english


async def test_with_zalo_alone_the_page_has_one_button(client: Client, key: str, sipas: App) -> None:
    configure(sipas, zalo_bot_link=BOT_LINK)
    optin = await put(client, key)
    page = (await open_page(client, optin))[1]
    assert re.findall(r'data-channel="([a-z_]+)" href="([^"]+)"[^>]*>([^<]+)</a>', page) == [
        ("zalo_bot", BOT_LINK, "Mở Zalo")
    ]


@pytest.mark.parametrize("path", ["/lien-ket/AAAAAAAAAAAAAAAAAAAAAA", "/lien-ket/not!a!token", "/lien-ket/" + "a" * 65])
async def test_an_unknown_link_gets_a_polite_page(client: Client, path: str) -> None:
    async with client.get(path) as response:
        assert response.status == 404
        assert response.content_type == "text/html"
        page = await response.text()
    assert "Đường liên kết không đúng hoặc đã hết hiệu lực" in page
    assert "Traceback" not in page


async def test_a_cancelled_dossiers_link_is_dead(client: Client, key: str, sipas: App) -> None:
    optin = await put(client, key)
    async with client.post(
        f"{PREFIX}/dossiers/{CODE}/events",
        json={"type": "cancelled", "at": "2026-11-11T09:00:00+07:00"},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        assert response.status == 202, await response.text()
    assert (await open_page(client, optin))[0] == 404


# ------------------------------------------------------------------------------------------------ in a chat


async def test_the_pages_code_typed_alone_links_the_chat_once(client: Client, key: str, sipas: App) -> None:
    optin = await put(client, key)
    first = page_code((await open_page(client, optin))[1])
    code = page_code((await open_page(client, optin))[1])  # opened again: a new code, the one before is dead
    person = Person(sipas.services, "an")
    assert INVALID in said(await person.type(first))
    assert said(await person.type(code)).startswith(CONSENT)
    assert LINKED in said(await person.press_label("Đồng ý"))
    other = Person(sipas.services, "someone-else")
    assert INVALID in said(await other.type(code))  # used once


async def test_an_expired_page_code_is_refused_politely(client: Client, key: str, sipas: App, clock: Clock) -> None:
    optin = await put(client, key)
    code = page_code((await open_page(client, optin))[1])
    clock.advance(minutes=10, seconds=1)
    person = Person(sipas.services, "an")
    assert "Mã này đã hết hạn" in said(await person.type(code))
    code = page_code((await open_page(client, optin))[1])
    assert said(await person.type(code)).startswith(CONSENT)


@pytest.mark.parametrize("typed", ["{spaced}", "/start {code}", "/start {spaced}", "{code}"])
async def test_the_printed_code_is_confirmed_by_the_phones_last_digits(
    client: Client, key: str, sipas: App, typed: str
) -> None:
    code = (await put(client, key))["code"]
    message = typed.format(code=code, spaced=f"{code[:4]} {code[4:]}")
    person = Person(sipas.services, "an")
    assert CONFIRM in said(await person.type(message))
    assert INVALID in said(await person.type("1234"))  # wrong digits
    assert CONFIRM in said(await person.type(message))
    assert said(await person.type("5678")).startswith(CONSENT)
    assert LINKED in said(await person.press_label("Đồng ý"))

    # the whole phone number does too
    other = Person(sipas.services, "representative")
    await other.type(message)
    assert said(await other.type("+84 912 345 678")).startswith(CONSENT)


async def test_a_wrong_code_and_a_right_one_look_alike_until_confirmed(client: Client, key: str, sipas: App) -> None:
    code = (await put(client, key))["code"]
    wrong = str((int(code) + 1) % 10**8).rjust(8, "1")
    right_reply = said(await Person(sipas.services, "one").type(code))
    wrong_reply = said(await Person(sipas.services, "two").type(wrong))
    assert right_reply == wrong_reply
    assert CONFIRM in right_reply


async def test_without_a_phone_the_longer_printed_code_is_typed_alone(client: Client, key: str, sipas: App) -> None:
    code = (await put(client, key, phone=None))["code"]
    person = Person(sipas.services, "an")
    assert said(await person.type(f"{code[:4]} {code[4:8]} {code[8:]}")).startswith(CONSENT)
    assert LINKED in said(await person.press_label("Đồng ý"))


async def test_something_else_typed_instead_of_the_confirmation_is_handled_as_usual(
    client: Client, key: str, sipas: App
) -> None:
    code = (await put(client, key))["code"]
    person = Person(sipas.services, "an")
    await person.type(code)
    assert "/trogiup" in said(await person.type("xin chào"))  # not linked: how to begin
    assert said(await person.type("5678")) == said(await Person(sipas.services, "x").type("5678"))  # code forgotten


async def test_guessing_codes_is_slowed_and_logged_masked(
    client: Client, key: str, sipas: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    optin = await put(client, key)
    code = page_code((await open_page(client, optin))[1])
    guesser = Person(sipas.services, "guesser-4242")
    guesses = [str(100000 + n) for n in range(6) if str(100000 + n) != code]
    for guess in guesses[:5]:
        assert INVALID in said(await guesser.type(guess))
    assert "chờ 30 giây" in said(await guesser.type(code))  # slowed: even the right code is not looked at
    clock.advance(seconds=30)
    assert said(await guesser.type(code)).startswith(CONSENT)  # one guess every 30 s
    # (the test client's access log is left out: the service runs without one)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp"))
    assert "link in console chat #" in logged
    assert "slowed" in logged
    for secret in (*guesses[:5], code, "guesser-4242", optin["token"]):
        assert secret not in logged, secret


async def test_a_printed_code_stops_working_after_five_wrong_confirmations(
    client: Client, key: str, sipas: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    code = (await put(client, key))["code"]
    for number in range(5):  # from five chats, so that no chat's own guard steps in
        guesser = Person(sipas.services, f"guesser-{number}")
        await guesser.type(code)
        reply = said(await guesser.type(f"{1000 + number}"))
        assert ("tạm khoá trong 24 giờ" in reply) == (number == 4), reply
    owner = Person(sipas.services, "an")
    await owner.type(code)
    assert "tạm khoá trong 24 giờ" in said(await owner.type("5678"))  # even the right digits, for a day
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp"))
    assert "wrong confirmation (5 in a row)" in logged
    assert code not in logged
    assert "5678" not in logged
    clock.advance(hours=24)
    await owner.type(code)
    assert said(await owner.type("5678")).startswith(CONSENT)


async def test_a_linked_chat_can_link_another_dossier_by_its_code(client: Client, key: str, sipas: App) -> None:
    first = await put(client, key)
    second = await put(client, key, code="P8-261110-0002", phone="0987 654 321")
    person = Person(sipas.services, "an")
    await person.type(first["code"])
    await person.type("5678")
    await person.press_label("Đồng ý")
    await person.type(second["code"])
    assert said(await person.type("4321")).startswith(CONSENT)


async def test_after_erasure_the_codes_and_the_page_link_nobody(client: Client, key: str, sipas: App) -> None:
    optin = await put(client, key, phone=None)
    person = Person(sipas.services, "an")
    await person.type(optin["code"])
    await person.press_label("Đồng ý")
    await person.type("/xoadulieu")
    await person.press_label("Xoá dữ liệu của tôi")
    assert (await open_page(client, optin))[0] == 404
    assert INVALID in said(await Person(sipas.services, "someone").type(optin["code"]))
