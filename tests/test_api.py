"""The REST API (README) through aiohttp's test client against the real app and database, on every backend."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast, get_args
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import Table, func, insert, select

from bot.app import App
from bot.web.api import OPERATIONS, PREFIX, setup_api
from bot.web.routes.documents import qr_png
from bot.web.routes.dossier_models import DossierBody, DossierDetailOut, EventBody, EventType
from bot.web.routes.reports import ReportOut
from bot.web.server import build_web_app
from handlers.intake.dossiers import EVENT_TYPES, SUBMISSION_CHANNELS
from handlers.leader.reporting import Period
from storage.models import ApologyRow, DossierEventRow, IdempotencyRow, PersonRow
from tests.conftest import Backend, Clock
from tests.helpers import started_app

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PUBLIC_URL = "https://sipas.example.vn"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]


@dataclass
class Keys:
    write: str
    reports: str
    apologies: str


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@pytest.fixture
async def sipas(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    units = [("P8", "Phường 8"), ("Q3", "Quận 3"), ("Q3-P1", "Phường 1", "Q3")]
    async with started_app(backend.url, clock, PUBLIC_URL, units) as app:
        yield app


@pytest.fixture
async def keys(sipas: App) -> Keys:
    return Keys(
        write=await sipas.api_keys.create("one-stop-shop", ["dossiers:write"], ["all"]),
        reports=await sipas.api_keys.create("dashboard", ["reports:read"], ["all"]),
        apologies=await sipas.api_keys.create("apologies", ["apologies:write"], ["all"]),
    )


@pytest.fixture
async def client(sipas: App, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(build_web_app(sipas, [setup_api]))


async def call(
    client: Client,
    method: str,
    path: str,
    key: str | None = None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    payload: bytes | io.BytesIO | None = io.BytesIO(data) if data is not None and len(data) > 1_000_000 else data
    async with client.request(method, path, data=payload, headers=sent) as response:
        text = await response.text()
        parsed = json.loads(text) if response.content_type == "application/json" else text
        return Answer(response.status, parsed, dict(response.headers))


def dossier_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": "P8",
        "procedure": "Đăng ký khai sinh",
        "procedure_code": "1.001193",
        "field": "Hộ tịch",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0912 345 678"},
        "received_at": "2026-11-10T09:00:00+07:00",
        "due_at": "2026-11-20",
        "channel": "truc_tiep",
        "handler": "Trần Thị Bình",
    }
    body.update(changes)
    return body


def assert_error(answer: Answer, status: int, code: str | None = None, mentions: str | None = None) -> None:
    assert answer.status == status, answer.body
    assert isinstance(answer.body, dict), answer.body
    assert set(answer.body) == {"error"}
    assert set(answer.body["error"]) == {"code", "message"}
    message = answer.body["error"]["message"]
    assert message
    assert "\n" not in message
    if code is not None:
        assert answer.body["error"]["code"] == code, answer.body
    if mentions is not None:
        assert mentions in message, message


async def put(client: Client, key: str, code: str = "P8-261110-0001", **changes: Any) -> Answer:
    return await call(client, "PUT", f"{PREFIX}/dossiers/{code}", key, dossier_body(**changes))


async def event(
    client: Client, key: str, code: str, type_: str, at: str, note: str | None = None, idem: str | None = None
) -> Answer:
    body = {"type": type_, "at": at} | ({"note": note} if note is not None else {})
    headers = {"Idempotency-Key": idem} if idem is not None else None
    return await call(client, "POST", f"{PREFIX}/dossiers/{code}/events", key, body, headers=headers)


async def count(app: App, table: Any) -> int:
    async with app.services.uow(read_only=True) as uow:
        return int((await uow.connection.execute(select(func.count()).select_from(table))).scalar_one())


# ------------------------------------------------------------------------------------------ PUT


async def test_put_creates_a_dossier_and_gives_its_opt_in_links(client: Client, keys: Keys) -> None:
    answer = await put(client, keys.write)
    assert answer.status == 201, answer.body
    assert answer.headers["Location"] == f"{PREFIX}/dossiers/P8-261110-0001"
    dossier, optin = answer.body["dossier"], answer.body["optin"]
    assert dossier == {
        "code": "P8-261110-0001",
        "unit": "P8",
        "procedure": "Đăng ký khai sinh",
        "procedure_code": "1.001193",
        "field": "Hộ tịch",
        "channel": "truc_tiep",
        "state": "received",
        "received_at": "2026-11-10T09:00:00+07:00",
        "due_at": "2026-11-20T23:59:59+07:00",
        "finished_at": None,
        "returned_at": None,
        "cancelled_at": None,
        "on_time": None,
        "zalo_optin": False,
    }
    token, code = optin["token"], optin["code"]
    assert optin == {
        "token": token,
        "telegram_url": None,
        "zalo_url": None,
        "link_url": f"{PUBLIC_URL}/lien-ket/{token}",
        "code": code,
        "receipt_text": optin["receipt_text"],
        "qr_url": f"{PUBLIC_URL}/qr/{token}.png",
    }
    # no personal data comes back: not the applicant, not the officer (the code's random digits left out)
    text = json.dumps(answer.body, ensure_ascii=False).replace(code, "").replace(f"{code[:4]} {code[4:]}", "")
    for personal in ("Nguyễn Văn An", "912", "Trần Thị Bình"):
        assert personal not in text


async def test_the_telegram_link_names_the_bot_once_it_is_known(client: Client, keys: Keys, sipas: App) -> None:
    sipas.bot_username = "sipas_test_bot"
    optin = (await put(client, keys.write)).body["optin"]
    assert optin["telegram_url"] == f"https://t.me/sipas_test_bot?start={optin['token']}"
    assert optin["zalo_url"] is None


async def test_the_zalo_link_is_the_oas_chat_link_when_configured(client: Client, keys: Keys, sipas: App) -> None:
    sipas.settings = sipas.settings.model_copy(update={"zalo_oa_link": "https://zalo.me/579745863508352884"})
    optin = (await put(client, keys.write)).body["optin"]
    assert optin["zalo_url"] == "https://zalo.me/579745863508352884"


@pytest.mark.parametrize("phone", ["0912 345 678", None])
async def test_sending_the_same_dossier_again_changes_nothing(
    client: Client, keys: Keys, sipas: App, phone: str | None
) -> None:
    applicant = {"name": "Nguyễn Văn An", "phone": phone}
    first = await put(client, keys.write, applicant=applicant)
    assert first.status == 201
    before = await call(client, "GET", f"{PREFIX}/dossiers/P8-261110-0001", keys.write)
    people = await count(sipas, PersonRow.__table__)
    async with sipas.services.uow(read_only=True) as uow:
        stored = await uow.dossiers.get_by_code("P8-261110-0001")
    second = await put(client, keys.write, applicant=applicant)
    assert second.status == 200
    assert second.body == first.body  # same dossier, same token
    assert (await call(client, "GET", f"{PREFIX}/dossiers/P8-261110-0001", keys.write)).body == before.body
    assert await count(sipas, PersonRow.__table__) == people
    async with sipas.services.uow(read_only=True) as uow:
        again = await uow.dossiers.get_by_code("P8-261110-0001")
    assert again == stored


async def test_an_update_changes_what_was_sent(client: Client, keys: Keys) -> None:
    await put(client, keys.write)
    answer = await put(client, keys.write, due_at="2026-11-25T17:00:00+07:00", channel="truc_tuyen")
    assert answer.status == 200
    assert answer.body["dossier"]["due_at"] == "2026-11-25T17:00:00+07:00"
    assert answer.body["dossier"]["channel"] == "truc_tuyen"


@pytest.mark.parametrize(
    ("received", "due", "received_back", "due_back"),
    [
        ("2026-11-10T02:00:00Z", "2026-11-20T10:00:00Z", "2026-11-10T09:00:00+07:00", "2026-11-20T17:00:00+07:00"),
        ("2026-11-10T09:00:00", "2026-11-20 17:30", "2026-11-10T09:00:00+07:00", "2026-11-20T17:30:00+07:00"),
        ("2026-11-10", "2026-11-20", "2026-11-10T00:00:00+07:00", "2026-11-20T23:59:59+07:00"),
        ("2026-11-10T08:00:00+08:00", "2026-11-20", "2026-11-10T07:00:00+07:00", "2026-11-20T23:59:59+07:00"),
    ],
)
async def test_timestamps_are_taken_as_local_time_unless_they_say_otherwise(
    client: Client, keys: Keys, received: str, due: str, received_back: str, due_back: str
) -> None:
    answer = await put(client, keys.write, received_at=received, due_at=due)
    assert answer.status == 201, answer.body
    assert answer.body["dossier"]["received_at"] == received_back
    assert answer.body["dossier"]["due_at"] == due_back


async def test_vietnamese_sent_decomposed_comes_back_composed(client: Client, keys: Keys) -> None:
    nfd = {
        "procedure": unicodedata.normalize("NFD", "Đăng ký khai sinh"),
        "field": unicodedata.normalize("NFD", "Hộ tịch"),
    }
    assert nfd["field"] != "Hộ tịch"
    answer = await put(client, keys.write, applicant={"name": unicodedata.normalize("NFD", "Lê Thị Hoà")}, **nfd)
    assert answer.status == 201
    assert answer.body["dossier"]["procedure"] == "Đăng ký khai sinh"
    assert answer.body["dossier"]["field"] == "Hộ tịch"
    read = await call(client, "GET", f"{PREFIX}/dossiers/P8-261110-0001", keys.write)
    assert read.body["field"] == "Hộ tịch"


async def test_a_dossier_code_with_a_slash_travels_escaped(client: Client, keys: Keys) -> None:
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/HS%2F2026%2F1", keys.write, dossier_body())
    assert answer.status == 201, answer.body
    assert answer.body["dossier"]["code"] == "HS/2026/1"
    assert answer.headers["Location"] == f"{PREFIX}/dossiers/HS%2F2026%2F1"
    assert (await call(client, "GET", f"{PREFIX}/dossiers/HS%2F2026%2F1", keys.write)).status == 200


# -------------------------------------------------------------------------------------------- QR


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_qr_code_opens_the_linking_page(client: Client, keys: Keys, sipas: App) -> None:
    sipas.bot_username = "sipas_test_bot"
    optin = (await put(client, keys.write)).body["optin"]
    path = optin["qr_url"].removeprefix(PUBLIC_URL)
    async with client.get(path) as response:  # no key: the token is the secret
        assert response.status == 200
        assert response.content_type == "image/png"
        assert "private" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
        image = await response.read()
    assert image == qr_png(optin["link_url"])  # not the Telegram link: the page offers Zalo first
    width, height = png_size(image)
    assert width == height
    assert 300 <= width <= 800  # about 3–7 cm at 300 dpi: printable on an A5 receipt, scannable from a phone
    async with client.get(path, headers={"If-None-Match": etag}) as response:
        assert response.status == 304


async def test_without_telegram_the_qr_code_opens_the_linking_page_too(client: Client, keys: Keys) -> None:
    optin = (await put(client, keys.write)).body["optin"]
    async with client.get(optin["qr_url"].removeprefix(PUBLIC_URL)) as response:
        assert response.status == 200
        image = await response.read()
    assert image == qr_png(f"{PUBLIC_URL}/lien-ket/{optin['token']}")
    png_size(image)


@pytest.mark.parametrize("path", ["/qr/AAAAAAAAAAAAAAAAAAAAAA.png", "/qr/not!a!token.png", "/qr/.png"])
async def test_an_unknown_qr_code_is_not_found(client: Client, path: str) -> None:
    assert_error(await call(client, "GET", path), 404, "not_found")


# ---------------------------------------------------------------------------------------- events


async def test_events_move_the_dossier_and_a_repeated_event_changes_nothing(
    client: Client, keys: Keys, sipas: App
) -> None:
    await put(client, keys.write)
    ready = await event(client, keys.write, "P8-261110-0001", "result_ready", "2026-11-17T15:00:00+07:00")
    assert ready.status == 202, ready.body
    assert ready.body["changed"] is True
    assert ready.body["dossier"]["state"] == "result_ready"
    assert ready.body["dossier"]["on_time"] is True
    again = await event(client, keys.write, "P8-261110-0001", "result_ready", "2026-11-17T08:00:00Z")
    assert again.status == 202
    assert again.body["changed"] is False
    returned = await event(client, keys.write, "P8-261110-0001", "returned", "2026-11-18T09:30:00", note="Đã trả")
    assert returned.body["dossier"]["state"] == "returned"
    assert returned.body["dossier"]["returned_at"] == "2026-11-18T09:30:00+07:00"
    assert await count(sipas, DossierEventRow.__table__) == 2


@pytest.mark.parametrize("code", ["NO-SUCH", "NO%00SUCH"])
async def test_an_event_for_an_unknown_dossier_is_not_found(client: Client, keys: Keys, code: str) -> None:
    answer = await event(client, keys.write, code, "returned", "2026-11-18T09:30:00+07:00", idem="k")
    assert_error(answer, 404, "not_found", "NO")


async def test_an_impossible_transition_is_a_conflict(client: Client, keys: Keys) -> None:
    await put(client, keys.write)
    answer = await event(client, keys.write, "P8-261110-0001", "supplement_received", "2026-11-12T09:00:00+07:00")
    assert_error(answer, 409, "invalid_transition", "cannot apply supplement_received")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"type": "exploded", "at": "2026-11-18T09:00:00+07:00"}, "type:"),
        ({"type": "returned", "at": "2026-11-18"}, "at: a date and a time are required"),
        ({"type": "returned", "at": "yesterday"}, "at: not an ISO 8601"),
        ({"type": "returned"}, "at: Field required"),
        ({"type": "returned", "at": "2026-11-18T09:00:00+07:00", "colour": "red"}, "colour:"),
        ({"type": "returned", "at": "2026-11-18T09:00:00+07:00", "note": 5}, "note:"),
        ({"type": "returned", "at": "2026-11-01T09:00:00+07:00"}, "before the dossier was received"),
    ],
)
async def test_a_bad_event_is_refused_naming_the_field(
    client: Client, keys: Keys, body: dict[str, Any], mentions: str
) -> None:
    await put(client, keys.write)
    answer = await call(client, "POST", f"{PREFIX}/dossiers/P8-261110-0001/events", keys.write, body)
    assert_error(answer, 422, mentions=mentions)


# ------------------------------------------------------------------------------- Idempotency-Key


async def test_an_idempotency_key_replays_the_first_answer(client: Client, keys: Keys, sipas: App) -> None:
    await put(client, keys.write)
    code = "P8-261110-0001"
    first = await event(client, keys.write, code, "returned", "2026-11-18T09:30:00+07:00", idem="k-1")
    assert first.status == 202
    assert "Idempotent-Replayed" not in first.headers
    # the dossier moves on; the key still answers what it answered first
    assert (await event(client, keys.write, code, "cancelled", "2026-11-18T10:00:00+07:00")).status == 202
    replay = await event(client, keys.write, code, "returned", "2026-11-18T09:30:00+07:00", idem="k-1")
    assert replay.status == first.status
    assert replay.body == first.body
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await count(sipas, IdempotencyRow.__table__) == 1


async def test_an_idempotency_key_reused_for_another_request_is_refused(client: Client, keys: Keys) -> None:
    await put(client, keys.write)
    code = "P8-261110-0001"
    assert (await event(client, keys.write, code, "result_ready", "2026-11-17T09:00:00+07:00", idem="k")).status == 202
    other = await event(client, keys.write, code, "returned", "2026-11-18T09:30:00+07:00", idem="k")
    assert_error(other, 422, "idempotency_key_reused")
    # nothing was applied
    read = await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.write)
    assert read.body["state"] == "result_ready"


async def test_an_idempotency_key_belongs_to_one_api_key_and_one_path(client: Client, keys: Keys, sipas: App) -> None:
    other_key = await sipas.api_keys.create("second system", ["dossiers:write"], ["all"])
    await put(client, keys.write, code="A-1")
    await put(client, keys.write, code="A-2")
    at = "2026-11-17T09:00:00+07:00"
    assert (await event(client, keys.write, "A-1", "result_ready", at, idem="same")).status == 202
    two = await event(client, keys.write, "A-2", "result_ready", at, idem="same")
    assert two.status == 202
    assert two.body["dossier"]["code"] == "A-2"
    three = await event(client, other_key, "A-1", "result_ready", at, idem="same")
    assert three.status == 202
    assert "Idempotent-Replayed" not in three.headers
    assert three.body["changed"] is False


async def test_a_refusal_is_not_stored_under_its_idempotency_key(client: Client, keys: Keys) -> None:
    code = "P8-261110-0001"
    missing = await event(client, keys.write, code, "result_ready", "2026-11-17T09:00:00+07:00", idem="x")
    assert_error(missing, 404)
    await put(client, keys.write, code=code)
    later = await event(client, keys.write, code, "result_ready", "2026-11-17T09:00:00+07:00", idem="x")
    assert later.status == 202
    assert later.body["changed"] is True


async def test_two_requests_racing_with_one_key_apply_the_event_once(client: Client, keys: Keys, sipas: App) -> None:
    await put(client, keys.write)
    answers = await asyncio.gather(
        *(
            event(client, keys.write, "P8-261110-0001", "returned", "2026-11-18T09:30:00+07:00", idem="r")
            for _ in range(4)
        )
    )
    assert {a.status for a in answers} == {202}
    assert all(a.body == answers[0].body for a in answers)
    assert await count(sipas, DossierEventRow.__table__) == 1
    assert await count(sipas, IdempotencyRow.__table__) == 1


@pytest.mark.parametrize("value", ["", "a" * 201, "with space", "ký"])
async def test_a_malformed_idempotency_key_is_refused(client: Client, keys: Keys, value: str) -> None:
    await put(client, keys.write)
    answer = await call(
        client,
        "POST",
        f"{PREFIX}/dossiers/P8-261110-0001/events",
        keys.write,
        raw=json.dumps({"type": "returned", "at": "2026-11-18T09:30:00+07:00"}).encode(),
        headers={"Idempotency-Key": value.encode().decode("latin-1")},
    )
    assert_error(answer, 400, "bad_idempotency_key")


# ----------------------------------------------------------------------------------------- batch


async def test_a_batch_of_a_thousand_items_is_applied_in_order_one_result_each(
    client: Client, keys: Keys, sipas: App
) -> None:
    items: list[Any] = []
    expected: list[tuple[int, str | None]] = []

    def event_item(code: str, type_: str, at: str) -> dict[str, Any]:
        return {"op": "event", "code": code, "event": {"type": type_, "at": f"{at}+07:00"}}

    for n in range(250):
        code = f"B-{n:04d}"
        items.append({"op": "upsert", "code": code, "dossier": dossier_body(applicant={"name": f"Người {n}"})})
        expected.append((201, None))
        items.append(event_item(code, "result_ready", "2026-11-17T09:00:00"))
        expected.append((202, None))
        if n % 50 == 0:
            items.append({"op": "upsert", "code": code, "dossier": dossier_body(unit="XX")})
            expected.append((422, "unknown_unit"))
            items.append(event_item(code, "supplement_received", "2026-11-17T10:00:00"))
            expected.append((409, "invalid_transition"))
            items.append(event_item(f"NONE-{n}", "returned", "2026-11-17T10:00:00"))
            expected.append((404, "not_found"))
            items.append({"op": "upsert", "code": code, "dossier": dossier_body(due_at="soon")})
            expected.append((422, "invalid_input"))
            items.append(["not", "an", "object"])
            expected.append((422, "invalid_input"))
            items.append({"op": "delete", "code": code})
            expected.append((422, "invalid_input"))
        else:
            items.append({"op": "upsert", "code": code, "dossier": dossier_body(applicant={"name": f"Người {n}"})})
            expected.append((200, None))
            items.append(event_item(code, "returned", "2026-11-18T09:00:00"))
            expected.append((202, None))
    items = items[:1000]
    expected = expected[:1000]
    assert len(items) == 1000
    answer = await call(client, "POST", f"{PREFIX}/dossiers:batch", keys.write, {"items": items})
    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [r["index"] for r in results] == list(range(1000))
    for result, (status, error_code) in zip(results, expected, strict=True):
        assert result["status"] == status, result
        if error_code is None:
            assert "error" not in result
            assert result["dossier"]["code"].startswith("B-")
        else:
            assert result["error"]["code"] == error_code, result
            assert "dossier" not in result
    upserted = next(r for r in results if r["status"] == 201)
    assert upserted["optin"]["qr_url"].startswith(f"{PUBLIC_URL}/qr/")
    assert next(r for r in results if r["status"] == 202)["changed"] is True
    # what the batch did is what single calls would have done
    read = await call(client, "GET", f"{PREFIX}/dossiers/B-0001", keys.write)
    assert read.body["state"] == "returned"
    assert [e["type"] for e in read.body["timeline"]] == ["result_ready", "returned"]
    unchanged = await call(client, "GET", f"{PREFIX}/dossiers/B-0000", keys.write)
    assert unchanged.body["state"] == "result_ready"
    assert unchanged.body["unit"] == "P8"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (
            {
                "items": [{"op": "event", "code": "X", "event": {"type": "returned", "at": "2026-11-18T09:00:00"}}]
                * 1001
            },
            "items:",
        ),
        ({"items": {"op": "upsert"}}, "items:"),
        ({"items": []}, "items:"),
        ({}, "items: Field required"),
        ({"items": [], "extra": 1}, "extra:"),
    ],
)
async def test_a_bad_batch_envelope_is_refused_whole(
    client: Client, keys: Keys, sipas: App, body: dict[str, Any], mentions: str
) -> None:
    answer = await call(client, "POST", f"{PREFIX}/dossiers:batch", keys.write, body)
    assert_error(answer, 422, "invalid_input", mentions)


async def test_a_batch_item_error_names_the_field(client: Client, keys: Keys) -> None:
    broken = dossier_body(applicant={"name": "An", "phone": 912345678})
    answer = await call(
        client,
        "POST",
        f"{PREFIX}/dossiers:batch",
        keys.write,
        {"items": [{"op": "upsert", "code": "Z-1", "dossier": broken}]},
    )
    assert answer.status == 200
    (result,) = answer.body["results"]
    assert result["status"] == 422
    assert result["error"]["message"].startswith("dossier.applicant.phone:")


# ------------------------------------------------------------------------------------- GET dossier


async def test_reading_a_dossier_shows_its_timeline_survey_and_apology(
    client: Client, keys: Keys, sipas: App, clock: Clock
) -> None:
    await put(client, keys.write, due_at="2026-11-14")
    code = "P8-261110-0001"
    await event(client, keys.write, code, "result_ready", "2026-11-17T15:00:00+07:00", note="Xong")
    await event(client, keys.write, code, "returned", "2026-11-18T09:30:00+07:00")
    read = await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports)
    assert read.status == 200, read.body
    body = read.body
    assert body["state"] == "returned"
    assert body["on_time"] is False
    assert body["finished_at"] == "2026-11-17T15:00:00+07:00"
    assert body["returned_at"] == "2026-11-18T09:30:00+07:00"
    assert body["due_at"] == "2026-11-14T23:59:59+07:00"
    assert body["timeline"] == [
        {"type": "result_ready", "at": "2026-11-17T15:00:00+07:00", "note": "Xong"},
        {"type": "returned", "at": "2026-11-18T09:30:00+07:00", "note": None},
    ]
    survey = body["survey"]
    assert survey["status"] == "pending"
    assert survey["form"] == {"id": "sipas-2022", "version": sipas.services.catalog.get("sipas-2022").version}
    assert survey["sent_at"] is None
    assert survey["completed_at"] is None
    assert body["apology"] is None
    assert body["new_due_at"] is None
    assert "optin" not in body
    assert "applicant" not in body

    async with sipas.services.uow() as uow:
        dossier = await uow.dossiers.get_by_code(code)
        assert dossier is not None
        await uow.connection.execute(
            insert(cast(Table, ApologyRow.__table__)).values(
                dossier_id=dossier.id,
                number="12/PXL",
                reason="Cần xác minh thêm",
                new_due_at=datetime(2026, 11, 19, 10, 0, tzinfo=UTC),
                issued_by="Phạm Văn Cường",
                issued_at=clock.now,
            )
        )
        await uow.commit()
    body = (await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.write)).body
    assert body["new_due_at"] == "2026-11-19T17:00:00+07:00"
    assert body["apology"] == {
        "kind": "delay",
        "number": "12/PXL",
        "reason": "Cần xác minh thêm",
        "new_due_at": "2026-11-19T17:00:00+07:00",
        "issued_by": "Phạm Văn Cường",
        "issued_key": None,
        "issued_at": "2026-11-18T10:00:00+07:00",
        "in_time": None,  # written by hand, not by the product: nobody judged it
    }
    assert body["error_apology"] is None


# ------------------------------------------------------------------------------------------ apologies


async def apologise(client: Client, keys: Keys, code: str, **body: Any) -> Answer:
    sent = {"reason": "Chờ ý kiến của Sở Tư pháp", "issued_by": "Trần Thị Bình"} | body
    return await call(client, "POST", f"{PREFIX}/dossiers/{code}/apology", keys.apologies, sent)


async def report_dossiers(client: Client, keys: Keys) -> dict[str, Any]:
    query = "unit=P8&from=2026-11-01&to=2026-11-30"
    answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?{query}", keys.reports)
    assert answer.status == 200, answer.body
    ReportOut.model_validate(answer.body)
    dossiers: dict[str, Any] = answer.body["dossiers"]
    return dossiers


async def test_an_apology_records_whether_it_was_issued_by_the_working_day_before_the_due_date(
    client: Client, keys: Keys, clock: Clock
) -> None:
    # today is Wednesday 18/11/2026; Tuesday 24/11/2026 is a public holiday (Ngày Văn hóa Việt Nam)
    due = {
        "P8-A": ("2026-11-20", True),  # Friday: the last permitted day is Thursday 19/11
        "P8-B": ("2026-11-19", True),  # Thursday: today is the last permitted day
        "P8-C": ("2026-11-18", False),  # due today: the last permitted day was yesterday
        "P8-D": ("2026-11-16", False),  # overdue
        "P8-E": ("2026-11-23", True),  # Monday: the Friday before it
    }
    for code, (due_at, _) in due.items():
        assert (await put(client, keys.write, code, due_at=due_at)).status == 201
    for code, (_, in_time) in due.items():
        answer = await apologise(client, keys, code, new_due_at="2026-11-27")
        assert answer.status == 201, answer.body  # a late apology is still issued: the citizen deserves it
        assert answer.body["apology"]["in_time"] is in_time, code
        assert answer.body["apology"]["kind"] == "delay"
        read = (await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports)).body
        assert read["apology"]["in_time"] is in_time, code
    # across the holiday: due Wednesday 25/11, the last permitted day is Monday 23/11, not Tuesday 24/11
    await put(client, keys.write, "P8-F", due_at="2026-11-25")
    await put(client, keys.write, "P8-G", due_at="2026-11-26")
    clock.now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 24/11, 10:00
    late = await apologise(client, keys, "P8-F", new_due_at="2026-11-30")
    assert (late.status, late.body["apology"]["in_time"]) == (201, False)
    in_time = await apologise(client, keys, "P8-G", new_due_at="2026-11-30")
    assert (in_time.status, in_time.body["apology"]["in_time"]) == (201, True)

    dossiers = await report_dossiers(client, keys)
    assert dossiers["apologies"] == 7
    assert dossiers["apologies_late"] == 3  # P8-C, P8-D, P8-F
    assert dossiers["apologies_error"] == 0
    assert dossiers["late_without_apology"] == 0  # a late apology is an apology: reported apart, as late


async def test_an_error_apology_is_for_a_resolved_dossier_once_and_apart_from_the_delay_one(
    client: Client, keys: Keys, sipas: App, clock: Clock
) -> None:
    code = "P8-261110-0001"
    await put(client, keys.write, code, due_at="2026-11-16")
    # not resolved yet: an error apology is refused, a delay one (late: the due date has passed) is issued
    assert_error(await apologise(client, keys, code, kind="error"), 409, "invalid_transition")
    delay = await apologise(client, keys, code, new_due_at="2026-11-20")
    assert delay.status == 201, delay.body
    await event(client, keys.write, code, "result_ready", "2026-11-18T09:00:00+07:00")
    await event(client, keys.write, code, "returned", "2026-11-18T09:30:00+07:00")

    assert_error(await apologise(client, keys, code, kind="error", new_due_at="2026-11-27"), 422, "invalid_input")
    assert_error(await apologise(client, keys, code, kind="mistake"), 422, "invalid_input")
    assert_error(await apologise(client, keys, code, new_due_at="2026-11-27"), 409, "apology_exists")
    reason = "Giấy khai sinh ghi sai ngày sinh của con"
    error = await apologise(client, keys, code, kind="error", reason=reason)
    assert error.status == 201, error.body
    apology = error.body["apology"]
    assert apology["kind"] == "error"
    assert apology["new_due_at"] is None
    assert apology["in_time"] is None
    assert apology["reason"] == reason
    assert apology["number"] == "02/PXL"  # the unit's slips are numbered in one series
    assert error.body["slip_url"].startswith(f"{PUBLIC_URL}/phieu/")
    assert_error(await apologise(client, keys, code, kind="error", reason="Lần hai"), 409, "apology_exists")

    read = (await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports)).body
    assert read["apology"]["kind"] == "delay"
    assert read["apology"]["in_time"] is False
    assert read["new_due_at"] == "2026-11-20T23:59:59+07:00"  # the delay apology's date, not the error's
    assert read["error_apology"]["kind"] == "error"
    assert read["error_apology"]["number"] == "02/PXL"
    DossierDetailOut.model_validate(read)

    # a second dossier, returned late with only an error apology: still late without (a delay) apology
    await put(client, keys.write, "P8-X", due_at="2026-11-16")
    await event(client, keys.write, "P8-X", "returned", "2026-11-18T10:00:00+07:00")
    assert (await apologise(client, keys, "P8-X", kind="error", reason=reason)).status == 201
    dossiers = await report_dossiers(client, keys)
    assert dossiers["apologies"] == 1
    assert dossiers["apologies_late"] == 1
    assert dossiers["apologies_error"] == 2
    assert dossiers["late_without_apology"] == 1  # P8-X


async def test_the_receiving_officer_is_stored_beside_the_handling_one_and_read_back_only_by_get(
    client: Client, keys: Keys
) -> None:
    code = "P8-261110-0001"
    created = await put(client, keys.write, receiver="Lê Thị Hoa")
    assert created.status == 201, created.body
    assert "Lê Thị Hoa" not in json.dumps(created.body, ensure_ascii=False)  # PUT echoes no officer

    body = (await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports)).body
    assert (body["handler"], body["receiver"]) == ("Trần Thị Bình", "Lê Thị Hoa")

    await put(client, keys.write, receiver="  Phạm Văn Dũng ")  # like handler: a new PUT replaces it
    body = (await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports)).body
    assert body["receiver"] == "Phạm Văn Dũng"
    await put(client, keys.write)  # and a PUT without it clears it
    body = (await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports)).body
    assert body["receiver"] is None


@pytest.mark.parametrize("code", ["NOPE", "A%00B", "%F0%9F%98%80"])
async def test_reading_an_unknown_dossier_is_not_found(client: Client, keys: Keys, code: str) -> None:
    assert_error(await call(client, "GET", f"{PREFIX}/dossiers/{code}", keys.reports), 404, "not_found")


# ------------------------------------------------------------------------------------------ reports


async def test_the_report_is_the_reporters(client: Client, keys: Keys, sipas: App) -> None:
    await put(client, keys.write)
    await event(client, keys.write, "P8-261110-0001", "returned", "2026-11-12T09:30:00+07:00")
    answer = await call(
        client, "GET", f"{PREFIX}/reports/satisfaction?unit=P8&from=2026-11-01&to=2026-11-30", keys.reports
    )
    assert answer.status == 200, answer.body
    expected = await sipas.reporter.satisfaction("P8", Period(date(2026, 11, 1), date(2026, 11, 30)), breakdowns=True)
    assert answer.body == json.loads(json.dumps(expected))
    assert answer.body["by_procedure"] == []  # returned, not yet answered
    assert answer.body["by_channel"] == []
    assert answer.body["dossiers"]["received"] == 1
    ReportOut.model_validate(answer.body)  # the documented shape is the served one


async def test_the_report_defaults_to_the_month_so_far(client: Client, keys: Keys, sipas: App) -> None:
    answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit=P8", keys.reports)
    assert answer.status == 200
    assert (answer.body["from"], answer.body["to"]) == ("2026-11-01", "2026-11-18")  # the clock says 18/11/2026
    assert answer.body == await sipas.reporter.satisfaction(
        "P8", Period(date(2026, 11, 1), date(2026, 11, 18)), breakdowns=True
    )


@pytest.mark.parametrize(("flag", "children"), [("true", True), ("1", True), ("false", False), ("0", False)])
async def test_the_report_may_include_the_units_below(
    client: Client, keys: Keys, sipas: App, flag: str, children: bool
) -> None:
    await put(client, keys.write, unit="Q3-P1")
    query = f"unit=Q3&from=2026-11-01&to=2026-11-30&include_children={flag}"
    answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?{query}", keys.reports)
    assert answer.status == 200
    assert answer.body == await sipas.reporter.satisfaction(
        "Q3", Period(date(2026, 11, 1), date(2026, 11, 30)), children, breakdowns=True
    )
    assert answer.body["dossiers"]["received"] == (1 if children else 0)


@pytest.mark.parametrize(
    ("query", "status", "code", "mentions"),
    [
        ("unit=P8&from=2026-13-01", 422, "invalid_input", "from:"),
        ("unit=P8&to=01/11/2026", 422, "invalid_input", "to:"),
        ("unit=P8&from=2026-11-30&to=2026-11-01", 422, "invalid_input", "from:"),
        ("unit=XX", 422, "unknown_unit", "unit:"),
        ("from=2026-11-01", 422, "invalid_input", "unit:"),
        ("unit=P8&include_children=maybe", 422, "invalid_input", "include_children:"),
        ("unit=P8&form=2026-11-01", 422, "invalid_input", "form:"),
        ("unit=P8&unit=Q3", 422, "invalid_input", "unit:"),
        ("unit=P8&from=0001-01-01", 422, "invalid_input", "from:"),
        ("unit=P%008", 422, "invalid_input", "unit: must not contain NUL"),
    ],
)
async def test_a_bad_report_query_is_refused(
    client: Client, keys: Keys, query: str, status: int, code: str, mentions: str
) -> None:
    answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?{query}", keys.reports)
    assert_error(answer, status, code, mentions)


# ------------------------------------------------------------------------------------------- keys


async def test_a_missing_key_is_unauthorized(client: Client) -> None:
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/X-1", None, dossier_body())
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer sipas_0000_wrong", "sipas_0000_wrong"])
async def test_a_wrong_key_is_unauthorized(client: Client, header: str) -> None:
    answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit=P8", headers={"Authorization": header})
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_revoked_key_is_unauthorized(client: Client, keys: Keys, sipas: App, clock: Clock) -> None:
    assert (await put(client, keys.write)).status == 201
    async with sipas.services.uow() as uow:
        assert await uow.api_keys.revoke("one-stop-shop", clock.now) == 1
        await uow.commit()
    assert_error(await put(client, keys.write), 401, "unauthorized")


@pytest.mark.parametrize(
    ("method", "path", "who"),
    [
        ("PUT", f"{PREFIX}/dossiers/X-1", "reports"),
        ("POST", f"{PREFIX}/dossiers/X-1/events", "reports"),
        ("POST", f"{PREFIX}/dossiers:batch", "apologies"),
        ("GET", f"{PREFIX}/dossiers/X-1", "apologies"),
        ("GET", f"{PREFIX}/reports/satisfaction?unit=P8", "write"),
    ],
)
async def test_a_key_without_the_scope_is_forbidden(
    client: Client, keys: Keys, method: str, path: str, who: str
) -> None:
    answer = await call(client, method, path, getattr(keys, who), {"anything": 1} if method != "GET" else None)
    assert_error(answer, 403, "forbidden")


async def test_either_writing_or_reading_reports_may_read_a_dossier(client: Client, keys: Keys) -> None:
    await put(client, keys.write)
    for key in (keys.write, keys.reports):
        assert (await call(client, "GET", f"{PREFIX}/dossiers/P8-261110-0001", key)).status == 200


# ---------------------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"unit": "P8",', 400, "bad_json"),
        (b"", 400, "bad_json"),
        (b'{"unit": NaN}', 400, "bad_json"),
        ('{"unit": "Phường"}'.encode("utf-16"), 400, "bad_encoding"),
        (b'{"unit": "Ph\xff"}', 400, "bad_encoding"),
        (b"[1, 2]", 422, "invalid_input"),
        (b'"a string"', 422, "invalid_input"),
        (b"null", 422, "invalid_input"),
        (b"[" * 100_000, 400, "bad_json"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused(
    client: Client, keys: Keys, raw: bytes, status: int, code: str
) -> None:
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/X-1", keys.write, raw=raw)
    assert_error(answer, status, code)


@pytest.mark.parametrize(
    ("changes", "code", "mentions"),
    [
        ({"applicant": {"phone": "0912345678"}}, "invalid_input", "applicant.name: Field required"),
        ({"applicant": {"name": "An", "phone": 912345678}}, "invalid_input", "applicant.phone:"),
        ({"applicant": {"name": "An", "phone": "12345"}}, "invalid_input", "applicant.phone:"),
        ({"representative": {"name": "An", "email": "not-an-address"}}, "invalid_input", "representative.email"),
        ({"due_at": "2026-02-30"}, "invalid_input", "due_at:"),
        ({"due_at": "next tuesday"}, "invalid_input", "due_at:"),
        ({"received_at": 20261110}, "invalid_input", "received_at:"),
        ({"received_at": "9999-12-31T23:59:59-12:00"}, "invalid_input", "received_at:"),
        ({"due_at": "2026-11-01"}, "invalid_input", "due_at is before received_at"),
        ({"channel": "fax"}, "invalid_input", "channel:"),
        ({"zalo_optin": "yes"}, "invalid_input", "zalo_optin:"),
        ({"colour": "red"}, "invalid_input", "colour:"),
        ({"unit": "XX"}, "unknown_unit", "XX"),
        ({"procedure": "  "}, "invalid_input", "procedure is required"),
        ({"field": "x" * 101}, "invalid_input", "field is longer than 100"),
        ({"receiver": "x" * 101}, "invalid_input", "receiver is longer than 100"),
        ({"applicant": {"name": "An\x00"}}, "invalid_input", "applicant.name: must not contain NUL"),
        ({"procedure": "Khai sinh \ud800"}, "invalid_input", "procedure: must not contain unpaired surrogates"),
    ],
)
async def test_a_bad_dossier_is_refused_naming_the_field(
    client: Client, keys: Keys, changes: dict[str, Any], code: str, mentions: str
) -> None:
    answer = await put(client, keys.write, **changes)
    assert_error(answer, 422, code, mentions)


async def test_a_missing_field_is_named(client: Client, keys: Keys) -> None:
    body = dossier_body()
    del body["received_at"]
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/X-1", keys.write, body)
    assert_error(answer, 422, "invalid_input", "received_at: Field required")


async def test_a_bad_dossier_code_is_refused(client: Client, keys: Keys) -> None:
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/{'A' * 51}", keys.write, dossier_body())
    assert_error(answer, 422, "invalid_input", "code must be")


async def test_a_body_over_one_mebibyte_is_too_large(client: Client, keys: Keys) -> None:
    raw = json.dumps(dossier_body(note="x" * 2_000_000)).encode()
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/X-1", keys.write, raw=raw)
    assert_error(answer, 413, "too_large")


async def test_an_unknown_route_is_not_found_and_a_wrong_method_not_allowed(client: Client, keys: Keys) -> None:
    assert_error(await call(client, "GET", f"{PREFIX}/nothing-here", keys.write), 404, "not_found")
    wrong = await call(client, "DELETE", f"{PREFIX}/dossiers/X-1", keys.write)
    assert_error(wrong, 405, "method_not_allowed")
    assert set(wrong.headers["Allow"].split(",")) == {"GET", "PUT"}
    assert_error(await call(client, "GET", f"{PREFIX}/dossiers:batch", keys.write), 405)


# ------------------------------------------------------------------------------------------ OpenAPI


def _router_operations(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(PREFIX + "/") or path == PREFIX:
            found.add((route.method, path))
    return found


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


async def test_the_openapi_document_describes_exactly_what_is_served(client: Client) -> None:
    answer = await call(client, "GET", f"{PREFIX}/openapi.json")  # no key needed
    assert answer.status == 200
    document = answer.body
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert client.app is not None
    served = _router_operations(client.app)
    assert served == documented
    assert all(path.startswith(PREFIX + "/") for _, path in documented)
    assert (("GET", f"{PREFIX}/openapi.json")) in documented

    schemes = document["components"]["securitySchemes"]
    assert schemes == {"apiKey": schemes["apiKey"]}
    assert schemes["apiKey"]["type"] == "http"
    assert schemes["apiKey"]["scheme"] == "bearer"
    scopes = {
        (method.upper(), path): [s["apiKey"] for s in op["security"]]
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert scopes[("PUT", f"{PREFIX}/dossiers/{{code}}")] == [["dossiers:write"]]
    assert scopes[("POST", f"{PREFIX}/dossiers/{{code}}/events")] == [["dossiers:write"]]
    assert scopes[("POST", f"{PREFIX}/dossiers:batch")] == [["dossiers:write"]]
    assert scopes[("GET", f"{PREFIX}/dossiers/{{code}}")] == [["dossiers:write"], ["reports:read"]]
    assert scopes[("GET", f"{PREFIX}/reports/satisfaction")] == [["reports:read"]]
    assert scopes[("GET", f"{PREFIX}/openapi.json")] == []

    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    assert schemas["DossierBody"]["additionalProperties"] is False
    assert schemas["DossierBody"]["properties"]["channel"]["enum"] == list(SUBMISSION_CHANNELS)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation["security"]:
                for status in ("401", "403"):
                    schema = operation["responses"][status]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)
            if method in ("put", "post"):
                assert "requestBody" in operation, (method, path)
                assert "422" in operation["responses"], (method, path)
    body_of = {(op.method, op.path): (op.body_schema_model or op.body) for op in OPERATIONS if op.body is not None}
    assert body_of[("PUT", f"{PREFIX}/dossiers/{{code}}")] is DossierBody
    assert body_of[("POST", f"{PREFIX}/dossiers/{{code}}/events")] is EventBody


def test_the_documented_event_types_are_the_handlers() -> None:
    assert set(get_args(EventType)) == set(EVENT_TYPES)
    assert tuple(get_args(DossierBody.model_fields["channel"].annotation)) == SUBMISSION_CHANNELS


async def test_health_still_answers(client: Client) -> None:
    answer = await call(client, "GET", "/healthz")
    assert answer.status == 200
    assert answer.body["database"] == "ok"
