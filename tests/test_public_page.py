"""The public quarterly disclosure (docs/FIGURES.md) against a fixture quarter computed by hand, on every backend."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.quarters import Quarter
from bot.web.server import build_web_app
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.leader.reporting import Period
from tests.conftest import Backend, Clock
from tests.helpers import Person, returned_dossier, sample_dossier

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PUBLIC_URL = "https://sipas.example.vn"
NOW = datetime(2027, 1, 15, 10, 0, tzinfo=HANOI)  # the last complete quarter is 2026-Q4
INSUFFICIENT = "chưa đủ dữ liệu"
NO_DATA = "chưa có dữ liệu"
FACTORS = {
    "TC": ["TC1", "TC2", "TC3", "TC4"],
    "TT": ["TT1", "TT2", "TT3", "TT4"],
    "CC": ["CC1", "CC2", "CC3", "CC4", "CC5"],
    "KQ": ["KQ1", "KQ2", "KQ3"],
    "PA": ["PA1", "PA2", "PA3"],
}
SERVICE_ITEMS = [code for codes in FACTORS.values() for code in codes]
LEVELS = {"1": "Rất không hài lòng", "2": "Không hài lòng", "3": "Bình thường", "4": "Hài lòng", "5": "Rất hài lòng"}
OFFICER = "Trần Thị Bình"  # the handling officer of every sample dossier: never public

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]


def day(year: int, month: int, day_: int, hour: int = 9) -> datetime:
    return datetime(year, month, day_, hour, tzinfo=HANOI)


def items(value: str, *, without_pa: bool = False, **overrides: str) -> dict[str, str]:
    codes = [c for c in SERVICE_ITEMS if not (without_pa and c.startswith("PA"))]
    return {code: overrides.get(code, value) for code in codes}


@dataclass(frozen=True)
class Respondent:
    """A citizen of the fixture: their dossier, their answers and what they wrote."""

    code: str
    name: str
    phone: str
    field: str
    when: datetime
    ratings: dict[str, str]
    comment: str | None = None
    answered: bool = True  # False: offered the survey, never started it
    unit: str = "P8"


Q4_RESPONDENTS = [
    # answers through the real citizen handler, button by button, comment typed
    Respondent(
        "P8-261116-0001",
        "Nguyễn Văn An",
        "0912 345 678",
        "Hộ tịch",
        day(2026, 11, 18, 10),
        items("5"),
        "Chị Phạm Thu Hà ở quầy số 2 hướng dẫn rất tận tình, cảm ơn chị. Gọi tôi: 0912 345 678",
    ),
    Respondent(
        "P8-261106-0002",
        "Lê Thị Mai",
        "0903 111 222",
        "Hộ tịch",
        day(2026, 11, 6),
        items("4"),
        "Anh Hoàng Quốc Việt giải thích chưa rõ, nhờ liên hệ lại số 0903111222",
    ),
    Respondent(
        "P8-261106-0003",
        "Võ Minh Tuấn",
        "0987 654 321",
        "Hộ tịch",
        day(2026, 11, 6),
        items("3", PA1="2", PA2="2", PA3="2"),
    ),
    Respondent(
        "P8-261106-0004", "Đặng Ngọc Lan", "0934 222 333", "Hộ tịch", day(2026, 11, 6), items("5", without_pa=True)
    ),
    Respondent(
        "P8-261106-0005",
        "Bùi Thanh Sơn",
        "0977 888 999",
        "Hộ tịch",
        day(2026, 12, 3),
        items("4", without_pa=True, TC1="2"),
    ),
    Respondent(
        "P8-261106-0006", "Phan Văn Hùng", "0945 666 777", "Đất đai", day(2026, 12, 3), items("2", without_pa=True)
    ),
    Respondent("P8-261106-0007", "Trịnh Thị Thu", "0966 555 444", "Hộ tịch", day(2026, 12, 3), {}, answered=False),
]
Q3_RESPONDENTS = [
    Respondent(f"P8-260812-000{i}", f"Ngô Văn Khải {i}", f"0911 000 00{i}", "Hộ tịch", day(2026, 8, 12), items("4"))
    for i in range(1, 6)
]
OTHER_APPLICANT = ("Lý Văn Tâm", "0923 456 789")  # of the dossiers with no survey
P9_RESPONDENT = Respondent("P9-1", "Mai Văn Lộc", "0988 123 456", "Hộ tịch", day(2026, 11, 6), items("1"), unit="P9")
NAMES = [r.name for r in [*Q4_RESPONDENTS, *Q3_RESPONDENTS, P9_RESPONDENT]] + [
    OFFICER,
    OTHER_APPLICANT[0],
    "Phạm Thu Hà",
    "Hoàng Quốc Việt",
    "Ngô Văn Khải",
]
PHONES = [r.phone for r in [*Q4_RESPONDENTS, *Q3_RESPONDENTS, P9_RESPONDENT]] + [OTHER_APPLICANT[1]]
PHONE_SHAPED = re.compile(r"(?:\+84[ .]?|\b0)\d{2,3}[ .]?\d{3}[ .]?\d{3,4}\b")
COMMENTS = [r.comment for r in Q4_RESPONDENTS if r.comment]


@dataclass
class Fixture:
    """What the page must show, computed by hand from the fixture's answers (docs/METHOD.md, the index method)."""

    q4: list[Respondent] = field(default_factory=lambda: Q4_RESPONDENTS)
    q3: list[Respondent] = field(default_factory=lambda: Q3_RESPONDENTS)


