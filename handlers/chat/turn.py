"""One inbound chat event being handled: its unit of work, the chat it came from, and the replies it makes.

The dispatcher (handlers.chat.dispatcher) makes a :class:`Turn` for every event, inside the event's one
transaction, and hands it to whichever handler the event is for; handlers read and change state through
``turn.uow`` and answer with ``say`` (a sentence of the catalog) or by appending to ``replies``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol

from handlers.context import Services
from handlers.messages import Inbound, Reply
from handlers.texts import LOCALES
from storage.uow import UnitOfWork
from storage.values import Chat, Invitation


class ChatTurn(Protocol):
    """What a room's handler (a desk, linking by code) needs of the turn it takes; :class:`Turn` is one."""

    services: Services
    uow: UnitOfWork
    inbound: Inbound
    now: datetime
    chat: Chat | None
    locale: str
    replies: list[Reply]
    ack: str | None

    def say(self, key: str, **values: object) -> None:
        """Queue a reply from the wording catalog."""

    def t(self, key: str, **values: object) -> str:
        """Wording from the catalog."""


class Turn:
    """The handling of one inbound event: what it found, and what it answers.

    Besides the chat, the person's current survey is loaded with it (one query): ``current`` and its dossier's
    field. ``claimed`` keeps, per invitation, the turn its survey message took in this event (by a press or a
    move), so the message sent next carries it. ``invitation_id`` names the survey the replies belong to.
    """

    def __init__(self, services: Services, uow: UnitOfWork, inbound: Inbound, now: datetime) -> None:
        self.services = services
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

    def say(self, key: str, **values: object) -> None:
        """Queue a reply from the wording catalog, in the chat's language."""
        self.replies.append(Reply(self.texts(self.locale, key, **values)))

    def t(self, key: str, **values: object) -> str:
        """Wording from the catalog, in the chat's language."""
        return self.texts(self.locale, key, **values)

    def stale(self) -> None:
        """A press on a button that is no longer valid: say so (as the press's answer, or a reply) and do nothing."""
        self.ack = self.t("survey.stale")
        if not self.inbound.shows_ack:  # the platform shows no answer to a press: the notice comes as a message
            self.say("survey.stale")

    @property
    def linked(self) -> bool:
        """Whether the chat is a citizen's, linked with consent."""
        return self.chat is not None and self.chat.person_id is not None and self.chat.consent_at is not None

    async def load(self) -> None:
        """Read the chat the event came from (with its current survey and draft); a message reopens its window."""
        identity = self.inbound.identity
        found = await self.uow.chats.with_survey(identity.channel, identity.external_id)
        if found is None:
            return
        self.chat, self.current, self.current_field_id = found.chat, found.invitation, found.field_id
        self.current_known = True
        self.uow.drafts.know(found.chat.id, found.draft)  # the desks' draft checks ask nothing more
        self.locale = found.chat.locale
        if found.chat.status == "window_closed" and self.inbound.kind != "blocked":
            # the person wrote: the platform's reply window is open again
            await self.uow.chats.update(found.chat.id, self.now, status="active")
            self.chat = dataclasses.replace(found.chat, status="active")

    async def refresh_chat(self) -> None:
        """Read the chat again after a change (its current survey is read again when asked for)."""
        assert self.chat is not None
        self.chat = await self.uow.chats.get_by_id(self.chat.id)
        self.current_known = False
