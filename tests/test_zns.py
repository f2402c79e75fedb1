"""ZNS through our real client to the emulator, on a test clock: quotas wait for the next day, nothing is lost."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.channels.zalo_api import ZaloApi, ZaloOAConfig
from bot.channels.zns import ZnsChannel, rating_of
from bot.outbox import Outbox
from handlers.citizen.invitations import InvitationHandler
from handlers.context import Policy, Services
from storage.models import OutboxRow
from tests.conftest import Clock
from tests.emulators.zalo_oa import ZaloOAEmulator
from tests.helpers import add_unit, returned_dossier, sample_dossier

TEMPLATE = "350001"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def policy() -> Policy:
    return Policy(zns_rating_template=TEMPLATE)


@pytest.fixture
async def emulator() -> AsyncIterator[ZaloOAEmulator]:
    async with ZaloOAEmulator() as emu:
        emu.zns.add_template(
            TEMPLATE, params=[("ho_ten", 30), ("ma_ho_so", 50), ("thu_tuc", 100), ("ngay_tra", 20)], rating=True
        )
        yield emu


async def zns_channel(services: Services, emu: ZaloOAEmulator) -> ZnsChannel:
    config = ZaloOAConfig(
        app_id=emu.app_id,
        app_secret=emu.app_secret,
        secret_key=emu.oa_secret_key,
        access_token=emu.access_token,
        refresh_token=emu.refresh_token,
        api_url=emu.api_url,
        oauth_url=emu.oauth_url,
    )
    api = ZaloApi(config, services)
    await api.tokens.load()
    return ZnsChannel(api, ZONE, emu.zns_url)


async def test_a_used_up_daily_quota_waits_for_the_next_day_and_keeps_the_tracking_id(
    services: Services, clock: Clock, emulator: ZaloOAEmulator
) -> None:
    await add_unit(services)
    data = dataclasses.replace(sample_dossier(phone="0912 345 678"), zalo_optin=True)
    await returned_dossier(services, data, clock.now)
    clock.advance(minutes=60)
    assert await InvitationHandler(services).send_due() == 1
    channel = await zns_channel(services, emulator)
    outbox = Outbox(services, {"zns": channel})
    emulator.zns.daily_quota = 0  # nothing left today
    try:
        assert await outbox.deliver_pending("zns") == 0
        async with services.uow(read_only=True) as uow:
            status, not_before = (await uow.connection.execute(select(OutboxRow.status, OutboxRow.not_before))).one()
        assert status == "pending"
        assert not_before.astimezone(ZONE) == datetime(2026, 11, 19, 0, 1, tzinfo=ZONE)
        clock.advance(hours=12)  # 23:00 the same day: still waiting
        assert await outbox.deliver_pending("zns") == 0
        clock.now = datetime(2026, 11, 18, 17, 2, tzinfo=UTC)  # 00:02 on 19/11 in Hà Nội: a new day's quota
        emulator.zns.daily_quota = 500
        emulator.zns.reset_quota()
        assert await outbox.deliver_pending("zns") == 1
    finally:
        await channel.api.close()
    recipient = emulator.zns.recipient("84912345678")
    assert [m.tracking_id for m in recipient.messages] == ["sipas-1"]
    assert emulator.stats.errors[-144] == 1


@pytest.mark.parametrize(
    "message",
    [
        {"msg_id": "m-1", "rate": 1e999},  # JSON's 1e999 is an infinity: int() of it raised OverflowError
        {"msg_id": "m-1", "rate": True},
        {"msg_id": "m-1", "rate": 4.5},
        {"msg_id": "m-1", "rate": "²"},
        {"msg_id": ["m", 1], "rate": 5},  # an id that is a list was taken as the text "['m', 1]"
        {"msg_id": "m\x00-1", "rate": 5},
        {"rate": 5},
    ],
)
def test_a_rating_with_a_rate_or_id_that_is_not_one_is_ignored(message: dict[str, object]) -> None:
    assert rating_of({"event_name": "user_feedback", "message": message}) is None


def test_a_rating_keeps_only_text_a_database_can_store() -> None:
    event = {
        "event_name": "user_feedback",
        "message": {
            "msg_id": "m-1",
            "rate": "5",
            "note": " Tận\x00 tình ",
            "feedbacks": ["Đúng hẹn", 7, None, "\ud800", "  "],
            "tracking_id": ["sipas-1"],
        },
    }
    rating = rating_of(event)
    assert rating is not None
    assert (rating.rate, rating.note, rating.chips, rating.tracking_id) == (5, "Tận tình", ("Đúng hẹn", "\ufffd"), None)
