"""The jobs that warn people in time (run by the scheduler): dossiers at risk of running late, promises missed.

Staff are warned twice at most about a dossier that may run late, with a button that starts its apology;
leaders are told at once when a promised new date passed. Each warning is claimed per dossier, so whichever
run (or instance) finds it first sends it, once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from handlers.context import Services
from handlers.messages import Option, Reply
from handlers.staff.apology_rule import ApologyRule
from handlers.staff.buttons import ApologyButton
from handlers.staff.officers import LEADER_ROLES, masked_citizen, staff_to_tell, texts_for, units_above

log = logging.getLogger(__name__)


def _working_days_between(calendar: Any, first: date, last: date) -> int:
    """The working days from ``first`` to ``last``, both included (0 when ``last`` is before ``first``)."""
    if last < first:
        return 0
    count = int(calendar.is_working_day(first))
    for day in calendar.working_days_after(first):
        if day > last:
            break
        count += 1
    return count


class Alerts:
    """The jobs that warn people in time: dossiers at risk of running late, promised dates missed."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def scan_at_risk(self, now: datetime | None = None) -> int:
        """Warn about unresolved dossiers that may run late, twice each at most; how many warnings went.

        The last permitted day of a dossier is the working day before its due date (an apology after it is
        not in time). The first warning (``at_risk``) goes when ``policy.apology_warn_working_days`` working
        days or fewer are left to apologise in time, counting today and the last permitted day; the second
        (``at_risk_last``) on the last permitted day itself — or at once when that day has passed. The first
        goes on a working day only. Each is claimed per dossier, so whichever run (or instance) finds it first
        sends it, once.
        """
        services = self.services
        now = now or services.clock()
        policy, calendar = services.policy, services.calendar
        rule = ApologyRule(services)
        today = policy.local_date(now)
        warn_days = max(1, policy.apology_warn_working_days)
        # a last permitted day at most ``warn_days`` working days ahead means a due date no later than the
        # working day after it: due before the day after the (warn_days + 1)-th working day from today
        ahead = list(islice(calendar.working_days_after(today), warn_days + 1))
        due_before = policy.day_start(ahead[-1] + timedelta(days=1))
        warned = 0
        async with services.uow() as uow:
            for dossier_id in await uow.alerts.at_risk(due_before, 500, kinds=("at_risk_last",)):
                dossier = await uow.dossiers.get(dossier_id)
                last_day = rule.last_permitted_day(dossier)
                left = _working_days_between(calendar, today, last_day)
                if today >= last_day:
                    # the last day (or later): the first warning is not sent any more once this one is
                    if not await uow.alerts.claim(dossier_id, "at_risk_last", now):
                        continue
                    await uow.alerts.claim(dossier_id, "at_risk", now)
                    key = (
                        "risk.overdue"
                        if dossier.due_at < now
                        else "risk.last_day"
                        if today == last_day
                        else "risk.late"
                    )
                    stage = "last"
                elif left <= warn_days and calendar.is_working_day(today):  # read when there is time to act
                    if not await uow.alerts.claim(dossier_id, "at_risk", now):
                        continue
                    key, stage = "risk.warning", "first"
                else:
                    continue
                applicant = await uow.people.get(dossier.applicant_id) if dossier.applicant_id else None
                for staff in await staff_to_tell(uow, dossier, dossier.unit_id):
                    t = texts_for(services, staff.chat.locale)
                    text = t(
                        key,
                        code=dossier.code,
                        procedure=dossier.procedure_name,
                        applicant=masked_citizen(applicant),
                        due=policy.show_date(dossier.due_at),
                        handler=dossier.handler or "—",
                        last_day=f"{last_day:%d/%m/%Y}",
                        left=left,
                    )
                    start = Option(
                        ApologyButton(dossier.id, "s").encode(), t("risk.button"), 1, t("risk.typed", code=dossier.code)
                    )
                    reply = Reply(text, options=(start,), heading=True)
                    await uow.outbox.to_chat(
                        staff.chat,
                        reply.to_payload(),
                        now,
                        dedupe_key=f"risk:{stage}:{dossier.id}:{staff.chat.id}",
                    )
                warned += 1
            await uow.commit()
        if warned:
            log.info("at-risk scan: %d warning(s) about dossiers at risk", warned)
        return warned

    async def scan_promises(self, now: datetime | None = None) -> int:
        """Tell the unit's leaders at once about every promised new date that passed; how many."""
        services = self.services
        now = now or services.clock()
        told = 0
        async with services.uow() as uow:
            for dossier_id in await uow.alerts.promises_missed(now, 500):
                if not await uow.alerts.claim(dossier_id, "promise_missed", now):
                    continue
                dossier = await uow.dossiers.get(dossier_id)
                apology = await uow.dossiers.apology(dossier.id)
                assert apology is not None
                assert apology.new_due_at is not None
                leaders = await uow.roles.chats(await units_above(uow, dossier.unit_id), LEADER_ROLES)
                for leader in {s.chat.id: s for s in leaders}.values():
                    t = texts_for(services, leader.chat.locale)
                    text = t(
                        "promise.missed",
                        code=dossier.code,
                        procedure=dossier.procedure_name,
                        new_due=services.policy.show_date(apology.new_due_at),
                        number=apology.number,
                        handler=dossier.handler or "—",
                    )
                    await uow.outbox.to_chat(
                        leader.chat, Reply(text).to_payload(), now, dedupe_key=f"promise:{dossier.id}:{leader.chat.id}"
                    )
                told += 1
            await uow.commit()
        return told