async def _fast_respondent(services: Services, person: Respondent) -> None:
    """A returned dossier whose citizen answered on ``when`` (answers written as the survey engine writes them)."""
    handler = DossierHandler(services)
    await handler.upsert(
        sample_dossier(
            code=person.code,
            unit=person.unit,
            name=person.name,
            phone=person.phone,
            field=person.field,
            received_at=person.when - timedelta(days=4),
            due_at=person.when + timedelta(days=3),
        )
    )
    await handler.add_event(person.code, "returned", person.when)
    async with services.uow() as uow:
        dossier = await uow.dossiers.get_by_code(person.code)
        assert dossier is not None
        invitation = await uow.invitations.for_dossier(dossier.id)
        assert invitation is not None
        if not person.answered:
            await uow.invitations.update(invitation.id, status="sent", sent_at=person.when, delivered_at=person.when)
            await uow.commit()
            return
        await uow.invitations.update(
            invitation.id,
            status="completed",
            sent_at=person.when,
            delivered_at=person.when,
            started_at=person.when,
            completed_at=person.when,
        )
        for code, value in person.ratings.items():
            await uow.answers.upsert(invitation, dossier.field_id, code, value, None, person.when)
        if person.comment:
            await uow.answers.upsert(invitation, dossier.field_id, "YK", None, person.comment, person.when)
        await uow.commit()


async def _chatting_respondent(services: Services, clock: Clock, person: Respondent) -> None:
    """A citizen who links from the receipt and answers every service item, then types a comment."""
    clock.now = person.when
    data = sample_dossier(
        code=person.code,
        name=person.name,
        phone=person.phone,
        field=person.field,
        received_at=person.when - timedelta(days=6),
        due_at=person.when + timedelta(days=2),
    )
    token = await returned_dossier(services, data, person.when - timedelta(hours=2))
    chat = Person(services, "chat-an")
    await chat.link(token)
    await chat.press_label("Bắt đầu khảo sát")
    for code in SERVICE_ITEMS:
        await chat.press_label(LEVELS[person.ratings[code]])
    while "Ý kiến khác" not in chat.last.text:
        await chat.press_label("Bỏ qua")
    assert person.comment is not None
    (thanks,) = await chat.type(person.comment)
    assert thanks.text.startswith("Trân trọng cảm ơn")


async def _plain_dossier(
    services: Services, code: str, received: datetime, due: datetime, finished: datetime | None = None
) -> None:
    handler = DossierHandler(services)
    name, phone = OTHER_APPLICANT
    await handler.upsert(sample_dossier(code=code, name=name, phone=phone, received_at=received, due_at=due))
    if finished is not None:
        await handler.add_event(code, "result_ready", finished)


