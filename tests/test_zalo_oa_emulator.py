"""The Zalo OA emulator, driven over loopback HTTP by a plain aiohttp client (as the product's is)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.emulators.loopback import WebhookReceiver
from tests.emulators.zalo_oa import (
    DAY,
    HOUR,
    INVALID_APP_ID,
    INVALID_GRANT_TYPE,
    INVALID_REFRESH_TOKEN,
    INVALID_SECRET_KEY,
    SIGNATURE_HEADER,
    RefreshRecord,
    ZaloOAEmulator,
)

APP_ID = "1234567890"
APP_SECRET = "app-secret"
OA_SECRET = "oa-secret-key"
OA_ID = "579745863508352884"
USER = "2468458835296117922"
HEX20 = re.compile(r"[0-9a-f]{20}")

Event = dict[str, Any]


class Receiver(WebhookReceiver):
    """Our side of the webhook: verifies ``X-ZEvent-Signature`` as docs/CHANNELS.md, Zalo OA says, records every push.

    Answers 403 to a push whose signature is missing or wrong (as the product does), else the next of
    ``statuses`` (200 when none are left). ``on_event`` (async) is called with each verified event: a stand-in for
    the product.
    """

    PATH = "/webhooks/zalo-oa"

    def __init__(self, statuses: list[int] | None = None) -> None:
        super().__init__()
        self.statuses = list(statuses or [])
        self.received: list[dict[str, Any]] = []  # {"headers", "raw", "event", "valid"}
        self.on_event: Callable[[Event], Awaitable[None]] | None = None
        self._changed = asyncio.Condition()

    @property
    def events(self) -> list[Event]:
        """The events whose signature was valid, in arrival order."""
        return [r["event"] for r in self.received if r["valid"]]

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.get("event_name") == name]

    async def wait(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.received) >= count), timeout)

    @staticmethod
    def expected(raw: bytes, event: Event) -> str:
        app_id, timestamp = str(event.get("app_id", "")), str(event.get("timestamp", ""))
        return hashlib.sha256(app_id.encode() + raw + timestamp.encode() + OA_SECRET.encode()).hexdigest()

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        event = json.loads(raw)
        header = request.headers.get(SIGNATURE_HEADER)
        valid = header is not None and hmac.compare_digest(header.removeprefix("mac="), self.expected(raw, event))
        self.received.append({"headers": dict(request.headers), "raw": raw, "event": event, "valid": valid})
        async with self._changed:
            self._changed.notify_all()
        if not valid:
            return web.Response(status=403, text="forbidden")
        if self.on_event is not None:
            await self.on_event(event)
        return web.json_response({"error": 0}, status=self.statuses.pop(0) if self.statuses else 200)


def make_emulator(**kwargs: Any) -> ZaloOAEmulator:
    return ZaloOAEmulator(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        oa_secret_key=OA_SECRET,
        oa_id=OA_ID,
        access_token="AT-1",
        refresh_token="RT-1",
        **kwargs,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as hook:
        yield hook


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[ZaloOAEmulator]:
    async with make_emulator(webhook_url=receiver.url) as emulator:
        yield emulator


async def post(
    http: aiohttp.ClientSession, url: str, body: Any = None, *, token: str | None = "AT-1", **kwargs: Any
) -> tuple[int, Any]:
    """POST JSON with the ``access_token`` header, as the product does; (HTTP status, decoded body)."""
    headers = {"access_token": token} if token is not None else {}
    async with http.post(url, json=body, headers=headers, **kwargs) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def cs(
    http: aiohttp.ClientSession,
    emu: ZaloOAEmulator,
    text: str | None = "Xin chào",
    *,
    user_id: str = USER,
    buttons: list[dict[str, Any]] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {} if text is None else {"text": text}
    if buttons is not None:
        message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
    body = {"recipient": {"user_id": user_id}, "message": message}
    status, answer = await post(http, f"{emu.api_url}/v3.0/oa/message/cs", body, token=token or emu.access_token)
    assert status == 200
    assert isinstance(answer, dict)
    return answer


async def refresh(
    http: aiohttp.ClientSession,
    emu: ZaloOAEmulator,
    refresh_token: str,
    *,
    secret: str = APP_SECRET,
    app_id: str = APP_ID,
    grant_type: str = "refresh_token",
    as_json: bool = False,
) -> dict[str, Any]:
    fields = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": grant_type}
    payload: dict[str, Any] = {"json": fields} if as_json else {"data": fields}
    async with http.post(f"{emu.oauth_url}/v4/oa/access_token", headers={"secret_key": secret}, **payload) as response:
        assert response.status == 200
        answer = await response.json()
    assert isinstance(answer, dict)
    return answer


def quick_reply(title: str, payload: str, kind: str = "oa.query.hide") -> dict[str, Any]:
    return {"type": kind, "title": title, "payload": payload}


# --- tokens


async def test_every_call_needs_the_current_access_token(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, "Nguyễn Văn An", interacted=True)
    invalid = {"error": -216, "message": "Access token is invalid"}
    assert await cs(http, emu, token="AT-wrong") == invalid
    status, answer = await post(
        http,
        f"{emu.api_url}/v3.0/oa/message/cs",
        {"recipient": {"user_id": USER}, "message": {"text": "x"}},
        token=None,
    )
    assert (status, answer) == (200, invalid)
    assert emu.stats.rejected_tokens == 2
    assert an.messages == []
    assert (await cs(http, emu))["error"] == 0
    assert emu.calls[-1].headers["access_token"] == "AT-1"


async def test_access_token_expires_on_the_emulator_clock(http: aiohttp.ClientSession) -> None:
    async with make_emulator(access_ttl=100.0) as emu:
        emu.person(USER, interacted=True)
        assert (await cs(http, emu))["error"] == 0
        emu.advance(99)
        assert emu.access_token_valid()
        emu.advance(2)
        assert not emu.access_token_valid()
        assert await cs(http, emu) == {"error": -216, "message": "Access token is invalid"}


async def test_expire_access_token_answers_216_on_openapi_and_124_on_business(
    emu: ZaloOAEmulator, http: aiohttp.ClientSession
) -> None:
    emu.person(USER, interacted=True)
    emu.expire_access_token()
    assert (await cs(http, emu))["error"] == -216
    zns = {"phone": "84912345678", "template_id": "1", "template_data": {}, "tracking_id": "t"}
    status, answer = await post(http, f"{emu.zns_url}/message/template", zns)
    assert (status, answer) == (200, {"error": -124, "message": "Access token invalid"})


async def test_refresh_rotates_and_each_refresh_token_is_single_use(
    emu: ZaloOAEmulator, http: aiohttp.ClientSession
) -> None:
    emu.person(USER, interacted=True)
    first = await refresh(http, emu, "RT-1")  # form-encoded, as Zalo documents it
    assert set(first) == {"access_token", "refresh_token", "expires_in"}
    assert first["expires_in"] == "90000"  # a string, as Zalo sends it
    assert (first["access_token"], first["refresh_token"]) == (emu.access_token, emu.refresh_token)
    assert first["access_token"] != "AT-1"
    assert first["refresh_token"] != "RT-1"
    assert emu.refreshes == 1
    assert emu.refresh_event.is_set()
    assert emu.calls[-1].body == {"refresh_token": "RT-1", "app_id": APP_ID, "grant_type": "refresh_token"}

    # the spent refresh token is refused, with Zalo's OAuth error shape
    assert await refresh(http, emu, "RT-1") == INVALID_REFRESH_TOKEN
    assert INVALID_REFRESH_TOKEN == {
        "error": -14014,
        "error_name": "Invalid refresh token",
        "error_description": "Invalid refresh token",
    }
    assert emu.refreshes == 1
    assert emu.stats.refresh_failures == 1

    # the new one works once (JSON accepted too), and the old access token lives on until its own expiry
    second = await refresh(http, emu, first["refresh_token"], as_json=True)
    assert second["access_token"] not in ("AT-1", first["access_token"])
    assert await refresh(http, emu, first["refresh_token"]) == INVALID_REFRESH_TOKEN
    assert (await cs(http, emu, token="AT-1"))["error"] == 0
    assert (await cs(http, emu, token=second["access_token"]))["error"] == 0
    assert [r.old_refresh_token for r in emu.refresh_log] == ["RT-1", first["refresh_token"]]
    assert emu.spent_refresh_tokens == ["RT-1", first["refresh_token"]]


async def test_old_access_token_can_be_revoked_by_a_refresh(http: aiohttp.ClientSession) -> None:
    async with make_emulator(old_access_valid_after_refresh=False) as emu:
        emu.person(USER, interacted=True)
        new = await refresh(http, emu, "RT-1")
        assert (await cs(http, emu, token="AT-1"))["error"] == -216
        assert (await cs(http, emu, token=new["access_token"]))["error"] == 0


async def test_refresh_refusals(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    assert await refresh(http, emu, "RT-1", secret="wrong") == INVALID_SECRET_KEY
    assert await refresh(http, emu, "RT-1", app_id="999") == INVALID_APP_ID
    assert await refresh(http, emu, "RT-1", grant_type="authorization_code") == INVALID_GRANT_TYPE
    assert await refresh(http, emu, "RT-unknown") == INVALID_REFRESH_TOKEN
    assert emu.refreshes == 0
    assert emu.stats.refresh_failures == 4
    assert emu.refresh_token == "RT-1"  # nothing was spent
    emu.expire_refresh_token()
    assert await refresh(http, emu, "RT-1") == INVALID_REFRESH_TOKEN


async def test_refresh_tokens_expire(http: aiohttp.ClientSession) -> None:
    async with make_emulator(refresh_ttl=10.0) as emu:
        emu.advance(11)
        assert await refresh(http, emu, "RT-1") == INVALID_REFRESH_TOKEN


async def test_on_refresh_runs_after_the_answer_is_written(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    seen: list[RefreshRecord] = []
    answered = asyncio.Event()

    async def hook(record: RefreshRecord) -> None:
        seen.append(record)
        # the answer is already out: the client can read it while the hook still runs
        await asyncio.wait_for(answered.wait(), 5)

    emu.on_refresh = hook
    answer = await refresh(http, emu, "RT-1")
    answered.set()
    await emu.refresh_event.wait()
    await asyncio.sleep(0)
    assert seen == [RefreshRecord("RT-1", answer["access_token"], answer["refresh_token"], seen[0].at)]


async def test_lost_refresh_answer_breaks_the_chain(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.fail_next("/v4/oa/access_token", http_status=502, applied=True)
    async with http.post(
        f"{emu.oauth_url}/v4/oa/access_token",
        headers={"secret_key": APP_SECRET},
        data={"refresh_token": "RT-1", "app_id": APP_ID, "grant_type": "refresh_token"},
    ) as response:
        assert response.status == 502
        assert "502 Bad Gateway" in await response.text()
    assert emu.refreshes == 1
    assert emu.refresh_event.is_set()
    assert await refresh(http, emu, "RT-1") == INVALID_REFRESH_TOKEN
    assert emu.calls[-2].fault is True


# --- customer-service messages


async def test_message_cs_success_shape(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, display_name="Nguyễn Văn An")
    await an.follow()
    answer = await cs(http, emu, "Hồ sơ HS123 đã có kết quả")
    assert answer["error"] == 0
    assert answer["message"] == "Success"
    data = answer["data"]
    assert HEX20.fullmatch(data["message_id"])
    assert data["user_id"] == USER
    assert data["quota"] == {"quota_type": "reply", "owner_type": "OA", "owner_id": OA_ID}
    await an.wait_for(lambda p: p.last.text == "Hồ sơ HS123 đã có kết quả", timeout=2)
    assert an.last.message_id == data["message_id"]
    assert an.texts == ["Hồ sơ HS123 đã có kết quả"]
    assert emu.stats.messages_sent == 1
    assert emu.stats.requests["/v3.0/oa/message/cs"] == 1


async def test_eight_replies_per_interaction_then_213_until_the_user_writes(
    emu: ZaloOAEmulator, http: aiohttp.ClientSession
) -> None:
    an = emu.person(USER)
    await an.send_text("Tôi muốn hỏi về hồ sơ")
    for n in range(8):
        assert (await cs(http, emu, f"Trả lời {n + 1}"))["error"] == 0
    ninth = await cs(http, emu, "Trả lời 9")
    assert ninth["error"] == -213
    assert emu.stats.window_errors == 1
    assert len(an.messages) == 8
    await an.send_text("Cảm ơn")
    assert (await cs(http, emu, "Trả lời 9"))["error"] == 0
    assert an.replies_since == 1


async def test_48_hour_window_then_7_days(http: aiohttp.ClientSession) -> None:
    async with make_emulator(access_ttl=30 * DAY) as emu:  # the default token would expire after 25 h
        an = emu.person(USER)
        await an.send_text("Xin chào")
        emu.advance(48 * HOUR - 60)
        assert (await cs(http, emu))["error"] == 0
        emu.advance(120)
        closed = await cs(http, emu)
        assert closed == {"error": -213, "message": "User has not interacted with the OA in the past 48 hours"}
        emu.advance(5 * DAY)
        expired = await cs(http, emu)
        assert expired == {"error": -230, "message": "User has not interacted with the OA in the past 7 days"}
        assert emu.stats.window_errors == 2
        await an.send_text("Tôi quay lại")
        assert (await cs(http, emu))["error"] == 0


async def test_the_token_expires_before_the_window_closes(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.person(USER, interacted=True)
    emu.advance(26 * HOUR)
    assert (await cs(http, emu))["error"] == -216
    await refresh(http, emu, emu.refresh_token)
    assert (await cs(http, emu))["error"] == 0


async def test_windows_can_be_switched_off(http: aiohttp.ClientSession) -> None:
    async with make_emulator(
        reply_window=None, replies_per_window=None, interaction_window=None, access_ttl=60 * DAY
    ) as emu:
        emu.person(USER, interacted=True)
        for _ in range(12):
            assert (await cs(http, emu))["error"] == 0
        emu.advance(30 * DAY)
        assert (await cs(http, emu))["error"] == 0


async def test_unknown_user_unfollowed_and_bad_user_id(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    assert (await cs(http, emu, user_id="1111111111111111111"))["error"] == -230  # never seen
    an = emu.person(USER)
    assert (await cs(http, emu))["error"] == -230  # known to the test, never followed nor wrote
    await an.follow()
    assert (await cs(http, emu))["error"] == 0
    await an.unfollow()
    assert await cs(http, emu) == {"error": -232, "message": "User has unfollowed the OA"}
    await an.follow()
    assert (await cs(http, emu))["error"] == 0
    bad = await cs(http, emu, user_id="abc")
    assert bad["error"] == -201


async def test_buttons_are_checked(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, interacted=True)
    six = [quick_reply(f"Lựa chọn {n}", f"#sipas {n}") for n in range(6)]
    too_many = await cs(http, emu, "Chọn", buttons=six)
    assert too_many == {"error": -201, "message": "Parameters are invalid: at most 5 buttons"}
    long_title = await cs(http, emu, "Chọn", buttons=[quick_reply("x" * 21, "#sipas 1")])
    assert long_title["error"] == -201
    assert "20 characters" in long_title["message"]
    assert (await cs(http, emu, "Chọn", buttons=[{"type": "oa.query.bogus", "title": "A", "payload": "a"}]))[
        "error"
    ] == -201
    assert (await cs(http, emu, "Chọn", buttons=[quick_reply("A", "")]))["error"] == -201
    assert (await cs(http, emu, "Chọn", buttons=[{"type": "oa.open.url", "title": "Web", "payload": {}}]))[
        "error"
    ] == -201
    assert emu.stats.param_errors == 5
    assert an.messages == []

    five = [
        quick_reply("Rất hài lòng", "#sipas 5"),
        quick_reply("Hài lòng", "#sipas 4", "oa.query.show"),
        quick_reply("x" * 20, "#sipas 3"),
        {"type": "oa.open.url", "title": "Góp ý chi tiết", "payload": {"url": "https://dvc.example.vn/s/abc"}},
        {"type": "oa.open.phone", "title": "Gọi bộ phận 1 cửa", "payload": {"phone_code": "0243123456"}},
    ]
    assert (await cs(http, emu, "Ông/bà đánh giá mức độ hài lòng?", buttons=five))["error"] == 0
    assert an.last.button_titles == ["Rất hài lòng", "Hài lòng", "x" * 20, "Góp ý chi tiết", "Gọi bộ phận 1 cửa"]
    assert an.last.buttons[0] == ("Rất hài lòng", "oa.query.hide", "#sipas 5")
    assert an.last.buttons[3] == ("Góp ý chi tiết", "oa.open.url", {"url": "https://dvc.example.vn/s/abc"})


async def test_text_length_and_emptiness(http: aiohttp.ClientSession) -> None:
    async with make_emulator() as emu:
        emu.person(USER, interacted=True)
        assert (await cs(http, emu, "a" * 2000))["error"] == 0
        too_long = await cs(http, emu, "a" * 2001)
        assert too_long == {"error": -201, "message": "Parameters are invalid: text is longer than 2000 characters"}
        assert (await cs(http, emu, "   "))["error"] == -201
        assert (await cs(http, emu, None))["error"] == -201
        emu.max_text = 10
        assert (await cs(http, emu, "a" * 11))["error"] == -201
        _status, answer = await post(http, f"{emu.api_url}/v3.0/oa/message/cs", ["not", "an", "object"])
        assert answer["error"] == -201


async def test_press_comes_back_as_user_send_text_with_the_payload(
    emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    an = emu.person(USER, "Nguyễn Văn An")
    await an.send_text("Xin chào")
    buttons = [quick_reply("Hài lòng", "#sipas 4"), quick_reply("Không hài lòng", "#sipas 1")]
    for _ in range(7):
        await cs(http, emu, "Câu hỏi", buttons=buttons)
    await cs(http, emu, "Câu hỏi mới", buttons=[quick_reply("Hài lòng", "#sipas new")])
    assert (await cs(http, emu))["error"] == -213  # 8 replies used
    event = await an.press("Hài lòng")  # the latest message showing it
    assert event["event_name"] == "user_send_text"
    assert event["message"]["text"] == "#sipas new"
    assert receiver.events[-1] == event
    assert event["sender"] == {"id": USER}
    assert event["recipient"] == {"id": OA_ID}
    assert HEX20.fullmatch(event["message"]["msg_id"])
    assert event["user_id_by_app"] == an.user_id_by_app
    assert an.last.presses == ["#sipas new"]
    assert (await cs(http, emu))["error"] == 0  # the press is an interaction: the count starts again
    await an.press("Không hài lòng")
    assert receiver.events[-1]["message"]["text"] == "#sipas 1"
    with pytest.raises(LookupError, match="no query button"):
        await an.press("Không có nút này")


async def test_press_as_user_click_button(emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    emu.button_event = "user_click_button"
    an = emu.person(USER, interacted=True)
    await cs(http, emu, "Chọn", buttons=[quick_reply("Có", "#sipas yes")])
    event = await an.press("Có")
    assert event["event_name"] == "user_click_button"
    assert event["message"]["payload"] == event["message"]["text"] == "#sipas yes"
    assert event["message"]["quote_msg_id"] == an.last.message_id
    assert receiver.named("user_click_button") == [event]


async def test_follow_and_unfollow_events(emu: ZaloOAEmulator, receiver: Receiver) -> None:
    an = emu.person(USER)
    follow = await an.follow()
    unfollow = await an.unfollow()
    assert [r["valid"] for r in receiver.received] == [True, True]
    assert receiver.events == [follow, unfollow]
    assert follow["event_name"] == "follow"
    assert unfollow["event_name"] == "unfollow"
    for event in (follow, unfollow):
        assert event["app_id"] == APP_ID
        assert event["oa_id"] == OA_ID
        assert event["follower"] == {"id": USER}
        assert re.fullmatch(r"\d{13}", event["timestamp"])
        assert event["user_id_by_app"] == an.user_id_by_app
    assert follow["source"] == "oa_profile"
    assert an.following is False
    assert an.unfollowed is True
    assert [d.status for d in emu.deliveries] == [200, 200]


async def test_signature_is_sha256_of_app_id_body_timestamp_key_with_mac_prefix(
    emu: ZaloOAEmulator, receiver: Receiver
) -> None:
    an = emu.person(USER)
    event = await an.send_text("/start TOKEN123")
    record = receiver.received[-1]
    header = record["headers"][SIGNATURE_HEADER]
    assert header.startswith("mac=")
    raw: bytes = record["raw"]
    expected = hashlib.sha256(
        APP_ID.encode() + raw + event["timestamp"].encode() + OA_SECRET.encode()
    ).hexdigest()  # plain SHA-256, not HMAC
    assert header == f"mac={expected}"
    assert record["headers"]["Content-Type"] == "application/json"
    assert json.loads(raw) == event
    assert event["message"]["text"] == "/start TOKEN123"
    assert isinstance(event["timestamp"], str)


async def test_raw_pushes_signed_forged_unsigned_replayed(emu: ZaloOAEmulator, receiver: Receiver) -> None:
    event = {
        "event_name": "user_send_text",
        "sender": {"id": USER},
        "recipient": {"id": OA_ID},
        "message": {"msg_id": "cb31dff1c39642cc1b83", "text": "xin chào"},
    }
    assert await emu.push(event) == 200
    assert await emu.push(event, signature="wrong") == 403
    assert await emu.push(event, signature="missing") == 403
    assert await emu.push(event, signature="bare") == 200
    assert await emu.push(event, timestamp_ms=1718000100000) == 200  # replayed: old but validly signed
    assert [r["valid"] for r in receiver.received] == [True, False, False, True, True]
    assert SIGNATURE_HEADER not in receiver.received[2]["headers"]
    assert not receiver.received[3]["headers"][SIGNATURE_HEADER].startswith("mac=")
    assert receiver.received[4]["event"]["timestamp"] == "1718000100000"
    assert receiver.received[0]["event"]["app_id"] == APP_ID  # filled in
    assert [d.signature_mode for d in emu.deliveries] == ["valid", "wrong", "missing", "bare", "valid"]
    assert event == {  # the caller's dict is untouched
        "event_name": "user_send_text",
        "sender": {"id": USER},
        "recipient": {"id": OA_ID},
        "message": {"msg_id": "cb31dff1c39642cc1b83", "text": "xin chào"},
    }


async def test_push_retries_and_undelivered(http: aiohttp.ClientSession) -> None:
    async with Receiver(statuses=[500, 503, 200, 500, 500]) as hook, make_emulator(push_retries=2) as emu:
        emu.webhook_url = hook.url
        emu.push_retry_delay = 0.0
        an = emu.person(USER)
        await an.send_text("một")
        assert [d.status for d in emu.deliveries] == [500, 503, 200]
        assert [d.attempt for d in emu.deliveries] == [1, 2, 3]
        assert emu.undelivered == []
        emu.push_retries = 1
        await an.send_text("hai")
        assert [d.status for d in emu.deliveries[3:]] == [500, 500]
        assert [e["message"]["text"] for e in emu.undelivered] == ["hai"]
        assert emu.stats.webhook_pushes == 5
        assert emu.stats.webhook_failures == 4


async def test_no_webhook_url_records_events_without_pushing(http: aiohttp.ClientSession) -> None:
    async with make_emulator() as emu:
        an = emu.person(USER)
        event = await an.send_text("Xin chào")
        assert emu.events == [event]
        assert emu.undelivered == [event]
        assert emu.deliveries == []
        assert (await cs(http, emu))["error"] == 0  # the window opened all the same
        with pytest.raises(RuntimeError):
            await emu.push(event)


async def test_unreachable_webhook_is_recorded(http: aiohttp.ClientSession) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with make_emulator() as emu:
        emu.webhook_url = f"http://127.0.0.1:{port}/webhooks/zalo-oa"
        assert await emu.push({"event_name": "follow", "follower": {"id": USER}}) is None
        assert emu.deliveries[-1].error is not None
        assert emu.deliveries[-1].status is None


async def test_rate_limit_per_oa(http: aiohttp.ClientSession) -> None:
    async with make_emulator(rate_per_second=2) as emu:
        an = emu.person(USER, interacted=True)
        answers = [await cs(http, emu, str(n)) for n in range(3)]
        assert [a["error"] for a in answers] == [0, 0, -32]
        assert emu.stats.rate_limited == 1
        assert an.texts == ["0", "1"]
        emu.reset_limits()
        assert (await cs(http, emu))["error"] == 0


async def test_fault_injection(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, interacted=True)
    url = f"{emu.api_url}/v3.0/oa/message/cs"
    body = {"recipient": {"user_id": USER}, "message": {"text": "Xin chào"}}

    emu.fail_next("/message/cs", http_status=502, count=2)
    assert (await post(http, url, body))[0] == 502
    assert (await post(http, url, body))[0] == 502
    assert (await post(http, url, body))[0] == 200

    emu.fail_next("/message/cs", error=-216, message="Access token is invalid")
    assert await post(http, url, body) == (200, {"error": -216, "message": "Access token is invalid"})

    emu.fail_next("/message/cs", error=-32, message="Too many requests", http_status=429)
    assert await post(http, url, body) == (429, {"error": -32, "message": "Too many requests"})

    emu.fail_next("/message/cs", disconnect=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, url, body)

    emu.fail_next("/message/cs", delay=0.5)
    with pytest.raises(TimeoutError):
        await post(http, url, body, timeout=aiohttp.ClientTimeout(total=0.1))

    before = len(an.messages)
    emu.fail_next("*", applied=True)  # took effect, answer lost: the product will send it twice
    assert (await post(http, url, body))[0] == 500
    assert len(an.messages) == before + 1
    assert emu.stats.faults_injected == 7
    assert sum(c.fault for c in emu.calls) == 7


async def test_calls_log_and_unknown_paths(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.person(USER, interacted=True)
    await cs(http, emu, "Xin chào")
    call = emu.calls[-1]
    assert call.path == "/openapi/v3.0/oa/message/cs"
    assert call.http_method == "POST"
    assert call.body == {"recipient": {"user_id": USER}, "message": {"text": "Xin chào"}}
    assert call.headers["access_token"] == "AT-1"
    assert call.answer["error"] == 0
    assert call.http_status == 200
    assert emu.calls_to("/message/cs") == [call]
    assert await post(http, f"{emu.api_url}/v2.0/oa/message") == (404, {"error": 404, "message": "Not Found"})


async def test_user_detail(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    an = emu.person(USER, "Nguyễn Văn An")
    await an.follow()
    async with http.get(
        f"{emu.api_url}/v3.0/oa/user/detail",
        params={"data": json.dumps({"user_id": USER})},
        headers={"access_token": "AT-1"},
    ) as response:
        answer = await response.json()
    assert answer["error"] == 0
    assert answer["data"]["display_name"] == "Nguyễn Văn An"
    assert answer["data"]["user_is_follower"] is True


async def test_oa_received_events(http: aiohttp.ClientSession, receiver: Receiver) -> None:
    async with make_emulator(oa_received_events=True) as emu:
        emu.webhook_url = receiver.url
        emu.person(USER, interacted=True)
        answer = await cs(http, emu)
        await emu.settle()
        received = receiver.named("user_received_message")
        assert received[0]["message"] == {"msg_ids": [answer["data"]["message_id"]]}
        assert received[0]["recipient"] == {"id": USER}
        assert received[0]["sender"] == {"id": OA_ID}


async def test_wait_for_times_out_with_a_description(emu: ZaloOAEmulator) -> None:
    an = emu.person(USER, "Nguyễn Văn An")
    with pytest.raises(TimeoutError, match="Nguyễn Văn An"):
        await an.wait_for(lambda p: p.last.text == "never", timeout=0.05)


async def test_a_product_stand_in_answers_through_the_webhook(
    emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    """The whole loop: a person writes, "the product" answers from its webhook handler with buttons, the person
    presses one, and the product sees the payload."""
    payloads: list[str] = []

    async def product(event: Event) -> None:
        if event["event_name"] != "user_send_text":
            return
        text = event["message"]["text"]
        if text.startswith("#sipas "):
            payloads.append(text)
            await cs(http, emu, "Cảm ơn ông/bà!", user_id=event["sender"]["id"])
        else:
            buttons = [quick_reply("Hài lòng", "#sipas 4"), quick_reply("Không hài lòng", "#sipas 1")]
            await cs(http, emu, "Ông/bà có hài lòng không?", user_id=event["sender"]["id"], buttons=buttons)

    receiver.on_event = product
    an = emu.person(USER, "Nguyễn Văn An")
    await an.send_text("/start TOKEN")
    await an.wait_for(lambda p: p.last.button_titles == ["Hài lòng", "Không hài lòng"], timeout=5)
    await an.press("Hài lòng")
    await an.wait_for(lambda p: p.last.text == "Cảm ơn ông/bà!", timeout=5)
    assert payloads == ["#sipas 4"]
