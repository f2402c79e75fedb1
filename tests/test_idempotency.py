"""One Idempotency-Key middleware for every POST and PUT of the REST API, driven over HTTP.

The events route had it first (tests/test_api.py, Idempotency-Key); these show that a PUT (a dossier) and another
POST (an apology) get the same through the middleware: the first successful answer stored in the transaction of
its effect and replayed, the key refused with another request, refusals not stored, and the document saying so.
"""

from __future__ import annotations

from typing import Any

from bot.app import App
from bot.web.api import PREFIX
from storage.models import ApologyRow, DossierRow, IdempotencyRow
from tests.test_api import Client, Keys, apologise, assert_error, call, client, count, dossier_body, keys, put, sipas

__all__ = ["client", "keys", "sipas"]  # the fixtures of tests/test_api.py, used here too

CODE = "P8-261110-0001"


async def put_once(client: Client, key: str, idem: str, **changes: Any) -> Any:
    headers = {"Idempotency-Key": idem}
    return await call(client, "PUT", f"{PREFIX}/dossiers/{CODE}", key, dossier_body(**changes), headers=headers)


async def test_a_put_with_an_idempotency_key_replays_its_first_answer(client: Client, keys: Keys, sipas: App) -> None:
    first = await put_once(client, keys.write, "put-1")
    assert first.status == 201, first.body
    assert "Idempotent-Replayed" not in first.headers
    # the dossier changes meanwhile (a PUT without the key answers 200); the key still answers what it answered
    assert (await put(client, keys.write, CODE, handler="Lê Văn Cường")).status == 200
    replay = await put_once(client, keys.write, "put-1")
    assert (replay.status, replay.body) == (201, first.body)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]
    assert await count(sipas, IdempotencyRow.__table__) == 1
    assert await count(sipas, DossierRow.__table__) == 1
    # the same key with another body is refused, and nothing is applied
    other = await put_once(client, keys.write, "put-1", procedure="Đăng ký kết hôn")
    assert_error(other, 422, "idempotency_key_reused")
    read = await call(client, "GET", f"{PREFIX}/dossiers/{CODE}", keys.write)
    assert read.body["procedure"] == "Đăng ký khai sinh"


async def test_another_post_gets_the_key_too_and_a_refusal_is_not_stored(
    client: Client, keys: Keys, sipas: App
) -> None:
    await put(client, keys.write, CODE)
    path = f"{PREFIX}/dossiers/{CODE}/apology"
    body = {"reason": "Chờ ý kiến của Sở Tư pháp", "issued_by": "Trần Thị Bình"}
    headers = {"Idempotency-Key": "apology-1"}
    refused = await call(client, "POST", path, keys.apologies, body, headers=headers)  # no new date: 422
    assert_error(refused, 422, "invalid_input")
    assert await count(sipas, IdempotencyRow.__table__) == 0
    sent = body | {"new_due_at": "2026-11-27"}
    first = await call(client, "POST", path, keys.apologies, sent, headers=headers)
    assert first.status == 201, first.body
    # sent again with its key: the same apology, not a second one (without the key: 409 apology_exists)
    again = await call(client, "POST", path, keys.apologies, sent, headers=headers)
    assert (again.status, again.body, again.headers["Idempotent-Replayed"]) == (201, first.body, "true")
    assert_error(await apologise(client, keys, CODE, new_due_at="2026-11-27"), 409, "apology_exists")
    assert await count(sipas, ApologyRow.__table__) == 1
    assert_error(await call(client, "POST", path, keys.apologies, body, headers=headers), 422, "idempotency_key_reused")
    malformed = await call(client, "POST", path, keys.apologies, sent, headers={"Idempotency-Key": "with space"})
    assert_error(malformed, 400, "bad_idempotency_key")


async def test_the_document_offers_the_key_on_every_write(client: Client, keys: Keys) -> None:
    document = (await call(client, "GET", f"{PREFIX}/openapi.json", keys.write)).body
    writes = [(path, method, item) for path, item_of in document["paths"].items() for method, item in item_of.items()]
    assert {method for _, method, _ in writes} == {"get", "put", "post"}
    for path, method, item in writes:
        names = [parameter["name"] for parameter in item.get("parameters", [])]
        offered = "Idempotency-Key" in names
        assert offered == (method in ("put", "post")), (path, method)
        if offered:
            success = [answer for status, answer in item["responses"].items() if status.startswith("2")]
            assert all("Idempotent-Replayed" in answer["headers"] for answer in success), (path, method)
