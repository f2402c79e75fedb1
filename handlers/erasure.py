"""Forgetting a citizen (SPEC.md §8): on their request (/xoadulieu), or when the retention period has passed.

The person's chats, contact data and free texts go; their ratings stay, detached from them, so the
statistics keep their counts. Every erasure is in the audit log.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from handlers.context import Services
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

OPEN = ("pending", "sent", "started")
BATCH = 500


async def erase_person(uow: UnitOfWork, person_id: int, now: datetime, actor: str, reason: str) -> None:
    """Erase a person inside ``uow``: chats, contact data, what they wrote; ratings kept anonymous."""
    for invitation in await uow.invitations.for_person(person_id, OPEN):
        await uow.invitations.update(invitation.id, status="cancelled", cursor=None, closed_at=now)
    await uow.answers.clear_texts_of_person(person_id)
    await uow.feedback.forget_texts_of_person(person_id)
    await uow.invitations.detach_person(person_id)
    for chat in await uow.chats.for_person(person_id):
        await uow.outbox.cancel_for_recipient(chat.channel, chat.external_id)
        await uow.inbox.forget_chat(chat.channel, chat.external_id)
        await uow.chats.delete(chat.id)
    await uow.people.erase(person_id, now)
    await uow.audit.add(actor, "erase", f"person:{person_id}", {"reason": reason}, now)


class Retention:
    """Contact data of closed dossiers, purged after the retention period (SIPAS_RETENTION_DAYS)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def purge(self, now: datetime | None = None) -> int:
        """Erase everyone whose dossiers all closed more than the retention period ago; how many."""
        services = self.services
        now = now or services.clock()
        cutoff = now - timedelta(days=services.policy.retention_days)
        erased = 0
        while True:
            async with services.uow() as uow:
                expired = await uow.people.expired(cutoff, BATCH)
                for person_id in expired:
                    await erase_person(uow, person_id, now, "retention", "retention")
                await uow.commit()
            erased += len(expired)
            if len(expired) < BATCH:
                break
        if erased:
            log.info("retention: contact data of %d people erased", erased)
        return erased
