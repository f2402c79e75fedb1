"""The dossier lifecycle (docs/METHOD.md) on every backend: idempotent, refuses the impossible, invites once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from handlers.admin.units import UnitHandler
from handlers.contacts import normalize_phone
from handlers.context import Services
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.intake.dossiers import ContactInput, DossierHandler
from storage.models import DossierEventRow, InvitationRow
from storage.values import Invitation
from tests.conftest import Clock
from tests.helpers import add_unit, sample_dossier

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HANOI)


@pytest.fixture
async def dossiers(services: Services) -> DossierHandler:
    await add_unit(services)
    return DossierHandler(services)


async def test_an_upsert_creates_then_updates(dossiers: DossierHandler) -> None:
    first = await dossiers.upsert(sample_dossier())
    assert first.created
    assert first.dossier.state == "received"
    assert len(first.dossier.optin_token) == 22
    second = await dossiers.upsert(sample_dossier(due_at=local(2026, 11, 20)))
    assert not second.created
    assert second.dossier.id == first.dossier.id
    assert second.dossier.due_at == local(2026, 11, 20)
    assert second.dossier.optin_token == first.dossier.optin_token


async def test_phone_numbers_are_stored_in_one_form_and_people_are_found_by_them(
    dossiers: DossierHandler, services: Services
) -> None:
    one = await dossiers.upsert(sample_dossier(code="HS-1", phone="0912 345 678"))
    two = await dossiers.upsert(sample_dossier(code="HS-2", phone="+84912345678"))
    assert one.dossier.applicant_id == two.dossier.applicant_id
    async with services.uow() as uow:
        assert one.dossier.applicant_id is not None
        person = await uow.people.get(one.dossier.applicant_id)
    assert person.phone == "84912345678"


@pytest.mark.parametrize("phone", ["09¹2345678", "０９１２３４５６７８", "0912٣45678", "84912345678²"])
def test_a_phone_number_has_ascii_digits_only(phone: str) -> None:
    # "09¹2345678" was taken as the number 849¹2345678 (str.isdigit() is true for superscripts)
    with pytest.raises(ValueError, match="only digits"):
        normalize_phone(phone)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unit": "XX"}, "unknown unit 'XX'"),
        ({"code": "mã có dấu"}, "code must be"),
        ({"phone": "12345"}, "applicant.phone"),
        ({"name": "  "}, "applicant.name is required"),
        ({"due_at": datetime(2026, 11, 1, tzinfo=UTC)}, "due_at is before received_at"),
        ({"received_at": datetime(2026, 11, 1)}, "received_at must carry a timezone"),
    ],
)
async def test_bad_dossiers_are_refused_with_a_reason(
    dossiers: DossierHandler, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await dossiers.upsert(sample_dossier(**change))  # type: ignore[arg-type]


async def test_an_unknown_unit_has_its_own_code(dossiers: DossierHandler) -> None:
    with pytest.raises(InvalidInput) as caught:
        await dossiers.upsert(sample_dossier(unit="XX"))
    assert caught.value.code == "unknown_unit"


async def test_an_event_for_an_unknown_dossier_is_not_found(dossiers: DossierHandler) -> None:
    with pytest.raises(NotFound):
        await dossiers.add_event("KHONG-CO", "returned", local(2026, 11, 12))


async def test_on_time_is_judged_on_local_calendar_days(dossiers: DossierHandler) -> None:
    due = local(2026, 11, 14, 8)
    await dossiers.upsert(sample_dossier(code="DUNG-HAN", due_at=due))
    late_evening = await dossiers.add_event("DUNG-HAN", "result_ready", local(2026, 11, 14, 23, 30))
    assert late_evening.dossier.on_time is True
    await dossiers.upsert(sample_dossier(code="TRE-HAN", due_at=due))
    # 00:30 on the 15th in Hà Nội is still the 14th in UTC: late all the same
    after_midnight = await dossiers.add_event("TRE-HAN", "result_ready", local(2026, 11, 15, 0, 30))
    assert after_midnight.dossier.on_time is False


async def test_returned_without_result_ready_counts_as_finished(dossiers: DossierHandler) -> None:
    await dossiers.upsert(sample_dossier())
    result = await dossiers.add_event("P8-261118-0001", "returned", local(2026, 11, 13))
    assert result.dossier.finished_at == local(2026, 11, 13)
    assert result.dossier.on_time is True


async def test_the_same_event_twice_changes_nothing(dossiers: DossierHandler, services: Services) -> None:
    await dossiers.upsert(sample_dossier())
    first = await dossiers.add_event("P8-261118-0001", "result_ready", local(2026, 11, 12))
    again = await dossiers.add_event("P8-261118-0001", "result_ready", local(2026, 11, 12))
    assert first.changed
    assert not again.changed
    async with services.uow() as uow:
        assert await uow.connection.scalar(select(func.count()).select_from(DossierEventRow)) == 1


@pytest.mark.parametrize(
    ("events", "refused", "reason"),
    [
        (["cancelled"], "returned", "cannot apply returned to a dossier that is cancelled"),
        (["returned"], "result_ready", "cannot apply result_ready to a dossier that is already returned"),
        ([], "supplement_received", "cannot apply supplement_received to a dossier that is being processed"),
        (["supplement_requested"], "returned", "waiting for a supplement"),
    ],
)
async def test_impossible_transitions_are_refused_with_a_reason(
    dossiers: DossierHandler, events: list[str], refused: str, reason: str
) -> None:
    await dossiers.upsert(sample_dossier())
    for hour, event in enumerate(events):
        await dossiers.add_event("P8-261118-0001", event, local(2026, 11, 12, 8 + hour))
    with pytest.raises(Conflict, match=reason) as caught:
        await dossiers.add_event("P8-261118-0001", refused, local(2026, 11, 13))
    assert caught.value.code == "invalid_transition"


async def test_an_unknown_event_type_is_refused(dossiers: DossierHandler) -> None:
    await dossiers.upsert(sample_dossier())
    with pytest.raises(InvalidInput, match="type must be one of"):
        await dossiers.add_event("P8-261118-0001", "teleported", local(2026, 11, 13))


async def _invitations(services: Services) -> list[Invitation]:
    async with services.uow() as uow:
        ids = await uow.connection.scalars(select(InvitationRow.id).order_by(InvitationRow.id))
        return [i for i in [await uow.invitations.get(row_id) for row_id in ids] if i is not None]


async def test_a_returned_dossier_gets_one_invitation_after_the_delay(
    dossiers: DossierHandler, services: Services
) -> None:
    await dossiers.upsert(sample_dossier())
    returned = local(2026, 11, 13, 10)
    await dossiers.add_event("P8-261118-0001", "returned", returned)
    await dossiers.add_event("P8-261118-0001", "returned", returned)
    invitations = await _invitations(services)
    assert len(invitations) == 1
    invitation = invitations[0]
    assert invitation.status == "pending"
    assert invitation.scheduled_at == returned + timedelta(minutes=60)
    assert (invitation.form_id, invitation.form_version) == ("sipas-2022", 3)  # the current version


async def test_an_invitation_due_in_the_quiet_hours_waits_for_the_morning(
    dossiers: DossierHandler, services: Services
) -> None:
    await dossiers.upsert(sample_dossier())
    await dossiers.add_event("P8-261118-0001", "returned", local(2026, 11, 13, 20, 30))
    (invitation,) = await _invitations(services)
    assert invitation.scheduled_at == local(2026, 11, 14, 7, 0)


async def test_the_representative_is_asked_rather_than_the_applicant(
    dossiers: DossierHandler, services: Services
) -> None:
    data = sample_dossier(representative=ContactInput(name="Lê Thị Cúc", phone="0987654321"))
    created = await dossiers.upsert(data)
    await dossiers.add_event(data.code, "returned", local(2026, 11, 13))
    (invitation,) = await _invitations(services)
    assert invitation.person_id == created.dossier.representative_id
    assert invitation.person_id != created.dossier.applicant_id


async def test_a_supplement_request_cancels_the_pending_invitation_and_a_new_return_rearms_it(
    dossiers: DossierHandler, services: Services
) -> None:
    await dossiers.upsert(sample_dossier())
    await dossiers.add_event("P8-261118-0001", "returned", local(2026, 11, 13, 10))
    reopened = await dossiers.add_event("P8-261118-0001", "supplement_requested", local(2026, 11, 13, 10, 30))
    assert reopened.dossier.finished_at is None
    (cancelled,) = await _invitations(services)
    assert cancelled.status == "cancelled"
    await dossiers.add_event("P8-261118-0001", "supplement_received", local(2026, 11, 14, 9))
    await dossiers.add_event("P8-261118-0001", "returned", local(2026, 11, 16, 9))
    (rearmed,) = await _invitations(services)
    assert rearmed.id == cancelled.id
    assert rearmed.status == "pending"
    assert rearmed.scheduled_at == local(2026, 11, 16, 10)


async def test_a_withdrawal_cancels_the_pending_invitation(dossiers: DossierHandler, services: Services) -> None:
    await dossiers.upsert(sample_dossier())
    await dossiers.add_event("P8-261118-0001", "returned", local(2026, 11, 13, 10))
    result = await dossiers.add_event("P8-261118-0001", "cancelled", local(2026, 11, 13, 10, 20), "rút hồ sơ")
    assert result.dossier.state == "cancelled"
    (invitation,) = await _invitations(services)
    assert invitation.status == "cancelled"


async def test_a_unit_with_its_own_form_invites_with_that_form(
    dossiers: DossierHandler, services: Services, clock: Clock
) -> None:
    await UnitHandler(services).add("P9", "Phường 9", form="sipas-nhanh")
    await dossiers.upsert(sample_dossier(unit="P9"))
    await dossiers.add_event("P8-261118-0001", "returned", local(2026, 11, 13, 10))
    (invitation,) = await _invitations(services)
    assert (invitation.form_id, invitation.form_version) == ("sipas-nhanh", 2)


async def test_a_due_date_is_counted_in_working_days_when_only_the_time_limit_is_given(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    received = datetime(2026, 11, 19, 2, 0, tzinfo=UTC)  # Thursday 09:00 in Hà Nội
    clock.now = received  # received just now
    data = dataclasses.replace(sample_dossier(received_at=received), due_at=None, processing_days=3)
    dossier = (await DossierHandler(services).upsert(data)).dossier
    # Friday, Monday, (Tuesday 24/11 is a public holiday), Wednesday: due by the end of Wednesday 25/11
    assert dossier.due_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")) == datetime(
        2026, 11, 25, 23, 59, 59, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")
    )
    with pytest.raises(InvalidInput, match="due_at is required"):
        await DossierHandler(services).upsert(dataclasses.replace(data, code="HS-2", processing_days=None))
