"""Forgetting a citizen (docs/OPERATIONS.md §8): on their request (/xoadulieu), or when the retention period has passed.

The person's chats, contact data and free texts go; their ratings stay, detached from them, so the
statistics keep their counts. So does every copy kept elsewhere: the messages sent to their chats and phone
(deleted, sent or not), the printed slips (dropped; their public links stop working), and their name and
phone number wherever else they were written (slips' reasons, event notes, answers to their feedback, survey
comments, drafts, audit details, messages to officers, workbooks kept for leaders: cleaned, handlers.citizen.traces).
Every erasure is in the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from handlers.citizen.traces import Traces
from handlers.context import Services
from handlers.staff.officers import units_above
from storage.erasure import DossierTrace
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

OPEN = ("pending", "sent", "started")
BATCH = 500


async def erase_person(uow: UnitOfWork, person_id: int, now: datetime, actor: str, reason: str) -> None:
    """Erase a person inside ``uow``: chats, contact data, what they wrote; ratings kept anonymous."""
    await erase_people(uow, [person_id], now, actor, reason)


async def erase_people(uow: UnitOfWork, person_ids: Sequence[int], now: datetime, actor: str, reason: str) -> None:
    """Erase people inside ``uow``, and every copy of their name, phone and chats kept anywhere.

    Their own rows go or are blanked (chats, what they wrote, contact data; the person row stays, empty, so
    that statistics keep their counts). The copies elsewhere are deleted (messages to their chats and phone)
    or cleaned (slips, reasons, notes, officers' messages, workbooks kept for leaders): see ``clean_copies``.
    """
    people = await uow.people.by_ids(person_ids)
    if not people:
        return
    traces = Traces.of([p.name for p in people], [p.phone for p in people])
    since = await uow.erasure.known_since([p.id for p in people])
    dossiers = list({d.id: d for p in people for d in await uow.erasure.dossiers_of(p.id)}.values())
    for person in people:
        for invitation in await uow.invitations.for_person(person.id, OPEN):
            await uow.invitations.update(invitation.id, status="cancelled", cursor=None, closed_at=now)
        await uow.answers.clear_texts_of_person(person.id)
        await uow.feedback.forget_texts_of_person(person.id)
        await uow.invitations.detach_person(person.id)
        for chat in await uow.chats.for_person(person.id):
            await uow.erasure.delete_messages_to(chat.channel, chat.external_id)  # sent or not
            await uow.erasure.forget_events_naming(chat.channel, chat.external_id)
            await uow.inbox.forget_chat(chat.channel, chat.external_id)
            await uow.chats.delete(chat.id)
        if person.phone:
            await uow.erasure.delete_messages_to("zns", person.phone)  # template messages go by phone number
    await clean_copies(uow, traces, dossiers, since, [f"person:{p.id}" for p in people])
    await uow.link_codes.drop_for_dossiers([d.id for d in dossiers])  # the receipt's code links nobody any more
    for person in people:
        await uow.people.erase(person.id, now)
        await uow.audit.add(actor, "erase", f"person:{person.id}", {"reason": reason}, now)


async def clean_copies(
    uow: UnitOfWork, traces: Traces, dossiers: Sequence[DossierTrace], since: datetime, subjects: Sequence[str]
) -> None:
    """Take the people's traces out of what was kept about them since ``since`` (when their data came in).

    Slips of their dossiers are dropped and published under new tokens (the old links stop working; asked for
    again, a slip is printed afresh, without the name); reasons, event notes, answers to feedback, survey
    comments, drafts, audit details, updates set aside, messages to officers and kept workbooks are cleaned in place.
    """
    ids = [d.id for d in dossiers]
    erasure = uow.erasure
    for row in await erasure.apology_reasons(ids):
        await erasure.withdraw_slip(row.id, secrets.token_urlsafe(16), traces.clean(row.value))
    for row in await erasure.event_notes(ids):
        if (note := traces.clean(row.value)) != row.value:
            await erasure.set_event_note(row.id, note)
    for row in await erasure.feedback_answers(ids):
        if (answer := traces.clean(row.value)) != row.value:
            await erasure.set_feedback_answer(row.id, answer)
    units = sorted({u for d in dossiers for u in await units_above(uow, d.unit_id)})
    for row in await erasure.survey_comments(units, (since - timedelta(days=1)).date()):
        if (comment := traces.clean(row.value)) != row.value:
            await erasure.set_survey_comment(row.id, comment)
    for row in await erasure.drafts():
        if (data := traces.clean_value(row.value)) != row.value:
            await erasure.set_draft(row.id, data)
    for row in await erasure.audit_details([*subjects, *(f"dossier:{d.code}" for d in dossiers)]):
        if (detail := traces.clean_value(row.value)) != row.value:
            await erasure.set_audit_detail(row.id, detail)
    for row in await erasure.kept_updates():  # another chat's update set aside may quote them
        if (payload := traces.clean_value(row.value)) != row.value:
            await erasure.set_kept_update(row.id, payload)
    after = 0
    while batch := await erasure.officers_messages(since, after):
        for row in batch:
            if (payload := traces.clean_value(row.value)) != row.value:
                await erasure.set_message_payload(row.id, payload)
        after = batch[-1].id
    for row in await erasure.kept_workbooks(units, since):
        cleaned = await asyncio.to_thread(traces.clean_workbook, row.value)
        if cleaned is not None:
            await erasure.set_file_content(row.id, cleaned)


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
                await erase_people(uow, expired, now, "retention", "retention")
                await uow.commit()
            erased += len(expired)
            if len(expired) < BATCH:
                break
        if erased:
            log.info("retention: contact data of %d people erased", erased)
        return erased
