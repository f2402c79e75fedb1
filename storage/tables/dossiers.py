"""Dossiers, their lifecycle events and the short codes that link a chat to one."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables.base import Base, Id


class DossierRow(Base):
    """A dossier (hồ sơ TTHC) and where it stands in its lifecycle."""

    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_unit_id_received_at", "unit_id", "received_at"),
        Index("ix_dossiers_unit_id_finished_at", "unit_id", "finished_at"),
        Index("ix_dossiers_state_due_at", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    procedure_code: Mapped[str | None] = mapped_column(String(32))
    procedure_name: Mapped[str] = mapped_column(String(300))
    field: Mapped[str] = mapped_column(String(100))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    channel: Mapped[str] = mapped_column(String(16))
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    representative_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # "person" or "organisation" as the sender said; None: not said (the slip then goes by the name)
    applicant_kind: Mapped[str | None] = mapped_column(String(16))
    handler: Mapped[str | None] = mapped_column(String(100))
    receiver: Mapped[str | None] = mapped_column(String(100))  # the one-stop-shop counter officer
    state: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    zalo_optin: Mapped[bool] = mapped_column(Boolean, default=False)
    optin_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DossierEventRow(Base):
    """One lifecycle event of a dossier; the same event twice is stored once."""

    __tablename__ = "dossier_events"
    __table_args__ = (UniqueConstraint("dossier_id", "type", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class LinkCodeRow(Base):
    """A short code of digits a citizen types to link a chat to a dossier, instead of the receipt's long token.

    ``printed``: the receipt's code, kept in clear (the API gives it again on every upsert), as long-lived as the
    token; a wrong confirmation (the phone's last digits) counts in ``failures`` (``failed_at``: the latest).
    ``page``: made by the linking page for minutes, kept as a SHA-256 only, one per dossier.
    """

    __tablename__ = "link_codes"
    __table_args__ = (UniqueConstraint("dossier_id", "kind"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # printed | page
    code: Mapped[str | None] = mapped_column(String(16), unique=True)  # printed only
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # page only
    expires_at: Mapped[datetime | None]  # page only
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


DOSSIERS = cast(Table, DossierRow.__table__)
EVENTS = cast(Table, DossierEventRow.__table__)
LINK_CODES = cast(Table, LinkCodeRow.__table__)

# dossier states: still being handled, and closed for good
UNRESOLVED = ("received", "supplement_requested")
CLOSED_DOSSIER = ("returned", "cancelled")
