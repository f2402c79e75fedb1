"""The staff side: roles and invites, drafts, feedback, apology slips and kept files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.values.people import Chat


@dataclass(frozen=True)
class Role:
    """A chat's role in a unit (and below it)."""

    id: int
    identity_id: int
    unit_id: int
    role: str
    officer_name: str | None
    lead: bool


@dataclass(frozen=True)
class Invite:
    """A one-time code's grant (the code itself is never stored)."""

    id: int
    role: str
    unit_id: int
    officer_name: str | None
    lead: bool
    expires_at: datetime
    used_at: datetime | None
    created_by: str | None = None


@dataclass(frozen=True)
class RoleLine:
    """A role as an administrator reviews it: where, whose chat, since when and given by whom."""

    id: int
    identity_id: int
    unit_id: int
    unit_code: str
    unit_name: str
    role: str
    officer_name: str | None
    lead: bool
    channel: str
    external_id: str
    granted_at: datetime
    granted_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True)
class StaffChat:
    """A chat that holds a role, with what it needs to be written to."""

    chat: Chat
    role: Role


@dataclass(frozen=True)
class Draft:
    """What a chat is in the middle of."""

    identity_id: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Feedback:
    """A complaint or comment for a unit."""

    id: int
    unit_id: int
    dossier_id: int | None
    invitation_id: int | None
    person_id: int | None
    source: str
    text: str | None
    status: str
    created_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    answer: str | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Apology:
    """An apology slip: for a delay (phiếu xin lỗi và hẹn lại, with its new date) or for an error (no new date)."""

    id: int
    dossier_id: int
    number: str | None
    reason: str
    new_due_at: datetime | None  # None for an error apology
    issued_by: str
    issued_at: datetime
    token: str | None
    kind: str = "delay"  # "delay" | "error"
    in_time: bool | None = None  # a delay apology issued by the working day before the due date; None: error
    issued_key: str | None = None  # the name of the API key that issued it (the officer is ``issued_by``)
    unit_id: int | None = None  # the issuing unit, in whose series ``number`` is (None: not issued yet)


@dataclass(frozen=True)
class ApologyLine:
    """An apology issued in a period, as the leaders' workbook lists it."""

    code: str
    handler: str | None
    issued_by: str
    issued_at: datetime
    due_at: datetime
    new_due_at: datetime | None
    reason: str
    kind: str
    in_time: bool | None
    number: str | None
    issued_key: str | None = None  # the API key that issued it (its name), if any


@dataclass(frozen=True)
class StoredFile:
    """A kept file, without its content."""

    id: int
    kind: str
    unit_id: int | None
    period: str
    name: str
    media_type: str
    token: str
    created_at: datetime  # its link (``/tep/<token>/<name>``) expires SIPAS_LINK_DAYS after
