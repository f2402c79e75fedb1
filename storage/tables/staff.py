"""The staff side: roles and invites, drafts, alerts, feedback, apology slips and kept files."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables.base import Base, Id


class RoleRow(Base):
    """A chat's role in a unit (and the units below it): staff, leader or admin."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("identity_id", "unit_id", "role"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    officer_name: Mapped[str | None] = mapped_column(String(100))  # as dossiers name their handling officer
    lead: Mapped[bool] = mapped_column(Boolean, default=False)  # the unit's one-stop-shop lead
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    granted_by: Mapped[str | None] = mapped_column(String(100))  # who made the code (cli:<user>, a chat…)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class InviteRow(Base):
    """A one-time code that gives a role to the chat that sends it (only its hash is kept)."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    officer_name: Mapped[str | None] = mapped_column(String(100))
    lead: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="SET NULL"))
    created_by: Mapped[str | None] = mapped_column(String(100))  # who made it (cli:<operating-system user>)


class DraftRow(Base):
    """What a chat is in the middle of (a staff member's apology, a reply to a complaint): one per chat."""

    __tablename__ = "drafts"
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class AlertRow(Base):
    """A warning sent about a dossier (at risk of running late, a promised date missed): once per kind."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("dossier_id", "kind"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime]


class FeedbackRow(Base):
    """A complaint or comment for a unit (phản ánh): received → answered → closed."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_unit_id_status_created_at", "unit_id", "status", "created_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # comment (a survey comment the citizen chose to send) | message
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]


class ApologyRow(Base):
    """An apology slip: one per dossier and kind — a delay (phiếu xin lỗi và hẹn lại), or an error in handling.

    A late dossier may get one delay apology (with its new date) and, apart from it, one apology for an
    error in its handling (``kind`` "error", no new date): unique (dossier, kind).
    ``unit_id`` is the issuing unit (the dossier's, or the nearest above it that issues documents), and ``seq``
    numbers its slips per year (``{seq}/PXL``), those of the reception points below it included;
    ``pdf`` is the printable slip, made once;
    ``token`` is the unguessable name under which the slip is served to channels that cannot attach files;
    ``in_time``: a delay apology issued no later than the working day before the due date (null for an error).
    """

    __tablename__ = "apologies"
    __table_args__ = (UniqueConstraint("unit_id", "year", "seq"), UniqueConstraint("dossier_id", "kind"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="delay", server_default="delay")
    in_time: Mapped[bool | None]
    number: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    new_due_at: Mapped[datetime | None]
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_key: Mapped[str | None] = mapped_column(String(100))  # the API key that issued it (its name), if any
    issued_at: Mapped[datetime]
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    token: Mapped[str | None] = mapped_column(String(32), unique=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)


class FileRow(Base):
    """A file the product made and keeps: a digest's chart, a monthly or quarterly workbook.

    ``token`` is the unguessable name it is served under to channels that cannot attach files.
    """

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_unit_id_kind_period", "unit_id", "kind", "period"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # digest_chart | monthly_report | quarterly_report
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    period: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    token: Mapped[str] = mapped_column(String(32), unique=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


ROLES = cast(Table, RoleRow.__table__)
INVITES = cast(Table, InviteRow.__table__)
DRAFTS = cast(Table, DraftRow.__table__)
ALERTS = cast(Table, AlertRow.__table__)
FEEDBACK = cast(Table, FeedbackRow.__table__)
APOLOGIES = cast(Table, ApologyRow.__table__)
FILES = cast(Table, FileRow.__table__)
