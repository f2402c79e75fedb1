"""The chat dispatcher: every inbound chat event, in one transaction, to the one handler it is for.

Every event is one unit of work: its id is recorded first (a re-delivery changes nothing), the handler changes
state, and the replies are written to the outbox in the same transaction; delivery happens after the commit.

Where an event goes is read from one table (:class:`Routes`): a command by its name, a button by its kind
(handlers.chat.callbacks decodes the data, or the press is stale), typed text by the step the chat waits for
(``pending``), and else the citizen's free text. The desks (roles, staff, leaders) are still consulted first, as
``takes(turn)`` hooks that answer whether the event was theirs; their commands, buttons and drafts join the table
next, and then the hooks go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from handlers.admin.roles import RoleDesk
from handlers.chat.callbacks import Button, StaleButton, decode
from handlers.chat.turn import Turn
from handlers.citizen import complaints, consent, leaving, linking, survey_chat
from handlers.citizen.buttons import (
    ComplaintSend,
    Consent,
    EraseConfirm,
    StartSurvey,
    SurveyBack,
    SurveyDone,
    SurveyPick,
    SurveySkip,
    SurveyTick,
)
from handlers.citizen.free_text import FreeText
from handlers.context import Services
from handlers.leader.desk import LeaderDesk
from handlers.leader.digest.digests import Digests
from handlers.messages import Inbound, Outcome
from handlers.staff.desk import StaffDesk
from handlers.texts import LOCALES
from handlers.words import fold

Command = Callable[[Turn, str], Awaitable[None]]  # the turn, and what follows the command's name
Press = Callable[[Turn, Any], Awaitable[None]]  # the turn, and the button pressed (of the kind it is routed by)
StepReply = Callable[[Turn, str], Awaitable[bool]]  # the turn, and the text typed; False: not an answer to the step


class Desk(Protocol):
    """A desk consulted before the table: it handles the turn and says so, or leaves it."""

    async def takes(self, turn: Turn) -> bool:
        """Whether the turn was the desk's (and is handled)."""


async def on_help(turn: Turn, _args: str) -> None:
    """``/trogiup``: what a citizen can do here."""
    turn.say("help")


async def on_lang(turn: Turn, args: str) -> None:
    """``/lang vi|en``: the chat's language (and its person's, for what is sent to them later)."""
    wanted = fold(args)
    if wanted not in LOCALES:
        turn.say("lang.usage")
        return
    turn.locale = wanted
    if turn.chat is not None:
        await turn.uow.chats.update(turn.chat.id, turn.now, locale=wanted)
        if turn.chat.person_id is not None:
            await turn.uow.people.update(turn.chat.person_id, locale=wanted)
    turn.say("lang.done")


async def on_reachability(turn: Turn, blocked: bool) -> None:
    """The person blocked the bot (stop trying this chat) or came back (try it again)."""
    if turn.chat is None:
        return
    channel, recipient = turn.chat.channel, turn.chat.external_id
    if blocked:
        await turn.uow.chats.update(turn.chat.id, turn.now, status="unreachable")
        await turn.uow.outbox.cancel_for_recipient(channel, recipient)
    elif turn.chat.status == "unreachable":
        await turn.uow.chats.update(turn.chat.id, turn.now, status="active")


@dataclass(frozen=True)
class Routes:
    """The table: commands by name (folded), buttons by kind, pending steps by the prefix of their state."""

    commands: dict[str, Command]
    buttons: dict[type[Button], Press]
    pending: tuple[tuple[str, StepReply], ...]  # (the state, or its prefix ending in ":"; the answer's handler)
    free_text: Command

    def waiting(self, pending: str | None) -> StepReply | None:
        """The handler of the step the chat waits for, if any."""
        if pending is None:
            return None
        for state, reply in self.pending:
            if pending == state or (state.endswith(":") and pending.startswith(state)):
                return reply
        return None


def citizen_routes(free_text: FreeText) -> Routes:
    """The citizen's commands, buttons and steps."""
    return Routes(
        commands={
            "start": consent.on_start,
            "khaosat": survey_chat.on_survey_command,
            "survey": survey_chat.on_survey_command,
            "huy": leaving.on_opt_out,
            "stop": leaving.on_opt_out,
            "xoadulieu": leaving.on_erase,
            "erase": leaving.on_erase,
            "trogiup": on_help,
            "help": on_help,
            "lang": on_lang,
            "language": on_lang,
        },
        buttons={
            Consent: consent.on_button,
            EraseConfirm: leaving.on_button,
            ComplaintSend: complaints.on_button,
            StartSurvey: survey_chat.on_start_button,
            SurveyPick: survey_chat.on_button,
            SurveyTick: survey_chat.on_button,
            SurveyDone: survey_chat.on_button,
            SurveySkip: survey_chat.on_button,
            SurveyBack: survey_chat.on_button,
        },
        pending=(
            (leaving.PENDING, leaving.on_reply),
            (consent.PENDING, consent.on_reply),
            (linking.PENDING, consent.on_code_confirmation),
        ),
        free_text=free_text.on_text,
    )


class ChatDispatcher:
    """Handles one inbound event from any chat: a citizen's, an officer's, a leader's."""

    def __init__(self, services: Services, digests: Digests | None = None) -> None:
        self.services = services
        self.desks: tuple[Desk, ...] = (
            RoleDesk(services),
            StaffDesk(services),
            LeaderDesk(services, digests or Digests(services)),
        )
        self.routes = citizen_routes(FreeText(services))

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
            turn = Turn(services, uow, inbound, now)
            await self.dispatch(turn)
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

    async def dispatch(self, turn: Turn) -> None:
        """Route the turn: the desks first, then by the event's kind through the table."""
        await turn.load()
        for desk in self.desks:
            if await desk.takes(turn):
                return  # a staff member's or leader's command, button or draft
        inbound = turn.inbound
        if inbound.kind in ("blocked", "unblocked"):
            await on_reachability(turn, inbound.kind == "blocked")
        elif inbound.kind == "unsupported":
            turn.say("unsupported")
        elif inbound.kind == "contact":
            await consent.on_contact(turn, inbound.phone)
        elif inbound.kind == "choice":
            await self.on_press(turn, inbound.value)
        elif inbound.text.startswith("/"):
            await self.on_command(turn, inbound.text)
        elif inbound.text:
            await self.on_text(turn, inbound.text)

    async def on_command(self, turn: Turn, text: str) -> None:
        """``/name args``: the command's handler, or "unknown"."""
        name, _, args = text[1:].partition(" ")
        command = self.routes.commands.get(fold(name.split("@")[0]))
        if command is None:
            turn.say("unknown")
            return
        await command(turn, args.strip())

    async def on_press(self, turn: Turn, data: str) -> None:
        """A button pressed: its kind's handler; data no button of ours carries now is stale."""
        try:
            button = decode(data)
        except StaleButton:
            turn.stale()
            return
        press = self.routes.buttons.get(type(button))
        if press is None:
            turn.stale()
            return
        await press(turn, button)

    async def on_text(self, turn: Turn, text: str) -> None:
        """Typed text: the answer to the step the chat waits for, else free text."""
        reply = self.routes.waiting(turn.chat.pending if turn.chat else None)
        if reply is not None and await reply(turn, text):
            return
        await self.routes.free_text(turn, text)
