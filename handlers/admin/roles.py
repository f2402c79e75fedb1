"""Roles taken away: by an administrator at the command line, by a leader or admin in a chat (``/thuhoi``).

A revoked role stops working at once: every staff and leader command reads the chat's live roles in its own
transaction. An officer moved to another ward keeps one ward: a staff or leader code of another unit, once used,
revokes the chat's staff and leader roles elsewhere (an admin role may span units and is never revoked so).
Every revocation is in the audit log with who did it; the officer's chat is told.

In a chat, a leader may take away the staff and leader roles of the units they lead (and the units below),
an admin any role there, never their own; a role outside those units is neither shown nor revocable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handlers.admin.buttons import RoleButton
from handlers.chat.routes import Flow, Routes
from handlers.context import Services
from handlers.errors import NotFound
from handlers.messages import Option, Reply
from handlers.names import channel_name
from handlers.words import fold
from storage.uow import UnitOfWork
from storage.values import Draft, Invite, Role, RoleLine

LEADER_ROLES = ("leader", "admin")
MOVING_ROLES = ("staff", "leader")  # one ward at a time: a new code of another unit replaces these
COMMANDS = ("thuhoi", "revoke")
CANCEL = ("huy", "cancel")
YES = ("1", "xac nhan", "xac nhan thu hoi", "dong y", "co", "yes", "ok")
NO = ("2", "khong", "khong thu hoi", "huy", "no")
LIST_LIMIT = 30
FLOW_DRAFTS = ("apology", "reply", "revoke")  # what an officer is in the middle of, dropped with the role


def masked_chat(channel: str, external_id: str) -> str:
    """A chat's id with only its last characters shown: ``••••d6a9``."""
    tail = external_id[-4:] if len(external_id) > 6 else external_id[-2:]
    return "••••" + tail


async def revoke_role(
    services: Services,
    uow: UnitOfWork,
    line: RoleLine,
    actor: str,
    now: datetime,
    *,
    reason: str | None = None,
    notify: bool = True,
) -> bool:
    """Take ``line``'s role away inside ``uow``, audited as ``actor``'s act; False when it was no longer live."""
    if not await uow.roles.revoke(line.id, actor, now):
        return False
    detail: dict[str, Any] = {
        "role_id": line.id,
        "role": line.role,
        "officer": line.officer_name,
        "chat": f"chat:{line.identity_id}",
    }
    if reason:
        detail["reason"] = reason
    await uow.audit.add(actor, "role.revoke", f"unit:{line.unit_code}", detail, now, unit_id=line.unit_id)
    if not any(r.role in (*MOVING_ROLES, "admin") for r in await uow.roles.of_chat(line.identity_id)):
        draft = await uow.drafts.get(line.identity_id)
        if draft is not None and draft.kind in FLOW_DRAFTS:
            await uow.drafts.drop(line.identity_id)
    if notify:
        chat = await uow.chats.get_by_id(line.identity_id)
        if chat.status in ("active", "window_closed"):
            text = services.texts(
                chat.locale,
                "roles.revoked_notice",
                role=services.texts(chat.locale, f"role.{line.role}"),
                unit=line.unit_name,
            )
            await uow.outbox.to_chat(chat, Reply(text).to_payload(), now)
    return True


async def leave_other_units(
    services: Services, uow: UnitOfWork, identity_id: int, invite: Invite, actor: str, now: datetime
) -> list[RoleLine]:
    """A staff or leader code of one unit, just used: the chat's staff and leader roles elsewhere, revoked."""
    if invite.role not in MOVING_ROLES:
        return []
    unit = await uow.units.get(invite.unit_id)
    left = []
    for line in await uow.roles.lines(None, identity_id=identity_id):
        if line.role in MOVING_ROLES and line.unit_id != invite.unit_id:
            reason = f"moved:{unit.code}"
            if await revoke_role(services, uow, line, actor, now, reason=reason, notify=False):
                left.append(line)
    return left


