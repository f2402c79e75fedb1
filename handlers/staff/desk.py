"""What staff and leaders do in any chat: the staff's commands and buttons routed, ``/join``, a dossier looked up.

The chat side (``StaffDesk``) takes the commands and buttons that are the staff's; the same unit of work
as the citizen side records every step, and what must reach someone else (the citizen's apology, an
answer to a complaint) is queued in the outbox in that transaction. A staff member's half-finished
apology or answer lives in the ``drafts`` table, so it survives a restart and any web worker can go on.

The rooms next door: the apology flow (``apology_chat``), issuing one (``apologies``), complaints
(``complaints``), and the scheduler's warnings (``alerts``).
"""

from __future__ import annotations

from typing import TypeVar

from handlers import limits
from handlers.admin.invites import invite_hash
from handlers.admin.roles import leave_other_units
from handlers.chat import typed_actions as typed
from handlers.chat.callbacks import Button, StaleButton, decode
from handlers.chat.turn import ChatTurn
from handlers.context import Services
from handlers.messages import Reply
from handlers.staff import steps
from handlers.staff.apologies import Apologies
from handlers.staff.apology_chat import ApologyFlow
from handlers.staff.buttons import ApologyButton, ComplaintButton, staff_kind
from handlers.staff.complaints import Complaints
from handlers.staff.officers import LEADER_ROLES, STAFF_ROLES, dossier_in_reach, masked_citizen
from handlers.words import fold
from storage.values import Dossier, Role

B = TypeVar("B", bound=Button)
STAFF_COMMANDS = {"xinloi": "apology", "apology": "apology", "hoso": "dossier", "dossier": "dossier"}
STAFF_COMMANDS |= {"phananh": "complaints", "complaints": "complaints"}
# a complaint's buttons, typed: ``/traloi <n> [nội dung]``, ``/dong <n>`` (n: the number after its "#")
STAFF_COMMANDS |= {"traloi": "answer", "reply": "answer", "dong": "close", "close": "close"}


