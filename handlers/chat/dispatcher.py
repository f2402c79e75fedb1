"""The chat dispatcher: every inbound chat event, in one transaction, to the one handler it is for.

Every event is one unit of work: its id is recorded first (a re-delivery changes nothing), the handler changes
state, and the replies are written to the outbox in the same transaction; delivery happens after the commit.

Where an event goes is read from one table (handlers.chat.routes.Routes), which every room gives its part of
here: the roles' desk (``/thuhoi``), the staff's (their commands, buttons and flows), ``/join``, the leaders'
(``/baocao``) and the citizen's. A command goes by its name, a button by its kind (handlers.chat.callbacks
decodes the data, or the press is stale), and typed text to the flow an officer has open, else to the step the
chat waits for (``pending``), else to the citizen's free text. A flow open sees the other commands first.
"""

from __future__ import annotations

from handlers.admin.joining import Joining
from handlers.admin.roles import RoleDesk
from handlers.chat.callbacks import StaleButton, decode
from handlers.chat.routes import Flow, Routes
from handlers.chat.turn import Turn
from handlers.citizen import consent
from handlers.citizen.free_text import FreeText
from handlers.citizen.routes import citizen_routes
from handlers.context import Services
from handlers.leader.desk import LeaderDesk
from handlers.leader.digest.digests import Digests
from handlers.messages import Inbound, Outcome
from handlers.staff.desk import StaffDesk
from handlers.words import fold
from storage.values import Draft


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


class ChatDispatcher:
    """Handles one inbound event from any chat: a citizen's, an officer's, a leader's."""

    def __init__(self, services: Services, digests: Digests | None = None) -> None:
        self.services = services
        self.routes = Routes.join(
            RoleDesk(services).routes(),
            StaffDesk(services).routes(),
            Joining(services).routes(),
            LeaderDesk(services, digests or Digests(services)).routes(),
            citizen_routes(FreeText(services)),
        )

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
        """Route the turn by the event's kind through the table."""
        await turn.load()
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

    async def open_flow(self, turn: Turn) -> tuple[Flow, Draft] | None:
        """The flow the chat has open (an officer's draft of a kind with a route), if any."""
        if turn.chat is None:
            return None
        draft = await turn.uow.drafts.get(turn.chat.id)
        flow = self.routes.flows.get(draft.kind) if draft is not None else None
        return (flow, draft) if flow is not None and draft is not None else None

    async def on_command(self, turn: Turn, text: str) -> None:
        """``/name args``: the flow open (unless it lets the command through), the command's offer, its handler."""
        name, _, args = text[1:].partition(" ")
        name, args = fold(name.split("@")[0]), args.strip()
        routes = self.routes
        found = await self.open_flow(turn)
        if found is not None and name not in found[0].lets_through and await found[0].command(turn, found[1], name):
            return
        offer = routes.offers.get(name)
        if offer is not None and await offer(turn, args):
            return
        command = routes.commands.get(name)
        if command is None:
            turn.say("unknown")
            return
        await command(turn, args)

    async def on_press(self, turn: Turn, data: str) -> None:
        """A button pressed: its kind's handler; data no button of ours carries now is stale (in its room's words)."""
        try:
            button = decode(data)
        except StaleButton as stale:
            answer = self.routes.stale.get(stale.kind) if stale.kind is not None else None
            if answer is None:
                turn.stale()
            else:
                await answer(turn)
            return
        press = self.routes.buttons.get(type(button))
        if press is None:
            turn.stale()
            return
        await press(turn, button)

    async def on_text(self, turn: Turn, text: str) -> None:
        """Typed text: the flow open, an aside (an officer's stray number), the step the chat waits for, free text."""
        found = await self.open_flow(turn)
        if found is not None and await found[0].text(turn, found[1], text):
            return
        for aside in self.routes.asides:
            if await aside(turn, text):
                return
        reply = self.routes.waiting(turn.chat.pending if turn.chat else None)
        if reply is not None and await reply(turn, text):
            return
        assert self.routes.free_text is not None
        await self.routes.free_text(turn, text)
