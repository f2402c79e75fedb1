"""What staff and leaders do in any chat: the staff's commands, buttons and flows routed, a dossier looked up.

The chat side (``StaffDesk``) gives the dispatcher's table the commands, buttons and flows that are the
staff's (``routes``), with the officers' ``/trogiup``; the same unit of work
as the citizen side records every step, and what must reach someone else (the citizen's apology, an
answer to a complaint) is queued in the outbox in that transaction. A staff member's half-finished
apology or answer lives in the ``drafts`` table, so it survives a restart and any web worker can go on.

The rooms next door: the apology flow (``apology_chat``), issuing one (``apologies``), complaints
(``complaints``), and the scheduler's warnings (``alerts``).
"""

from __future__ import annotations

from handlers import limits
from handlers.admin.joining import COMMANDS as JOIN_COMMANDS
from handlers.admin.roles import COMMANDS as ROLE_COMMANDS
from handlers.chat import typed_actions as typed
from handlers.chat.routes import Command, Flow, Routes
from handlers.chat.turn import ChatTurn
from handlers.context import Services
from handlers.messages import Reply
from handlers.staff import steps
from handlers.staff.apologies import Apologies
from handlers.staff.apology_chat import ApologyFlow
from handlers.staff.buttons import ApologyButton, ComplaintButton
from handlers.staff.complaints import Complaints
from handlers.staff.officers import LEADER_ROLES, STAFF_ROLES, dossier_in_reach, masked_citizen
from storage.values import Dossier, Draft, Role

STAFF_COMMANDS = {"xinloi": "apology", "apology": "apology", "hoso": "dossier", "dossier": "dossier"}
STAFF_COMMANDS |= {"phananh": "complaints", "complaints": "complaints"}
# a complaint's buttons, typed: ``/traloi <n> [nội dung]``, ``/dong <n>`` (n: the number after its "#")
STAFF_COMMANDS |= {"traloi": "answer", "reply": "answer", "dong": "close", "close": "close"}
HELP = ("trogiup", "help")  # an officer's help; anyone else's is the citizens'
# what runs while an apology or an answer is open, as if none were: the staff's own commands, ``/join``, the
# harmless ones, and ``/thuhoi`` (the roles' desk was always asked before the staff's)
LETS_THROUGH = frozenset((*STAFF_COMMANDS, *JOIN_COMMANDS, *steps.LEFT_TO_CITIZEN, *ROLE_COMMANDS))


class StaffDesk:
    """The staff's and leaders' side of a chat turn."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.apologies = Apologies(services)

    def routes(self) -> Routes:
        """The staff's part of the chat's table: their commands, buttons and flows, the officers' help."""
        flow = Flow(self.on_flow_text, self.on_flow_command, lets_through=LETS_THROUGH)
        return Routes(
            commands={name: self._command(name, action) for name, action in STAFF_COMMANDS.items()},
            offers=dict.fromkeys(HELP, self.on_help)
            | dict.fromkeys(steps.NOTHING_TO_CANCEL, self.on_nothing_to_cancel),
            buttons={ApologyButton: self.on_apology_button, ComplaintButton: self.on_complaint_button},
            stale={ApologyButton: self.on_stale_apology, ComplaintButton: self.on_stale_complaint},
            flows=dict.fromkeys(steps.STAFF_DRAFTS, flow),
            asides=(self.on_stray_number,),
        )

    def _command(self, name: str, action: str) -> Command:
        async def command(turn: ChatTurn, args: str) -> None:
            await self.on_command(turn, name, action, args)

        return command

    async def on_command(self, turn: ChatTurn, name: str, action: str, args: str) -> None:
        """A staff command (``/xinloi``, ``/hoso``, ``/phananh``, ``/traloi``, ``/dong``): refused without the role."""
        roles = await self._roles(turn)
        if not any(r.role in STAFF_ROLES for r in roles):
            turn.say("role.refused")
            return
        if turn.chat is not None:
            await turn.uow.drafts.drop(turn.chat.id)  # a new command abandons what was in progress
        if action == "apology":
            await ApologyFlow(self.apologies, turn, roles).start_by_code(args, name)
        elif action == "dossier":
            await self.show_dossier(turn, roles, args, name)
        elif action in ("answer", "close"):
            await Complaints(self.services, turn, roles).on_typed(action, args)
        else:
            await Complaints(self.services, turn, roles).list_open()

    async def on_help(self, turn: ChatTurn, _args: str) -> bool:
        """``/trogiup`` in an officer's chat: the officers' help (anyone else gets the citizens')."""
        roles = await self._roles(turn)
        if not roles:
            return False
        staff, leader = (any(r.role in wanted for r in roles) for wanted in (STAFF_ROLES, LEADER_ROLES))
        turn.replies.append(Reply(steps.officer_help(turn, staff, leader)))
        return True

    async def on_nothing_to_cancel(self, turn: ChatTurn, _args: str) -> bool:
        """``/huy`` in an officer's own chat with nothing in progress: said so (a citizen's ``/huy`` opts out)."""
        return await steps.nothing_to_cancel(turn, bool(await self._roles(turn)))

    async def on_flow_command(self, turn: ChatTurn, draft: Draft, command: str) -> bool:
        """Another command during an apology or an answer: ``/huy`` cancels it, any other is told what is expected."""
        if not await self._roles(turn):
            return False
        await steps.interrupted(turn, draft, command)
        return True

    async def on_flow_text(self, turn: ChatTurn, draft: Draft, text: str) -> bool:
        """Typed text during an apology or an answer: the step's answer (the flow is dropped with the role)."""
        assert turn.chat is not None
        roles = await self._roles(turn)
        if not roles:
            await turn.uow.drafts.drop(turn.chat.id)
            return False
        if steps.cancels(text):
            await steps.cancel(turn, draft)
        elif draft.kind == "apology":
            await ApologyFlow(self.apologies, turn, roles).on_text(draft.data, text)
        else:
            await Complaints(self.services, turn, roles).on_answer(int(draft.data["feedback_id"]), text)
        return True

    async def on_stray_number(self, turn: ChatTurn, text: str) -> bool:
        """A bare number typed by an officer with nothing open: what to type instead, not a citizen's answer.

        (A "1" read under a complaint, on a channel where its buttons are missing.)
        """
        if turn.chat is None or not typed.stray_number(text, turn.chat):
            return False
        if await turn.uow.drafts.get(turn.chat.id) is not None or not await self._roles(turn):
            return False
        turn.say("staff.typed_number")
        return True

    async def on_apology_button(self, turn: ChatTurn, button: ApologyButton | None) -> None:
        """A step of an apology pressed (None: data of the kind that does not read)."""
        roles = await self._roles(turn)
        if not roles:
            turn.ack = turn.t("apology.stale")
            return
        await ApologyFlow(self.apologies, turn, roles).on_button(button)

    async def on_complaint_button(self, turn: ChatTurn, button: ComplaintButton | None) -> None:
        """A complaint's "Trả lời" or "Đóng" pressed (None: data of the kind that does not read)."""
        roles = await self._roles(turn)
        if not roles:
            turn.ack = turn.t("apology.stale")
            return
        await Complaints(self.services, turn, roles).on_button(button)

    async def on_stale_apology(self, turn: ChatTurn) -> None:
        """Data of an apology's kind that no button carries now."""
        await self.on_apology_button(turn, None)

    async def on_stale_complaint(self, turn: ChatTurn) -> None:
        """Data of a complaint's kind that no button carries now."""
        await self.on_complaint_button(turn, None)

    async def _roles(self, turn: ChatTurn) -> list[Role]:
        return await turn.uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []

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