async def build_quarters(app: App, clock: Clock) -> Fixture:
    """Phường 8 with quarters III and IV of 2026 built through the real handlers; the clock left at NOW."""
    services = app.services
    await app.units.add("Q3", "Quận 3")
    await app.units.add("P8", "Phường 8", parent="Q3")
    await app.units.add("P9", "Phường 9", parent="Q3")
    await _chatting_respondent(services, clock, Q4_RESPONDENTS[0])
    clock.now = NOW  # what follows is history: nothing is dated in the future
    for person in Q4_RESPONDENTS[1:] + Q3_RESPONDENTS:
        await _fast_respondent(services, person)
    await _plain_dossier(services, "P8-D1", day(2026, 10, 5), day(2026, 10, 12), day(2026, 10, 9))  # on time
    await _plain_dossier(services, "P8-D2", day(2026, 12, 1), day(2026, 12, 4), day(2026, 12, 10))  # late
    await _plain_dossier(services, "P8-D3", day(2026, 12, 20), day(2026, 12, 28))  # open, overdue
    await _plain_dossier(services, "P8-D4", day(2026, 9, 1), day(2026, 9, 4), day(2026, 9, 8))  # Q3, late
    # another unit's answers never count in Phường 8
    await _fast_respondent(services, P9_RESPONDENT)
    clock.now = NOW
    return Fixture()


# --- the index method by hand (docs/METHOD.md, the index method), independent of survey_forms.scoring


@dataclass(frozen=True)
class Hand:
    """A figure computed by hand: the exact index (None when nothing was answered) and n."""

    index: Fraction | None
    n: int
    hidden: bool = False  # the overall while a factor is suppressed

    @property
    def published(self) -> float | None:
        """What the page must show: suppressed below 5 answers, else rounded once, half-up, to one decimal."""
        if self.index is None or self.n < 5 or self.hidden:
            return None
        exact = Decimal(self.index.numerator) / Decimal(self.index.denominator)
        return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def hand_figures(people: Iterable[Respondent]) -> tuple[Hand, dict[str, Hand]]:
    """The overall index and each factor's, from the respondents' answers."""
    answered = [p for p in people if p.answered]
    factors: dict[str, Hand] = {}
    for factor, codes in FACTORS.items():
        criteria = []
        for code in codes:
            values = [int(p.ratings[code]) for p in answered if code in p.ratings]
            if values:
                criteria.append(Hand(Fraction(sum(v >= 4 for v in values), len(values)) * 100, len(values)))
        index = (
            sum((c.index for c in criteria if c.index is not None), Fraction(0)) / len(criteria) if criteria else None
        )
        factors[factor] = Hand(index, max((c.n for c in criteria), default=0))
    with_index = [f for f in factors.values() if f.index is not None]
    overall = Hand(
        sum((f.index for f in with_index if f.index is not None), Fraction(0)) / len(with_index)
        if with_index
        else None,
        max((f.n for f in with_index), default=0),
        hidden=any(f.published is None for f in factors.values()),
    )
    return overall, factors


def pct(value: float | None) -> str:
    return INSUFFICIENT if value is None else f"{value:.1f}".replace(".", ",") + "%"


def count_pct(value: float | None) -> str:
    """A rate over counts: "chưa có dữ liệu" when there was nothing to count."""
    return NO_DATA if value is None else pct(value)


def interval(ci95: list[float] | None) -> str:
    return "—" if ci95 is None else f"{pct(ci95[0]).removesuffix('%')}–{pct(ci95[1])}"


# --- reading the page back


