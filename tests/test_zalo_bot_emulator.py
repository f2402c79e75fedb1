"""The Zalo Bot platform emulator, driven over loopback HTTP by a plain aiohttp client (as the product's is)."""

from __future__ import annotations

import asyncio
import socket
import time
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.emulators.loopback import WebhookReceiver
from tests.emulators.zalo_bot import (
    EVENT_IMAGE,
    EVENT_STICKER,
    EVENT_TEXT,
    MAX_TEXT,
    POLL_TIMEOUT_ERROR_CODE,
    SECRET_HEADER,
    UNKNOWN_CHAT_ERROR_CODE,
    WEBHOOK_ACTIVE_ERROR_CODE,
    ErrorSpec,
    ZaloBotEmulator,
)

TOKEN = "1459232241454765289:secret-abc"
USER = "6ede9afa66b88fe6d6a9"
SECRET = "mykey-abcxyz"


@pytest.fixture
async def emu() -> AsyncIterator[ZaloBotEmulator]:
    async with ZaloBotEmulator(token=TOKEN, account_name="bot.SipasTest") as emulator:
        yield emulator


async def call(
    http: aiohttp.ClientSession, emu: ZaloBotEmulator, method: str, body: Any = None, *, token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    """POST JSON (no body when ``body`` is None), as the product does; (HTTP status, decoded body)."""
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    async with http.post(f"{emu.api_url}{token}/{method}", **kwargs) as response:
        return response.status, await response.json()


class Receiver(WebhookReceiver):
    """Our side of the webhook: a small aiohttp server recording each push and answering ``statuses`` in turn."""

    PATH = "/webhooks/zalo-bot"

    def __init__(self, statuses: list[int] | None = None) -> None:
        super().__init__()
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], Any]] = []

    async def _hook(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.json()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="ok")


# --- transport


async def test_wrong_token_is_http_200_ok_false_401(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, emu, "getMe", token="1459232241454765289:wrong")
    assert status == 200
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert emu.stats.errors_given == 1
    assert emu.calls[-1].authorized is False
    assert emu.stats.requests["getMe"] == 0


