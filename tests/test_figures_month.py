"""Issue 14, "Done when": one fixture month gives the same figures in every output, and they equal a hand count.

November 2026 in Phường 8 (P8) and the unit below it, Khu phố 1 (KP1): three fields, late dossiers apologised for
in time, late and not at all, an apology for an error, online and counter dossiers, supplements asked for twice,
complaints in every state, one factor (PA) with fewer than 5 answers, one survey unfinished and one offered in
October. Each figure is counted below from the fixture's own lists (plain Python, Fraction and half-up Decimal,
never the product), then read from the report JSON, the month's digest, the workbook read back with openpyxl and
the public page's JSON. Each output covers the unit alone unless the units below it are asked for.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.app import App
from bot.config import load_settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app
from handlers.leader.reporting import Period, render_text
from handlers.staff.complaints import Feedbacks
from tests.conftest import Clock
from tests.helpers import Person, sample_dossier
from tests.test_reporting import all_items

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
BÌNH, CƯỜNG, HÀ = "Trần Thị Bình", "Lê Văn Cường", "Phạm Thu Hà"
HT, CT, DD = "Hộ tịch", "Chứng thực", "Đất đai"
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
QUARTER = Period(date(2026, 10, 1), date(2026, 12, 1))  # the page's Q4 to date, on 01/12
NONE = "chưa đủ dữ liệu"


def local(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=HANOI)


@dataclass(frozen=True)
class Dossier:
    code: str
    unit: str
    field: str
    online: bool
    received: datetime
    due: datetime
    finished: datetime | None
    handler: str = BÌNH
    receiver: str | None = None  # the one-stop-shop officer who took the dossier in


@dataclass(frozen=True)
class Survey:
    code: str
    unit: str
    field: str
    ratings: dict[str, str]
    offered: datetime  # the dossier is returned and the survey sent then
    answered: datetime
    completed: bool = True

    @property
    def dossier(self) -> Dossier:  # received 4 days before, due 3 days after: returned on time, at the counter
        return Dossier(self.code, self.unit, self.field, False, self.offered - timedelta(days=4),
                       self.offered + timedelta(days=3), self.offered, receiver=HÀ)  # fmt: skip


NO_PA = {code: value for code, value in all_items("3").items() if not code.startswith("PA")}
SURVEYS = [
    Survey("S0", "P8", HT, all_items("2"), local(10, 20), local(10, 20)),  # October: outside the month
    Survey("S1", "P8", HT, all_items("5"), local(11, 10), local(11, 10)),
    Survey("S2", "P8", HT, all_items("4"), local(11, 11), local(11, 11)),
    Survey("S3", "P8", HT, all_items("4", TC1="2"), local(11, 12), local(11, 12)),
    Survey("S4", "P8", CT, NO_PA, local(11, 13), local(11, 13)),  # PA left unanswered
    Survey("S5", "P8", CT, {**{c: "5" for c in NO_PA}, "CC1": "1"}, local(11, 13), local(11, 13)),
    Survey("S6", "P8", DD, {c: "4" for c in ("TC1", "TC2", "TC3", "TC4")}, local(11, 14), local(11, 14), False),
    Survey("S7", "P8", DD, all_items("5", KQ2="3"), local(10, 30), local(11, 2)),  # offered in October
    Survey("K1", "KP1", HT, all_items("5"), local(11, 16), local(11, 16)),  # the unit below
]
DOSSIERS = [
    Dossier("P8-HT-1", "P8", HT, False, local(11, 2), local(11, 6, 17), local(11, 5)),  # on time
    Dossier("P8-HT-2", "P8", HT, True, local(11, 3), local(11, 9, 17), local(11, 12), CƯỜNG),  # late, apology in time
    Dossier("P8-DD-1", "P8", DD, True, local(11, 2), local(11, 10, 17), local(11, 16)),  # late, apology late
    Dossier("P8-DD-2", "P8", DD, False, local(11, 4), local(11, 13, 17), local(11, 18), CƯỜNG),  # late, none
    Dossier("P8-DD-3", "P8", DD, True, local(11, 5), local(11, 20, 17), None),  # overdue, none
    Dossier("P8-CT-1", "P8", CT, True, local(11, 2), local(11, 4, 17), local(11, 5)),  # late, error apology only
    Dossier("P8-CT-2", "P8", CT, False, local(11, 20), local(12, 4, 17), None),  # open, not yet due
    Dossier("P8-DD-4", "P8", DD, False, local(10, 25), local(11, 3, 17), local(11, 2)),  # received in October
    Dossier("P8-HT-0", "P8", HT, False, local(10, 10), local(10, 15, 17), local(10, 20)),  # October, late, none
    Dossier("KP1-1", "KP1", HT, True, local(11, 3), local(11, 6, 17), local(11, 9)),  # the unit below, late
    *(s.dossier for s in SURVEYS),
]
# supplements (requested, received): a second request in the month makes a dossier "asked again"
SUPPLEMENTS = {
    "P8-DD-1": [(local(11, 3), local(11, 4)), (local(11, 5), local(11, 6))],
    "P8-HT-1": [(local(11, 3), local(11, 4))],
    "P8-DD-4": [(local(10, 27), local(10, 28)), (local(11, 1, 8), local(11, 1, 10))],
}
# apologies: code, kind, issued, new date; a delay one is in time up to the working day before the due date
APOLOGIES = [
    ("P8-HT-2", "delay", local(11, 5, 10), date(2026, 11, 12)),  # due Mon 09/11: in time up to Fri 06/11
    ("P8-DD-1", "delay", local(11, 10, 10), date(2026, 11, 16)),  # due Tue 10/11, issued that day: late
    ("P8-CT-1", "error", local(11, 20, 10), None),
]
# complaints: unit, dossier, received, answered, closed
COMPLAINTS = [
    ("P8", "P8-HT-0", local(10, 21), local(10, 22), None),
    ("P8", "P8-HT-1", local(11, 5), None, None),
    ("P8", "P8-HT-2", local(11, 6), local(11, 7), None),
    ("P8", "P8-DD-1", local(11, 7), local(11, 8), local(11, 9)),
    ("P8", "P8-DD-2", local(11, 8), None, local(11, 9)),
    ("KP1", "KP1-1", local(11, 10), None, None),
]


# --- the hand computation


def pct(part: Fraction | int, whole: int = 1) -> Decimal | None:
    """× 100, rounded once, half-up, to one decimal."""
    if not whole:
        return None
    exact = Fraction(part) * 100 / whole
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def text(value: Decimal | None) -> str:
    return NONE if value is None else f"{value}".replace(".", ",") + "%"


def in_time(due: datetime, issued: datetime) -> bool:
    last = due.date() - timedelta(days=1)
    while last.weekday() >= 5:  # no public holiday falls near these dates
        last -= timedelta(days=1)
    return issued.date() <= last


def score(surveys: list[Survey]) -> dict[str, Any]:
    """Criterion, factor and overall indexes of the answers of ``surveys`` (suppressed under 5 answers)."""
    criteria: dict[str, tuple[Fraction, int]] = {}
    for code in all_items("5"):
        values = [int(s.ratings[code]) for s in surveys if code in s.ratings]
        if values:
            criteria[code] = (Fraction(sum(v >= 4 for v in values), len(values)), len(values))
    factors: dict[str, tuple[Fraction, int]] = {}
    for factor in ("TC", "TT", "CC", "KQ", "PA"):
        mine = [v for c, v in criteria.items() if c.startswith(factor)]
        if mine:
            factors[factor] = (sum((i for i, _ in mine), Fraction(0)) / len(mine), max(n for _, n in mine))
    hidden = len(factors) < 5 or any(n < 5 for _, n in factors.values())
    overall_n = max((n for _, n in factors.values()), default=0)
    overall = None if hidden else pct(sum((i for i, _ in factors.values()), Fraction(0)) / 5)
    return {
        "criteria": {c: (None if n < 5 else pct(i), n) for c, (i, n) in criteria.items()},
        "factors": {f: (None if n < 5 else pct(i), n) for f, (i, n) in factors.items()},
        "overall": (overall, overall_n),
    }


def by_hand(units: set[str], period: Period, as_of: datetime) -> dict[str, Any]:
    """Every figure of ``units`` over ``period`` (local days), as docs/FIGURES.md defines it, from the lists above.

    ``as_of``: when the report is made (or the period's end, if earlier), for late and overdue dossiers.
    """
    start, end = (
        datetime.combine(period.start, datetime.min.time(), HANOI),
        datetime.combine(period.end + timedelta(days=1), datetime.min.time(), HANOI),
    )

    def within(at: datetime | None) -> bool:
        return at is not None and start <= at < end

    mine = [d for d in DOSSIERS if d.unit in units]
    resolved = [d for d in mine if within(d.finished)]
    on_time = [d for d in resolved if d.finished is not None and d.finished <= d.due]
    received = [d for d in mine if within(d.received)]
    online = [d for d in received if d.online]
    apologies = [a for a in APOLOGIES if within(a[2]) and any(d.code == a[0] for d in mine)]
    due_of = {d.code: d.due for d in DOSSIERS}
    delay_apologised = {a[0] for a in APOLOGIES if a[1] == "delay"}
    late_dossiers = [d for d in mine if within(d.due) and d.due < as_of and (d.finished is None or d.finished > d.due)]
    fields = sorted({d.field for d in resolved})
    complaints = [c for c in COMPLAINTS if c[0] in units and within(c[2])]
    closed = sum(c[4] is not None for c in complaints)
    answered = sum(c[3] is not None and c[4] is None for c in complaints)
    cohort = [s for s in SURVEYS if s.unit in units and within(s.offered)]
    answering = [s for s in SURVEYS if s.unit in units and within(s.answered)]
    return {
        "dossiers": {
            "received": len(received),
            "resolved": len(resolved),
            "on_time": len(on_time),
            "late": len(resolved) - len(on_time),
            "on_time_rate": pct(len(on_time), len(resolved)),
            "apologies": sum(a[1] == "delay" for a in apologies),
            "apologies_late": sum(a[1] == "delay" and not in_time(due_of[a[0]], a[2]) for a in apologies),
            "apologies_error": sum(a[1] == "error" for a in apologies),
            "late_without_apology": sum(d.code not in delay_apologised for d in late_dossiers),
            "overdue_open": sum(d.finished is None and d.due < as_of for d in mine),
            "received_online": len(online),
            "online_rate": pct(len(online), len(received)),
            "supplement_repeated": sum(
                any(within(requested) for requested, _ in asks[1:])
                for code, asks in SUPPLEMENTS.items()
                if any(d.code == code for d in mine)
            ),
        },
        "on_time_by_field": [
            (f, sum(d.field == f for d in resolved), sum(d.field == f for d in on_time)) for f in fields
        ],
        "complaints": {
            "received": len(complaints),
            "answered": answered,
            "closed": closed,
            "handled_rate": pct(answered + closed, len(complaints)),
        },
        "surveys": {
            "offered": len(cohort),
            "completed": sum(s.completed for s in cohort),
            "response_rate": pct(sum(s.completed for s in cohort), len(cohort)),
            "respondents": len(answering),
        },
        "score": score(answering),
        "by_field": {
            f: score([s for s in answering if s.field == f])["overall"] for f in sorted({s.field for s in answering})
        },
    }


# --- the month, through the product's own paths: the dossier API's handler, the apology API, chats, surveys


@dataclass
class Month:
    app: App
    client: Any
    reports_key: str


async def build_month(app: App, clock: Clock, client: Any) -> None:
    services = app.services
    await app.units.add("P8", "Phường 8")
    await app.units.add("KP1", "Khu phố 1", "P8")
    for d in DOSSIERS:
        data = sample_dossier(code=d.code, unit=d.unit, field=d.field, phone=None, received_at=d.received, due_at=d.due)
        await app.dossiers.upsert(dataclasses.replace(data, channel="truc_tuyen" if d.online else "truc_tiep",
                                                      handler=d.handler, receiver=d.receiver))  # fmt: skip
    apologies_key = await app.api_keys.create("apologies", ["apologies:write"], ["all"])
    officer = Person(services, "officer")
    await officer.type(f"/join {await app.roles.invite('staff', 'P8', BÌNH)}")
    complaint_ids: dict[str, int] = {}
    steps: list[tuple[datetime, str, Any]] = []
    steps += [(d.finished, "finish", d.code) for d in DOSSIERS if d.finished and d not in [s.dossier for s in SURVEYS]]
    for code, asks in SUPPLEMENTS.items():
        for requested, received in asks:
            steps += [(requested, "supplement_requested", code), (received, "supplement_received", code)]
    steps += [(a[2], "apology", a) for a in APOLOGIES] + [(s.offered, "survey", s) for s in SURVEYS]
    for c in COMPLAINTS:
        steps += [(c[2], "complaint", c)] + [(at, kind, c) for at, kind in ((c[3], "answer"), (c[4], "close")) if at]
    for at, kind, what in sorted(steps, key=lambda step: step[0]):
        clock.now = at.astimezone(UTC)
        if kind == "finish":
            await app.dossiers.add_event(what, "result_ready", at)
        elif kind.startswith("supplement"):
            await app.dossiers.add_event(what, kind, at)
        elif kind == "apology":  # POST /dossiers/{code}/apology, as the one-stop-shop software does
            code, apology_kind, _issued, new_date = what
            body = {"reason": "Chờ xác minh", "issued_by": BÌNH, "kind": apology_kind}
            body |= {"new_due_at": f"{new_date}"} if new_date else {}
            headers = {"Authorization": f"Bearer {apologies_key}"}
            async with client.post(f"/api/v1/dossiers/{code}/apology", json=body, headers=headers) as response:
                assert response.status == 201, await response.text()
                in_time_said = (await response.json())["apology"]["in_time"]
            assert in_time_said == (None if apology_kind == "error" else in_time(app_due(code), at))
        elif kind == "survey":
            await answer_survey(app, what)
        elif kind == "complaint":  # a complaint the citizen chose to send, with the dossier's code
            async with services.uow() as uow:
                dossier = await uow.dossiers.get_by_code(what[1])
                assert dossier is not None
                made = await Feedbacks(services).record(
                    uow, source="message", text="Chờ lâu quá", person_id=None, dossier=dossier,
                    unit_id=dossier.unit_id, invitation_id=None, now=at,
                )  # fmt: skip
                await uow.commit()
            complaint_ids[what[1]] = made.id
        elif kind == "answer":  # the officer answers it in the chat …
            await officer.press(f"f:{complaint_ids[what[1]]}:r")
            await officer.type("Đơn vị đã xử lý, xin cảm ơn Ông/Bà.")
        else:  # … or closes it
            await officer.press(f"f:{complaint_ids[what[1]]}:c")
    clock.now = local(12, 1, 7).astimezone(UTC)  # Tuesday 01/12/2026, 07:00 in Hà Nội


def app_due(code: str) -> datetime:
    return next(d.due for d in DOSSIERS if d.code == code)


async def answer_survey(app: App, survey: Survey) -> None:
    """The dossier returned and its survey sent at ``offered``; the answers given at ``answered``."""
    await app.dossiers.add_event(survey.code, "returned", survey.offered)
    async with app.services.uow() as uow:
        dossier = await uow.dossiers.get_by_code(survey.code)
        assert dossier is not None
        invitation = await uow.invitations.for_dossier(dossier.id)
        assert invitation is not None
        when = survey.answered
        await uow.invitations.update(
            invitation.id,
            status="completed" if survey.completed else "started",
            channel="telegram",
            sent_at=survey.offered,
            delivered_at=survey.offered,
            started_at=when,
            completed_at=when if survey.completed else None,
        )
        for code, value in survey.ratings.items():
            await uow.answers.upsert(invitation, dossier.field_id, code, value, None, when)
        await uow.commit()


@pytest.fixture
def clock() -> Clock:
    return Clock(local(12, 1, 7).astimezone(UTC))


@pytest.fixture
async def month(tmp_path: Path, clock: Clock, aiohttp_client: Any) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'month.db'}"
    app = App(load_settings(database_url=url, public_url="https://sipas.example.vn"), clock=clock)
    await app.start()
    client = await aiohttp_client(build_web_app(app, [setup_api, setup_pages]))
    await build_month(app, clock, client)
    yield Month(app, client, await app.api_keys.create("dashboard", ["reports:read"], ["all"]))
    await app.close()


# --- every output against the hand count

END = local(12, 1, 0)  # the end of the month: what had passed by then is late or overdue


def num(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def as_published(hand: dict[str, Any]) -> dict[str, Any]:
    """The hand count in the report JSON's shape and numbers."""
    score = hand["score"]
    overall, n = score["overall"]
    return {
        "dossiers": {k: num(v) for k, v in hand["dossiers"].items()},
        "surveys": {k: num(v) for k, v in hand["surveys"].items()},
        "complaints": {k: num(v) for k, v in hand["complaints"].items()},
        "on_time_by_field": [
            {"field": f, "resolved": r, "on_time": o, "late": r - o, "on_time_rate": num(pct(o, r))}
            for f, r, o in hand["on_time_by_field"]
        ],
        "satisfaction": (num(overall), n, overall is None),
        "factors": {code: (num(i), n) for code, (i, n) in score["factors"].items()},
        "criteria": {code: (num(i), n) for code, (i, n) in score["criteria"].items()},
        "by_field": {f: (num(i), n) for f, (i, n) in hand["by_field"].items()},
    }


def of_report(report: dict[str, Any], hand: dict[str, Any]) -> dict[str, Any]:
    """The same figures read from a report JSON."""
    overall = report["satisfaction"]
    return {
        "dossiers": {k: report["dossiers"][k] for k in hand["dossiers"]},
        "surveys": {k: report["surveys"][k] for k in hand["surveys"]},
        "complaints": report["complaints"],
        "on_time_by_field": report["on_time_by_field"],
        "satisfaction": (overall["index"], overall["n"], overall["suppressed"]),
        "factors": {f["code"]: (f["index"], f["n"]) for f in report["factors"]},
        "criteria": {c["code"]: (c["index"], c["n"]) for c in report["criteria"]},
        "by_field": {f["field"]: (f["index"], f["n"]) for f in report["by_field"]},
    }


async def test_the_report_json_equals_the_hand_count_for_the_unit_alone_and_with_the_unit_below(
    month: Month,
) -> None:
    hand = as_published(by_hand({"P8"}, NOVEMBER, END))
    assert hand["satisfaction"] == (None, 7, True)  # PA rests on 4 answers: the overall is hidden too
    assert hand["factors"]["PA"] == (None, 4)
    assert (hand["surveys"]["respondents"], hand["surveys"]["completed"], hand["surveys"]["offered"]) == (7, 5, 6)
    report = await month.app.reporter.satisfaction("P8", NOVEMBER)
    assert of_report(report, hand) == hand
    # the text of ``sipasbot report`` prints the same figures, with a decimal comma
    d, raw = hand["dossiers"], by_hand({"P8"}, NOVEMBER, END)
    lines = render_text(report, month.app.services).splitlines()
    assert (
        f"Hồ sơ: tiếp nhận {d['received']} · đã giải quyết {d['resolved']} · đúng hạn {d['on_time']} · trễ hạn "
        f"{d['late']} · tỷ lệ đúng hạn {text(raw['dossiers']['on_time_rate'])} · phiếu xin lỗi {d['apologies']} · "
        f"trễ hạn chưa xin lỗi {d['late_without_apology']} · trễ hạn chưa giải quyết {d['overdue_open']}"
    ) in lines
    assert (
        f"Phiếu xin lỗi: xin lỗi không đúng hạn {d['apologies_late']} (đã tính trong số phiếu xin lỗi trễ hạn ở "
        f"trên) · xin lỗi do sai sót {d['apologies_error']}"
    ) in lines
    assert f"Chỉ số hài lòng chung: {NONE} (n = {hand['satisfaction'][1]})" in lines
    factor_lines = [
        f"  {f['name']}: {text(raw['score']['factors'][f['code']][0])} (n = {f['n']})" for f in report["factors"]
    ]
    assert [line for line in factor_lines if line not in lines] == []
    headers = {"Authorization": f"Bearer {month.reports_key}"}
    query = "unit=P8&from=2026-11-01&to=2026-11-30"
    async with month.client.get(f"/api/v1/reports/satisfaction?{query}", headers=headers) as response:
        assert response.status == 200
        api = await response.json()
    assert api["include_children"] is False
    assert of_report(api, hand) == hand

    both = as_published(by_hand({"P8", "KP1"}, NOVEMBER, END))
    assert both["factors"]["PA"][1] == 5  # KP1's survey gives PA its fifth answer: the overall is shown
    assert both["satisfaction"][0] is not None
    async with month.client.get(f"/api/v1/reports/satisfaction?{query}&include_children=true", headers=headers) as r:
        assert r.status == 200
        assert of_report(await r.json(), both) == both


async def test_the_month_digest_prints_the_hand_count(month: Month) -> None:
    hand = by_hand({"P8"}, NOVEMBER, END)
    before = by_hand({"P8"}, Period(date(2026, 10, 1), date(2026, 10, 30)), local(10, 31, 0))
    ever = by_hand({"P8"}, Period(date(2026, 1, 1), date(2026, 11, 30)), END)["dossiers"]["late_without_apology"]
    d, s, c = hand["dossiers"], hand["surveys"], hand["complaints"]
    overall, n = hand["score"]["overall"]

    def verdict(value: Decimal | None, target: int) -> str:
        return NONE if value is None else "đạt" if value >= target else "chưa đạt"

    fields = {f: (r, o) for f, r, o in hand["on_time_by_field"]}
    expected = [
        "BÁO CÁO THÁNG (đến 01/12/2026) — Phường 8",
        "Phạm vi: Phường 8 (không gồm đơn vị trực thuộc)",
        f"• Hồ sơ: tiếp nhận {d['received']} · giải quyết {d['resolved']} · đúng hạn {d['on_time']} — tỷ lệ đúng hạn "
        f"{text(d['on_time_rate'])} (kỳ trước {text(before['dossiers']['on_time_rate'])}; mục tiêu 95,0%: "
        f"{verdict(d['on_time_rate'], 95)})",
        f"• Trễ hạn chưa có phiếu xin lỗi (hạn trả trong kỳ): {d['late_without_apology']}",
        f"• Phiếu xin lỗi trễ hạn: {d['apologies']} — trong đó xin lỗi không đúng hạn: {d['apologies_late']} · "
        f"phiếu xin lỗi do sai sót: {d['apologies_error']}",
        f"• Khảo sát: hoàn thành {s['completed']}/{s['offered']} — hài lòng {text(overall)} (n = {n}; kỳ trước "
        f"{text(before['score']['overall'][0])}; mục tiêu 95,0%: {verdict(overall, 95)})",
        f"• Phiếu gửi trong kỳ: {s['offered']} · hoàn thành {s['completed']} · tỷ lệ phản hồi "
        f"{text(s['response_rate'])} · số người đã trả lời {s['respondents']}",
        f"• Hồ sơ tiếp nhận trực tuyến: {d['received_online']}/{d['received']} ({text(d['online_rate'])})",
        f"• Hồ sơ bị yêu cầu bổ sung từ lần thứ hai trở lên: {d['supplement_repeated']}",
        *(
            f"• {f} — đúng hạn {text(pct(o, r))} ({o}/{r} hồ sơ; mục tiêu 95,0%: {verdict(pct(o, r), 95)}) · hài lòng "
            f"{text(hand['by_field'][f][0])} (n = {hand['by_field'][f][1]}; mục tiêu 95,0%: "
            f"{verdict(hand['by_field'][f][0], 95)})"
            for f, (r, o) in sorted(fields.items())
        ),
        f"Hồ sơ trễ hạn chưa giải quyết: {d['overdue_open']}",
        f"Hồ sơ trễ hạn chưa có phiếu xin lỗi, mọi kỳ (hạn trả đến hết 30/11/2026): {ever}",
        f"Phản ánh mới: {c['received']} (đã trả lời {c['answered']}, đã đóng {c['closed']})",
        f"Phản ánh đã xử lý (đã trả lời hoặc đã đóng): {text(c['handled_rate'])} "
        f"({c['answered'] + c['closed']}/{c['received']}; mục tiêu 100,0%: {verdict(c['handled_rate'], 100)})",
    ]
    digest = await month.app.digests.build("P8", date(2026, 12, 1), "month", with_chart=False)
    lines = digest.text.splitlines()
    assert [line for line in expected if line not in lines] == []
    # the three lowest criteria, with the index and n of the hand count
    criteria = sorted((i, code, n) for code, (i, n) in hand["score"]["criteria"].items() if i is not None)
    weakest = lines[lines.index("Ba tiêu chí thấp nhất:") + 1 :][:3]
    assert [(w.split()[1], w.rsplit(": ", 1)[1]) for w in weakest] == [
        (code, f"{text(i)} (n = {n})") for i, code, n in criteria[:3]
    ]


def rows_by_label(sheet: Any) -> dict[Any, tuple[Any, ...]]:
    rows: dict[Any, tuple[Any, ...]] = {}
    for row in sheet.iter_rows(values_only=True):
        if row and row[0] is not None:
            rows.setdefault(row[0], row[1:])
    return rows


def officer_tables(book: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The "Cán bộ" sheet: the handling officers' rows, and the receiving officers' rows below them."""
    rows = list(book["Cán bộ"].iter_rows(min_row=2, values_only=True))
    blank = next((i for i, row in enumerate(rows) if not any(row)), len(rows))
    return rows[:blank], rows[blank + 3 :]  # a blank row, the receivers' title and their headers


def cell(value: Decimal | None) -> Any:
    """A percentage as the workbook stores it, or the words of a suppressed figure."""
    return NONE if value is None else pytest.approx(float(value) / 100)


async def test_the_workbook_read_back_holds_the_hand_count(month: Month) -> None:
    hand = by_hand({"P8"}, NOVEMBER, END)
    d, s, c = hand["dossiers"], hand["surveys"], hand["complaints"]
    content = await month.app.period_reports.workbook("P8", NOVEMBER, "Báo cáo tháng 11/2026")
    book = openpyxl.load_workbook(io.BytesIO(content))
    summary = {label: row[0] for label, row in rows_by_label(book["Tổng hợp"]).items()}
    assert summary["Phạm vi"] == "Phường 8 (không gồm đơn vị trực thuộc)"
    read = {
        "received": summary["Tiếp nhận"],
        "resolved": summary["Đã giải quyết"],
        "on_time": summary["Đúng hạn"],
        "late": summary["Trễ hạn"],
        "on_time_rate": summary["Tỷ lệ đúng hạn"],
        "apologies": summary["Phiếu xin lỗi"],
        "apologies_late": summary["Xin lỗi không đúng hạn"],
        "apologies_error": summary["Phiếu xin lỗi do sai sót"],
        "late_without_apology": summary["Trễ hạn chưa xin lỗi"],
        "overdue_open": summary["Trễ hạn chưa giải quyết"],
        "received_online": summary["Hồ sơ tiếp nhận trực tuyến"],
        "online_rate": summary["Tỷ lệ hồ sơ tiếp nhận trực tuyến"],
        "supplement_repeated": summary["Hồ sơ bị yêu cầu bổ sung từ lần thứ hai trở lên"],
    }
    assert read == {k: cell(v) if k.endswith("rate") else v for k, v in d.items()}
    assert (summary["Đã gửi"], summary["Đã hoàn thành"], summary["Tỷ lệ phản hồi"]) == (
        s["offered"], s["completed"], cell(s["response_rate"])
    )  # fmt: skip
    assert summary["Số người đã trả lời (trả lời trong kỳ)"] == s["respondents"]
    overall, n = hand["score"]["overall"]
    assert (summary["Chỉ số hài lòng chung"], summary["Số câu trả lời (n)"]) == (cell(overall), n)
    assert (summary["Phản ánh tiếp nhận"], summary["Phản ánh đã trả lời"], summary["Phản ánh đã đóng"]) == (
        c["received"], c["answered"], c["closed"]
    )  # fmt: skip
    assert summary["Tỷ lệ phản ánh đã xử lý"] == cell(c["handled_rate"])

    factors = {r[0]: (r[3], r[2]) for r in book["Yếu tố"].iter_rows(min_row=2, values_only=True)}
    assert factors == {f: (cell(i), n) for f, (i, n) in hand["score"]["factors"].items()}
    criteria = {r[0]: (r[9], r[3]) for r in book["Tiêu chí"].iter_rows(min_row=2, values_only=True)}
    assert criteria == {code: (cell(i), n) for code, (i, n) in hand["score"]["criteria"].items()}
    fields = {
        r[0]: (r[1], r[2], r[3], r[6], r[7]) for r in book["Chỉ tiêu lĩnh vực"].iter_rows(min_row=2, values_only=True)
    }
    assert fields == {
        f: (r, o, cell(pct(o, r)), hand["by_field"][f][1], cell(hand["by_field"][f][0]))
        for f, r, o in hand["on_time_by_field"]
    }

    # each apology issued in the month, its kind and whether it was in time, and each officer's share
    apologies = [(r[0], r[2], r[9]) for r in book["Phiếu xin lỗi"].iter_rows(min_row=2, values_only=True)]
    issued = [a for a in APOLOGIES if NOVEMBER.start <= a[2].date() <= NOVEMBER.end]
    assert apologies == [
        (code, "Sai sót" if kind == "error" else "Trễ hạn",
         "—" if kind == "error" else "Đúng hạn" if in_time(app_due(code), at) else "Không đúng hạn")
        for code, kind, at, _new in issued
    ]  # fmt: skip
    officers = {r[0]: (r[1], r[2], r[3], r[5], r[8], r[9]) for r in officer_tables(book)[0]}
    handler_of = {x.code: x.handler for x in DOSSIERS}
    by_officer = {}
    for name in (BÌNH, CƯỜNG):
        resolved = [
            x for x in DOSSIERS if x.unit == "P8" and x.handler == name and x.finished and x.finished.month == 11
        ]
        theirs = [a for a in issued if handler_of[a[0]] == name]
        by_officer[name] = (
            len(resolved),
            sum(x.finished is not None and x.finished <= x.due for x in resolved),
            sum(x.finished is not None and x.finished > x.due for x in resolved),
            sum(a[1] == "delay" for a in theirs),
            sum(a[1] == "delay" and not in_time(app_due(a[0]), a[2]) for a in theirs),
            sum(a[1] == "error" for a in theirs),
        )
    assert officers == by_officer

    # the late dossiers of the month (due in it), with their delay apology if any: those without are the figure
    late = list(book["Hồ sơ trễ hạn"].iter_rows(min_row=2, values_only=True))
    assert sum(row[8] is None for row in late) == d["late_without_apology"]
    # the answers sheet: one row per person who answered in the month (under its header row), the unfinished undated
    answers = list(book["Dữ liệu khảo sát"].iter_rows(min_row=2, values_only=True))
    assert len(answers) == s["respondents"]
    assert sum(row[1] is None for row in answers) == sum(not x.completed for x in SURVEYS if x.unit == "P8"
                                                        and x.answered.month == 11)  # fmt: skip


async def test_the_public_page_json_of_the_quarter_equals_the_hand_count(month: Month) -> None:
    now = month.app.services.clock()
    for query, units in (("", {"P8"}), ("&include_children=true", {"P8", "KP1"})):
        async with month.client.get(f"/cong-khai/P8.json?quy=2026-Q4{query}") as response:
            assert response.status == 200
            page = await response.json()
        hand = by_hand(units, QUARTER, now)
        d, s, c = hand["dossiers"], hand["surveys"], hand["complaints"]
        overall, n = hand["score"]["overall"]
        assert (page["from"], page["to"], page["include_children"]) == ("2026-10-01", "2026-12-01", bool(query))
        assert page["dossiers"] == {k: num(d[k]) for k in ("received", "resolved", "on_time", "late", "on_time_rate")}
        assert page["surveys"] == {k: num(v) for k, v in s.items()}
        assert page["complaints"] == {**{k: num(v) for k, v in c.items()}, "handled_text": text(c["handled_rate"])}
        assert (page["satisfaction"]["index"], page["satisfaction"]["n"]) == (num(overall), n)
        assert page["satisfaction"]["text"] == text(overall)
        factors = {f["code"]: (f["index"], f["n"], f["text"]) for f in page["factors"]}
        assert factors == {code: (num(i), n, text(i)) for code, (i, n) in hand["score"]["factors"].items()}
        fields = {f["field"]: (f["resolved"], f["on_time"], f["on_time_text"], f["satisfaction"]["n"],
                               f["satisfaction"]["text"]) for f in page["fields"]}  # fmt: skip
        assert fields == {
            f: (r, o, text(pct(o, r)), hand["by_field"][f][1], text(hand["by_field"][f][0]))
            for f, r, o in hand["on_time_by_field"]
        }
    # the quarter holds PA's fifth answer (October): its overall is published, the month's was not
    assert by_hand({"P8"}, QUARTER, now)["score"]["overall"][0] is not None


async def test_the_officers_figures_in_the_workbook_are_the_published_ones(month: Month) -> None:
    # the quarter to date: PA's fifth answer came in October, so the figures are published; every answer of the
    # quarter is about a dossier Trần Thị Bình handled and Phạm Thu Hà took in, so theirs is the unit's index
    hand = by_hand({"P8"}, QUARTER, month.app.services.clock())
    overall, n = hand["score"]["overall"]
    assert overall is not None
    content = await month.app.period_reports.workbook("P8", QUARTER, "Báo cáo quý IV/2026")
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert rows_by_label(book["Tổng hợp"])["Chỉ số hài lòng chung"][0] == cell(overall)
    handling, receiving = officer_tables(book)
    assert {r[0]: (r[6], r[7]) for r in handling}[BÌNH] == (cell(overall), n)
    received = sum(
        d.unit == "P8" and d.receiver == HÀ and QUARTER.start <= d.received.date() <= QUARTER.end for d in DOSSIERS
    )
    assert [tuple(r[:4]) for r in receiving] == [(HÀ, received, cell(overall), n)]
