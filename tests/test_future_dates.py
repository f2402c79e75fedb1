"""Dates in the future are refused (a dossier received tomorrow, returned tomorrow), a due date in the future is not.

By the API (422 naming the field) and by `sipasbot dossiers import` (the row listed, its column named); "now" is
the service's clock.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import App
from bot.cli import main
from bot.config import load_settings
from bot.web.api import PREFIX, setup_api
from bot.web.server import build_web_app
from handlers.context import Services
from handlers.intake.imports.importer import DossierImporter
from tests.conftest import Backend, Clock
from tests.helpers import add_unit
from tests.test_api import assert_error, call, dossier_body
from tests.test_import import export_row, table_counts, write_xlsx

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]
# the clock: Wednesday 18/11/2026, 10:00 in Hà Nội


@pytest.fixture
async def sipas(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    app = App(load_settings(database_url=backend.url), clock=clock)
    await app.start()
    await app.units.add("P8", "Phường 8")
    yield app
    await app.close()


@pytest.fixture
async def client(sipas: App, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(build_web_app(sipas, [setup_api]))


@pytest.fixture
async def key(sipas: App) -> str:
    return await sipas.api_keys.create("mot-cua", ["dossiers:write", "reports:read"], ["P8"])


@pytest.mark.parametrize(
    "received_at",
    ["2026-11-19", "2026-11-18T11:00:00+07:00", "2026-11-18T10:30:00", "2027-01-01T00:00:00Z"],
)
async def test_a_dossier_received_in_the_future_is_refused_naming_the_field(
    client: Client, key: str, received_at: str
) -> None:
    answer = await call(client, "PUT", f"{PREFIX}/dossiers/P8-1", key, dossier_body(received_at=received_at))
    assert_error(answer, 422, "invalid_input", mentions="received_at")
    assert "future" in answer.body["error"]["message"]
    assert (await call(client, "GET", f"{PREFIX}/dossiers/P8-1", key)).status == 404
    batch = await call(
        client,
        "POST",
        f"{PREFIX}/dossiers:batch",
        key,
        {"items": [{"op": "upsert", "code": "P8-2", "dossier": dossier_body(received_at=received_at)}]},
    )
    assert batch.body["results"][0]["status"] == 422
    assert "received_at" in batch.body["results"][0]["error"]["message"]


async def test_today_and_a_due_date_in_the_future_are_fine(client: Client, key: str) -> None:
    for code, received in (("P8-1", "2026-11-18"), ("P8-2", "2026-11-18T10:00:00+07:00"), ("P8-3", "2026-11-17")):
        answer = await call(
            client, "PUT", f"{PREFIX}/dossiers/{code}", key, dossier_body(received_at=received, due_at="2026-12-20")
        )
        assert answer.status == 201, answer.body


@pytest.mark.parametrize("type_", ["returned", "result_ready", "supplement_requested", "cancelled"])
async def test_an_event_in_the_future_is_refused_naming_the_field(client: Client, key: str, type_: str) -> None:
    assert (await call(client, "PUT", f"{PREFIX}/dossiers/P8-1", key, dossier_body())).status == 201
    path = f"{PREFIX}/dossiers/P8-1/events"
    tomorrow = await call(client, "POST", path, key, {"type": type_, "at": "2026-11-19T09:00:00+07:00"})
    assert_error(tomorrow, 422, "invalid_input", mentions="at:")
    assert "future" in tomorrow.body["error"]["message"]
    read = await call(client, "GET", f"{PREFIX}/dossiers/P8-1", key)
    assert (read.body["state"], read.body["timeline"]) == ("received", [])
    now = await call(client, "POST", path, key, {"type": type_, "at": "2026-11-18T10:00:00+07:00"})
    assert now.status == 202, now.body


async def test_the_import_lists_each_row_with_a_date_in_the_future_and_its_column(
    services: Services, tmp_path: Path
) -> None:
    await add_unit(services)
    rows = [
        export_row("P8-OK", due="30/11/2026"),  # due in the future: fine
        export_row("P8-R", received="19/11/2026 08:00", due="30/11/2026"),
        export_row("P8-F", status=9, finished="18/11/2026 11:00"),
        export_row("P8-T", status=10, finished="17/11/2026 10:00", returned="20/11/2026"),
        export_row("P8-TODAY", status=10, returned="18/11/2026"),  # today, no time: fine
    ]
    path = write_xlsx(tmp_path / "xuat.xlsx", rows)

    report = await DossierImporter(services).run(path)

    assert report.created == 2
    assert [(error.row, error.message) for error in report.errors] == [
        (3, "“Ngày tiếp nhận” ở tương lai: 19/11/2026 08:00 (bây giờ là 18/11/2026 10:00)"),
        (4, "“Ngày xử lý xong” ở tương lai: 18/11/2026 11:00 (bây giờ là 18/11/2026 10:00)"),
        (5, "“Ngày trả kết quả” ở tương lai: 20/11/2026 00:00 (bây giờ là 18/11/2026 10:00)"),
    ]
    assert (await table_counts(services))["dossiers"] == 2


def test_the_command_refuses_a_row_received_tomorrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("SIPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}")
    monkeypatch.setenv("SIPAS_TIMEZONE", "Asia/Ho_Chi_Minh")
    assert main(["units", "add", "P8", "Phường 8"]) == 0
    tomorrow = datetime.now() + timedelta(days=2)  # the command's clock is the real one
    path = write_xlsx(
        tmp_path / "xuat.xlsx",
        [
            export_row("P8-1", received="01/11/2026 08:00", due="05/11/2026"),
            export_row("P8-2", received=tomorrow, due=tomorrow + timedelta(days=10)),
        ],
    )
    capsys.readouterr()
    assert main(["dossiers", "import", str(path)]) == 3  # a row refused: exit status 3, the good row imported
    out: Any = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Đã nhập 1 hồ sơ")
    assert out[1].startswith("dòng 3: “Ngày tiếp nhận” ở tương lai: ")
