"""Two instances on one PostgreSQL: each leader gets one digest, and delivery moves to the survivor."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.jobs import Jobs
from storage.locks import Leadership
from tests.conftest import POSTGRES_URL, Clock, _truncate
from tests.emulators.telegram import Person, TelegramEmulator
from tests.telegram_service import TOKEN, RunningService, running_service

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL: set SIPAS_TEST_POSTGRES_URL (CI does)")

DIGEST_MORNING = datetime(2026, 12, 2, 0, 40, tzinfo=UTC)  # 07:40 in Hà Nội: past the 07:30 digest time
SETTINGS = {"survey_tick_seconds": 3600, "lock_retry_seconds": 0.2, "telegram_chat_interval": 0.05}


class Instance:
    """One `sipasbot run` in this process, started and stopped at will."""

    def __init__(self, url: str, emu: TelegramEmulator, clock: Clock, name: str) -> None:
        self.url, self.emu, self.clock, self.name = url, emu, clock, name
        self.context: AbstractAsyncContextManager[RunningService] | None = None
        self.service: RunningService | None = None

    async def start(self) -> RunningService:
        self.context = running_service(self.url, self.emu, clock=self.clock, **SETTINGS)
        self.service = await self.context.__aenter__()
        return self.service

    async def stop(self) -> None:
        context, self.context = self.context, None
        if context is not None:
            await context.__aexit__(None, None, None)

    @property
    def leading(self) -> bool:
        assert self.service is not None
        return self.service.service.leading.is_set()

    async def leaders_job(self) -> int:
        assert self.service is not None
        app = self.service.app
        return await Jobs(app.services, self.name, app.digests.defaults).leaders()


def digests(person: Person) -> int:
    return sum(text.startswith("BẢN TIN NGÀY 02/12/2026") for text in person.texts)


async def until(condition: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the state of another component, which has no event to wait on
            await asyncio.sleep(0.05)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """The session's PostgreSQL database, emptied (two instances share one PostgreSQL; SQLite runs one)."""
    asyncio.run(_truncate(postgres_url))
    return postgres_url


async def test_two_instances_and_a_restart_send_each_leader_one_digest_and_hand_delivery_over(
    database_url: str,
) -> None:
    clock = Clock(DIGEST_MORNING)
    async with TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=40.0, global_rate=200.0) as emu:
        first, second = Instance(database_url, emu, clock, "a"), Instance(database_url, emu, clock, "b")
        try:
            a = await first.start()
            await until(lambda: first.leading)
            second_service = await second.start()
            contender = Leadership(second_service.app.services.database)
            assert not await contender.acquire()  # held: whoever else tries, the second instance too, is refused
            assert first.leading
            assert not second.leading  # one holder at a time

            leaders = [emu.person(user_id=500 + n, first_name=f"Lãnh đạo {n}") for n in range(2)]
            for person in leaders:
                await person.send_command("/join", await a.app.roles.invite("leader", "P8"))
                await person.wait_for(lambda p: any("đã được cấp quyền lãnh đạo" in t for t in p.texts))

            # both instances run the job at digest time: one digest each, delivered by the holder
            await asyncio.gather(first.leaders_job(), second.leaders_job())
            for person in leaders:
                await person.wait_for(lambda p: digests(p) == 1 and any(m.photo for m in p.messages), timeout=20)

            # the holder restarts at digest time: the other takes over, and nothing is sent again
            await first.stop()
            await until(lambda: second.leading)
            restarted = await first.start()
            await asyncio.gather(first.leaders_job(), second.leaders_job())
            await restarted.settled()  # whatever the jobs queued has been delivered
            assert [digests(p) for p in leaders] == [1, 1]
            assert not first.leading

            # a reply waiting for delivery when its holder stops: the other instance sends it
            emu.fail_next(1, 502, methods=["sendMessage"])
            await leaders[0].send_command("/baocao", "tuần")
            await until(lambda: emu.stats.errors[502] >= 1)
            await second.stop()
            await until(lambda: first.leading)
            clock.advance(seconds=30)  # past the retry time of the refused send
            await leaders[0].wait_for(lambda p: any(t.startswith("BÁO CÁO TUẦN") for t in p.texts), timeout=20)
            await first.stop()
            assert sum(t.startswith("BÁO CÁO TUẦN") for t in leaders[0].texts) == 1
            assert [digests(p) for p in leaders] == [1, 1]
        finally:
            await second.stop()
            await first.stop()
