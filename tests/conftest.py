"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when SIPAS_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from handlers.clock import ManualClock
from handlers.context import Policy, Services
from handlers.texts import Texts
from storage import migrate
from storage.db import Database
from storage.models import Base
from survey_forms.catalog import Catalog

if TYPE_CHECKING:
    from bot.app import App

POSTGRES_URL = os.environ.get("SIPAS_TEST_POSTGRES_URL", "").strip()
# python-telegram-bot: time periods as timedelta (no deprecation warning, which tests treat as an error)
os.environ.setdefault("PTB_TIMEDELTA", "true")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


class Clock(ManualClock):
    """A clock the test moves by hand (never sleep to wait for a schedule): ``advance`` also moves the pace,
    the back-off and every wait on it (handlers/clock.py)."""


@dataclass
class Backend:
    """A migrated, emptied database for one test."""

    name: str
    url: str


async def _create_postgres_database() -> str:
    base = make_url(POSTGRES_URL)
    name = f"sipas_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    await migrate.upgrade(database)
    await database.close()
    return url


async def _drop_postgres_database(url: str) -> None:
    base = make_url(POSTGRES_URL)
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    await admin.dispose()


async def _migrate_sqlite(path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(database)
    await database.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate_sqlite(path))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of our own for this test session."""
    url = asyncio.run(_create_postgres_database())
    yield url
    asyncio.run(_drop_postgres_database(url))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each storage/engine test runs once per backend, on an empty migrated schema."""
    if request.param == "sqlite":
        path = tmp_path / "sipasbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield Backend("sqlite", f"sqlite+aiosqlite:///{path}")
        return
    url = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    yield Backend("postgresql", url)


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def texts() -> Texts:
    return Texts.load()


@pytest.fixture
def clock() -> Clock:
    # a Wednesday, 10:00 in Hà Nội: outside the quiet hours
    return Clock(datetime(2026, 11, 18, 3, 0, tzinfo=UTC))


@pytest.fixture
async def database(backend: Backend) -> AsyncIterator[Database]:
    database = Database(backend.url)
    yield database
    await database.close()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def services(database: Database, catalog: Catalog, texts: Texts, policy: Policy, clock: Clock) -> Services:
    return Services(database=database, catalog=catalog, texts=texts, policy=policy, clock=clock)


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``sipasbot …`` run in this process on a fresh database file: (exit status, stdout, stderr)."""
    from tests.helpers import in_process_cli

    return in_process_cli(monkeypatch, capsys, f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client, for the tests that call an emulator or the service as the other side would."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sipas(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    """The whole service (no channel) on the test database, with the unit P8 (a test file may have its own)."""
    from tests.helpers import started_app

    async with started_app(backend.url, clock) as app:
        yield app


@pytest.fixture(autouse=True)
def _command_line_in_vietnamese() -> Iterator[None]:
    """Each test starts as a fresh ``sipasbot`` run does: in Vietnamese, whatever language a test before it chose.

    The command line chooses its language once per run (``--lang``, ``SIPAS_LANG``); a test that runs it in-process
    in English must not leave the next test's run in English.
    """
    from bot.texts import choose_locale

    choose_locale(["--lang", "vi"])
    yield
    choose_locale(["--lang", "vi"])
