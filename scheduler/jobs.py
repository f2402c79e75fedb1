"""The periodic jobs and how a run is claimed so that no period is handled twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from handlers.chat.inbox import purge_failed
from handlers.citizen.erasure import Retention
from handlers.citizen.invitations import InvitationHandler
from handlers.context import Services
from handlers.leader.digest.digests import Digests
from handlers.leader.digest.figures import Targets
from handlers.leader.reports import PeriodReports
from handlers.leader.workbook.process import WorkbookBuilder
from handlers.staff.alerts import Alerts

log = logging.getLogger(__name__)

SURVEY_TICK_SECONDS = 60
AT_RISK_MINUTES = 15
LEADERS_MINUTES = 5


@dataclass(frozen=True)
class SurveyTick:
    """What one pass of the survey job did."""

    expired: int
    sent: int
    reminded: int


class Jobs:
    """The work the scheduler runs; every job only calls handlers."""

    def __init__(
        self,
        services: Services,
        instance: str,
        targets: Targets | None = None,
        workbooks: WorkbookBuilder | None = None,
    ) -> None:
        self.services = services
        self.instance = instance
        self.invitations = InvitationHandler(services)
        self.alerts = Alerts(services)
        self.digests = Digests(services, targets)
        self.period_reports = PeriodReports(services, self.digests, workbooks)
        self.retention = Retention(services)

    async def surveys(self) -> SurveyTick:
        """Close surveys past their window, offer due ones, remind once. Safe to repeat at any time."""
        expired = await self.invitations.expire()
        sent = await self.invitations.send_due()
        reminded = await self.invitations.send_reminders()
        if expired or sent or reminded:
            log.info("surveys: %d expired, %d sent, %d reminded", expired, sent, reminded)
        return SurveyTick(expired, sent, reminded)

    async def at_risk(self) -> bool:
        """The 15-minute scan: dossiers at risk of running late, promised dates missed; False if claimed elsewhere.

        The run is claimed for its quarter hour (local time), so two instances or a restart never run it
        twice; each dossier is also warned about only once, whichever run finds it.
        """
        now = self.services.clock().astimezone(self.services.policy.timezone)
        slot = now.replace(minute=now.minute - now.minute % AT_RISK_MINUTES, second=0, microsecond=0)

        async def work() -> None:
            await self.alerts.scan_at_risk()
            await self.alerts.scan_promises()

        return await self.claimed("at_risk", slot.strftime("%Y-%m-%dT%H:%M"), "", work)

    async def leaders(self) -> int:
        """Today's digests once their time has come, and last month's and quarter's workbooks: each once per unit.

        Looking every few minutes (and at start-up) rather than at one instant means that a missed hour — the
        machine was off, the service restarted — is made up as soon as it runs again; the claims make it once.
        """
        sent = await self.digests.send_due(self.claimed)
        sent += await self.period_reports.send_due(self.claimed)
        if sent:
            log.info("leaders: %d digest(s) and report(s) sent", sent)
        return sent

    async def housekeeping(self) -> bool:
        """Once a day: contact data of dossiers closed beyond the retention period, and old failed inbox updates."""
        today = self.services.policy.local_date(self.services.clock())

        async def work() -> None:
            await self.retention.purge()
            await purge_failed(self.services)

        return await self.claimed("retention", today.isoformat(), "", work)

    async def claimed(self, job: str, period: str, scope: str, work: Callable[[], Awaitable[None]]) -> bool:
        """Run ``work`` for (job, period, scope) unless another run has it; False when not claimed.

        The claim is committed before the work starts, so a second instance or a restart skips it;
        a run that fails releases its claim for a later attempt.
        """
        services = self.services
        async with services.uow() as uow:
            claimed = await uow.jobs.claim(job, period, scope, self.instance, services.clock())
            await uow.commit()
        if not claimed:
            return False
        try:
            await work()
        except Exception as exc:
            async with services.uow() as uow:
                await uow.jobs.finish(job, period, scope, "failed", f"{type(exc).__name__}: {exc}", services.clock())
                await uow.commit()
            raise
        async with services.uow() as uow:
            await uow.jobs.finish(job, period, scope, "done", None, services.clock())
            await uow.commit()
        return True


def build_scheduler(jobs: Jobs, zone: ZoneInfo, survey_tick_seconds: float = SURVEY_TICK_SECONDS) -> AsyncIOScheduler:
    """An APScheduler 3 scheduler, in the service's event loop and local time, with every periodic job.

    Every job runs at once on start-up (what fell due while the service was down goes out now), then
    at its interval: the surveys every ``survey_tick_seconds``, the at-risk scan and the leaders' digests
    and reports every few minutes, housekeeping (retention purge) hourly; each run claims its period.
    """
    scheduler = AsyncIOScheduler(timezone=zone)
    every = {
        "surveys": (jobs.surveys, survey_tick_seconds),
        "at_risk": (jobs.at_risk, AT_RISK_MINUTES * 60),
        "housekeeping": (jobs.housekeeping, 3600),
        "leaders": (jobs.leaders, LEADERS_MINUTES * 60),
    }
    for name, (job, seconds) in every.items():
        scheduler.add_job(
            job,
            IntervalTrigger(seconds=seconds, timezone=zone),
            id=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(seconds) + 1,
            next_run_time=datetime.now(zone),  # what was missed while the service was down runs on start-up
        )
    return scheduler