class RoleAdmin:
    """The roles at the command line: who holds which where, and taking one away."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def listing(self, unit_code: str | None, *, revoked: bool = False) -> list[RoleLine]:
        """The roles in ``unit_code`` and the units below it (None: everywhere); live ones unless ``revoked``."""
        async with self.services.uow(read_only=True) as uow:
            unit_ids = await self._units(uow, unit_code)
            return await uow.roles.lines(unit_ids, live=not revoked)

    async def revoke(self, role_ids: Sequence[int]) -> tuple[list[RoleLine], list[int]]:
        """Take the live roles ``role_ids`` away (as ``services.actor``): those revoked, the ids not live.

        Nothing is revoked unless every id is a live role.
        """
        services = self.services
        now = services.clock()
        async with services.uow() as uow:
            lines = await uow.roles.lines(None, role_ids=list(role_ids))
            missing = sorted(set(role_ids) - {line.id for line in lines})
            if missing:
                return [], missing
            for line in lines:
                await revoke_role(services, uow, line, services.actor, now)
            await uow.commit()
        return lines, []

    @staticmethod
    async def _units(uow: UnitOfWork, unit_code: str | None) -> list[int] | None:
        if unit_code is None:
            return None
        unit = await uow.units.get_by_code(unit_code.strip())
        if unit is None:
            raise NotFound(unit_code)
        return await uow.units.subtree_ids(unit.id)


class RoleDesk:
    """``/thuhoi``: a leader's or admin's list of the roles they may take away, a choice, a confirmation."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def routes(self) -> Routes:
        """The roles' part of the chat's table: ``/thuhoi``, its buttons, and its draft while one is open."""
        return Routes(
            commands=dict.fromkeys(COMMANDS, self.on_command),
            buttons={RoleButton: self.on_button},
            stale={RoleButton: self.on_stale},
            flows={"revoke": Flow(self.on_text, self.on_other_command, lets_through=frozenset(COMMANDS))},
        )

    async def on_command(self, turn: Any, _args: str) -> None:
        """``/thuhoi``: the roles this chat may take away, to pick from (whatever was in progress is dropped)."""
        await self._start(turn)

    async def on_other_command(self, turn: Any, _draft: Draft, command: str) -> bool:
        """Another command while the list or the question is open: the flow is dropped, ``/huy`` says so."""
        await turn.uow.drafts.drop(turn.chat.id)
        if command in CANCEL:
            turn.say("roles.cancelled")
            return True
        return False  # the command is handled as if no flow had been open

    async def on_text(self, turn: Any, draft: Draft, text: str) -> bool:
        """Typed text while the flow is open: a number from the list, or the answer to "take it away?"."""
        await self._on_text(turn, draft.data, text.strip())
        return True

    async def _allowed(self, turn: Any) -> list[RoleLine] | None:
        """The live roles this chat may take away (None: it leads nowhere)."""
        uow = turn.uow
        roles: list[Role] = await uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []
        if not any(r.role in LEADER_ROLES for r in roles):
            return None
        led, administered = set(), set()
        for role in roles:
            if role.role in LEADER_ROLES:
                led.update(await uow.units.subtree_ids(role.unit_id))
            if role.role == "admin":
                administered.update(await uow.units.subtree_ids(role.unit_id))
        return [
            line
            for line in await uow.roles.lines(sorted(led))
            if line.identity_id != turn.chat.id and (line.role != "admin" or line.unit_id in administered)
        ]

    def _label(self, turn: Any, line: RoleLine) -> str:
        return str(
            turn.t(
                "roles.item",
                role=turn.t(f"role.{line.role}"),
                officer=line.officer_name or turn.t("roles.no_name"),
                unit=line.unit_name,
                channel=channel_name(line.channel, turn.locale),
                chat=masked_chat(line.channel, line.external_id),
                since=self.services.policy.show_date(line.granted_at),
            )
        )

    async def _start(self, turn: Any) -> None:
        allowed = await self._allowed(turn)
        if allowed is None:
            turn.say("role.refused_leader")
            return
        await turn.uow.drafts.drop(turn.chat.id)
        if not allowed:
            turn.say("roles.none")
            return
        shown = allowed[:LIST_LIMIT]
        lines = [turn.t("roles.list", count=len(allowed))]
        lines += [f"{n}. {self._label(turn, line)}" for n, line in enumerate(shown, start=1)]
        # the text lists them by number already: a channel without buttons does not repeat them (typed "")
        options = tuple(
            Option(RoleButton(line.id).encode(), self._label(turn, line), n, "")
            for n, line in enumerate(shown, start=1)
        )
        await turn.uow.drafts.put(turn.chat.id, "revoke", {"step": "pick", "ids": [x.id for x in shown]}, turn.now)
        turn.replies.append(Reply("\n".join(lines), options=options, hint=turn.t("roles.pick_hint")))

    async def _find(self, turn: Any, role_id: int) -> RoleLine | None:
        allowed = await self._allowed(turn)
        return next((line for line in allowed or [] if line.id == role_id), None)

    async def _ask(self, turn: Any, line: RoleLine) -> None:
        await turn.uow.drafts.put(turn.chat.id, "revoke", {"step": "confirm", "role_id": line.id}, turn.now)
        options = (
            Option(RoleButton(line.id, "ok").encode(), turn.t("roles.confirm_yes"), 1),
            Option(RoleButton(line.id, "no").encode(), turn.t("roles.confirm_no"), 2),
        )
        text = turn.t("roles.confirm", item=self._label(turn, line))
        turn.replies.append(Reply(text, options=options, hint=turn.t("roles.confirm_hint")))

    async def _finish(self, turn: Any, line: RoleLine, confirmed: bool) -> None:
        await turn.uow.drafts.drop(turn.chat.id)
        if not confirmed:
            turn.say("roles.cancelled")
            return
        await revoke_role(self.services, turn.uow, line, f"chat:{turn.chat.id}", turn.now)
        turn.say("roles.revoked", item=self._label(turn, line))

    async def on_stale(self, turn: Any) -> None:
        """A press on data of the roles' kind that no button carries now."""
        turn.ack = turn.t("roles.stale")
        if not turn.inbound.shows_ack:
            turn.say("roles.stale")

    async def on_button(self, turn: Any, button: RoleButton) -> None:
        """A role picked from the list, or the answer to "take it away?"; any other press is stale."""
        if turn.chat is None:
            await self.on_stale(turn)
            return
        line = await self._find(turn, button.role)
        draft = await turn.uow.drafts.get(turn.chat.id)
        data = draft.data if draft is not None and draft.kind == "revoke" else None
        if line is None or data is None:
            await self.on_stale(turn)
            return
        if button.answer is None and data.get("step") == "pick" and line.id in data.get("ids", []):
            await self._ask(turn, line)
        elif button.answer is not None and data.get("role_id") == line.id:
            await self._finish(turn, line, button.answer == "ok")
        else:
            await self.on_stale(turn)

    async def _on_text(self, turn: Any, data: dict[str, Any], text: str) -> None:
        folded = fold(text)
        if data.get("step") == "pick":
            ids = [int(i) for i in data.get("ids", [])]
            if folded.isdigit() and 1 <= int(folded) <= len(ids):
                line = await self._find(turn, ids[int(folded) - 1])
                if line is None:
                    await turn.uow.drafts.drop(turn.chat.id)
                    turn.say("roles.stale")
                    return
                await self._ask(turn, line)
                return
            turn.say("roles.pick_again", count=len(ids))
            return
        role_id = int(data.get("role_id", 0))
        if folded in YES or folded in NO:
            line = await self._find(turn, role_id)
            if line is None:
                await turn.uow.drafts.drop(turn.chat.id)
                turn.say("roles.stale")
                return
            await self._finish(turn, line, folded in YES)
            return
        turn.say("roles.confirm_hint")
