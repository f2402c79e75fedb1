"""Invitations nobody asked for: sent when due and never in the quiet hours, reminded once, expired after 7 days."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.citizen.invitations import InvitationHandler
from handlers.context import Services
from storage.models import InvitationRow
from tests.conftest import Clock
from tests.helpers import Person, add_unit, returned_dossier, sample_dossier


@pytest.fixture
async def linked(services: Services, clock: Clock) -> Person:
    """A person who linked their chat at the counter; their dossier is returned now."""
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(), clock.now)
    person = Person(services, "an")
    await person.link(token)
    return person


async def status(services: Services) -> str:
    async with services.uow(read_only=True) as uow:
        return str(await uow.connection.scalar(select(InvitationRow.status)))


async def test_an_invitation_is_sent_once_when_its_delay_has_passed(
    services: Services, clock: Clock, linked: Person
) -> None:
    invitations = InvitationHandler(services)
    assert await invitations.send_due() == 0
    clock.advance(minutes=59)
    assert await invitations.send_due() == 0
    clock.advance(minutes=1)
    assert await invitations.send_due() == 1
    assert await invitations.send_due() == 0
    intro, question = await linked.receive()
    assert intro.text.startswith("Phiếu khảo sát sự hài lòng")
    assert "Hồ sơ: Đăng ký khai sinh — trả kết quả ngày 18/11/2026." in intro.text
    assert question.text.startswith("Câu 1/33")
    assert await status(services) == "sent"
    await linked.type("5")
    assert await status(services) == "started"
    async with services.uow(read_only=True) as uow:
        delivered = await uow.connection.scalar(select(InvitationRow.delivered_at))
    assert delivered == clock.now


async def test_nothing_is_sent_in_the_quiet_hours(services: Services, clock: Clock) -> None:
    await add_unit(services)
    evening = clock.now.replace(hour=13, minute=45)  # 20:45 in Hà Nội
    clock.now = evening
    token = await returned_dossier(services, sample_dossier(), evening)
    person = Person(services, "an")
    await person.link(token)
    invitations = InvitationHandler(services)
    clock.now = evening + timedelta(hours=1)  # 21:45, quiet
    assert await invitations.send_due() == 0
    clock.now = evening + timedelta(hours=10)  # 06:45, still quiet
    assert await invitations.send_due() == 0
    clock.now = evening + timedelta(hours=10, minutes=15)  # 07:00
    assert await invitations.send_due() == 1


async def test_a_person_without_a_chat_is_not_invited_until_they_link(services: Services, clock: Clock) -> None:
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(), clock.now - timedelta(hours=3))
    invitations = InvitationHandler(services)
    assert await invitations.send_due() == 0
    person = Person(services, "an")
    await person.link(token)
    assert "Bắt đầu khảo sát" in [o.label for o in person.last.options]
    assert await invitations.send_due() == 1


async def test_one_reminder_after_a_day_then_expiry_after_seven(
    services: Services, clock: Clock, linked: Person
) -> None:
    invitations = InvitationHandler(services)
    clock.advance(hours=1)
    await invitations.send_due()
    assert len(await linked.receive()) == 2
    clock.advance(hours=23, minutes=59)
    assert await invitations.send_reminders() == 0
    clock.advance(minutes=1)
    assert await invitations.send_reminders() == 1
    (reminder,) = await linked.receive()
    assert reminder.text.startswith("Kính nhắc Ông/Bà")
    assert "còn hiệu lực đến 25/11/2026 11:00" in reminder.text
    clock.advance(days=2)
    assert await invitations.send_reminders() == 0
    assert await invitations.expire() == 0
    clock.advance(days=5)
    assert await invitations.expire() == 1
    assert await status(services) == "expired"
    (none,) = await linked.type("/khaosat")
    assert none.text.startswith("Hiện Ông/Bà không có phiếu khảo sát nào")


async def test_a_reminder_waits_for_the_end_of_the_quiet_hours(
    services: Services, clock: Clock, linked: Person
) -> None:
    invitations = InvitationHandler(services)
    clock.advance(hours=1)  # 11:00
    await invitations.send_due()
    clock.advance(hours=11)  # 22:00 the next day after the jump below
    clock.advance(hours=24)
    assert await invitations.send_reminders() == 0
    clock.advance(hours=9)  # 07:00
    assert await invitations.send_reminders() == 1


async def test_a_person_who_opted_out_is_not_invited(services: Services, clock: Clock, linked: Person) -> None:
    await linked.type("/huy")
    clock.advance(hours=2)
    assert await InvitationHandler(services).send_due() == 0
    assert await status(services) == "cancelled"


async def test_every_due_invitation_goes_out_whatever_the_batch_size(
    services: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.citizen.invitations

    monkeypatch.setattr(handlers.citizen.invitations, "BATCH", 3)
    await add_unit(services)
    people = []
    for number in range(7):
        code = f"HS-{number}"
        data = sample_dossier(code=code, phone=f"09120000{number:02d}", name=f"Người {number}")
        token = await returned_dossier(services, data, clock.now)
        person = Person(services, f"chat-{number}")
        await person.link(token)
        people.append(person)
    clock.advance(hours=1)
    assert await InvitationHandler(services).send_due() == 7
    for person in people:
        assert len(await person.receive()) == 2
