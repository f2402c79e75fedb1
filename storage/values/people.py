"""Citizens and their chats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Person:
    """A citizen's contact data (None everywhere once erased)."""

    id: int
    name: str | None
    phone: str | None
    email: str | None
    zalo_user_id: str | None
    locale: str
    opted_out_at: datetime | None
    erased_at: datetime | None


@dataclass(frozen=True)
class Chat:
    """A chat on one channel (a channel identity), linked to a person once they consent."""

    id: int
    channel: str
    external_id: str
    person_id: int | None
    status: str
    locale: str
    pending: str | None
    consent_at: datetime | None
