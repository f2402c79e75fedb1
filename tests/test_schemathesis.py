"""The REST API checked against its own OpenAPI document with schemathesis: every operation, valid and invalid input.

The service runs on a free loopback port in a thread of its own (schemathesis calls it synchronously, over HTTP,
as the one-stop-shop software would), on every backend. Checked for each response: no server error, a documented
status code, the documented content type, headers and body schema. Deterministic: fixed seed, bounded examples.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app import App
from bot.config import load_settings
from bot.web.api import OPERATIONS, PREFIX, setup_api
from bot.web.openapi import build_document
from bot.web.pages import setup_pages
from bot.web.routes.common import ErrorOut
from bot.web.server import build_web_app
from handlers.intake.dossiers import ContactInput, DossierInput
from tests.conftest import BACKENDS, Clock, _truncate

PUBLIC_URL = "https://sipas.example.vn"
KNOWN_CODES = ("P8-261110-0001", "P8-261111-0002", "P8-261112-0003")  # the last one returned already
SCOPES = ["dossiers:write", "reports:read", "apologies:write"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 100  # per operation and generation mode, on top of the coverage phase's boundary cases
CONFIG = {
    "seed": 20261118,
    "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "request-timeout": 30,
}


class _Errors(logging.Handler):
    """Errors the service logs (a 500 is logged with its traceback) while schemathesis calls it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Server:
    """The running service: its base URL and an API key holding every scope."""

    url: str
    key: str
    errors: _Errors


class _Service:
    """``sipasbot run``'s web part, on its own event loop in a thread."""

    def __init__(self, database_url: str, clock: Clock) -> None:
        self.database_url = database_url
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sipas-web", daemon=True)
        self.runner: web.AppRunner | None = None
        self.app: App | None = None

    def call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=60)

    def start(self) -> tuple[str, str]:
        self.thread.start()
        return self.call(self._start())  # type: ignore[no-any-return]

    async def _start(self) -> tuple[str, str]:
        settings = load_settings(database_url=self.database_url, public_url=PUBLIC_URL, quiet_hours="")
        app = self.app = App(settings, clock=self.clock)
        await app.start()
        await app.units.add("P8", "Phường 8")
        await app.units.add("Q3", "Quận 3")
        await app.units.add("Q3-P1", "Phường 1", parent="Q3")
        key = await app.api_keys.create("schemathesis", SCOPES, ["all"])
        for number, code in enumerate(KNOWN_CODES):
            received = datetime(2026, 11, 10 + number, 2, 0, tzinfo=UTC)
            await app.dossiers.upsert(
                DossierInput(
                    code=code,
                    unit="P8",
                    procedure="Đăng ký khai sinh",
                    field="Hộ tịch",
                    applicant=ContactInput("Nguyễn Văn An", "0912 345 678"),
                    received_at=received,
                    due_at=received + timedelta(days=9),
                )
            )
        await app.dossiers.add_event(KNOWN_CODES[2], "returned", datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
        self.runner = web.AppRunner(build_web_app(app, [setup_api, setup_pages]), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{port}", key

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()

    async def _stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.app is not None:
            await self.app.close()


def _document() -> dict[str, Any]:
    """The OpenAPI document ``setup_api`` serves (built from the same operation table; compared with it below)."""
    return build_document(OPERATIONS, public_url=PUBLIC_URL, error_model=ErrorOut)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service on one backend, for every example of every operation (it is what a client talks to)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("schemathesis") / "sipasbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        asyncio.run(_truncate(url))
    service = _Service(url, Clock(datetime(2026, 11, 18, 3, 0, tzinfo=UTC)))
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        base_url, key = service.start()
        yield Server(base_url, key, errors)
    finally:
        service.stop()
        logging.getLogger().removeHandler(errors)


schema = schemathesis.openapi.from_dict(_document(), config=schemathesis.Config.from_dict(CONFIG))


# Steering, for this schema only: besides what schemathesis makes up, dossiers that exist and a unit that exists,
# so that the answers of success (200, 201, 202, 409) are checked against the document too, not only the refusals.
def _steered(strategy: st.SearchStrategy[Any], steer: Any) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy.map(steer))


def _known_code(parameters: Any) -> Any:
    if not isinstance(parameters, dict) or "code" not in parameters:
        return parameters
    return {**parameters, "code": KNOWN_CODES[len(str(parameters["code"])) % len(KNOWN_CODES)]}


def _in_p8(value: Any) -> Any:
    """A body (or batch item, or batch) steered to what exists: the unit, known codes, dates in range."""
    if not isinstance(value, dict):
        return value
    if isinstance(value.get("items"), list):
        return {**value, "items": [_in_p8(item) for item in value["items"]]}
    if "unit" in value:  # a dossier: received before it is due, in years the API takes
        return {**value, "unit": "P8", "received_at": "2026-11-16T09:00:00+07:00", "due_at": "2026-11-19"}
    if "new_due_at" in value:  # an apology: a working day after today and after the due date
        return {**value, "new_due_at": "2026-11-25"}
    if "at" in value and "type" in value:  # an event: after the dossiers were received
        return {**value, "at": "2026-11-18T09:30:00+07:00"}
    if isinstance(value.get("dossier"), dict):
        return {**value, "code": KNOWN_CODES[0], "dossier": _in_p8(value["dossier"])}
    if "event" in value:
        return {**value, "code": KNOWN_CODES[1]}
    return value


@schema.hook
def before_generate_path_parameters(context: schemathesis.HookContext, strategy: Any) -> Any:
    return _steered(strategy, _known_code)


@schema.hook
def before_generate_query(context: schemathesis.HookContext, strategy: Any) -> Any:
    return _steered(strategy, lambda query: {**query, "unit": "P8"} if isinstance(query, dict) else query)


@schema.hook
def before_generate_body(context: schemathesis.HookContext, strategy: Any) -> Any:
    return _steered(strategy, _in_p8)


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(case: Any, server: Server) -> None:
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, checks=CHECKS)
    assert not server.errors.records, [record.getMessage() for record in server.errors.records]


def test_the_document_checked_is_the_one_served(server: Server) -> None:
    served = requests.get(f"{server.url}{PREFIX}/openapi.json", timeout=30).json()
    assert {**served, "servers": []} == {**_document(), "servers": []}


def test_schemathesis_sees_every_operation_of_the_api() -> None:
    seen = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert seen == {(operation.method, operation.path) for operation in OPERATIONS}
