"""Surveys: the invitation of a dossier, its answers, and a chat with its current survey."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.values.people import Chat
from storage.values.staff import Draft


@dataclass(frozen=True)
class Invitation:
    """The survey of one dossier."""

    id: int
    dossier_id: int
    person_id: int | None
    unit_id: int
    form_id: str
    form_version: int
    status: str
    cursor: str | None
    channel: str | None
    scheduled_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    reminded_at: datetime | None
    closed_at: datetime | None
    turn: int = 0  # the turn of the newest survey message sent (whose buttons are live)


@dataclass(frozen=True)
class Answer:
    """One recorded answer."""

    question_code: str
    value: str | None
    text: str | None
    answered_at: datetime


@dataclass(frozen=True)
class ChatSurvey:
    """A chat, its person's current survey (if any), the field of that survey's dossier and the chat's draft."""

    chat: Chat
    invitation: Invitation | None
    field_id: int | None
    draft: Draft | None = None
