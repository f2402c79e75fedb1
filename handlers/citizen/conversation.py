"""What citizens do in any chat: link it after consent, answer the survey, opt out, erase their data.

Every inbound event is one transaction: the event id is recorded (a re-delivery changes nothing),
state changes, and the replies are written to the outbox; delivery happens after the commit.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from handlers import limits
from handlers.admin.roles import RoleDesk
from handlers.citizen import linking
from handlers.citizen.comments import SurveyComments
from handlers.citizen.erasure import erase_person
from handlers.citizen.invitations import open_invitation, with_start_button
from handlers.citizen.survey import (
    Back,
    Chosen,
    Interpretation,
    NotUnderstood,
    Skip,
    button_ref,
    fold,
    interpret,
    is_survey_word,
    next_question,
    option_words,
    previous_question,
    render_question,
    visible_questions,
)
from handlers.contacts import normalize_phone
from handlers.context import Services
from handlers.leader.desk import Digests, LeaderDesk
from handlers.messages import Inbound, Option, Outcome, Reply
from handlers.staff.desk import Feedbacks, StaffDesk
from handlers.texts import LOCALES
from storage.uow import UnitOfWork
from storage.values import Answer, Chat, Dossier, Invitation
from survey_forms.schema import Form, Question

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OPEN = ("sent", "started")
YES_WORDS = ("1", "dong y", "co", "yes", "agree", "ok")
NO_WORDS = ("2", "khong dong y", "khong", "no", "decline")
COMPLAINT_YES_WORDS = ("1", "co", "yes", "gui", "dong y", "ok")
COMPLAINT_NO_WORDS = ("2", "khong", "no", "thoi")
ERASE_YES_WORDS = ("1", "xoa", "xoa du lieu", "xoa du lieu cua toi", "dong y", "co", "yes", "erase")


class CitizenHandler:
    """Handles one inbound event from a citizen's chat."""

    def __init__(self, services: Services, digests: Digests | None = None) -> None:
        self.services = services
        self.desk = StaffDesk(services)
        self.leaders = LeaderDesk(services, digests or Digests(services))
        self.role_desk = RoleDesk(services)
        self.feedbacks = Feedbacks(services)
        self.comments = SurveyComments(services)

    @functools.cached_property
    def option_words(self) -> frozenset[str]:
        """Every option of every form as a person may type it: such a word is never filed as a complaint."""
        catalog = self.services.catalog
        return option_words(catalog.get(form_id) for form_id in catalog.ids())

    async def handle(self, inbound: Inbound) -> Outcome:
        """Handle ``inbound`` in one transaction and queue the replies to the same chat."""
        services = self.services
        now = services.clock()
        async with services.uow() as uow:
            if not await uow.inbound.first_seen(inbound.identity.channel, inbound.event_id, now):
                if inbound.kept_id is not None:  # handled before a crash, still kept: forgotten now
                    await uow.inbox.done(inbound.kept_id)
                    await uow.commit()
                return Outcome(duplicate=True)
            turn = _Turn(services, uow, inbound, now, self)
            await turn.run()
            for reply in turn.replies:
                await uow.outbox.add(
                    inbound.identity.channel,
                    inbound.identity.external_id,
                    reply.to_payload(),
                    now,
                    identity_id=turn.chat.id if turn.chat else None,
                    invitation_id=turn.invitation_id,
                    interactive=True,  # the person's own action: before any bulk (docs/CHANNELS.md)
                )
            if inbound.kept_id is not None:  # kept as read: forgotten in the transaction of its effects
                await uow.inbox.done(inbound.kept_id)
            await uow.commit()
        return Outcome(replies=tuple(turn.replies), ack=turn.ack)


