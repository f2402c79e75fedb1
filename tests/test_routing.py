"""Which channel an invitation takes, the fall-back when a chat cannot be reached, and ZNS ratings."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import Delivery
from bot.outbox import Outbox
from handlers.admin.units import UnitHandler
from handlers.citizen.invitations import InvitationHandler
from handlers.citizen.ratings import Rating, RatingHandler, stars_to_level
from handlers.context import Policy, Services
from handlers.leader.reporting import Period, Reporter
from handlers.messages import Reply
from storage.models import AnswerRow, InvitationRow, OutboxRow
from tests.conftest import Clock
from tests.helpers import Person, RecordingChannel, add_unit, returned_dossier, sample_dossier

TEMPLATE = "350001"


@pytest.fixture
def policy() -> Policy:
    return Policy(zns_rating_template=TEMPLATE)


async def outbox_rows(services: Services) -> list[tuple[str, str, dict[str, object], str]]:
    async with services.uow(read_only=True) as uow:
        rows = await uow.connection.execute(
            select(OutboxRow.channel, OutboxRow.recipient, OutboxRow.payload, OutboxRow.status).order_by(OutboxRow.id)
        )
        return [(r.channel, r.recipient, r.payload, r.status) for r in rows]


async def invitation(services: Services) -> tuple[str, str | None, str]:
    async with services.uow(read_only=True) as uow:
        row = (await uow.connection.execute(select(InvitationRow))).one()
        return row.status, row.channel, row.form_id


async def test_a_person_without_a_chat_who_agreed_to_zalo_notices_gets_the_zns_rating(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    data = dataclasses.replace(sample_dossier(phone="+84 912 345 678"), zalo_optin=True)
    await returned_dossier(services, data, clock.now)
    clock.advance(minutes=60)
    assert await InvitationHandler(services).send_due() == 1
    assert await InvitationHandler(services).send_due() == 0
    [(channel, recipient, payload, status)] = await outbox_rows(services)
    assert (channel, recipient, status) == ("zns", "84912345678", "pending")
    reply = Reply.from_payload(payload)
    assert reply.template == {
        "template_id": TEMPLATE,
        "tracking_id": "sipas-1",
        "data": {
            "ho_ten": "Nguyễn Văn An",
            "ma_ho_so": "P8-261118-0001",
            "thu_tuc": "Đăng ký khai sinh",
            "ngay_tra": "18/11/2026",
        },
    }
    assert await invitation(services) == ("sent", "zns", "danh-gia-ho-so")


async def test_without_agreement_to_zalo_notices_nothing_goes_to_the_phone(services: Services, clock: Clock) -> None:
    await add_unit(services)
    await returned_dossier(services, sample_dossier(), clock.now)
    clock.advance(minutes=60)
    assert await InvitationHandler(services).send_due() == 0
    assert await outbox_rows(services) == []
    assert (await invitation(services))[0] == "pending"


async def test_a_person_on_a_chat_and_on_zns_gets_exactly_one_invitation(services: Services, clock: Clock) -> None:
    await add_unit(services)
    data = dataclasses.replace(sample_dossier(), zalo_optin=True)
    token = await returned_dossier(services, data, clock.now)
    person = Person(services, "an")
    await person.link(token)
    clock.advance(minutes=60)
    handler = InvitationHandler(services)
    assert await handler.send_due() == 1
    assert await handler.send_due() == 0
    _intro, question = await person.receive()
    assert question.text.startswith("Câu 1/33")
    assert [row[0] for row in await outbox_rows(services)].count("zns") == 0
    assert await invitation(services) == ("sent", "console", "sipas-2022")


class Unreachable(RecordingChannel):
    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        return Delivery("unreachable", error="403: blocked")


async def test_an_unreachable_chat_falls_back_to_zns_and_the_invitation_stays_one(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    data = dataclasses.replace(sample_dossier(), zalo_optin=True)
    token = await returned_dossier(services, data, clock.now)
    await Person(services, "an").link(token)
    clock.advance(minutes=60)
    handler = InvitationHandler(services)
    assert await handler.send_due() == 1
    assert await Outbox(services, {"console": Unreachable()}).deliver_pending("console") == 0
    assert (await invitation(services))[0] == "pending"  # offered again, on the next channel
    assert await handler.send_due() == 1
    assert await invitation(services) == ("sent", "zns", "danh-gia-ho-so")
    rows = [(channel, status) for channel, _, _, status in await outbox_rows(services)]
    assert rows[-3:] == [("console", "unreachable"), ("console", "cancelled"), ("zns", "pending")]
    assert set(rows[:-3]) == {("console", "sent")}  # what linking the chat said


@pytest.mark.parametrize(("stars", "level"), [(1, "2"), (2, "2"), (3, "4"), (4, "4"), (5, "5")])
def test_stars_map_onto_the_three_levels_of_domain_section_3_3(stars: int, level: str) -> None:
    assert stars_to_level(stars) == level


async def zns_invitation(
    services: Services, clock: Clock, code: str = "P8-261118-0001", phone: str = "0912345678"
) -> None:
    data = dataclasses.replace(sample_dossier(code=code, phone=phone), zalo_optin=True)
    await returned_dossier(services, data, clock.now)


async def test_a_rating_is_recorded_once_as_the_answers_of_its_invitation(services: Services, clock: Clock) -> None:
    await add_unit(services)
    await zns_invitation(services, clock)
    clock.advance(minutes=60)
    await InvitationHandler(services).send_due()
    ratings = RatingHandler(services)
    rating = Rating("msg-1", "sipas-1", 2, chips=("Chờ lâu",), note="Cán bộ hướng dẫn chưa rõ")
    assert await ratings.record("zns", rating) == "recorded"
    assert await ratings.record("zns", rating) == "duplicate"
    assert await ratings.record("zns", dataclasses.replace(rating, message_id="msg-2", rate=5)) == "closed"
    assert await ratings.record("zns", Rating("msg-3", "sipas-99", 5)) == "unknown"
    assert await ratings.record("zns", Rating("msg-4", "not-ours", 5)) == "unknown"
    async with services.uow(read_only=True) as uow:
        answers = {
            r.question_code: (r.value, r.text)
            for r in await uow.connection.execute(select(AnswerRow.question_code, AnswerRow.value, AnswerRow.text))
        }
    assert answers == {"HL": ("2", None), "YK": (None, "Chờ lâu; Cán bộ hướng dẫn chưa rõ")}
    assert (await invitation(services))[0] == "completed"


async def test_the_report_counts_zns_ratings(services: Services, clock: Clock) -> None:
    await UnitHandler(services).add("P8", "Phường 8", form="danh-gia-ho-so")
    for number in range(6):
        await zns_invitation(services, clock, code=f"P8-{number}", phone=f"091234560{number}")
    clock.advance(minutes=60)
    assert await InvitationHandler(services).send_due() == 6
    ratings = RatingHandler(services)
    for number, stars in enumerate([5, 5, 4, 3, 2, 1], start=1):
        assert await ratings.record("zns", Rating(f"m{number}", f"sipas-{number}", stars)) == "recorded"
    day = clock.now.date()
    report = await Reporter(services).satisfaction("P8", Period(day - timedelta(days=1), day + timedelta(days=1)))
    assert report["surveys"]["completed"] == 6
    assert report["form"] == "danh-gia-ho-so"
    assert report["satisfaction"]["n"] == 6
    assert report["satisfaction"]["index"] == 66.7  # 4 of 6 at "Hài lòng" or above, rounded once
