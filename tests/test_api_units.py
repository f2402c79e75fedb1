"""API keys stay inside their units: a ward's key reads and changes nothing of another ward, on every route.

A province runs one SIPAS Bot for all its wards: P8 and P9 below the province TINH, and KP1 below P8. The
P8 key holds every scope. Each route of the API (taken from the running app's router, so that a route added
later without a case here fails) is tried with it against P9's dossier and reports, and afterwards P9's
rows in the database and what P9's own key reads back are exactly as they were.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from alembic import command
from sqlalchemy import Table, select

from bot.app import App
from bot.terminal import run_shell
from bot.web.api import PREFIX, setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.leader.reporting import Period
from storage import migrate
from storage.models import (
    ApologyRow,
    AuditRow,
    DossierEventRow,
    DossierRow,
    IdempotencyRow,
    InvitationRow,
    OutboxRow,
    PersonRow,
)
from tests.conftest import Backend, Clock
from tests.helpers import started_app
from tests.test_api import Answer, assert_error, call, dossier_body

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]
ALL_SCOPES = ["dossiers:write", "reports:read", "apologies:write"]
P9_CODE = "P9-261110-0001"
NO_SUCH_CODE = "P9-261110-9999"
FORGED = "Chủ tịch UBND Phường 9"


@dataclass
class Keys:
    p8: str
    p9: str
    province: str


@pytest.fixture
async def sipas(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    units = [("TINH", "Tỉnh Mẫu"), ("P8", "Phường 8", "TINH"), ("P9", "Phường 9", "TINH"), ("KP1", "Khu phố 1", "P8")]
    async with started_app(backend.url, clock, units=units) as app:
        yield app


@pytest.fixture
async def keys(sipas: App) -> Keys:
    return Keys(
        p8=await sipas.api_keys.create("mot-cua-p8", ALL_SCOPES, ["P8"]),
        p9=await sipas.api_keys.create("mot-cua-p9", ALL_SCOPES, ["P9"]),
        province=await sipas.api_keys.create("tinh", ALL_SCOPES, ["all"]),
    )


@pytest.fixture
async def client(sipas: App, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(build_web_app(sipas, [setup_api, setup_pages]))


@pytest.fixture
async def p9_dossier(client: Client, keys: Keys) -> str:
    """P9's dossier, written by P9's key, with an event (sent with an Idempotency-Key)."""
    created = await call(client, "PUT", f"{PREFIX}/dossiers/{P9_CODE}", keys.p9, dossier_body(unit="P9"))
    assert created.status == 201, created.body
    supplement = {"type": "supplement_requested", "at": "2026-11-12T10:00:00+07:00"}
    path = f"{PREFIX}/dossiers/{P9_CODE}/events"
    asked = await call(client, "POST", path, keys.p9, supplement, headers={"Idempotency-Key": "p9-1"})
    assert asked.status == 202, asked.body
    return P9_CODE


async def snapshot(app: App, client: Client, key: str) -> dict[str, Any]:
    """Everything of the database that an API call can write, and P9's dossier as P9's key reads it."""
    tables: list[Table] = [
        DossierRow.__table__,  # type: ignore[list-item]
        DossierEventRow.__table__,  # type: ignore[list-item]
        ApologyRow.__table__,  # type: ignore[list-item]
        PersonRow.__table__,  # type: ignore[list-item]
        InvitationRow.__table__,  # type: ignore[list-item]
        OutboxRow.__table__,  # type: ignore[list-item]
        IdempotencyRow.__table__,  # type: ignore[list-item]
        AuditRow.__table__,  # type: ignore[list-item]
    ]
    rows: dict[str, Any] = {}
    async with app.services.uow(read_only=True) as uow:
        for table in tables:
            result = await uow.connection.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    read = await call(client, "GET", f"{PREFIX}/dossiers/{P9_CODE}", key)
    assert read.status == 200, read.body
    rows["read back"] = read.body
    return rows


def same_not_found(answer: Answer, missing: Answer, code: str) -> None:
    """``answer`` (a dossier of another unit) is the 404 of a dossier that does not exist, word for word."""
    assert_error(answer, 404, "not_found")
    assert_error(missing, 404, "not_found")
    assert answer.headers.get("Content-Type") == missing.headers.get("Content-Type")
    assert answer.body["error"]["message"].replace(code, "?") == missing.body["error"]["message"].replace(
        NO_SUCH_CODE, "?"
    )


# ------------------------------------------------------------------ what the P8 key tries on each route

Attack = Callable[[Client, Keys], Awaitable[None]]


async def _get_dossier(client: Client, keys: Keys) -> None:
    answer = await call(client, "GET", f"{PREFIX}/dossiers/{P9_CODE}", keys.p8)
    missing = await call(client, "GET", f"{PREFIX}/dossiers/{NO_SUCH_CODE}", keys.p8)
    same_not_found(answer, missing, P9_CODE)


async def _put_dossier(client: Client, keys: Keys) -> None:
    path = f"{PREFIX}/dossiers/{P9_CODE}"
    changed = await call(client, "PUT", path, keys.p8, dossier_body(unit="P9", procedure="Đổi tên"))
    missing = await call(client, "GET", f"{PREFIX}/dossiers/{NO_SUCH_CODE}", keys.p8)
    same_not_found(changed, missing, P9_CODE)
    moved = await call(client, "PUT", path, keys.p8, dossier_body(unit="P8"))  # the move of the issue
    same_not_found(moved, missing, P9_CODE)
    created = await call(client, "PUT", f"{PREFIX}/dossiers/P9-NEW-1", keys.p8, dossier_body(unit="P9"))
    assert_error(created, 403, "forbidden", mentions="P9")
    above = await call(client, "PUT", f"{PREFIX}/dossiers/TINH-NEW-1", keys.p8, dossier_body(unit="TINH"))
    assert_error(above, 403, "forbidden", mentions="TINH")


async def _post_event(client: Client, keys: Keys) -> None:
    path = f"{PREFIX}/dossiers/{P9_CODE}/events"
    missing = await call(client, "GET", f"{PREFIX}/dossiers/{NO_SUCH_CODE}", keys.p8)
    for body, idem in (
        ({"type": "supplement_received", "at": "2026-11-13T10:00:00+07:00"}, None),
        ({"type": "cancelled", "at": "2026-11-13T10:00:00+07:00"}, "p8-1"),
        ({"type": "supplement_requested", "at": "2026-11-12T10:00:00+07:00"}, "p9-1"),  # P9's own key and body
    ):
        headers = {"Idempotency-Key": idem} if idem else None
        answer = await call(client, "POST", path, keys.p8, body, headers=headers)
        same_not_found(answer, missing, P9_CODE)


async def _post_apology(client: Client, keys: Keys) -> None:
    body = {"reason": "Chờ xác minh", "new_due_at": "2026-11-27", "issued_by": FORGED}
    answer = await call(client, "POST", f"{PREFIX}/dossiers/{P9_CODE}/apology", keys.p8, body)
    missing = await call(client, "GET", f"{PREFIX}/dossiers/{NO_SUCH_CODE}", keys.p8)
    same_not_found(answer, missing, P9_CODE)


async def _post_batch(client: Client, keys: Keys) -> None:
    items = [
        {"op": "upsert", "code": P9_CODE, "dossier": dossier_body(unit="P9", procedure="Đổi tên")},
        {"op": "upsert", "code": P9_CODE, "dossier": dossier_body(unit="P8")},
        {"op": "upsert", "code": "P9-NEW-2", "dossier": dossier_body(unit="P9")},
        {"op": "event", "code": P9_CODE, "event": {"type": "cancelled", "at": "2026-11-13T10:00:00+07:00"}},
        {"op": "event", "code": NO_SUCH_CODE, "event": {"type": "cancelled", "at": "2026-11-13T10:00:00+07:00"}},
    ]
    answer = await call(client, "POST", f"{PREFIX}/dossiers:batch", keys.p8, {"items": items})
    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [r["status"] for r in results] == [404, 404, 403, 404, 404]
    assert results[3]["error"]["message"].replace(P9_CODE, "?") == results[4]["error"]["message"].replace(
        NO_SUCH_CODE, "?"
    )
    assert all("dossier" not in r for r in results)


async def _get_report(client: Client, keys: Keys) -> None:
    for query in ("unit=P9", "unit=TINH", "unit=TINH&include_children=true", "unit=P9&from=2026-11-01"):
        answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?{query}", keys.p8)
        assert_error(answer, 403, "forbidden", mentions=query.split("&")[0].removeprefix("unit="))


ATTACKS: dict[tuple[str, str], Attack] = {
    ("GET", f"{PREFIX}/dossiers/{{code}}"): _get_dossier,
    ("PUT", f"{PREFIX}/dossiers/{{code}}"): _put_dossier,
    ("POST", f"{PREFIX}/dossiers/{{code}}/events"): _post_event,
    ("POST", f"{PREFIX}/dossiers/{{code}}/apology"): _post_apology,
    ("POST", f"{PREFIX}/dossiers:batch"): _post_batch,
    ("GET", f"{PREFIX}/reports/satisfaction"): _get_report,
}
# routes under the API's prefix that hold nothing of any unit: no case needed
UNBOUND = {("GET", f"{PREFIX}/openapi.json"), ("HEAD", f"{PREFIX}/openapi.json")}


def api_routes(web_app: web.Application) -> set[tuple[str, str]]:
    """Every (method, path) under /api/ the service's web app answers."""
    found = set()
    for route in web_app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/"):
            found.add((route.method, path))
    return found