class _Turn:
    """The handling of one inbound event."""

    def __init__(
        self, services: Services, uow: UnitOfWork, inbound: Inbound, now: datetime, handler: CitizenHandler
    ) -> None:
        self.services = services
        self.handler = handler
        self.texts = services.texts
        self.uow = uow
        self.inbound = inbound
        self.now = now
        self.chat: Chat | None = None
        self.locale = inbound.locale_hint if inbound.locale_hint in LOCALES else "vi"
        self.replies: list[Reply] = []
        self.ack: str | None = None
        self.invitation_id: int | None = None
        self.current: Invitation | None = None  # the person's current survey, as loaded with the chat
        self.current_field_id: int | None = None
        self.current_known = False
        self.claimed: dict[int, int] = {}  # invitation id -> the turn taken (by a press or a move), for the message

    # --- plumbing

    def say(self, key: str, **values: object) -> None:
        self.replies.append(Reply(self.texts(self.locale, key, **values)))

    def t(self, key: str, **values: object) -> str:
        return self.texts(self.locale, key, **values)

    def stale(self) -> None:
        """A press on a button that is no longer valid: say so (as the press's answer, or a reply) and do nothing."""
        self.ack = self.t("survey.stale")
        if not self.inbound.shows_ack:  # the platform shows no answer to a press: the notice comes as a message
            self.say("survey.stale")

    @property
    def linked(self) -> bool:
        return self.chat is not None and self.chat.person_id is not None and self.chat.consent_at is not None

    async def run(self) -> None:
        identity = self.inbound.identity
        found = await self.uow.chats.with_survey(identity.channel, identity.external_id)
        if found is not None:
            self.chat, self.current, self.current_field_id = found.chat, found.invitation, found.field_id
            self.current_known = True
            self.uow.drafts.know(found.chat.id, found.draft)  # the desks' draft checks ask nothing more
            self.locale = self.chat.locale
            if self.chat.status == "window_closed" and self.inbound.kind != "blocked":
                # the person wrote: the platform's reply window is open again
                await self.uow.chats.update(self.chat.id, self.now, status="active")
                self.chat = dataclasses.replace(self.chat, status="active")
        handler = self.handler
        if await handler.role_desk.takes(self) or await handler.desk.takes(self) or await handler.leaders.takes(self):
            return  # a staff member's or leader's command, button or draft
        if self.inbound.kind in ("blocked", "unblocked"):
            await self.on_reachability(self.inbound.kind == "blocked")
        elif self.inbound.kind == "unsupported":
            self.say("unsupported")
        elif self.inbound.kind == "contact":
            await self.on_contact(self.inbound.phone)
        elif self.inbound.kind == "choice":
            await self.on_choice(self.inbound.value)
        elif self.inbound.text.startswith("/"):
            await self.on_command(self.inbound.text)
        elif self.inbound.text:
            await self.on_text(self.inbound.text)

    async def refresh_chat(self) -> None:
        assert self.chat is not None
        self.chat = await self.uow.chats.get_by_id(self.chat.id)
        self.current_known = False

    async def on_reachability(self, blocked: bool) -> None:
        """The person blocked the bot (stop trying this chat) or came back (try it again)."""
        if self.chat is None:
            return
        channel, recipient = self.chat.channel, self.chat.external_id
        if blocked:
            await self.uow.chats.update(self.chat.id, self.now, status="unreachable")
            await self.uow.outbox.cancel_for_recipient(channel, recipient)
        elif self.chat.status == "unreachable":
            await self.uow.chats.update(self.chat.id, self.now, status="active")

    # --- commands

    async def on_command(self, text: str) -> None:
        name, _, args = text[1:].partition(" ")
        name = fold(name.split("@")[0])
        commands: dict[str, Callable[[str], Awaitable[None]]] = {
            "start": self.on_start,
            "khaosat": self.on_survey_command,
            "survey": self.on_survey_command,
            "huy": self.on_opt_out,
            "stop": self.on_opt_out,
            "xoadulieu": self.on_erase,
            "erase": self.on_erase,
            "trogiup": self.on_help,
            "help": self.on_help,
            "lang": self.on_lang,
            "language": self.on_lang,
        }
        handler = commands.get(name)
        if handler is None:
            self.say("unknown")
            return
        await handler(args.strip())

    async def on_help(self, _args: str) -> None:
        self.say("help")

    async def on_lang(self, args: str) -> None:
        wanted = fold(args)
        if wanted not in LOCALES:
            self.say("lang.usage")
            return
        self.locale = wanted
        if self.chat is not None:
            await self.uow.chats.update(self.chat.id, self.now, locale=wanted)
            if self.chat.person_id is not None:
                await self.uow.people.update(self.chat.person_id, locale=wanted)
        self.say("lang.done")

    async def on_start(self, token: str) -> None:
        if not token:
            if self.linked:
                self.say("help")
                await self.offer_waiting_survey()
            else:
                self.say("link.start_code")
            return
        code = linking.typed_code(token)
        if code is not None:  # the short code of digits, from the receipt or the linking page
            await linking.on_code(self, code)
            return
        if limits.refuses(self, "link"):
            return  # too many wrong links from this chat: not even looked up
        dossier = await self.uow.dossiers.get_by_token(token) if TOKEN_RE.fullmatch(token) else None
        if dossier is None or dossier.respondent_id is None or not await self.token_alive(dossier.id):
            limits.failed(self, "link")
            self.say("link.invalid")
            return
        await self.offer_link(dossier)

    async def offer_link(self, dossier: Dossier) -> None:
        """A token or code of ``dossier`` was given: the consent notice (or, linked already, a reminder)."""
        if self.linked and self.chat is not None and self.chat.person_id == dossier.respondent_id:
            self.say(
                "link.done",
                procedure=dossier.procedure_name,
                received=self.services.policy.show_date(dossier.received_at),
            )
            await self.offer_waiting_survey()
            return
        if self.chat is None:
            self.chat = await self.uow.chats.add(
                self.inbound.identity.channel, self.inbound.identity.external_id, self.locale, self.now
            )
        await self.uow.chats.update(self.chat.id, self.now, pending=f"token:{dossier.optin_token}")
        unit = await self.uow.units.get(dossier.unit_id)
        self.replies.append(
            Reply(
                self.t("consent.notice", unit=unit.name, retention_days=self.services.policy.retention_days),
                options=(Option("c:yes", self.t("consent.agree"), 1), Option("c:no", self.t("consent.decline"), 2)),
                hint=self.t("consent.hint"),
            )
        )

    async def token_alive(self, dossier_id: int) -> bool:
        """A token works until the dossier's survey window has closed."""
        return await linking.link_alive(self.uow, await self.uow.dossiers.get(dossier_id), self.now)

    async def on_consent(self, agreed: bool) -> None:
        assert self.chat is not None
        assert self.chat.pending is not None
        token = self.chat.pending.removeprefix("token:")
        if not agreed:
            await self.uow.chats.delete(self.chat.id)
            self.chat = None
            self.say("consent.declined")
            return
        dossier = await self.uow.dossiers.get_by_token(token)
        if dossier is None or dossier.respondent_id is None:
            await self.uow.chats.update(self.chat.id, self.now, pending=None)
            self.say("link.invalid")
            return
        await self.uow.chats.update(
            self.chat.id, self.now, person_id=dossier.respondent_id, status="active", consent_at=self.now, pending=None
        )
        await self.uow.people.update(dossier.respondent_id, locale=self.locale)
        await self.uow.audit.add(
            f"chat:{self.chat.id}",
            "consent",
            f"person:{dossier.respondent_id}",
            {"channel": self.chat.channel},
            self.now,
        )
        await self.refresh_chat()
        linked = self.t(
            "link.done", procedure=dossier.procedure_name, received=self.services.policy.show_date(dossier.received_at)
        )
        # where the channel can ask for the phone number, offer it: it links the person's other dossiers too
        self.replies.append(Reply(linked, request_contact=self.t("link.share_phone")))
        await self.offer_waiting_survey()

    async def offer_waiting_survey(self) -> None:
        assert self.chat is not None
        assert self.chat.person_id is not None
        # what can be answered here: a survey not offered yet, or one being asked in a chat (an open ZNS rating
        # has no question to ask in a chat)
        waiting = [
            invitation
            for invitation in await self.uow.invitations.for_person(self.chat.person_id, ("pending", *OPEN))
            if invitation.status == "pending" or invitation.cursor is not None
        ]
        if not waiting:
            return
        dossier = await self.uow.dossiers.get(waiting[0].dossier_id)
        text = self.t("survey.waiting", procedure=dossier.procedure_name)
        self.replies.append(with_start_button(self.texts, self.locale, text))

    async def on_contact(self, phone_text: str) -> None:
        if not self.linked or self.chat is None:
            self.say("link.not_linked")
            return
        try:
            phone = normalize_phone(phone_text)
        except ValueError:
            self.say("contact.none")
            return
        if limits.refuses(self, "link"):
            return
        person = await self.uow.people.find_by_phone(phone)
        dossiers = await self.uow.dossiers.open_for_phone(phone) if person else []
        if person is None or not dossiers:
            limits.failed(self, "link")
            self.say("contact.none")
            return
        await self.uow.chats.update(self.chat.id, self.now, person_id=person.id)
        await self.refresh_chat()
        self.say("contact.linked", count=len(dossiers))
        await self.offer_waiting_survey()

    async def on_opt_out(self, _args: str) -> None:
        if not self.linked or self.chat is None or self.chat.person_id is None:
            self.say("link.not_linked")
            return
        person_id = self.chat.person_id
        await self.uow.people.update(person_id, opted_out_at=self.now)
        for invitation in await self.uow.invitations.for_person(person_id, ("pending", *OPEN)):
            await self.uow.invitations.update(invitation.id, status="cancelled", cursor=None, closed_at=self.now)
        self.say("optout.done")

    async def on_erase(self, _args: str) -> None:
        if self.chat is None:
            self.say("erase.nothing")
            return
        if not self.linked:
            await self.uow.chats.delete(self.chat.id)
            self.chat = None
            self.replies.append(Reply(self.t("erase.done"), forget=True))  # nothing of the chat kept once it went
            return
        await self.uow.chats.update(self.chat.id, self.now, pending="erase")
        self.replies.append(
            Reply(
                self.t("erase.confirm"),
                options=(Option("e:yes", self.t("erase.yes"), 1), Option("e:no", self.t("erase.no"), 2)),
                hint=self.t("erase.hint"),
            )
        )

    async def on_erase_confirmed(self, confirmed: bool) -> None:
        assert self.chat is not None
        if not confirmed:
            await self.uow.chats.update(self.chat.id, self.now, pending=None)
            self.say("erase.kept")
            return
        person_id = self.chat.person_id
        if person_id is not None:
            await erase_person(self.uow, person_id, self.now, f"person:{person_id}", "request")
        else:
            await self.uow.chats.delete(self.chat.id)
        self.chat = None
        self.replies.append(Reply(self.t("erase.done"), forget=True))  # nothing of the chat kept once it went

    # --- buttons and typed text

    async def on_choice(self, value: str) -> None:
        kind, _, rest = value.partition(":")
        pending = self.chat.pending if self.chat else None
        if kind == "c" and pending and pending.startswith("token:") and rest in ("yes", "no"):
            await self.on_consent(rest == "yes")
        elif kind == "e" and pending == "erase" and rest in ("yes", "no"):
            await self.on_erase_confirmed(rest == "yes")
        elif kind == "p" and rest in ("yes", "no"):
            await self.on_complaint_choice(rest == "yes")
        elif kind == "k" and rest == "start":
            await self.on_survey_command("")
        elif kind in ("a", "m", "d", "s", "b"):
            await self.on_survey_button(kind, rest)
        else:
            self.stale()

    async def on_text(self, text: str) -> None:
        pending = self.chat.pending if self.chat else None
        folded = fold(text)
        if pending == "erase":
            await self.on_erase_confirmed(folded in ERASE_YES_WORDS)
            return
        if pending and pending.startswith("token:"):
            if folded in YES_WORDS:
                await self.on_consent(True)
            elif folded in NO_WORDS:
                await self.on_consent(False)
            else:
                self.say("consent.expected")
            return
        if pending and pending.startswith(linking.PENDING) and await linking.on_confirmation(self, text):
            return
        code = linking.typed_code(text)
        if not self.linked:
            if code is not None:  # the short code typed alone
                await linking.on_code(self, code)
            else:
                self.say("link.start_code")
            return
        invitation = await self.active_invitation()
        if invitation is None or invitation.cursor is None:
            if await self.on_complaint_text(text):
                return
            if code is not None:  # another dossier's code, in a chat linked already
                await linking.on_code(self, code)
                return
            if folded in ("1", "bat dau", "bat dau khao sat", "start"):
                await self.on_survey_command("")  # the numbered "Bắt đầu khảo sát" option
            elif is_survey_word(text, self.handler.option_words):  # an answer, with no question asked: no complaint
                await self.on_stray_answer()
            else:
                await self.on_free_message(text)
            return
        form, question = self.form_and_question(invitation)
        field = await self.field_of(invitation)
        await self.apply(invitation, field, form, question, interpret(form, question, text), typed=text)

    async def on_stray_answer(self) -> None:
        """A survey answer (a number, "bỏ qua", "quay lại") typed while no question is asked in this chat."""
        asked = len(self.replies)
        await self.offer_waiting_survey()
        if len(self.replies) == asked:
            self.say("survey.none")

    async def on_free_message(self, text: str) -> None:
        """A message that is not an answer: offered as a complaint, filed only if the person says so."""
        assert self.chat is not None
        assert self.chat.person_id is not None
        dossier = await self.uow.dossiers.latest_for_person(self.chat.person_id)
        if dossier is None or len(fold(text)) < 2:
            self.say("unknown")
            return
        self.replies.append(await self.complaint_offer(dossier, "message", text))

    # --- complaints: only by the person's explicit choice, and then with the dossier's code

    async def complaint_offer(self, dossier: Dossier, source: str, text: str | None, lead: str = "") -> Reply:
        """Ask "Gửi phản ánh tới cán bộ, kèm mã hồ sơ?" and remember what would be sent."""
        assert self.chat is not None
        data = {"dossier_id": dossier.id, "source": source, "text": text, "step": "confirm"}
        await self.uow.drafts.put(self.chat.id, "complaint", data, self.now)
        unit = await self.uow.units.get(dossier.unit_id)
        key = {"message": "complaint.offer_message", "comment": "complaint.offer_comment"}.get(
            source, "complaint.offer_survey"
        )
        offer = self.t(key, text=(text or "")[:300], code=dossier.code, unit=unit.name)
        options = (Option("p:yes", self.t("complaint.yes"), 1), Option("p:no", self.t("complaint.no"), 2))
        text = "\n\n".join(part for part in (lead, offer) if part)
        return Reply(text, options=options, hint=self.t("complaint.hint"))

    async def complaint_draft(self) -> dict[str, object] | None:
        if self.chat is None:
            return None
        draft = await self.uow.drafts.get(self.chat.id)
        return draft.data if draft is not None and draft.kind == "complaint" else None

    async def on_complaint_choice(self, send: bool) -> None:
        """The "Có" / "Không" of the complaint step."""
        data = await self.complaint_draft() if self.linked else None
        if data is None or data.get("step") != "confirm":
            self.ack = self.t("survey.stale")
            return
        assert self.chat is not None
        if not send:
            await self.uow.drafts.drop(self.chat.id)
            self.say("complaint.not_sent")
            return
        dossier = await self.uow.dossiers.get(int(str(data["dossier_id"])))
        text = data.get("text")
        if isinstance(text, str) and text.strip():
            await self.file_complaint(dossier, str(data.get("source") or "message"), text)
            return
        await self.uow.drafts.put(self.chat.id, "complaint", {**data, "step": "text"}, self.now)
        self.say("complaint.ask_text", code=dossier.code)

    async def on_complaint_text(self, text: str) -> bool:
        """Typed text while the complaint step waits: its yes or no, or the complaint's words; False if none waits."""
        data = await self.complaint_draft()
        if data is None:
            return False
        folded = fold(text)
        if data.get("step") == "text":
            if folded in COMPLAINT_NO_WORDS:  # changed their mind
                assert self.chat is not None
                await self.uow.drafts.drop(self.chat.id)
                self.say("complaint.not_sent")
                return True
            if len(folded) < 2:
                self.say("unknown")
                return True
            dossier = await self.uow.dossiers.get(int(str(data["dossier_id"])))
            await self.file_complaint(dossier, "message", text)
            return True
        if folded in COMPLAINT_YES_WORDS or folded in COMPLAINT_NO_WORDS:
            await self.on_complaint_choice(folded in COMPLAINT_YES_WORDS)
            return True
        return False  # another message: offered in its turn

    async def file_complaint(self, dossier: Dossier, source: str, text: str) -> None:
        """The person chose to send ``text`` as a complaint: it goes to the officers with the dossier's code."""
        assert self.chat is not None
        assert self.chat.person_id is not None
        await self.uow.drafts.drop(self.chat.id)
        await self.handler.feedbacks.record(
            self.uow,
            source=source,
            text=text,
            person_id=self.chat.person_id,
            dossier=dossier,
            unit_id=dossier.unit_id,
            invitation_id=None,
            now=self.now,
        )
        unit = await self.uow.units.get(dossier.unit_id)
        self.say("complaint.filed", unit=unit.name, code=dossier.code)

    # --- the survey

    async def active_invitation(self) -> Invitation | None:
        """The survey this chat is answering: a started one first, else the oldest offered."""
        assert self.chat is not None
        assert self.chat.person_id is not None
        if not self.current_known:
            found = await self.uow.chats.with_survey(self.chat.channel, self.chat.external_id)
            self.current = found.invitation if found else None
            self.current_field_id = found.field_id if found else None
            self.current_known = True
        return self.current

    async def field_of(self, invitation: Invitation) -> int:
        """The field (lĩnh vực) of the invitation's dossier, copied onto each answer."""
        if self.current is not None and invitation.id == self.current.id and self.current_field_id is not None:
            return self.current_field_id
        return (await self.uow.dossiers.get(invitation.dossier_id)).field_id

    def form_and_question(self, invitation: Invitation) -> tuple[Form, Question]:
        form = self.services.catalog.get(invitation.form_id, invitation.form_version)
        assert invitation.cursor is not None
        return form, form.question(invitation.cursor)

    async def on_survey_command(self, _args: str) -> None:
        if not self.linked or self.chat is None or self.chat.person_id is None:
            self.say("link.not_linked")
            return
        invitation = await self.active_invitation()
        if invitation is not None and invitation.cursor is not None:
            self.invitation_id = invitation.id
            form, question = self.form_and_question(invitation)
            answers = await self.uow.answers.for_invitation(invitation.id)
            self.replies.append(await self.render(form, invitation, question, answers, fresh=True))
            return
        pending = await self.uow.invitations.for_person(self.chat.person_id, ("pending",))
        if not pending:
            self.say("survey.none")
            return
        self.invitation_id = pending[0].id
        self.replies += await open_invitation(self.services, self.uow, pending[0], self.chat, self.now)

    async def on_survey_button(self, kind: str, rest: str) -> None:
        """A press on a survey message's button: it counts only on the newest survey message (its turn is live)."""
        parts = rest.split(":")
        invitation = None
        ref = button_ref(parts[0])
        if self.linked and len(parts) >= 2 and ref is not None:
            current = await self.active_invitation()
            invitation = current if current and current.id == ref[0] else await self.uow.invitations.get(ref[0])
        if (
            ref is None
            or invitation is None
            or self.chat is None
            or invitation.person_id != self.chat.person_id
            or invitation.status not in OPEN
            or invitation.cursor != parts[1]
            or invitation.turn != ref[1]
        ):
            self.stale()
            return
        form, question = self.form_and_question(invitation)
        multi = question.type == "multi_choice"
        picked = len(parts) == 3 and parts[2] in {o.value for o in form.options_of(question)}
        control = len(parts) == 2
        valid = {"a": picked and not multi, "m": picked and multi, "d": control and multi, "s": control, "b": control}
        if not valid[kind]:
            self.stale()
            return
        # the press takes the message's turn: a second press on it (or on any older message) is stale from now on
        turn = await self.uow.invitations.take_turn(invitation.id, ref[1])
        if turn is None:
            self.stale()
            return
        self.claimed[invitation.id] = turn
        if kind == "m":
            await self.toggle(invitation, form, question, parts[2])
            return
        result: Interpretation
        if kind == "a":
            result = Chosen(parts[2])
        elif kind == "d":
            answers = await self.uow.answers.for_invitation(invitation.id)
            given = answers.get(question.code)
            result = Chosen(given.value) if given and given.value else Skip()
        elif kind == "s":
            result = Skip()
        else:
            result = Back()
        await self.apply(invitation, await self.field_of(invitation), form, question, result)
        if self.ack is None:
            self.ack = self.t("survey.recorded")

    async def toggle(self, invitation: Invitation, form: Form, question: Question, value: str) -> None:
        answers = await self.uow.answers.for_invitation(invitation.id)
        given = answers.get(question.code)
        chosen = set((given.value or "").split(",")) - {""} if given else set()
        chosen ^= {value}
        ordered = ",".join(o.value for o in form.options_of(question) if o.value in chosen)
        if ordered:
            field = await self.field_of(invitation)
            await self.uow.answers.upsert(invitation, field, question.code, ordered, None, self.now)
            answers[question.code] = Answer(question.code, ordered, None, self.now)
        else:
            await self.uow.answers.delete(invitation.id, [question.code])
            answers.pop(question.code, None)
        await self.advance(invitation, question.code)
        self.invitation_id = invitation.id
        self.replies.append(await self.render(form, invitation, question, answers))
        self.ack = self.t("survey.recorded")

    @property
    def edits_in_place(self) -> bool:
        """Only a button press edits the survey message it was on (where the channel can edit).

        A typed answer or a resumed survey gets a new message at the bottom of the chat rather than an edit of
        one further up; that new message is then the one the next press edits.
        """
        return self.inbound.kind == "choice"

    async def advance(self, invitation: Invitation, code: str) -> None:
        """Move the survey to ``code``; its message takes the next turn in the same statement (unless a press did)."""
        if invitation.id in self.claimed:
            await self.uow.invitations.advance(invitation.id, code, self.now)
        else:
            self.claimed[invitation.id] = await self.uow.invitations.advance(
                invitation.id, code, self.now, next_turn=True
            )

    async def render(
        self,
        form: Form,
        invitation: Invitation,
        question: Question,
        answers: dict[str, Answer],
        *,
        fresh: bool = False,
    ) -> Reply:
        """The message asking ``question``, at the invitation's next turn (only its buttons are live from now)."""
        turn = self.claimed.pop(invitation.id, None)
        if turn is None:
            turn = await self.uow.invitations.take_turn(invitation.id) or 0
        given = answers.get(question.code)
        reply = render_question(
            form,
            question,
            {c: a.value for c, a in answers.items()},
            self.texts,
            self.locale,
            invitation.id,
            current=(given.value, given.text) if given else None,
            turn=turn,
        )
        return dataclasses.replace(reply, fresh=fresh or not self.edits_in_place)

    async def apply(
        self,
        invitation: Invitation,
        field_id: int,
        form: Form,
        question: Question,
        result: Interpretation,
        typed: str = "",
    ) -> None:
        """Carry out one interpreted answer: record it, move on (or back), and ask the next question.

        The answers so far are read only when something depends on them: a form with ``show_if``,
        going back (to show the earlier answer), or asking the same question again.
        """
        uow = self.uow
        self.invitation_id = invitation.id
        if isinstance(result, NotUnderstood):
            self.say(result.reason, text=typed[:80], max=question.max_length)
            await self.ask_again(form, invitation, question)
            return
        if isinstance(result, Back):
            await self.go_back(form, invitation, question)
            return
        if isinstance(result, Skip):
            if not question.skippable:
                self.ack = self.t("survey.required")
                self.say("survey.required")
                await self.ask_again(form, invitation, question)
                return
            await uow.answers.delete(invitation.id, [question.code])
        else:
            await uow.answers.upsert(invitation, field_id, question.code, result.value, result.text, self.now)
        answers: dict[str, Answer] = {}
        if form.has_conditions():
            answers = await uow.answers.for_invitation(invitation.id)
        values = {c: a.value for c, a in answers.items()}
        following = next_question(form, values, question.code)
        if following is None:
            await self.complete(invitation, form, values)
            return
        await self.advance(invitation, following.code)
        self.replies.append(await self.render(form, invitation, following, answers))

    async def go_back(self, form: Form, invitation: Invitation, question: Question) -> None:
        """Show the previous question with its current answer, ready to be changed."""
        answers = await self.uow.answers.for_invitation(invitation.id)
        previous = previous_question(form, {c: a.value for c, a in answers.items()}, question.code)
        if previous is None:
            self.ack = self.t("survey.first_question")
            self.say("survey.first_question")
            self.replies.append(await self.render(form, invitation, question, answers, fresh=True))
            return
        await self.advance(invitation, previous.code)
        self.replies.append(await self.render(form, invitation, previous, answers))

    async def ask_again(self, form: Form, invitation: Invitation, question: Question) -> None:
        """Show the current question once more, as a new message, with its current answer."""
        answers = await self.uow.answers.for_invitation(invitation.id)
        self.replies.append(await self.render(form, invitation, question, answers, fresh=True))

    async def keep_comments(self, invitation: Invitation, form: Form, dossier: Dossier) -> str | None:
        """Keep the survey's comments unlinked (unit and day only) and release the day's batch if due.

        Returns what the person wrote, to offer it as a complaint (sent only if they choose to).
        """
        answers = await self.uow.answers.for_invitation(invitation.id)
        texts = {q.code for q in form.questions if q.type == "text"}
        written = [a.text.strip() for code, a in answers.items() if code in texts and a.text and a.text.strip()]
        person = await self.uow.people.get(invitation.person_id) if invitation.person_id is not None else None
        names = [person.name] if person is not None else []
        for text in written:
            await self.handler.comments.keep(self.uow, invitation.unit_id, self.now, text, names, dossier.code)
        await self.handler.comments.release_if_due(self.uow, invitation.unit_id, self.now)
        return "\n".join(written) or None

    async def complete(self, invitation: Invitation, form: Form, values: dict[str, str | None]) -> None:
        """Close the survey, drop answers to questions that ended up hidden, and thank the person."""
        shown = {q.code for q in visible_questions(form, values)}
        hidden = [code for code in values if code not in shown]
        if hidden:
            await self.uow.answers.delete(invitation.id, hidden)
        await self.uow.invitations.update(
            invitation.id,
            status="completed",
            completed_at=self.now,
            cursor=None,
            started_at=invitation.started_at or self.now,
        )
        unit = await self.uow.units.get(invitation.unit_id)
        dossier = await self.uow.dossiers.get(invitation.dossier_id)
        comment = await self.keep_comments(invitation, form, dossier)
        text = "\n\n".join([form.outro.get(self.locale), self.t("survey.next_steps", unit=unit.name)])
        # the end of the survey offers the separate complaint step; nothing is sent unless the person says so
        offer = await self.complaint_offer(dossier, "comment" if comment else "survey", comment, lead=text)
        self.replies.append(dataclasses.replace(offer, thread=f"survey:{invitation.id}", fresh=not self.edits_in_place))
