"""What the staff side needs of the chat turn it joins (the turn itself is handlers.citizen.conversation's)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from handlers.context import Services
from handlers.messages import Inbound, Reply
from storage.uow import UnitOfWork
from storage.values import Chat


class ChatTurn(Protocol):
    """One inbound message being handled: its unit of work, its chat, and the replies it will send."""

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
