"""The survey invitation a returned dossier brings.

One per dossier, due after the delay and outside the quiet hours; cancelled while open when a supplement is asked
for or the dossier is cancelled; offered again when the dossier is returned anew and it was never sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.context import Services
from storage.uow import UnitOfWork
from storage.values import Dossier, Invitation, Unit


class SurveyInvitation:
    """Creates, cancels and renews a dossier's survey invitation inside the caller's unit of work."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def cancel(self, uow: UnitOfWork, dossier: Dossier, now: datetime) -> None:
        """Cancel the dossier's invitation while it is still open (a supplement asked for, a cancellation)."""
        invitation = await uow.invitations.for_dossier(dossier.id)
        if invitation is not None and invitation.status in ("pending", "sent", "started"):
            await uow.invitations.update(invitation.id, status="cancelled", cursor=None, closed_at=now)

    async def invite(self, uow: UnitOfWork, dossier: Dossier, returned_at: datetime, now: datetime) -> None:
        """Create the dossier's one invitation, due after the delay and outside the quiet hours."""
        person_id = dossier.respondent_id
        if person_id is None:
            return
        person = await uow.people.get(person_id)
        if person.opted_out_at is not None or person.erased_at is not None:
            return
        policy = self.services.policy
        scheduled_at = policy.allowed_at(returned_at + policy.survey_delay)
        existing: Invitation | None = await uow.invitations.for_dossier(dossier.id)
        if existing is not None:
            if existing.status == "cancelled" and existing.sent_at is None:
                await uow.invitations.update(
                    existing.id,
                    status="pending",
                    person_id=person_id,
                    scheduled_at=scheduled_at,
                    expires_at=scheduled_at + policy.invitation_ttl,
                    closed_at=None,
                )
            return
        unit = await uow.units.get(dossier.unit_id)
        await uow.invitations.add(now, dossier_id=dossier.id, person_id=person_id, **self.columns(unit, returned_at))

    def columns(self, unit: Unit, returned_at: datetime) -> dict[str, Any]:
        """A new invitation's form and times, for a dossier of ``unit`` returned at ``returned_at``."""
        policy = self.services.policy
        scheduled_at = policy.allowed_at(returned_at + policy.survey_delay)
        form = self.services.catalog.get(unit.form_id or policy.default_form)
        return {
            "unit_id": unit.id,
            "form_id": form.id,
            "form_version": form.version,
            "status": "pending",
            "scheduled_at": scheduled_at,
            "expires_at": scheduled_at + policy.invitation_ttl,
        }
