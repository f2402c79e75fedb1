"""The satisfaction report (docs/FIGURES.md) against a fixture month computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from handlers.admin.units import UnitHandler
from handlers.context import Services
from handlers.errors import InvalidInput, NotFound
from handlers.intake.dossiers import DossierHandler
from handlers.leader.reporting import Period, Reporter, render_text
from storage.models import ApologyRow
from tests.conftest import Clock
from tests.helpers import add_unit, sample_dossier

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SERVICE_ITEMS = [
    "TC1", "TC2", "TC3", "TC4", "TT1", "TT2", "TT3", "TT4", "CC1", "CC2", "CC3", "CC4", "CC5",
    "KQ1", "KQ2", "KQ3", "PA1", "PA2", "PA3",
]  # fmt: skip
NOVEMBER = Period(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date())


def day(month: int, day_: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day_, hour, tzinfo=HANOI)


async def respondent(
    services: Services,
    code: str,
    unit: str,
    field: str,
    ratings: dict[str, str],
    when: datetime,
    completed: bool = True,
) -> None:
    """A dossier returned on ``when`` whose citizen answered ``ratings`` that day."""
    handler = DossierHandler(services)
    await handler.upsert(
        sample_dossier(
            code=code,
            unit=unit,
            field=field,
            phone=None,
            received_at=when - timedelta(days=4),
            due_at=when + timedelta(days=3),
        )
    )
    await handler.add_event(code, "returned", when)
    async with services.uow() as uow:
        dossier = await uow.dossiers.get_by_code(code)
        assert dossier is not None
        invitation = await uow.invitations.for_dossier(dossier.id)
        assert invitation is not None
        await uow.invitations.update(
            invitation.id,
            status="completed" if completed else "started",
            sent_at=when,
            delivered_at=when,
            started_at=when,
            completed_at=when if completed else None,
        )
        for code_, value in ratings.items():
            await uow.answers.upsert(invitation, dossier.field_id, code_, value, None, when)
        await uow.answers.upsert(invitation, dossier.field_id, "YK", None, "Gọi cho tôi: 0912 345 678", when)
        await uow.commit()


def all_items(value: str, **overrides: str) -> dict[str, str]:
    return {code: overrides.get(code, value) for code in SERVICE_ITEMS}


async def plain_dossier(
    services: Services, code: str, received: datetime, due: datetime, finished: datetime | None = None
) -> None:
    handler = DossierHandler(services)
    await handler.upsert(sample_dossier(code=code, phone=None, received_at=received, due_at=due))
    if finished is not None:
        await handler.add_event(code, "result_ready", finished)


@pytest.fixture
async def month(services: Services, clock: Clock) -> Reporter:
    clock.now = day(11, 25, 10)
    await add_unit(services, "Q3", "Quận 3")
    await add_unit(services, "P8", "Phường 8", parent="Q3")
    await add_unit(services, "P9", "Phường 9", parent="Q3")
    # six respondents in P8 (Hộ tịch), answers on 6 November
    await respondent(services, "S1", "P8", "Hộ tịch", all_items("5"), day(11, 6))
    await respondent(services, "S2", "P8", "Hộ tịch", all_items("4"), day(11, 6))
    await respondent(services, "S3", "P8", "Hộ tịch", all_items("3"), day(11, 6))
    await respondent(services, "S4", "P8", "Hộ tịch", all_items("2"), day(11, 6))
    await respondent(services, "S5", "P8", "Hộ tịch", all_items("5", TC1="1"), day(11, 6))
    partial = {"TC1": "4", "TC2": "4", "TC3": "4", "TC4": "4", "UT1": "rat-nhieu"}
    await respondent(services, "S6", "P8", "Hộ tịch", partial, day(11, 6), completed=False)
    # an October respondent, outside the period
    await respondent(services, "S7", "P8", "Hộ tịch", all_items("1"), day(10, 20))
    # two respondents in P9 (Đất đai)
    await respondent(services, "S8", "P9", "Đất đai", all_items("5"), day(11, 6))
    await respondent(services, "S9", "P9", "Đất đai", all_items("5"), day(11, 6))
    # dossiers for the on-time figures, all in P8
    await plain_dossier(services, "D1", day(11, 3), day(11, 10), finished=day(11, 9))  # on time
    await plain_dossier(services, "D2", day(11, 3), day(11, 10), finished=day(11, 12))  # late, no apology
    await plain_dossier(services, "D3", day(11, 4), day(11, 11), finished=day(11, 13))  # late, apologised
    await plain_dossier(services, "D4", day(11, 5), day(11, 12))  # overdue, unresolved, no apology
    await plain_dossier(services, "D5", day(11, 20), day(11, 30))  # open, not yet due
    await plain_dossier(services, "D6", day(10, 20), day(10, 30), finished=day(10, 29))  # all in October
    await plain_dossier(services, "D7", day(10, 25), day(11, 5), finished=day(11, 2))  # resolved in November
    async with services.uow() as uow:
        d3 = await uow.dossiers.get_by_code("D3")
        assert d3 is not None
        await uow.connection.execute(
            insert(ApologyRow).values(
                dossier_id=d3.id,
                number="01/PXL",
                reason="Chờ xác minh",
                new_due_at=day(11, 14),
                issued_by="Trần Thị Bình",
                issued_at=day(11, 10),
            )
        )
        await uow.commit()
    return Reporter(services)


def by_code(items: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {item.get("code", item.get("field")): item for item in items}


async def test_criterion_factor_and_overall_figures(month: Reporter) -> None:
    report = await month.satisfaction("P8", NOVEMBER)
    criteria = by_code(report["criteria"])
    # TC1: 5, 4, 3, 2, 1, 4 -> 3 of 6 in the top two boxes
    assert criteria["TC1"]["counts"] == {"1": 1, "2": 1, "3": 1, "4": 2, "5": 1}
    assert (criteria["TC1"]["n"], criteria["TC1"]["index"]) == (6, 50.0)
    assert criteria["TC1"]["mean"] == 3.17
    assert criteria["TC1"]["alarm_rate"] == 33.3  # rounded once, half-up, to one decimal
    # TC2–TC4: 5, 4, 3, 2, 5, 4 -> 4 of 6
    assert (criteria["TC2"]["n"], criteria["TC2"]["index"]) == (6, 66.7)
    # every other item: 5, 4, 3, 2, 5 -> 3 of 5
    assert (criteria["PA3"]["n"], criteria["PA3"]["index"]) == (5, 60.0)
    assert criteria["PA3"]["counts"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 2}
    factors = by_code(report["factors"])
    assert (factors["TC"]["index"], factors["TC"]["n"]) == (62.5, 6)  # (50 + 3 × 66.67) / 4
    assert factors["TC"]["name"] == "I. Tiếp cận dịch vụ"
    assert [factors[c]["index"] for c in ("TT", "CC", "KQ", "PA")] == [60.0] * 4
    assert report["satisfaction"]["index"] == 60.5  # (62.5 + 4 × 60) / 5
    assert report["satisfaction"]["n"] == 6
    low, high = report["satisfaction"]["ci95"]
    assert low < 60.5 < high
    assert report["form"] == "sipas-2022"
    assert report["by_field"] == [{"field": "Hộ tịch", "index": 60.5, "n": 6, "suppressed": False}]
    priorities = by_code(report["priorities"])
    assert priorities["UT1"] == {"code": "UT1", "index": None, "n": 1, "suppressed": True}


async def test_dossier_and_survey_counts(month: Reporter) -> None:
    report = await month.satisfaction("P8", NOVEMBER)
    assert report["dossiers"] == {
        "received": 11,  # S1–S6 and D1–D5
        "resolved": 10,  # S1–S6, D1, D2, D3, D7
        "on_time": 8,
        "late": 2,
        "on_time_rate": 80.0,
        "apologies": 1,
        "late_without_apology": 2,  # D2 (resolved late) and D4 (overdue, unresolved)
        "overdue_open": 1,
        "received_online": 0,  # every dossier here came to the counter
        "online_rate": 0.0,
        "supplement_repeated": 0,
        "apologies_late": 0,
        "apologies_error": 0,
    }
    # the cohort offered in November (S6 unfinished); S1–S6 answered in November and are scored
    assert report["surveys"] == {
        "offered": 6, "delivered": 6, "started": 6, "completed": 5, "response_rate": 83.3, "respondents": 6
    }  # fmt: skip


async def test_children_are_added_on_request(month: Reporter) -> None:
    alone = await month.satisfaction("P9", NOVEMBER)
    assert alone["satisfaction"] == {"index": None, "n": 2, "ci95": None, "suppressed": True}
    assert all(c["index"] is None and c["suppressed"] for c in alone["criteria"])
    assert alone["dossiers"]["received"] == 2
    city = await month.satisfaction("Q3", NOVEMBER)
    assert city["satisfaction"]["n"] == 0
    whole = await month.satisfaction("Q3", NOVEMBER, include_children=True)
    criteria = by_code(whole["criteria"])
    assert (criteria["TC1"]["n"], criteria["TC1"]["index"]) == (8, 62.5)
    assert (criteria["TC2"]["n"], criteria["TC2"]["index"]) == (8, 75.0)
    assert (criteria["PA1"]["n"], criteria["PA1"]["index"]) == (7, 71.4)
    tc = Fraction(625, 10) + 3 * 75
    assert by_code(whole["factors"])["TC"]["index"] == 71.9  # 71.875 rounded once, half-up
    assert tc / 4 == Fraction(71875, 1000)
    assert whole["satisfaction"]["index"] == 71.5  # (71.875 + 4 × 71.428…) / 5 = 71.517…
    assert whole["by_field"] == [
        {"field": "Hộ tịch", "index": 60.5, "n": 6, "suppressed": False},
        {"field": "Đất đai", "index": None, "n": 2, "suppressed": True},
    ]
    assert whole["dossiers"]["received"] == 13


async def test_the_text_report_shows_the_same_figures_the_vietnamese_way(month: Reporter, services: Services) -> None:
    text = render_text(await month.satisfaction("P8", NOVEMBER), services)
    assert "BÁO CÁO MỨC ĐỘ HÀI LÒNG — Phường 8 (P8) — từ 01/11/2026 đến 30/11/2026" in text
    assert "Chỉ số hài lòng chung: 60,5% (n = 6; khoảng tin cậy 95%:" in text
    assert "  I. Tiếp cận dịch vụ: 62,5% (n = 6)" in text
    assert "tỷ lệ đúng hạn 80,0%" in text
    assert "0912" not in text
    alone = render_text(await month.satisfaction("P9", NOVEMBER), services)
    assert "Chỉ số hài lòng chung: chưa đủ dữ liệu (n = 2)" in alone


SIPAS_2017_ITEMS = {
    "TC": ["TC1", "TC2", "TC3", "TC4"],
    "TT": ["TT1", "TT2", "TT3", "TT4", "TT5"],
    "CC": ["CC1", "CC2", "CC3", "CC4", "CC5", "CC6"],
    "KQ": ["KQ1", "KQ2", "KQ3"],
    "PA": ["PA1", "PA2", "PA3", "PA4"],
}


async def test_a_unit_on_the_2017_form_is_reported_under_the_2017_factor_names(
    services: Services, clock: Clock
) -> None:
    clock.now = day(11, 25, 10)
    await UnitHandler(services).add("P17", "Phường 17", form="sipas-2017")
    items = [code for codes in SIPAS_2017_ITEMS.values() for code in codes]
    for number in range(5):
        await respondent(services, f"S17-{number}", "P17", "Hộ tịch", dict.fromkeys(items, "4"), day(11, 6))

    report = await Reporter(services).satisfaction("P17", NOVEMBER)
    text = render_text(report, services)

    assert (report["form"], [f["name"] for f in report["factors"]]) == (
        "sipas-2017",
        [
            "I. Tiếp cận dịch vụ hành chính công",
            "II. Thủ tục hành chính",
            "III. Công chức trực tiếp giải quyết công việc",
            "IV. Kết quả cung ứng dịch vụ hành chính công",
            "V. Tiếp nhận, giải quyết góp ý, phản ánh, kiến nghị",
        ],
    )
    assert "  I. Tiếp cận dịch vụ hành chính công: 100,0% (n = 5)" in text
    assert "  IV. Kết quả cung ứng dịch vụ hành chính công: 100,0% (n = 5)" in text
    assert "  V. Tiếp nhận, giải quyết góp ý, phản ánh, kiến nghị: 100,0% (n = 5)" in text
    assert "Kết quả giải quyết thủ tục hành chính" not in text  # the 2022 names
    assert "Cơ quan nhà nước tiếp nhận, xử lý" not in text
    assert "ưu tiên" not in text  # the 2017 form asks no priorities: no empty section


async def test_an_empty_period(month: Reporter) -> None:
    report = await month.satisfaction("P8", Period(datetime(2026, 9, 1).date(), datetime(2026, 9, 30).date()))
    assert report["satisfaction"] == {"index": None, "n": 0, "ci95": None, "suppressed": True}
    assert report["dossiers"]["on_time_rate"] is None
    assert report["surveys"]["response_rate"] is None
    assert report["by_field"] == []


async def test_bad_report_requests(month: Reporter) -> None:
    with pytest.raises(NotFound):
        await month.satisfaction("XX", NOVEMBER)
    with pytest.raises(InvalidInput):
        await month.satisfaction("P8", Period(NOVEMBER.end, NOVEMBER.start))
