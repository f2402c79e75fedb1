"""Ratings that come back from a template message (a ZNS service-rating template), not from a chat.

A rating carries no person: only the ``tracking_id`` we gave the message (``sipas-<invitation id>``)
and the platform's message id. It is recorded once (a re-delivery or a second rating of the same
message changes nothing) as the answers of the invitation's ``danh-gia-ho-so`` form: the stars on the
overall item (docs/METHOD.md, the questionnaires: 1–2 → Không hài lòng, 3–4 → Hài lòng, 5 → Rất hài lòng), the chips and
the note as the comment. The comment is also kept as an unlinked survey comment (handlers.citizen.comments): it
never goes to the officer who handled the dossier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from handlers.citizen.comments import SurveyComments
from handlers.context import Services
from handlers.messages import row_id
from storage.uow import UnitOfWork
from storage.values import Invitation

log = logging.getLogger(__name__)

RATING_FORM = "danh-gia-ho-so"
OVERALL, COMMENT = "HL", "YK"
TRACKING_PREFIX = "sipas-"

RatingResult = Literal["recorded", "duplicate", "unknown", "closed"]


def tracking_id(invitation_id: int) -> str:
    """The tracking id of the template message of an invitation (kept across retries)."""
    return f"{TRACKING_PREFIX}{invitation_id}"


def stars_to_level(rate: int) -> str:
    """A 1–5 star rating on the three levels of ``danh-gia-ho-so`` (coded 2, 4, 5 on the SIPAS scale)."""
    if rate <= 2:
        return "2"
    return "4" if rate <= 4 else "5"


@dataclass(frozen=True)
class Rating:
    """A rating given on a template message."""

    message_id: str
    tracking_id: str | None
    rate: int
    chips: tuple[str, ...] = ()
    note: str | None = None

    @property
    def comment(self) -> str | None:
        """The chips and the note, as one comment."""
        parts = [*self.chips, *([self.note] if self.note else [])]
        return "; ".join(parts) or None


class RatingHandler:
    """Records template ratings and deliveries."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.comments = SurveyComments(services)

    async def _invitation(
        self, uow: UnitOfWork, channel: str, tracking: str | None, message_id: str
    ) -> Invitation | None:
        ours = tracking is not None and tracking.startswith(TRACKING_PREFIX)
        wanted = row_id(tracking[len(TRACKING_PREFIX) :]) if tracking is not None and ours else None
        if wanted is not None:
            return await uow.invitations.get(wanted)
        invitation_id = await uow.outbox.invitation_of(channel, message_id)
        return await uow.invitations.get(invitation_id) if invitation_id is not None else None

    async def record(self, channel: str, rating: Rating) -> RatingResult:
        """Record ``rating`` as the answers of its invitation, once."""
        services = self.services
        now = services.clock()
        async with services.uow() as uow:
            if not await uow.inbound.first_seen(channel, f"rating:{rating.message_id}", now):
                return "duplicate"
            invitation = await self._invitation(uow, channel, rating.tracking_id, rating.message_id)
            if invitation is None or invitation.channel != channel or invitation.form_id != RATING_FORM:
                await uow.commit()  # remembered, so a re-delivery is not looked up again
                log.warning(
                    "a %s rating for an unknown message (tracking id %r) was ignored", channel, rating.tracking_id
                )
                return "unknown"
            if invitation.status not in ("sent", "started"):
                await uow.commit()
                return "closed"
            await self._answer(uow, invitation, rating, now)
            await uow.commit()
        return "recorded"

    async def _answer(self, uow: UnitOfWork, invitation: Invitation, rating: Rating, now: datetime) -> None:
        dossier = await uow.dossiers.get(invitation.dossier_id)
        await uow.answers.upsert(invitation, dossier.field_id, OVERALL, stars_to_level(rating.rate), None, now)
        if rating.comment:
            await uow.answers.upsert(invitation, dossier.field_id, COMMENT, None, rating.comment, now)
        await uow.invitations.update(
            invitation.id,
            status="completed",
            cursor=None,
            started_at=invitation.started_at or now,
            completed_at=now,
            delivered_at=invitation.delivered_at or now,
        )
        if rating.comment:  # the chips and note given with the rating: a survey comment, kept unlinked
            person = await uow.people.get(invitation.person_id) if invitation.person_id is not None else None
            names = [person.name] if person is not None else []
            await self.comments.keep(uow, invitation.unit_id, now, rating.comment, names, dossier.code)
        await self.comments.release_if_due(uow, invitation.unit_id, now)

    async def delivered(self, channel: str, tracking: str | None, message_id: str | None) -> bool:
        """The platform says the template reached the phone: the invitation counts as delivered."""
        now = self.services.clock()
        async with self.services.uow() as uow:
            invitation = await self._invitation(uow, channel, tracking, message_id or "")
            if invitation is None or invitation.channel != channel:
                return False
            if invitation.delivered_at is None:
                await uow.invitations.update(invitation.id, delivered_at=now)
            await uow.commit()
        return True
