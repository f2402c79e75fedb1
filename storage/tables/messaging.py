"""What comes in and goes out on the channels: inbound events, the inbox, the outbox, platform tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables.base import Base, Id


class InboundEventRow(Base):
    """An inbound platform event already handled; a second delivery of it changes nothing."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("channel", "event_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]


class InboxRow(Base):
    """A platform update kept as it was read, before handling (Zalo Bot: getUpdates hands each out once).

    Deleted once handled; one whose handling failed is kept with its error for a few days. It holds the
    person's chat id and words: erasure deletes a chat's rows.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "update_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(128))  # the platform's id of the update (Zalo Bot: message_id)
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]  # the update as read
    received_at: Mapped[datetime]
    failed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))


class OutboxRow(Base):
    """A message to send, written in the transaction that decided it; delivered after commit."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_channel_id", "status", "channel", "id"),
        Index("ix_outbox_recipient", "channel", "recipient", "id"),
        Index("ix_outbox_thread", "channel", "recipient", "thread", "id"),
        Index("ix_outbox_priority", "status", "channel", "priority", "id"),  # the pending replies, read first
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    thread: Mapped[str | None] = mapped_column(String(64))  # a message edited in place where channels allow
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # 0: a reply to the recipient's own action (sent before the bulk), 1: unsolicited (docs/CHANNELS.md)
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")


class PlatformTokenRow(Base):
    """A platform's current credentials (the Zalo OA token pair), replaced in place when they rotate."""

    __tablename__ = "platform_tokens"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | reauthorise
    last_error: Mapped[str | None] = mapped_column(String(500))
    refreshed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


INBOUND = cast(Table, InboundEventRow.__table__)
INBOX = cast(Table, InboxRow.__table__)
OUTBOX = cast(Table, OutboxRow.__table__)
TOKENS = cast(Table, PlatformTokenRow.__table__)