class StaffDesk:
    """The staff's and leaders' side of a chat turn."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.apologies = Apologies(services)

    async def takes(self, turn: ChatTurn) -> bool:
        """Handle the turn if it is the staff's (a staff command or button, a draft in progress)."""
        inbound = turn.inbound
        if inbound.kind == "choice":
            kind = staff_kind(inbound.value)
            if kind is None:
                return False
            roles = await self._roles(turn)
            if not roles:
                turn.ack = turn.t("apology.stale")
                return True
            button = _read(inbound.value)
            if kind is ApologyButton:
                await ApologyFlow(self.apologies, turn, roles).on_button(_as(button, ApologyButton))
            else:
                await Complaints(self.services, turn, roles).on_button(_as(button, ComplaintButton))
            return True
        if inbound.kind != "text" or not inbound.text:
            return False
        if inbound.text.startswith("/"):
            name, _, args = inbound.text[1:].partition(" ")
            command = fold(name.split("@")[0])
            if command == "join":
                await self.join(turn, args.strip())
                return True
            if command in ("trogiup", "help"):
                roles = await self._roles(turn)
                if not roles:
                    return False
                staff, leader = (any(r.role in wanted for r in roles) for wanted in (STAFF_ROLES, LEADER_ROLES))
                turn.replies.append(Reply(steps.officer_help(turn, staff, leader)))
                return True
            action = STAFF_COMMANDS.get(command)
            if action is None:  # a draft in progress keeps every other command from the citizen side
                return await steps.other_command(turn, command, bool(await self._roles(turn)))
            roles = await self._roles(turn)
            if not any(r.role in STAFF_ROLES for r in roles):
                turn.say("role.refused")
                return True
            if turn.chat is not None:
                await turn.uow.drafts.drop(turn.chat.id)  # a new command abandons what was in progress
            if action == "apology":
                await ApologyFlow(self.apologies, turn, roles).start_by_code(args.strip(), command)
            elif action == "dossier":
                await self.show_dossier(turn, roles, args.strip(), command)
            elif action in ("answer", "close"):
                await Complaints(self.services, turn, roles).on_typed(action, args.strip())
            else:
                await Complaints(self.services, turn, roles).list_open()
            return True
        if turn.chat is None:
            return False
        draft = await turn.uow.drafts.get(turn.chat.id)
        if draft is None:
            # a number typed by an officer with nothing open (a "1" read under a complaint, where buttons are
            # missing): what to type instead, rather than the citizens' answer
            if typed.stray_number(inbound.text, turn.chat) and await self._roles(turn):
                turn.say("staff.typed_number")
                return True
            return False
        if draft.kind == "complaint":
            return False  # a citizen's complaint step is the citizen side's
        roles = await self._roles(turn)
        if not roles:
            await turn.uow.drafts.drop(turn.chat.id)
            return False
        if steps.cancels(inbound.text):
            await steps.cancel(turn, draft)
            return True
        if draft.kind == "apology":
            await ApologyFlow(self.apologies, turn, roles).on_text(draft.data, inbound.text)
        elif draft.kind == "reply":
            await Complaints(self.services, turn, roles).on_answer(int(draft.data["feedback_id"]), inbound.text)
        return True

    async def _roles(self, turn: ChatTurn) -> list[Role]:
        return await turn.uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []

    async def join(self, turn: ChatTurn, code: str) -> None:
        """``/join CODE``: the code's role for this chat."""
        if not code:
            turn.say("role.join_usage")
            return
        if limits.refuses(turn, "join"):
            return  # too many wrong codes from this chat: not even checked
        uow, now = turn.uow, turn.now
        if turn.chat is None:
            identity = turn.inbound.identity
            turn.chat = await uow.chats.add(identity.channel, identity.external_id, turn.locale, now)
        invite = await uow.invites.take(invite_hash(code), turn.chat.id, now)
        if invite is None:
            limits.failed(turn, "join")
            turn.say("role.join_invalid")
            return
        if turn.chat.consent_at is None or turn.chat.status != "active":
            await uow.chats.update(turn.chat.id, now, status="active", consent_at=now, pending=None)
        by = invite.created_by or f"chat:{turn.chat.id}"  # who made the code gave the role
        left = await leave_other_units(self.services, uow, turn.chat.id, invite, by, now)
        await uow.roles.grant(
            turn.chat.id, invite.unit_id, invite.role, invite.officer_name, invite.lead, now, granted_by=by
        )
        unit = await uow.units.get(invite.unit_id)
        await uow.audit.add(
            by,
            "role.grant",
            f"unit:{unit.code}",
            {
                "role": invite.role,
                "officer": invite.officer_name,
                "lead": invite.lead,
                "invite": invite.id,
                "chat": f"chat:{turn.chat.id}",
            },
            now,
            unit_id=unit.id,
        )
        turn.say("role.joined", role=turn.t(f"role.{invite.role}"), unit=unit.name)
        for line in left:
            turn.say("roles.moved", role=turn.t(f"role.{line.role}"), unit=line.unit_name)

    async def show_dossier(self, turn: ChatTurn, roles: list[Role], code: str, command: str) -> None:
        """``/hoso CODE``: where the dossier stands (the applicant's name masked)."""
        if not code:
            turn.say("dossier.usage", command=command)
            return
        if limits.refuses(turn, "lookup"):
            return
        dossier = await dossier_in_reach(turn, roles, code)
        if dossier is None:
            turn.say("dossier.not_found", code=code)
            return
        turn.replies.append(Reply(await self.summary(turn, dossier), heading=True))

    async def summary(self, turn: ChatTurn, dossier: Dossier) -> str:
        """A dossier as staff see it."""
        uow, show = turn.uow, self.services.policy.show_date
        applicant = await uow.people.get(dossier.applicant_id) if dossier.applicant_id else None
        apology = await uow.dossiers.apology(dossier.id)
        apology_line = (
            turn.t(
                "dossier.apology",
                number=apology.number,
                new_due=show(apology.new_due_at) if apology.new_due_at else "—",
                reason=apology.reason,
            )
            if apology
            else turn.t("dossier.no_apology")
        )
        if apology is not None and apology.in_time is False:
            apology_line += " " + turn.t("dossier.apology_late")
        if apology is not None and apology.issued_key:
            by_key = turn.t("dossier.apology_by_key", officer=apology.issued_by, api_key=apology.issued_key)
            apology_line += " " + by_key
        elif apology is not None:
            apology_line += " " + turn.t("dossier.apology_by", officer=apology.issued_by)
        error = await uow.dossiers.apology(dossier.id, "error")
        if error is not None:
            apology_line += "\n" + turn.t("dossier.error_apology", number=error.number, reason=error.reason)
        return turn.t(
            "dossier.summary",
            code=dossier.code,
            procedure=dossier.procedure_name,
            field=dossier.field,
            applicant=masked_citizen(applicant),
            received=show(dossier.received_at),
            due=show(dossier.due_at),
            state=turn.t(f"state.{dossier.state}"),
            handler=dossier.handler or "—",
            apology=apology_line,
        )


def _read(data: str) -> Button | None:
    """The button ``data`` names, or None for data no button carries now (answered as a stale button)."""
    try:
        return decode(data)
    except StaleButton:
        return None


def _as(button: Button | None, kind: type[B]) -> B | None:
    """The button when it is of ``kind`` (its data named the kind but did not read: None)."""
    return button if isinstance(button, kind) else None
