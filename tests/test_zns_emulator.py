"""The ZNS part of the Zalo OA emulator, driven over loopback HTTP by a plain aiohttp client (as the product's is)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.emulators.zns import ZONE, TemplateParam
from tests.test_zalo_oa_emulator import (
    APP_ID,
    APP_SECRET,
    OA_ID,
    Receiver,
    make_emulator,
    post,
)

PHONE = "84912345678"
TEMPLATE = "350001"
DATA = {"ho_ten": "Nguyễn Văn An", "ma_ho_so": "HS123", "ngay_tra": "01/10/2025"}
HEX20 = re.compile(r"[0-9a-f]{20}")


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[ZaloOAEmulator]:
    async with make_emulator(webhook_url=receiver.url) as emulator:
        emulator.zns.add_template(TEMPLATE, params=[("ho_ten", 30), ("ma_ho_so", 30), ("ngay_tra", 20)], rating=True)
        yield emulator


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as hook:
        yield hook


async def send(
    http: aiohttp.ClientSession,
    emu: ZaloOAEmulator,
    phone: str = PHONE,
    *,
    template_id: str = TEMPLATE,
    data: Any = None,
    tracking_id: str = "survey-HS123-1",
    token: str | None = None,
) -> dict[str, Any]:
    body = {
        "phone": phone,
        "template_id": template_id,
        "template_data": DATA if data is None else data,
        "tracking_id": tracking_id,
    }
    status, answer = await post(http, f"{emu.zns_url}/message/template", body, token=token or emu.access_token)
    assert status == 200
    assert isinstance(answer, dict)
    return answer


async def test_send_success_shape_and_received_push(
    emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    r = emu.zns.recipient(PHONE)
    answer = await send(http, emu)
    assert answer["error"] == 0
    assert answer["message"] == "Success"
    data = answer["data"]
    assert set(data) == {"msg_id", "sent_time", "sending_mode", "quota"}
    assert HEX20.fullmatch(data["msg_id"])
    assert re.fullmatch(r"\d{13}", data["sent_time"])
    assert data["sending_mode"] is None
    assert data["quota"] == {"dailyQuota": "500", "remainingQuota": "499"}
    await r.wait_for(lambda r: r.last.tracking_id == "survey-HS123-1", timeout=2)
    assert r.last.msg_id == data["msg_id"]
    assert r.last.template_id == TEMPLATE
    assert r.last.template_data == DATA
    assert emu.stats.zns_sent == 1
    assert emu.zns.remaining == 499

    await emu.settle()
    [event] = receiver.named("user_received_message")
    assert receiver.received[-1]["valid"] is True
    assert receiver.received[-1]["headers"]["X-ZEvent-Signature"].startswith("mac=")
    assert set(event) == {"event_name", "app_id", "sender", "recipient", "message", "timestamp"}
    assert event["app_id"] == APP_ID
    assert event["sender"] == {"id": OA_ID}
    assert event["recipient"] == {"id": PHONE}
    assert event["message"]["msg_id"] == data["msg_id"]
    assert event["message"]["tracking_id"] == "survey-HS123-1"
    assert re.fullmatch(r"\d{13}", event["message"]["delivery_time"])
    assert r.last.received_pushed is True


async def test_received_push_can_be_off_or_top_level(
    emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    emu.zns.auto_received = False
    await send(http, emu)
    await emu.settle()
    assert receiver.received == []
    emu.zns.auto_received = True
    emu.zns.received_shape = "top_level"
    await send(http, emu, tracking_id="t-2")
    await emu.settle()
    [event] = receiver.named("user_received_message")
    assert event["tracking_id"] == event["message"]["tracking_id"] == "t-2"
    assert event["msg_id"] == event["message"]["msg_id"]


async def test_phone_must_be_84_and_nine_digits(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    for phone in ("0912345678", "+84912345678", "8491234567", "849123456789", "84 912345678", "84abcdefghi"):
        assert await send(http, emu, phone) == {"error": -108, "message": "Phone number invalid"}, phone
    assert emu.zns.sent == []
    assert emu.stats.param_errors == 6


async def test_phone_without_zalo_is_118(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.zns.no_zalo("84900000000")
    assert await send(http, emu, "84900000000") == {"error": -118, "message": "Zalo account not existed"}
    assert (await send(http, emu, "84911111111"))["error"] == 0  # an undeclared phone has Zalo by default
    emu.zns.unknown_phones_have_zalo = False
    assert (await send(http, emu, "84922222222"))["error"] == -118
    assert (await send(http, emu, "84911111111"))["error"] == 0  # known since its first message
    assert emu.zns.remaining == 498  # failed sends use no quota


async def test_unknown_or_forbidden_template_is_117(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    assert (await send(http, emu, template_id="999999"))["error"] == -117
    emu.zns.add_template("350002", params=[("ho_ten", 30)], permitted=False)
    assert (await send(http, emu, template_id="350002"))["error"] == -117
    emu.zns.add_template("350003", params=[("ho_ten", 30)], status="DISABLE")
    assert (await send(http, emu, template_id="350003"))["error"] == -117


async def test_template_data_is_checked_against_the_params(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    missing = await send(http, emu, data={"ho_ten": "An", "ma_ho_so": "HS1"})
    assert missing == {"error": -112, "message": "Template data invalid: ngay_tra is required"}
    blank = await send(http, emu, data={**DATA, "ma_ho_so": "  "})
    assert blank["error"] == -112
    too_long = await send(http, emu, data={**DATA, "ho_ten": "A" * 31})
    assert too_long == {"error": -112, "message": "Template data invalid: ho_ten is longer than 30 characters"}
    assert (await send(http, emu, data={**DATA, "ma_ho_so": ["HS1"]}))["error"] == -112
    assert (await send(http, emu, data="ho_ten=An"))["error"] == -112
    assert (await send(http, emu, data={**DATA, "ho_ten": "A" * 30, "extra": "ignored"}))["error"] == 0

    emu.zns.add_template("350004", params=[TemplateParam("ho_ten", 30), ("ghi_chu", 50, False), ("so_tien", 10)])
    assert (await send(http, emu, template_id="350004", data={"ho_ten": "An", "so_tien": 120000}))["error"] == 0
    assert emu.stats.param_errors == 5


async def test_bad_bodies(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    _, answer = await post(http, f"{emu.zns_url}/message/template", ["x"], token=emu.access_token)
    assert answer["error"] == -122
    _, answer = await post(http, f"{emu.zns_url}/message/template", {"phone": PHONE}, token=emu.access_token)
    assert answer["error"] == -122


async def test_refused_recipient(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    r = emu.zns.recipient(PHONE)
    r.refuse()
    assert await send(http, emu) == {"error": -139, "message": "User refused to receive ZNS messages"}
    r.refuse(-141)
    assert (await send(http, emu))["error"] == -141
    r.accept()
    assert (await send(http, emu))["error"] == 0
    assert len(r.messages) == 1


async def test_daily_quota_144_and_reset(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.zns.daily_quota = 2
    first = await send(http, emu, tracking_id="a")
    assert first["data"]["quota"] == {"dailyQuota": "2", "remainingQuota": "1"}
    assert (await send(http, emu, tracking_id="b"))["data"]["quota"]["remainingQuota"] == "0"
    assert emu.zns.remaining == 0
    third = await send(http, emu, tracking_id="c")
    assert third == {"error": -144, "message": "OA has exceeded the daily quota for ZNS messages"}
    assert emu.stats.quota_errors == 1
    emu.zns.reset_quota()
    assert emu.zns.remaining == 2
    assert (await send(http, emu, tracking_id="c"))["error"] == 0


async def test_quota_resets_at_midnight_in_ho_chi_minh_city(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.zns.daily_quota = 1
    assert (await send(http, emu))["error"] == 0
    assert (await send(http, emu))["error"] == -144
    local = datetime.fromtimestamp(emu.now(), ZONE)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    emu.advance((midnight - local).total_seconds() - 2)
    assert (await send(http, emu))["error"] == -144
    emu.advance(3)
    assert emu.zns.remaining == 1
    assert (await send(http, emu))["error"] == 0


async def test_template_daily_quota_147(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.zns.add_template("350005", params=[("ho_ten", 30)], daily_quota=1)
    assert (await send(http, emu, template_id="350005", data={"ho_ten": "An"}))["error"] == 0
    assert (await send(http, emu, template_id="350005", data={"ho_ten": "An"}))["error"] == -147
    assert (await send(http, emu))["error"] == 0  # other templates go on
    emu.zns.reset_quota()
    assert (await send(http, emu, template_id="350005", data={"ho_ten": "An"}))["error"] == 0


async def test_business_token_errors_are_124(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    assert await send(http, emu, token="AT-wrong") == {"error": -124, "message": "Access token invalid"}
    emu.advance(90001)
    assert (await send(http, emu))["error"] == -124
    async with http.post(
        f"{emu.oauth_url}/v4/oa/access_token",
        headers={"secret_key": APP_SECRET},
        data={"refresh_token": emu.refresh_token, "app_id": APP_ID, "grant_type": "refresh_token"},
    ) as response:
        pair = await response.json()
    assert (await send(http, emu, token=pair["access_token"]))["error"] == 0
    assert emu.stats.rejected_tokens == 2


async def test_rating_pushes_user_feedback(
    emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    emu.zns.add_template("350006", params=[("ho_ten", 30)])  # not a rating template
    r = emu.zns.recipient(PHONE)
    rated = await send(http, emu, tracking_id="survey-HS123-1")
    await send(http, emu, template_id="350006", data={"ho_ten": "An"}, tracking_id="apology-HS123")
    await emu.settle()
    event = await r.rate(5, feedbacks=["Thái độ phục vụ tốt", "Đúng hẹn"], note="Cán bộ hướng dẫn tận tình")
    assert receiver.events[-1] == event
    assert receiver.received[-1]["valid"] is True
    assert set(event) == {"event_name", "app_id", "oa_id", "timestamp", "message"}  # no user id, no phone
    assert event["event_name"] == "user_feedback"
    assert event["app_id"] == APP_ID
    assert event["oa_id"] == OA_ID
    message = event["message"]
    assert message == {
        "rating_type": "csat",
        "option": "five_emotions",
        "rate": 5,
        "note": "Cán bộ hướng dẫn tận tình",
        "feedbacks": ["Thái độ phục vụ tốt", "Đúng hẹn"],
        "submit_time": message["submit_time"],
        "msg_id": rated["data"]["msg_id"],
        "tracking_id": "survey-HS123-1",  # the rating template's message, not the later apology
    }
    assert re.fullmatch(r"\d{13}", message["submit_time"])
    assert PHONE not in receiver.received[-1]["raw"].decode()
    assert emu.stats.ratings == 1
    with pytest.raises(ValueError, match="1 to 5"):
        await r.rate(6)
    with pytest.raises(LookupError):
        await emu.zns.recipient("84987654321").rate(4)


async def test_rating_a_given_message_and_a_forged_one(
    emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    r = emu.zns.recipient(PHONE)
    first = await send(http, emu, tracking_id="t-1")
    await send(http, emu, tracking_id="t-2")
    event = await r.rate(3, msg_id=first["data"]["msg_id"])
    assert event["message"]["tracking_id"] == "t-1"
    assert event["message"]["feedbacks"] == []
    await r.rate(2, signature="wrong")
    assert receiver.received[-1]["valid"] is False
    assert emu.deliveries[-1].status == 403
    # unknown tracking id, pushed raw, out of order
    unknown = {
        "event_name": "user_feedback",
        "oa_id": OA_ID,
        "message": {"rate": 4, "msg_id": "0123456789abcdef0123", "tracking_id": "nobody", "feedbacks": []},
    }
    assert await emu.push(unknown) == 200
    assert receiver.events[-1]["message"]["tracking_id"] == "nobody"


async def test_rating_get(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    emu.zns.add_template("350007", params=[("ho_ten", 30)], rating=True)
    start = emu.now_ms()
    for n, phone in enumerate(("84911111111", "84922222222", "84933333333")):
        await send(http, emu, phone, tracking_id=f"t-{n}")
        emu.advance(60)
        await emu.zns.recipient(phone).rate(n + 3, feedbacks=["Đúng hẹn"], note=f"ghi chú {n}")
    await send(http, emu, "84944444444", template_id="350007", data={"ho_ten": "An"}, tracking_id="other")
    await emu.zns.recipient("84944444444").rate(1)

    url = f"{emu.zns_url}/rating/get"
    headers = {"access_token": emu.access_token}
    query = {
        "template_id": TEMPLATE,
        "from_time": str(start),
        "to_time": str(emu.now_ms()),
        "offset": "0",
        "limit": "2",
    }
    async with http.get(url, params=query, headers=headers) as response:
        answer = await response.json()
    assert answer["error"] == 0
    assert answer["data"]["total"] == 3
    entries = answer["data"]["data"]
    assert [e["trackingId"] for e in entries] == ["t-2", "t-1"]  # newest first
    assert set(entries[0]) == {"note", "rate", "submitDate", "msgId", "feedbacks", "trackingId"}
    assert entries[0]["rate"] == 5
    assert entries[0]["note"] == "ghi chú 2"
    assert entries[0]["feedbacks"] == ["Đúng hẹn"]
    assert entries[0]["msgId"] == emu.zns.recipient("84933333333").last.msg_id
    assert re.fullmatch(r"\d{13}", entries[0]["submitDate"])

    _, page2 = await post(http, url, {**query, "offset": 2}, token=emu.access_token)  # POST, JSON
    assert [e["trackingId"] for e in page2["data"]["data"]] == ["t-0"]
    _, narrow = await post(http, url, {**query, "from_time": emu.now_ms() + 1}, token=emu.access_token)
    assert narrow["data"] == {"total": 0, "data": []}
    _, bad = await post(http, url, {**query, "limit": "many"}, token=emu.access_token)
    assert bad["error"] == -122
    _, unknown = await post(http, url, {"template_id": "999"}, token=emu.access_token)
    assert unknown["error"] == -117
    async with http.get(url, params=query, headers={"access_token": "AT-wrong"}) as response:
        assert (await response.json())["error"] == -124


async def test_template_info(emu: ZaloOAEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get(
        f"{emu.zns_url}/template/info/v2", params={"template_id": TEMPLATE}, headers={"access_token": "AT-1"}
    ) as response:
        answer = await response.json()
    assert answer["error"] == 0
    assert answer["data"]["status"] == "ENABLE"
    assert answer["data"]["listParams"][0] == {
        "name": "ho_ten",
        "require": True,
        "type": "STRING",
        "maxLength": 30,
        "minLength": 0,
        "acceptNull": False,
    }


async def test_zns_fault_injection(emu: ZaloOAEmulator, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    r = emu.zns.recipient(PHONE)
    emu.fail_next("/message/template", http_status=503)
    status, body = await post(http, f"{emu.zns_url}/message/template", {}, token=emu.access_token)
    assert status == 503
    assert "503 Service Unavailable" in body
    emu.fail_next("/message/template", error=-144, message="Out of quota")
    assert await send(http, emu) == {"error": -144, "message": "Out of quota"}
    assert r.messages == []

    emu.fail_next("/message/template", applied=True)  # delivered, answer lost
    body = {"phone": PHONE, "template_id": TEMPLATE, "template_data": DATA, "tracking_id": "dup"}
    status, _ = await post(http, f"{emu.zns_url}/message/template", body, token=emu.access_token)
    assert status == 500
    assert [m.tracking_id for m in r.messages] == ["dup"]
    await emu.settle()
    assert [e["message"]["tracking_id"] for e in receiver.named("user_received_message")] == ["dup"]
    assert (await send(http, emu, tracking_id="dup"))["error"] == 0  # the retry: a duplicate, as in real life
    assert [m.tracking_id for m in r.messages] == ["dup", "dup"]


async def test_emulator_without_webhook_still_records_zns_events(http: aiohttp.ClientSession) -> None:
    async with make_emulator() as emu:
        emu.zns.add_template(TEMPLATE, params=[("ho_ten", 30)], rating=True)
        r = emu.zns.recipient(PHONE)
        await send(http, emu, data={"ho_ten": "An"})
        await emu.settle()
        event = await r.rate(4)
        assert [e["event_name"] for e in emu.events] == ["user_received_message", "user_feedback"]
        assert emu.undelivered[-1] == event
