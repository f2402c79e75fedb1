"""``/join CODE``: a chat takes the role an invite code gives, in any chat, typed by anyone.

A wrong code counts against the chat (handlers.limits). A staff or leader code of another unit leaves the chat's
staff and leader roles elsewhere (handlers.admin.roles). The grant is audited as the act of whoever made the code.
"""

from __future__ import annotations

from handlers import limits
from handlers.admin.invites import invite_hash
from handlers.admin.roles import leave_other_units
from handlers.chat.routes import Routes
from handlers.chat.turn import ChatTurn
from handlers.context import Services

COMMANDS = ("join",)


class Joining:
    """The invite codes, used in a chat."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def routes(self) -> Routes:
        """Its part of the chat's table: ``/join``."""
        return Routes(commands=dict.fromkeys(COMMANDS, self.on_join))

    async def on_join(self, turn: ChatTurn, code: str) -> None:
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