class FigureReader(HTMLParser):
    """Collects the text of every element that carries ``data-figure``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, str] = {}
        self.duplicates: list[str] = []
        self._open: list[tuple[str, int, list[str]]] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "meta", "link", "img", "input", "hr"):
            return
        self._depth += 1
        name = dict(attrs).get("data-figure")
        if name is not None:
            self._open.append((name, self._depth, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "meta", "link", "img", "input", "hr"):
            return
        if self._open and self._open[-1][1] == self._depth:
            name, _, parts = self._open.pop()
            if name in self.figures:
                self.duplicates.append(name)
            self.figures[name] = " ".join("".join(parts).split())
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._open:
            parts.append(data)


def figures_of(html: str) -> dict[str, str]:
    reader = FigureReader()
    reader.feed(html)
    reader.close()
    assert not reader.duplicates, reader.duplicates
    return reader.figures


def figures_from_json(body: dict[str, Any]) -> dict[str, str]:
    """The ``data-figure`` values the page must carry, derived from its JSON."""
    expected: dict[str, str] = {
        "overall": body["satisfaction"]["text"],
        "overall-n": str(body["satisfaction"]["n"]),
        "overall-ci95": interval(body["satisfaction"]["ci95"]),
        "method": body["method"],
        "scope": f"Phạm vi: {body['scope']}",
        "method-doc": f"Cách tính: {body['method_doc']}",
    }
    for factor in body["factors"]:
        expected[f"factor-{factor['code']}"] = factor["text"]
        expected[f"factor-{factor['code']}-n"] = str(factor["n"])
        expected[f"factor-{factor['code']}-ci95"] = interval(factor["ci95"])
    for name, value in body["dossiers"].items():
        expected[name] = count_pct(value) if name == "on_time_rate" else str(value)
    for name, value in body["surveys"].items():
        expected[name] = count_pct(value) if name == "response_rate" else str(value)
    for number, row in enumerate(body["by_field"], start=1):
        expected[f"field-{number}-name"] = row["field"]
        expected[f"field-{number}"] = row["text"]
        expected[f"field-{number}-n"] = str(row["n"])
    if body["provisional_until"] is not None:
        moment = datetime.fromisoformat(body["provisional_until"])
        expected["provisional"] = (
            f"{body['label']} chưa kết thúc: số liệu tạm tính đến {moment:%H:%M} ngày {moment:%d/%m/%Y}."
        )
    if body["first_quarter"] is None or body["quarter"] < body["first_quarter"]:
        first = body["first_quarter"]
        expected["no-data"] = (
            "Đơn vị chưa có hồ sơ nào trên hệ thống: chưa có dữ liệu."
            if first is None
            else f"Đơn vị chưa có hồ sơ nào trong {body['label']}: hồ sơ đầu tiên được tiếp nhận trong "
            f"{Quarter.parse(first).label}."
        )
    if body["complaints"] is not None:
        for name in ("received", "answered", "closed"):
            expected[f"complaints-{name}"] = str(body["complaints"][name])
        expected["complaints-handled_rate"] = body["complaints"]["handled_text"]
        rate = body["complaints"]["handled_rate"]
        expected["complaints-verdict"] = NO_DATA if rate is None else "Đạt" if rate >= 100 else "Chưa đạt"
    for number, row in enumerate(body["fields"], start=1):
        prefix = f"field-target-{number}"
        expected[f"{prefix}-name"] = row["field"]
        expected[f"{prefix}-on_time_rate"] = row["on_time_text"]
        expected[f"{prefix}-on_time"] = str(row["on_time"])
        expected[f"{prefix}-resolved"] = str(row["resolved"])
        expected[f"{prefix}-on_time-target"] = pct(row["on_time_target"])
        expected[f"{prefix}-satisfaction"] = row["satisfaction"]["text"]
        expected[f"{prefix}-satisfaction-n"] = str(row["satisfaction"]["n"])
        expected[f"{prefix}-satisfaction-target"] = pct(row["satisfaction_target"])
        for which in ("on_time", "satisfaction"):
            met = row[f"{which}_met"]
            none = NO_DATA if which == "on_time" or row["satisfaction"]["n"] == 0 else INSUFFICIENT
            expected[f"{prefix}-{which}-verdict"] = none if met is None else "Đạt" if met else "Chưa đạt"
    current = {
        "quarter": body["quarter"],
        "satisfaction": body["satisfaction"],
        "factors": body["factors"],
        "on_time_rate": body["dossiers"]["on_time_rate"],
        "resolved": body["dossiers"]["resolved"],
    }
    for quarter in [*body["previous"], current]:
        prefix = f"q-{quarter['quarter']}"
        expected[f"{prefix}-overall"] = quarter["satisfaction"]["text"]
        expected[f"{prefix}-overall-n"] = str(quarter["satisfaction"]["n"])
        for factor in quarter["factors"]:
            expected[f"{prefix}-factor-{factor['code']}"] = factor["text"]
            expected[f"{prefix}-factor-{factor['code']}-n"] = str(factor["n"])
        expected[f"{prefix}-on_time_rate"] = count_pct(quarter["on_time_rate"])
        expected[f"{prefix}-resolved"] = str(quarter["resolved"])
    return expected


def assert_nothing_personal(*bodies: str) -> None:
    """No name, phone number, officer or comment of the fixture, in any spelling of the phone."""
    for body in bodies:
        text = unicodedata.normalize("NFC", body)
        for name in NAMES:
            assert name not in text, name
        assert not PHONE_SHAPED.search(text), PHONE_SHAPED.search(text)
        for phone in PHONES:
            bare = re.sub(r"\D", "", phone)
            assert phone not in text, phone
            assert bare not in text, phone
            assert bare[1:] not in text, phone  # +84 912…
        flat = " ".join(text.split())
        for comment in COMMENTS:
            words = comment.split()
            for start in range(len(words) - 3):  # no four words of a comment in a row
                window = " ".join(words[start : start + 4])
                assert window not in flat, window


# --- fixtures


@pytest.fixture
async def sipas(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    app = App(load_settings(database_url=backend.url, public_url=PUBLIC_URL), clock=clock)
    await app.start()
    yield app
    await app.close()


@pytest.fixture
async def quarters(sipas: App, clock: Clock) -> Fixture:
    return await build_quarters(sipas, clock)


@pytest.fixture
async def unit(sipas: App, clock: Clock) -> None:
    """Only the unit, on the fixture's day: enough for the refusals."""
    await sipas.units.add("P8", "Phường 8")
    clock.now = NOW