async def test_every_route_of_the_api_has_a_cross_unit_case(client: Client) -> None:
    routes = api_routes(client.app)
    assert routes, "no API route found"
    unchecked = routes - set(ATTACKS) - UNBOUND
    assert not unchecked, f"routes without a cross-unit test: {sorted(unchecked)}"
    assert set(ATTACKS) <= routes  # the table names no route that is gone


@pytest.mark.parametrize("route", sorted(ATTACKS), ids=lambda r: f"{r[0]} {r[1]}")
async def test_a_ward_key_reads_and_changes_nothing_of_another_ward(
    sipas: App, client: Client, keys: Keys, p9_dossier: str, route: tuple[str, str]
) -> None:
    before = await snapshot(sipas, client, keys.p9)
    await ATTACKS[route](client, keys)
    after = await snapshot(sipas, client, keys.p9)
    assert after == before


async def test_a_ward_key_works_inside_its_units_and_a_province_key_everywhere(
    sipas: App, client: Client, keys: Keys, p9_dossier: str
) -> None:
    child = await call(client, "PUT", f"{PREFIX}/dossiers/KP1-0001", keys.p8, dossier_body(unit="KP1"))
    assert child.status == 201, child.body  # a unit covers the units below it
    read = await call(client, "GET", f"{PREFIX}/dossiers/KP1-0001", keys.p8)
    assert read.status == 200
    assert read.body["unit"] == "KP1"
    own = await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit=P8&include_children=true", keys.p8)
    assert own.status == 200, own.body
    for unit in ("P9", "TINH", "P8"):
        report = await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit={unit}", keys.province)
        assert report.status == 200, report.body
    province_read = await call(client, "GET", f"{PREFIX}/dossiers/{P9_CODE}", keys.province)
    assert province_read.status == 200
    p9_reads_p8 = await call(client, "GET", f"{PREFIX}/dossiers/KP1-0001", keys.p9)
    assert_error(p9_reads_p8, 404, "not_found")


