"""Survey invitations nobody asked for in chat: sent when due, reminded once, expired after the window."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from handlers.citizen.buttons import StartSurvey
from handlers.citizen.ratings import RATING_FORM, tracking_id
from handlers.citizen.survey import first_question, render_question
from handlers.context import Services
from handlers.messages import Option, Reply
from handlers.texts import Texts
from storage.uow import UnitOfWork
from storage.values import Chat, Invitation, Person

BATCH = 500


async def open_invitation(
    services: Services, uow: UnitOfWork, invitation: Invitation, chat: Chat, now: datetime
) -> list[Reply]:
    """Mark the invitation offered on ``chat``; its first messages: the form's intro, then the first question."""
    form = services.catalog.get(invitation.form_id, invitation.form_version)
    dossier = await uow.dossiers.get(invitation.dossier_id)
    question = first_question(form, {})
    assert question is not None, "a form has at least one question"
    await uow.invitations.update(
        invitation.id,
        status="sent",
        sent_at=now,
        channel=chat.channel,
        cursor=question.code,
        expires_at=now + services.policy.invitation_ttl,
    )
    texts, locale = services.texts, chat.locale
    returned = services.policy.show_date(dossier.returned_at) if dossier.returned_at else ""
    intro = "\n\n".join(
        [
            form.title.get(locale),
            texts(locale, "survey.about", procedure=dossier.procedure_name, returned=returned),
            form.intro.get(locale),
        ]
    )
    turn = await uow.invitations.take_turn(invitation.id)
    first = render_question(form, question, {}, texts, locale, invitation.id, turn=turn or 0)
    return [Reply(intro, heading=True), dataclasses.replace(first, fresh=True)]


def with_start_button(texts: Texts, locale: str, text: str) -> Reply:
    """``text`` with the "Bắt đầu khảo sát" button (or, without buttons, how to start by typing)."""
    return Reply(
        text=text,
        options=(Option(StartSurvey("start").encode(), texts(locale, "survey.start_button"), 1),),
        hint=texts(locale, "survey.start_hint"),
    )


def reachable(chats: list[Chat]) -> Chat | None:
    """The chat to use for a person: the oldest consented one that can still be reached."""
    return next((c for c in chats if c.status == "active" and c.consent_at is not None), None)


class InvitationHandler:
    """The periodic survey work the scheduler runs: send due invitations, remind once, expire."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def send_due(self, now: datetime | None = None) -> int:
        """Offer every invitation whose time has come, outside quiet hours; the number offered.

        Works through them a batch (one transaction) at a time until none is left to act on.
        """
        services = self.services
        now = now or services.clock()
        if services.policy.is_quiet(now):
            return 0
        sent = 0
        while True:
            examined, offered, cancelled = await self._send_batch(now)
            sent += offered
            if examined < BATCH or not (offered or cancelled):
                return sent

    async def _send_batch(self, now: datetime) -> tuple[int, int, int]:
        """One batch of due invitations: (examined, offered, cancelled).

        The channel is chosen from what the person has: a linked chat (Telegram or Zalo) first, else a
        ZNS rating by phone when ZNS is configured and the applicant agreed to Zalo notices.
        """
        services = self.services
        offered = cancelled = 0
        by_phone = services.policy.zns_rating_template is not None
        async with services.uow() as uow:
            due = await uow.invitations.due(now, BATCH, by_phone=by_phone)
            for invitation in due:
                assert invitation.person_id is not None
                person = await uow.people.get(invitation.person_id)
                if person.opted_out_at is not None:
                    await uow.invitations.update(invitation.id, status="cancelled", closed_at=now)
                    cancelled += 1
                    continue
                chat = reachable(await uow.chats.for_person(invitation.person_id))
                if chat is not None:
                    opening = await open_invitation(services, uow, invitation, chat, now)
                    for part, reply in enumerate(opening):
                        await uow.outbox.to_chat(
                            chat,
                            reply.to_payload(),
                            now,
                            invitation_id=invitation.id,
                            dedupe_key=f"invite:{invitation.id}:{chat.id}:{part}",
                        )
                    offered += 1
                elif by_phone and person.phone is not None and await self._by_phone(uow, invitation, person, now):
                    offered += 1
            await uow.commit()
        return len(due), offered, cancelled

    async def _by_phone(self, uow: UnitOfWork, invitation: Invitation, person: Person, now: datetime) -> bool:
        """Offer the invitation as a ZNS rating template; False when the dossier's applicant did not agree."""
        services = self.services
        dossier = await uow.dossiers.get(invitation.dossier_id)
        if not dossier.zalo_optin or person.phone is None or services.policy.zns_rating_template is None:
            return False
        form = services.catalog.get(RATING_FORM)
        returned = dossier.returned_at or now
        reply = Reply(
            text=services.texts("vi", "zns.rating_summary", procedure=dossier.procedure_name, code=dossier.code),
            template={
                "template_id": services.policy.zns_rating_template,
                "tracking_id": tracking_id(invitation.id),
                "data": {
                    "ho_ten": person.name or "Ông/Bà",
                    "ma_ho_so": dossier.code,
                    "thu_tuc": dossier.procedure_name[:100],
                    "ngay_tra": services.policy.show_date(returned),
                },
            },
        )
        await uow.invitations.update(
            invitation.id,
            status="sent",
            sent_at=now,
            channel="zns",
            form_id=form.id,
            form_version=form.version,
            cursor=None,
            expires_at=now + services.policy.invitation_ttl,
        )
        await uow.outbox.add(
            "zns", person.phone, reply.to_payload(), now, invitation_id=invitation.id, dedupe_key=f"zns:{invitation.id}"
        )
        return True

    async def send_reminders(self, now: datetime | None = None) -> int:
        """Remind, once, everyone whose survey is still open a day after it was offered."""
        services = self.services
        now = now or services.clock()
        if services.policy.is_quiet(now):
            return 0
        reminded = 0
        async with services.uow() as uow:
            for invitation in await uow.invitations.to_remind(now - services.policy.reminder_after, BATCH):
                await uow.invitations.update(invitation.id, reminded_at=now)
                if invitation.person_id is None:
                    continue
                chat = reachable(await uow.chats.for_person(invitation.person_id))
                if chat is None:
                    continue
                dossier = await uow.dossiers.get(invitation.dossier_id)
                text = services.texts(
                    chat.locale,
                    "survey.reminder",
                    procedure=dossier.procedure_name,
                    expires=services.policy.show(invitation.expires_at),
                )
                reply = with_start_button(services.texts, chat.locale, text)
                await uow.outbox.to_chat(
                    chat, reply.to_payload(), now, invitation_id=invitation.id, dedupe_key=f"remind:{invitation.id}"
                )
                reminded += 1
            await uow.commit()
        return reminded

    async def expire(self, now: datetime | None = None) -> int:
        """Close every survey past its window; the number closed."""
        now = now or self.services.clock()
        async with self.services.uow() as uow:
            closed = await uow.invitations.expire(now)
            await uow.commit()
        return closed