@pytest.fixture
async def client(sipas: App, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(build_web_app(sipas, [setup_api, setup_pages]))


@dataclass
class Page:
    status: int
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.text)


async def get(client: Client, path: str) -> Page:
    async with client.get(path) as response:
        return Page(response.status, await response.text(), dict(response.headers))


async def both(client: Client, unit: str = "P8", query: str = "") -> tuple[Page, Page]:
    html = await get(client, f"/cong-khai/{unit}{query}")
    body = await get(client, f"/cong-khai/{unit}.json{query}")
    return html, body


# --- the figures


async def test_the_page_and_its_json_show_the_hand_computed_figures(client: Client, quarters: Fixture) -> None:
    html, data = await both(client)
    assert (html.status, data.status) == (200, 200), (html.text, data.text)
    body = data.json()
    assert body["quarter"] == "2026-Q4"  # the last complete quarter before 15/01/2027
    assert (body["from"], body["to"], body["complete"]) == ("2026-10-01", "2026-12-31", True)
    assert body["unit"] == {"code": "P8", "name": "Phường 8"}
    overall, factors = hand_figures(quarters.q4)
    # TC1 answered 5, 4, 3, 5, 2, 2 → 50%; the other items 5, 4, 3, 5, 4, 2 → 66.67%; PA by three people only
    assert overall.index == (Fraction(125, 2) + 4 * Fraction(200, 3)) / 5
    assert (factors["TC"].index, factors["PA"].n) == (Fraction(125, 2), 3)
    # PA rests on three answers: the overall is hidden with it (else PA = 5 × overall − the other four)
    assert body["satisfaction"]["index"] is overall.published is None
    assert body["satisfaction"]["n"] == overall.n == 6
    assert body["satisfaction"]["text"] == INSUFFICIENT
    assert body["satisfaction"]["ci95"] is None
    published = {f["code"]: (f["index"], f["n"], f["suppressed"]) for f in body["factors"]}
    assert published == {code: (hand.published, hand.n, hand.published is None) for code, hand in factors.items()}
    assert published["TC"] == (62.5, 6, False)
    assert published["TT"] == (66.7, 6, False)
    assert body["factors"][0]["name"] == "I. Tiếp cận dịch vụ"
    # seven respondents' dossiers + D1 (on time), D2 (late), D3 (open); seven offered, six answered
    assert body["dossiers"] == {"received": 10, "resolved": 9, "on_time": 8, "late": 1, "on_time_rate": 88.9}
    assert body["surveys"] == {"offered": 7, "completed": 6, "response_rate": 85.7, "respondents": 6}
    field_overall, _ = hand_figures(p for p in quarters.q4 if p.field == "Hộ tịch")
    assert body["by_field"] == [  # in Vietnamese alphabetical order: Đ after D, before H
        {"field": "Đất đai", "index": None, "text": INSUFFICIENT, "n": 1, "suppressed": True},
        {"field": "Hộ tịch", "index": None, "text": INSUFFICIENT, "n": 5, "suppressed": True},
    ]
    assert field_overall.published is None  # PA in Hộ tịch rests on fewer than five answers too
    shown = figures_of(html.text)
    assert shown == figures_from_json(body)
    assert shown["overall"] == INSUFFICIENT
    assert shown["factor-TC"] == "62,5%"
    assert shown["on_time_rate"] == "88,9%"
    assert shown["received"] == "10"