async def test_a_dossier_never_changes_unit_through_the_api_whatever_the_key(
    sipas: App, client: Client, keys: Keys, p9_dossier: str
) -> None:
    path = f"{PREFIX}/dossiers/{P9_CODE}"
    for key in (keys.p9, keys.province):
        moved = await call(client, "PUT", path, key, dossier_body(unit="P8"))
        assert_error(moved, 422, "unit_change_refused", mentions="P9")
    batch = await call(
        client,
        "POST",
        f"{PREFIX}/dossiers:batch",
        keys.province,
        {"items": [{"op": "upsert", "code": P9_CODE, "dossier": dossier_body(unit="P8")}]},
    )
    assert batch.body["results"][0]["status"] == 422
    assert batch.body["results"][0]["error"]["code"] == "unit_change_refused"
    read = await call(client, "GET", path, keys.province)
    assert read.body["unit"] == "P9"
    p8 = await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit=P8", keys.province)
    assert p8.body["dossiers"]["received"] == 0  # P8's figures did not gain P9's dossier
    same = await call(client, "PUT", path, keys.p9, dossier_body(unit="P9", procedure="Đăng ký kết hôn"))
    assert same.status == 200, same.body  # updating it in its own unit is fine


async def test_the_apology_keeps_the_key_and_the_officer_named_and_shows_both(
    sipas: App, client: Client, keys: Keys, p9_dossier: str
) -> None:
    body = {"reason": "Chờ xác minh", "new_due_at": "2026-11-27", "issued_by": FORGED}
    refused = await call(client, "POST", f"{PREFIX}/dossiers/{P9_CODE}/apology", keys.p8, body)
    assert_error(refused, 404, "not_found")
    issued = await call(client, "POST", f"{PREFIX}/dossiers/{P9_CODE}/apology", keys.p9, body)
    assert issued.status == 201, issued.body
    assert (issued.body["apology"]["issued_by"], issued.body["apology"]["issued_key"]) == (FORGED, "mot-cua-p9")
    read = await call(client, "GET", f"{PREFIX}/dossiers/{P9_CODE}", keys.p9)
    assert (read.body["apology"]["issued_by"], read.body["apology"]["issued_key"]) == (FORGED, "mot-cua-p9")

    async with sipas.services.uow(read_only=True) as uow:
        audit = (
            await uow.connection.execute(select(AuditRow.__table__).where(AuditRow.action == "apology.issue"))
        ).one()
    assert audit.actor == "apikey:mot-cua-p9"
    assert audit.detail["officer"] == FORGED

    content = await sipas.period_reports.workbook("P9", Period(date(2026, 11, 1), date(2026, 11, 30)), "Tháng 11/2026")
    book = openpyxl.load_workbook(io.BytesIO(content))
    cells = [str(cell.value) for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value]
    assert any(FORGED in cell and "mot-cua-p9" in cell for cell in cells), "the workbook shows both"

    out = io.StringIO()
    await run_shell(sipas, "can-bo-p9", io.StringIO(f"/hoso {P9_CODE}\n"), out, role="staff", unit="P9")
    shown = out.getvalue()
    assert FORGED in shown
    assert "mot-cua-p9" in shown


