"""Complaints for a unit: recorded from a citizen's chat or rating, its officers told at once, answered or closed.

An officer answers or closes a complaint with the buttons under it, or typed (``/traloi <n> [nội dung]``,
``/dong <n>``, n being the number after its "#"); ``/phananh`` lists the open ones. The answer reaches the
citizen's chats in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers import limits
from handlers.chat.turn import ChatTurn
from handlers.context import Services
from handlers.messages import Option, Reply, nfc, row_id
from handlers.privacy import redact
from handlers.staff import steps
from handlers.staff.buttons import ComplaintButton
from handlers.staff.officers import STAFF_ROLES, masked_citizen, staff_to_tell, texts_for, units_below
from handlers.staff.steps import ANSWER_LIMIT
from storage.uow import UnitOfWork
from storage.values import Dossier, Feedback, Role


class Complaints:
    """Answering and closing feedback from the chat."""

    def __init__(self, services: Services, turn: ChatTurn, roles: list[Role]) -> None:
        self.services, self.turn, self.roles = services, turn, roles

    async def _feedback(self, feedback_id: int) -> Feedback | None:
        feedback = await self.turn.uow.feedback.get(feedback_id)
        if feedback is None or feedback.unit_id not in await units_below(self.turn.uow, self.roles, STAFF_ROLES):
            return None
        return feedback

    async def list_open(self) -> None:
        """``/phananh``: the open complaints of the officer's units, each with its buttons."""
        turn = self.turn
        units = await units_below(turn.uow, self.roles, STAFF_ROLES)
        open_ = await turn.uow.feedback.open_for(units, 10)
        if not open_:
            turn.say("feedback.none")
            return
        turn.replies.append(Reply(turn.t("feedback.list", count=len(open_)), hint=turn.t("feedback.list_hint")))
        for feedback in open_:
            turn.replies.append(await self.card(feedback))

    async def card(self, feedback: Feedback) -> Reply:
        """One complaint as staff see it (the text redacted), with its buttons."""
        turn = self.turn
        dossier = await turn.uow.dossiers.get(feedback.dossier_id) if feedback.dossier_id else None
        text = turn.t(
            "feedback.item",
            id=feedback.id,
            created=self.services.policy.show(feedback.created_at),
            status=turn.t(f"feedback.status.{feedback.status}"),
            code=dossier.code if dossier else turn.t("feedback.no_dossier"),
            text=redact(feedback.text),
        )
        return Reply(text, options=feedback_buttons(turn.t, feedback.id))

    async def on_button(self, button: ComplaintButton | None) -> None:
        """A complaint's button (None: data no complaint button carries now)."""
        turn = self.turn
        feedback = await self._feedback(button.feedback) if button is not None else None
        if button is None or feedback is None or feedback.status == "closed":
            turn.ack = turn.t("feedback.stale")
            return
        if button.action == "r":
            await self.ask_answer(feedback)
        else:
            await self.close(feedback)

    async def on_typed(self, action: str, args: str) -> None:
        """``/traloi <n> [nội dung]``, ``/dong <n>``: what the buttons of complaint #n do, typed.

        The number is the complaint's own (the one after its "#"), so it is the same in the list, in the
        notice of a new complaint and in any later message; another unit's is not found, as a wrong one is.
        """
        turn = self.turn
        number, _, text = args.partition(" ")
        feedback_id = row_id(number.removeprefix("#"))
        if feedback_id is None:
            turn.say("feedback.usage.reply" if action == "answer" else "feedback.usage.close")
            return
        if limits.refuses(turn, "lookup"):
            return
        feedback = await self._feedback(feedback_id)
        if feedback is None:
            limits.failed(turn, "lookup")  # a number typed wrong, or probed: counted against the chat
            turn.say("feedback.not_found", id=feedback_id)
            return
        if feedback.status == "closed":
            turn.say("feedback.stale")
        elif action == "close":
            await self.close(feedback)
        elif text.strip():
            await self.on_answer(feedback.id, text.strip())
        else:
            await self.ask_answer(feedback)

    async def ask_answer(self, feedback: Feedback) -> None:
        """The answer's text comes next: the draft says which complaint it is for."""
        turn = self.turn
        assert turn.chat is not None
        await turn.uow.drafts.put(turn.chat.id, "reply", {"feedback_id": feedback.id}, turn.now)
        turn.say("feedback.reply_prompt", id=feedback.id)

    async def close(self, feedback: Feedback) -> None:
        """Close the complaint, in the audit log."""
        turn = self.turn
        assert turn.chat is not None
        await turn.uow.feedback.close(feedback.id, turn.now)
        await turn.uow.audit.add(f"chat:{turn.chat.id}", "feedback.close", f"feedback:{feedback.id}", None, turn.now)
        turn.say("feedback.closed", id=feedback.id)

    async def on_answer(self, feedback_id: int, text: str) -> None:
        """The answer typed: recorded and sent to the citizen's chats (the step asked again if it is no answer)."""
        turn, uow = self.turn, self.turn.uow
        assert turn.chat is not None
        await uow.drafts.drop(turn.chat.id)
        feedback = await self._feedback(feedback_id)
        if feedback is None or feedback.status == "closed":
            turn.say("feedback.stale")
            return
        if len(text) > ANSWER_LIMIT or not steps.has_words(text):  # the draft is kept: the step is asked again
            await uow.drafts.put(turn.chat.id, "reply", {"feedback_id": feedback.id}, turn.now)
            if len(text) > ANSWER_LIMIT:
                turn.say("feedback.answer_long", max=ANSWER_LIMIT)
            turn.replies.append(steps.expectation(turn, "reply", "reply", subject={"id": feedback.id}))
            return
        answer = text
        by = next((r.officer_name for r in self.roles if r.officer_name), None) or f"chat:{turn.chat.id}"
        await uow.feedback.answer(feedback.id, answer, by, turn.now)
        await uow.audit.add(f"chat:{turn.chat.id}", "feedback.answer", f"feedback:{feedback.id}", {"by": by}, turn.now)
        unit = await uow.units.get(feedback.unit_id)
        reached = 0
        if feedback.person_id is not None:
            for chat in await uow.chats.for_person(feedback.person_id):
                if chat.status not in ("active", "window_closed") or chat.consent_at is None:
                    continue
                message = self.services.texts(chat.locale, "feedback.answer_citizen", unit=unit.name, answer=answer)
                # the answer to the citizen's own complaint: before any bulk (docs/CHANNELS.md)
                await uow.outbox.to_chat(chat, Reply(message).to_payload(), turn.now, interactive=True)
                reached += 1
        turn.say("feedback.answered" if reached else "feedback.unreachable", id=feedback.id)


