"""Survey comments, kept apart from who wrote them and released to the unit's leaders in aggregate.

The survey is anonymous to the people it rates (README): a comment written in a survey (the free
comment at the end, a ZNS rating's note) is kept with its unit and the local day only — no person,
dossier, officer or time of day — with personal data masked. It never reaches the officer who handled the
dossier. It is released, as one batch for the unit and the day, to the unit's leaders and one-stop-shop
leads when the ``RELEASE_AFTER``-th survey of the unit closes that day (one batch per unit and day, claimed in
``job_runs``; each comment is released once). Comments written after the batch, or on a day with fewer
surveys, wait for the next morning's digest, which lists all the day's comments; the leads get those then.
A citizen who wants an answer files a complaint instead, by an explicit step (handlers.citizen.complaints).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from handlers.context import Services
from handlers.messages import Reply
from handlers.privacy import redact
from handlers.staff.officers import LEADER_ROLES, STAFF_ROLES, units_above
from storage.uow import UnitOfWork
from storage.values import Chat

RELEASE_AFTER = 5  # surveys of the unit closed the same day before its comments go out during the day
COMMENT_LIMIT = 1000
BATCH_JOB = "survey_comments"  # claimed in job_runs once per unit and day


class SurveyComments:
    """Keeps survey comments unlinked and releases them to leaders and leads."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def keep(
        self, uow: UnitOfWork, unit_id: int, closed_at: datetime, text: str, names: list[str | None], code: str | None
    ) -> None:
        """Keep ``text`` for the unit and the local day of ``closed_at``, personal data and the dossier code masked."""
        cleaned = redact(text, names=names).strip()
        if code:
            cleaned = cleaned.replace(code, "…")
        if cleaned:
            day = self.services.policy.local_date(closed_at)
            await uow.survey_comments.add(unit_id, day, cleaned[:COMMENT_LIMIT])

    async def release_if_due(self, uow: UnitOfWork, unit_id: int, now: datetime) -> int:
        """Release today's waiting comments when enough of the unit's surveys closed today; how many went."""
        policy = self.services.policy
        day = policy.local_date(now)
        closed = await uow.survey_comments.surveys_closed(
            unit_id, policy.day_start(day), policy.day_start(day + timedelta(days=1))
        )
        if closed < RELEASE_AFTER:
            return 0
        # one batch per unit and day: a comment written after it would otherwise go out alone, at its own time
        period, scope = day.isoformat(), f"unit:{unit_id}"
        if not await uow.jobs.claim(BATCH_JOB, period, scope, "survey", now):
            return 0
        await uow.jobs.finish(BATCH_JOB, period, scope, "done", None, now)
        return await self._release(uow, unit_id, day, now, leaders=True, closed=closed)

    async def release_leftovers(self, uow: UnitOfWork, unit_id: int, day: date, now: datetime) -> int:
        """Give the leads the comments of ``day`` still waiting (the leaders read them in the digest)."""
        return await self._release(uow, unit_id, day, now, leaders=False, closed=None)

    async def _release(
        self, uow: UnitOfWork, unit_id: int, day: date, now: datetime, *, leaders: bool, closed: int | None
    ) -> int:
        texts = await uow.survey_comments.release(unit_id, day, now)
        if not texts:
            return 0
        unit = await uow.units.get(unit_id)
        at = self.services.policy.allowed_at(now)  # unsolicited: never in the quiet hours
        for chat in await self.recipients(uow, unit_id, leaders=leaders):
            t = self.services.texts
            key = "comments.batch" if closed is not None else "comments.leftover"
            lines = [t(chat.locale, key, unit=unit.name, day=f"{day:%d/%m/%Y}", count=len(texts), closed=closed or 0)]
            lines += [f"• “{text}”" for text in texts]
            await uow.outbox.add(
                chat.channel,
                chat.external_id,
                Reply("\n".join(lines), heading=True).to_payload(),
                now,
                identity_id=chat.id,
                not_before=at,
            )
        return len(texts)

    @staticmethod
    async def recipients(uow: UnitOfWork, unit_id: int, *, leaders: bool) -> list[Chat]:
        """The unit's own leaders (when ``leaders``) and the one-stop-shop leads of the unit and above."""
        chosen: dict[int, Chat] = {}
        if leaders:
            for s in await uow.roles.chats([unit_id], LEADER_ROLES):
                chosen.setdefault(s.chat.id, s.chat)
        for s in await uow.roles.chats(await units_above(uow, unit_id), STAFF_ROLES):
            if s.role.lead:
                chosen.setdefault(s.chat.id, s.chat)
        return list(chosen.values())
