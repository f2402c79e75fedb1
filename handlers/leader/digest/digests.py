"""The leaders' digest: the day (and the month so far), or another period, built and sent to the unit's leaders.

Every figure comes from the one reporting module (``handlers.leader.reporting.Reporter``) or from its SQL
aggregates (``uow.digests``), so chat, JSON, Excel and the public page never disagree. Each digest is claimed in
``job_runs`` by (day, unit) and each message has a dedupe key, so a restart, a missed hour or a second instance
never sends a leader anything twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from handlers.citizen.comments import SurveyComments
from handlers.context import Services
from handlers.errors import NotFound
from handlers.leader.delivery import LeaderDelivery
from handlers.leader.digest.chart import digest_chart
from handlers.leader.digest.figures import DigestFigures, Listed, Section, Targets
from handlers.leader.digest.text import DigestText
from handlers.leader.periods import Period, compared
from handlers.leader.reporting import Reporter
from handlers.leader.targets import Goal, TargetHandler
from storage.uow import UnitOfWork
from storage.values import Unit

LIST_LIMIT = 10  # dossiers and comments named in a digest; the others are counted


def digest_time(text: str) -> time:
    """``"07:30"`` (HH:MM, as the settings check it) as a time of day."""
    return time.fromisoformat(text)


@dataclass(frozen=True)
class Digest:
    """A digest as built: its text, its chart, and the figures behind them (for tests and the CLI)."""

    unit: Unit
    kind: str
    day: date
    text: str
    chart: bytes
    current: Section
    previous: Section


class Digests:
    """Builds and sends digests."""

    periods = staticmethod(compared)  # the period a digest covers, and the one it is compared with

    def __init__(self, services: Services, targets: Targets | None = None) -> None:
        self.services = services
        self.reporter = Reporter(services)
        self.defaults = targets or Targets()
        self.goals = TargetHandler(services, Goal(self.defaults.satisfaction, self.defaults.on_time))
        self.delivery = LeaderDelivery(services)

    def targets(self, unit: Unit) -> Targets:
        """The unit's targets, else the configured ones."""
        return Targets(
            unit.target_satisfaction if unit.target_satisfaction is not None else self.defaults.satisfaction,
            unit.target_on_time if unit.target_on_time is not None else self.defaults.on_time,
        )

    async def _section(
        self,
        unit: Unit,
        unit_ids: list[int],
        period: Period,
        children: bool,
        breakdowns: bool = False,
        uow: UnitOfWork | None = None,
    ) -> Section:
        report = await self.reporter.of_unit(
            unit, unit_ids, period, include_children=children, breakdowns=breakdowns, uow=uow
        )
        return Section(period, report)

    async def build(
        self,
        unit_code: str,
        today: date,
        kind: str = "day",
        locale: str = "vi",
        *,
        with_chart: bool = True,
        include_children: bool = False,
        chart_format: str = "png",
    ) -> Digest:
        """The digest of ``unit_code`` on ``today``: the day (and the month to date), or another period.

        Its figures cover the unit alone unless ``include_children`` (the same default as every report);
        the units below it are ranked apart either way.
        """
        # every figure of the digest read on one read-only unit of work: dozens of small reports, where a
        # connection each would cost more round trips than their queries
        async with self.services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(unit_code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=unit_code)
            children = await uow.units.children(unit.id)
            unit_ids = await uow.units.subtree_ids(unit.id) if include_children else [unit.id]
            figures = await self._figures(uow, unit, unit_ids, kind, today, include_children)
        if children:
            ranking = await self._children(children, figures.weakest_from.period, include_children)
            figures = replace(figures, children=ranking)
        text = DigestText(self.services, locale).text(figures)
        chart = await self.chart(unit, unit_ids, today, figures.targets, locale, chart_format) if with_chart else b""
        return Digest(unit, kind, today, text, chart, figures.current, figures.previous)

    async def _figures(
        self, uow: UnitOfWork, unit: Unit, unit_ids: list[int], kind: str, today: date, include_children: bool
    ) -> DigestFigures:
        """Every figure and list of the digest, read on ``uow`` (the units below come apart)."""
        current_period, previous_period = self.periods(kind, today)
        current = await self._section(unit, unit_ids, current_period, include_children, kind != "day", uow)
        previous = await self._section(unit, unit_ids, previous_period, include_children, uow=uow)
        month: tuple[Section, Section] | None = None
        if kind == "day":  # the morning digest also gives the month so far
            now, before = self.periods("month", today)
            month = (
                await self._section(unit, unit_ids, now, include_children, True, uow),
                await self._section(unit, unit_ids, before, include_children, uow=uow),
            )
        book = await self.goals.book(unit, uow)
        day_start = self.services.policy.day_start
        as_of = day_start(today)
        overdue = Listed(*await uow.digests.overdue(unit_ids, as_of, LIST_LIMIT))
        late = Listed(*await uow.digests.late_without_apology(unit_ids, as_of, LIST_LIMIT))
        window = day_start(current_period.start), day_start(current_period.end + timedelta(days=1))
        complaints = Listed(*await uow.digests.feedback_between(unit_ids, *window, 5))
        handled = await uow.feedback.counts(unit_ids, *window)
        comments = Listed(
            *await uow.survey_comments.between(unit_ids, current_period.start, current_period.end, LIST_LIMIT)
        )
        backlog = await uow.leader_figures.complaint_backlog(unit_ids, as_of)
        new_dues = await uow.leader_figures.new_due_dates(unit_ids, [r.code for r in overdue.shown])
        return DigestFigures(
            unit=unit,
            kind=kind,
            today=today,
            current=current,
            previous=previous,
            month=month,
            targets=self.targets(unit),
            book=book,
            overdue=overdue,
            new_dues=new_dues,
            late=late,
            complaints=complaints,
            handled=handled,
            comments=comments,
            backlog=backlog,
            children=[],
        )

    async def _children(
        self, children: list[Unit], period: Period, include_children: bool
    ) -> list[tuple[Unit, Section]]:
        """Each unit below with its figures for ``period`` (with the units below it if ``include_children``)."""
        async with self.services.uow(read_only=True) as uow:
            subtrees = [await uow.units.subtree_ids(child.id) if include_children else [child.id] for child in children]
        sections = await asyncio.gather(
            *(
                self._section(child, ids, period, include_children)
                for child, ids in zip(children, subtrees, strict=True)
            )
        )
        return list(zip(children, sections, strict=True))

    async def chart(
        self, unit: Unit, unit_ids: list[int], today: date, targets: Targets, locale: str, image_format: str = "png"
    ) -> bytes:
        """The last 30 days to yesterday, each day the rolling 7 days that end on it (a PNG, or ``image_format``)."""
        return await digest_chart(self.services, unit, unit_ids, today, targets, locale, image_format)

    async def queue(self, digest: Digest, now: datetime, *, repeat: bool = False) -> int:
        """Queue the digest (text, then chart) to each of the unit's leaders; how many were sent it.

        A leader gets one digest per unit and day, whoever asks how often (the dedupe keys say so);
        ``repeat`` is for ``/baocao``, which a leader may ask for again.
        """
        services, delivery = self.services, self.delivery
        period = f"{digest.kind}:{digest.day.isoformat()}"
        name = f"ban-tin-{digest.unit.code}-{digest.day:%Y%m%d}.png"
        async with services.uow() as uow:
            chart = digest.chart
            stored = await delivery.keep(uow, "digest_chart", digest.unit.id, period, name, "image/png", chart, now)
            sent = 0
            for chat in await delivery.leaders(uow, digest.unit.id):
                for part, reply in enumerate(delivery.replies(digest.text, stored, chat.locale)):
                    key = None if repeat else f"digest:{period}:{digest.unit.code}:{chat.id}:{part}"
                    queued = await uow.outbox.to_chat(chat, reply.to_payload(), now, dedupe_key=key)
                    sent += int(queued and part == 0)
            if digest.kind == "day" and not repeat:
                # the day's survey comments still waiting go to the one-stop-shop leads (the leaders read them above)
                await SurveyComments(services).release_leftovers(uow, digest.unit.id, digest.current.period.end, now)
            await uow.commit()
        return sent

    async def send_due(self, claim: Any, now: datetime | None = None) -> int:
        """The digests whose time has come today, each claimed for (day, unit); how many units were sent one.

        ``claim(job, period, scope, work)`` is the scheduler's claim (it runs ``work`` unless the run was done).
        """
        now = now or self.services.clock()
        day = self.services.policy.digest_day(now)
        if day is None:
            return 0
        sent = 0
        for unit in await self.delivery.units_with_leaders():

            async def work(unit: Unit = unit) -> None:
                digest = await self.build(unit.code, day, "day")
                await self.queue(digest, now)

            if await claim("digest", day.isoformat(), f"unit:{unit.code}", work):
                sent += 1
        return sent