# ------------------------------------------------------- keys made before units: migration 0015 binds them


def _downgrade(connection: Any, revision: str) -> None:
    config = migrate.alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def _before_units(app: App) -> None:
    """Back to the schema before keys had units (their units are dropped), then up again."""
    async with app.services.database.engine.begin() as connection:
        await connection.run_sync(_downgrade, "0014")
    await migrate.upgrade(app.services.database)


async def test_keys_made_before_units_keep_the_units_of_the_dossiers_they_wrote(
    sipas: App, client: Client, keys: Keys, p9_dossier: str
) -> None:
    p8 = await call(client, "PUT", f"{PREFIX}/dossiers/P8-0001", keys.province, dossier_body(unit="P8"))
    assert p8.status == 201, p8.body
    asked = {"type": "supplement_requested", "at": "2026-11-12T10:00:00+07:00"}
    path = f"{PREFIX}/dossiers/P8-0001/events"
    sent = await call(client, "POST", path, keys.p8, asked, headers={"Idempotency-Key": "p8-1"})
    assert sent.status == 202, sent.body
    reports_only = await sipas.api_keys.create("bang-dieu-khien", ["reports:read"], ["TINH"])

    await _before_units(sipas)

    # P8's key sent P8-0001's event: it keeps P8; P9's key keeps P9 (its event on P9's dossier)
    assert (await call(client, "GET", f"{PREFIX}/dossiers/P8-0001", keys.p8)).status == 200
    assert_error(await call(client, "GET", f"{PREFIX}/dossiers/{P9_CODE}", keys.p8), 404, "not_found")
    assert (await call(client, "GET", f"{PREFIX}/dossiers/{P9_CODE}", keys.p9)).status == 200
    assert_error(await call(client, "GET", f"{PREFIX}/dossiers/P8-0001", keys.p9), 404, "not_found")
    # the province's key sent no event: nothing tells which units it wrote for, so it gets none and is refused
    # (the same for a key that only ever read reports), rather than every unit
    for key in (keys.province, reports_only):
        answer = await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit=P8", key)
        assert_error(answer, 403, "no_units", mentions="--units")
    listing = {key.name: key for key in await sipas.api_keys.listing()}
    assert (listing["mot-cua-p8"].units, listing["mot-cua-p9"].units, listing["tinh"].units) == (("P8",), ("P9",), ())
    assert not listing["tinh"].all_units


async def test_in_a_one_ward_database_every_key_made_before_units_keeps_that_ward(
    sipas: App, client: Client, keys: Keys
) -> None:
    created = await call(client, "PUT", f"{PREFIX}/dossiers/P8-0001", keys.province, dossier_body(unit="P8"))
    assert created.status == 201, created.body
    await _before_units(sipas)
    for key in (keys.province, keys.p9):  # every dossier is P8's: no key can have written another unit's
        assert (await call(client, "GET", f"{PREFIX}/dossiers/P8-0001", key)).status == 200
        assert_error(await call(client, "GET", f"{PREFIX}/reports/satisfaction?unit=P9", key), 403, "forbidden")
