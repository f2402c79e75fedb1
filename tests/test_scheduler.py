"""The scheduler: periodic survey work and claimed runs (a second instance or a restart never repeats one)."""

from __future__ import annotations

import pytest

from handlers.context import Services
from scheduler.jobs import SURVEY_TICK_SECONDS, Jobs, build_scheduler
from tests.conftest import Clock
from tests.helpers import Person, add_unit, returned_dossier, sample_dossier


async def test_a_claimed_run_happens_once_across_instances(services: Services) -> None:
    runs: list[str] = []

    async def work() -> None:
        runs.append("ran")

    first, second = Jobs(services, "instance-a"), Jobs(services, "instance-b")
    assert await first.claimed("digest", "2026-11-18", "P8", work)
    assert not await second.claimed("digest", "2026-11-18", "P8", work)
    assert not await first.claimed("digest", "2026-11-18", "P8", work)
    assert await second.claimed("digest", "2026-11-19", "P8", work)
    assert runs == ["ran", "ran"]


async def test_a_failed_run_can_be_claimed_again(services: Services) -> None:
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database went away")

    jobs = Jobs(services, "instance-a")
    with pytest.raises(RuntimeError):
        await jobs.claimed("report", "2026-11", "P8", flaky)
    assert await jobs.claimed("report", "2026-11", "P8", flaky)
    assert not await jobs.claimed("report", "2026-11", "P8", flaky)
    assert len(attempts) == 2


async def test_the_survey_job_sends_due_invitations_and_is_safe_to_repeat(services: Services, clock: Clock) -> None:
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(), clock.now)
    person = Person(services, "an")
    await person.link(token)
    jobs = Jobs(services, "instance-a")
    clock.advance(hours=1)
    tick = await jobs.surveys()
    assert (tick.sent, tick.reminded, tick.expired) == (1, 0, 0)
    assert (await jobs.surveys()).sent == 0
    _intro, question = await person.receive()
    assert "Câu 1/33" in question.text


async def test_the_scheduler_runs_the_survey_job_every_minute_in_local_time(services: Services) -> None:
    scheduler = build_scheduler(Jobs(services, "a"), services.policy.timezone)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    job = jobs["surveys"]
    assert job.trigger.interval.total_seconds() == SURVEY_TICK_SECONDS
    assert jobs["at_risk"].trigger.interval.total_seconds() == 15 * 60
    assert jobs["at_risk"].next_run_time is not None  # a scan missed while the service was down runs at once
    assert str(job.trigger.timezone) == "Asia/Ho_Chi_Minh"
    assert job.max_instances == 1
    assert job.next_run_time is not None  # runs at once on start-up