async def test_the_figures_are_the_reporters(client: Client, quarters: Fixture, sipas: App) -> None:
    report = await sipas.reporter.satisfaction("P8", Period(date(2026, 10, 1), date(2026, 12, 31)))
    body = (await get(client, "/cong-khai/P8.json?quy=2026-Q4")).json()
    # the report's figures as they are: rounded once there, never again here
    assert body["satisfaction"]["ci95"] == report["satisfaction"]["ci95"]
    assert body["satisfaction"]["index"] == report["satisfaction"]["index"]
    tc = next(f for f in report["factors"] if f["code"] == "TC")
    assert body["factors"][0]["index"] == tc["index"]
    assert body["factors"][0]["ci95"] == tc["ci95"]
    assert body["form"]["id"] == report["form"] == "sipas-2022"
    assert [f["code"] for f in body["factors"]] == [f["code"] for f in report["factors"]]


async def test_a_cell_under_five_answers_reads_chua_du_du_lieu(client: Client, quarters: Fixture) -> None:
    html, data = await both(client)
    body = data.json()
    pa = next(f for f in body["factors"] if f["code"] == "PA")
    assert pa == {
        "code": "PA",
        "name": "V. Cơ quan nhà nước tiếp nhận, xử lý phản ánh, kiến nghị của người dân",
        "index": None,
        "text": INSUFFICIENT,
        "n": 3,
        "ci95": None,
        "suppressed": True,
    }
    shown = figures_of(html.text)
    assert shown["factor-PA"] == INSUFFICIENT
    assert shown["factor-PA-n"] == "3"
    assert shown["field-2"] == INSUFFICIENT
    assert shown["q-2026-Q4-factor-PA"] == INSUFFICIENT
    row = re.search(r"<tr>\s*<th scope=\"row\">V\. Cơ quan.*?</tr>", html.text, re.DOTALL)
    assert row is not None
    assert not re.search(r"\d,\d%", row[0]), row[0]  # neither the index nor its interval


async def test_the_quarters_before_stand_beside_it_from_the_units_first_dossier(
    client: Client, quarters: Fixture
) -> None:
    html, data = await both(client)
    body = data.json()
    # Phường 8's first dossier came in August 2026: no quarter before 2026-Q3 is compared or offered
    assert body["first_quarter"] == "2026-Q3"
    assert [q["quarter"] for q in body["previous"]] == ["2026-Q3"]
    (q3,) = body["previous"]
    overall, factors = hand_figures(quarters.q3)
    assert overall.published == 100.0
    assert {code: hand.published for code, hand in factors.items()} == dict.fromkeys(FACTORS, 100.0)
    assert q3["satisfaction"] == {"index": 100.0, "text": "100,0%", "n": 5, "suppressed": False}
    assert [(f["code"], f["index"], f["n"]) for f in q3["factors"]] == [(c, 100.0, 5) for c in FACTORS]
    assert (q3["on_time_rate"], q3["resolved"]) == (83.3, 6)  # five respondents on time, D4 late
    assert (q3["from"], q3["to"], q3["label"]) == ("2026-07-01", "2026-09-30", "Quý III/2026")
    shown = figures_of(html.text)
    assert shown["q-2026-Q3-overall"] == "100,0%"
    assert shown["q-2026-Q3-on_time_rate"] == "83,3%"
    assert "q-2026-Q2-on_time_rate" not in shown
    assert shown["q-2026-Q4-overall"] == shown["overall"]
    labels = re.findall(r"<th scope=\"col\" class=\"num\">(Quý [IV]+/\d{4})", html.text)
    assert labels == ["Quý III/2026", "Quý IV/2026"]
    assert "Quý II/2026" not in html.text