async def test_get_me_bodiless_and_by_get(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    expected = {
        "ok": True,
        "result": {
            "id": "1459232241454765289",
            "account_name": "bot.SipasTest",
            "account_type": "BASIC",
            "can_join_groups": False,
        },
    }
    assert await call(http, emu, "getMe") == (200, expected)  # POST, no body at all
    async with http.get(f"{emu.api_url}{TOKEN}/getMe") as response:
        assert await response.json() == expected
    async with http.post(f"{emu.api_url}{TOKEN}/sendmessage", json={}) as response:
        assert response.status == 404  # method names are case-sensitive
        assert (await response.json())["error_code"] == 404
    assert [c.method for c in emu.calls] == ["getMe", "getMe", "sendmessage"]


async def test_form_urlencoded_and_query_bodies(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, display_name="Nguyễn Văn An")
    await an.send_text("xin chào")
    base = f"{emu.api_url}{TOKEN}"
    # python-zalo-bot's encoding: urlencoded, Vietnamese percent-encoded
    async with http.post(f"{base}/sendMessage", data={"chat_id": USER, "text": "Xin chào Anh/Chị"}) as response:
        body = await response.json()
    assert body["ok"] is True
    assert emu.calls[-1].content_type == "application/x-www-form-urlencoded"
    async with http.get(f"{base}/sendMessage", params={"chat_id": USER, "text": "Câu 1/5"}) as response:
        assert (await response.json())["ok"] is True
    form = aiohttp.FormData()
    form.add_field("chat_id", USER)
    form.add_field("text", "đa phần")
    async with http.post(f"{base}/sendMessage", data=form) as response:
        assert (await response.json())["ok"] is True
    async with http.post(f"{base}/getUpdates", data={"timeout": "0.05"}) as response:  # the one queued update
        assert (await response.json())["result"]["message"]["text"] == "xin chào"
    assert an.texts == ["Xin chào Anh/Chị", "Câu 1/5", "đa phần"]
    async with http.post(f"{base}/sendMessage", data=b"[1, 2]", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["ok"] is False


# --- getUpdates


async def test_one_update_per_call_and_at_most_once(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, display_name="Nguyễn Văn An")
    first = await an.send_text("/start TOKEN123")
    await an.send_text("5")
    assert [u["message"]["text"] for u in emu.pending_updates] == ["/start TOKEN123", "5"]

    status, body = await call(http, emu, "getUpdates", {"timeout": 1})
    assert status == 200
    assert body == {"ok": True, "result": first}  # one object, not an array
    assert body["result"] == {
        "event_name": EVENT_TEXT,
        "message": {
            "from": {"id": USER, "display_name": "Nguyễn Văn An", "is_bot": False},
            "chat": {"id": USER, "chat_type": "PRIVATE"},
            "text": "/start TOKEN123",
            "message_id": first["message"]["message_id"],
            "date": first["message"]["date"],
        },
    }
    message_id = first["message"]["message_id"]
    assert len(message_id) == 20
    int(message_id, 16)  # hex-like
    assert abs(first["message"]["date"] - time.time() * 1000) < 60_000  # epoch ms

    _, second = await call(http, emu, "getUpdates", {"timeout": "1"})  # the docs type it as a string
    assert second["result"]["message"]["text"] == "5"
    assert second["result"]["message"]["message_id"] != message_id
    assert emu.pending_updates == []
    _, empty = await call(http, emu, "getUpdates", {"timeout": 0})  # read means gone: no offset, no redelivery
    assert empty["error_code"] == POLL_TIMEOUT_ERROR_CODE
    assert emu.stats.updates_delivered == 2


async def test_empty_poll_answers_408_after_the_timeout(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    status, body = await call(http, emu, "getUpdates", {"timeout": 0.2})
    elapsed = time.monotonic() - started
    assert status == 200
    assert body == {"ok": False, "description": "Request timeout", "error_code": 408}
    assert 0.18 <= elapsed < 2.0
    assert emu.stats.poll_timeouts == 1
    assert emu.stats.errors_given == 0  # an empty poll is not an error
    assert emu.stats.errors[408] == 1


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    emu: ZaloBotEmulator, http: aiohttp.ClientSession
) -> None:
    an = emu.person(USER, display_name="Nguyễn Văn An")
    started = time.monotonic()
    poll = asyncio.create_task(call(http, emu, "getUpdates", {"timeout": 10}))
    await emu.wait_for(lambda e: e.waiting_polls == 1, timeout=5)
    await an.send_sticker()
    status, body = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 3
    assert status == 200
    assert body["result"]["event_name"] == EVENT_STICKER
    assert emu.waiting_polls == 0


async def test_get_updates_refused_while_a_webhook_is_set(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER)
    await an.send_text("trước webhook")
    assert (await call(http, emu, "getUpdates", {"timeout": 0.01}))[1]["ok"] is True
    waiting = asyncio.create_task(call(http, emu, "getUpdates", {"timeout": 10}))
    await emu.wait_for(lambda e: e.waiting_polls == 1, timeout=5)
    async with Receiver() as receiver:
        assert (await call(http, emu, "setWebhook", {"url": receiver.url, "secret_token": SECRET}))[1]["ok"]
        status, body = await asyncio.wait_for(waiting, 5)  # the waiting poll is refused at once
        assert (status, body["ok"], body["error_code"]) == (200, False, WEBHOOK_ACTIVE_ERROR_CODE)
        status, body = await call(http, emu, "getUpdates", {"timeout": 1})
        assert (status, body["error_code"]) == (200, WEBHOOK_ACTIVE_ERROR_CODE)
        assert "deleteWebhook" in body["description"]
        _, deleted = await call(http, emu, "deleteWebhook")
        assert deleted["result"]["url"] == ""
        assert isinstance(deleted["result"]["updated_at"], int)
    assert emu.webhook is None
    await an.send_text("sau webhook")
    _, body = await call(http, emu, "getUpdates", {"timeout": 1})
    assert body["result"]["message"]["text"] == "sau webhook"


# --- webhook


async def test_set_webhook_checks_the_secret_and_the_url(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    url = "http://127.0.0.1:9/zalo"
    for bad in ("", "1234567", "x" * 257):
        status, body = await call(http, emu, "setWebhook", {"url": url, "secret_token": bad})
        assert (status, body["ok"], body["error_code"]) == (400, False, 400), bad
    status, body = await call(http, emu, "setWebhook", {"url": url})
    assert body["ok"] is False  # secret_token is required
    assert not emu.webhook
    for good in ("12345678", "y" * 256):
        status, body = await call(http, emu, "setWebhook", {"url": url, "secret_token": good})
        assert status == 200
        assert body["result"]["url"] == url
        assert isinstance(body["result"]["updated_at"], int)
    assert emu.webhook is not None
    assert emu.webhook.secret_token == "y" * 256
    _, info = await call(http, emu, "getWebhookInfo")
    assert info == {"ok": True, "result": {"url": url, "updated_at": emu.webhook.updated_at}}
    _, body = await call(http, emu, "setWebhook", {"url": "ftp://x.vn/h", "secret_token": SECRET})
    assert body["ok"] is False

    async with ZaloBotEmulator(token=TOKEN, allow_http_webhook=False) as strict:
        _, body = await call(http, strict, "setWebhook", {"url": url, "secret_token": SECRET})
        assert (body["ok"], body["error_code"]) == (False, 400)
        _, body = await call(http, strict, "setWebhook", {"url": "https://bot.example.vn/zalo", "secret_token": SECRET})
        assert body["ok"] is True


@pytest.mark.parametrize("envelope", ["flat", "wrapped"])
async def test_push_with_the_secret_header(emu: ZaloBotEmulator, http: aiohttp.ClientSession, envelope: str) -> None:
    emu.envelope = envelope  # type: ignore[assignment]
    an = emu.person(USER, display_name="Nguyễn Văn An", name_field="first_name")
    async with Receiver() as receiver:
        await call(http, emu, "setWebhook", {"url": receiver.url, "secret_token": SECRET})
        update = await an.send_text("Xin chào")
        image = await an.send_image("https://photo.example.vn/giay-to.jpg", caption="ảnh hồ sơ")
        assert len(receiver.received) == 2  # pushed inside the person's action
    headers, body = receiver.received[0]
    assert headers[SECRET_HEADER] == SECRET
    assert headers["Content-Type"].startswith("application/json")
    if envelope == "flat":
        assert body == update
        assert set(body) == {"event_name", "message"}
    else:
        assert body == {"ok": True, "result": update}
    pushed = body if envelope == "flat" else body["result"]
    assert pushed["message"]["from"] == {"id": USER, "first_name": "Nguyễn Văn An", "is_bot": False}
    second = receiver.received[1][1]
    second = second if envelope == "flat" else second["result"]
    assert second["event_name"] == EVENT_IMAGE
    assert second["message"]["photo_url"] == image["message"]["photo_url"] == "https://photo.example.vn/giay-to.jpg"
    assert second["message"]["caption"] == "ảnh hồ sơ"
    assert [(d.status, d.envelope, d.secret_header) for d in emu.webhook_deliveries] == [(200, envelope, SECRET)] * 2
    assert emu.pending_updates == []
    assert emu.stats.webhook_pushes == emu.stats.updates_delivered == 2


async def test_retries_and_redelivery_keep_the_message_id(http: aiohttp.ClientSession) -> None:
    async with ZaloBotEmulator(token=TOKEN, push_retries=2, push_retry_delay=0.01) as emu, Receiver([500, 503]) as hook:
        an = emu.person(USER)
        await call(http, emu, "setWebhook", {"url": hook.url, "secret_token": SECRET})
        update = await an.send_text("1")
        assert [(d.attempt, d.status, d.ok) for d in emu.webhook_deliveries] == [
            (1, 500, False),
            (2, 503, False),
            (3, 200, True),
        ]
        await an.send_text("2")
        again = await emu.redeliver(2)
        assert [d.redelivery for d in again] == [True, True]
        ids = [body["message"]["message_id"] for _, body in hook.received]
        first_id = update["message"]["message_id"]
        assert ids[:3] == [first_id] * 3
        assert ids[4:] == [first_id, ids[3]]  # the same message ids again, in order
        assert emu.stats.updates_delivered == 2
        assert emu.undelivered == []

        hook.statuses = [500, 500, 500]
        lost = await an.send_text("3")
        assert emu.undelivered == [lost]  # given up after 1 + push_retries attempts
        assert emu.webhook_deliveries[-1].error is not None


async def test_push_to_a_dead_webhook_is_recorded(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    await call(http, emu, "setWebhook", {"url": f"http://127.0.0.1:{port}/h", "secret_token": SECRET})
    update = await emu.person(USER).send_text("alo")
    (delivery,) = emu.webhook_deliveries
    assert delivery.status is None
    assert delivery.error is not None
    assert delivery.message_id == update["message"]["message_id"]
    assert emu.undelivered == [update]


# --- sending


async def test_send_message_limits_and_unknown_chat(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    stranger = emu.person("aaaaaaaaaaaaaaaaaaaa")  # known to the test, never wrote to the bot
    status, body = await call(http, emu, "sendMessage", {"chat_id": stranger.user_id, "text": "Xin chào"})
    assert (status, body["ok"], body["error_code"]) == (200, False, UNKNOWN_CHAT_ERROR_CODE)
    status, body = await call(http, emu, "sendMessage", {"chat_id": "ffffffffffffffffffff", "text": "Xin chào"})
    assert body["error_code"] == UNKNOWN_CHAT_ERROR_CODE
    assert stranger.messages == []

    an = emu.person(USER, display_name="Nguyễn Văn An")
    await an.send_text("hi")
    status, body = await call(http, emu, "sendMessage", {"chat_id": USER, "text": "ệ" * MAX_TEXT})
    assert status == 200
    assert set(body["result"]) == {"message_id", "date"}
    assert len(body["result"]["message_id"]) == 20
    for bad in ("ệ" * (MAX_TEXT + 1), "", "   "):
        status, body = await call(http, emu, "sendMessage", {"chat_id": USER, "text": bad})
        assert (status, body["ok"], body["error_code"]) == (400, False, 400)
        assert body["description"]
    status, body = await call(http, emu, "sendMessage", {"text": "x"})
    assert (status, body["ok"]) == (400, False)
    assert len(an.messages) == 1
    assert emu.stats.messages_sent == 1
    assert emu.stats.errors_given == 6


async def test_parse_mode_is_ignored_but_recorded(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, has_written=True)
    nfd = unicodedata.normalize("NFD", "Cảm ơn")
    _, body = await call(http, emu, "sendMessage", {"chat_id": USER, "text": "*đậm*", "parse_mode": "markdown"})
    assert body["ok"] is True
    assert an.last.text == "*đậm*"  # not parsed
    assert an.last.parse_mode == "markdown"
    assert emu.stats.parse_mode_ignored == 1
    await call(http, emu, "sendMessage", {"chat_id": USER, "text": nfd})
    assert emu.stats.non_nfc_texts == 1


async def test_photo_sticker_and_chat_action(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER)
    await an.send_text("hi")
    _, body = await call(
        http, emu, "sendPhoto", {"chat_id": USER, "photo": "https://files.example.vn/qr.png", "caption": "Mã QR"}
    )
    assert set(body["result"]) == {"message_id", "date"}
    assert (an.last.kind, an.last.photo, an.last.caption, an.last.text) == (
        "photo",
        "https://files.example.vn/qr.png",
        "Mã QR",
        "Mã QR",
    )
    for photo, description in (("", "The photo must not be empty"), ("data:image/png;base64,AA", "http")):
        _, body = await call(http, emu, "sendPhoto", {"chat_id": USER, "photo": photo})
        assert body["ok"] is False
        assert description in body["description"]
    _, body = await call(http, emu, "sendSticker", {"chat_id": USER, "sticker": "0e078a2fb66a5f34067b"})
    assert body["ok"] is True
    assert (an.last.kind, an.last.sticker, an.last.text) == ("sticker", "0e078a2fb66a5f34067b", "")
    assert await call(http, emu, "sendChatAction", {"chat_id": USER, "action": "typing"}) == (200, {"ok": True})
    _, body = await call(http, emu, "sendChatAction", {"chat_id": USER, "action": "dancing"})
    assert body["ok"] is False
    assert an.chat_actions == ["typing"]
    assert emu.stats.messages_sent == 2


async def test_wait_for_sees_the_bots_answers(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, display_name="Nguyễn Văn An")

    async def product() -> None:  # a minimal poller answering each text
        for _ in range(2):
            _, body = await call(http, emu, "getUpdates", {"timeout": 5})
            message = body["result"]["message"]
            number = 1 if message["text"].startswith("/start") else 2
            await call(http, emu, "sendMessage", {"chat_id": message["chat"]["id"], "text": f"Câu {number}/5: ..."})

    task = asyncio.create_task(product())
    await an.send_text("/start TOKEN123")
    await an.wait_for(lambda p: p.last.text.startswith("Câu 1/"), timeout=5)
    await an.send_text("5")
    await an.wait_for(lambda p: len(p.messages) == 2, timeout=5)
    await task
    assert an.texts == ["Câu 1/5: ...", "Câu 2/5: ..."]
    with pytest.raises(TimeoutError, match="Câu 2/5"):
        await an.wait_for(lambda p: len(p.messages) == 3, timeout=0.05)


# --- faults and limits


async def test_fault_injection(emu: ZaloBotEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, has_written=True)
    message = {"chat_id": USER, "text": "Xin chào"}
    emu.fail_next("sendMessage", http_status=429)
    assert await call(http, emu, "sendMessage", message) == (
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests"},
    )
    emu.fail_next("sendMessage", http_status=500, count=2)
    for _ in range(2):
        status, body = await call(http, emu, "sendMessage", message)
        assert (status, body["ok"], body["error_code"]) == (500, False, 500)
    emu.fail_next("sendMessage", error_code=-230, description="User has not interacted")
    assert await call(http, emu, "sendMessage", message) == (
        200,
        {"ok": False, "error_code": -230, "description": "User has not interacted"},
    )
    assert an.messages == []
    assert (await call(http, emu, "sendMessage", message))[1]["ok"] is True  # faults used up
    assert emu.stats.too_many_requests == 1
    assert emu.stats.too_many_requests_by_chat[USER] == 1
    assert emu.stats.faults_injected == emu.stats.errors_given == 4

    emu.fail_next("getMe", http_status=502, raw_body="<html>502 Bad Gateway</html>")
    async with http.post(f"{emu.api_url}{TOKEN}/getMe") as response:
        assert response.status == 502
        assert "Bad Gateway" in await response.text()

    emu.fail_next("sendMessage", http_status=500, applied=True)  # sent, but the answer is lost
    assert (await call(http, emu, "sendMessage", message))[0] == 500
    assert an.texts == ["Xin chào", "Xin chào"]

    await an.send_text("không mất")
    emu.fail_next("getUpdates", http_status=500)
    assert (await call(http, emu, "getUpdates", {"timeout": 1}))[0] == 500
    assert len(emu.pending_updates) == 1  # a fault never consumes an update


async def test_rate_limits_and_error_overrides(http: aiohttp.ClientSession) -> None:
    errors = {"unknown_chat": ErrorSpec(200, -230, "User has not interacted with the bot")}
    async with ZaloBotEmulator(token=TOKEN, per_chat=2.0, global_rate=2, errors=errors) as emu:
        an = emu.person(USER, has_written=True)
        binh = emu.person(has_written=True)
        chi = emu.person(has_written=True)
        assert len({an.user_id, binh.user_id, chi.user_id}) == 3
        assert (await call(http, emu, "sendMessage", {"chat_id": USER, "text": "1"}))[1]["ok"]
        status, body = await call(http, emu, "sendMessage", {"chat_id": USER, "text": "2"})
        assert (status, body) == (429, {"ok": False, "error_code": 429, "description": "Too Many Requests"})
        assert (await call(http, emu, "sendMessage", {"chat_id": binh.user_id, "text": "1"}))[1]["ok"]
        status, _ = await call(http, emu, "sendMessage", {"chat_id": chi.user_id, "text": "1"})
        assert status == 429  # two in the last second, bot-wide
        emu.reset_limits()
        assert (await call(http, emu, "sendMessage", {"chat_id": USER, "text": "2"}))[1]["ok"]
        assert emu.stats.too_many_requests == 2
        _, body = await call(http, emu, "sendMessage", {"chat_id": "00000000000000000000", "text": "x"})
        assert body["error_code"] == -230


def test_envelope_is_validated() -> None:
    with pytest.raises(ValueError, match="envelope"):
        ZaloBotEmulator(envelope="nested")  # type: ignore[arg-type]


async def test_hang_and_stop_release_waiting_calls(http: aiohttp.ClientSession) -> None:
    emu = await ZaloBotEmulator(token=TOKEN).start()
    try:
        emu.hang("getMe")
        hung = asyncio.create_task(call(http, emu, "getMe"))
        poll = asyncio.create_task(call(http, emu, "getUpdates", {"timeout": 30}))
        await emu.wait_for(lambda e: e.waiting_polls == 1 and e.stats.requests["getMe"] == 1, timeout=5)
        assert not hung.done()
        emu.release("getMe")
        assert (await asyncio.wait_for(hung, 5))[1]["ok"] is True
    finally:
        await emu.stop()
    assert (await asyncio.wait_for(poll, 5))[1]["error_code"] == POLL_TIMEOUT_ERROR_CODE