def feedback_buttons(t: Any, feedback_id: int) -> tuple[Option, ...]:
    """The buttons under a complaint: answer it, close it (typed, where there are no buttons: with its number)."""
    return (
        Option(
            ComplaintButton(feedback_id, "r").encode(),
            t("feedback.reply"),
            1,
            t("feedback.typed.reply", id=feedback_id),
        ),
        Option(
            ComplaintButton(feedback_id, "c").encode(),
            t("feedback.close"),
            2,
            t("feedback.typed.close", id=feedback_id),
        ),
    )


class Feedbacks:
    """Feedback for a unit, recorded from a citizen's chat or rating, and its officers told at once."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def record(
        self,
        uow: UnitOfWork,
        *,
        source: str,
        text: str,
        person_id: int | None,
        dossier: Dossier | None,
        unit_id: int,
        invitation_id: int | None,
        now: datetime,
    ) -> Feedback:
        """Keep the feedback and queue its notice to the staff who must answer it."""
        feedback = await uow.feedback.add(
            now,
            unit_id=unit_id,
            dossier_id=dossier.id if dossier else None,
            invitation_id=invitation_id,
            person_id=person_id,
            source=source,
            text=nfc(text)[:ANSWER_LIMIT],
        )
        unit = await uow.units.get(unit_id)
        person = await uow.people.get(person_id) if person_id is not None else None
        known = [person.name] if person is not None and person.name else []
        for staff in await staff_to_tell(uow, dossier, unit_id):
            t = texts_for(self.services, staff.chat.locale)
            message = t(
                "feedback.notify",
                id=feedback.id,
                unit=unit.name,
                code=dossier.code if dossier else t("feedback.no_dossier"),
                who=masked_citizen(person),
                text=redact(feedback.text, names=known),
            )
            reply = Reply(message, options=feedback_buttons(t, feedback.id))
            await uow.outbox.to_chat(
                staff.chat, reply.to_payload(), now, dedupe_key=f"feedback:{feedback.id}:{staff.chat.id}"
            )
        return feedback