async def test_a_chosen_quarter(client: Client, quarters: Fixture) -> None:
    html, data = await both(client, query="?quy=2026-Q3")
    body = data.json()
    assert (body["quarter"], body["satisfaction"]["index"]) == ("2026-Q3", 100.0)
    assert body["previous"] == []  # the unit's first quarter: none before it
    assert body["dossiers"] == {"received": 6, "resolved": 6, "on_time": 5, "late": 1, "on_time_rate": 83.3}
    assert body["page"] == f"{PUBLIC_URL}/cong-khai/P8?quy=2026-Q3"
    assert figures_of(html.text) == figures_from_json(body)
    assert "Quý III/2026 — Phường 8" in html.text
    lower = await get(client, "/cong-khai/P8.json?quy=2026-q3")
    assert lower.json()["quarter"] == "2026-Q3"


async def test_the_running_quarter_is_shown_to_date(client: Client, quarters: Fixture) -> None:
    html, data = await both(client, query="?quy=2027-Q1")
    body = data.json()
    assert (body["quarter"], body["from"], body["to"], body["complete"]) == (
        "2027-Q1",
        "2027-01-01",
        "2027-01-15",
        False,
    )
    # the real moment the figures were computed, not the end of a day still running
    assert "Quý I/2027 chưa kết thúc: số liệu tạm tính đến 10:00 ngày 15/01/2027." in html.text
    assert body["provisional_until"] == "2027-01-15T10:00:00+07:00"
    assert figures_of(html.text) == figures_from_json(body)


async def test_the_page_reads_as_a_vietnamese_document(client: Client, quarters: Fixture) -> None:
    html, _ = await both(client)
    text = html.text
    assert text.startswith("<!DOCTYPE html>")
    assert '<html lang="vi">' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<h1>Kết quả khảo sát sự hài lòng của người dân, tổ chức — Quý IV/2026 — Phường 8</h1>" in text
    assert "Từ ngày 01/10/2026 đến ngày 31/12/2026" in text
    assert "Số liệu lập lúc 15/01/2027 10:00" in text
    assert text.count("<caption>") == 6  # satisfaction, dossiers, fields, fields against targets, complaints, quarters
    assert "@media print" in text
    assert "size: A4" in text
    assert unicodedata.normalize("NFC", text) == text
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    # self-contained: no script, no stylesheet, font, image or frame from anywhere
    assert "<script" not in text.lower()
    assert not re.search(r"\ssrc=", text)
    assert not re.search(r"@import|url\(", text)
    assert not re.search(r"href=\"(https?:)?//", text)
    assert '<link rel="icon" href="data:,">' in text  # no request for /favicon.ico either


async def test_the_method_in_one_paragraph(client: Client, quarters: Fixture) -> None:
    html, data = await both(client)
    method = data.json()["method"]
    for words in (
        "mức 4–5",
        "từ mức 1 đến mức 5",
        "trung bình cộng chỉ số các tiêu chí có câu trả lời",
        "trung bình cộng chỉ số của năm yếu tố",
        "khoảng tin cậy 95%",
        "dưới 5 câu trả lời được ghi “chưa đủ dữ liệu”",
        "chưa có dữ liệu",
        "Phiếu khảo sát: Phiếu khảo sát sự hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành "
        "chính nhà nước, theo mẫu của Bộ Nội vụ.",
    ):
        assert words in method, words
    assert "sipas-2022" not in method  # the form's internal id is not for people
    assert "sipas-2022" not in html.text
    assert "\n" not in method
    assert figures_of(html.text)["method"] == method


async def test_no_name_phone_officer_or_comment_is_published(client: Client, quarters: Fixture, sipas: App) -> None:
    async with sipas.services.uow(read_only=True) as uow:  # the fixture really holds them
        dossier = await uow.dossiers.get_by_code(Q4_RESPONDENTS[0].code)
        assert dossier is not None
        invitation = await uow.invitations.for_dossier(dossier.id)
        assert invitation is not None
        comment = (await uow.answers.for_invitation(invitation.id))["YK"]
    assert comment.text == Q4_RESPONDENTS[0].comment
    bodies: list[str] = []
    for query in ("", "?quy=2026-Q3", "?quy=2027-Q1"):
        html, data = await both(client, query=query)
        bodies += [html.text, data.text]
    assert_nothing_personal(*bodies)
    for leak in ("gọi 0912.345.678", "+84 903111222", "Ông Võ Minh Tuấn", "cảm ơn chị. Gọi tôi"):
        with pytest.raises(AssertionError):
            assert_nothing_personal(bodies[0] + leak)
    assert "cán bộ" not in figures_of(bodies[0]).get("factor-CC", "")


