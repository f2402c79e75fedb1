"""The public page of a ward that began recently (issue 16, point 10), over HTTP as a citizen or a website reads it.

Phường 5 received its first dossier in November 2026; the page is read on 15/01/2027 at 10:00 (Hà Nội): the last
complete quarter with data is Quý IV/2026, no quarter before it is offered, and every figure says whether there is
no data at all ("chưa có dữ liệu") or too little ("chưa đủ dữ liệu", n < 5).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.intake.dossiers import DossierHandler
from tests.conftest import Backend, Clock
from tests.helpers import sample_dossier
from tests.test_public_page import (
    HANOI,
    INSUFFICIENT,
    NOW,
    PUBLIC_URL,
    Client,
    ClientFactory,
    Respondent,
    _fast_respondent,
    both,
    figures_from_json,
    figures_of,
    get,
    items,
)

NO_DATA = "chưa có dữ liệu"
# code-point order would put "Chứng thực" before "Cấp…" and "Đất đai" after "Hộ tịch"
FIELDS_IN_ORDER = ["Cấp phép xây dựng", "Chứng thực", "Dân số", "Đất đai"]


def day(year: int, month: int, day_: int, hour: int = 9) -> datetime:
    return datetime(year, month, day_, hour, tzinfo=HANOI)


def respondents(unit: str, field: str, count: int, when: datetime, start: int) -> list[Respondent]:
    numbers = range(start, start + count)
    return [
        Respondent(f"{unit}-{n:04d}", f"Người dân {n}", f"0912 000 {n:03d}", field, when, items("4"), unit=unit)
        for n in numbers
    ]


async def resolved(app: App, code: str, unit: str, field: str, received: datetime) -> None:
    """A dossier resolved on time with no survey: counted, never rated."""
    handler = DossierHandler(app.services)
    data = sample_dossier(code=code, unit=unit, field=field, received_at=received, due_at=received + timedelta(days=7))
    await handler.upsert(data)
    await handler.add_event(code, "result_ready", received + timedelta(days=2))


@pytest.fixture
async def sipas(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    clock.now = NOW  # 15/01/2027 10:00: Quý I/2027 runs, Quý IV/2026 is the last complete one
    app = App(load_settings(database_url=backend.url, public_url=PUBLIC_URL), clock=clock)
    await app.start()
    await app.units.add("P5", "Phường 5")  # first dossier in November 2026
    await app.units.add("P6", "Phường 6")  # first dossier in January 2027, the quarter still running
    await app.units.add("P7", "Phường 7")  # no dossier yet
    people = [
        *respondents("P5", "Cấp phép xây dựng", 5, day(2026, 11, 10), 1),  # n = 5: published
        *respondents("P5", "Chứng thực", 2, day(2026, 11, 12), 6),  # n = 2: not enough
        *respondents("P5", "Đất đai", 1, day(2026, 12, 2), 8),  # n = 1: not enough
        *respondents("P6", "Hộ tịch", 2, day(2027, 1, 8), 20),
    ]
    for person in people:
        await _fast_respondent(app.services, person)
    await resolved(app, "P5-DS-1", "P5", "Dân số", day(2026, 11, 20))  # resolved, never rated: no data
    yield app
    await app.close()


@pytest.fixture
async def client(sipas: App, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(build_web_app(sipas, [setup_api, setup_pages]))


def picker(html: str) -> list[str]:
    nav = re.search(r"<nav class=\"quarters\".*?</nav>", html, re.DOTALL)
    assert nav is not None
    return re.findall(r"data-quarter=\"([0-9]{4}-Q[1-4])\"", nav[0])


async def test_the_default_is_the_last_complete_quarter_with_data_and_no_earlier_quarter_is_offered(
    client: Client,
) -> None:
    html, data = await both(client, unit="P5")
    assert (html.status, data.status) == (200, 200), html.text
    body = data.json()
    assert (body["quarter"], body["complete"], body["first_quarter"]) == ("2026-Q4", True, "2026-Q4")
    assert body["previous"] == []  # nothing before the unit's first dossier is compared
    assert picker(html.text) == ["2027-Q1", "2026-Q4"]
    assert '<strong aria-current="page" data-quarter="2026-Q4">Quý IV/2026</strong>' in html.text
    for earlier in ("2026-Q3", "2026-Q2", "Quý III/2026", "Quý II/2026"):
        assert earlier not in html.text, earlier
    assert "tạm tính" not in html.text  # a complete quarter is final
    assert body["provisional_until"] is None
    labels = re.findall(r"<th scope=\"col\" class=\"num\">(Quý [IV]+/\d{4})", html.text)
    assert labels == ["Quý IV/2026"]
    assert figures_of(html.text) == figures_from_json(body)


async def test_no_data_is_told_apart_from_not_enough_data(client: Client) -> None:
    html, data = await both(client, unit="P5")
    body = data.json()
    fields = {f["field"]: f for f in body["fields"]}
    assert fields["Cấp phép xây dựng"]["satisfaction"]["text"] == "100,0%"
    assert fields["Chứng thực"]["satisfaction"]["text"] == INSUFFICIENT  # two answers
    assert fields["Đất đai"]["satisfaction"]["text"] == INSUFFICIENT  # one answer
    assert fields["Dân số"]["satisfaction"]["text"] == NO_DATA  # resolved, nobody answered
    shown = figures_of(html.text)
    by_name = {shown[f"field-target-{i}-name"]: i for i in range(1, 5)}
    assert shown[f"field-target-{by_name['Dân số']}-satisfaction"] == NO_DATA
    assert shown[f"field-target-{by_name['Dân số']}-satisfaction-verdict"] == NO_DATA
    assert shown[f"field-target-{by_name['Chứng thực']}-satisfaction-verdict"] == INSUFFICIENT
    assert shown["complaints-handled_rate"] == NO_DATA  # no complaint came in
    assert shown["complaints-verdict"] == NO_DATA
    assert shown["overall"] == "100,0%"

    # a unit with no dossier at all: nothing is "not enough", everything is "no data"
    html, data = await both(client, unit="P7")
    body = data.json()
    assert (body["quarter"], body["first_quarter"], body["previous"]) == ("2026-Q4", None, [])
    shown = figures_of(html.text)
    assert shown["overall"] == NO_DATA
    assert shown["on_time_rate"] == NO_DATA
    assert shown["response_rate"] == NO_DATA
    assert {shown[f"factor-{code}"] for code in ("TC", "TT", "CC", "KQ", "PA")} == {NO_DATA}
    assert shown["no-data"] == "Đơn vị chưa có hồ sơ nào trên hệ thống: chưa có dữ liệu."
    assert INSUFFICIENT not in " ".join(v for k, v in shown.items() if k != "method")
    assert picker(html.text) == []  # no quarter to pick
    assert figures_of(html.text) == figures_from_json(body)


async def test_a_unit_whose_first_dossier_is_in_the_running_quarter_sees_it_to_the_minute(
    client: Client, clock: Clock
) -> None:
    html, data = await both(client, unit="P6")
    body = data.json()
    assert (body["quarter"], body["complete"], body["to"]) == ("2027-Q1", False, "2027-01-15")
    assert picker(html.text) == ["2027-Q1"]
    shown = figures_of(html.text)
    assert shown["provisional"] == "Quý I/2027 chưa kết thúc: số liệu tạm tính đến 10:00 ngày 15/01/2027."
    assert body["provisional_until"] == "2027-01-15T10:00:00+07:00"
    clock.advance(hours=2, minutes=15)  # computed again later the same day: the time it says moves with it
    html, data = await both(client, unit="P6")
    assert figures_of(html.text)["provisional"].endswith("tạm tính đến 12:15 ngày 15/01/2027.")
    assert "hết ngày" not in html.text
    # a quarter before the unit's first dossier, asked for by its address, says so
    html, data = await both(client, unit="P6", query="?quy=2026-Q4")
    assert figures_of(html.text)["no-data"] == (
        "Đơn vị chưa có hồ sơ nào trong Quý IV/2026: hồ sơ đầu tiên được tiếp nhận trong Quý I/2027."
    )
    assert figures_of(html.text)["overall"] == NO_DATA


async def test_fields_in_vietnamese_order_and_no_form_id(client: Client, sipas: App) -> None:
    html, data = await both(client, unit="P5")
    body = data.json()
    assert [f["field"] for f in body["fields"]] == FIELDS_IN_ORDER
    shown = figures_of(html.text)
    assert [shown[f"field-target-{i}-name"] for i in range(1, 5)] == FIELDS_IN_ORDER
    answered = [f for f in FIELDS_IN_ORDER if f != "Dân số"]
    assert [f["field"] for f in body["by_field"]] == answered
    assert [shown[f"field-{i}-name"] for i in range(1, 4)] == answered
    for form_id in sipas.services.catalog.ids():
        assert form_id not in html.text, form_id
    page = await get(client, "/cong-khai/P5?quy=2027-Q1")
    for form_id in sipas.services.catalog.ids():
        assert form_id not in page.text, form_id