# --- refusals and headers


async def test_an_unknown_unit_is_a_404_in_the_pages_style(client: Client, unit: None) -> None:
    for unit in ("P77", "x" * 40, "%00", "P8%20", "P8.", "Phường"):
        html, data = await both(client, unit=unit)
        assert html.status == 404, unit
        assert '<html lang="vi">' in html.text
        assert "Không tìm thấy đơn vị này." in html.text
        assert data.status == 404, unit
        assert data.json()["error"]["code"] == "not_found"
        assert set(data.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    "quy", ["2026Q4", "2026-Q5", "2026-Q0", "Q4-2026", "26-Q4", "abc", "1999-Q4", "2026-Q4x", "%00", "２０２６-Q4"]
)
async def test_a_malformed_quarter_is_a_400(client: Client, unit: None, quy: str) -> None:
    html, data = await both(client, query=f"?quy={quy}")
    assert html.status == 400
    assert "Quý không hợp lệ" in html.text
    assert '<html lang="vi">' in html.text
    assert data.status == 400
    assert data.json()["error"]["code"] == "invalid_quarter"
    assert set(data.json()["error"]) == {"code", "message"}


async def test_a_future_quarter_is_a_400(client: Client, unit: None) -> None:
    for quy in ("2027-Q2", "2030-Q1", "9999-Q4"):
        html, data = await both(client, query=f"?quy={quy}")
        assert (html.status, data.status) == (400, 400)
        assert "chưa bắt đầu" in html.text
        assert data.json()["error"]["code"] == "future_quarter"


async def test_odd_queries(client: Client, unit: None) -> None:
    twice = await both(client, query="?quy=2026-Q3&quy=2026-Q4")
    assert [p.status for p in twice] == [400, 400]
    empty = await get(client, "/cong-khai/P8.json?quy=")
    assert empty.json()["quarter"] == "2026-Q4"
    other = await get(client, "/cong-khai/P8.json?utm_source=zalo&quy=2026-Q3")
    assert other.json()["quarter"] == "2026-Q3"
    head = await client.head("/cong-khai/P8")
    assert head.status == 200


async def test_the_page_escapes_what_it_is_given(client: Client, sipas: App, clock: Clock) -> None:
    await sipas.units.add("X1", 'Phường <script>alert("x")</script> & Co')
    clock.now = NOW
    html, data = await both(client, unit="X1")
    assert html.status == 200
    assert "<script>" not in html.text
    assert "Phường &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html.text
    assert data.json()["unit"]["name"] == 'Phường <script>alert("x")</script> & Co'


async def test_cache_and_cors_headers(client: Client, unit: None) -> None:
    html, data = await both(client)
    assert html.headers["Cache-Control"] == "public, max-age=300"
    assert data.headers["Cache-Control"] == "public, max-age=300"
    assert data.headers["Access-Control-Allow-Origin"] == "*"
    assert data.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Access-Control-Allow-Origin" not in html.headers
    missing = await get(client, "/cong-khai/P77.json")
    assert missing.headers["Access-Control-Allow-Origin"] == "*"


# --- quarters


def test_quarters() -> None:
    q = Quarter.parse("2026-Q4")
    assert (q.start, q.end, q.label, str(q)) == (date(2026, 10, 1), date(2026, 12, 31), "Quý IV/2026", "2026-Q4")
    assert Quarter.parse("2026-Q1").end == date(2026, 3, 31)
    assert Quarter.parse("2024-Q1").previous() == Quarter(2023, 4)
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter.containing(date(2026, 8, 31)) == Quarter(2026, 3)
    assert Quarter(2026, 2).end == date(2026, 6, 30)
    with pytest.raises(ValueError, match="YYYY-Qn"):
        Quarter.parse("2026-Q5")
